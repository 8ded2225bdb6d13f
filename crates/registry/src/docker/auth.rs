//! Answering a registry's 401 challenge: Basic or Bearer (behaviour.md §6.2, decisions.md §5
//! fixes 3 and 12, and the `authRealms` addition of decisions.md §3).
//!
//! Bearer tokens are cached per scope until `expires_in` (default 60 s, see `token`) minus a
//! small margin,
//! and the Basic header once the registry asked for it. The token endpoint gets only
//! `service` and `scope` (not `realm`, which the original echoed back), with Basic
//! credentials when there are some and anonymously otherwise, and may answer with `token` or
//! `access_token`. A realm is used only when its host is the registry API's host or listed in
//! `auth_realms`, and only over https unless the API itself is plain http: anything else is
//! refused before a single byte is sent there, so credentials cannot leak to another host.
//! Concurrent requests that all get a 401 share one token fetch (the refresh lock).

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Instant;

use reqwest::header::{HeaderMap, ACCEPT, WWW_AUTHENTICATE};
use url::Url;

use super::challenge::{self, Challenge};
use super::credentials::{CredentialSource, DockerCredential};
use super::token::{read_token_answer, reuse_until};
use crate::error::RegistryError;
use crate::http::{authority, exchange};
use crate::retry;
use rsp_retry::RetryPolicy;

