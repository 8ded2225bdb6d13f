//! Docker client against the programmable loopback fake: paging, authentication flows,
//! refused realms and pages, retries, timeouts and secrecy of credentials.

use std::time::Duration;

use client_support::{assert_token_request, with_credentials};
use rsp_registry::docker::MANIFEST_MEDIA_TYPES;
use rsp_registry::{Backoff, DockerClientConfig, DockerRegistryClient, RegistryError, RetryPolicy};
use rsp_testkit::registry::{
    BearerSettings, FakeAuth, FakeDockerRegistry, Fault, LinkStyle, Recorded,
};

mod client_support;

const REPO: &str = "library/sketchbook";
const PASSWORD: &str = "s3cr3t-PASSWORD-value";

fn config(fake: &FakeDockerRegistry) -> DockerClientConfig {
    client_support::docker_config(fake.url())
}

fn client(config: DockerClientConfig) -> DockerRegistryClient {
    DockerRegistryClient::new(config).unwrap()
}

fn tag_names(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("w_2077_{i:02}")).collect()
}

async fn fake_with_tags(n: usize) -> FakeDockerRegistry {
    let fake = FakeDockerRegistry::start().await.unwrap();
    let names = tag_names(n);
    let digests: Vec<String> = (0..n).map(|i| format!("sha256:{i:04}")).collect();
    fake.set_tags(
        REPO,
        names
            .iter()
            .map(String::as_str)
            .zip(digests.iter().map(String::as_str)),
    );
    fake
}

fn tag_list_requests(fake: &FakeDockerRegistry) -> Vec<rsp_testkit::registry::RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/tags/list"))
        .collect()
}

#[tokio::test]
async fn asks_for_large_pages_and_follows_relative_links() {
    let fake = fake_with_tags(7).await;
    fake.set_page_cap(3);
    let tags = client(config(&fake)).list_tags(REPO).await.unwrap();
    assert_eq!(tags, tag_names(7));
    let requests = tag_list_requests(&fake);
    assert_eq!(requests.len(), 3);
    assert_eq!(requests[0].param("n"), Some("1000"));
    assert_eq!(requests[1].param("last"), Some("w_2077_02"));
}

#[tokio::test]
async fn client_page_size_and_absolute_links() {
    let fake = fake_with_tags(7).await;
    fake.set_link_style(LinkStyle::Absolute);
    let mut config = config(&fake);
    config.tag_page_size = 2;
    let tags = client(config).list_tags(REPO).await.unwrap();
    assert_eq!(tags, tag_names(7));
    let requests = tag_list_requests(&fake);
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.param("n") == Some("2")));
}

#[tokio::test]
async fn a_next_page_on_another_origin_is_refused_unvisited() {
    let fake = fake_with_tags(5).await;
    let elsewhere = FakeDockerRegistry::start().await.unwrap();
    fake.set_page_cap(2);
    fake.set_link_style(LinkStyle::Elsewhere(elsewhere.url().to_owned()));
    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert!(matches!(error, RegistryError::Paging { .. }), "{error:?}");
    assert!(error.to_string().contains(elsewhere.host()), "{error}");
    assert_eq!(elsewhere.request_count(), 0);
}

#[tokio::test]
async fn a_repeated_page_is_an_error() {
    let fake = fake_with_tags(5).await;
    fake.set_page_cap(2);
    fake.set_link_style(LinkStyle::Repeat);
    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert!(matches!(error, RegistryError::Paging { .. }), "{error:?}");
    assert!(error.to_string().contains("twice"), "{error}");
    assert_eq!(tag_list_requests(&fake).len(), 2);
}

