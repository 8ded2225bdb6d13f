//! The REST JSON of `dockerImages.list` and the choice of which entries belong to the
//! configured image.
//!
//! The REST mapping is camelCase and encodes int64 `imageSizeBytes` as a string (a number is
//! accepted too). An entry's image path is taken from `name` (the part after
//! `/dockerImages/`, percent-decoded, before `@`) or from `uri` (the path after
//! `{host}/{project}/{repository}/`, before `@`). The original compared only the last segment
//! of `uri`, so nested images (`team/app`) never matched and `other/app` was mistaken for
//! `app` (behaviour.md §12 item 19); here the whole path must equal the configured image.

use serde::Deserialize;

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
        })
    }
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

    #[test]
    fn percent_decoding_never_panics() {
        assert_eq!(percent_decode("a%2Fb%2f"), "a/b/");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%zz%41"), "%zzA");
    }
}
