//! What the service serves, as pure functions (`rsp_service::served`) over hand-made listings and nodes:
//! `/spawner/v1/images` (§9.2, §9.3), the menu (§9.1), `/spawner/v1/prepulls` (§9.4, with the
//! prepull errors of decisions §4) and the prepull plan (§8.4, decisions §5 fix 2, §6).
//!
//! Two listings: an Artifact Registry one (complete, sizes from the registry) and the
//! behaviour's Docker "standard" fixture (tags outside the prepull set have no digest, sizes
//! come from the nodes), both built with the model from tag names and digests.

use chrono::{DateTime, Utc};
use rsp_config::Config;
use rsp_model::api::{MenuImage, PrepulledImage};
use rsp_model::catalog::ListedImage;
use rsp_model::listing::{DockerTags, Listing};
use rsp_model::node::{CachedImage, IneligibleReason, NodeInfo, Taint};
use rsp_model::plan::{PrepullImage, PulledSet};
use rsp_model::Tag;
use rsp_service::served::{
    menu, nodes_by_eligibility, prepull_plan, prepuller_status, select_nodes, spawner_images,
    ListingOnNodes, PrepullErrors, Presence,
};
use rsp_service::status::{CellKind, CellState, PlatformMismatch, StatusGrid};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

const REGISTRY: &str = "lighthouse.ceres";
const REPOSITORY: &str = "library/sketchbook";
const BASE: &str = "lighthouse.ceres/library/sketchbook";

/// A configuration: lab nodes carry `pool=lab`, a `dedicated=lab` taint is tolerated.
fn config(extra: &str) -> Config {
    let text = format!(
        "images:\n  source: {{type: docker, registry: {REGISTRY}, repository: {REPOSITORY}}}\n\
         lab:\n  nodeSelector: {{pool: lab}}\n  tolerations:\n  - {{key: dedicated, value: lab, effect: NoSchedule}}\n\
         {extra}"
    );
    Config::from_yaml(&text).unwrap().0
}

use rsp_testkit::builders::digest;

fn reference(tag: &str) -> String {
    format!("{BASE}:{tag}")
}

fn with_digest(tag: &str, digest: &str) -> String {
    format!("{BASE}:{tag}@{digest}")
}

/// The Artifact Registry listing: `recommended` shares `w_2077_43`'s digest; digests are
/// `digest(n)` and sizes `1000 + n`.
///
/// | n | tags | | n | tags |
/// |---|---|---|---|---|
/// | 1 | w_2077_43, recommended | | 5 | d_2077_10_22 |
/// | 2 | w_2077_42 | | 6 | r21_0_1 |
/// | 3 | w_2077_41 | | 7 | w_2077_44-arm64 |
/// | 4 | d_2077_10_23 | | 8 | w_2077_40 |
///
/// With the defaults (1 release, 2 weeklies, 3 dailies) the prepull set is `recommended`,
/// `r21_0_1`, `w_2077_43`, `w_2077_42`, `d_2077_10_23`, `d_2077_10_22`.
fn gar_listing(config: &Config) -> Arc<Listing> {
    let images = [
        ("w_2077_43", 1_u32),
        ("recommended", 1),
        ("w_2077_42", 2),
        ("w_2077_41", 3),
        ("d_2077_10_23", 4),
        ("d_2077_10_22", 5),
        ("r21_0_1", 6),
        ("w_2077_44-arm64", 7),
        ("w_2077_40", 8),
    ]
    .into_iter()
    .map(|(name, n)| listed(name, n, Default::default()))
    .collect();
    Arc::new(Listing::complete(
        REGISTRY,
        REPOSITORY,
        images,
        &config.images.listing_rules(),
    ))
}

/// A listed image `name` with digest `digest(n)` and size `1000 + n`.
fn listed(name: &str, n: u32, platforms: rsp_model::platform::Platforms) -> ListedImage {
    ListedImage {
        tag: Tag::parse(name),
        digest: digest(n),
        size: Some(1000 + u64::from(n)),
        platforms,
    }
}

