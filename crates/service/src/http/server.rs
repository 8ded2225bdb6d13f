//! The connection loop: accepts clients up to a limit and serves each with hyper.
//!
//! `axum::serve` keeps no limit on open connections and gives clients no deadline for their
//! headers, so a client that opens thousands of connections, or sends its headers a byte at
//! a time, holds memory and tasks for as long as it likes (a load test with thousands of
//! connections grew the service to 349 MB). The clients of this service are a few spawners
//! and scrapers, so this loop:
//!
//! - keeps at most `max_connections` connections open; further clients wait in the kernel's
//!   listen queue until one closes, rather than being accepted and starved;
//! - closes a connection whose request headers take longer than `header_read_timeout`;
//! - on shutdown stops accepting, lets requests in progress finish for up to `drain`, then
//!   returns (Kubernetes sends SIGKILL after its grace period anyway).

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// What the server allows its clients.
#[derive(Debug, Clone, Copy)]
pub struct ServerLimits {
    pub max_connections: usize,
    pub header_read_timeout: Duration,
    /// How long requests in progress may run on after shutdown begins.
    pub drain: Duration,
}

impl ServerLimits {
    pub fn from_config(config: &rsp_config::ServerConfig) -> ServerLimits {
        ServerLimits {
            max_connections: config.max_connections,
            header_read_timeout: config.header_read_timeout,
            drain: Duration::from_secs(10),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        // A permit first: at the limit, the next client stays in the listen queue.
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // never closed
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(error) => {
                    // Out of file descriptors, or a client that left: keep serving the
                    // others, without spinning on a persistent error.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let router = router.clone();
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // Clients that hang up or time out: routine, not worth more than debug.
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(limits.drain) => {
            tracing::warn!(
                drain_seconds = limits.drain.as_secs(),
                "requests still running after the drain period; closing them"
            );
        }
    }
}
