//! Reference parsing against the pattern of behaviour.md §4, on examples and generated input.

use super::*;
use proptest::prelude::*;
use regex::Regex;

fn parts(r: &DockerReference) -> (&str, &str, Option<&str>, Option<&str>) {
    (
        &r.registry,
        &r.repository,
        r.tag.as_deref(),
        r.digest.as_deref(),
    )
}

#[test]
fn full_reference_splits_into_its_parts() {
    let r = DockerReference::parse("lighthouse.ceres/library/sketchbook:w_2077_43@sha256:5678")
        .unwrap();
    assert_eq!(
        parts(&r),
        (
            "lighthouse.ceres",
            "library/sketchbook",
            Some("w_2077_43"),
            Some("sha256:5678")
        )
    );
    assert_eq!(
        r.to_string(),
        "lighthouse.ceres/library/sketchbook:w_2077_43@sha256:5678"
    );
}

#[test]
fn registry_keeps_its_port_and_is_never_normalised() {
    let r = DockerReference::parse("localhost:5000/a/b:t").unwrap();
    assert_eq!(parts(&r), ("localhost:5000", "a/b", Some("t"), None));
    let r = DockerReference::parse("library/ubuntu:20.04").unwrap();
    assert_eq!(parts(&r), ("library", "ubuntu", Some("20.04"), None));
}

#[test]
fn tag_and_digest_are_optional_and_a_tag_may_hold_colons_and_slashes() {
    let r = DockerReference::parse("lighthouse.ceres/library/sketchbook@sha256:5678").unwrap();
    assert_eq!(
        parts(&r),
        (
            "lighthouse.ceres",
            "library/sketchbook",
            None,
            Some("sha256:5678")
        )
    );
    let r = DockerReference::parse("r/x:a:b/c@d@e").unwrap();
    assert_eq!(parts(&r), ("r", "x", Some("a:b/c"), Some("d@e")));
    let r = DockerReference::parse("r/x").unwrap();
    assert_eq!(parts(&r), ("r", "x", None, None));
}

#[test]
fn each_malformed_reference_names_its_problem() {
    let problem = |text: &str| DockerReference::parse(text).unwrap_err().problem;
    assert_eq!(
        problem("sketchbook:w_2077_43"),
        ReferenceProblem::NoRegistry
    );
    assert_eq!(
        problem("/library/sketchbook"),
        ReferenceProblem::EmptyRegistry
    );
    assert_eq!(problem("registry/:tag"), ReferenceProblem::EmptyRepository);
    assert_eq!(problem("registry/repo:"), ReferenceProblem::EmptyTag);
    assert_eq!(
        problem("registry/repo:@sha256:1"),
        ReferenceProblem::EmptyTag
    );
    assert_eq!(problem("registry/repo@"), ReferenceProblem::EmptyDigest);
    assert_eq!(
        problem("registry/repo@sha\n256"),
        ReferenceProblem::LineBreakInDigest
    );
    let message = DockerReference::parse("sketchbook")
        .unwrap_err()
        .to_string();
    assert!(
        message.starts_with("Invalid Docker reference \"sketchbook\""),
        "{message}"
    );
}

fn oracle() -> Regex {
    Regex::new(
        r"^(?P<registry>[^/]+)/(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$",
    )
    .unwrap()
}

proptest! {
    #[test]
    fn agrees_with_the_original_pattern(text in "[a-z/:@.\n]{0,12}|.{0,40}") {
        let re = oracle();
        let expected = re.captures(&text).map(|c| {
            let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
            DockerReference {
                registry: get("registry").unwrap(),
                repository: get("repository").unwrap(),
                tag: get("tag"),
                digest: get("digest"),
            }
        });
        let got = DockerReference::parse(&text);
        prop_assert_eq!(got.as_ref().ok(), expected.as_ref());
        if let Ok(r) = got {
            prop_assert_eq!(r.to_string(), text);
        }
    }
}
