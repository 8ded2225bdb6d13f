//! Tag parsing, display names, the alias constructor and ordering, against the vectors of
//! behaviour.md §1–§2 (re-expressed here) and against the regex oracle on generated input.

use super::*;
use proptest::prelude::*;

/// The fields a vector checks: kind, display name, version, base, (cycle, cycle build, build),
/// architecture, extra, date.
type Expected<'a> = (
    TagKind,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    (Option<u32>, Option<u32>, Option<u32>),
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

fn check(tag: &Tag, want: Expected<'_>) {
    let (kind, display, version, base, numbers, arch, extra, date) = want;
    assert_eq!(tag.kind(), kind, "{}", tag.tag());
    assert_eq!(tag.display_name(), display, "{}", tag.tag());
    assert_eq!(
        tag.version().map(|v| v.to_string()).as_deref(),
        version,
        "{}",
        tag.tag()
    );
    assert_eq!(tag.base(), base, "{}", tag.tag());
    assert_eq!(
        (
            small(tag.cycle()),
            small(tag.cycle_build()),
            small(tag.build())
        ),
        numbers,
        "{}",
        tag.tag()
    );
    assert_eq!(tag.architecture(), arch, "{}", tag.tag());
    assert_eq!(tag.extra(), extra, "{}", tag.tag());
    let got_date = tag.date().map(|d| d.format("%Y-%m-%d").to_string());
    assert_eq!(got_date.as_deref(), date, "{}", tag.tag());
}

const NONE3: (Option<u32>, Option<u32>, Option<u32>) = (None, None, None);

/// A number these vectors expect to be small.
fn small(number: Option<Number<'_>>) -> Option<u32> {
    number.map(|number| match number {
        Number::Small(value) => u32::try_from(value).expect("a small number"),
        Number::Big(digits) => panic!("{digits} is not small"),
    })
}

