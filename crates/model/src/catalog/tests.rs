//! The catalog against the collection vectors of behaviour.md §3 (re-expressed), plus the
//! fixes of decisions.md §5: deterministic primaries and views that never mutate.

use super::*;
use crate::api::{NodeImage, PrepulledImage};
use crate::node::{CachedImage, NodeInfo};
use crate::plan::PulledSet;
use crate::tag::Tag;
use proptest::prelude::*;

const REGISTRY: &str = "lighthouse.ceres";
const REPOSITORY: &str = "library/sketchbook";

fn listed(name: &str, digest: &str) -> ListedImage {
    ListedImage {
        tag: Tag::parse(name),
        digest: digest.to_string(),
        size: None,
        platforms: Default::default(),
    }
}

fn alias(name: &str, digest: &str) -> ListedImage {
    ListedImage {
        tag: Tag::alias(name),
        digest: digest.to_string(),
        size: None,
        platforms: Default::default(),
    }
}

fn build(images: Vec<ListedImage>) -> ImageCatalog {
    ImageCatalog::build(REGISTRY, REPOSITORY, images, None)
}

fn names(images: &[&Image]) -> Vec<String> {
    images.iter().map(|i| i.name().to_string()).collect()
}

/// The images of behaviour.md §3.6, in a scrambled order.
fn weekly_catalog() -> ImageCatalog {
    build(vec![
        listed("latest_c0040", "D2"),
        listed("w_2077_44", "D3"),
        alias("recommended", "D0"),
        listed("w_2077_45-amd64", "D2"),
        listed("d_2077_10_21", "D5"),
        listed("latest_weekly", "D0"),
        listed("w_2077_46", "D0"),
        listed("latest_weekly-arm64", "D2"),
        listed("w_2077_43", "D4"),
        listed("w_2077_45", "D1"),
    ])
}

#[test]
fn unknown_tags_sharing_a_digest_become_aliases_of_the_non_alias_tag() {
    let c = weekly_catalog();
    let latest_weekly = c.get("latest_weekly").unwrap();
    assert_eq!(latest_weekly.kind(), TagKind::Alias);
    assert_eq!(latest_weekly.alias_target(), Some("w_2077_46"));
    assert_eq!(
        c.get("recommended").unwrap().alias_target(),
        Some("w_2077_46")
    );
    let aliases: Vec<&str> = c.get("w_2077_46").unwrap().aliases().collect();
    assert_eq!(aliases, ["latest_weekly", "recommended"]);
    assert_eq!(latest_weekly.aliases().collect::<Vec<_>>(), ["recommended"]);
}

#[test]
fn views_list_images_in_collection_order_with_the_original_hidings() {
    let c = weekly_catalog();
    assert_eq!(
        names(&c.all_images(Hidden::NOTHING)),
        [
            "recommended",
            "latest_weekly",
            "latest_weekly-arm64",
            "latest_c0040",
            "w_2077_46",
            "w_2077_45",
            "w_2077_45-amd64",
            "w_2077_44",
            "w_2077_43",
            "d_2077_10_21"
        ]
    );
    let default = [
        "recommended",
        "latest_weekly",
        "w_2077_46",
        "w_2077_45",
        "w_2077_44",
        "w_2077_43",
        "d_2077_10_21",
    ];
    assert_eq!(names(&c.all_images(Hidden::ARCH_SPECIFIC)), default);
    assert_eq!(
        names(&c.all_images(Hidden {
            resolved_aliases: true,
            ..Hidden::ARCH_SPECIFIC
        })),
        default[2..]
    );
    assert_eq!(
        names(&c.all_images(Hidden {
            aliased: true,
            ..Hidden::ARCH_SPECIFIC
        })),
        [
            "recommended",
            "latest_weekly",
            "w_2077_45",
            "w_2077_44",
            "w_2077_43",
            "d_2077_10_21"
        ]
    );
}

