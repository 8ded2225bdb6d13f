//! Small builders of model values that many tests need, so that each test file does not
//! define its own (and so that they cannot drift apart: a digest is always well formed, a
//! prepull image's reference always ends in its own tag and digest).

use rsp_model::node::{CachedImage, NodeInfo};
use rsp_model::plan::PrepullImage;
use rsp_model::platform::Platforms;

/// The repository of the original's tests (`registry/path`): the images most tests prepull.
pub const REPOSITORY: &str = "lighthouse.ceres/library/sketchbook";

/// The lab node selector label of the original's tests (`lab.nodeSelector`).
pub const LAB_LABEL: (&str, &str) = ("some-label", "some-value");

/// A well-formed digest made from a number of any integer type, `sha256:00…0n` (64 hex
/// digits).
pub fn digest(n: impl std::fmt::LowerHex) -> String {
    format!("sha256:{n:064x}")
}

/// A prepull image of `repository` (`registry/path`), named by tag and digest as the plan
/// names it, with platforms the registry did not tell (it may go onto any node).
pub fn prepull_image(repository: &str, tag: &str, digest: &str) -> PrepullImage {
    PrepullImage {
        tag: tag.into(),
        reference_with_digest: format!("{repository}:{tag}@{digest}"),
        digest: digest.into(),
        platforms: Platforms::Unknown,
    }
}

/// A prepull image of [`REPOSITORY`].
pub fn image(tag: &str, digest: &str) -> PrepullImage {
    prepull_image(REPOSITORY, tag, digest)
}

/// The reference kubelet reports for a digest of [`REPOSITORY`] (`repository@digest`).
pub fn cached(digest: &str) -> String {
    format!("{REPOSITORY}@{digest}")
}

/// A Ready, schedulable node as the model sees it, carrying [`LAB_LABEL`] and caching the
/// given digests of [`REPOSITORY`] (one byte each).
pub fn node_info(name: &str, digests: &[&str]) -> NodeInfo {
    NodeInfo {
        name: name.into(),
        labels: [(LAB_LABEL.0.to_owned(), LAB_LABEL.1.to_owned())].into(),
        images: digests
            .iter()
            .map(|digest| CachedImage {
                references: vec![cached(digest).into()],
                size: Some(1),
            })
            .collect(),
        ..NodeInfo::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_well_formed_and_distinct() {
        let one = digest(1_u32);
        assert_eq!(one.len(), "sha256:".len() + 64);
        assert!(one.ends_with("01") && one.starts_with("sha256:0"));
        assert_ne!(digest(1_u8), digest(16_usize));
        assert!(rsp_model::reference::DockerReference::parse(&format!("r.io/a/b@{one}")).is_ok());
    }

    #[test]
    fn a_prepull_image_names_its_own_tag_and_digest() {
        let image = prepull_image("r.io/a/b", "w_2077_43", &digest(2_u64));
        assert_eq!(
            image.reference_with_digest,
            format!("r.io/a/b:w_2077_43@{}", digest(2_u64))
        );
        assert_eq!(image.tag, "w_2077_43");
    }

    #[test]
    fn a_lab_node_caches_its_digests_where_the_images_come_from() {
        let node = node_info("node1", &["sha256:a"]);
        assert_eq!(node.images[0].digest(), Some("sha256:a"));
        assert_eq!(
            node.labels.get(LAB_LABEL.0).map(String::as_str),
            Some(LAB_LABEL.1)
        );
        assert!(node.eligibility(&[]).is_eligible());
        assert_eq!(image("t", "sha256:a").digest, "sha256:a");
    }
}
