//! A day in the life, step by step: registry changes, node churn, registry and API faults,
//! an image that cannot be pulled on one node, crashes and a leader failover, with the
//! checker running throughout. After each fault the test waits for convergence within a
//! stated bound: every eligible node holds every planned image and the plan is the one the
//! registry implies.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use rsp_testkit::kube::{ClientFault, PodEventKind, PullBehaviour};

use super::checker::{self, tag_of};
use super::fixture::{tail, Replica, World, MAX_IN_FLIGHT, POOL, PREFIX, PREPULL_TIMEOUT};
use super::http;
use super::proxy::{self, Mode};

/// After the last fault of a step, every eligible node has every planned image within this.
/// It covers a refresh (2 s), a refresh that hung on a stopped registry and retried, a
/// failed pull's first backoff (15–30 s) plus the pod timeout (10 s), and a leader failover
/// (Lease 15 s + renew 5 s), with room for a loaded 2-core machine.
pub const CONVERGENCE: Duration = Duration::from_secs(75);
/// A new tag is in the menu, or a deleted one gone from it, within this.
pub const PICKUP: Duration = Duration::from_secs(20);
/// No prepull pod lives longer than this: the pod timeout, plus a failover during which
/// nobody deletes it, plus slack.
pub const POD_LIFETIME: Duration = Duration::from_secs(60);

/// Timings the soak mode randomises; the CI run uses the midpoints.
pub struct Timing {
    state: u64,
    randomise: bool,
}

impl Timing {
    pub fn fixed() -> Timing {
        Timing {
            state: 1,
            randomise: false,
        }
    }

    pub fn random(seed: u64) -> Timing {
        Timing {
            state: seed | 1,
            randomise: true,
        }
    }

    fn next(&mut self) -> u64 {
        // xorshift64
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        self.state
    }

    /// A duration between `lo` and `hi` milliseconds (the midpoint when not randomised).
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        let v = if self.randomise {
            lo + self.next() % (hi - lo + 1)
        } else {
            (lo + hi) / 2
        };
        Duration::from_millis(v)
    }

    pub fn coin(&mut self) -> bool {
        self.randomise && self.next().is_multiple_of(2)
    }
}

/// Tag names that always sort newer than the previous ones.
#[derive(Default)]
pub struct Tags {
    weeklies: u32,
    dailies: u32,
}

impl Tags {
    pub fn weekly(&mut self) -> String {
        let k = self.weeklies;
        self.weeklies += 1;
        format!("w_{}_{:02}", 2077 + k / 50, k % 50 + 1)
    }

    pub fn daily(&mut self) -> String {
        let k = self.dailies;
        self.dailies += 1;
        format!(
            "d_{}_{:02}_{:02}",
            2077 + k / 336,
            (k / 28) % 12 + 1,
            k % 28 + 1
        )
    }
}

fn log_step(start: Instant, text: &str) {
    eprintln!("[e2e {:>6.1}s] {text}", start.elapsed().as_secs_f64());
}

/// The replicas running now.
pub struct Fleet {
    pub replicas: Vec<Replica>,
}

