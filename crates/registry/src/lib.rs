//! Registry clients (Docker Registry v2, Artifact Registry REST) and the image sources built
//! on them.
//!
//! - [`docker`]: tag lists and manifest digests from a Docker Registry v2 API, with Basic and
//!   Bearer authentication, `Link` paging and bounded concurrency for digests.
//! - [`gar`]: the `dockerImages.list` listing of Google Artifact Registry.
//! - [`progress`]: counters of a listing in progress, for `rsp-images snapshot`.
//! - `retry`: runs a request again after transient failures (429, 5xx, network), by the
//!   project's one retry rule ([`rsp_retry`]).
//! - [`error`]: [`RegistryError`], whose messages name host, operation and remedy and never
//!   contain a credential.
//!
//! This is the only crate that talks to registries; both clients share one HTTP exchange
//! helper (`http`) so that timeouts, redirects and error classification are the same.

pub mod docker;
pub mod error;
pub mod gar;
mod http;
pub mod progress;
mod retry;
pub mod source;

pub use docker::{DockerClientConfig, DockerCredential, DockerCredentials, DockerRegistryClient};
pub use error::RegistryError;
pub use gar::{GarAuth, GarClient, GarClientConfig, GarImage, GarImageRef, GarTokenProvider};
pub use rsp_config::RegistryLimits;
pub use rsp_retry::{Backoff, RetryPolicy};
