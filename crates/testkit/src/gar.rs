//! A fake Google Artifact Registry: `dockerImages.list` on loopback, for tests and benches.
//!
//! It serves `GET /v1/projects/{p}/locations/{l}/repositories/{r}/dockerImages` with
//! `pageSize` (capped by [`FakeGar::set_max_page_size`]) and `pageToken` (an offset), in the
//! REST mapping's camelCase with `imageSizeBytes` as a string. Bearer tokens can be required
//! and expired ([`FakeGar::issue_token`], [`FakeGar::expire_tokens`]); faults are queued
//! ([`FakeGar::push_faults`]); [`FakeGar::set_endless`] makes every page announce another.
//! Images are kept behind an `Arc` and serialised page by page, so 20k generated images
//! ([`generate_images`]) cost nothing until asked for.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::{Deserialize, Serialize};

pub use crate::registry::serve::Recorded;
use crate::registry::serve::{json, serve, with_fault, FakeState, Recorder, Served};
pub use crate::registry::serve::{Fault, RecordedRequest};

/// A DockerImage in the REST mapping (camelCase; int64 as a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerImage {
    pub name: String,
    pub uri: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    pub image_size_bytes: String,
    pub upload_time: String,
    pub media_type: String,
    pub build_time: String,
    pub update_time: String,
}

/// Where images live in the fake: one Artifact Registry repository.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GarRepository {
    pub location: String,
    pub project: String,
    pub repository: String,
}

impl GarRepository {
    pub fn new(location: &str, project: &str, repository: &str) -> Self {
        Self {
            location: location.to_owned(),
            project: project.to_owned(),
            repository: repository.to_owned(),
        }
    }

    fn parent(&self) -> String {
        format!(
            "projects/{}/locations/{}/repositories/{}",
            self.project, self.location, self.repository
        )
    }

    /// A DockerImage of `image` (possibly nested, `team/app`) as the real API names it:
    /// `name` with the image path percent-encoded, `uri` with it plain.
    pub fn image(&self, image: &str, digest: &str, tags: &[&str], size: u64) -> DockerImage {
        let time = "2026-11-01T12:00:00Z".to_owned();
        DockerImage {
            name: format!(
                "{}/dockerImages/{}@{digest}",
                self.parent(),
                image.replace('/', "%2F")
            ),
            uri: format!(
                "{}-docker.pkg.dev/{}/{}/{image}@{digest}",
                self.location, self.project, self.repository
            ),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            image_size_bytes: size.to_string(),
            upload_time: time.clone(),
            media_type: "application/vnd.docker.distribution.manifest.v2+json".to_owned(),
            build_time: time.clone(),
            update_time: time,
        }
    }
}

/// `n` images of `image` with distinct digests and realistic tags: releases, weeklies,
/// dailies and experimentals in turn, each tag unique.
pub fn generate_images(repo: &GarRepository, image: &str, n: usize) -> Vec<DockerImage> {
    (0..n)
        .map(|i| {
            let k = i / 4;
            let tag = match i % 4 {
                0 => format!("r{}_{}_0", 20 + k / 100, k % 100),
                1 => format!("w_{}_{:02}", 2000 + k / 52, k % 52 + 1),
                2 => format!(
                    "d_{}_{:02}_{:02}",
                    2000 + k / 336,
                    (k / 28) % 12 + 1,
                    k % 28 + 1
                ),
                _ => format!("exp_generated_{k}"),
            };
            let digest = format!("sha256:{i:064x}");
            repo.image(image, &digest, &[&tag], 1_000_000 + i as u64)
        })
        .collect()
}

#[derive(Default)]
struct Inner {
    repositories: HashMap<String, Arc<Vec<DockerImage>>>,
    /// `None`: no token check. Otherwise token → expiry.
    tokens: Option<HashMap<String, Instant>>,
    issued: u64,
    max_page_size: usize,
    endless: bool,
}

type Shared = FakeState<Inner>;

/// The fake Artifact Registry server; stops when dropped.
pub struct FakeGar {
    shared: Arc<Shared>,
    served: Served,
}

/// Page size when the request does not name one.
const DEFAULT_PAGE_SIZE: usize = 100;

