//! HTTP requests by route, method and status, with their latency: one histogram family
//! (`rsp_images_http_request_duration_seconds`; its `_count` is the number of requests).
//!
//! Labels stay bounded whatever clients send: the route is the matched route template
//! (`/nublado/spawner/v1/images/{tag}`, not the tag), `unmatched` for every unknown path,
//! and methods outside the standard ones are `other`.

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Instant;

/// Upper bounds (seconds) of the request latency buckets: answers from memory take well under
/// a millisecond, a resolve that asks the registry up to its timeout.
pub const REQUEST_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: &'static str,
    status: u16,
}

/// The request histograms; cloning shares them.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    requests: Family<RequestLabels, Histogram>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        HttpMetrics {
            requests: Family::new_with_constructor(|| Histogram::new(REQUEST_BUCKETS)),
        }
    }
}

impl HttpMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "rsp_images_http_request_duration_seconds",
            "HTTP requests by route template, method and status: time until the response \
             headers were ready.",
            self.requests.clone(),
        );
    }

    fn observe(&self, labels: RequestLabels, seconds: f64) {
        self.requests.get_or_create(&labels).observe(seconds);
    }
}

/// Middleware (`axum::middleware::from_fn_with_state`) timing every request.
pub async fn track_requests(
    State(metrics): State<HttpMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = method_label(request.method());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = RequestLabels {
        route,
        method,
        status: response.status().as_u16(),
    };
    metrics.observe(labels, started.elapsed().as_secs_f64());
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}
