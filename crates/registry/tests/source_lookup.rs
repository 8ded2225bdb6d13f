//! Resolving references, tags and classes against a listing (`source::lookup`): behaviour
//! §5.1, §5.3, §8.7 and §9.6, with decisions §5 fixes 4 (an unparsable reference is an
//! invalid reference, never a crash) and 11 (a digest given with a tag must be the tag's).
//!
//! Artifact Registry listings come from `GoogleSource` over the fake Artifact Registry; Docker
//! listings from `DockerSource` over the loopback fake registry, which records the manifest
//! HEADs a lookup outside the prepull set needs.

use rsp_config::{ImagesConfig, RegistryLimits, SourceConfig};
use rsp_model::api::{ImageClass, ResolvedImage};
use rsp_model::listing::{Listing, LookupError};
use rsp_registry::source::{
    image_for_reference, image_for_tag_asking_registry, DockerSource, GoogleSource, ImageSource,
};
use rsp_testkit::gar::FakeGar;
use rsp_testkit::registry::{FakeDockerRegistry, Fault, Recorded};
use source_support::{
    digest, docker_config, fake_gar, gar_image, google_source, options, DOCKER_REGISTRY,
    DOCKER_REPOSITORY, IMAGE,
};

mod source_support;

const GAR: &str = "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab";
const DOCKER: &str = "lighthouse.ceres/library/sketchbook";

/// The image a class names in a listing, as the spawner asks for it.
fn image_for_class(
    listing: &Listing,
    class: ImageClass,
    recommended_tag: &str,
) -> Result<ResolvedImage, LookupError> {
    listing.image_for_class(class, recommended_tag)
}

fn resolved(base: &str, tag: &str, name: &str, digest: &str) -> ResolvedImage {
    ResolvedImage {
        reference: format!("{base}:{tag}"),
        reference_with_digest: format!("{base}:{tag}@{digest}"),
        tag: tag.to_owned(),
        name: name.to_owned(),
        digest: digest.to_owned(),
    }
}

#[track_caller]
fn unknown(result: Result<ResolvedImage, LookupError>, message: &str) {
    match result {
        Err(LookupError::UnknownImage(text)) => assert_eq!(text, message),
        other => panic!("expected unknown image {message:?}, got {other:?}"),
    }
}

/// An invalid reference whose message starts with `start`.
#[track_caller]
fn invalid(result: Result<ResolvedImage, LookupError>, start: &str) {
    match result {
        Err(LookupError::InvalidReference(text)) => {
            assert!(
                text.starts_with(start),
                "{text:?} should start with {start:?}"
            )
        }
        other => panic!("expected an invalid reference {start:?}, got {other:?}"),
    }
}

struct Gar {
    fake: FakeGar,
    source: GoogleSource,
    options: ImagesConfig,
    listing: Listing,
}

async fn gar() -> Gar {
    let fake = fake_gar(vec![
        gar_image(1, &["w_2077_43", "recommended", "latest_weekly"]),
        gar_image(2, &["w_2077_42"]),
        gar_image(3, &["w_2077_41"]),
        gar_image(4, &["d_2077_10_23"]),
        gar_image(5, &["r21_0_1"]),
    ])
    .await;
    let (source, options) = google_source(&fake, IMAGE).await;
    let listing = source.update_images(&options).await.unwrap();
    Gar {
        fake,
        source,
        options,
        listing,
    }
}

impl Gar {
    async fn reference(&self, text: &str) -> Result<ResolvedImage, LookupError> {
        image_for_reference(&self.source, &self.listing, text).await
    }
}

