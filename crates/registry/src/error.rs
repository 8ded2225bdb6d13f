//! The one error type of the registry clients.
//!
//! Every message names the registry host, the operation that failed and what an operator can
//! do about it, because these errors end up on the status page and in logs without any other
//! context. Messages are built only from hosts, paths, status codes and registry error texts:
//! credentials and tokens are never stored in an error, so neither `Display` nor `Debug` can
//! leak them.
//!
//! Two questions are asked of an error. [`RegistryError::is_retryable`]: can a later attempt
//! succeed without a configuration change? The Docker source asks it when a lookup of a tag
//! outside the listing fails, and then answers with the digest the registry gave last time.
//! (The refresh loop does not ask: it tries every failure again at its next period.) The
//! crate's retry loop (`retry.rs`) asks the narrower `is_transient`: may this very request
//! be sent again now?

use std::time::Duration;

/// What to check when a Docker registry rejects the credentials.
pub const DOCKER_CREDENTIALS: &str =
    "the entry for this registry in the Docker credentials file (images.dockerCredentialsPath)";

/// What to check when Artifact Registry rejects the credentials.
pub const GOOGLE_CREDENTIALS: &str =
    "the Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, \
     or the GKE workload identity's service account) and that the account has \
     roles/artifactregistry.reader on the repository";

/// Status codes that mean "try again": rate limiting and transient server failures.
pub(crate) const RETRYABLE_STATUSES: [u16; 5] = [429, 500, 502, 503, 504];

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The registry answered with an unexpected HTTP status.
    #[error("registry {host}: {operation} failed with HTTP {status}{}; {}", detail_suffix(detail), status_hint(*status))]
    Status {
        host: String,
        operation: String,
        status: u16,
        /// The registry's own explanation (error code and message), if it gave one.
        detail: String,
        /// The delay the registry asked for before a retry (`Retry-After`, or Google's
        /// `RetryInfo.retryDelay`), if any.
        retry_after: Option<Duration>,
    },
    /// Credentials or a token were presented and rejected, even after authenticating again.
    #[error("registry {host}: {operation}: the credentials were rejected (HTTP {status}) even after authenticating again; check {credentials}")]
    Unauthorized {
        host: String,
        operation: String,
        status: u16,
        /// Where the credentials come from, and what to check ([`DOCKER_CREDENTIALS`],
        /// [`GOOGLE_CREDENTIALS`]).
        credentials: &'static str,
    },
    /// The registry wants credentials and the credentials file has none for it.
    #[error("registry {host}: {operation}: the registry requires credentials and none are configured for {registry}; add an entry for it to the Docker credentials file")]
    CredentialsRequired {
        host: String,
        operation: String,
        registry: String,
    },
    /// Connecting, sending or reading the response failed (including timeouts).
    #[error("registry {host}: {operation}: {detail}{}", if *timeout { "; the registry did not answer in time, check that it is reachable or raise the timeout" } else { "; check that the registry is reachable" })]
    Transport {
        host: String,
        operation: String,
        detail: String,
        timeout: bool,
    },
    /// The response body was not what the API documents.
    #[error("registry {host}: {operation}: cannot parse the response: {detail}; is the API URL pointing at the right service?")]
    Parse {
        host: String,
        operation: String,
        detail: String,
    },
    /// A `WWW-Authenticate` challenge that cannot be used.
    #[error("registry {host}: {operation}: unusable authentication challenge: {detail}")]
    Challenge {
        host: String,
        operation: String,
        detail: String,
    },
    /// A bearer-token realm on a host that is not allowed; nothing was sent there.
    #[error("registry {host}: {operation}: refusing the bearer-token realm {realm}: its host is neither the registry host nor listed in images.source.authRealms (allowed: {allowed}); add the host there if it is trusted")]
    RealmNotAllowed {
        host: String,
        operation: String,
        /// Scheme, host and port of the refused realm (no path or query).
        realm: String,
        allowed: String,
    },
    /// Paging went wrong: a next page elsewhere, a repeated page, an endless chain.
    #[error("registry {host}: {operation}: {detail}")]
    Paging {
        host: String,
        operation: String,
        detail: String,
    },
    /// A response larger than the configured cap; reading stopped there.
    #[error("registry {host}: {operation}: the response is larger than images.registryLimits.maxResponseBytes ({limit} bytes, counted after decompression); raise the limit if the registry is right to send that much")]
    TooLarge {
        host: String,
        operation: String,
        limit: u64,
    },
    /// A manifest HEAD answered without `Docker-Content-Digest`.
    #[error("registry {host}: {operation}: the response has no usable Docker-Content-Digest header; the registry does not implement the Docker Registry v2 API as expected")]
    MissingDigest { host: String, operation: String },
    /// The operation as a whole took longer than its deadline.
    #[error("registry {host}: {operation} did not finish within {limit:?}; the registry is slow or keeps returning more pages")]
    Deadline {
        host: String,
        operation: String,
        limit: Duration,
    },
    /// Transient failures went on for longer than the retry policy allows.
    #[error("{last} (gave up after {attempts} attempts in {:.1} s)", elapsed.as_secs_f64())]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<RegistryError>,
    },
    /// Obtaining an access token for Artifact Registry failed.
    #[error("registry {host}: {operation}: cannot obtain an access token: {detail}; check the Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud login or the GKE workload identity)")]
    Token {
        host: String,
        operation: String,
        detail: String,
    },
    /// The Docker credentials file cannot be used.
    #[error("Docker credentials file {path}: {detail}")]
    CredentialsFile { path: String, detail: String },
    /// A Docker credential helper (`credHelpers`, `credsStore`) gave no usable answer. The
    /// detail never quotes what the helper printed.
    #[error("Docker credential helper {helper} (for {server}): {detail}")]
    CredentialHelper {
        helper: String,
        server: String,
        detail: String,
    },
    /// The client configuration is unusable.
    #[error("invalid registry client configuration: {0}")]
    Config(String),
}

