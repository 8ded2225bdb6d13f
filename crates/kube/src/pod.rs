//! The prepull pod: its name, its labels and its exact shape (behaviour.md §8.6, decisions.md
//! §5 fix 9 and the §8 amendment).
//!
//! A prepull pod exists only to make kubelet pull one image onto one node: it is bound to the
//! node by `nodeName` (no scheduler), asks for almost nothing, runs `/bin/true` and is deleted
//! as soon as the image is there. The shape is the original's with rsp-images' own labels and
//! name prefix (so that it and a running Nublado controller never take each other's pods for
//! their own) and a security context that passes the `restricted` Pod Security Standard. It
//! has no owner reference: see "Pod ownership" in ARCHITECTURE.md. Everything is a pure
//! function so that the `plan` command can show the pods it would create without a cluster.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, LocalObjectReference, Pod, PodSecurityContext, PodSpec,
    ResourceRequirements, SeccompProfile, SecurityContext, Toleration as K8sToleration,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use rsp_model::node::Toleration;
use rsp_model::plan::PrepullImage;
use sha2::{Digest, Sha256};

use crate::config::PodTemplate;

/// The labels of every prepull pod (the Kubernetes recommended labels). The first and the
/// last say who made it and what for; a pod carries them only if rsp-images created it.
pub const LABELS: [(&str, &str); 3] = [
    ("app.kubernetes.io/managed-by", "rsp-images"),
    ("app.kubernetes.io/name", "rsp-images"),
    ("app.kubernetes.io/component", "prepuller"),
];
/// Label selector matching rsp-images' prepull pods, and no other prepuller's.
pub const PREPULLER_SELECTOR: &str =
    "app.kubernetes.io/managed-by=rsp-images,app.kubernetes.io/component=prepuller";
/// Every prepull pod's name starts with this (the original controller's start `prepull-`).
pub const NAME_PREFIX: &str = "rsp-prepull-";
/// The fixed non-root user (and group) the container runs as: `nobody` on most images, and
/// numeric so that kubelet needs nothing from the image to know it is not root.
pub const RUN_AS: i64 = 65534;
/// Name of the single container.
pub const CONTAINER_NAME: &str = "prepull";
/// Longest name Kubernetes accepts for a pod (a DNS-1123 subdomain).
const MAX_NAME: usize = 253;
/// Length of the `-` + 8 hex digits suffix that makes a cleaned name unique.
const SUFFIX_LEN: usize = 9;

/// Whether a pod is one rsp-images created (it carries rsp-images' prepull labels).
pub fn is_ours(pod: &Pod) -> bool {
    let labels = pod.metadata.labels.as_ref();
    [LABELS[0], LABELS[2]].iter().all(|(key, value)| {
        labels
            .and_then(|labels| labels.get(*key))
            .is_some_and(|v| v == value)
    })
}

/// The pod name for pulling `image` onto `node`.
///
/// The original's rule (tag with `_` → `-`, characters outside `[A-Za-z0-9_.-]` removed,
/// except that the `/` and `:` of an init container image's reference, which no lab tag
/// holds, become `-` so that its name stays readable,
/// `{prefix}{tag}-{node}`, at most 253 characters), lower-cased, with rsp-images' prefix. When that is not a valid
/// DNS-1123 subdomain, was changed by lower-casing, or had to be truncated, the name could
/// be invalid or shared by two different pulls (`W_1` and `w-1`), so it is cleaned and given
/// a suffix hashed from the reference with digest and the node.
pub fn pod_name(image: &PrepullImage, node: &str) -> String {
    let tag: String = image
        .tag
        .chars()
        .map(|c| if matches!(c, '_' | '/' | ':') { '-' } else { c })
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
        .collect();
    let original = format!("{NAME_PREFIX}{tag}-{node}");
    let lowered = original.to_lowercase();
    if lowered == original && original.len() <= MAX_NAME && is_dns_subdomain(&lowered) {
        return lowered;
    }
    let mut cleaned = clean_subdomain(&lowered);
    truncate_chars(&mut cleaned, MAX_NAME - SUFFIX_LEN);
    let cleaned = cleaned.trim_end_matches(['-', '.']);
    format!("{cleaned}-{}", pull_hash(image, node))
}

