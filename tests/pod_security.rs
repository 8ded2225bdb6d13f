//! The pods `rsp-images plan --output manifests` prints for the demo, checked against each
//! control of the Pod Security Standards as the Kubernetes documentation's tables state them
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>), one test per
//! control: every pod passes it, and a pod changed to break it does not (so the check can
//! fail). The `restricted` profile includes every `baseline` control.

use std::process::Command;
use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{Pod, PodSecurityContext, SecurityContext};
use rsp_testkit::kube::pod_security::{violations, Control, Level};
use serde::Deserialize;

/// The planned pods of the demo (run once per test binary).
fn planned() -> &'static [Pod] {
    static PODS: OnceLock<Vec<Pod>> = OnceLock::new();
    PODS.get_or_init(|| {
        let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/demo.yaml");
        let output = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
            .args(["plan", "--config", demo, "--output", "manifests"])
            .output()
            .expect("run rsp-images plan");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).expect("UTF-8 manifests");
        let pods: Vec<Pod> = serde_yaml::Deserializer::from_str(&text)
            .map(|document| Pod::deserialize(document).expect("a Pod manifest"))
            .collect();
        assert!(!pods.is_empty(), "the demo plans some pods");
        pods
    })
}

fn pod_context(pod: &mut Pod) -> &mut PodSecurityContext {
    pod.spec
        .as_mut()
        .unwrap()
        .security_context
        .get_or_insert_with(Default::default)
}

fn container(pod: &mut Pod) -> &mut SecurityContext {
    pod.spec.as_mut().unwrap().containers[0]
        .security_context
        .get_or_insert_with(Default::default)
}

/// Every planned pod passes `control`, and a pod changed by `break_it` does not.
fn check(name: &str, break_it: impl Fn(&mut Pod)) {
    let control = Control::named(name);
    for pod in planned() {
        assert_eq!(control.check(pod), None, "{name}: {:?}", pod.metadata.name);
    }
    let mut broken = planned()[0].clone();
    break_it(&mut broken);
    assert!(
        control.check(&broken).is_some(),
        "{name}: the changed pod should break it"
    );
}

fn json<T: serde::de::DeserializeOwned>(value: serde_json::Value) -> T {
    serde_json::from_value(value).unwrap()
}

#[test]
fn the_planned_pods_pass_the_whole_restricted_profile() {
    for pod in planned() {
        assert_eq!(violations(pod, Level::Restricted), []);
    }
}

// Baseline.

#[test]
fn host_process() {
    check("HostProcess", |pod| {
        container(pod).windows_options = Some(json(serde_json::json!({"hostProcess": true})));
    });
}

#[test]
fn host_namespaces() {
    check("Host Namespaces", |pod| {
        pod.spec.as_mut().unwrap().host_pid = Some(true);
    });
}

#[test]
fn privileged_containers() {
    check("Privileged Containers", |pod| {
        container(pod).privileged = Some(true);
    });
}

#[test]
fn capabilities_baseline() {
    check("Capabilities (baseline)", |pod| {
        container(pod).capabilities = Some(json(serde_json::json!({"add": ["SYS_ADMIN"]})));
    });
}

#[test]
fn host_path_volumes() {
    check("HostPath Volumes", |pod| {
        pod.spec.as_mut().unwrap().volumes = Some(json(
            serde_json::json!([{"name": "h", "hostPath": {"path": "/"}}]),
        ));
    });
}

#[test]
fn host_ports() {
    check("Host Ports", |pod| {
        pod.spec.as_mut().unwrap().containers[0].ports = Some(json(
            serde_json::json!([{"containerPort": 80, "hostPort": 80}]),
        ));
    });
}

#[test]
fn app_armor() {
    check("AppArmor", |pod| {
        container(pod).app_armor_profile = Some(json(serde_json::json!({"type": "Unconfined"})));
    });
}

#[test]
fn selinux() {
    check("SELinux", |pod| {
        container(pod).se_linux_options = Some(json(serde_json::json!({"type": "spc_t"})));
    });
}

#[test]
fn proc_mount_type() {
    check("/proc Mount Type", |pod| {
        container(pod).proc_mount = Some("Unmasked".into());
    });
}

#[test]
fn seccomp_baseline() {
    check("Seccomp (baseline)", |pod| {
        container(pod).seccomp_profile = Some(json(serde_json::json!({"type": "Unconfined"})));
    });
}

#[test]
fn sysctls() {
    check("Sysctls", |pod| {
        pod_context(pod).sysctls = Some(json(
            serde_json::json!([{"name": "kernel.msgmax", "value": "1"}]),
        ));
    });
}

// Restricted.

#[test]
fn volume_types() {
    check("Volume Types", |pod| {
        pod.spec.as_mut().unwrap().volumes = Some(json(serde_json::json!([
            {"name": "n", "nfs": {"server": "s", "path": "/"}}
        ])));
    });
}

#[test]
fn privilege_escalation() {
    check("Privilege Escalation", |pod| {
        container(pod).allow_privilege_escalation = None;
    });
}

#[test]
fn running_as_non_root() {
    check("Running as Non-root", |pod| {
        pod_context(pod).run_as_non_root = None;
    });
}

#[test]
fn running_as_non_root_user() {
    check("Running as Non-root user", |pod| {
        container(pod).run_as_user = Some(0);
    });
}

#[test]
fn seccomp_restricted() {
    check("Seccomp", |pod| {
        pod_context(pod).seccomp_profile = None;
    });
}

#[test]
fn capabilities_restricted() {
    check("Capabilities", |pod| {
        container(pod).capabilities = None;
    });
}
