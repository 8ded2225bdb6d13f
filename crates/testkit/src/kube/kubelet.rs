//! The simulated kubelet: one task per pod bound to a node, driving its status through
//! `Pending` → `Running` → `Succeeded` (or a configured failure) and growing the node's
//! `status.images` when a pull succeeds.
//!
//! Each step re-reads the pod by uid and stops when it is gone, so deletion and pod garbage
//! collection need no bookkeeping here. A kubelet whose node is missing or NotReady waits,
//! as a real pod on a dead node stays Pending; it resumes when the node (re)appears Ready.
//! It models pods as the prepuller makes them: `restartPolicy: Never`, and the first
//! container's image is the one pulled.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::cluster::{longest_match, uid_of, Inner};
use super::kind::Kind;
use super::store::now_rfc3339;
use super::termination::is_terminating;

/// What pulling an image does on every node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PullBehaviour {
    /// The pull takes this long, then the container runs and exits 0.
    Succeed(Duration),
    /// The pull fails: the pod stays Pending, its container waiting with `ErrImagePull` and
    /// then `ImagePullBackOff`, without an `imageID`. The kubelet retries (20 ms doubling
    /// up to 1 s), so changing the behaviour later lets the pull go on.
    PullBackOff,
    /// The pull succeeds after this long but the command does not exist: the container
    /// terminates with exit code 127 (`StartError`), `imageID` set, pod `Failed`.
    MissingCommand(Duration),
    /// The pull never finishes: the pod stays Pending in `ContainerCreating`.
    Hang,
}

impl Default for PullBehaviour {
    fn default() -> Self {
        PullBehaviour::Succeed(Duration::from_millis(50))
    }
}

/// How long a container counts as Running before its command exits.
const RUN_TIME: Duration = Duration::from_millis(5);
/// Delay between `ErrImagePull` and `ImagePullBackOff`, and before the first of them.
const BACKOFF_STEP: Duration = Duration::from_millis(20);
/// Longest wait between two pull attempts of a failing image.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// The names containerd records for a pull of `reference`, repo digests first, then repo
/// tags, as kubelet lists them in `status.images` (`Images` in kubernetes
/// `pkg/kubelet/nodestatus/setters.go`), and the image ID a container status reports.
///
/// A reference with both a tag and a digest is stored under the digest alone: CRI's pull
/// normalises it with `ParseDockerRef` (containerd `reference/docker`), which drops the tag
/// of a digested reference. A reference without a tag gets kubelet's default tag `latest`;
/// a reference without a digest gets a stable made-up one (the registry's manifest digest).
pub fn image_names(reference: &str) -> (Vec<String>, String) {
    let (name, digest) = match reference.split_once('@') {
        Some((n, d)) => (n, Some(d.to_string())),
        None => (reference, None),
    };
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match name[slash..].rfind(':') {
        Some(i) => (&name[..slash + i], &name[slash + i + 1..]),
        None => (name, "latest"),
    };
    match digest {
        Some(digest) => {
            let with_digest = format!("{repo}@{digest}");
            (vec![with_digest.clone()], with_digest)
        }
        None => {
            let digest = format!("sha256:{:x}", Sha256::digest(reference.as_bytes()));
            let with_digest = format!("{repo}@{digest}");
            (
                vec![with_digest.clone(), format!("{repo}:{tag}")],
                with_digest,
            )
        }
    }
}

