//! Google authentication as the fake checks it: OAuth access tokens with their scope,
//! self-signed service-account JWTs, and the Security Token Service's token exchange.
//!
//! - An access token is valid until its expiry and only with a scope that
//!   `dockerImages.list` accepts (`cloud-platform` or `cloud-platform.read-only`, the
//!   discovery document's `scopes`).
//! - A self-signed JWT (https://developers.google.com/identity/protocols/oauth2/service-account#jwt-auth)
//!   is `header.claims.signature`, RS256, `kid` the key id, `iss` = `sub` = the account's
//!   email, `exp` in the future, and either a `scope` claim with an accepted scope or `aud`
//!   the service's URL. Google's client library sends these for service accounts instead of
//!   exchanging them at a token endpoint.
//! - The STS (`POST /v1/token`, form-encoded, RFC 8693) wants `grant_type`
//!   `urn:ietf:params:oauth:grant-type:token-exchange`, `requested_token_type`
//!   `urn:ietf:params:oauth:token-type:access_token`, a `subject_token_type`, a known
//!   `subject_token` for its `audience`, and answers OAuth errors (`invalid_grant`,
//!   `invalid_request`) as the STS reference documents.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Value};

use super::wire::google_error;
use crate::registry::serve::{json, RecordedRequest};
use crate::registry::HarnessError;

pub(super) const READ_ONLY_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform.read-only";
const FULL_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const AUDIENCE: &str = "https://artifactregistry.googleapis.com/";

/// One token exchange the STS saw: its form parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsExchange {
    pub params: Vec<(String, String)>,
}

impl StsExchange {
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Default)]
pub(super) struct Auth {
    pub required: bool,
    /// Access token → (scope, expiry).
    tokens: HashMap<String, (String, Instant)>,
    issued: u64,
    /// Client email → (key id, RSA public key, PKCS#1 DER).
    service_accounts: HashMap<String, (String, Vec<u8>)>,
    /// Subject token → the audience it may be exchanged for.
    pub subject_tokens: HashMap<String, String>,
    pub exchanges: Vec<StsExchange>,
}

impl Auth {
    pub fn issue(&mut self, scope: &str, ttl: Duration) -> String {
        self.issued += 1;
        let token = format!("ya29.fake-token-{}", self.issued);
        let expiry = Instant::now()
            .checked_add(ttl)
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        self.tokens
            .insert(token.clone(), (scope.to_owned(), expiry));
        token
    }

    pub fn expire(&mut self) {
        self.tokens.clear();
    }

    pub fn trust_service_account(&mut self, account: &TestServiceAccount) {
        self.service_accounts.insert(
            account.client_email.clone(),
            (account.key_id.clone(), account.public_key_der.clone()),
        );
    }

    /// `None` when the request may go on, else Google's 401.
    pub fn check(&self, request: &RecordedRequest) -> Option<Response> {
        if !self.required {
            return None;
        }
        let presented = request
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "));
        let valid = presented.is_some_and(|token| {
            let access = self
                .tokens
                .get(token)
                .is_some_and(|(scope, expiry)| *expiry > Instant::now() && scope_allows(scope));
            access || self.valid_jwt(token)
        });
        if valid {
            return None;
        }
        let mut response = google_error(
            StatusCode::UNAUTHORIZED,
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.",
            "UNAUTHENTICATED",
        );
        response.headers_mut().insert(
            "www-authenticate",
            HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
        );
        Some(response)
    }

