//! `GET /metrics` answers Prometheus text that a strict reader of the 0.0.4 format accepts,
//! with every metric decisions §4 lists and those operators need besides, and OpenMetrics
//! to a client that asks for it (Prometheus). `tests/prometheus.rs` has the real Prometheus
//! and `promtool` read them.

mod http_support;

use http_support::{app, get, TestBackend};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// One sample line: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        // Go's parser reads only these spellings of infinities and NaN, not Rust's `inf`.
        _ if !text
            .chars()
            .all(|c| c.is_ascii_digit() || ".eE+-".contains(c)) =>
        {
            Err(format!("bad value {text:?}"))
        }
        _ => text.parse().map_err(|e| format!("bad value {text:?}: {e}")),
    }
}

/// Label pairs `k="v",…` with `\\`, `\"` and `\n` escapes; returns the rest after `}`.
fn labels(mut text: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut map = BTreeMap::new();
    loop {
        if let Some(rest) = text.strip_prefix('}') {
            return Ok((map, rest));
        }
        let (key, rest) = text.split_once("=\"").ok_or("label without =\"")?;
        if !is_name(key) {
            return Err(format!("bad label name {key:?}"));
        }
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    'n' => value.push('\n'),
                    c @ ('\\' | '"') => value.push(c),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (i, '"') => break i,
                (_, '\n') => return Err("newline in label value".into()),
                (_, c) => value.push(c),
            }
        };
        map.insert(key.to_owned(), value);
        text = &rest[end + 1..];
        text = text.strip_prefix(',').unwrap_or(text);
    }
}

/// Parses the exposition strictly: every sample belongs to a family declared by `# TYPE`
/// before it, and no family is declared twice.
fn parse(text: &str) -> Result<(HashMap<String, String>, Vec<Sample>), String> {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    if !text.ends_with('\n') {
        return Err("no final newline".into());
    }
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or("");
            if !is_name(name) {
                return Err(format!("bad HELP line {line:?}"));
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').ok_or("TYPE without kind")?;
            if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                return Err(format!("bad type {kind}"));
            }
            if types.insert(name.to_owned(), kind.to_owned()).is_some() {
                return Err(format!("{name} declared twice"));
            }
        } else {
            let end = line.find(['{', ' ']).ok_or(format!("bad line {line:?}"))?;
            let name = &line[..end];
            let (labels, rest) = match line[end..].strip_prefix('{') {
                Some(rest) => labels(rest)?,
                None => (BTreeMap::new(), &line[end..]),
            };
            let value = value(
                rest.strip_prefix(' ')
                    .ok_or(format!("no value in {line:?}"))?,
            )?;
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    name.strip_suffix(s)
                        .filter(|f| types.get(*f).is_some_and(|t| t == "histogram"))
                })
                .unwrap_or(name);
            if !types.contains_key(family) {
                return Err(format!("sample {name} before its TYPE"));
            }
            samples.push((name.to_owned(), labels, value));
        }
    }
    Ok((types, samples))
}

fn sample<'a>(samples: &'a [Sample], name: &str, label: Option<(&str, &str)>) -> &'a Sample {
    samples
        .iter()
        .find(|(n, l, _)| n == name && label.is_none_or(|(k, v)| l.get(k).is_some_and(|x| x == v)))
        .unwrap_or_else(|| panic!("no sample {name} {label:?}"))
}

/// Scrapes `/metrics` as a client that does not ask for OpenMetrics (curl, promtool).
async fn scrape_text(app: &axum::Router) -> (HashMap<String, String>, Vec<Sample>, String) {
    let reply = get(app, "/metrics").await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .content_type()
        .starts_with("text/plain; version=0.0.4"));
    let text = reply.text();
    let (types, samples) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    (types, samples, text)
}

