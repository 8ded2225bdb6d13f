//! The HTTP layer: every route of decisions §4 over a [`Backend`].
//!
//! - `spawner`: the JSON routes under `{prefix}/spawner/v1`.
//! - `resolve`: `POST …/images/resolve`, the spawner form's image selection rules.
//! - `lab_form`: the spawner's lab form, with its authentication.
//! - `html`: how HTML routes answer a rendered page (pages are made by `crate::pages`).
//! - `status_pages`: the overview, node list and node pages, rendered off the async threads.
//! - `probes`: `/healthz`, `/readyz`, `/metrics` at the root (request metrics: `crate::metrics`).
//! - `error`: the one error body shape all of them answer with.
//!
//! Failures a client can cause are answered here as JSON with a 4xx status: unknown routes
//! and methods by fallbacks, oversized bodies by a body limit, bad paths and bodies by the
//! handlers. As in the original, a known route asked for with a trailing slash is redirected
//! (307) to the route without it. A panic layer turns anything else into a logged JSON 500,
//! as a last resort.

pub mod error;
mod html;
mod lab_form;
mod probes;
pub mod resolve;
pub mod server;
pub(crate) mod spawner;
mod status_pages;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodRouter};
use axum::Router;
use std::any::Any;
use std::sync::Arc;
use std::time::Duration;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::ServerErrorsFailureClass;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::backend::{Backend, NotReady};
use crate::metrics::{self, HttpMetrics};
use error::ApiError;
pub use rsp_config::{normalize_prefix, InvalidPrefix};
use rsp_config::{HEALTHZ, METRICS, OPENAPI, READYZ};

/// Largest request body accepted; a resolve request is well under 1 KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// All routes of the service for `backend`, the API and pages under `path_prefix`.
pub fn router<B: Backend>(backend: Arc<B>, path_prefix: &str) -> Result<Router, InvalidPrefix> {
    let prefix = normalize_prefix(path_prefix)?;
    let api = format!("{prefix}/spawner/v1");
    let document = crate::openapi::document(&prefix)
        .to_json()
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "OpenAPI document does not serialise");
            "{}".to_owned()
        });
    let pages = status_pages::Pages::new(&prefix);
    let overview = {
        let pages = pages.clone();
        get(move |state: State<Arc<B>>| status_pages::overview(state, pages.clone()))
    };
    let node_list = {
        let pages = pages.clone();
        get(move |state: State<Arc<B>>, query| status_pages::node_list(state, query, pages.clone()))
    };
    let node =
        get(move |state: State<Arc<B>>, name| status_pages::node(state, name, pages.clone()));
    let http_metrics = HttpMetrics::default();
    let scrape = {
        let http_metrics = http_metrics.clone();
        get(move |State(backend): State<Arc<B>>, headers: HeaderMap| {
            std::future::ready(probes::metrics(backend.as_ref(), &http_metrics, &headers))
        })
    };

    // Every one of these reads the listing.
    let listing_routes: [(String, MethodRouter<Arc<B>>); 6] = [
        (format!("{api}/images"), get(spawner::images::<B>)),
        (format!("{api}/prepulls"), get(spawner::prepulls::<B>)),
        (format!("{api}/menu"), get(spawner::menu::<B>)),
        (
            format!("{api}/images/{{tag}}"),
            get(spawner::image_for_tag::<B>),
        ),
        // The static segment wins over `{tag}`, so a tag named `resolve` is answered here.
        (
            format!("{api}/images/resolve"),
            axum::routing::post(resolve::resolve::<B>).get(spawner::image_named_resolve::<B>),
        ),
        (
            format!("{api}/lab-form/{{username}}"),
            get(lab_form::lab_form::<B>),
        ),
    ];
    let needs_listing = middleware::from_fn_with_state(Arc::clone(&backend), require_listing::<B>);
    let mut routes: Vec<(String, MethodRouter<Arc<B>>)> = listing_routes
        .into_iter()
        .map(|(path, route)| (path, route.route_layer(needs_listing.clone())))
        .collect();
    routes.push((format!("{prefix}/"), overview.clone()));
    routes.push((format!("{prefix}/nodes"), node_list));
    routes.push((format!("{prefix}/nodes/{{name}}"), node));
    if !prefix.is_empty() {
        routes.push((prefix.clone(), overview));
    }
    routes.push((HEALTHZ.to_owned(), get(probes::healthz)));
    routes.push((READYZ.to_owned(), get(probes::readyz::<B>)));
    routes.push((METRICS.to_owned(), scrape));
    routes.push((
        OPENAPI.to_owned(),
        get(move || std::future::ready(probes::json_text(document.clone()))),
    ));
    let patterns: Arc<[String]> = routes.iter().map(|(path, _)| path.clone()).collect();
    let mut router = Router::new();
    for (path, route) in routes {
        router = router.route(&path, route);
    }
    Ok(router
        .fallback(move |uri: Uri| std::future::ready(unrouted(&uri, &patterns)))
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn_with_state(
            http_metrics,
            metrics::track_requests,
        ))
        .layer(
            // One line per request at debug level: the spawner polls often, and a busy hub
            // would drown the log (`RUST_LOG=tower_http=debug` shows them; failures are
            // logged as errors whatever the level).
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::DEBUG))
                .on_response(DefaultOnResponse::new().level(Level::DEBUG))
                .on_failure(log_failure),
        )
        .layer(CatchPanicLayer::custom(panic_response))
        .with_state(backend))
}

