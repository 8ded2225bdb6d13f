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
    #[error(
        "configuration nests more than {limit} levels of [ ] or {{ }} at line {line}; \
         no configuration needs that many"
    )]
    TooDeep { line: usize, limit: usize },
}

impl ConfigError {
    pub(crate) fn syntax(error: serde_yaml::Error) -> Self {
        ConfigError::Syntax(shorten(error.to_string()))
    }

    /// The key path the error is about, if it is about one.
    pub fn path(&self) -> Option<&str> {
        match self {
            ConfigError::Missing { path } | ConfigError::Invalid { path, .. } => Some(path),
            _ => None,
        }
    }
}

/// Longest value echoed in an error, in characters: enough to recognise it, short enough that
/// a 50 MB string does not become a 50 MB log line.
const ECHO_LIMIT: usize = 80;

/// Longest error message kept whole; serde's messages quote the offending value.
const MESSAGE_LIMIT: usize = 400;

/// A value quoted for an error message, cut after [`ECHO_LIMIT`] characters.
pub fn echo(value: &str) -> String {
    match value.char_indices().nth(ECHO_LIMIT) {
        None => format!("{value:?}"),
        Some((cut, _)) => format!(
            "{:?}… ({} characters in all)",
            &value[..cut],
            value.chars().count()
        ),
    }
}

/// A message cut after [`MESSAGE_LIMIT`] characters.
pub fn shorten(message: String) -> String {
    match message.char_indices().nth(MESSAGE_LIMIT) {
        None => message,
        Some((cut, _)) => format!(
            "{}… ({} more characters cut)",
            &message[..cut],
            message[cut..].chars().count()
        ),
    }
}
