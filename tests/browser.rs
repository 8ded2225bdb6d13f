//! The lab form and the status page in headless Chromium: the recommended image is checked
//! first, choosing from the dropdown checks the sentinel radio, the status page shows every
//! node and image and does not overflow a phone's width (the lab form keeps the original's
//! layout, which does not promise that). Screenshots at 1280 px and at phone
//! width go to `target/artifacts/`. The form is also submitted, as a user does it inside
//! JupyterHub's spawn page (a stand-in, `browser_support::hub`), and what the browser posts
//! must be a lab request that lab creation accepts (lab-form.md §5.3), for an image chosen
//! with the radio buttons and one chosen from the dropdown.
//!
//! By default the pages come from `rsp-images serve --config examples/demo.yaml`, started
//! here on a free loopback port (the README's first command). Set `RSP_IMAGES_BASE_URL`
//! (e.g. `http://127.0.0.1:8080`) and optionally `RSP_IMAGES_PREFIX` (default `/nublado`) to
//! test another running server instead: every expectation is read from the server's own JSON
//! routes.

mod browser_support;

use browser_support::hub::FakeHub;
use browser_support::Browser;
use rsp_model::lab::{ImageSelection, LabRequest, LabSizes};
use serde_json::{json, Map, Value};
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
    // At phone width the form keeps the original's layout (byte for byte, its style
    // included), which JupyterHub's spawn page wraps and styles; a long dropdown entry may
    // be wider than the phone there as it is with the original. The screenshot shows it.
    browser.resize(PHONE.0, PHONE.1).await;
    browser.goto(&format!("{api}/lab-form/someuser")).await;
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
