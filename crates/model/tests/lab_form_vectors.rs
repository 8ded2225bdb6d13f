//! lab-form.md's vectors for quantities, labels, quotas and lab requests, read from the
//! specification at run time (`rsp_testkit::spec::lab_form`): the unit vectors (§6.4), the
//! label examples and table (§3.5), the quota's bytes (§2.2), V10 and the further labels
//! (§6.1), and the lab-creation vectors (§6.3) against the option rules (§5.3) and the size
//! checks (§5.4). The form itself, through HTTP, is the service's test.

use rsp_model::lab::{
    parse_cpu, parse_memory, render_cpu, render_memory, LabRequest, LabSize, LabSizes, MemoryBytes,
    NotebookQuota, OptionError, Resources, SizeName, SizeRefusal,
};
use rsp_testkit::spec::lab_form::{Creator, LabFormSpec, LabelPart, SpecQuota, SpecSize};

fn size(spec: &SpecSize) -> LabSize {
    let resources = |cpu: &str, memory: &str| Resources {
        cpu: parse_cpu(cpu).unwrap_or_else(|e| panic!("{cpu:?}: {e}")),
        memory: parse_memory(memory).unwrap_or_else(|e| panic!("{memory:?}: {e}")),
    };
    LabSize {
        name: spec.name.parse().expect("a size name"),
        limits: resources(&spec.cpu, &spec.memory),
        requests: resources(&spec.request_cpu, &spec.request_memory),
    }
}

fn quota(spec: &SpecQuota) -> NotebookQuota {
    match spec {
        SpecQuota::Notebook {
            cpu,
            memory_gib,
            spawn,
        } => NotebookQuota {
            cpu: *cpu,
            memory_gib: *memory_gib,
            spawn: spawn.unwrap_or(true),
        },
        other => panic!("not a notebook quota: {other:?}"),
    }
}

#[test]
fn memory_units() {
    for vector in LabFormSpec::load().memory_units() {
        let parsed = parse_memory(&vector.text).map(MemoryBytes::get);
        match vector.value {
            Some(bytes) => assert_eq!(parsed, Ok(bytes), "{:?}", vector.text),
            None => assert!(parsed.is_err(), "{:?} accepted: {parsed:?}", vector.text),
        }
    }
}

#[test]
fn cpu_units() {
    for vector in LabFormSpec::load().cpu_units() {
        let parsed = parse_cpu(&vector.text);
        match vector.value {
            Some(cores) => assert_eq!(parsed, Ok(cores), "{:?}", vector.text),
            None => assert!(parsed.is_err(), "{:?} accepted: {parsed:?}", vector.text),
        }
    }
}

#[test]
fn quantities_as_labels_show_them() {
    let spec = LabFormSpec::load();
    for (value, text) in spec.cpu_labels() {
        assert_eq!(render_cpu(value), text, "{value}");
    }
    for row in spec.memory_labels() {
        if let Some(configured) = &row.configured {
            let parsed = parse_memory(configured).map(MemoryBytes::get);
            assert_eq!(parsed, Ok(row.bytes), "{configured}");
        }
        let bytes = MemoryBytes::truncate(row.bytes).expect("finite");
        assert_eq!(render_memory(bytes), row.shown, "{}", row.bytes);
    }
}

#[test]
fn quota_memory_in_bytes() {
    for (gib, bytes) in LabFormSpec::load().quota_bytes() {
        let quota = NotebookQuota {
            cpu: 1.0,
            memory_gib: gib,
            spawn: true,
        };
        assert_eq!(quota.memory_bytes(), bytes, "{gib} GiB");
    }
}

#[test]
fn v10_and_further_labels() {
    let spec = LabFormSpec::load();
    for (v10, label) in spec.v10_labels() {
        assert_eq!(size(&v10).label(), label);
    }
    // Each further label changes one part of a size that is otherwise plain.
    let plain = SpecSize {
        name: "small".into(),
        cpu: "1".into(),
        memory: "1Gi".into(),
        request_cpu: "1".into(),
        request_memory: "1Gi".into(),
    };
    for (part, configured, shown) in spec.further_labels() {
        let mut other = plain.clone();
        match part {
            LabelPart::Cpu => other.cpu = configured.clone(),
            LabelPart::Memory => other.memory = configured.clone(),
            LabelPart::Size => other.name = configured.clone(),
        }
        // Requests stay plain: the label shows only limits.
        let label = size(&other).label();
        let shown_where = match part {
            LabelPart::Size => label.starts_with(&shown),
            LabelPart::Cpu | LabelPart::Memory => label.contains(&shown),
        };
        assert!(
            shown_where,
            "{configured:?}: {label:?} does not show {shown:?}"
        );
    }
}

/// Option errors as lab creation answers them: 422, their types, fields and messages.
fn refusal(errors: &[OptionError]) -> (u16, String) {
    let text = errors
        .iter()
        .map(|e| format!("{} {} {e}", e.kind(), e.field().unwrap_or_default()))
        .collect::<Vec<_>>()
        .join("; ");
    (422, text)
}

/// A size refused, as lab creation answers it (§5.4 steps 5, 8 and 9).
fn size_refusal(refusal: SizeRefusal) -> (u16, String) {
    let (status, kind) = match refusal {
        SizeRefusal::SpawnNotPermitted => (403, "permission_denied"),
        SizeRefusal::NotConfigured(_) => (422, "invalid_lab_size"),
        SizeRefusal::InsufficientQuota => (403, "insufficient_quota"),
    };
    (status, format!("{kind} size {refusal}"))
}

/// §6.3: each case's options through the option rules, then its size through the size
/// checks for the case's user, against the standard sizes.
#[test]
fn creation_vectors() {
    let spec = LabFormSpec::load();
    let sizes = LabSizes {
        sizes: spec.std_sizes().iter().map(size).collect(),
        default: None,
    };
    let user = quota(&spec.error_vector_quota());
    let reference = spec.m0_reference();
    let mut checked = 0;
    for vector in spec.creation_vectors(&reference) {
        let quota = match vector.creator {
            Creator::Standard => Some(user),
            Creator::MayNotSpawn => Some(NotebookQuota {
                spawn: false,
                ..user
            }),
            Creator::WithoutQuota => None,
            // The user record's uid is lab creation's to check: no form field reaches it.
            Creator::WithoutUid => continue,
        };
        let answer = match LabRequest::from_options(&vector.options) {
            Err(errors) => refusal(&errors),
            Ok(request) => match sizes.check(request.size, quota.as_ref()) {
                Ok(_) => (201, String::new()),
                Err(refused) => size_refusal(refused),
            },
        };
        assert_eq!(answer.0, vector.status, "{}: {}", vector.row, answer.1);
        let said = answer.1.to_lowercase();
        for mention in &vector.mentions {
            assert!(
                said.contains(&mention.to_lowercase()),
                "{}: {:?} does not mention {mention:?}",
                vector.row,
                answer.1
            );
        }
        checked += 1;
    }
    assert!(checked >= 17, "{checked} creation vectors checked");
}

#[test]
fn the_size_names_are_the_specification_s() {
    let names: Vec<String> = SizeName::ALL.iter().map(|n| n.to_string()).collect();
    assert_eq!(LabFormSpec::load().size_names(), names);
}