/// The behaviour's Docker standard fixture (§9.3): `recommended` and `w_2077_43` share
/// `sha256:5678`, `d_2077_10_23` is `sha256:1234`; `latest_weekly` and `latest_daily` are
/// listed without digest; the prepull set is the first three.
fn docker_listing(config: &Config) -> Arc<Listing> {
    let names = [
        "latest_daily",
        "w_2077_43",
        "recommended",
        "latest_weekly",
        "d_2077_10_23",
    ];
    let digests = HashMap::from(
        [
            ("recommended", "sha256:5678"),
            ("w_2077_43", "sha256:5678"),
            ("d_2077_10_23", "sha256:1234"),
        ]
        .map(|(tag, digest)| (tag.to_owned(), digest.to_owned())),
    );
    let tags = DockerTags::new(&names, &config.images.listing_rules());
    Arc::new(Listing::from_docker(
        REGISTRY,
        REPOSITORY,
        tags,
        &digests,
        &HashMap::new(),
    ))
}

/// A lab node (`pool=lab`) caching these digests, each under a tag and a digest reference
/// as kubelet reports them, with the size `size`.
fn node(name: &str, digests: &[&str], size: u64) -> NodeInfo {
    NodeInfo {
        name: name.to_owned(),
        labels: BTreeMap::from([("pool".to_owned(), "lab".to_owned())]),
        images: digests
            .iter()
            .map(|digest| CachedImage {
                references: vec![
                    format!("{BASE}:some-tag").into(),
                    format!("{BASE}@{digest}").into(),
                ],
                size: Some(size),
            })
            .collect(),
        ready: Some(true),
        ..NodeInfo::default()
    }
}

fn tainted(mut node: NodeInfo) -> NodeInfo {
    node.taints.push(Taint {
        key: "gpu".to_owned(),
        value: Some("true".to_owned()),
        effect: "NoSchedule".to_owned(),
    });
    node
}

fn d(n: u32) -> String {
    digest(n)
}

fn refs(digests: &[String]) -> Vec<&str> {
    digests.iter().map(String::as_str).collect()
}

/// The Artifact Registry cluster: `node-b` and `node-a` are eligible (listed in that order),
/// `node-a` lacks `w_2077_42`; `node-c` is tainted and caches `w_2077_42` and `w_2077_41`;
/// `node-x` is not a lab node and caches everything.
fn gar_nodes() -> Vec<NodeInfo> {
    let mut dedicated = node("node-a", &refs(&[d(1), d(4), d(5), d(6)]), 1);
    // A tolerated taint and a PreferNoSchedule one leave the node eligible.
    dedicated.taints.push(Taint {
        key: "dedicated".to_owned(),
        value: Some("lab".to_owned()),
        effect: "NoSchedule".to_owned(),
    });
    dedicated.taints.push(Taint {
        key: "soft".to_owned(),
        value: None,
        effect: "PreferNoSchedule".to_owned(),
    });
    let mut outsider = node("node-x", &refs(&(1..=8).map(d).collect::<Vec<_>>()), 1);
    outsider.labels.clear();
    vec![
        node("node-b", &refs(&[d(1), d(2), d(4), d(5), d(6)]), 1),
        dedicated,
        tainted(node("node-c", &refs(&[d(2), d(3), d(5)]), 1)),
        outsider,
    ]
}

fn world(listing: Arc<Listing>, nodes: &[NodeInfo], config: &Config) -> ListingOnNodes {
    ListingOnNodes::new(listing, nodes, config, &PulledSet::default())
}

fn gar_world(config: &Config) -> ListingOnNodes {
    world(gar_listing(config), &gar_nodes(), config)
}

fn prepulled_image(tag: &str, name: &str, n: u32, aliases: &[&str], yes: bool) -> PrepulledImage {
    PrepulledImage {
        reference: reference(tag),
        tag: tag.to_owned(),
        name: name.to_owned(),
        digest: Some(digest(n)),
        aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
        prepulled: yes,
    }
}