/// First 8 hex digits of sha256(reference with digest, NUL, node).
fn pull_hash(image: &PrepullImage, node: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(image.reference_with_digest.as_bytes());
    hasher.update([0]);
    hasher.update(node.as_bytes());
    hasher.finalize()[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// Whether `name` is a DNS-1123 subdomain: dot-separated labels of `[a-z0-9-]`, each starting
/// and ending with an alphanumeric character, 253 characters at most.
pub fn is_dns_subdomain(name: &str) -> bool {
    rsp_model::validation::dns1123_subdomain_errors(name).is_empty()
}

/// Maps characters a subdomain cannot hold to `-` and trims labels to alphanumeric ends,
/// dropping labels left empty.
fn clean_subdomain(name: &str) -> String {
    let mapped: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' {
                c
            } else {
                '-'
            }
        })
        .collect();
    mapped
        .split('.')
        .map(|label| label.trim_matches('-'))
        .filter(|label| !label.is_empty())
        .collect::<Vec<_>>()
        .join(".")
}

fn truncate_chars(text: &mut String, max: usize) {
    if let Some((index, _)) = text.char_indices().nth(max) {
        text.truncate(index);
    }
}

/// The complete prepull pod for pulling `image` onto `node`.
pub fn prepull_pod(template: &PodTemplate, image: &PrepullImage, node: &str) -> Pod {
    let limits = BTreeMap::from([
        ("cpu".to_owned(), Quantity("1m".to_owned())),
        ("memory".to_owned(), Quantity("16Mi".to_owned())),
    ]);
    Pod {
        metadata: ObjectMeta {
            name: Some(pod_name(image, node)),
            namespace: Some(template.namespace.clone()),
            labels: Some(
                LABELS
                    .iter()
                    .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
                    .collect(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: CONTAINER_NAME.to_owned(),
                image: Some(image.reference_with_digest.clone()),
                command: Some(vec!["/bin/true".to_owned()]),
                working_dir: Some("/tmp".to_owned()),
                resources: Some(ResourceRequirements {
                    limits: Some(limits.clone()),
                    requests: Some(limits),
                    ..ResourceRequirements::default()
                }),
                security_context: Some(container_security()),
                ..Container::default()
            }],
            image_pull_secrets: template
                .pull_secret
                .as_ref()
                .map(|name| vec![LocalObjectReference { name: name.clone() }]),
            node_name: Some(node.to_owned()),
            restart_policy: Some("Never".to_owned()),
            tolerations: (!template.tolerations.is_empty())
                .then(|| template.tolerations.iter().map(k8s_toleration).collect()),
            automount_service_account_token: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(RUN_AS),
                run_as_group: Some(RUN_AS),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    localhost_profile: None,
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// The container's part of the `restricted` profile: no privilege escalation and no
/// capabilities, which `/bin/true` never needs. The pod runs as a fixed numeric non-root user
/// (`runAsNonRoot` with `runAsUser`), which needs nothing from the image: kubelet checks the
/// number it was given, not the image's `USER`, so images that declare root still start (a
/// bare `runAsNonRoot` would refuse them with `CreateContainerConfigError` and never report
/// an `imageID`). An image without `/bin/true` still fails to start after the pull, and the
/// pull counts (see `prepuller::observe`). The pod gets no service-account token because it
/// never talks to the API.
fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: None,
        }),
        ..SecurityContext::default()
    }
}

