//! The Gafaelfawr client against the fake Gafaelfawr and Repertoire: answers, refusals,
//! failures and their bounds, the per-token cache, discovery.

use rsp_config::{GafaelfawrConfig, GafaelfawrEndpoint};
use rsp_gafaelfawr::{GafaelfawrClient, UserInfoError};
use rsp_model::lab::NotebookQuota;
use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, FakeRepertoire, Fault, Recorded};
use serde_json::json;
use std::time::{Duration, Instant};

fn settings(timeout: Duration, cache_lifetime: Duration) -> GafaelfawrConfig {
    GafaelfawrConfig {
        url: None,
        timeout,
        cache_lifetime,
    }
}

fn client(fake: &FakeGafaelfawr, cache_lifetime: Duration) -> GafaelfawrClient {
    GafaelfawrClient::new(
        &GafaelfawrEndpoint::Url(fake.url()),
        &settings(Duration::from_secs(2), cache_lifetime),
    )
    .expect("a client")
}

#[tokio::test]
async fn user_and_quota_from_gafaelfawr() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    let info = client(&fake, Duration::ZERO)
        .user_info(&token)
        .await
        .unwrap();
    assert_eq!(info.username, "alice");
    assert_eq!(
        info.notebook_quota,
        Some(NotebookQuota {
            cpu: 9.0,
            memory_gib: 27.0,
            spawn: true
        })
    );
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/auth/api/v1/user-info");
    assert_eq!(request.authorization, Some(format!("Bearer {token}")));
}

#[tokio::test]
async fn refused_tokens_are_invalid_tokens() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let client = client(&fake, Duration::from_secs(300));
    let token = fake.issue_token(user_info("alice", None));
    fake.expire_token(&token);
    for bad in [token.as_str(), "gt-unknown.secret", "not-a-token"] {
        assert_eq!(
            client.user_info(bad).await,
            Err(UserInfoError::InvalidToken)
        );
    }
    // Gafaelfawr answering 403 means the same.
    let token = fake.issue_token(user_info("bob", None));
    fake.push_faults([Fault::Status(403)]);
    assert_eq!(
        client.user_info(&token).await,
        Err(UserInfoError::InvalidToken)
    );
    // An empty token, or one no header can carry, never reaches Gafaelfawr.
    let before = fake.request_count();
    assert_eq!(client.user_info("").await, Err(UserInfoError::InvalidToken));
    assert_eq!(
        client.user_info("a\nb").await,
        Err(UserInfoError::InvalidToken)
    );
    assert_eq!(fake.request_count(), before);
}

#[tokio::test]
async fn failures_are_upstream_errors_and_never_cached() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let client = client(&fake, Duration::from_secs(300));
    let token = fake.issue_token(user_info("alice", None));
    fake.set_backend_failing(true);
    let error = client.user_info(&token).await.unwrap_err();
    assert!(
        matches!(&error, UserInfoError::Upstream(m) if m.contains("500")),
        "{error}"
    );
    fake.set_backend_failing(false);
    for fault in [Fault::Status(404), Fault::Status(502), Fault::TruncatedBody] {
        fake.push_faults([fault.clone()]);
        let error = client.user_info(&token).await.unwrap_err();
        assert!(
            matches!(error, UserInfoError::Upstream(_)),
            "{fault:?}: {error}"
        );
        assert!(!error.to_string().contains(&token), "the token never shows");
    }
    // A 200 that is not user information.
    let odd = fake.issue_token(json!({"name": "no username"}));
    let error = client.user_info(&odd).await.unwrap_err();
    assert!(error.to_string().contains("username"), "{error}");
    // None of the failures was kept: the next call asks again and succeeds.
    assert_eq!(client.user_info(&token).await.unwrap().username, "alice");
}

#[tokio::test]
async fn slow_and_absent_gafaelfawr_are_bounded() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", None));
    let client = GafaelfawrClient::new(
        &GafaelfawrEndpoint::Url(fake.url()),
        &settings(Duration::from_millis(300), Duration::ZERO),
    )
    .unwrap();
    fake.push_faults([Fault::Delay(Duration::from_secs(5))]);
    let started = Instant::now();
    let error = client.user_info(&token).await.unwrap_err();
    assert!(
        matches!(
            error,
            UserInfoError::Timeout {
                service: "Gafaelfawr",
                ..
            }
        ),
        "{error}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    let url = fake.url();
    drop(fake);
    let gone = GafaelfawrClient::new(
        &GafaelfawrEndpoint::Url(url),
        &settings(Duration::from_secs(2), Duration::ZERO),
    )
    .unwrap();
    let error = gone.user_info(&token).await.unwrap_err();
    assert!(
        matches!(&error, UserInfoError::Upstream(m) if m.contains("cannot reach")),
        "{error}"
    );
}

#[tokio::test]
async fn answers_are_cached_per_token_for_the_lifetime() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let client = client(&fake, Duration::from_secs(300));
    let first = fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    client.user_info(&first).await.unwrap();
    // The quota changes: the same token keeps the cached answer (as the original, E19),
    // a new token sees the change.
    let no_spawn = json!({"username": "alice",
        "quota": {"notebook": {"cpu": 9.0, "memory": 27.0, "spawn": false}}});
    fake.set_user_info(&first, no_spawn.clone());
    assert!(
        client
            .user_info(&first)
            .await
            .unwrap()
            .notebook_quota
            .unwrap()
            .spawn
    );
    let second = fake.issue_token(no_spawn);
    assert!(
        !client
            .user_info(&second)
            .await
            .unwrap()
            .notebook_quota
            .unwrap()
            .spawn
    );
    assert_eq!(fake.user_info_requests(), 2);
}

#[tokio::test]
async fn discovery_through_repertoire() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", None));
    let repertoire = FakeRepertoire::start(Some(fake.url())).await.unwrap();
    let client = GafaelfawrClient::new(
        &GafaelfawrEndpoint::Repertoire(repertoire.base_url()),
        &settings(Duration::from_secs(2), Duration::ZERO),
    )
    .unwrap();
    assert!(client.describe().contains("Repertoire"));
    assert_eq!(client.user_info(&token).await.unwrap().username, "alice");
    assert_eq!(client.user_info(&token).await.unwrap().username, "alice");
    assert_eq!(repertoire.request_count(), 1, "discovery is reused");

    let nothing = FakeRepertoire::start(None).await.unwrap();
    let client = GafaelfawrClient::new(
        &GafaelfawrEndpoint::Repertoire(nothing.base_url()),
        &settings(Duration::from_secs(2), Duration::ZERO),
    )
    .unwrap();
    let error = client.user_info(&token).await.unwrap_err();
    assert!(error.to_string().contains("no Gafaelfawr v1"), "{error}");
    nothing.push_faults([Fault::Status(503)]);
    assert!(matches!(
        client.user_info(&token).await,
        Err(UserInfoError::Upstream(_))
    ));
}
