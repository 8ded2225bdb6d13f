//! The images a fake repository holds, in the API's JSON shape (the `DockerImage` and
//! `ImageManifest` schemas of the REST reference): camelCase names, int64 as a string,
//! RFC 3339 timestamps with nanoseconds (as the API writes `google.protobuf.Timestamp`).

use serde::{Deserialize, Serialize};

/// A `DockerImage` resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerImage {
    pub name: String,
    pub uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub image_size_bytes: String,
    pub upload_time: String,
    pub media_type: String,
    pub build_time: String,
    pub update_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// For multi-arch images (manifest lists and OCI indexes), the child manifests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_manifests: Vec<ImageManifest>,
}

/// An `ImageManifest`: one child of a multi-arch image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    pub architecture: String,
    pub os: String,
    pub digest: String,
    pub media_type: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub os_version: String,
}

impl ImageManifest {
    /// A child manifest for `os/architecture[/variant]`.
    pub fn new(platform: &str, digest: &str) -> ImageManifest {
        let mut parts = platform.split('/');
        ImageManifest {
            os: parts.next().unwrap_or_default().to_owned(),
            architecture: parts.next().unwrap_or_default().to_owned(),
            variant: parts.next().unwrap_or_default().to_owned(),
            digest: digest.to_owned(),
            media_type: OCI_MANIFEST.to_owned(),
            os_version: String::new(),
        }
    }
}

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// When every image of the fake was uploaded, with the nanoseconds the API gives.
const TIME: &str = "2026-11-01T12:00:00.123456789Z";

/// Where images live in the fake: one Artifact Registry repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GarRepository {
    pub location: String,
    pub project: String,
    pub repository: String,
}

impl GarRepository {
    pub fn new(location: &str, project: &str, repository: &str) -> Self {
        Self {
            location: location.to_owned(),
            project: project.to_owned(),
            repository: repository.to_owned(),
        }
    }

    pub(super) fn parent(&self) -> String {
        format!(
            "projects/{}/locations/{}/repositories/{}",
            self.project, self.location, self.repository
        )
    }

    /// A single-manifest DockerImage of `image` (possibly nested, `team/app`) as the real API
    /// names it: `name` with the image path percent-encoded, `uri` with it plain and with a
    /// domain-scoped project (`example.com:proj`) written `example.com/proj`.
    pub fn image(&self, image: &str, digest: &str, tags: &[&str], size: u64) -> DockerImage {
        DockerImage {
            name: format!(
                "{}/dockerImages/{}@{digest}",
                self.parent(),
                image.replace('/', "%2F")
            ),
            uri: format!(
                "{}-docker.pkg.dev/{}/{}/{image}@{digest}",
                self.location,
                self.project.replacen(':', "/", 1),
                self.repository
            ),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            image_size_bytes: size.to_string(),
            upload_time: TIME.to_owned(),
            media_type: DOCKER_MANIFEST.to_owned(),
            build_time: TIME.to_owned(),
            update_time: TIME.to_owned(),
            artifact_type: None,
            image_manifests: Vec::new(),
        }
    }

    /// A multi-arch image (an OCI index) for these platforms (`linux/amd64`,
    /// `linux/arm64/v8`), with one child manifest each.
    pub fn multi_arch(
        &self,
        image: &str,
        digest: &str,
        tags: &[&str],
        size: u64,
        platforms: &[&str],
    ) -> DockerImage {
        let mut listed = self.image(image, digest, tags, size);
        listed.media_type = OCI_INDEX.to_owned();
        listed.image_manifests = platforms
            .iter()
            .enumerate()
            .map(|(i, platform)| {
                ImageManifest::new(platform, &format!("sha256:{:064x}", 0xc0ffee + i))
            })
            .collect();
        listed
    }
}

/// `n` images of `image` with distinct digests and realistic tags: releases, weeklies,
/// dailies and experimentals in turn, each tag unique.
pub fn generate_images(repo: &GarRepository, image: &str, n: usize) -> Vec<DockerImage> {
    (0..n)
        .map(|i| {
            let k = i / 4;
            let tag = match i % 4 {
                0 => format!("r{}_{}_0", 20 + k / 100, k % 100),
                1 => format!("w_{}_{:02}", 2000 + k / 52, k % 52 + 1),
                2 => format!(
                    "d_{}_{:02}_{:02}",
                    2000 + k / 336,
                    (k / 28) % 12 + 1,
                    k % 28 + 1
                ),
                _ => format!("exp_generated_{k}"),
            };
            let digest = format!("sha256:{i:064x}");
            repo.image(image, &digest, &[&tag], 1_000_000 + i as u64)
        })
        .collect()
}