#[tokio::test]
async fn null_tags_mean_no_tags() {
    let fake = FakeDockerRegistry::start().await.unwrap();
    fake.set_null_tags(REPO);
    assert!(client(config(&fake))
        .list_tags(REPO)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn unknown_repository_is_a_clear_error_and_not_retried() {
    let fake = fake_with_tags(1).await;
    let error = client(config(&fake))
        .list_tags("library/nothing")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(
        text.contains("library/nothing")
            && text.contains(fake.host())
            && text.contains("NAME_UNKNOWN"),
        "{text}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn digests_come_from_head_with_the_five_media_types() {
    let fake = fake_with_tags(3).await;
    let client = client(config(&fake));
    assert_eq!(
        client.manifest_digest(REPO, "w_2077_01").await.unwrap(),
        "sha256:0001"
    );
    let head = fake.requests().pop().unwrap();
    assert_eq!(head.method, "HEAD");
    assert_eq!(
        head.accept.as_deref(),
        Some(MANIFEST_MEDIA_TYPES.join(", ").as_str())
    );
    let tags = tag_names(3);
    let digests = client.manifest_digests(REPO, &tags).await.unwrap();
    let expected: Vec<(String, String)> = tags
        .iter()
        .enumerate()
        .map(|(i, t)| (t.clone(), format!("sha256:{i:04}")))
        .collect();
    assert_eq!(digests, expected);
    let error = client
        .manifest_digests(REPO, &["w_2077_00".into(), "nope".into()])
        .await
        .unwrap_err();
    assert!(
        error.is_not_found() && error.to_string().contains("nope"),
        "{error}"
    );
}

#[tokio::test]
async fn a_missing_digest_header_is_an_error() {
    let fake = fake_with_tags(1).await;
    fake.set_omit_digest(true);
    let error = client(config(&fake))
        .manifest_digest(REPO, "w_2077_00")
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::MissingDigest { .. }),
        "{error:?}"
    );
}

/// Tokens granted for another repository, so the registry rejects every one.
fn wrong_scope(fake: &FakeDockerRegistry) -> BearerSettings {
    let mut settings = BearerSettings::new("registry.test");
    settings.challenge_override = Some(format!(
        "Bearer realm=\"{}/token\",service=\"registry.test\",scope=\"repository:other:pull\"",
        fake.url()
    ));
    settings
}

fn bearer(fake: &FakeDockerRegistry, settings: BearerSettings) {
    fake.set_auth(FakeAuth::Bearer(settings));
}

#[tokio::test]
async fn bearer_tokens_are_fetched_with_service_and_scope_only_and_cached() {
    let fake = fake_with_tags(2).await;
    bearer(&fake, BearerSettings::new("registry.test"));
    let client = client(config(&fake));
    assert_eq!(client.list_tags(REPO).await.unwrap().len(), 2);
    client.manifest_digest(REPO, "w_2077_00").await.unwrap();
    let tokens = fake.token_requests();
    assert_eq!(tokens.len(), 1, "one token serves both calls");
    // Anonymous: no credentials are configured.
    assert_token_request(&tokens[0], "repository:library/sketchbook:pull", None);
}

#[tokio::test]
async fn token_endpoint_gets_basic_credentials_and_access_token_is_accepted() {
    let fake = fake_with_tags(2).await;
    let mut settings = BearerSettings::new("registry.test");
    settings.credentials = Some(("bot".into(), PASSWORD.into()));
    settings.access_token_field = true;
    bearer(&fake, settings);
    let tags = client(with_credentials(config(&fake), "bot", PASSWORD))
        .list_tags(REPO)
        .await
        .unwrap();
    assert_eq!(tags.len(), 2);
    let token_request = &fake.token_requests()[0];
    assert!(token_request
        .authorization
        .as_deref()
        .unwrap()
        .starts_with("Basic "));
}

#[tokio::test]
async fn tokens_expire_after_expires_in() {
    let fake = fake_with_tags(1).await;
    let mut settings = BearerSettings::new("registry.test");
    settings.expires_in = Some(1);
    bearer(&fake, settings);
    let client = client(config(&fake));
    client.list_tags(REPO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    client.list_tags(REPO).await.unwrap();
    assert_eq!(fake.token_requests().len(), 2);
}

#[tokio::test]
async fn a_rejected_cached_token_is_dropped_and_renewed_once() {
    let fake = fake_with_tags(1).await;
    bearer(&fake, BearerSettings::new("registry.test"));
    let client = client(config(&fake));
    client.list_tags(REPO).await.unwrap();
    fake.revoke_tokens();
    assert_eq!(client.list_tags(REPO).await.unwrap().len(), 1);
    assert_eq!(fake.token_requests().len(), 2);
}

#[tokio::test]
async fn a_token_that_never_works_fails_after_one_authentication() {
    let fake = fake_with_tags(1).await;
    bearer(&fake, wrong_scope(&fake));
    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(fake.token_requests().len(), 1);
    assert_eq!(tag_list_requests(&fake).len(), 2);
}

#[tokio::test]
async fn odd_challenge_formatting_is_understood() {
    let fake = fake_with_tags(1).await;
    let mut settings = BearerSettings::new("registry.test");
    settings.challenge_override = Some(format!(
        "  bearer   REALM = \"{}/token\" ,Service=registry.test, SCOPE=\"repository:{REPO}:pull\"",
        fake.url()
    ));
    bearer(&fake, settings);
    assert_eq!(
        client(config(&fake)).list_tags(REPO).await.unwrap().len(),
        1
    );
}

#[tokio::test]
async fn concurrent_requests_share_one_token_fetch() {
    let fake = fake_with_tags(12).await;
    bearer(&fake, BearerSettings::new("registry.test"));
    let mut config = config(&fake);
    config.digest_concurrency = 6;
    let digests = client(config)
        .manifest_digests(REPO, &tag_names(12))
        .await
        .unwrap();
    assert_eq!(digests.len(), 12);
    assert_eq!(fake.token_requests().len(), 1);
}

#[tokio::test]
async fn a_foreign_realm_is_refused_and_never_contacted() {
    let fake = fake_with_tags(1).await;
    let foreign = FakeDockerRegistry::start().await.unwrap();
    let mut settings = BearerSettings::new("registry.test");
    settings.realm = Some(format!("{}/token", foreign.url()));
    bearer(&fake, settings);
    // Credentials exist, which makes sending them elsewhere the danger being tested.
    let config = with_credentials(config(&fake), "bot", PASSWORD);
    let error = client(config.clone()).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::RealmNotAllowed { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(foreign.host()), "{error}");
    assert_eq!(foreign.request_count(), 0);
    // Allowing another port of the same host does not allow this one.
    let mut other_port = config;
    other_port.auth_realms = vec!["127.0.0.1:1".into()];
    let error = client(other_port).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::RealmNotAllowed { .. }),
        "{error:?}"
    );
    assert_eq!(foreign.request_count(), 0);
}