/// The standard fixture with warm nodes on (node4 cold): every value derived from the served
/// snapshot is the service's own computation over the fixture's nodes and listing.
#[tokio::test]
async fn metrics_parse_and_carry_every_metric() {
    let backend = TestBackend::with_a_cold_node(Duration::from_secs(60));
    let app = app(Arc::new(backend));
    let (types, samples, text) = scrape_text(&app).await;
    for (family, kind) in [
        ("rsp_images_refresh_total", "counter"),
        ("rsp_images_refresh_duration_seconds", "histogram"),
        ("rsp_images_refresh_last_success_timestamp_seconds", "gauge"),
        ("rsp_images_refresh_interval_seconds", "gauge"),
        ("rsp_images_images_seen", "gauge"),
        ("rsp_images_tags_seen", "gauge"),
        ("rsp_images_leader", "gauge"),
        ("rsp_images_prepull_pods_in_flight", "gauge"),
        ("rsp_images_prepull_pods_max", "gauge"),
        ("rsp_images_prepull_duration_seconds", "histogram"),
        ("rsp_images_prepulls_total", "counter"),
        ("rsp_images_missing_pairs", "gauge"),
        ("rsp_images_task_restarts_total", "counter"),
        ("rsp_images_task_up", "gauge"),
        ("rsp_images_nodes_eligible", "gauge"),
        ("rsp_images_nodes_ineligible", "gauge"),
        ("rsp_images_prepull_image_missing_nodes", "gauge"),
        ("rsp_images_warm_nodes_cold", "gauge"),
        ("rsp_images_warm_wait_seconds", "histogram"),
        ("rsp_images_warm_released_by_timeout_total", "counter"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "{family}\n{text}"
        );
    }
    let v = |name, label| sample(&samples, name, label).2;
    assert_eq!(
        v("rsp_images_refresh_total", Some(("outcome", "success"))),
        3.0
    );
    assert_eq!(
        v("rsp_images_refresh_total", Some(("outcome", "failure"))),
        1.0
    );
    assert_eq!(v("rsp_images_refresh_duration_seconds_count", None), 4.0);
    assert_eq!(
        v(
            "rsp_images_refresh_duration_seconds_bucket",
            Some(("le", "+Inf"))
        ),
        4.0
    );
    assert_eq!(
        v(
            "rsp_images_refresh_duration_seconds_bucket",
            Some(("le", "1"))
        ),
        2.0
    );
    assert!((v("rsp_images_refresh_duration_seconds_sum", None) - 32.9).abs() < 1e-9);
    assert_eq!(
        v("rsp_images_refresh_last_success_timestamp_seconds", None),
        1.7e9
    );
    assert_eq!(v("rsp_images_refresh_interval_seconds", None), 300.0);
    assert_eq!(v("rsp_images_prepull_duration_seconds_count", None), 2.0);
    assert_eq!(v("rsp_images_leader", None), 1.0);
    assert_eq!(
        v("rsp_images_prepulls_total", Some(("outcome", "success"))),
        2.0
    );
    assert_eq!(
        v("rsp_images_prepulls_total", Some(("reason", "pull_error"))),
        2.0
    );
    assert_eq!(v("rsp_images_tags_seen", None), 5.0);
    assert_eq!(v("rsp_images_prepull_pods_in_flight", None), 1.0);
    assert_eq!(v("rsp_images_prepull_pods_max", None), 10.0);
    assert_eq!(v("rsp_images_missing_pairs", None), 2.0);
    assert_eq!(
        v("rsp_images_task_restarts_total", Some(("task", "refresh"))),
        2.0
    );
    assert_eq!(v("rsp_images_warm_nodes_cold", None), 1.0);
    assert_eq!(v("rsp_images_warm_wait_seconds_sum", None), 42.0);
    assert_eq!(v("rsp_images_warm_released_by_timeout_total", None), 1.0);
    assert_eq!(v("rsp_images_task_up", Some(("task", "refresh"))), 1.0);
    assert_eq!(v("rsp_images_task_up", Some(("task", "prepuller"))), 0.0);
    // node1, node2 and node4 (cold, but the warm taint does not make a node ineligible).
    assert_eq!(v("rsp_images_nodes_eligible", None), 3.0);
    // Every reason is reported, zeros included, so a dashboard sees 0 rather than nothing.
    // node3 carries a taint the lab does not tolerate.
    for (reason, count) in [("cordoned", 0.0), ("not_ready", 0.0), ("tainted", 1.0)] {
        assert_eq!(
            v("rsp_images_nodes_ineligible", Some(("reason", reason))),
            count
        );
    }
    // The weekly is on every eligible node; the daily misses on node2 and node4.
    assert_eq!(
        v(
            "rsp_images_prepull_image_missing_nodes",
            Some(("tag", "w_2077_43"))
        ),
        0.0
    );
    assert_eq!(
        v(
            "rsp_images_prepull_image_missing_nodes",
            Some(("tag", "d_2077_10_23"))
        ),
        2.0
    );
    // Buckets are cumulative.
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, _, _)| n == "rsp_images_prepull_duration_seconds_bucket")
        .map(|s| s.2)
        .collect();
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
}

