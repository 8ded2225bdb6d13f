//! The Docker credentials file (`.dockerconfigjson`), behaviour.md §6.3.
//!
//! The original reads only `auth`; here `auth` (base64 `user:password`) is preferred and
//! `username` + `password` are accepted when it is absent, since tools write either. Keys may
//! be bare hosts or URLs (`https://index.docker.io/v1/`); they are reduced to `host[:port]`.
//! Lookup tries the exact host, then its parent domains, nearest first, so that an entry for
//! `example.com` serves `foo.example.com`. Passwords never appear in `Debug` output.

use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use crate::error::RegistryError;

/// One registry's username and password.
#[derive(Clone, PartialEq, Eq)]
pub struct DockerCredential {
    username: String,
    password: String,
}

impl DockerCredential {
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self {
            username: username.into(),
            password: password.into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for DockerCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerCredential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// The credentials of a `.dockerconfigjson` file, by registry host.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DockerCredentials {
    /// In file order, keys reduced to `host[:port]`, lower-cased.
    entries: Vec<(String, DockerCredential)>,
}

impl fmt::Debug for DockerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerCredentials")
            .field(
                "hosts",
                &self.entries.iter().map(|(h, _)| h).collect::<Vec<_>>(),
            )
            .finish()
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
struct Entry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

impl DockerCredentials {
    /// Reads a credentials file. A missing file is an error; see [`Self::load_optional`].
    pub fn load(path: &Path) -> Result<Self, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|e| file_error(path, e.to_string()))?;
        Self::from_json(&text).map_err(|detail| file_error(path, detail))
    }

    /// Reads a credentials file, or `None` when it does not exist (anonymous access, as for
    /// the default path, decisions.md §5 fix 3).
    pub fn load_optional(path: &Path) -> Result<Option<Self>, RegistryError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::from_json(&text)
                .map(Some)
                .map_err(|detail| file_error(path, detail)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(file_error(path, e.to_string())),
        }
    }

    /// Parses the JSON text of a credentials file. The error names the entry, never a secret.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let file: File = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a Docker config JSON file (line {}, column {}): expected {{\"auths\": {{HOST: {{\"auth\": BASE64}}}}}}",
                e.line(),
                e.column()
            )
        })?;
        let mut entries = Vec::new();
        for (key, entry) in file.auths {
            let host = normalise_host(&key);
            let credential = match (entry.auth, entry.username, entry.password) {
                (Some(auth), _, _) if !auth.trim().is_empty() => {
                    decode_auth(&auth).ok_or_else(|| {
                        format!("the \"auth\" of {host} is not base64 of user:password")
                    })?
                }
                (_, Some(username), Some(password)) => DockerCredential::new(username, password),
                // Entries with only an identity token or helper settings give nothing usable.
                _ => continue,
            };
            entries.push((host, credential));
        }
        Ok(Self { entries })
    }

    /// Credentials from explicit `(host, credential)` pairs.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, DockerCredential)>) -> Self {
        Self {
            entries: entries
                .into_iter()
                .map(|(host, credential)| (normalise_host(&host), credential))
                .collect(),
        }
    }

    /// The credential for `host` (`host[:port]`): the exact entry, else the nearest parent domain.
    pub fn lookup(&self, host: &str) -> Option<&DockerCredential> {
        let host = host.to_ascii_lowercase();
        let find = |name: &str| {
            self.entries
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, c)| c)
        };
        if let Some(found) = find(&host) {
            return Some(found);
        }
        let bare = host.split(':').next().unwrap_or(&host);
        let mut rest = bare;
        while let Some((_, parent)) = rest.split_once('.') {
            if let Some(found) = find(parent) {
                return Some(found);
            }
            rest = parent;
        }
        None
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn file_error(path: &Path, detail: String) -> RegistryError {
    RegistryError::CredentialsFile {
        path: path.display().to_string(),
        detail,
    }
}

/// `https://Host:5000/v1/` → `host:5000`.
fn normalise_host(key: &str) -> String {
    let without_scheme = key.split_once("://").map_or(key, |(_, rest)| rest);
    let authority = without_scheme.split('/').next().unwrap_or(without_scheme);
    authority.to_ascii_lowercase()
}

fn decode_auth(auth: &str) -> Option<DockerCredential> {
    let compact: String = auth.chars().filter(|c| !c.is_whitespace()).collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact))
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (username, password) = text.split_once(':')?;
    Some(DockerCredential::new(username, password))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{"auths": {
        "repo.example.com": {"auth": "a2VuOnAvcTItcTQhYQ==", "username": "ken", "password": "p/q2-q4!a"},
        "https://Lighthouse.Ceres/v1/": {"auth": "YndrOi8uLC8uLA=="},
        "example.org": {"username": "u", "password": "pw:with:colons"},
        "helper.example": {"identitytoken": "x"}
    }}"#;

    #[test]
    fn reads_auth_and_username_password() {
        let creds = DockerCredentials::from_json(FILE).unwrap();
        let ken = creds.lookup("repo.example.com").unwrap();
        assert_eq!((ken.username(), ken.password()), ("ken", "p/q2-q4!a"));
        let bwk = creds.lookup("lighthouse.ceres").unwrap();
        assert_eq!((bwk.username(), bwk.password()), ("bwk", "/.,/.,"));
        let u = creds.lookup("example.org").unwrap();
        assert_eq!(u.password(), "pw:with:colons");
        assert!(creds.lookup("helper.example").is_none());
    }

    #[test]
    fn falls_back_to_parent_domains() {
        let creds = DockerCredentials::from_json(FILE).unwrap();
        assert_eq!(
            creds.lookup("foo.repo.example.com").unwrap().username(),
            "ken"
        );
        assert_eq!(
            creds.lookup("a.b.example.org:5000").unwrap().username(),
            "u"
        );
        assert!(creds.lookup("example.com").is_none());
        assert!(creds.lookup("notrepo.example.com").is_none());
    }

    #[test]
    fn bad_files_are_reported_without_secrets() {
        let err =
            DockerCredentials::from_json(r#"{"auths": {"h": {"auth": "c2VjcmV0"}}}"#).unwrap_err();
        assert!(err.contains("\"auth\" of h"), "{err}");
        assert!(!err.contains("c2VjcmV0") && !err.contains("secret"));
        assert!(DockerCredentials::from_json("[1,2]").is_err());
    }

    #[test]
    fn debug_hides_passwords() {
        let creds = DockerCredentials::from_json(FILE).unwrap();
        let shown = format!("{creds:?} {:?}", creds.lookup("repo.example.com"));
        assert!(shown.contains("repo.example.com"));
        assert!(!shown.contains("p/q2-q4!a") && !shown.contains("a2VuOnAvcTItcTQhYQ"));
    }

    #[test]
    fn missing_files() {
        let path = Path::new("/nonexistent/rsp-images/.dockerconfigjson");
        assert!(DockerCredentials::load_optional(path).unwrap().is_none());
        let err = DockerCredentials::load(path).unwrap_err().to_string();
        assert!(
            err.contains("/nonexistent/rsp-images/.dockerconfigjson"),
            "{err}"
        );
    }
}
