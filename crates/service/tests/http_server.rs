//! The connection loop (`http::server`): what it allows clients, over real TCP connections.

use axum::routing::get;
use axum::Router;
use rsp_service::http::server::{serve, ServerLimits};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Far longer than anything here should take: a bound for "it happens", not a measurement.
const EVENTUALLY: Duration = Duration::from_secs(10);

struct Server {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<()>,
}

async fn start(limits: ServerLimits) -> Server {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(500)).await;
                "done"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, router, limits, async {
        let _ = stopped.await;
    }));
    Server {
        addr,
        stop: Some(stop),
        task,
    }
}

fn limits(max_connections: usize, header_read_timeout: Duration) -> ServerLimits {
    ServerLimits {
        max_connections,
        header_read_timeout,
        drain: EVENTUALLY,
    }
}

/// Sends a whole request and reads the answer until the server closes the connection.
async fn request(stream: &mut TcpStream, path: &str) -> String {
    let text = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(text.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let server = start(limits(4, Duration::from_millis(300))).await;
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(EVENTUALLY, slow.read_to_end(&mut answer)).await;
    assert!(closed.is_ok(), "the connection stayed open");
    assert!(
        !String::from_utf8_lossy(&answer).contains("200 OK"),
        "a request without its end of headers was answered: {answer:?}"
    );
    // Other clients are served as usual.
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    assert!(request(&mut client, "/healthz")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn clients_beyond_the_limit_wait_until_a_connection_closes() {
    let server = start(limits(2, EVENTUALLY)).await;
    let idle_a = TcpStream::connect(server.addr).await.unwrap();
    let _idle_b = TcpStream::connect(server.addr).await.unwrap();
    // Both idle connections hold the two places; the third waits in the listen queue.
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let waiting = tokio::time::timeout(Duration::from_millis(700), request(&mut third, "/healthz"));
    assert!(
        waiting.await.is_err(),
        "a third connection was served while two were open"
    );
    drop(idle_a);
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    let served = tokio::time::timeout(EVENTUALLY, request(&mut fourth, "/healthz")).await;
    assert!(served
        .expect("served once a place was free")
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_lets_requests_in_progress_finish() {
    let mut server = start(limits(4, EVENTUALLY)).await;
    let mut client = TcpStream::connect(server.addr).await.unwrap();
    let slow = tokio::spawn(async move { request(&mut client, "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let answer = tokio::time::timeout(EVENTUALLY, slow)
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("done"), "{answer}");
    tokio::time::timeout(EVENTUALLY, server.task)
        .await
        .expect("serve returns after the drain")
        .unwrap();
    assert!(
        TcpStream::connect(server.addr).await.is_err(),
        "the listener is closed"
    );
}
