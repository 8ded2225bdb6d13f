//! Registry clients (Docker Registry v2, Artifact Registry REST) and the image sources built
//! on them.
//!
//! - [`docker`]: tag lists and manifest digests from a Docker Registry v2 API, with Basic and
//!   Bearer authentication, `Link` paging and bounded concurrency for digests.
//! - [`gar`]: the `dockerImages.list` listing of Google Artifact Registry.
//! - [`progress`]: counters of a listing in progress, for `rsp-images snapshot`.
//! - [`retry`]: the shared retry policy for transient failures (429, 5xx, network).
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
pub mod retry;
pub mod source;

pub use docker::{DockerClientConfig, DockerCredential, DockerCredentials, DockerRegistryClient};
pub use error::RegistryError;
pub use gar::{GarAuth, GarClient, GarClientConfig, GarImage, GarImageRef, GarTokenProvider};
pub use retry::RetryPolicy;