#[test]
fn lookups_by_digest_tag_and_kind() {
    let c = weekly_catalog();
    assert_eq!(c.image_for_digest("D0").unwrap().name(), "w_2077_46");
    assert!(c.image_for_digest("nope").is_none());
    assert_eq!(c.latest(TagKind::Weekly).unwrap().name(), "w_2077_46");
    assert!(c.latest(TagKind::Release).is_none());
    assert!(c.get("w_2077_99").is_none());
    assert_eq!(
        c.images_with_digest("D2")
            .map(Image::name)
            .collect::<Vec<_>>(),
        ["latest_weekly-arm64", "latest_c0040", "w_2077_45-amd64"]
    );
}

#[test]
fn subtract_keeps_one_primary_per_digest_missing_from_the_other() {
    let c = weekly_catalog();
    let node = build(vec![listed("w_2077_46", "D0"), listed("w_2077_45", "D1")]);
    assert_eq!(
        names(&c.subtract(&node).all_images(Hidden::ARCH_SPECIFIC)),
        ["w_2077_44", "w_2077_43", "d_2077_10_21"]
    );
    let on_node = c.with_digests(["D0", "D1"]);
    assert_eq!(
        names(&c.subtract(&on_node).all_images(Hidden::ARCH_SPECIFIC)),
        ["w_2077_44", "w_2077_43", "d_2077_10_21"]
    );
}

#[test]
fn aliases_without_a_non_alias_partner_stay_unresolved() {
    let c = build(vec![
        listed("recommended", "D0"),
        alias("latest_weekly", "D0"),
    ]);
    assert_eq!(
        names(&c.all_images(Hidden::ARCH_SPECIFIC)),
        ["latest_weekly", "recommended"]
    );
    assert_eq!(c.get("recommended").unwrap().kind(), TagKind::Unknown);
    assert_eq!(c.get("recommended").unwrap().alias_target(), None);
    assert_eq!(
        c.get("recommended").unwrap().aliases().collect::<Vec<_>>(),
        ["latest_weekly"]
    );
    assert_eq!(c.image_for_digest("D0").unwrap().name(), "latest_weekly");

    let c = build(vec![
        listed("recommended", "D0"),
        alias("latest_weekly", "D0"),
        listed("w_2077_44", "D0"),
    ]);
    assert_eq!(
        names(&c.all_images(Hidden::ARCH_SPECIFIC)),
        ["recommended", "latest_weekly", "w_2077_44"]
    );
    assert_eq!(c.image_for_digest("D0").unwrap().name(), "w_2077_44");
    assert_eq!(
        c.get("w_2077_44").unwrap().aliases().collect::<Vec<_>>(),
        ["latest_weekly", "recommended"]
    );
}

#[test]
fn the_primary_is_the_first_non_alias_in_collection_order_whatever_the_input_order() {
    let images = [
        listed("w_2077_45", "D0"),
        alias("recommended", "D0"),
        listed("latest_weekly", "D0"),
        listed("w_2077_46", "D0"),
    ];
    for order in [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]] {
        let c = build(order.iter().map(|&i| images[i].clone()).collect());
        assert_eq!(c.image_for_digest("D0").unwrap().name(), "w_2077_46");
        assert_eq!(
            c.get("recommended").unwrap().display_name(),
            "Recommended (Weekly 2077_46)"
        );
        assert_eq!(
            c.get("latest_weekly").unwrap().alias_target(),
            Some("w_2077_46")
        );
        let aliases = |n: &str| c.get(n).unwrap().aliases().collect::<Vec<_>>();
        assert_eq!(
            aliases("w_2077_46"),
            ["latest_weekly", "recommended", "w_2077_45"]
        );
        assert_eq!(
            aliases("w_2077_45"),
            ["latest_weekly", "recommended", "w_2077_46"]
        );
        assert_eq!(
            names(&c.all_images(Hidden {
                aliased: true,
                ..Hidden::ARCH_SPECIFIC
            })),
            ["recommended", "latest_weekly", "w_2077_45"]
        );
    }
}

fn resolved(alias_image: ListedImage, target: &str) -> Image {
    let name = alias_image.tag.tag().to_string();
    let c = build(vec![alias_image, listed(target, "T")]);
    c.get(&name).unwrap().clone()
}

