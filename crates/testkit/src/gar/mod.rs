//! A fake Google Artifact Registry on loopback, as strict as the real API where rsp-images
//! touches it, for tests and benches.
//!
//! It serves `projects.locations.repositories.dockerImages.list`, modelled on the API's
//! discovery document (`artifactregistry.v1.json`, as shipped in google-api-python-client)
//! and its REST reference
//! (https://cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations.repositories.dockerImages/list):
//!
//! - `GET /v1/{parent}/dockerImages` only; any other method or path is Google's 404.
//! - Query parameters: `pageSize`, `pageToken`, `orderBy` and the system parameters
//!   (`fields`, `key`, `alt`, `prettyPrint`, `quotaUser`, `$.xgafv`, `access_token`,
//!   `oauth_token`, `callback`, `uploadType`, `upload_protocol`). Anything else is a 400
//!   `INVALID_ARGUMENT` with Google's "Cannot bind query parameter" message.
//! - `pageSize` is an int32, at most 1000 served ([`FakeGar::set_max_page_size`]); page tokens
//!   are opaque base64 with `+`, `/` and `=` in them, valid only as issued (a `+` sent
//!   unencoded arrives as a space, as on the real server, and is refused with 400).
//! - `fields` is applied (see [`fields`]); a name the response schema lacks is a 400.
//! - An empty repository answers `{}`; timestamps have nanoseconds; `imageSizeBytes` is a
//!   string (int64); multi-arch images carry `imageManifests` ([`GarRepository::multi_arch`]).
//! - A body is gzip-compressed when the request accepts gzip, as Google's front end does;
//!   [`FakeGar::responses`] tells what went over the wire.
//! - Faults are queued ([`FakeGar::push_faults`]), Google's 429 with `RetryInfo` among them
//!   ([`Fault::GoogleQuota`]); [`FakeGar::set_endless`] makes every page announce another.
//!
//! Authentication, when turned on, is Google's: bearer access tokens ([`FakeGar::issue_token`],
//! [`FakeGar::expire_tokens`]) with the scope they were granted, self-signed service-account
//! JWTs (RS256, verified against the key registered with [`FakeGar::trust_service_account`];
//! https://developers.google.com/identity/protocols/oauth2/service-account#jwt-auth), and a
//! Security Token Service at `POST /v1/token` for external accounts (RFC 8693 token exchange,
//! https://cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token), which hands out
//! access tokens for subject tokens registered with [`FakeGar::trust_subject_token`].
//! Images are kept behind an `Arc` and serialised page by page, so 20k generated images
//! ([`generate_images`]) cost nothing until asked for.

mod auth;
pub mod fields;
mod images;
mod wire;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::Request;
use axum::response::Response;
use axum::Router;

pub use crate::registry::serve::Recorded;
use crate::registry::serve::{serve, with_fault, FakeState, Recorder, Served};
pub use crate::registry::serve::{Fault, RecordedRequest};
pub use auth::{StsExchange, TestServiceAccount};
pub use images::{generate_images, DockerImage, GarRepository, ImageManifest};
pub use wire::ServedResponse;

#[derive(Default)]
struct Inner {
    repositories: HashMap<String, Arc<Vec<DockerImage>>>,
    /// Repositories the caller may not read (403, as for one without `downloadArtifacts`).
    denied: HashSet<String>,
    auth: auth::Auth,
    /// Page token → (parent, offset).
    page_tokens: HashMap<String, (String, usize)>,
    max_page_size: usize,
    endless: bool,
    responses: Vec<ServedResponse>,
}

type Shared = FakeState<Inner>;

/// The fake Artifact Registry server; stops when dropped.
pub struct FakeGar {
    shared: Arc<Shared>,
    served: Served,
}

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

    /// Answers 403 `PERMISSION_DENIED` for `repo`, as for a caller without
    /// `artifactregistry.repositories.downloadArtifacts` there (or a repository that does not
    /// exist, which Google does not tell apart for such a caller).
    pub fn deny(&self, repo: &GarRepository) {
        self.shared.inner().denied.insert(repo.parent());
    }

    /// Largest page served, whatever `pageSize` asks (default 1000, as the real API).
    pub fn set_max_page_size(&self, size: usize) {
        self.shared.inner().max_page_size = size.max(1);
    }

    /// When on, every page carries a new `nextPageToken`: a chain that never ends.
    pub fn set_endless(&self, endless: bool) {
        self.shared.inner().endless = endless;
    }

    /// Requires credentials: a bearer token from [`Self::issue_token`] or the STS, or a
    /// self-signed JWT of a trusted service account.
    pub fn require_auth(&self) {
        self.shared.inner().auth.required = true;
    }

    /// A new access token (turns the check on) for `scope`, valid for `ttl`.
    pub fn issue_token(&self, ttl: Duration) -> String {
        let mut inner = self.shared.inner();
        inner.auth.required = true;
        inner.auth.issue(auth::READ_ONLY_SCOPE, ttl)
    }

    /// Makes every access token issued so far invalid.
    pub fn expire_tokens(&self) {
        self.shared.inner().auth.expire();
    }

    /// Accepts self-signed JWTs of this service account (turns the check on).
    pub fn trust_service_account(&self, account: &TestServiceAccount) {
        let mut inner = self.shared.inner();
        inner.auth.required = true;
        inner.auth.trust_service_account(account);
    }

    /// Lets the STS exchange `subject_token` for an access token when the exchange names
    /// `audience` (a workload identity pool provider).
    pub fn trust_subject_token(&self, subject_token: &str, audience: &str) {
        let mut inner = self.shared.inner();
        inner.auth.required = true;
        inner
            .auth
            .subject_tokens
            .insert(subject_token.to_owned(), audience.to_owned());
    }

    /// Every STS exchange so far, with its form parameters.
    pub fn sts_exchanges(&self) -> Vec<StsExchange> {
        self.shared.inner().auth.exchanges.clone()
    }

    /// What went over the wire, one entry per answered request.
    pub fn responses(&self) -> Vec<ServedResponse> {
        self.shared.inner().responses.clone()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    let accepts_gzip = request
        .headers()
        .get("accept-encoding")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let body = axum::body::to_bytes(request.into_body(), 1024 * 1024)
        .await
        .unwrap_or_default();
    let response = with_fault(fault, async {
        let mut inner = shared.inner();
        wire::answer(&mut inner, &recorded, &body)
    })
    .await;
    let (response, served) = wire::encode(response, accepts_gzip).await;
    shared.inner().responses.push(served);
    response
}

impl Recorded for FakeGar {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}
