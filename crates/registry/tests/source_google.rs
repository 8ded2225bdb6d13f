//! `GoogleSource` against the fake Artifact Registry (`rsp_testkit::gar::FakeGar`): aliases
//! found by shared digests, other images of the repository skipped, nested image names, the
//! cycle filter, the prepull subset, and a failing listing that leaves the last good one alone
//! (behaviour §5.1, §5.2; decisions §5 fixes 5, 6, 10, 12).

use rsp_config::ImagesConfig;
use rsp_model::listing::Listing;
use rsp_model::TagKind;
use rsp_registry::source::ImageSource;
use rsp_testkit::gar::{DockerImage, Fault, Recorded};
use source_support::{
    digest, fake_gar, gar_image, gar_repo, get, google_source, names, strings, summary,
    GAR_REGISTRY, IMAGE,
};

mod source_support;

/// A repository as it looks in real life, in no particular API order: two weeklies and a
/// daily behind aliases, an `-arm64` twin newer than every plain weekly, an experimental,
/// an untagged image, and two other images of the same repository.
fn standard_images() -> Vec<DockerImage> {
    let repo = gar_repo();
    vec![
        gar_image(6, &["d_2077_10_21"]),
        gar_image(1, &["w_2077_43", "recommended", "latest_weekly"]),
        gar_image(20, &[]),
        gar_image(2, &["w_2077_42"]),
        gar_image(8, &["r21_0_1", "latest_release"]),
        gar_image(3, &["w_2077_41"]),
        gar_image(4, &["d_2077_10_23", "latest_daily"]),
        gar_image(10, &["w_2077_44-arm64"]),
        gar_image(5, &["d_2077_10_22"]),
        repo.image("sciplat-lab-extras", &digest(30), &["w_2077_45"], 7),
        gar_image(9, &["r21_0_0"]),
        gar_image(7, &["d_2077_10_20"]),
        repo.image("team/sciplat-lab", &digest(31), &["w_2077_46"], 8),
        gar_image(11, &["exp_w_2077_43_gpu"]),
    ]
}

async fn standard_listing(options_change: impl FnOnce(&mut ImagesConfig)) -> Listing {
    let fake = fake_gar(standard_images()).await;
    let (source, mut options) = google_source(&fake, IMAGE).await;
    options_change(&mut options);
    source.update_images(&options).await.unwrap()
}

#[tokio::test]
async fn aliases_share_a_digest_and_other_images_are_skipped() {
    let listing = standard_listing(|_| {}).await;
    assert!(
        listing.tags.is_none(),
        "Artifact Registry lists every digest"
    );
    assert!(!listing.sizes_from_nodes, "sizes come from the registry");
    let catalog = &listing.catalog;

    // Collection order (behaviour §2.3): kinds in display order, each descending; aliases by
    // base, the arch-specific weekly before the older plain ones.
    assert_eq!(
        names(catalog),
        strings(&[
            "recommended",
            "latest_weekly",
            "latest_release",
            "latest_daily",
            "r21_0_1",
            "r21_0_0",
            "w_2077_44-arm64",
            "w_2077_43",
            "w_2077_42",
            "w_2077_41",
            "d_2077_10_23",
            "d_2077_10_22",
            "d_2077_10_21",
            "d_2077_10_20",
            "exp_w_2077_43_gpu",
        ])
    );

    let recommended = get(catalog, "recommended");
    assert_eq!(recommended.kind, TagKind::Alias);
    assert_eq!(recommended.display_name, "Recommended (Weekly 2077_43)");
    assert_eq!(recommended.digest, digest(1));
    assert_eq!(recommended.alias_target.as_deref(), Some("w_2077_43"));
    assert_eq!(recommended.size, Some(1_000_001));

    // An unknown tag sharing a digest is promoted to an alias, as `recommended` is.
    let latest_weekly = get(catalog, "latest_weekly");
    assert_eq!(latest_weekly.kind, TagKind::Alias);
    assert_eq!(latest_weekly.display_name, "Latest Weekly (Weekly 2077_43)");
    assert_eq!(
        get(catalog, "latest_release").display_name,
        "Latest Release (Release r21.0.1)"
    );
    assert_eq!(
        get(catalog, "latest_daily").display_name,
        "Latest Daily (Daily 2077_10_23)"
    );

    let weekly = get(catalog, "w_2077_43");
    assert_eq!(weekly.kind, TagKind::Weekly);
    assert_eq!(weekly.display_name, "Weekly 2077_43");
    assert_eq!(weekly.aliases, strings(&["latest_weekly", "recommended"]));
    assert_eq!(
        catalog.image_for_digest(&digest(1)).map(|i| i.name()),
        Some("w_2077_43"),
        "the non-alias tag stands for the digest"
    );
    assert_eq!(
        catalog.get("recommended").unwrap().reference_with_digest(),
        format!(
            "{GAR_REGISTRY}/rubin-shared/sciplat/sciplat-lab:recommended@{}",
            digest(1)
        )
    );

    // `sciplat-lab-extras` and `team/sciplat-lab` live in the same repository: not ours.
    for other in ["w_2077_45", "w_2077_46"] {
        assert!(catalog.get(other).is_none(), "{other} is another image");
    }
    assert!(catalog.image_for_digest(&digest(30)).is_none());
    assert!(catalog.image_for_digest(&digest(20)).is_none(), "untagged");
}