#[tokio::test]
async fn basic_auth_with_without_and_with_wrong_credentials() {
    let fake = fake_with_tags(1).await;
    fake.set_auth(FakeAuth::Basic {
        username: "bot".into(),
        password: PASSWORD.into(),
    });
    let good = client(with_credentials(config(&fake), "bot", PASSWORD));
    good.list_tags(REPO).await.unwrap();
    let before = fake.request_count();
    good.list_tags(REPO).await.unwrap();
    assert_eq!(
        fake.request_count(),
        before + 1,
        "Basic is sent up front once known"
    );

    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::CredentialsRequired { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains(fake.host()));

    let error = client(with_credentials(config(&fake), "bot", "wrong"))
        .list_tags(REPO)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
}

#[tokio::test]
async fn credentials_and_tokens_never_appear_in_errors_or_debug() {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("bot:{PASSWORD}"));
    let fake = fake_with_tags(1).await;
    bearer(&fake, wrong_scope(&fake));
    let config = with_credentials(config(&fake), "bot", PASSWORD);
    let client = client(config.clone());
    let error = client.list_tags(REPO).await.unwrap_err();
    let shown = format!("{error} {error:?} {client:?} {config:?}");
    for secret in [PASSWORD, encoded.as_str(), "fake-token-1"] {
        assert!(!shown.contains(secret), "{secret} leaked: {shown}");
    }

    fake.set_auth(FakeAuth::Basic {
        username: "bot".into(),
        password: "other".into(),
    });
    let error = client.list_tags(REPO).await.unwrap_err();
    let shown = format!("{error} {error:?}");
    assert!(
        !shown.contains(PASSWORD) && !shown.contains(&encoded),
        "{shown}"
    );
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let fake = fake_with_tags(2).await;
    fake.push_faults([
        Fault::Status(429),
        Fault::Status(500),
        Fault::Status(503),
        Fault::Status(502),
        Fault::Status(504),
    ]);
    assert_eq!(
        client(config(&fake)).list_tags(REPO).await.unwrap().len(),
        2
    );
    assert_eq!(fake.request_count(), 6);
}

