//! The configuration of rsp-images.
//!
//! The file is a Nublado lab-controller configuration (so an existing one loads unchanged) plus
//! a few optional rsp-images sections. The rules, from the project contract:
//!
//! - the sections rsp-images reads (`images`, `dropdownMenu`, `lab.nodeSelector`,
//!   `lab.tolerations`, `lab.pullSecret`, `lab.sizes`, `lab.defaultSize`, the `image` of
//!   each of `lab.initContainers`, `pathPrefix`, `metadataPath`, and its own `cluster`,
//!   `prepuller`, `server`, `gafaelfawr`) are strict: an unknown key is an error naming its
//!   full path;
//! - every other top-level section and every other `lab` key belongs to the controller and is
//!   ignored, reported once as a [`Warning`] that names them all.
//!
//! Keys are camelCase. Each key of the original's (`images`, `dropdownMenu`, the `lab` keys
//! read, `pathPrefix`, `metadataPath`) is also accepted in snake_case, as the original
//! accepted both (behaviour §10), and so are the multi-word keys of `cluster`, `prepuller`
//! and `gafaelfawr`; the `server` section's keys (`maxConnections`, `headerReadTimeout`)
//! are camelCase only. Parsing is pure (text in, value out) so that the binary decides where
//! files come from.
//!
//! Modules: one per section, `images` (with the image sources), `lab`, `gafaelfawr`, and
//! rsp-images' own `cluster`, `prepuller` and `server`; `bounds` (the range of every duration
//! and count), `nesting` (deep flow collections refused before parsing), `error`.

pub mod bounds;
mod cluster;
mod error;
mod gafaelfawr;
mod images;
mod lab;
mod nesting;
mod prepuller;
mod server;

pub use cluster::ClusterConfig;
pub use error::{echo, shorten, ConfigError};
pub use gafaelfawr::{GafaelfawrConfig, GafaelfawrEndpoint, REPERTOIRE_VARIABLE};
pub use images::{
    default_credentials_path, DockerSourceConfig, GoogleAuthMode, GoogleSourceConfig, ImagesConfig,
    RegistryLimits, SnapshotSourceConfig, SourceConfig,
};
pub use lab::LabConfig;
pub use nesting::check as check_nesting;
pub use prepuller::{PrepullerConfig, WarmTaintConfig};
pub use server::{check_listen, ServerConfig};

use rsp_model::filter::ImageFilterPolicy;
use std::path::{Path, PathBuf};

/// The directory relative paths in a configuration file are relative to (`nodesFile`, a
/// snapshot's `path`): the file's own directory.
pub fn config_dir(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}
use serde::de::DeserializeOwned;
use serde_yaml::{Mapping, Value};

/// The whole configuration, after defaults.
#[derive(Debug, Clone)]
pub struct Config {
    pub images: ImagesConfig,
    pub dropdown_menu: ImageFilterPolicy,
    pub lab: LabConfig,
    pub path_prefix: String,
    pub metadata_path: PathBuf,
    pub cluster: ClusterConfig,
    pub prepuller: PrepullerConfig,
    pub server: ServerConfig,
    pub gafaelfawr: GafaelfawrConfig,
}

/// Something in the file that rsp-images does not use; worth one log line, not a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning(pub String);

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Config {
    /// What eligibility is judged with: `lab.tolerations`, plus the warm taint's toleration
    /// when one is configured (a node tainted only by it is eligible, so it is prepulled).
    pub fn eligibility_tolerations(&self) -> Vec<rsp_model::node::Toleration> {
        let warm = self
            .prepuller
            .warm_taint
            .as_ref()
            .map(WarmTaintConfig::taint);
        rsp_model::warm::eligibility_tolerations(&self.lab.tolerations, warm.as_ref())
    }

    /// Parses configuration text (YAML, of which JSON is a subset).
    pub fn from_yaml(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
        nesting::check(text)?;
        let root: Value = serde_yaml::from_str(text).map_err(ConfigError::syntax)?;
        let mut root = match root {
            Value::Mapping(map) => map,
            Value::Null => Mapping::new(),
            _ => return Err(ConfigError::NotAMapping),
        };
        let mut ignored = Vec::new();
        let images = take(&mut root, "images", &["images"])?.ok_or(ConfigError::Missing {
            path: "images".into(),
        })?;
        let dropdown_menu = take(&mut root, "dropdownMenu", &["dropdown_menu"])?;
        let lab = match take_raw(&mut root, "lab", &[]) {
            Some(Value::Mapping(lab)) => lab_section(lab, &mut ignored)?,
            Some(Value::Null) | None => LabConfig::default(),
            Some(_) => {
                return Err(ConfigError::Invalid {
                    path: "lab".into(),
                    message: "expected a mapping".into(),
                })
            }
        };
        let path_prefix: Option<String> = take(&mut root, "pathPrefix", &["path_prefix"])?;
        let metadata_path: Option<PathBuf> = take(&mut root, "metadataPath", &["metadata_path"])?;
        let cluster = take(&mut root, "cluster", &[])?.unwrap_or_default();
        let prepuller = take(&mut root, "prepuller", &[])?.unwrap_or_default();
        let server = take(&mut root, "server", &[])?.unwrap_or_default();
        let gafaelfawr = take(&mut root, "gafaelfawr", &[])?.unwrap_or_default();
        ignored.extend(root.keys().map(key_name));

        let config = Config {
            images,
            dropdown_menu: dropdown_menu.unwrap_or_default(),
            lab,
            path_prefix: normalize_prefix(path_prefix.as_deref().unwrap_or("/nublado")).map_err(
                |error| ConfigError::Invalid {
                    path: "pathPrefix".into(),
                    message: error.to_string(),
                },
            )?,
            metadata_path: metadata_path.unwrap_or_else(|| PathBuf::from("/etc/podinfo")),
            cluster,
            prepuller,
            server,
            gafaelfawr,
        };
        let mut warnings = config.validate()?;
        if !ignored.is_empty() {
            warnings.insert(
                0,
                Warning(format!(
                    "ignoring configuration that rsp-images does not use: {}",
                    ignored.join(", ")
                )),
            );
        }
        Ok((config, warnings))
    }

    /// Checks the whole configuration; returns what is accepted with a warning.
    fn validate(&self) -> Result<Vec<Warning>, ConfigError> {
        let warnings = self.lab.validate()?;
        self.images.validate()?;
        self.gafaelfawr.validate()?;
        self.prepuller.validate()?;
        self.server.validate()?;
        Ok(warnings)
    }
}

