//! A token server for `docker-registry`'s `auth: token` mode, run by the test.
//!
//! distribution 2.8 accepts a JWT whose header carries the signing certificate (`x5c`) when
//! that certificate chains to its `rootcertbundle`, whose `iss` is the configured issuer,
//! whose `aud` is the service, and whose `access` claim lists the granted actions per
//! repository. The server makes a P-256 key and a self-signed certificate at start (rcgen),
//! signs ES256 tokens with ring, checks Basic credentials when it has users, grants what
//! `scope` asks, and records every request (so tests can check that `realm` is not echoed
//! and count token fetches).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::response::Response;
use axum::Router;
use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

use super::push::basic_authorization;
use super::serve::{json, serve, with_fault, Recorded, RecordedRequest, Recorder, Served};
use super::HarnessError;

struct Shared {
    key: EcdsaKeyPair,
    rng: SystemRandom,
    cert_der_b64: String,
    issuer: String,
    service: String,
    users: HashMap<String, String>,
    expires_in: u64,
    recorder: Recorder,
}

/// The token server; stops when dropped.
pub struct TokenServer {
    shared: Arc<Shared>,
    served: Served,
    cert_pem: String,
}

/// One `access` entry: repository name and actions.
pub type Grant<'a> = (&'a str, &'a [&'a str]);

impl TokenServer {
    /// Starts a token server for `service`, issuing as `issuer`. With `users`, the token
    /// endpoint demands one of them (Basic); without, it serves anyone.
    pub async fn start(
        service: &str,
        issuer: &str,
        users: &[(&str, &str)],
        expires_in: u64,
    ) -> Result<Self, HarnessError> {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
            .map_err(|e| HarnessError(format!("cannot generate a key: {e}")))?;
        let cert = rcgen::CertificateParams::new(vec![issuer.to_owned()])
            .and_then(|params| params.self_signed(&key))
            .map_err(|e| HarnessError(format!("cannot make a certificate: {e}")))?;
        let rng = SystemRandom::new();
        let signing =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &key.serialize_der(), &rng)
                .map_err(|e| HarnessError(format!("cannot load the signing key: {e}")))?;
        let shared = Arc::new(Shared {
            key: signing,
            rng,
            cert_der_b64: base64::engine::general_purpose::STANDARD.encode(cert.der()),
            issuer: issuer.to_owned(),
            service: service.to_owned(),
            users: users
                .iter()
                .map(|(u, p)| ((*u).to_owned(), (*p).to_owned()))
                .collect(),
            expires_in,
            recorder: Recorder::default(),
        });
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let served = serve(router)
            .await
            .map_err(|e| HarnessError(format!("cannot start the token server: {e}")))?;
        Ok(Self {
            shared,
            served,
            cert_pem: cert.pem(),
        })
    }

    /// The realm URL for the registry config and challenges.
    pub fn realm(&self) -> String {
        format!("{}/token", self.served.url)
    }

    /// `127.0.0.1:PORT`, for the client's `auth_realms`.
    pub fn host(&self) -> &str {
        self.served.url.trim_start_matches("http://")
    }

    /// The certificate the registry must trust (`rootcertbundle`).
    pub fn root_cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A token granting `grants` to `subject` (for pushing from tests).
    pub fn mint(&self, subject: &str, grants: &[Grant<'_>]) -> Result<String, HarnessError> {
        let access: Vec<_> = grants
            .iter()
            .map(|(name, actions)| serde_json::json!({"type": "repository", "name": name, "actions": actions}))
            .collect();
        sign(&self.shared, subject, access)
    }
}

fn base64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(
    shared: &Shared,
    subject: &str,
    access: Vec<serde_json::Value>,
) -> Result<String, HarnessError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [shared.cert_der_b64]});
    let claims = serde_json::json!({
        "iss": shared.issuer,
        "sub": subject,
        "aud": shared.service,
        "exp": now + shared.expires_in,
        "nbf": now.saturating_sub(10),
        "iat": now,
        "jti": format!("{now}-{}", rand::random::<u64>()),
        "access": access,
    });
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let signature = shared
        .key
        .sign(&shared.rng, signing_input.as_bytes())
        .map_err(|e| HarnessError(format!("cannot sign a token: {e}")))?;
    Ok(format!("{signing_input}.{}", base64url(signature.as_ref())))
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    with_fault(fault, async move { issue(&shared, &recorded) }).await
}

fn issue(shared: &Shared, request: &RecordedRequest) -> Response {
    let denied = |status: StatusCode, why: &str| json(status, &serde_json::json!({"details": why}));
    if request.path != "/token" {
        return denied(StatusCode::NOT_FOUND, "no such path");
    }
    if request.param("service") != Some(shared.service.as_str()) {
        return denied(StatusCode::BAD_REQUEST, "unknown service");
    }
    let subject = if shared.users.is_empty() {
        "anonymous".to_owned()
    } else {
        let user = shared.users.iter().find(|(u, p)| {
            request.authorization.as_deref() == Some(basic_authorization(u, p).as_str())
        });
        match user {
            Some((name, _)) => name.clone(),
            None => return denied(StatusCode::UNAUTHORIZED, "bad credentials"),
        }
    };
    // `scope` may repeat; each is `repository:NAME:ACTIONS`.
    let access: Vec<serde_json::Value> = request
        .query
        .iter()
        .filter(|(k, _)| k == "scope")
        .filter_map(|(_, scope)| {
            let (kind, rest) = scope.split_once(':')?;
            let (name, actions) = rest.rsplit_once(':')?;
            let actions: Vec<&str> = actions.split(',').collect();
            Some(serde_json::json!({"type": kind, "name": name, "actions": actions}))
        })
        .collect();
    match sign(shared, &subject, access) {
        Ok(token) => json(
            StatusCode::OK,
            &serde_json::json!({"token": token, "expires_in": shared.expires_in}),
        ),
        Err(e) => denied(StatusCode::INTERNAL_SERVER_ERROR, &e.0),
    }
}

impl Recorded for TokenServer {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}
