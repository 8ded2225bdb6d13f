//! What the spawner API shows, computed from one [`World`]: the registry listing, the nodes
//! and where each digest is cached (behaviour §8.4, §9.1–§9.4).
//!
//! Everything here is a pure function of a `World`, so the live service, the `plan` command
//! and the tests compute the same bodies from the same inputs. A `World` is rebuilt whenever
//! one of its inputs changes (a refresh, a node event, a finished prepull); rebuilding is
//! cheap because the catalog is shared and only the node presence is recomputed.

use chrono::{DateTime, Utc};
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerStatus as PullerStatus;
use rsp_model::api::{
    MenuImage, MenuImages, NodeImage, NodeStatus, PrepulledImage, PrepullerImages, PrepullerStatus,
    SpawnerEntry, SpawnerImagesView,
};
use rsp_model::catalog::Hidden;
use rsp_model::catalog::{Image, NodePresence, NodeSet};
use rsp_model::collection::{ArchSpecific, FilterSide};
use rsp_model::listing::Listing;
use rsp_model::node::{Eligibility, IneligibleReason, NodeInfo};
use rsp_model::plan::{plan_with_presence, PrepullImage, PrepullPlan, PulledSet};
use rsp_model::platform::{PlatformSupport, Platforms};
use rsp_model::reference::TagReference;
use rsp_model::TagKind;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::warm::WarmNodes;

/// Everything the views are computed from.
#[derive(Debug, Clone)]
pub struct World {
    pub listing: Arc<Listing>,
    /// Nodes matching the lab node selector, in listing order (shared with the node watcher's
    /// snapshot when it selected them already, as it does in a cluster).
    pub nodes: Arc<Vec<NodeInfo>>,
    /// The eligibility of each of `nodes`, in the same order.
    pub eligibility: Vec<Eligibility>,
    /// Where each digest is cached, pulls the prepuller saw succeed included, and each init
    /// container image known by name only.
    pub presence: NodePresence,
    /// The eligible nodes: an image is prepulled when all of them that its platforms
    /// allow cache it ([`World::eligible_for`]).
    pub eligible: NodeSet,
    /// The distinct platforms (`kubernetes.io/os`, `kubernetes.io/arch`) of eligible nodes:
    /// usually one or two, so an image's platforms are compared with these, not with every
    /// node.
    platforms: Vec<(Option<String>, Option<String>)>,
    /// Warm nodes, when `prepuller.warmTaint` is configured: the nodes carrying the taint.
    pub warm: Option<WarmNodes>,
    /// The node list this world was built from, to tell when a new one is the same.
    input: Arc<Vec<NodeInfo>>,
}

impl World {
    /// Combines a listing with nodes and the pulls the prepuller saw succeed (copies the
    /// nodes; the service shares them with [`World::from_shared`]).
    pub fn new(
        listing: Arc<Listing>,
        nodes: &[NodeInfo],
        config: &Config,
        pulled: &PulledSet,
    ) -> World {
        World::from_shared(listing, Arc::new(nodes.to_vec()), config, pulled)
    }

