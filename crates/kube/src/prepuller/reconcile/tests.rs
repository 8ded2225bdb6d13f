//! The reconciler's rules, driven by hand: a map stands in for the pod watcher, the test plays
//! the API server by answering actions, and the clock is passed explicitly.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use k8s_openapi::api::core::v1::Pod;
use rsp_model::node::NodeInfo;
use rsp_model::plan::{PrepullImage, PulledSet};
use rsp_model::selected::SelectedNodes;
use serde_json::json;
use tokio::time::Instant;

use super::{Action, OpDone, PodView, Reconciler};
use crate::config::{Backoff, PrepullerSettings};
use crate::prepuller::status::{FailureReason, PrepullOutcome};

#[derive(Default)]
struct Pods(Mutex<BTreeMap<String, Arc<Pod>>>);

impl PodView for Pods {
    fn get(&self, name: &str) -> Option<Arc<Pod>> {
        self.0.lock().unwrap().get(name).cloned()
    }
    fn all(&self) -> Vec<Arc<Pod>> {
        self.0.lock().unwrap().values().cloned().collect()
    }
}

impl Pods {
    fn put(&self, pod: Pod) {
        let name = pod.metadata.name.clone().unwrap();
        self.0.lock().unwrap().insert(name, Arc::new(pod));
    }
    fn remove(&self, name: &str) {
        self.0.lock().unwrap().remove(name);
    }
    fn set_status(&self, name: &str, status: serde_json::Value) {
        let mut pod = Pod::clone(&self.get(name).unwrap());
        pod.status = Some(serde_json::from_value(status).unwrap());
        self.put(pod);
    }
}

/// A prepull image of the repository `r/a` (whose pods report `r/a@…` image IDs).
fn image(tag: &str, digest: &str) -> PrepullImage {
    rsp_testkit::builders::prepull_image("r/a", tag, digest)
}

fn nodes(names: &[&str]) -> Option<Arc<SelectedNodes>> {
    let nodes = names.iter().map(|name| NodeInfo {
        name: (*name).into(),
        ..NodeInfo::default()
    });
    Some(Arc::new(SelectedNodes::from_owned(
        nodes,
        &BTreeMap::new(),
        &[],
    )))
}

fn config(max_in_flight: usize) -> PrepullerSettings {
    let mut config = PrepullerSettings::new("ns");
    config.max_in_flight = max_in_flight;
    config.prepull_timeout = Duration::from_secs(60);
    config.pull_error_grace = Duration::from_secs(5);
    config.backoff = Backoff {
        initial: Duration::from_secs(10),
        max: Duration::from_secs(100),
    };
    config
}

/// A reconciler that has synced, with the given nodes and images.
fn started(max: usize, node_names: &[&str], images: Vec<PrepullImage>) -> Reconciler {
    let mut r = Reconciler::new(config(max), Arc::new(PulledSet::default()));
    r.set_nodes(nodes(node_names));
    r.set_images(Some(Arc::from(images)));
    r.pods_synced();
    r
}

/// Plays the API server: creations succeed and put the pod in the view, deletions remove it.
fn apply(r: &mut Reconciler, pods: &Pods, actions: Vec<Action>, now: Instant) -> Vec<String> {
    let mut created = Vec::new();
    for action in actions {
        match action {
            Action::Create { node, name, pod } => {
                let mut pod = *pod;
                pod.metadata.uid = Some(format!("uid-{name}"));
                pods.put(pod);
                r.op_done(
                    OpDone::Created {
                        node,
                        name: name.clone(),
                        result: Ok(Some(format!("uid-{name}"))),
                    },
                    now,
                    Utc::now(),
                );
                created.push(name);
            }
            Action::Delete { name, .. } => {
                pods.remove(&name);
                r.op_done(
                    OpDone::Deleted {
                        name,
                        result: Ok(()),
                    },
                    now,
                    Utc::now(),
                );
            }
            Action::Release { .. } => panic!("no warm taint is configured here"),
        }
    }
    created
}

