//! The sections about where rsp-images runs: its own `cluster`, `prepuller` and `server`
//! sections (decisions §3).

use crate::ConfigError;
use rsp_model::duration;
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
    /// Cluster-wide cap on prepull pods that exist at once.
    #[serde(default = "default_max_in_flight", alias = "max_in_flight")]
    pub max_in_flight: usize,
    /// Use a Lease so that only one of several replicas prepulls.
    #[serde(default = "default_true", alias = "leader_election")]
    pub leader_election: bool,
}

impl Default for PrepullerConfig {
    fn default() -> Self {
        PrepullerConfig {
            namespace: None,
            max_in_flight: default_max_in_flight(),
            leader_election: true,
        }
    }
}

impl PrepullerConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_in_flight == 0 {
            return Err(ConfigError::Invalid {
                path: "prepuller.maxInFlight".into(),
                message: "must be at least 1, or nothing would ever be prepulled".into(),
            });
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
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Connections open at once; further clients wait in the listen queue until one closes.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// How long a client may take to send a request's headers before its connection closes.
    #[serde(
        default = "default_header_read_timeout",
        deserialize_with = "duration::serde::deserialize"
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
        if self.max_connections == 0 {
            return Err(ConfigError::Invalid {
                path: "server.maxConnections".into(),
                message: "must be at least 1, or no request would ever be answered".into(),
            });
        }
        if self.header_read_timeout.is_zero() {
            return Err(ConfigError::Invalid {
                path: "server.headerReadTimeout".into(),
                message: "must be longer than zero, e.g. 10s".into(),
            });
        }
        Ok(())
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