fn menu_image(tag: &str, name: &str, digest: &str) -> MenuImage {
    MenuImage {
        reference: with_digest(tag, digest),
        name: name.to_owned(),
    }
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

#[test]
fn a_listing_on_nodes_keeps_selected_nodes_and_knows_the_eligible_ones() {
    let config = config("");
    let world = gar_world(&config);
    let names: Vec<&str> = world.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["node-b", "node-a", "node-c"]);
    assert_eq!(
        world.eligible_names().collect::<Vec<_>>(),
        ["node-b", "node-a"]
    );
    assert_eq!(
        world.eligible,
        world.presence.node_set(["node-a", "node-b"])
    );
    assert!(
        !world.presence.is_on(&digest(7), "node-x"),
        "not a lab node"
    );
}

/// The prepull images are made once per listing: every listing on nodes of it (a node change)
/// shares the listing's own, a new listing makes its own.
#[test]
fn a_node_change_keeps_the_prepull_images_of_the_listing() {
    let config = config("");
    let listing = gar_listing(&config);
    let first = world(Arc::clone(&listing), &gar_nodes(), &config);
    assert!(Arc::ptr_eq(&first.prepull_images, listing.prepull_images()));
    let nodes = Arc::new(select_nodes(gar_nodes().into_iter().take(2), &config));
    let pulled = PulledSet::default();
    let same = ListingOnNodes::from_shared(Arc::clone(&listing), nodes.clone(), &config, &pulled);
    assert!(Arc::ptr_eq(&first.prepull_images, &same.prepull_images));
    let refreshed = gar_listing(&config);
    let next = ListingOnNodes::from_shared(refreshed, nodes, &config, &pulled);
    assert!(!Arc::ptr_eq(&first.prepull_images, &next.prepull_images));
    assert_eq!(first.prepull_images, next.prepull_images);
}

/// Without remembered pulls the listing on nodes reads the node snapshot's own presence (at
/// 5,000 nodes a copy is tens of megabytes); a pull makes a completed copy, which shows it
/// while the node snapshot does not change.
#[test]
fn the_node_snapshot_presence_is_shared_until_a_pull_adds_to_it() {
    let config = config("");
    let listing = gar_listing(&config);
    let nodes = Arc::new(select_nodes(gar_nodes(), &config));
    let shared = ListingOnNodes::from_shared(
        Arc::clone(&listing),
        nodes.clone(),
        &config,
        &PulledSet::default(),
    );
    assert!(matches!(&shared.presence, Presence::Reported(of) if Arc::ptr_eq(of, &nodes)));
    assert!(!shared.presence.is_on(&digest(7), "node-b"));
    let mut pulled = PulledSet::default();
    pulled.insert("node-b", &digest(7));
    let completed = ListingOnNodes::from_shared(listing, nodes.clone(), &config, &pulled);
    assert!(matches!(completed.presence, Presence::Completed(_)));
    assert!(completed.presence.is_on(&digest(7), "node-b"));
    assert!(!nodes.reported().is_on(&digest(7), "node-b"));
    assert_ne!(shared.presence, completed.presence);
}

#[test]
fn images_are_prepulled_when_every_eligible_node_caches_them() {
    let config = config("");
    let images = spawner_images(&gar_world(&config), "recommended").into_owned();
    let recommended = prepulled_image(
        "recommended",
        "Recommended (Weekly 2077_43)",
        1,
        &["w_2077_43"],
        true,
    );
    let weekly_43 = prepulled_image("w_2077_43", "Weekly 2077_43", 1, &["recommended"], true);
    let daily_23 = prepulled_image("d_2077_10_23", "Daily 2077_10_23", 4, &[], true);
    let release = prepulled_image("r21_0_1", "Release r21.0.1", 6, &[], true);
    assert_eq!(images.recommended.as_ref(), Some(&recommended));
    assert_eq!(images.latest_weekly.as_ref(), Some(&weekly_43));
    assert_eq!(images.latest_daily.as_ref(), Some(&daily_23));
    assert_eq!(images.latest_release.as_ref(), Some(&release));
    // Every image of the registry, arch-specific ones hidden, in collection order. The
    // tainted node's cache counts for nothing: `w_2077_41` is only there.
    assert_eq!(
        images.all,
        vec![
            recommended,
            release,
            weekly_43,
            prepulled_image("w_2077_42", "Weekly 2077_42", 2, &[], false),
            prepulled_image("w_2077_41", "Weekly 2077_41", 3, &[], false),
            prepulled_image("w_2077_40", "Weekly 2077_40", 8, &[], false),
            daily_23,
            prepulled_image("d_2077_10_22", "Daily 2077_10_22", 5, &[], true),
        ]
    );
}

