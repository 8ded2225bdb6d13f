use super::*;

const MINIMAL: &str = "images:\n  source:\n    type: docker\n    repository: library/sketchbook\n";

fn parse(text: &str) -> Result<(Config, Vec<Warning>), ConfigError> {
    Config::from_yaml(text)
}

#[test]
fn defaults_follow_the_original() {
    let (config, warnings) = parse(MINIMAL).unwrap();
    assert!(warnings.is_empty());
    let images = &config.images;
    assert_eq!(images.refresh_interval.as_secs(), 300);
    assert_eq!(images.prepull_timeout.as_secs(), 600);
    assert_eq!(images.recommended_tag, "recommended");
    assert_eq!(
        (images.num_releases, images.num_weeklies, images.num_dailies),
        (1, 2, 3)
    );
    assert_eq!(images.cycle, None);
    assert_eq!(config.path_prefix, "/nublado");
    assert_eq!(config.server.listen, "127.0.0.1:8080");
    assert_eq!(config.server.max_connections, 1024);
    assert_eq!(config.server.header_read_timeout.as_secs(), 10);
    assert_eq!(config.prepuller.max_in_flight, 10);
    assert!(config.prepuller.leader_election);
    assert!(matches!(config.cluster, ClusterConfig::Kubernetes));
    match &images.source {
        SourceConfig::Docker(docker) => assert_eq!(docker.registry, "docker.io"),
        other => panic!("wrong source {other:?}"),
    }
}

#[test]
fn controller_sections_are_ignored_with_one_warning() {
    let text = format!(
        "logLevel: DEBUG\nfsadmin:\n  image: x\nlab:\n  sizes: []\n  namespacePrefix: u\n  \
         pullSecret: pull-secret\n  nodeSelector:\n    a: b\n{MINIMAL}"
    );
    let (config, warnings) = parse(&text).unwrap();
    assert_eq!(warnings.len(), 1);
    let warning = &warnings[0].0;
    for name in ["logLevel", "fsadmin", "lab.sizes", "lab.namespacePrefix"] {
        assert!(warning.contains(name), "{warning} should name {name}");
    }
    assert_eq!(config.lab.pull_secret.as_deref(), Some("pull-secret"));
    assert_eq!(
        config.lab.node_selector.get("a").map(String::as_str),
        Some("b")
    );
}

#[test]
fn unknown_keys_in_read_sections_name_their_path() {
    let text = "images:\n  source:\n    type: docker\n    repository: r\n    registy: x\n";
    let error = parse(text).unwrap_err();
    assert_eq!(error.path(), Some("images.source.registy"), "{error}");
    let text = format!("{MINIMAL}  numWeekly: 3\n");
    assert_eq!(parse(&text).unwrap_err().path(), Some("images.numWeekly"));
    let text = format!("{MINIMAL}prepuller:\n  maxInflight: 3\n");
    assert_eq!(
        parse(&text).unwrap_err().path(),
        Some("prepuller.maxInflight")
    );
    let text = format!("{MINIMAL}lab:\n  tolerations:\n    - key: a\n      valeu: b\n");
    let error = parse(&text).unwrap_err();
    assert!(
        error.path().unwrap().starts_with("lab.tolerations"),
        "{error}"
    );
}

#[test]
fn snake_case_keys_are_accepted() {
    let text = "images:\n  source:\n    type: google\n    location: us-central1\n    \
                project_id: p\n    repository: r\n    image: i\n  num_weeklies: 5\n  \
                refresh_interval: 10m\n";
    let (config, _) = parse(text).unwrap();
    assert_eq!(config.images.num_weeklies, 5);
    assert_eq!(config.images.refresh_interval.as_secs(), 600);
    let (registry, repository) = config.images.source.registry_and_repository();
    assert_eq!(registry, "us-central1-docker.pkg.dev");
    assert_eq!(repository, "p/r/i");
}

#[test]
fn domain_scoped_projects_are_written_as_artifact_registry_writes_them() {
    let text = "images:\n  source:\n    type: google\n    location: us-central1\n    \
                projectId: example.com:proj\n    repository: r\n    image: i\n";
    let (config, _) = parse(text).unwrap();
    let (_, repository) = config.images.source.registry_and_repository();
    assert_eq!(repository, "example.com/proj/r/i");
}

