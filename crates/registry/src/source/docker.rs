//! The Docker Registry v2 source. The API lists tags but gives digests one HEAD at a time, so
//! the listing knows every tag but digests only for the prepull set (and the lookup asks for
//! others on demand). The recommended tag and `aliasTags` are aliases from the start; their
//! display names ("Recommended (Weekly 2077_43)") come from the prepull set's digests.

use super::{subset_spec, ImageSource, Listing};
use crate::docker::{DockerClientConfig, DockerCredentials, DockerRegistryClient};
use crate::RegistryError;
use rsp_config::{default_credentials_path, DockerSourceConfig, ImagesConfig};
use rsp_model::catalog::{ImageCatalog, ListedImage};
use rsp_model::collection::TagCollection;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use url::Url;

pub struct DockerSource {
    client: DockerRegistryClient,
    registry: String,
    repository: String,
}

impl DockerSource {
    /// `credentials_path`: `None` means the default path, where a missing file means
    /// anonymous access; a configured path must exist (decisions §5 fix 3).
    pub fn new(
        config: &DockerSourceConfig,
        credentials_path: Option<&Path>,
    ) -> Result<DockerSource, RegistryError> {
        let mut client_config = DockerClientConfig::new(config.registry.clone())?;
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
        })
    }

    pub fn progress(&self) -> std::sync::Arc<crate::progress::ListingProgress> {
        self.client.progress()
    }

    /// Every tag with its digest (one HEAD per tag), for `rsp-images snapshot`.
    pub async fn list_all(&self) -> Result<Vec<(String, String)>, RegistryError> {
        let tags = self.client.list_tags(&self.repository).await?;
        self.client.manifest_digests(&self.repository, &tags).await
    }
}

impl ImageSource for DockerSource {
    async fn update_images(&self, options: &ImagesConfig) -> Result<Listing, RegistryError> {
        let names = self.client.list_tags(&self.repository).await?;
        let aliases: HashSet<String> = std::iter::once(options.recommended_tag.clone())
            .chain(options.alias_tags.iter().cloned())
            .collect();
        let tags = TagCollection::from_tag_names(&names, &aliases, options.cycle);
        let to_prepull = tags.subset(&subset_spec(options));
        // Arch-specific tags are hidden here, as in the original: a pinned `-amd64` tag is
        // listed but never prepulled.
        let wanted: Vec<String> = to_prepull
            .all_tags(true)
            .map(|tag| tag.tag().to_owned())
            .collect();
        let digests: HashMap<String, String> = self
            .client
            .manifest_digests(&self.repository, &wanted)
            .await?
            .into_iter()
            .collect();
        let images = to_prepull
            .all_tags(true)
            .filter_map(|tag| {
                Some(ListedImage {
                    tag: tag.clone(),
                    digest: digests.get(tag.tag())?.clone(),
                    size: None,
                    platforms: Default::default(),
                })
            })
            .collect();
        // The tags were cycle-filtered already; the catalog is the prepull set itself.
        let catalog = ImageCatalog::build(&self.registry, &self.repository, images, None);
        Ok(Listing {
            to_prepull: catalog.clone(),
            catalog,
            tags: Some(tags),
            sizes_from_nodes: true,
        })
    }

    async fn fetch_digest(&self, tag: &str) -> Result<Option<String>, RegistryError> {
        self.client
            .manifest_digest(&self.repository, tag)
            .await
            .map(Some)
    }

    fn registry_and_repository(&self) -> (&str, &str) {
        (&self.registry, &self.repository)
    }
}
