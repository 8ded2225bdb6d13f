//! The status page, and the answer every page gives when rendering fails.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use std::sync::Arc;
use std::time::SystemTime;

use super::error::ApiError;
use crate::backend::Backend;
use crate::pages::{self, RenderError};

/// `GET {prefix}/`.
pub async fn status<B: Backend>(State(backend): State<Arc<B>>, prefix: Arc<str>) -> Response {
    respond(pages::status_page(
        &backend.status(),
        &prefix,
        SystemTime::now(),
    ))
}

fn respond(page: Result<String, RenderError>) -> Response {
    match page {
        Ok(html) => Html(html).into_response(),
        Err(error) => rendering_failed(&error),
    }
}

/// A template bug, not bad input (tests render every shape): logged, and answered in the
/// API's error shape.
pub fn rendering_failed(error: &RenderError) -> Response {
    tracing::error!(%error, "page rendering failed");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        &[],
        "The page could not be rendered",
        "internal_error",
    )
    .into_response()
}