/// A configured toleration in the pod. `tolerationSeconds` is kept only with the `NoExecute`
/// effect: the API server refuses it with any other (Nublado configurations carry it anyway,
/// so the configuration accepts it with a warning, see `rsp_config`).
fn k8s_toleration(toleration: &Toleration) -> K8sToleration {
    K8sToleration {
        effect: toleration.effect.clone(),
        key: toleration.key.clone(),
        operator: Some(toleration.operator.as_str().to_owned()),
        toleration_seconds: toleration
            .toleration_seconds
            .filter(|_| toleration.effect.as_deref() == Some("NoExecute")),
        value: toleration.value.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsp_model::node::TolerationOperator;

    #[test]
    fn toleration_seconds_stay_only_with_no_execute() {
        let timed = |effect: &str| Toleration {
            effect: Some(effect.into()),
            key: Some("k".into()),
            operator: TolerationOperator::Exists,
            toleration_seconds: Some(60),
            value: None,
        };
        assert_eq!(
            k8s_toleration(&timed("NoSchedule")).toleration_seconds,
            None
        );
        assert_eq!(
            k8s_toleration(&timed("NoExecute")).toleration_seconds,
            Some(60)
        );
    }

    fn image(tag: &str) -> PrepullImage {
        rsp_testkit::builders::image(tag, "sha256:1234")
    }

    #[test]
    fn valid_names_keep_the_original_rule() {
        assert_eq!(
            pod_name(&image("d_2077_10_23"), "node2"),
            "rsp-prepull-d-2077-10-23-node2"
        );
        assert_eq!(
            pod_name(&image("w_2077_43_c0050.002"), "node1"),
            "rsp-prepull-w-2077-43-c0050.002-node1"
        );
    }

    #[test]
    fn init_container_images_are_named_by_their_reference() {
        let image = rsp_model::init_image::InitImage::new("ghcr.io/lsst-sqre/nublado", "10.0.0");
        assert_eq!(
            pod_name(&image.prepull_image(), "node1"),
            "rsp-prepull-ghcr.io-lsst-sqre-nublado-10.0.0-node1"
        );
    }

    #[test]
    fn lower_cased_names_get_a_hash() {
        let name = pod_name(&image("MiXeD_CaSe_TaG"), "node1");
        assert!(
            name.starts_with("rsp-prepull-mixed-case-tag-node1-"),
            "{name}"
        );
        assert_eq!(name.len(), "rsp-prepull-mixed-case-tag-node1-".len() + 8);
        assert!(is_dns_subdomain(&name));
        // `w-1` and `W_1` would share a name under a plain lower-casing rule.
        assert_ne!(name, pod_name(&image("mixed-case-tag"), "node1"));
        assert_eq!(
            pod_name(&image("mixed-case-tag"), "node1"),
            "rsp-prepull-mixed-case-tag-node1"
        );
    }

    #[test]
    fn invalid_subdomains_are_cleaned() {
        for tag in ["exp..weird", "a.-b", "_", "trailing."] {
            let name = pod_name(&image(tag), "node1");
            assert!(is_dns_subdomain(&name), "{tag} → {name}");
        }
        let name = pod_name(&image("exp..weird"), "node1");
        assert!(name.starts_with("rsp-prepull-exp.weird-node1-"), "{name}");
    }

    #[test]
    fn long_names_are_truncated_and_distinct() {
        let long_a = "x".repeat(300);
        let long_b = format!("{}y", "x".repeat(299));
        let a = pod_name(&image(&long_a), "node1");
        let b = pod_name(&image(&long_b), "node1");
        assert!(a.len() <= 253 && is_dns_subdomain(&a), "{a}");
        assert!(is_dns_subdomain(&b));
        assert_ne!(a, b);
    }

    #[test]
    fn subdomain_validation() {
        assert!(is_dns_subdomain("a.b-c.d0"));
        for bad in ["", "-a", "a-", "a..b", "A", "a_b", ".a", "a."] {
            assert!(!is_dns_subdomain(bad), "{bad}");
        }
        assert!(!is_dns_subdomain(&"a".repeat(254)));
    }

    #[test]
    fn pod_without_secret_or_tolerations_omits_them() {
        let template = PodTemplate {
            namespace: "ns".into(),
            ..PodTemplate::default()
        };
        let pod = prepull_pod(&template, &image("w_2077_43"), "node1");
        assert!(pod.metadata.owner_references.is_none());
        assert!(is_ours(&pod));
        let spec = pod.spec.unwrap();
        assert!(spec.image_pull_secrets.is_none());
        assert!(spec.tolerations.is_none());
        assert_eq!(spec.node_name.as_deref(), Some("node1"));
    }
}
