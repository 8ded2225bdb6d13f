//! Pure model of RSP lab images: tags, collections, filters, the image catalog, references and
//! API types. No I/O, no async: everything here is a function of its inputs, so the behaviour of
//! the original lives (and is tested) in one place.
//!
//! Modules:
//!
//! - `tag`: parsing a tag string (fast hand-written parser, regex oracle for tests), display
//!   names, versions and the ordering within one kind.
//! - `collection`: `TagCollection`, tags grouped by kind and sorted; `latest`, `subset`, cycle
//!   filtering.
//! - `filter`: `ImageFilter` / `ImageFilterPolicy`, the filter policies (configuration
//!   types, read from `dropdownMenu`); the algorithm that applies them is in `select`.
//! - `duration`: the human duration syntax of the configuration (`1w2d`, seconds) and its serde
//!   helpers.
//! - `catalog`: images (a tag plus registry, digest, size, aliases) and the `ImageCatalog`
//!   built once per registry listing, with alias resolution by digest, views (subsets) and
//!   `NodePresence`, which records on which nodes each digest is cached.
//! - `reference`: Docker references `registry/repository[:tag][@digest]`.
//! - `api`: the serde types of the HTTP API and menus, and the borrowed `/spawner/v1/images`
//!   entries serialised straight from a catalog.
//! - `init_image`: the images of the lab's init containers, prepulled with the lab images
//!   and known by name until their digest is.
//! - `lab`: lab sizes and their labels, user quotas, and what lab creation accepts from a
//!   submitted spawner form.
//! - `listing`: what one refresh of a registry knows (`Listing`), built purely from the
//!   registry's answers and the prepull rules; the Docker tag list before its digests
//!   (`DockerTags`); images chosen by class.
//! - `node`: Kubernetes nodes as the image side sees them, and the eligibility rule.
//! - `selected`: the selected nodes of one moment with their eligibility and reported
//!   presence, computed once per node list and shared by the service and the prepuller.
//! - `platform`: the platforms (os, architecture) an image runs on, and whether a node's
//!   platform is one of them.
//! - `plan`: the prepull plan, which images each eligible node still needs.
//! - `validation`: the API server's syntax rules for names, labels and tolerations, so that
//!   a configuration it would refuse is refused when it loads.
//! - `warm`: the startup taint that keeps labs off a node until its images are there.
//! - `select` (private): the algorithms shared by tag collections and catalog views
//!   (grouping by kind, `subset`, `filter`), over per-kind index lists.
//! - `bitset` (private): a set of small indices, for catalog members and node presence.
//! - `key_index` (private): items found by a string they hold (tag name, digest) without
//!   copies of the strings, for catalogs and tag collections.

pub mod api;
mod bitset;
pub mod catalog;
pub mod collection;
pub mod duration;
pub mod filter;
pub mod init_image;
mod key_index;
pub mod lab;
pub mod listing;
pub mod node;
pub mod plan;
pub mod platform;
pub mod reference;
mod select;
pub mod selected;
pub mod tag;
pub mod validation;
pub mod warm;

pub use tag::{Tag, TagKind, Version};
