//! Kubernetes side of rsp-images: the only crate that talks to the Kubernetes API.
//!
//! Modules:
//!
//! - `connect`: the API server client the environment configures, and NodeList files for
//!   running without a cluster (the service never names a Kubernetes type).
//! - `api_retry`: the one retry of API requests (429 with `Retry-After`, 503, 504), a tower
//!   layer on `rsp_retry`'s policy in place of kube-rs' default retry.
//! - `config`: plain settings (namespace, caps, timeouts, pod template, lease) that the
//!   service fills from the YAML configuration.
//! - `nodes`: `Node` → `NodeInfo`, and a node watcher (kube-runtime's watcher) publishing
//!   snapshots in listing order (`SelectedNodes`: the nodes, shared between snapshots, with
//!   their eligibility and reported presence, computed once per change), none for kubelet's
//!   status reports that change nothing read here.
//! - `pod`: the prepull pod, its name rule and its exact shape (pure).
//! - `prepuller`: the reconcile loop that creates, watches and deletes prepull pods, with its
//!   pure state machine in `prepuller::reconcile` and its report (`PrepullerReport`) and
//!   events.
//! - `leader`: leader election with a `coordination.k8s.io/v1` Lease.
//! - `leadership`: until when this replica may write, checked before every prepuller write.
//! - `backoff`: the watchers' backoff, the project's one rule (`rsp_retry`) as kube-rs wants it.
//! - `warm`: the JSON patch that removes the warm taint from a node (the only node write).
//! - `error`: errors of Kubernetes calls.
//!
//! The prepull plan itself (which node needs which image) is pure and lives in
//! `rsp_model::plan`, so the `plan` command shares it without a cluster.

pub mod api_retry;
pub mod backoff;
pub mod config;
pub mod connect;
pub mod error;
pub mod leader;
pub mod leadership;
pub mod nodes;
pub mod pod;
pub mod prepuller;
pub mod warm;

pub use api_retry::ApiRetryLayer;
pub use config::{Backoff, LeaderConfig, PodTemplate, PrepullerSettings, WarmConfig};
pub use connect::{client_for, default_client, read_node_list, Client, ConnectError};
pub use error::KubeError;
pub use leader::LeaderElection;
pub use leadership::{Leadership, Tenure};
pub use nodes::{node_info, NodeSelection, NodeSnapshot, NodeWatcher};
pub use pod::{pod_name, prepull_pod};
pub use prepuller::{
    FailureReason, PrepullEvent, PrepullOutcome, PrepullerHandle, PrepullerReport, PullStatus,
    WantedImages,
};
pub use rsp_model::plan::{PrepullImage, PrepullPlan, PulledSet};

/// Upper bound of one Kubernetes API call (the original's `KUBERNETES_REQUEST_TIMEOUT`).
pub const REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
