//! Where Gafaelfawr's v1 API is, when Repertoire says (lab-form.md §2.5): `GET
//! {REPERTOIRE_BASE_URL}/discovery` (no authentication), whose
//! `services.internal.gafaelfawr.versions.v1.url` is the base URL of user-info. Kept five
//! minutes, as in the original; when a new lookup fails the last answer is used, so a
//! Repertoire restart does not take the form down.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::client::{fetch, UserInfoError};

/// How long one discovery answer is used before asking again.
const LIFETIME: Duration = Duration::from_secs(300);

pub(crate) struct Discovery {
    /// `{base}/discovery`.
    url: String,
    last: Mutex<Option<(Instant, String)>>,
}

impl Discovery {
    pub(crate) fn new(base: &str) -> Discovery {
        Discovery {
            url: format!("{}/discovery", base.trim_end_matches('/')),
            last: Mutex::new(None),
        }
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Gafaelfawr's v1 base URL, without a trailing `/`.
    pub(crate) async fn gafaelfawr_v1(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<String, UserInfoError> {
        let last = self.last.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some((at, url)) = &last {
            if at.elapsed() < LIFETIME {
                return Ok(url.clone());
            }
        }
        match self.ask(http, timeout).await {
            Ok(url) => {
                *self.last.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((Instant::now(), url.clone()));
                Ok(url)
            }
            Err(error) => match last {
                Some((_, url)) => {
                    tracing::warn!(%error, "Repertoire discovery failed; using its last answer");
                    Ok(url)
                }
                None => Err(error),
            },
        }
    }

    async fn ask(
        &self,
        http: &reqwest::Client,
        timeout: Duration,
    ) -> Result<String, UserInfoError> {
        let reply = fetch(http, &self.url, None, "Repertoire", timeout).await?;
        if !reply.status.is_success() {
            return Err(UserInfoError::Upstream(format!(
                "Repertoire answered {} for {}",
                reply.status, self.url
            )));
        }
        v1_url(&reply.body).ok_or_else(|| {
            UserInfoError::Upstream(format!(
                "Repertoire's discovery at {} names no Gafaelfawr v1 API \
                 (services.internal.gafaelfawr.versions.v1.url)",
                self.url
            ))
        })
    }
}

/// `services.internal.gafaelfawr.versions.v1.url`, when it is an http(s) URL.
fn v1_url(body: &[u8]) -> Option<String> {
    let document: serde_json::Value = serde_json::from_slice(body).ok()?;
    let url = document
        .pointer("/services/internal/gafaelfawr/versions/v1/url")?
        .as_str()?;
    (url.starts_with("https://") || url.starts_with("http://"))
        .then(|| url.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::v1_url;

    #[test]
    fn the_v1_url_of_gafaelfawr() {
        let body = br#"{"services":{"internal":{"gafaelfawr":{"url":"https://h/auth",
            "versions":{"v1":{"url":"https://h/auth/api/v1/"}}}}}}"#;
        assert_eq!(v1_url(body).as_deref(), Some("https://h/auth/api/v1"));
        for body in [
            &br#"{"services":{"internal":{"gafaelfawr":{"url":"https://h/auth"}}}}"#[..],
            br#"{"services":{"internal":{}}}"#,
            br#"{"services":{"internal":{"gafaelfawr":{"versions":{"v1":{"url":"file:///x"}}}}}}"#,
            b"not json",
        ] {
            assert_eq!(v1_url(body), None);
        }
    }
}