/// Reconciles until nothing more happens; returns the pods created.
fn settle(r: &mut Reconciler, pods: &Pods, now: Instant) -> Vec<String> {
    let mut created = Vec::new();
    loop {
        let actions = r.reconcile(now, Utc::now(), pods);
        if actions.is_empty() {
            return created;
        }
        created.extend(apply(r, pods, actions, now));
    }
}

fn pulled() -> serde_json::Value {
    json!({"phase": "Succeeded", "containerStatuses": [{"name": "prepull", "image": "i",
        "imageID": "r/a@sha256:x", "ready": false, "restartCount": 0}]})
}

#[test]
fn one_image_per_node_in_priority_order() {
    let images = vec![
        image("w_2077_43", "sha256:a"),
        image("w_2077_42", "sha256:b"),
    ];
    let mut r = started(10, &["node1", "node2"], images);
    let pods = Pods::default();
    let now = Instant::now();
    let first = settle(&mut r, &pods, now);
    assert_eq!(
        first,
        ["rsp-prepull-w-2077-43-node1", "rsp-prepull-w-2077-43-node2"]
    );
    pods.set_status("rsp-prepull-w-2077-43-node1", pulled());
    let second = settle(&mut r, &pods, now);
    assert_eq!(second, ["rsp-prepull-w-2077-42-node1"]);
    let events = r.take_events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].outcome, PrepullOutcome::Succeeded);
    assert!(r.pulled().contains("node1", "sha256:a"));
}

#[test]
fn the_cap_holds_and_new_nodes_go_first() {
    let images = vec![image("a", "sha256:a"), image("b", "sha256:b")];
    let mut r = started(2, &["n1", "n2", "n3"], images);
    let pods = Pods::default();
    let now = Instant::now();
    assert_eq!(
        settle(&mut r, &pods, now),
        ["rsp-prepull-a-n1", "rsp-prepull-a-n2"]
    );
    pods.set_status("rsp-prepull-a-n1", pulled());
    // n3 still needs its first image, which outranks n1's second.
    assert_eq!(settle(&mut r, &pods, now), ["rsp-prepull-a-n3"]);
    assert_eq!(pods.all().len(), 2);
}

#[test]
fn failures_back_off_while_the_node_moves_on() {
    let images = vec![image("bad", "sha256:bad"), image("good", "sha256:good")];
    let mut r = started(10, &["n1"], images);
    let pods = Pods::default();
    let now = Instant::now();
    assert_eq!(settle(&mut r, &pods, now), ["rsp-prepull-bad-n1"]);
    let backoff = json!({"phase": "Pending", "containerStatuses": [{"name": "prepull",
        "image": "i", "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff"}}}]});
    pods.set_status("rsp-prepull-bad-n1", backoff);
    assert!(
        settle(&mut r, &pods, now).is_empty(),
        "within the grace period"
    );
    let later = now + Duration::from_secs(6);
    assert_eq!(settle(&mut r, &pods, later), ["rsp-prepull-good-n1"]);
    let events = r.take_events();
    assert!(matches!(
        &events[0].outcome,
        PrepullOutcome::Failed {
            reason: FailureReason::PullError,
            ..
        }
    ));
    let status = r.take_status().unwrap();
    let bad = status.pull("n1", "sha256:bad").unwrap();
    assert_eq!(bad.failures, 1);
    assert!(bad.backing_off_until.is_some() && bad.pulling_since.is_none());
    assert!(status
        .pull("n1", "sha256:good")
        .unwrap()
        .pulling_since
        .is_some());
    // After the good image, the bad one waits for its backoff (5–10 s), then is retried.
    pods.set_status("rsp-prepull-good-n1", pulled());
    assert!(settle(&mut r, &pods, later).is_empty());
    let wake = r.next_wakeup(later).unwrap();
    assert!(wake > later && wake <= later + Duration::from_secs(10));
    assert_eq!(settle(&mut r, &pods, wake), ["rsp-prepull-bad-n1"]);
}

