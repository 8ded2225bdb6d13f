//! The workspace's layering, checked from `cargo metadata` (a "tidy" test, as rust-analyzer
//! keeps its own): which workspace crate may depend on which, and which crates may use the
//! libraries that talk to the outside world. ARCHITECTURE.md describes the same layers; when
//! this test fails, either the change crossed a layer (move the code) or the layers changed
//! (change the table here and the map there together).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

/// The workspace crates each crate may depend on (normal and build dependencies). The pure
/// model depends on nothing; I/O sits at the edges (registry, kube, gafaelfawr); the service
/// composes them; only the binary sees everything. `rsp-testkit` may be a dev-dependency of
/// any crate and a normal dependency of none.
const ALLOWED_EDGES: &[(&str, &[&str])] = &[
    ("rsp-model", &[]),
    ("rsp-retry", &[]),
    ("rsp-config", &["rsp-model"]),
    ("rsp-registry", &["rsp-model", "rsp-config", "rsp-retry"]),
    ("rsp-kube", &["rsp-model", "rsp-retry"]),
    ("rsp-gafaelfawr", &["rsp-model", "rsp-config", "rsp-retry"]),
    (
        "rsp-service",
        &[
            "rsp-model",
            "rsp-config",
            "rsp-retry",
            "rsp-registry",
            "rsp-kube",
            "rsp-gafaelfawr",
        ],
    ),
    ("rsp-testkit", &["rsp-model"]),
    (
        "rsp-images",
        &[
            "rsp-model",
            "rsp-config",
            "rsp-retry",
            "rsp-registry",
            "rsp-kube",
            "rsp-gafaelfawr",
            "rsp-service",
        ],
    ),
];

/// Libraries that talk to one outside thing, and the only crates that may depend on them
/// (normal dependencies; the test kit's fakes speak every protocol).
const EDGE_LIBRARIES: &[(&str, &[&str])] = &[
    ("kube", &["rsp-kube", "rsp-testkit"]),
    ("k8s-openapi", &["rsp-kube", "rsp-testkit"]),
    (
        "reqwest",
        &["rsp-registry", "rsp-gafaelfawr", "rsp-testkit"],
    ),
    ("google-cloud-auth", &["rsp-registry"]),
    ("axum", &["rsp-service", "rsp-testkit"]),
    ("hyper", &["rsp-service", "rsp-testkit"]),
    ("tower-http", &["rsp-service"]),
    ("minijinja", &["rsp-service"]),
    ("prometheus-client", &["rsp-service"]),
];

/// What the pure crates must never depend on: no runtime, no I/O.
const PURE_CRATES: &[&str] = &["rsp-model", "rsp-retry"];
const IO_LIBRARIES: &[&str] = &[
    "tokio",
    "futures",
    "reqwest",
    "hyper",
    "axum",
    "kube",
    "k8s-openapi",
];

struct Dependency {
    name: String,
    dev_only: bool,
}

/// Each workspace crate and its dependencies, from `cargo metadata --no-deps`.
fn workspace() -> BTreeMap<String, Vec<Dependency>> {
    let output = Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata is JSON");
    let packages = metadata["packages"].as_array().expect("packages");
    packages
        .iter()
        .map(|package| {
            let dependencies = package["dependencies"]
                .as_array()
                .expect("dependencies")
                .iter()
                .map(|dependency| Dependency {
                    name: dependency["name"].as_str().expect("name").to_owned(),
                    dev_only: dependency["kind"].as_str() == Some("dev"),
                })
                .collect();
            (
                package["name"].as_str().expect("name").to_owned(),
                dependencies,
            )
        })
        .collect()
}

fn allowed(
    table: &[(&str, &'static [&'static str])],
    name: &str,
) -> Option<&'static [&'static str]> {
    table
        .iter()
        .find(|(crate_name, _)| *crate_name == name)
        .map(|(_, allowed)| *allowed)
}

#[test]
fn every_workspace_crate_is_in_the_layer_table() {
    let unknown: Vec<String> = workspace()
        .into_keys()
        .filter(|name| allowed(ALLOWED_EDGES, name).is_none())
        .collect();
    assert!(
        unknown.is_empty(),
        "crates without a layer in ALLOWED_EDGES (add them, and to ARCHITECTURE.md): {unknown:?}"
    );
}

#[test]
fn workspace_crates_depend_only_on_lower_layers() {
    let crates = workspace();
    let members: BTreeSet<&str> = crates.keys().map(String::as_str).collect();
    let mut crossings = Vec::new();
    for (name, dependencies) in &crates {
        let allowed = allowed(ALLOWED_EDGES, name).unwrap_or(&[]);
        for dependency in dependencies {
            let is_member = members.contains(dependency.name.as_str());
            if !is_member {
                continue;
            }
            let test_kit_in_tests = dependency.name == "rsp-testkit" && dependency.dev_only;
            if !test_kit_in_tests && !allowed.contains(&dependency.name.as_str()) {
                crossings.push(format!("{name} → {}", dependency.name));
            }
        }
    }
    assert!(
        crossings.is_empty(),
        "dependencies that cross a layer: {crossings:?}"
    );
}

#[test]
fn only_the_edge_crates_use_the_outside_worlds_libraries() {
    let mut crossings = Vec::new();
    for (name, dependencies) in workspace() {
        for dependency in dependencies
            .iter()
            .filter(|dependency| !dependency.dev_only)
        {
            if let Some(owners) = allowed(EDGE_LIBRARIES, &dependency.name) {
                if !owners.contains(&name.as_str()) {
                    crossings.push(format!("{name} → {} (only {owners:?})", dependency.name));
                }
            }
            if PURE_CRATES.contains(&name.as_str())
                && IO_LIBRARIES.contains(&dependency.name.as_str())
            {
                crossings.push(format!("{name} → {} (a pure crate)", dependency.name));
            }
        }
    }
    assert!(crossings.is_empty(), "I/O outside its layer: {crossings:?}");
}
