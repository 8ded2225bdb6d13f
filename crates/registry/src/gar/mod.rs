//! Google Artifact Registry client (behaviour.md §6.1): one paginated `dockerImages.list`
//! listing that gives tags, digest and size of every image of a repository.
//!
//! `auth` supplies bearer tokens (Application Default Credentials in production, anything
//! in tests), `wire` is the REST JSON and the image-name matching, `client` the paging.

mod auth;
mod client;
pub mod wire;

use std::time::Duration;

use rsp_model::platform::Platforms;
use url::Url;

use rsp_config::RegistryLimits;
use rsp_retry::RetryPolicy;

pub use auth::{GarAuth, GarTokenProvider};
pub use client::GarClient;

/// Default API base.
pub const GAR_API_URL: &str = "https://artifactregistry.googleapis.com";

/// How to reach Artifact Registry.
#[derive(Debug, Clone)]
pub struct GarClientConfig {
    /// `scheme://host[:port]`; default [`GAR_API_URL`].
    pub api_url: Url,
    pub auth: GarAuth,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// `pageSize` asked for (the API's maximum is 1000).
    pub page_size: u32,
    /// Bound on one whole listing, all pages, retries and token refreshes included, so that
    /// a page chain that never ends fails instead of hanging a refresh.
    pub list_deadline: Duration,
    /// Bounds on response sizes, pages and images per listing.
    pub limits: RegistryLimits,
}

impl Default for GarClientConfig {
    fn default() -> Self {
        Self {
            // A constant URL that parses; `Url` has no const constructor.
            api_url: Url::parse(GAR_API_URL).unwrap_or_else(|_| unreachable!("constant URL")),
            auth: GarAuth::Google,
            timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            page_size: 1000,
            list_deadline: Duration::from_secs(180),
            limits: RegistryLimits::default(),
        }
    }
}

/// Which images to list: `{location}-docker.pkg.dev/{project_id}/{repository}/{image}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarImageRef {
    pub location: String,
    pub project_id: String,
    pub repository: String,
    /// May be nested (`team/app`).
    pub image: String,
}

impl GarImageRef {
    /// `{location}-docker.pkg.dev/{project}/{repository}/{image}`, with a domain-scoped
    /// project (`example.com:proj`) written `example.com/proj`, as references write it.
    pub fn reference_path(&self) -> String {
        format!(
            "{}-docker.pkg.dev/{}/{}/{}",
            self.location,
            self.project_id.replacen(':', "/", 1),
            self.repository,
            self.image
        )
    }

    /// The API parent of the listing.
    pub fn parent(&self) -> String {
        format!(
            "projects/{}/locations/{}/repositories/{}",
            self.project_id, self.location, self.repository
        )
    }
}

/// One image (one digest) of the listing, in API order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GarImage {
    /// Possibly empty (untagged images).
    pub tags: Vec<String>,
    pub digest: String,
    /// `imageSizeBytes`, when the API gave a number.
    pub size: Option<u64>,
    /// The platforms of a multi-arch image's `imageManifests`; unknown for a single manifest
    /// (the listing does not say which platform its config names).
    pub platforms: Platforms,
    /// `artifactType`, when the entry is an OCI artifact rather than a plain image.
    pub artifact_type: Option<String>,
}
