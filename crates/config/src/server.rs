//! The `server` section (rsp-images' own, decisions §3): the address to listen on and the
//! limits that protect the HTTP server from a misbehaving client.

use crate::bounds::{self, HOUR, MILLISECOND};
use crate::ConfigError;
use serde::Deserialize;
use std::time::Duration;

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
