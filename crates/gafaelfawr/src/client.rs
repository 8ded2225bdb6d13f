//! `GET {v1}/user-info` with the user's token (lab-form.md §2.1, §2.3).
//!
//! Every call is bounded: a timeout on the whole exchange, no redirects (a token must never
//! follow one to another host), at most [`BODY_LIMIT`] bytes read. Gafaelfawr's 401 and 403
//! mean the token is no good; anything else that is not a user-info answer is an upstream
//! failure the service reports as such. Tokens never appear in errors or logs.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::StatusCode;
use rsp_config::{GafaelfawrConfig, GafaelfawrEndpoint};

use crate::cache::TokenCache;
use crate::discovery::Discovery;
use crate::wire::UserInfo;

/// Largest answer read from Gafaelfawr or Repertoire; real ones are a few kilobytes.
const BODY_LIMIT: usize = 1024 * 1024;

/// Why no user information could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserInfoError {
    /// Gafaelfawr refused the token (unknown, malformed, expired or revoked), or it was empty.
    #[error("Gafaelfawr refused the token")]
    InvalidToken,
    /// Gafaelfawr or Repertoire did not answer in time.
    #[error("{service} did not answer within {timeout:?}")]
    Timeout {
        service: &'static str,
        timeout: Duration,
    },
    /// Gafaelfawr or Repertoire could not be reached, or answered something unusable.
    #[error("{0}")]
    Upstream(String),
}

/// Where the v1 API is.
enum Endpoint {
    Fixed(String),
    Discovered(Discovery),
}

/// A client of Gafaelfawr's user-info API, with its per-token cache.
pub struct GafaelfawrClient {
    http: reqwest::Client,
    endpoint: Endpoint,
    timeout: Duration,
    cache: TokenCache,
}

impl GafaelfawrClient {
    /// A client for `endpoint` with the section's timeout and cache lifetime.
    pub fn new(
        endpoint: &GafaelfawrEndpoint,
        config: &GafaelfawrConfig,
    ) -> Result<GafaelfawrClient, String> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("rsp-images/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client for Gafaelfawr: {e}"))?;
        let endpoint = match endpoint {
            GafaelfawrEndpoint::Url(url) => Endpoint::Fixed(url.trim_end_matches('/').to_owned()),
            GafaelfawrEndpoint::Repertoire(base) => Endpoint::Discovered(Discovery::new(base)),
        };
        Ok(GafaelfawrClient {
            http,
            endpoint,
            timeout: config.timeout,
            cache: TokenCache::new(config.cache_lifetime),
        })
    }

    /// Where user information comes from, for logs and the status page.
    pub fn describe(&self) -> String {
        match &self.endpoint {
            Endpoint::Fixed(url) => format!("Gafaelfawr at {url}"),
            Endpoint::Discovered(discovery) => {
                format!("Gafaelfawr as Repertoire lists it at {}", discovery.url())
            }
        }
    }

    /// Who `token` belongs to and their quota, from the cache when it was asked recently.
    pub async fn user_info(&self, token: &str) -> Result<Arc<UserInfo>, UserInfoError> {
        // An empty token is no token (the original sent `Bearer ` and got a refusal).
        if token.is_empty() {
            return Err(UserInfoError::InvalidToken);
        }
        if let Some(info) = self.cache.get(token, Instant::now()) {
            return Ok(info);
        }
        let v1 = match &self.endpoint {
            Endpoint::Fixed(url) => url.clone(),
            Endpoint::Discovered(discovery) => {
                discovery.gafaelfawr_v1(&self.http, self.timeout).await?
            }
        };
        let url = format!("{v1}/user-info");
        let reply = fetch(&self.http, &url, Some(token), "Gafaelfawr", self.timeout).await?;
        match reply.status {
            StatusCode::OK => {}
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                return Err(UserInfoError::InvalidToken)
            }
            status => {
                return Err(UserInfoError::Upstream(format!(
                    "Gafaelfawr answered {status} for {url}"
                )))
            }
        }
        let info = UserInfo::from_json(&reply.body).map_err(|error| {
            UserInfoError::Upstream(format!(
                "Gafaelfawr's answer at {url} is not user information: {error}"
            ))
        })?;
        let info = Arc::new(info);
        self.cache.put(token, Arc::clone(&info), Instant::now());
        Ok(info)
    }
}

/// A whole answer.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub body: Vec<u8>,
}

/// One bounded GET, with `Authorization: Bearer {token}` when a token is given.
pub(crate) async fn fetch(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    service: &'static str,
    timeout: Duration,
) -> Result<Reply, UserInfoError> {
    let transport = |error: reqwest::Error| {
        if error.is_timeout() {
            UserInfoError::Timeout { service, timeout }
        } else {
            // Without the URL's own text from reqwest's message: it is ours anyway.
            UserInfoError::Upstream(format!(
                "cannot reach {service} at {url}: {}",
                error_chain(&error)
            ))
        }
    };
    let mut request = http.get(url);
    if let Some(token) = token {
        let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|_| UserInfoError::InvalidToken)?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    let mut response = request.send().await.map_err(transport)?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > BODY_LIMIT {
            return Err(UserInfoError::Upstream(format!(
                "{service}'s answer at {url} is larger than {BODY_LIMIT} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Reply { status, body })
}

/// The innermost causes of a transport error (reqwest's own text repeats the URL).
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.last().cloned().unwrap_or_else(|| error.to_string())
}
