//! One HTTP exchange with a registry, shared by the Docker and Artifact Registry clients.
//!
//! A request is sent asking for gzip, its whole body read and decompressed up to a size cap
//! (`images.registryLimits.maxResponseBytes`, counted after decompression, so that neither a
//! huge body nor a small compressed bomb can take the process's memory; a connection cut
//! mid-body is a transport error and retried like any other), and the status classified: 2xx and 401 are returned to
//! the caller (401 because authentication is the caller's business), everything else becomes
//! a [`RegistryError::Status`] carrying the registry's own explanation. The HTTP client built
//! here follows redirects only within the same scheme, host and port, so that an
//! `Authorization` header can never be carried to another host by a redirect.

use std::time::{Duration, SystemTime};

use rsp_config::RegistryLimits;
use rsp_retry::hint;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, RETRY_AFTER};
use reqwest::{redirect, RequestBuilder, StatusCode};
use url::Url;

use crate::error::RegistryError;

/// What a registry answered.
pub(crate) struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Longest registry explanation kept in an error message.
const DETAIL_LIMIT: usize = 300;

/// Builds the HTTP client: per-request timeout, same-origin redirects only.
pub(crate) fn build_client(timeout: Duration) -> Result<reqwest::Client, RegistryError> {
    let same_origin = redirect::Policy::custom(|attempt| {
        let same = attempt
            .previous()
            .last()
            .is_some_and(|previous| previous.origin() == attempt.url().origin());
        if same && attempt.previous().len() < 5 {
            attempt.follow()
        } else {
            attempt.stop()
        }
    });
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(same_origin)
        .user_agent(concat!("rsp-images/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| RegistryError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Checks a configured API base URL: http or https, a host, no credentials, no path.
pub(crate) fn check_api_url(url: &Url, what: &str) -> Result<(), RegistryError> {
    let problem = if !matches!(url.scheme(), "http" | "https") {
        Some("the scheme must be https (or http)")
    } else if url.host_str().is_none_or(str::is_empty) {
        Some("it has no host")
    } else if !url.username().is_empty() || url.password().is_some() {
        Some("it must not contain credentials; use the credentials file")
    } else if !matches!(url.path(), "" | "/") || url.query().is_some() {
        Some("it must be scheme://host[:port] without a path or query")
    } else {
        None
    };
    match problem {
        Some(problem) => Err(RegistryError::Config(format!("{what} {url}: {problem}"))),
        None => Ok(()),
    }
}

/// `host[:port]` of a URL, as errors name it.
pub(crate) fn authority(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => url.as_str().to_owned(),
    }
}

/// Sends one request and reads the whole answer, at most `max_body` bytes of it after
/// decompression; see the module documentation.
pub(crate) async fn exchange(
    request: RequestBuilder,
    host: &str,
    operation: &str,
    max_body: u64,
) -> Result<Reply, RegistryError> {
    let mut response = request
        .send()
        .await
        .map_err(|e| transport(e, host, operation))?;
    let status = response.status();
    let headers = std::mem::take(response.headers_mut());
    let body = read_body(response, host, operation, max_body).await?;
    if status.is_success() || status == StatusCode::UNAUTHORIZED {
        return Ok(Reply {
            status,
            headers,
            body,
        });
    }
    Err(RegistryError::Status {
        host: host.to_owned(),
        operation: operation.to_owned(),
        status: status.as_u16(),
        detail: explanation(&body),
        retry_after: asked_delay(&headers, &body),
    })
}

/// The body, chunk by chunk as it arrives (decompressed when the registry sent gzip), refused
/// as soon as it grows past `max_body`: a huge answer costs at most the cap, never its size.
async fn read_body(
    mut response: reqwest::Response,
    host: &str,
    operation: &str,
    max_body: u64,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = || RegistryError::TooLarge {
        host: host.to_owned(),
        operation: operation.to_owned(),
        limit: max_body,
    };
    // Known only for uncompressed bodies; a compressed one is counted as it decompresses.
    let announced = response.content_length().unwrap_or(0);
    if announced > max_body {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(usize::try_from(announced).unwrap_or(0));
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| transport(e, host, operation))?
    {
        let length = u64::try_from(body.len().saturating_add(chunk.len())).unwrap_or(u64::MAX);
        if length > max_body {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Runs a whole multi-request operation (a listing) under `limit`.
pub(crate) async fn within<T>(
    limit: Duration,
    host: &str,
    operation: &str,
    work: impl std::future::Future<Output = Result<T, RegistryError>>,
) -> Result<T, RegistryError> {
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| RegistryError::Deadline {
            host: host.to_owned(),
            operation: operation.to_owned(),
            limit,
        })?
}

/// Pages and entries one listing has taken so far, against `images.registryLimits`: a chain
/// of new pages that never ends (Docker `Link`, Artifact Registry page tokens) fails when it
/// passes a bound, long before the listing deadline and with memory bounded by the limits.
pub(crate) struct ListingBudget<'a> {
    limits: &'a RegistryLimits,
    host: &'a str,
    operation: &'a str,
    pages: u64,
    entries: u64,
}

impl<'a> ListingBudget<'a> {
    pub fn new(limits: &'a RegistryLimits, host: &'a str, operation: &'a str) -> Self {
        Self {
            limits,
            host,
            operation,
            pages: 0,
            entries: 0,
        }
    }

    /// Counts one page of `entries`; an error once the listing exceeds a bound.
    pub fn count_page(&mut self, entries: usize) -> Result<(), RegistryError> {
        self.pages = self.pages.saturating_add(1);
        self.entries = self
            .entries
            .saturating_add(u64::try_from(entries).unwrap_or(u64::MAX));
        let exceeded = if self.pages > self.limits.max_pages {
            Some(("maxPages", self.limits.max_pages, "pages"))
        } else if self.entries > self.limits.max_entries {
            Some(("maxEntries", self.limits.max_entries, "entries"))
        } else {
            None
        };
        match exceeded {
            None => Ok(()),
            Some((key, limit, what)) => Err(RegistryError::Paging {
                host: self.host.to_owned(),
                operation: self.operation.to_owned(),
                detail: format!(
                    "the listing goes on past {limit} {what} (images.registryLimits.{key}); \
                     the registry's paging may never end, or the limit is too low for this repository"
                ),
            }),
        }
    }
}

/// Adds `Authorization: {value}` marked sensitive, so that it never shows in `Debug` output.
pub(crate) fn authorize(request: RequestBuilder, value: Option<&str>) -> RequestBuilder {
    match value.and_then(|v| HeaderValue::from_str(v).ok()) {
        Some(mut header) => {
            header.set_sensitive(true);
            request.header(AUTHORIZATION, header)
        }
        None => request,
    }
}

/// `api` with its path replaced by `segments`, each percent-encoded.
pub(crate) fn api_path<'a>(
    api: &Url,
    segments: impl IntoIterator<Item = &'a str>,
) -> Result<Url, RegistryError> {
    let mut url = api.clone();
    url.path_segments_mut()
        .map_err(|()| RegistryError::Config(format!("the API URL {api} cannot have a path")))?
        .clear()
        .extend(segments);
    Ok(url)
}

fn transport(error: reqwest::Error, host: &str, operation: &str) -> RegistryError {
    // reqwest's own message is terse ("error sending request"); the cause chain says why.
    let mut detail = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    RegistryError::Transport {
        host: host.to_owned(),
        operation: operation.to_owned(),
        detail,
        timeout: error.is_timeout(),
    }
}

/// The delay the registry asked for: Google's `RetryInfo.retryDelay` in the error body, else
/// `Retry-After` (Google rarely sends the header; Docker registries send nothing else).
fn asked_delay(headers: &HeaderMap, body: &[u8]) -> Option<Duration> {
    google_retry_delay(body).or_else(|| {
        let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
        hint::retry_after(value, SystemTime::now())
    })
}

/// `error.details[]` entry of type `google.rpc.RetryInfo`, as Google's APIs send it with
/// `RESOURCE_EXHAUSTED` and `UNAVAILABLE` (https://cloud.google.com/apis/design/errors#retryinfo):
/// `{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "30s"}`.
fn google_retry_delay(body: &[u8]) -> Option<Duration> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    json.get("error")?
        .get("details")?
        .as_array()?
        .iter()
        .filter(|detail| {
            detail.get("@type").and_then(|t| t.as_str())
                == Some("type.googleapis.com/google.rpc.RetryInfo")
        })
        .find_map(|detail| hint::protobuf_duration(detail.get("retryDelay")?.as_str()?))
}

/// The registry's explanation of an error: Docker `errors[].code/message`, Google
/// `error.status/message`, else the start of the body if it is text.
pub(crate) fn explanation(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(json) => docker_errors(&json)
            .or_else(|| google_error(&json))
            .unwrap_or_default(),
        Err(_) => String::from_utf8_lossy(body).trim().to_owned(),
    };
    truncate(&text, DETAIL_LIMIT)
}