impl Fleet {
    /// The replica that holds the lease, waiting up to `timeout` for exactly one.
    pub async fn leader(&self, world: &World, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let mut leaders = Vec::new();
            for (i, r) in self.replicas.iter().enumerate() {
                if world.is_leader(r).await {
                    leaders.push(i);
                }
            }
            if leaders.len() == 1 {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single leader within {timeout:?}: {leaders:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// The digests the prepull plan must hold, from what the registry holds: `recommended`,
/// the newest release, the two newest weeklies and the two newest dailies.
pub fn expected_plan(registry: &BTreeMap<String, String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(d) = registry.get("recommended") {
        out.insert(d.clone());
    }
    for (prefix, count) in [("r", 1), ("w_", 2), ("d_", 2)] {
        let mut names: Vec<&String> = registry
            .keys()
            .filter(|t| t.starts_with(prefix) && t.as_str() != "recommended")
            .collect();
        names.sort();
        for t in names.iter().rev().take(count) {
            out.insert(registry[*t].clone());
        }
    }
    out
}

/// Lab nodes that are eligible now: labelled, schedulable, Ready, without taints.
pub fn eligible_nodes(world: &World) -> BTreeSet<String> {
    world
        .cluster
        .nodes()
        .into_iter()
        .filter(|n| {
            let labelled = n
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get(POOL.0))
                .is_some_and(|v| v == POOL.1);
            let spec = n.spec.clone().unwrap_or_default();
            let schedulable = spec.unschedulable != Some(true);
            let untainted = spec.taints.unwrap_or_default().is_empty();
            let ready = n
                .status
                .as_ref()
                .and_then(|s| s.conditions.as_ref())
                .is_none_or(|c| c.iter().all(|c| c.type_ != "Ready" || c.status == "True"));
            labelled && schedulable && untainted && ready
        })
        .filter_map(|n| n.metadata.name)
        .collect()
}

/// Why the world has not converged yet, or `Ok` when it has: the replica's plan is the
/// expected one, nothing is pending, and every eligible node holds every planned image.
async fn convergence(world: &World, replica: &Replica) -> Result<(), String> {
    let expected = expected_plan(&world.shared.registry_tags());
    let r = http::get(replica.addr, &format!("{PREFIX}/spawner/v1/prepulls")).await?;
    let body = r.json().ok_or_else(|| format!("prepulls: {}", r.body))?;
    let images = |key: &str| -> Vec<serde_json::Value> {
        body["images"][key].as_array().cloned().unwrap_or_default()
    };
    let digests: BTreeSet<String> = images("prepulled")
        .iter()
        .chain(images("pending").iter())
        .filter_map(|i| i["digest"].as_str().map(str::to_owned))
        .collect();
    if digests != expected {
        return Err(format!("plan {digests:?} is not the expected {expected:?}"));
    }
    let pending: Vec<String> = images("pending")
        .iter()
        .map(|i| format!("{} missing on {}", i["tag"], i["missing"]))
        .collect();
    if !pending.is_empty() {
        return Err(format!("pending: {pending:?}"));
    }
    let eligible = eligible_nodes(world);
    let served: BTreeSet<String> = body["nodes"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|n| n["eligible"].as_bool() == Some(true))
        .filter_map(|n| n["name"].as_str().map(str::to_owned))
        .collect();
    if served != eligible {
        return Err(format!(
            "service's eligible nodes {served:?}, cluster's {eligible:?}"
        ));
    }
    let repo = world.image_repo();
    for name in &eligible {
        let node = world.cluster.node(name).ok_or("node vanished")?;
        let held: BTreeSet<String> = node
            .status
            .and_then(|s| s.images)
            .unwrap_or_default()
            .into_iter()
            .flat_map(|i| i.names.unwrap_or_default())
            .collect();
        for d in &expected {
            if !held.contains(&format!("{repo}@{d}")) {
                return Err(format!("{name} does not hold {d}"));
            }
        }
    }
    Ok(())
}

/// Waits for convergence as seen by `replica` within `bound`, or fails with the reason.
pub async fn converge(world: &World, replica: &Replica, bound: Duration, what: &str) {
    let start = Instant::now();
    let mut last = String::new();
    while start.elapsed() < bound {
        match convergence(world, replica).await {
            Ok(()) => {
                eprintln!(
                    "[e2e] converged after {what} in {:.1}s",
                    start.elapsed().as_secs_f64()
                );
                return;
            }
            Err(why) => last = why,
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!(
        "not converged within {bound:?} after {what}: {last}\nviolations: {:?}\n{} log:\n{}",
        world.shared.violations(),
        replica.name,
        tail(&replica.log_text())
    );
}

/// Waits until `replica`'s menu offers (or, with `present = false`, no longer offers) `tag`.
pub async fn wait_menu(world: &World, replica: &Replica, tag: &str, present: bool) {
    let start = Instant::now();
    loop {
        if let Ok(r) = http::get(replica.addr, &format!("{PREFIX}/spawner/v1/menu")).await {
            if let Some(body) = r.json() {
                let offered = ["menu", "dropdown"].iter().any(|k| {
                    body[*k].as_array().is_some_and(|a| {
                        a.iter()
                            .any(|i| i["reference"].as_str().map(tag_of).as_deref() == Some(tag))
                    })
                });
                if offered == present {
                    return;
                }
            }
        }
        assert!(
            start.elapsed() < PICKUP,
            "{}: {tag} {} the menu after {PICKUP:?}; log:\n{}",
            replica.name,
            if present { "not in" } else { "still in" },
            tail(&replica.log_text()),
        );
        let _ = world;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_for(what: &str, bound: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < bound, "{what}: not within {bound:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Makes every pull take `pull`, pushes `tag` and waits until a prepull pod exists.
async fn push_during_pulls(world: &World, tag: &str, pull: Duration) {
    let cluster = world.cluster.clone();
    cluster.set_pull("", PullBehaviour::Succeed(pull));
    world.push(tag, &[tag]).await;
    wait_for("a prepull pod", Duration::from_secs(30), || {
        cluster.stats().current_prepull_pods > 0
    })
    .await;
}

/// A world with its first images, the original controller's pods, and one ready replica.
pub async fn setup(tags: &mut Tags) -> (World, Fleet, tokio::task::JoinHandle<()>) {
    let mut world = World::start(4).await;
    world
        .cluster
        .set_pull("", PullBehaviour::Succeed(Duration::from_millis(300)));
    world.add_foreign_pods();
    world.push("release 29.1.2", &["r29_1_2"]).await;
    for _ in 0..3 {
        let w = tags.weekly();
        world.push(&w, &[&w]).await;
    }
    let w = tags.weekly();
    world.push(&w, &[&w, "recommended"]).await;
    for _ in 0..3 {
        let d = tags.daily();
        world.push(&d, &[&d]).await;
    }
    let checker = checker::spawn(world.shared.clone(), world.cluster.clone());
    let first = world.start_replica();
    world.wait_ready(&first, Duration::from_secs(60)).await;
    converge(&world, &first, CONVERGENCE, "the first start").await;
    let fleet = Fleet {
        replicas: vec![first],
    };
    (world, fleet, checker)
}

/// One day; `day` numbers the days of a soak run (0 in CI).
pub async fn day(world: &mut World, fleet: &mut Fleet, tags: &mut Tags, t: &mut Timing) {
    let start = Instant::now();
    let cluster = world.cluster.clone();

    // Two replicas: the second one waits for the lease.
    if fleet.replicas.len() < 2 {
        log_step(start, "second replica");
        let second = world.start_replica();
        world.wait_ready(&second, Duration::from_secs(60)).await;
        fleet.replicas.push(second);
    }
    let leader = fleet.leader(world, Duration::from_secs(40)).await;

    // New weekly and daily tags; `recommended` moves; an old daily is deleted.
    log_step(
        start,
        "registry changes: new weekly and daily, recommended moves, delete",
    );
    let weekly = tags.weekly();
    world.push(&weekly, &[&weekly, "recommended"]).await;
    let daily = tags.daily();
    world.push(&daily, &[&daily]).await;
    let oldest_daily = world
        .shared
        .registry_tags()
        .into_iter()
        .find(|(t, _)| t.starts_with("d_"));
    if let Some((tag, digest)) = oldest_daily {
        world.delete(&digest).await;
        for r in &fleet.replicas {
            wait_menu(world, r, &tag, false).await;
        }
    }
    for r in &fleet.replicas {
        wait_menu(world, r, &weekly, true).await;
        wait_menu(world, r, &daily, true).await;
    }
    converge(
        world,
        &fleet.replicas[leader],
        CONVERGENCE,
        "registry changes",
    )
    .await;

    // Node churn while pulls are under way.
    log_step(start, "node churn during pulls");
    let daily = tags.daily();
    push_during_pulls(world, &daily, t.ms(800, 2000)).await;
    // Replacing a node in place would wipe its image list without a deletion, which the
    // prepuller's memory of successful pulls does not notice (reported, not fixed here).
    if cluster.node("node5").is_none() {
        cluster.add_node(rsp_testkit::kube::node("node5").label(POOL.0, POOL.1));
    }
    cluster.cordon("node2", true);
    cluster.taint_node("node3", "maintenance", "", "NoSchedule");
    cluster.remove_node("node4");
    cluster.set_ready("node1", false);
    tokio::time::sleep(t.ms(1000, 5000)).await;
    cluster.set_ready("node1", true);
    cluster.cordon("node2", false);
    cluster.untaint_node("node3", "maintenance");
    cluster.add_node(rsp_testkit::kube::node("node4").label(POOL.0, POOL.1));
    if t.coin() {
        cluster.remove_node("node5");
    }
    converge(world, &fleet.replicas[leader], CONVERGENCE, "node churn").await;
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(300)));

    // The registry answers 500s, refuses connections, then its process is stopped.
    log_step(start, "registry faults: 500s, refused, SIGSTOP");
    world.proxy.set(Mode::Fail500);
    let daily = tags.daily();
    world.push(&daily, &[&daily]).await;
    tokio::time::sleep(t.ms(4000, 8000)).await;
    world.proxy.set(Mode::Refuse);
    tokio::time::sleep(t.ms(2000, 6000)).await;
    // The faults are real: what was pushed while they lasted is not offered yet.
    let menu = http::get(
        fleet.replicas[leader].addr,
        &format!("{PREFIX}/spawner/v1/menu"),
    )
    .await
    .expect("menu during registry faults");
    assert!(
        !menu.body.contains(&daily),
        "{daily} offered while the registry failed: {}",
        menu.body
    );
    world.proxy.set(Mode::Pass);
    let pid = proxy::listener_pid(
        world
            .registry
            .host()
            .rsplit(':')
            .next()
            .unwrap()
            .parse()
            .unwrap(),
    );
    proxy::signal(pid, "STOP");
    tokio::time::sleep(t.ms(4000, 10000)).await;
    proxy::signal(pid, "CONT");
    log_step(start, "registry back");
    converge(
        world,
        &fleet.replicas[leader],
        CONVERGENCE,
        "registry faults",
    )
    .await;

    // The Kubernetes API fails requests and drops watches.
    log_step(start, "Kubernetes API faults");
    cluster.fail_next("create", "pods", 3, 500);
    cluster.fail_next("delete", "pods", 2, 500);
    cluster.fail_next("list", "nodes", 2, 500);
    cluster.fail_next("watch", "pods", 2, 500);
    let daily = tags.daily();
    world.push(&daily, &[&daily]).await;
    tokio::time::sleep(t.ms(1000, 3000)).await;
    cluster.drop_watches();
    cluster.compact_history();
    cluster.set_unavailable(true);
    tokio::time::sleep(t.ms(1000, 4000)).await;
    cluster.set_unavailable(false);
    cluster.fail_next("update", "leases", 1, 500);
    log_step(start, "API back");
    converge(world, &fleet.replicas[leader], CONVERGENCE, "API faults").await;
    // The outage and the failed renewal after it can outlast the renew deadline, and then the
    // lease rightly moves. A failed pull is reported by the replica that prepulls (followers
    // hold no prepuller report), so the steps below ask whoever leads now.
    let leader = fleet.leader(world, Duration::from_secs(40)).await;
    log_step(
        start,
        &format!(
            "leader after the API faults: {}",
            fleet.replicas[leader].name
        ),
    );

    // An image that cannot be pulled on one node: every other node already holds it.
    log_step(start, "an image that node1 cannot pull");
    world.proxy.set(Mode::Refuse); // the service must not see it before the fake is set up
    let broken = tags.daily();
    let digest = world.push(&broken, &[&broken]).await;
    let repo = world.image_repo();
    for name in eligible_nodes(world) {
        if name == "node1" {
            continue;
        }
        cluster.update_node(&name, |n| {
            if let Some(images) = n.status.as_mut().and_then(|s| s.images.as_mut()) {
                if let Some(mut copy) = images.first().cloned() {
                    copy.names = Some(vec![format!("{repo}@{digest}"), format!("{repo}:{broken}")]);
                    images.push(copy);
                }
            }
        });
    }
    cluster.set_pull(&digest, PullBehaviour::PullBackOff);
    world.proxy.set(Mode::Pass);
    let bound = PREPULL_TIMEOUT + Duration::from_secs(30);
    let err_start = Instant::now();
    loop {
        let r = http::get(
            fleet.replicas[leader].addr,
            &format!("{PREFIX}/spawner/v1/prepulls"),
        )
        .await;
        let has_error = r.ok().and_then(|r| r.json()).is_some_and(|body| {
            body["nodes"].as_array().is_some_and(|nodes| {
                nodes.iter().any(|n| {
                    n["name"] == "node1" && n["errors"].as_object().is_some_and(|e| !e.is_empty())
                })
            })
        });
        if has_error {
            break;
        }
        assert!(
            err_start.elapsed() < bound,
            "node1's failed pull of {broken} not reported within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    log_step(start, "node1's failure reported; image fixed");
    cluster.set_pull(&digest, PullBehaviour::Succeed(Duration::from_millis(300)));
    converge(
        world,
        &fleet.replicas[leader],
        CONVERGENCE,
        "the unpullable image",
    )
    .await;

    // A network partition between the leader and the API server, for Lease calls only: it
    // must stop writing before the other replica takes over (checked from the API server's
    // logs at the end), and it does not lead again once healed.
    log_step(start, "partition the leader's Lease calls mid-prepull");
    let daily = tags.daily();
    push_during_pulls(world, &daily, t.ms(1500, 3000)).await;
    let partitioned = fleet.replicas[leader].name.clone();
    cluster.set_client_fault(&partitioned, "leases", Some(ClientFault::Hang));
    let deadline = Instant::now() + Duration::from_secs(60);
    let leader = loop {
        let now_leading = fleet.leader(world, Duration::from_secs(60)).await;
        if fleet.replicas[now_leading].name != partitioned {
            break now_leading;
        }
        assert!(
            Instant::now() < deadline,
            "nobody took over from the partitioned {partitioned}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    tokio::time::sleep(t.ms(1000, 5000)).await;
    cluster.heal_client(&partitioned);
    log_step(start, "partition healed");
    converge(
        world,
        &fleet.replicas[leader],
        CONVERGENCE,
        "a partitioned leader",
    )
    .await;
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(300)));

    // The leader is killed mid-prepull and restarted; the other replica takes over.
    log_step(start, "SIGKILL the leader mid-prepull");
    let daily = tags.daily();
    push_during_pulls(world, &daily, t.ms(1500, 3000)).await;
    let dead = fleet.replicas.remove(leader);
    world.stop_replica(dead, "KILL").await;
    let restarted = world.start_replica();
    fleet.replicas.push(restarted);
    let new_leader = fleet.leader(world, Duration::from_secs(60)).await;
    for r in &fleet.replicas {
        world.wait_ready(r, Duration::from_secs(60)).await;
    }
    converge(
        world,
        &fleet.replicas[new_leader],
        CONVERGENCE,
        "the leader's crash",
    )
    .await;
    cluster.set_pull("", PullBehaviour::Succeed(Duration::from_millis(300)));

    // Sometimes also the standby crashes (soak only).
    if t.coin() {
        log_step(start, "SIGKILL the standby");
        let standby = fleet.replicas.remove(1 - new_leader);
        world.stop_replica(standby, "KILL").await;
    }
    log_step(start, "day done");
}

/// Ends the run: a clean SIGTERM of every replica mid-prepull, then the assertions over
/// the whole run.
pub async fn finish(world: World, mut fleet: Fleet, checker: tokio::task::JoinHandle<()>) {
    let cluster = world.cluster.clone();
    push_during_pulls(&world, "w_2999_01", Duration::from_secs(5)).await;
    for r in fleet.replicas.drain(..) {
        world.stop_replica(r, "TERM").await;
    }
    world.shared.stop();
    checker.await.unwrap();

    let stats = cluster.stats();
    let mut failures = world.shared.violations();
    failures.extend(checker::single_writer(&cluster));
    failures.extend(checker::foreign_untouched(&cluster, &world.foreign));
    if stats.current_prepull_pods != 0 {
        failures.push(format!(
            "{} prepull pods left after every replica stopped with SIGTERM: {:?}",
            stats.current_prepull_pods,
            cluster
                .all_pods()
                .iter()
                .map(|p| p.metadata.name.clone())
                .collect::<Vec<_>>()
        ));
    }
    if stats.peak_prepull_pods > MAX_IN_FLIGHT {
        failures.push(format!(
            "peak of {} prepull pods, cap {MAX_IN_FLIGHT}",
            stats.peak_prepull_pods
        ));
    }
    // Every pod created is deleted, within the lifetime bound, and none ran off the pool (the
    // original controller's pods are its business, not rsp-images').
    let mut open: BTreeMap<(String, String), Duration> = BTreeMap::new();
    let mut lifetimes = VecDeque::new();
    let (mut created, mut deleted) = (0, 0);
    let ours = cluster
        .pod_events()
        .into_iter()
        .filter(|e| e.name.starts_with("rsp-prepull-"));
    for e in ours {
        let key = (e.namespace.clone(), e.name.clone());
        match e.kind {
            PodEventKind::Created => {
                created += 1;
                if e.node == "infra1" {
                    failures.push(format!(
                        "pod {} on infra1, outside the node selector",
                        e.name
                    ));
                }
                open.insert(key, e.at);
            }
            PodEventKind::Deleted => {
                deleted += 1;
                if let Some(at) = open.remove(&key) {
                    let life = e.at - at;
                    lifetimes.push_back(life);
                    if life > POD_LIFETIME {
                        failures.push(format!(
                            "pod {} on {} lived {life:?}, more than {POD_LIFETIME:?}",
                            e.name, e.node
                        ));
                    }
                }
            }
        }
    }
    if !open.is_empty() {
        failures.push(format!("pods created and never deleted: {:?}", open.keys()));
    }
    if created != deleted {
        failures.push(format!("{created} prepull pods created, {deleted} deleted"));
    }
    // No credential in any log.
    let logs = world.all_logs();
    let basic =
        rsp_testkit::registry::basic_authorization(super::fixture::USER, super::fixture::PASSWORD);
    for secret in [super::fixture::PASSWORD, basic.trim_start_matches("Basic ")] {
        if logs.contains(secret) {
            failures.push(format!(
                "a credential ({}…) appears in the logs",
                &secret[..4]
            ));
        }
    }
    let longest = lifetimes.iter().max().copied().unwrap_or_default();
    eprintln!(
        "[e2e] checker polls {}, prepull pods created {}, deleted {}, peak {}, longest pod \
         life {:?}, log bytes {}",
        world.shared.polls.load(Ordering::SeqCst),
        created,
        deleted,
        stats.peak_prepull_pods,
        longest,
        logs.len()
    );
    assert!(
        world.shared.polls.load(Ordering::SeqCst) > 10,
        "the checker hardly ran"
    );
    assert!(
        failures.is_empty(),
        "invariants violated:\n{}",
        failures.join("\n")
    );
}
