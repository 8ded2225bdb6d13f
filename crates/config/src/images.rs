//! The `images` section: where images come from and which of them to prepull.
//!
//! Field names and defaults are the original's (behaviour §10.1); `apiUrl`, `auth`,
//! `authRealms` and the `snapshot` source type are rsp-images additions (decisions §3).

use crate::bounds::{self, DAY, SECOND};
use crate::ConfigError;
use rsp_model::api::{PrepullerOptions, PrepullerSource};
use rsp_model::collection::SubsetSpec;
use rsp_model::listing::ListingRules;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Where the controller's image pull credentials live unless the config says otherwise.
pub fn default_credentials_path() -> PathBuf {
    PathBuf::from("/etc/secrets/.dockerconfigjson")
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImagesConfig {
    pub source: SourceConfig,
    /// Time between registry refreshes (±10 % jitter): at least a second, so that a typo does
    /// not hammer the registry, at most 30 days.
    #[serde(
        default = "default_refresh_interval",
        alias = "refresh_interval",
        deserialize_with = "bounds::duration::<_, SECOND, { 30 * DAY }>"
    )]
    pub refresh_interval: Duration,
    /// How long one prepull pod may take: more than zero (zero would time every pull out at
    /// once), at most a day (it is added to the clock).
    #[serde(
        default = "default_prepull_timeout",
        alias = "prepull_timeout",
        deserialize_with = "bounds::duration::<_, SECOND, DAY>"
    )]
    pub prepull_timeout: Duration,
    #[serde(default = "default_recommended_tag", alias = "recommended_tag")]
    pub recommended_tag: String,
    // The three counts need no bounds beyond their type's: more than there are keeps all.
    #[serde(default = "one", alias = "num_releases")]
    pub num_releases: usize,
    #[serde(default = "two", alias = "num_weeklies")]
    pub num_weeklies: usize,
    #[serde(default = "three", alias = "num_dailies")]
    pub num_dailies: usize,
    #[serde(default)]
    pub cycle: Option<u32>,
    #[serde(default)]
    pub pin: Vec<String>,
    #[serde(default, alias = "alias_tags")]
    pub alias_tags: Vec<String>,
    /// `None` means the default path, where a missing file means anonymous access; a path
    /// written in the config must exist (fix 3).
    #[serde(default, alias = "docker_credentials_path")]
    pub docker_credentials_path: Option<PathBuf>,
    /// How much a registry may send (rsp-images addition).
    #[serde(default, alias = "registry_limits")]
    pub registry_limits: RegistryLimits,
}

/// `images.registryLimits`: bounds on what one listing may cost, so that a broken or hostile
/// registry (a huge body, a page chain that never ends) fails the refresh with an error
/// naming the key instead of exhausting memory. The defaults are far above what a real
/// repository needs (Rubin's has about 20,000 tags, sent in pages of well under 2 MB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryLimits {
    /// Largest response body read, counted after decompression: at least 64 KiB (real pages
    /// are larger), at most 4 GiB (more than the process could hold anyway).
    #[serde(
        default = "default_max_response_bytes",
        deserialize_with = "bounds::count::<_, u64, { 64 * 1024 }, { 4 * 1024 * 1024 * 1024 }>"
    )]
    pub max_response_bytes: u64,
    /// Most pages one listing may take.
    #[serde(
        default = "default_max_pages",
        deserialize_with = "bounds::count::<_, u64, 1, 10_000_000>"
    )]
    pub max_pages: u64,
    /// Most entries one listing may hold: tags of a Docker tag list, images of an Artifact
    /// Registry listing (counted as received, before other images are left out).
    #[serde(
        default = "default_max_entries",
        deserialize_with = "bounds::count::<_, u64, 1, 100_000_000>"
    )]
    pub max_entries: u64,
}

impl Default for RegistryLimits {
    fn default() -> RegistryLimits {
        RegistryLimits {
            max_response_bytes: default_max_response_bytes(),
            max_pages: default_max_pages(),
            max_entries: default_max_entries(),
        }
    }
}

fn default_max_response_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_max_pages() -> u64 {
    5_000
}
fn default_max_entries() -> u64 {
    1_000_000
}

fn default_refresh_interval() -> Duration {
    Duration::from_secs(300)
}
fn default_prepull_timeout() -> Duration {
    Duration::from_secs(600)
}
fn default_recommended_tag() -> String {
    "recommended".to_owned()
}
fn one() -> usize {
    1
}
fn two() -> usize {
    2
}
fn three() -> usize {
    3
}

/// The registry that holds the lab images.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum SourceConfig {
    Docker(DockerSourceConfig),
    Google(GoogleSourceConfig),
    Snapshot(SnapshotSourceConfig),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DockerSourceConfig {
    #[serde(default = "default_docker_registry")]
    pub registry: String,
    pub repository: String,
    /// `scheme://host[:port]` of the registry API; default `https://{registry}`.
    #[serde(default, alias = "api_url")]
    pub api_url: Option<String>,
    /// Hosts a bearer-token realm may point to; default: the registry host only.
    #[serde(default, alias = "auth_realms")]
    pub auth_realms: Vec<String>,
}