#[test]
fn docker_images_body_is_the_behaviour_example() {
    let config = config("");
    let config = Config {
        images: rsp_config::ImagesConfig {
            num_weeklies: 1,
            num_dailies: 1,
            ..config.images
        },
        ..config
    };
    let nodes = [
        node("node1", &["sha256:5678", "sha256:1234"], 100),
        node("node2", &["sha256:5678"], 200),
    ];
    let world = world(docker_listing(&config), &nodes, &config);
    let body = serde_json::to_value(spawner_images(&world, "recommended")).unwrap();
    let recommended = json!({"reference": reference("recommended"), "tag": "recommended",
        "name": "Recommended (Weekly 2077_43)", "digest": "sha256:5678",
        "aliases": ["w_2077_43"], "prepulled": true});
    let weekly = json!({"reference": reference("w_2077_43"), "tag": "w_2077_43",
        "name": "Weekly 2077_43", "digest": "sha256:5678", "aliases": ["recommended"],
        "prepulled": true});
    let daily = json!({"reference": reference("d_2077_10_23"), "tag": "d_2077_10_23",
        "name": "Daily 2077_10_23", "digest": "sha256:1234", "aliases": [],
        "prepulled": false});
    // Nulls are omitted: no `latest_release`, no `digest` for tags never resolved.
    assert_eq!(
        body,
        json!({
            "recommended": recommended,
            "latest_weekly": weekly,
            "latest_daily": daily,
            "all": [recommended, weekly, daily,
                {"reference": reference("latest_weekly"), "tag": "latest_weekly",
                 "name": "latest_weekly", "aliases": [], "prepulled": false},
                {"reference": reference("latest_daily"), "tag": "latest_daily",
                 "name": "latest_daily", "aliases": [], "prepulled": false}],
        })
    );

    // The menu of the same fixture (§9.1): `w_2077_43` is hidden behind `recommended`, the
    // daily is missing on node2; the dropdown lists every tag, with digests where known.
    let menus = menu(&world, &config, at("2077-11-01T00:00:00Z"));
    assert_eq!(
        menus.menu,
        [menu_image(
            "recommended",
            "Recommended (Weekly 2077_43)",
            "sha256:5678"
        )]
    );
    let unresolved = |tag: &str| MenuImage {
        reference: reference(tag),
        name: tag.to_owned(),
    };
    assert_eq!(
        menus.dropdown,
        [
            menu_image("recommended", "Recommended (Weekly 2077_43)", "sha256:5678"),
            menu_image("w_2077_43", "Weekly 2077_43", "sha256:5678"),
            menu_image("d_2077_10_23", "Daily 2077_10_23", "sha256:1234"),
            unresolved("latest_weekly"),
            unresolved("latest_daily"),
        ]
    );

    // Sizes come from the nodes, the last node listed winning.
    let status = prepuller_status(&world, &config, &PrepullErrors::new());
    let sizes: Vec<(String, Option<u64>)> = status
        .images
        .prepulled
        .iter()
        .chain(&status.images.pending)
        .map(|image| (image.tag.clone(), image.size))
        .collect();
    assert_eq!(
        sizes,
        [
            ("w_2077_43".to_owned(), Some(200)),
            ("d_2077_10_23".to_owned(), Some(100))
        ]
    );
}