#[tokio::test]
async fn requests_are_counted_by_route_template_and_status() {
    let app = app(Arc::new(TestBackend::standard()));
    let api = format!("{}/spawner/v1", http_support::PREFIX);
    for path in [
        format!("{api}/images/recommended"),
        format!("{api}/images/recommended"),
        format!("{api}/images/nope"),
        "/no/such/route/42".to_owned(),
    ] {
        get(&app, &path).await;
    }
    let (_, samples, text) = scrape_text(&app).await;
    let count = |route: &str, status: &str| {
        samples
            .iter()
            .find(|(name, labels, _)| {
                name == "rsp_images_http_request_duration_seconds_count"
                    && labels.get("route").is_some_and(|r| r == route)
                    && labels.get("status").is_some_and(|s| s == status)
                    && labels.get("method").is_some_and(|m| m == "GET")
            })
            .map(|sample| sample.2)
    };
    let tag_route = format!("{api}/images/{{tag}}");
    assert_eq!(count(&tag_route, "200"), Some(2.0), "{text}");
    assert_eq!(count(&tag_route, "404"), Some(1.0), "{text}");
    // Unknown paths share one label value, so clients cannot grow the series without bound.
    assert_eq!(count("unmatched", "404"), Some(1.0), "{text}");
    assert!(!text.contains("/no/such/route"), "{text}");
}

#[tokio::test]
async fn prometheus_gets_openmetrics() {
    let app = app(Arc::new(TestBackend::standard()));
    let request = axum::http::Request::get("/metrics")
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .body(axum::body::Body::empty())
        .expect("valid request");
    let reply = http_support::send(&app, request).await;
    assert_eq!(reply.status, 200);
    assert!(reply
        .content_type()
        .starts_with("application/openmetrics-text; version=1.0.0"));
    let text = reply.text();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains("# TYPE rsp_images_prepulls counter\n"),
        "{text}"
    );
    assert!(
        text.contains("rsp_images_prepulls_total{outcome=\"success\"} 2\n"),
        "{text}"
    );
}

/// A label value with a quote and a newline survives escaping. No prepuller reports such a
/// reason (reasons are a fixed set of words), so the snapshot is made by hand.
#[test]
fn label_values_are_escaped() {
    use rsp_service::backend::MetricsSnapshot;
    use rsp_service::metrics::{render, Format, HttpMetrics};
    let snapshot = MetricsSnapshot {
        prepull_failures: vec![("pull_error".to_owned(), 2), ("timeout\"\n".to_owned(), 1)],
        ..MetricsSnapshot::default()
    };
    let text = render(snapshot, &HttpMetrics::default(), Format::Text);
    let (_, samples) = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let v = |name, label| sample(&samples, name, label).2;
    assert_eq!(
        v("rsp_images_prepulls_total", Some(("reason", "timeout\"\n"))),
        1.0
    );
}

#[test]
fn the_reader_is_strict() {
    assert!(parse("x 1\n").is_err(), "sample without TYPE");
    assert!(
        parse("# TYPE x gauge\nx{a=\"b} 1\n").is_err(),
        "unterminated label"
    );
    assert!(parse("# TYPE x gauge\nx inf\n").is_err(), "Rust's inf");
    assert!(parse("# TYPE x gauge\nx 1\n").is_ok());
}
