//! The API calls the reconciler asks for, run as separate tasks so that a slow or hanging API
//! server never stalls the reconcile loop (the prepuller also guards each one with its
//! leadership, see `prepuller::guarded`).
//!
//! Every call is bounded by [`REQUEST_TIMEOUT`] (the original's 30 s). Deletions use a zero
//! grace period: a prepull pod holds no state worth a graceful stop, and a pod lingering in
//! `Terminating` would keep a slot of the in-flight cap busy; they carry the pod's uid when
//! known, so that only that pod can be deleted. A pod rsp-images did not create is never
//! deleted or replaced: a name taken by one is a failure of that pull, not a stale pod.

use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{DeleteParams, PostParams, Preconditions};
use kube::Api;

use super::reconcile::{Action, OpDone};
use crate::error::{is_conflict, is_not_found, status_and_message, KubeError};
use crate::pod::is_ours;
use crate::REQUEST_TIMEOUT;

/// Attempts at replacing a same-name pod before giving up.
const CONFLICT_ATTEMPTS: u32 = 20;
/// Pause between those attempts, for the deletion to go through.
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

/// Runs one action: pods in `namespace` through `api`, node patches through `nodes`.
pub async fn execute(api: Api<Pod>, nodes: Api<Node>, namespace: String, action: Action) -> OpDone {
    match action {
        Action::Release {
            node,
            index,
            taint,
            waited,
            outcome,
        } => {
            let result = crate::warm::remove_taint(&nodes, &node, &taint, index).await;
            OpDone::Released {
                node,
                waited,
                outcome,
                result: result.map_err(|error| error.to_string()),
            }
        }
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
        Action::Delete { name, uid } => {
            let result = bounded(&name, delete(&api, &namespace, &name, uid.as_deref())).await;
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

/// Creates the pod; when one of the same name exists and rsp-images created it (left by an
/// earlier run or another replica), deletes it and tries again, as the original did. One it
/// did not create is left alone and the create fails.
async fn create_replacing(
    api: &Api<Pod>,
    namespace: &str,
    name: &str,
    pod: &Pod,
) -> Result<Option<String>, KubeError> {
    let create_error = |status: String, message: String| KubeError::CreatePod {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        status,
        message,
    };
    for _ in 0..CONFLICT_ATTEMPTS {
        match api.create(&PostParams::default(), pod).await {
            Ok(created) => return Ok(created.metadata.uid),
            Err(error) if is_conflict(&error) => {
                let existing = match api.get_opt(name).await {
                    Ok(existing) => existing,
                    Err(error) => {
                        let (status, message) = status_and_message(&error);
                        return Err(create_error(status, message));
                    }
                };
                match existing {
                    // Deleted meanwhile: try again.
                    None => {}
                    Some(existing) if is_ours(&existing) => {
                        tracing::info!(pod = %name, "Replacing a stale prepull pod of the same name");
                        delete(api, namespace, name, existing.metadata.uid.as_deref()).await?;
                    }
                    Some(_) => {
                        return Err(create_error(
                            "409".to_owned(),
                            "the name is taken by a pod rsp-images did not create (it lacks \
                             the app.kubernetes.io/managed-by=rsp-images label); leaving it alone"
                                .to_owned(),
                        ));
                    }
                }
                tokio::time::sleep(CONFLICT_PAUSE).await;
            }
            Err(error) => {
                let (status, message) = status_and_message(&error);
                return Err(create_error(status, message));
            }
        }
    }
    Err(KubeError::Conflict {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        attempts: CONFLICT_ATTEMPTS,
    })
}

/// Deletes a pod at once (grace 0), only the one with `uid` when given; a pod already gone,
/// or replaced by another of the same name (the uid precondition fails with 409), is success.
pub async fn delete(
    api: &Api<Pod>,
    namespace: &str,
    name: &str,
    uid: Option<&str>,
) -> Result<(), KubeError> {
    let params = DeleteParams {
        grace_period_seconds: Some(0),
        preconditions: uid.map(|uid| Preconditions {
            uid: Some(uid.to_owned()),
            resource_version: None,
        }),
        ..DeleteParams::default()
    };
    match api.delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(error) if is_not_found(&error) => Ok(()),
        Err(error) if uid.is_some() && is_conflict(&error) => Ok(()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PodTemplate;
    use crate::pod::prepull_pod;
    use rsp_model::plan::PrepullImage;
    use rsp_testkit::kube::{node, pod, FakeCluster, PullBehaviour};

    fn ours(name: &str) -> Pod {
        let image = PrepullImage {
            tag: "w_2077_43".into(),
            reference_with_digest: "r/a:w_2077_43@sha256:43".into(),
            digest: "sha256:43".into(),
            platforms: Default::default(),
        };
        let template = PodTemplate {
            namespace: "default".into(),
            ..PodTemplate::default()
        };
        let mut pod = prepull_pod(&template, &image, "n1");
        pod.metadata.name = Some(name.into());
        pod
    }

    async fn cluster() -> (FakeCluster, Api<Pod>) {
        let cluster = FakeCluster::start().await;
        cluster.add_node(node("n1"));
        cluster.set_pull("", PullBehaviour::Hang);
        let api = Api::default_namespaced(cluster.client());
        (cluster, api)
    }

    #[tokio::test]
    async fn a_stale_pod_of_ours_is_replaced() {
        let (cluster, api) = cluster().await;
        let stale = cluster.create_pod_directly(ours("p"));
        let uid = create_replacing(&api, "default", "p", &ours("p"))
            .await
            .expect("replaced");
        assert_ne!(uid, stale.metadata.uid);
        assert_eq!(cluster.pod("default", "p").unwrap().metadata.uid, uid);
    }

    #[tokio::test]
    async fn a_pod_we_did_not_create_is_never_replaced() {
        let (cluster, api) = cluster().await;
        // The original controller's pod, or anyone else's, under the same name.
        let foreign = pod("p", "r/a:w_2077_43@sha256:43")
            .node("n1")
            .label("nublado.lsst.io/category", "prepuller")
            .build();
        let foreign = cluster.create_pod_directly(foreign);
        let error = create_replacing(&api, "default", "p", &ours("p"))
            .await
            .expect_err("the name is taken");
        assert!(error.to_string().contains("did not create"), "{error}");
        assert_eq!(
            cluster.pod("default", "p").unwrap().metadata.uid,
            foreign.metadata.uid,
            "left alone"
        );
        assert_eq!(cluster.stats().requests("delete", "pods"), 0);
    }

    #[tokio::test]
    async fn a_delete_by_uid_spares_a_newer_pod_of_the_same_name() {
        let (cluster, api) = cluster().await;
        let old = cluster.create_pod_directly(ours("p"));
        cluster.delete_pod_directly("default", "p");
        let newer = cluster.create_pod_directly(ours("p"));
        delete(&api, "default", "p", old.metadata.uid.as_deref())
            .await
            .expect("the old pod is gone: success");
        assert_eq!(
            cluster.pod("default", "p").unwrap().metadata.uid,
            newer.metadata.uid
        );
        delete(&api, "default", "p", newer.metadata.uid.as_deref())
            .await
            .unwrap();
        assert!(cluster.pod("default", "p").is_none());
    }
}