#[tokio::test]
async fn nested_image_names_are_matched_whole() {
    let fake = fake_gar(standard_images()).await;
    let (source, options) = google_source(&fake, "team/sciplat-lab").await;
    assert_eq!(
        source.registry_and_repository(),
        (GAR_REGISTRY, "rubin-shared/sciplat/team/sciplat-lab")
    );
    let listing = source.update_images(&options).await.unwrap();
    assert_eq!(names(&listing.catalog), strings(&["w_2077_46"]));
    let image = listing.catalog.get("w_2077_46").unwrap();
    assert_eq!(
        image.reference(),
        "us-central1-docker.pkg.dev/rubin-shared/sciplat/team/sciplat-lab:w_2077_46"
    );
    assert_eq!(image.digest(), digest(31));
    assert_eq!(names(&listing.to_prepull), strings(&["w_2077_46"]));

    // The API was asked for the repository, not for the nested path.
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        "/v1/projects/rubin-shared/locations/us-central1/repositories/sciplat/dockerImages"
    );
}

#[tokio::test]
async fn the_cycle_filter_applies_to_every_tag_before_aliases_resolve() {
    let fake = fake_gar(vec![
        gar_image(1, &["w_2077_43_c0050.002", "recommended_c0050"]),
        gar_image(2, &["w_2077_42_c0050.001"]),
        gar_image(3, &["w_2077_44_c0051.001", "recommended_c0051"]),
        gar_image(4, &["w_2077_41_c0049.001"]),
        gar_image(5, &["d_2077_10_23_c0050.003"]),
        gar_image(6, &["recommended", "latest"]),
        gar_image(7, &["r21_0_1"]),
        gar_image(8, &["exp_w_2077_43_c0050.009"]),
    ])
    .await;
    let (source, mut options) = google_source(&fake, IMAGE).await;
    options.cycle = Some(50);
    options.recommended_tag = "recommended_c0050".into();
    let listing = source.update_images(&options).await.unwrap();
    assert_eq!(
        names(&listing.catalog),
        strings(&[
            "recommended_c0050",
            "w_2077_43_c0050.002",
            "w_2077_42_c0050.001",
            "d_2077_10_23_c0050.003",
            "exp_w_2077_43_c0050.009",
        ])
    );
    let recommended = get(&listing.catalog, "recommended_c0050");
    assert_eq!(recommended.kind, TagKind::Alias);
    assert_eq!(
        recommended.display_name,
        "Recommended (Weekly 2077_43, SAL Cycle 0050, Build 002)"
    );
    assert_eq!(
        names(&listing.to_prepull),
        strings(&[
            "recommended_c0050",
            "w_2077_43_c0050.002",
            "w_2077_42_c0050.001",
            "d_2077_10_23_c0050.003",
        ])
    );
    assert_eq!(listing.tag_count(), 5);
}

#[tokio::test]
async fn prepull_subset_counts_plain_tags_and_includes_recommended_and_pins_once() {
    let listing = standard_listing(|options| {
        options.pin = strings(&["w_2077_41", "w_2077_43", "r21_0_0", "recommended", "gone"]);
    })
    .await;
    // 1 release, 2 weeklies, 3 dailies counted; `w_2077_44-arm64` is newer but not counted;
    // pins add `w_2077_41` and `r21_0_0`, repeat `w_2077_43` and `recommended` (kept once)
    // and name a tag that does not exist (ignored).
    assert_eq!(
        names(&listing.to_prepull),
        strings(&[
            "recommended",
            "r21_0_1",
            "r21_0_0",
            "w_2077_43",
            "w_2077_42",
            "w_2077_41",
            "d_2077_10_23",
            "d_2077_10_22",
            "d_2077_10_21",
        ])
    );
    // The subset is a view of the catalog: the alias keeps its resolution.
    assert_eq!(
        get(&listing.to_prepull, "recommended").display_name,
        "Recommended (Weekly 2077_43)"
    );

    let none = standard_listing(|options| {
        options.num_releases = 0;
        options.num_weeklies = 0;
        options.num_dailies = 0;
    })
    .await;
    assert_eq!(names(&none.to_prepull), strings(&["recommended"]));
}

#[tokio::test]
async fn a_failing_listing_is_an_error_and_leaves_the_last_good_one_alone() {
    let fake = fake_gar(standard_images()).await;
    let (source, options) = google_source(&fake, IMAGE).await;
    let first = source.update_images(&options).await.unwrap();
    let before = summary(&first);

    fake.push_faults([Fault::Status(403)]);
    let error = source.update_images(&options).await.unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("403") && text.contains("127.0.0.1"),
        "the error names the status and the host: {text}"
    );
    assert!(!error.is_retryable(), "{error:?}");

    // A transient failure is retried within the same refresh.
    fake.push_faults([Fault::Status(503)]);
    let requests = fake.request_count();
    let retried = source.update_images(&options).await.unwrap();
    assert_eq!(fake.request_count(), requests + 2);
    assert_eq!(summary(&retried), before);

    // The registry moves on: `recommended` now names a new weekly.
    let mut images = standard_images();
    images[1].tags.retain(|tag| tag == "w_2077_43");
    images.push(gar_image(12, &["w_2077_44", "recommended"]));
    fake.set_images(&gar_repo(), images);
    let newer = source.update_images(&options).await.unwrap();
    assert_eq!(
        get(&newer.catalog, "recommended").display_name,
        "Recommended (Weekly 2077_44)"
    );
    assert_eq!(
        names(&newer.to_prepull)[..3],
        strings(&["recommended", "r21_0_1", "w_2077_44"])
    );

    // The first listing, which a caller would have kept serving, has not changed at all.
    assert_eq!(summary(&first), before);
    assert_eq!(
        get(&first.catalog, "recommended").display_name,
        "Recommended (Weekly 2077_43)"
    );
    assert_eq!(get(&first.catalog, "w_2077_43").aliases.len(), 2);
}
