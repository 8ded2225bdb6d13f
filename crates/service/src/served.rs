//! What rsp-images serves, as pure functions of one [`ListingOnNodes`]: a registry listing
//! laid over the selected nodes and where each digest is cached (behaviour §8.4, §9.1–§9.4).
//! The spawner API's bodies, the answers to "which image is this?" (the registry asked only
//! for a Docker tag outside the listing, through [`DigestLookup`]), the prepull images, the
//! plan and the counts `/metrics` shows.
//!
//! The live service (`crate::snapshot`), the `plan` command and the tests compute the same
//! answers from the same inputs. A `ListingOnNodes` is rebuilt whenever one of its inputs
//! changes (a refresh, a node event, a finished prepull); rebuilding is cheap because the
//! catalog and the prepull images are shared while the listing stays, the node snapshot
//! (eligibility, what nodes report) is shared as the node watcher made it, and only the
//! remembered pulls are added to the snapshot's presence.

use chrono::{DateTime, Utc};
use rsp_config::Config;
use rsp_kube::prepuller::PrepullerReport;
use rsp_model::api::{
    BorrowedSpawnerImages, MenuImage, MenuImages, NodeImage, NodeStatus, PrepulledImage,
    PrepullerImages, PrepullerStatus, ResolvedImage, SpawnerEntry,
};
use rsp_model::catalog::Hidden;
use rsp_model::catalog::{Image, NodePresence, NodeSet};
use rsp_model::collection::{ArchSpecific, FilterSide};
use rsp_model::lab::ImageSelection;
use rsp_model::listing::{Listing, LookupError};
use rsp_model::node::{Eligibility, IneligibleReason, NodeInfo};
use rsp_model::plan::{plan_with_presence, PrepullImage, PrepullPlan, PulledSet};
use rsp_model::platform::{PlatformSupport, Platforms};
use rsp_model::reference::TagReference;
use rsp_model::selected::SelectedNodes;
use rsp_model::TagKind;
use rsp_registry::source::{image_for_reference, image_for_tag_asking_registry, DigestLookup};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, OnceLock};

use crate::warm::WarmNodes;

/// The nodes of a list that `lab.nodeSelector` selects, judged with the configured
/// tolerations: a node snapshot as the node watcher makes it, for nodes read otherwise (a
/// NodeList file). The nodes are taken, not copied: at 5,000 nodes their image names are
/// tens of megabytes, and a copy beside the list read would double them at start-up.
pub fn select_nodes(nodes: impl IntoIterator<Item = NodeInfo>, config: &Config) -> SelectedNodes {
    SelectedNodes::from_owned(
        nodes,
        &config.lab.node_selector,
        &config.eligibility_tolerations(),
    )
}

/// One registry listing on one snapshot of the selected nodes: everything the answers are
/// computed from.
#[derive(Debug, Clone)]
pub struct ListingOnNodes {
    pub listing: Arc<Listing>,
    /// The listing's prepull images ([`Listing::prepull_images`]), made once per listing and
    /// shared by every `ListingOnNodes` of it and by the prepuller.
    pub prepull_images: Arc<[PrepullImage]>,
    /// Nodes matching the lab node selector, in listing order, with their eligibility:
    /// the node watcher's snapshot itself, shared with the prepuller.
    pub nodes: Arc<SelectedNodes>,
    /// Where each digest is cached, pulls the prepuller saw succeed included, and each init
    /// container image known by name only. Its sizes are the nodes' reports: read them
    /// through [`ListingOnNodes::size`].
    pub presence: Presence,
    /// The eligible nodes: an image is prepulled when all of them that its platforms
    /// allow cache it ([`ListingOnNodes::eligible_for`]).
    pub eligible: NodeSet,
    /// The distinct platforms (`kubernetes.io/os`, `kubernetes.io/arch`) of eligible nodes:
    /// usually one or two, so an image's platforms are compared with these, not with every
    /// node.
    platforms: Vec<(Option<String>, Option<String>)>,
    /// Warm nodes, when `prepuller.warmTaint` is configured: the nodes carrying the taint.
    pub warm: Option<WarmNodes>,
    /// What `/metrics` counts of it, made at the first scrape.
    counts: OnceLock<MetricCounts>,
}

/// Where each digest is cached, for one listing on nodes: the node snapshot's own presence
/// when nothing is to be added to it (no remembered pull, no init image known by name only),
/// shared rather than copied since at 5,000 nodes a presence is tens of megabytes (a bit set
/// of every node per digest); else a copy completed with those. Reads as a [`NodePresence`].
#[derive(Debug, Clone)]
pub enum Presence {
    /// What the nodes report, as the node snapshot computed it.
    Reported(Arc<SelectedNodes>),
    /// What the nodes report plus the remembered pulls and the init images found by name.
    Completed(NodePresence),
}

impl std::ops::Deref for Presence {
    type Target = NodePresence;

    fn deref(&self) -> &NodePresence {
        match self {
            Presence::Reported(nodes) => nodes.reported(),
            Presence::Completed(presence) => presence,
        }
    }
}

