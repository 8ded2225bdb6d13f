//! The status pages at 5,000 nodes × 8 prepull images (the `Mixed` pattern of
//! `tests/scale_support`: cached, pulling, failing and missing pairs, one node in ten
//! ineligible, names of 253 characters).
//!
//! Run: `cargo bench -p rsp-service --bench status`. Figures are recorded in BENCHMARKS.md
//! ("Status pages").
//!
//! - `status/grid`: `StatusGrid::build`, every cell and summary of a snapshot (done once per
//!   snapshot, at the first page view).
//! - `status/overview`, `status/node_list`, `status/node_list_problems`, `status/node`: one
//!   page rendered from a built view (what every page view costs after the first).

#[path = "../tests/scale_support/mod.rs"]
mod scale_support;

use criterion::{criterion_group, criterion_main, Criterion};
use rsp_service::pages;
use rsp_service::status::{NodeQuery, NodeSort, StatusGrid};
use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

const NODES: usize = 5_000;

fn status_pages(c: &mut Criterion) {
    let (world, puller, _) = scale_support::inputs(NODES, scale_support::Pattern::Mixed);
    let view = scale_support::view(NODES, scale_support::Pattern::Mixed);
    let now = SystemTime::now();
    let node = scale_support::long_error_node();
    let problems = NodeQuery {
        sort: NodeSort::Problems,
        ..NodeQuery::default()
    };
    let mut group = c.benchmark_group("status");
    group.bench_function("grid", |b| {
        b.iter(|| StatusGrid::build(Arc::clone(&world), black_box(&puller)))
    });
    group.bench_function("overview", |b| {
        b.iter(|| pages::overview(black_box(&view), "/nublado", now))
    });
    group.bench_function("node_list", |b| {
        b.iter(|| pages::node_list(black_box(&view), &NodeQuery::default(), "/nublado", now))
    });
    group.bench_function("node_list_problems", |b| {
        b.iter(|| pages::node_list(black_box(&view), &problems, "/nublado", now))
    });
    group.bench_function("node", |b| {
        b.iter(|| pages::node_detail(black_box(&view), &node, "/nublado", now))
    });
    group.finish();
}

criterion_group!(benches, status_pages);
criterion_main!(benches);
