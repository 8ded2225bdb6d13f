//! Without the docker-registry binary the harness fails with the install command instead of
//! letting tests skip. Alone in its test binary because it changes the environment.

use rsp_testkit::registry::{DockerRegistry, RegistryAuth};

#[tokio::test]
async fn a_missing_binary_names_the_package_to_install() {
    // Only this test runs in this process, so changing the environment races with nothing.
    std::env::set_var("DOCKER_REGISTRY_BIN", "/nonexistent/docker-registry");
    let error = DockerRegistry::start(RegistryAuth::None).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("apt-get install -y docker-registry"),
        "{error}"
    );
}