#[test]
fn the_menu_shows_the_recommended_image_first_and_only_complete_others() {
    let config = config("");
    let menus = menu(&gar_world(&config), &config, at("2077-11-04T00:00:00Z"));
    // `w_2077_42` is missing on node-a; `w_2077_43` is hidden behind `recommended`.
    assert_eq!(
        menus.menu,
        [
            menu_image("recommended", "Recommended (Weekly 2077_43)", &d(1)),
            menu_image("r21_0_1", "Release r21.0.1", &d(6)),
            menu_image("d_2077_10_23", "Daily 2077_10_23", &d(4)),
            menu_image("d_2077_10_22", "Daily 2077_10_22", &d(5)),
        ]
    );

    let menu_names = |nodes: &[NodeInfo]| -> Vec<String> {
        let world = world(gar_listing(&config), nodes, &config);
        let menus = menu(&world, &config, at("2077-11-04T00:00:00Z"));
        menus.menu.into_iter().map(|m| m.name).collect()
    };
    // The recommended image comes first even when it is not prepulled anywhere.
    let nodes = [
        node("node-b", &refs(&[d(6), d(4)]), 1),
        node("node-a", &refs(&[d(6), d(4), d(1)]), 1),
    ];
    assert_eq!(
        menu_names(&nodes),
        [
            "Recommended (Weekly 2077_43)",
            "Release r21.0.1",
            "Daily 2077_10_23"
        ]
    );

    // Without any eligible node every prepull image qualifies.
    assert_eq!(
        menu_names(&[tainted(node("node-c", &[], 1))]),
        [
            "Recommended (Weekly 2077_43)",
            "Release r21.0.1",
            "Weekly 2077_42",
            "Daily 2077_10_23",
            "Daily 2077_10_22"
        ]
    );
}

#[test]
fn the_dropdown_follows_the_policy_at_the_given_time() {
    // Weeklies of the last three weeks; the newest daily; releases from 21.0.1 on.
    let config = config(
        "dropdownMenu:\n  weekly: {age: 3w}\n  daily: {number: 1}\n  release: {cutoffVersion: 21.0.1}\n",
    );
    let world = gar_world(&config);
    let dropdown = |now| {
        menu(&world, &config, at(now))
            .dropdown
            .into_iter()
            .map(|m| m.reference)
            .collect::<Vec<_>>()
    };
    // 2077-11-04 − 3 weeks = 2077-10-14, the date of w_2077_41 (kept: not older).
    assert_eq!(
        dropdown("2077-11-04T00:00:00Z"),
        [
            with_digest("recommended", &d(1)),
            with_digest("r21_0_1", &d(6)),
            with_digest("w_2077_43", &d(1)),
            with_digest("w_2077_42", &d(2)),
            with_digest("w_2077_41", &d(3)),
            with_digest("d_2077_10_23", &d(4)),
        ]
    );
    // A week later w_2077_41 is too old; aliases are never filtered.
    let week_later = [
        with_digest("recommended", &d(1)),
        with_digest("r21_0_1", &d(6)),
        with_digest("w_2077_43", &d(1)),
        with_digest("w_2077_42", &d(2)),
        with_digest("d_2077_10_23", &d(4)),
    ];
    assert_eq!(dropdown("2077-11-11T00:00:00Z"), week_later);
    // One second more and w_2077_42 is older than the cutoff too.
    let mut later = week_later.to_vec();
    later.remove(3);
    assert_eq!(dropdown("2077-11-11T00:00:01Z"), later);
}

