//! The `lab` keys rsp-images shares with the lab controller: where labs (and so prepulls) may
//! run, and the lab sizes the spawner form offers (lab-form.md §3.1).
//!
//! Sizes are read with the original's rules, checked when the configuration loads: names
//! from the protocol's list in lowercase, no duplicates, requests within limits, a default
//! that exists, and an explicit empty list refused. Omitting `sizes` is accepted, as the
//! original accepts it; the service then warns that the form has no size to offer.
//!
//! Of `initContainers` only the images are read (they are prepulled too, see
//! `rsp_model::init_image`): strictly, as Nublado reads them, with a wrong type or an
//! unknown key refused naming its path; every other key of an init container is the lab
//! controller's business and never an error.

use crate::{echo, ConfigError, Warning};
use rsp_model::init_image::{split_host, InitImage};
use rsp_model::lab::{parse_cpu, parse_memory, render_cpu, LabSize, LabSizes, Resources, SizeName};
use rsp_model::node::Toleration;
use rsp_model::validation::{self, FieldError};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `lab` keys rsp-images reads.
#[derive(Debug, Clone, Default)]
pub struct LabConfig {
    /// Equality label selector for the nodes labs (and so prepulls) may run on.
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// Secret name for `imagePullSecrets` of prepull pods.
    pub pull_secret: Option<String>,
    /// The sizes of the spawner form (`sizes`, `defaultSize`).
    pub sizes: LabSizes,
    /// The images of `initContainers`, which every spawn pulls: prepulled with the lab
    /// images, except those whose `pullPolicy` is `Never` (kubelet never pulls them for a
    /// spawn, so they must be on the nodes some other way). Each once, in configured order.
    pub init_images: Vec<InitImage>,
}

impl LabConfig {
    /// Checks what goes into prepull pods as the API server would check it in a pod, so that
    /// a configuration it would refuse fails here, naming the key. One exception, because
    /// Nublado configurations carry it: `tolerationSeconds` with an effect other than
    /// `NoExecute` is accepted with a warning and left out of prepull pods.
    pub(crate) fn validate(&self) -> Result<Vec<Warning>, ConfigError> {
        let selector = self
            .node_selector
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()));
        if let Some(error) = validation::label_errors("lab.nodeSelector", selector).first() {
            return Err(field_error(error));
        }
        let mut warnings = Vec::new();
        for (index, toleration) in self.tolerations.iter().enumerate() {
            let path = format!("lab.tolerations[{index}]");
            toleration
                .validate()
                .map_err(|error| ConfigError::Invalid {
                    path: path.clone(),
                    message: error.to_string(),
                })?;
            let fields = toleration.fields();
            let timed = validation::toleration_seconds_error(&path, fields.effect);
            for error in validation::toleration_errors(&path, &fields) {
                if error != timed {
                    return Err(field_error(&error));
                }
                warnings.push(Warning(format!(
                    "{path}.tolerationSeconds: left out of prepull pods, since the API server \
                     accepts tolerationSeconds only with effect NoExecute (this toleration's \
                     effect is {:?})",
                    fields.effect
                )));
            }
        }
        if let Some(secret) = &self.pull_secret {
            if let Some(message) = validation::dns1123_subdomain_errors(secret).first() {
                return Err(ConfigError::Invalid {
                    path: "lab.pullSecret".into(),
                    message: format!("Invalid value: {secret:?}: {message}"),
                });
            }
        }
        Ok(warnings)
    }
}

/// A field error of the API server's kind as a configuration error on that key.
fn field_error(error: &FieldError) -> ConfigError {
    ConfigError::Invalid {
        path: error.field.clone(),
        message: error.body(),
    }
}

/// The `lab` keys as written; [`LabSection::check`] turns them into a [`LabConfig`].
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct LabSection {
    #[serde(default)]
    node_selector: BTreeMap<String, String>,
    #[serde(default)]
    tolerations: Vec<Toleration>,
    #[serde(default)]
    pull_secret: Option<String>,
    #[serde(default)]
    sizes: Option<Vec<SizeEntry>>,
    #[serde(default)]
    default_size: Option<String>,
    #[serde(default)]
    init_containers: Vec<InitContainerEntry>,
}