#[test]
fn wrong_values_are_errors_with_paths() {
    let text = format!("{MINIMAL}  numReleases: -1\n");
    assert_eq!(parse(&text).unwrap_err().path(), Some("images.numReleases"));
    let text = format!("{MINIMAL}lab:\n  tolerations:\n    - operator: Exists\n      value: v\n");
    assert_eq!(parse(&text).unwrap_err().path(), Some("lab.tolerations[0]"));
    let text = "images:\n  source:\n    type: docker\n    repository: r\n    apiUrl: ftp://x\n";
    assert_eq!(
        parse(text).unwrap_err().path(),
        Some("images.source.apiUrl")
    );
    assert!(matches!(parse("- a\n"), Err(ConfigError::NotAMapping)));
    assert!(matches!(
        parse("lab: {}\n"),
        Err(ConfigError::Missing { .. })
    ));
    assert!(matches!(parse("images: [\n"), Err(ConfigError::Syntax(_))));
    for (server, path) in [
        ("maxConnections: 0", "server.maxConnections"),
        ("headerReadTimeout: 0s", "server.headerReadTimeout"),
        ("headerReadTimeout: soon", "server.headerReadTimeout"),
    ] {
        let text = format!("{MINIMAL}server:\n  {server}\n");
        assert_eq!(parse(&text).unwrap_err().path(), Some(path), "{server}");
    }
    let text = format!("{MINIMAL}server:\n  maxConnections: 8\n  headerReadTimeout: 1m\n");
    let server = parse(&text).unwrap().0.server;
    assert_eq!(
        (server.max_connections, server.header_read_timeout.as_secs()),
        (8, 60)
    );
}

#[test]
fn prepuller_options_have_the_original_shape() {
    let (config, _) = parse(MINIMAL).unwrap();
    let options = config.images.prepuller_options();
    assert_eq!(options["refresh_interval"], serde_json::json!(300.0));
    assert_eq!(options["source"]["type"], "docker");
    assert_eq!(options["cycle"], serde_json::Value::Null);
    assert!(options.get("docker_credentials_path").is_none());
}

#[test]
fn static_cluster_and_prefix() {
    let text =
        format!("{MINIMAL}cluster:\n  type: static\n  nodesFile: nodes.json\npathPrefix: /x/\n");
    let (config, _) = parse(&text).unwrap();
    assert!(matches!(config.cluster, ClusterConfig::Static { .. }));
    assert_eq!(config.path_prefix, "/x");
}

#[test]
fn the_shipped_configurations_load_without_warnings() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
    let configmap = std::fs::read_to_string(format!("{root}/deploy/kubernetes/config.yaml"))
        .expect("deploy/kubernetes/config.yaml");
    let configmap: serde_yaml::Value = serde_yaml::from_str(&configmap).unwrap();
    let text = configmap["data"]["config.yaml"]
        .as_str()
        .expect("data.config.yaml");
    let (config, warnings) = parse(text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(config.server.listen, "0.0.0.0:8080");
    let demo = std::fs::read_to_string(format!("{root}/examples/demo.yaml")).unwrap();
    let (_, warnings) = parse(&demo).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn prefixes_are_normalised_or_refused() {
    assert_eq!(normalize_prefix("").unwrap(), "");
    assert_eq!(normalize_prefix("/").unwrap(), "");
    assert_eq!(normalize_prefix("/nublado").unwrap(), "/nublado");
    assert_eq!(normalize_prefix("nublado/").unwrap(), "/nublado");
    assert_eq!(normalize_prefix("/a//b/").unwrap(), "/a/b");
    for bad in ["/{x}", "/:x", "/*x", "/a b", "/..", "/é"] {
        assert!(normalize_prefix(bad).is_err(), "{bad}");
        let text = format!("{MINIMAL}pathPrefix: \"{bad}\"\n");
        assert_eq!(
            parse(&text).unwrap_err().path(),
            Some("pathPrefix"),
            "{bad}"
        );
    }
}

#[test]
fn node_selectors_and_tolerations_are_checked_as_the_api_server_checks_them() {
    let error = |lab: &str| parse(&format!("{MINIMAL}lab:\n{lab}")).unwrap_err();
    let bad_key = error("  nodeSelector:\n    bad key: x\n");
    assert_eq!(bad_key.path(), Some("lab.nodeSelector.bad key"));
    assert!(bad_key
        .to_string()
        .contains("Invalid value: \"bad key\": name part must consist"));
    let bad_value = error("  nodeSelector:\n    ok: -x\n");
    assert_eq!(bad_value.path(), Some("lab.nodeSelector.ok"));
    assert!(bad_value
        .to_string()
        .contains("a valid label must be an empty string"));
    let bad_effect = error("  tolerations:\n    - key: k\n      value: v\n      effect: NoEvict\n");
    assert_eq!(bad_effect.path(), Some("lab.tolerations[0].effect"));
    assert!(bad_effect
        .to_string()
        .contains("Unsupported value: \"NoEvict\": supported values: \"NoSchedule\""));
    let bad_key = error("  tolerations:\n    - key: a/b/c\n      operator: Exists\n");
    assert_eq!(bad_key.path(), Some("lab.tolerations[0].key"));
    let keyless_equal = error("  tolerations:\n    - value: v\n");
    assert_eq!(keyless_equal.path(), Some("lab.tolerations[0]"));
    let bad_value = error("  tolerations:\n    - key: k\n      value: \"a b\"\n");
    assert_eq!(bad_value.path(), Some("lab.tolerations[0].operator"));
    let bad_secret = error("  pullSecret: Pull_Secret\n");
    assert_eq!(bad_secret.path(), Some("lab.pullSecret"));
}

#[test]
fn toleration_seconds_without_no_execute_is_accepted_with_a_warning() {
    let text = format!(
        "{MINIMAL}lab:\n  tolerations:\n    - key: k\n      value: v\n      effect: NoSchedule\n      \
         tolerationSeconds: 60\n    - key: k\n      operator: Exists\n      effect: NoExecute\n      \
         tolerationSeconds: 60\n"
    );
    let (config, warnings) = parse(&text).unwrap();
    assert_eq!(config.lab.tolerations[0].toleration_seconds, Some(60));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0]
            .0
            .starts_with("lab.tolerations[0].tolerationSeconds: left out of prepull pods"),
        "{}",
        warnings[0]
    );
}

