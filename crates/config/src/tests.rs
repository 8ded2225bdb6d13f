use super::*;
use rsp_model::init_image::InitImage;

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
        "logLevel: DEBUG\nfsadmin:\n  image: x\nlab:\n  spawnTimeout: 10\n  namespacePrefix: u\n  \
         pullSecret: pull-secret\n  nodeSelector:\n    a: b\n{MINIMAL}"
    );
    let (config, warnings) = parse(&text).unwrap();
    assert_eq!(warnings.len(), 1);
    let warning = &warnings[0].0;
    for name in [
        "logLevel",
        "fsadmin",
        "lab.spawnTimeout",
        "lab.namespacePrefix",
    ] {
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
fn snake_case_is_accepted_for_the_sections_that_say_so_and_not_for_server() {
    let text = "images:\n  source:\n    type: docker\n    registry: r\n    repository: x\n\
                prepuller:\n  max_in_flight: 3\n  leader_election: false\n\
                cluster:\n  type: static\n  nodes_file: nodes.json\n\
                gafaelfawr:\n  cache_lifetime: 10s\n\
                dropdown_menu:\n  weekly:\n    cutoff_build: 40\n\
                path_prefix: /n\n";
    let (config, _) = parse(text).unwrap();
    assert_eq!(config.prepuller.max_in_flight, 3);
    assert_eq!(config.gafaelfawr.cache_lifetime.as_secs(), 10);
    assert_eq!(config.path_prefix, "/n");
    assert!(matches!(config.cluster, ClusterConfig::Static { .. }));
    let server = format!("{MINIMAL}server:\n  max_connections: 5\n");
    let error = parse(&server).unwrap_err().to_string();
    assert!(error.contains("server"), "{error}");
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
    // Keys in the original's order, not sorted; no credentials path, no rsp-images additions.
    assert_eq!(
        serde_json::to_string(&options).unwrap(),
        "{\"source\":{\"type\":\"docker\",\"registry\":\"docker.io\",\"repository\":\
         \"library/sketchbook\"},\"refresh_interval\":300.0,\"prepull_timeout\":600.0,\
         \"recommended_tag\":\"recommended\",\"num_releases\":1,\"num_weeklies\":2,\
         \"num_dailies\":3,\"cycle\":null,\"pin\":[],\"alias_tags\":[]}"
    );
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

/// The standard sizes of the original's configuration, as a Nublado file writes them.
const SIZES: &str = "lab:
  sizes:
    - size: small
      resources:
        limits: {cpu: 1.0, memory: 3Gi}
        requests: {cpu: 0.25, memory: 0.75Gi}
    - size: medium
      resources:
        limits: {cpu: 2, memory: 6Gi}
        requests: {cpu: 500m, memory: 1610612736}
";

fn with_sizes(extra: &str) -> String {
    format!("{MINIMAL}{SIZES}{extra}")
}

#[test]
fn lab_sizes_are_read_as_the_original_reads_them() {
    let (config, warnings) = parse(&with_sizes("  defaultSize: medium\n")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let sizes = &config.lab.sizes;
    let labels: Vec<String> = sizes.sizes.iter().map(|s| s.label()).collect();
    assert_eq!(
        labels,
        ["Small (1.0 CPU, 3Gi RAM)", "Medium (2.0 CPU, 6Gi RAM)"]
    );
    assert_eq!(sizes.sizes[1].requests.cpu, 0.5);
    assert_eq!(sizes.sizes[1].requests.memory.get(), 1610612736.0);
    assert_eq!(sizes.default, Some(rsp_model::lab::SizeName::Medium));
    // snake_case, as the original also accepts it
    let (config, _) = parse(&with_sizes("  default_size: small\n")).unwrap();
    assert_eq!(
        config.lab.sizes.default,
        Some(rsp_model::lab::SizeName::Small)
    );
    // Omitting sizes is accepted, as in the original: the form then has none to offer.
    assert!(parse(MINIMAL).unwrap().0.lab.sizes.sizes.is_empty());
}

#[test]
fn lab_size_errors_name_their_key() {
    let size = |name: &str, limits: &str, requests: &str| {
        format!(
            "{MINIMAL}lab:\n  sizes:\n    - size: {name}\n      resources:\n        \
             limits: {limits}\n        requests: {requests}\n"
        )
    };
    let ok = "{cpu: 1, memory: 1Gi}";
    for (text, path, message) in [
        (size("Small", ok, ok), "lab.sizes[0].size", "Small"),
        (size("xl", ok, ok), "lab.sizes[0].size", "xl"),
        (
            size("small", ok, "{cpu: 2, memory: 1Gi}"),
            "lab.sizes[0].resources.requests.cpu",
            "must not exceed",
        ),
        (
            size("small", ok, "{cpu: 1, memory: 1025Mi}"),
            "lab.sizes[0].resources.requests.memory",
            "must not exceed",
        ),
        (
            size("small", "{cpu: 1.2345, memory: 1Gi}", ok),
            "lab.sizes[0].resources.limits.cpu",
            "1.2345",
        ),
        (
            size("small", "{cpu: 1, memory: inf}", ok),
            "lab.sizes[0].resources.limits.memory",
            "finite",
        ),
        (
            size("small", "{cpu: 1, memory: 4GI}", ok),
            "lab.sizes[0].resources.limits.memory",
            "4GI",
        ),
        (
            size("small", "{cpu: nan, memory: 1Gi}", "{cpu: nan, memory: 1Gi}"),
            "lab.sizes[0].resources.limits.cpu",
            "nan",
        ),
        (
            size("small", "{cpu: true, memory: 1Gi}", ok),
            "lab.sizes[0].resources.limits.cpu",
            "quantity",
        ),
        (
            size("small", "{cpu: 1, memory: 1Gi, gpu: 1}", ok),
            "lab.sizes[0].resources.limits.gpu",
            "unknown field",
        ),
        (
            format!("{MINIMAL}lab:\n  sizes: []\n"),
            "lab.sizes",
            "at least one",
        ),
        (
            with_sizes("  defaultSize: large\n"),
            "lab.defaultSize",
            "large is not one of",
        ),
        (
            with_sizes("    - size: small\n      resources:\n        limits: {cpu: 1, memory: 1}\n        requests: {cpu: 1, memory: 1}\n"),
            "lab.sizes[2].size",
            "duplicate lab size small",
        ),
    ] {
        let error = parse(&text).unwrap_err();
        assert_eq!(error.path(), Some(path), "{error}");
        assert!(error.to_string().contains(message), "{error}");
    }
}

#[test]
fn gafaelfawr_only_where_configured() {
    use crate::GafaelfawrEndpoint;
    let (config, _) = parse(MINIMAL).unwrap();
    assert_eq!(config.gafaelfawr.timeout.as_secs(), 20);
    assert_eq!(config.gafaelfawr.cache_lifetime.as_secs(), 300);
    assert_eq!(config.gafaelfawr.endpoint(None), Ok(None));
    assert_eq!(config.gafaelfawr.endpoint(Some("")), Ok(None));
    assert_eq!(
        config
            .gafaelfawr
            .endpoint(Some("https://h.example/repertoire/")),
        Ok(Some(GafaelfawrEndpoint::Repertoire(
            "https://h.example/repertoire".into()
        )))
    );
    let error = config
        .gafaelfawr
        .endpoint(Some("https://u:secret@h.example"))
        .unwrap_err();
    assert_eq!(error.path(), Some(REPERTOIRE_VARIABLE));
    assert!(!error.to_string().contains("secret"), "{error}");

    let text = format!(
        "{MINIMAL}gafaelfawr:\n  url: https://h.example/auth/api/v1/\n  timeout: 5s\n  \
         cacheLifetime: 0\n"
    );
    let (config, _) = parse(&text).unwrap();
    assert_eq!(
        config
            .gafaelfawr
            .endpoint(Some("https://other.example/repertoire")),
        Ok(Some(GafaelfawrEndpoint::Url(
            "https://h.example/auth/api/v1".into()
        )))
    );
    assert!(config.gafaelfawr.cache_lifetime.is_zero());
    for (section, path) in [
        ("url: ftp://h.example", "gafaelfawr.url"),
        ("url: https://alice:pw@h.example", "gafaelfawr.url"),
        ("url: https://h.example/?q=1", "gafaelfawr.url"),
        ("url: not a url", "gafaelfawr.url"),
        ("timeout: 0", "gafaelfawr.timeout"),
        ("timeout: 1h", "gafaelfawr.timeout"),
        ("cacheLifetime: 6m", "gafaelfawr.cacheLifetime"),
        ("cache_lifetime: 1w", "gafaelfawr.cache_lifetime"),
        ("urls: x", "gafaelfawr.urls"),
    ] {
        let text = format!("{MINIMAL}gafaelfawr:\n  {section}\n");
        let error = parse(&text).unwrap_err();
        assert_eq!(error.path(), Some(path), "{section}: {error}");
        assert!(!error.to_string().contains(":pw@"), "{error}");
    }
}

/// The keys bounded in `bounds`, with a value just outside each end of their range.
const BOUNDED: [(&str, &str, &str, &str); 11] = [
    ("server", "maxConnections", "0", "1000001"),
    ("server", "headerReadTimeout", "0s", "61m"),
    ("images", "refreshInterval", "0.5", "31d"),
    ("images", "prepullTimeout", "0", "25h"),
    ("prepuller", "maxInFlight", "0", "10001"),
    ("prepuller", "warmTimeout", "0.5", "25h"),
    (
        "images.registryLimits",
        "maxResponseBytes",
        "65535",
        "4294967297",
    ),
    ("images.registryLimits", "maxPages", "0", "10000001"),
    ("images.registryLimits", "maxEntries", "0", "100000001"),
    ("gafaelfawr", "timeout", "0", "301s"),
    ("gafaelfawr", "cacheLifetime", "-1", "301s"),
];

/// `key: value` inside `section`, on top of the minimal configuration.
fn with_key(section: &str, key: &str, value: &str) -> String {
    if section == "images" {
        format!("{MINIMAL}  {key}: {value}\n")
    } else if let Some(subsection) = section.strip_prefix("images.") {
        format!("{MINIMAL}  {subsection}:\n    {key}: {value}\n")
    } else {
        format!("{MINIMAL}{section}:\n  {key}: {value}\n")
    }
}

/// Regression (issue 10): values the code cannot use were accepted and then panicked (in
/// hyper, the semaphore, the refresh jitter, `Instant` arithmetic).
#[test]
fn durations_and_counts_out_of_range_are_refused_naming_the_key() {
    let huge = [
        "10000000000000000000",
        "18446744073709551615",
        "1e300",
        "-1",
    ];
    for (section, key, too_small, too_large) in BOUNDED {
        let path = format!("{section}.{key}");
        for value in [too_small, too_large].into_iter().chain(huge) {
            let error = parse(&with_key(section, key, value)).unwrap_err();
            assert_eq!(
                error.path(),
                Some(path.as_str()),
                "{path}: {value}: {error}"
            );
        }
    }
    let error = parse(&with_key("server", "headerReadTimeout", "2h")).unwrap_err();
    assert!(
        error.to_string().contains("from 1ms to 1h"),
        "the range is named: {error}"
    );
}

/// Regression (issue 10): `prepullTimeout: 0` timed every prepull out at once.
#[test]
fn a_zero_prepull_timeout_is_refused_like_a_zero_max_in_flight() {
    for (section, key) in [("images", "prepullTimeout"), ("prepuller", "maxInFlight")] {
        let error = parse(&with_key(section, key, "0")).unwrap_err();
        assert_eq!(error.path(), Some(format!("{section}.{key}").as_str()));
    }
}

#[test]
fn defaults_lie_within_their_bounds() {
    let (config, _) = parse(MINIMAL).unwrap();
    for (section, key, _, _) in BOUNDED {
        let value = match key {
            "maxConnections" => config.server.max_connections.to_string(),
            "headerReadTimeout" => format!("{}ms", config.server.header_read_timeout.as_millis()),
            "refreshInterval" => format!("{}", config.images.refresh_interval.as_secs()),
            "prepullTimeout" => format!("{}", config.images.prepull_timeout.as_secs()),
            "maxInFlight" => config.prepuller.max_in_flight.to_string(),
            // No default of its own: derived from the prepull timeout at run time.
            "warmTimeout" => "3600".to_owned(),
            "maxResponseBytes" => config.images.registry_limits.max_response_bytes.to_string(),
            "maxPages" => config.images.registry_limits.max_pages.to_string(),
            "maxEntries" => config.images.registry_limits.max_entries.to_string(),
            "timeout" => format!("{}", config.gafaelfawr.timeout.as_secs()),
            "cacheLifetime" => format!("{}", config.gafaelfawr.cache_lifetime.as_secs()),
            other => panic!("no default for {other}"),
        };
        let value = value.replace("ms", "");
        let value = if key == "headerReadTimeout" {
            format!("{}", value.parse::<u64>().unwrap() / 1000)
        } else {
            value
        };
        parse(&with_key(section, key, &value)).unwrap_or_else(|e| panic!("{key}: {e}"));
    }
}

/// Regression (issue 10): a prefix equal to a root route panicked at start-up (overlapping
/// routes).
#[test]
fn a_prefix_on_a_root_route_is_refused() {
    for route in ROOT_ROUTES {
        for written in [route.to_owned(), format!("{route}/"), route[1..].to_owned()] {
            let error = parse(&format!("{MINIMAL}pathPrefix: \"{written}\"\n")).unwrap_err();
            assert_eq!(error.path(), Some("pathPrefix"), "{written}");
            assert!(error.to_string().contains(route), "{error}");
        }
    }
    assert!(parse(&format!("{MINIMAL}pathPrefix: /metrics/x\n")).is_ok());
}

/// Regression (issue 10): `images:` and 200,000 `[` did not finish parsing in 10 s.
#[test]
fn deep_nesting_is_refused_quickly() {
    let text = format!("images: {}", "[".repeat(200_000));
    // Parsed on a thread of its own and waited for with a limit, so that a parser that is
    // quadratic in the depth fails this test instead of hanging the suite.
    let (answer, answered) = std::sync::mpsc::channel();
    std::thread::spawn(move || drop(answer.send(parse(&text).map(|_| ()))));
    let error = answered
        .recv_timeout(std::time::Duration::from_secs(2))
        .expect("deep nesting refused within 2 s")
        .unwrap_err();
    assert!(
        matches!(error, ConfigError::TooDeep { line: 1, .. }),
        "{error}"
    );
}

/// Regression (issue 10): a listen address that is no address was found only when binding
/// (exit 1, "cannot listen").
#[test]
fn the_listen_address_is_checked_when_loading() {
    for bad in [
        "not-an-address",
        "host:",
        ":8080",
        "1.2.3.4:99999",
        "a b:80",
        "h/x:80",
    ] {
        let error = parse(&format!("{MINIMAL}server:\n  listen: \"{bad}\"\n")).unwrap_err();
        assert_eq!(error.path(), Some("server.listen"), "{bad}: {error}");
    }
    for good in [
        "0.0.0.0:8080",
        "[::]:80",
        "localhost:8080",
        "rsp-images.nublado.svc:80",
    ] {
        parse(&format!("{MINIMAL}server:\n  listen: \"{good}\"\n"))
            .unwrap_or_else(|e| panic!("{good}: {e}"));
    }
}

/// Regression (issue 10): credentials in `apiUrl` or `registry` were printed, with the wrong
/// reason (and, for `registry`, the wrong key).
#[test]
fn credentials_in_urls_are_refused_without_echoing_them() {
    let cases = [
        (
            "    registry: host\n    apiUrl: https://alice:S3cret@registry.example\n",
            "images.source.apiUrl",
        ),
        (
            "    registry: host\n    apiUrl: https://alice:S3cret@registry.example/v2\n",
            "images.source.apiUrl",
        ),
        (
            "    registry: \"alice:S3cret@host\"\n",
            "images.source.registry",
        ),
    ];
    for (source, path) in cases {
        let text = format!("images:\n  source:\n    type: docker\n    repository: r\n{source}");
        let error = parse(&text).unwrap_err();
        assert_eq!(error.path(), Some(path), "{error}");
        let message = error.to_string();
        assert!(
            !message.contains("S3cret") && !message.contains("alice"),
            "{message}"
        );
        assert!(message.contains("credentials"), "{message}");
    }
    let text = "images:\n  source:\n    type: docker\n    repository: r\n    registry: https://x\n";
    assert_eq!(
        parse(text).unwrap_err().path(),
        Some("images.source.registry")
    );
}

/// Regression (issue 10): a 50 MB string of the wrong type was echoed whole.
#[test]
fn echoed_values_are_cut() {
    let long = "x".repeat(200_000);
    for text in [
        format!("{MINIMAL}  numReleases: \"{long}\"\n"),
        format!("{MINIMAL}server:\n  listen: \"{long}:80\"\n"),
        format!("{MINIMAL}pathPrefix: \"{long}?\"\n"),
        format!(
            "images:\n  source:\n    type: docker\n    repository: r\n    apiUrl: \"{long}\"\n"
        ),
        format!("{MINIMAL}  refreshInterval: \"{long}\"\n"),
    ] {
        let message = parse(&text).unwrap_err().to_string();
        assert!(message.len() < 1000, "{} characters", message.len());
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::time::Instant;

    /// What YAML can write where a duration or a count goes.
    fn number() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<u64>().prop_map(|n| n.to_string()),
            any::<i64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|n| format!("{n:e}")),
            (0u64..100_000).prop_map(|n| n.to_string()),
            (
                0u64..1000,
                prop::sample::select(vec!["w", "d", "h", "m", "s", "ms", "x"])
            )
                .prop_map(|(n, unit)| format!("{n}{unit}")),
            "[0-9a-z. ]{0,12}",
            Just("\"\"".to_owned()),
            Just("[1]".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Any number in any bounded key loads or is refused naming that key, and what loads
        /// can be used: added to the clock, scaled by the refresh jitter, given to a semaphore.
        #[test]
        fn arbitrary_durations_and_counts_never_panic(
            key in 0..BOUNDED.len(),
            value in number(),
        ) {
            let (section, name, _, _) = BOUNDED[key];
            match parse(&with_key(section, name, &value)) {
                Err(error) => {
                    let path = format!("{section}.{name}");
                    prop_assert_eq!(error.path(), Some(path.as_str()), "{}", error);
                }
                Ok((config, _)) => {
                    let now = Instant::now();
                    for duration in [
                        config.server.header_read_timeout,
                        config.images.refresh_interval,
                        config.images.prepull_timeout,
                        config.gafaelfawr.timeout,
                        config.gafaelfawr.cache_lifetime,
                    ] {
                        prop_assert!(now.checked_add(duration.mul_f64(1.1)).is_some());
                    }
                    prop_assert!(config.server.max_connections <= usize::MAX >> 3);
                    prop_assert!(config.prepuller.max_in_flight >= 1);
                }
            }
        }
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
fn the_warm_taint_is_checked_and_tolerated_for_eligibility() {
    let (config, _) = parse(MINIMAL).unwrap();
    assert_eq!(config.prepuller.warm_taint, None);
    assert_eq!(config.eligibility_tolerations(), config.lab.tolerations);
    let warm = |key: &str, effect: &str| {
        format!("{MINIMAL}prepuller:\n  warmTaint: {{key: {key:?}, effect: {effect}}}\n")
    };
    let key = "startup-taint.cluster-autoscaler.kubernetes.io/rsp-images-cold";
    let (config, warnings) = parse(&warm(key, "NoSchedule")).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let taint = config.prepuller.warm_taint.as_ref().unwrap().taint();
    assert_eq!(config.eligibility_tolerations(), vec![taint.toleration()]);
    for (key, effect, path) in [
        ("bad key!", "NoSchedule", "prepuller.warmTaint.key"),
        ("", "NoSchedule", "prepuller.warmTaint.key"),
        (key, "PreferNoSchedule", "prepuller.warmTaint.effect"),
        (key, "Sometimes", "prepuller.warmTaint.effect"),
    ] {
        let error = parse(&warm(key, effect)).unwrap_err();
        assert_eq!(error.path(), Some(path), "{key} {effect}: {error}");
    }
    let text =
        format!("{MINIMAL}prepuller:\n  warmTaint: {{key: k, effect: NoSchedule, value: v}}\n");
    let error = parse(&text).unwrap_err();
    assert!(error.to_string().contains("value"), "{error}");
    let text = format!("{MINIMAL}prepuller:\n  warm_timeout: 90m\n");
    let (config, _) = parse(&text).unwrap();
    assert_eq!(
        config.prepuller.warm_timeout,
        Some(std::time::Duration::from_secs(5400))
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

fn with_init_containers(containers: &str) -> String {
    format!("{MINIMAL}lab:\n  initContainers:\n{containers}")
}

#[test]
fn init_container_images_are_read_and_their_other_keys_left_to_the_lab() {
    let text = with_init_containers(
        "    - name: inithome\n      command: [nublado, inithome]\n      privileged: true\n      \
         image:\n        repository: ghcr.io/lsst-sqre/nublado\n        tag: 10.0.0\n      \
         volumeMounts:\n        - containerPath: /home\n          volumeName: home\n      \
         anythingAtAll: {deep: [1, 2]}\n    \
         - name: setup\n      image:\n        repository: example/setup\n        tag: 0.0.1\n        \
         pullPolicy: Always\n    \
         - name: again\n      image: {repository: example/setup, tag: 0.0.1}\n    \
         - name: local\n      image: {repository: local/only, tag: '1', pullPolicy: Never}\n",
    );
    let (config, warnings) = parse(&text).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let images: Vec<String> = config
        .lab
        .init_images
        .iter()
        .map(InitImage::reference)
        .collect();
    // Each once; `Never` is not pulled by a spawn, so not prepulled either.
    assert_eq!(
        images,
        ["ghcr.io/lsst-sqre/nublado:10.0.0", "example/setup:0.0.1"]
    );
    // snake_case, as the original accepts it.
    let snake = format!(
        "{MINIMAL}lab:\n  init_containers:\n    - image: {{repository: a/b, tag: '1', \
         pull_policy: IfNotPresent}}\n"
    );
    assert_eq!(parse(&snake).unwrap().0.lab.init_images.len(), 1);
    assert!(parse(MINIMAL).unwrap().0.lab.init_images.is_empty());
}

#[test]
fn init_container_images_of_the_wrong_shape_are_refused_naming_the_path() {
    let cases = [
        // The image as a string (an older Nublado's format) is not the image object.
        (
            "    - name: a\n      image: ghcr.io/lsst-sqre/nublado:10.0.0\n",
            "lab.initContainers[0].image",
        ),
        (
            "    - image: {repository: a/b, tag: '1'}\n    - image: {repository: [a], tag: '1'}\n",
            "lab.initContainers[1].image.repository",
        ),
        (
            "    - image: {repository: a/b, tag: 1.5}\n",
            "lab.initContainers[0].image.tag",
        ),
        ("    - image: {repository: a/b}\n", "lab.initContainers[0].image"),
        ("    - name: no-image\n", "lab.initContainers[0]"),
        (
            "    - image: {repository: a/b, tag: '1', pullPolicy: Sometimes}\n",
            "lab.initContainers[0].image.pullPolicy",
        ),
        (
            "    - image: {repository: a/b, tag: '1', digest: 'sha256:0'}\n",
            "lab.initContainers[0].image.digest",
        ),
        (
            "    - image: {repository: Bad/Name, tag: '1'}\n",
            "lab.initContainers[0].image.repository",
        ),
        (
            "    - image: {repository: a/b, tag: 'x y'}\n",
            "lab.initContainers[0].image.tag",
        ),
        (
            "    - image: {repository: a/b, tag: '1'}\n    - image: {repository: 'ghcr.io/', tag: '1'}\n",
            "lab.initContainers[1].image.repository",
        ),
    ];
    for (containers, want) in cases {
        match parse(&with_init_containers(containers)) {
            Err(ConfigError::Invalid { path, .. }) => assert_eq!(path, want, "{containers}"),
            other => panic!("{containers}: {other:?}"),
        }
    }
    let text = with_init_containers("    - image: 3\n");
    assert!(parse(&text)
        .unwrap_err()
        .to_string()
        .contains("lab.initContainers[0].image"));
    let text = format!("{MINIMAL}lab:\n  initContainers: {{name: a}}\n");
    match parse(&text) {
        Err(ConfigError::Invalid { path, .. }) => assert_eq!(path, "lab.initContainers"),
        other => panic!("{other:?}"),
    }
}