#[test]
fn timeouts_delete_the_pod_and_report() {
    let mut r = started(10, &["n1"], vec![image("slow", "sha256:s")]);
    let pods = Pods::default();
    let now = Instant::now();
    settle(&mut r, &pods, now);
    assert_eq!(r.next_wakeup(now), Some(now + Duration::from_secs(60)));
    settle(&mut r, &pods, now + Duration::from_secs(61));
    assert!(pods.all().is_empty(), "the timed-out pod is deleted");
    let events = r.take_events();
    assert!(matches!(
        &events[0].outcome,
        PrepullOutcome::Failed {
            reason: FailureReason::Timeout,
            ..
        }
    ));
    assert!(
        !r.pulled().contains("n1", "sha256:s"),
        "failures are not marked as pulled"
    );
}

#[test]
fn leftovers_are_adopted_or_deleted() {
    let images = vec![image("a", "sha256:a")];
    let pods = Pods::default();
    let template = config(10).pod;
    let wanted = crate::pod::prepull_pod(&template, &images[0], "n1");
    let unwanted = crate::pod::prepull_pod(&template, &image("old", "sha256:old"), "n2");
    pods.put(wanted);
    pods.put(unwanted);
    let mut r = started(10, &["n1", "n2"], images);
    let now = Instant::now();
    // n2's leftover is deleted; once it is gone, n2 gets its own pod; n1's is adopted.
    assert_eq!(settle(&mut r, &pods, now), ["rsp-prepull-a-n2"]);
    let names: Vec<_> = pods
        .all()
        .iter()
        .map(|p| p.metadata.name.clone().unwrap())
        .collect();
    assert_eq!(names, ["rsp-prepull-a-n1", "rsp-prepull-a-n2"]);
}

#[test]
fn a_node_that_leaves_drops_its_work_silently() {
    let mut r = started(10, &["n1", "n2"], vec![image("a", "sha256:a")]);
    let pods = Pods::default();
    let now = Instant::now();
    settle(&mut r, &pods, now);
    pods.remove("rsp-prepull-a-n2");
    r.set_nodes(nodes(&["n1"]));
    settle(&mut r, &pods, now + Duration::from_secs(1));
    assert!(r.take_events().is_empty());
    let status = r.take_status().unwrap();
    assert_eq!(status.in_flight, 1);
    assert!(status.pull("n2", "sha256:a").is_none());
}

#[test]
fn create_errors_back_off_and_stop_deletes_everything() {
    let mut r = started(10, &["n1", "n2"], vec![image("a", "sha256:a")]);
    let pods = Pods::default();
    let now = Instant::now();
    let actions = r.reconcile(now, Utc::now(), &pods);
    assert_eq!(actions.len(), 2);
    let mut rest = Vec::new();
    for action in actions {
        match action {
            Action::Create { node, name, .. } if node == "n1" => r.op_done(
                OpDone::Created {
                    node,
                    name,
                    result: Err("Error creating object (status 400)".into()),
                },
                now,
                Utc::now(),
            ),
            other => rest.push(other),
        }
    }
    apply(&mut r, &pods, rest, now);
    assert!(settle(&mut r, &pods, now).is_empty(), "n1 backs off");
    assert_eq!(
        r.take_status().unwrap().failed_total[&FailureReason::CreateFailed],
        1
    );
    r.stop();
    settle(&mut r, &pods, now);
    assert!(pods.all().is_empty());
    assert!(r.is_idle());
}

#[test]
fn a_pod_deleted_by_someone_else_is_a_failure_after_a_grace() {
    let mut r = started(10, &["n1"], vec![image("a", "sha256:a")]);
    let pods = Pods::default();
    let now = Instant::now();
    settle(&mut r, &pods, now);
    pods.set_status("rsp-prepull-a-n1", json!({"phase": "Pending"}));
    settle(&mut r, &pods, now);
    pods.remove("rsp-prepull-a-n1");
    assert!(
        settle(&mut r, &pods, now).is_empty(),
        "not yet: the node watch may lag"
    );
    assert!(r.take_events().is_empty());
    let later = now + Duration::from_secs(1);
    settle(&mut r, &pods, later);
    let events = r.take_events();
    assert!(matches!(
        &events[0].outcome,
        PrepullOutcome::Failed {
            reason: FailureReason::PodDeleted,
            ..
        }
    ));
}

