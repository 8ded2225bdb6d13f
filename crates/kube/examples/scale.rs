//! Prepuller scale simulation: many nodes, several images, simulated pulls of a few seconds,
//! against the fake cluster. Reports the wall time to converge, the peak number of prepull
//! pods (which must never exceed the cap), the API requests made and CPU time.
//!
//! With warm nodes on (always, here), `--joining` more nodes join during the run, one every
//! `--join-every-ms`, carrying the warm taint; the report gives their time from joining to
//! the taint's removal (warm), and the run converges once every node has every image and no
//! joined node is cold.
//!
//! It also gives each joined node's time from its creation in the fake to the creation of its
//! first prepull pod (issue 16: at most 100 ms while the cap has room), read from the fake's
//! pod log on the fake's clock, in milliseconds, apart for joins that found the cap with room
//! and joins that found `maxInFlight` pods running. For the latter it counts the pods created
//! on other nodes between the join and that first pod: a joined node has nothing cached, so
//! it should get the next slot that frees (0), or the one after when a slot freed before the
//! node watch brought the node.
//!
//! What keeps a run above the cap's lower bound is time a slot holds no pull; from the same
//! log it gives how long each pod lived beyond its pull and how long a freed slot waited for
//! the next create.
//!
//! Once converged it measures the load on the API server (issue 16): requests per second
//! over a quiet window (`--quiet-secs`) at steady state, with kubelets' periodic status
//! reports coming if `--heartbeat-secs` gives their period (every node once per period,
//! spread evenly: 5,000 nodes every 300 s are about 17 node updates a second), and during a
//! forced relist (history compacted, every watch ended with 410, so both watchers list
//! again), from the fake's request log. The prepuller leads for good here, so no Lease
//! renewals are in the figures.
//!
//! `cargo run --release -p rsp-kube --example scale -- [--nodes 500] [--images 8]
//!  [--max-in-flight 10] [--min-pull-ms 1000] [--max-pull-ms 5000] [--joining 20]
//!  [--join-every-ms 2000] [--held-images 0] [--heartbeat-secs 0] [--quiet-secs 10]`
//!
//! `--held-images N`: every initial node already holds the first N images, so that a large
//! cluster's steady state can be measured without prepulling all of it first.
//!
//! The fake API server and its kubelets run on their own runtime thread (`fake-k8s`), the
//! node watcher and prepuller on another (`rsp-kube`), so the CPU time of each side can be
//! read separately from `/proc/self/task/*/stat`; getrusage gives the process total.

use std::collections::{BTreeMap, VecDeque};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use rsp_kube::config::{PrepullerSettings, WarmConfig};
use rsp_kube::prepuller::WarmOutcome;
use rsp_kube::PrepullImage;
use rsp_model::warm::WarmTaint;
use rsp_testkit::builders::{cached, digest, image, LAB_LABEL};
use rsp_testkit::kube::{
    lab_node, FakeCluster, PodEvent, PodEventKind, PullBehaviour, RequestRecord,
};

/// The tests' harness (a prepuller wired to a node watcher), shared rather than copied.
#[path = "../tests/cluster_support/mod.rs"]
mod cluster_support;
use cluster_support::Harness;

