//! Fuzzes Docker reference parsing: it must never panic, must accept exactly what the
//! original's pattern accepts with the same parts, and must print a parsed reference back as
//! it was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use regex::Regex;
use rsp_model::reference::DockerReference;
use std::sync::OnceLock;

fn pattern() -> &'static Regex {
    static PATTERN: OnceLock<Regex> = OnceLock::new();
    PATTERN.get_or_init(|| {
        Regex::new(
            r"^(?P<registry>[^/]+)/(?P<repository>[^:@]+)(?::(?P<tag>[^@]+))?(?:@(?P<digest>.+))?$",
        )
        .expect("valid pattern")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = DockerReference::parse(text);
    let expected = pattern().captures(text).map(|c| {
        let get = |n: &str| c.name(n).map(|m| m.as_str().to_string());
        (
            get("registry"),
            get("repository"),
            get("tag"),
            get("digest"),
        )
    });
    match (&parsed, expected) {
        (Ok(r), Some(e)) => {
            assert_eq!(
                (
                    Some(r.registry.clone()),
                    Some(r.repository.clone()),
                    r.tag.clone(),
                    r.digest.clone()
                ),
                e
            );
            assert_eq!(r.to_string(), text);
        }
        (Err(_), None) => {}
        (got, want) => panic!("{text:?}: parsed {got:?}, pattern {want:?}"),
    }
});
