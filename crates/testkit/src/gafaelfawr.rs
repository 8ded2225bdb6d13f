//! A fake Gafaelfawr (`GET /auth/api/v1/user-info`) and a fake Repertoire (`GET
//! /repertoire/discovery`) on loopback, as strict as the real services where rsp-images
//! meets them.
//!
//! Modelled on Gafaelfawr's own code (lsst-sqre/gafaelfawr): `handlers/api.py`
//! (`get_user_info`: 200 with the `UserInfo` model, nulls omitted; 500 `user_info_failed`
//! with `Cache-Control: no-cache, no-store` when the user-information backend fails),
//! `auth.py` (`parse_authorization`: no header → 401 `no_authorization`; a header without a
//! space, or of an unknown type → 400 `invalid_request`) and `models/token.py`
//! (`Token.from_str`: `gt-` + 22-character key + `.` + 22-character secret, else 401
//! `invalid_token`); an unknown or expired token is 401 `invalid_token` ("Token is not
//! valid"). Every 401 carries a `WWW-Authenticate: Bearer` challenge. FastAPI answers other
//! paths 404 and other methods (HEAD included) 405. Basic authentication, which the real
//! service also accepts, is refused here with 400: rsp-images never sends it.
//!
//! Tokens are issued per user ([`FakeGafaelfawr::issue_token`]) with the user information
//! to serve, which tests may change, expire or make the backend fail on; faults (status
//! codes, delays, broken bodies) are queued as for the registry fakes.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, Method, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use serde_json::{json, Value};

pub use crate::registry::serve::Recorded;
use crate::registry::serve::{
    json as json_response, serve, with_fault, FakeState, Recorder, Served,
};
pub use crate::registry::serve::{Fault, RecordedRequest};

/// The path of Gafaelfawr's v1 API on the fake.
const V1: &str = "/auth/api/v1";

#[derive(Default)]
struct Inner {
    /// token → (user information served, expired?)
    tokens: HashMap<String, (Value, bool)>,
    backend_fails: bool,
}

type Shared = FakeState<Inner>;

/// The fake Gafaelfawr; stops when dropped.
pub struct FakeGafaelfawr {
    shared: Arc<Shared>,
    served: Served,
}

/// Gafaelfawr's user information for `username`, with a notebook quota of `cpu` cores and
/// `memory` GiB when given.
pub fn user_info(username: &str, notebook: Option<(f64, f64)>) -> Value {
    let mut info = json!({
        "username": username,
        "name": format!("User {username}"),
        "uid": 1000,
        "gid": 1000,
        "groups": [{"name": "g_users", "id": 1000}],
    });
    if let Some((cpu, memory)) = notebook {
        info["quota"] =
            json!({"api": {}, "notebook": {"cpu": cpu, "memory": memory, "spawn": true}});
    }
    info
}

impl FakeGafaelfawr {
    /// Starts a fake with no users on `127.0.0.1:0` (needs a Tokio runtime).
    pub async fn start() -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(Inner::default()));
        let router = Router::new()
            .fallback(handle)
            .with_state(Arc::clone(&shared));
        let served = serve(router).await?;
        Ok(Self { shared, served })
    }

    /// Base URL of the v1 API, `http://127.0.0.1:PORT/auth/api/v1` (the `gafaelfawr.url`).
    pub fn url(&self) -> String {
        format!("{}{V1}", self.served.url)
    }

    /// A new, valid token whose user-info answer is `info` (served as it is, so a test can
    /// make Gafaelfawr answer something that is not user information).
    pub fn issue_token(&self, info: Value) -> String {
        let token = format!("gt-{}.{}", random_part(), random_part());
        self.shared
            .inner()
            .tokens
            .insert(token.clone(), (info, false));
        token
    }

    /// Changes what `token`'s user-info answer is (a quota changed).
    pub fn set_user_info(&self, token: &str, info: Value) {
        if let Some(entry) = self.shared.inner().tokens.get_mut(token) {
            entry.0 = info;
        }
    }

    /// Makes `token` expired: Gafaelfawr then refuses it.
    pub fn expire_token(&self, token: &str) {
        if let Some(entry) = self.shared.inner().tokens.get_mut(token) {
            entry.1 = true;
        }
    }

    /// While on, valid tokens get 500 `user_info_failed` (the user-information backend,
    /// LDAP or Firestore, is failing).
    pub fn set_backend_failing(&self, failing: bool) {
        self.shared.inner().backend_fails = failing;
    }

    /// Requests for user information (every request the fake received on its API).
    pub fn user_info_requests(&self) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.path == format!("{V1}/user-info"))
            .count()
    }
}

impl Recorded for FakeGafaelfawr {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}

/// 128 random bits in URL-safe base64 without padding: 22 characters, as Gafaelfawr's
/// `random_128_bits`.
fn random_part() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
}

async fn handle(State(shared): State<Arc<Shared>>, request: Request<Body>) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    let method = request.method().clone();
    with_fault(fault, async move { answer(&shared, &method, &recorded) }).await
}