struct Args {
    nodes: usize,
    images: usize,
    max_in_flight: usize,
    min_pull: Duration,
    max_pull: Duration,
    joining: usize,
    join_every: Duration,
    /// How many of the images (the first ones) every initial node holds already.
    held: usize,
    /// Kubelets' status report period; zero: none.
    heartbeat: Duration,
    /// How long the steady state is watched after converging.
    quiet: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        nodes: 500,
        images: 8,
        max_in_flight: 10,
        min_pull: Duration::from_millis(1000),
        max_pull: Duration::from_millis(5000),
        joining: 20,
        join_every: Duration::from_millis(2000),
        held: 0,
        heartbeat: Duration::ZERO,
        quiet: Duration::from_secs(10),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or(format!("{flag} needs a value"))?;
        let number: u64 = value
            .parse()
            .map_err(|_| format!("{flag}: {value} is not a number"))?;
        let count = usize::try_from(number).map_err(|e| e.to_string())?;
        match flag.as_str() {
            "--nodes" => args.nodes = count,
            "--images" => args.images = count,
            "--max-in-flight" => args.max_in_flight = count,
            "--min-pull-ms" => args.min_pull = Duration::from_millis(number),
            "--max-pull-ms" => args.max_pull = Duration::from_millis(number),
            "--joining" => args.joining = count,
            "--join-every-ms" => args.join_every = Duration::from_millis(number),
            "--held-images" => args.held = count,
            "--heartbeat-secs" => args.heartbeat = Duration::from_secs(number),
            "--quiet-secs" => args.quiet = Duration::from_secs(number),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(args)
}

/// Pull time of image `i`: spread evenly over [min, max].
fn pull_time(args: &Args, i: usize) -> Duration {
    let steps = u32::try_from(args.images.saturating_sub(1).max(1)).unwrap_or(1);
    let step = (args.max_pull.saturating_sub(args.min_pull)) / steps;
    args.min_pull + step * u32::try_from(i).unwrap_or(0)
}

fn images(args: &Args) -> Vec<PrepullImage> {
    (0..args.images)
        .map(|i| image(&format!("w_2077_{:02}", 50 - i), &digest(i)))
        .collect()
}

/// CPU seconds (user + system) of this process's threads, by thread name.
fn cpu_by_thread() -> BTreeMap<String, f64> {
    let mut cpu = BTreeMap::new();
    let ticks = 100.0; // USER_HZ on Linux
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu;
    };
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        // comm is in parentheses and may contain spaces; fields follow the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let field = |i: usize| {
            fields
                .get(i)
                .and_then(|f| f.parse::<f64>().ok())
                .unwrap_or(0.0)
        };
        // utime and stime are fields 14 and 15 of stat, 11 and 12 after the comm.
        *cpu.entry(name).or_insert(0.0) += (field(11) + field(12)) / ticks;
    }
    cpu
}