#[test]
fn each_kind_parses_with_its_fields() {
    use TagKind::*;
    let cases: Vec<(&str, Expected<'_>)> = vec![
        ("r21_0_1", (Release, "Release r21.0.1", Some("21.0.1"), None, NONE3, None, None, None)),
        ("r22_0_0_rc1", (Candidate, "Release Candidate r22.0.0-rc1", Some("22.0.0-rc1"), None, NONE3, None, None, None)),
        ("r170", (Release, "Release r17.0.0", Some("17.0.0"), None, NONE3, None, None, None)),
        ("r00_1_2", (Release, "Release r0.1.2", Some("0.1.2"), None, NONE3, None, None, None)),
        ("w_2021_22", (Weekly, "Weekly 2021_22", Some("2021.22.0"), None, NONE3, None, None, Some("2021-06-03"))),
        ("w_2021_5", (Weekly, "Weekly 2021_5", Some("2021.5.0"), None, NONE3, None, None, Some("2021-02-04"))),
        ("w_2025_07", (Weekly, "Weekly 2025_07", Some("2025.7.0"), None, NONE3, None, None, Some("2025-02-13"))),
        ("w_2020_53", (Weekly, "Weekly 2020_53", Some("2020.53.0"), None, NONE3, None, None, Some("2020-12-31"))),
        ("d_2021_05_27", (Daily, "Daily 2021_05_27", Some("2021.5.27"), None, NONE3, None, None, Some("2021-05-27"))),
        ("d_2077_1_2", (Daily, "Daily 2077_1_2", Some("2077.1.2"), None, NONE3, None, None, Some("2077-01-02"))),
        (
            "r21_0_1_c0020.001_rsp19_20210513-amd64",
            (
                Release,
                "Release r21.0.1 (SAL Cycle 0020, Build 001) (RSP Build 19) [20210513] [amd64]",
                Some("21.0.1"),
                None,
                (Some(20), Some(1), Some(19)),
                Some("amd64"),
                Some("20210513"),
                None,
            ),
        ),
        (
            "r21_0_1_rsp5_c0031.004",
            (Release, "Release r21.0.1 (RSP Build 5) [c0031.004]", Some("21.0.1"), None, (None, None, Some(5)), None, Some("c0031.004"), None),
        ),
        ("w_2021_22_c0020", (Weekly, "Weekly 2021_22 [c0020]", Some("2021.22.0"), None, NONE3, None, Some("c0020"), Some("2021-06-03"))),
        ("w_2021_22_rsp", (Weekly, "Weekly 2021_22 [rsp]", Some("2021.22.0"), None, NONE3, None, Some("rsp"), Some("2021-06-03"))),
        (
            "r22_0_1_rc1_rc2",
            (Candidate, "Release Candidate r22.0.1-rc1 [rc2]", Some("22.0.1-rc1"), None, NONE3, None, Some("rc2"), None),
        ),
        ("r22_0_0_rc1_", (Release, "Release r22.0.0 [rc1_]", Some("22.0.0"), None, NONE3, None, Some("rc1_"), None)),
        ("r21_0_1_foo-bar-baz", (Release, "Release r21.0.1 [foo-bar] [baz]", Some("21.0.1"), None, NONE3, Some("baz"), Some("foo-bar"), None)),
        ("r21_0_1_-amd64", (Release, "Release r21.0.1 [-amd64]", Some("21.0.1"), None, NONE3, None, Some("-amd64"), None)),
        ("latest", (Unknown, "latest", None, Some("latest"), NONE3, None, None, None)),
        ("recommended_c0027", (Unknown, "recommended (SAL Cycle 0027)", None, Some("recommended"), (Some(27), None, None), None, None, None)),
        ("latest_c0027-amd64", (Unknown, "latest (SAL Cycle 0027) [amd64]", None, Some("latest"), (Some(27), None, None), Some("amd64"), None, None)),
        ("recommended_c0027_rsp3", (Unknown, "recommended_c0027_rsp3", None, Some("recommended_c0027_rsp3"), NONE3, None, None, None)),
        ("foo-bar-baz", (Unknown, "foo-bar [baz]", None, Some("foo-bar"), NONE3, Some("baz"), None, None)),
        ("foo-", (Unknown, "foo-", None, Some("foo-"), NONE3, None, None, None)),
        ("-amd64", (Unknown, " [amd64]", None, Some(""), NONE3, Some("amd64"), None, None)),
        ("w_2021_22-arm64-amd64", (Unknown, "w_2021_22-arm64 [amd64]", None, Some("w_2021_22-arm64"), NONE3, Some("amd64"), None, None)),
        ("w_2021_22-AMD64", (Unknown, "w_2021_22-AMD64", None, Some("w_2021_22-AMD64"), NONE3, None, None, None)),
        ("r1700", (Unknown, "r1700", None, Some("r1700"), NONE3, None, None, None)),
        ("exp_", (Unknown, "exp_", None, Some("exp_"), NONE3, None, None, None)),
        ("exp_random", (Experimental, "Experimental random", None, Some("random"), NONE3, None, None, None)),
        (
            "exp_random_c0027-amd64",
            (Experimental, "Experimental random (SAL Cycle 0027) [amd64]", None, Some("random"), (Some(27), None, None), Some("amd64"), None, None),
        ),
        ("exp_exp_w_2021_22", (Experimental, "Experimental Experimental Weekly 2021_22", Some("2021.22.0"), None, NONE3, None, None, Some("2021-06-03"))),
        ("exp_w_2021_54", (Experimental, "Experimental w_2021_54", None, Some("w_2021_54"), NONE3, None, None, None)),
        (
            "exp_w_2021_22_c0020.001_rsp19_foo-amd64",
            (
                Experimental,
                "Experimental Weekly 2021_22 (SAL Cycle 0020, Build 001) (RSP Build 19) [foo] [amd64]",
                Some("2021.22.0"),
                None,
                (Some(20), Some(1), Some(19)),
                Some("amd64"),
                Some("foo"),
                Some("2021-06-03"),
            ),
        ),
    ];
    for (input, want) in cases {
        check(&Tag::parse(input), want);
    }
}

#[test]
fn empty_is_latest_and_semantic_follows_the_inner_tag() {
    assert_eq!(Tag::parse("").tag(), "latest");
    assert_eq!(Tag::parse("").kind(), TagKind::Unknown);
    assert!(Tag::parse("exp_r21_0_1").semantic());
    assert!(Tag::parse("r22_0_0_rc1").semantic());
    assert!(!Tag::parse("exp_w_2021_22").semantic());
    assert!(!Tag::parse("latest").semantic());
}

