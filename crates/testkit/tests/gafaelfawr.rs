//! The Gafaelfawr fake refuses what Gafaelfawr refuses, with its statuses and bodies.

use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, FakeRepertoire, Recorded};
use serde_json::Value;

async fn get(url: &str, authorization: Option<&str>) -> (u16, Value, Option<String>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let reply = request.send().await.expect("the fake answers");
    let status = reply.status().as_u16();
    let challenge = reply
        .headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, reply.json().await.unwrap_or(Value::Null), challenge)
}

#[tokio::test]
async fn user_info_for_valid_tokens_only() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    assert!(
        token.starts_with("gt-") && token.len() == 3 + 22 + 1 + 22,
        "{token}"
    );
    let url = format!("{}/user-info", fake.url());

    let (status, body, _) = get(&url, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "alice");
    assert_eq!(body["quota"]["notebook"]["memory"], 27.0);

    for (header, status, kind) in [
        (None, 401, "no_authorization"),
        (Some("Bearer"), 400, "invalid_request"),
        (Some("Token abc"), 400, "invalid_request"),
        (Some("Bearer abc"), 401, "invalid_token"),
        (Some("Bearer gt-short.short"), 401, "invalid_token"),
        (
            Some("Bearer gt-AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"),
            401,
            "invalid_token",
        ),
    ] {
        let (got, body, challenge) = get(&url, header).await;
        assert_eq!(got, status, "{header:?}");
        assert_eq!(body["detail"][0]["type"], kind, "{header:?}");
        if status == 401 {
            assert!(challenge.is_some_and(|c| c.starts_with("Bearer realm=")));
        }
    }

    fake.expire_token(&token);
    let (status, _, _) = get(&url, Some(&format!("Bearer {token}"))).await;
    assert_eq!(status, 401, "an expired token is refused");
}

#[tokio::test]
async fn backend_failures_other_paths_and_methods() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", None));
    let bearer = format!("Bearer {token}");
    fake.set_backend_failing(true);
    let (status, body, _) = get(&format!("{}/user-info", fake.url()), Some(&bearer)).await;
    assert_eq!(
        (status, body["detail"][0]["type"].as_str()),
        (500, Some("user_info_failed"))
    );
    let (status, _, _) = get(&format!("{}/token-info", fake.url()), Some(&bearer)).await;
    assert_eq!(status, 404);
    let reply = reqwest::Client::new()
        .head(format!("{}/user-info", fake.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 405);
    assert_eq!(fake.user_info_requests(), 2);
}

#[tokio::test]
async fn repertoire_lists_gafaelfawr_v1() {
    let repertoire = FakeRepertoire::start(Some("https://h.example/auth/api/v1".into()))
        .await
        .unwrap();
    let (status, body, _) = get(&format!("{}/discovery", repertoire.base_url()), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["services"]["internal"]["gafaelfawr"]["versions"]["v1"]["url"],
        "https://h.example/auth/api/v1"
    );
    let empty = FakeRepertoire::start(None).await.unwrap();
    let (_, body, _) = get(&format!("{}/discovery", empty.base_url()), None).await;
    assert!(body["services"]["internal"]["gafaelfawr"].is_null());
    assert_eq!(repertoire.request_count(), 1);
}
