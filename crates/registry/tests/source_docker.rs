//! `DockerSource` against a real `docker-registry` process (harness in
//! `rsp_testkit::registry`): the recommended tag and `aliasTags` are aliases from the start and
//! get their display names from digests inside the prepull set; tags outside it are listed
//! without digest; a tag that moves gives its new digest at the next refresh (behaviour §5.3).
//! Without the binary these tests fail with the command that installs it.

use rsp_model::collection::ArchSpecific;
use std::collections::BTreeSet;

use rsp_config::{ImagesConfig, RegistryLimits, SourceConfig};
use rsp_model::listing::Listing;
use rsp_model::platform::{Platform, Platforms};
use rsp_model::TagKind;
use rsp_registry::source::{DockerSource, ImageSource};
use rsp_testkit::registry::{DockerRegistry, Pusher, RegistryAuth};
use source_support::{docker_config, get, names, options, strings, summary, DOCKER_REPOSITORY};

mod source_support;

/// Digests of the images pushed by [`start`].
struct Pushed {
    weekly_43: String,
    weekly_42: String,
    weekly_41: String,
    daily_23: String,
    release: String,
}

/// A registry with two weeklies and a daily behind aliases, older tags, and an `-arm64` twin
/// newer than every plain weekly.
async fn start() -> (DockerRegistry, Pusher, Pushed) {
    let registry = DockerRegistry::start(RegistryAuth::None).await.unwrap();
    let pusher = Pusher::new(registry.url(), None);
    let push = |seed: &'static str, tags: &'static [&'static str]| {
        let pusher = pusher.clone();
        async move {
            pusher
                .push_image(DOCKER_REPOSITORY, seed, tags)
                .await
                .unwrap()
        }
    };
    let pushed = Pushed {
        weekly_43: push("w43", &["w_2077_43", "recommended", "latest_weekly"]).await,
        weekly_42: push("w42", &["w_2077_42"]).await,
        weekly_41: push("w41", &["w_2077_41"]).await,
        daily_23: push("d23", &["d_2077_10_23", "latest_daily"]).await,
        release: push("r21", &["r21_0_1"]).await,
    };
    push("d22", &["d_2077_10_22"]).await;
    push("w44-arm64", &["w_2077_44-arm64"]).await;
    (registry, pusher, pushed)
}

fn source_for(registry: &DockerRegistry) -> (DockerSource, ImagesConfig) {
    let config = docker_config(registry.url());
    let source = DockerSource::new(&config, None, RegistryLimits::default()).unwrap();
    let mut options = options(SourceConfig::Docker(config));
    options.num_dailies = 1;
    options.alias_tags = strings(&["latest_weekly", "latest_daily"]);
    options.pin = strings(&["latest_weekly"]);
    (source, options)
}

fn all_tags(listing: &Listing) -> Vec<String> {
    listing
        .tags
        .as_ref()
        .expect("a Docker listing knows every tag")
        .all_tags(ArchSpecific::Keep)
        .map(|tag| tag.tag().to_owned())
        .collect()
}

#[tokio::test]
async fn aliases_resolve_by_digest_inside_the_prepull_set_only() {
    let (registry, _pusher, pushed) = start().await;
    let (source, options) = source_for(&registry);
    let listing = source.update_images(&options).await.unwrap();
    assert!(
        listing.sizes_from_nodes,
        "a Docker registry reports no sizes"
    );

    // Every tag is listed, the configured aliases first (behaviour §2.3 order).
    assert_eq!(
        all_tags(&listing),
        strings(&[
            "recommended",
            "latest_weekly",
            "latest_daily",
            "r21_0_1",
            "w_2077_44-arm64",
            "w_2077_43",
            "w_2077_42",
            "w_2077_41",
            "d_2077_10_23",
            "d_2077_10_22",
        ])
    );
    assert_eq!(listing.tag_count(), 10);

    // Digests are known for the prepull set only, which is the whole catalog.
    let prepull = strings(&[
        "recommended",
        "latest_weekly",
        "r21_0_1",
        "w_2077_43",
        "w_2077_42",
        "d_2077_10_23",
    ]);
    assert_eq!(names(&listing.catalog), prepull);
    assert_eq!(names(&listing.to_prepull), prepull);

    let recommended = get(&listing.catalog, "recommended");
    assert_eq!(recommended.kind, TagKind::Alias);
    assert_eq!(recommended.display_name, "Recommended (Weekly 2077_43)");
    assert_eq!(recommended.digest, pushed.weekly_43);
    assert_eq!(recommended.alias_target.as_deref(), Some("w_2077_43"));
    assert_eq!(recommended.size, None);
    let latest_weekly = get(&listing.catalog, "latest_weekly");
    assert_eq!(latest_weekly.display_name, "Latest Weekly (Weekly 2077_43)");
    assert_eq!(
        get(&listing.catalog, "w_2077_43").aliases,
        strings(&["latest_weekly", "recommended"])
    );
    assert_eq!(get(&listing.catalog, "w_2077_42").digest, pushed.weekly_42);
    assert_eq!(get(&listing.catalog, "r21_0_1").digest, pushed.release);
    assert_eq!(
        get(&listing.catalog, "d_2077_10_23").digest,
        pushed.daily_23
    );
    assert_eq!(
        listing.catalog.get("recommended").unwrap().reference(),
        "lighthouse.ceres/library/sketchbook:recommended"
    );

    // Outside the prepull set: a tag only, no digest. An alias tag there keeps the alias
    // constructor's name although its digest is the prepulled daily's.
    let tags = listing.tags.as_ref().unwrap();
    for outside in [
        "latest_daily",
        "w_2077_41",
        "d_2077_10_22",
        "w_2077_44-arm64",
    ] {
        assert!(listing.catalog.get(outside).is_none(), "{outside}");
        assert!(tags.get(outside).is_some(), "{outside}");
    }
    let latest_daily = tags.get("latest_daily").unwrap();
    assert_eq!(latest_daily.kind(), TagKind::Alias);
    assert_eq!(latest_daily.display_name(), "Latest Daily");
    assert_eq!(tags.get("w_2077_41").unwrap().kind(), TagKind::Weekly);
}

