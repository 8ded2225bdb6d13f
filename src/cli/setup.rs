//! What every long-running or registry-facing subcommand does first: set up logging and load
//! the configuration file.

use super::CliError;
use rsp_config::Config;
use std::io::IsTerminal;
use std::path::Path;

/// Logs go to stderr: human-readable on a terminal, JSON lines otherwise (for log shippers).
/// `RUST_LOG` overrides the default level.
pub fn init_logging(default_level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = if std::io::stderr().is_terminal() {
        builder.try_init()
    } else {
        builder.json().flatten_event(true).try_init()
    };
    // A second initialisation (tests calling in twice) keeps the first subscriber.
    drop(result);
}

/// Reads and parses the configuration; problems are usage errors (exit status 2).
pub fn load_config(path: &Path) -> Result<Config, CliError> {
    let text = std::fs::read_to_string(path).map_err(|error| {
        CliError::Usage(format!(
            "cannot read configuration file {}: {error}",
            path.display()
        ))
    })?;
    let (config, warnings) = Config::from_yaml(&text)
        .map_err(|error| CliError::Usage(format!("{}: {error}", path.display())))?;
    for warning in warnings {
        tracing::warn!(config = %path.display(), "{warning}");
    }
    Ok(config)
}
