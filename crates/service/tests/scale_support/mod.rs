//! A generated status of a large cluster, for the status pages' size test and benchmark: any
//! number of nodes × 8 prepull images (one release, four weeklies, three dailies), in one of
//! several [`Pattern`]s of cached, pulling, failing, missing and ineligible pairs.
//!
//! Everything is as long as Kubernetes allows or longer, to find the heaviest page: node names
//! of 253 characters (the DNS subdomain limit), pull errors full of characters that HTML
//! escaping lengthens (`<`, `&`, quotes), one node in a thousand with a 3,000-character error,
//! and taint values that give every ineligible node a reason of its own.

#![allow(dead_code)] // The test and the benchmark use different parts.

use rsp_config::Config;
use rsp_kube::prepuller::{PrepullerReport, PullStatus};
use rsp_model::catalog::ListedImage;
use rsp_model::listing::Listing;
use rsp_model::node::{CachedImage, ImageNames, NodeInfo, Taint};
use rsp_model::plan::PulledSet;
use rsp_model::Tag;
use rsp_service::served::{select_nodes, ListingOnNodes};
use rsp_service::status::{FormUsers, LabFormSetup, RefreshReport, StatusGrid, StatusReport};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

const REGISTRY: &str = "us-central1-docker.pkg.dev";
const REPOSITORY: &str = "rubin-shared/sciplat/sciplat-lab";

const CONFIG: &str = "
images:
  source:
    type: docker
    registry: us-central1-docker.pkg.dev
    repository: rubin-shared/sciplat/sciplat-lab
  recommendedTag: recommended
  numReleases: 1
  numWeeklies: 4
  numDailies: 3
";

/// The prepull images: `(tag, digest number)`; `recommended` shares the newest weekly's.
const TAGS: [(&str, u64); 9] = [
    ("r28_0_0", 1),
    ("w_2077_40", 2),
    ("w_2077_41", 3),
    ("w_2077_42", 4),
    ("w_2077_43", 5),
    ("recommended", 5),
    ("d_2077_10_21", 6),
    ("d_2077_10_22", 7),
    ("d_2077_10_23", 8),
];

/// How the (node, image) pairs stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Every node caches every image.
    AllCached,
    /// Every pair is being pulled.
    AllPulling,
    /// Every pair's last pull failed, with a long hostile error.
    AllFailing,
    /// Nothing cached, nothing under way.
    AllMissing,
    /// A bit of everything, one in ten nodes ineligible.
    Mixed,
    /// Every node ineligible, each for a reason of its own.
    AllIneligible,
}

pub const PATTERNS: [Pattern; 6] = [
    Pattern::AllCached,
    Pattern::AllPulling,
    Pattern::AllFailing,
    Pattern::AllMissing,
    Pattern::Mixed,
    Pattern::AllIneligible,
];

/// What the pair of node `node` and image `image` is in `pattern`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pair {
    Cached,
    Pulling,
    Failing,
    Missing,
}

fn pair(pattern: Pattern, node: usize, image: usize) -> Pair {
    match pattern {
        Pattern::AllCached => Pair::Cached,
        Pattern::AllPulling => Pair::Pulling,
        Pattern::AllFailing => Pair::Failing,
        Pattern::AllMissing | Pattern::AllIneligible => Pair::Missing,
        Pattern::Mixed => match (node + image) % 4 {
            0 | 1 => Pair::Cached,
            2 => Pair::Failing,
            _ if node.is_multiple_of(2) => Pair::Pulling,
            _ => Pair::Missing,
        },
    }
}

/// A valid node name of exactly 253 characters, unique per `i`.
pub fn node_name(i: usize) -> String {
    let label = "x".repeat(63);
    let name = format!("{label}.{label}.{label}.{}-{i:05}", "n".repeat(55));
    debug_assert_eq!(name.len(), 253);
    name
}

/// The node whose errors are the longest (3,000 characters).
pub fn long_error_node() -> String {
    node_name(0)
}

fn error(node: usize) -> String {
    let unit = "<b>ErrImagePull</b> & \"rpc error\": 'failed to pull' ";
    let length = if node.is_multiple_of(1_000) {
        3_000
    } else {
        300
    };
    unit.chars().cycle().take(length).collect()
}

