//! The prepull images against the nodes: one [`CellState`] per (node, image), with the
//! summaries the pages show (per image over the eligible nodes, per node over the images, the
//! nodes by eligibility), computed together in one pass over the snapshot.
//!
//! At 5,000 nodes × 8 images that is 40,000 cells: a few megabytes and a few milliseconds,
//! made once per served snapshot and only when a page asks (see `snapshot::ServedSnapshot`).
//! Cells are decided by walking each digest's cached nodes and the prepuller's (few) pairs in
//! progress or in trouble, not by asking about every pair.

use rsp_kube::prepuller::{PrepullerReport, PullStatus};
use rsp_model::node::{Eligibility, NodeInfo};
use rsp_model::plan::PrepullImage;
use std::collections::HashMap;
use std::sync::Arc;

use super::cell::{CellState, KindCounts, PlatformMismatch};
use crate::init_images::INIT_IMAGE_NAME;
use crate::served::ListingOnNodes;

/// One prepull image, with how it stands on the eligible nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRow {
    pub tag: String,
    /// The display name (`Weekly 2026_47`).
    pub name: String,
    pub reference: String,
    pub digest: String,
    pub size: Option<u64>,
    /// Cells of the eligible nodes, by kind.
    pub counts: KindCounts,
    /// Eligible nodes where the last pull failed, by name (see [`StatusGrid::node`]).
    pub failing: Vec<u32>,
}

/// The nodes by eligibility.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeSummary {
    pub total: usize,
    pub eligible: usize,
    /// Eligible nodes that cache every image they should.
    pub complete: usize,
    /// Eligible nodes where some pull failed.
    pub failing: usize,
    /// Ineligible nodes by reason, the most common first (then by reason).
    pub ineligible: Vec<(String, usize)>,
}

/// One node with its cells, as pages read it.
#[derive(Debug, Clone, Copy)]
pub struct NodeEntry<'a> {
    /// The node's number in [`StatusGrid`] (for links back to it).
    pub index: u32,
    pub info: &'a NodeInfo,
    pub eligibility: &'a Eligibility,
    /// One cell per image of [`StatusGrid::images`], in that order.
    pub cells: &'a [CellState],
    /// The node's cells by kind.
    pub counts: KindCounts,
}

/// Every (node, prepull image) cell of one snapshot, with its summaries.
#[derive(Debug)]
pub struct StatusGrid {
    listing_on_nodes: Arc<ListingOnNodes>,
    images: Vec<ImageRow>,
    /// Node-major: node `i`, image `j` is at `i * images.len() + j`.
    cells: Vec<CellState>,
    node_counts: Vec<KindCounts>,
    /// Node numbers sorted by name.
    by_name: Vec<u32>,
    nodes: NodeSummary,
}