/// Liveness, readiness, metrics and the OpenAPI document: the routes served at the root
/// whatever the prefix, where probes and scrapers expect them.
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const METRICS: &str = "/metrics";
pub const OPENAPI: &str = "/openapi.json";
pub const ROOT_ROUTES: [&str; 4] = [HEALTHZ, READYZ, METRICS, OPENAPI];

/// A `pathPrefix` that cannot be routed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidPrefix {
    #[error("path prefix {} must be empty or /-separated segments of letters, digits and -._~", echo(.0))]
    Characters(String),
    #[error(
        "path prefix {} would put the status page where the root route {route} is; choose \
         another prefix", echo(.prefix)
    )]
    RootRoute { prefix: String, route: &'static str },
}

/// Normalises a `pathPrefix`: `""`, `"/"` → `""`; `"nublado/"` → `"/nublado"`; empty segments
/// dropped. Only unreserved URL characters are accepted, so the prefix can never be read as a
/// route pattern (`{x}`, `:x`, `*x`) or need percent-encoding; a prefix equal to one of the
/// [`ROOT_ROUTES`] is refused, as the status page at `{prefix}` would shadow it.
pub fn normalize_prefix(prefix: &str) -> Result<String, InvalidPrefix> {
    let segments: Vec<&str> = prefix.split('/').filter(|s| !s.is_empty()).collect();
    let valid = segments.iter().all(|segment| {
        *segment != "."
            && *segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    });
    if !valid {
        return Err(InvalidPrefix::Characters(prefix.to_owned()));
    }
    let normalized: String = segments.iter().map(|s| format!("/{s}")).collect();
    if let Some(route) = ROOT_ROUTES.iter().find(|route| **route == normalized) {
        return Err(InvalidPrefix::RootRoute {
            prefix: prefix.to_owned(),
            route,
        });
    }
    Ok(normalized)
}

fn lab_section(mut lab: Mapping, ignored: &mut Vec<String>) -> Result<LabConfig, ConfigError> {
    let mut read = Mapping::new();
    for key in lab::LAB_KEYS_READ {
        let snake = camel_to_snake(key);
        if let Some(value) = take_raw(&mut lab, key, &[snake.as_str()]) {
            read.insert(Value::String(key.to_owned()), value);
        }
    }
    ignored.extend(lab.keys().map(|key| format!("lab.{}", key_name(key))));
    deserialize::<lab::LabSection>(Value::Mapping(read), "lab")?.check()
}

/// Removes a section (under its camelCase name or one of its aliases) and deserializes it,
/// reporting errors with the full key path.
fn take<T: DeserializeOwned>(
    root: &mut Mapping,
    key: &str,
    aliases: &[&str],
) -> Result<Option<T>, ConfigError> {
    match take_raw(root, key, aliases) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => deserialize(value, key).map(Some),
    }
}

fn take_raw(root: &mut Mapping, key: &str, aliases: &[&str]) -> Option<Value> {
    std::iter::once(key)
        .chain(aliases.iter().copied())
        .find_map(|name| root.remove(name))
}

fn deserialize<T: DeserializeOwned>(value: Value, section: &str) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|error| {
        let inner = error.path().to_string();
        let mut path = if inner == "." || inner.is_empty() {
            section.to_owned()
        } else {
            format!("{section}.{inner}")
        };
        let message = error::shorten(error.into_inner().to_string());
        // Inside an internally tagged enum serde reports an unknown key at its parent; name
        // the key itself.
        if let Some(key) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            if !path.ends_with(&format!(".{key}")) {
                path = format!("{path}.{key}");
            }
        }
        ConfigError::Invalid { path, message }
    })
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(name) => name.clone(),
        other => serde_yaml::to_string(other)
            .map(|text| text.trim().to_owned())
            .unwrap_or_else(|_| "?".to_owned()),
    }
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests;
