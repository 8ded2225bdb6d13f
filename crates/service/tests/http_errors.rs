//! Errors everywhere: unknown routes, wrong methods, bad bodies and garbage paths all answer
//! with the `{"detail": [...]}` shape and a 4xx status; no input reaches a 500 or a panic.

mod http_support;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_support::{app, call, get, post_json, send, TestBackend, PREFIX};
use proptest::prelude::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn standard() -> axum::Router {
    app(Arc::new(TestBackend::standard()))
}

fn resolve_uri() -> String {
    format!("{PREFIX}/spawner/v1/images/resolve")
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = standard();
    for uri in [
        "/",
        "/nope",
        "/nublado/spawner/v1",
        "/nublado/spawner/v2/images",
        "/nublado/spawner/v1/images/a/b",
        "/nublado/spawner/v1/lab-form/",
        "/nublado/%00",
        "/nublado/../healthz",
        "/%FF",
    ] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, 404, "{uri}");
        assert_eq!(reply.content_type(), "application/json", "{uri}");
        assert_eq!(reply.error().0, 404);
    }
}

/// As the original's server does: a known route with a trailing slash is a 307 to the route
/// without it (query kept, relative location); an unknown one stays 404.
#[tokio::test]
async fn trailing_slashes_redirect_to_the_route() {
    let app = standard();
    for (uri, location) in [
        (
            "/nublado/spawner/v1/prepulls/",
            "/nublado/spawner/v1/prepulls",
        ),
        ("/nublado/spawner/v1/images/", "/nublado/spawner/v1/images"),
        ("/nublado/spawner/v1/menu//", "/nublado/spawner/v1/menu"),
        (
            "/nublado/spawner/v1/images/w_2077_43/?a=b",
            "/nublado/spawner/v1/images/w_2077_43?a=b",
        ),
        (
            "/nublado/spawner/v1/lab-form/alice/",
            "/nublado/spawner/v1/lab-form/alice",
        ),
        ("/healthz/", "/healthz"),
    ] {
        let reply = get(&app, uri).await;
        assert_eq!(reply.status, 307, "{uri}");
        assert_eq!(reply.headers[header::LOCATION], location, "{uri}");
        let reply = call(&app, Method::POST, uri).await;
        assert_eq!(reply.status, 307, "POST {uri}: the method is kept by a 307");
    }
    for uri in [
        "/nublado/spawner/v2/images/",
        "/nublado/spawner/v1/images/a/b/",
    ] {
        assert_eq!(get(&app, uri).await.status, 404, "{uri}");
    }
}

#[tokio::test]
async fn wrong_methods_are_json_405() {
    let app = standard();
    let cases = [
        (Method::POST, format!("{PREFIX}/spawner/v1/images")),
        (Method::POST, format!("{PREFIX}/spawner/v1/prepulls")),
        (Method::DELETE, format!("{PREFIX}/spawner/v1/prepulls")),
        (
            Method::DELETE,
            format!("{PREFIX}/spawner/v1/images/w_2077_43"),
        ),
        (Method::PUT, resolve_uri()),
        (
            Method::PATCH,
            format!("{PREFIX}/spawner/v1/lab-form/someone"),
        ),
        (Method::POST, "/healthz".to_owned()),
        (Method::POST, "/metrics".to_owned()),
        (Method::DELETE, format!("{PREFIX}/")),
    ];
    for (method, uri) in cases {
        let reply = call(&app, method.clone(), &uri).await;
        assert_eq!(
            reply.error(),
            (405, "method_not_allowed".to_owned()),
            "{method} {uri}"
        );
        assert!(
            reply.headers.contains_key(header::ALLOW),
            "{method} {uri}: 405 without Allow"
        );
    }
}

#[tokio::test]
async fn bad_bodies() {
    let app = standard();
    // Not JSON by content type.
    let reply = send(
        &app,
        Request::post(resolve_uri())
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("image_tag=recommended"))
            .unwrap(),
    )
    .await;
    assert_eq!(reply.error(), (415, "unsupported_media_type".to_owned()));
    let reply = send(
        &app,
        Request::post(resolve_uri()).body(Body::from("{}")).unwrap(),
    )
    .await;
    assert_eq!(reply.error(), (415, "unsupported_media_type".to_owned()));
    // Malformed JSON, wrong top-level types, wrong field types.
    for body in [
        "",
        "{",
        "nul",
        "{\"image_tag\": }",
        "\u{feff}{}",
        "[",
        "\"x\"",
        "1e999999",
    ] {
        let reply = post_json(&app, &resolve_uri(), body).await;
        assert_eq!(reply.status, 422, "{body:?}: {}", reply.text());
    }
    for body in [
        "{\"image_tag\": 5}",
        "{\"image_tag\": []}",
        "{\"image_tag\": [\"a\", \"b\"]}",
        "{\"image_tag\": {\"a\": 1}}",
        "{\"image_tag\": [[\"a\"]]}",
        "{\"image_class\": \"newest\"}",
    ] {
        let reply = post_json(&app, &resolve_uri(), body).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.text());
        assert_eq!(reply.json()["detail"][0]["loc"][0], "body");
    }
    // Invalid UTF-8 in a JSON body.
    let reply = post_json(&app, &resolve_uri(), &b"{\"image_tag\": \"\xff\"}"[..]).await;
    assert_eq!(reply.error(), (422, "json_invalid".to_owned()));
}

