//! The lab form's route, and how every HTML route answers a rendered page.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::Backend;
use crate::pages::{self, RenderError};

/// `GET {prefix}/spawner/v1/lab-form/{username}`. The user name is not used: the form is the
/// same for everyone (sizes and quotas stay with the lab controller), and the route keeps the
/// original's shape so JupyterHub's spawner can call it unchanged.
pub async fn lab_form<B: Backend>(State(backend): State<Arc<B>>) -> Response {
    respond(pages::lab_form(&backend.menu()))
}

/// A rendered page, or the API's error body when rendering failed.
pub fn respond(page: Result<String, RenderError>) -> Response {
    match page {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            // A template bug, not bad input: log it and answer in the API's error shape.
            tracing::error!(error = %e, "page rendering failed");
            internal_error("The page could not be rendered")
        }
    }
}

pub fn internal_error(message: &str) -> Response {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        &[],
        message,
        "internal_error",
    )
    .into_response()
}
