//! Error bodies of the HTTP API: `{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`.
//!
//! Every failure a client can cause (unknown route, wrong method, bad JSON, unknown image, …)
//! is an [`ApiError`]: a status plus the model's [`ErrorBody`], the FastAPI-shaped detail list
//! the original's clients already parse. One type means no handler can answer another shape.

use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use rsp_model::api::ErrorBody;

use crate::backend::{LookupError, NotReady};

/// An error answer: status and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub body: ErrorBody,
}

impl ApiError {
    pub fn new(status: StatusCode, loc: &[&str], msg: impl Into<String>, kind: &str) -> Self {
        Self {
            status,
            body: ErrorBody::new(loc.iter().map(|s| (*s).to_owned()).collect(), msg, kind),
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, &["path"], "Not Found", "not_found")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            &["method"],
            "Method Not Allowed",
            "method_not_allowed",
        )
    }

    /// The service cannot answer from a listing yet (`/readyz`, and the routes that read the
    /// listing before the first refresh).
    pub fn not_ready(reason: &NotReady) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            &[],
            reason.to_string(),
            "not_ready",
        )
    }

    /// A lookup failure about the input at `loc`. Unknown images are 404 on the path routes
    /// and 400 in a request body (as the original's lab creation), hence `unknown_status`.
    pub fn lookup(error: LookupError, loc: &[&str], unknown_status: StatusCode) -> Self {
        match error {
            LookupError::UnknownImage(msg) => Self::new(unknown_status, loc, msg, "unknown_image"),
            LookupError::InvalidReference(msg) => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                loc,
                msg,
                "invalid_docker_reference",
            ),
            // The client did nothing wrong and the service is healthy: an upstream failed.
            LookupError::Registry(msg) => {
                Self::new(StatusCode::BAD_GATEWAY, loc, msg, "registry_error")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(self.body)).into_response()
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                &["body"],
                "Request body too large",
                "payload_too_large",
            )
        } else {
            Self::new(
                StatusCode::BAD_REQUEST,
                &["body"],
                format!("Could not read the request body: {rejection}"),
                "body_read_error",
            )
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        // In practice: a percent-encoding that is not UTF-8. No route has such a resource.
        Self::new(
            StatusCode::NOT_FOUND,
            &["path"],
            format!("Invalid path: {rejection}"),
            "invalid_path",
        )
    }
}
