//! Bearer tokens for Artifact Registry.
//!
//! Production uses Application Default Credentials through `gcp_auth` (a key file named by
//! `GOOGLE_APPLICATION_CREDENTIALS`, gcloud user credentials, or the GKE metadata server of
//! workload identity); `gcp_auth` caches tokens and renews them before they expire. The
//! provider is found lazily, on the first listing, because startup must not need Google
//! to be reachable (decisions.md §5 fix 10). [`GarTokenProvider`] lets tests and embedders
//! hand out tokens of their own, e.g. ones that expire, to exercise the refresh after a 401.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;

use crate::error::RegistryError;

/// OAuth scope for Artifact Registry reads.
const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";

/// A source of bearer tokens.
pub trait GarTokenProvider: Send + Sync {
    /// A token to send. `refresh` is true after the API rejected the previous token with
    /// 401, asking for a new one rather than a cached one.
    fn token(&self, refresh: bool) -> BoxFuture<'_, Result<String, RegistryError>>;
}

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum GarAuth {
    /// Application Default Credentials via `gcp_auth`.
    #[default]
    Google,
    /// No `Authorization` header (fakes, proxies).
    None,
    /// Tokens from a custom provider (tests, embedding).
    Provider(Arc<dyn GarTokenProvider>),
}

impl fmt::Debug for GarAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Google => "Google",
            Self::None => "None",
            Self::Provider(_) => "Provider(..)",
        })
    }
}

/// [`GarAuth::Google`] as a provider: `gcp_auth`, initialised on first use.
pub(crate) struct GoogleTokens {
    provider: tokio::sync::OnceCell<Arc<dyn gcp_auth::TokenProvider>>,
    host: String,
}

impl GoogleTokens {
    pub fn new(host: String) -> Self {
        Self {
            provider: tokio::sync::OnceCell::new(),
            host,
        }
    }

    fn error(&self, detail: String) -> RegistryError {
        RegistryError::Token {
            host: self.host.clone(),
            operation: "authenticating to Artifact Registry".to_owned(),
            detail,
        }
    }
}

impl GarTokenProvider for GoogleTokens {
    // gcp_auth renews tokens itself before they expire, so `refresh` cannot force anything
    // more; a token rejected while still valid is a permission problem, reported as such.
    fn token(&self, _refresh: bool) -> BoxFuture<'_, Result<String, RegistryError>> {
        Box::pin(async move {
            let provider = self
                .provider
                .get_or_try_init(gcp_auth::provider)
                .await
                .map_err(|e| {
                    self.error(format!("no Application Default Credentials found: {e}"))
                })?;
            let token = provider
                .token(&[CLOUD_PLATFORM_SCOPE])
                .await
                .map_err(|e| self.error(e.to_string()))?;
            Ok(token.as_str().to_owned())
        })
    }
}
