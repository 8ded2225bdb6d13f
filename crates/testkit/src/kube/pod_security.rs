//! The Pod Security Standards, control by control, as the table of
//! <https://kubernetes.io/docs/concepts/security/pod-security-standards/> states them, and
//! their enforcement by Pod Security Admission in namespaces labelled
//! `pod-security.kubernetes.io/enforce: baseline|restricted`.
//!
//! Each [`Control`] checks the restricted fields the table lists against its allowed values
//! and reports a violation in the words of the admission plugin
//! (`k8s.io/pod-security-admission/policy`), which the API server joins into its 403:
//! `pods "NAME" is forbidden: violates PodSecurity "restricted:latest": REASON (DETAIL), …`.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, SecurityContext};

/// A profile of the standard; each includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Restricted,
}

impl Level {
    /// The value of the `pod-security.kubernetes.io/enforce` namespace label.
    pub fn from_label(value: &str) -> Option<Level> {
        match value {
            "baseline" => Some(Level::Baseline),
            "restricted" => Some(Level::Restricted),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

/// Why a pod breaks a control: the admission plugin's reason and detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub reason: &'static str,
    pub detail: String,
}

/// One row of the standard's tables.
pub struct Control {
    /// The control's name in the table.
    pub name: &'static str,
    /// The profile whose table lists it.
    pub level: Level,
    check: fn(&PodSpec) -> Option<Violation>,
}

impl Control {
    /// The violation of this control by `pod`, if any.
    pub fn check(&self, pod: &Pod) -> Option<Violation> {
        let spec = pod.spec.clone().unwrap_or_default();
        (self.check)(&spec)
    }

    /// The control of the given name (panics on an unknown name: a mistake in a test).
    pub fn named(name: &str) -> &'static Control {
        CONTROLS
            .iter()
            .find(|control| control.name == name)
            .unwrap_or_else(|| panic!("no Pod Security Standards control named {name:?}"))
    }
}

/// Every control of the baseline and restricted tables, in the documentation's order.
pub static CONTROLS: [Control; 17] = [
    Control {
        name: "HostProcess",
        level: Level::Baseline,
        check: host_process,
    },
    Control {
        name: "Host Namespaces",
        level: Level::Baseline,
        check: host_namespaces,
    },
    Control {
        name: "Privileged Containers",
        level: Level::Baseline,
        check: privileged,
    },
    Control {
        name: "Capabilities (baseline)",
        level: Level::Baseline,
        check: baseline_capabilities,
    },
    Control {
        name: "HostPath Volumes",
        level: Level::Baseline,
        check: host_path_volumes,
    },
    Control {
        name: "Host Ports",
        level: Level::Baseline,
        check: host_ports,
    },
    Control {
        name: "AppArmor",
        level: Level::Baseline,
        check: app_armor,
    },
    Control {
        name: "SELinux",
        level: Level::Baseline,
        check: selinux,
    },
    Control {
        name: "/proc Mount Type",
        level: Level::Baseline,
        check: proc_mount,
    },
    Control {
        name: "Seccomp (baseline)",
        level: Level::Baseline,
        check: baseline_seccomp,
    },
    Control {
        name: "Sysctls",
        level: Level::Baseline,
        check: sysctls,
    },
    Control {
        name: "Volume Types",
        level: Level::Restricted,
        check: volume_types,
    },
    Control {
        name: "Privilege Escalation",
        level: Level::Restricted,
        check: privilege_escalation,
    },
    Control {
        name: "Running as Non-root",
        level: Level::Restricted,
        check: run_as_non_root,
    },
    Control {
        name: "Running as Non-root user",
        level: Level::Restricted,
        check: run_as_non_root_user,
    },
    Control {
        name: "Seccomp",
        level: Level::Restricted,
        check: restricted_seccomp,
    },
    Control {
        name: "Capabilities",
        level: Level::Restricted,
        check: restricted_capabilities,
    },
];

/// Every violation of `level` (and the levels it includes) by `pod`.
pub fn violations(pod: &Pod, level: Level) -> Vec<Violation> {
    CONTROLS
        .iter()
        .filter(|control| control.level <= level)
        .filter_map(|control| control.check(pod))
        .collect()
}

/// The API server's message for a pod refused by admission.
pub fn forbidden_message(name: &str, level: Level, violations: &[Violation]) -> String {
    let reasons: Vec<String> = violations
        .iter()
        .map(|v| format!("{} ({})", v.reason, v.detail))
        .collect();
    format!(
        "pods {name:?} is forbidden: violates PodSecurity \"{}:latest\": {}",
        level.as_str(),
        reasons.join(", ")
    )
}

/// Regular, init and ephemeral containers with their security contexts.
fn containers(spec: &PodSpec) -> impl Iterator<Item = (&str, Option<&SecurityContext>)> {
    let regular = spec.containers.iter();
    let init = spec.init_containers.iter().flatten();
    regular
        .chain(init)
        .map(|c: &Container| (c.name.as_str(), c.security_context.as_ref()))
        .chain(
            spec.ephemeral_containers
                .iter()
                .flatten()
                .map(|c| (c.name.as_str(), c.security_context.as_ref())),
        )
}

/// `container "a"` / `containers "a", "b"`.
fn named(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
    match quoted.len() {
        1 => format!("container {}", quoted[0]),
        _ => format!("containers {}", quoted.join(", ")),
    }
}

/// The containers for which `bad` holds, as a violation if there are any.
fn by_container(
    spec: &PodSpec,
    reason: &'static str,
    bad: impl Fn(Option<&SecurityContext>) -> bool,
    detail: impl Fn(String) -> String,
) -> Option<Violation> {
    let names: Vec<&str> = containers(spec)
        .filter(|(_, context)| bad(*context))
        .map(|(name, _)| name)
        .collect();
    (!names.is_empty()).then(|| Violation {
        reason,
        detail: detail(named(&names)),
    })
}

fn host_process(spec: &PodSpec) -> Option<Violation> {
    let pod = spec
        .security_context
        .as_ref()
        .and_then(|c| c.windows_options.as_ref())
        .and_then(|w| w.host_process)
        == Some(true);
    let container = by_container(
        spec,
        "hostProcess",
        |c| {
            c.and_then(|c| c.windows_options.as_ref())
                .and_then(|w| w.host_process)
                == Some(true)
        },
        |who| format!("{who} must not set securityContext.windowsOptions.hostProcess=true"),
    );
    match (pod, container) {
        (_, Some(v)) => Some(v),
        (true, None) => Some(Violation {
            reason: "hostProcess",
            detail: "pod must not set securityContext.windowsOptions.hostProcess=true".into(),
        }),
        (false, None) => None,
    }
}

fn host_namespaces(spec: &PodSpec) -> Option<Violation> {
    let set: Vec<&str> = [
        ("hostNetwork=true", spec.host_network),
        ("hostPID=true", spec.host_pid),
        ("hostIPC=true", spec.host_ipc),
    ]
    .into_iter()
    .filter(|(_, on)| *on == Some(true))
    .map(|(name, _)| name)
    .collect();
    (!set.is_empty()).then(|| Violation {
        reason: "host namespaces",
        detail: set.join(", "),
    })
}

fn privileged(spec: &PodSpec) -> Option<Violation> {
    by_container(
        spec,
        "privileged",
        |c| c.and_then(|c| c.privileged) == Some(true),
        |who| format!("{who} must not set securityContext.privileged=true"),
    )
}

/// The capabilities the baseline allows adding (the container runtime's defaults).
const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

fn added_capabilities(context: Option<&SecurityContext>) -> Vec<&str> {
    context
        .and_then(|c| c.capabilities.as_ref())
        .and_then(|c| c.add.as_ref())
        .into_iter()
        .flatten()
        .map(String::as_str)
        .collect()
}

fn baseline_capabilities(spec: &PodSpec) -> Option<Violation> {
    by_container(
        spec,
        "non-default capabilities",
        |c| {
            added_capabilities(c)
                .iter()
                .any(|cap| !BASELINE_CAPABILITIES.contains(cap))
        },
        |who| {
            format!("{who} must not include non-default capabilities in securityContext.capabilities.add")
        },
    )
}

fn host_path_volumes(spec: &PodSpec) -> Option<Violation> {
    let names: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| v.host_path.is_some())
        .map(|v| format!("{:?}", v.name))
        .collect();
    (!names.is_empty()).then(|| Violation {
        reason: "hostPath volumes",
        detail: format!("volumes {}", names.join(", ")),
    })
}

