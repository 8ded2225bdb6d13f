//! Snapshots: a registry listing saved to a file by `rsp-images snapshot`, and the source that
//! serves one without any registry (the embedded demo, air-gapped tests).
//!
//! The file has the shape of an Artifact Registry `dockerImages.list` response, so a real
//! listing can be saved with `curl` as well, and one format serves both registry kinds. An
//! entry belongs to the configured image when its `uri` is `{registry}/{repository}@{digest}`.

use super::{listing_from_gar, ImageSource};
use crate::gar::wire::{platforms, ImageManifest};
use crate::gar::GarImage;
use crate::RegistryError;
use rsp_config::{ImagesConfig, SnapshotSourceConfig};
use rsp_model::listing::Listing;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The file: `{"dockerImages": [...]}`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotFile<'a> {
    #[serde(default, borrow)]
    docker_images: Vec<SnapshotImage<'a>>,
}

/// One entry. Read, its strings other than the tags borrow from the file's text: at 100k
/// images a snapshot is 60 MB of JSON, and owned copies of every `name` and `uri` (read only
/// to find the digest) were another 45 MB at the service's start-up peak.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotImage<'a> {
    #[serde(default, borrow)]
    name: Cow<'a, str>,
    #[serde(borrow)]
    uri: Cow<'a, str>,
    #[serde(default)]
    tags: Vec<String>,
    /// int64 as a string, as the REST API encodes it.
    #[serde(default, borrow, skip_serializing_if = "Option::is_none")]
    image_size_bytes: Option<Cow<'a, str>>,
    /// The platforms of a multi-arch image, as the API's `imageManifests` lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    image_manifests: Vec<ImageManifest>,
}

/// Serialises a listing of `registry/repository` as a snapshot file.
pub fn write_snapshot(registry: &str, repository: &str, images: &[GarImage]) -> String {
    let file = SnapshotFile {
        docker_images: images
            .iter()
            .map(|image| SnapshotImage {
                name: format!("{repository}@{}", image.digest).into(),
                uri: format!("{registry}/{repository}@{}", image.digest).into(),
                tags: image.tags.clone(),
                image_size_bytes: image.size.map(|size| size.to_string().into()),
                image_manifests: ImageManifest::all(&image.platforms),
            })
            .collect(),
    };
    // Serialising plain strings and vectors cannot fail.
    serde_json::to_string_pretty(&file).unwrap_or_default()
}

pub struct SnapshotSource {
    path: PathBuf,
    registry: String,
    repository: String,
}

impl SnapshotSource {
    /// A relative `path` is taken from the configuration file's directory.
    pub fn new(config: &SnapshotSourceConfig, config_dir: &Path) -> SnapshotSource {
        SnapshotSource {
            path: config_dir.join(&config.path),
            registry: config.registry.clone(),
            repository: config.repository.clone(),
        }
    }

    fn read(&self) -> Result<Vec<GarImage>, RegistryError> {
        let snapshot_error = |detail: String| {
            RegistryError::Config(format!(
                "snapshot {}: {detail} (write one with `rsp-images snapshot`)",
                self.path.display()
            ))
        };
        let text = std::fs::read_to_string(&self.path)
            .map_err(|error| snapshot_error(format!("cannot read it: {error}")))?;
        let file: SnapshotFile = serde_json::from_str(&text)
            .map_err(|error| snapshot_error(format!("not a dockerImages listing: {error}")))?;
        let prefix = format!("{}/{}@", self.registry, self.repository);
        Ok(file
            .docker_images
            .into_iter()
            .filter_map(|image| {
                let digest = image.uri.strip_prefix(&prefix)?.to_owned();
                Some(GarImage {
                    tags: image.tags,
                    digest,
                    size: image.image_size_bytes.and_then(|size| size.parse().ok()),
                    platforms: platforms(image.image_manifests),
                    artifact_type: None,
                })
            })
            .collect())
    }
}

impl ImageSource for SnapshotSource {
    async fn update_images(&self, options: &ImagesConfig) -> Result<Listing, RegistryError> {
        Ok(listing_from_gar(
            &self.registry,
            &self.repository,
            self.read()?,
            &options.listing_rules(),
        ))
    }

    fn registry_and_repository(&self) -> (&str, &str) {
        (&self.registry, &self.repository)
    }

    fn describe(&self) -> String {
        format!(
            "{}/{} (snapshot {})",
            self.registry,
            self.repository,
            self.path.display()
        )
    }
}

/// Docker registries give (tag, digest) pairs; a snapshot lists each digest once with its tags.
pub(super) fn group_by_digest(pairs: Vec<(String, String)>) -> Vec<GarImage> {
    let mut by_digest: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (tag, digest) in pairs {
        by_digest.entry(digest).or_default().push(tag);
    }
    by_digest
        .into_iter()
        .map(|(digest, mut tags)| {
            tags.sort();
            GarImage {
                tags,
                digest,
                ..GarImage::default()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Docker registry's (tag, digest) pairs become one image per digest, tags sorted, so a
    /// snapshot of a Docker registry reads back with its aliases found by shared digests.
    #[test]
    fn pairs_are_grouped_by_digest() {
        let pairs = [
            ("w_2077_43", "sha256:b"),
            ("recommended", "sha256:b"),
            ("d_2077_10_23", "sha256:a"),
        ]
        .map(|(tag, digest)| (tag.to_owned(), digest.to_owned()));
        let images = group_by_digest(pairs.to_vec());
        let grouped: Vec<(&str, Vec<&str>)> = images
            .iter()
            .map(|image| {
                let tags = image.tags.iter().map(String::as_str).collect();
                (image.digest.as_str(), tags)
            })
            .collect();
        assert_eq!(
            grouped,
            [
                ("sha256:a", vec!["d_2077_10_23"]),
                ("sha256:b", vec!["recommended", "w_2077_43"]),
            ]
        );
    }
}
