//! The sections about where rsp-images runs: its own `cluster`, `prepuller` and `server`
//! sections (decisions §3).

use crate::bounds::{self, DAY, HOUR, MILLISECOND, SECOND};
use crate::ConfigError;
use rsp_model::plan::NodeStatusMaxImages;
use rsp_model::validation;
use rsp_model::warm::{WarmTaint, WARM_TAINT_EFFECTS};
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

/// Where nodes come from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ClusterConfig {
    /// The cluster the service runs in (or the kubeconfig's), watched live.
    #[default]
    Kubernetes,
    /// A NodeList file; prepulls are only planned (dry run).
    Static {
        #[serde(rename = "nodesFile", alias = "nodes_file")]
        nodes_file: PathBuf,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PrepullerConfig {
    /// Namespace of prepull pods; default: the service's own (service-account files), else
    /// `default`.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Cluster-wide cap on prepull pods that exist at once: at least one, or nothing would
    /// ever be prepulled; at most more pods than any cluster schedules at once.
    #[serde(
        default = "default_max_in_flight",
        alias = "max_in_flight",
        deserialize_with = "bounds::count::<_, usize, 1, 10_000>"
    )]
    pub max_in_flight: usize,
    /// Use a Lease so that only one of several replicas prepulls.
    #[serde(default = "default_true", alias = "leader_election")]
    pub leader_election: bool,
    /// The kubelets' `nodeStatusMaxImages` (50 by default, `-1` when every image is listed):
    /// how many images a node's status lists at most, largest first.
    #[serde(default, alias = "node_status_max_images")]
    pub node_status_max_images: NodeStatusMaxImages,
    /// The startup taint new lab nodes carry until their prepull images are there
    /// (`{key, effect}`); rsp-images removes it. Off when absent.
    #[serde(default, alias = "warm_taint")]
    pub warm_taint: Option<WarmTaintConfig>,
    /// How long a node may stay cold before its taint is removed anyway; default: the
    /// prepull timeout times the number of prepull images ([`Config::warm_timeout`]).
    ///
    /// [`Config::warm_timeout`]: crate::Config::warm_timeout
    #[serde(
        default,
        alias = "warm_timeout",
        deserialize_with = "bounds::optional_duration::<_, SECOND, DAY>"
    )]
    pub warm_timeout: Option<Duration>,
}

/// `prepuller.warmTaint`: the taint's key and effect (its value is the operator's and is not
/// compared).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmTaintConfig {
    pub key: String,
    pub effect: String,
}

impl WarmTaintConfig {
    /// The taint as the model knows it.
    pub fn taint(&self) -> WarmTaint {
        WarmTaint {
            key: self.key.clone(),
            effect: self.effect.clone(),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if let Some(message) = validation::qualified_name_errors(&self.key).first() {
            return Err(ConfigError::Invalid {
                path: "prepuller.warmTaint.key".into(),
                message: format!("Invalid value: {:?}: {message}", self.key),
            });
        }
        if !WARM_TAINT_EFFECTS.contains(&self.effect.as_str()) {
            return Err(ConfigError::Invalid {
                path: "prepuller.warmTaint.effect".into(),
                message: format!(
                    "Unsupported value: {:?}: supported values: \"NoSchedule\", \"NoExecute\" \
                     (PreferNoSchedule keeps no lab off a cold node)",
                    self.effect
                ),
            });
        }
        Ok(())
    }
}

impl Default for PrepullerConfig {
    fn default() -> Self {
        PrepullerConfig {
            namespace: None,
            max_in_flight: default_max_in_flight(),
            leader_election: true,
            node_status_max_images: NodeStatusMaxImages::default(),
            warm_taint: None,
            warm_timeout: None,
        }
    }
}

impl PrepullerConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(warm) = &self.warm_taint {
            warm.validate()?;
        }
        if let Some(namespace) = &self.namespace {
            if let Some(message) = validation::dns1123_label_errors(namespace).first() {
                return Err(ConfigError::Invalid {
                    path: "prepuller.namespace".into(),
                    message: format!("Invalid value: {namespace:?}: {message}"),
                });
            }
        }
        Ok(())
    }
}

fn default_max_in_flight() -> usize {
    10
}
fn default_true() -> bool {
    true
}

/// The HTTP server. Its clients are a few spawners and scrapers, so the limits protect the
/// service from a misbehaving client rather than shape normal traffic.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServerConfig {
    /// `host:port` to listen on (see [`check_listen`]).
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Connections open at once; further clients wait in the listen queue until one closes.
    /// At most what file descriptors allow on any machine.
    #[serde(
        default = "default_max_connections",
        deserialize_with = "bounds::count::<_, usize, 1, 1_000_000>"
    )]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers before its connection closes.
    /// Hyper adds it to the clock, so it is bounded well below what an `Instant` holds.
    #[serde(
        default = "default_header_read_timeout",
        deserialize_with = "bounds::duration::<_, MILLISECOND, HOUR>"
    )]
    pub header_read_timeout: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: default_listen(),
            max_connections: default_max_connections(),
            header_read_timeout: default_header_read_timeout(),
        }
    }
}

impl ServerConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        check_listen(&self.listen).map_err(|message| ConfigError::Invalid {
            path: "server.listen".into(),
            message,
        })
    }
}

/// A listen address: `IP:port`, `[IPv6]:port` or `hostname:port`. What passes may still fail
/// to bind (a port in use, a name that does not resolve), which is a failure at start, not a
/// configuration error.
pub fn check_listen(address: &str) -> Result<(), String> {
    if address.parse::<std::net::SocketAddr>().is_ok() {
        return Ok(());
    }
    let valid = address.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok()
            && !host.is_empty()
            && host.len() <= 253
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            })
    });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{} is not an address to listen on: write host:port, e.g. 0.0.0.0:8080 or [::]:8080",
            crate::echo(address)
        ))
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".to_owned()
}

fn default_max_connections() -> usize {
    1024
}

fn default_header_read_timeout() -> Duration {
    Duration::from_secs(10)
}