#[test]
fn alias_display_names_name_their_target() {
    let r = resolved(alias("recommended", "T"), "d_2077_10_23_c0045.003");
    assert_eq!(
        r.display_name(),
        "Recommended (Daily 2077_10_23, SAL Cycle 0045, Build 003)"
    );
    assert_eq!(r.cycle(), Some(crate::tag::Number::Small(45)));
    assert_eq!(r.date().unwrap().to_rfc3339(), "2077-10-23T00:00:00+00:00");
    let r = resolved(listed("latest_daily_c0045", "T"), "d_2077_10_23_c0045.003");
    assert_eq!(
        r.display_name(),
        "Latest Daily (Daily 2077_10_23, SAL Cycle 0045, Build 003)"
    );
    let r = resolved(listed("latest", "T"), "r21_0_2_rsp64_stuff-amd64");
    assert_eq!(
        r.display_name(),
        "Latest (Release r21.0.2, RSP Build 64 [stuff]) [amd64]"
    );
    assert_eq!(r.architecture(), Some("amd64"));
    assert!(!r.tag().semantic());
    let r = resolved(listed("latest_c0040", "T"), "w_2077_45-amd64");
    assert_eq!(r.display_name(), "Latest (Weekly 2077_45) [amd64]");
    assert_eq!(r.cycle(), None);
    let r = resolved(listed("latest_weekly-arm64", "T"), "w_2077_45-amd64");
    assert_eq!(
        r.display_name(),
        "Latest Weekly (Weekly 2077_45 [amd64]) [arm64]"
    );
    let r = resolved(listed("-amd64", "T"), "w_2077_45");
    assert_eq!(
        r.display_name(),
        "-Amd64 (Weekly 2077_45) [amd64]",
        "an empty base uses the tag"
    );
}

#[test]
fn the_cycle_filter_drops_other_cycles_before_resolution() {
    let images = vec![
        listed("recommended_c0050", "A"),
        listed("w_2077_43_c0050.002", "A"),
        listed("w_2077_43", "B"),
    ];
    let c = ImageCatalog::build(REGISTRY, REPOSITORY, images, Some(50));
    assert_eq!(
        names(&c.all_images(Hidden::NOTHING)),
        ["recommended_c0050", "w_2077_43_c0050.002"]
    );
    assert_eq!(
        c.get("recommended_c0050").unwrap().display_name(),
        "Recommended (Weekly 2077_43, SAL Cycle 0050, Build 002)"
    );
}

#[test]
fn subsets_are_views_that_keep_the_catalogs_resolution() {
    let c = build(vec![
        alias("recommended", "D0"),
        listed("w_2077_46", "D1"),
        listed("w_2077_45", "D2"),
        listed("w_2077_44", "D0"),
        listed("latest_c0050", "D0"),
    ]);
    let spec = SubsetSpec {
        weeklies: 1,
        include: vec!["recommended".into(), "w_2077_46".into()],
        remove_arch_specific: true,
        ..SubsetSpec::default()
    };
    let s = c.subset(&spec);
    assert_eq!(
        names(&s.all_images(Hidden::NOTHING)),
        ["recommended", "w_2077_46"]
    );
    // The target is not in the view: the alias stays shown and stands for its digest there.
    assert_eq!(
        names(&s.all_images(Hidden {
            resolved_aliases: true,
            ..Hidden::ARCH_SPECIFIC
        })),
        ["recommended", "w_2077_46"]
    );
    assert_eq!(s.image_for_digest("D0").unwrap().name(), "recommended");
    assert_eq!(
        s.get("recommended").unwrap().display_name(),
        "Recommended (Weekly 2077_44)"
    );
    assert_eq!(
        s.get("recommended").unwrap().aliases().collect::<Vec<_>>(),
        ["latest_c0050"]
    );
    assert!(s.get("w_2077_44").is_none());
    // The full catalog is unchanged.
    assert_eq!(c.image_for_digest("D0").unwrap().name(), "w_2077_44");
    assert_eq!(c.len(), 5);
}

/// A node caching digests with the sizes it reports.
fn node_caching(name: &str, cached: &[(&str, u64)]) -> NodeInfo {
    NodeInfo {
        name: name.to_string(),
        images: cached
            .iter()
            .map(|(digest, size)| CachedImage {
                references: vec![format!("{REGISTRY}/{REPOSITORY}@{digest}").into()],
                size: Some(*size),
            })
            .collect(),
        ..NodeInfo::default()
    }
}