#[test]
fn impossible_dates_and_weeks_fall_through_to_unknown() {
    for tag in [
        "w_2021_54",
        "w_2021_53",
        "w_2021_00",
        "d_2021_02_30",
        "d_2021_13_01",
        "d_0000_01_01",
        "w_10000_01",
    ] {
        let parsed = Tag::parse(tag);
        assert_eq!(
            (parsed.kind(), parsed.base(), parsed.display_name()),
            (TagKind::Unknown, Some(tag), tag.to_string())
        );
    }
}

/// Regression (issue 10): the original's integers have no size limit, so a release number
/// beyond 64 bits (or a cycle or build beyond 32) is still a release, displayed, ordered and
/// written as Python does; these tags were Unknown here.
#[test]
fn numbers_beyond_the_machine_integers_are_the_originals() {
    const BIG: &str = "99999999999999999999999";
    let release = Tag::parse(&format!("r{BIG}_0_0"));
    assert_eq!(release.kind(), TagKind::Release);
    assert_eq!(release.display_name(), format!("Release r{BIG}.0.0"));
    let version = release.version().expect("a version");
    assert_eq!(version.major, Number::Big(BIG));
    assert_eq!(version.to_string(), format!("{BIG}.0.0"));
    assert!(release.semantic());

    let candidate = Tag::parse(&format!("r1_{BIG}_00{BIG}_rc2_rsp3"));
    assert_eq!(candidate.kind(), TagKind::Candidate);
    assert_eq!(
        candidate.display_name(),
        format!("Release Candidate r1.{BIG}.{BIG}-rc2 (RSP Build 3)")
    );

    let suffixes = Tag::parse("r21_0_1_c99999999999.0000000000000000000000000001_rsp4294967296");
    assert_eq!(suffixes.kind(), TagKind::Release);
    assert_eq!(suffixes.cycle(), Some(Number::Small(99_999_999_999)));
    assert_eq!(suffixes.cycle_build(), Some(Number::Small(1)));
    assert_eq!(suffixes.build(), Some(Number::Small(4_294_967_296)));
    assert_eq!(
        suffixes.display_name(),
        "Release r21.0.1 (SAL Cycle 99999999999, Build 0000000000000000000000000001) \
         (RSP Build 4294967296)"
    );

    let unknown = Tag::parse(&format!("latest_c{BIG}-amd64"));
    assert_eq!(
        (unknown.kind(), unknown.base(), unknown.cycle()),
        (TagKind::Unknown, Some("latest"), Some(Number::Big(BIG)))
    );
    let alias = Tag::alias(&format!("recommended_c{BIG}"));
    assert_eq!(alias.cycle(), Some(Number::Big(BIG)));
    assert_eq!(
        alias.display_name(),
        format!("Recommended (SAL Cycle {BIG})")
    );

    // Leading zeros count for nothing, as with `int`.
    let padded = Tag::parse("r0000000000000000000000000001_0_0");
    assert_eq!(padded.display_name(), "Release r1.0.0");
    assert_eq!(padded.version().unwrap().major, Number::Small(1));
}

#[test]
fn releases_beyond_64_bits_sort_above_every_smaller_one() {
    let names = [
        "r18446744073709551615_0_0",
        "r99999999999999999999999_0_0",
        "r18446744073709551616_0_0",
        "r21_0_0",
        "r100000000000000000000000_0_0",
        "r99999999999999999999999_0_0_rc1",
        "r18446744073709551616_0_0_rsp18446744073709551616",
        "r18446744073709551616_0_0_rsp18446744073709551615",
    ];
    let mut tags: Vec<Tag> = names.iter().map(|name| Tag::parse(name)).collect();
    tags.sort_by(Tag::cmp_same_kind);
    let sorted: Vec<&str> = tags.iter().map(Tag::tag).collect();
    assert_eq!(
        sorted,
        [
            "r21_0_0",
            "r18446744073709551615_0_0",
            "r18446744073709551616_0_0",
            "r18446744073709551616_0_0_rsp18446744073709551615",
            "r18446744073709551616_0_0_rsp18446744073709551616",
            "r99999999999999999999999_0_0",
            "r100000000000000000000000_0_0",
            // A candidate is of another kind: kinds order first.
            "r99999999999999999999999_0_0_rc1",
        ]
    );
}

