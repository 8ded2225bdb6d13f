//! API errors as `meta/v1 Status` objects, the only error shape kube-rs understands.
//!
//! Every failure inside the fake is an [`ApiError`]; the HTTP layer turns it into a response
//! with the matching code, and the watch layer into an `ERROR` event, so the two never drift.

use serde_json::{json, Value};

/// A failed API call, rendered as a Kubernetes `Status`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code} {reason}: {message}")]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// Machine-readable reason (`NotFound`, `AlreadyExists`, `Conflict`, …).
    pub reason: &'static str,
    /// Human-readable message.
    pub message: String,
}

impl ApiError {
    /// An error with the reason the real API server uses for `code`.
    pub fn new(code: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason_for(code),
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, message)
    }

    pub fn not_found(resource: &str, name: &str) -> ApiError {
        ApiError::new(404, format!("{resource} \"{name}\" not found"))
    }

    pub fn already_exists(resource: &str, name: &str) -> ApiError {
        ApiError::new(409, format!("{resource} \"{name}\" already exists"))
    }

    pub fn conflict(resource: &str, name: &str) -> ApiError {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {resource} \"{name}\": the object has been \
                 modified; please apply your changes to the latest version and try again"
            ),
        }
    }

    pub fn expired(message: impl Into<String>) -> ApiError {
        ApiError::new(410, message)
    }

    pub fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(422, message)
    }

    /// The `Status` object for this error.
    pub fn to_status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        })
    }
}

/// The reason the real API server pairs with an HTTP code.
fn reason_for(code: u16) -> &'static str {
    match code {
        400 => "BadRequest",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "NotFound",
        405 => "MethodNotAllowed",
        409 => "AlreadyExists",
        410 => "Expired",
        415 => "UnsupportedMediaType",
        422 => "Invalid",
        429 => "TooManyRequests",
        503 => "ServiceUnavailable",
        504 => "Timeout",
        _ => "InternalError",
    }
}
