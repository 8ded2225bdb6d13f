//! Image sources: what a spawner controller asks of "the registry", on top of the clients.
//!
//! A source turns one registry listing into a [`Listing`], an immutable value that answers
//! every question until the next refresh: which images exist (with digests), which tags exist
//! (a Docker registry gives digests only tag by tag, so outside the prepull set it only knows
//! tags), and which images to prepull. Keeping the listing immutable is what lets a failed
//! refresh leave the last good one in place, and lets readers never see a half-built state.
//!
//! - `google`: Artifact Registry, every tag with digest and size in a few paged calls;
//! - `docker`: a Docker Registry v2, tags listed, digests fetched for the prepull set only;
//! - `snapshot`: a listing saved by `rsp-images snapshot`, for running without a registry;
//! - `lookup`: `image_for_reference` / `image_for_tag_name` over a listing, which may ask the
//!   source for a digest (Docker tags outside the prepull set).

mod docker;
mod google;
mod lookup;
mod snapshot;

pub use docker::{DockerSource, LOOKUP_BUDGET};
pub use google::GoogleSource;
pub use lookup::{
    image_for_class, image_for_reference, image_for_tag_name, ImageClass, LookupError,
    ResolvedImage,
};
pub use snapshot::{write_snapshot, SnapshotSource};

use crate::RegistryError;
use rsp_config::{ImagesConfig, SourceConfig};
use rsp_model::catalog::{ImageCatalog, ListedImage};
use rsp_model::collection::{SubsetSpec, TagCollection};
use std::future::Future;
use std::path::Path;

/// What one refresh of a source knows.
#[derive(Debug, Clone)]
pub struct Listing {
    /// Images whose digests are known: every image for Artifact Registry and snapshots, the
    /// prepull set for a Docker registry.
    pub catalog: ImageCatalog,
    /// Every tag of a Docker repository, digests unknown (`None` for complete listings).
    pub tags: Option<TagCollection>,
    /// The images to prepull (a view of `catalog`): the newest releases, weeklies and dailies
    /// plus the recommended and pinned tags.
    pub to_prepull: ImageCatalog,
    /// Whether image sizes come from the nodes (a Docker registry reports none).
    pub sizes_from_nodes: bool,
}

impl Listing {
    /// A complete listing (every tag with its digest), as Artifact Registry and snapshots give.
    pub fn complete(
        registry: &str,
        repository: &str,
        images: Vec<ListedImage>,
        options: &ImagesConfig,
    ) -> Listing {
        let catalog = ImageCatalog::build(registry, repository, images, options.cycle);
        let to_prepull = catalog.subset(&subset_spec(options));
        Listing {
            catalog,
            tags: None,
            to_prepull,
            sizes_from_nodes: false,
        }
    }

    /// The complete listing of an Artifact Registry response (or a snapshot of one).
    pub fn from_gar(
        registry: &str,
        repository: &str,
        images: Vec<crate::gar::GarImage>,
        options: &ImagesConfig,
    ) -> Listing {
        Listing::complete(registry, repository, google::listed_images(images), options)
    }

    /// An empty listing, served before the first refresh succeeds.
    pub fn empty(registry: &str, repository: &str) -> Listing {
        let catalog = ImageCatalog::build(registry, repository, Vec::new(), None);
        Listing {
            to_prepull: catalog.clone(),
            catalog,
            tags: None,
            sizes_from_nodes: false,
        }
    }

    /// Number of tags the registry reported (after cycle filtering).
    pub fn tag_count(&self) -> usize {
        match &self.tags {
            Some(tags) => tags.len(),
            None => self.catalog.len(),
        }
    }
}

/// The prepull subset of the configuration: the recommended tag and the pins are always in.
pub fn subset_spec(options: &ImagesConfig) -> SubsetSpec {
    SubsetSpec {
        releases: options.num_releases,
        weeklies: options.num_weeklies,
        dailies: options.num_dailies,
        include: std::iter::once(options.recommended_tag.clone())
            .chain(options.pin.iter().cloned())
            .collect(),
        remove_arch_specific: true,
    }
}

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
