//! The lab form (behaviour §9.5) and the status pages (overview, node list, node page):
//! structure, links between them, the node list's queries, escaping, and rendering kept off
//! the threads that answer probes.

mod http_support;

use http_support::{app, at, get, TestBackend, PREFIX};
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    // A listing without images.
    let backend = TestBackend::empty();
    backend.set_ready(true);
    let html = page(backend, &lab_form_uri("u")).await;
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

/// The position of `needle` in `html`, failing with the page when it is absent.
fn position(html: &str, needle: &str) -> usize {
    html.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in the page:\n{html}"))
}

/// The nodes a node list page shows, in order.
fn listed_nodes(html: &str) -> Vec<String> {
    html.split(r#"<tr class="node"><th scope="row"><a href=""#)
        .skip(1)
        .map(|row| {
            let name = &row[row.find('>').expect("a link") + 1..];
            name[..name.find("</a>").expect("a link's end")].to_owned()
        })
        .collect()
}

async fn error_of(backend: TestBackend, uri: &str) -> (u16, String, String) {
    let reply = get(&app(Arc::new(backend)), uri).await;
    let (status, kind) = reply.error();
    let body = reply.json();
    (
        status,
        kind,
        body["detail"][0]["msg"].as_str().unwrap_or("").to_owned(),
    )
}

#[tokio::test]
async fn everything_from_outside_is_escaped_on_every_page() {
    let form = page(TestBackend::hostile(), &lab_form_uri("u")).await;
    let overview = page(TestBackend::hostile(), &format!("{PREFIX}/")).await;
    let list = page(TestBackend::hostile(), &format!("{PREFIX}/nodes")).await;
    let failing = page(
        TestBackend::hostile(),
        &format!("{PREFIX}/nodes/%3Cb%3Enode2%3C%2Fb%3E"),
    )
    .await;
    let tainted = page(TestBackend::hostile(), &format!("{PREFIX}/nodes/node3")).await;
    for html in [&form, &overview, &list, &failing, &tainted] {
        for raw in [
            "<script>alert",
            "<img src=x",
            "<b>node2",
            "<i>bad",
            "<svg onload",
        ] {
            assert!(!html.contains(raw), "{raw} unescaped in {html}");
        }
    }
    assert!(form.contains("&lt;script&gt;alert(&#34;x&#34;)"), "{form}");
    assert!(
        overview.contains("&lt;i&gt;bad&lt;/i&gt; &amp; &#34;worse&#34;"),
        "{overview}"
    );
    // The failing node, its link (percent-encoded, then escaped) and its pull error.
    assert!(
        overview.contains(
            r#"<a href="/nublado/nodes/%3Cb%3Enode2%3C%2Fb%3E">&lt;b&gt;node2&lt;/b&gt;</a>"#
        ),
        "{overview}"
    );
    assert!(overview.contains("&lt;script&gt;alert(&#39;pull&#39;)&lt;/script&gt;"));
    assert!(
        overview.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the reason of node3"
    );
    assert!(list.contains(">&lt;b&gt;node2&lt;/b&gt;</a>"), "{list}");
    assert!(
        failing.contains("&lt;script&gt;alert(&#39;pull&#39;)&lt;/script&gt;"),
        "{failing}"
    );
    assert!(
        failing.contains("&lt;svg onload=alert(2)&gt;"),
        "the arch label: {failing}"
    );
    assert!(
        tainted.contains("some-taint=&lt;img src=x onerror=alert(1)&gt;:NoSchedule"),
        "{tainted}"
    );
}

#[tokio::test]
async fn overview_has_notices_then_the_registry_then_one_row_per_image_then_the_nodes() {
    let html = page(TestBackend::standard(), &format!("{PREFIX}/")).await;
    let sections = [
        "id=\"notices\"",
        "id=\"refresh\"",
        "id=\"images\"",
        "id=\"nodes\"",
    ];
    let positions: Vec<usize> = sections.iter().map(|s| position(&html, s)).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");

    // node2's pull failed, and the fixture's lab form is open: two warnings.
    assert_eq!(html.matches(r#"<li class="notice "#).count(), 2, "{html}");
    assert_eq!(html.matches(r#"<li class="notice warning">"#).count(), 2);
    assert!(html.contains("<strong>Prepulls failing</strong>"));
    assert!(html.contains("<strong>Lab form without authentication</strong>"));
    assert!(html.contains("1 prepull failed on 1 node and wait"));

    assert!(html.contains("2m 0s ago"), "age of the last good listing");
    assert!(html.contains("leader: creates prepull pods"));
    assert!(
        !html.contains("standby"),
        "a leader's page never says standby (e2e reads it)"
    );

    // One row per prepull image, not per node.
    assert_eq!(html.matches(r#"<tr class="image">"#).count(), 2);
    assert!(!html.contains(">node3<"), "nodes are listed on demand only");
    // The weekly is on the 3 eligible nodes; the daily on 1, pulling on node4, failing on node2.
    assert!(html.contains("Weekly 2077_43") && html.contains("Daily 2077_10_23"));
    assert!(
        html.contains(r#"<span class="count">3 of 3</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="count">1 of 3</span>"#),
        "{html}"
    );
    assert!(html.contains(r#"<span style="width: 33%">"#));
    assert!(html.contains(
        r#"<a class="state pulling" href="/nublado/nodes?state=pulling&amp;image=d_2077_10_23">1 pulling</a>"#
    ), "{html}");
    assert!(html.contains(
        r#"<a class="state backing-off" href="/nublado/nodes?state=backing-off&amp;image=d_2077_10_23">1 backing off</a>"#
    ));
    assert!(html.contains(r#"<li><a href="/nublado/nodes/node2">node2</a> <small>1m 30s ago</small>: <span class="error">image pull failed: manifest unknown</span></li>"#), "{html}");
    assert!(
        !html.contains("failing nodes</a>"),
        "all failing nodes are listed already"
    );

    // Nodes by state: node1 has everything, node2 and node4 miss the daily, node3 is tainted.
    assert!(
        html.contains(
            r#"<a href="/nublado/nodes?state=eligible">3 nodes eligible</a>: 1 with every image"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"href="/nublado/nodes?state=incomplete">2 nodes missing some image</a>"#)
    );
    assert!(
        html.contains(r#"href="/nublado/nodes?state=backing-off">1 node with failed pulls</a>"#)
    );
    assert!(html.contains(r#"<a href="/nublado/nodes?state=ineligible">1 node ineligible</a>"#));
    assert!(html.contains("1 × Node is tainted (NoSchedule, some-taint = other-value)"));

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
async fn overview_lists_a_few_failing_nodes_and_links_to_all_of_them() {
    let html = page(TestBackend::many_failing(250), &format!("{PREFIX}/")).await;
    assert_eq!(
        html.matches("manifest unknown on node-").count(),
        3,
        "{html}"
    );
    for node in ["node-000", "node-001", "node-002"] {
        assert!(html.contains(&format!("manifest unknown on {node}")));
    }
    assert!(html.contains(
        r#"<a href="/nublado/nodes?state=backing-off&amp;image=d_2077_10_23">all 250 failing nodes</a>"#
    ), "{html}");
    assert!(html.contains("250 prepulls failed on 250 nodes"));
}

#[tokio::test]
async fn notices_come_most_severe_first_with_their_age() {
    let mut backend = TestBackend::empty();
    backend.leader = false;
    backend.prepulling = false;
    let html = page(backend, &format!("{PREFIX}/")).await;
    let order = [
        r#"<li class="notice critical">"#,
        "<strong>No image listing yet</strong> <span class=\"since\">since ",
        r#"<li class="notice info">"#,
        "<strong>This replica is on standby</strong>",
        "<strong>Plan only</strong>",
    ];
    let positions: Vec<usize> = order.iter().map(|s| position(&html, s)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "{positions:?}: {html}"
    );
    assert!(html.contains("(1m 5s ago)"), "failing since 65 s: {html}");
    assert!(html.contains("(4 attempts)") && html.contains("Last error: connection refused"));
    assert!(html.contains("none yet: not ready"));
    assert!(html.contains("No nodes are known yet."));
    assert!(html.contains("standby: another replica prepulls"));
}

#[tokio::test]
async fn node_list_shows_every_node_with_the_state_of_each_image() {
    let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes")).await;
    assert_eq!(listed_nodes(&html), ["node1", "node2", "node3", "node4"]);
    assert!(html.contains(r#"<a href="/nublado/nodes/node3">node3</a>"#));
    assert!(html.contains(r#"<span class="bad">no</span>: <small>Node is tainted (NoSchedule, some-taint = other-value)</small>"#));
    // 2 images × 4 nodes: node3 wants nothing; node2 backs off and node4 pulls the daily.
    for (state, count) in [
        ("cached", 4),
        ("pulling", 1),
        ("backing-off", 1),
        ("not-wanted", 2),
    ] {
        let cell = format!(r#"<td class="cell {state}">"#);
        assert_eq!(html.matches(&cell).count(), count, "{state}: {html}");
    }
    assert!(
        html.contains("<td>1 of 2 cached</td>")
            && html.contains("<td>0 cached; nothing prepulled here</td>")
    );
    assert!(html.contains("4 of 4 nodes."), "{html}");
    assert!(!html.contains(r#"rel="next""#));
}

#[tokio::test]
async fn node_list_filters_by_state_image_and_name_and_sorts_by_problems() {
    let cases: [(&str, &[&str]); 8] = [
        ("state=backing-off", &["node2"]),
        ("state=pulling&image=d_2077_10_23", &["node4"]),
        ("state=pulling&image=w_2077_43", &[]),
        ("state=ineligible", &["node3"]),
        ("state=incomplete", &["node2", "node4"]),
        ("state=eligible&name=node", &["node1", "node2", "node4"]),
        ("name=node1", &["node1"]),
        ("sort=problems", &["node2", "node4", "node1", "node3"]),
    ];
    for (query, expected) in cases {
        let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes?{query}")).await;
        assert_eq!(listed_nodes(&html), expected, "{query}");
    }
    // An HTML form sends empty values for "any".
    let html = page(
        TestBackend::standard(),
        &format!("{PREFIX}/nodes?state=&image=&name=&sort=&page="),
    )
    .await;
    assert_eq!(listed_nodes(&html).len(), 4);
    // The form shows the query it answered.
    let html = page(
        TestBackend::standard(),
        &format!("{PREFIX}/nodes?state=missing&image=d_2077_10_23&name=no%22de&sort=problems"),
    )
    .await;
    assert!(
        html.contains(r#"<option value="missing" selected>missing</option>"#),
        "{html}"
    );
    assert!(html.contains(r#"<option value="d_2077_10_23" selected>"#));
    assert!(html.contains(r#"<option value="problems" selected>"#));
    assert!(html.contains(r#"<input name="name" value="no&#34;de""#));
}

#[tokio::test]
async fn node_list_pages_by_a_hundred() {
    let backend = || TestBackend::many_failing(250);
    let first = page(backend(), &format!("{PREFIX}/nodes?state=backing-off")).await;
    let nodes = listed_nodes(&first);
    assert_eq!((nodes.len(), nodes[0].as_str()), (100, "node-000"));
    assert!(first.contains("250 of 250 nodes; page 1 of 3."), "{first}");
    assert!(first.contains(r#"<a rel="next" href="/nublado/nodes?state=backing-off&amp;page=2">"#));
    assert!(!first.contains(r#"rel="prev""#));

    let last = page(
        backend(),
        &format!("{PREFIX}/nodes?state=backing-off&page=3"),
    )
    .await;
    let nodes = listed_nodes(&last);
    assert_eq!((nodes.len(), nodes[0].as_str()), (50, "node-200"));
    assert!(last.contains(r#"<a rel="prev" href="/nublado/nodes?state=backing-off&amp;page=2">"#));
    // Past the end, or beyond any integer: the last page.
    for page_number in ["4", "99999999999999999999999999"] {
        let html = page(
            backend(),
            &format!("{PREFIX}/nodes?state=backing-off&page={page_number}"),
        )
        .await;
        assert!(html.contains("page 3 of 3."), "{page_number}");
    }
}

#[tokio::test]
async fn node_list_refuses_what_it_cannot_use_and_names_the_parameter() {
    let cases = [
        (
            "state=broken",
            "state",
            "use one of all, eligible, ineligible, incomplete, cached",
        ),
        ("image=nope", "image", "not a prepull image"),
        ("page=0", "page", "pages start at 1"),
        ("page=-1", "page", "a page number"),
        ("sort=age", "sort", "use name or problems"),
    ];
    for (query, parameter, message) in cases {
        let (status, kind, msg) =
            error_of(TestBackend::standard(), &format!("{PREFIX}/nodes?{query}")).await;
        assert_eq!((status, kind.as_str()), (422, "invalid_query"), "{query}");
        assert!(
            msg.starts_with(&format!("{parameter}: ")) && msg.contains(message),
            "{query}: {msg}"
        );
    }
    let long = "n".repeat(254);
    let (status, _, msg) = error_of(
        TestBackend::standard(),
        &format!("{PREFIX}/nodes?name={long}"),
    )
    .await;
    assert_eq!(status, 422);
    assert!(msg.contains("at most 253"), "{msg}");
    let (status, kind, _) = error_of(
        TestBackend::standard(),
        &format!("{PREFIX}/nodes?state=a&state=b"),
    )
    .await;
    assert_eq!((status, kind.as_str()), (422, "invalid_query"));
}

#[tokio::test]
async fn a_node_page_shows_its_eligibility_facts_and_each_image_with_its_last_error() {
    let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes/node2")).await;
    assert!(html.contains(r#"<h1>Node <span id="node-name">node2</span></h1>"#));
    assert!(
        html.contains(
            r#"<dt>Eligible</dt>
  <dd><span class="ok">yes</span></dd>"#
        ),
        "{html}"
    );
    assert!(html.contains("<dt><code>kubernetes.io/arch</code></dt><dd>amd64</dd>"));
    assert_eq!(html.matches(r#"<tr class="image">"#).count(), 2);
    assert!(html.contains(r#"<span class="state backing-off">backing off</span>"#));
    assert!(
        html.contains("failed 1m 30s ago: image pull failed: manifest unknown; next try in 2m"),
        "{html}"
    );
    assert!(html.contains(r#"<span class="state cached">cached</span>"#));
    assert!(html.contains(r#"<a href="/nublado/nodes">All nodes</a>"#));

    let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes/node4")).await;
    assert!(html.contains("pulling for 42s (since "), "{html}");

    let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes/node3")).await;
    assert!(html.contains(
        r#"<span class="bad">no</span>: Node is tainted (NoSchedule, some-taint = other-value)"#
    ));
    assert!(html.contains("<code>some-taint=other-value:NoSchedule</code>"));
    assert!(html.contains("the node is ineligible: nothing is prepulled here"));

    let (status, kind, msg) =
        error_of(TestBackend::standard(), &format!("{PREFIX}/nodes/gone")).await;
    assert_eq!((status, kind.as_str()), (404, "unknown_node"));
    assert!(msg.contains("\"gone\""), "{msg}");
}

#[tokio::test]
async fn a_cold_node_says_so_on_its_page_and_on_the_overview() {
    let waited = Duration::from_secs(200);
    let html = page(
        TestBackend::with_a_cold_node(waited),
        &format!("{PREFIX}/nodes/node4"),
    )
    .await;
    assert!(
        html.contains(r#"<dt>Warm</dt><dd id="warm">cold: carries the warm taint startup-taint.cluster-autoscaler.kubernetes.io/rsp-images-cold"#),
        "{html}"
    );
    assert!(
        html.contains("waiting since it turned Ready, 3m 20s ago"),
        "{html}"
    );
    assert!(
        html.contains("released at the latest 20m 0s after Ready"),
        "{html}"
    );
    let html = page(
        TestBackend::with_a_cold_node(waited),
        &format!("{PREFIX}/nodes/node1"),
    )
    .await;
    assert!(
        html.contains(r#"<dd id="warm">warm: no warm taint</dd>"#),
        "{html}"
    );
    let html = page(TestBackend::with_a_cold_node(waited), &format!("{PREFIX}/")).await;
    assert!(html.contains("Cold nodes"), "{html}");
    // Without warm nodes configured, no such row.
    let html = page(TestBackend::standard(), &format!("{PREFIX}/nodes/node4")).await;
    assert!(!html.contains(r#"id="warm""#), "{html}");
}

#[tokio::test]
async fn a_pair_whose_platforms_do_not_match_is_unsupported_not_missing() {
    let backend = TestBackend::with_an_amd64_only_daily;
    let html = page(backend(), &format!("{PREFIX}/nodes/node4")).await;
    assert!(
        html.contains(r#"<span class="state unsupported">unsupported</span>"#),
        "{html}"
    );
    assert!(
        html.contains("the image runs on linux/amd64, not on this node&#39;s linux/arm64"),
        "{html}"
    );
    // The daily counts node1 (cached) and node2 (failing), not node4: cached on 1 of 2.
    let overview = page(backend(), PREFIX).await;
    assert!(overview.contains("1 unsupported"), "{overview}");
    let nodes = page(backend(), &format!("{PREFIX}/nodes?state=unsupported")).await;
    assert_eq!(listed_nodes(&nodes), ["node4"]);
}

#[tokio::test]
async fn without_a_prefix_the_status_pages_are_at_the_root() {
    let app = rsp_service::http::router(Arc::new(TestBackend::standard()), "/").unwrap();
    let overview = get(&app, "/").await;
    assert_eq!(overview.status, 200);
    assert!(overview.text().contains("href=\"/spawner/v1/images\""));
    assert!(overview
        .text()
        .contains(r#"<a href="/nodes/node2">node2</a>"#));
    assert!(get(&app, "/nodes")
        .await
        .text()
        .contains(r#"<a href="/nodes/node1">node1</a>"#));
    assert_eq!(get(&app, "/nodes/node1").await.status, 200);
    assert_eq!(get(&app, "/spawner/v1/menu").await.status, 200);
}

#[tokio::test]
async fn pairs_with_nothing_under_way_are_missing() {
    let mut backend = TestBackend::standard();
    backend.puller = Default::default();
    let html = page(backend, &format!("{PREFIX}/nodes")).await;
    assert_eq!(html.matches(r#"<td class="cell missing">"#).count(), 2);
    assert_eq!(html.matches(r#"<td class="cell pulling">"#).count(), 0);
}

/// The page's work (here a `status` that blocks its thread for two seconds) runs beside the
/// threads that answer probes: on a runtime with a single worker thread, `/healthz` answers
/// at once while the overview is being rendered.
#[tokio::test(flavor = "current_thread")]
async fn rendering_does_not_hold_the_thread_that_answers_probes() {
    let mut backend = TestBackend::standard();
    backend.status_delay = Some(Duration::from_secs(2));
    let app = app(Arc::new(backend));
    let started = Instant::now();
    let overview = tokio::spawn({
        let app = app.clone();
        async move { get(&app, &format!("{PREFIX}/")).await }
    });
    // Let the page request start (and, were it rendered here, block this thread).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let health = get(&app, "/healthz").await;
    let answered = started.elapsed();
    assert_eq!(health.status, 200);
    assert!(
        answered < Duration::from_secs(1),
        "/healthz took {answered:?} while a page rendered"
    );
    let overview = overview.await.expect("the page request ends");
    assert_eq!(overview.status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "the page did wait for its report"
    );
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

#[tokio::test]
async fn a_dead_task_is_a_notice_shown_escaped() {
    use rsp_service::backend::TaskReport;
    let mut backend = TestBackend::standard();
    backend.tasks = vec![TaskReport {
        title: "The node watcher",
        running: false,
        serves_the_api: true,
        restarts: 2,
        last_death: Some(("panicked: <script>alert(1)</script>".to_owned(), at(30))),
    }];
    let html = page(backend, &format!("{PREFIX}/")).await;
    let notice = position(&html, r#"<li class="notice critical">"#);
    assert!(
        position(&html, "<strong>The node watcher is down</strong>") > notice,
        "{html}"
    );
    assert!(html.contains("(30s ago)"), "since its death: {html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>alert"));
    let html = page(TestBackend::standard(), &format!("{PREFIX}/")).await;
    assert!(!html.contains("The node watcher"));
}
