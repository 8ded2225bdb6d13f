//! lab-form.md §6's vectors for sizes, quotas and lab requests.

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

/// **STD**: small, medium, large, huge.
fn std_sizes(default: Option<SizeName>) -> LabSizes {
    LabSizes {
        sizes: vec![
            size(SizeName::Small, ("1.0", "3Gi"), ("0.25", "0.75Gi")),
            size(SizeName::Medium, ("2.0", "6Gi"), ("0.5", "1.5Gi")),
            size(SizeName::Large, ("9.0", "27Gi"), ("2.25", "6.7Gi")),
            size(SizeName::Huge, ("12.0", "32Gi"), ("3", "8Gi")),
        ],
        default,
    }
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

#[test]
fn standard_labels() {
    let labels: Vec<String> = std_sizes(None).sizes.iter().map(LabSize::label).collect();
    assert_eq!(
        labels,
        [
            "Small (1.0 CPU, 3Gi RAM)",
            "Medium (2.0 CPU, 6Gi RAM)",
            "Large (9.0 CPU, 27Gi RAM)",
            "Huge (12.0 CPU, 32Gi RAM)"
        ]
    );
}

/// §6.1, the vectors about sizes (V13–V15 are about images: see the service's form tests).
#[test]
fn form_vectors() {
    use SizeName::*;
    let std = std_sizes(None);
    let cases: Vec<(&str, LabSizes, Option<NotebookQuota>, &str)> = vec![
        (
            "V1",
            std.clone(),
            Some(quota(9.0, 27.0)),
            "small✓ medium large",
        ),
        (
            "V2",
            LabSizes {
                sizes: vec![std.sizes[0].clone(), std.sizes[2].clone()],
                default: Some(Large),
            },
            Some(quota(9.0, 27.0)),
            "small large✓",
        ),
        ("V3", std.clone(), None, "small✓ medium large huge"),
        // A quota without `notebook` filters nothing: the user information gives no quota.
        (
            "V4",
            std_sizes(Some(Medium)),
            None,
            "small medium✓ large huge",
        ),
        (
            "V5",
            std.clone(),
            Some(NotebookQuota {
                cpu: 100.0,
                memory_gib: 100.0,
                spawn: false,
            }),
            "unavailable",
        ),
        ("V6", std.clone(), Some(quota(0.5, 1.0)), "unavailable"),
        (
            "V7",
            std_sizes(Some(Huge)),
            Some(quota(9.0, 27.0)),
            "small✓ medium large",
        ),
        (
            "V8",
            std_sizes(Some(Large)),
            Some(quota(2.0, 6.0)),
            "small✓ medium",
        ),
        ("V9", std.clone(), Some(quota(2.0, 5.99)), "small✓"),
        (
            "V11",
            LabSizes {
                sizes: vec![even(Small, "1", "4G")],
                default: None,
            },
            Some(quota(1.0, 3.72529)),
            "unavailable",
        ),
        (
            "V12",
            LabSizes {
                sizes: vec![even(Small, "1", "4G")],
                default: None,
            },
            Some(quota(1.0, 3.7253)),
            "small✓",
        ),
        ("V16", std.clone(), Some(quota(1.5, 1000.0)), "small✓"),
        ("V17", std.clone(), Some(quota(100.0, 0.0)), "unavailable"),
        (
            "V18",
            std.clone(),
            Some(quota(12.0, 32.0)),
            "small✓ medium large huge",
        ),
        (
            "V19",
            LabSizes {
                sizes: vec![even(Small, "1", "1536Mi"), even(Medium, "1", "1610612737")],
                default: None,
            },
            Some(quota(4.0, 1.5)),
            "small✓",
        ),
        (
            "V20",
            LabSizes::default(),
            Some(quota(4.0, 16.0)),
            "unavailable",
        ),
        ("V21", LabSizes::default(), None, "no sizes"),
    ];
    for (name, sizes, quota, expected) in cases {
        assert_eq!(offered(&sizes, quota), expected, "{name}");
    }
}

#[test]
fn v10_and_further_labels() {
    use SizeName::*;
    for (name, cpu, memory, label) in [
        (Fine, "500m", "1536Mi", "Fine (0.5 CPU, 1.5Gi RAM)"),
        (
            Diminutive,
            "1.234",
            "4G",
            "Diminutive (1.234 CPU, 3.72529Gi RAM)",
        ),
        (
            Tiny,
            "100000m",
            "1073741823",
            "Tiny (100.0 CPU, 1024Mi RAM)",
        ),
        (Small, "2", "512", "Small (2.0 CPU, 512 RAM)"),
        (Medium, "0.001", "1Ti", "Medium (0.001 CPU, 1Ti RAM)"),
        (Large, "1e3", "1000Gi", "Large (1000.0 CPU, 1000Gi RAM)"),
        (Huge, "1.", "1024Ki", "Huge (1.0 CPU, 1Mi RAM)"),
        (
            Gargantuan,
            "1.5",
            "1023.5Mi",
            "Gargantuan (1.5 CPU, 1023.5Mi RAM)",
        ),
        (Colossal, "3", "2.5e9", "Colossal (3.0 CPU, 2.32831Gi RAM)"),
        (Small, "inf", "1Gi", "Small (inf CPU, 1Gi RAM)"),
        (Small, "1e16", "1Gi", "Small (1e+16 CPU, 1Gi RAM)"),
        (Small, "1e-5", "1Gi", "Small (1e-05 CPU, 1Gi RAM)"),
        (Small, "-1", "1Gi", "Small (-1.0 CPU, 1Gi RAM)"),
        (Small, "1", "0", "Small (1.0 CPU, 0b RAM)"),
        (Small, "1", "1.5", "Small (1.0 CPU, 1 RAM)"),
        (Custom, "1", "1Gi", "Custom (1.0 CPU, 1Gi RAM)"),
    ] {
        assert_eq!(even(name, cpu, memory).label(), label);
    }
    // V10 as a whole: nine sizes, no quota, tiny the default.
    let v10 = LabSizes {
        sizes: [
            Fine, Diminutive, Tiny, Small, Medium, Large, Huge, Gargantuan, Colossal,
        ]
        .into_iter()
        .map(|name| even(name, "1", "1Gi"))
        .collect(),
        default: Some(Tiny),
    };
    assert_eq!(
        offered(&v10, None),
        "fine diminutive tiny✓ small medium large huge gargantuan colossal"
    );
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

const REF: &str = "lighthouse.ceres/library/sketchbook:recommended@sha256:5678";

/// §6.3 against the standard sizes and a 9/27 quota: the option rules (§5.3) and the size
/// checks of §5.4. Two rows are the lab controller's alone and have no counterpart here:
/// image resolution (the resolve route's tests cover it) and the uid/gid check of the user
/// record, which no form field can change.
#[test]
fn creation_vectors() {
    let sizes = std_sizes(None);
    let user = quota(9.0, 27.0);
    let create = |opts: Value, quota: Option<&NotebookQuota>| -> Result<LabRequest, String> {
        let request = LabRequest::from_options(&options(opts)).map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{}:{}", e.kind(), e))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        sizes
            .check(request.size, quota)
            .map_err(|refusal| refusal.to_string())?;
        Ok(request)
    };
    let ok = |opts: Value| create(opts, Some(&user)).unwrap_or_else(|e| panic!("refused: {e}"));
    let refused = |opts: Value| create(opts, Some(&user)).expect_err("accepted");

    let request = ok(json!({"image_list": [REF], "size": ["Small"]}));
    assert_eq!(request.image, ImageSelection::List(REF.into()));
    assert_eq!(request.size, SizeName::Small);
    assert!(!request.enable_debug && !request.reset_user_env);
    assert_eq!(
        refused(json!({"image_list": [REF], "size": ["tiny"]})),
        "Invalid lab size \"tiny\""
    );
    assert_eq!(
        refused(json!({"image_list": [REF], "size": ["huge"]})),
        "Insufficient quota to spawn requested lab"
    );
    assert!(refused(json!({"image_list": [REF], "size": ["xl"]})).starts_with("enum:"));
    assert_eq!(
        refused(json!({"image_list": [REF]})),
        "missing:Field required"
    );
    for bad in ["on", "True"] {
        assert_eq!(
            refused(json!({"image_list": [REF], "size": ["small"], "enable_debug": [bad]})),
            format!("value_error:Invalid boolean value {bad}")
        );
    }
    let request = ok(json!({"image_list": [REF], "size": ["small"],
        "enable_debug": true, "reset_user_env": ["false"]}));
    assert!(request.enable_debug && !request.reset_user_env);
    assert_eq!(
        refused(json!({"image_list": [REF], "size": ["small"], "foo": ["a", "b"]})),
        "value_error:Too many values for foo"
    );
    ok(json!({"image_list": [REF], "size": ["small"], "foo": ["a"]}));
    ok(json!({"image_list": [REF], "size": ["small"], "image_tag": [], "image_class": null}));
    assert_eq!(
        ok(json!({"image_list": [DROPDOWN_SENTINEL], "image_dropdown": [REF], "size": ["small"]}))
            .image,
        ImageSelection::Dropdown(REF.into())
    );
    assert_eq!(
        ok(json!({"image_list": [REF], "image_dropdown": ["junk"], "size": ["small"]})).image,
        ImageSelection::List(REF.into())
    );
    assert_eq!(
        ok(json!({"image_list": [""], "image_dropdown": [REF], "size": ["small"]})).image,
        ImageSelection::Dropdown(REF.into())
    );
    let no_spawn = NotebookQuota {
        spawn: false,
        ..user
    };
    assert_eq!(
        create(
            json!({"image_list": [REF], "size": ["small"]}),
            Some(&no_spawn)
        ),
        Err("Spawning a notebook is not permitted".into())
    );
    assert!(create(json!({"image_list": [REF], "size": ["huge"]}), None).is_ok());
    // The unavailable page submitted: no fields at all.
    assert_eq!(refused(json!({})), "missing:Field required");
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