#[test]
fn prepulls_show_nodes_cached_images_missing_ones_and_errors() {
    let config = config("");
    // node-0 is eligible and listed last, so missing lists have to be sorted.
    let nodes = [
        node("node-b", &refs(&[d(1), d(2), d(6)]), 1),
        node("node-a", &refs(&[d(1), d(6)]), 1),
        tainted(node("node-c", &refs(&[d(2), d(3)]), 1)),
        node("node-0", &refs(&[d(6)]), 1),
    ];
    let world = world(gar_listing(&config), &nodes, &config);
    let mut errors = PrepullErrors::new();
    errors.insert(
        ("node-a".to_owned(), d(2)),
        "image pull failed: manifest unknown".to_owned(),
    );
    errors.insert(("node-gone".to_owned(), d(2)), "ignored".to_owned());
    errors.insert(("node-a".to_owned(), d(99)), "ignored".to_owned());
    let status = serde_json::to_value(prepuller_status(&world, &config, &errors)).unwrap();

    let node_image = |tag: &str, name: &str, n: u32, nodes: &[&str], missing: &[&str]| {
        json!({"reference": reference(tag), "tag": tag, "name": name, "digest": d(n),
               "size": 1000 + n, "nodes": nodes, "missing": missing})
    };
    let mut weekly_42 = node_image(
        "w_2077_42",
        "Weekly 2077_42",
        2,
        &["node-b", "node-c"],
        &["node-0", "node-a"],
    );
    weekly_42["errors"] = json!({"node-a": "image pull failed: manifest unknown"});
    // `recommended` is hidden behind `w_2077_43`, which is in the prepull set.
    assert_eq!(
        status["images"],
        json!({
            "prepulled": [node_image("r21_0_1", "Release r21.0.1", 6,
                                     &["node-0", "node-a", "node-b"], &[])],
            "pending": [
                node_image("w_2077_43", "Weekly 2077_43", 1, &["node-a", "node-b"], &["node-0"]),
                weekly_42,
                node_image("d_2077_10_23", "Daily 2077_10_23", 4, &[],
                           &["node-0", "node-a", "node-b"]),
                node_image("d_2077_10_22", "Daily 2077_10_22", 5, &[],
                           &["node-0", "node-a", "node-b"]),
            ],
        })
    );
    // Nodes in listing order, nulls kept; `cached` lists prepull images only.
    assert_eq!(
        status["nodes"],
        json!([
            {"name": "node-b", "eligible": true, "comment": null,
             "cached": [reference("r21_0_1"), reference("w_2077_43"), reference("w_2077_42")]},
            {"name": "node-a", "eligible": true, "comment": null,
             "cached": [reference("r21_0_1"), reference("w_2077_43")],
             "errors": {reference("w_2077_42"): "image pull failed: manifest unknown"}},
            {"name": "node-c", "eligible": false,
             "comment": "Node is tainted (NoSchedule, gpu = true)",
             "cached": [reference("w_2077_42")]},
            {"name": "node-0", "eligible": true, "comment": null,
             "cached": [reference("r21_0_1")]},
        ])
    );
    assert_eq!(status["config"]["recommended_tag"], "recommended");
    assert_eq!(status["config"]["refresh_interval"], 300.0);
    assert_eq!(
        status["config"]["source"],
        json!({"type": "docker", "registry": REGISTRY, "repository": REPOSITORY})
    );
}

fn pull(tag: &str, n: u32) -> PrepullImage {
    PrepullImage {
        tag: tag.to_owned(),
        reference_with_digest: with_digest(tag, &d(n)),
        digest: d(n),
        platforms: Default::default(),
    }
}