#[test]
fn numbers_beyond_64_bits_are_json_integers() {
    const BIG: &str = "123456789012345678901234567890";
    let tag = Tag::parse(&format!("r{BIG}_0_1_c{BIG}.2_rsp{BIG}"));
    let json = serde_json::to_string(&tag).unwrap();
    assert!(
        json.contains(&format!(
            r#""version":{{"major":{BIG},"minor":0,"patch":1,"prerelease":null}}"#
        )),
        "{json}"
    );
    assert!(
        json.contains(&format!(r#""cycle":{BIG},"cycle_build":2,"build":{BIG}"#)),
        "{json}"
    );
}

#[test]
fn a_newline_anywhere_leaves_the_tag_verbatim() {
    for tag in ["w_2021_22\n", "latest\n-amd64", "\n", "exp_\nx"] {
        let parsed = Tag::parse(tag);
        assert_eq!(
            (parsed.kind(), parsed.base(), parsed.display_name()),
            (TagKind::Unknown, None, tag.to_string())
        );
    }
}

#[test]
fn alias_constructor_title_cases_the_base() {
    let cases = [
        (
            "recommended",
            "Recommended",
            Some("recommended"),
            None,
            None,
        ),
        (
            "latest_weekly_c0046",
            "Latest Weekly (SAL Cycle 0046)",
            Some("latest_weekly"),
            Some(46),
            None,
        ),
        (
            "latest-amd64",
            "Latest [amd64]",
            Some("latest"),
            None,
            Some("amd64"),
        ),
        (
            "latest_c0046-arm64",
            "Latest (SAL Cycle 0046) [arm64]",
            Some("latest"),
            Some(46),
            Some("arm64"),
        ),
        (
            "foo_bar-amd64",
            "Foo Bar [amd64]",
            Some("foo_bar"),
            None,
            Some("amd64"),
        ),
        ("a-b-c", "A-B [c]", Some("a-b"), None, Some("c")),
        (
            "Mixed_CASE_tag",
            "Mixed Case Tag",
            Some("Mixed_CASE_tag"),
            None,
            None,
        ),
        ("rec_c12x", "Rec C12X", Some("rec_c12x"), None, None),
        ("it's_2x", "It'S 2X", Some("it's_2x"), None, None),
        ("w_2021_22", "W 2021 22", Some("w_2021_22"), None, None),
        ("a\nb_c", "A\nB C", Some("a\nb_c"), None, None),
    ];
    for (input, display, base, cycle, arch) in cases {
        let tag = Tag::alias(input);
        assert_eq!(tag.kind(), TagKind::Alias);
        assert_eq!(
            (
                tag.display_name().as_str(),
                tag.base(),
                small(tag.cycle()),
                tag.architecture()
            ),
            (display, base, cycle, arch)
        );
        assert_eq!(
            (tag.version(), tag.date(), tag.build(), tag.extra()),
            (None, None, None, None)
        );
    }
}

#[test]
fn title_case_follows_python() {
    assert_eq!(title_case("hello wORLD"), "Hello World");
    assert_eq!(title_case("x1y 2z"), "X1Y 2Z");
    assert_eq!(title_case("élan vital"), "Élan Vital");
    assert_eq!(title_case("ǆemal"), "ǅemal");
    assert_eq!(title_case(""), "");
}

fn ascending(chain: &[&str]) {
    for pair in chain.windows(2) {
        let (a, b) = (Tag::parse(pair[0]), Tag::parse(pair[1]));
        assert_eq!(
            a.cmp_same_kind(&b),
            Ordering::Less,
            "{} < {}",
            pair[0],
            pair[1]
        );
        assert_eq!(
            b.cmp_same_kind(&a),
            Ordering::Greater,
            "{} > {}",
            pair[1],
            pair[0]
        );
    }
}

#[test]
fn tags_of_one_kind_order_by_version_then_suffixes() {
    ascending(&[
        "r21_0_1",
        "r21_0_1_rsp29",
        "r21_0_1_rsp103",
        "r21_0_1_rsp103_extra",
        "r21_0_1_rsp103_foo-amd64",
        "r21_0_1_rsp103_foo-arm64",
        "r21_0_1_rsp103_foo",
        "r21_0_1_c0031.004",
        "r21_0_1_c0031.004_rsp103",
        "r21_0_1_c0032.004_rsp102",
        "r21_0_1_c0032.004_rsp103",
        "r21_0_1_c0032.005_rsp101",
    ]);
    ascending(&[
        "d_2023_02_09",
        "d_2023_02_10_c0030.004",
        "d_2023_02_10_c0031.004",
        "d_2023_02_10_c0031.005",
    ]);
    ascending(&["exp_20230209", "exp_random"]);
    ascending(&["r22_0_0_rc10", "r22_0_0_rc2"]);
    ascending(&[
        "exp_r21_0_1",
        "exp_r22_0_1",
        "exp_w_2021_22",
        "exp_w_2021_23_rsp3",
        "exp_20230209",
    ]);
    assert_eq!(
        Tag::parse("w_2077_46").cmp_same_kind(&Tag::parse("w_2077_046")),
        Ordering::Equal
    );
}

#[test]
fn a_prerelease_sorts_below_its_release_and_semver_cutoffs_compare_alike() {
    let rc = Tag::parse("r28_0_0_rc1");
    let v = rc.version().unwrap();
    assert!(v
        .cmp_semver(&semver::Version::parse("28.0.0").unwrap())
        .is_lt());
    assert!(v
        .cmp_semver(&semver::Version::parse("28.0.0-rc1").unwrap())
        .is_eq());
    assert!(v
        .cmp_semver(&semver::Version::parse("28.0.0-alpha.1").unwrap())
        .is_gt());
    assert!(v
        .cmp_semver(&semver::Version::parse("27.9.9").unwrap())
        .is_gt());
    let release = Tag::parse("r28_0_0");
    assert!(v < release.version().unwrap());
}

#[test]
fn json_shape_matches_the_cli_contract() {
    let json = serde_json::to_value(Tag::parse("w_2021_22_rsp19-arm64")).unwrap();
    assert_eq!(
        json,
        serde_json::json!({
            "tag": "w_2021_22_rsp19-arm64", "image_type": "Weekly",
            "display_name": "Weekly 2021_22 (RSP Build 19) [arm64]",
            "version": {"major": 2021, "minor": 22, "patch": 0, "prerelease": null},
            "semantic": false, "base": null, "cycle": null, "cycle_build": null, "build": 19,
            "architecture": "arm64", "extra": null, "date": "2021-06-03T00:00:00Z"
        })
    );
    // Field order is part of the contract.
    assert_eq!(
        serde_json::to_string(&Tag::parse("x")).unwrap(),
        r#"{"tag":"x","image_type":"Unknown","display_name":"x","version":null,"semantic":false,"base":"x","cycle":null,"cycle_build":null,"build":null,"architecture":null,"extra":null,"date":null}"#
    );
}

/// Strings built from the pieces the patterns care about, so that generated input reaches
/// every branch (valid tags, near misses, overflow, non-ASCII digits, newlines).
fn tag_like() -> impl Strategy<Value = String> {
    joined(
        vec![
            "r",
            "w_",
            "d_",
            "exp_",
            "_",
            "-",
            "c",
            "rc",
            "rsp",
            ".",
            "0",
            "1",
            "2",
            "00",
            "07",
            "13",
            "22",
            "30",
            "53",
            "54",
            "2020",
            "2021",
            "9999",
            "99999999999",
            "99999999999999999999999",
            "amd64",
            "arm64",
            "AMD64",
            "latest",
            "recommended",
            "x",
            "\n",
            "é",
            "٣",
            " ",
        ],
        10,
    )
}

/// Up to `most - 1` of the pieces, any of them any number of times, one after another.
fn joined(pieces: Vec<&'static str>, most: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(pieces), 0..most).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn fast_parser_agrees_with_the_regex_table(text in tag_like()) {
        let (fast, slow) = (Tag::parse(&text), oracle::parse(&text));
        prop_assert!(oracle::same(&fast, &slow), "{:?}\nfast {:?}\nslow {:?}", text, fast, slow);
        let (fast, slow) = (Tag::alias(&text), oracle::alias(&text));
        prop_assert!(oracle::same(&fast, &slow), "alias {:?}\nfast {:?}\nslow {:?}", text, fast, slow);
    }

    #[test]
    fn any_string_parses_without_panicking_and_as_the_oracle(text in any::<String>()) {
        let fast = Tag::parse(&text);
        let _ = (fast.display_name(), serde_json::to_string(&fast));
        prop_assert!(oracle::same(&fast, &oracle::parse(&text)), "{:?}", text);
        let _ = Tag::alias(&text).display_name();
    }

    #[test]
    fn long_strings_parse(prefix in tag_like(), repeat in 1usize..2000, suffix in tag_like()) {
        let text = format!("{prefix}{}{suffix}", "exp_r1_2_3_c1.2".repeat(repeat));
        let fast = Tag::parse(&text);
        prop_assert!(oracle::same(&fast, &oracle::parse(&text)));
    }

    #[test]
    fn ordering_within_a_kind_is_a_total_order(a in tag_like(), b in tag_like(), c in tag_like()) {
        let tags = [Tag::parse(&a), Tag::parse(&b), Tag::parse(&c)];
        for x in &tags {
            prop_assert_eq!(x.cmp_same_kind(x), Ordering::Equal);
            for y in &tags {
                prop_assert_eq!(x.cmp_same_kind(y), y.cmp_same_kind(x).reverse());
                for z in &tags {
                    if x.cmp_same_kind(y).is_le() && y.cmp_same_kind(z).is_le() {
                        prop_assert!(x.cmp_same_kind(z).is_le());
                    }
                }
            }
        }
    }
}

/// A sort key's parts, owned, as the generator makes them (images can combine fields that no
/// single tag has, so keys are generated directly too).
#[derive(Debug, Clone)]
struct OwnedKey {
    version: Option<[OwnedNumber; 3]>,
    /// The version's prerelease, when it has one.
    prerelease: Option<String>,
    base: Option<String>,
    cycle: Option<OwnedNumber>,
    cycle_build: Option<OwnedNumber>,
    build: Option<OwnedNumber>,
    extra: Option<String>,
    architecture: Option<String>,
}

impl OwnedKey {
    /// This key with its first `shared` fields, in the order's order, taken from `other`, so
    /// that the fields after them are compared (and packed) behind equal ones.
    fn sharing(mut self, other: &OwnedKey, shared: usize) -> OwnedKey {
        let steps: [fn(&mut OwnedKey, &OwnedKey); 8] = [
            |k, o| k.base.clone_from(&o.base),
            |k, o| k.version.clone_from(&o.version),
            |k, o| k.prerelease.clone_from(&o.prerelease),
            |k, o| k.cycle.clone_from(&o.cycle),
            |k, o| k.cycle_build.clone_from(&o.cycle_build),
            |k, o| k.build.clone_from(&o.build),
            |k, o| k.extra.clone_from(&o.extra),
            |k, o| k.architecture.clone_from(&o.architecture),
        ];
        for step in steps.iter().take(shared) {
            step(&mut self, other);
        }
        self
    }

    fn key(&self) -> SortKey<'_> {
        SortKey {
            version: self.version.as_ref().map(|parts| Version {
                major: parts[0].as_number(),
                minor: parts[1].as_number(),
                patch: parts[2].as_number(),
                prerelease: self.prerelease.as_deref(),
            }),
            base: self.base.as_deref(),
            cycle: self.cycle.as_ref().map(OwnedNumber::as_number),
            cycle_build: self.cycle_build.as_ref().map(OwnedNumber::as_number),
            build: self.build.as_ref().map(OwnedNumber::as_number),
            extra: self.extra.as_deref(),
            architecture: self.architecture.as_deref(),
        }
    }
}

