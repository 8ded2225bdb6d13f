//! The Artifact Registry source: one paged `dockerImages.list` gives every tag with its digest
//! and size, so the listing is complete and aliases are found by shared digests alone
//! (`aliasTags` does not apply, as in the original).

use super::ImageSource;
use crate::gar::{GarAuth, GarClient, GarClientConfig, GarImage, GarImageRef};
use crate::RegistryError;
use rsp_config::{GoogleAuthMode, GoogleSourceConfig, ImagesConfig, RegistryLimits};
use rsp_model::catalog::ListedImage;
use rsp_model::listing::{Listing, ListingRules};
use rsp_model::Tag;
use url::Url;

pub struct GoogleSource {
    client: GarClient,
    image: GarImageRef,
    registry: String,
    repository: String,
}

impl GoogleSource {
    pub async fn new(
        config: &GoogleSourceConfig,
        limits: RegistryLimits,
    ) -> Result<GoogleSource, RegistryError> {
        let mut client_config = GarClientConfig {
            limits,
            ..GarClientConfig::default()
        };
        if let Some(api_url) = &config.api_url {
            client_config.api_url = Url::parse(api_url).map_err(|error| {
                RegistryError::Config(format!("images.source.apiUrl {api_url:?}: {error}"))
            })?;
        }
        client_config.auth = match config.auth {
            GoogleAuthMode::Google => GarAuth::Google,
            GoogleAuthMode::None => GarAuth::None,
        };
        Ok(GoogleSource {
            client: GarClient::new(client_config)?,
            image: GarImageRef {
                location: config.location.clone(),
                project_id: config.project_id.clone(),
                repository: config.repository.clone(),
                image: config.image.clone(),
            },
            registry: config.registry(),
            repository: config.docker_repository(),
        })
    }

    /// The raw listing, as `rsp-images snapshot` saves it.
    pub fn progress(&self) -> std::sync::Arc<crate::progress::ListingProgress> {
        self.client.progress()
    }

    pub async fn list(&self) -> Result<Vec<GarImage>, RegistryError> {
        self.client.list_images(&self.image).await
    }
}

/// The complete listing of an Artifact Registry response (or a snapshot of one).
pub fn listing_from_gar(
    registry: &str,
    repository: &str,
    images: Vec<GarImage>,
    rules: &ListingRules,
) -> Listing {
    Listing::complete(registry, repository, listed_images(images), rules)
}

/// One catalog entry per tag, in API order (untagged images give none). Tags are parsed,
/// never taken as aliases: an alias is an unknown tag that shares a digest.
fn listed_images(images: Vec<GarImage>) -> Vec<ListedImage> {
    // Sized up front: growing a vector of 20,000 parsed tags copies it several times.
    let mut listed = Vec::with_capacity(images.iter().map(|image| image.tags.len()).sum());
    for image in images {
        listed.extend(image.tags.iter().map(|tag| ListedImage {
            tag: Tag::parse(tag),
            digest: image.digest.clone(),
            size: image.size,
            platforms: image.platforms.clone(),
        }));
    }
    listed
}

impl ImageSource for GoogleSource {
    async fn update_images(&self, options: &ImagesConfig) -> Result<Listing, RegistryError> {
        Ok(listing_from_gar(
            &self.registry,
            &self.repository,
            self.list().await?,
            &options.listing_rules(),
        ))
    }

    fn registry_and_repository(&self) -> (&str, &str) {
        (&self.registry, &self.repository)
    }
}
