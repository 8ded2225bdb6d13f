//! Bearer tokens for Artifact Registry.
//!
//! Production finds credentials as Google's own client libraries do, with Google's Rust auth
//! crate (`google-cloud-auth`): the file named by `GOOGLE_APPLICATION_CREDENTIALS` (a service
//! account key, gcloud user credentials, or an `external_account` file of workload identity
//! federation, used outside GKE), then gcloud's well-known file, then the metadata server
//! (GKE workload identity). It asks for the `cloud-platform.read-only` scope, which is all
//! `dockerImages.list` needs (the discovery document lists it for the method). The
//! credentials are built lazily, on the first listing, because startup must not need Google
//! to be reachable (decisions.md §5 fix 10). A token the API rejects with 401 is not asked
//! for again: the credentials are built anew, so the next token is fetched, not cached.
//! [`GarTokenProvider`] lets tests and embedders hand out tokens of their own.

use std::fmt;
use std::sync::Arc;

use futures::future::BoxFuture;
use google_cloud_auth::credentials::{AccessTokenCredentials, Builder};

use crate::error::RegistryError;

/// OAuth scope for Artifact Registry reads: listing needs no more.
const READ_ONLY_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform.read-only";

/// A source of bearer tokens.
pub trait GarTokenProvider: Send + Sync {
    /// A token to send. `refresh` is true after the API rejected the previous token with
    /// 401, asking for a new one rather than a cached one.
    fn token(&self, refresh: bool) -> BoxFuture<'_, Result<String, RegistryError>>;
}

/// How the client authenticates.
#[derive(Clone, Default)]
pub enum GarAuth {
    /// Application Default Credentials, found as Google's client libraries find them.
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

/// [`GarAuth::Google`] as a provider: Application Default Credentials, built on first use
/// and again after a 401.
pub(crate) struct GoogleTokens {
    credentials: tokio::sync::Mutex<Option<AccessTokenCredentials>>,
    host: String,
}

impl GoogleTokens {
    pub fn new(host: String) -> Self {
        Self {
            credentials: tokio::sync::Mutex::new(None),
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

    /// The credentials to ask, built anew when `refresh` (their token cache starts empty).
    async fn credentials(&self, refresh: bool) -> Result<AccessTokenCredentials, RegistryError> {
        let mut slot = self.credentials.lock().await;
        if let (Some(credentials), false) = (slot.as_ref(), refresh) {
            return Ok(credentials.clone());
        }
        install_crypto_provider();
        let built = Builder::default()
            .with_scopes([READ_ONLY_SCOPE])
            .build_access_token_credentials()
            .map_err(|e| self.error(format!("no usable Application Default Credentials: {e}")))?;
        *slot = Some(built.clone());
        Ok(built)
    }
}

impl GarTokenProvider for GoogleTokens {
    fn token(&self, refresh: bool) -> BoxFuture<'_, Result<String, RegistryError>> {
        Box::pin(async move {
            let credentials = self.credentials(refresh).await?;
            // In a task of its own: the library adds the lifetime a token endpoint announces
            // to the clock without checking, so a hostile answer would panic; a panic there
            // is an error here, not the end of the refresh loop.
            let token = tokio::spawn(async move { credentials.access_token().await })
                .await
                .map_err(|e| self.error(format!("the credentials library failed: {e}")))?
                .map_err(|e| self.error(e.to_string()))?;
            Ok(token.token)
        })
    }
}

/// google-cloud-auth is built without its own crypto backend (aws-lc, a C build); it uses
/// the process's default rustls provider, which is ring, as reqwest and kube-rs use here.
fn install_crypto_provider() {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // An error means a provider is installed already, which is just as good.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}
