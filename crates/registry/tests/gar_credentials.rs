//! Application Default Credentials as Google's client libraries find them (issue 13), against
//! the strict fake Artifact Registry: an `external_account` file (workload identity federation
//! outside GKE) whose subject token the fake's STS exchanges, and a service-account key whose
//! self-signed JWTs the fake verifies. Both ask for `cloud-platform.read-only` only, and a 401
//! brings a fresh token, not the cached one.
//!
//! `GOOGLE_APPLICATION_CREDENTIALS` is process-wide, so this binary runs one test that takes
//! the credential kinds in turn.

use std::time::Duration;

use base64::Engine;
use rsp_registry::{GarAuth, GarClient, GarClientConfig, GarImageRef, RegistryLimits};
use rsp_testkit::gar::{generate_images, FakeGar, GarRepository, Recorded, TestServiceAccount};
use rsp_testkit::registry::TempDir;
use url::Url;

mod client_support;

const READ_ONLY: &str = "https://www.googleapis.com/auth/cloud-platform.read-only";
const AUDIENCE: &str =
    "//iam.googleapis.com/projects/123456/locations/global/workloadIdentityPools/rsp/providers/ci";

fn repo() -> GarRepository {
    GarRepository::new("us-central1", "rubin-shared", "sciplat")
}

fn client(fake: &FakeGar) -> GarClient {
    GarClient::new(GarClientConfig {
        api_url: Url::parse(fake.url()).unwrap(),
        auth: GarAuth::Google,
        retry: client_support::quick_retry(),
        timeout: Duration::from_secs(10),
        list_deadline: Duration::from_secs(30),
        limits: RegistryLimits::default(),
        ..GarClientConfig::default()
    })
    .unwrap()
}

fn what() -> GarImageRef {
    GarImageRef {
        location: "us-central1".into(),
        project_id: "rubin-shared".into(),
        repository: "sciplat".into(),
        image: "sciplat-lab".into(),
    }
}

fn use_credentials_file(path: &std::path::Path) {
    // One test in this binary: nothing else reads the environment meanwhile.
    std::env::set_var("GOOGLE_APPLICATION_CREDENTIALS", path);
}

#[tokio::test]
async fn application_default_credentials_as_google_finds_them() {
    let dir = TempDir::new("rsp-gar-credentials").unwrap();
    external_account(&dir).await;
    service_account(&dir).await;
}

/// `gcp_auth` 0.12 failed on this file with "missing field private_key" and tried nothing else.
async fn external_account(dir: &TempDir) {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 3));
    fake.trust_subject_token("oidc-token-from-ci", AUDIENCE);
    let subject = dir.path().join("subject-token");
    std::fs::write(&subject, "oidc-token-from-ci").unwrap();
    let file = dir.path().join("external-account.json");
    let config = serde_json::json!({
        "type": "external_account",
        "audience": AUDIENCE,
        "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
        "token_url": format!("{}/v1/token", fake.url()),
        "credential_source": {"file": subject.display().to_string()},
    });
    std::fs::write(&file, config.to_string()).unwrap();
    use_credentials_file(&file);

    let client = client(&fake);
    assert_eq!(client.list_images(&what()).await.unwrap().len(), 3);
    let exchanges = fake.sts_exchanges();
    assert_eq!(exchanges.len(), 1);
    assert_eq!(exchanges[0].param("scope"), Some(READ_ONLY));
    assert_eq!(exchanges[0].param("audience"), Some(AUDIENCE));
    assert_eq!(
        exchanges[0].param("subject_token"),
        Some("oidc-token-from-ci")
    );

    // Cached while valid; after the API rejects it, a new exchange, not the cached token.
    assert_eq!(client.list_images(&what()).await.unwrap().len(), 3);
    assert_eq!(fake.sts_exchanges().len(), 1);
    fake.expire_tokens();
    assert_eq!(client.list_images(&what()).await.unwrap().len(), 3);
    assert_eq!(fake.sts_exchanges().len(), 2);
    let statuses: Vec<u16> = fake.responses().iter().map(|r| r.status).collect();
    assert!(statuses.contains(&401), "{statuses:?}");
}

/// Google's library sends a service account's self-signed JWT straight to the API.
async fn service_account(dir: &TempDir) {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&repo(), generate_images(&repo(), "sciplat-lab", 2));
    let account = TestServiceAccount::generate(
        dir.path(),
        "rsp-images@rubin-shared.iam.gserviceaccount.com",
    )
    .unwrap();
    fake.trust_service_account(&account);
    let file = dir.path().join("service-account.json");
    std::fs::write(&file, &account.key_file).unwrap();
    use_credentials_file(&file);

    assert_eq!(client(&fake).list_images(&what()).await.unwrap().len(), 2);
    let sent = fake.requests()[0].authorization.clone().unwrap();
    let jwt = sent.strip_prefix("Bearer ").unwrap();
    let claims = jwt.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["scope"], READ_ONLY, "{claims}");
    assert_eq!(claims["iss"], account.client_email);
}
