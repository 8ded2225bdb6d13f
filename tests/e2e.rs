//! End-to-end: the real `rsp-images serve` binary against the real `docker-registry` on
//! loopback (htpasswd, behind a fault-injecting proxy) and the fake Kubernetes cluster this
//! test process hosts, through a day in the life (see `e2e/scenario.rs`). A checker polls
//! the HTTP API throughout and records invariant violations (`e2e/checker.rs`).
//!
//! `day_in_the_life` runs in CI (a few minutes). `soak` repeats the day with randomised
//! timings for `RSP_IMAGES_SOAK_MINUTES` (default 30) minutes: `scripts/soak`.

#[path = "e2e/mod.rs"]
mod e2e;

use std::time::{Duration, Instant};

use e2e::scenario::{self, Tags, Timing};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn day_in_the_life() {
    let started = Instant::now();
    let mut tags = Tags::default();
    let (mut world, mut fleet, checker) = scenario::setup(&mut tags).await;
    scenario::day(&mut world, &mut fleet, &mut tags, &mut Timing::fixed()).await;
    scenario::finish(world, fleet, checker).await;
    eprintln!("[e2e] day_in_the_life took {:.0?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "soak mode: run by scripts/soak"]
async fn soak() {
    let minutes: u64 = std::env::var("RSP_IMAGES_SOAK_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(30);
    let seed: u64 = std::env::var("RSP_IMAGES_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(7)
        });
    eprintln!("[soak] {minutes} minutes, seed {seed} (RSP_IMAGES_SOAK_SEED to repeat)");
    let started = Instant::now();
    let mut timing = Timing::random(seed);
    let mut tags = Tags::default();
    let (mut world, mut fleet, checker) = scenario::setup(&mut tags).await;
    let mut days = 0;
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        days += 1;
        eprintln!("[soak] day {days} at {:.0?}", started.elapsed());
        scenario::day(&mut world, &mut fleet, &mut tags, &mut timing).await;
        let violations = world.shared.violations();
        assert!(violations.is_empty(), "day {days}: {violations:#?}");
    }
    scenario::finish(world, fleet, checker).await;
    eprintln!(
        "[soak] {days} days in {:.0?}, no violation",
        started.elapsed()
    );
}

/// Regression test for a soak finding: a node that loses images while staying in the cluster
/// (kubelet image garbage collection, or a node object replaced in place under the same name)
/// was never given them again, because the prepuller's memory of successful pulls
/// (`rsp_model::plan::PulledSet`) forgot a node only when it left. It now forgets a pull once
/// the node listed it and a complete list no longer does (`PulledSet::follow_reports`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn images_lost_from_a_node_that_stays_are_pulled_again() {
    let mut tags = Tags::default();
    let (world, fleet, checker) = scenario::setup(&mut tags).await;
    world.cluster.update_node("node1", |n| {
        if let Some(status) = n.status.as_mut() {
            status.images = Some(Vec::new());
        }
    });
    scenario::converge(
        &world,
        &fleet.replicas[0],
        Duration::from_secs(30),
        "node1 lost its images",
    )
    .await;
    scenario::finish(world, fleet, checker).await;
}
