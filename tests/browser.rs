//! The lab form and the status page in headless Chromium: the recommended image is checked
//! first, choosing from the dropdown checks the sentinel radio, the status page shows every
//! node and image and does not overflow a phone's width. Screenshots at 1280 px and at phone
//! width go to `target/artifacts/`.
//!
//! By default the pages come from `rsp-images serve --config examples/demo.yaml`, started
//! here on a free loopback port (the README's first command). Set `RSP_IMAGES_BASE_URL`
//! (e.g. `http://127.0.0.1:8080`) and optionally `RSP_IMAGES_PREFIX` (default `/nublado`) to
//! test another running server instead: every expectation is read from the server's own JSON
//! routes.

mod browser_support;

use browser_support::Browser;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PHONE: (u32, u32) = (390, 844);
const DESKTOP: (u32, u32) = (1280, 1000);

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/artifacts")
}

/// `rsp-images serve` on the demo, stopped when dropped.
struct DemoServer(Child);

impl Drop for DemoServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The server under test: a given one, or the demo served by the binary.
async fn server() -> (String, String, Option<DemoServer>) {
    let prefix = std::env::var("RSP_IMAGES_PREFIX").unwrap_or_else(|_| "/nublado".to_owned());
    if let Ok(base) = std::env::var("RSP_IMAGES_BASE_URL") {
        return (base.trim_end_matches('/').to_owned(), prefix, None);
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free local port")
        .port();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let child = Command::new(env!("CARGO_BIN_EXE_rsp-images"))
        .args(["serve", "--config"])
        .arg(root.join("examples/demo.yaml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start rsp-images serve");
    let server = DemoServer(child);
    let base = format!("http://127.0.0.1:{port}");
    // Ready once the first refresh (of the snapshot) succeeded.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = reqwest::get(format!("{base}/readyz")).await;
        if ready.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "rsp-images serve on the demo never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (base, prefix, Some(server))
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
async fn lab_form_and_status_page_in_chromium() {
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
    browser.resize(PHONE.0, PHONE.1).await;
    browser.goto(&format!("{api}/lab-form/someuser")).await;
    assert!(
        !overflows(&browser).await,
        "the lab form is wider than a phone"
    );
    browser
        .screenshot(&artifacts().join("lab-form-phone.png"))
        .await;

    // The status page shows every node and every prepull image.
    browser.resize(DESKTOP.0, DESKTOP.1).await;
    browser.goto(&format!("{base}{prefix}/")).await;
    let text = browser
        .eval("return document.body.innerText;", json!([]))
        .await;
    let text = text.as_str().expect("page text");
    for node in prepulls["nodes"].as_array().expect("nodes") {
        let name = node["name"].as_str().expect("a node name");
        assert!(
            text.contains(name),
            "node {name} missing from the status page"
        );
    }
    let images = &prepulls["images"];
    for image in ["prepulled", "pending"]
        .iter()
        .flat_map(|k| images[k].as_array().into_iter().flatten())
    {
        let name = image["name"].as_str().expect("an image name");
        assert!(
            text.contains(name),
            "image {name} missing from the status page"
        );
    }
    assert!(
        !overflows(&browser).await,
        "the status page overflows at 1280 px"
    );
    browser
        .screenshot(&artifacts().join("status-1280.png"))
        .await;

    browser.resize(PHONE.0, PHONE.1).await;
    browser.goto(&format!("{base}{prefix}/")).await;
    assert!(
        !overflows(&browser).await,
        "the status page is wider than a phone: its table must scroll in its own box"
    );
    browser
        .screenshot(&artifacts().join("status-phone.png"))
        .await;
    browser
        .eval(
            "document.getElementById('images').scrollIntoView();",
            json!([]),
        )
        .await;
    browser
        .screenshot(&artifacts().join("status-phone-images.png"))
        .await;
    browser.quit().await;
}
