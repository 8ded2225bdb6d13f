//! A credentials file with `credHelpers` against a real `docker-registry` with htpasswd: the
//! client asks the helper (a stub `docker-credential-NAME` script on `PATH`) and lists the
//! repository with what it hands out; a helper that fails leaves its output out of the error.
//!
//! One test in its own binary, because it puts the stub's directory on this process's
//! `PATH`, as an operator's installation of the helper would.

use rsp_registry::{DockerClientConfig, DockerCredentials, DockerRegistryClient};
use rsp_testkit::registry::{basic_authorization, DockerRegistry, Pusher, RegistryAuth, TempDir};
use std::os::unix::fs::PermissionsExt;

const REPO: &str = "lsst-sqre/sciplat-lab";
const PASSWORD: &str = "helper-handed-s3cret";

fn install_helper(dir: &std::path::Path, name: &str, body: &str) {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test]
async fn cred_helpers_supply_the_registry_credential() {
    let registry = DockerRegistry::start(RegistryAuth::Htpasswd {
        username: "bot".into(),
        password: PASSWORD.into(),
    })
    .await
    .unwrap();
    let pusher = Pusher::new(registry.url(), Some(basic_authorization("bot", PASSWORD)));
    pusher
        .push_image(REPO, "helper", &["w_2077_43"])
        .await
        .unwrap();

    let bin = TempDir::new("rsp-cred-helpers").unwrap();
    let host = registry.host().to_owned();
    // Hands out the password only for this registry, like a real helper.
    install_helper(
        bin.path(),
        "rsp-test",
        &format!(
            r#"read -r server
[ "$1" = get ] && [ "$server" = "{host}" ] || {{ echo "credentials not found in native keychain"; exit 1; }}
echo '{{"ServerURL": "{host}", "Username": "bot", "Secret": "{PASSWORD}"}}'"#
        ),
    );
    install_helper(
        bin.path(),
        "rsp-broken",
        &format!("echo 'cannot refresh {PASSWORD}'; exit 2"),
    );
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs = vec![bin.path().to_owned()];
    dirs.extend(std::env::split_paths(&path));
    // The only test of this binary: no other thread reads the environment meanwhile.
    std::env::set_var("PATH", std::env::join_paths(dirs).unwrap());

    let with_helper = |helper: &str| {
        let mut config = DockerClientConfig::new(host.clone()).unwrap();
        config.api_url = registry.url().parse().unwrap();
        let file = format!(
            r#"{{"auths": {{"{host}": {{"auth": "{}"}}}}, "credHelpers": {{"{host}": "{helper}"}}}}"#,
            // A wrong password in auths: the helper, named for this host, must win.
            basic_authorization("bot", "wrong").trim_start_matches("Basic ")
        );
        config.credentials = Some(DockerCredentials::from_json(&file).unwrap());
        DockerRegistryClient::new(config).unwrap()
    };
    assert_eq!(
        with_helper("rsp-test").list_tags(REPO).await.unwrap(),
        ["w_2077_43"]
    );
    let error = with_helper("rsp-broken")
        .list_tags(REPO)
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("docker-credential-rsp-broken"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");
}
