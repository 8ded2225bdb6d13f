//! The REST JSON of `dockerImages.list` and the choice of which entries belong to the
//! configured image.
//!
//! The REST mapping is camelCase and encodes int64 `imageSizeBytes` as a string (a number is
//! accepted too). An entry's image path is taken from `name` (the part after
//! `/dockerImages/`, percent-decoded, before `@`) or from `uri` (the path after
//! `{host}/{project}/{repository}/`, before `@`). The original compared only the last segment
//! of `uri`, so nested images (`team/app`) never matched and `other/app` was mistaken for
//! `app` (behaviour.md §12 item 19); here the whole path must equal the configured image.

use rsp_model::platform::{Platform, Platforms};
use serde::{Deserialize, Serialize};

use super::{GarImage, GarImageRef};

/// One page of the listing, reduced to the configured image's entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub images: Vec<GarImage>,
    /// Entries the page held, other images of the repository included.
    pub entries: usize,
    /// Absent or empty on the last page.
    pub next_page_token: Option<String>,
}

/// Reads one `dockerImages.list` response body: the entries of the configured image, and the
/// token of the next page. Any body is an answer or an error that says why it is not a page;
/// entries of other images, or without a digest, are left out.
pub fn parse_page(body: &[u8], matcher: &ImageMatcher<'_>) -> Result<Page, String> {
    let page: ListPage =
        serde_json::from_slice(body).map_err(|e| format!("not a dockerImages list page: {e}"))?;
    Ok(Page {
        entries: page.docker_images.len(),
        images: page
            .docker_images
            .into_iter()
            .filter_map(|entry| entry.for_image(matcher))
            .collect(),
        next_page_token: page.next_page_token.filter(|token| !token.is_empty()),
    })
}

/// One page of the listing, as sent.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListPage {
    #[serde(default)]
    pub docker_images: Vec<DockerImage>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DockerImage {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub uri: String,
    // `null` and absent both mean untagged.
    #[serde(default)]
    pub tags: Option<Vec<String>>,
    #[serde(default)]
    pub image_size_bytes: Option<serde_json::Value>,
    #[serde(default)]
    pub artifact_type: Option<String>,
    /// For multi-arch images, the child manifests (`ImageManifest`).
    #[serde(default)]
    pub image_manifests: Option<Vec<ImageManifest>>,
}

/// One child manifest of a multi-arch image, the fields platforms are made of (snapshots
/// write the same shape).
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageManifest {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub variant: String,
}

impl ImageManifest {
    /// One manifest per known platform.
    pub fn all(platforms: &Platforms) -> Vec<ImageManifest> {
        platforms
            .as_slice()
            .unwrap_or_default()
            .iter()
            .map(|platform| ImageManifest {
                architecture: platform.architecture.to_string(),
                os: platform.os.to_string(),
                variant: platform.variant.as_deref().unwrap_or_default().to_owned(),
            })
            .collect()
    }
}

/// Decides which entries of a listing are the configured image. Built once per listing: the
/// URI prefixes are the same for every entry, and a listing can hold tens of thousands.
pub struct ImageMatcher<'a> {
    image: &'a str,
    /// `{project}/{repository}/`, and the form domain-scoped projects (`example.com:p`) take
    /// in URIs (`example.com/p/{repository}/`).
    uri_prefixes: [String; 2],
}

impl<'a> ImageMatcher<'a> {
    pub fn new(what: &'a GarImageRef) -> ImageMatcher<'a> {
        ImageMatcher {
            image: &what.image,
            uri_prefixes: [
                format!("{}/{}/", what.project_id, what.repository),
                format!(
                    "{}/{}/",
                    what.project_id.replacen(':', "/", 1),
                    what.repository
                ),
            ],
        }
    }

    /// The digest of `entry` if it is the configured image.
    fn digest_of<'e>(&self, entry: &'e DockerImage) -> Option<&'e str> {
        self.digest_in_name(&entry.name)
            .or_else(|| self.digest_in_uri(&entry.uri))
            .filter(|digest| !digest.is_empty())
    }

    /// `projects/p/locations/l/repositories/r/dockerImages/team%2Fapp@sha256:…`.
    fn digest_in_name<'e>(&self, name: &'e str) -> Option<&'e str> {
        let (_, image) = name.split_once("/dockerImages/")?;
        let (path, digest) = image.split_once('@')?;
        let matches = if path.contains('%') {
            percent_decode(path) == self.image
        } else {
            path == self.image
        };
        matches.then_some(digest)
    }

    /// `us-central1-docker.pkg.dev/p/r/team/app@sha256:…`.
    fn digest_in_uri<'e>(&self, uri: &'e str) -> Option<&'e str> {
        let without_scheme = uri.split_once("://").map_or(uri, |(_, rest)| rest);
        let (_host, path) = without_scheme.split_once('/')?;
        let rest = self
            .uri_prefixes
            .iter()
            .find_map(|prefix| path.strip_prefix(prefix.as_str()))?;
        let (image, digest) = rest.split_once('@')?;
        (image == self.image).then_some(digest)
    }
}

impl DockerImage {
    /// This entry as an image of the matcher's, or `None` if it is another image of the
    /// repository (or carries no digest).
    fn for_image(self, matcher: &ImageMatcher<'_>) -> Option<GarImage> {
        let digest = matcher.digest_of(&self)?.to_owned();
        let size = match &self.image_size_bytes {
            Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            _ => None,
        };
        Some(GarImage {
            tags: self.tags.unwrap_or_default(),
            digest,
            size,
            platforms: platforms(self.image_manifests.unwrap_or_default()),
            artifact_type: self.artifact_type.filter(|t| !t.is_empty()),
        })
    }
}

