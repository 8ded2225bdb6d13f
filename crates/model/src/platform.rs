//! The platforms (operating system and CPU architecture) an image can run on, and whether a
//! node's platform is one of them.
//!
//! Kubelet pulls the manifest that matches its node's platform out of a multi-arch image's
//! index; when none matches, the pull fails with "no match for platform in manifest" and would
//! fail the same way forever. So the prepuller must know, per image, which platforms exist.
//! Registries tell it in different ways (Artifact Registry's `imageManifests` in the listing,
//! a Docker manifest index, or Rubin's `-amd64` / `-arm64` tag suffixes); this module is the
//! one vocabulary they all report in. What is not known stays [`Platforms::Unknown`], and an
//! unknown platform list never makes an image ineligible.

use std::fmt;
use std::sync::Arc;

/// One platform of an image, with the names of the OCI image index (`os`, `architecture`,
/// `variant`), which are also the values of the `kubernetes.io/os` and `kubernetes.io/arch`
/// node labels.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Platform {
    pub os: Box<str>,
    pub architecture: Box<str>,
    /// CPU variant (`v8` for arm64), when the index gives one; nodes do not label it.
    pub variant: Option<Box<str>>,
}

impl Platform {
    pub fn new(os: &str, architecture: &str) -> Platform {
        Platform {
            os: os.into(),
            architecture: architecture.into(),
            variant: None,
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

/// What the registry told about an image's platforms.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Platforms {
    /// The registry did not say (a single manifest without a readable config, or a source that
    /// does not report platforms): the image is assumed to run anywhere.
    #[default]
    Unknown,
    /// The image runs on exactly these platforms (never empty).
    Known(Arc<[Platform]>),
}

/// Whether an image can run on a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlatformSupport {
    Supported,
    /// Certainly not: a pull would fail with "no match for platform", every time.
    Unsupported,
    /// The image's or the node's platform is not known; treated as supported.
    Unknown,
}

impl Platforms {
    /// A known list, or `Unknown` when the list is empty (an index without platforms says
    /// nothing).
    pub fn known(platforms: impl IntoIterator<Item = Platform>) -> Platforms {
        let mut list: Vec<Platform> = platforms.into_iter().collect();
        if list.is_empty() {
            return Platforms::Unknown;
        }
        list.sort();
        list.dedup();
        Platforms::Known(list.into())
    }

    pub fn as_slice(&self) -> Option<&[Platform]> {
        match self {
            Platforms::Unknown => None,
            Platforms::Known(list) => Some(list),
        }
    }

    /// Whether a node labelled `kubernetes.io/os: os` and `kubernetes.io/arch: arch` can run
    /// the image. A missing label, or an unknown platform list, is `Unknown`.
    pub fn support(&self, os: Option<&str>, arch: Option<&str>) -> PlatformSupport {
        let (Platforms::Known(list), Some(arch)) = (self, arch) else {
            return PlatformSupport::Unknown;
        };
        // An image index may list os "unknown" for attestation manifests (BuildKit); those are
        // not platforms anything runs on and are never matched.
        let fits = list.iter().any(|platform| {
            &*platform.architecture == arch && os.is_none_or(|os| &*platform.os == os)
        });
        if fits {
            PlatformSupport::Supported
        } else {
            PlatformSupport::Unsupported
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_platforms_never_exclude() {
        assert_eq!(
            Platforms::Unknown.support(Some("linux"), Some("arm64")),
            PlatformSupport::Unknown
        );
        assert_eq!(Platforms::known([]), Platforms::Unknown);
    }

    #[test]
    fn known_platforms_match_os_and_architecture() {
        let platforms = Platforms::known([
            Platform::new("linux", "amd64"),
            Platform::new("unknown", "unknown"),
        ]);
        assert_eq!(
            platforms.support(Some("linux"), Some("amd64")),
            PlatformSupport::Supported
        );
        assert_eq!(
            platforms.support(Some("linux"), Some("arm64")),
            PlatformSupport::Unsupported
        );
        assert_eq!(
            platforms.support(Some("windows"), Some("amd64")),
            PlatformSupport::Unsupported
        );
        // A node without an os label is matched on its architecture alone.
        assert_eq!(
            platforms.support(None, Some("amd64")),
            PlatformSupport::Supported
        );
        // A node without an arch label keeps today's behaviour.
        assert_eq!(
            platforms.support(Some("linux"), None),
            PlatformSupport::Unknown
        );
    }

    #[test]
    fn display_is_the_oci_triple() {
        let mut platform = Platform::new("linux", "arm64");
        assert_eq!(platform.to_string(), "linux/arm64");
        platform.variant = Some("v8".into());
        assert_eq!(platform.to_string(), "linux/arm64/v8");
    }
}
