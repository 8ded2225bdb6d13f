//! Image sources: what a spawner controller asks of "the registry", on top of the clients.
//!
//! A source fetches what a [`Listing`] (the model's immutable answer to every question until
//! the next refresh) is built from: the registry's answers. Building the listing from them is
//! pure and lives in `rsp_model::listing`; the sources only ask.
//!
//! - `google`: Artifact Registry, every tag with digest and size in a few paged calls;
//! - `docker`: a Docker Registry v2, tags listed, digests fetched for the prepull set only;
//! - `snapshot`: a listing saved by `rsp-images snapshot`, for running without a registry;
//! - `lookup`: `image_for_reference` / `image_for_tag_asking_registry` over a listing, which
//!   may ask the registry for a digest (Docker tags outside the prepull set) through
//!   [`DigestLookup`], the one operation of a source that lookups need.

mod docker;
mod google;
mod lookup;
mod snapshot;

pub use docker::{DockerSource, LOOKUP_BUDGET};
pub use google::{listing_from_gar, GoogleSource};
pub use lookup::{image_for_reference, image_for_tag_asking_registry, DigestLookup};
pub use snapshot::{write_snapshot, SnapshotSource};

use crate::RegistryError;
use rsp_config::{ImagesConfig, SourceConfig};
use rsp_model::listing::Listing;
use std::future::Future;
use std::path::Path;

/// A registry seen through the operations the service needs.
pub trait ImageSource: Send + Sync + 'static {
    /// Reads the registry and builds a new listing. On failure the caller keeps serving its
    /// last good listing.
    fn update_images(
        &self,
        options: &ImagesConfig,
    ) -> impl Future<Output = Result<Listing, RegistryError>> + Send;

    /// The registry's current digest of a tag the listing has no digest for. Complete
    /// listings answer `None` without asking anything.
    fn fetch_digest(
        &self,
        _tag: &str,
    ) -> impl Future<Output = Result<Option<String>, RegistryError>> + Send {
        std::future::ready(Ok(None))
    }

    /// Registry host and repository path as image references spell them.
    fn registry_and_repository(&self) -> (&str, &str);

    /// A short description for logs and the status page.
    fn describe(&self) -> String {
        let (registry, repository) = self.registry_and_repository();
        format!("{registry}/{repository}")
    }
}

/// The source the configuration names.
pub enum AnySource {
    Docker(DockerSource),
    Google(GoogleSource),
    Snapshot(SnapshotSource),
}

impl AnySource {
    /// Builds the configured source. `config_dir` anchors relative snapshot paths.
    pub async fn from_config(
        images: &ImagesConfig,
        config_dir: &Path,
    ) -> Result<AnySource, RegistryError> {
        Ok(match &images.source {
            SourceConfig::Docker(docker) => AnySource::Docker(DockerSource::new(
                docker,
                images.docker_credentials_path.as_deref(),
                images.registry_limits,
            )?),
            SourceConfig::Google(google) => {
                AnySource::Google(GoogleSource::new(google, images.registry_limits).await?)
            }
            SourceConfig::Snapshot(snapshot) => {
                AnySource::Snapshot(SnapshotSource::new(snapshot, config_dir))
            }
        })
    }

    /// Every image of the registry with all its tags and digests, in the Artifact Registry
    /// shape a snapshot file holds: what `rsp-images snapshot` saves. A Docker registry is asked
    /// for every tag's digest (one HEAD each); a snapshot source has nothing new to save.
    pub async fn list_everything(&self) -> Result<Vec<crate::gar::GarImage>, RegistryError> {
        match self {
            AnySource::Google(google) => google.list().await,
            AnySource::Docker(docker) => Ok(snapshot::group_by_digest(docker.list_all().await?)),
            AnySource::Snapshot(_) => Ok(Vec::new()),
        }
    }

    /// How far the source's listings have got (a snapshot file has no pages: all zeros).
    pub fn progress(&self) -> std::sync::Arc<crate::progress::ListingProgress> {
        match self {
            AnySource::Docker(source) => source.progress(),
            AnySource::Google(source) => source.progress(),
            AnySource::Snapshot(_) => std::sync::Arc::default(),
        }
    }
}

impl ImageSource for AnySource {
    async fn update_images(&self, options: &ImagesConfig) -> Result<Listing, RegistryError> {
        match self {
            AnySource::Docker(source) => source.update_images(options).await,
            AnySource::Google(source) => source.update_images(options).await,
            AnySource::Snapshot(source) => source.update_images(options).await,
        }
    }

    async fn fetch_digest(&self, tag: &str) -> Result<Option<String>, RegistryError> {
        match self {
            AnySource::Docker(source) => source.fetch_digest(tag).await,
            AnySource::Google(source) => source.fetch_digest(tag).await,
            AnySource::Snapshot(source) => source.fetch_digest(tag).await,
        }
    }

    fn registry_and_repository(&self) -> (&str, &str) {
        match self {
            AnySource::Docker(source) => source.registry_and_repository(),
            AnySource::Google(source) => source.registry_and_repository(),
            AnySource::Snapshot(source) => source.registry_and_repository(),
        }
    }

    fn describe(&self) -> String {
        match self {
            AnySource::Docker(source) => source.describe(),
            AnySource::Google(source) => source.describe(),
            AnySource::Snapshot(source) => source.describe(),
        }
    }
}
