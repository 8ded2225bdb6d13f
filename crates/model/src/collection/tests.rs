//! Tag collections against the vectors of behaviour.md §2.3 (re-expressed), with fix 6.

use super::*;

/// Expected collection order of the vector, every tag included.
const ORDERED: [&str; 20] = [
    "r21_0_1",
    "r20_0_1_c0027.001",
    "w_2077_46",
    "w_2077_46-amd64",
    "w_2077_45",
    "w_2077_44",
    "w_2077_43",
    "w_2077_42",
    "w_2077_40_c0027.001",
    "w_2077_40_c0026.001",
    "w_2077_40_c0026.001-amd64",
    "d_2077_10_21",
    "d_2077_10_20",
    "r22_0_1_rc1-arm64",
    "r22_0_0_rc1",
    "exp_w_2021_22",
    "recommended_c0027",
    "recommended",
    "latest_c0027-arm64",
    "latest-arm64",
];

/// The vector's tags in a fixed scrambled order.
fn scrambled() -> Vec<&'static str> {
    (0..ORDERED.len())
        .map(|i| ORDERED[(i * 7 + 3) % ORDERED.len()])
        .collect()
}

fn collect(aliases: &[&str], cycle: Option<u32>) -> TagCollection {
    let aliases: HashSet<String> = aliases.iter().map(|a| a.to_string()).collect();
    TagCollection::from_tag_names(scrambled(), &aliases, cycle)
}

fn names<'a>(tags: impl Iterator<Item = &'a Tag>) -> Vec<&'a str> {
    tags.map(Tag::tag).collect()
}

#[test]
fn tags_sort_by_kind_then_descending() {
    let c = collect(&[], None);
    assert_eq!(names(c.all_tags(ArchSpecific::Keep)), ORDERED);
    let without_arch: Vec<&str> = ORDERED.into_iter().filter(|t| !t.contains('-')).collect();
    assert_eq!(names(c.all_tags(ArchSpecific::Hide)), without_arch);
}

#[test]
fn a_cycle_keeps_only_tags_of_that_cycle() {
    let c = collect(&[], Some(27));
    assert_eq!(
        names(c.all_tags(ArchSpecific::Keep)),
        [
            "r20_0_1_c0027.001",
            "w_2077_40_c0027.001",
            "recommended_c0027",
            "latest_c0027-arm64"
        ]
    );
    assert_eq!(
        names(c.all_tags(ArchSpecific::Hide)),
        [
            "r20_0_1_c0027.001",
            "w_2077_40_c0027.001",
            "recommended_c0027"
        ]
    );
}

#[test]
fn aliases_come_first() {
    let c = collect(&["recommended", "recommended_c0027"], None);
    assert_eq!(
        names(c.all_tags(ArchSpecific::Hide))[..2],
        ["recommended_c0027", "recommended"]
    );
    assert_eq!(c.get("recommended").unwrap().kind(), TagKind::Alias);
    assert_eq!(c.latest(TagKind::Alias).unwrap().tag(), "recommended_c0027");
}

#[test]
fn latest_includes_arch_specific_tags() {
    let c = TagCollection::from_tag_names(["w_2077_45", "w_2077_46-amd64"], &HashSet::new(), None);
    assert_eq!(c.latest(TagKind::Weekly).unwrap().tag(), "w_2077_46-amd64");
    assert!(c.latest(TagKind::Release).is_none());
    assert_eq!(c.len(), 2);
}

