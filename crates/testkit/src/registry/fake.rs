//! A programmable loopback Docker Registry v2, for what a real `docker-registry` cannot
//! show: small tag pages with `Link` headers (distribution 2.8 ignores `n=`), bearer tokens
//! that expire or are revoked, realms on other hosts, odd `WWW-Authenticate` headers, and
//! faults. It serves `/v2/`, `/v2/{name}/tags/list`, `/v2/{name}/manifests/{tag}` and a token
//! endpoint at `/token`, and records every request.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;

use super::serve::{
    json, serve, with_fault, FakeState, Recorded, RecordedRequest, Recorder, Served,
};

/// How `Link` headers point at the next tag page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkStyle {
    /// `</v2/…?n=…&last=…>` (what registries send).
    Relative,
    /// The same as an absolute URL on this server.
    Absolute,
    /// An absolute URL on another base URL (`http://host:port`).
    Elsewhere(String),
    /// Always the first page again: a loop.
    Repeat,
    /// Every page, the last one too, links to a page never seen before: a chain that never
    /// ends (each page serves the first tags again).
    Endless,
}

/// How the fake authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeAuth {
    None,
    /// `WWW-Authenticate: Basic realm="fake"`; these credentials.
    Basic {
        username: String,
        password: String,
    },
    /// Bearer tokens from the token endpoint.
    Bearer(BearerSettings),
}

/// Settings of [`FakeAuth::Bearer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerSettings {
    /// Realm URL in the challenge; `None` is this server's `/token`.
    pub realm: Option<String>,
    pub service: String,
    /// Credentials the token endpoint demands; `None` hands tokens to anyone.
    pub credentials: Option<(String, String)>,
    /// `expires_in` of token responses; `None` omits it.
    pub expires_in: Option<u64>,
    /// Answer with `access_token` instead of `token`.
    pub access_token_field: bool,
    /// Replaces the whole challenge header when set (odd formatting tests).
    pub challenge_override: Option<String>,
}

impl BearerSettings {
    pub fn new(service: &str) -> Self {
        Self {
            realm: None,
            service: service.to_owned(),
            credentials: None,
            expires_in: Some(300),
            access_token_field: false,
            challenge_override: None,
        }
    }
}

struct Inner {
    /// repository → tag → digest; `None` tags serve `"tags": null`.
    repositories: HashMap<String, Option<BTreeMap<String, String>>>,
    page_cap: Option<usize>,
    link_style: LinkStyle,
    auth: FakeAuth,
    /// token → (scope, expiry)
    tokens: HashMap<String, (String, Instant)>,
    issued: u64,
    /// Pages served in [`LinkStyle::Endless`], numbering the next link.
    endless_pages: u64,
    omit_digest: bool,
    /// This server's own base URL, for absolute links and the default realm.
    base: String,
}

type Shared = FakeState<Inner>;

/// The fake registry; stops when dropped.
pub struct FakeDockerRegistry {
    shared: Arc<Shared>,
    served: Served,
}

impl FakeDockerRegistry {
    /// Starts an empty, anonymous fake on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(Inner {
            repositories: HashMap::new(),
            page_cap: None,
            link_style: LinkStyle::Relative,
            auth: FakeAuth::None,
            tokens: HashMap::new(),
            issued: 0,
            endless_pages: 0,
            omit_digest: false,
            base: String::new(),
        }));
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let served = serve(router).await?;
        shared.inner().base = served.url.clone();
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> &str {
        &self.served.url
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> &str {
        self.served.url.trim_start_matches("http://")
    }

    /// Sets `repository`'s tags (tag → digest).
    pub fn set_tags<'a>(
        &self,
        repository: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) {
        let map = tags
            .into_iter()
            .map(|(t, d)| (t.to_owned(), d.to_owned()))
            .collect();
        self.shared
            .inner()
            .repositories
            .insert(repository.to_owned(), Some(map));
    }

    /// Makes `repository` exist and answer `"tags": null`.
    pub fn set_null_tags(&self, repository: &str) {
        self.shared
            .inner()
            .repositories
            .insert(repository.to_owned(), None);
    }

    /// At most this many tags per page, whatever `n` asks.
    pub fn set_page_cap(&self, cap: usize) {
        self.shared.inner().page_cap = Some(cap.max(1));
    }

    pub fn set_link_style(&self, style: LinkStyle) {
        self.shared.inner().link_style = style;
    }

    pub fn set_auth(&self, auth: FakeAuth) {
        self.shared.inner().auth = auth;
    }

    /// Manifest HEADs answer without `Docker-Content-Digest`.
    pub fn set_omit_digest(&self, omit: bool) {
        self.shared.inner().omit_digest = omit;
    }

    /// Invalidates every token issued so far (as if they expired server-side).
    pub fn revoke_tokens(&self) {
        self.shared.inner().tokens.clear();
    }

    /// Requests to the token endpoint.
    pub fn token_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == "/token")
            .collect()
    }
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    with_fault(fault, async move { answer(&shared, &recorded) }).await
}

