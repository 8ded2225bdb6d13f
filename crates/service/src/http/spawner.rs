//! The JSON routes under `{prefix}/spawner/v1`: images, prepulls, menu and one image by tag.
//!
//! Bodies are the model's API types serialised as they are; their serde attributes decide
//! null handling (`/images` omits nulls, `/prepulls` keeps them, decisions §1).

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use rsp_model::api::{MenuImages, PrepulledImage, PrepullerStatus, SpawnerImages};
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::Backend;

pub async fn images<B: Backend>(State(backend): State<Arc<B>>) -> Json<SpawnerImages> {
    Json(backend.spawner_images())
}

pub async fn prepulls<B: Backend>(State(backend): State<Arc<B>>) -> Json<PrepullerStatus> {
    Json(backend.prepulls())
}

pub async fn menu<B: Backend>(State(backend): State<Arc<B>>) -> Json<MenuImages> {
    Json(backend.menu())
}

pub async fn image_for_tag<B: Backend>(
    State(backend): State<Arc<B>>,
    tag: Result<Path<String>, PathRejection>,
) -> Result<Json<PrepulledImage>, ApiError> {
    let Path(tag) = tag?;
    lookup(backend.as_ref(), &tag)
}

/// `GET …/images/resolve`: the `POST` route's static path shadows `{tag}` for this one name.
pub async fn image_named_resolve<B: Backend>(
    State(backend): State<Arc<B>>,
) -> Result<Json<PrepulledImage>, ApiError> {
    lookup(backend.as_ref(), "resolve")
}

fn lookup<B: Backend>(backend: &B, tag: &str) -> Result<Json<PrepulledImage>, ApiError> {
    backend
        .image_for_tag(tag)
        .map(Json)
        .map_err(|e| ApiError::lookup(e, &["path", "tag"], StatusCode::NOT_FOUND))
}
