//! The `cluster` section (rsp-images' own, decisions §3): where nodes come from, the
//! Kubernetes cluster the service runs in or a NodeList file for planning without one.

use serde::Deserialize;
use std::path::PathBuf;

/// Where nodes come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClusterConfig {
    /// The cluster the service runs in (or the kubeconfig's), watched live.
    #[default]
    Kubernetes,
    /// A NodeList file; prepulls are only planned (dry run).
    Static {
        #[serde(rename = "nodesFile", alias = "nodes_file")]
        nodes_file: PathBuf,
    },
}
