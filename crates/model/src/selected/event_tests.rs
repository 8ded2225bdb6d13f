//! Node events applied one at a time ([`SelectedNodes::with_node`], `without_node`,
//! [`PrepullPlan::update_node`]) against a rebuild from the whole list: the incremental path
//! exists only for speed, so it must give exactly what a rebuild gives, after any sequence
//! of joins, leaves, cordons, taints, label changes, images reported or evicted, and
//! heartbeats that change nothing.

use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::SelectedNodes;
use crate::node::{CachedImage, NodeInfo, Taint, Toleration};
use crate::plan::{plan_for_selected, PrepullImage, PrepullPlan, PulledSet};
use crate::platform::{Platform, Platforms};

const NAMES: usize = 8;
const DIGESTS: usize = 6;

/// What a node looks like, in a few bytes.
#[derive(Debug, Clone)]
struct Spec {
    in_pool: bool,
    arm: bool,
    unschedulable: bool,
    ready: Option<bool>,
    taint: u8,
    /// (image, size) pairs, in kubelet's order; size 0 is kubelet's "unknown".
    images: Vec<(usize, u64)>,
}

#[derive(Debug, Clone)]
enum Event {
    /// A node joins, or is replaced whole.
    Apply(usize, Spec),
    Leave(usize),
    Cordon(usize, bool),
    Ready(usize, Option<bool>),
    Taint(usize, u8),
    /// The node gains or loses the selector's label.
    Label(usize, bool),
    /// kubelet reports an image (again, or with another size).
    Report(usize, usize, u64),
    Evict(usize, usize),
    /// A status update that changes nothing rsp-images reads.
    Heartbeat(usize),
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.2),
        prop::option::of(any::<bool>()),
        0u8..3,
        prop::collection::vec((0..DIGESTS, 0u64..3), 0..5),
    )
        .prop_map(|(in_pool, arm, unschedulable, ready, taint, images)| Spec {
            in_pool: in_pool || !arm,
            arm,
            unschedulable,
            ready,
            taint,
            images,
        })
}

fn event() -> impl Strategy<Value = Event> {
    let name = 0..NAMES;
    prop_oneof![
        (name.clone(), spec()).prop_map(|(n, s)| Event::Apply(n, s)),
        name.clone().prop_map(Event::Leave),
        (name.clone(), any::<bool>()).prop_map(|(n, c)| Event::Cordon(n, c)),
        (name.clone(), prop::option::of(any::<bool>())).prop_map(|(n, r)| Event::Ready(n, r)),
        (name.clone(), 0u8..3).prop_map(|(n, t)| Event::Taint(n, t)),
        (name.clone(), any::<bool>()).prop_map(|(n, l)| Event::Label(n, l)),
        (name.clone(), 0..DIGESTS, 0u64..3).prop_map(|(n, d, s)| Event::Report(n, d, s)),
        (name.clone(), 0..DIGESTS).prop_map(|(n, d)| Event::Evict(n, d)),
        name.prop_map(Event::Heartbeat),
    ]
}

fn node_name(n: usize) -> String {
    format!("node{n}")
}

/// Image `d` as kubelet lists it; the last one is only known by its name (an init container
/// image whose digest the registry has not told yet).
fn cached(d: usize, size: u64) -> CachedImage {
    let references = if d == DIGESTS - 1 {
        vec![
            "docker.io/example/setup@sha256:f".into(),
            "docker.io/example/setup:0.0.1".into(),
        ]
    } else {
        vec![format!("r/x@sha256:{d}").into(), format!("r/x:t{d}").into()]
    };
    CachedImage {
        references,
        size: Some(size),
    }
}

fn taint(kind: u8) -> Vec<Taint> {
    let taint = |key: &str| Taint {
        key: key.into(),
        value: Some("v".into()),
        effect: "NoSchedule".into(),
    };
    match kind {
        0 => Vec::new(),
        1 => vec![taint("tolerated")],
        _ => vec![taint("other")],
    }
}

fn label(node: &mut NodeInfo, in_pool: bool) {
    let pool = if in_pool { "lab" } else { "other" };
    node.labels.insert("pool".into(), pool.into());
}

fn node_info(n: usize, spec: &Spec) -> NodeInfo {
    let mut node = NodeInfo {
        name: node_name(n),
        labels: BTreeMap::from([
            ("kubernetes.io/os".into(), "linux".into()),
            (
                "kubernetes.io/arch".into(),
                if spec.arm { "arm64" } else { "amd64" }.into(),
            ),
        ]),
        taints: taint(spec.taint),
        unschedulable: spec.unschedulable,
        ready: spec.ready,
        ready_since: None,
        images: spec.images.iter().map(|&(d, s)| cached(d, s)).collect(),
    };
    label(&mut node, spec.in_pool);
    node
}