#[test]
fn subset_counts_newest_per_kind_and_adds_included_tags_once() {
    let c = collect(&["recommended", "recommended_c0027"], None);
    let spec = SubsetSpec {
        releases: 1,
        weeklies: 3,
        dailies: 1,
        include: vec![],
        remove_arch_specific: false,
    };
    assert_eq!(
        names(c.subset(&spec).all_tags(ArchSpecific::Keep)),
        [
            "r21_0_1",
            "w_2077_46",
            "w_2077_46-amd64",
            "w_2077_45",
            "d_2077_10_21"
        ]
    );
    let spec = SubsetSpec {
        include: vec!["recommended".into(), "nope".into()],
        remove_arch_specific: true,
        ..spec
    };
    assert_eq!(
        names(c.subset(&spec).all_tags(ArchSpecific::Keep)),
        [
            "recommended",
            "r21_0_1",
            "w_2077_46",
            "w_2077_45",
            "w_2077_44",
            "d_2077_10_21"
        ]
    );
    // Fix 6: a tag both counted and included appears once.
    let twice = vec!["w_2077_46".into(), "w_2077_46".into()];
    let spec = SubsetSpec {
        weeklies: 2,
        include: twice,
        remove_arch_specific: true,
        ..SubsetSpec::default()
    };
    assert_eq!(
        names(c.subset(&spec).all_tags(ArchSpecific::Keep)),
        ["w_2077_46", "w_2077_45"]
    );
    // A count of zero selects none; candidates are never counted.
    assert!(c.subset(&SubsetSpec::default()).is_empty());
}

#[test]
fn equal_tags_keep_their_input_order() {
    let none = HashSet::new();
    let c = TagCollection::from_tag_names(["w_2077_46", "w_2077_046", "w_2077_47"], &none, None);
    assert_eq!(
        names(c.all_tags(ArchSpecific::Hide)),
        ["w_2077_47", "w_2077_46", "w_2077_046"]
    );
    let c = TagCollection::from_tag_names(["w_2077_046", "w_2077_46"], &none, None);
    assert_eq!(
        names(c.all_tags(ArchSpecific::Hide)),
        ["w_2077_046", "w_2077_46"]
    );
}

