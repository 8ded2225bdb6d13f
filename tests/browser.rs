//! The lab form and the status pages in headless Chromium: the recommended image is checked
//! first, choosing from the dropdown checks the sentinel radio; the overview, the node list and
//! a node's page load without console errors, link to each other, show every prepull image and
//! node and fit a phone's width (the lab form keeps the original's layout, which does not
//! promise that); names and errors from outside appear as text, never as markup. Screenshots
//! at 1280 px and at phone width go to `target/artifacts/`. The form is also submitted, as a
//! user does it inside JupyterHub's spawn page (a stand-in, `browser_support::hub`), and what
//! the browser posts must be a lab request that lab creation accepts (lab-form.md §5.3), for
//! an image chosen with the radio buttons and one chosen from the dropdown.
//!
//! By default the pages come from `rsp-images serve --config examples/demo.yaml`, started
//! here on a free loopback port (the README's first command). Set `RSP_IMAGES_BASE_URL`
//! (e.g. `http://127.0.0.1:8080`) and optionally `RSP_IMAGES_PREFIX` (default `/nublado`) to
//! test another running server instead: every expectation is read from the server's own JSON
//! routes. The hostile-input test always starts its own server (a static cluster of hostile
//! nodes, and a registry whose errors carry markup).

mod browser_support;

use browser_support::hub::FakeHub;
use browser_support::Browser;
use rsp_model::lab::{ImageSelection, LabRequest, LabSizes};
use serde_json::{json, Map, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 1000);

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/artifacts")
}

/// `rsp-images serve` on a configuration, stopped when dropped.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `rsp-images serve --config config` on a free loopback port and waits until it
/// answers `/healthz`; its base URL.
async fn serve(config: &Path) -> (String, Served) {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["serve", "--config"])
        .arg(config)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsp-images serve");
    let served = Served(child);
    let base = format!("http://127.0.0.1:{port}");
    wait_for(&format!("{base}/healthz"), |_| true).await;
    (base, served)
}

