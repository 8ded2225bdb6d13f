//! The images of the lab's init containers (`lab.initContainers[].image`): every lab spawn
//! pulls them besides the lab image, so a node that caches the lab image but not these still
//! makes the user wait. They are prepulled like the lab images (same cap, same eligibility),
//! but never appear in the spawner's answers (`/prepulls` keeps the original's contract).
//!
//! Their registries (ghcr.io, Docker Hub) may be out of reach, so an init image is first known
//! by its name alone and prepulled by tag. A node has such an image when kubelet lists that
//! name among the node's `status.images[].names`; names are compared in the form kubelet
//! reports them, normalised by containerd (`ParseNormalizedNamed` in
//! `github.com/distribution/reference`: `busybox:1.36` is `docker.io/library/busybox:1.36`).
//! Once its digest is known (the service asks the registry in the background), the image is
//! judged by digest like any other.

use crate::plan::PrepullImage;
use crate::platform::Platforms;

/// Docker Hub's name in normalised references.
pub const DOCKER_HUB: &str = "docker.io";

/// A repository's registry host, if it names one, and the rest: containerd's rule
/// (`splitDockerDomain`): the first of several components is a host when it holds a `.` or a
/// `:`, is `localhost`, or is not lowercase; otherwise the whole is a Docker Hub path.
pub fn split_host(repository: &str) -> (Option<&str>, &str) {
    match repository.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first.to_lowercase() != first =>
        {
            (Some(first), rest)
        }
        _ => (None, repository),
    }
}

/// One init container image: `repository:tag`, and its digest once a registry told it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InitImage {
    /// As configured (`ghcr.io/lsst-sqre/nublado`, `busybox`).
    pub repository: String,
    pub tag: String,
    /// `sha256:…`, when the registry answered.
    pub digest: Option<String>,
}

impl InitImage {
    /// An image whose digest is not known yet.
    pub fn new(repository: impl Into<String>, tag: impl Into<String>) -> InitImage {
        InitImage {
            repository: repository.into(),
            tag: tag.into(),
            digest: None,
        }
    }

    /// `repository:tag` as configured: what the lab's pod names, and the image's label on the
    /// status pages and in metrics.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.repository, self.tag)
    }

    /// The registry host and the repository path within it, normalised as containerd does: a
    /// first component that looks like no host (no `.` or `:`, not `localhost`, lowercase)
    /// belongs to Docker Hub's path, and a one-component Docker Hub path is in `library/`.
    pub fn registry_and_path(&self) -> (&str, String) {
        let (host, path) = split_host(&self.repository);
        let domain = host.unwrap_or(DOCKER_HUB);
        let domain = if domain == "index.docker.io" {
            DOCKER_HUB
        } else {
            domain
        };
        let path = if domain == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path.to_owned()
        };
        (domain, path)
    }

    /// The name kubelet lists for the image when a node has it by this tag:
    /// `domain/path:tag`.
    pub fn kubelet_name(&self) -> String {
        let (domain, path) = self.registry_and_path();
        format!("{domain}/{path}:{}", self.tag)
    }

    /// The image as the prepuller, the plan and the status pages take it: by digest when
    /// known, else by name (see [`PrepullImage::known_by_name`]). Its tag is the configured
    /// reference, which no lab tag can be (tags hold no `/` or `:`).
    pub fn prepull_image(&self) -> PrepullImage {
        let reference = self.reference();
        let (reference_with_digest, digest) = match &self.digest {
            Some(digest) => (format!("{reference}@{digest}"), digest.clone()),
            None => (reference.clone(), self.kubelet_name()),
        };
        PrepullImage {
            tag: reference,
            reference_with_digest,
            digest,
            platforms: Platforms::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Normalisation as `github.com/distribution/reference`'s `ParseNormalizedNamed` tests
    /// spell it out (`normalize_test.go`).
    #[test]
    fn names_are_normalised_as_containerd_lists_them() {
        let cases = [
            ("busybox", "docker.io/library/busybox:1"),
            ("lsstsqre/setup", "docker.io/lsstsqre/setup:1"),
            ("docker.io/busybox", "docker.io/library/busybox:1"),
            ("index.docker.io/busybox", "docker.io/library/busybox:1"),
            ("ghcr.io/lsst-sqre/nublado", "ghcr.io/lsst-sqre/nublado:1"),
            ("localhost/setup", "localhost/setup:1"),
            ("registry:5000/setup", "registry:5000/setup:1"),
            ("Upper/setup", "Upper/setup:1"),
        ];
        for (repository, name) in cases {
            assert_eq!(InitImage::new(repository, "1").kubelet_name(), name);
        }
    }

    #[test]
    fn an_image_is_prepulled_by_tag_until_its_digest_is_known() {
        let mut image = InitImage::new("example/setup", "0.0.1");
        let by_name = image.prepull_image();
        assert_eq!(by_name.tag, "example/setup:0.0.1");
        assert_eq!(by_name.reference_with_digest, "example/setup:0.0.1");
        assert_eq!(by_name.digest, "docker.io/example/setup:0.0.1");
        assert!(by_name.known_by_name());
        image.digest = Some("sha256:abc".into());
        let by_digest = image.prepull_image();
        assert_eq!(
            by_digest.reference_with_digest,
            "example/setup:0.0.1@sha256:abc"
        );
        assert_eq!(by_digest.digest, "sha256:abc");
        assert!(!by_digest.known_by_name());
    }
}