impl PartialEq for Presence {
    fn eq(&self, other: &Presence) -> bool {
        **self == **other
    }
}

/// What `/metrics` counts of a listing on nodes: the nodes by eligibility, and how far the
/// prepull images are from every eligible node they run on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCounts {
    pub eligible_nodes: u64,
    /// Ineligible nodes by reason (reasons without a node left out).
    pub ineligible_nodes: Vec<(IneligibleReason, u64)>,
    /// (node, image) pairs still to pull, each digest counted once.
    pub missing_pairs: u64,
    /// For each prepull image (in priority order), the eligible nodes without it: zero once
    /// it is on every eligible node it runs on.
    pub missing_by_image: Vec<(String, u64)>,
}

impl ListingOnNodes {
    /// Combines a listing with nodes and the pulls the prepuller saw succeed (copies the
    /// nodes; the service shares the node watcher's snapshot with
    /// [`ListingOnNodes::from_shared`]).
    pub fn new(
        listing: Arc<Listing>,
        nodes: &[NodeInfo],
        config: &Config,
        pulled: &PulledSet,
    ) -> ListingOnNodes {
        ListingOnNodes::from_shared(
            listing,
            Arc::new(select_nodes(nodes.iter().cloned(), config)),
            config,
            pulled,
        )
    }