    /// As [`World::new`], keeping the node list as it is when every node matches the lab node
    /// selector (a watcher with that selector gives no others).
    pub fn from_shared(
        listing: Arc<Listing>,
        input: Arc<Vec<NodeInfo>>,
        config: &Config,
        pulled: &PulledSet,
    ) -> World {
        let selector = &config.lab.node_selector;
        let nodes = if input.iter().all(|node| node.matches_selector(selector)) {
            Arc::clone(&input)
        } else {
            Arc::new(
                input
                    .iter()
                    .filter(|node| node.matches_selector(selector))
                    .cloned()
                    .collect(),
            )
        };
        let tolerations = config.eligibility_tolerations();
        let eligibility: Vec<Eligibility> = nodes
            .iter()
            .map(|node| node.eligibility(&tolerations))
            .collect();
        let warm = WarmNodes::of(config, &nodes);
        // A remembered pull that the nodes' reports prove evicted is not cached any more,
        // whatever replica keeps the memory.
        let followed = pulled.follow_reports(&nodes, config.prepuller.node_status_max_images);
        let pulled = followed.as_ref().unwrap_or(pulled);
        let mut presence = NodePresence::from_nodes(nodes.iter(), pulled, listing.sizes_from_nodes);
        presence.mark_names(nodes.iter(), &listing.init_images);
        let mut world = World {
            listing,
            nodes,
            eligibility,
            presence,
            eligible: NodeSet::default(),
            platforms: Vec::new(),
            warm,
            input,
        };
        world.eligible = world.presence.node_set(world.eligible_names());
        let mut platforms = Vec::new();
        for node in world.eligible_nodes() {
            let platform = (node.os().map(str::to_owned), node.arch().map(str::to_owned));
            if !platforms.contains(&platform) {
                platforms.push(platform);
            }
        }
        world.platforms = platforms;
        world
    }

    /// Whether this world was built from exactly this node list.
    pub fn built_from(&self, nodes: &Arc<Vec<NodeInfo>>) -> bool {
        Arc::ptr_eq(&self.input, nodes)
    }

    /// The selected nodes with their eligibility.
    pub fn entries(&self) -> impl Iterator<Item = (&NodeInfo, &Eligibility)> {
        self.nodes.iter().zip(&self.eligibility)
    }

    fn entry<'a>(&self, image: &'a Image) -> SpawnerEntry<'a> {
        SpawnerEntry::image(
            image,
            &self.presence,
            &self.eligible_for(&image.platforms()),
        )
    }

    /// The eligible nodes, in listing order.
    pub fn eligible_nodes(&self) -> impl Iterator<Item = &NodeInfo> {
        self.entries()
            .filter(|(_, eligibility)| eligibility.is_eligible())
            .map(|(node, _)| node)
    }

    /// The names of the eligible nodes, in listing order.
    pub fn eligible_names(&self) -> impl Iterator<Item = &str> {
        self.eligible_nodes().map(|node| node.name.as_str())
    }

    /// The eligible nodes an image with `platforms` can run on: where it belongs and is
    /// counted as prepulled or missing. A node of another platform cannot have it at all.
    pub fn eligible_for(&self, platforms: &Platforms) -> Cow<'_, NodeSet> {
        let supported = |os: Option<&str>, arch: Option<&str>| {
            platforms.support(os, arch) != PlatformSupport::Unsupported
        };
        if self
            .platforms
            .iter()
            .all(|(os, arch)| supported(os.as_deref(), arch.as_deref()))
        {
            return Cow::Borrowed(&self.eligible);
        }
        let names = self
            .eligible_nodes()
            .filter(|node| supported(node.os(), node.arch()))
            .map(|node| node.name.as_str());
        Cow::Owned(self.presence.node_set(names))
    }
}

/// Body of `GET /spawner/v1/images`, borrowed from the world (`into_owned` for values).
pub fn spawner_images<'a>(world: &'a World, recommended_tag: &str) -> SpawnerImagesView<'a> {
    let prepull = &world.listing.to_prepull;
    let listing = &world.listing;
    let all = match &listing.tags {
        // Docker: every tag, with digest where the prepull set resolved it.
        Some(tags) => {
            let (registry, repository) = (listing.catalog.registry(), listing.catalog.repository());
            tags.all_tags(ArchSpecific::Hide)
                .map(|tag| match listing.catalog.get(tag.tag()) {
                    Some(image) => world.entry(image),
                    None => SpawnerEntry::Tag {
                        registry,
                        repository,
                        tag,
                    },
                })
                .collect()
        }
        None => listing
            .catalog
            .all_images(Hidden::ARCH_SPECIFIC)
            .into_iter()
            .map(|image| world.entry(image))
            .collect(),
    };
    SpawnerImagesView {
        recommended: prepull.get(recommended_tag).map(|i| world.entry(i)),
        latest_weekly: prepull.latest(TagKind::Weekly).map(|i| world.entry(i)),
        latest_daily: prepull.latest(TagKind::Daily).map(|i| world.entry(i)),
        latest_release: prepull.latest(TagKind::Release).map(|i| world.entry(i)),
        all,
    }
}

