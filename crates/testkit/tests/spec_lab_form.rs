//! lab-form.md's vectors are all read: every form and error vector in order, the creation
//! and unit vectors, the label tables. The tests that use them assert what they mean.

use rsp_testkit::spec::lab_form::{FormAnswer, LabFormSpec};

#[test]
fn every_vector_is_read() {
    let spec = LabFormSpec::load();
    let ids: Vec<String> = spec.form_vectors().into_iter().map(|v| v.id).collect();
    let expected: Vec<String> = (1..=ids.len()).map(|n| format!("V{n}")).collect();
    assert_eq!(ids, expected);
    assert!(ids.len() >= 21);
    for vector in spec.form_vectors() {
        if let FormAnswer::Form {
            sizes: Some((sizes, default)),
        } = &vector.answer
        {
            assert!(sizes.contains(default), "{vector:?}");
        }
    }
    let ids: Vec<String> = spec.error_vectors().into_iter().map(|v| v.id).collect();
    let expected: Vec<String> = (1..=ids.len()).map(|n| format!("E{n}")).collect();
    assert_eq!(ids, expected);
    assert!(spec.creation_vectors("r.example/lab:tag").len() >= 18);
    let memory = spec.memory_units();
    assert!(memory
        .iter()
        .any(|v| v.text == " 4Gi" && v.value == Some(4294967296.0)));
    assert!(memory.iter().any(|v| v.text == "4Gi " && v.value.is_none()));
    assert!(spec
        .cpu_units()
        .iter()
        .any(|v| v.text == "1.2345" && v.value.is_none()));
    assert_eq!(
        spec.size_names().iter().filter(|n| *n == "custom").count(),
        1
    );
}