#[test]
fn an_image_no_longer_wanted_is_dropped_silently() {
    let mut r = started(
        10,
        &["n1"],
        vec![image("a", "sha256:a"), image("b", "sha256:b")],
    );
    let pods = Pods::default();
    let now = Instant::now();
    assert_eq!(settle(&mut r, &pods, now), ["rsp-prepull-a-n1"]);
    r.set_images(Some(Arc::from(vec![image("b", "sha256:b")])));
    assert_eq!(settle(&mut r, &pods, now), ["rsp-prepull-b-n1"]);
    assert!(r.take_events().is_empty());
    assert_eq!(pods.all().len(), 1);
}

#[test]
fn nothing_happens_before_every_input_is_known() {
    let pods = Pods::default();
    let now = Instant::now();
    let mut r = Reconciler::new(config(10), Arc::new(PulledSet::default()));
    r.set_nodes(nodes(&["n1"]));
    r.pods_synced();
    assert!(
        r.reconcile(now, Utc::now(), &pods).is_empty(),
        "images unknown"
    );
    r.set_images(Some(Arc::from(vec![image("a", "sha256:a")])));
    assert_eq!(r.reconcile(now, Utc::now(), &pods).len(), 1);
}

/// A small deterministic generator (xorshift), so that a failing sequence can be replayed
/// from its seed.
struct Steps(u64);

impl Steps {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn pull_error() -> serde_json::Value {
    json!({"phase": "Pending", "containerStatuses": [{"name": "prepull", "image": "i",
        "imageID": "", "ready": false, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff"}}}]})
}

/// The line of nodes waiting for a slot is kept node by node (`queue.rs`); whatever happens
/// (pulls, pull errors, pods deleted by others, backoffs ending, nodes joining and leaving,
/// leftover pods, new images), it must be the line that ranking every planned node gives.
#[test]
fn the_line_kept_node_by_node_is_the_line_a_full_ranking_gives() {
    let all: Vec<String> = (0..12).map(|i| format!("n{i:02}")).collect();
    let template = config(3).pod;
    for seed in 1..=40u64 {
        let mut steps = Steps(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let mut present: Vec<&str> = all[..8].iter().map(String::as_str).collect();
        let mut images = vec![
            image("a", "sha256:a"),
            image("b", "sha256:b"),
            image("c", "sha256:c"),
        ];
        let mut r = started(3, &present, images.clone());
        let pods = Pods::default();
        let mut now = Instant::now();
        for step in 0..150 {
            let names: Vec<String> = pods
                .all()
                .iter()
                .filter_map(|pod| pod.metadata.name.clone())
                .collect();
            let some_pod = (!names.is_empty()).then(|| names[steps.below(names.len())].clone());
            match steps.below(9) {
                0 | 1 => {
                    if let Some(pod) = some_pod {
                        pods.set_status(&pod, pulled());
                    }
                }
                2 => {
                    if let Some(pod) = some_pod {
                        pods.set_status(&pod, pull_error());
                    }
                }
                3 => {
                    if let Some(pod) = some_pod {
                        pods.remove(&pod);
                    }
                }
                4 => now += Duration::from_secs(1 + steps.below(15) as u64),
                5 => {
                    let node = all[steps.below(all.len())].as_str();
                    match present.iter().position(|known| *known == node) {
                        Some(at) => {
                            present.remove(at);
                        }
                        None => {
                            present.push(node);
                            present.sort();
                        }
                    }
                    r.set_nodes(nodes(&present));
                }
                6 => {
                    let node = all[steps.below(all.len())].as_str();
                    let mut leftover =
                        crate::pod::prepull_pod(&template, &image("old", "sha256:old"), node);
                    leftover.metadata.uid = Some(format!("uid-old-{step}"));
                    pods.put(leftover);
                }
                7 if steps.below(4) == 0 => {
                    images.rotate_left(1);
                    r.set_images(Some(Arc::from(images.clone())));
                }
                _ => {}
            }
            let actions = r.reconcile(now, Utc::now(), &pods);
            let (kept, ranked) = r.line_kept_and_ranked(now);
            assert_eq!(kept, ranked, "seed {seed}, step {step}, after a pass");
            apply(&mut r, &pods, actions, now);
            let (kept, ranked) = r.line_kept_and_ranked(now);
            assert_eq!(kept, ranked, "seed {seed}, step {step}, after the answers");
        }
    }
}
