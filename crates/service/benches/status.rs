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
//!   page rendered from a built report (what every page view costs after the first).
//! - `status/metric_counts`: what `/metrics` counts of a snapshot (nodes by eligibility,
//!   missing pairs, eligible nodes missing each image), done once per listing on nodes, at
//!   the first scrape; and `status/prepull_plan`, the plan the missing counts were once taken
//!   from on every scrape.

#[path = "../tests/scale_support/mod.rs"]
mod scale_support;

use criterion::{criterion_group, criterion_main, Criterion};
use rsp_service::pages;
use rsp_service::served;
use rsp_service::status::{NodeQuery, NodeSort, StatusGrid};
use std::hint::black_box;
use std::sync::Arc;
use std::time::SystemTime;

const NODES: usize = 5_000;

fn status_pages(c: &mut Criterion) {
    let (world, puller, _) = scale_support::inputs(NODES, scale_support::Pattern::Mixed);
    let report = scale_support::report(NODES, scale_support::Pattern::Mixed);
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
        b.iter(|| pages::overview(black_box(&report), "/nublado", now))
    });
    group.bench_function("node_list", |b| {
        b.iter(|| pages::node_list(black_box(&report), &NodeQuery::default(), "/nublado", now))
    });
    group.bench_function("node_list_problems", |b| {
        b.iter(|| pages::node_list(black_box(&report), &problems, "/nublado", now))
    });
    group.bench_function("node", |b| {
        b.iter(|| pages::node_detail(black_box(&report), &node, "/nublado", now))
    });
    // Last: thousands of 9 ms plans made and dropped leave the allocator's heap in a state
    // that moved the pages' figures by up to a fifth when these ran before them.
    group.bench_function("metric_counts", |b| {
        b.iter(|| served::metric_counts(black_box(&world)))
    });
    group.bench_function("prepull_plan", |b| {
        b.iter(|| served::prepull_plan(black_box(&world)).pulls().count())
    });
    group.finish();
}

criterion_group!(benches, status_pages);
criterion_main!(benches);