#[tokio::test]
async fn references_with_a_tag_a_digest_or_both() {
    let gar = gar().await;
    let requests = gar.fake.request_count();
    let weekly_42 = resolved(GAR, "w_2077_42", "Weekly 2077_42", &digest(2));
    assert_eq!(
        gar.reference(&format!("{GAR}:w_2077_42")).await.unwrap(),
        weekly_42
    );
    // A digest alone names the digest's primary tag (a non-alias one).
    assert_eq!(
        gar.reference(&format!("{GAR}@{}", digest(1)))
            .await
            .unwrap(),
        resolved(GAR, "w_2077_43", "Weekly 2077_43", &digest(1))
    );
    // A tag with its own digest is that tag, even when it is an alias.
    assert_eq!(
        gar.reference(&format!("{GAR}:recommended@{}", digest(1)))
            .await
            .unwrap(),
        resolved(
            GAR,
            "recommended",
            "Recommended (Weekly 2077_43)",
            &digest(1)
        )
    );
    assert_eq!(
        gar.reference(&format!("{GAR}:w_2077_42@{}", digest(2)))
            .await
            .unwrap(),
        weekly_42
    );
    // A digest that is not the tag's is refused, whichever image it belongs to.
    let stale = format!("{GAR}:recommended@{}", digest(2));
    unknown(
        gar.reference(&stale).await,
        &format!(
            "Docker reference \"{stale}\" does not match the registry: tag \"recommended\" has \
             digest {}",
            digest(1)
        ),
    );
    let forged = format!("{GAR}:w_2077_42@{}", digest(99));
    assert!(matches!(
        gar.reference(&forged).await,
        Err(LookupError::UnknownImage(_))
    ));
    // A complete listing never asks the registry during a lookup.
    assert_eq!(gar.fake.request_count(), requests);
}

#[tokio::test]
async fn references_that_are_not_ours_or_not_usable() {
    let gar = gar().await;
    invalid(
        gar.reference(GAR).await,
        &format!("Docker reference \"{GAR}\" has no tag"),
    );
    for text in [
        "sciplat-lab:w_2077_42",
        "",
        "/rubin-shared/sciplat-lab:w_2077_42",
        "us-central1-docker.pkg.dev/:w_2077_42",
        "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab:",
        "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab:w_2077_42@",
        "us-central1-docker.pkg.dev/rubin-shared/sciplat/sciplat-lab@sha256:1\n2",
    ] {
        invalid(
            gar.reference(text).await,
            &format!("Invalid Docker reference {text:?}"),
        );
    }
    for text in [
        "docker.io/rubin-shared/sciplat/sciplat-lab:w_2077_42".to_owned(),
        "us-central1-docker.pkg.dev/rubin-shared/sciplat/other-lab:w_2077_42".to_owned(),
        format!(
            "us-central1-docker.pkg.dev/rubin-shared/sciplat/team/sciplat-lab@{}",
            digest(1)
        ),
        format!("{GAR}:w_1999_01"),
        format!("{GAR}@{}", digest(99)),
    ] {
        unknown(
            gar.reference(&text).await,
            &format!("Docker reference \"{text}\" not found"),
        );
    }
    // Artifact Registry checks for a tag before the registry, as the original did.
    let elsewhere = "docker.io/rubin-shared/sciplat/sciplat-lab";
    invalid(
        gar.reference(elsewhere).await,
        &format!("Docker reference \"{elsewhere}\" has no tag"),
    );
}

#[tokio::test]
async fn tag_names_and_classes() {
    let gar = gar().await;
    assert_eq!(
        image_for_tag_asking_registry(&gar.source, &gar.listing, "latest_weekly")
            .await
            .unwrap(),
        resolved(
            GAR,
            "latest_weekly",
            "Latest Weekly (Weekly 2077_43)",
            &digest(1)
        )
    );
    unknown(
        image_for_tag_asking_registry(&gar.source, &gar.listing, "w_1999_01").await,
        "Docker tag \"w_1999_01\" not found",
    );

    let class = |class| image_for_class(&gar.listing, class, "recommended");
    assert_eq!(class(ImageClass::Recommended).unwrap().tag, "recommended");
    assert_eq!(class(ImageClass::LatestRelease).unwrap().tag, "r21_0_1");
    assert_eq!(class(ImageClass::LatestWeekly).unwrap().tag, "w_2077_43");
    assert_eq!(
        class(ImageClass::LatestDaily).unwrap(),
        resolved(GAR, "d_2077_10_23", "Daily 2077_10_23", &digest(4))
    );
    unknown(
        image_for_class(&gar.listing, ImageClass::Recommended, "recommended_c0050"),
        "No recommended image found",
    );

    // Only prepull images can be chosen by class: without weeklies in the subset there is
    // no latest weekly, although the registry has some (and `recommended` is one).
    let mut options = gar.options.clone();
    options.num_weeklies = 0;
    options.num_releases = 0;
    let listing = gar.source.update_images(&options).await.unwrap();
    assert!(listing.catalog.get("w_2077_43").is_some());
    unknown(
        image_for_class(&listing, ImageClass::LatestWeekly, "recommended"),
        "No latest-weekly image found",
    );
    unknown(
        image_for_class(&listing, ImageClass::LatestRelease, "recommended"),
        "No latest-release image found",
    );
    assert_eq!(
        image_for_class(&listing, ImageClass::Recommended, "recommended")
            .unwrap()
            .name,
        "Recommended (Weekly 2077_43)"
    );
}