/// `GET /spawner/v1/images/{tag}`: the image of a tag, without a digest for Docker tags
/// outside the prepull set (answering must not wait for the registry).
pub fn image_for_tag(world: &World, tag: &str) -> Option<PrepulledImage> {
    let listing = &world.listing;
    if let Some(image) = listing.catalog.get(tag) {
        return Some(world.entry(image).into_owned());
    }
    let known = listing.tags.as_ref()?.get(tag)?;
    Some(PrepulledImage::without_digest(
        listing.catalog.registry(),
        listing.catalog.repository(),
        known,
    ))
}

/// Body of `GET /spawner/v1/menu`: prepulled images for the radio buttons (the recommended
/// one first, whether prepulled or not), and the dropdown filtered by `dropdownMenu`.
pub fn menu(world: &World, config: &Config, now: DateTime<Utc>) -> MenuImages {
    let recommended_tag = &config.images.recommended_tag;
    let mut recommended = None;
    let mut menu = Vec::new();
    for image in world.listing.to_prepull.all_images(Hidden {
        aliased: true,
        ..Hidden::ARCH_SPECIFIC
    }) {
        if image.name() == recommended_tag {
            recommended = Some(MenuImage::from_image(image));
        } else if world
            .presence
            .is_on_all(image.digest(), &world.eligible_for(&image.platforms()))
        {
            menu.push(MenuImage::from_image(image));
        }
    }
    menu.splice(0..0, recommended);
    MenuImages {
        menu,
        dropdown: dropdown(&world.listing, config, now),
    }
}

fn dropdown(listing: &Listing, config: &Config, now: DateTime<Utc>) -> Vec<MenuImage> {
    let policy = &config.dropdown_menu;
    match &listing.tags {
        Some(tags) => tags
            .filter(policy, now, FilterSide::Accepted, ArchSpecific::Hide)
            .into_iter()
            .map(|tag| match listing.catalog.get(tag.tag()) {
                Some(image) => MenuImage::from_image(image),
                None => MenuImage {
                    reference: TagReference {
                        registry: listing.catalog.registry(),
                        repository: listing.catalog.repository(),
                        tag: tag.tag(),
                    }
                    .to_string(),
                    name: tag.display_name(),
                },
            })
            .collect(),
        None => listing
            .catalog
            .filter(policy, now, FilterSide::Accepted, ArchSpecific::Hide)
            .into_iter()
            .map(MenuImage::from_image)
            .collect(),
    }
}

/// The last prepull error of (node, digest) pairs, shown as extra fields of the status.
pub type PrepullErrors = HashMap<(String, String), String>;

/// The last prepull error of each (node, digest) pair the prepuller reports, for `/prepulls`.
pub fn prepull_errors(puller: &PullerStatus) -> PrepullErrors {
    puller
        .pulls
        .iter()
        .filter_map(|(key, pull)| Some((key.clone(), pull.last_error.clone()?)))
        .collect()
}

