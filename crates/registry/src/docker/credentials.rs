//! The Docker credentials file (`.dockerconfigjson`, `~/.docker/config.json`), behaviour.md
//! §6.3, with the credential helpers Docker reads from it.
//!
//! The original reads only `auth`; here `auth` (base64 `user:password`) is preferred and
//! `username` + `password` are accepted when it is absent, since tools write either. Keys may
//! be bare hosts or URLs (`https://index.docker.io/v1/`); they are reduced to `host[:port]`.
//! Lookup tries the exact host, then its parent domains, nearest first, so that an entry for
//! `example.com` serves `foo.example.com`. Passwords never appear in `Debug` output.
//!
//! As Docker does (docker/cli `configfile.GetCredentialsStore`), a registry named in
//! `credHelpers` asks that helper, else a `credsStore` asks the store's helper, else `auths`
//! answers (`gcloud auth configure-docker` writes `credHelpers`). Helpers are run by
//! [`super::helper`].
//!
//! Hand-written rather than the `docker_credential` crate: that crate reads only the default
//! file, blocks on the helper without a timeout, and puts the helper's output in its errors.

use std::fmt;
use std::path::Path;

use base64::Engine;
use serde::Deserialize;

use super::helper::{valid_helper_name, CredentialHelper};
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
    /// `credHelpers`: registry host (as reduced above) → helper name.
    helpers: Vec<(String, String)>,
    /// `credsStore`: the helper for every registry `credHelpers` does not name.
    store: Option<String>,
}

/// Where one registry's credential comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// Anonymous access.
    None,
    /// A username and password from `auths` (or given in code).
    Fixed(DockerCredential),
    /// A helper, asked each time credentials are needed.
    Helper(CredentialHelper),
}

impl CredentialSource {
    /// The credential to present now, if any.
    pub async fn get(&self) -> Result<Option<DockerCredential>, RegistryError> {
        match self {
            CredentialSource::None => Ok(None),
            CredentialSource::Fixed(credential) => Ok(Some(credential.clone())),
            CredentialSource::Helper(helper) => helper.get().await,
        }
    }
}

impl fmt::Debug for DockerCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerCredentials")
            .field(
                "hosts",
                &self.entries.iter().map(|(h, _)| h).collect::<Vec<_>>(),
            )
            .field("helpers", &self.helpers)
            .field("store", &self.store)
            .finish()
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, Entry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: std::collections::BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
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
        let helper_name = |name: String, key: &str| {
            if valid_helper_name(&name) {
                Ok(name)
            } else {
                Err(format!(
                    "{key} names the helper {name:?}, which is not a helper name \
                     (letters, digits, '-', '_', '.'; the program is docker-credential-NAME)"
                ))
            }
        };
        let mut helpers = Vec::new();
        for (key, name) in file.cred_helpers {
            let name = helper_name(name, &format!("credHelpers.{key}"))?;
            helpers.push((normalise_host(&key), name));
        }
        let store = match file.creds_store {
            Some(name) if !name.is_empty() => Some(helper_name(name, "credsStore")?),
            _ => None,
        };
        Ok(Self {
            entries,
            helpers,
            store,
        })
    }

    /// Credentials from explicit `(host, credential)` pairs.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, DockerCredential)>) -> Self {
        Self {
            entries: entries
                .into_iter()
                .map(|(host, credential)| (normalise_host(&host), credential))
                .collect(),
            ..Self::default()
        }
    }

    /// Where the credential for `host` comes from: `credHelpers` for that host, else
    /// `credsStore`, else `auths` ([`Self::lookup`]).
    pub fn source(&self, host: &str) -> CredentialSource {
        let key = host.to_ascii_lowercase();
        let helper = self
            .helpers
            .iter()
            .find(|(helper_host, _)| *helper_host == key)
            .map(|(_, name)| name)
            .or(self.store.as_ref());
        if let Some(name) = helper {
            return CredentialSource::Helper(CredentialHelper::named(name, host));
        }
        match self.lookup(host) {
            Some(credential) => CredentialSource::Fixed(credential.clone()),
            None => CredentialSource::None,
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
        self.entries.is_empty() && self.helpers.is_empty() && self.store.is_none()
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
    fn helpers_come_before_the_store_and_the_store_before_auths() {
        let creds = DockerCredentials::from_json(
            r#"{"auths": {"repo.example.com": {"auth": "a2VuOnB3"}, "other.example": {"auth": "a2VuOnB3"}},
                "credHelpers": {"us-central1-docker.pkg.dev": "gcloud", "https://Repo.Example.com": "pass"},
                "credsStore": "desktop"}"#,
        )
        .unwrap();
        let helper = |name: &str, server: &str| {
            CredentialSource::Helper(CredentialHelper::named(name, server))
        };
        assert_eq!(
            creds.source("us-central1-docker.pkg.dev"),
            helper("gcloud", "us-central1-docker.pkg.dev")
        );
        assert_eq!(
            creds.source("repo.example.com"),
            helper("pass", "repo.example.com")
        );
        // With a store, the store answers for everything else (as Docker does).
        assert_eq!(
            creds.source("other.example"),
            helper("desktop", "other.example")
        );
        let without_store =
            DockerCredentials::from_json(r#"{"auths": {"other.example": {"auth": "a2VuOnB3"}}}"#)
                .unwrap();
        assert_eq!(
            without_store.source("other.example"),
            CredentialSource::Fixed(DockerCredential::new("ken", "pw"))
        );
        assert_eq!(
            without_store.source("nowhere.example"),
            CredentialSource::None
        );
    }

    #[test]
    fn helper_names_cannot_be_paths() {
        for bad in [r#""../../bin/sh""#, r#""a/b""#, r#""""#, r#"".hidden""#] {
            let text = format!(r#"{{"credHelpers": {{"h.example": {bad}}}}}"#);
            let err = DockerCredentials::from_json(&text).unwrap_err();
            assert!(err.contains("credHelpers.h.example"), "{err}");
        }
        let err = DockerCredentials::from_json(r#"{"credsStore": "x y"}"#).unwrap_err();
        assert!(err.contains("credsStore"), "{err}");
        assert!(DockerCredentials::from_json(r#"{"credsStore": ""}"#).is_ok());
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