/// Polls `url` until it answers 200 with a body `accept` likes (30 s at most); the body.
async fn wait_for(url: &str, accept: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(reply) = reqwest::get(url).await {
            if reply.status().is_success() {
                let body = reply.text().await.unwrap_or_default();
                if accept(&body) {
                    return body;
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "{url} did not answer as expected within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The server under test: a given one, or the demo served by the binary.
async fn server() -> (String, String, Option<Served>) {
    let prefix = std::env::var("RSP_IMAGES_PREFIX").unwrap_or_else(|_| "/nublado".to_owned());
    if let Ok(base) = std::env::var("RSP_IMAGES_BASE_URL") {
        return (base.trim_end_matches('/').to_owned(), prefix, None);
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let (base, served) = serve(&root.join("examples/demo.yaml")).await;
    // Ready once the first refresh (of the snapshot) succeeded.
    wait_for(&format!("{base}/readyz"), |_| true).await;
    (base, prefix, Some(served))
}

async fn json(url: &str) -> Value {
    reqwest::get(url)
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Whether the page is wider than the window (something will not fit without scrolling the
/// whole page sideways; wide tables must scroll inside their own box).
async fn overflows(browser: &Browser) -> bool {
    browser
        .eval(
            "return document.documentElement.scrollWidth > window.innerWidth;",
            json!([]),
        )
        .await
        .as_bool()
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_form_and_status_pages_in_chromium() {
    let (base, prefix, _server) = server().await;
    let api = format!("{base}{prefix}/spawner/v1");
    let menu = json(&format!("{api}/menu")).await;
    let prepulls = json(&format!("{api}/prepulls")).await;
    let browser = Browser::start().await;

    // The lab form, at 1280 px.
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&format!("{api}/lab-form/someuser")).await;
    let radios = browser
        .eval(
            "return Array.from(document.querySelectorAll('input[name=image_list]'))
                 .map(r => ({id: r.id, value: r.value, checked: r.checked}));",
            json!([]),
        )
        .await;
    let radios = radios.as_array().expect("a list of radios");
    let entries = menu["menu"].as_array().expect("a menu");
    assert_eq!(radios.len(), entries.len() + 1, "{radios:?}");
    let sentinel = radios.last().expect("the sentinel radio");
    assert_eq!(sentinel["id"], "use_image_from_dropdown");
    if let Some(first) = entries.first() {
        assert_eq!(radios[0]["id"], "image1");
        assert_eq!(radios[0]["value"], first["reference"]);
        assert_eq!(
            radios[0]["checked"], true,
            "the recommended image is checked first"
        );
        assert_eq!(sentinel["checked"], false);
    } else {
        assert_eq!(
            sentinel["checked"], true,
            "an empty menu checks the sentinel"
        );
    }
    let options = browser
        .eval(
            "return Array.from(document.querySelectorAll('select[name=image_dropdown] option'))
                 .map(o => o.value);",
            json!([]),
        )
        .await;
    let expected: Vec<&Value> = menu["dropdown"]
        .as_array()
        .expect("a dropdown")
        .iter()
        .map(|e| &e["reference"])
        .collect();
    assert_eq!(
        options
            .as_array()
            .expect("options")
            .iter()
            .collect::<Vec<_>>(),
        expected
    );
    browser
        .screenshot(&artifacts().join("lab-form-1280.png"))
        .await;

    // Choosing from the dropdown, as a user does, checks the sentinel radio.
    if expected.len() > 1 {
        browser.click("select[name=image_dropdown]").await;
        browser
            .click("select[name=image_dropdown] option:nth-child(2)")
            .await;
        let state = browser
            .eval(
                "return {sentinel: document.getElementById('use_image_from_dropdown').checked,
                         selected: document.querySelector('select[name=image_dropdown]').value};",
                json!([]),
            )
            .await;
        assert_eq!(state["sentinel"], true, "{state}");
        assert_eq!(&state["selected"], expected[1]);
    }
    // At phone width the form keeps the original's layout (byte for byte, its style
    // included), which JupyterHub's spawn page wraps and styles; a long dropdown entry may
    // be wider than the phone there as it is with the original. The screenshot shows it.
    browser.resize(PHONE.0, PHONE.1).await;
    browser.goto(&format!("{api}/lab-form/someuser")).await;
    browser
        .screenshot(&artifacts().join("lab-form-phone.png"))
        .await;

    status_pages(&browser, &base, &prefix, &prepulls).await;
    browser.quit().await;
}

/// The page's visible text.
async fn text(browser: &Browser) -> String {
    let text = browser
        .eval("return document.body.innerText;", json!([]))
        .await;
    text.as_str().expect("page text").to_owned()
}

/// Checks that the page loaded without a console error.
async fn assert_clean_console(browser: &Browser, page: &str) {
    let errors = browser.console_errors().await;
    assert!(errors.is_empty(), "{page}: console errors {errors:?}");
}

/// The names in the node list's first column, in order.
async fn listed_nodes(browser: &Browser) -> Vec<String> {
    let names = browser
        .eval(
            "return Array.from(document.querySelectorAll('table.nodes tbody th a'))
                 .map(a => a.textContent);",
            json!([]),
        )
        .await;
    serde_json::from_value(names).expect("a list of names")
}

/// Clicks the node list's link to the node called `name`, as a user does.
async fn open_node(browser: &Browser, name: &str) {
    let row = browser
        .eval(
            "return Array.from(document.querySelectorAll('table.nodes tbody th a'))
                 .findIndex(a => a.textContent === arguments[0]);",
            json!([name]),
        )
        .await;
    let row = row.as_i64().filter(|row| *row >= 0);
    let row = row.unwrap_or_else(|| panic!("no link to node {name:?}"));
    browser
        .click(&format!("table.nodes tbody tr:nth-child({}) th a", row + 1))
        .await;
    let shown = browser
        .eval(
            "return document.getElementById('node-name').textContent;",
            json!([]),
        )
        .await;
    assert_eq!(shown, name, "the node's page, at {}", browser.url().await);
}

/// The overview, the node list and a node's page of the demo, reached by their links.
async fn status_pages(browser: &Browser, base: &str, prefix: &str, prepulls: &Value) {
    // The lab form is a fragment for the spawner's page, loaded bare here: the browser's own
    // request for /favicon.ico is not the status pages' business.
    browser.console_errors().await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&format!("{base}{prefix}/")).await;
    assert_clean_console(browser, "overview").await;
    let overview = text(browser).await;
    let images = &prepulls["images"];
    for image in ["prepulled", "pending"]
        .iter()
        .flat_map(|k| images[k].as_array().into_iter().flatten())
    {
        let name = image["name"].as_str().expect("an image name");
        assert!(
            overview.contains(name),
            "image {name} missing from the overview"
        );
    }
    assert!(
        !overflows(browser).await,
        "the overview overflows at 1280 px"
    );
    browser
        .screenshot(&artifacts().join("status-1280.png"))
        .await;

    // Every node, on the node list the navigation links to.
    browser.click("header nav a:last-child").await;
    assert_eq!(browser.url().await, format!("{base}{prefix}/nodes"));
    assert_clean_console(browser, "node list").await;
    let mut expected: Vec<String> = prepulls["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["name"].as_str().expect("a node name").to_owned())
        .collect();
    expected.sort();
    assert_eq!(listed_nodes(browser).await, expected);
    browser
        .screenshot(&artifacts().join("nodes-1280.png"))
        .await;

    // A node's page, from its link, and back.
    if let Some(first) = expected.first() {
        open_node(browser, first).await;
        assert_clean_console(browser, "node page").await;
        browser.screenshot(&artifacts().join("node-1280.png")).await;
        browser.click("main p a").await;
        assert_eq!(browser.url().await, format!("{base}{prefix}/nodes"));
    }

    // The overview's count of ineligible nodes links to exactly those.
    let ineligible: Vec<String> = prepulls["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .filter(|node| node["eligible"] == false)
        .map(|node| node["name"].as_str().expect("a node name").to_owned())
        .collect();
    browser.goto(&format!("{base}{prefix}/")).await;
    if !ineligible.is_empty() {
        browser.click("#nodes a[href$='state=ineligible']").await;
        let mut listed = listed_nodes(browser).await;
        listed.sort();
        let mut ineligible = ineligible;
        ineligible.sort();
        assert_eq!(listed, ineligible);
    }

    browser.resize(PHONE.0, PHONE.1).await;
    for (path, name) in [("/", "status"), ("/nodes", "nodes")] {
        browser.goto(&format!("{base}{prefix}{path}")).await;
        assert!(
            !overflows(browser).await,
            "{path} is wider than a phone: its tables must scroll in their own box"
        );
        browser
            .screenshot(&artifacts().join(format!("{name}-phone.png")))
            .await;
    }
    browser.goto(&format!("{base}{prefix}/")).await;
    browser
        .eval(
            "document.getElementById('images').scrollIntoView();",
            json!([]),
        )
        .await;
    browser
        .screenshot(&artifacts().join("status-phone-images.png"))
        .await;
}

/// Markup that would set `window.pwned` if a page let it through.
const PWN_SCRIPT: &str = "<script>window.pwned=1</script>";
const PWN_IMG: &str = r#"<img src=x onerror="window.pwned=1">"#;

/// A "registry" that answers every request as a Docker registry answers for an unknown
/// repository (HTTP 404 with `NAME_UNKNOWN`, distribution spec "Error Codes"), with markup in
/// the message; its URL.
async fn hostile_registry() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    let body = json!({"errors": [{
        "code": "NAME_UNKNOWN",
        "message": format!("repository {PWN_SCRIPT}{PWN_IMG} not known to registry"),
    }]})
    .to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let body = body.clone();
            tokio::spawn(async move {
                // Read the request head, then answer and close.
                let mut head = Vec::new();
                let mut buffer = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 65_536 {
                    match stream.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buffer[..n]),
                    }
                }
                let reply = format!(
                    "HTTP/1.1 404 Not Found\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    url
}

fn hostile_node(name: &str, labels: Value, taints: Value) -> Value {
    json!({
        "metadata": {"name": name, "labels": labels},
        "spec": {"taints": taints},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_and_errors_are_shown_as_text() {
    let registry = hostile_registry().await;
    let dir =
        rsp_testkit::registry::TempDir::new("rsp-images-browser-hostile").expect("a temp dir");
    let evil = format!("evil/{PWN_IMG}?&\"'");
    let label = format!("<b onmouseover=\"window.pwned=1\">arm64</b>{PWN_SCRIPT}");
    let taint = r#"<svg onload="window.pwned=1">"#;
    let nodes = json!({"apiVersion": "v1", "kind": "NodeList", "items": [
        hostile_node(&evil, json!({"kubernetes.io/arch": label}), json!([])),
        hostile_node(PWN_SCRIPT, json!({}), json!([{"key": "k", "value": taint, "effect": "NoSchedule"}])),
        hostile_node("plain-node", json!({}), json!([])),
    ]});
    std::fs::write(dir.path().join("nodes.json"), nodes.to_string()).expect("the nodes file");
    let config = format!(
        "images:\n  source:\n    type: docker\n    registry: hostile.test\n    \
         repository: lab\n    apiUrl: {registry}\npathPrefix: /nublado\n\
         cluster:\n  type: static\n  nodesFile: nodes.json\n"
    );
    std::fs::write(dir.path().join("config.yaml"), config).expect("the config file");
    let (base, _served) = serve(&dir.path().join("config.yaml")).await;
    // The first refresh has failed once the overview says so.
    wait_for(&format!("{base}/nublado/"), |html| {
        html.contains("NAME_UNKNOWN")
    })
    .await;

    let browser = Browser::start().await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    let pages = [
        (format!("{base}/nublado/"), vec![PWN_SCRIPT, PWN_IMG]),
        (
            format!("{base}/nublado/nodes"),
            vec![evil.as_str(), PWN_SCRIPT, taint],
        ),
    ];
    for (url, shown) in &pages {
        browser.goto(url).await;
        assert_harmless(&browser, url, shown).await;
    }
    browser
        .screenshot(&artifacts().join("hostile-nodes-1280.png"))
        .await;
    for (name, shown) in [(evil.as_str(), label.as_str()), (PWN_SCRIPT, taint)] {
        browser.goto(&format!("{base}/nublado/nodes")).await;
        open_node(&browser, name).await;
        assert_harmless(&browser, &browser.url().await, &[name, shown]).await;
    }
    browser.quit().await;
}

/// The sizes the form may offer: the demo's configuration, or for another server the ones
/// its form shows (open forms offer every configured size).
fn configured_sizes(demo: bool) -> Option<LabSizes> {
    demo.then(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/demo.yaml");
        let text = std::fs::read_to_string(path).expect("examples/demo.yaml");
        let (config, _) = rsp_config::Config::from_yaml(&text).expect("the demo loads");
        config.lab.sizes
    })
}

/// Waits for the hub's `n`-th submission.
async fn submission(hub: &FakeHub, n: usize) -> Map<String, Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(fields) = hub.submissions().get(n - 1) {
            return fields.clone();
        }
        assert!(Instant::now() < deadline, "the form was never submitted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Ticks a size and both checkboxes, submits, and checks the posted fields against the
/// lab-creation rules: `image` chosen, `size` chosen, both flags on.
async fn choose_and_submit(
    browser: &Browser,
    hub: &FakeHub,
    n: usize,
    image: ImageSelection,
    sizes: Option<&LabSizes>,
) {
    let offered = browser
        .eval(
            "return Array.from(document.querySelectorAll('input[name=size]')).map(r => r.value);",
            json!([]),
        )
        .await;
    let offered: Vec<&str> = offered
        .as_array()
        .expect("size radios")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    // Not the default (the first): a size the user has to pick.
    let size = offered.last().expect("the form offers a size").to_string();
    browser
        .click(&format!("input[name=size][value={size}]"))
        .await;
    browser.click("#enable_debug").await;
    browser.click("#reset_user_env").await;
    browser.click("#start").await;
    let fields = submission(hub, n).await;
    assert_eq!(fields["size"], json!([size]), "{fields:?}");
    assert_eq!(fields["enable_debug"], json!(["true"]), "{fields:?}");
    assert_eq!(fields["reset_user_env"], json!(["true"]), "{fields:?}");
    let request = LabRequest::from_options(&fields)
        .unwrap_or_else(|errors| panic!("lab creation would refuse {fields:?}: {errors:?}"));
    assert_eq!(request.image, image, "{fields:?}");
    assert_eq!(request.size.as_str(), size);
    assert!(request.enable_debug && request.reset_user_env);
    if let Some(sizes) = sizes {
        sizes
            .check(request.size, None)
            .unwrap_or_else(|refusal| panic!("lab creation would refuse {size}: {refusal}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lab_form_submissions_are_valid_lab_requests() {
    let (base, prefix, demo) = server().await;
    let api = format!("{base}{prefix}/spawner/v1");
    let menu = json(&format!("{api}/menu")).await;
    let sizes = configured_sizes(demo.is_some());
    let hub = FakeHub::start(format!("{api}/lab-form/someuser")).await;
    let browser = Browser::start().await;
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    let spawn_page = format!("{}/hub/spawn", hub.url);

    // A cached image from the radio buttons: the last, so that the user changes the choice.
    let cached = menu["menu"].as_array().expect("a menu");
    let index = cached
        .len()
        .checked_sub(1)
        .expect("the demo has cached images");
    let image = &cached[index];
    browser.goto(&spawn_page).await;
    browser.click(&format!("#image{}", index + 1)).await;
    let reference = image["reference"].as_str().expect("a reference").to_owned();
    choose_and_submit(
        &browser,
        &hub,
        1,
        ImageSelection::List(reference),
        sizes.as_ref(),
    )
    .await;

    // An image from the dropdown, chosen as a user does: the sentinel radio follows.
    let dropdown = menu["dropdown"].as_array().expect("a dropdown");
    let chosen = dropdown.get(1).unwrap_or(&dropdown[0]);
    browser.goto(&spawn_page).await;
    browser.click("select[name=image_dropdown]").await;
    browser
        .click(&format!(
            "select[name=image_dropdown] option:nth-child({})",
            if dropdown.len() > 1 { 2 } else { 1 }
        ))
        .await;
    let reference = chosen["reference"]
        .as_str()
        .expect("a reference")
        .to_owned();
    choose_and_submit(
        &browser,
        &hub,
        2,
        ImageSelection::Dropdown(reference),
        sizes.as_ref(),
    )
    .await;
    let fields = &hub.submissions()[1];
    assert_eq!(fields["image_list"], json!(["use_image_from_dropdown"]));
    browser
        .screenshot(&artifacts().join("lab-form-submitted.png"))
        .await;
    browser.quit().await;
}

/// The page shows each of `shown` as text, runs none of it and logged no error.
async fn assert_harmless(browser: &Browser, page: &str, shown: &[&str]) {
    let text = text(browser).await;
    for hostile in shown {
        assert!(
            text.contains(hostile),
            "{page}: {hostile:?} not shown as text:\n{text}"
        );
    }
    let injected = browser
        .eval(
            "return {pwned: window.pwned === 1,
                     elements: document.querySelectorAll('script, img, svg, b').length};",
            json!([]),
        )
        .await;
    assert_eq!(injected, json!({"pwned": false, "elements": 0}), "{page}");
    assert_clean_console(browser, page).await;
}