/// `lab` keys this crate reads, camelCase (snake_case is accepted too).
pub(crate) const LAB_KEYS_READ: [&str; 6] = [
    "nodeSelector",
    "tolerations",
    "pullSecret",
    "sizes",
    "defaultSize",
    "initContainers",
];

/// One of `lab.initContainers`: only its image is read. Its other keys (`name`, `command`,
/// `privileged`, `volumeMounts`, …) are the lab controller's, whatever they hold, so they are
/// neither checked nor reported.
#[derive(Debug, Deserialize)]
struct InitContainerEntry {
    image: ContainerImage,
}

/// Nublado's `ContainerImage` (lab controller `config.py`: `repository`, `tag`, `pullPolicy`
/// with default `IfNotPresent`, no other key).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ContainerImage {
    repository: String,
    tag: String,
    #[serde(default, alias = "pull_policy")]
    pull_policy: PullPolicy,
}

/// Kubernetes' `imagePullPolicy` values.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
enum PullPolicy {
    Always,
    #[default]
    IfNotPresent,
    Never,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeEntry {
    size: String,
    resources: SizeResources,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SizeResources {
    limits: Quantities,
    requests: Quantities,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Quantities {
    cpu: Scalar,
    memory: Scalar,
}

/// A quantity as text, as the original sees it: a YAML string as it is, an integer in
/// decimal, a float as Python writes it (`0.25`, `1.0`). One difference is YAML's own: the
/// original's YAML 1.1 reads `1.5e3` (no exponent sign) as a string, YAML 1.2 as a float;
/// both give the same quantity except for CPU text like `1.25e3`, which the original refuses
/// for its four characters after the point and which is read here as 1250.
#[derive(Debug)]
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Scalar, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Unsigned(u64),
            Signed(i64),
            Float(f64),
            Text(String),
        }
        let raw = Raw::deserialize(deserializer).map_err(|_| {
            serde::de::Error::custom("expected a quantity (a number, or text such as 3Gi or 500m)")
        })?;
        Ok(Scalar(match raw {
            Raw::Unsigned(value) => value.to_string(),
            Raw::Signed(value) => value.to_string(),
            Raw::Float(value) => render_cpu(value),
            Raw::Text(text) => text,
        }))
    }
}

impl LabSection {
    /// The keys as [`LabConfig`], sizes checked; what goes into pods is checked by
    /// [`LabConfig::validate`].
    pub(crate) fn check(self) -> Result<LabConfig, ConfigError> {
        Ok(LabConfig {
            node_selector: self.node_selector,
            tolerations: self.tolerations,
            pull_secret: self.pull_secret,
            sizes: sizes(self.sizes, self.default_size)?,
            init_images: init_images(self.init_containers)?,
        })
    }
}

/// The images to prepull of `lab.initContainers`, each checked as a reference the API server
/// and kubelet would take, so that a pod of it is never refused.
fn init_images(entries: Vec<InitContainerEntry>) -> Result<Vec<InitImage>, ConfigError> {
    let mut images: Vec<InitImage> = Vec::new();
    for (index, entry) in entries.into_iter().enumerate() {
        let path = format!("lab.initContainers[{index}].image");
        let ContainerImage {
            repository,
            tag,
            pull_policy,
        } = entry.image;
        if let Some(problem) = repository_problem(&repository) {
            return Err(invalid(
                format!("{path}.repository"),
                format!(
                    "{} is not a Docker repository: {problem}",
                    echo(&repository)
                ),
            ));
        }
        if !is_docker_tag(&tag) {
            return Err(invalid(
                format!("{path}.tag"),
                format!(
                    "{} is not a Docker tag: 1 to 128 letters, digits, '_', '.' or '-', \
                     not starting with '.' or '-'",
                    echo(&tag)
                ),
            ));
        }
        let image = InitImage::new(repository, tag);
        if pull_policy != PullPolicy::Never && !images.contains(&image) {
            images.push(image);
        }
    }
    Ok(images)
}