    /// As [`ListingOnNodes::new`], for nodes selected and judged already with this
    /// configuration ([`select_nodes`], or the node watcher): their eligibility and reported
    /// presence are taken as they are.
    pub fn from_shared(
        listing: Arc<Listing>,
        nodes: Arc<SelectedNodes>,
        config: &Config,
        pulled: &PulledSet,
    ) -> ListingOnNodes {
        let prepull_images = Arc::clone(listing.prepull_images());
        let warm = WarmNodes::of(config, nodes.iter());
        // A remembered pull that the nodes' reports prove evicted is not cached any more,
        // whatever replica keeps the memory.
        let followed =
            pulled.follow_reports(nodes.nodes(), config.prepuller.node_status_max_images);
        let pulled = followed.as_ref().unwrap_or(pulled);
        let adds_names = listing.init_images.iter().any(PrepullImage::known_by_name);
        // The sizes nodes report stay in either form; `ListingOnNodes::size` decides whether
        // they count, so that the node snapshot's presence can be used as it is.
        let presence = if pulled.is_empty() && !adds_names {
            Presence::Reported(Arc::clone(&nodes))
        } else {
            let mut presence = nodes.reported().with_pulled(pulled);
            presence.mark_names(nodes.iter(), &listing.init_images);
            Presence::Completed(presence)
        };
        let mut world = ListingOnNodes {
            listing,
            prepull_images,
            nodes,
            presence,
            eligible: NodeSet::default(),
            platforms: Vec::new(),
            warm,
            counts: OnceLock::new(),
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

    /// What `/metrics` counts of it ([`metric_counts`]), counted at the first call and kept:
    /// every scrape of this listing on nodes reads the same counts.
    pub fn metric_counts(&self) -> &MetricCounts {
        self.counts.get_or_init(|| metric_counts(self))
    }

    /// The size shown for a digest: what nodes report when the listing takes sizes from them
    /// (a Docker tag list has none) or for an init container image known by name only (the
    /// registry was not asked), else `registry` (the catalog's size).
    pub fn size(&self, digest: &str, registry: Option<u64>) -> Option<u64> {
        let by_name = || {
            self.listing
                .init_images
                .iter()
                .any(|image| image.known_by_name() && image.digest == digest)
        };
        if self.listing.sizes_from_nodes || by_name() {
            self.presence.size(digest).or(registry)
        } else {
            registry
        }
    }

    /// Whether this was built from exactly this node snapshot.
    pub fn built_from(&self, nodes: &Arc<SelectedNodes>) -> bool {
        Arc::ptr_eq(&self.nodes, nodes)
    }

    /// The selected nodes with their eligibility.
    pub fn entries(&self) -> impl Iterator<Item = (&NodeInfo, &Eligibility)> {
        self.nodes.entries()
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
        // Most images say nothing of their platforms, and then every eligible node fits: the
        // /images body asks this of every listed image.
        if matches!(platforms, Platforms::Unknown) {
            return Cow::Borrowed(&self.eligible);
        }
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

/// Body of `GET /spawner/v1/images`, borrowed from the listing on nodes (`into_owned` for values).
pub fn spawner_images<'a>(
    world: &'a ListingOnNodes,
    recommended_tag: &str,
) -> BorrowedSpawnerImages<'a> {
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
    BorrowedSpawnerImages {
        recommended: prepull.get(recommended_tag).map(|i| world.entry(i)),
        latest_weekly: prepull.latest(TagKind::Weekly).map(|i| world.entry(i)),
        latest_daily: prepull.latest(TagKind::Daily).map(|i| world.entry(i)),
        latest_release: prepull.latest(TagKind::Release).map(|i| world.entry(i)),
        all,
    }
}

/// `GET /spawner/v1/images/{tag}`: the image of a tag from the listing alone, without a
/// digest for Docker tags outside the prepull set (answering must not wait for the registry;
/// compare [`image_for_tag_asking_registry`]).
pub fn listed_image_for_tag(
    world: &ListingOnNodes,
    tag: &str,
) -> Result<PrepulledImage, LookupError> {
    let listing = &world.listing;
    if let Some(image) = listing.catalog.get(tag) {
        return Ok(world.entry(image).into_owned());
    }
    let known = listing
        .tags
        .as_ref()
        .and_then(|tags| tags.get(tag))
        .ok_or_else(|| LookupError::tag_not_found(tag))?;
    Ok(PrepulledImage::without_digest(
        listing.catalog.registry(),
        listing.catalog.repository(),
        known,
    ))
}

/// `POST /spawner/v1/images/resolve`: the image a spawner's selection names, from the listing;
/// a reference or tag outside it asks `registry` for the tag's digest now.
pub async fn resolve(
    listing: &Listing,
    selection: ImageSelection,
    recommended_tag: &str,
    registry: &impl DigestLookup,
) -> Result<ResolvedImage, LookupError> {
    match selection {
        ImageSelection::List(reference) | ImageSelection::Dropdown(reference) => {
            image_for_reference(registry, listing, &reference).await
        }
        ImageSelection::Class(class) => listing.image_for_class(class, recommended_tag),
        ImageSelection::Tag(tag) => image_for_tag_asking_registry(registry, listing, &tag).await,
    }
}

/// Body of `GET /spawner/v1/menu`: prepulled images for the radio buttons (the recommended
/// one first, whether prepulled or not), and the dropdown filtered by `dropdownMenu`.
pub fn menu(world: &ListingOnNodes, config: &Config, now: DateTime<Utc>) -> MenuImages {
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
pub fn prepull_errors(puller: &PrepullerReport) -> PrepullErrors {
    puller
        .pulls
        .iter()
        .filter_map(|(key, pull)| Some((key.clone(), pull.last_error.clone()?)))
        .collect()
}

/// Body of `GET /spawner/v1/prepulls`.
pub fn prepuller_status(
    world: &ListingOnNodes,
    config: &Config,
    errors: &PrepullErrors,
) -> PrepullerStatus {
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
    // The errors by digest, borrowed: finding an image's errors allocates nothing.
    let mut errors_by_digest: HashMap<&str, Vec<(&str, &str)>> = HashMap::new();
    for ((node, digest), error) in errors {
        errors_by_digest
            .entry(digest.as_str())
            .or_default()
            .push((node.as_str(), error.as_str()));
    }
    let mut images = PrepullerImages::default();
    for image in world.listing.to_prepull.all_images(Hidden {
        resolved_aliases: true,
        ..Hidden::ARCH_SPECIFIC
    }) {
        let runs_on = world.eligible_for(&image.platforms());
        let mut entry = NodeImage::from_image(image, &world.presence, &runs_on);
        entry.size = world.size(image.digest(), image.size());
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
        for &(node, error) in errors_by_digest.get(image.digest()).into_iter().flatten() {
            if index.contains_key(node) {
                entry.errors.insert(node.to_owned(), error.to_owned());
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

/// The pulls still needed on eligible nodes, from the presence (which counts the pulls the
/// prepuller saw succeed).
pub fn prepull_plan(world: &ListingOnNodes) -> PrepullPlan {
    plan_with_presence(
        &world.prepull_images,
        world.eligible_nodes(),
        &world.presence,
    )
}

/// What `/metrics` counts of a listing on nodes: the nodes by eligibility
/// ([`nodes_by_eligibility`]) and, per prepull image, the eligible nodes its platforms allow
/// that do not cache its digest, counted from the presence's bit sets without building the
/// plan (which copies every missing pair).
pub fn metric_counts(world: &ListingOnNodes) -> MetricCounts {
    let mut counted = HashSet::new();
    let mut pairs = 0;
    let by_image = world
        .prepull_images
        .iter()
        .map(|image| {
            let runs_on = world.eligible_for(&image.platforms);
            let missing = world.presence.missing(&image.digest, &runs_on).count() as u64;
            if counted.insert(image.digest.as_str()) {
                pairs += missing;
            }
            (image.tag.clone(), missing)
        })
        .collect();
    let (eligible_nodes, ineligible_nodes) = nodes_by_eligibility(world);
    MetricCounts {
        eligible_nodes,
        ineligible_nodes,
        missing_pairs: pairs,
        missing_by_image: by_image,
    }
}

/// The number of eligible nodes, and of ineligible ones by reason.
pub fn nodes_by_eligibility(world: &ListingOnNodes) -> (u64, Vec<(IneligibleReason, u64)>) {
    let mut eligible = 0;
    let mut ineligible: BTreeMap<IneligibleReason, u64> = BTreeMap::new();
    for eligibility in world.nodes.eligibility() {
        match eligibility.reason() {
            None => eligible += 1,
            Some(reason) => *ineligible.entry(reason).or_default() += 1,
        }
    }
    (eligible, ineligible.into_iter().collect())
}
