//! What one refresh of a registry knows: the [`Listing`], built purely from what the registry
//! answered and the configuration's prepull rules.
//!
//! A listing is immutable and answers every question until the next refresh: which images
//! exist (with digests), which tags exist (a Docker registry gives digests only tag by tag, so
//! outside the prepull set it only knows tags), and which images to prepull. Keeping it
//! immutable is what lets a failed refresh leave the last good one in place, and lets readers
//! never see a half-built state. The registry clients fetch; everything here is a function of
//! their answers, so it is tested without a registry.

use crate::api::{ImageClass, ResolvedImage};
use crate::catalog::Hidden;
use crate::catalog::{ImageCatalog, ListedImage};
use crate::collection::ArchSpecific;
use crate::collection::{SubsetSpec, TagCollection};
use crate::plan::PrepullImage;
use crate::platform::Platforms;
use crate::TagKind;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// The configuration's rules for building a listing (decisions §3 `images`).
#[derive(Debug, Clone)]
pub struct ListingRules {
    /// The prepull set: the newest releases, weeklies and dailies, plus the recommended tag
    /// and the pins, arch-specific tags removed.
    pub prepull: SubsetSpec,
    /// Only tags of this cycle are listed, when set.
    pub cycle: Option<u32>,
    /// Tags taken as aliases whatever they look like: the recommended tag and `aliasTags`.
    /// Only a Docker listing needs them; a complete listing finds aliases by shared digests.
    pub aliases: HashSet<String>,
}

/// Why an image could not be found or resolved: the one error of every lookup, in the
/// listing, through the registry, and in the HTTP answers (each variant is an error `type` of
/// the spawner API). The message is the API's `msg`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// The reference or tag names no image we know (`unknown_image`, HTTP 400 in the spawner
    /// API).
    #[error("{0}")]
    UnknownImage(String),
    /// The reference is not one we can use (`invalid_docker_reference`, HTTP 422).
    #[error("{0}")]
    InvalidReference(String),
    /// Answering needed the registry, and it failed (`registry_error`): the registry error's
    /// message, which never holds a credential.
    #[error("{0}")]
    Registry(String),
}

impl LookupError {
    /// A bare tag that names no image (behaviour §5.3).
    pub fn tag_not_found(tag: &str) -> LookupError {
        LookupError::UnknownImage(format!("Docker tag \"{tag}\" not found"))
    }
}

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
    /// The images of the lab's init containers, prepulled after the lab images (so that a
    /// registry out of the cluster's reach never holds up a lab image), by digest where
    /// known, else by name (`init_image`); never part of the spawner's answers.
    pub init_images: Arc<[PrepullImage]>,
    /// What the prepuller pulls and the status counts, made once per listing (see
    /// [`Listing::prepull_images`]) and shared by every consumer of it.
    prepull_images: Arc<[PrepullImage]>,
}

impl Listing {
    /// A complete listing (every tag with its digest), as Artifact Registry and snapshots give.
    pub fn complete(
        registry: &str,
        repository: &str,
        images: Vec<ListedImage>,
        rules: &ListingRules,
    ) -> Listing {
        let catalog = ImageCatalog::build(registry, repository, images, rules.cycle);
        let to_prepull = catalog.subset(&rules.prepull);
        Listing {
            prepull_images: lab_prepull_images(&to_prepull).into(),
            catalog,
            tags: None,
            to_prepull,
            sizes_from_nodes: false,
            init_images: Arc::default(),
        }
    }

    /// The listing of a Docker registry, from its tag list (see [`DockerTags`]) and the digests
    /// and platforms fetched for the prepull set. A prepull tag without a digest (deleted
    /// between the two requests) is left out.
    pub fn from_docker(
        registry: &str,
        repository: &str,
        tags: DockerTags,
        digests: &HashMap<String, String>,
        platforms: &HashMap<String, Platforms>,
    ) -> Listing {
        let images = tags
            .to_prepull
            .all_tags(ArchSpecific::Hide)
            .filter_map(|tag| {
                let digest = digests.get(tag.tag())?;
                Some(ListedImage {
                    tag: tag.clone(),
                    digest: digest.clone(),
                    size: None,
                    platforms: platforms.get(digest).cloned().unwrap_or_default(),
                })
            })
            .collect();
        // The tags were cycle-filtered already; the catalog is the prepull set itself.
        let catalog = ImageCatalog::build(registry, repository, images, None);
        Listing {
            prepull_images: lab_prepull_images(&catalog).into(),
            to_prepull: catalog.clone(),
            catalog,
            tags: Some(tags.all),
            sizes_from_nodes: true,
            init_images: Arc::default(),
        }
    }

