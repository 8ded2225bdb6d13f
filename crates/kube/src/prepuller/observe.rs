//! Reading a prepull pod's progress from its status.
//!
//! The image being on the node is what matters, not the command: a container status with an
//! `imageID` means kubelet has the image, even when `/bin/true` is missing from it and the pod
//! fails (decisions.md §6). Pull errors are only transient signals here; the reconciler
//! decides how long to tolerate them.

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};

use super::status::FailureReason;
use crate::pod::CONTAINER_NAME;

/// What a prepull pod's status says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing conclusive yet (pending, creating, running).
    Waiting,
    /// The image is on the node.
    Pulled,
    /// Kubelet is failing to pull and retrying by itself.
    PullError(String),
    /// The pod will never pull the image.
    Failed(FailureReason, String),
}

/// Classifies a pod (see the module comment for the rules).
pub fn progress(pod: &Pod) -> Progress {
    let status = pod.status.as_ref();
    let container = status
        .and_then(|status| status.container_statuses.as_ref())
        .and_then(|statuses| {
            statuses
                .iter()
                .find(|c| c.name == CONTAINER_NAME)
                .or_else(|| statuses.first())
        });
    if container.is_some_and(|c| !c.image_id.is_empty()) {
        return Progress::Pulled;
    }
    let phase = status.and_then(|status| status.phase.as_deref());
    if phase == Some("Succeeded") {
        return Progress::Pulled;
    }
    if let Some((reason, message)) = container.and_then(waiting) {
        match reason {
            "ErrImagePull" | "ImagePullBackOff" => {
                return Progress::PullError(describe(reason, message));
            }
            "InvalidImageName" | "ErrImageNeverPull" => {
                return Progress::Failed(FailureReason::InvalidImage, describe(reason, message));
            }
            _ => {}
        }
    }
    if phase == Some("Failed") {
        let detail = container
            .and_then(terminated)
            .or_else(|| {
                let status = status?;
                let reason = status.reason.as_deref().unwrap_or("Failed");
                Some(describe(reason, status.message.as_deref()))
            })
            .unwrap_or_else(|| "Failed".to_owned());
        return Progress::Failed(
            FailureReason::PodFailed,
            format!("pod failed before pulling the image: {detail}"),
        );
    }
    Progress::Waiting
}

fn waiting(container: &ContainerStatus) -> Option<(&str, Option<&str>)> {
    let waiting = container.state.as_ref()?.waiting.as_ref()?;
    Some((waiting.reason.as_deref()?, waiting.message.as_deref()))
}

fn terminated(container: &ContainerStatus) -> Option<String> {
    let terminated = container.state.as_ref()?.terminated.as_ref()?;
    let reason = terminated.reason.as_deref().unwrap_or("Terminated");
    Some(describe(reason, terminated.message.as_deref()))
}

fn describe(reason: &str, message: Option<&str>) -> String {
    match message.filter(|m| !m.is_empty()) {
        Some(message) => format!("{reason}: {message}"),
        None => reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(status: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "status": status})).unwrap()
    }

    fn container(image_id: &str, state: serde_json::Value) -> serde_json::Value {
        json!({"name": "prepull", "image": "i", "imageID": image_id, "ready": false,
               "restartCount": 0, "state": state})
    }

    #[test]
    fn image_id_means_pulled_even_when_the_pod_failed() {
        let failed = pod(json!({"phase": "Failed", "containerStatuses": [container(
            "r/a@sha256:1", json!({"terminated": {"exitCode": 127, "reason": "StartError"}}))]}));
        assert_eq!(progress(&failed), Progress::Pulled);
        assert_eq!(
            progress(&pod(json!({"phase": "Succeeded"}))),
            Progress::Pulled
        );
    }

    #[test]
    fn pull_errors_and_failures_are_told_apart() {
        let backoff = pod(json!({"phase": "Pending", "containerStatuses": [container(
            "", json!({"waiting": {"reason": "ImagePullBackOff", "message": "Back-off"}}))]}));
        assert_eq!(
            progress(&backoff),
            Progress::PullError("ImagePullBackOff: Back-off".into())
        );
        let invalid = pod(json!({"phase": "Pending", "containerStatuses": [container(
            "", json!({"waiting": {"reason": "InvalidImageName"}}))]}));
        assert!(matches!(
            progress(&invalid),
            Progress::Failed(FailureReason::InvalidImage, _)
        ));
        let failed = pod(json!({"phase": "Failed", "reason": "Evicted", "message": "disk"}));
        assert_eq!(
            progress(&failed),
            Progress::Failed(
                FailureReason::PodFailed,
                "pod failed before pulling the image: Evicted: disk".into()
            )
        );
    }

    #[test]
    fn pending_and_running_are_waiting() {
        assert_eq!(
            progress(&pod(json!({"phase": "Pending"}))),
            Progress::Waiting
        );
        assert_eq!(progress(&pod(json!(null))), Progress::Waiting);
        let creating = pod(json!({"phase": "Pending", "containerStatuses": [container(
            "", json!({"waiting": {"reason": "ContainerCreating"}}))]}));
        assert_eq!(progress(&creating), Progress::Waiting);
    }
}
