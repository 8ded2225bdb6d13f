//! Artifact Registry as Google serves it (issue 13), against the strict fake: platforms of
//! multi-arch images from the listing's `imageManifests`, domain-scoped projects in image
//! references, Google's `RetryInfo` honoured, gzip asked for, and the hints of 401 and 403.

use std::time::{Duration, Instant};

use rsp_model::catalog::{Image, ImageCatalog};
use rsp_model::platform::{Platform, Platforms};
use rsp_model::reference::DockerReference;
use rsp_registry::source::{GoogleSource, ImageSource};
use rsp_registry::{RegistryError, RegistryLimits};
use rsp_testkit::gar::{FakeGar, Fault, GarRepository, Recorded};
use source_support::{digest, gar_image, gar_repo, google_config, google_source, options, IMAGE};

mod source_support;

fn image<'c>(catalog: &'c ImageCatalog, tag: &str) -> &'c Image {
    catalog
        .get(tag)
        .unwrap_or_else(|| panic!("{tag} is not listed"))
}

fn platforms(list: &[&str]) -> Platforms {
    Platforms::known(list.iter().map(|text| {
        let mut parts = text.split('/');
        let mut platform = Platform::new(parts.next().unwrap(), parts.next().unwrap());
        platform.variant = parts.next().map(Into::into);
        platform
    }))
}

/// The listing names each child manifest of a multi-arch image; that is where its platforms
/// come from, with no extra request. A single-manifest image stays unknown.
#[tokio::test]
async fn platforms_come_from_image_manifests() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(
        &gar_repo(),
        vec![
            gar_repo().multi_arch(
                IMAGE,
                &digest(1),
                &["w_2077_43", "recommended"],
                10,
                &["linux/amd64", "linux/arm64/v8", "unknown/unknown"],
            ),
            gar_image(2, &["w_2077_42"]),
        ],
    );
    let (source, options) = google_source(&fake, IMAGE).await;
    let listing = source.update_images(&options).await.unwrap();
    assert_eq!(
        image(&listing.catalog, "w_2077_43").platforms(),
        platforms(&["linux/amd64", "linux/arm64/v8"])
    );
    assert_eq!(
        image(&listing.catalog, "recommended").platforms(),
        platforms(&["linux/amd64", "linux/arm64/v8"])
    );
    assert_eq!(
        image(&listing.catalog, "w_2077_42").platforms(),
        Platforms::Unknown
    );
    let fields = fake.requests()[0].param("fields").unwrap().to_owned();
    assert!(
        fields.contains("imageManifests(") && fields.contains("artifactType"),
        "{fields}"
    );
}

/// A project id such as `example.com:proj` is written `example.com/proj` in references, as
/// Artifact Registry writes it; `example.com:proj/…` is not a valid reference.
#[tokio::test]
async fn domain_scoped_projects_give_valid_references() {
    let repo = GarRepository::new("us-central1", "example.com:proj", "sciplat");
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(
        &repo,
        vec![repo.image(IMAGE, &digest(1), &["w_2077_43"], 5)],
    );
    let mut config = google_config(fake.url(), IMAGE);
    config.project_id = "example.com:proj".into();
    let source = GoogleSource::new(&config, RegistryLimits::default())
        .await
        .unwrap();
    let listing = source
        .update_images(&options(rsp_config::SourceConfig::Google(config)))
        .await
        .unwrap();
    let reference = image(&listing.catalog, "w_2077_43").reference();
    assert_eq!(
        reference,
        "us-central1-docker.pkg.dev/example.com/proj/sciplat/sciplat-lab:w_2077_43"
    );
    DockerReference::parse(&reference).unwrap();
    assert_eq!(
        fake.requests()[0].path,
        "/v1/projects/example.com:proj/locations/us-central1/repositories/sciplat/dockerImages"
    );
}

/// Google asks for a delay in the error's `RetryInfo`, rarely with `Retry-After`; a
/// `retryDelay` of 1 s was retried after ~150 ms. It is waited out now.
#[tokio::test]
async fn retry_info_is_waited_out() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(&gar_repo(), vec![gar_image(1, &["w_2077_43"])]);
    fake.push_faults([Fault::GoogleQuota(Duration::from_secs(1))]);
    let (source, options) = google_source(&fake, IMAGE).await;
    let started = Instant::now();
    source.update_images(&options).await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(fake.request_count(), 2);
}

/// Pages are asked for compressed (a 20k-tag listing is several MB) and decompressed.
#[tokio::test]
async fn pages_travel_gzip_compressed() {
    let fake = FakeGar::start().await.unwrap();
    fake.set_images(
        &gar_repo(),
        (1..=50)
            .map(|n| gar_image(n, &[&format!("w_2077_{n:02}")]))
            .collect(),
    );
    let (source, options) = google_source(&fake, IMAGE).await;
    let listing = source.update_images(&options).await.unwrap();
    assert_eq!(listing.catalog.len(), 50);
    let served = &fake.responses()[0];
    assert_eq!(served.content_encoding.as_deref(), Some("gzip"));
    assert!(served.wire_bytes * 4 < served.body_bytes, "{served:?}");
}

/// Artifact Registry answers 403 alike for a repository the caller may not read and one that
/// does not exist; the error says both, and not "the Docker credentials file".
#[tokio::test]
async fn a_403_names_both_causes() {
    let fake = FakeGar::start().await.unwrap();
    fake.deny(&gar_repo());
    let (source, options) = google_source(&fake, IMAGE).await;
    let error = source.update_images(&options).await.unwrap_err();
    assert_eq!(error.status(), Some(403));
    let text = error.to_string();
    assert!(
        text.contains("lack permission") && text.contains("does not exist"),
        "{text}"
    );
}

/// A 401 that survives a fresh token points at Google's credentials, not Docker's.
#[tokio::test]
async fn a_401_names_google_credentials() {
    let error = RegistryError::Unauthorized {
        host: "artifactregistry.googleapis.com".into(),
        operation: "listing".into(),
        status: 401,
        credentials: rsp_registry::error::GOOGLE_CREDENTIALS,
    };
    let text = error.to_string();
    assert!(
        text.contains("GOOGLE_APPLICATION_CREDENTIALS") && !text.contains("Docker"),
        "{text}"
    );
}