struct Docker {
    fake: FakeDockerRegistry,
    source: DockerSource,
    listing: Listing,
}

/// One weekly and the recommended tag in the prepull set; two older weeklies outside it.
async fn docker() -> Docker {
    let fake = FakeDockerRegistry::start().await.unwrap();
    let (d1, d2, d3, d4, d5) = (digest(1), digest(2), digest(3), digest(4), digest(5));
    fake.set_tags(
        DOCKER_REPOSITORY,
        [
            ("recommended", d1.as_str()),
            ("w_2077_43", &d1),
            ("w_2077_42", &d2),
            ("w_2077_41", &d3),
            ("d_2077_10_23", &d4),
            ("latest_daily", &d4),
            ("r21_0_1", &d5),
        ],
    );
    let config = docker_config(fake.url());
    let source = DockerSource::new(&config, None, RegistryLimits::default()).unwrap();
    let mut options = options(SourceConfig::Docker(config));
    options.num_weeklies = 1;
    let listing = source.update_images(&options).await.unwrap();
    Docker {
        fake,
        source,
        listing,
    }
}

impl Docker {
    async fn reference(&self, text: &str) -> Result<ResolvedImage, LookupError> {
        image_for_reference(&self.source, &self.listing, text).await
    }

    /// Manifest HEADs of `tag` the registry has received.
    fn heads(&self, tag: &str) -> usize {
        let path = format!("/v2/{DOCKER_REPOSITORY}/manifests/{tag}");
        self.fake
            .requests()
            .iter()
            .filter(|r| r.method == "HEAD" && r.path == path)
            .count()
    }
}

#[tokio::test]
async fn docker_tags_outside_the_prepull_set_are_resolved_by_a_head() {
    let docker = docker().await;
    assert!(docker.listing.catalog.get("w_2077_42").is_none());
    assert_eq!(
        docker.heads("w_2077_42"),
        0,
        "not fetched during the refresh"
    );

    let weekly_42 = resolved(DOCKER, "w_2077_42", "Weekly 2077_42", &digest(2));
    assert_eq!(
        image_for_tag_asking_registry(&docker.source, &docker.listing, "w_2077_42")
            .await
            .unwrap(),
        weekly_42
    );
    assert_eq!(docker.heads("w_2077_42"), 1);

    // Not cached: the tag moves, the next lookup says so, and the old digest is refused.
    let moved = digest(6);
    docker.fake.set_tags(
        DOCKER_REPOSITORY,
        [("w_2077_42", moved.as_str()), ("recommended", &digest(1))],
    );
    assert_eq!(
        docker
            .reference(&format!("{DOCKER}:w_2077_42"))
            .await
            .unwrap(),
        resolved(DOCKER, "w_2077_42", "Weekly 2077_42", &moved)
    );
    let stale = format!("{DOCKER}:w_2077_42@{}", digest(2));
    unknown(
        docker.reference(&stale).await,
        &format!(
            "Docker reference \"{stale}\" does not match the registry: tag \"w_2077_42\" has \
             digest {moved}"
        ),
    );
    assert_eq!(
        docker
            .reference(&format!("{DOCKER}:w_2077_42@{moved}"))
            .await
            .unwrap()
            .digest,
        moved
    );
    assert_eq!(docker.heads("w_2077_42"), 4);

    // Prepull tags are answered from the listing, without asking the registry.
    let heads = docker.heads("recommended");
    assert_eq!(
        docker
            .reference(&format!("{DOCKER}:recommended@{}", digest(1)))
            .await
            .unwrap(),
        resolved(
            DOCKER,
            "recommended",
            "Recommended (Weekly 2077_43)",
            &digest(1)
        )
    );
    assert_eq!(docker.heads("recommended"), heads);
}

