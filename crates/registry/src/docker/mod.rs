//! Docker Registry v2 client (behaviour.md §6.2–§6.3): tag lists and manifest digests.
//!
//! Split by concern: [`credentials`] reads `.dockerconfigjson` and [`helper`] runs the
//! credential helpers it names, [`challenge`] parses
//! `WWW-Authenticate`, `auth` answers 401s (Basic/Bearer, token cache, realm allow-list),
//! [`token`] reads token answers, [`index`] reads platforms from manifest indexes, [`link`]
//! follows tag-list pages, and `client` puts them
//! together. The client talks to
//! `api_url` only (plain http only when that URL says so) and keeps `registry` — the host as
//! written in image references — for choosing credentials and naming errors.

mod auth;
pub mod challenge;
mod client;
pub mod credentials;
pub mod helper;
pub mod index;
pub mod link;
pub mod token;

use std::time::Duration;

use url::Url;

use rsp_config::RegistryLimits;
use rsp_retry::RetryPolicy;

pub use client::DockerRegistryClient;
pub use credentials::{CredentialSource, DockerCredential, DockerCredentials};
pub use helper::CredentialHelper;

/// The five manifest media types asked for with `Accept`, most specific first.
pub const MANIFEST_MEDIA_TYPES: [&str; 5] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/json;q=0.5",
];

/// How to reach one Docker registry.
#[derive(Debug, Clone)]
pub struct DockerClientConfig {
    /// `scheme://host[:port]` of the API; `https://{registry}` unless configured.
    pub api_url: Url,
    /// `host[:port]` as written in image references; selects credentials.
    pub registry: String,
    /// The credentials file's contents; `None` for anonymous access.
    pub credentials: Option<DockerCredentials>,
    /// Hosts (`host` or `host:port`) a bearer-token realm may be on besides the API host.
    pub auth_realms: Vec<String>,
    /// Timeout of each HTTP request.
    pub timeout: Duration,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// How many manifest HEADs run at once in [`DockerRegistryClient::manifest_digests`].
    pub digest_concurrency: usize,
    /// Tags asked for per tag-list page (`n=`); registries may send fewer.
    pub tag_page_size: u32,
    /// Bound on a whole tag listing, all pages and retries included.
    pub list_deadline: Duration,
    /// Bounds on response sizes, pages and tags per listing.
    pub limits: RegistryLimits,
}

/// Where Docker Hub (`docker.io` in references) serves its API, and the host of its token
/// realm (`WWW-Authenticate: Bearer realm="https://auth.docker.io/token"`).
const DOCKER_HUB_API: &str = "https://registry-1.docker.io";
const DOCKER_HUB_AUTH: &str = "auth.docker.io";

impl DockerClientConfig {
    /// Defaults for a registry as image references name it (`ghcr.io`, `docker.io`): as
    /// [`DockerClientConfig::new`], except that Docker Hub is reached where its API is, and
    /// its token realm is allowed.
    pub fn for_reference_registry(registry: &str) -> Result<Self, crate::RegistryError> {
        let mut config = Self::new(registry)?;
        if registry == rsp_model::init_image::DOCKER_HUB {
            config = config.with_api_url(DOCKER_HUB_API)?;
            config.auth_realms.push(DOCKER_HUB_AUTH.to_owned());
        }
        Ok(config)
    }

    /// The same configuration with the API at `api_url` (`http://127.0.0.1:5000`).
    pub fn with_api_url(mut self, api_url: &str) -> Result<Self, crate::RegistryError> {
        self.api_url = Url::parse(api_url).map_err(|e| {
            crate::RegistryError::Config(format!("API URL {api_url:?} is not a URL: {e}"))
        })?;
        Ok(self)
    }

    /// Defaults for `registry`: API `https://{registry}`, anonymous, 20 s timeout,
    /// 8 concurrent HEADs, pages of 1000 tags, 3 minutes per listing.
    pub fn new(registry: impl Into<String>) -> Result<Self, crate::RegistryError> {
        let registry = registry.into();
        let api_url = Url::parse(&format!("https://{registry}")).map_err(|e| {
            crate::RegistryError::Config(format!("registry {registry:?} is not a host[:port]: {e}"))
        })?;
        Ok(Self {
            api_url,
            registry,
            credentials: None,
            auth_realms: Vec::new(),
            timeout: Duration::from_secs(20),
            retry: RetryPolicy::default(),
            digest_concurrency: 8,
            tag_page_size: 1000,
            list_deadline: Duration::from_secs(180),
            limits: RegistryLimits::default(),
        })
    }
}