impl StatusGrid {
    /// The grid of `world` with what `puller` reports (pulls in progress, failures).
    pub fn build(world: Arc<ListingOnNodes>, puller: &PrepullerReport) -> StatusGrid {
        let wanted = Arc::clone(&world.prepull_images);
        let (node_count, image_count) = (world.nodes.len(), wanted.len());
        // Node names are unique in a cluster; should a node list repeat one, its first entry
        // gets the facts. Names and digests come from the API server and the registry, not
        // from requests, and tens of thousands are looked up per grid: a fast hasher pays, as
        // for presence's digests.
        let mut node_number: foldhash::HashMap<&str, usize> =
            HashMap::with_capacity_and_hasher(node_count, Default::default());
        for (i, node) in world.nodes.iter().enumerate() {
            node_number.entry(node.name.as_str()).or_insert(i);
        }
        let image_number: foldhash::HashMap<&str, usize> = wanted
            .iter()
            .enumerate()
            .map(|(j, image)| (image.digest.as_str(), j))
            .collect();

        let mut cached = vec![false; node_count * image_count];
        for (j, image) in wanted.iter().enumerate() {
            for node in world.presence.nodes(&image.digest) {
                if let Some(&i) = node_number.get(node) {
                    cached[i * image_count + j] = true;
                }
            }
        }
        let mut pulls: Vec<Option<&PullStatus>> = vec![None; node_count * image_count];
        for ((node, digest), pull) in &puller.pulls {
            if let (Some(&i), Some(&j)) = (
                node_number.get(node.as_str()),
                image_number.get(digest.as_str()),
            ) {
                pulls[i * image_count + j] = Some(pull);
            }
        }
        // Node by node, so that what depends on the node alone (eligibility, its platform
        // labels) is read once per node, not once per cell.
        let mut cells: Vec<CellState> = Vec::with_capacity(node_count * image_count);
        for (i, (node, eligibility)) in world.nodes.entries().enumerate() {
            let eligible = eligibility.is_eligible();
            let platform = NodePlatform::of(node);
            for (j, image) in wanted.iter().enumerate() {
                let k = i * image_count + j;
                let mismatch = || platform.mismatch(image);
                cells.push(CellState::decide(cached[k], eligible, mismatch, pulls[k]));
            }
        }

        let mut by_name: Vec<u32> = (0..node_count as u32).collect();
        by_name.sort_by(|&a, &b| {
            world.nodes[a as usize]
                .name
                .cmp(&world.nodes[b as usize].name)
        });
        let images = wanted
            .iter()
            .map(|image| {
                // Not in the catalog: an init container's image, named by its reference,
                // shown without a digest while it is known by name.
                let listed = world.listing.catalog.get(&image.tag);
                ImageRow {
                    name: listed.map_or_else(
                        || INIT_IMAGE_NAME.to_owned(),
                        |i| i.display_name().to_string(),
                    ),
                    reference: listed.map_or_else(|| image.tag.clone(), |i| i.reference()),
                    size: world.size(&image.digest, listed.and_then(|i| i.size())),
                    digest: if image.known_by_name() {
                        String::new()
                    } else {
                        image.digest.clone()
                    },
                    tag: image.tag.clone(),
                    counts: KindCounts::default(),
                    failing: Vec::new(),
                }
            })
            .collect();
        let mut grid = StatusGrid {
            listing_on_nodes: world,
            images,
            cells,
            node_counts: Vec::new(),
            by_name,
            nodes: NodeSummary::default(),
        };
        grid.summarise();
        grid
    }

    /// Fills the per-image, per-node and node summaries from the cells.
    fn summarise(&mut self) {
        let image_count = self.images.len();
        let mut reasons: HashMap<&str, usize> = HashMap::new();
        let mut summary = NodeSummary {
            total: self.listing_on_nodes.nodes.len(),
            ..NodeSummary::default()
        };
        self.node_counts = vec![KindCounts::default(); summary.total];
        for &i in &self.by_name {
            let i = i as usize;
            let row = &self.cells[i * image_count..(i + 1) * image_count];
            let eligibility = &self.listing_on_nodes.nodes.eligibility()[i];
            for (j, cell) in row.iter().enumerate() {
                self.node_counts[i].add(cell.kind());
                if eligibility.is_eligible() {
                    let image = &mut self.images[j];
                    image.counts.add(cell.kind());
                    if cell.kind().is_failure() {
                        image.failing.push(i as u32);
                    }
                }
            }
            match eligibility.comment() {
                None => {
                    summary.eligible += 1;
                    let counts = &self.node_counts[i];
                    summary.complete += usize::from(counts.outstanding() == 0);
                    summary.failing += usize::from(counts.failures() > 0);
                }
                Some(reason) => *reasons.entry(reason).or_default() += 1,
            }
        }
        summary.ineligible = reasons
            .into_iter()
            .map(|(reason, count)| (reason.to_owned(), count))
            .collect();
        summary
            .ineligible
            .sort_by(|(a, m), (b, n)| n.cmp(m).then_with(|| a.cmp(b)));
        self.nodes = summary;
    }

    /// The snapshot the grid was made from.
    pub fn listing_on_nodes(&self) -> &ListingOnNodes {
        &self.listing_on_nodes
    }

    /// The prepull images, most important first.
    pub fn images(&self) -> &[ImageRow] {
        &self.images
    }

