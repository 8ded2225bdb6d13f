//! Helpers shared by the image source tests (`source_*.rs`): configurations, digests and a
//! plain summary of a listing that two listings can be compared by.

#![allow(dead_code)] // Each test binary uses a different part.

use rsp_model::catalog::Hidden;
use rsp_model::collection::ArchSpecific;
use std::path::PathBuf;

use rsp_config::{
    DockerSourceConfig, GoogleAuthMode, GoogleSourceConfig, ImagesConfig, RegistryLimits,
    SnapshotSourceConfig, SourceConfig,
};
use rsp_model::catalog::{Image, ImageCatalog};
use rsp_model::listing::Listing;
use rsp_model::TagKind;
use rsp_registry::source::GoogleSource;
use rsp_testkit::gar::{DockerImage, FakeGar, GarRepository};

pub const LOCATION: &str = "us-central1";
pub const PROJECT: &str = "rubin-shared";
pub const GAR_REPOSITORY: &str = "sciplat";
pub const IMAGE: &str = "sciplat-lab";
/// What references to `IMAGE` on Artifact Registry start with.
pub const GAR_REGISTRY: &str = "us-central1-docker.pkg.dev";
pub const GAR_PATH: &str = "rubin-shared/sciplat/sciplat-lab";

/// A Docker registry as references name it (the API is on loopback, see `docker_source`).
pub const DOCKER_REGISTRY: &str = "lighthouse.ceres";
pub const DOCKER_REPOSITORY: &str = "library/sketchbook";

pub use rsp_testkit::builders::digest;

pub fn gar_repo() -> GarRepository {
    GarRepository::new(LOCATION, PROJECT, GAR_REPOSITORY)
}

/// A DockerImage of `IMAGE` with digest `digest(n)`.
pub fn gar_image(n: u32, tags: &[&str]) -> DockerImage {
    gar_repo().image(IMAGE, &digest(n), tags, 1_000_000 + u64::from(n))
}

/// The Artifact Registry source configuration for `image` served by a fake at `api_url`.
pub fn google_config(api_url: &str, image: &str) -> GoogleSourceConfig {
    GoogleSourceConfig {
        location: LOCATION.into(),
        project_id: PROJECT.into(),
        repository: GAR_REPOSITORY.into(),
        image: image.into(),
        api_url: Some(api_url.into()),
        auth: GoogleAuthMode::None,
    }
}

/// A fake Artifact Registry serving these images in `gar_repo()`.
pub async fn fake_gar(images: Vec<DockerImage>) -> FakeGar {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&gar_repo(), images);
    fake
}

/// The source of `image` on `fake`, and the `images` section that configures it.
pub async fn google_source(fake: &FakeGar, image: &str) -> (GoogleSource, ImagesConfig) {
    let config = google_config(fake.url(), image);
    let source = GoogleSource::new(&config, RegistryLimits::default())
        .await
        .unwrap();
    (source, options(SourceConfig::Google(config)))
}

/// A Docker source configuration whose API is at `api_url` (`http://127.0.0.1:PORT`).
pub fn docker_config(api_url: &str) -> DockerSourceConfig {
    DockerSourceConfig {
        registry: DOCKER_REGISTRY.into(),
        repository: DOCKER_REPOSITORY.into(),
        api_url: Some(api_url.into()),
        auth_realms: Vec::new(),
    }
}

pub fn snapshot_config(path: impl Into<PathBuf>) -> SnapshotSourceConfig {
    SnapshotSourceConfig {
        path: path.into(),
        registry: GAR_REGISTRY.into(),
        repository: GAR_PATH.into(),
    }
}

/// The `images` section with the original's defaults (1 release, 2 weeklies, 3 dailies).
pub fn options(source: SourceConfig) -> ImagesConfig {
    ImagesConfig {
        source,
        refresh_interval: std::time::Duration::from_secs(300),
        prepull_timeout: std::time::Duration::from_secs(600),
        recommended_tag: "recommended".into(),
        num_releases: 1,
        num_weeklies: 2,
        num_dailies: 3,
        cycle: None,
        pin: Vec::new(),
        alias_tags: Vec::new(),
        docker_credentials_path: None,
        registry_limits: RegistryLimits::default(),
    }
}

pub fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|name| (*name).to_owned()).collect()
}

/// Tag names of a catalog in collection order, arch-specific ones included.
pub fn names(catalog: &ImageCatalog) -> Vec<String> {
    catalog
        .all_images(Hidden::NOTHING)
        .into_iter()
        .map(|image| image.name().to_owned())
        .collect()
}

/// Everything a listing says about one image, in a form that compares and prints well.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: TagKind,
    pub display_name: String,
    pub digest: String,
    pub size: Option<u64>,
    pub aliases: Vec<String>,
    pub alias_target: Option<String>,
}

pub fn entry(image: &Image) -> Entry {
    let mut aliases: Vec<String> = image.aliases().map(str::to_owned).collect();
    aliases.sort();
    Entry {
        name: image.name().to_owned(),
        kind: image.kind(),
        display_name: image.display_name().to_owned(),
        digest: image.digest().to_owned(),
        size: image.size(),
        aliases,
        alias_target: image.alias_target().map(str::to_owned),
    }
}

/// The whole listing: every catalog entry in order, the prepull names, every tag name.
pub fn summary(listing: &Listing) -> (Vec<Entry>, Vec<String>, Option<Vec<String>>) {
    let entries = listing
        .catalog
        .all_images(Hidden::NOTHING)
        .into_iter()
        .map(entry)
        .collect();
    let tags = listing.tags.as_ref().map(|tags| {
        tags.all_tags(ArchSpecific::Keep)
            .map(|t| t.tag().to_owned())
            .collect()
    });
    (entries, names(&listing.to_prepull), tags)
}

/// The catalog entry of a tag, which must exist.
pub fn get(catalog: &ImageCatalog, name: &str) -> Entry {
    entry(
        catalog
            .get(name)
            .unwrap_or_else(|| panic!("{name} is not in {:?}", names(catalog))),
    )
}