fn docker_error(status: StatusCode, code: &str, message: &str) -> Response {
    json(
        status,
        &serde_json::json!({"errors": [{"code": code, "message": message}]}),
    )
}

fn answer(shared: &Shared, request: &RecordedRequest) -> Response {
    let mut inner = shared.inner();
    let base = inner.base.clone();
    if request.path == "/token" {
        return token(&mut inner, request);
    }
    let Some(rest) = request.path.strip_prefix("/v2/") else {
        return docker_error(StatusCode::NOT_FOUND, "NOT_FOUND", "not a registry path");
    };
    let (repository, route) = if let Some(repo) = rest.strip_suffix("/tags/list") {
        (repo.to_owned(), None)
    } else if let Some((repo, reference)) = rest.rsplit_once("/manifests/") {
        (repo.to_owned(), Some(reference.to_owned()))
    } else {
        return json(StatusCode::OK, &serde_json::json!({}));
    };
    if let Some(denied) = check_auth(&base, &mut inner, request, &repository) {
        return denied;
    }
    let Some(tags) = inner.repositories.get(&repository) else {
        return docker_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            "repository name not known to registry",
        );
    };
    match route {
        Some(reference) => {
            let digest = tags.as_ref().and_then(|t| t.get(&reference));
            match digest {
                None => docker_error(
                    StatusCode::NOT_FOUND,
                    "MANIFEST_UNKNOWN",
                    "manifest unknown",
                ),
                Some(_) if inner.omit_digest => StatusCode::OK.into_response(),
                Some(digest) => {
                    let mut response = StatusCode::OK.into_response();
                    if let Ok(value) = HeaderValue::from_str(digest) {
                        response
                            .headers_mut()
                            .insert("docker-content-digest", value);
                    }
                    response
                }
            }
        }
        None => tag_page(&base, &mut inner, request, &repository),
    }
}

fn tag_page(
    base: &str,
    inner: &mut Inner,
    request: &RecordedRequest,
    repository: &str,
) -> Response {
    let Some(Some(tags)) = inner.repositories.get(repository) else {
        return json(
            StatusCode::OK,
            &serde_json::json!({"name": repository, "tags": null}),
        );
    };
    let asked = request.param("n").and_then(|n| n.parse::<usize>().ok());
    let size = match (asked, inner.page_cap) {
        (Some(n), Some(cap)) => n.min(cap),
        (Some(n), None) => n,
        (None, Some(cap)) => cap,
        (None, None) => usize::MAX,
    }
    .max(1);
    let endless = inner.link_style == LinkStyle::Endless;
    let last = request.param("last").filter(|_| !endless);
    let remaining: Vec<&String> = tags
        .keys()
        .filter(|t| last.is_none_or(|l| t.as_str() > l))
        .collect();
    let page: Vec<&String> = remaining.iter().take(size).copied().collect();
    let mut response = json(
        StatusCode::OK,
        &serde_json::json!({"name": repository, "tags": page}),
    );
    if endless {
        inner.endless_pages += 1;
        let target = format!(
            "/v2/{repository}/tags/list?n={size}&last=~{}",
            inner.endless_pages
        );
        if let Ok(value) = HeaderValue::from_str(&format!("<{target}>; rel=\"next\"")) {
            response.headers_mut().insert("link", value);
        }
    } else if remaining.len() > page.len() {
        let last = page.last().map(|s| s.as_str()).unwrap_or("");
        let path = format!(
            "/v2/{repository}/tags/list?n={size}&last={}",
            url::form_urlencoded::byte_serialize(last.as_bytes()).collect::<String>()
        );
        let target = match &inner.link_style {
            LinkStyle::Relative => path,
            LinkStyle::Absolute => format!("{base}{path}"),
            LinkStyle::Elsewhere(other) => format!("{other}{path}"),
            LinkStyle::Repeat | LinkStyle::Endless => {
                format!("/v2/{repository}/tags/list?n={size}")
            }
        };
        if let Ok(value) = HeaderValue::from_str(&format!("<{target}>; rel=\"next\"")) {
            response.headers_mut().insert("link", value);
        }
    }
    response
}

