//! The checker: a task that polls every live replica's API all the time (images, menu,
//! resolve, readyz) and the fake cluster's pod count, and records every violation of the
//! invariants instead of panicking, so that the scenario can report them all at the end.
//!
//! Invariants checked on every poll:
//! - no answer is a 5xx, except the not-ready 503 (of `/readyz` and of every route that
//!   reads the listing) before that replica's first listing;
//! - the menu never loses an image still in the registry: once a tag was offered prepulled
//!   (`menu`), it stays offered (`menu` or `dropdown`; a joining node legitimately moves it
//!   to the dropdown) for as long as the registry holds it, whatever happens to the registry
//!   or the cluster;
//! - once ready, `recommended` resolves (200), an unparsable reference is 422;
//! - the number of prepull pods never exceeds `prepuller.maxInFlight`.
//!
//! And over the whole run, from the fake API server's logs ([`single_writer`],
//! [`foreign_untouched`]): only the replica holding the lease writes pods, and the original
//! controller's pods are never touched.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rsp_testkit::kube::{FakeCluster, LeaseRecord};

use super::fixture::{MAX_IN_FLIGHT, PREFIX};
use super::http;

/// State shared between the scenario (which changes the world) and the checker.
#[derive(Default)]
pub struct Shared {
    /// What the registry holds: tag → digest. Tags leave before a deletion starts and
    /// arrive after a push finished, so the checker never expects what may be gone.
    registry: Mutex<BTreeMap<String, String>>,
    replicas: Mutex<Vec<(String, SocketAddr)>>,
    violations: Mutex<Vec<String>>,
    pub polls: AtomicU64,
    stop: AtomicBool,
}

impl Shared {
    pub fn registry_set(&self, tags: &[&str], digest: &str) {
        let mut reg = self.registry.lock().unwrap();
        for t in tags {
            reg.insert((*t).to_owned(), digest.to_owned());
        }
    }

    pub fn registry_remove_digest(&self, digest: &str) {
        self.registry.lock().unwrap().retain(|_, d| d != digest);
    }

    pub fn registry_tags(&self) -> BTreeMap<String, String> {
        self.registry.lock().unwrap().clone()
    }

    pub fn add_replica(&self, name: &str, addr: SocketAddr) {
        self.replicas.lock().unwrap().push((name.to_owned(), addr));
    }

    pub fn remove_replica(&self, name: &str) {
        self.replicas.lock().unwrap().retain(|(n, _)| n != name);
    }

    pub fn violation(&self, text: String) {
        eprintln!("VIOLATION: {text}");
        let mut v = self.violations.lock().unwrap();
        if v.len() < 200 {
            v.push(text);
        }
    }

    pub fn violations(&self) -> Vec<String> {
        self.violations.lock().unwrap().clone()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// What the checker remembers about one replica process.
#[derive(Default)]
struct View {
    ready: bool,
    /// Tags this replica has offered as prepulled.
    kept: BTreeSet<String>,
}

/// The tag of a reference `host:port/repo:tag` (references here never carry a digest).
pub fn tag_of(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    last.split_once(':')
        .map(|(_, t)| t.split('@').next().unwrap_or(t).to_owned())
        .unwrap_or_default()
}

fn tags(list: &serde_json::Value) -> BTreeSet<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["reference"].as_str())
                .map(tag_of)
                .collect()
        })
        .unwrap_or_default()
}

pub fn spawn(shared: Arc<Shared>, cluster: FakeCluster) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut views: HashMap<String, View> = HashMap::new();
        let mut round = 0u64;
        while !shared.stop.load(Ordering::SeqCst) {
            round += 1;
            let replicas = shared.replicas.lock().unwrap().clone();
            for (name, addr) in replicas {
                let view = views.entry(name.clone()).or_default();
                poll(&shared, &cluster, &name, addr, view, round).await;
            }
            check_cap(&shared, &cluster);
            shared.polls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
}

fn check_cap(shared: &Shared, cluster: &FakeCluster) {
    let now = cluster.stats().current_prepull_pods;
    if now > MAX_IN_FLIGHT {
        shared.violation(format!(
            "{now} prepull pods exist, more than maxInFlight {MAX_IN_FLIGHT}"
        ));
    }
}

/// Records a 5xx as a violation, except the not-ready 503 before the replica's first listing
/// (`ready` is whether its `/readyz` has answered 200 yet).
fn server_error(shared: &Shared, name: &str, what: &str, ready: bool, r: &http::Response) {
    let not_ready = r.status == 503
        && r.json()
            .is_some_and(|body| body["detail"][0]["type"] == "not_ready");
    if r.status >= 500 && (ready || !not_ready) {
        shared.violation(format!("{name}: {what} answered {}: {}", r.status, r.body));
    }
}