/// What makes `repository` no Docker repository name (`github.com/distribution/reference`'s
/// grammar: an optional `host[:port]/`, then lowercase path components of letters and digits
/// joined by `.`, `_`, `__` or dashes), if anything.
fn repository_problem(repository: &str) -> Option<&'static str> {
    let (host, path) = split_host(repository);
    if let Some(host) = host {
        let valid = host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'));
        if host.is_empty() || !valid {
            return Some("the registry host holds characters a host name cannot");
        }
    }
    if path.is_empty() {
        return Some("it names no repository");
    }
    let component_valid = |component: &str| {
        let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
        component.starts_with(alphanumeric)
            && component.ends_with(alphanumeric)
            && component
                .chars()
                .all(|c| alphanumeric(c) || matches!(c, '.' | '_' | '-'))
            && !component.contains("..")
            && !component.contains("___")
    };
    if !path.split('/').all(component_valid) {
        return Some(
            "each path component is lowercase letters and digits, separated by '.', '_' or '-'",
        );
    }
    None
}

/// Docker's tag grammar: `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`.
fn is_docker_tag(tag: &str) -> bool {
    let mut chars = tag.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        && tag.len() <= 128
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

fn sizes(
    entries: Option<Vec<SizeEntry>>,
    default: Option<String>,
) -> Result<LabSizes, ConfigError> {
    let entries = match entries {
        Some(entries) if entries.is_empty() => {
            return Err(invalid(
                "lab.sizes",
                "at least one lab size must be defined (or leave sizes out)",
            ))
        }
        Some(entries) => entries,
        None => Vec::new(),
    };
    let mut sizes: Vec<LabSize> = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        let path = format!("lab.sizes[{index}]");
        let name: SizeName = entry
            .size
            .parse()
            .map_err(|error| invalid(format!("{path}.size"), format!("{error}")))?;
        if sizes.iter().any(|size| size.name == name) {
            return Err(invalid(
                format!("{path}.size"),
                format!("duplicate lab size {name}"),
            ));
        }
        let path = format!("{path}.resources");
        let limits = resources(&entry.resources.limits, &format!("{path}.limits"))?;
        let requests = resources(&entry.resources.requests, &format!("{path}.requests"))?;
        // Both are numbers: `resources` refuses a NaN CPU.
        if requests.cpu > limits.cpu {
            return Err(invalid(
                format!("{path}.requests.cpu"),
                format!(
                    "the request ({}) must not exceed the limit ({})",
                    entry.resources.requests.cpu.0, entry.resources.limits.cpu.0
                ),
            ));
        }
        if requests.memory > limits.memory {
            return Err(invalid(
                format!("{path}.requests.memory"),
                format!(
                    "the request ({}) must not exceed the limit ({})",
                    entry.resources.requests.memory.0, entry.resources.limits.memory.0
                ),
            ));
        }
        sizes.push(LabSize {
            name,
            limits,
            requests,
        });
    }
    let default = match default {
        None => None,
        Some(text) => {
            let name: SizeName = text
                .parse()
                .map_err(|error| invalid("lab.defaultSize", format!("{error}")))?;
            if !sizes.iter().any(|size| size.name == name) {
                return Err(invalid(
                    "lab.defaultSize",
                    format!("default size {name} is not one of lab.sizes"),
                ));
            }
            Some(name)
        }
    };
    Ok(LabSizes { sizes, default })
}

fn resources(quantities: &Quantities, path: &str) -> Result<Resources, ConfigError> {
    let cpu = parse_cpu(&quantities.cpu.0)
        .map_err(|error| invalid(format!("{path}.cpu"), error.to_string()))?;
    if cpu.is_nan() {
        return Err(invalid(
            format!("{path}.cpu"),
            "CPU must be a number, not nan",
        ));
    }
    let memory = parse_memory(&quantities.memory.0)
        .map_err(|error| invalid(format!("{path}.memory"), error.to_string()))?;
    Ok(Resources { cpu, memory })
}