    /// An empty listing, served before the first refresh succeeds.
    pub fn empty(registry: &str, repository: &str) -> Listing {
        let catalog = ImageCatalog::build(registry, repository, Vec::new(), None);
        Listing {
            prepull_images: Arc::default(),
            to_prepull: catalog.clone(),
            catalog,
            tags: None,
            sizes_from_nodes: false,
            init_images: Arc::default(),
        }
    }

    /// This listing with `images` as its init container images (the lab images to prepull
    /// are kept as they are).
    pub fn with_init_images(self, images: Arc<[PrepullImage]>) -> Listing {
        let lab_images = self.prepull_images.len() - self.init_images.len();
        let prepull_images = self.prepull_images[..lab_images]
            .iter()
            .chain(images.iter())
            .cloned()
            .collect();
        Listing {
            init_images: images,
            prepull_images,
            ..self
        }
    }

    /// The images to prepull, most important first: one per digest (the digest's primary
    /// tag, so pod names read as the image people know), arch-specific ones left out
    /// (behaviour §8.4); then the lab's init container images, which every spawn pulls too.
    /// Made once per listing: the prepuller and every served snapshot of this listing share
    /// them.
    pub fn prepull_images(&self) -> &Arc<[PrepullImage]> {
        &self.prepull_images
    }

    /// Number of tags the registry reported (after cycle filtering).
    pub fn tag_count(&self) -> usize {
        match &self.tags {
            Some(tags) => tags.len(),
            None => self.catalog.len(),
        }
    }

    /// The image a class names. Only prepull images can be chosen by class (behaviour §8.7).
    pub fn image_for_class(
        &self,
        class: ImageClass,
        recommended_tag: &str,
    ) -> Result<ResolvedImage, LookupError> {
        let prepull = &self.to_prepull;
        let image = match class {
            ImageClass::Recommended => prepull.get(recommended_tag),
            ImageClass::LatestRelease => prepull.latest(TagKind::Release),
            ImageClass::LatestWeekly => prepull.latest(TagKind::Weekly),
            ImageClass::LatestDaily => prepull.latest(TagKind::Daily),
        };
        image
            .map(ResolvedImage::from)
            .ok_or_else(|| LookupError::UnknownImage(format!("No {} image found", class.as_str())))
    }
}

/// The lab images to prepull from the prepull view: the primary tag of each digest, without
/// arch-specific tags.
fn lab_prepull_images(to_prepull: &ImageCatalog) -> Vec<PrepullImage> {
    let primaries = to_prepull.subtract(&to_prepull.with_digests(std::iter::empty()));
    primaries
        .all_images(Hidden::ARCH_SPECIFIC)
        .into_iter()
        .map(|image| PrepullImage {
            tag: image.name().to_owned(),
            reference_with_digest: image.reference_with_digest(),
            digest: image.digest().to_owned(),
            platforms: image.platforms(),
        })
        .collect()
}

/// A Docker registry's tag list, read before any digest: the whole collection and the
/// prepull set whose digests the source must fetch.
#[derive(Debug, Clone)]
pub struct DockerTags {
    all: TagCollection,
    to_prepull: TagCollection,
}

impl DockerTags {
    /// The tags of a `tags/list` answer, with the rules' aliases and cycle applied.
    pub fn new<S: AsRef<str>>(names: &[S], rules: &ListingRules) -> DockerTags {
        let all = TagCollection::from_tag_names(names, &rules.aliases, rules.cycle);
        let to_prepull = all.subset(&rules.prepull);
        DockerTags { all, to_prepull }
    }

