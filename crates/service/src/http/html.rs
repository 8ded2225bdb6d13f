//! How every HTML route answers a rendered page, and what it answers when rendering fails.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use super::error::ApiError;
use crate::pages::RenderError;

/// A rendered page, or the API's error body when rendering failed.
pub fn respond(page: Result<String, RenderError>) -> Response {
    match page {
        Ok(html) => Html(html).into_response(),
        Err(error) => rendering_failed(&error),
    }
}

/// A template bug, not bad input (tests render every shape): logged, and answered in the
/// API's error shape.
pub fn rendering_failed(error: &RenderError) -> Response {
    tracing::error!(%error, "page rendering failed");
    internal_error("The page could not be rendered")
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
