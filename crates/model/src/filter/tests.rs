//! Filter policies against the vectors of behaviour.md §2.5 (re-expressed), with fix 7.

use super::*;
use crate::collection::TagCollection;
use crate::collection::{ArchSpecific, FilterSide};
use crate::Tag;
use chrono::TimeZone;
use std::collections::HashSet;

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 2, 19, 17, 0, 0).unwrap()
}

fn policy(json: &str) -> ImageFilterPolicy {
    serde_json::from_str(json).unwrap()
}

fn collection(names: &[&str]) -> TagCollection {
    let aliases: HashSet<String> =
        ["recommended".to_string(), "recommended-amd64".to_string()].into();
    TagCollection::from_tag_names(names, &aliases, None)
}

fn run(
    c: &TagCollection,
    p: &ImageFilterPolicy,
    side: FilterSide,
    arch_specific: ArchSpecific,
) -> Vec<String> {
    c.filter(p, now(), side, arch_specific)
        .into_iter()
        .map(|t| t.tag().to_string())
        .collect()
}

const INPUT: [&str; 25] = [
    "recommended",
    "recommended-amd64",
    "r29_2_1_rsp2742",
    "r29_2_1_rsp2332",
    "r28_0_1",
    "r28_0_1-amd64",
    "r28_0_0",
    "r27_0_0",
    "r26_0_0",
    "w_2025_07",
    "w_2025_07-arm64",
    "w_2025_06",
    "w_2025_05",
    "w_2025_04",
    "d_2025_02_19",
    "d_2025_02_18",
    "d_2025_02_17",
    "d_2025_02_16",
    "r28_0_0_rc2-amd64",
    "r28_0_0_rc1",
    "r27_0_0_rc1",
    "exp_w_2025_07",
    "exp_w_2025_06",
    "exp_w_2025_05",
    "unknown",
];

const MIXED: &str = r#"{
    "release": {"cutoffBuild": 2600, "cutoffVersion": "27.0.0"},
    "weekly": {"age": "2w"},
    "daily": {"age": "2d", "number": 4},
    "releaseCandidate": {"cutoffVersion": "25.3.1", "number": 1},
    "experimental": {"cutoffDate": "2025-02-07"}
}"#;

#[test]
fn each_kind_is_filtered_by_its_own_criteria() {
    let c = collection(&INPUT);
    let p = policy(MIXED);
    let kept = run(&c, &p, FilterSide::Accepted, ArchSpecific::Hide);
    let want = [
        "recommended",
        "r29_2_1_rsp2742",
        "r28_0_1",
        "r28_0_0",
        "r27_0_0",
        "w_2025_07",
        "w_2025_06",
        "d_2025_02_19",
        "d_2025_02_18",
        "r28_0_0_rc1",
        "exp_w_2025_07",
        "unknown",
    ];
    assert_eq!(kept, want);
    let all_arch = run(&c, &p, FilterSide::Accepted, ArchSpecific::Keep);
    let want_all_arch = [
        "recommended",
        "recommended-amd64",
        "r29_2_1_rsp2742",
        "r28_0_1",
        "r28_0_1-amd64",
        "r28_0_0",
        "r27_0_0",
        "w_2025_07",
        "w_2025_07-arm64",
        "w_2025_06",
        "d_2025_02_19",
        "d_2025_02_18",
        "r28_0_0_rc2-amd64",
        "exp_w_2025_07",
        "unknown",
    ];
    assert_eq!(all_arch, want_all_arch);
}

#[test]
fn inverting_yields_exactly_the_complement() {
    let c = collection(&INPUT);
    let p = policy(MIXED);
    for arch_specific in [ArchSpecific::Hide, ArchSpecific::Keep] {
        let kept: HashSet<String> = run(&c, &p, FilterSide::Accepted, arch_specific)
            .into_iter()
            .collect();
        let rejected = run(&c, &p, FilterSide::Rejected, arch_specific);
        let every: Vec<String> = c
            .all_tags(arch_specific)
            .map(|t| t.tag().to_string())
            .collect();
        let complement: Vec<String> = every.into_iter().filter(|t| !kept.contains(t)).collect();
        assert_eq!(rejected, complement);
        assert!(
            !rejected.contains(&"unknown".to_string()),
            "unknown tags are never filtered"
        );
    }
}

#[test]
fn a_version_cutoff_applies_to_semantic_tags_only() {
    let c = collection(&[
        "r28_0_1",
        "r28_0_0",
        "w_2025_07",
        "w_2025_06",
        "r28_0_2_rc1",
        "r27_0_1_rc1",
        "exp_w_2025_07",
        "exp_r28_0_1_exp",
        "exp_r28_0_0_exp",
    ]);
    let cutoff = r#"{"cutoffVersion": "28.0.1"}"#;
    let p = policy(&format!(
        r#"{{"release": {cutoff}, "releaseCandidate": {cutoff}, "weekly": {cutoff}, "experimental": {cutoff}}}"#
    ));
    assert_eq!(
        run(&c, &p, FilterSide::Accepted, ArchSpecific::Hide),
        [
            "r28_0_1",
            "w_2025_07",
            "w_2025_06",
            "r28_0_2_rc1",
            "exp_w_2025_07",
            "exp_r28_0_1_exp"
        ]
    );
}