/// `None` when the request may proceed, else the 401.
fn check_auth(
    base: &str,
    inner: &mut Inner,
    request: &RecordedRequest,
    repository: &str,
) -> Option<Response> {
    let presented = request.authorization.as_deref().unwrap_or("");
    let scope = format!("repository:{repository}:pull");
    let challenge = match &inner.auth {
        FakeAuth::None => return None,
        FakeAuth::Basic { username, password } => {
            if presented == basic(username, password) {
                return None;
            }
            "Basic realm=\"fake registry\"".to_owned()
        }
        FakeAuth::Bearer(settings) => {
            let valid = presented
                .strip_prefix("Bearer ")
                .and_then(|t| inner.tokens.get(t))
                .is_some_and(|(granted, expiry)| *granted == scope && *expiry > Instant::now());
            if valid {
                return None;
            }
            settings.challenge_override.clone().unwrap_or_else(|| {
                let realm = settings
                    .realm
                    .clone()
                    .unwrap_or_else(|| format!("{base}/token"));
                format!(
                    "Bearer realm=\"{realm}\",service=\"{}\",scope=\"{scope}\"",
                    settings.service
                )
            })
        }
    };
    let mut response = docker_error(
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED",
        "authentication required",
    );
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.headers_mut().insert("www-authenticate", value);
    }
    Some(response)
}

fn basic(username: &str, password: &str) -> String {
    let pair = format!("{username}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

fn token(inner: &mut Inner, request: &RecordedRequest) -> Response {
    let FakeAuth::Bearer(settings) = inner.auth.clone() else {
        return docker_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no token endpoint");
    };
    if let Some((username, password)) = &settings.credentials {
        if request.authorization.as_deref() != Some(basic(username, password).as_str()) {
            return docker_error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "bad credentials");
        }
    }
    if request.param("service") != Some(settings.service.as_str()) {
        return docker_error(StatusCode::BAD_REQUEST, "DENIED", "wrong service");
    }
    let Some(scope) = request.param("scope") else {
        return docker_error(StatusCode::BAD_REQUEST, "DENIED", "no scope");
    };
    inner.issued += 1;
    let token = format!("fake-token-{}", inner.issued);
    // A token server may announce any lifetime; the fake keeps the token for it, saturated.
    let lifetime = Duration::from_secs(settings.expires_in.unwrap_or(60));
    let now = Instant::now();
    let expiry = now
        .checked_add(lifetime)
        .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
        .unwrap_or(now);
    inner
        .tokens
        .insert(token.clone(), (scope.to_owned(), expiry));
    let field = if settings.access_token_field {
        "access_token"
    } else {
        "token"
    };
    let mut body = serde_json::json!({ field: token });
    if let Some(seconds) = settings.expires_in {
        body["expires_in"] = serde_json::json!(seconds);
    }
    json(StatusCode::OK, &body)
}

impl Recorded for FakeDockerRegistry {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}
