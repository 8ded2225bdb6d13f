//! Plain settings of the Kubernetes side, filled in by the service from the YAML configuration.
//!
//! They are deliberately not the configuration types themselves: the service maps
//! `lab.nodeSelector`, `lab.tolerations`, `lab.pullSecret`, `images.prepullTimeout` and the
//! `prepuller` section onto these, and tests build them directly with short timings.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::nodes::NodeSelection;
use rsp_model::node::Toleration;
use rsp_model::plan::NodeStatusMaxImages;
use rsp_model::warm::WarmTaint;
pub use rsp_retry::Backoff;

/// Where the service-account token mount tells a pod its own namespace.
pub const SERVICE_ACCOUNT_NAMESPACE: &str =
    "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// This replica's pod name from a downward-API directory (`metadataPath`, default
/// `/etc/podinfo`), its identity in the leader Lease. `None` when the file is missing or
/// empty: the service then runs outside a pod (or without the downward API).
pub fn pod_name(metadata_dir: &Path) -> Option<String> {
    read_trimmed(&metadata_dir.join("name"))
}

/// The namespace for prepull pods when the configuration names none: `{metadataPath}/namespace`,
/// then the service-account mount, then `default`.
pub fn default_namespace(metadata_dir: &Path) -> String {
    read_trimmed(&metadata_dir.join("namespace"))
        .or_else(|| read_trimmed(Path::new(SERVICE_ACCOUNT_NAMESPACE)))
        .unwrap_or_else(|| "default".to_owned())
}

fn read_trimmed(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// What every prepull pod carries, independent of node and image.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PodTemplate {
    /// Namespace the pods are created in.
    pub namespace: String,
    /// `lab.pullSecret`: name of the image pull secret, if any.
    pub pull_secret: Option<String>,
    /// `lab.tolerations`, copied onto every pod.
    pub tolerations: Vec<Toleration>,
}

/// Settings of the prepuller, filled by the service from the configuration's `lab`,
/// `images` and `prepuller` sections (not the configuration's `PrepullerConfig`, which is
/// the `prepuller` section as written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrepullerSettings {
    pub pod: PodTemplate,
    /// `lab.nodeSelector`: only nodes with all these labels are watched
    /// ([`PrepullerSettings::node_selection`]).
    pub node_selector: BTreeMap<String, String>,
    /// Cluster-wide cap on prepull pods that exist at once (`prepuller.maxInFlight`).
    pub max_in_flight: usize,
    /// `images.prepullTimeout`: how long one pod may take from creation to a pulled image.
    pub prepull_timeout: Duration,
    /// How long a pull may stay in `ErrImagePull` / `ImagePullBackOff` before it counts as
    /// failed; kubelet retries by itself, so a short blip must not fail the pull.
    pub pull_error_grace: Duration,
    /// Exponential backoff with jitter for one failing (node, image) pair: 30 s doubling to
    /// 30 minutes by default.
    pub backoff: Backoff,
    /// On shutdown, how long to spend deleting the pods still in flight.
    pub shutdown_timeout: Duration,
    /// kubelet's `nodeStatusMaxImages`: how many images a node's status lists at most.
    pub node_status_max_images: NodeStatusMaxImages,
    /// Warm nodes (`prepuller.warmTaint`), off when `None`; set it with
    /// [`PrepullerSettings::with_warm`], which also makes prepull pods tolerate the taint.
    pub warm: Option<WarmConfig>,
}

/// The warm-node gate: the startup taint the leader removes, and when it gives up waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmConfig {
    pub taint: WarmTaint,
    /// `prepuller.warmTimeout`; `None`: the prepull timeout times the number of prepull
    /// images ([`WarmConfig::timeout`]).
    pub timeout: Option<Duration>,
}

impl WarmConfig {
    /// How long a node may stay cold when `images` distinct images are prepulled (at least
    /// one prepull timeout, saturating).
    pub fn timeout(&self, prepull_timeout: Duration, images: usize) -> Duration {
        rsp_model::warm::timeout(self.timeout, prepull_timeout, images)
    }
}

impl PrepullerSettings {
    /// Defaults of the contract (decisions.md §3, behaviour.md §10) for a namespace.
    pub fn new(namespace: impl Into<String>) -> Self {
        PrepullerSettings {
            pod: PodTemplate {
                namespace: namespace.into(),
                ..PodTemplate::default()
            },
            node_selector: BTreeMap::new(),
            max_in_flight: 10,
            prepull_timeout: Duration::from_secs(600),
            pull_error_grace: Duration::from_secs(60),
            backoff: Backoff::new(Duration::from_secs(30), Duration::from_secs(30 * 60)),
            shutdown_timeout: Duration::from_secs(10),
            node_status_max_images: NodeStatusMaxImages::default(),
            warm: None,
        }
    }

    /// Turns warm nodes on: the leader removes `warm.taint` from nodes once warm, and prepull
    /// pods (and so eligibility, which is judged with their tolerations) tolerate it.
    pub fn with_warm(mut self, warm: WarmConfig) -> Self {
        let toleration = warm.taint.toleration();
        if !self.pod.tolerations.contains(&toleration) {
            self.pod.tolerations.push(toleration);
        }
        self.warm = Some(warm);
        self
    }

    /// The nodes this prepuller works on and the tolerations their eligibility is judged
    /// with (its pods'): what a node watcher feeding it is started with, so that the
    /// eligibility its snapshots carry is the prepuller's.
    pub fn node_selection(&self) -> NodeSelection {
        NodeSelection {
            selector: self.node_selector.clone(),
            tolerations: self.pod.tolerations.clone(),
        }
    }
}

/// Settings of leader election.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderConfig {
    /// Namespace of the Lease (normally the prepull namespace).
    pub namespace: String,
    /// Name of the Lease object.
    pub lease_name: String,
    /// This replica's identity in `holderIdentity` (the pod name, made unique).
    pub identity: String,
    /// How long a lease stays valid without renewal; a dead leader is replaced after this.
    pub lease_duration: Duration,
    /// How long after sending its last confirmed renewal the holder keeps leading: it stops
    /// writing then, before anyone may take the lease over (client-go's `RenewDeadline`).
    pub renew_deadline: Duration,
    /// How often the holder renews (and others check).
    pub renew_interval: Duration,
}

impl LeaderConfig {
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaderConfig {
            namespace: namespace.into(),
            lease_name: "rsp-images-prepuller".to_owned(),
            identity: identity.into(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            renew_interval: Duration::from_secs(5),
        }
    }

    /// The renew deadline in use: the configured one when it is shorter than the lease
    /// duration, else two thirds of the lease duration, so that a holder always stops
    /// before its lease can expire for others.
    pub fn renew_deadline(&self) -> Duration {
        let most = self.lease_duration * 2 / 3;
        if self.renew_deadline < self.lease_duration {
            self.renew_deadline
        } else {
            most
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_and_namespace_come_from_the_metadata_dir() {
        let dir = std::env::temp_dir().join(format!("rsp-kube-meta-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(pod_name(&dir), None);
        std::fs::write(dir.join("name"), "rsp-images-5d8f9\n").unwrap();
        std::fs::write(dir.join("namespace"), "nublado\n").unwrap();
        assert_eq!(pod_name(&dir).as_deref(), Some("rsp-images-5d8f9"));
        assert_eq!(default_namespace(&dir), "nublado");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