#[test]
fn node_presence_is_shared_by_every_tag_of_a_digest() {
    let c = weekly_catalog();
    // Listed out of name order, and node1 lists D0 twice.
    let nodes = [
        node_caching("node2", &[]),
        node_caching("node1", &[("D0", 0), ("D9", 7), ("D0", 0)]),
    ];
    let presence = NodePresence::from_nodes(&nodes, &PulledSet::default(), true);
    let one = presence.node_set(["node1"]);
    for name in ["w_2077_46", "recommended", "latest_weekly"] {
        assert!(
            PrepulledImage::from_image(c.get(name).unwrap(), &presence, &one).prepulled,
            "{name}"
        );
    }
    assert!(!PrepulledImage::from_image(c.get("w_2077_45").unwrap(), &presence, &one).prepulled);
    let two = presence.node_set(["node1", "node2", "not-a-node"]);
    assert_eq!(two.len(), 2, "unknown names are left out");
    let image = NodeImage::from_image(c.get("recommended").unwrap(), &presence, &two);
    assert_eq!(
        (image.nodes, image.missing, image.size),
        (vec!["node1".to_string()], vec!["node2".to_string()], None),
        "a size of zero means unknown"
    );
    assert!(!presence.is_on("D0", "node2") && !presence.is_on("D0", "node3"));
    assert!(
        presence.is_on_all("D0", &NodeSet::default()),
        "no eligible nodes: everything counts as prepulled"
    );

    // Sizes reported by nodes replace the registry's only when the source asks for it.
    let sized = [node_caching("node1", &[("D0", 65537)])];
    let image = c.get("w_2077_46").unwrap();
    let with_sizes = NodePresence::from_nodes(&sized, &PulledSet::default(), true);
    let all = with_sizes.node_set(["node1"]);
    assert_eq!(
        NodeImage::from_image(image, &with_sizes, &all).size,
        Some(65537)
    );
    let without = NodePresence::from_nodes(&sized, &PulledSet::default(), false);
    assert_eq!(NodeImage::from_image(image, &without, &all).size, None);

    // A pull the prepuller saw succeed counts as cached, on listed nodes only.
    let mut pulled = PulledSet::default();
    pulled.insert("node2", "D0");
    pulled.insert("node9", "D1");
    let presence = NodePresence::from_nodes(&nodes, &pulled, false);
    assert_eq!(presence.nodes("D0").collect::<Vec<_>>(), ["node1", "node2"]);
    assert_eq!(presence.nodes("D1").count(), 0);
}

proptest! {
    /// The presence shared by every consumer of a node list, completed with remembered pulls,
    /// is the presence built from the nodes and the pulls in one go.
    #[test]
    fn reported_presence_with_pulls_is_the_one_built_in_one_go(
        cached in proptest::collection::vec(
            proptest::collection::vec((0u8..6, 0u64..3), 0..5), 0..5),
        pulls in proptest::collection::vec((0usize..7, 0u8..6), 0..8),
    ) {
        let names: Vec<String> = (0..cached.len()).map(|i| format!("node{}", 4 - i)).collect();
        let nodes: Vec<NodeInfo> = cached
            .iter()
            .zip(&names)
            .map(|(images, name)| {
                let digests: Vec<(String, u64)> =
                    images.iter().map(|(d, size)| (format!("D{d}"), *size)).collect();
                let digests: Vec<(&str, u64)> =
                    digests.iter().map(|(d, size)| (d.as_str(), *size)).collect();
                node_caching(name, &digests)
            })
            .collect();
        let mut pulled = PulledSet::default();
        for (node, digest) in pulls {
            pulled.insert(&format!("node{node}"), &format!("D{digest}"));
        }
        let reported = NodePresence::reported_by(&nodes);
        prop_assert_eq!(
            reported.with_pulled(&pulled),
            NodePresence::from_nodes(&nodes, &pulled, true)
        );
        prop_assert_eq!(
            reported.with_pulled(&pulled).without_sizes(),
            NodePresence::from_nodes(&nodes, &pulled, false)
        );
    }
}

