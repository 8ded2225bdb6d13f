//! The JSON routes under `{prefix}/spawner/v1`: images, prepulls, menu and one image by tag.
//!
//! Bodies are the model's API types serialised as they are; their serde attributes decide
//! null handling (`/images` omits nulls, `/prepulls` keeps them, decisions §1). The three
//! large bodies come pre-serialised from the backend (`crate::body`), gzip when accepted.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::Json;
use rsp_model::api::PrepulledImage;
// The schemas the route documentation (`utoipa::path`) names.
use rsp_model::api::{ErrorBody, MenuImages, PrepullerStatus, SpawnerImages};
use std::sync::Arc;

use super::error::ApiError;
use crate::backend::Backend;

#[utoipa::path(
    get,
    path = "/spawner/v1/images",
    operation_id = "getImages",
    summary = "Images for the spawner: recommended, latest of each kind, all prepull images",
    responses(
        (status = 200, description = "OK", body = SpawnerImages),
        (status = 503, description = "not_ready: no refresh of the image list has succeeded yet", body = ErrorBody),
    ),
)]
pub async fn images<B: Backend>(State(backend): State<Arc<B>>, headers: HeaderMap) -> Response {
    backend.spawner_images_body().respond(&headers)
}

#[utoipa::path(
    get,
    path = "/spawner/v1/prepulls",
    operation_id = "getPrepulls",
    summary = "Prepuller configuration, prepull images with their nodes, and the nodes",
    responses(
        (status = 200, description = "OK", body = PrepullerStatus),
        (status = 503, description = "not_ready: no refresh of the image list has succeeded yet", body = ErrorBody),
    ),
)]
pub async fn prepulls<B: Backend>(State(backend): State<Arc<B>>, headers: HeaderMap) -> Response {
    backend.prepulls_body().await.respond(&headers)
}

#[utoipa::path(
    get,
    path = "/spawner/v1/menu",
    operation_id = "getMenu",
    summary = "Spawner menu (prepulled images) and dropdown (every listed image)",
    responses(
        (status = 200, description = "OK", body = MenuImages),
        (status = 503, description = "not_ready: no refresh of the image list has succeeded yet", body = ErrorBody),
    ),
)]
pub async fn menu<B: Backend>(State(backend): State<Arc<B>>, headers: HeaderMap) -> Response {
    backend.menu_body().await.respond(&headers)
}

#[utoipa::path(
    get,
    path = "/spawner/v1/images/{tag}",
    operation_id = "getImageForTag",
    summary = "The image with this tag",
    params(("tag" = String, Path, description = "A tag of the repository")),
    responses(
        (status = 200, description = "OK", body = PrepulledImage),
        (status = 404, description = "unknown_image: no image has this tag", body = ErrorBody),
        (status = 503, description = "not_ready: no refresh of the image list has succeeded yet", body = ErrorBody),
    ),
)]
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
        .listed_image_for_tag(tag)
        .map(Json)
        .map_err(|e| ApiError::lookup(e, &["path", "tag"], StatusCode::NOT_FOUND))
}