async fn poll(
    shared: &Shared,
    cluster: &FakeCluster,
    name: &str,
    addr: SocketAddr,
    view: &mut View,
    round: u64,
) {
    // Connection errors mean the process is starting or being stopped: not a violation.
    if let Ok(r) = http::get(addr, "/readyz").await {
        if r.status == 200 {
            view.ready = true;
        } else if view.ready && r.status >= 500 {
            shared.violation(format!(
                "{name}: /readyz answered {} after being ready",
                r.status
            ));
        }
    }
    if let Ok(r) = http::get(addr, &format!("{PREFIX}/spawner/v1/images")).await {
        server_error(shared, name, "images", view.ready, &r);
        if r.status == 200 && r.json().is_none() {
            shared.violation(format!("{name}: images body is not JSON: {}", r.body));
        }
    }
    let menu = http::get(addr, &format!("{PREFIX}/spawner/v1/menu")).await;
    if let Ok(r) = &menu {
        server_error(shared, name, "menu", view.ready, r);
        if r.status == 200 {
            match r.json() {
                Some(body) => {
                    let prepulled = tags(&body["menu"]);
                    let offered: BTreeSet<String> =
                        prepulled.union(&tags(&body["dropdown"])).cloned().collect();
                    // The registry is read after the answer: a tag still there now was
                    // there while the answer was computed.
                    let registry = shared.registry_tags();
                    for tag in &view.kept {
                        if registry.contains_key(tag) && !offered.contains(tag) {
                            shared.violation(format!(
                                "{name}: the menu lost {tag}, still in the registry \
                                 (menu {prepulled:?}, offered {offered:?})"
                            ));
                        }
                    }
                    view.kept.retain(|t| registry.contains_key(t));
                    view.kept.extend(prepulled);
                }
                None => shared.violation(format!("{name}: menu body is not JSON: {}", r.body)),
            }
        }
    }
    let resolve = format!("{PREFIX}/spawner/v1/images/resolve");
    if let Ok(r) = http::post(addr, &resolve, r#"{"image_tag": "recommended"}"#).await {
        server_error(shared, name, "resolve recommended", view.ready, &r);
        // Once ready, the API answers from a refreshed listing (readiness follows the served
        // state, `rsp_service::state`; this also guards it).
        if view.ready && r.status != 200 {
            shared.violation(format!(
                "{name}: resolving recommended answered {}: {}",
                r.status, r.body
            ));
        }
    }
    // A reference the registry may or may not have, and an unparsable one, now and then.
    if round.is_multiple_of(5) {
        let registry = shared.registry_tags();
        if let Some(tag) = registry
            .keys()
            .nth(round as usize / 5 % registry.len().max(1))
        {
            let body = serde_json::json!({"image_tag": tag}).to_string();
            if let Ok(r) = http::post(addr, &resolve, &body).await {
                server_error(shared, name, &format!("resolve {tag}"), view.ready, &r);
            }
        }
        // No `/`: the original's regex does not match it (behaviour.md §4).
        let body = r#"{"image_list": "sketchbook:w_2077_43"}"#;
        if let Ok(r) = http::post(addr, &resolve, body).await {
            server_error(shared, name, "resolve garbage", view.ready, &r);
            if view.ready && r.status != 422 {
                shared.violation(format!(
                    "{name}: an unparsable reference answered {}, not 422: {}",
                    r.status, r.body
                ));
            }
        }
        if let Ok(r) = http::get(addr, &format!("{PREFIX}/spawner/v1/prepulls")).await {
            server_error(shared, name, "prepulls", view.ready, &r);
        }
        if let Ok(r) = http::get(addr, &format!("{PREFIX}/")).await {
            server_error(shared, name, "status page", view.ready, &r);
        }
    }
    check_cap(shared, cluster);
}

/// Every pod write a replica made while the lease (as the API server stored it) named another
/// holder: two leaders writing. Requests are logged when handed to their verb and Lease
/// writes once committed, so a write just before a takeover is never blamed.
pub fn single_writer(cluster: &FakeCluster) -> Vec<String> {
    let leases: Vec<LeaseRecord> = cluster.lease_log();
    cluster
        .request_log()
        .into_iter()
        .filter(|r| r.resource == "pods" && r.is_write() && r.took_effect())
        .filter(|r| r.client.starts_with("replica"))
        .filter_map(|r| {
            let holder = leases
                .iter()
                .take_while(|lease| lease.at <= r.at)
                .last()
                .and_then(|lease| lease.holder.clone());
            (holder.as_deref() != Some(r.client.as_str())).then(|| {
                format!(
                    "{} wrote pod {:?} ({}) at {:?} while the lease named {holder:?}",
                    r.client, r.name, r.verb, r.at
                )
            })
        })
        .collect()
}

/// Requests of replicas on the original controller's pods, and those pods changed or gone.
pub fn foreign_untouched(cluster: &FakeCluster, foreign: &[(String, String)]) -> Vec<String> {
    let mut problems: Vec<String> = cluster
        .request_log()
        .into_iter()
        .filter(|r| r.client.starts_with("replica"))
        .filter(|r| {
            r.name
                .as_ref()
                .is_some_and(|name| foreign.iter().any(|(foreign, _)| foreign == name))
        })
        .map(|r| {
            format!(
                "{} {} the original controller's pod {:?}",
                r.client, r.verb, r.name
            )
        })
        .collect();
    for (name, uid) in foreign {
        match cluster.pod("default", name) {
            Some(pod) if pod.metadata.uid.as_deref() == Some(uid.as_str()) => {}
            Some(_) => problems.push(format!("the original controller's pod {name} was replaced")),
            None => problems.push(format!("the original controller's pod {name} is gone")),
        }
    }
    problems
}

#[test]
fn tags_of_references() {
    assert_eq!(tag_of("127.0.0.1:5000/a/b:w_2077_40"), "w_2077_40");
    assert_eq!(
        tag_of("127.0.0.1:5000/a/b:recommended@sha256:00"),
        "recommended"
    );
    assert_eq!(tag_of("127.0.0.1:5000/a/b"), "");
}