impl FakeGar {
    /// Starts an empty fake on `127.0.0.1:0` (needs a Tokio runtime).
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(Inner {
            max_page_size: 1000,
            ..Inner::default()
        }));
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let served = serve(router).await?;
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT`, the client's `api_url`.
    pub fn url(&self) -> &str {
        &self.served.url
    }

    /// Replaces the images of `repo` (API order is this order).
    pub fn set_images(&self, repo: &GarRepository, images: Vec<DockerImage>) {
        self.shared
            .inner()
            .repositories
            .insert(repo.parent(), Arc::new(images));
    }

    /// Largest page served, whatever `pageSize` asks (default 1000, as the real API).
    pub fn set_max_page_size(&self, size: usize) {
        self.shared.inner().max_page_size = size.max(1);
    }

    /// When on, every page carries a new `nextPageToken`: a chain that never ends.
    pub fn set_endless(&self, endless: bool) {
        self.shared.inner().endless = endless;
    }

    /// Requires `Authorization: Bearer` with a token from [`Self::issue_token`].
    pub fn require_auth(&self) {
        self.shared.inner().tokens.get_or_insert_with(HashMap::new);
    }

    /// A new valid token (turns the token check on), valid for `ttl`.
    pub fn issue_token(&self, ttl: Duration) -> String {
        let mut inner = self.shared.inner();
        inner.issued += 1;
        let token = format!("ya29.fake-token-{}", inner.issued);
        inner
            .tokens
            .get_or_insert_with(HashMap::new)
            .insert(token.clone(), Instant::now() + ttl);
        token
    }

    /// Makes every token issued so far invalid.
    pub fn expire_tokens(&self) {
        if let Some(tokens) = self.shared.inner().tokens.as_mut() {
            tokens.clear();
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<'a> {
    docker_images: &'a [DockerImage],
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

fn google_error(status: StatusCode, message: &str, code: &str) -> Response {
    json(
        status,
        &serde_json::json!({"error": {"code": status.as_u16(), "message": message, "status": code}}),
    )
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    with_fault(fault, async move { list(&shared, &recorded) }).await
}

fn list(shared: &Shared, request: &RecordedRequest) -> Response {
    let inner = shared.inner();
    if let Some(tokens) = &inner.tokens {
        let presented = request
            .authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "));
        let valid = presented
            .and_then(|t| tokens.get(t))
            .is_some_and(|expiry| *expiry > Instant::now());
        if !valid {
            let mut response = google_error(
                StatusCode::UNAUTHORIZED,
                "Request had invalid authentication credentials.",
                "UNAUTHENTICATED",
            );
            response.headers_mut().insert(
                "www-authenticate",
                HeaderValue::from_static("Bearer realm=\"https://accounts.google.com/\""),
            );
            return response;
        }
    }
    let Some(parent) = request
        .path
        .strip_prefix("/v1/")
        .and_then(|p| p.strip_suffix("/dockerImages"))
    else {
        return google_error(StatusCode::NOT_FOUND, "no such method", "NOT_FOUND");
    };
    let Some(images) = inner.repositories.get(parent).cloned() else {
        return google_error(
            StatusCode::NOT_FOUND,
            &format!("Requested entity was not found: {parent}"),
            "NOT_FOUND",
        );
    };
    let asked = request
        .param("pageSize")
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE);
    let size = asked.min(inner.max_page_size);
    let start = match request.param("pageToken").filter(|t| !t.is_empty()) {
        None => 0,
        Some(token) => match token.parse::<usize>() {
            Ok(offset) => offset,
            Err(_) => {
                return google_error(
                    StatusCode::BAD_REQUEST,
                    "Invalid page token",
                    "INVALID_ARGUMENT",
                )
            }
        },
    };
    let endless = inner.endless;
    drop(inner);
    let from = start.min(images.len());
    let to = (from + size).min(images.len());
    let next_page_token = if endless || to < images.len() {
        Some((start + size).to_string())
    } else {
        None
    };
    json(
        StatusCode::OK,
        &Page {
            docker_images: &images[from..to],
            next_page_token,
        },
    )
    .into_response()
}

impl Recorded for FakeGar {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}
