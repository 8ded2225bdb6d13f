//! Where the service's view of a cluster comes from: a client to the API server (in-cluster
//! service account or `KUBECONFIG`), or a NodeList file for running without a cluster.
//!
//! Both live here so that no other crate names `kube` or `k8s-openapi`: the service and the
//! binary hold an [`Client`] and [`NodeInfo`]s, never the Kubernetes types themselves.
//!
//! Every client is made by [`client_for`]: kube-rs' own retry off, the project's
//! ([`crate::api_retry`]) around kube's stack instead, so that 429 and `Retry-After` are
//! honoured one way everywhere (issue 16).

use crate::api_retry::ApiRetryLayer;
use crate::nodes::node_infos;
use k8s_openapi::api::core::v1::Node;
use rsp_model::node::NodeInfo;
use std::path::Path;

/// A client of the Kubernetes API server (kube-rs), as the service passes it around.
pub use kube::Client;

/// Why no client or node list could be had; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// Neither an in-cluster service account nor a usable `KUBECONFIG`.
    #[error(
        "cannot configure a Kubernetes client (in-cluster service account or KUBECONFIG): \
         {0}; to run without a cluster, configure cluster: {{type: static, nodesFile: F}}"
    )]
    NoClient(String),
    /// The nodes file cannot be read.
    #[error("cannot read nodes file {path}: {message}")]
    NodesFileUnreadable { path: String, message: String },
    /// The nodes file is not a NodeList.
    #[error(
        "nodes file {path} is not a Kubernetes NodeList (kubectl get nodes -o json): {message}"
    )]
    NodesFileInvalid { path: String, message: String },
}

/// The client the environment configures: the in-cluster service account, else `KUBECONFIG`,
/// retrying as [`crate::api_retry::API_RETRY`] says.
pub async fn default_client() -> Result<Client, ConnectError> {
    let config = kube::Config::infer()
        .await
        .map_err(|error| ConnectError::NoClient(error.to_string()))?;
    client_for(config, ApiRetryLayer::default())
}

/// A client for `config` whose requests are retried by `retry` rather than by kube-rs'
/// default retry, which is turned off (two retry loops would multiply their attempts). Must
/// be called inside a tokio runtime (the client spawns its request buffer).
pub fn client_for(mut config: kube::Config, retry: ApiRetryLayer) -> Result<Client, ConnectError> {
    config.default_retry = false;
    let builder = kube::client::ClientBuilder::try_from(config)
        .map_err(|error| ConnectError::NoClient(error.to_string()))?;
    Ok(builder.with_layer(&retry).build())
}

/// Reads a NodeList file (`kubectl get nodes -o json`), keeping the file's order.
pub fn read_node_list(path: &Path) -> Result<Vec<NodeInfo>, ConnectError> {
    #[derive(serde::Deserialize)]
    struct NodeList {
        #[serde(default)]
        items: Vec<Node>,
    }
    let shown = path.display().to_string();
    let text =
        std::fs::read_to_string(path).map_err(|error| ConnectError::NodesFileUnreadable {
            path: shown.clone(),
            message: error.to_string(),
        })?;
    let list: NodeList =
        serde_json::from_str(&text).map_err(|error| ConnectError::NodesFileInvalid {
            path: shown,
            message: error.to_string(),
        })?;
    Ok(node_infos(&list.items))
}
