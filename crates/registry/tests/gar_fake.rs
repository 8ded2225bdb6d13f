//! Artifact Registry client against `rsp_testkit::gar::FakeGar`: paging, image selection,
//! nested names, retries, an endless page chain, broken JSON and token refresh.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rsp_registry::{
    Backoff, GarAuth, GarClient, GarClientConfig, GarImageRef, GarTokenProvider, RegistryError,
    RegistryLimits, RetryPolicy,
};
use rsp_testkit::gar::{generate_images, FakeGar, Fault, GarRepository, Recorded};
use url::Url;

fn repo() -> GarRepository {
    GarRepository::new("us-central1", "rubin-shared", "sciplat")
}

fn what(image: &str) -> GarImageRef {
    GarImageRef {
        location: "us-central1".into(),
        project_id: "rubin-shared".into(),
        repository: "sciplat".into(),
        image: image.into(),
    }
}

fn config(fake: &FakeGar) -> GarClientConfig {
    GarClientConfig {
        api_url: Url::parse(fake.url()).unwrap(),
        auth: GarAuth::None,
        timeout: Duration::from_secs(5),
        retry: RetryPolicy {
            backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
            max_elapsed: Duration::from_secs(5),
            max_asked: Duration::from_millis(20),
        },
        page_size: 1000,
        list_deadline: Duration::from_secs(30),
        limits: RegistryLimits::default(),
    }
}

use rsp_testkit::builders::digest;

async fn listing_of(
    fake: &FakeGar,
    image: &str,
) -> Result<Vec<rsp_registry::GarImage>, RegistryError> {
    GarClient::new(config(fake))
        .unwrap()
        .list_images(&what(image))
        .await
}

#[tokio::test]
async fn pages_are_followed_in_api_order_with_size_and_field_mask() {
    let fake = FakeGar::start().await.unwrap();
    let images = generate_images(&repo(), "sciplat-lab", 25);
    fake.set_images(&repo(), images.clone());
    fake.set_max_page_size(10);
    let listing = listing_of(&fake, "sciplat-lab").await.unwrap();
    assert_eq!(listing.len(), 25);
    for (got, sent) in listing.iter().zip(&images) {
        assert_eq!(got.tags, sent.tags);
        assert_eq!(
            Some(got.size.unwrap().to_string()),
            Some(sent.image_size_bytes.clone())
        );
        assert!(sent.uri.ends_with(&got.digest));
    }
    let requests = fake.requests();
    assert_eq!(requests.len(), 3);
    assert_eq!(
        requests[0].path,
        "/v1/projects/rubin-shared/locations/us-central1/repositories/sciplat/dockerImages"
    );
    assert_eq!(requests[0].param("pageSize"), Some("1000"));
    assert_eq!(requests[0].param("pageToken"), None);
    // The opaque token (base64 with `+ / =`) arrives as it was issued: percent-encoded.
    let token = requests[1].param("pageToken").unwrap();
    assert!(token.starts_with("+/+/") && token.ends_with('='), "{token}");
    assert!(requests[0]
        .param("fields")
        .unwrap()
        .contains("nextPageToken"));
    assert_eq!(requests[0].authorization, None);
}

#[tokio::test]
async fn other_and_nested_images_are_told_apart() {
    let fake = FakeGar::start().await.unwrap();
    let r = repo();
    fake.set_images(
        &r,
        vec![
            r.image("sciplat-lab", &digest(1), &["w_2077_43", "recommended"], 10),
            r.image("team/sciplat-lab", &digest(2), &["w_2077_44"], 20),
            r.image("other", &digest(3), &["w_2077_45"], 30),
            r.image("sciplat-lab", &digest(4), &[], 40),
            r.image("team/sciplat-lab", &digest(5), &["w_2077_46"], 50),
        ],
    );
    let plain = listing_of(&fake, "sciplat-lab").await.unwrap();
    assert_eq!(
        plain.iter().map(|i| i.digest.clone()).collect::<Vec<_>>(),
        [digest(1), digest(4)]
    );
    assert_eq!(plain[0].tags, ["w_2077_43", "recommended"]);
    assert!(plain[1].tags.is_empty());
    let nested = listing_of(&fake, "team/sciplat-lab").await.unwrap();
    assert_eq!(
        nested.iter().map(|i| i.digest.clone()).collect::<Vec<_>>(),
        [digest(2), digest(5)]
    );
    assert_eq!(nested[1].size, Some(50));
    assert!(listing_of(&fake, "lab").await.unwrap().is_empty());
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 3));
    fake.push_faults([Fault::Status(500), Fault::Status(503), Fault::Status(429)]);
    assert_eq!(listing_of(&fake, "sciplat-lab").await.unwrap().len(), 3);
    assert_eq!(fake.request_count(), 4);
}