/// A path no route matches: redirected to the route it names with trailing slashes removed,
/// as the original's server does, else 404. The redirect keeps the query and is relative,
/// so it stays right behind any proxy.
fn unrouted(uri: &Uri, patterns: &[String]) -> Response {
    let path = uri.path();
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() < path.len() && patterns.iter().any(|p| matches_pattern(p, trimmed)) {
        let location = match uri.query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_owned(),
        };
        if let Ok(location) = HeaderValue::from_str(&location) {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, location)],
            )
                .into_response();
        }
    }
    ApiError::not_found().into_response()
}

/// Whether `path` is one a route pattern (`/a/{b}/c`) matches: same segments, a `{…}`
/// segment matching any non-empty one.
fn matches_pattern(pattern: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    pattern.split('/').all(|expected| match segments.next() {
        Some(actual) if expected.starts_with('{') => !actual.is_empty(),
        Some(actual) => actual == expected,
        None => false,
    }) && segments.next().is_none()
}

/// Until a listing exists, the routes that read it answer 503 with the not-ready body
/// (decisions §8) rather than empty lists a client would take for "there are no images".
async fn require_listing<B: Backend>(
    State(backend): State<Arc<B>>,
    request: Request,
    next: Next,
) -> Response {
    if backend.has_listing() {
        next.run(request).await
    } else {
        ApiError::not_ready(&NotReady::NoListing).into_response()
    }
}

/// Failed requests are errors in the log, except 503: the service answers it only while it is
/// not ready (before the first listing, while a task restarts), which probes and clients see
/// at every start; `/readyz` says why, and a log line per probe would drown real errors.
fn log_failure(failure: ServerErrorsFailureClass, latency: Duration, _span: &tracing::Span) {
    let millis = latency.as_millis();
    match failure {
        ServerErrorsFailureClass::StatusCode(StatusCode::SERVICE_UNAVAILABLE) => {
            tracing::debug!(status = 503, latency_ms = millis, "not ready");
        }
        ServerErrorsFailureClass::StatusCode(status) => {
            tracing::error!(
                status = status.as_u16(),
                latency_ms = millis,
                "request failed"
            );
        }
        ServerErrorsFailureClass::Error(error) => {
            tracing::error!(%error, latency_ms = millis, "request failed");
        }
    }
}

/// The last resort: a handler panicked. Logged, answered in the error shape, never expected.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = crate::supervise::panic_message(panic.as_ref());
    tracing::error!(panic = message, "request handler panicked");
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        &[],
        "Internal error",
        "internal_error",
    )
    .into_response()
}
