//! What a broken or hostile registry can no longer do (issue 10): panic the refresh with a
//! token lifetime beyond the clock, take the memory with a huge or compressed-bomb body, or
//! keep a listing going with a chain of pages that never ends. Each fails with an error that
//! names the bound and the key that sets it.

use std::time::{Duration, Instant};

use rsp_registry::{
    DockerClientConfig, DockerRegistryClient, GarAuth, GarClient, GarClientConfig, GarImageRef,
    RegistryError, RegistryLimits,
};
use rsp_testkit::gar::{generate_images, FakeGar, GarRepository};
use rsp_testkit::registry::{BearerSettings, FakeAuth, FakeDockerRegistry, LinkStyle, Recorded};
use url::Url;

mod client_support;

const REPO: &str = "library/sketchbook";

async fn docker_fake(tags: usize) -> FakeDockerRegistry {
    let fake = FakeDockerRegistry::start().await.unwrap();
    let names: Vec<String> = (0..tags).map(|i| format!("w_2077_{i:05}")).collect();
    let digest = format!("sha256:{:064x}", 1);
    fake.set_tags(REPO, names.iter().map(|n| (n.as_str(), digest.as_str())));
    fake
}

fn docker_client(fake: &FakeDockerRegistry, limits: RegistryLimits) -> DockerRegistryClient {
    let config = DockerClientConfig {
        limits,
        // One page for everything, as distribution 2.8 sends (it ignores `n`).
        tag_page_size: 100_000,
        list_deadline: Duration::from_secs(20),
        ..client_support::docker_config(fake.url())
    };
    DockerRegistryClient::new(config).unwrap()
}

fn gar_repo() -> GarRepository {
    GarRepository::new("us-central1", "rubin-shared", "sciplat")
}

fn gar_client(fake: &FakeGar, limits: RegistryLimits) -> GarClient {
    GarClient::new(GarClientConfig {
        api_url: Url::parse(fake.url()).unwrap(),
        auth: GarAuth::None,
        retry: client_support::quick_retry(),
        list_deadline: Duration::from_secs(20),
        limits,
        ..GarClientConfig::default()
    })
    .unwrap()
}

fn sciplat_lab() -> GarImageRef {
    GarImageRef {
        location: "us-central1".into(),
        project_id: "rubin-shared".into(),
        repository: "sciplat".into(),
        image: "sciplat-lab".into(),
    }
}

/// `expires_in: 9223372036854775807` panicked the refresh task (Instant + Duration overflow);
/// now the token is kept for at most a day and the listing succeeds.
#[tokio::test]
async fn a_token_lifetime_beyond_the_clock_is_saturated() {
    for expires_in in [i64::MAX as u64, u64::MAX] {
        let fake = docker_fake(2).await;
        let mut settings = BearerSettings::new("registry.test");
        settings.expires_in = Some(expires_in);
        fake.set_auth(FakeAuth::Bearer(settings));
        let client = docker_client(&fake, RegistryLimits::default());
        assert_eq!(client.list_tags(REPO).await.unwrap().len(), 2);
        assert_eq!(client.list_tags(REPO).await.unwrap().len(), 2);
        assert_eq!(fake.token_requests().len(), 1, "the token is reused");
    }
}

/// An endless `Link` chain ran until the 180 s deadline and 600–970 MB; now it stops at
/// `maxPages`, quickly.
#[tokio::test]
async fn an_endless_link_chain_stops_at_max_pages() {
    let fake = docker_fake(3).await;
    fake.set_link_style(LinkStyle::Endless);
    let limits = RegistryLimits {
        max_pages: 40,
        ..RegistryLimits::default()
    };
    let started = Instant::now();
    let error = docker_client(&fake, limits)
        .list_tags(REPO)
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Paging { .. }), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("images.registryLimits.maxPages"), "{text}");
    assert_eq!(fake.request_count(), 41);
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// The same for an Artifact Registry page-token chain, bounded by entries this time.
#[tokio::test]
async fn an_endless_page_token_chain_stops_at_max_entries() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&gar_repo(), generate_images(&gar_repo(), "sciplat-lab", 5));
    fake.set_endless(true);
    let limits = RegistryLimits {
        max_entries: 52,
        ..RegistryLimits::default()
    };
    let error = gar_client(&fake, limits)
        .list_images(&sciplat_lab())
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::Paging { .. }), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("images.registryLimits.maxEntries"),
        "{error}"
    );
    // Five entries a page: the eleventh page passes 52.
    assert_eq!(fake.request_count(), 11);
}

/// A tag list bigger than `maxResponseBytes` is refused as it arrives.
#[tokio::test]
async fn a_body_past_the_size_cap_is_refused() {
    let fake = docker_fake(5_000).await;
    let limits = RegistryLimits {
        max_response_bytes: 64 * 1024,
        ..RegistryLimits::default()
    };
    let error = docker_client(&fake, limits)
        .list_tags(REPO)
        .await
        .map(|tags| tags.len());
    let error = error.unwrap_err();
    assert!(matches!(error, RegistryError::TooLarge { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("images.registryLimits.maxResponseBytes") && text.contains("65536"),
        "{text}"
    );
    assert!(!error.is_retryable());
    // The same listing within the default cap is fine.
    let tags = docker_client(&fake, RegistryLimits::default())
        .list_tags(REPO)
        .await
        .unwrap();
    assert_eq!(tags.len(), 5_000);
}

/// The cap counts decompressed bytes: a page that is small on the wire (gzip, as the client
/// asks for) but large once inflated is refused too.
#[tokio::test]
async fn the_size_cap_counts_decompressed_bytes() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(
        &gar_repo(),
        generate_images(&gar_repo(), "sciplat-lab", 1_000),
    );
    let limits = RegistryLimits {
        max_response_bytes: 128 * 1024,
        ..RegistryLimits::default()
    };
    let error = gar_client(&fake, limits)
        .list_images(&sciplat_lab())
        .await
        .unwrap_err();
    assert!(matches!(error, RegistryError::TooLarge { .. }), "{error:?}");
    let served = fake.responses();
    let last = served.last().unwrap();
    assert_eq!(last.content_encoding.as_deref(), Some("gzip"));
    assert!(
        last.wire_bytes < 128 * 1024 && last.body_bytes > 128 * 1024,
        "{last:?}"
    );
}