#[test]
fn the_plan_pulls_each_digest_once_on_eligible_nodes_only() {
    let config = config("");
    let listing = gar_listing(&config);
    // One image per digest (the weekly, not its alias), most important first.
    let all = vec![
        pull("r21_0_1", 6),
        pull("w_2077_43", 1),
        pull("w_2077_42", 2),
        pull("d_2077_10_23", 4),
        pull("d_2077_10_22", 5),
    ];
    assert_eq!(&**listing.prepull_images(), all.as_slice());

    let cordoned = NodeInfo {
        unschedulable: true,
        ..node("node-d", &[], 1)
    };
    let not_ready = NodeInfo {
        ready: Some(false),
        ..node("node-e", &[], 1)
    };
    let no_conditions = NodeInfo {
        ready: None,
        ..node("node-f", &[], 1)
    };
    let mut outsider = node("node-x", &[], 1);
    outsider.labels.clear();
    let nodes = [
        node("node-b", &refs(&[d(1), d(2), d(3)]), 1),
        node("node-a", &[], 1),
        tainted(node("node-c", &[], 1)),
        cordoned,
        not_ready,
        no_conditions,
        outsider,
    ];
    // node-a was seen pulling the release: kubelet's list may not show it (50-image cap).
    let mut pulled = PulledSet::default();
    pulled.insert("node-a", &d(6));
    pulled.insert("node-a", &d(5));
    pulled.insert("node-c", &d(6));
    let world = ListingOnNodes::new(listing, &nodes, &config, &pulled);
    let plan = prepull_plan(&world);
    let planned: Vec<(&str, Vec<&str>)> = plan
        .nodes
        .iter()
        .map(|n| {
            (
                n.node.as_str(),
                n.images.iter().map(|i| i.tag.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        planned,
        [
            ("node-b", vec!["r21_0_1", "d_2077_10_23", "d_2077_10_22"]),
            ("node-a", vec!["w_2077_43", "w_2077_42", "d_2077_10_23"]),
            (
                "node-f",
                vec![
                    "r21_0_1",
                    "w_2077_43",
                    "w_2077_42",
                    "d_2077_10_23",
                    "d_2077_10_22"
                ]
            ),
        ]
    );
    assert_eq!(plan.pulls().count(), 11);
    assert_eq!(plan.nodes[0].images[0], all[0]);

    // Remembered pulls count as cached for the views too.
    let status = prepuller_status(&world, &config, &PrepullErrors::new());
    let node_a = status.nodes.iter().find(|n| n.name == "node-a").unwrap();
    assert_eq!(
        node_a.cached,
        [reference("r21_0_1"), reference("d_2077_10_22")]
    );
    let comments: Vec<(&str, Option<&str>)> = status
        .nodes
        .iter()
        .map(|n| (n.name.as_str(), n.comment.as_deref()))
        .collect();
    assert_eq!(
        comments,
        [
            ("node-b", None),
            ("node-a", None),
            ("node-c", Some("Node is tainted (NoSchedule, gpu = true)")),
            ("node-d", Some("Node is cordoned (spec.unschedulable)")),
            ("node-e", Some("Node is not ready")),
            ("node-f", None),
        ]
    );

    // What the metrics report of the same world: nodes by eligibility, and per prepull image
    // the eligible nodes that still miss it (node-b has w_2077_43 and w_2077_42).
    let (eligible, ineligible) = nodes_by_eligibility(&world);
    assert_eq!(eligible, 3);
    assert_eq!(
        ineligible,
        [
            (IneligibleReason::Cordoned, 1),
            (IneligibleReason::NotReady, 1),
            (IneligibleReason::Tainted, 1),
        ]
    );
    // Counted without the plan, and the same as the plan's pulls.
    assert_eq!(
        world.metric_counts().missing_pairs,
        plan.pulls().count() as u64
    );
    let missing: Vec<(&str, u64)> = world
        .metric_counts()
        .missing_by_image
        .iter()
        .map(|(tag, count)| (tag.as_str(), *count))
        .collect();
    assert_eq!(
        missing,
        [
            ("r21_0_1", 2),
            ("w_2077_43", 2),
            ("w_2077_42", 2),
            ("d_2077_10_23", 3),
            ("d_2077_10_22", 2),
        ]
    );
}

/// The GAR listing with `w_2077_43` (and `recommended`, same digest) amd64-only as the
/// registry tells, `w_2077_42` multi-arch, the rest unknown.
fn listing_with_platforms(config: &Config) -> Arc<Listing> {
    use rsp_model::platform::{Platform, Platforms};
    let amd64 = Platforms::known([Platform::new("linux", "amd64")]);
    let both = Platforms::known([
        Platform::new("linux", "amd64"),
        Platform::new("linux", "arm64"),
    ]);
    let images = [
        ("w_2077_43", 1, amd64.clone()),
        ("recommended", 1, amd64),
        ("w_2077_42", 2, both),
        ("d_2077_10_23", 4, Platforms::Unknown),
    ]
    .into_iter()
    .map(|(name, n, platforms)| listed(name, n, platforms))
    .collect();
    Arc::new(Listing::complete(
        REGISTRY,
        REPOSITORY,
        images,
        &config.images.listing_rules(),
    ))
}

fn on_arch(name: &str, arch: &str, digests: &[&str]) -> NodeInfo {
    let mut node = node(name, digests, 1);
    node.labels
        .insert("kubernetes.io/os".to_owned(), "linux".to_owned());
    node.labels
        .insert("kubernetes.io/arch".to_owned(), arch.to_owned());
    node
}

#[test]
fn a_pair_that_cannot_exist_is_neither_missing_nor_planned() {
    let config = config("");
    let listing = listing_with_platforms(&config);
    let (d1, d2, d4) = (digest(1), digest(2), digest(4));
    let nodes = [
        on_arch("x86", "amd64", &[&d1, &d2, &d4]),
        on_arch("arm", "arm64", &[&d2, &d4]),
    ];
    let world = Arc::new(ListingOnNodes::new(
        listing,
        &nodes,
        &config,
        &PulledSet::default(),
    ));
    // Every image is where it can be: nothing to pull, everything prepulled.
    assert!(prepull_plan(&world).is_empty());
    // The status pages say so: the arm node cannot have the amd64-only image, and that pair
    // counts neither as wanted nor as missing.
    let grid = StatusGrid::build(Arc::clone(&world), &Default::default());
    let column = grid.image_index("w_2077_43").expect("a prepull image");
    let weekly = &grid.images()[column];
    assert_eq!(
        (weekly.counts.get(CellKind::Cached), weekly.counts.wanted()),
        (1, 1)
    );
    assert_eq!(weekly.counts.get(CellKind::Unsupported), 1);
    let arm = grid.node_named("arm").expect("the arm node");
    assert_eq!(
        arm.cells[column],
        CellState::Unsupported(PlatformMismatch {
            node: "linux/arm64".to_owned(),
            image: "linux/amd64".to_owned(),
        })
    );
    assert!(!arm.is_incomplete(None));
    let status =
        serde_json::to_value(prepuller_status(&world, &config, &PrepullErrors::new())).unwrap();
    assert_eq!(status["images"]["pending"], json!([]));
    let weekly = status["images"]["prepulled"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tag"] == "w_2077_43")
        .expect("w_2077_43 is prepulled")
        .clone();
    assert_eq!(weekly["missing"], json!([]));
    assert_eq!(weekly["unsupported"], json!(["arm"]));
    // Images without a platform restriction keep the original's fields exactly.
    let daily = status["images"]["prepulled"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["tag"] == "d_2077_10_23")
        .unwrap()
        .clone();
    assert!(daily.get("unsupported").is_none(), "{daily}");
    let images = serde_json::to_value(spawner_images(&world, "recommended")).unwrap();
    assert_eq!(images["recommended"]["prepulled"], json!(true));
    let menu = menu(&world, &config, at("2077-11-01T00:00:00Z"));
    assert!(
        menu.menu
            .iter()
            .any(|m| m.reference.contains(":w_2077_42@")),
        "{:?}",
        menu.menu
    );

    // Without the image on the x86 node it is missing there, and only there.
    let nodes = [
        on_arch("x86", "amd64", &[&d2, &d4]),
        on_arch("arm", "arm64", &[&d2, &d4]),
    ];
    let world = ListingOnNodes::new(
        listing_with_platforms(&config),
        &nodes,
        &config,
        &PulledSet::default(),
    );
    let plan = prepull_plan(&world);
    let pulls: Vec<(&str, &str)> = plan.pulls().map(|(n, i)| (n, i.tag.as_str())).collect();
    assert_eq!(pulls, [("x86", "w_2077_43")]);
}
