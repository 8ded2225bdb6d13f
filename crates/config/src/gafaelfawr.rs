//! The `gafaelfawr` section: where the lab form learns who a user is and what quota they
//! have (lab-form.md §2), an rsp-images addition.
//!
//! Authentication is on only where it is configured: `gafaelfawr.url`, or, as the original
//! finds Gafaelfawr, Repertoire service discovery when `REPERTOIRE_BASE_URL` is set in the
//! environment. Nothing is derived from a default: without either, the form stays open and
//! the service says so.

use crate::bounds::{self, MILLISECOND, MINUTE};
use crate::ConfigError;
use serde::Deserialize;
use std::time::Duration;

/// The environment variable that points at Repertoire (Phalanx sets it for the original).
pub const REPERTOIRE_VARIABLE: &str = "REPERTOIRE_BASE_URL";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GafaelfawrConfig {
    /// Base URL of Gafaelfawr's v1 API (`https://host/auth/api/v1`); user information is
    /// `GET {url}/user-info`. A trailing `/` is ignored.
    #[serde(default)]
    pub url: Option<String>,
    /// Bound on one call to Gafaelfawr or Repertoire (connect, send, answer): more than
    /// zero, at most five minutes (JupyterHub's spawn page has long given up by then).
    #[serde(
        default = "default_timeout",
        deserialize_with = "bounds::duration::<_, MILLISECOND, { 5 * MINUTE }>"
    )]
    pub timeout: Duration,
    /// How long a user's answer is reused for the same token; `0` asks every time. At most
    /// five minutes, the original's own lifetime and what the contract allows.
    #[serde(
        default = "default_cache_lifetime",
        alias = "cache_lifetime",
        deserialize_with = "bounds::duration::<_, 0, { 5 * MINUTE }>"
    )]
    pub cache_lifetime: Duration,
}

impl Default for GafaelfawrConfig {
    fn default() -> Self {
        GafaelfawrConfig {
            url: None,
            timeout: default_timeout(),
            cache_lifetime: default_cache_lifetime(),
        }
    }
}

fn default_timeout() -> Duration {
    Duration::from_secs(20)
}

fn default_cache_lifetime() -> Duration {
    Duration::from_secs(300)
}

/// Where user information comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GafaelfawrEndpoint {
    /// `GET {url}/user-info`, `url` without a trailing `/`.
    Url(String),
    /// Discover Gafaelfawr's v1 URL at `GET {base}/discovery`, `base` without a trailing `/`.
    Repertoire(String),
}

impl GafaelfawrConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match &self.url {
            Some(url) => base_url(url, "gafaelfawr.url").map(drop),
            None => Ok(()),
        }
    }

    /// Where user information comes from, given the value of `REPERTOIRE_BASE_URL` (`None`
    /// when unset): `gafaelfawr.url` first, else discovery; `None` means no authentication.
    /// An empty variable counts as unset.
    pub fn endpoint(
        &self,
        repertoire_base_url: Option<&str>,
    ) -> Result<Option<GafaelfawrEndpoint>, ConfigError> {
        if let Some(url) = &self.url {
            return base_url(url, "gafaelfawr.url").map(|url| Some(GafaelfawrEndpoint::Url(url)));
        }
        match repertoire_base_url.filter(|value| !value.is_empty()) {
            Some(base) => base_url(base, REPERTOIRE_VARIABLE)
                .map(|base| Some(GafaelfawrEndpoint::Repertoire(base))),
            None => Ok(None),
        }
    }
}

/// An `http(s)` base URL without credentials, query or fragment, trailing `/` removed. The
/// value is not echoed in errors: it could hold a password.
fn base_url(text: &str, key: &str) -> Result<String, ConfigError> {
    let invalid = |message: &str| ConfigError::Invalid {
        path: key.to_owned(),
        message: format!("{message}; write it as https://host/path"),
    };
    let url = url::Url::parse(text).map_err(|error| invalid(&format!("not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(invalid("must be an http:// or https:// URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not hold credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    Ok(text.trim_end_matches('/').to_owned())
}