/// User and system CPU seconds of the whole process.
fn rusage() -> (f64, f64) {
    // SAFETY: getrusage only writes into the struct we pass.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: a valid pointer to a rusage struct and a valid `who`.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) };
    if rc != 0 {
        return (0.0, 0.0);
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (seconds(usage.ru_utime), seconds(usage.ru_stime))
}

/// Min, median, p90 and max of `values`, or `None` when there are none.
fn spread(mut values: Vec<f64>) -> Option<[f64; 4]> {
    values.sort_by(f64::total_cmp);
    let quantile = |q: f64| {
        let index = ((values.len() as f64 - 1.0) * q).round() as usize;
        values.get(index).copied()
    };
    Some([
        quantile(0.0)?,
        quantile(0.5)?,
        quantile(0.9)?,
        quantile(1.0)?,
    ])
}

/// `values` as "min …, median …, p90 …, max …" with `decimals` decimals and `unit`.
fn describe_spread(values: Vec<f64>, decimals: usize, unit: &str) -> String {
    match spread(values) {
        Some([min, median, p90, max]) => format!(
            "min {min:.decimals$} {unit}, median {median:.decimals$} {unit}, \
             p90 {p90:.decimals$} {unit}, max {max:.decimals$} {unit}"
        ),
        None => "none".to_owned(),
    }
}

/// A node added during the run.
struct Join {
    name: String,
    /// When it was added, on the fake's clock ([`FakeCluster::elapsed`], that of its pod log),
    /// read just before the node was stored.
    at: Duration,
    /// The same moment on this process's clock, for the time to warm.
    instant: Instant,
}

/// How soon joined nodes got their first prepull pod, from the fake's pod log.
#[derive(Default)]
struct FirstPods {
    /// Milliseconds from the join to the first pod, of joins that found the cap with room.
    room: Vec<f64>,
    /// The same, of joins that found `maxInFlight` prepull pods in the cluster.
    full: Vec<f64>,
    /// For each join that found the cap full, the pods created on other nodes between the
    /// join and its own first pod.
    others_first: Vec<usize>,
    /// Joined nodes that never got a pod.
    without: usize,
}

impl FirstPods {
    /// Every pod of the simulation is a prepull pod, so the pods existing at a moment are
    /// those created before it less those removed before it.
    fn from_log(events: &[PodEvent], joins: &[Join], cap: usize) -> FirstPods {
        let mut first = FirstPods::default();
        for join in joins {
            let before = events.partition_point(|event| event.at < join.at);
            let existing = events[..before]
                .iter()
                .map(|event| match event.kind {
                    PodEventKind::Created => 1,
                    PodEventKind::Deleted => -1,
                })
                .sum::<i64>();
            let after = &events[before..];
            let Some(own) = after
                .iter()
                .position(|e| e.kind == PodEventKind::Created && e.node == join.name)
            else {
                first.without += 1;
                continue;
            };
            let millis = (after[own].at.saturating_sub(join.at)).as_secs_f64() * 1e3;
            if usize::try_from(existing).is_ok_and(|existing| existing >= cap) {
                first.full.push(millis);
                let others = after[..own]
                    .iter()
                    .filter(|e| e.kind == PodEventKind::Created)
                    .count();
                first.others_first.push(others);
            } else {
                first.room.push(millis);
            }
        }
        first
    }

    fn print(self) {
        println!(
            "join to first prepull pod, cap with room at the join ({} joins): {}",
            self.room.len(),
            describe_spread(self.room, 1, "ms")
        );
        println!(
            "join to first prepull pod, cap full at the join ({} joins): {}",
            self.full.len(),
            describe_spread(self.full, 1, "ms")
        );
        let next = self.others_first.iter().filter(|n| **n == 0).count();
        println!(
            "joins that found the cap full and got the next slot that freed: {next} of {} \
             (pods created on other nodes first: {:?}); joined nodes without a pod: {}",
            self.others_first.len(),
            self.others_first,
            self.without
        );
    }
}

/// Where the time between pulls goes, from the fake's pod log: what keeps a run above the
/// cap's lower bound is time a slot holds no pull.
struct SlotTime {
    /// Per pod, milliseconds it lived beyond its image's pull time (kubelet's status, the
    /// watch, the prepuller's delete).
    beyond_pull: Vec<f64>,
    /// Per pod removed, milliseconds until a pod was created in its place (removals and
    /// creations matched in order; the last removals of the run have none): the watch,
    /// the prepuller's pass, the create.
    refill: Vec<f64>,
}

impl SlotTime {
    fn from_log(events: &[PodEvent], pull_of: &BTreeMap<&str, Duration>) -> SlotTime {
        let mut created: BTreeMap<&str, Duration> = BTreeMap::new();
        let mut beyond_pull = Vec::new();
        let mut refill = Vec::new();
        let mut emptied: VecDeque<Duration> = VecDeque::new();
        for event in events {
            match event.kind {
                PodEventKind::Created => {
                    if let Some(at) = emptied.pop_front() {
                        refill.push(event.at.saturating_sub(at).as_secs_f64() * 1e3);
                    }
                    created.insert(&event.name, event.at);
                }
                PodEventKind::Deleted => {
                    let pull = pull_of.get(event.image.as_str());
                    if let (Some(born), Some(pull)) = (created.remove(event.name.as_str()), pull) {
                        let life = event.at.saturating_sub(born).as_secs_f64() * 1e3;
                        beyond_pull.push(life - pull.as_secs_f64() * 1e3);
                    }
                    emptied.push_back(event.at);
                }
            }
        }
        SlotTime {
            beyond_pull,
            refill,
        }
    }

    fn print(self) {
        println!(
            "prepull pods lived beyond their pull: {}",
            describe_spread(self.beyond_pull, 1, "ms")
        );
        println!(
            "from a pod's removal to the next pod's creation: {}",
            describe_spread(self.refill, 1, "ms")
        );
    }
}

/// The load on the API server once the run converged (issue 16).
struct Load {
    quiet: Duration,
    /// Requests during the quiet window.
    quiet_requests: Vec<RequestRecord>,
    /// Writes committed during the quiet window (kubelets' reports: nothing else writes).
    quiet_writes: u64,
    /// Node snapshots the node watcher published during the quiet window.
    snapshots: usize,
    /// How long until both watchers were watching again after the forced relist, if they were.
    relist: Option<Duration>,
    /// Requests from the forced relist until both watchers were watching again.
    relist_requests: Vec<RequestRecord>,
}

/// Requests by (verb, resource).
fn by_verb(requests: &[RequestRecord]) -> BTreeMap<(&str, &str), usize> {
    let mut counts = BTreeMap::new();
    for r in requests {
        *counts
            .entry((r.verb.as_str(), r.resource.as_str()))
            .or_default() += 1;
    }
    counts
}

fn breakdown(requests: &[RequestRecord]) -> String {
    by_verb(requests)
        .iter()
        .map(|((verb, resource), count)| format!("{verb} {resource} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether both the node and the pod watcher started a watch after the first `from` requests.
fn watching_since(cluster: &FakeCluster, from: usize) -> bool {
    let log = cluster.request_log_since(from);
    ["nodes", "pods"].iter().all(|resource| {
        log.iter()
            .any(|r| r.verb == "watch" && r.resource == *resource && r.took_effect())
    })
}

/// Watches the quiet steady state, then forces every watch to expire (compaction, 410) and
/// waits until the node and pod watchers have listed and are watching again.
async fn measure_load(cluster: &FakeCluster, harness: &Harness, quiet: Duration) -> Load {
    // A run with nothing to pull converges at once: wait until the watchers have listed and
    // are watching, so that the quiet window starts in the steady state.
    cluster
        .wait_until(Duration::from_secs(120), |c| watching_since(c, 0))
        .await;
    let mut snapshots = harness.nodes.subscribe();
    snapshots.borrow_and_update();
    let from = cluster.request_count();
    let version = cluster.resource_version();
    let deadline = tokio::time::Instant::now() + quiet;
    let mut published = 0;
    while let Ok(Ok(())) = tokio::time::timeout_at(deadline, snapshots.changed()).await {
        snapshots.borrow_and_update();
        published += 1;
    }
    let quiet_requests = cluster.request_log_since(from);
    let quiet_writes = cluster.resource_version() - version;

    let from = cluster.request_count();
    let expired = Instant::now();
    cluster.expire_watches();
    let back = cluster
        .wait_until(Duration::from_secs(120), |c| watching_since(c, from))
        .await;
    let relist = back.then(|| expired.elapsed());
    Load {
        quiet,
        quiet_requests,
        quiet_writes,
        snapshots: published,
        relist,
        relist_requests: cluster.request_log_since(from),
    }
}

impl Load {
    fn print(&self, args: &Args) {
        let quiet = self.quiet.as_secs_f64();
        let heartbeats = if args.heartbeat.is_zero() {
            "no heartbeats".to_owned()
        } else {
            format!(
                "heartbeats every {} s: {:.1} node updates/s",
                args.heartbeat.as_secs(),
                self.quiet_writes as f64 / quiet
            )
        };
        println!(
            "API requests at steady state ({quiet:.0} s quiet after converging, {heartbeats}): \
             {} requests, {:.2}/s [{}]; node snapshots published: {}",
            self.quiet_requests.len(),
            self.quiet_requests.len() as f64 / quiet,
            breakdown(&self.quiet_requests),
            self.snapshots
        );
        match self.relist {
            Some(took) => println!(
                "API requests during a forced relist (compaction, 410, relist): {} requests in \
                 {:.2} s until both watches were back, {:.1}/s [{}]",
                self.relist_requests.len(),
                took.as_secs_f64(),
                self.relist_requests.len() as f64 / took.as_secs_f64().max(1e-3),
                breakdown(&self.relist_requests)
            ),
            None => println!(
                "API requests during a forced relist: the watches were not back within 120 s \
                 ({} requests) [{}]",
                self.relist_requests.len(),
                breakdown(&self.relist_requests)
            ),
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(error) => {
            eprintln!("scale: {error}");
            return ExitCode::from(2);
        }
    };
    let runtime = |name: &str| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()
    };
    let (fake_rt, rt) = match (runtime("fake-k8s"), runtime("rsp-kube")) {
        (Ok(fake), Ok(ours)) => (fake, ours),
        _ => {
            eprintln!("scale: cannot start the tokio runtimes");
            return ExitCode::FAILURE;
        }
    };
    let cluster = fake_rt.block_on(FakeCluster::start());
    let wanted = images(&args);
    let held = &wanted[..args.held.min(wanted.len())];
    for i in 0..args.nodes {
        let node = held
            .iter()
            .fold(lab_node(&format!("node{i:04}")), |node, image| {
                node.image(&[cached(&image.digest)], 1 << 30)
            });
        cluster.add_node(node);
    }
    if !args.heartbeat.is_zero() {
        cluster.set_heartbeat_every(args.heartbeat);
    }
    for (i, image) in wanted.iter().enumerate() {
        cluster.set_pull(&image.digest, PullBehaviour::Succeed(pull_time(&args, i)));
    }
    // Pulls to wait for: what the initial nodes do not hold, and everything on joined nodes.
    let total = args.nodes * (args.images - held.len()) + args.joining * args.images;
    let taint = WarmTaint {
        key: "startup-taint.cluster-autoscaler.kubernetes.io/rsp-images-cold".into(),
        effect: "NoSchedule".into(),
    };
    let mut config = PrepullerSettings::new("nublado").with_warm(WarmConfig {
        taint: taint.clone(),
        timeout: None,
    });
    config.max_in_flight = args.max_in_flight;
    let (key, value) = LAB_LABEL;
    config.node_selector = BTreeMap::from([(key.into(), value.into())]);
    eprintln!(
        "scale: {} nodes × {} images, maxInFlight {}, pulls {:?}–{:?}, {} joining every {:?}",
        args.nodes,
        args.images,
        args.max_in_flight,
        args.min_pull,
        args.max_pull,
        args.joining,
        args.join_every
    );

    let started = Instant::now();
    let converged = rt.block_on(async {
        // The prepuller wired as the tests wire it: a node watcher, the wanted images, leading
        // for good.
        let mut harness = Harness::start(&cluster, config, wanted.clone());
        let mut status = harness.status.clone();
        let warm_events = &mut harness.warm_events;
        // Nodes join on a schedule while the others are being prepulled.
        let joiner = {
            let (cluster, key, joining, every) = (
                cluster.clone(),
                taint.key.clone(),
                args.joining,
                args.join_every,
            );
            tokio::spawn(async move {
                let mut joined = Vec::new();
                for i in 0..joining {
                    tokio::time::sleep(every).await;
                    let name = format!("joined{i:04}");
                    let (at, instant) = (cluster.elapsed(), Instant::now());
                    cluster.add_node(lab_node(&name).taint(&key, "", "NoSchedule"));
                    joined.push(Join { name, at, instant });
                }
                joined
            })
        };
        let mut released: BTreeMap<String, (Instant, WarmOutcome)> = BTreeMap::new();
        let mut last_report = Instant::now();
        let done = loop {
            while let Ok(event) = warm_events.try_recv() {
                released.insert(event.node, (Instant::now(), event.outcome));
            }
            let pulled = status.borrow_and_update().pulled.len();
            if pulled >= total && released.len() >= args.joining {
                break true;
            }
            if last_report.elapsed() >= Duration::from_secs(30) {
                eprintln!(
                    "scale: {pulled}/{total}, {} of {} joined nodes warm after {:.0?}",
                    released.len(),
                    args.joining,
                    started.elapsed()
                );
                last_report = Instant::now();
            }
            let wait = async {
                tokio::select! {
                    changed = status.changed() => changed.is_ok(),
                    event = warm_events.recv() => match event {
                        Ok(event) => {
                            released.insert(event.node, (Instant::now(), event.outcome));
                            true
                        }
                        Err(_) => true,
                    },
                }
            };
            if tokio::time::timeout(Duration::from_secs(3600), wait)
                .await
                .is_err()
            {
                break false;
            }
        };
        let converged = started.elapsed();
        let failures: u64 = status.borrow().failed_total.values().sum();
        let load = measure_load(&cluster, &harness, args.quiet).await;
        if let Some(prepuller) = harness.prepuller.take() {
            prepuller.shutdown().await;
        }
        let joined = joiner.await.unwrap_or_default();
        let waits: Vec<f64> = joined
            .iter()
            .filter_map(|join| {
                let (warm_at, _) = released.get(&join.name)?;
                Some(warm_at.duration_since(join.instant).as_secs_f64())
            })
            .collect();
        let timed_out = released
            .values()
            .filter(|(_, outcome)| *outcome == WarmOutcome::TimedOut)
            .count();
        (done, converged, failures, waits, timed_out, load, joined)
    });
    let (done, wall, failures, waits, timed_out, load, joined) = converged;
    let stats = cluster.stats();
    let (user, system) = rusage();
    let threads = cpu_by_thread();
    let side = |prefix: &str| -> f64 {
        threads
            .iter()
            .filter(|(name, _)| name.starts_with(prefix))
            .map(|(_, cpu)| cpu)
            .sum()
    };
    let requests: u64 = stats.requests.values().sum();
    println!(
        "converged: {done} ({} of {total} pulls)",
        if done { total } else { 0 }
    );
    println!("wall time to converge: {:.1} s", wall.as_secs_f64());
    println!(
        "joined during the run: {} nodes, warm {} (by the timeout {timed_out}); join to warm {}",
        args.joining,
        waits.len(),
        describe_spread(waits, 1, "s")
    );
    let pod_events = cluster.pod_events();
    FirstPods::from_log(&pod_events, &joined, args.max_in_flight).print();
    let pull_of: BTreeMap<&str, Duration> = wanted
        .iter()
        .enumerate()
        .map(|(i, image)| (image.reference_with_digest.as_str(), pull_time(&args, i)))
        .collect();
    SlotTime::from_log(&pod_events, &pull_of).print();
    let ideal = (0..args.images)
        .map(|i| {
            let initial = if i < args.held { 0 } else { args.nodes };
            pull_time(&args, i).as_secs_f64() * (initial + args.joining) as f64
        })
        .sum::<f64>()
        / args.max_in_flight as f64;
    println!("lower bound (sum of pull times / maxInFlight): {ideal:.1} s");
    println!(
        "peak prepull pods: {} (cap {})",
        stats.peak_prepull_pods, args.max_in_flight
    );
    println!(
        "pods created: {}, deleted: {}, left: {}, failures: {failures}",
        stats.pods_created, stats.pods_deleted, stats.current_prepull_pods
    );
    println!("API requests: {requests}");
    for ((verb, resource), count) in &stats.requests {
        println!("  {verb} {resource}: {count}");
    }
    load.print(&args);
    println!("CPU time, whole process: {user:.2} s user + {system:.2} s system");
    println!(
        "CPU time by side: rsp-kube threads {:.2} s, fake cluster threads {:.2} s",
        side("rsp-kube"),
        side("fake-k8s")
    );
    let within_cap = stats.peak_prepull_pods <= args.max_in_flight;
    if done && within_cap && stats.current_prepull_pods == 0 {
        ExitCode::SUCCESS
    } else {
        eprintln!("scale: did not converge cleanly within the cap");
        ExitCode::FAILURE
    }
}
