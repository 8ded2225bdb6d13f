//! One image of a catalog: a parsed tag plus where it lives, its digest and what alias
//! resolution decided about it.

use crate::platform::{Platform, Platforms};
use crate::reference::TagReference;
use crate::select::Item;
use crate::tag::{Number, OwnedNumber, SortKey, Tag, TagKind, Version};
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::{Arc, OnceLock};

/// One tag of a registry listing, as an image source reports it.
#[derive(Debug, Clone)]
pub struct ListedImage {
    pub tag: Tag,
    /// Content digest with its algorithm, e.g. `sha256:5678…`.
    pub digest: String,
    /// Compressed size in bytes, when the registry reports it.
    pub size: Option<u64>,
    /// The platforms the registry reports for this digest.
    pub platforms: Platforms,
}

/// An image: a tag of a repository with its digest, as resolved by the catalog.
///
/// Tag fields that alias resolution can change (kind, cycle, architecture, date, display
/// name) are read through the image's own accessors; `tag()` is the tag as parsed.
#[derive(Debug, Clone)]
pub struct Image {
    pub(super) tag: Tag,
    pub(super) registry: Arc<str>,
    pub(super) repository: Arc<str>,
    pub(super) digest: String,
    pub(super) size: Option<u64>,
    pub(super) platforms: Platforms,
    pub(super) kind: TagKind,
    /// The display name: set by alias resolution for an alias (one naming its target), else
    /// made from the tag when first asked. Bodies are rebuilt on every node event while the
    /// listing stays the same, and each of them names every image, so each name is made once
    /// per listing rather than once per body.
    pub(super) display_name: OnceLock<Box<str>>,
    /// Every tag name of this digest in the catalog, sorted, shared by the whole group.
    pub(super) group_names: Arc<[Box<str>]>,
    pub(super) alias_target: Option<String>,
    pub(super) cycle: Option<OwnedNumber>,
    /// Architecture taken from the alias target when the tag has none.
    pub(super) inherited_architecture: Option<Box<str>>,
    pub(super) date: Option<NaiveDate>,
}

impl Image {
    pub(super) fn new(listed: ListedImage, registry: Arc<str>, repository: Arc<str>) -> Image {
        let ListedImage {
            tag,
            digest,
            size,
            platforms,
        } = listed;
        Image {
            kind: tag.kind(),
            cycle: tag.cycle().map(Number::to_owned_number),
            date: tag.date_naive(),
            display_name: OnceLock::new(),
            group_names: Arc::from(Vec::new()),
            alias_target: None,
            inherited_architecture: None,
            tag,
            registry,
            repository,
            digest,
            size,
            platforms,
        }
    }

    /// The tag as parsed, before alias resolution.
    pub fn tag(&self) -> &Tag {
        &self.tag
    }

    /// The tag name.
    pub fn name(&self) -> &str {
        self.tag.tag()
    }

    /// The kind after alias resolution (an unknown tag sharing a digest becomes an alias).
    pub fn kind(&self) -> TagKind {
        self.kind
    }

    /// The display name: for a resolved alias, one naming its target ("Recommended (Weekly
    /// 2077_43)"); otherwise the tag's, made the first time it is asked for.
    pub fn display_name(&self) -> &str {
        self.display_name
            .get_or_init(|| self.tag.display_name().into_boxed_str())
    }

    pub fn registry(&self) -> &str {
        &self.registry
    }

    pub fn repository(&self) -> &str {
        &self.repository
    }

    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// The size the registry reported (see `NodePresence::size` for sizes from nodes).
    pub fn size(&self) -> Option<u64> {
        self.size
    }

    /// The platforms the image runs on: what the registry reported, else, for a tag that
    /// names its architecture (`…_amd64`), Linux on that architecture, else unknown.
    pub fn platforms(&self) -> Platforms {
        match (&self.platforms, self.architecture()) {
            (Platforms::Unknown, Some(architecture)) => {
                Platforms::known([Platform::new("linux", architecture)])
            }
            (platforms, _) => platforms.clone(),
        }
    }

    /// The other tags with this digest, sorted, without the alias target.
    pub fn aliases(&self) -> impl Iterator<Item = &str> + '_ {
        let target = self.alias_target.as_deref();
        self.group_names
            .iter()
            .map(|n| &**n)
            .filter(move |n| *n != self.name() && Some(*n) != target)
    }

    /// Every other tag with this digest, sorted, the alias target included: what the API
    /// lists as an image's `aliases`.
    pub fn other_tags(&self) -> impl Iterator<Item = &str> + '_ {
        self.group_names
            .iter()
            .map(|n| &**n)
            .filter(move |n| *n != self.name())
    }

    /// For a resolved alias, the tag of the image it stands for.
    pub fn alias_target(&self) -> Option<&str> {
        self.alias_target.as_deref()
    }

    pub fn is_possible_alias(&self) -> bool {
        self.kind.is_possible_alias()
    }

    pub fn cycle(&self) -> Option<Number<'_>> {
        self.cycle.as_ref().map(OwnedNumber::as_number)
    }

    pub fn architecture(&self) -> Option<&str> {
        self.tag
            .architecture()
            .or(self.inherited_architecture.as_deref())
    }

    pub fn date(&self) -> Option<DateTime<Utc>> {
        self.date
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|dt| dt.and_utc())
    }

    /// `registry/repository:tag`, to write.
    pub fn tag_reference(&self) -> TagReference<'_> {
        TagReference {
            registry: &self.registry,
            repository: &self.repository,
            tag: self.name(),
        }
    }

    /// `registry/repository:tag`.
    pub fn reference(&self) -> String {
        self.tag_reference().to_string()
    }

    /// `registry/repository:tag@digest`.
    pub fn reference_with_digest(&self) -> String {
        format!("{}@{}", self.tag_reference(), self.digest)
    }
}

impl Item for Image {
    fn name(&self) -> &str {
        Image::name(self)
    }
    fn kind(&self) -> TagKind {
        self.kind
    }
    fn sort_key(&self) -> SortKey<'_> {
        SortKey {
            cycle: self.cycle(),
            architecture: self.architecture(),
            ..self.tag.sort_key()
        }
    }
    fn is_arch_specific(&self) -> bool {
        self.architecture().is_some()
    }
    fn build(&self) -> Option<Number<'_>> {
        self.tag.build()
    }
    fn date(&self) -> Option<DateTime<Utc>> {
        Image::date(self)
    }
    fn semantic_version(&self) -> Option<Version<'_>> {
        Item::semantic_version(&self.tag)
    }
}