#[tokio::test]
async fn a_moved_tag_gives_its_new_digest_at_the_next_refresh() {
    let (registry, pusher, pushed) = start().await;
    let (source, options) = source_for(&registry);
    let first = source.update_images(&options).await.unwrap();
    let before = summary(&first);

    let weekly_44 = pusher
        .push_image(DOCKER_REPOSITORY, "w44", &["w_2077_44", "recommended"])
        .await
        .unwrap();
    let second = source.update_images(&options).await.unwrap();
    let recommended = get(&second.catalog, "recommended");
    assert_eq!(recommended.digest, weekly_44);
    assert_eq!(recommended.display_name, "Recommended (Weekly 2077_44)");
    assert_eq!(
        names(&second.to_prepull),
        strings(&[
            "recommended",
            "latest_weekly",
            "r21_0_1",
            "w_2077_44",
            "w_2077_43",
            "d_2077_10_23",
        ])
    );
    // `latest_weekly` stayed behind, and so did its resolution.
    assert_eq!(
        get(&second.catalog, "latest_weekly").display_name,
        "Latest Weekly (Weekly 2077_43)"
    );
    assert_eq!(
        get(&second.catalog, "w_2077_44").aliases,
        strings(&["recommended"])
    );
    assert_eq!(summary(&first), before, "the first listing is a value");

    // Digests on demand, for tags outside the prepull set, read the registry now.
    assert_eq!(
        source.fetch_digest("recommended").await.unwrap(),
        Some(weekly_44.clone())
    );
    assert_eq!(
        source.fetch_digest("w_2077_41").await.unwrap(),
        Some(pushed.weekly_41.clone())
    );
    let error = source.fetch_digest("w_1999_01").await.unwrap_err();
    assert!(error.is_not_found(), "{error:?}");

    // The snapshot listing: every tag with its digest.
    let all: BTreeSet<(String, String)> = source.list_all().await.unwrap().into_iter().collect();
    assert_eq!(all.len(), 11);
    assert!(all.contains(&("recommended".to_owned(), weekly_44)));
    assert!(all.contains(&("latest_weekly".to_owned(), pushed.weekly_43)));
}

/// Platforms of prepulled images come from their manifest index (pushed to the real
/// registry as an OCI image index); a single-manifest image stays unknown.
#[tokio::test]
async fn prepull_platforms_come_from_the_manifest_index() {
    let registry = DockerRegistry::start(RegistryAuth::None).await.unwrap();
    let pusher = Pusher::new(registry.url(), None);
    pusher
        .push_index(
            DOCKER_REPOSITORY,
            "w43",
            &["linux/amd64", "linux/arm64/v8"],
            &["w_2077_43", "recommended"],
        )
        .await
        .unwrap();
    pusher
        .push_image(DOCKER_REPOSITORY, "w42", &["w_2077_42"])
        .await
        .unwrap();
    let (source, options) = source_for(&registry);
    let listing = source.update_images(&options).await.unwrap();
    let mut arm = Platform::new("linux", "arm64");
    arm.variant = Some("v8".into());
    let both = Platforms::known([Platform::new("linux", "amd64"), arm]);
    let image = |tag: &str| listing.catalog.get(tag).unwrap().platforms();
    assert_eq!(image("w_2077_43"), both, "{}", registry.log());
    assert_eq!(image("recommended"), both);
    assert_eq!(image("w_2077_42"), Platforms::Unknown);
    // Cached by digest: a second refresh gives the same answer.
    let again = source.update_images(&options).await.unwrap();
    assert_eq!(again.catalog.get("w_2077_43").unwrap().platforms(), both);
}
