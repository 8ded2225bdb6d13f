//! A small WebDriver client for the browser test: chromedriver driving headless Chromium;
//! and (`hub`) a stand-in for JupyterHub's spawn page that records what the form submits.
//!
//! The W3C WebDriver protocol is JSON over HTTP, and the test needs nine commands, so this
//! speaks it with `reqwest` instead of pulling in a WebDriver crate and its HTTP stack.
//! Console messages come from chromedriver's log endpoint (`/se/log`, with the
//! `goog:loggingPrefs` capability), which the W3C protocol does not cover.

pub mod hub;

use serde_json::{json, Value};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INSTALL: &str =
    "headless Chromium and chromedriver are needed: apt-get install chromium chromium-driver";

/// The key under which WebDriver returns element references.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process with one Chromium session; both end when this is dropped.
pub struct Browser {
    driver: Child,
    base: String,
    session: String,
    http: reqwest::Client,
    profile: PathBuf,
}

fn find(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile. Panics, saying what
    /// to install, when either is missing: the test must never pass without a browser.
    pub async fn start() -> Browser {
        let chromium = find("chromium").unwrap_or_else(|| panic!("chromium not found; {INSTALL}"));
        let chromedriver =
            find("chromedriver").unwrap_or_else(|| panic!("chromedriver not found; {INSTALL}"));
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("chromedriver does not start ({e}); {INSTALL}"));
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("an HTTP client");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = http.get(format!("{base}/status")).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not come up; {INSTALL}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("rsp-images-browser-{}-{port}", std::process::id()));
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            http,
            profile,
        };
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", browser.profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let reply = browser.command("POST", "/session", capabilities).await;
        browser.session = reply["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {reply}; {INSTALL}"))
            .to_owned();
        browser
    }

    /// One WebDriver command; returns its `value`, panicking on a WebDriver error.
    async fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body),
        };
        let reply: Value = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let value = reply["value"].clone();
        assert!(
            value.get("error").is_none(),
            "WebDriver {method} {path}: {value}"
        );
        value
    }

    async fn session(&self, method: &str, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.session);
        self.command(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) {
        self.session("POST", "/url", json!({ "url": url })).await;
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.session(
            "POST",
            "/window/rect",
            json!({"width": width, "height": height}),
        )
        .await;
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub async fn eval(&self, script: &str, args: Value) -> Value {
        self.session(
            "POST",
            "/execute/sync",
            json!({"script": script, "args": args}),
        )
        .await
    }

    /// Clicks the element matching a CSS selector, as a user would.
    pub async fn click(&self, selector: &str) {
        let element = self
            .session(
                "POST",
                "/element",
                json!({"using": "css selector", "value": selector}),
            )
            .await;
        let id = element[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}: {element}"))
            .to_owned();
        self.session("POST", &format!("/element/{id}/click"), json!({}))
            .await;
    }

    /// The URL of the page shown.
    pub async fn url(&self) -> String {
        let url = self.session("GET", "/url", Value::Null).await;
        url.as_str()
            .unwrap_or_else(|| panic!("no URL: {url}"))
            .to_owned()
    }

    /// The console's errors (level `SEVERE`: script errors, failed loads) since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .session("POST", "/se/log", json!({"type": "browser"}))
            .await;
        entries
            .as_array()
            .unwrap_or_else(|| panic!("no console log: {entries}"))
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or("").to_owned())
            .collect()
    }

    /// Saves a PNG of the viewport to `path`.
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let data = self.session("GET", "/screenshot", Value::Null).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or(""))
            .expect("screenshots are base64");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("an artifacts directory");
        }
        std::fs::write(path, png).expect("a screenshot file");
    }

    pub async fn quit(mut self) {
        let session = std::mem::take(&mut self.session);
        if !session.is_empty() {
            self.command("DELETE", &format!("/session/{session}"), Value::Null)
                .await;
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // After a failed assertion the session is still open: end it (and its Chromium)
        // with a plain blocking request, as Drop cannot await.
        if !self.session.is_empty() {
            delete_session(&self.base, &self.session);
        }
        // Only the chromedriver this test started, by its handle; Chromium ends with it or
        // with the session.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

fn delete_session(base: &str, session: &str) {
    use std::io::{Read, Write};
    let Some(address) = base.strip_prefix("http://") else {
        return;
    };
    if let Ok(mut stream) = std::net::TcpStream::connect(address) {
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        );
        let _ = stream.write_all(request.as_bytes());
        let _ = stream.read_to_end(&mut Vec::new());
    }
}