#[test]
fn lookups_find_the_last_tag_of_a_name_and_duplicates_stay_listed() {
    let aliases: HashSet<String> = ["latest".to_string()].into();
    let c = TagCollection::from_tag_names(["latest", "latest"], &aliases, None);
    assert_eq!(c.all_tags(ArchSpecific::Hide).count(), 2);
    assert_eq!(c.get("latest").unwrap().kind(), TagKind::Alias);
    assert!(c.get("other").is_none());
    // Two tags of one name that differ: the later one is found.
    let c = TagCollection::new(vec![Tag::parse("w_2077_46"), Tag::alias("w_2077_46")]);
    assert_eq!(c.get("w_2077_46").unwrap().kind(), TagKind::Alias);
    let c = TagCollection::new(vec![Tag::alias("w_2077_46"), Tag::parse("w_2077_46")]);
    assert_eq!(c.get("w_2077_46").unwrap().kind(), TagKind::Weekly);
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::cmp::Ordering;

    /// Names that often compare equal while differing as strings (zero padding), across kinds.
    fn name() -> impl Strategy<Value = String> {
        let zeros = || prop::sample::select(vec!["", "0", "00"]);
        let arch = prop::sample::select(vec!["", "-amd64", "-arm64"]);
        let suffix = prop::sample::select(vec!["", "_rsp1", "_rsp01", "_c0001.001", "_extra"]);
        (0u8..5, zeros(), 1u32..4, zeros(), 1u32..4, suffix, arch).prop_map(
            |(kind, z1, a, z2, b, suffix, arch)| {
                let body = match kind {
                    0 => format!("w_2077_{z1}{a}"),
                    1 => format!("d_2077_{z1}{a}_{z2}{b}"),
                    2 => format!("r{z1}{a}_{z2}{b}_0"),
                    3 => format!("exp_w_2077_{z1}{a}"),
                    _ => format!("latest{z1}{a}"),
                };
                format!("{body}{suffix}{arch}")
            },
        )
    }

    /// Names of every kind with the suffixes and numbers that make prefixes tie or close:
    /// cycles, RSP builds, extras, architectures, candidates, numbers beyond 64 bits, long
    /// bases and extras that share their first bytes, experimentals of unknown tags.
    fn odd_name() -> impl Strategy<Value = String> {
        let number = || {
            prop::sample::select(vec![
                "1",
                "2",
                "02",
                "10",
                "4611686018427387904",
                "99999999999999999999999",
            ])
        };
        let body = prop_oneof![
            (number(), number()).prop_map(|(y, w)| format!("w_{y}_{w}")),
            (number(), number()).prop_map(|(m, d)| format!("d_2077_{m}_{d}")),
            (number(), number(), number()).prop_map(|(a, b, c)| format!("r{a}_{b}_{c}")),
            (number(), number()).prop_map(|(a, rc)| format!("r{a}_0_0_rc{rc}")),
            prop::sample::select(vec![
                "latest",
                "recommended",
                "exp_random",
                "a_long_unknown_base_shared_by_many",
                "a_long_unknown_base_shared_by_more",
            ])
            .prop_map(String::from),
        ];
        let experimental = prop::sample::select(vec!["", "exp_"]);
        let suffix = prop::sample::select(vec![
            "",
            "_c0040.002",
            "_c40.1",
            "_c99999999999999999999.1",
            "_rsp7",
            "_rsp99999999999999999999",
            "_extra",
            "_an_extra_longer_than_any_prefix_a",
            "_an_extra_longer_than_any_prefix_b",
        ]);
        let arch = prop::sample::select(vec!["", "-amd64", "-arm64", "-amd64x"]);
        (experimental, body, suffix, arch)
            .prop_map(|(exp, body, suffix, arch)| format!("{exp}{body}{suffix}{arch}"))
    }

    proptest! {
        #[test]
        fn collection_order_is_the_stable_sort_by_whole_keys(
            names in prop::collection::vec(odd_name(), 0..300),
            alias_every in 1usize..6,
            cycle in prop::option::of(prop::sample::select(vec![1u32, 40])),
        ) {
            // Duplicates stay (a name may be listed twice); some names are aliases.
            let aliases: HashSet<String> = names.iter().step_by(alias_every).cloned().collect();
            let c = TagCollection::from_tag_names(&names, &aliases, cycle);
            let mut want: Vec<Tag> = names
                .iter()
                .map(|n| if aliases.contains(n) { Tag::alias(n) } else { Tag::parse(n) })
                .filter(|t| cycle.is_none() || t.cycle() == cycle.map(Number::from))
                .collect();
            // The reference: kinds in display order, each by whole keys, descending, stable.
            want.sort_by(|a, b| a.kind().cmp(&b.kind()).then_with(|| b.sort_key().cmp(&a.sort_key())));
            for arch_specific in [ArchSpecific::Keep, ArchSpecific::Hide] {
                let got: Vec<&str> = c.all_tags(arch_specific).map(Tag::tag).collect();
                let want: Vec<&str> = want
                    .iter()
                    .filter(|t| arch_specific == ArchSpecific::Keep || !t.is_arch_specific())
                    .map(Tag::tag)
                    .collect();
                prop_assert_eq!(got, want);
            }
        }

        #[test]
        fn collection_order_is_descending_and_stable(mut names in prop::collection::vec(name(), 0..400)) {
            let mut seen = HashSet::new();
            names.retain(|n| seen.insert(n.clone()));
            let position = |n: &str| names.iter().position(|x| x == n).unwrap();
            let c = TagCollection::from_tag_names(&names, &HashSet::new(), None);
            let ordered: Vec<&Tag> = c.all_tags(ArchSpecific::Keep).collect();
            prop_assert_eq!(ordered.len(), names.len());
            for pair in ordered.windows(2) {
                let (a, b) = (pair[0], pair[1]);
                if a.kind() == b.kind() {
                    let order = a.cmp_same_kind(b);
                    prop_assert!(order != Ordering::Less, "{} before {}", a.tag(), b.tag());
                    if order == Ordering::Equal {
                        prop_assert!(position(a.tag()) < position(b.tag()), "equal {} and {} swapped", a.tag(), b.tag());
                    }
                } else {
                    prop_assert!(a.kind() < b.kind());
                }
            }
        }
    }
}