#[test]
fn the_later_of_age_and_cutoff_date_wins() {
    let c = collection(&["w_2025_07", "w_2025_06", "w_2025_05"]);
    let p = policy(r#"{"weekly": {"age": "1w", "cutoffDate": "2025-02-10T00:00:00Z"}}"#);
    assert_eq!(
        run(&c, &p, FilterSide::Accepted, ArchSpecific::Hide),
        ["w_2025_07"]
    );
    let p = policy(r#"{"weekly": {"age": "3w", "cutoffDate": "2025-02-06"}}"#);
    assert_eq!(
        run(&c, &p, FilterSide::Accepted, ArchSpecific::Hide),
        ["w_2025_07", "w_2025_06"],
        "a date equal to the cutoff is kept"
    );
}

#[test]
fn number_zero_keeps_none_and_absent_number_keeps_all() {
    let c = collection(&["w_2025_07", "w_2025_06", "w_2025_05"]);
    assert!(run(
        &c,
        &policy(r#"{"weekly": {"number": 0}}"#),
        FilterSide::Accepted,
        ArchSpecific::Hide
    )
    .is_empty());
    assert_eq!(
        run(
            &c,
            &policy(r#"{"weekly": {"number": 0}}"#),
            FilterSide::Rejected,
            ArchSpecific::Hide
        )
        .len(),
        3
    );
    assert_eq!(
        run(
            &c,
            &policy(r#"{"weekly": {}}"#),
            FilterSide::Accepted,
            ArchSpecific::Hide
        )
        .len(),
        3
    );
    assert_eq!(
        run(
            &c,
            &policy(r#"{"weekly": {"number": 2}}"#),
            FilterSide::Accepted,
            ArchSpecific::Hide
        ),
        ["w_2025_07", "w_2025_06"]
    );
}

#[test]
fn build_zero_and_cutoff_zero_compare_like_other_numbers() {
    let c = collection(&["r28_0_1_rsp5", "r28_0_0_rsp0", "r27_0_0"]);
    assert_eq!(
        run(
            &c,
            &policy(r#"{"release": {"cutoffBuild": 1}}"#),
            FilterSide::Accepted,
            ArchSpecific::Hide
        ),
        ["r28_0_1_rsp5", "r27_0_0"]
    );
    assert_eq!(
        run(
            &c,
            &policy(r#"{"release": {"cutoffBuild": 0}}"#),
            FilterSide::Accepted,
            ArchSpecific::Hide
        )
        .len(),
        3
    );
    assert_eq!(
        run(
            &c,
            &policy(r#"{"release": {"cutoffBuild": 6}}"#),
            FilterSide::Accepted,
            ArchSpecific::Hide
        ),
        ["r27_0_0"],
        "no build: not compared"
    );
}

#[test]
fn policies_accept_snake_case_and_refuse_unknown_keys() {
    let p = policy(
        r#"{"release_candidate": {"cutoff_version": "1.0.0", "cutoff_build": 3, "cutoff_date": "2025-01-01 12:00:00"}}"#,
    );
    assert_eq!(p.release_candidate.cutoff_build, Some(3));
    assert_eq!(
        p.release_candidate.cutoff_date,
        Some(Utc.with_ymd_and_hms(2025, 1, 1, 12, 0, 0).unwrap())
    );
    assert_eq!(p.for_kind(TagKind::Alias), None);
    assert!(p.for_kind(TagKind::Candidate).is_some());
    for bad in [
        r#"{"weekly": {"numbr": 1}}"#,
        r#"{"monthly": {}}"#,
        r#"{"release": {"cutoffVersion": "v1"}}"#,
        r#"{"release": {"cutoffDate": "yesterday"}}"#,
        r#"{"release": {"number": -1}}"#,
        r#"{"release": {"age": "3 fortnights"}}"#,
    ] {
        let err = serde_json::from_str::<ImageFilterPolicy>(bad)
            .unwrap_err()
            .to_string();
        assert!(!err.is_empty(), "{bad}");
    }
    let written = serde_json::to_string(&policy(
        r#"{"weekly": {"age": "2w", "cutoffVersion": "1.2.3"}}"#,
    ))
    .unwrap();
    assert!(
        written.contains(r#""weekly":{"age":1209600.0,"cutoffVersion":"1.2.3"}"#),
        "{written}"
    );
    assert_eq!(
        Tag::parse("w_2025_07").date(),
        parse_cutoff_date("2025-02-13")
    );
}
