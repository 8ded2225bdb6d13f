//! Routes for machines rather than people: liveness, readiness, metrics and the OpenAPI
//! document. They live at the root, not under the path prefix, where probes and scrapers
//! expect them.

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::Backend;
use crate::metrics::{Format, HttpMetrics};

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// 503 until the first refresh succeeded, so no traffic reaches a replica with an empty menu,
/// and while a task the API depends on is down (it is being restarted).
pub async fn readyz<B: Backend>(State(backend): State<Arc<B>>) -> Response {
    match backend.ready() {
        Ok(()) => Json(json!({"status": "ok"})).into_response(),
        Err(reason) => ApiError::not_ready(&reason).into_response(),
    }
}

/// Every series, in the format the scraper asked for (see `crate::metrics::Format`).
pub fn metrics<B: Backend>(backend: &B, http: &HttpMetrics, headers: &HeaderMap) -> Response {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let format = Format::from_accept(accept);
    let text = crate::metrics::render(backend.metrics(), http, format);
    ([(header::CONTENT_TYPE, format.content_type())], text).into_response()
}

/// A pre-serialised JSON document (the OpenAPI description, built once at startup).
pub fn json_text(text: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}