fn default_docker_registry() -> String {
    "docker.io".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GoogleSourceConfig {
    pub location: String,
    #[serde(alias = "project_id")]
    pub project_id: String,
    pub repository: String,
    pub image: String,
    /// Base URL of the Artifact Registry API; default `https://artifactregistry.googleapis.com`.
    #[serde(default, alias = "api_url")]
    pub api_url: Option<String>,
    #[serde(default)]
    pub auth: GoogleAuthMode,
}

impl GoogleSourceConfig {
    /// The registry host that image references use.
    pub fn registry(&self) -> String {
        format!("{}-docker.pkg.dev", self.location)
    }

    /// The Docker repository path that image references use. A domain-scoped project
    /// (`example.com:proj`) is written `example.com/proj` there, as Artifact Registry writes
    /// it (a `:` is not valid in a reference's path).
    pub fn docker_repository(&self) -> String {
        format!(
            "{}/{}/{}",
            self.project_id.replacen(':', "/", 1),
            self.repository,
            self.image
        )
    }
}

/// How rsp-images authenticates to Artifact Registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GoogleAuthMode {
    /// Application Default Credentials, including the GKE metadata server.
    #[default]
    Google,
    None,
}

/// A listing saved by `rsp-images snapshot`, served without any registry.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SnapshotSourceConfig {
    pub path: PathBuf,
    pub registry: String,
    pub repository: String,
}

impl SourceConfig {
    /// Registry host and repository path as they appear in image references.
    pub fn registry_and_repository(&self) -> (String, String) {
        match self {
            SourceConfig::Docker(docker) => (docker.registry.clone(), docker.repository.clone()),
            SourceConfig::Google(google) => (google.registry(), google.docker_repository()),
            SourceConfig::Snapshot(snapshot) => {
                (snapshot.registry.clone(), snapshot.repository.clone())
            }
        }
    }
}

impl ImagesConfig {
    /// The rules a listing is built by: the prepull subset (the recommended tag and the pins
    /// are always in), the cycle, and the tags a Docker listing takes as aliases.
    pub fn listing_rules(&self) -> ListingRules {
        ListingRules {
            prepull: SubsetSpec {
                releases: self.num_releases,
                weeklies: self.num_weeklies,
                dailies: self.num_dailies,
                include: std::iter::once(self.recommended_tag.clone())
                    .chain(self.pin.iter().cloned())
                    .collect(),
                remove_arch_specific: true,
            },
            cycle: self.cycle,
            aliases: std::iter::once(self.recommended_tag.clone())
                .chain(self.alias_tags.iter().cloned())
                .collect(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let api_url = match &self.source {
            SourceConfig::Docker(docker) => {
                check_registry(&docker.registry)?;
                docker.api_url.as_deref()
            }
            SourceConfig::Google(google) => google.api_url.as_deref(),
            SourceConfig::Snapshot(snapshot) => {
                check_registry(&snapshot.registry)?;
                None
            }
        };
        if let Some(url) = api_url {
            check_api_url(url)?;
        }
        Ok(())
    }

    /// The `config` object of `/spawner/v1/prepulls`, in the original's shape; credentials
    /// paths and rsp-images additions are left out on purpose.
    pub fn prepuller_options(&self) -> PrepullerOptions {
        let source = match &self.source {
            SourceConfig::Docker(docker) => PrepullerSource::Docker {
                registry: docker.registry.clone(),
                repository: docker.repository.clone(),
            },
            SourceConfig::Google(google) => PrepullerSource::Google {
                location: google.location.clone(),
                project_id: google.project_id.clone(),
                repository: google.repository.clone(),
                image: google.image.clone(),
            },
            SourceConfig::Snapshot(snapshot) => PrepullerSource::Snapshot {
                registry: snapshot.registry.clone(),
                repository: snapshot.repository.clone(),
            },
        };
        PrepullerOptions {
            source,
            refresh_interval: self.refresh_interval.as_secs_f64(),
            prepull_timeout: self.prepull_timeout.as_secs_f64(),
            recommended_tag: self.recommended_tag.clone(),
            num_releases: self.num_releases,
            num_weeklies: self.num_weeklies,
            num_dailies: self.num_dailies,
            cycle: self.cycle,
            pin: self.pin.clone(),
            alias_tags: self.alias_tags.clone(),
        }
    }
}

/// `apiUrl` must be a bare `scheme://host[:port]`: paths are the client's business, and any
/// other scheme would silently send credentials somewhere unexpected. Credentials written
/// into it are refused without echoing them.
fn check_api_url(url: &str) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: "images.source.apiUrl".into(),
        message,
    };
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| {
            invalid(format!(
                "must start with https:// or http:// (got {}; write it as https://host[:port])",
                crate::echo(url)
            ))
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(invalid(CREDENTIALS.into()));
    }
    let host = rest.trim_end_matches('/');
    if host.is_empty() || host.contains(['/', '?', '#', ' ']) {
        return Err(invalid(format!(
            "must be scheme://host[:port] with no path (got {}; write it as https://host[:port])",
            crate::echo(url)
        )));
    }
    Ok(())
}

/// Why user:password@ is refused, in words that echo neither.
const CREDENTIALS: &str = "must not contain credentials (user:password@ was given and is not \
                           repeated here); put them in the Docker credentials file \
                           (dockerCredentialsPath)";

/// `registry` is the host of image references, `host[:port]`: a URL or credentials there
/// would end up in every reference and be sent to the wrong place.
fn check_registry(registry: &str) -> Result<(), ConfigError> {
    let invalid = |message: String| ConfigError::Invalid {
        path: "images.source.registry".into(),
        message,
    };
    if registry.contains('@') {
        return Err(invalid(CREDENTIALS.into()));
    }
    if registry.contains("://") {
        return Err(invalid(format!(
            "is a host[:port], not a URL (got {}); write the URL in apiUrl",
            crate::echo(registry)
        )));
    }
    if registry.is_empty() || registry.contains(['/', ' ', '?', '#']) {
        return Err(invalid(format!(
            "must be a host[:port] such as docker.io or registry.example:5000 (got {}); the \
             path belongs in repository",
            crate::echo(registry)
        )));
    }
    Ok(())
}