#[test]
fn prepuller_namespace_and_node_status_max_images() {
    let text = format!("{MINIMAL}prepuller:\n  namespace: Not_A_Namespace\n");
    assert_eq!(
        parse(&text).unwrap_err().path(),
        Some("prepuller.namespace")
    );
    let (config, _) = parse(MINIMAL).unwrap();
    assert_eq!(
        config.prepuller.node_status_max_images,
        rsp_model::plan::NodeStatusMaxImages::Limit(50)
    );
    let text = format!("{MINIMAL}prepuller:\n  nodeStatusMaxImages: -1\n");
    let (config, _) = parse(&text).unwrap();
    assert_eq!(
        config.prepuller.node_status_max_images,
        rsp_model::plan::NodeStatusMaxImages::Unlimited
    );
    let text = format!("{MINIMAL}prepuller:\n  nodeStatusMaxImages: -2\n");
    let error = parse(&text).unwrap_err();
    assert_eq!(error.path(), Some("prepuller.nodeStatusMaxImages"));
    assert!(error.to_string().contains("give -1"), "{error}");
}

#[test]
fn registry_limits_have_defaults_bounds_and_key_names() {
    let (config, _) = parse(MINIMAL).unwrap();
    assert_eq!(config.images.registry_limits, RegistryLimits::default());
    let text =
        format!("{MINIMAL}  registryLimits:\n    maxResponseBytes: 1048576\n    maxPages: 3\n");
    let limits = parse(&text).unwrap().0.images.registry_limits;
    assert_eq!(
        (limits.max_response_bytes, limits.max_pages),
        (1_048_576, 3)
    );
    assert_eq!(limits.max_entries, RegistryLimits::default().max_entries);
    for (setting, path) in [
        ("maxPages: 0", "images.registryLimits.maxPages"),
        (
            "maxEntries: 18446744073709551615",
            "images.registryLimits.maxEntries",
        ),
        (
            "maxResponseBytes: 10",
            "images.registryLimits.maxResponseBytes",
        ),
        (
            "maxResponseBytes: -1",
            "images.registryLimits.maxResponseBytes",
        ),
        ("maxPage: 3", "images.registryLimits.maxPage"),
    ] {
        let text = format!("{MINIMAL}  registryLimits:\n    {setting}\n");
        let error = parse(&text).unwrap_err();
        assert_eq!(error.path(), Some(path), "{setting}: {error}");
    }
}
