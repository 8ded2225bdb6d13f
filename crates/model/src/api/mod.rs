//! Serde types of the HTTP API and menus (behaviour.md §9.1–§9.4), field names and orders
//! exactly as the original's JSON.
//!
//! Null handling differs by route, as in the original: `/spawner/v1/images` omits nulls
//! (`SpawnerImages`, `PrepulledImage`), `/spawner/v1/prepulls` keeps them (`PrepullerStatus`).
//! The prepull errors that rsp-images adds (decisions.md §4) are extra fields present only
//! when there is an error, so error-free bodies are exactly the original's.

mod entry;
mod resolve;

pub use entry::{BorrowedSpawnerImages, SpawnerEntry};
pub use resolve::{FormField, ImageClass, ResolveRequest, ResolvedImage};

use crate::catalog::{Image, NodePresence, NodeSet};
use crate::tag::Tag;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One entry of the spawner menu or dropdown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuImage {
    /// `registry/repository:tag@digest` (without `@digest` when unknown).
    pub reference: String,
    /// Display name.
    pub name: String,
}

impl MenuImage {
    /// The entry for an image: reference with digest and display name.
    pub fn from_image(image: &Image) -> MenuImage {
        MenuImage {
            reference: image.reference_with_digest(),
            name: image.display_name().to_owned(),
        }
    }
}

/// The images offered by the spawner form: radio-button `menu` and `dropdown`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MenuImages {
    pub menu: Vec<MenuImage>,
    pub dropdown: Vec<MenuImage>,
}

/// An image as `/spawner/v1/images` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrepulledImage {
    /// `registry/repository:tag`, without digest.
    pub reference: String,
    pub tag: String,
    /// Display name.
    pub name: String,
    /// Absent for Docker tags whose digest was never fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// The other tags of the same digest plus the alias target, sorted.
    pub aliases: Vec<String>,
    /// Cached on every eligible node.
    pub prepulled: bool,
}

impl PrepulledImage {
    /// An image as shown to the spawner: `prepulled` when every eligible node caches its
    /// digest (true when there are no eligible nodes, as in the original).
    pub fn from_image(image: &Image, presence: &NodePresence, eligible: &NodeSet) -> Self {
        SpawnerEntry::image(image, presence, eligible).into_owned()
    }

    /// A tag whose digest is not known (Docker tags outside the prepull subset).
    pub fn without_digest(registry: &str, repository: &str, tag: &Tag) -> PrepulledImage {
        SpawnerEntry::Tag {
            registry,
            repository,
            tag,
        }
        .into_owned()
    }
}

/// The body of `GET {prefix}/spawner/v1/images`; absent entries are omitted, not null.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpawnerImages {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended: Option<PrepulledImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_weekly: Option<PrepulledImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_daily: Option<PrepulledImage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_release: Option<PrepulledImage>,
    pub all: Vec<PrepulledImage>,
}

/// A prepull image and the nodes it is, or is not yet, cached on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeImage {
    /// `registry/repository:tag`, without digest.
    pub reference: String,
    pub tag: String,
    pub name: String,
    /// Present, and null when unknown (the body keeps nulls).
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub digest: Option<String>,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub size: Option<u64>,
    /// Nodes that cache the image (eligible or not), sorted.
    pub nodes: Vec<String>,
    /// Eligible nodes that do not cache it yet, sorted (only nodes whose platform the image
    /// supports, as far as the registry told).
    pub missing: Vec<String>,
    /// The last prepull error per node, for nodes whose last prepull of this image failed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
    /// Eligible nodes whose platform (`kubernetes.io/os`, `kubernetes.io/arch`) the image does
    /// not support, sorted: the image cannot be there, so they are neither missing nor pulled.
    /// Absent when there are none, as for every image whose platforms are unknown.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unsupported: Vec<String>,
}

impl NodeImage {
    /// A prepull image with the nodes caching it and the eligible nodes missing it; the size
    /// is the one nodes report, else the registry's.
    pub fn from_image(image: &Image, presence: &NodePresence, eligible: &NodeSet) -> NodeImage {
        let digest = image.digest();
        NodeImage {
            reference: image.reference(),
            tag: image.name().to_string(),
            name: image.display_name().to_owned(),
            digest: Some(digest.to_string()),
            size: presence.size(digest).or(image.size()),
            nodes: presence.nodes(digest).map(str::to_string).collect(),
            missing: presence
                .missing(digest, eligible)
                .map(str::to_string)
                .collect(),
            errors: BTreeMap::new(),
            unsupported: Vec::new(),
        }
    }
}

/// Prepull images split by whether every eligible node caches them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrepullerImages {
    pub prepulled: Vec<NodeImage>,
    pub pending: Vec<NodeImage>,
}

/// A node as `/spawner/v1/prepulls` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeStatus {
    pub name: String,
    pub eligible: bool,
    /// Why the node is not eligible; null for an eligible node.
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub comment: Option<String>,
    /// References (without digest) of the prepull images cached on the node.
    pub cached: Vec<String>,
    /// The last prepull error per image reference, for images whose last prepull failed here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub errors: BTreeMap<String, String>,
}

/// The body of `GET {prefix}/spawner/v1/prepulls`; nulls are kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrepullerStatus {
    pub config: PrepullerOptions,
    pub images: PrepullerImages,
    pub nodes: Vec<NodeStatus>,
}

/// The `config` object of `/spawner/v1/prepulls`: the original's prepuller options, with its
/// keys in the original's order so that the body is byte-identical (a JSON map would sort
/// them). The configuration crate fills it in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PrepullerOptions {
    pub source: PrepullerSource,
    /// Seconds, written as a float (`300.0`).
    pub refresh_interval: f64,
    /// Seconds, written as a float (`600.0`).
    pub prepull_timeout: f64,
    pub recommended_tag: String,
    pub num_releases: usize,
    pub num_weeklies: usize,
    pub num_dailies: usize,
    pub cycle: Option<u32>,
    pub pin: Vec<String>,
    pub alias_tags: Vec<String>,
}

/// The image source as the original's options show it: its own keys only (rsp-images'
/// additions such as `apiUrl` and credentials are left out on purpose), `type` first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PrepullerSource {
    Docker {
        registry: String,
        repository: String,
    },
    Google {
        location: String,
        project_id: String,
        repository: String,
        image: String,
    },
    /// rsp-images' saved listings; the original has no such source.
    Snapshot {
        registry: String,
        repository: String,
    },
}

/// One problem in an error response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// Where the problem is, e.g. `["body", "options", "image_list"]`; may be empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(required = false))]
    pub loc: Vec<String>,
    pub msg: String,
    /// Machine-readable kind, e.g. `unknown_image`, `invalid_docker_reference`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// An error response: `{"detail": [{"loc": […], "msg": "…", "type": "…"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub detail: Vec<ErrorDetail>,
}

impl ErrorBody {
    /// A body with one problem.
    pub fn new(loc: Vec<String>, msg: impl Into<String>, kind: impl Into<String>) -> ErrorBody {
        ErrorBody {
            detail: vec![ErrorDetail {
                loc,
                msg: msg.into(),
                kind: kind.into(),
            }],
        }
    }
}