/// Merges the names of another pull of the same image: repo digests first, then repo tags,
/// each once, in the order they were first recorded.
pub fn merge_names(names: &mut Vec<String>, more: &[String]) {
    for name in more {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    // Stable: digests keep their order, tags theirs.
    names.sort_by_key(|name| !name.contains('@'));
}

/// A plausible lab-image size (1–5 GiB) derived from the reference, stable across runs.
fn default_size(reference: &str) -> i64 {
    let h = Sha256::digest(reference.as_bytes());
    let n = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    (1 << 30) + i64::from(n)
}

/// Starts the kubelet for one pod.
pub fn spawn(inner: Arc<Inner>, ns: String, name: String, uid: String) {
    let rt = inner.runtime.clone();
    rt.spawn(async move { run(inner, ns, name, uid).await });
}

struct PodRef {
    inner: Arc<Inner>,
    ns: String,
    name: String,
    uid: String,
}

impl PodRef {
    /// The pod, while it exists and is not being deleted.
    fn get(&self) -> Option<Value> {
        self.inner
            .lock()
            .store
            .get(Kind::Pod, &self.ns, &self.name)
            .filter(|p| uid_of(p) == self.uid && !is_terminating(p))
            .cloned()
    }

    /// Writes the pod's status; `false` when the pod is gone or being deleted (the task
    /// should stop: stopping a terminating pod is `termination.rs`'s business).
    fn set_status(&self, status: Value) -> bool {
        let mut st = self.inner.lock();
        let alive = st
            .store
            .get(Kind::Pod, &self.ns, &self.name)
            .is_some_and(|p| uid_of(p) == self.uid && !is_terminating(p));
        if alive {
            st.store
                .modify(Kind::Pod, &self.ns, &self.name, |p| p["status"] = status);
        }
        alive
    }
}

/// Whether the node exists and its Ready condition is not False/Unknown.
pub fn node_ready(inner: &Inner, node: &str) -> bool {
    let st = inner.lock();
    let Some(n) = st.store.get(Kind::Node, "", node) else {
        return false;
    };
    let ready = n["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == "Ready"));
    ready.is_none_or(|c| c["status"] == "True")
}

fn container_status(c: &Value, image_id: &str, state: Value, ready: bool) -> Value {
    json!({
        "name": c["name"],
        "image": c["image"],
        "imageID": image_id,
        "ready": ready,
        "restartCount": 0,
        "started": ready,
        "state": state,
    })
}

/// A pod status with one status per container, all in `state`.
fn pod_status(pod: &Value, phase: &str, image_id: &str, state: Value, started: &str) -> Value {
    let running = phase == "Running";
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| container_status(c, image_id, state.clone(), running))
        .collect();
    let ready = if running { "True" } else { "False" };
    json!({
        "phase": phase,
        "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Initialized", "status": "True"},
            {"type": "ContainersReady", "status": ready},
            {"type": "Ready", "status": ready},
        ],
        "hostIP": "10.0.0.1",
        "startTime": started,
        "containerStatuses": containers,
    })
}

/// The configured behaviour for `image`, read afresh each time so tests can change it.
fn behaviour(inner: &Inner, image: &str) -> PullBehaviour {
    longest_match(&inner.lock().pulls, image)
        .cloned()
        .unwrap_or_default()
}

/// Why pulling `image` onto `node` fails now, if it does: the configured behaviour, or an
/// image whose platforms do not include the node's (containerd's "no match for platform in
/// manifest").
fn pull_failure(inner: &Inner, node: &str, image: &str) -> Option<&'static str> {
    if behaviour(inner, image) == PullBehaviour::PullBackOff {
        return Some("not found");
    }
    let st = inner.lock();
    let platforms = longest_match(&st.platforms, image)?;
    let labels = &st.store.get(Kind::Node, "", node)?["metadata"]["labels"];
    let (os, arch) = (
        labels["kubernetes.io/os"].as_str(),
        labels["kubernetes.io/arch"].as_str(),
    );
    let fits = platforms.iter().any(|(p_os, p_arch)| {
        os.is_none_or(|os| os == p_os) && arch.is_none_or(|arch| arch == p_arch)
    });
    (!fits).then_some("no match for platform in manifest: not found")
}

