//! The shipped alert rules hang together: the PrometheusRule manifest carries exactly the
//! rule file's groups, and the promtool tests give every alert a case where it fires and one
//! where it stays quiet. (`.ci/run` runs `promtool check rules` and `promtool test rules`;
//! `tests/prometheus.rs` has a real Prometheus evaluate them.)

use serde_yaml::Value;
use std::collections::BTreeSet;

fn yaml(path: &str) -> Value {
    let path = format!("{}/deploy/prometheus/{path}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn alerts(rules: &Value) -> BTreeSet<String> {
    rules["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules"))
        .filter_map(|rule| rule["alert"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn the_prometheus_rule_manifest_carries_the_rule_file() {
    let rules = yaml("rsp-images.rules.yaml");
    let manifest = yaml("prometheusrule.yaml");
    assert_eq!(manifest["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(manifest["kind"], "PrometheusRule");
    assert_eq!(manifest["spec"]["groups"], rules["groups"]);
    assert_eq!(
        alerts(&rules),
        [
            "RspImagesColdNodesWithoutLeader",
            "RspImagesDown",
            "RspImagesListingStale",
            "RspImagesNoLeader",
            "RspImagesPrepullIncomplete",
            "RspImagesPrepullPodsStuck",
            "RspImagesPrepullsFailing",
            "RspImagesTaskRestarting",
            "RspImagesWarmTimeouts",
        ]
        .map(str::to_owned)
        .into(),
    );
}

#[test]
fn every_alert_has_a_firing_and_a_quiet_case() {
    let rules = yaml("rsp-images.rules.yaml");
    let tests = yaml("rsp-images.rules.test.yaml");
    assert_eq!(tests["rule_files"][0], "rsp-images.rules.yaml");
    let cases: Vec<(String, bool)> = tests["tests"]
        .as_sequence()
        .expect("tests")
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_sequence().expect("cases"))
        .map(|case| {
            let name = case["alertname"].as_str().expect("alertname").to_owned();
            let fires = case["exp_alerts"]
                .as_sequence()
                .is_some_and(|alerts| !alerts.is_empty());
            (name, fires)
        })
        .collect();
    for alert in alerts(&rules) {
        for fires in [true, false] {
            assert!(
                cases.contains(&(alert.clone(), fires)),
                "{alert} has no case where it {}",
                if fires { "fires" } else { "stays quiet" }
            );
        }
    }
}
