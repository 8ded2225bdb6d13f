//! Helpers shared by the registry client tests.

#![allow(dead_code)] // Each test binary uses a different part.

use std::time::Duration;

use rsp_registry::{Backoff, DockerClientConfig, DockerCredential, DockerCredentials, RetryPolicy};
use rsp_testkit::registry::RecordedRequest;
use url::Url;

/// Retries quick enough for tests, still several attempts.
pub fn quick_retry() -> RetryPolicy {
    RetryPolicy {
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
        max_elapsed: Duration::from_secs(5),
        max_asked: Duration::from_millis(20),
    }
}

/// A Docker client config for a loopback registry at `url` (`http://127.0.0.1:PORT`).
pub fn docker_config(url: &str) -> DockerClientConfig {
    let api_url = Url::parse(url).unwrap();
    let host = format!(
        "{}:{}",
        api_url.host_str().unwrap(),
        api_url.port().unwrap()
    );
    let mut config = DockerClientConfig::new(host).unwrap();
    config.api_url = api_url;
    config.retry = quick_retry();
    config.timeout = Duration::from_secs(5);
    config
}

/// `config` with credentials for its registry.
pub fn with_credentials(
    mut config: DockerClientConfig,
    user: &str,
    password: &str,
) -> DockerClientConfig {
    let host = config.registry.clone();
    config.credentials = Some(DockerCredentials::from_entries([(
        host,
        DockerCredential::new(user, password),
    )]));
    config
}

/// A token request carries exactly `service` and `scope` (never `realm`), this scope, and
/// this `Authorization` (Basic credentials, or none when anonymous).
pub fn assert_token_request(request: &RecordedRequest, scope: &str, authorization: Option<&str>) {
    let mut keys: Vec<&str> = request.query.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["scope", "service"]);
    assert_eq!(request.param("scope"), Some(scope));
    assert_eq!(request.authorization.as_deref(), authorization);
}
