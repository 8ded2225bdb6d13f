//! Errors of Kubernetes calls, named after the object and the operation so that a log line or
//! a status-page entry says what failed and where to look.

/// A failed Kubernetes API call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KubeError {
    /// Creating a prepull pod failed (the original's wording, plus the API's message).
    #[error("Error creating object (Pod {namespace}/{name}, status {status}): {message}")]
    CreatePod {
        namespace: String,
        name: String,
        /// HTTP status, or `none` when no response came back.
        status: String,
        message: String,
    },
    /// Deleting a prepull pod failed; it is retried, and a pod left behind is removed by the
    /// next leader or restart.
    #[error("Error deleting object (Pod {namespace}/{name}, status {status}): {message}")]
    DeletePod {
        namespace: String,
        name: String,
        status: String,
        message: String,
    },
    /// A same-name pod kept coming back while replacing it.
    #[error(
        "Pod {namespace}/{name} still exists after deleting it {attempts} times; \
         something else keeps creating it"
    )]
    Conflict {
        namespace: String,
        name: String,
        attempts: u32,
    },
    /// Reading or writing the leader-election Lease failed.
    #[error(
        "Error using Lease {namespace}/{name} for leader election (status {status}): {message}; \
         check that the service account may get, create and update leases"
    )]
    Lease {
        namespace: String,
        name: String,
        status: String,
        message: String,
    },
    /// Removing the warm taint from a node failed; it is tried again.
    #[error(
        "Error removing the warm taint from node {node} (status {status}): {message}; \
         check that the service account may patch nodes (deploy/kubernetes' warm-nodes role)"
    )]
    PatchNode {
        node: String,
        status: String,
        message: String,
    },
    /// The API did not answer in time.
    #[error("Kubernetes API call timed out: {what}")]
    Timeout { what: String },
}

/// The HTTP status of a kube error as text (`none` for transport errors) and its message.
pub(crate) fn status_and_message(error: &kube::Error) -> (String, String) {
    match error {
        kube::Error::Api(status) => (status.code.to_string(), status.message.clone()),
        other => ("none".to_owned(), other.to_string()),
    }
}

/// Whether a kube error is the API's 404.
pub(crate) fn is_not_found(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.is_not_found())
}

/// Whether a kube error is 409 (AlreadyExists on create, Conflict on update).
pub(crate) fn is_conflict(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 409)
}
