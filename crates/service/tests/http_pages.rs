//! The lab form (behaviour §9.5) and the status page: structure, checked radios, escaping.

mod http_support;

use http_support::{app, get, TestBackend, PREFIX};
use std::sync::Arc;

async fn page(backend: TestBackend, uri: &str) -> String {
    let reply = get(&app(Arc::new(backend)), uri).await;
    assert_eq!(reply.status, 200, "{uri}: {}", reply.text());
    assert_eq!(reply.content_type(), "text/html; charset=utf-8");
    reply.text()
}

fn lab_form_uri(user: &str) -> String {
    format!("{PREFIX}/spawner/v1/lab-form/{user}")
}

#[tokio::test]
async fn lab_form_has_the_menu_radios_then_the_sentinel_and_the_dropdown() {
    let html = page(TestBackend::standard(), &lab_form_uri("someuser")).await;
    let radio = r#"<input type="radio" name="image_list" id="image1" value="lighthouse.ceres/library/sketchbook:recommended@sha256:5678" checked>"#;
    assert!(html.contains(radio), "{html}");
    assert!(html.contains(r#"<label for="image1">Recommended (Weekly 2077_43)</label>"#));
    assert_eq!(
        html.matches(r#"name="image_list""#).count(),
        2,
        "one menu entry + sentinel"
    );
    let sentinel = r#"<input type="radio" name="image_list" id="use_image_from_dropdown" value="use_image_from_dropdown">"#;
    assert!(
        html.contains(sentinel),
        "the sentinel is not checked: {html}"
    );
    assert!(html.contains(r#"<select name="image_dropdown" onchange="selectDropdown()">"#));
    assert_eq!(html.matches("<option ").count(), 5);
    assert!(html.contains(
        r#"<option value="lighthouse.ceres/library/sketchbook:latest_weekly">latest_weekly</option>"#
    ));
    assert!(html.contains("document.getElementById('use_image_from_dropdown').checked = true;"));
    // Radios come before the sentinel, which comes before the select.
    let (r, s, d) = (
        html.find(radio).unwrap(),
        html.find(sentinel).unwrap(),
        html.find("<select").unwrap(),
    );
    assert!(r < s && s < d);
}

#[tokio::test]
async fn with_an_empty_menu_the_sentinel_is_checked() {
    let html = page(TestBackend::empty(), &lab_form_uri("u")).await;
    assert!(
        html.contains(r#"id="use_image_from_dropdown" value="use_image_from_dropdown" checked>"#)
    );
    assert!(!html.contains(r#"id="image1""#));
}

#[tokio::test]
async fn odd_user_names_are_fine() {
    for user in [
        "%3Cscript%3E",
        "a%20b",
        "%C3%A9",
        "..",
        "x".repeat(3000).as_str(),
    ] {
        let html = page(TestBackend::standard(), &lab_form_uri(user)).await;
        assert!(!html.contains("<script>alert"), "{user}");
    }
}

#[tokio::test]
async fn everything_from_outside_is_escaped() {
    let form = page(TestBackend::hostile(), &lab_form_uri("u")).await;
    let status = page(TestBackend::hostile(), &format!("{PREFIX}/")).await;
    for html in [&form, &status] {
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<img src=x"));
        assert!(!html.contains("<b>node1"));
        assert!(!html.contains("<i>bad"));
    }
    assert!(form.contains("&lt;script&gt;alert(&#34;x&#34;)"), "{form}");
    assert!(status.contains("&lt;b&gt;node1&lt;/b&gt;"), "{status}");
    assert!(status.contains("&lt;img src=x onerror=alert(1)&gt;"));
}

#[tokio::test]
async fn status_page_shows_every_node_and_image_with_its_state() {
    let html = page(TestBackend::standard(), &format!("{PREFIX}/")).await;
    for node in ["node1", "node2", "node3", "node4"] {
        assert!(html.contains(&format!(">{node}<")), "{node}");
    }
    assert!(html.contains("Node is tainted (NoSchedule, some-taint = other-value)"));
    assert_eq!(html.matches(r#"<tr class="image">"#).count(), 2);
    assert!(html.contains("Weekly 2077_43") && html.contains("Daily 2077_10_23"));
    // Cells in the matrix (not the legend): node3 is ineligible, so nothing is wanted there.
    for (state, count) in [("cached", 4), ("pulling", 1), ("backoff", 1), ("skip", 2)] {
        let cell = format!(r#"<td class="cell {state}""#);
        assert_eq!(html.matches(&cell).count(), count, "{state}");
    }
    assert!(html.contains("image pull failed: manifest unknown"));
    // 2 images × 3 eligible nodes; the ineligible node3 is not counted.
    assert!(
        html.contains(
            "On the 3 eligible nodes:\n    4 cached, 1 pulling, 1 backing off,\n    0 missing."
        ),
        "{html}"
    );
    assert!(html.contains("retry in 2m"), "back-off deadline shown");
    assert!(html.contains("for 42s"), "pulling since shown");
    assert!(html.contains("leader"));
    assert!(html.contains("2m 0s ago"), "age of the last good listing");
    assert!(html.contains(r#"<meta name="viewport""#));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    // The same page without the trailing slash.
    assert_eq!(
        page(TestBackend::standard(), PREFIX).await.len(),
        html.len()
    );
}

#[tokio::test]
async fn status_page_before_the_first_refresh_shows_the_error() {
    let html = page(TestBackend::empty(), &format!("{PREFIX}/")).await;
    assert!(html.contains("none yet: not ready"));
    assert!(html.contains("failed 5s ago: connection refused"));
    assert!(html.contains("No nodes are known yet."));
}

#[tokio::test]
async fn without_a_prefix_the_status_page_is_the_root() {
    let app = rsp_service::http::router(Arc::new(TestBackend::standard()), "/").unwrap();
    let reply = get(&app, "/").await;
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("href=\"/spawner/v1/images\""));
    assert_eq!(get(&app, "/spawner/v1/menu").await.status, 200);
}

#[tokio::test]
async fn pairs_with_nothing_under_way_are_missing() {
    let mut backend = TestBackend::standard();
    backend.activity.clear();
    let html = page(backend, &format!("{PREFIX}/")).await;
    assert_eq!(html.matches(r#"<td class="cell missing""#).count(), 2);
    assert!(html.contains("4 cached, 0 pulling, 0 backing off,\n    2 missing."));
}

#[tokio::test]
async fn status_page_says_when_the_lab_form_is_open_or_has_no_sizes() {
    let html = page(TestBackend::standard(), &format!("{PREFIX}/")).await;
    assert!(html.contains("Lab form without authentication"), "{html}");
    assert!(!html.contains("No lab sizes"));
    let mut backend = TestBackend::standard();
    backend.form.sizes = Default::default();
    let html = page(backend, &format!("{PREFIX}/")).await;
    assert!(html.contains("No lab sizes"), "{html}");
}
