//! `GET {prefix}/spawner/v1/lab-form/{username}`: the spawner's lab form (lab-form.md §1).
//!
//! With Gafaelfawr configured, the checks run in the original's order and answer with its
//! statuses and bodies: the two ingress headers (422 naming each missing one), the token at
//! Gafaelfawr (401), the token's user against the header and the path (403), then the sizes
//! the user's quota allows (the form, or the "unavailable" page). Where the original fails
//! with a bare 500 (Gafaelfawr down, slow or confused; no sizes configured) this answers 502,
//! or 504 when Gafaelfawr timed out, with the JSON error body. Without Gafaelfawr the form is
//! open: every size, no check.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use rsp_gafaelfawr::{GafaelfawrClient, UserInfoError};
use rsp_model::lab::{NotebookQuota, SizeOffer};
use serde::Serialize;
use std::sync::Arc;

use super::error::ApiError;
use super::html::rendering_failed;
use crate::backend::Backend;
use crate::form::FormAuth;
use crate::pages::lab_form;

/// The headers a Gafaelfawr ingress adds, in the order the original reports them missing.
const USER_HEADER: &str = "x-auth-request-user";
const TOKEN_HEADER: &str = "x-auth-request-token";

pub async fn lab_form<B: Backend>(
    State(backend): State<Arc<B>>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Path(username) = match path {
        Ok(path) => path,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    let form = backend.lab_form();
    let quota = match &form.auth {
        FormAuth::Open => None,
        FormAuth::Gafaelfawr(client) => match authenticate(client, &username, &headers).await {
            Ok(quota) => quota,
            Err(refusal) => return refusal,
        },
    };
    let (sizes, default) = match form.sizes.offer(quota.as_ref()) {
        SizeOffer::Sizes { sizes, default } => (sizes, default),
        SizeOffer::Unavailable => return Html(lab_form::UNAVAILABLE).into_response(),
        SizeOffer::NoSizes => {
            return ApiError::new(
                StatusCode::BAD_GATEWAY,
                &[],
                "No lab sizes are configured (lab.sizes), so there is no form to offer",
                "no_lab_sizes",
            )
            .into_response()
        }
    };
    let images = match backend.lab_form_images().await {
        Ok(images) => images,
        Err(error) => return rendering_failed(&error),
    };
    match lab_form::options(&sizes, default) {
        Ok(options) => lab_form::html(vec![images, options]),
        Err(error) => rendering_failed(&error),
    }
}

/// The user's notebook quota once the request has passed every check, else the answer.
async fn authenticate(
    client: &GafaelfawrClient,
    path_user: &str,
    headers: &HeaderMap,
) -> Result<Option<NotebookQuota>, Response> {
    let user = header_text(headers, USER_HEADER);
    let token = header_text(headers, TOKEN_HEADER);
    let (Some(user), Some(token)) = (&user, &token) else {
        let missing: Vec<&str> = [(USER_HEADER, &user), (TOKEN_HEADER, &token)]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name)
            .collect();
        return Err(missing_headers(&missing));
    };
    let info = client.user_info(token).await.map_err(user_info_error)?;
    if info.username != *user || path_user != info.username {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            &[],
            "Permission denied",
            "permission_denied",
        )
        .into_response());
    }
    Ok(info.notebook_quota)
}

/// A header's value as text (bytes beyond ASCII read as Latin-1, as the original's server
/// reads them); `None` when absent. An empty value counts as present.
fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .map(|value| value.as_bytes().iter().map(|&b| char::from(b)).collect())
}

fn user_info_error(error: UserInfoError) -> Response {
    let (status, kind, msg) = match &error {
        UserInfoError::InvalidToken => (
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "User token is invalid".to_owned(),
        ),
        UserInfoError::Timeout { .. } => (
            StatusCode::GATEWAY_TIMEOUT,
            "gafaelfawr_timeout",
            error.to_string(),
        ),
        UserInfoError::Upstream(detail) => (
            StatusCode::BAD_GATEWAY,
            "gafaelfawr_error",
            format!("Cannot get user information: {detail}"),
        ),
    };
    if status != StatusCode::UNAUTHORIZED {
        tracing::warn!(%error, "the lab form could not ask Gafaelfawr who the user is");
    }
    ApiError::new(status, &[], msg, kind).into_response()
}

/// One element of a FastAPI validation error, in its key order.
#[derive(Serialize)]
struct Missing {
    #[serde(rename = "type")]
    kind: &'static str,
    loc: [&'static str; 2],
    msg: &'static str,
    input: Option<()>,
}

#[derive(Serialize)]
struct MissingBody {
    detail: Vec<Missing>,
}

/// The original's 422 for missing headers, byte for byte.
fn missing_headers(names: &[&'static str]) -> Response {
    let detail = names
        .iter()
        .map(|name| Missing {
            kind: "missing",
            loc: ["header", name],
            msg: "Field required",
            input: None,
        })
        .collect();
    (
        StatusCode::UNPROCESSABLE_ENTITY,
        Json(MissingBody { detail }),
    )
        .into_response()
}