#[tokio::test]
async fn docker_references_that_are_not_found_or_not_usable() {
    let docker = docker().await;
    let requests = docker.fake.request_count();
    // Digests only resolve inside the prepull set, to the digest's primary tag.
    assert_eq!(
        docker
            .reference(&format!("{DOCKER}@{}", digest(1)))
            .await
            .unwrap()
            .tag,
        "w_2077_43"
    );
    for text in [
        format!("{DOCKER}@{}", digest(3)),
        format!("{DOCKER}:w_1999_01"),
        "docker.io/library/sketchbook:w_2077_43".to_owned(),
        // A Docker source checks the registry before the tag.
        "docker.io/library/sketchbook".to_owned(),
    ] {
        unknown(
            docker.reference(&text).await,
            &format!("Docker reference \"{text}\" not found"),
        );
    }
    invalid(
        docker.reference(DOCKER).await,
        &format!("Docker reference \"{DOCKER}\" has no tag"),
    );
    invalid(
        docker.reference("sketchbook@sha256:1").await,
        "Invalid Docker reference \"sketchbook@sha256:1\"",
    );
    unknown(
        image_for_tag_asking_registry(&docker.source, &docker.listing, "w_1999_01").await,
        "Docker tag \"w_1999_01\" not found",
    );
    assert_eq!(
        docker.fake.request_count(),
        requests,
        "unknown tags are not looked up in the registry"
    );
    // An alias tag outside the prepull set keeps the parsed tag's name.
    let latest_daily =
        image_for_tag_asking_registry(&docker.source, &docker.listing, "latest_daily")
            .await
            .unwrap();
    assert_eq!(
        latest_daily,
        resolved(DOCKER, "latest_daily", "latest_daily", &digest(4))
    );
    // Classes choose from the prepull set.
    assert_eq!(
        image_for_class(&docker.listing, ImageClass::LatestWeekly, "recommended")
            .unwrap()
            .tag,
        "w_2077_43"
    );
}

#[tokio::test]
async fn a_docker_tag_deleted_since_the_refresh_is_an_unknown_image() {
    let docker = docker().await;
    // The listing still knows `w_2077_42`; the registry no longer has it.
    docker
        .fake
        .set_tags(DOCKER_REPOSITORY, [("recommended", digest(1).as_str())]);
    unknown(
        image_for_tag_asking_registry(&docker.source, &docker.listing, "w_2077_42").await,
        "Docker tag \"w_2077_42\" not found",
    );
    let text = format!("{DOCKER}:w_2077_42");
    unknown(
        docker.reference(&text).await,
        &format!("Docker reference \"{text}\" not found"),
    );
    assert_eq!(
        docker.heads("w_2077_42"),
        2,
        "the registry was asked each time"
    );
}

/// Issue 10: resolving a tag outside the prepull set while the registry answers 500 held the
/// spawner 53–60 s before a 502. It answers within the lookup budget now: with the digest the
/// registry gave last time when there is one, else with the registry's error.
#[tokio::test]
async fn a_failing_registry_answers_lookups_within_the_budget() {
    let docker = docker().await;
    let reference = format!("{DOCKER_REGISTRY}/{DOCKER_REPOSITORY}:w_2077_42");
    assert_eq!(
        docker.reference(&reference).await.unwrap().digest,
        digest(2)
    );
    docker
        .fake
        .push_faults(std::iter::repeat_n(Fault::Status(500), 10_000));

    let started = std::time::Instant::now();
    let remembered = image_for_tag_asking_registry(&docker.source, &docker.listing, "w_2077_42")
        .await
        .unwrap();
    assert_eq!(remembered.digest, digest(2));
    let never_resolved =
        image_for_tag_asking_registry(&docker.source, &docker.listing, "w_2077_41").await;
    assert!(
        matches!(never_resolved, Err(LookupError::Registry(_))),
        "{never_resolved:?}"
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed < 2 * rsp_registry::source::LOOKUP_BUDGET + std::time::Duration::from_secs(1),
        "{elapsed:?}"
    );
}
