//! The original's recorded inputs and answers, read at run time from the conformance suite's
//! directory beside the project (`../shared/conformance`), never copied into the repository.
//! A missing directory fails the test with a message saying where it was looked for.

#![allow(dead_code)] // Each test binary uses a different part.

use std::path::PathBuf;

/// `../shared/conformance/nublado` relative to the project root.
pub fn nublado_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/conformance/nublado");
    assert!(
        dir.is_dir(),
        "the conformance fixtures are not at {}: this test compares with the original's \
         recorded answers, which live beside the project in ../shared",
        dir.display()
    );
    dir
}

/// The text of a fixture, e.g. `config/standard.yaml`.
pub fn read(relative: &str) -> String {
    let path = nublado_dir().join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// A fixture parsed as JSON.
pub fn json(relative: &str) -> serde_json::Value {
    serde_json::from_str(&read(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not JSON: {e}"))
}