fn host_ports(spec: &PodSpec) -> Option<Violation> {
    let ports: Vec<String> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .flat_map(|c| c.ports.iter().flatten())
        .filter_map(|p| p.host_port.filter(|port| *port != 0))
        .map(|port| port.to_string())
        .collect();
    (!ports.is_empty()).then(|| Violation {
        reason: "hostPort",
        detail: format!("hostPorts {}", ports.join(", ")),
    })
}

fn app_armor(spec: &PodSpec) -> Option<Violation> {
    let allowed = |t: &str| matches!(t, "RuntimeDefault" | "Localhost");
    let pod_bad = spec
        .security_context
        .as_ref()
        .and_then(|c| c.app_armor_profile.as_ref())
        .is_some_and(|p| !allowed(&p.type_));
    let container = by_container(
        spec,
        "forbidden AppArmor profile",
        |c| {
            c.and_then(|c| c.app_armor_profile.as_ref())
                .is_some_and(|p| !allowed(&p.type_))
        },
        |who| {
            format!("{who} must not set an AppArmor profile other than RuntimeDefault or Localhost")
        },
    );
    container.or_else(|| {
        pod_bad.then(|| Violation {
            reason: "forbidden AppArmor profile",
            detail: "pod must not set an AppArmor profile other than RuntimeDefault or Localhost"
                .into(),
        })
    })
}