#[tokio::test]
async fn retry_after_is_honoured_and_other_client_errors_are_not_retried() {
    let fake = fake_with_tags(1).await;
    fake.push_faults([Fault::StatusRetryAfter(429, 0)]);
    client(config(&fake)).list_tags(REPO).await.unwrap();
    assert_eq!(fake.request_count(), 2);

    let fake = fake_with_tags(1).await;
    fake.push_faults([Fault::Status(400)]);
    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert_eq!(error.status(), Some(400));
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn retries_stop_within_the_budget() {
    let fake = fake_with_tags(1).await;
    fake.push_faults(std::iter::repeat_n(Fault::Status(503), 1000));
    let mut config = config(&fake);
    config.retry = RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(10), Duration::from_millis(40)),
        max_elapsed: Duration::from_millis(200),
        max_asked: Duration::from_millis(40),
    };
    let error = client(config).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::RetriesExhausted { .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
    assert_eq!(error.status(), Some(503));
    assert!(fake.request_count() > 1 && fake.request_count() < 100);
}

/// Issue 10: a registry answering `429` with `Retry-After: 0` got 83 requests in 4 s, the
/// header having switched backoff off. The backoff's floor holds whatever the header says:
/// with the default policy (0.5 s doubling), 2 s allow at most five attempts.
#[tokio::test]
async fn retry_after_zero_keeps_the_backoff_floor() {
    let fake = fake_with_tags(1).await;
    fake.push_faults(std::iter::repeat_n(Fault::StatusRetryAfter(429, 0), 1000));
    let mut config = config(&fake);
    config.retry = RetryPolicy::default();
    config.list_deadline = Duration::from_secs(2);
    let error = client(config).list_tags(REPO).await.unwrap_err();
    assert!(matches!(error, RegistryError::Deadline { .. }), "{error:?}");
    let requests = fake.request_count();
    assert!((2..=5).contains(&requests), "{requests} requests in 2 s");
}

#[tokio::test]
async fn slow_answers_time_out_and_are_retried() {
    let fake = fake_with_tags(1).await;
    fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let mut config = config(&fake);
    config.timeout = Duration::from_millis(300);
    assert_eq!(
        client(config.clone()).list_tags(REPO).await.unwrap().len(),
        1
    );

    fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    config.retry = RetryPolicy::none();
    let error = client(config).list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Transport { timeout: true, .. }),
        "{error:?}"
    );
    assert!(error.is_retryable());
}

#[tokio::test]
async fn truncated_tag_lists_are_parse_errors() {
    let fake = fake_with_tags(3).await;
    fake.push_faults([Fault::TruncatedBody]);
    let error = client(config(&fake)).list_tags(REPO).await.unwrap_err();
    assert!(matches!(error, RegistryError::Parse { .. }), "{error:?}");
    assert!(error.to_string().contains(REPO));
}