fn docker_errors(json: &serde_json::Value) -> Option<String> {
    let errors = json.get("errors")?.as_array()?;
    let parts: Vec<String> = errors
        .iter()
        .map(|e| {
            let code = e.get("code").and_then(|c| c.as_str()).unwrap_or("");
            let message = e.get("message").and_then(|m| m.as_str()).unwrap_or("");
            format!("{code}: {message}")
        })
        .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn google_error(json: &serde_json::Value) -> Option<String> {
    let error = json.get("error")?;
    let status = error.get("status").and_then(|s| s.as_str()).unwrap_or("");
    let message = error.get("message").and_then(|m| m.as_str()).unwrap_or("");
    Some(format!("{status}: {message}"))
}

fn truncate(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explains_docker_and_google_errors() {
        let docker = br#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}"#;
        assert_eq!(
            explanation(docker),
            "NAME_UNKNOWN: repository name not known to registry"
        );
        let google =
            br#"{"error":{"code":404,"message":"Repository not found","status":"NOT_FOUND"}}"#;
        assert_eq!(explanation(google), "NOT_FOUND: Repository not found");
        assert_eq!(explanation(b"  bad gateway \n"), "bad gateway");
        assert_eq!(explanation(&[b'x'; 1000]).chars().count(), DETAIL_LIMIT + 1);
    }

    #[test]
    fn asked_delays_come_from_retry_info_or_retry_after() {
        let google = br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"Quota exceeded","details":[
            {"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"RATE_LIMIT_EXCEEDED"},
            {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;
        let mut headers = HeaderMap::new();
        assert_eq!(asked_delay(&headers, google), Some(Duration::from_secs(30)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(asked_delay(&headers, google), Some(Duration::from_secs(30)));
        assert_eq!(asked_delay(&headers, b"{}"), Some(Duration::from_secs(7)));
        assert_eq!(asked_delay(&HeaderMap::new(), b"busy"), None);
    }

    #[test]
    fn api_urls_are_checked() {
        let ok = |s: &str| check_api_url(&Url::parse(s).unwrap(), "apiUrl").is_ok();
        assert!(ok("https://registry.example.com"));
        assert!(ok("http://127.0.0.1:5000/"));
        assert!(!ok("ftp://registry.example.com"));
        assert!(!ok("https://user:pw@registry.example.com"));
        assert!(!ok("https://registry.example.com/v2/"));
    }
}
