//! Configuration errors: each names the key path and what to write instead.

/// Why a configuration could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration is not valid YAML: {0}")]
    Syntax(String),
    #[error("configuration must be a mapping of sections (images, lab, …)")]
    NotAMapping,
    #[error("configuration has no `{path}` section; it is required")]
    Missing { path: String },
    #[error("configuration key `{path}`: {message}")]
    Invalid { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn syntax(error: serde_yaml::Error) -> Self {
        ConfigError::Syntax(error.to_string())
    }

    /// The key path the error is about, if it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { path } | ConfigError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}