fn selinux(spec: &PodSpec) -> Option<Violation> {
    const TYPES: [&str; 5] = [
        "",
        "container_t",
        "container_init_t",
        "container_kvm_t",
        "container_engine_t",
    ];
    let bad = |o: Option<&k8s_openapi::api::core::v1::SELinuxOptions>| {
        o.is_some_and(|o| {
            !TYPES.contains(&o.type_.as_deref().unwrap_or_default())
                || o.user.as_deref().is_some_and(|u| !u.is_empty())
                || o.role.as_deref().is_some_and(|r| !r.is_empty())
        })
    };
    let pod_bad = bad(spec
        .security_context
        .as_ref()
        .and_then(|c| c.se_linux_options.as_ref()));
    let container = by_container(
        spec,
        "seLinuxOptions",
        |c| bad(c.and_then(|c| c.se_linux_options.as_ref())),
        |who| format!("{who} set forbidden securityContext.seLinuxOptions"),
    );
    container.or_else(|| {
        pod_bad.then(|| Violation {
            reason: "seLinuxOptions",
            detail: "pod set forbidden securityContext.seLinuxOptions".into(),
        })
    })
}

fn proc_mount(spec: &PodSpec) -> Option<Violation> {
    by_container(
        spec,
        "procMount",
        |c| {
            c.and_then(|c| c.proc_mount.as_deref())
                .is_some_and(|m| m != "Default")
        },
        |who| format!("{who} must not set securityContext.procMount"),
    )
}

fn seccomp_type(context: Option<&SecurityContext>) -> Option<&str> {
    context
        .and_then(|c| c.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str())
}

fn pod_seccomp_type(spec: &PodSpec) -> Option<&str> {
    spec.security_context
        .as_ref()
        .and_then(|c| c.seccomp_profile.as_ref())
        .map(|p| p.type_.as_str())
}

fn baseline_seccomp(spec: &PodSpec) -> Option<Violation> {
    if pod_seccomp_type(spec) == Some("Unconfined") {
        return Some(Violation {
            reason: "seccompProfile",
            detail: "pod must not set securityContext.seccompProfile.type to \"Unconfined\"".into(),
        });
    }
    by_container(
        spec,
        "seccompProfile",
        |c| seccomp_type(c) == Some("Unconfined"),
        |who| format!("{who} must not set securityContext.seccompProfile.type to \"Unconfined\""),
    )
}

/// The sysctls the baseline allows.
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

fn sysctls(spec: &PodSpec) -> Option<Violation> {
    let bad: Vec<String> = spec
        .security_context
        .as_ref()
        .and_then(|c| c.sysctls.as_ref())
        .into_iter()
        .flatten()
        .filter(|s| !SAFE_SYSCTLS.contains(&s.name.as_str()))
        .map(|s| format!("{:?}", s.name))
        .collect();
    (!bad.is_empty()).then(|| Violation {
        reason: "forbidden sysctls",
        detail: bad.join(", "),
    })
}

fn volume_types(spec: &PodSpec) -> Option<Violation> {
    let bad: Vec<String> = spec
        .volumes
        .iter()
        .flatten()
        .filter(|v| {
            let allowed = v.config_map.is_some()
                || v.csi.is_some()
                || v.downward_api.is_some()
                || v.empty_dir.is_some()
                || v.ephemeral.is_some()
                || v.persistent_volume_claim.is_some()
                || v.projected.is_some()
                || v.secret.is_some();
            !allowed
        })
        .map(|v| format!("{:?}", v.name))
        .collect();
    (!bad.is_empty()).then(|| Violation {
        reason: "restricted volume types",
        detail: format!("volumes {} use restricted volume types", bad.join(", ")),
    })
}