/// Numbers around every boundary of the prefix's code, and beyond 64 bits; mostly small ones,
/// so that the fields after them are often packed too.
fn any_number() -> impl Strategy<Value = OwnedNumber> {
    prop_oneof![
        6 => (0u64..5).prop_map(OwnedNumber::Small),
        2 => prop::sample::select(vec![
            2025,
            (1 << 61) - 1,
            1 << 61,
            (1 << 62) - 1,
            1 << 62,
            (1 << 62) + 1,
            u64::MAX - 1,
            u64::MAX,
        ])
        .prop_map(OwnedNumber::Small),
        1 => any::<u64>().prop_map(OwnedNumber::Small),
        1 => prop::sample::select(vec![
            "18446744073709551616",
            "18446744073709551617",
            "99999999999999999999",
            "100000000000000000000"
        ])
        .prop_map(|digits| OwnedNumber::Big(digits.into())),
    ]
}

/// Strings that are often equal, prefixes of one another, or longer than a prefix holds.
fn any_text() -> impl Strategy<Value = String> {
    joined(
        vec![
            "",
            "a",
            "b",
            "\0",
            "_",
            "amd64",
            "arm64",
            "é",
            "latest_weekly_",
            "\u{ff}",
        ],
        5,
    )
}

fn any_key() -> impl Strategy<Value = OwnedKey> {
    let prerelease = prop::sample::select(vec![
        "rc1", "rc2", "rc10", "1", "01", "1.01", "1.1", "alpha", "alpha.1",
    ])
    .prop_map(String::from);
    let version = [any_number(), any_number(), any_number()];
    (
        prop::option::of(version),
        prop::option::of(prerelease),
        prop::option::of(any_text()),
        prop::option::of(any_number()),
        prop::option::of(any_number()),
        prop::option::of(any_number()),
        prop::option::of(any_text()),
        prop::option::of(any_text()),
    )
        .prop_map(
            |(version, prerelease, base, cycle, cycle_build, build, extra, architecture)| {
                OwnedKey {
                    version,
                    prerelease,
                    base,
                    cycle,
                    cycle_build,
                    build,
                    extra,
                    architecture,
                }
            },
        )
}

