//! Property tests of reading nodes as the API server sends them (`nodes::node_info`): any
//! `Node` the API can describe becomes a `NodeInfo` without panicking, by the rules of
//! behaviour.md §7.2 and §7.3. The `node_status` fuzz target drives the same function from
//! raw JSON.

use k8s_openapi::api::core::v1::{
    ContainerImage, Node, NodeCondition, NodeSpec, NodeStatus, Taint as K8sTaint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use proptest::prelude::*;
use rsp_kube::nodes::node_info;
use rsp_model::node::ImageNames;

fn image() -> impl Strategy<Value = ContainerImage> {
    (
        proptest::option::of(proptest::collection::vec(any::<String>(), 0..3)),
        proptest::option::of(any::<i64>()),
    )
        .prop_map(|(names, size_bytes)| ContainerImage { names, size_bytes })
}

fn condition() -> impl Strategy<Value = NodeCondition> {
    (
        prop_oneof![
            Just("Ready".to_owned()),
            Just("DiskPressure".to_owned()),
            any::<String>()
        ],
        prop_oneof![
            Just("True".to_owned()),
            Just("False".to_owned()),
            Just("Unknown".to_owned())
        ],
    )
        .prop_map(|(type_, status)| NodeCondition {
            type_,
            status,
            ..NodeCondition::default()
        })
}

fn taint() -> impl Strategy<Value = K8sTaint> {
    (
        any::<String>(),
        proptest::option::of(any::<String>()),
        "(NoSchedule|NoExecute|PreferNoSchedule|[a-z]{0,5})",
    )
        .prop_map(|(key, value, effect)| K8sTaint {
            key,
            value,
            effect,
            ..K8sTaint::default()
        })
}

fn node() -> impl Strategy<Value = Node> {
    (
        proptest::option::of(any::<String>()),
        proptest::option::of(proptest::collection::vec(taint(), 0..3)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(proptest::collection::vec(condition(), 0..4)),
        proptest::option::of(proptest::collection::vec(image(), 0..6)),
        any::<bool>(),
    )
        .prop_map(
            |(name, taints, unschedulable, conditions, images, has_status)| Node {
                metadata: ObjectMeta {
                    name,
                    ..ObjectMeta::default()
                },
                spec: Some(NodeSpec {
                    taints,
                    unschedulable,
                    ..NodeSpec::default()
                }),
                status: has_status.then(|| NodeStatus {
                    conditions,
                    images,
                    ..NodeStatus::default()
                }),
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_node_reads_by_the_rules(node in node()) {
        let info = node_info(&node, &mut ImageNames::default());
        let status = node.status.as_ref();
        // Images: entries without names are skipped; negative sizes are unknown.
        let expected: Vec<(Vec<String>, Option<u64>)> = status
            .and_then(|s| s.images.clone())
            .unwrap_or_default()
            .into_iter()
            .filter_map(|image| {
                let names = image.names.filter(|n| !n.is_empty())?;
                Some((names, image.size_bytes.and_then(|s| u64::try_from(s).ok())))
            })
            .collect();
        let got: Vec<(Vec<String>, Option<u64>)> =
            info.images.iter().map(|i| (i.references.iter().map(|r| r.to_string()).collect(), i.size)).collect();
        prop_assert_eq!(got, expected);
        // Readiness: the first Ready condition decides; none means unknown.
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
            .map(|c| c.status == "True");
        prop_assert_eq!(info.ready, ready);
        // Taints: all kept, an empty value is no value.
        let taints = node.spec.as_ref().and_then(|s| s.taints.clone()).unwrap_or_default();
        prop_assert_eq!(info.taints.len(), taints.len());
        for (read, sent) in info.taints.iter().zip(&taints) {
            prop_assert_eq!(&read.key, &sent.key);
            prop_assert_eq!(read.value.as_deref(), sent.value.as_deref().filter(|v| !v.is_empty()));
        }
        prop_assert_eq!(info.unschedulable, node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true));
        prop_assert_eq!(&info.name, &node.metadata.name.clone().unwrap_or_default());
        // Every cached image's digest is read without panicking.
        for image in &info.images {
            let _ = image.digest();
        }
    }

    /// Raw JSON, as a watch event body might carry it: parsed or refused, never a panic.
    #[test]
    fn any_json_is_read_or_refused(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(node) = serde_json::from_slice::<Node>(&body) {
            let _ = node_info(&node, &mut ImageNames::default());
        }
    }
}