fn answer(shared: &Shared, method: &Method, request: &RecordedRequest) -> Response {
    if request.path != format!("{V1}/user-info") {
        return json_response(StatusCode::NOT_FOUND, &json!({"detail": "Not Found"}));
    }
    if method != Method::GET {
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"detail": "Method Not Allowed"}),
        );
        response
            .headers_mut()
            .insert("allow", HeaderValue::from_static("GET"));
        return response;
    }
    let token = match bearer_token(request.authorization.as_deref()) {
        Ok(token) => token,
        Err(refusal) => return *refusal,
    };
    let inner = shared.inner();
    let info = match inner.tokens.get(token) {
        Some((info, false)) => info.clone(),
        _ => {
            return challenge(
                StatusCode::UNAUTHORIZED,
                "Token is not valid",
                "invalid_token",
            )
        }
    };
    if inner.backend_fails {
        let mut response = json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"detail": [{"msg": "Unable to get user information", "type": "user_info_failed"}]}),
        );
        response.headers_mut().insert(
            "cache-control",
            HeaderValue::from_static("no-cache, no-store"),
        );
        return response;
    }
    json_response(StatusCode::OK, &info).into_response()
}

/// The token of an `Authorization` header, or Gafaelfawr's refusal.
fn bearer_token(header: Option<&str>) -> Result<&str, Box<Response>> {
    let Some(header) = header.filter(|h| !h.is_empty()) else {
        return Err(Box::new(challenge(
            StatusCode::UNAUTHORIZED,
            "Authentication required",
            "no_authorization",
        )));
    };
    let Some((kind, blob)) = header.split_once(char::is_whitespace) else {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            "Malformed Authorization header",
            "invalid_request",
        )));
    };
    if !kind.eq_ignore_ascii_case("bearer") {
        return Err(Box::new(refusal(
            StatusCode::BAD_REQUEST,
            &format!("Unknown Authorization type {kind} (this fake models Bearer only)"),
            "invalid_request",
        )));
    }
    let token = blob.trim_start();
    let Some(rest) = token.strip_prefix("gt-") else {
        return Err(Box::new(challenge(
            StatusCode::UNAUTHORIZED,
            "Token does not start with gt-",
            "invalid_token",
        )));
    };
    let well_formed = rest
        .split_once('.')
        .is_some_and(|(key, secret)| key.len() == 22 && secret.len() == 22);
    if !well_formed {
        return Err(Box::new(challenge(
            StatusCode::UNAUTHORIZED,
            "Token is malformed",
            "invalid_token",
        )));
    }
    Ok(token)
}

fn refusal(status: StatusCode, msg: &str, kind: &str) -> Response {
    let mut response = json_response(status, &json!({"detail": [{"msg": msg, "type": kind}]}));
    response.headers_mut().insert(
        "cache-control",
        HeaderValue::from_static("no-cache, must-revalidate"),
    );
    response
}

/// A refusal with the RFC 6750 challenge Gafaelfawr sends.
fn challenge(status: StatusCode, msg: &str, kind: &str) -> Response {
    let mut response = refusal(status, msg, kind);
    let header = if kind == "no_authorization" {
        "Bearer realm=\"fake-gafaelfawr\"".to_owned()
    } else {
        format!("Bearer realm=\"fake-gafaelfawr\", error=\"{kind}\", error_description=\"{msg}\"")
    };
    if let Ok(value) = HeaderValue::from_str(&header) {
        response.headers_mut().insert("www-authenticate", value);
    }
    response
}

/// A fake Repertoire whose discovery document lists a Gafaelfawr v1 API (or none).
pub struct FakeRepertoire {
    shared: Arc<FakeState<Option<String>>>,
    served: Served,
}

impl FakeRepertoire {
    /// Starts a fake listing `gafaelfawr_v1` as Gafaelfawr's v1 URL (`None`: no Gafaelfawr).
    pub async fn start(gafaelfawr_v1: Option<String>) -> std::io::Result<Self> {
        let shared = Arc::new(FakeState::new(gafaelfawr_v1));
        let router = Router::new()
            .fallback(discovery)
            .with_state(Arc::clone(&shared));
        let served = serve(router).await?;
        Ok(Self { shared, served })
    }

    /// `http://127.0.0.1:PORT/repertoire`, the value of `REPERTOIRE_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("{}/repertoire", self.served.url)
    }
}

impl Recorded for FakeRepertoire {
    fn recorder(&self) -> &Recorder {
        &self.shared.recorder
    }
}

async fn discovery(
    State(shared): State<Arc<FakeState<Option<String>>>>,
    request: Request<Body>,
) -> Response {
    let recorded = shared.recorder.record(&request);
    let fault = shared.recorder.next_fault();
    with_fault(fault, async move {
        if recorded.path != "/repertoire/discovery" || recorded.method != "GET" {
            return json_response(StatusCode::NOT_FOUND, &json!({"detail": "Not Found"}));
        }
        let mut internal = json!({});
        if let Some(v1) = shared.inner().clone() {
            internal["gafaelfawr"] = json!({
                "url": v1.trim_end_matches("/api/v1"),
                "versions": {"v1": {"url": v1}},
            });
        }
        json_response(
            StatusCode::OK,
            &json!({"services": {"internal": internal, "ui": {}}, "datasets": {}}),
        )
    })
    .await
}
