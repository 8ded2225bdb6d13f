//! The API calls the reconciler asks for, run as separate tasks so that a slow or hanging API
//! server never stalls the reconcile loop.
//!
//! Every call is bounded by [`REQUEST_TIMEOUT`] (the original's 30 s). Deletions use a zero
//! grace period: a prepull pod holds no state worth a graceful stop, and a pod lingering in
//! `Terminating` would keep a slot of the in-flight cap busy.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, PostParams};
use kube::Api;

use super::reconcile::{Action, OpDone};
use crate::error::{is_conflict, is_not_found, status_and_message, KubeError};
use crate::REQUEST_TIMEOUT;

/// Attempts at replacing a same-name pod before giving up.
const CONFLICT_ATTEMPTS: u32 = 20;
/// Pause between those attempts, for the deletion to go through.
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

/// Runs one action.
pub async fn execute(api: Api<Pod>, namespace: String, action: Action) -> OpDone {
    match action {
        Action::Create { node, name, pod } => {
            let result = bounded(&name, create_replacing(&api, &namespace, &name, &pod)).await;
            if let Err(error) = &result {
                tracing::warn!(%error, "Failed to create prepull pod");
            }
            OpDone::Created {
                node,
                name,
                result: result.map_err(|error| error.to_string()),
            }
        }
        Action::Delete { name } => {
            let result = bounded(&name, delete(&api, &namespace, &name)).await;
            OpDone::Deleted {
                name,
                result: result.map_err(|error| error.to_string()),
            }
        }
    }
}

async fn bounded<T>(
    name: &str,
    call: impl std::future::Future<Output = Result<T, KubeError>>,
) -> Result<T, KubeError> {
    tokio::time::timeout(REQUEST_TIMEOUT, call)
        .await
        .unwrap_or_else(|_| {
            Err(KubeError::Timeout {
                what: format!("pod {name}"),
            })
        })
}

/// Creates the pod; when one of the same name exists (left by an earlier run or another
/// replica), deletes it and tries again, as the original did.
async fn create_replacing(
    api: &Api<Pod>,
    namespace: &str,
    name: &str,
    pod: &Pod,
) -> Result<Option<String>, KubeError> {
    for _ in 0..CONFLICT_ATTEMPTS {
        match api.create(&PostParams::default(), pod).await {
            Ok(created) => return Ok(created.metadata.uid),
            Err(error) if is_conflict(&error) => {
                tracing::info!(pod = %name, "Replacing an existing pod of the same name");
                delete(api, namespace, name).await?;
                tokio::time::sleep(CONFLICT_PAUSE).await;
            }
            Err(error) => {
                let (status, message) = status_and_message(&error);
                return Err(KubeError::CreatePod {
                    namespace: namespace.to_owned(),
                    name: name.to_owned(),
                    status,
                    message,
                });
            }
        }
    }
    Err(KubeError::Conflict {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        attempts: CONFLICT_ATTEMPTS,
    })
}

/// Deletes a pod; a pod already gone is success.
pub async fn delete(api: &Api<Pod>, namespace: &str, name: &str) -> Result<(), KubeError> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) => {
            let (status, message) = status_and_message(&error);
            Err(KubeError::DeletePod {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
                status,
                message,
            })
        }
    }
}