use rsp_testkit::builders::digest;

fn config() -> Config {
    Config::from_yaml(CONFIG)
        .expect("the scale configuration is valid")
        .0
}

fn listing(config: &Config) -> Listing {
    let images = TAGS
        .iter()
        .map(|(tag, n)| ListedImage {
            tag: Tag::parse(tag),
            digest: digest(*n),
            size: Some(4 << 30),
            platforms: Default::default(),
        })
        .collect();
    Listing::complete(REGISTRY, REPOSITORY, images, &config.images.listing_rules())
}

/// The status of `nodes` nodes in `pattern`, as a service would serve it.
pub fn report(nodes: usize, pattern: Pattern) -> StatusReport {
    let (world, puller, refresh) = inputs(nodes, pattern);
    StatusReport {
        refresh,
        leader: true,
        prepulling: true,
        grid: Arc::new(StatusGrid::build(world, &puller)),
        tasks: Vec::new(),
        // A production setup: the form's notices are not what these pages measure.
        lab_form: LabFormSetup {
            users: FormUsers::Authenticated,
            sizes: 4,
        },
    }
}

/// What [`report`] is made of: the snapshot, the prepuller's report and the refresh record.
pub fn inputs(
    nodes: usize,
    pattern: Pattern,
) -> (Arc<ListingOnNodes>, PrepullerReport, RefreshReport) {
    let config = config();
    let listing = Arc::new(listing(&config));
    let images = Arc::clone(listing.prepull_images());
    assert_eq!(images.len(), 8, "the scale fixture has 8 prepull images");
    let now = SystemTime::now();
    let mut puller = PrepullerReport::default();
    // As the node watcher makes them: each image name once for all nodes, each node moved
    // into the snapshot rather than copied.
    let mut names = ImageNames::default();
    let node_list: Vec<NodeInfo> = (0..nodes)
        .map(|i| {
            let name = node_name(i);
            let mut cached = Vec::new();
            for (j, image) in images.iter().enumerate() {
                let key = (name.clone(), image.digest.clone());
                match pair(pattern, i, j) {
                    Pair::Cached => cached.push(CachedImage {
                        references: vec![
                            names.share(&format!("{REGISTRY}/{REPOSITORY}@{}", image.digest))
                        ],
                        size: Some(4 << 30),
                    }),
                    Pair::Pulling => {
                        let mut status = PullStatus::new(name.clone(), image.clone());
                        status.pulling_since = Some((now - Duration::from_secs(40)).into());
                        puller.pulls.insert(key, status);
                    }
                    Pair::Failing => {
                        let mut status = PullStatus::new(name.clone(), image.clone());
                        status.failures = 3;
                        status.last_error = Some(error(i));
                        status.last_error_at = Some((now - Duration::from_secs(90)).into());
                        status.backing_off_until = Some((now + Duration::from_secs(600)).into());
                        puller.pulls.insert(key, status);
                    }
                    Pair::Missing => {}
                }
            }
            let ineligible = match pattern {
                Pattern::AllIneligible => true,
                Pattern::Mixed => i % 10 == 9,
                _ => false,
            };
            NodeInfo {
                taints: ineligible
                    .then(|| Taint {
                        key: "example.com/maintenance-window".to_owned(),
                        value: Some(format!("{}-{i}", "w".repeat(56))),
                        effect: "NoSchedule".to_owned(),
                    })
                    .into_iter()
                    .collect(),
                ready: Some(true),
                labels: [
                    ("kubernetes.io/arch", "amd64"),
                    ("kubernetes.io/os", "linux"),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
                images: cached,
                name,
                ..NodeInfo::default()
            }
        })
        .collect();
    let world = ListingOnNodes::from_shared(
        listing,
        Arc::new(select_nodes(node_list, &config)),
        &config,
        &PulledSet::default(),
    );
    let refresh = RefreshReport {
        source: format!("{REGISTRY}/{REPOSITORY} (docker)"),
        last_success: Some(now - Duration::from_secs(600)),
        last_error: Some((error(0), now - Duration::from_secs(30))),
        failing_since: Some(now - Duration::from_secs(300)),
        consecutive_failures: 2,
    };
    (Arc::new(world), puller, refresh)
}