#[test]
fn prepulled_images_serialise_as_the_original() {
    let c = build(vec![
        alias("recommended", "sha256:5678"),
        listed("w_2077_43", "sha256:5678"),
    ]);
    let nodes = [node_caching("node1", &[("sha256:5678", 1)])];
    let presence = NodePresence::from_nodes(&nodes, &PulledSet::default(), false);
    let eligible = presence.node_set(["node1"]);
    let json = serde_json::to_string(&PrepulledImage::from_image(
        c.get("recommended").unwrap(),
        &presence,
        &eligible,
    ));
    assert_eq!(
        json.unwrap(),
        r#"{"reference":"lighthouse.ceres/library/sketchbook:recommended","tag":"recommended","name":"Recommended (Weekly 2077_43)","digest":"sha256:5678","aliases":["w_2077_43"],"prepulled":true}"#
    );
    let unresolved =
        PrepulledImage::without_digest(REGISTRY, REPOSITORY, &Tag::parse("latest_weekly"));
    assert_eq!(
        serde_json::to_string(&unresolved).unwrap(),
        r#"{"reference":"lighthouse.ceres/library/sketchbook:latest_weekly","tag":"latest_weekly","name":"latest_weekly","aliases":[],"prepulled":false}"#
    );
}

proptest! {
    /// Alias resolution does not depend on the listing order.
    #[test]
    fn resolution_is_independent_of_listing_order(seed in any::<u64>()) {
        let mut images = vec![
            listed("w_2077_45", "D0"), alias("recommended", "D0"), listed("latest_weekly", "D0"),
            listed("w_2077_46", "D0"), listed("r21_0_1", "D1"), listed("latest", "D1"),
            listed("w_2077_44-amd64", "D2"), listed("latest_c0040", "D2"), listed("d_2077_10_21", "D3"),
        ];
        let reference = build(images.clone());
        // A cheap deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..images.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            images.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let shuffled = build(images);
        let describe = |c: &ImageCatalog| c.all_images(Hidden::NOTHING).into_iter()
            .map(|i| (i.name().to_string(), i.display_name().to_string(), i.alias_target().map(str::to_string),
                      i.aliases().map(str::to_string).collect::<Vec<_>>()))
            .collect::<Vec<_>>();
        prop_assert_eq!(describe(&reference), describe(&shuffled));
    }
}

#[test]
fn platforms_come_from_the_registry_else_from_an_architecture_tag() {
    use crate::platform::{Platform, Platforms};
    let mut multi = listed("w_2077_47", "D7");
    multi.platforms = Platforms::known([
        Platform::new("linux", "amd64"),
        Platform::new("linux", "arm64"),
    ]);
    let c = build(vec![
        multi,
        listed("w_2077_46-arm64", "D8"),
        listed("w_2077_46", "D9"),
    ]);
    let names = |image: &Image| {
        image
            .platforms()
            .as_slice()
            .map(|list| list.iter().map(ToString::to_string).collect::<Vec<_>>())
    };
    assert_eq!(
        names(c.get("w_2077_47").unwrap()),
        Some(vec!["linux/amd64".to_string(), "linux/arm64".to_string()])
    );
    assert_eq!(
        names(c.get("w_2077_46-arm64").unwrap()),
        Some(vec!["linux/arm64".to_string()])
    );
    assert_eq!(names(c.get("w_2077_46").unwrap()), None);
}

/// A display name is made once per image and listing, however many bodies name it: the
/// second answer is the first one's text, not a new string.
#[test]
fn display_names_are_made_once_per_image() {
    let c = build(vec![listed("w_2077_46", "D0"), alias("recommended", "D0")]);
    for tag in ["w_2077_46", "recommended"] {
        let image = c.get(tag).unwrap();
        let (first, second) = (image.display_name(), image.display_name());
        assert!(std::ptr::eq(first, second), "{tag}: {first}");
    }
    assert_eq!(c.get("w_2077_46").unwrap().display_name(), "Weekly 2077_46");
}