fn detail_suffix(detail: &str) -> String {
    if detail.is_empty() {
        String::new()
    } else {
        format!(" ({detail})")
    }
}

fn status_hint(status: u16) -> &'static str {
    match status {
        404 => {
            "check that the repository, image or tag exists and that the configured names are right"
        }
        // Artifact Registry (and many Docker registries) answer 403 alike for a repository the
        // caller may not read and one that does not exist.
        403 => "the credentials lack permission to read this repository, or the repository does not exist; check both",
        401 => "the registry wants authentication",
        s if RETRYABLE_STATUSES.contains(&s) => {
            "the registry is overloaded or failing; it will be retried"
        }
        _ => "check the registry configuration",
    }
}

impl RegistryError {
    /// Whether a later attempt can succeed without a configuration change
    /// (rate limiting, server errors, network trouble, timeouts).
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => RETRYABLE_STATUSES.contains(status),
            Self::Transport { .. } | Self::Deadline { .. } | Self::RetriesExhausted { .. } => true,
            _ => false,
        }
    }

    /// Whether the registry said the repository, image or tag does not exist (HTTP 404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Status { status: 404, .. })
    }

    /// The HTTP status the registry answered with, if the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } | Self::Unauthorized { status, .. } => Some(*status),
            Self::RetriesExhausted { last, .. } => last.status(),
            _ => None,
        }
    }

    /// Whether the retry loop may try this very request again now. Unlike
    /// [`is_retryable`](Self::is_retryable) this excludes failures that already went
    /// through a retry loop or a deadline.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => RETRYABLE_STATUSES.contains(status),
            Self::Transport { .. } => true,
            _ => false,
        }
    }

    /// A [`RegistryError::Parse`].
    pub(crate) fn parse(host: &str, operation: &str, detail: String) -> Self {
        Self::Parse {
            host: host.to_owned(),
            operation: operation.to_owned(),
            detail,
        }
    }

    /// The delay the registry asked for before a retry.
    pub(crate) fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}
