//! The status pages: the overview (`{prefix}/`), the node list (`{prefix}/nodes`) and a node's
//! page (`{prefix}/nodes/{name}`), all read from one [`StatusReport`].
//!
//! Reading the report (its grid is built at the first page view of a snapshot: milliseconds at
//! 5,000 nodes) and rendering run on tokio's blocking pool, never on the async worker threads
//! that answer `/healthz`, `/readyz` and the spawner; at most [`CONCURRENT_RENDERS`] at a time,
//! and requests waiting for their turn hold no thread at all.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::html::{internal_error, respond};
use crate::backend::Backend;
use crate::pages;
use crate::status::{NodeParams, NodeQuery, StatusReport};

/// Pages rendered at once: one per core of a small pod; people read these pages, not robots.
pub const CONCURRENT_RENDERS: usize = 2;

/// What the page routes share: the path prefix for links and the render permits.
#[derive(Clone)]
pub struct Pages {
    prefix: Arc<str>,
    renders: Arc<Semaphore>,
}

impl Pages {
    pub fn new(prefix: &str) -> Pages {
        Pages {
            prefix: Arc::from(prefix),
            renders: Arc::new(Semaphore::new(CONCURRENT_RENDERS)),
        }
    }

    /// Reads the backend's report and answers `page` of it, on the blocking pool.
    async fn render<B: Backend>(
        &self,
        backend: Arc<B>,
        page: impl FnOnce(&StatusReport, &str, SystemTime) -> Response + Send + 'static,
    ) -> Response {
        // The semaphore is never closed; should it be, answering without a permit is safe.
        let _permit = Arc::clone(&self.renders).acquire_owned().await.ok();
        let prefix = Arc::clone(&self.prefix);
        let rendered = tokio::task::spawn_blocking(move || {
            let report = backend.status();
            page(&report, &prefix, SystemTime::now())
        })
        .await;
        rendered.unwrap_or_else(|error| {
            tracing::error!(%error, "rendering a status page panicked");
            internal_error("The page could not be rendered")
        })
    }
}

/// `GET {prefix}/`.
pub async fn overview<B: Backend>(State(backend): State<Arc<B>>, pages: Pages) -> Response {
    pages
        .render(backend, |report, prefix, now| {
            respond(pages::overview(report, prefix, now))
        })
        .await
}

/// `GET {prefix}/nodes?state=&image=&name=&sort=&page=`.
pub async fn node_list<B: Backend>(
    State(backend): State<Arc<B>>,
    params: Result<Query<NodeParams>, QueryRejection>,
    pages: Pages,
) -> Response {
    let params = match params {
        Ok(Query(params)) => params,
        Err(rejection) => {
            return invalid_query(
                &["query"],
                format!("Invalid query: {}", rejection.body_text()),
            )
        }
    };
    pages
        .render(backend, move |report, prefix, now| {
            match NodeQuery::parse(&params, &report.grid) {
                Ok(query) => respond(pages::node_list(report, &query, prefix, now)),
                Err(error) => invalid_query(&["query", error.parameter], error.to_string()),
            }
        })
        .await
}

/// `GET {prefix}/nodes/{name}`.
pub async fn node<B: Backend>(
    State(backend): State<Arc<B>>,
    name: Result<Path<String>, PathRejection>,
    pages: Pages,
) -> Response {
    let name = match name {
        Ok(Path(name)) => name,
        Err(rejection) => return ApiError::from(rejection).into_response(),
    };
    pages
        .render(
            backend,
            move |report, prefix, now| match pages::node_detail(report, &name, prefix, now) {
                Some(page) => respond(page),
                None => ApiError::new(
                    StatusCode::NOT_FOUND,
                    &["path", "name"],
                    format!("No node is called {name:?} (it may have left the cluster)"),
                    "unknown_node",
                )
                .into_response(),
            },
        )
        .await
}

fn invalid_query(loc: &[&str], message: String) -> Response {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        loc,
        message,
        "invalid_query",
    )
    .into_response()
}