    /// The tags whose digests (and platforms) the listing needs. Arch-specific tags are hidden
    /// here, as in the original: a pinned `-amd64` tag is listed but never prepulled.
    pub fn wanted(&self) -> impl Iterator<Item = &str> + '_ {
        self.to_prepull
            .all_tags(ArchSpecific::Hide)
            .map(|tag| tag.tag())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> ListingRules {
        ListingRules {
            prepull: SubsetSpec {
                releases: 1,
                weeklies: 2,
                dailies: 1,
                include: vec!["recommended".to_owned()],
                remove_arch_specific: true,
            },
            cycle: None,
            aliases: ["recommended".to_owned()].into(),
        }
    }

    fn digest(n: u8) -> String {
        format!("sha256:{}", format!("{n:02x}").repeat(32))
    }

    /// The Docker listing knows every tag but digests only for the prepull set; a prepull tag
    /// the registry gave no digest for is left out rather than guessed.
    #[test]
    fn docker_listing_holds_every_tag_and_the_prepull_digests() {
        let names = [
            "r23_0_0",
            "w_2077_40",
            "w_2077_41",
            "w_2077_42",
            "d_2077_10_01",
            "recommended",
            "w_2077_42-amd64",
        ];
        let tags = DockerTags::new(&names, &rules());
        let wanted: Vec<&str> = tags.wanted().collect();
        assert!(wanted.contains(&"w_2077_42") && wanted.contains(&"w_2077_41"));
        assert!(
            !wanted.contains(&"w_2077_40"),
            "only two weeklies: {wanted:?}"
        );
        assert!(!wanted.iter().any(|tag| tag.ends_with("-amd64")));
        let digests: HashMap<String, String> = wanted
            .iter()
            .filter(|tag| **tag != "d_2077_10_01")
            .enumerate()
            .map(|(n, tag)| (tag.to_string(), digest(n as u8)))
            .collect();
        let listing = Listing::from_docker("r", "p/lab", tags, &digests, &HashMap::new());
        assert_eq!(listing.tag_count(), names.len());
        assert!(listing.catalog.get("w_2077_42").is_some());
        assert!(listing.catalog.get("d_2077_10_01").is_none());
        assert!(listing.catalog.get("w_2077_40").is_none());
        assert!(listing.sizes_from_nodes);
    }

    /// The prepull images are the lab images then the init images; attaching init images
    /// again (a digest learnt later) replaces them and keeps the lab images as they were.
    #[test]
    fn init_images_follow_the_lab_images_and_replace_earlier_ones() {
        let images = ["w_2077_42", "w_2077_41", "w_2077_40", "recommended"]
            .iter()
            .enumerate()
            .map(|(n, tag)| ListedImage {
                tag: crate::Tag::parse(tag),
                digest: digest(if n == 3 { 0 } else { n as u8 }),
                size: None,
                platforms: Platforms::default(),
            })
            .collect();
        let listing = Listing::complete("r", "p/lab", images, &rules());
        let lab: Vec<&str> = listing
            .prepull_images()
            .iter()
            .map(|i| i.tag.as_str())
            .collect();
        assert_eq!(lab, ["w_2077_42", "w_2077_41"]);
        let init = |tag: &str| crate::init_image::InitImage::new("busybox", tag).prepull_image();
        let listing = listing.with_init_images(vec![init("1.36"), init("1.37")].into());
        let listing = listing.with_init_images(vec![init("1.38")].into());
        let tags: Vec<&str> = listing
            .prepull_images()
            .iter()
            .map(|i| i.tag.as_str())
            .collect();
        assert_eq!(tags, ["w_2077_42", "w_2077_41", "busybox:1.38"]);
        assert_eq!(listing.init_images.len(), 1);
    }

    #[test]
    fn a_class_names_only_prepull_images() {
        let image = |tag: &str, n: u8| ListedImage {
            tag: crate::Tag::parse(tag),
            digest: digest(n),
            size: Some(1),
            platforms: Platforms::default(),
        };
        let listing = Listing::complete(
            "r",
            "p/lab",
            vec![image("w_2077_42", 1), image("w_2077_41", 2)],
            &rules(),
        );
        let weekly = listing
            .image_for_class(ImageClass::LatestWeekly, "recommended")
            .unwrap();
        assert_eq!(weekly.tag, "w_2077_42");
        let none = listing
            .image_for_class(ImageClass::LatestDaily, "recommended")
            .unwrap_err();
        assert_eq!(none.to_string(), "No latest-daily image found");
    }
}