/// Body of `GET /spawner/v1/prepulls`.
pub fn prepuller_status(world: &World, config: &Config, errors: &PrepullErrors) -> PrepullerStatus {
    let mut nodes: Vec<NodeStatus> = world
        .entries()
        .map(|(node, eligibility)| NodeStatus {
            name: node.name.clone(),
            eligible: eligibility.is_eligible(),
            comment: eligibility.comment().map(str::to_owned),
            cached: Vec::new(),
            errors: BTreeMap::new(),
        })
        .collect();
    let index: HashMap<String, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, node)| (node.name.clone(), i))
        .collect();
    let mut images = PrepullerImages::default();
    for image in world.listing.to_prepull.all_images(Hidden {
        resolved_aliases: true,
        ..Hidden::ARCH_SPECIFIC
    }) {
        let runs_on = world.eligible_for(&image.platforms());
        let mut entry = NodeImage::from_image(image, &world.presence, &runs_on);
        if runs_on.len() < world.eligible.len() {
            entry.unsupported = world
                .presence
                .missing(image.digest(), &world.eligible)
                .filter(|node| !entry.missing.iter().any(|missing| missing == node))
                .map(str::to_owned)
                .collect();
        }
        for node in world.presence.nodes(image.digest()) {
            if let Some(&i) = index.get(node) {
                nodes[i].cached.push(entry.reference.clone());
            }
        }
        for node in &nodes {
            if let Some(error) = errors.get(&(node.name.clone(), image.digest().to_owned())) {
                entry.errors.insert(node.name.clone(), error.clone());
            }
        }
        if entry.missing.is_empty() {
            images.prepulled.push(entry);
        } else {
            images.pending.push(entry);
        }
    }
    for ((node, digest), error) in errors {
        if let (Some(&i), Some(image)) = (
            index.get(node),
            world.listing.catalog.image_for_digest(digest),
        ) {
            nodes[i].errors.insert(image.reference(), error.clone());
        }
    }
    PrepullerStatus {
        config: config.images.prepuller_options(),
        images,
        nodes,
    }
}

/// The images to prepull, most important first: one per digest (the digest's primary tag, so
/// pod names read as the image people know), arch-specific ones left out (behaviour §8.4);
/// then the lab's init container images, which every spawn pulls too.
pub fn prepull_images(listing: &Listing) -> Vec<PrepullImage> {
    let prepull = &listing.to_prepull;
    let primaries = prepull.subtract(&prepull.with_digests(std::iter::empty()));
    primaries
        .all_images(Hidden::ARCH_SPECIFIC)
        .into_iter()
        .map(|image| PrepullImage {
            tag: image.name().to_owned(),
            reference_with_digest: image.reference_with_digest(),
            digest: image.digest().to_owned(),
            platforms: image.platforms(),
        })
        .chain(listing.init_images.iter().cloned())
        .collect()
}

/// The pulls still needed on eligible nodes, from the world's presence (which counts the
/// pulls the prepuller saw succeed).
pub fn prepull_plan(world: &World) -> PrepullPlan {
    plan_for_images(world, &prepull_images(&world.listing))
}

/// [`prepull_plan`] for prepull images the caller computed already.
pub fn plan_for_images(world: &World, images: &[PrepullImage]) -> PrepullPlan {
    plan_with_presence(images, world.eligible_nodes(), &world.presence)
}

/// For each prepull image (in priority order), how many eligible nodes the plan still pulls
/// it onto: zero once it is on every eligible node.
pub fn missing_nodes_by_image(plan: &PrepullPlan, images: &[PrepullImage]) -> Vec<(String, u64)> {
    let mut missing: HashMap<&str, u64> = HashMap::new();
    for (_, image) in plan.pulls() {
        *missing.entry(image.digest.as_str()).or_default() += 1;
    }
    images
        .iter()
        .map(|image| {
            let count = missing.get(image.digest.as_str()).copied().unwrap_or(0);
            (image.tag.clone(), count)
        })
        .collect()
}

/// The number of eligible nodes, and of ineligible ones by reason.
pub fn nodes_by_eligibility(world: &World) -> (u64, Vec<(IneligibleReason, u64)>) {
    let mut eligible = 0;
    let mut ineligible: BTreeMap<IneligibleReason, u64> = BTreeMap::new();
    for eligibility in &world.eligibility {
        match eligibility.reason() {
            None => eligible += 1,
            Some(reason) => *ineligible.entry(reason).or_default() += 1,
        }
    }
    (eligible, ineligible.into_iter().collect())
}
