//! Docker client against a real `docker-registry` (Debian package, distribution 2.8):
//! aliases, moved and deleted tags, unknown repositories, and the `htpasswd` and `token`
//! authentication modes. Without the binary these tests fail with the install command.
//!
//! distribution 2.8 ignores `n=` on tags/list and returns every tag at once, so paging with
//! small pages is exercised against the loopback fake (`docker_fake.rs`); here a client with
//! small pages still gets every tag of a large repository.

use std::collections::BTreeSet;

use client_support::{assert_token_request, with_credentials};
use rsp_registry::{DockerClientConfig, DockerRegistryClient, RegistryError};
use rsp_testkit::registry::{
    basic_authorization, DockerRegistry, Pusher, Recorded, RegistryAuth, TokenServer,
};

mod client_support;

const REPO: &str = "lsst-sqre/sciplat-lab";
const PASSWORD: &str = "registry-s3cret";

fn config(registry: &DockerRegistry) -> DockerClientConfig {
    client_support::docker_config(registry.url())
}

fn set(tags: &[String]) -> BTreeSet<String> {
    tags.iter().cloned().collect()
}

fn strings(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

#[tokio::test]
async fn aliases_moved_and_deleted_tags() {
    let registry = DockerRegistry::start(RegistryAuth::None).await.unwrap();
    let pusher = Pusher::new(registry.url(), None);
    let weekly = pusher
        .push_image(
            REPO,
            "weekly 43",
            &["w_2077_43", "recommended", "latest_weekly"],
        )
        .await
        .unwrap();
    let daily = pusher
        .push_image(REPO, "daily 23", &["d_2077_10_23", "latest_daily"])
        .await
        .unwrap();
    assert_ne!(weekly, daily);

    let client = DockerRegistryClient::new(config(&registry)).unwrap();
    let tags = client.list_tags(REPO).await.unwrap();
    assert_eq!(
        set(&tags),
        set(&strings(&[
            "w_2077_43",
            "recommended",
            "latest_weekly",
            "d_2077_10_23",
            "latest_daily"
        ]))
    );
    let digests = client
        .manifest_digests(
            REPO,
            &strings(&["recommended", "w_2077_43", "latest_daily", "d_2077_10_23"]),
        )
        .await
        .unwrap();
    assert_eq!(
        digests,
        vec![
            ("recommended".to_owned(), weekly.clone()),
            ("w_2077_43".to_owned(), weekly.clone()),
            ("latest_daily".to_owned(), daily.clone()),
            ("d_2077_10_23".to_owned(), daily.clone()),
        ]
    );

    // `recommended` moves to a new weekly between two listings.
    let newer = pusher
        .push_image(REPO, "weekly 44", &["w_2077_44", "recommended"])
        .await
        .unwrap();
    assert_eq!(
        client.manifest_digest(REPO, "recommended").await.unwrap(),
        newer
    );
    assert_eq!(
        client.manifest_digest(REPO, "w_2077_43").await.unwrap(),
        weekly
    );

    // Deleting the daily manifest removes both of its tags.
    pusher.delete_manifest(REPO, &daily).await.unwrap();
    let tags = set(&client.list_tags(REPO).await.unwrap());
    assert!(
        !tags.contains("d_2077_10_23") && !tags.contains("latest_daily"),
        "{tags:?}"
    );
    assert!(tags.contains("w_2077_44"));
    let error = client
        .manifest_digest(REPO, "d_2077_10_23")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
}

#[tokio::test]
async fn many_tags_with_small_pages_and_an_unknown_repository() {
    let registry = DockerRegistry::start(RegistryAuth::None).await.unwrap();
    let pusher = Pusher::new(registry.url(), None);
    let names: Vec<String> = (1..=30).map(|i| format!("w_2077_{i:02}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    pusher.push_image(REPO, "many", &refs).await.unwrap();
    let mut config = config(&registry);
    config.tag_page_size = 7;
    let client = DockerRegistryClient::new(config).unwrap();
    let tags = client.list_tags(REPO).await.unwrap();
    assert_eq!(tags.len(), 30);
    assert_eq!(set(&tags), set(&names));

    let error = client
        .list_tags("lsst-sqre/nothing-here")
        .await
        .unwrap_err();
    assert!(error.is_not_found(), "{error:?}");
    let text = error.to_string();
    assert!(
        text.contains("lsst-sqre/nothing-here")
            && text.contains("NAME_UNKNOWN")
            && text.contains(registry.host()),
        "{text}"
    );
}

#[tokio::test]
async fn htpasswd_authentication() {
    let registry = DockerRegistry::start(RegistryAuth::Htpasswd {
        username: "bot".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    let pusher = Pusher::new(registry.url(), Some(basic_authorization("bot", PASSWORD)));
    let digest = pusher
        .push_image(REPO, "basic", &["w_2077_43"])
        .await
        .unwrap();

    let client =
        DockerRegistryClient::new(with_credentials(config(&registry), "bot", PASSWORD)).unwrap();
    assert_eq!(client.list_tags(REPO).await.unwrap(), ["w_2077_43"]);
    assert_eq!(
        client.manifest_digest(REPO, "w_2077_43").await.unwrap(),
        digest
    );

    let anonymous = DockerRegistryClient::new(config(&registry)).unwrap();
    let error = anonymous.list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::CredentialsRequired { .. }),
        "{error:?}"
    );

    let wrong =
        DockerRegistryClient::new(with_credentials(config(&registry), "bot", "not-it")).unwrap();
    let error = wrong.list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );
    let shown = format!("{error} {error:?} {wrong:?}");
    assert!(
        !shown.contains("not-it") && !shown.contains(PASSWORD),
        "{shown}"
    );
}

#[tokio::test]
async fn token_authentication_with_a_test_token_server() {
    let tokens = TokenServer::start(
        "rsp-test-registry",
        "rsp-test-issuer",
        &[("bot", PASSWORD)],
        300,
    )
    .await
    .unwrap();
    let registry = DockerRegistry::start(RegistryAuth::Token {
        realm: tokens.realm(),
        service: "rsp-test-registry".into(),
        issuer: "rsp-test-issuer".into(),
        root_cert_pem: tokens.root_cert_pem().to_owned(),
    })
    .await
    .unwrap();
    let push_token = tokens
        .mint("pusher", &[(REPO, &["pull", "push", "delete"])])
        .unwrap();
    let pusher = Pusher::new(registry.url(), Some(format!("Bearer {push_token}")));
    let digest = pusher
        .push_image(REPO, "token", &["w_2077_43", "recommended"])
        .await
        .unwrap();

    // The realm is on another port, so it must be allowed explicitly.
    let mut allowed = with_credentials(config(&registry), "bot", PASSWORD);
    allowed.auth_realms = vec![tokens.host().to_owned()];
    let client = DockerRegistryClient::new(allowed.clone()).unwrap();
    assert_eq!(
        set(&client.list_tags(REPO).await.unwrap()),
        set(&strings(&["w_2077_43", "recommended"]))
    );
    assert_eq!(
        client.manifest_digest(REPO, "recommended").await.unwrap(),
        digest
    );
    let fetched = tokens.requests();
    assert_eq!(fetched.len(), 1, "one token for both calls");
    let basic = basic_authorization("bot", PASSWORD);
    assert_token_request(
        &fetched[0],
        "repository:lsst-sqre/sciplat-lab:pull",
        Some(&basic),
    );

    // Wrong credentials: the token server refuses them.
    let wrong = with_credentials(allowed.clone(), "bot", "nope");
    let error = DockerRegistryClient::new(wrong)
        .unwrap()
        .list_tags(REPO)
        .await
        .unwrap_err();
    assert!(
        matches!(error, RegistryError::Unauthorized { .. }),
        "{error:?}"
    );

    // By default only the registry host may be a realm: refused, and nothing is sent there.
    let before = tokens.requests().len();
    let default_realms =
        DockerRegistryClient::new(with_credentials(config(&registry), "bot", PASSWORD)).unwrap();
    let error = default_realms.list_tags(REPO).await.unwrap_err();
    assert!(
        matches!(error, RegistryError::RealmNotAllowed { .. }),
        "{error:?}"
    );
    assert_eq!(tokens.requests().len(), before);
}