#[tokio::test]
async fn an_unknown_repository_is_not_found_and_not_retried() {
    let fake = FakeGar::start().await.unwrap();
    let error = listing_of(&fake, "sciplat-lab").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab")
            && text.contains("NOT_FOUND"),
        "{text}"
    );
    assert_eq!(fake.request_count(), 1);
}

#[tokio::test]
async fn a_page_chain_that_never_ends_fails_at_the_deadline() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 3));
    fake.set_endless(true);
    let mut config = config(&fake);
    config.list_deadline = Duration::from_millis(500);
    let error = GarClient::new(config)
        .unwrap()
        .list_images(&what("sciplat-lab"))
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Deadline { .. }), "{error:?}");
    assert!(error.to_string().contains("500ms"), "{error}");
    assert!(fake.request_count() > 2);
}

#[tokio::test]
async fn truncated_json_is_a_parse_error() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 5));
    fake.push_faults([Fault::TruncatedBody]);
    let error = listing_of(&fake, "sciplat-lab").await.unwrap_err();
    assert!(matches!(error, RegistryError::Parse { .. }), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn slow_pages_time_out_then_succeed_on_retry() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 5));
    fake.push_faults([Fault::Delay(Duration::from_secs(3))]);
    let mut config = config(&fake);
    config.timeout = Duration::from_millis(300);
    let listing = GarClient::new(config)
        .unwrap()
        .list_images(&what("sciplat-lab"))
        .await
        .unwrap();
    assert_eq!(listing.len(), 5);
}

#[tokio::test]
async fn twenty_thousand_images_in_twenty_pages() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 20_000));
    let listing = listing_of(&fake, "sciplat-lab").await.unwrap();
    assert_eq!(listing.len(), 20_000);
    let distinct: std::collections::HashSet<_> = listing.iter().map(|i| &i.digest).collect();
    assert_eq!(distinct.len(), 20_000);
    assert_eq!(fake.request_count(), 20);
}

async fn count(client: &GarClient) -> usize {
    client
        .list_images(&what("sciplat-lab"))
        .await
        .unwrap()
        .len()
}

/// Hands out tokens from the fake; counts how often a refresh was asked for.
struct FakeTokens {
    fake: Arc<FakeGar>,
    current: std::sync::Mutex<Option<String>>,
    refreshes: AtomicUsize,
    /// When set, a refresh returns the old token (a provider that cannot renew).
    stuck: AtomicBool,
}

impl GarTokenProvider for FakeTokens {
    fn token(&self, refresh: bool) -> BoxFuture<'_, Result<String, RegistryError>> {
        Box::pin(async move {
            let mut current = self.current.lock().unwrap();
            if refresh {
                self.refreshes.fetch_add(1, Ordering::SeqCst);
            }
            if current.is_none() || (refresh && !self.stuck.load(Ordering::SeqCst)) {
                *current = Some(self.fake.issue_token(Duration::from_secs(600)));
            }
            Ok(current.clone().unwrap())
        })
    }
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once() {
    let fake = Arc::new(FakeGar::start().await.unwrap());
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 2));
    fake.require_auth();
    let tokens = Arc::new(FakeTokens {
        fake: Arc::clone(&fake),
        current: Default::default(),
        refreshes: AtomicUsize::new(0),
        stuck: AtomicBool::new(false),
    });
    let mut config = config(&fake);
    config.auth = GarAuth::Provider(tokens.clone());
    let client = GarClient::new(config).unwrap();
    assert_eq!(count(&client).await, 2);
    assert_eq!(tokens.refreshes.load(Ordering::SeqCst), 0);
    let first = fake.requests()[0].authorization.clone().unwrap();
    assert!(first.starts_with("Bearer ya29.fake-token-"));

    fake.expire_tokens();
    assert_eq!(count(&client).await, 2);
    assert_eq!(tokens.refreshes.load(Ordering::SeqCst), 1);
    let last = fake.requests().pop().unwrap().authorization.unwrap();
    assert_ne!(first, last);

    fake.expire_tokens();
    tokens.stuck.store(true, Ordering::SeqCst);
    let error = client.list_images(&what("sciplat-lab")).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
    let shown = format!("{error} {error:?} {client:?}");
    assert!(!shown.contains("ya29"), "{shown}");
}