/// Authentication state for one registry API.
pub(crate) struct Authenticator {
    pub credential: CredentialSource,
    pub registry: String,
    pub api: Url,
    pub host: String,
    pub allowed_realms: Vec<String>,
    pub retry: RetryPolicy,
    /// Largest token answer read (`images.registryLimits.maxResponseBytes`).
    pub max_body: u64,
    cache: Mutex<Cache>,
    refresh: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct Cache {
    /// `Some` once the registry asked for Basic authentication.
    basic: Option<String>,
    bearer: HashMap<String, Cached>,
}

struct Cached {
    header: String,
    expires: Instant,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("registry", &self.registry)
            .field("credential", &self.credential)
            .field("allowed_realms", &self.allowed_realms)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(
        credential: CredentialSource,
        registry: String,
        api: Url,
        host: String,
        allowed_realms: Vec<String>,
        retry: RetryPolicy,
        max_body: u64,
    ) -> Self {
        Self {
            credential,
            registry,
            api,
            host,
            allowed_realms,
            retry,
            max_body,
            cache: Mutex::new(Cache::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        // A panic while holding this lock cannot leave the cache inconsistent (plain inserts
        // and removals), so a poisoned lock is simply taken over.
        self.cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The `Authorization` value to send for `scope`, if one is known and fresh.
    pub fn header(&self, scope: &str) -> Option<String> {
        let mut cache = self.cache();
        if let Some(cached) = cache.bearer.get(scope) {
            if cached.expires > Instant::now() {
                return Some(cached.header.clone());
            }
            cache.bearer.remove(scope);
        }
        cache.basic.clone()
    }

    /// Drops `sent` after the registry rejected it (decisions.md §5 fix 3).
    pub fn forget(&self, scope: &str, sent: &str) {
        let mut cache = self.cache();
        if cache.bearer.get(scope).is_some_and(|c| c.header == sent) {
            cache.bearer.remove(scope);
        }
        if cache.basic.as_deref() == Some(sent) {
            cache.basic = None;
        }
    }

    /// Answers the challenge in `headers` of a 401 so that [`Self::header`] has a value for
    /// `scope`. `sent` is what the rejected request carried.
    pub async fn authenticate(
        &self,
        http: &reqwest::Client,
        scope: &str,
        headers: &HeaderMap,
        sent: Option<&str>,
        operation: &str,
    ) -> Result<(), RegistryError> {
        let _refreshing = self.refresh.lock().await;
        // Another request may have authenticated while this one waited for the lock.
        if let Some(current) = self.header(scope) {
            if Some(current.as_str()) != sent {
                return Ok(());
            }
        }
        let challenge = self.pick_challenge(headers, operation)?;
        // Asked now rather than once: a helper's credential (an access token) expires.
        let credential = self.credential.get().await?;
        match challenge.scheme.as_str() {
            "basic" => {
                let credential = self.require_credential(credential.as_ref(), operation)?;
                self.cache().basic = Some(basic_header(credential));
                Ok(())
            }
            _ => {
                self.fetch_token(http, scope, &challenge, credential.as_ref(), operation)
                    .await
            }
        }
    }

    fn require_credential<'c>(
        &self,
        credential: Option<&'c DockerCredential>,
        operation: &str,
    ) -> Result<&'c DockerCredential, RegistryError> {
        credential.ok_or_else(|| RegistryError::CredentialsRequired {
            host: self.host.clone(),
            operation: operation.to_owned(),
            registry: self.registry.clone(),
        })
    }

    fn challenge_error(&self, operation: &str, detail: String) -> RegistryError {
        RegistryError::Challenge {
            host: self.host.clone(),
            operation: operation.to_owned(),
            detail,
        }
    }

    /// Bearer if offered, else Basic.
    fn pick_challenge(
        &self,
        headers: &HeaderMap,
        operation: &str,
    ) -> Result<Challenge, RegistryError> {
        let mut offered = Vec::new();
        for value in headers.get_all(WWW_AUTHENTICATE) {
            let text = value.to_str().map_err(|_| {
                self.challenge_error(
                    operation,
                    "the WWW-Authenticate header is not text".to_owned(),
                )
            })?;
            let parsed = challenge::parse(text).map_err(|e| {
                self.challenge_error(operation, format!("cannot parse WWW-Authenticate: {e}"))
            })?;
            offered.extend(parsed);
        }
        if offered.is_empty() {
            return Err(self.challenge_error(
                operation,
                "the 401 response has no WWW-Authenticate challenge".to_owned(),
            ));
        }
        for wanted in ["bearer", "basic"] {
            if let Some(found) = offered.iter().position(|c| c.scheme == wanted) {
                return Ok(offered.swap_remove(found));
            }
        }
        let schemes: Vec<&str> = offered.iter().map(|c| c.scheme.as_str()).collect();
        Err(self.challenge_error(
            operation,
            format!(
                "unsupported authentication scheme {}; only Basic and Bearer are supported",
                schemes.join(", ")
            ),
        ))
    }

    /// Whether a token realm may be contacted (and receive credentials).
    fn check_realm(&self, realm: &Url, operation: &str) -> Result<(), RegistryError> {
        let port = realm.port_or_known_default();
        let host = realm.host_str().unwrap_or("").to_ascii_lowercase();
        let api_host = self.api.host_str().unwrap_or("").to_ascii_lowercase();
        let same_as_api = host == api_host && port == self.api.port_or_known_default();
        let listed = self.allowed_realms.iter().any(|entry| {
            let entry = entry.trim().to_ascii_lowercase();
            match entry.rsplit_once(':') {
                Some((h, p)) if p.parse::<u16>().ok().is_some() => {
                    h == host && p.parse::<u16>().ok() == port
                }
                _ => entry == host,
            }
        });
        let secure_enough =
            realm.scheme() == "https" || (realm.scheme() == "http" && self.api.scheme() == "http");
        if (same_as_api || listed) && secure_enough {
            return Ok(());
        }
        let allowed = if self.allowed_realms.is_empty() {
            authority(&self.api)
        } else {
            format!(
                "{}, {}",
                authority(&self.api),
                self.allowed_realms.join(", ")
            )
        };
        Err(RegistryError::RealmNotAllowed {
            host: self.host.clone(),
            operation: operation.to_owned(),
            realm: format!("{}://{}", realm.scheme(), authority(realm)),
            allowed: if secure_enough {
                allowed
            } else {
                format!("{allowed}; plain http only when the API URL is http")
            },
        })
    }

    async fn fetch_token(
        &self,
        http: &reqwest::Client,
        scope: &str,
        challenge: &Challenge,
        credential: Option<&DockerCredential>,
        operation: &str,
    ) -> Result<(), RegistryError> {
        let realm = challenge.param("realm").ok_or_else(|| {
            self.challenge_error(operation, "the Bearer challenge has no realm".to_owned())
        })?;
        let mut url = Url::parse(realm).map_err(|e| {
            self.challenge_error(
                operation,
                format!("the Bearer realm {realm:?} is not a URL: {e}"),
            )
        })?;
        self.check_realm(&url, operation)?;
        {
            let mut query = url.query_pairs_mut();
            if let Some(service) = challenge.param("service") {
                query.append_pair("service", service);
            }
            query.append_pair("scope", challenge.param("scope").unwrap_or(scope));
        }
        let token_operation = format!(
            "{operation}: fetching a bearer token from {}",
            authority(&url)
        );
        let reply = retry::run(&self.retry, || {
            let mut request = http.get(url.clone()).header(ACCEPT, "application/json");
            if let Some(credential) = credential {
                request = request.basic_auth(credential.username(), Some(credential.password()));
            }
            exchange(request, &self.host, &token_operation, self.max_body)
        })
        .await?;
        if reply.status == reqwest::StatusCode::UNAUTHORIZED {
            self.require_credential(credential, &token_operation)?;
            return Err(RegistryError::Unauthorized {
                host: self.host.clone(),
                operation: token_operation,
                status: 401,
                credentials: crate::error::DOCKER_CREDENTIALS,
            });
        }
        let answer = read_token_answer(&reply.body)
            .map_err(|detail| RegistryError::parse(&self.host, &token_operation, detail))?;
        self.cache().bearer.insert(
            scope.to_owned(),
            Cached {
                header: format!("Bearer {}", answer.token),
                expires: reuse_until(Instant::now(), answer.lifetime),
            },
        );
        Ok(())
    }
}

fn basic_header(credential: &DockerCredential) -> String {
    use base64::Engine;
    let pair = format!("{}:{}", credential.username(), credential.password());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn authenticator(api: &str, allowed: &[&str]) -> Authenticator {
        let api = Url::parse(api).unwrap();
        Authenticator::new(
            CredentialSource::None,
            authority(&api),
            api.clone(),
            authority(&api),
            allowed.iter().map(|s| (*s).to_owned()).collect(),
            RetryPolicy::none(),
            1024,
        )
    }

    fn allowed(auth: &Authenticator, realm: &str) -> bool {
        auth.check_realm(&Url::parse(realm).unwrap(), "op").is_ok()
    }

    #[test]
    fn the_registry_host_is_the_default_realm() {
        let auth = authenticator("https://registry.example.com", &[]);
        assert!(allowed(&auth, "https://registry.example.com/token"));
        assert!(allowed(
            &auth,
            "https://REGISTRY.example.com:443/v2/token?x=1"
        ));
        assert!(!allowed(&auth, "https://registry.example.com:8443/token"));
        assert!(!allowed(&auth, "https://auth.example.com/token"));
        assert!(!allowed(&auth, "https://example.com/token"));
    }

    #[test]
    fn listed_hosts_with_or_without_port() {
        let auth = authenticator(
            "https://registry.example.com",
            &["auth.example.com", "tokens.example.com:8443"],
        );
        assert!(allowed(&auth, "https://auth.example.com/token"));
        assert!(allowed(&auth, "https://auth.example.com:9000/token"));
        assert!(allowed(&auth, "https://tokens.example.com:8443/token"));
        assert!(!allowed(&auth, "https://tokens.example.com/token"));
        assert!(!allowed(&auth, "https://evil.auth.example.com/token"));
    }

    #[test]
    fn plain_http_realms_only_for_a_plain_http_api() {
        let secure = authenticator("https://registry.example.com", &["auth.example.com"]);
        assert!(!allowed(&secure, "http://registry.example.com:443/token"));
        assert!(!allowed(&secure, "http://auth.example.com/token"));
        let error = secure
            .check_realm(&Url::parse("http://auth.example.com/token").unwrap(), "op")
            .unwrap_err()
            .to_string();
        assert!(error.contains("plain http"), "{error}");
        let plain = authenticator("http://127.0.0.1:5000", &[]);
        assert!(allowed(&plain, "http://127.0.0.1:5000/token"));
        assert!(!allowed(&plain, "http://127.0.0.1:5001/token"));
        assert!(!allowed(&plain, "ftp://127.0.0.1:5000/token"));
    }

    #[test]
    fn cached_tokens_expire_and_rejected_ones_are_forgotten() {
        let auth = authenticator("https://registry.example.com", &[]);
        let now = Instant::now();
        auth.cache().bearer.insert(
            "s".into(),
            Cached {
                header: "Bearer a".into(),
                expires: now + Duration::from_secs(60),
            },
        );
        auth.cache().bearer.insert(
            "old".into(),
            Cached {
                header: "Bearer b".into(),
                expires: now,
            },
        );
        assert_eq!(auth.header("s").as_deref(), Some("Bearer a"));
        assert_eq!(auth.header("old"), None);
        auth.forget("s", "Bearer other");
        assert_eq!(auth.header("s").as_deref(), Some("Bearer a"));
        auth.forget("s", "Bearer a");
        assert_eq!(auth.header("s"), None);
    }
}
