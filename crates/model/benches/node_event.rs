//! What one node event costs the node snapshot and the prepull plan (issue 16): the next
//! `SelectedNodes` made from the last one (`with_node` / `without_node`), the nodes that
//! changed found (`changed_since`), their remembered pulls followed (`follow_reports_of`) and
//! their part of the plan made again (`PrepullPlan::update_node`), as the node watcher and the
//! prepuller do per event; against `rebuild`, what every event cost before: the snapshot from
//! the whole list, every node's pulls followed, and the whole plan.
//!
//! Run: `cargo bench -p rsp-model --bench node_event`. Figures are recorded in BENCHMARKS.md.
//!
//! The cluster is generated and deterministic: 500 or 5,000 lab nodes, each reporting 50
//! images (with sizes) out of 100 digests, each node a different 50; ten prepull images, a
//! pull remembered on every node; one node in ten cordoned.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use rsp_model::node::{CachedImage, NodeInfo};
use rsp_model::plan::{
    plan_for_selected, NodeStatusMaxImages, PrepullImage, PrepullPlan, PulledSet,
};
use rsp_model::platform::Platforms;
use rsp_model::selected::SelectedNodes;

const IMAGES_PER_NODE: usize = 50;
const DIGESTS: usize = 100;
const PREPULL_IMAGES: usize = 10;
const MAX_IMAGES: NodeStatusMaxImages = NodeStatusMaxImages::Limit(50);

fn digest(d: usize) -> String {
    format!("sha256:{d:064x}")
}

fn cached(d: usize) -> CachedImage {
    CachedImage {
        references: vec![
            format!(
                "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab@{}",
                digest(d)
            )
            .into(),
            format!("us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab:w_2077_{d:02}")
                .into(),
        ],
        size: Some(5_000_000_000 + d as u64),
    }
}

fn node_name(i: usize) -> String {
    format!("lab-node-{i:05}")
}

fn node(i: usize) -> NodeInfo {
    NodeInfo {
        name: node_name(i),
        labels: BTreeMap::from([
            ("nublado.lsst.io/lab".into(), "true".into()),
            ("kubernetes.io/arch".into(), "amd64".into()),
            ("kubernetes.io/os".into(), "linux".into()),
        ]),
        unschedulable: i % 10 == 9,
        ready: Some(true),
        images: (0..IMAGES_PER_NODE)
            .map(|k| cached((i * 7 + k) % DIGESTS))
            .collect(),
        ..NodeInfo::default()
    }
}

fn images() -> Vec<PrepullImage> {
    (0..PREPULL_IMAGES)
        .map(|d| PrepullImage {
            tag: format!("w_2077_{d:02}"),
            reference_with_digest: format!(
                "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab:w_2077_{d:02}@{}",
                digest(d)
            ),
            digest: digest(d),
            platforms: Platforms::Unknown,
        })
        .collect()
}

/// Everything the prepuller keeps between events.
struct World {
    nodes: Vec<Arc<NodeInfo>>,
    snapshot: SelectedNodes,
    pulled: Arc<PulledSet>,
    plan: PrepullPlan,
    images: Vec<PrepullImage>,
}

fn world(count: usize) -> World {
    let nodes: Vec<Arc<NodeInfo>> = (0..count).map(|i| Arc::new(node(i))).collect();
    let selector = BTreeMap::from([("nublado.lsst.io/lab".to_owned(), "true".to_owned())]);
    let snapshot = SelectedNodes::new(nodes.iter().cloned(), &selector, &[]);
    let mut pulled = PulledSet::default();
    for (i, node) in nodes.iter().enumerate() {
        pulled.insert_reported(node, &digest(i % PREPULL_IMAGES));
    }
    let images = images();
    let plan = plan_for_selected(&images, &snapshot, &pulled);
    World {
        nodes,
        snapshot,
        pulled: Arc::new(pulled),
        plan,
        images,
    }
}

/// One event, as the node watcher and the prepuller handle it. What is dropped (the plan,
/// the snapshot and pulls made) is returned, so that criterion drops it outside the timing,
/// as the prepuller keeps it.
fn incremental(
    world: &World,
    mut plan: PrepullPlan,
    next: Option<SelectedNodes>,
) -> (PrepullPlan, Option<(SelectedNodes, Arc<PulledSet>)>) {
    let Some(next) = next else {
        return (plan, None);
    };
    let Some(changed) = next.changed_since(&world.snapshot, usize::MAX) else {
        return (plan, None);
    };
    // Shared with the world, as with a published status: copied only if a pull changes.
    let mut pulled = Arc::clone(&world.pulled);
    PulledSet::follow_reports_of(&mut pulled, &next, &changed, MAX_IMAGES);
    for node in &changed {
        plan.update_node(&next, node, &pulled);
    }
    (plan, Some((next, pulled)))
}

fn node_event(c: &mut Criterion) {
    let mut group = c.benchmark_group("node_event");
    for count in [500, 5_000] {
        let world = world(count);
        let middle = count / 2;
        let changed = |change: &dyn Fn(&mut NodeInfo)| {
            let mut node = NodeInfo::clone(&world.nodes[middle]);
            change(&mut node);
            Arc::new(node)
        };
        let events: Vec<(&str, Arc<NodeInfo>)> = vec![
            ("cordon", changed(&|node| node.unschedulable = true)),
            (
                "new_image",
                changed(&|node| {
                    node.images.pop();
                    node.images.insert(0, cached(DIGESTS + 1));
                }),
            ),
            ("join", {
                let mut joining = node(count);
                joining.name = format!("{}-joined", node_name(middle));
                Arc::new(joining)
            }),
            ("heartbeat", changed(&|_| {})),
        ];
        for (name, node) in events {
            group.bench_with_input(BenchmarkId::new(name, count), &node, |b, node| {
                b.iter_batched(
                    || world.plan.clone(),
                    |plan| {
                        let next = world.snapshot.with_node(Arc::clone(node));
                        black_box(incremental(&world, plan, next))
                    },
                    BatchSize::LargeInput,
                )
            });
        }
        let leaving = node_name(middle);
        group.bench_with_input(BenchmarkId::new("leave", count), &leaving, |b, leaving| {
            b.iter_batched(
                || world.plan.clone(),
                |plan| {
                    let next = world.snapshot.without_node(leaving);
                    black_box(incremental(&world, plan, next))
                },
                BatchSize::LargeInput,
            )
        });
        let cordoned = changed(&|node| node.unschedulable = true);
        group.bench_with_input(
            BenchmarkId::new("rebuild", count),
            &cordoned,
            |b, cordoned| {
                let mut nodes = world.nodes.clone();
                nodes[middle] = Arc::clone(cordoned);
                let selector =
                    BTreeMap::from([("nublado.lsst.io/lab".to_owned(), "true".to_owned())]);
                b.iter(|| {
                    let next = SelectedNodes::new(nodes.iter().cloned(), &selector, &[]);
                    let followed = world.pulled.follow_reports(next.nodes(), MAX_IMAGES);
                    let pulled = followed.as_ref().unwrap_or(&*world.pulled);
                    let plan = plan_for_selected(&world.images, &next, pulled);
                    black_box((next, plan))
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = node_event
}
criterion_main!(benches);
