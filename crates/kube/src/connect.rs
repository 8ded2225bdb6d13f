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
use crate::nodes::node_info;
use k8s_openapi::api::core::v1::Node;
use rsp_model::node::{ImageNames, NodeInfo};
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
///
/// Each node is converted as soon as it is parsed and its `Node` dropped: a whole list of
/// `Node` values of 5,000 nodes held three times the memory of what is kept, and the
/// allocator kept most of it after it was freed.
pub fn read_node_list(path: &Path) -> Result<Vec<NodeInfo>, ConnectError> {
    #[derive(serde::Deserialize)]
    struct NodeList {
        #[serde(default, deserialize_with = "converted_one_by_one")]
        items: Vec<NodeInfo>,
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
    Ok(list.items)
}

/// A NodeList's `items`, each `Node` converted ([`node_info`]) as it is read, the image names
/// shared across the list.
fn converted_one_by_one<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<NodeInfo>, D::Error> {
    struct Items;
    impl<'de> serde::de::Visitor<'de> for Items {
        type Value = Vec<NodeInfo>;

        fn expecting(&self, out: &mut std::fmt::Formatter) -> std::fmt::Result {
            out.write_str("a list of Node objects")
        }

        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            let mut image_names = ImageNames::default();
            // No capacity from the length the input claims: it is the file's word, not ours.
            let mut nodes = Vec::new();
            while let Some(node) = seq.next_element::<Node>()? {
                nodes.push(node_info(&node, &mut image_names));
            }
            Ok(nodes)
        }
    }
    deserializer.deserialize_seq(Items)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A file of this test process holding `text`.
    fn file(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("rsp-kube-{}-{name}", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_node_list_is_read_in_file_order_with_image_names_shared() {
        let image = r#"{"names": ["r/x@sha256:a", "r/x:t"], "sizeBytes": 5}"#;
        let path = file(
            "shared.json",
            &format!(
                r#"{{"kind": "NodeList", "items": [
                {{"metadata": {{"name": "b"}}, "status": {{"images": [{image}]}}}},
                {{"metadata": {{"name": "a"}}, "status": {{"images": [{image}]}}}}
            ]}}"#
            ),
        );
        let nodes = read_node_list(&path).unwrap();
        assert_eq!(
            nodes.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
            ["b", "a"]
        );
        let (b, a) = (&nodes[0].images[0], &nodes[1].images[0]);
        assert_eq!(a, b);
        assert!(Arc::ptr_eq(&a.references[0], &b.references[0]));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_file_that_is_not_a_node_list_is_refused_with_its_path() {
        let path = file("bad.json", r#"{"items": [{"metadata": {"name": 7}}]}"#);
        let error = read_node_list(&path).unwrap_err().to_string();
        assert!(
            error.contains("bad.json") && error.contains("NodeList"),
            "{error}"
        );
        let empty = file("empty.json", r#"{"kind": "NodeList"}"#);
        assert!(read_node_list(&empty).unwrap().is_empty());
        std::fs::remove_file(path).unwrap();
        std::fs::remove_file(empty).unwrap();
    }
}
