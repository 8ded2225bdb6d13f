//! `/spawner/v1/images` serialised straight from the catalog.
//!
//! That body lists every image of the registry (20,000 and more) and is rebuilt whenever node
//! presence changes. Building owned [`PrepulledImage`]s first would allocate five strings per
//! image only to copy them into the JSON, so these borrowed entries write the same fields, in
//! the same order, from the catalog itself. [`PrepulledImage`] and [`SpawnerImages`] stay the
//! owned forms, for clients and tests; `into_owned` converts, and the tests check that both
//! forms serialise to the same bytes.

use super::{PrepulledImage, SpawnerImages};
use crate::catalog::{Image, NodePresence, NodeSet};
use crate::reference::TagReference;
use crate::tag::Tag;
use serde::ser::{SerializeStruct, Serializer};
use serde::Serialize;

/// One entry of `/spawner/v1/images`, borrowed.
#[derive(Debug, Clone, Copy)]
pub enum SpawnerEntry<'a> {
    /// An image of the catalog; `prepulled` when every eligible node caches its digest (true
    /// when there are no eligible nodes, as in the original).
    Image { image: &'a Image, prepulled: bool },
    /// A tag whose digest is not known (Docker tags outside the prepull subset).
    Tag {
        registry: &'a str,
        repository: &'a str,
        tag: &'a Tag,
    },
}

impl<'a> SpawnerEntry<'a> {
    pub fn image(image: &'a Image, presence: &NodePresence, eligible: &NodeSet) -> Self {
        SpawnerEntry::Image {
            image,
            prepulled: presence.is_on_all(image.digest(), eligible),
        }
    }

    fn reference(&self) -> TagReference<'a> {
        match *self {
            SpawnerEntry::Image { image, .. } => image.tag_reference(),
            SpawnerEntry::Tag {
                registry,
                repository,
                tag,
            } => TagReference {
                registry,
                repository,
                tag: tag.tag(),
            },
        }
    }

    pub fn into_owned(self) -> PrepulledImage {
        let reference = self.reference().to_string();
        match self {
            SpawnerEntry::Image { image, prepulled } => PrepulledImage {
                reference,
                tag: image.name().to_owned(),
                name: image.display_name().to_owned(),
                digest: Some(image.digest().to_owned()),
                aliases: image.other_tags().map(str::to_owned).collect(),
                prepulled,
            },
            SpawnerEntry::Tag { tag, .. } => PrepulledImage {
                reference,
                tag: tag.tag().to_owned(),
                name: tag.display_name(),
                digest: None,
                aliases: Vec::new(),
                prepulled: false,
            },
        }
    }
}

/// The fields of [`PrepulledImage`], in its order, with `digest` omitted when absent.
impl Serialize for SpawnerEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut entry = serializer.serialize_struct("PrepulledImage", 6)?;
        entry.serialize_field("reference", &self.reference())?;
        match *self {
            SpawnerEntry::Image { image, prepulled } => {
                entry.serialize_field("tag", image.name())?;
                entry.serialize_field("name", &image.display_name())?;
                entry.serialize_field("digest", image.digest())?;
                entry.serialize_field("aliases", &OtherTags(image))?;
                entry.serialize_field("prepulled", &prepulled)?;
            }
            SpawnerEntry::Tag { tag, .. } => {
                entry.serialize_field("tag", tag.tag())?;
                entry.serialize_field("name", &tag.display_name())?;
                entry.skip_field("digest")?;
                entry.serialize_field("aliases", &[] as &[&str])?;
                entry.serialize_field("prepulled", &false)?;
            }
        }
        entry.end()
    }
}

struct OtherTags<'a>(&'a Image);

impl Serialize for OtherTags<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.other_tags())
    }
}

/// The body of `GET {prefix}/spawner/v1/images`, borrowed; absent entries are omitted.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BorrowedSpawnerImages<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recommended: Option<SpawnerEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_weekly: Option<SpawnerEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_daily: Option<SpawnerEntry<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latest_release: Option<SpawnerEntry<'a>>,
    pub all: Vec<SpawnerEntry<'a>>,
}

impl BorrowedSpawnerImages<'_> {
    pub fn into_owned(self) -> SpawnerImages {
        SpawnerImages {
            recommended: self.recommended.map(SpawnerEntry::into_owned),
            latest_weekly: self.latest_weekly.map(SpawnerEntry::into_owned),
            latest_daily: self.latest_daily.map(SpawnerEntry::into_owned),
            latest_release: self.latest_release.map(SpawnerEntry::into_owned),
            all: self.all.into_iter().map(SpawnerEntry::into_owned).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{ImageCatalog, ListedImage};
    use crate::node::{CachedImage, NodeInfo};
    use crate::plan::PulledSet;

    fn listed(name: &str, digest: &str) -> ListedImage {
        ListedImage {
            tag: Tag::parse(name),
            digest: digest.to_owned(),
            size: Some(12),
            platforms: Default::default(),
        }
    }

    /// The borrowed entries write exactly what the owned ones do, for every kind of image:
    /// resolved aliases, unresolved ones, arch-specific tags, names needing JSON escapes.
    #[test]
    fn borrowed_and_owned_entries_serialise_alike() {
        let catalog = ImageCatalog::build(
            "lighthouse.ceres",
            "library/sketch\"book",
            vec![
                listed("recommended", "D0"),
                listed("w_2077_43", "D0"),
                listed("latest_weekly", "D0"),
                listed("w_2077_43-amd64", "D1"),
                listed("latest_c0040", "D1"),
                listed("only_aliases", "D2"),
                listed("also_alias", "D2"),
                listed("exp_w_2077_43_\u{e9}\\x", "D3"),
                listed("r21_0_1_rc1", "D4"),
            ],
            None,
        );
        let node = NodeInfo {
            name: "node1".to_owned(),
            images: vec![CachedImage {
                references: vec!["lighthouse.ceres/library/x@D0".to_owned().into()],
                size: None,
            }],
            ..NodeInfo::default()
        };
        let presence = NodePresence::from_nodes([&node], &PulledSet::default(), false);
        let eligible = presence.node_set(["node1"]);
        let mut entries: Vec<SpawnerEntry<'_>> = catalog
            .all_images(crate::catalog::Hidden::NOTHING)
            .into_iter()
            .map(|image| SpawnerEntry::image(image, &presence, &eligible))
            .collect();
        let unknown = Tag::parse("w_2077_44");
        entries.push(SpawnerEntry::Tag {
            registry: "lighthouse.ceres",
            repository: "library/sketchbook",
            tag: &unknown,
        });
        assert_eq!(entries.len(), 10);
        for entry in &entries {
            let borrowed = serde_json::to_string(entry).unwrap();
            let owned = serde_json::to_string(&entry.into_owned()).unwrap();
            assert_eq!(borrowed, owned);
        }
        let body = BorrowedSpawnerImages {
            recommended: entries.first().copied(),
            latest_weekly: None,
            latest_daily: None,
            latest_release: entries.last().copied(),
            all: entries.clone(),
        };
        assert_eq!(
            serde_json::to_string(&body).unwrap(),
            serde_json::to_string(&body.clone().into_owned()).unwrap()
        );
        // Aliases list every other tag of the digest, the alias target included.
        let recommended = entries[0].into_owned();
        assert_eq!(recommended.tag, "recommended");
        assert_eq!(recommended.aliases, ["latest_weekly", "w_2077_43"]);
        assert!(recommended.prepulled);
    }
}