/// While pulls of `image` fail, reports `ErrImagePull` / `ImagePullBackOff` and retries with
/// a doubling delay, as kubelet does (but in milliseconds, not minutes); returns the
/// behaviour that ends the back-off, or `None` when the pod is gone.
async fn pull_or_back_off(
    pod: &PodRef,
    spec: &Value,
    node: &str,
    image: &str,
    started: &str,
) -> Option<PullBehaviour> {
    let mut delay = BACKOFF_STEP;
    loop {
        let Some(failure) = pull_failure(&pod.inner, node, image) else {
            return Some(behaviour(&pod.inner, image));
        };
        let msg = format!("failed to pull and unpack image \"{image}\": {failure}");
        for reason in ["ErrImagePull", "ImagePullBackOff"] {
            tokio::time::sleep(BACKOFF_STEP).await;
            let state = json!({"waiting": {"reason": reason, "message": msg}});
            if !pod.set_status(pod_status(spec, "Pending", "", state, started)) {
                return None;
            }
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(MAX_BACKOFF);
    }
}

async fn run(inner: Arc<Inner>, ns: String, name: String, uid: String) {
    let pod = PodRef {
        inner: inner.clone(),
        ns,
        name,
        uid,
    };
    let Some(spec) = pod.get() else { return };
    let node = spec["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let image = spec["spec"]["containers"][0]["image"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // Wait for a Ready node, re-checking whenever any node changes.
    let mut changes = inner.nodes_changed.subscribe();
    while !node_ready(&inner, &node) {
        if changes.changed().await.is_err() || pod.get().is_none() {
            return;
        }
    }

    let started = now_rfc3339();
    let creating = json!({"waiting": {"reason": "ContainerCreating"}});
    if !pod.set_status(pod_status(&spec, "Pending", "", creating, &started)) {
        return;
    }

    let size = longest_match(&inner.lock().sizes, &image).copied();
    let Some(behaviour) = pull_or_back_off(&pod, &spec, &node, &image, &started).await else {
        return;
    };
    let (names, image_id) = image_names(&image);
    // A digest the node already holds is not pulled again (IfNotPresent semantics).
    let cached = inner.node_has_image(&node, &names[0]);
    let pull = |d: Duration| if cached { Duration::ZERO } else { d };

    match behaviour {
        PullBehaviour::Hang => {}
        // Handled by `pull_or_back_off`, which only returns another behaviour.
        PullBehaviour::PullBackOff => {}
        PullBehaviour::Succeed(d) => {
            tokio::time::sleep(pull(d)).await;
            if pod.get().is_none() {
                return;
            }
            inner.record_image(&node, names, size.unwrap_or_else(|| default_size(&image)));
            let running = json!({"running": {"startedAt": now_rfc3339()}});
            if !pod.set_status(pod_status(&spec, "Running", &image_id, running, &started)) {
                return;
            }
            tokio::time::sleep(RUN_TIME).await;
            let done = json!({"terminated": {
                "exitCode": 0, "reason": "Completed",
                "startedAt": started, "finishedAt": now_rfc3339(),
                "containerID": format!("containerd://{}", pod.uid),
            }});
            pod.set_status(pod_status(&spec, "Succeeded", &image_id, done, &started));
        }
        PullBehaviour::MissingCommand(d) => {
            tokio::time::sleep(pull(d)).await;
            if pod.get().is_none() {
                return;
            }
            inner.record_image(&node, names, size.unwrap_or_else(|| default_size(&image)));
            let failed = json!({"terminated": {
                "exitCode": 127, "reason": "StartError",
                "message": "failed to create containerd task: exec: \"/bin/true\": stat \
                            /bin/true: no such file or directory: unknown",
                "startedAt": "1970-01-01T00:00:00Z", "finishedAt": now_rfc3339(),
                "containerID": format!("containerd://{}", pod.uid),
            }});
            pod.set_status(pod_status(&spec, "Failed", &image_id, failed, &started));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubelet_and_containerd() {
        // A pull by tag and digest is recorded under the digest only.
        let (names, id) = image_names("reg.io/lsst/sciplat:w_2077_43@sha256:abc");
        assert_eq!(names, ["reg.io/lsst/sciplat@sha256:abc"]);
        assert_eq!(id, "reg.io/lsst/sciplat@sha256:abc");
        // A pull by tag: digest first, then the tag; no tag means `latest`.
        let (names, _) = image_names("localhost:5000/repo");
        assert_eq!(names.len(), 2);
        assert!(names[0].starts_with("localhost:5000/repo@sha256:"));
        assert_eq!(names[1], "localhost:5000/repo:latest");
        let mut merged = vec!["r/a:t1".to_string(), "r/a@sha256:1".to_string()];
        merge_names(&mut merged, &["r/b@sha256:1".into(), "r/a:t2".into()]);
        assert_eq!(merged, ["r/a@sha256:1", "r/b@sha256:1", "r/a:t1", "r/a:t2"]);
    }
}