#[tokio::test]
async fn huge_bodies_are_413() {
    let app = standard();
    let huge = format!(
        "{{\"image_tag\": \"{}\"}}",
        "x".repeat(rsp_service::http::BODY_LIMIT)
    );
    let reply = post_json(&app, &resolve_uri(), huge).await;
    assert_eq!(reply.error(), (413, "payload_too_large".to_owned()));
    // Just under the limit is read (and the tag is simply unknown).
    let big = format!("{{\"image_tag\": \"{}\"}}", "x".repeat(60_000));
    assert_eq!(post_json(&app, &resolve_uri(), big).await.status, 400);
}

/// The last resort: a handler that panics is answered with a JSON 500, and the server goes on.
#[tokio::test]
async fn a_panicking_handler_is_a_json_500() {
    let mut backend = TestBackend::standard();
    backend.panic_in_menu = true;
    let app = app(Arc::new(backend));
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/menu")).await;
    assert_eq!(reply.error(), (500, "internal_error".to_owned()));
    let reply = get(&app, &format!("{PREFIX}/spawner/v1/lab-form/u")).await;
    assert_eq!(reply.error(), (500, "internal_error".to_owned()));
    assert_eq!(get(&app, "/healthz").await.status, 200);
}

/// Odd request lines straight to a real listener: hyper rejects what is not HTTP before the
/// router, and nothing that reaches the router is a 500.
#[tokio::test]
async fn raw_requests_over_tcp() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, standard()).await });
    let long = "a".repeat(20_000);
    let requests: Vec<Vec<u8>> = vec![
        b"GET /nublado/spawner/v1/images/%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET /nublado/spawner/v1/images/\xff\xfe HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        format!("GET /nublado/spawner/v1/images/{long} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").into_bytes(),
        b"GET /nublado/spawner/v1/lab-form/%00%2e%2e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"BREW /nublado/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"GET http://x/nublado/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec(),
        b"POST /nublado/spawner/v1/images/resolve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 999999999\r\nConnection: close\r\n\r\n{".to_vec(),
        b"POST /nublado/spawner/v1/images/resolve HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n".to_vec(),
    ];
    for request in requests {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        stream.write_all(&request).await.unwrap();
        // End the request here, so a promised body that never comes is a read error rather
        // than a wait.
        stream.shutdown().await.unwrap();
        let mut response = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut response),
        )
        .await;
        let head = String::from_utf8_lossy(&response);
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let shown = String::from_utf8_lossy(&request[..request.len().min(60)]).into_owned();
        // 0: the connection was closed without an answer, as hyper does for garbage.
        assert!(
            status == 0 || (400..500).contains(&status) || status == 200,
            "{shown}: {head}"
        );
    }
    server.abort();
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::HEAD),
        Just(Method::OPTIONS),
    ]
}

/// Path segments mixing route words, percent-encodings (valid, invalid, NUL) and noise.
fn path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        Just("nublado".to_owned()),
        Just("spawner".to_owned()),
        Just("v1".to_owned()),
        Just("images".to_owned()),
        Just("resolve".to_owned()),
        Just("lab-form".to_owned()),
        Just("..".to_owned()),
        Just("%00".to_owned()),
        Just("%ff".to_owned()),
        Just("%E2%82".to_owned()),
        "[a-zA-Z0-9_.~-]{0,12}",
        "(%[0-9A-F]{2}){1,4}",
    ];
    prop::collection::vec(segment, 0..7).prop_map(|segments| format!("/{}", segments.join("/")))
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        "\\{(\"image_(list|dropdown|class|tag)\": (\"[a-z/:@_.-]{0,20}\"|\\[\"[a-z/:@]{0,10}\"\\]|null|1|\\[\\]), ?){0,4}\\}"
            .prop_map(|s| s.replace(", }", "}").into_bytes()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn no_request_is_answered_with_a_server_error(
        method in method(),
        path in path(),
        body in body(),
        json in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let reply = runtime.block_on(async {
            let mut request = Request::builder().method(method.clone()).uri(&path);
            if json {
                request = request.header(header::CONTENT_TYPE, "application/json");
            }
            send(&standard(), request.body(Body::from(body.clone())).unwrap()).await
        });
        prop_assert!(
            reply.status.as_u16() < 500,
            "{} {} -> {}: {}", method, path, reply.status, reply.text()
        );
        if reply.status.is_client_error() && method != Method::HEAD {
            prop_assert_eq!(reply.content_type(), "application/json");
            let body: serde_json::Value = serde_json::from_slice(&reply.body).unwrap();
            prop_assert!(body["detail"][0]["type"].is_string());
        }
    }
}
