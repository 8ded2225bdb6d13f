//! Removing the warm taint from a node: the only write rsp-images makes to nodes.
//!
//! `spec.taints` is an atomic list (`+listType=atomic` in `core/v1` `NodeSpec`): a merge or
//! strategic-merge patch replaces it whole, and would undo a taint another controller added
//! since we read the node. A JSON patch (RFC 6902) instead `test`s that the taint is still
//! at the index we saw, then `remove`s that index; the API server applies the operations in
//! order and answers 422 when a test fails (apimachinery's `jsonpatch` apply, then
//! `Invalid`), in which case the node is read again and the patch retried. Nothing but that
//! one entry is ever touched, and only while this replica leads (the prepuller guards it).
//! <https://kubernetes.io/docs/reference/using-api/api-concepts/#patch-and-apply>

use std::time::Duration;

use k8s_openapi::api::core::v1::Node;
use kube::api::{Patch, PatchParams};
use kube::Api;
use rsp_model::node::ImageNames;
use rsp_model::warm::WarmTaint;
use serde_json::json;

use crate::error::{is_not_found, status_and_message, KubeError};
use crate::REQUEST_TIMEOUT;

/// Attempts (a patch, then a read and a patch per failed test) before giving up for now.
const ATTEMPTS: u32 = 5;

/// What a release found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Released {
    /// The patch removed the taint.
    Removed,
    /// The taint (or the node) was gone already: someone else removed it, which is left as
    /// it is.
    AlreadyGone,
}

/// The JSON patch that removes the taint at `index`, provided it is still `taint` there.
pub fn removal_patch(taint: &WarmTaint, index: usize) -> serde_json::Value {
    json!([
        {"op": "test", "path": format!("/spec/taints/{index}/key"), "value": taint.key},
        {"op": "test", "path": format!("/spec/taints/{index}/effect"), "value": taint.effect},
        {"op": "remove", "path": format!("/spec/taints/{index}")},
    ])
}

/// Removes `taint` from the node, first at `index` (where the last snapshot had it), then,
/// after each failed test, wherever a fresh read finds it.
pub async fn remove_taint(
    api: &Api<Node>,
    node: &str,
    taint: &WarmTaint,
    index: usize,
) -> Result<Released, KubeError> {
    let bounded = |what: &'static str| KubeError::Timeout {
        what: format!("{what} of node {node}"),
    };
    let params = PatchParams::default();
    let mut index = Some(index);
    for _ in 0..ATTEMPTS {
        let Some(at) = index else {
            return Ok(Released::AlreadyGone);
        };
        let patch = Patch::<()>::Json(serde_json::from_value(removal_patch(taint, at)).map_err(
            |error| KubeError::PatchNode {
                node: node.to_owned(),
                status: "-".to_owned(),
                message: error.to_string(),
            },
        )?);
        let call = api.patch(node, &params, &patch);
        match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
            Err(_) => return Err(bounded("patch")),
            Ok(Ok(_)) => return Ok(Released::Removed),
            Ok(Err(error)) if is_not_found(&error) => return Ok(Released::AlreadyGone),
            Ok(Err(error)) if is_invalid(&error) => {
                tracing::debug!(%node, "The warm taint moved or went; reading the node again");
                let read = tokio::time::timeout(REQUEST_TIMEOUT, api.get_opt(node)).await;
                index = match read {
                    Err(_) => return Err(bounded("read")),
                    Ok(Err(error)) => return Err(patch_error(node, &error)),
                    Ok(Ok(None)) => None,
                    Ok(Ok(Some(fresh))) => {
                        crate::nodes::node_info(&fresh, &mut ImageNames::default())
                            .taints
                            .iter()
                            .position(|t| taint.is(t))
                    }
                };
            }
            Ok(Err(error)) => return Err(patch_error(node, &error)),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(KubeError::PatchNode {
        node: node.to_owned(),
        status: "422".to_owned(),
        message: format!("the taint kept moving; gave up after {ATTEMPTS} attempts"),
    })
}

fn is_invalid(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 422)
}

fn patch_error(node: &str, error: &kube::Error) -> KubeError {
    let (status, message) = status_and_message(error);
    KubeError::PatchNode {
        node: node.to_owned(),
        status,
        message,
    }
}
