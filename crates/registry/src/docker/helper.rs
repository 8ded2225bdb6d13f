//! Docker credential helpers (`credHelpers`, `credsStore`): the external programs
//! `docker-credential-NAME` that `gcloud`, cloud registries and desktop keychains install.
//!
//! The protocol (docker/docker-credential-helpers, `client.Get`): run
//! `docker-credential-NAME get`, write the server (the registry host) to its stdin, read
//! `{"ServerURL": …, "Username": …, "Secret": …}` from its stdout. A helper that knows no
//! credential exits non-zero printing `credentials not found in native keychain`; Docker
//! then goes on anonymously, and so does this.
//!
//! What a helper prints is a secret or may contain one, so it never reaches a log or an
//! error: failures name the helper and what went wrong in general terms only. A helper is
//! asked again whenever the registry wants credentials, since what it hands out (gcloud's
//! access tokens) expires; it gets 30 seconds.

use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::credentials::DockerCredential;
use crate::error::RegistryError;

/// How long a helper may take (gcloud refreshing a token takes a second or two).
const HELPER_TIMEOUT: Duration = Duration::from_secs(30);
/// The most a helper may print; credentials are a few KiB at most.
const MAX_OUTPUT: u64 = 64 * 1024;
/// What a helper prints when it has no credential for the server.
const NOT_FOUND: &str = "credentials not found in native keychain";
/// The username with which a helper hands out an identity (refresh) token.
const IDENTITY_TOKEN_USER: &str = "<token>";

/// A credential helper for one registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialHelper {
    /// The program: `docker-credential-NAME` (found on `PATH`), or a path.
    pub program: String,
    /// What the helper is asked about: the registry host.
    pub server: String,
}

#[derive(Deserialize)]
struct HelperReply {
    #[serde(rename = "Username")]
    username: String,
    #[serde(rename = "Secret")]
    secret: String,
}

/// Whether `name` can be a helper name: it becomes part of a program name, so no path.
pub fn valid_helper_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
}

impl CredentialHelper {
    pub fn named(name: &str, server: &str) -> CredentialHelper {
        CredentialHelper {
            program: format!("docker-credential-{name}"),
            server: server.to_owned(),
        }
    }

    /// The credential the helper has for the server, `None` when it has none.
    pub async fn get(&self) -> Result<Option<DockerCredential>, RegistryError> {
        match tokio::time::timeout(HELPER_TIMEOUT, self.run()).await {
            Ok(result) => result,
            Err(_) => Err(self.error(format!(
                "did not answer within {} s",
                HELPER_TIMEOUT.as_secs()
            ))),
        }
    }

    async fn run(&self) -> Result<Option<DockerCredential>, RegistryError> {
        let mut child = tokio::process::Command::new(&self.program)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // A helper's own messages may quote what it read: never shown.
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                self.error(format!(
                    "cannot be run ({}); install it or remove it from the credentials file",
                    error.kind()
                ))
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading is judged by its exit status below.
            let _ = stdin.write_all(self.server.as_bytes()).await;
        }
        let mut output = Vec::new();
        if let Some(stdout) = child.stdout.take() {
            stdout
                .take(MAX_OUTPUT)
                .read_to_end(&mut output)
                .await
                .map_err(|error| self.error(format!("output unreadable ({})", error.kind())))?;
        }
        let status = child
            .wait()
            .await
            .map_err(|error| self.error(format!("did not finish ({})", error.kind())))?;
        if !status.success() {
            if String::from_utf8_lossy(&output).trim() == NOT_FOUND {
                return Ok(None);
            }
            return Err(self.error(format!("failed ({status}); its output is not shown")));
        }
        let reply: HelperReply = serde_json::from_slice(&output).map_err(|_| {
            self.error(
                "printed something that is not {\"Username\", \"Secret\"} JSON; its output \
                 is not shown"
                    .to_owned(),
            )
        })?;
        if reply.username == IDENTITY_TOKEN_USER {
            return Err(self.error(
                "handed out an identity token, which rsp-images does not support; configure \
                 a helper that gives a username and password or access token"
                    .to_owned(),
            ));
        }
        if reply.username.is_empty() && reply.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(DockerCredential::new(reply.username, reply.secret)))
    }

    fn error(&self, detail: String) -> RegistryError {
        RegistryError::CredentialHelper {
            helper: self.program.clone(),
            server: self.server.clone(),
            detail,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    const SECRET: &str = "ya29.s3cr3t-t0ken";

    /// A stub helper: a shell script whose body decides what it prints.
    fn stub(name: &str, body: &str) -> (PathBuf, CredentialHelper) {
        let dir = std::env::temp_dir().join(format!("rsp-helper-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let helper = CredentialHelper {
            program: path.display().to_string(),
            server: "us-central1-docker.pkg.dev".to_owned(),
        };
        (dir, helper)
    }

    #[tokio::test]
    async fn a_helper_is_asked_for_the_server_with_get() {
        // Answers only `get` for the right server, as real helpers do.
        let (dir, helper) = stub(
            "good",
            &format!(
                r#"[ "$1" = get ] || exit 3
read -r server || true
[ "$server" = us-central1-docker.pkg.dev ] || {{ echo "{NOT_FOUND}"; exit 1; }}
printf '{{"ServerURL": "%s", "Username": "_dcgcloud_token", "Secret": "{SECRET}"}}' "$server""#
            ),
        );
        let credential = helper.get().await.unwrap().unwrap();
        assert_eq!(credential.username(), "_dcgcloud_token");
        assert_eq!(credential.password(), SECRET);
        let other = CredentialHelper {
            server: "elsewhere.example".to_owned(),
            ..helper
        };
        assert_eq!(other.get().await.unwrap(), None, "not found: anonymous");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test]
    async fn what_a_helper_prints_never_reaches_an_error() {
        for (name, body) in [
            (
                "fails",
                format!("echo 'token {SECRET} refused'; echo {SECRET} >&2; exit 1"),
            ),
            ("garbage", format!("echo 'Secret={SECRET}'")),
            (
                "identity",
                format!(r#"echo '{{"Username": "<token>", "Secret": "{SECRET}"}}'"#),
            ),
        ] {
            let (dir, helper) = stub(name, &body);
            let error = helper.get().await.unwrap_err().to_string();
            assert!(!error.contains(SECRET), "{name}: {error}");
            assert!(error.contains(&helper.program), "{name}: {error}");
            assert!(
                error.contains("us-central1-docker.pkg.dev"),
                "{name}: {error}"
            );
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[tokio::test]
    async fn a_missing_helper_says_what_to_do() {
        let helper = CredentialHelper::named("rsp-images-no-such-helper", "r.example");
        let error = helper.get().await.unwrap_err().to_string();
        assert!(
            error.contains("docker-credential-rsp-images-no-such-helper")
                && error.contains("install it"),
            "{error}"
        );
    }

    #[test]
    fn names_are_names() {
        assert!(valid_helper_name("gcloud") && valid_helper_name("ecr-login"));
        assert!(valid_helper_name("desktop.exe"));
        for bad in ["", "../x", "a/b", ".x", "a b"] {
            assert!(!valid_helper_name(bad), "{bad}");
        }
    }
}