/// The platforms of `imageManifests`; children without an architecture (and attestation
/// manifests, which BuildKit lists with `unknown/unknown`) say nothing and are left out.
pub fn platforms(manifests: Vec<ImageManifest>) -> Platforms {
    Platforms::known(manifests.into_iter().filter_map(|manifest| {
        let known = |text: &str| !text.is_empty() && text != "unknown";
        if !known(&manifest.architecture) || !known(&manifest.os) {
            return None;
        }
        Some(Platform {
            os: manifest.os.into(),
            architecture: manifest.architecture.into(),
            variant: Some(manifest.variant)
                .filter(|v| !v.is_empty())
                .map(Into::into),
        })
    }))
}

/// Decodes `%XX` escapes; anything malformed is kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn what(image: &str) -> GarImageRef {
        GarImageRef {
            location: "us-central1".into(),
            project_id: "proj".into(),
            repository: "repo".into(),
            image: image.into(),
        }
    }

    fn entry(name_image: &str, uri_image: &str) -> DockerImage {
        DockerImage {
            name: format!("projects/proj/locations/us-central1/repositories/repo/dockerImages/{name_image}@sha256:aa"),
            uri: format!("us-central1-docker.pkg.dev/proj/repo/{uri_image}@sha256:aa"),
            tags: Some(vec!["t".into()]),
            image_size_bytes: Some(serde_json::json!("123")),
            artifact_type: None,
            image_manifests: None,
        }
    }

    #[test]
    fn matches_the_whole_image_path() {
        let nested = entry("team%2Fapp", "team/app");
        assert_eq!(
            nested
                .for_image(&ImageMatcher::new(&what("team/app")))
                .unwrap()
                .digest,
            "sha256:aa"
        );
        assert!(entry("team%2Fapp", "team/app")
            .for_image(&ImageMatcher::new(&what("app")))
            .is_none());
        assert!(entry("app", "app")
            .for_image(&ImageMatcher::new(&what("team/app")))
            .is_none());
        let plain = entry("sciplat-lab", "sciplat-lab")
            .for_image(&ImageMatcher::new(&what("sciplat-lab")))
            .unwrap();
        assert_eq!(plain.size, Some(123));
        assert_eq!(plain.tags, vec!["t"]);
    }

    #[test]
    fn either_name_or_uri_is_enough() {
        let mut only_uri = entry("x", "team/app");
        only_uri.name.clear();
        assert!(only_uri
            .for_image(&ImageMatcher::new(&what("team/app")))
            .is_some());
        let mut only_name = entry("team%2fapp", "y");
        only_name.uri.clear();
        assert!(only_name
            .for_image(&ImageMatcher::new(&what("team/app")))
            .is_some());
    }

    #[test]
    fn sizes_and_tags_are_lenient() {
        let mut e = entry("a", "a");
        e.image_size_bytes = Some(serde_json::json!(42));
        e.tags = None;
        let image = e.for_image(&ImageMatcher::new(&what("a"))).unwrap();
        assert_eq!(image.size, Some(42));
        assert!(image.tags.is_empty());
        let mut bad = entry("a", "a");
        bad.image_size_bytes = Some(serde_json::json!("lots"));
        assert_eq!(
            bad.for_image(&ImageMatcher::new(&what("a"))).unwrap().size,
            None
        );
    }

    /// A page as the discovery document's `ListDockerImagesResponse` schema writes it: every
    /// field with its JSON type (int64 as a string, timestamps as RFC 3339 with nanoseconds).
    #[test]
    fn reads_a_page_written_as_the_schema_says() {
        let body = br#"{
          "dockerImages": [{
            "name": "projects/proj/locations/us-central1/repositories/repo/dockerImages/sciplat-lab@sha256:aa",
            "uri": "us-central1-docker.pkg.dev/proj/repo/sciplat-lab@sha256:aa",
            "tags": ["w_2077_43", "recommended"],
            "imageSizeBytes": "1234567890123",
            "uploadTime": "2026-11-01T12:00:00.123456789Z",
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "buildTime": "2026-11-01T11:59:00.5Z",
            "updateTime": "2026-11-01T12:00:00.123456789Z",
            "artifactType": "application/vnd.oci.image.config.v1+json",
            "imageManifests": [
              {"architecture": "amd64", "os": "linux", "digest": "sha256:b1",
               "mediaType": "application/vnd.oci.image.manifest.v1+json"},
              {"architecture": "arm64", "os": "linux", "variant": "v8", "digest": "sha256:b2",
               "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "osVersion": "", "osFeatures": []}
            ]
          }],
          "nextPageToken": "+/+/cGFnZS0x="
        }"#;
        let page = parse_page(body, &ImageMatcher::new(&what("sciplat-lab"))).unwrap();
        assert_eq!(page.next_page_token.as_deref(), Some("+/+/cGFnZS0x="));
        assert_eq!(page.entries, 1);
        let image = &page.images[0];
        assert_eq!(image.tags, ["w_2077_43", "recommended"]);
        assert_eq!(image.size, Some(1_234_567_890_123));
        assert_eq!(image.digest, "sha256:aa");
        let mut arm = Platform::new("linux", "arm64");
        arm.variant = Some("v8".into());
        assert_eq!(
            image.platforms,
            Platforms::known([Platform::new("linux", "amd64"), arm])
        );
        // An empty repository is `{}`.
        let empty = parse_page(b"{}", &ImageMatcher::new(&what("sciplat-lab"))).unwrap();
        assert!(empty.images.is_empty() && empty.next_page_token.is_none());
    }

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("a%2Fb%2f"), "a/b/");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
