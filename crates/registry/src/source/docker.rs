//! The Docker Registry v2 source. The API lists tags but gives digests one HEAD at a time, so
//! the listing knows every tag but digests only for the prepull set (and the lookup asks for
//! others on demand). The recommended tag and `aliasTags` are aliases from the start; their
//! display names ("Recommended (Weekly 2077_43)") come from the prepull set's digests. The
//! prepull set's platforms come from their manifests (an image index lists them), asked once
//! per digest: a steady refresh asks nothing more, a new weekly costs one GET.

use super::ImageSource;
use crate::docker::{DockerClientConfig, DockerCredentials, DockerRegistryClient};
use crate::RegistryError;
use futures::StreamExt;
use rsp_config::{default_credentials_path, DockerSourceConfig, ImagesConfig, RegistryLimits};
use rsp_model::listing::{DockerTags, Listing};
use rsp_model::platform::Platforms;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;
use url::Url;

/// How long resolving a tag outside the prepull set may take, retries included: the spawner
/// is waiting, and a registry answering 500 used to hold it for the whole retry budget (53 to
/// 60 s) before a 502.
pub const LOOKUP_BUDGET: Duration = Duration::from_secs(5);

/// How many digests fetched on demand are remembered, as the answer of last resort.
const REMEMBERED_DIGESTS: usize = 4096;

pub struct DockerSource {
    client: DockerRegistryClient,
    registry: String,
    repository: String,
    /// Tag → the digest the registry last gave for it on demand. When the registry fails,
    /// this (or the listing) answers rather than an error: tags move rarely, and a slightly
    /// old digest beats no lab.
    fetched: Mutex<HashMap<String, String>>,
    /// Digest → the platforms its manifest lists. A manifest never changes under its digest,
    /// so this is asked once per digest, not per refresh; it keeps the prepull set's digests.
    platforms: Mutex<HashMap<String, Platforms>>,
}

impl DockerSource {
    /// `credentials_path`: `None` means the default path, where a missing file means
    /// anonymous access; a configured path must exist (decisions §5 fix 3).
    pub fn new(
        config: &DockerSourceConfig,
        credentials_path: Option<&Path>,
        limits: RegistryLimits,
    ) -> Result<DockerSource, RegistryError> {
        let mut client_config = DockerClientConfig::new(config.registry.clone())?;
        client_config.limits = limits;
        if let Some(api_url) = &config.api_url {
            client_config.api_url = Url::parse(api_url).map_err(|error| {
                RegistryError::Config(format!("images.source.apiUrl {api_url:?}: {error}"))
            })?;
        }
        client_config.auth_realms = config.auth_realms.clone();
        client_config.credentials = match credentials_path {
            Some(path) => Some(DockerCredentials::load(path)?),
            None => DockerCredentials::load_optional(&default_credentials_path())?,
        };
        Ok(DockerSource {
            client: DockerRegistryClient::new(client_config)?,
            registry: config.registry.clone(),
            repository: config.repository.clone(),
            fetched: Mutex::new(HashMap::new()),
            platforms: Mutex::new(HashMap::new()),
        })
    }

    /// The platforms of each digest: from the cache, else one manifest GET per new digest
    /// (at most `digest_concurrency` at once). A failed GET leaves the digest unknown for
    /// this refresh and uncached, so the next refresh asks again; it never fails the listing.
    async fn platforms_of(&self, digests: &[&String]) -> HashMap<String, Platforms> {
        let missing: Vec<String> = {
            let cache = lock(&self.platforms);
            digests
                .iter()
                .filter(|digest| !cache.contains_key(**digest))
                .map(|digest| (*digest).clone())
                .collect::<HashSet<_>>()
                .into_iter()
                .collect()
        };
        let fetched: Vec<(String, Result<Platforms, RegistryError>)> =
            futures::stream::iter(missing)
                .map(|digest| async move {
                    let platforms = self
                        .client
                        .manifest_platforms(&self.repository, &digest)
                        .await;
                    (digest, platforms)
                })
                .buffer_unordered(8)
                .collect()
                .await;
        let mut cache = lock(&self.platforms);
        for (digest, platforms) in fetched {
            match platforms {
                Ok(platforms) => {
                    cache.insert(digest, platforms);
                }
                Err(error) => {
                    tracing::warn!(%error, %digest, "cannot read the image's platforms; they stay unknown for now");
                }
            }
        }
        // Only the current prepull set is kept: the cache never outgrows it.
        let wanted: HashSet<&str> = digests.iter().map(|d| d.as_str()).collect();
        cache.retain(|digest, _| wanted.contains(digest.as_str()));
        cache.clone()
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        lock(&self.fetched)
    }

    /// How far the client's listings have got (for `rsp-images snapshot`).
    pub fn progress(&self) -> std::sync::Arc<crate::progress::ListingProgress> {
        self.client.progress()
    }

    /// Every tag with its digest (one HEAD per tag), for `rsp-images snapshot`.
    pub async fn list_all(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let tags = self.client.list_tags(&self.repository).await?;
        self.client.manifest_digests(&self.repository, &tags).await
    }
}

/// Plain inserts and reads: a poisoned map is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ImageSource for DockerSource {
    async fn update_images(&self, options: &ImagesConfig) -> Result<Listing, RegistryError> {
        let names = self.client.list_tags(&self.repository).await?;
        let tags = DockerTags::new(&names, &options.listing_rules());
        let wanted: Vec<String> = tags.wanted().map(str::to_owned).collect();
        let digests: HashMap<String, String> = self
            .client
            .manifest_digests(&self.repository, &wanted)
            .await?
            .into_iter()
            .collect();
        let platforms = self
            .platforms_of(&digests.values().collect::<Vec<_>>())
            .await;
        Ok(Listing::from_docker(
            &self.registry,
            &self.repository,
            tags,
            &digests,
            &platforms,
        ))
    }

    /// The registry's digest within [`LOOKUP_BUDGET`]; when the registry fails transiently,
    /// the digest it gave last time, if any.
    async fn fetch_digest(&self, tag: &str) -> Result<Option<String>, RegistryError> {
        match self
            .client
            .manifest_digest_within(&self.repository, tag, LOOKUP_BUDGET)
            .await
        {
            Ok(digest) => {
                let mut remembered = self.remembered();
                if remembered.len() >= REMEMBERED_DIGESTS {
                    remembered.clear();
                }
                remembered.insert(tag.to_owned(), digest.clone());
                Ok(Some(digest))
            }
            Err(error) if error.is_retryable() => match self.remembered().get(tag) {
                Some(digest) => {
                    tracing::warn!(%error, tag, %digest, "the registry is failing; answering with the digest it gave last time");
                    Ok(Some(digest.clone()))
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }

    fn registry_and_repository(&self) -> (&str, &str) {
        (&self.registry, &self.repository)
    }
}
