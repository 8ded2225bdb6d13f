//! The platforms of an image from its manifest: an OCI image index
//! (`application/vnd.oci.image.index.v1+json`) or a Docker manifest list
//! (`application/vnd.docker.distribution.manifest.list.v2+json`) names each child manifest's
//! `platform` (`os`, `architecture`, `variant`). A single manifest does not say (its platform
//! is in the config blob, one more request per image, not worth it), and neither does a body
//! that cannot be read: both are [`Platforms::Unknown`], which never makes an image
//! ineligible. Children with an `unknown` os or architecture (BuildKit's attestation
//! manifests) are left out.

use rsp_model::platform::{Platform, Platforms};
use serde::Deserialize;

/// The media types of multi-platform manifests.
pub const INDEX_MEDIA_TYPES: [&str; 2] = [
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Index {
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Child>>,
}

#[derive(Deserialize)]
struct Child {
    #[serde(default)]
    platform: Option<ChildPlatform>,
}

#[derive(Deserialize)]
struct ChildPlatform {
    #[serde(default)]
    os: String,
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    variant: Option<String>,
}

/// The platforms a manifest body lists; `content_type` is the response's `Content-Type`,
/// used when the body does not name its media type (older Docker manifest lists).
pub fn platforms_of(body: &[u8], content_type: Option<&str>) -> Platforms {
    let Ok(index) = serde_json::from_slice::<Index>(body) else {
        return Platforms::Unknown;
    };
    let media_type = index
        .media_type
        .as_deref()
        .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()));
    if !media_type.is_some_and(|m| INDEX_MEDIA_TYPES.contains(&m)) {
        return Platforms::Unknown;
    }
    let known = |text: &str| !text.is_empty() && text != "unknown";
    Platforms::known(
        index
            .manifests
            .unwrap_or_default()
            .into_iter()
            .filter_map(|child| child.platform)
            .filter(|p| known(&p.os) && known(&p.architecture))
            .map(|p| Platform {
                os: p.os.into(),
                architecture: p.architecture.into(),
                variant: p.variant.filter(|v| !v.is_empty()).map(Into::into),
            }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn indexes_list_their_platforms() {
        let index = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",
          "manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:a","size":1,
             "platform":{"architecture":"amd64","os":"linux"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:b","size":1,
             "platform":{"architecture":"arm64","os":"linux","variant":"v8"}},
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:c","size":1,
             "platform":{"architecture":"unknown","os":"unknown"}}]}"#;
        let mut arm = Platform::new("linux", "arm64");
        arm.variant = Some("v8".into());
        assert_eq!(
            platforms_of(index, None),
            Platforms::known([Platform::new("linux", "amd64"), arm])
        );
        // A Docker manifest list that names its type only in Content-Type.
        let list = br#"{"schemaVersion":2,"manifests":[{"platform":{"architecture":"amd64","os":"linux"}}]}"#;
        assert_eq!(
            platforms_of(
                list,
                Some("application/vnd.docker.distribution.manifest.list.v2+json")
            ),
            Platforms::known([Platform::new("linux", "amd64")])
        );
    }

    #[test]
    fn anything_else_is_unknown() {
        let single = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{}}"#;
        assert_eq!(platforms_of(single, None), Platforms::Unknown);
        assert_eq!(platforms_of(b"{", None), Platforms::Unknown);
        let empty = br#"{"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert_eq!(platforms_of(empty, None), Platforms::Unknown);
    }

    proptest! {
        #[test]
        fn any_body_is_read_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = platforms_of(&body, Some("application/vnd.oci.image.index.v1+json"));
        }
    }
}
