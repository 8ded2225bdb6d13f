//! The init container images' digests, learnt in the background: through the anonymous
//! token flow of a Docker registry (as ghcr.io and Docker Hub hand out pull tokens to anyone),
//! kept when the registry fails, and never waited on by a dry run.

use rsp_config::Config;
use rsp_model::init_image::InitImage;
use rsp_service::dry_run::{list_once, DryRun};
use rsp_service::init_images::{DigestResolver, ATTEMPT_BOUND};
use rsp_testkit::registry::{BearerSettings, FakeAuth, FakeDockerRegistry};

const DIGEST: &str = "sha256:00000000000000000000000000000000000000000000000000000000000000aa";

#[tokio::test]
async fn digests_are_learnt_with_anonymous_tokens_and_kept_when_the_registry_fails() {
    let fake = FakeDockerRegistry::start().await.unwrap();
    fake.set_auth(FakeAuth::Bearer(BearerSettings::new("fake")));
    fake.set_tags("lsst-sqre/nublado", [("10.0.0", DIGEST)]);
    let images = vec![
        InitImage::new(format!("{}/lsst-sqre/nublado", fake.host()), "10.0.0"),
        InitImage::new(format!("{}/lsst-sqre/nublado", fake.host()), "9.9.9"),
    ];
    let mut resolver = DigestResolver::new(images).with_api_url(fake.host(), fake.url());
    assert!(!resolver.resolve_once().await, "9.9.9 does not exist");
    let known = resolver.images();
    assert_eq!(known[0].digest, DIGEST);
    assert_eq!(
        known[0].reference_with_digest,
        format!("{}/lsst-sqre/nublado:10.0.0@{DIGEST}", fake.host())
    );
    assert!(known[1].known_by_name(), "still prepulled by tag");
    assert!(
        !fake.token_requests().is_empty(),
        "the anonymous token flow was used"
    );
    // The registry fails: what was learnt stays.
    fake.set_tags("lsst-sqre/nublado", []);
    resolver.resolve_once().await;
    assert_eq!(resolver.images()[0].digest, DIGEST);
}

/// A registry that accepts connections and never answers: one attempt ends at its bound.
#[tokio::test]
async fn an_attempt_at_a_silent_registry_ends_at_its_bound() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let host = silent.local_addr().unwrap().to_string();
    let image = InitImage::new(format!("{host}/lsst-sqre/nublado"), "10.0.0");
    let mut resolver =
        DigestResolver::new(vec![image]).with_api_url(&host, &format!("http://{host}"));
    let attempt = tokio::time::timeout(ATTEMPT_BOUND * 3, resolver.resolve_once()).await;
    assert_eq!(attempt, Ok(false), "the attempt gives up, and says so");
    assert!(resolver.images()[0].known_by_name());
}

/// `plan` lists the init images by tag and never asks their registry: a registry that never
/// answers costs it nothing.
#[tokio::test]
async fn plan_shows_init_images_by_tag_without_asking_their_registry() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    silent.set_nonblocking(true).unwrap();
    let host = silent.local_addr().unwrap();
    let lab = FakeDockerRegistry::start().await.unwrap();
    lab.set_tags("lsst-sqre/sciplat-lab", [("w_2077_43", DIGEST)]);
    let text = format!(
        "images:\n  source:\n    type: docker\n    registry: {}\n    apiUrl: {}\n    \
         repository: lsst-sqre/sciplat-lab\n  numDailies: 0\n  numReleases: 0\n\
         lab:\n  initContainers:\n    - name: inithome\n      command: [nublado, inithome]\n      \
         image:\n        repository: {host}/lsst-sqre/nublado\n        tag: 10.0.0\n",
        lab.host(),
        lab.url()
    );
    let (config, _) = Config::from_yaml(&text).unwrap();
    let listing = list_once(&config, std::path::Path::new("."))
        .await
        .expect("listed");
    let node = rsp_model::node::NodeInfo {
        name: "node1".into(),
        ..Default::default()
    };
    let dry_run = DryRun::new(listing, &[node], &config);
    let pods: Vec<&str> = dry_run.pods.iter().map(|pod| pod.image.as_str()).collect();
    assert_eq!(
        pods,
        [
            format!("{}/lsst-sqre/sciplat-lab:w_2077_43@{DIGEST}", lab.host()),
            format!("{host}/lsst-sqre/nublado:10.0.0"),
        ]
    );
    // Not a connection to the init image's registry.
    assert!(
        silent.accept().is_err(),
        "the init image's registry was never asked"
    );
    // The JSON keeps the original's keys: the init image is a pod, not an image of the menu.
    let json = dry_run.json(&config, chrono::Utc::now()).to_string();
    assert_eq!(json.matches("lsst-sqre/nublado").count(), 1, "{json}");
}