fn privilege_escalation(spec: &PodSpec) -> Option<Violation> {
    by_container(
        spec,
        "allowPrivilegeEscalation != false",
        |c| c.and_then(|c| c.allow_privilege_escalation) != Some(false),
        |who| format!("{who} must set securityContext.allowPrivilegeEscalation=false"),
    )
}

fn run_as_non_root(spec: &PodSpec) -> Option<Violation> {
    let pod = spec
        .security_context
        .as_ref()
        .and_then(|c| c.run_as_non_root);
    if pod == Some(false) {
        return Some(Violation {
            reason: "runAsNonRoot != true",
            detail: "pod must not set securityContext.runAsNonRoot=false".into(),
        });
    }
    by_container(
        spec,
        "runAsNonRoot != true",
        |c| match c.and_then(|c| c.run_as_non_root) {
            Some(value) => !value,
            None => pod != Some(true),
        },
        |who| format!("pod or {who} must set securityContext.runAsNonRoot=true"),
    )
}

fn run_as_non_root_user(spec: &PodSpec) -> Option<Violation> {
    if spec.security_context.as_ref().and_then(|c| c.run_as_user) == Some(0) {
        return Some(Violation {
            reason: "runAsUser=0",
            detail: "pod must not set runAsUser=0".into(),
        });
    }
    by_container(
        spec,
        "runAsUser=0",
        |c| c.and_then(|c| c.run_as_user) == Some(0),
        |who| format!("{who} must not set runAsUser=0"),
    )
}

fn restricted_seccomp(spec: &PodSpec) -> Option<Violation> {
    let allowed = |t: Option<&str>| matches!(t, Some("RuntimeDefault" | "Localhost"));
    let pod = pod_seccomp_type(spec);
    if pod.is_some() && !allowed(pod) {
        return Some(Violation {
            reason: "seccompProfile",
            detail: format!(
                "pod must not set securityContext.seccompProfile.type to {:?}",
                pod.unwrap_or_default()
            ),
        });
    }
    by_container(
        spec,
        "seccompProfile",
        |c| match seccomp_type(c) {
            Some(t) => !allowed(Some(t)),
            None => pod.is_none(),
        },
        |who| {
            format!(
                "pod or {who} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\""
            )
        },
    )
}

fn restricted_capabilities(spec: &PodSpec) -> Option<Violation> {
    by_container(
        spec,
        "unrestricted capabilities",
        |c| {
            let drops_all = c
                .and_then(|c| c.capabilities.as_ref())
                .and_then(|c| c.drop.as_ref())
                .is_some_and(|drop| drop.iter().any(|d| d == "ALL"));
            let adds_only_bind = added_capabilities(c)
                .iter()
                .all(|cap| *cap == "NET_BIND_SERVICE");
            !drops_all || !adds_only_bind
        },
        |who| {
            format!(
                "{who} must set securityContext.capabilities.drop=[\"ALL\"] and may add only \"NET_BIND_SERVICE\""
            )
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(spec: serde_json::Value) -> Pod {
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec})).unwrap()
    }

    #[test]
    fn a_hardened_pod_passes_and_a_plain_one_does_not() {
        let hardened = pod(json!({
            "securityContext": {"runAsNonRoot": true, "runAsUser": 65534,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [{"name": "c", "image": "i", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]
        }));
        assert_eq!(violations(&hardened, Level::Restricted), []);
        let plain = pod(json!({"containers": [{"name": "c", "image": "i"}]}));
        assert!(violations(&plain, Level::Baseline).is_empty());
        let reasons: Vec<&str> = violations(&plain, Level::Restricted)
            .iter()
            .map(|v| v.reason)
            .collect();
        assert_eq!(
            reasons,
            [
                "allowPrivilegeEscalation != false",
                "runAsNonRoot != true",
                "seccompProfile",
                "unrestricted capabilities"
            ]
        );
        assert_eq!(
            forbidden_message(
                "p",
                Level::Restricted,
                &violations(&plain, Level::Restricted)[..1]
            ),
            "pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": \
             allowPrivilegeEscalation != false (container \"c\" must set \
             securityContext.allowPrivilegeEscalation=false)"
        );
    }
}