    fn valid_jwt(&self, token: &str) -> bool {
        let mut parts = token.split('.');
        let (Some(header), Some(claims), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let decode = |part: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part);
        let (Ok(header_json), Ok(claims_json), Ok(signature)) =
            (decode(header), decode(claims), decode(signature))
        else {
            return false;
        };
        let (Ok(header_json), Ok(claims_json)) = (
            serde_json::from_slice::<Value>(&header_json),
            serde_json::from_slice::<Value>(&claims_json),
        ) else {
            return false;
        };
        let text =
            |value: &Value, key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let Some(email) = text(&claims_json, "iss") else {
            return false;
        };
        let Some((key_id, public_key)) = self.service_accounts.get(&email) else {
            return false;
        };
        let signed = &token[..header.len() + 1 + claims.len()];
        let verified = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            public_key,
        )
        .verify(signed.as_bytes(), &signature)
        .is_ok();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let scoped = text(&claims_json, "scope").is_some_and(|s| s.split(' ').any(scope_allows))
            || text(&claims_json, "aud").as_deref() == Some(AUDIENCE);
        verified
            && text(&header_json, "alg").as_deref() == Some("RS256")
            && text(&header_json, "kid").as_deref() == Some(key_id.as_str())
            && text(&claims_json, "sub").is_none_or(|sub| sub == email)
            && claims_json
                .get("exp")
                .and_then(Value::as_u64)
                .is_some_and(|exp| exp > now)
            && scoped
    }

    /// `POST /v1/token`.
    pub fn exchange(&mut self, body: &[u8]) -> Response {
        let params: Vec<(String, String)> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let exchange = StsExchange { params };
        self.exchanges.push(exchange.clone());
        let oauth_error = |error: &str, description: &str| {
            json(
                StatusCode::BAD_REQUEST,
                &json!({"error": error, "error_description": description}),
            )
        };
        if exchange.param("grant_type") != Some("urn:ietf:params:oauth:grant-type:token-exchange") {
            return oauth_error("unsupported_grant_type", "Invalid grant_type.");
        }
        if exchange.param("requested_token_type")
            != Some("urn:ietf:params:oauth:token-type:access_token")
        {
            return oauth_error("invalid_request", "Invalid requested_token_type.");
        }
        if exchange.param("subject_token_type").is_none() {
            return oauth_error("invalid_request", "Missing subject_token_type.");
        }
        let audience_matches = exchange
            .param("subject_token")
            .and_then(|token| self.subject_tokens.get(token))
            .is_some_and(|audience| exchange.param("audience") == Some(audience.as_str()));
        if !audience_matches {
            return oauth_error("invalid_grant", "The subject token is invalid.");
        }
        let scope = exchange.param("scope").unwrap_or_default().to_owned();
        let token = self.issue(&scope, Duration::from_secs(3600));
        json(
            StatusCode::OK,
            &json!({
                "access_token": token,
                "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
                "token_type": "Bearer",
                "expires_in": 3600,
            }),
        )
    }
}

fn scope_allows(scope: &str) -> bool {
    scope
        .split(' ')
        .any(|s| s == READ_ONLY_SCOPE || s == FULL_SCOPE)
}

/// A service account made for a test: an RSA key generated with `openssl` (ring cannot
/// generate RSA keys), its key file in the JSON format Google issues, and the public key the
/// fake verifies signatures with.
#[derive(Debug, Clone)]
pub struct TestServiceAccount {
    pub client_email: String,
    pub key_id: String,
    /// The key file's JSON text.
    pub key_file: String,
    pub public_key_der: Vec<u8>,
}

impl TestServiceAccount {
    /// Generates a key in `dir` (which must exist) for `client_email`.
    pub fn generate(dir: &Path, client_email: &str) -> Result<Self, HarnessError> {
        let key = dir.join("sa-key.pem");
        let public = dir.join("sa-public.der");
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            &key.display().to_string(),
        ])?;
        openssl(&[
            "rsa",
            "-in",
            &key.display().to_string(),
            "-RSAPublicKey_out",
            "-outform",
            "DER",
            "-out",
            &public.display().to_string(),
        ])?;
        let read = |path: &Path| {
            std::fs::read(path)
                .map_err(|e| HarnessError(format!("cannot read {}: {e}", path.display())))
        };
        let private_key = String::from_utf8_lossy(&read(&key)?).into_owned();
        let key_id = "0123456789abcdef0123456789abcdef01234567".to_owned();
        let key_file = json!({
            "type": "service_account",
            "project_id": "rubin-shared",
            "private_key_id": key_id,
            "private_key": private_key,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "auth_uri": "https://accounts.google.com/o/oauth2/auth",
            "token_uri": "https://oauth2.googleapis.com/token",
            "universe_domain": "googleapis.com",
        })
        .to_string();
        Ok(Self {
            client_email: client_email.to_owned(),
            key_id,
            key_file,
            public_key_der: read(&public)?,
        })
    }
}

fn openssl(args: &[&str]) -> Result<(), HarnessError> {
    let output = Command::new("openssl").args(args).output().map_err(|e| {
        HarnessError(format!(
            "cannot run openssl ({e}): run `apt-get install -y openssl`"
        ))
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(HarnessError(format!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        )))
    }
}
