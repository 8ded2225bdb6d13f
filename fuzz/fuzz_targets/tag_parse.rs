//! Fuzzes the tag parser: it must never panic, and must agree with the original's regex table
//! (`rsp_model::tag::oracle`) on every field, for `Tag::parse` and `Tag::alias` alike.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rsp_model::tag::oracle;
use rsp_model::Tag;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let fast = Tag::parse(text);
    let slow = oracle::parse(text);
    assert!(
        oracle::same(&fast, &slow),
        "parse {text:?}\nfast {fast:?}\nslow {slow:?}"
    );
    assert!(fast.cmp_same_kind(&fast).is_eq());
    let _ = fast.display_name();
    let fast = Tag::alias(text);
    let slow = oracle::alias(text);
    assert!(
        oracle::same(&fast, &slow),
        "alias {text:?}\nfast {fast:?}\nslow {slow:?}"
    );
});