/// The cluster after `event`: the changed node's new state, or `None` when it is gone.
fn apply(cluster: &mut BTreeMap<String, NodeInfo>, event: &Event) -> (String, Option<NodeInfo>) {
    let n = match event {
        Event::Apply(n, _)
        | Event::Leave(n)
        | Event::Cordon(n, _)
        | Event::Ready(n, _)
        | Event::Taint(n, _)
        | Event::Label(n, _)
        | Event::Report(n, _, _)
        | Event::Evict(n, _)
        | Event::Heartbeat(n) => *n,
    };
    let name = node_name(n);
    match event {
        Event::Apply(_, spec) => {
            cluster.insert(name.clone(), node_info(n, spec));
        }
        Event::Leave(_) => {
            cluster.remove(&name);
        }
        _ => {
            if let Some(node) = cluster.get_mut(&name) {
                match event {
                    Event::Cordon(_, cordoned) => node.unschedulable = *cordoned,
                    Event::Ready(_, ready) => node.ready = *ready,
                    Event::Taint(_, kind) => node.taints = taint(*kind),
                    Event::Label(_, in_pool) => label(node, *in_pool),
                    Event::Report(_, d, size) => {
                        node.images
                            .retain(|image| image.references != cached(*d, 0).references);
                        // kubelet lists the largest first.
                        let at = node
                            .images
                            .partition_point(|image| image.size >= Some(*size));
                        node.images.insert(at, cached(*d, *size));
                    }
                    Event::Evict(_, d) => node
                        .images
                        .retain(|image| image.references != cached(*d, 0).references),
                    _ => {}
                }
            }
        }
    }
    let now = cluster.get(&name).cloned();
    (name, now)
}

fn images() -> Vec<PrepullImage> {
    let image = |tag: &str, d: usize| PrepullImage {
        tag: tag.into(),
        reference_with_digest: format!("r/x:{tag}@sha256:{d}"),
        digest: format!("sha256:{d}"),
        platforms: Platforms::Unknown,
    };
    let amd64_only = PrepullImage {
        platforms: Platforms::known([Platform::new("linux", "amd64")]),
        ..image("t1", 1)
    };
    vec![
        image("t0", 0),
        amd64_only,
        image("recommended", 0),
        image("t2", 2),
        crate::init_image::InitImage::new("example/setup", "0.0.1").prepull_image(),
    ]
}

fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([("pool".to_owned(), "lab".to_owned())])
}

fn tolerations() -> Vec<Toleration> {
    vec![Toleration {
        key: Some("tolerated".into()),
        value: Some("v".into()),
        ..Toleration::default()
    }]
}

fn rebuild(cluster: &BTreeMap<String, NodeInfo>) -> SelectedNodes {
    SelectedNodes::from_owned(cluster.values().cloned(), &selector(), &tolerations())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any sequence of node events, applied one at a time to the snapshot and the plan,
    /// gives after every event the snapshot and the plan a rebuild from the whole list gives;
    /// an event that changes nothing gives no snapshot.
    #[test]
    fn node_events_give_the_snapshot_and_plan_of_the_whole_list(
        initial in prop::collection::vec(prop::option::of(spec()), NAMES),
        events in prop::collection::vec(event(), 0..40),
        pulls in prop::collection::vec((0..NAMES + 1, 0..DIGESTS), 0..6),
    ) {
        let images = images();
        let mut pulled = PulledSet::default();
        for (n, d) in pulls {
            pulled.insert(&node_name(n), &format!("sha256:{d}"));
        }
        let mut cluster: BTreeMap<String, NodeInfo> = initial
            .iter()
            .enumerate()
            .filter_map(|(n, spec)| Some((node_name(n), node_info(n, spec.as_ref()?))))
            .collect();
        let mut snapshot = rebuild(&cluster);
        let mut plan: PrepullPlan = plan_for_selected(&images, &snapshot, &pulled);
        for event in &events {
            let (name, now) = apply(&mut cluster, event);
            let next = match now {
                Some(node) => snapshot.with_node(Arc::new(node)),
                None => snapshot.without_node(&name),
            };
            let whole = rebuild(&cluster);
            if matches!(event, Event::Heartbeat(_)) {
                prop_assert!(next.is_none(), "a heartbeat gives no snapshot");
            }
            let Some(next) = next else {
                prop_assert_eq!(&snapshot, &whole, "no snapshot, yet the list changed");
                continue;
            };
            let changed = next.changed_since(&snapshot, usize::MAX);
            let changed = changed.expect("snapshots in name order are compared");
            prop_assert!(changed.iter().all(|changed| *changed == name), "{:?}", changed);
            for node in &changed {
                plan.update_node(&next, node, &pulled);
            }
            snapshot = next;
            prop_assert_eq!(&snapshot, &whole);
            prop_assert_eq!(&plan, &plan_for_selected(&images, &whole, &pulled));
            // Sets list their nodes by name, however the nodes were numbered.
            let eligible: Vec<&str> = whole.eligible().map(|node| node.name.as_str()).collect();
            let (mine, theirs) = (snapshot.reported(), whole.reported());
            let (my_set, their_set) = (
                mine.node_set(eligible.iter().copied()),
                theirs.node_set(eligible.iter().copied()),
            );
            prop_assert_eq!(&my_set, &their_set);
            for d in 0..DIGESTS {
                let digest = format!("sha256:{d}");
                prop_assert_eq!(
                    mine.nodes(&digest).collect::<Vec<_>>(),
                    theirs.nodes(&digest).collect::<Vec<_>>()
                );
                prop_assert_eq!(
                    mine.missing(&digest, &my_set).collect::<Vec<_>>(),
                    theirs.missing(&digest, &their_set).collect::<Vec<_>>()
                );
                prop_assert_eq!(mine.size(&digest), theirs.size(&digest));
                prop_assert_eq!(mine.is_on_all(&digest, &my_set), theirs.is_on_all(&digest, &their_set));
            }
        }
    }
}
