//! Sizes, quotas and lab requests on cases of our own; lab-form.md's vectors are read from the
//! specification by `tests/lab_form_vectors.rs` (and the form's by the service's tests).

use super::*;
use crate::api::ImageClass;
use serde_json::{json, Map, Value};

fn size(name: SizeName, limits: (&str, &str), requests: (&str, &str)) -> LabSize {
    let resources = |(cpu, memory): (&str, &str)| Resources {
        cpu: parse_cpu(cpu).unwrap(),
        memory: parse_memory(memory).unwrap(),
    };
    LabSize {
        name,
        limits: resources(limits),
        requests: resources(requests),
    }
}

/// A size whose requests equal its limits.
fn even(name: SizeName, cpu: &str, memory: &str) -> LabSize {
    size(name, (cpu, memory), (cpu, memory))
}

fn quota(cpu: f64, memory_gib: f64) -> NotebookQuota {
    NotebookQuota {
        cpu,
        memory_gib,
        spawn: true,
    }
}

/// The offered names with the default marked `✓`, or `unavailable` / `no sizes`.
fn offered(sizes: &LabSizes, quota: Option<NotebookQuota>) -> String {
    match sizes.offer(quota.as_ref()) {
        SizeOffer::Sizes { sizes, default } => sizes
            .iter()
            .map(|s| {
                let mark = if s.name == default { "✓" } else { "" };
                format!("{}{mark}", s.name)
            })
            .collect::<Vec<_>>()
            .join(" "),
        SizeOffer::Unavailable => "unavailable".into(),
        SizeOffer::NoSizes => "no sizes".into(),
    }
}

/// Three sizes of our own: 1 CPU/2 GiB, 2/4, 4/8, the middle one the default.
fn own_sizes(default: Option<SizeName>) -> LabSizes {
    LabSizes {
        sizes: vec![
            even(SizeName::Tiny, "1", "2Gi"),
            even(SizeName::Small, "2", "4Gi"),
            even(SizeName::Medium, "4", "8Gi"),
        ],
        default,
    }
}

#[test]
fn the_quota_filters_sizes_and_the_default_falls_back_to_the_first() {
    use SizeName::*;
    let sizes = own_sizes(Some(Small));
    assert_eq!(offered(&sizes, None), "tiny small✓ medium");
    // Both limits within the quota, equality included.
    assert_eq!(offered(&sizes, Some(quota(2.0, 4.0))), "tiny small✓");
    assert_eq!(offered(&sizes, Some(quota(4.0, 3.0))), "tiny✓");
    assert_eq!(offered(&sizes, Some(quota(0.5, 100.0))), "unavailable");
    let no_spawn = NotebookQuota {
        spawn: false,
        ..quota(100.0, 100.0)
    };
    assert_eq!(offered(&sizes, Some(no_spawn)), "unavailable");
    assert_eq!(offered(&LabSizes::default(), None), "no sizes");
    assert_eq!(
        offered(&LabSizes::default(), Some(quota(1.0, 1.0))),
        "unavailable"
    );
    assert_eq!(
        sizes.check(Medium, Some(&quota(2.0, 4.0))),
        Err(SizeRefusal::InsufficientQuota)
    );
    assert_eq!(
        sizes.check(Huge, None),
        Err(SizeRefusal::NotConfigured(Huge))
    );
    assert_eq!(
        sizes.check(Tiny, Some(&no_spawn)),
        Err(SizeRefusal::SpawnNotPermitted)
    );
    assert!(sizes.check(Medium, None).is_ok());
    assert_eq!(sizes.sizes[2].label(), "Medium (4.0 CPU, 8Gi RAM)");
}

#[test]
fn a_nan_limit_never_fits() {
    let sizes = LabSizes {
        sizes: vec![even(SizeName::Small, "nan", "1Gi")],
        default: None,
    };
    assert_eq!(
        offered(&sizes, Some(quota(f64::INFINITY, 100.0))),
        "unavailable"
    );
}

#[test]
fn size_names_are_lowercase_protocol_constants() {
    assert_eq!("small".parse(), Ok(SizeName::Small));
    assert!("Small".parse::<SizeName>().is_err());
    assert!("xl".parse::<SizeName>().is_err());
    assert_eq!(SizeName::Gargantuan.title(), "Gargantuan");
    for name in SizeName::ALL {
        assert_eq!(name.as_str().parse(), Ok(name));
    }
}

fn options(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

#[test]
fn every_field_error_is_reported_together() {
    let errors = LabRequest::from_options(&options(json!({
        "size": "xl", "enable_debug": "on", "image_class": "newest"
    })))
    .unwrap_err();
    let fields: Vec<Option<&str>> = errors.iter().map(OptionError::field).collect();
    assert_eq!(
        fields,
        [Some("size"), Some("enable_debug"), Some("image_class")]
    );
}

#[test]
fn image_rules() {
    let select = |v: Value| ImageSelection::from_options(&options(v));
    assert_eq!(select(json!({})), Err(OptionError::NoImage));
    assert_eq!(
        select(json!({"image_list": [DROPDOWN_SENTINEL]})),
        Err(OptionError::NoImage)
    );
    assert_eq!(
        select(json!({"image_class": "recommended", "image_tag": "x", "image_dropdown": "d"})),
        Err(OptionError::MultipleWays(vec![
            "image_class",
            "image_dropdown",
            "image_tag"
        ]))
    );
    assert_eq!(
        select(json!({"image_class": ["latest-weekly"], "size": "anything"})),
        Ok(ImageSelection::Class(ImageClass::LatestWeekly))
    );
    assert_eq!(
        select(json!({"image_tag": 5})),
        Err(OptionError::NotAString("image_tag"))
    );
    assert_eq!(
        select(json!({"image_tag": ["a", "b"]})),
        Err(OptionError::TooManyValues("image_tag".into()))
    );
}