/// What sorting by prefixes first relies on: a prefix never orders two keys otherwise than
/// the keys order, equal keys have equal prefixes, and the sort's 32 low bits stay free.
fn prefixes_agree(a: SortKey<'_>, b: SortKey<'_>) -> Result<(), TestCaseError> {
    let (pa, pb) = (a.prefix(), b.prefix());
    prop_assert!(pa >> PREFIX_BITS == 0 && pb >> PREFIX_BITS == 0);
    let order = a.cmp(&b);
    let prefixes = pa.cmp(&pb);
    prop_assert!(
        prefixes == order || (prefixes == Ordering::Equal && order != Ordering::Equal),
        "keys {:?}, prefixes {:?}\n{:?}\n{:?}",
        order,
        prefixes,
        a,
        b
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn prefixes_of_tags_never_contradict_their_order(a in tag_like(), b in tag_like()) {
        for (x, y) in [
            (Tag::parse(&a), Tag::parse(&b)),
            (Tag::alias(&a), Tag::alias(&b)),
            (Tag::parse(&a), Tag::alias(&b)),
        ] {
            prefixes_agree(x.sort_key(), y.sort_key())?;
        }
    }

    #[test]
    fn prefixes_of_any_keys_never_contradict_their_order(
        a in any_key(),
        b in any_key(),
        shared in 0usize..=8,
    ) {
        let b = b.sharing(&a, shared);
        prefixes_agree(a.key(), b.key())?;
    }
}

/// Asserts that the tags made from `names` have strictly ascending prefixes.
fn prefixes_ascend(names: &[&str], make: fn(&str) -> Tag) {
    let prefixes: Vec<u128> = names
        .iter()
        .map(|name| make(name).sort_key().prefix())
        .collect();
    assert!(prefixes.windows(2).all(|p| p[0] < p[1]), "{names:?}");
}

#[test]
fn prefixes_tell_apart_the_tags_of_a_busy_repository() {
    // Sorting relies on prefixes for speed: these neighbours must not need a whole comparison.
    prefixes_ascend(
        &[
            "d_2025_01_02-amd64",
            "d_2025_01_02-arm64",
            "d_2025_01_02",
            "d_2025_01_03",
            "d_2025_02_01",
            "d_2026_01_01",
        ],
        Tag::parse,
    );
    prefixes_ascend(
        &[
            "w_2025_40",
            "w_2025_40_c0040.001",
            "w_2025_40_c0040.002",
            "w_2025_40_c0040.002_rsp9",
            "w_2025_40_c0041.001-amd64",
            "w_2025_40_c0041.001",
            "w_2025_41",
        ],
        Tag::parse,
    );
    prefixes_ascend(
        &["latest", "latest_daily", "latest_weekly", "recommended"],
        Tag::alias,
    );
}

#[test]
fn very_deep_experimental_nesting_does_not_overflow_the_stack() {
    let text = "exp_".repeat(200_000) + "w_2021_22";
    let tag = Tag::parse(&text);
    assert_eq!(tag.kind(), TagKind::Experimental);
    assert_eq!(tag.date(), Tag::parse("w_2021_22").date());
    assert!(tag.display_name().starts_with("Experimental Experimental "));
}

#[test]
fn a_tag_stays_small() {
    // Collections hold tens of thousands of tags; their pages are much of what building one
    // costs (`rsp-images tags sort`). An absent span takes 8 bytes, and stored numbers have no
    // `Option` of their own (fields.rs).
    assert!(std::mem::size_of::<Option<fields::Span>>() <= 8);
    assert!(std::mem::size_of::<Tag>() <= 160);
}