    /// The position of the prepull image with this tag.
    pub fn image_index(&self, tag: &str) -> Option<usize> {
        self.images.iter().position(|image| image.tag == tag)
    }

    pub fn nodes(&self) -> &NodeSummary {
        &self.nodes
    }

    /// Node numbers sorted by name.
    pub fn by_name(&self) -> &[u32] {
        &self.by_name
    }

    /// Node number `index` (from [`ImageRow::failing`], [`StatusGrid::by_name`] or a query).
    pub fn node(&self, index: u32) -> NodeEntry<'_> {
        let i = index as usize;
        let image_count = self.images.len();
        NodeEntry {
            index,
            info: &self.listing_on_nodes.nodes[i],
            eligibility: &self.listing_on_nodes.nodes.eligibility()[i],
            cells: &self.cells[i * image_count..(i + 1) * image_count],
            counts: self.node_counts[i],
        }
    }

    pub fn node_named(&self, name: &str) -> Option<NodeEntry<'_>> {
        let position = self
            .by_name
            .binary_search_by(|&i| self.node_name(i).cmp(name))
            .ok()?;
        Some(self.node(self.by_name[position]))
    }

    /// Node numbers of the nodes whose names start with `prefix`, in name order.
    ///
    /// [`StatusGrid::by_name`] is in byte order, where the names starting with a prefix are
    /// one run, right after the names below the prefix: two binary searches find it, reading
    /// a few dozen names instead of every node's.
    pub fn named_with_prefix(&self, prefix: &str) -> &[u32] {
        if prefix.is_empty() {
            return &self.by_name;
        }
        let start = self
            .by_name
            .partition_point(|&i| self.node_name(i) < prefix);
        let from_start = &self.by_name[start..];
        &from_start[..from_start.partition_point(|&i| self.node_name(i).starts_with(prefix))]
    }

    fn node_name(&self, index: u32) -> &str {
        &self.listing_on_nodes.nodes[index as usize].name
    }

    /// Eligible cells by kind, over every image.
    pub fn eligible_counts(&self) -> KindCounts {
        let mut total = KindCounts::default();
        for image in &self.images {
            total.merge(&image.counts);
        }
        total
    }
}

/// How `image`'s platforms miss `node`'s, when the registry says it cannot run there.
/// A node's platform labels, read once for all its cells.
struct NodePlatform<'a> {
    os: Option<&'a str>,
    arch: Option<&'a str>,
}

impl<'a> NodePlatform<'a> {
    fn of(node: &'a NodeInfo) -> NodePlatform<'a> {
        NodePlatform {
            os: node.os(),
            arch: node.arch(),
        }
    }

    /// Why `image` cannot run here, if it cannot (see [`PrepullImage::can_run_on`]).
    fn mismatch(&self, image: &PrepullImage) -> Option<PlatformMismatch> {
        if image.can_run_on_platform(self.os, self.arch) {
            return None;
        }
        let platforms: Vec<String> = image
            .platforms
            .as_slice()
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        Some(PlatformMismatch {
            node: format!("{}/{}", self.os.unwrap_or("?"), self.arch.unwrap_or("?")),
            image: platforms.join(", "),
        })
    }
}

impl NodeEntry<'_> {
    /// The node's cells of the images numbered in `images` (all of them when `None`).
    pub fn cells_of(&self, image: Option<usize>) -> &[CellState] {
        match image {
            Some(j) => self.cells.get(j..=j).unwrap_or_default(),
            None => self.cells,
        }
    }

    /// The node's cells of the images numbered in `image` by kind: for all of them, the
    /// counts the grid made once.
    pub fn counts_of(&self, image: Option<usize>) -> KindCounts {
        match image {
            None => self.counts,
            Some(_) => {
                let mut counts = KindCounts::default();
                for cell in self.cells_of(image) {
                    counts.add(cell.kind());
                }
                counts
            }
        }
    }

    /// Whether the node is eligible and some image it should cache is not there yet.
    pub fn is_incomplete(&self, image: Option<usize>) -> bool {
        self.eligibility.is_eligible()
            && self
                .cells_of(image)
                .iter()
                .any(|cell| cell.kind().is_outstanding())
    }
}
