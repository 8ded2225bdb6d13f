//! The lab form against lab-form.md §6: every form vector (sizes, quotas, menus), every error
//! vector (headers, tokens, users, Gafaelfawr failing), each through the router with the
//! real Gafaelfawr client talking to the fake Gafaelfawr. The standard case must equal the
//! original's `lab-form.html` byte for byte; every other form has the same structure and
//! passes the acceptance check of §5.5 (its default submission is a valid lab request whose
//! size the user's quota allows).

mod conformance_support;
mod http_support;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_support::{app, send, Reply, TestBackend, PREFIX, STD_SIZES as STD};
use rsp_config::{Config, GafaelfawrConfig, GafaelfawrEndpoint};
use rsp_gafaelfawr::GafaelfawrClient;
use rsp_model::api::{MenuImage, MenuImages};
use rsp_model::lab::{ImageSelection, LabRequest, LabSizes, NotebookQuota};
use rsp_service::form::FormAuth;
use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, Fault, Recorded};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// `lab.sizes` (a YAML list, or `None` for no key) and `lab.defaultSize`, read by the
/// configuration crate as the service reads them.
fn sizes(list: Option<&str>, default: Option<&str>) -> LabSizes {
    let mut lab = String::from("lab:\n");
    if let Some(list) = list {
        lab.push_str("  sizes:");
        lab.push_str(list);
    }
    if let Some(default) = default {
        lab.push_str(&format!("  defaultSize: {default}\n"));
    }
    let text = format!("images:\n  source:\n    type: docker\n    repository: r\n{lab}");
    Config::from_yaml(&text)
        .expect("vector sizes load")
        .0
        .lab
        .sizes
}

/// Sizes whose requests equal their limits: `(name, cpu, memory)`.
fn even(sizes: &[(&str, &str, &str)]) -> String {
    sizes
        .iter()
        .map(|(name, cpu, memory)| {
            format!(
                "\n    - size: {name}\n      resources:\n        limits: {{cpu: \"{cpu}\", \
                 memory: \"{memory}\"}}\n        requests: {{cpu: \"{cpu}\", memory: \"{memory}\"}}"
            )
        })
        .collect::<String>()
        + "\n"
}

fn client(fake: &FakeGafaelfawr, cache_lifetime: Duration) -> GafaelfawrClient {
    let settings = GafaelfawrConfig {
        url: None,
        timeout: Duration::from_millis(1500),
        cache_lifetime,
    };
    GafaelfawrClient::new(&GafaelfawrEndpoint::Url(fake.url()), &settings).expect("a client")
}

/// The standard backend (menu M0) authenticating through `fake`.
fn backend(fake: &FakeGafaelfawr, sizes: LabSizes) -> TestBackend {
    let mut backend = TestBackend::standard();
    backend.form.sizes = sizes;
    backend.form.auth = FormAuth::Gafaelfawr(client(fake, Duration::from_secs(300)));
    backend
}

fn form_uri(user: &str) -> String {
    format!("{PREFIX}/spawner/v1/lab-form/{user}")
}

async fn request(
    app: &axum::Router,
    method: Method,
    path_user: &str,
    user: Option<&str>,
    token: Option<&str>,
) -> Reply {
    let mut builder = Request::builder().method(method).uri(form_uri(path_user));
    if let Some(user) = user {
        builder = builder.header("X-Auth-Request-User", user);
    }
    if let Some(token) = token {
        builder = builder.header("X-Auth-Request-Token", token);
    }
    send(app, builder.body(Body::empty()).expect("a request")).await
}

async fn form_for(backend: TestBackend, token: &str) -> Reply {
    request(
        &app(Arc::new(backend)),
        Method::GET,
        "alice",
        Some("alice"),
        Some(token),
    )
    .await
}

/// HTML attribute value, unescaped.
fn attribute(line: &str, name: &str) -> Option<String> {
    let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = line[start..].find('"')? + start;
    Some(unescape(&line[start..end]))
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#34;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// What a form offers, read from its HTML.
#[derive(Debug, Default)]
struct Shape {
    /// `(id, value, checked)` of each `image_list` radio, the sentinel last.
    images: Vec<(String, String, bool)>,
    /// `(value, text)` of each dropdown option.
    options: Vec<(String, String)>,
    /// `(name, label, checked)` of each size radio.
    sizes: Vec<(String, String, bool)>,
    checkboxes: Vec<String>,
}

impl Shape {
    fn parse(html: &str) -> Shape {
        let lines: Vec<&str> = html.lines().collect();
        let mut shape = Shape::default();
        for (i, line) in lines.iter().enumerate() {
            let checked = line.ends_with(" checked>");
            if line.contains(r#"name="image_list""#) {
                shape.images.push((
                    attribute(line, "id").unwrap(),
                    attribute(line, "value").unwrap(),
                    checked,
                ));
            } else if let Some(rest) = line.trim().strip_prefix("<option value=\"") {
                let (value, text) = rest.split_once("\">").unwrap();
                let text = text.strip_suffix("</option>").unwrap();
                shape.options.push((unescape(value), unescape(text)));
            } else if line.contains(r#"name="size""#) {
                let label = lines[i + 2].trim();
                shape
                    .sizes
                    .push((attribute(line, "id").unwrap(), unescape(label), checked));
            } else if line.contains(r#"type="checkbox""#) {
                shape.checkboxes.push(attribute(line, "id").unwrap());
            }
        }
        shape
    }

    /// `small✓ medium …`
    fn size_names(&self) -> String {
        self.sizes
            .iter()
            .map(|(name, _, checked)| format!("{name}{}", if *checked { "✓" } else { "" }))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// What a browser submits without interaction (§5.2), as JupyterHub passes it on.
    fn default_submission(&self) -> Map<String, Value> {
        let mut options = Map::new();
        if let Some((_, value, _)) = self.images.iter().find(|(_, _, checked)| *checked) {
            options.insert("image_list".into(), json!([value]));
        }
        if let Some((value, _)) = self.options.first() {
            options.insert("image_dropdown".into(), json!([value]));
        }
        if let Some((name, _, _)) = self.sizes.iter().find(|(_, _, checked)| *checked) {
            options.insert("size".into(), json!([name]));
        }
        options
    }
}

/// A form answer's structure: one of each invariant of §4, and the acceptance check of §5.5
/// for the user's quota.
fn check_form(name: &str, reply: &Reply, sizes: &LabSizes, quota: Option<&NotebookQuota>) -> Shape {
    assert_eq!(reply.status, 200, "{name}: {}", reply.text());
    assert_eq!(reply.content_type(), "text/html; charset=utf-8", "{name}");
    assert_eq!(
        reply
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()),
        Some(reply.body.len().to_string().as_str()),
        "{name}: exact content-length"
    );
    let html = reply.text();
    assert!(
        html.starts_with("<script>\nfunction selectDropdown() {"),
        "{name}"
    );
    assert!(
        html.ends_with("</tr>\n</table>"),
        "{name}: ends after </table>"
    );
    let shape = Shape::parse(&html);
    let sentinel = shape.images.last().expect("the sentinel radio");
    assert_eq!(sentinel.0, "use_image_from_dropdown", "{name}");
    assert_eq!(
        shape.images.iter().filter(|i| i.2).count(),
        1,
        "{name}: one image checked"
    );
    assert_eq!(
        shape.sizes.iter().filter(|s| s.2).count(),
        1,
        "{name}: one size checked"
    );
    assert_eq!(
        shape.checkboxes,
        ["enable_debug", "reset_user_env"],
        "{name}"
    );
    let submitted = LabRequest::from_options(&shape.default_submission());
    match submitted {
        Ok(request) => {
            let first = &shape.images[0];
            let expected = if first.0 == "use_image_from_dropdown" {
                ImageSelection::Dropdown(shape.options[0].0.clone())
            } else {
                ImageSelection::List(first.1.clone())
            };
            assert_eq!(request.image, expected, "{name}");
            assert!(!request.enable_debug && !request.reset_user_env, "{name}");
            assert!(
                sizes.check(request.size, quota).is_ok(),
                "{name}: size over quota"
            );
        }
        Err(errors) => {
            // Only a form with no image at all cannot be submitted (V15, as the original).
            assert!(
                shape.images.len() == 1 && shape.options.is_empty(),
                "{name}: {errors:?}"
            );
        }
    }
    shape
}

fn quota(cpu: f64, memory_gib: f64) -> Option<NotebookQuota> {
    Some(NotebookQuota {
        cpu,
        memory_gib,
        spawn: true,
    })
}

#[tokio::test]
async fn v1_is_byte_identical_to_the_original() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    let std = sizes(Some(STD), None);
    let reply = form_for(backend(&fake, std.clone()), &token).await;
    let expected = conformance_support::read("lab-form.html");
    assert!(
        reply.text() == expected,
        "the standard form differs from lab-form.html\n--- want\n{expected}\n--- got\n{}",
        reply.text()
    );
    let shape = check_form("V1", &reply, &std, quota(9.0, 27.0).as_ref());
    assert_eq!(shape.size_names(), "small✓ medium large");
}

/// A form vector: name, `lab.sizes` items, `lab.defaultSize`, Gafaelfawr's user information,
/// and the answer (`small✓ medium`, `unavailable`, or `status type`).
type FormVector<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Value, &'a str);

/// §6.1 V2–V21 except the menus (see `menu_vectors`) and the labels (`v10_labels`).
#[tokio::test]
async fn size_and_quota_vectors() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let notebook = |cpu: f64, memory: f64, spawn: bool| json!({"username": "alice", "quota": {"notebook": {"cpu": cpu, "memory": memory, "spawn": spawn}}});
    let small_4g = even(&[("small", "1", "4G")]);
    let v19 = even(&[("small", "1", "1536Mi"), ("medium", "1", "1610612737")]);
    let cases: Vec<FormVector> = vec![
        ("V2", Some("\n    - size: small\n      resources:\n        limits: {cpu: 1.0, memory: 3Gi}\n        requests: {cpu: 0.25, memory: 0.75Gi}\n    - size: large\n      resources:\n        limits: {cpu: 9.0, memory: 27Gi}\n        requests: {cpu: 2.25, memory: 6.7Gi}\n"), Some("large"), notebook(9.0, 27.0, true), "small large✓"),
        ("V3", Some(STD), None, user_info("alice", None), "small✓ medium large huge"),
        ("V4", Some(STD), Some("medium"), json!({"username": "alice", "quota": {"api": {"datalinker": 5}}}), "small medium✓ large huge"),
        ("V5", Some(STD), None, notebook(100.0, 100.0, false), "unavailable"),
        ("V6", Some(STD), None, notebook(0.5, 1.0, true), "unavailable"),
        ("V7", Some(STD), Some("huge"), notebook(9.0, 27.0, true), "small✓ medium large"),
        ("V8", Some(STD), Some("large"), notebook(2.0, 6.0, true), "small✓ medium"),
        ("V9", Some(STD), None, notebook(2.0, 5.99, true), "small✓"),
        ("V11", Some(&small_4g), None, notebook(1.0, 3.72529, true), "unavailable"),
        ("V12", Some(&small_4g), None, notebook(1.0, 3.7253, true), "small✓"),
        ("V16", Some(STD), None, notebook(1.5, 1000.0, true), "small✓"),
        ("V17", Some(STD), None, notebook(100.0, 0.0, true), "unavailable"),
        ("V18", Some(STD), None, notebook(12.0, 32.0, true), "small✓ medium large huge"),
        ("V19", Some(&v19), None, notebook(4.0, 1.5, true), "small✓"),
        ("V20", None, None, notebook(4.0, 16.0, true), "unavailable"),
        // The original fails with a plain-text 500; a configuration problem is answered
        // in the JSON error shape instead (no input gives a 500).
        ("V21", None, None, user_info("alice", None), "502 no_lab_sizes"),
    ];
    for (name, list, default, info, expected) in cases {
        let sizes = sizes(list, default);
        let token = fake.issue_token(info.clone());
        let reply = form_for(backend(&fake, sizes.clone()), &token).await;
        let got = match reply.status.as_u16() {
            200 if reply.text().contains("<form") || reply.text().contains("<input") => {
                let quota = rsp_gafaelfawr::UserInfo::from_json(info.to_string().as_bytes())
                    .unwrap()
                    .notebook_quota;
                check_form(name, &reply, &sizes, quota.as_ref()).size_names()
            }
            200 => {
                assert_eq!(
                    reply.text(),
                    rsp_service::pages::lab_form::UNAVAILABLE,
                    "{name}"
                );
                assert_eq!(reply.content_type(), "text/html; charset=utf-8", "{name}");
                "unavailable".to_owned()
            }
            status => format!("{status} {}", reply.error().1),
        };
        assert_eq!(got, expected, "{name}");
    }
    // V19: both labels would read 1.5Gi; only small fits.
    let token = fake.issue_token(user_info("alice", None));
    let reply = form_for(backend(&fake, sizes(Some(&v19), None)), &token).await;
    let labels: Vec<String> = Shape::parse(&reply.text())
        .sizes
        .into_iter()
        .map(|s| s.1)
        .collect();
    assert_eq!(
        labels,
        ["Small (1.0 CPU, 1.5Gi RAM)", "Medium (1.0 CPU, 1.5Gi RAM)"]
    );
}

#[tokio::test]
async fn v10_labels() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", None));
    let list = even(&[
        ("fine", "500m", "1536Mi"),
        ("diminutive", "1.234", "4G"),
        ("tiny", "100000m", "1073741823"),
        ("small", "2", "512"),
        ("medium", "0.001", "1Ti"),
        ("large", "1e3", "1000Gi"),
        ("huge", "1.", "1024Ki"),
        ("gargantuan", "1.5", "1023.5Mi"),
        ("colossal", "3", "2.5e9"),
    ]);
    let sizes = sizes(Some(&list), Some("tiny"));
    let reply = form_for(backend(&fake, sizes.clone()), &token).await;
    let shape = check_form("V10", &reply, &sizes, None);
    let labels: Vec<&str> = shape.sizes.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        labels,
        [
            "Fine (0.5 CPU, 1.5Gi RAM)",
            "Diminutive (1.234 CPU, 3.72529Gi RAM)",
            "Tiny (100.0 CPU, 1024Mi RAM)",
            "Small (2.0 CPU, 512 RAM)",
            "Medium (0.001 CPU, 1Ti RAM)",
            "Large (1000.0 CPU, 1000Gi RAM)",
            "Huge (1.0 CPU, 1Mi RAM)",
            "Gargantuan (1.5 CPU, 1023.5Mi RAM)",
            "Colossal (3.0 CPU, 2.32831Gi RAM)",
        ]
    );
    assert_eq!(
        shape.size_names(),
        "fine diminutive tiny✓ small medium large huge gargantuan colossal"
    );
}

fn image(reference: &str, name: &str) -> MenuImage {
    MenuImage {
        reference: reference.to_owned(),
        name: name.to_owned(),
    }
}

/// V13–V15: an empty menu, markup in references and names, nothing at all.
#[tokio::test]
async fn menu_vectors() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let token = fake.issue_token(user_info("alice", None));
    let small = sizes(Some(&even(&[("small", "1", "3Gi")])), None);

    let mut v13 = backend(&fake, sizes(Some(STD), None));
    v13.menu_override = Some(MenuImages {
        menu: vec![],
        dropdown: vec![
            image("r.example/lab:w_2077_40", "Weekly 2077_40"),
            image("r.example/lab:d_2077_10_01", "Daily 2077_10_01"),
        ],
    });
    let std = v13.form.sizes.clone();
    let reply = form_for(v13, &token).await;
    let shape = check_form("V13", &reply, &std, None);
    assert_eq!(
        shape.images,
        [(
            "use_image_from_dropdown".into(),
            "use_image_from_dropdown".into(),
            true
        )]
    );
    assert_eq!(shape.options.len(), 2);
    assert_eq!(
        LabRequest::from_options(&shape.default_submission())
            .unwrap()
            .image,
        ImageSelection::Dropdown("r.example/lab:w_2077_40".into())
    );

    let mut v14 = backend(&fake, small.clone());
    v14.menu_override = Some(MenuImages {
        menu: vec![
            image("r.example/lab:a\"b'c", "<b>A & B</b> 'q' \"d\""),
            image("r.example/lab:second", "Second"),
        ],
        dropdown: vec![image("r.example/lab:x&y", "x<y>")],
    });
    let reply = form_for(v14, &token).await;
    let html = reply.text();
    assert!(
        html.contains(r#"value="r.example/lab:a&#34;b&#39;c" checked>"#),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;A &amp; B&lt;/b&gt; &#39;q&#39; &#34;d&#34;</label>"));
    assert!(html.contains(r#"id="image2" value="r.example/lab:second">"#));
    assert!(html.contains(r#"<option value="r.example/lab:x&amp;y">x&lt;y&gt;</option>"#));
    let shape = check_form("V14", &reply, &small, None);
    assert_eq!(shape.images[0].1, "r.example/lab:a\"b'c");

    let mut v15 = backend(&fake, small.clone());
    v15.menu_override = Some(MenuImages::default());
    let reply = form_for(v15, &token).await;
    let shape = check_form("V15", &reply, &small, None);
    assert!(shape.options.is_empty());
    assert!(reply
        .text()
        .contains("<select name=\"image_dropdown\" onchange=\"selectDropdown()\">\n    </select>"));
    assert_eq!(
        LabRequest::from_options(&shape.default_submission()).unwrap_err()[0].to_string(),
        "No image to spawn specified"
    );
}

const MISSING_USER: &str = r#"{"type":"missing","loc":["header","x-auth-request-user"],"msg":"Field required","input":null}"#;
const MISSING_TOKEN: &str = r#"{"type":"missing","loc":["header","x-auth-request-token"],"msg":"Field required","input":null}"#;
const INVALID_TOKEN: &str =
    r#"{"detail":[{"msg":"User token is invalid","type":"invalid_token"}]}"#;
const PERMISSION_DENIED: &str =
    r#"{"detail":[{"msg":"Permission denied","type":"permission_denied"}]}"#;

fn assert_answer(reply: &Reply, status: u16, body: &str, case: &str) {
    assert_eq!(reply.status.as_u16(), status, "{case}: {}", reply.text());
    if status != 200 {
        assert_eq!(reply.content_type(), "application/json", "{case}");
        assert_eq!(reply.text(), body, "{case}");
        assert!(
            !reply.headers.contains_key(header::WWW_AUTHENTICATE),
            "{case}"
        );
    }
}

/// §1.2–§1.4: every combination of the two headers (absent, empty, right, wrong) and of the
/// path user, answered with the original's status and body, in its order of checks.
#[tokio::test]
async fn every_header_combination() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let alice = fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    let expired = fake.issue_token(user_info("alice", None));
    fake.expire_token(&expired);
    let app = app(Arc::new(backend(&fake, sizes(Some(STD), None))));
    let users = [
        None,
        Some(""),
        Some("alice"),
        Some("mallory"),
        Some("Alice"),
    ];
    let tokens = [
        None,
        Some(""),
        Some(alice.as_str()),
        Some(expired.as_str()),
        Some("gt-bad.bad"),
        Some("not a token"),
    ];
    let mut cases = 0;
    for path_user in ["alice", "mallory", "Alice"] {
        for user in users {
            for token in tokens {
                let reply = request(&app, Method::GET, path_user, user, token).await;
                let case = format!("path {path_user}, user {user:?}, token {token:?}");
                match (user, token) {
                    (None, None) => assert_answer(
                        &reply,
                        422,
                        &format!(r#"{{"detail":[{MISSING_USER},{MISSING_TOKEN}]}}"#),
                        &case,
                    ),
                    (None, Some(_)) => assert_answer(
                        &reply,
                        422,
                        &format!(r#"{{"detail":[{MISSING_USER}]}}"#),
                        &case,
                    ),
                    (Some(_), None) => assert_answer(
                        &reply,
                        422,
                        &format!(r#"{{"detail":[{MISSING_TOKEN}]}}"#),
                        &case,
                    ),
                    (Some(user), Some(token)) if token == alice => {
                        if user == "alice" && path_user == "alice" {
                            assert_answer(&reply, 200, "", &case);
                            assert!(reply.text().contains(r#"name="size""#), "{case}");
                        } else {
                            assert_answer(&reply, 403, PERMISSION_DENIED, &case);
                        }
                    }
                    // Any refused token is 401, whatever the users (E9: before the path).
                    (Some(_), Some(_)) => assert_answer(&reply, 401, INVALID_TOKEN, &case),
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 3 * users.len() * tokens.len());
    // The empty token never reached Gafaelfawr (E21); every other one did, once per
    // request that had both headers, bad ones being never cached.
    let asked = fake
        .requests()
        .iter()
        .filter(|r| r.authorization.as_deref() == Some("Bearer "))
        .count();
    assert_eq!(asked, 0);
}

/// §6.2's error vectors not covered by `every_header_combination`.
#[tokio::test]
async fn error_vectors() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let std = sizes(Some(STD), None);
    let app = app(Arc::new(backend(&fake, std.clone())));
    let alice = || fake.issue_token(user_info("alice", Some((9.0, 27.0))));
    let get = |token: String| {
        let app = app.clone();
        async move { request(&app, Method::GET, "alice", Some("alice"), Some(&token)).await }
    };

    // E10: other methods; HEAD is answered as GET is (never worse for a client).
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let reply = request(&app, method.clone(), "alice", Some("alice"), Some(&alice())).await;
        assert_eq!(
            reply.error(),
            (405, "method_not_allowed".into()),
            "{method}"
        );
        assert!(reply.headers[header::ALLOW]
            .to_str()
            .unwrap()
            .contains("GET"));
    }
    // E11: a trailing slash is redirected before any authentication.
    let reply = send(
        &app,
        Request::get(format!("{}/?x=1", form_uri("alice")))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 307);
    assert_eq!(
        reply.headers[header::LOCATION],
        format!("{}?x=1", form_uri("alice"))
    );
    for uri in [
        format!("{PREFIX}/spawner/v1/lab-form/"),
        format!("{PREFIX}/spawner/v1/lab-form"),
    ] {
        assert_eq!(
            send(&app, Request::get(&uri).body(Body::empty()).unwrap())
                .await
                .status,
            404,
            "{uri}"
        );
    }
    // E12, E13, E17: Gafaelfawr's errors; E18: its 403 is a refused token.
    for (fault, status, kind) in [
        (Fault::Status(500), 502, "gafaelfawr_error"),
        (Fault::Status(404), 502, "gafaelfawr_error"),
        (Fault::Status(502), 502, "gafaelfawr_error"),
        (Fault::Status(400), 502, "gafaelfawr_error"),
        (Fault::TruncatedBody, 502, "gafaelfawr_error"),
        (Fault::Status(403), 401, "invalid_token"),
        (
            Fault::Delay(Duration::from_secs(5)),
            504,
            "gafaelfawr_timeout",
        ),
    ] {
        fake.push_faults([fault.clone()]);
        let reply = get(alice()).await;
        assert_eq!(reply.error(), (status, kind.to_owned()), "{fault:?}");
        assert_eq!(reply.content_type(), "application/json");
    }
    fake.set_backend_failing(true);
    assert_eq!(get(alice()).await.error(), (502, "gafaelfawr_error".into()));
    fake.set_backend_failing(false);
    // E15: a 200 that is not user information; E16: unknown keys are fine.
    let reply = get(fake.issue_token(json!({"name": "no username"}))).await;
    assert_eq!(reply.error(), (502, "gafaelfawr_error".into()));
    let mut extra = user_info("alice", Some((9.0, 27.0)));
    extra["future_field"] = json!({"a": [1, 2]});
    check_form(
        "E16",
        &get(fake.issue_token(extra)).await,
        &std,
        quota(9.0, 27.0).as_ref(),
    );
    // E19: the quota turns spawning off; the same token keeps its cached answer, a new
    // one sees the change.
    let token = alice();
    assert_eq!(get(token.clone()).await.status, 200);
    let no_spawn = json!({"username": "alice", "quota": {"notebook": {"cpu": 9, "memory": 27, "spawn": false}}});
    fake.set_user_info(&token, no_spawn.clone());
    assert!(get(token).await.text().contains(r#"name="size""#));
    let fresh = get(fake.issue_token(no_spawn)).await;
    assert_eq!(fresh.text(), rsp_service::pages::lab_form::UNAVAILABLE);
    // E14: Gafaelfawr gone.
    drop(fake);
    let gone = FakeGafaelfawr::start().await.unwrap();
    let token = gone.issue_token(user_info("alice", None));
    let url = gone.url();
    drop(gone);
    let mut backend = TestBackend::standard();
    backend.form.auth = FormAuth::Gafaelfawr(
        GafaelfawrClient::new(
            &GafaelfawrEndpoint::Url(url),
            &GafaelfawrConfig {
                url: None,
                timeout: Duration::from_secs(2),
                cache_lifetime: Duration::ZERO,
            },
        )
        .unwrap(),
    );
    let reply = request(
        &app_for(backend),
        Method::GET,
        "alice",
        Some("alice"),
        Some(&token),
    )
    .await;
    assert_eq!(reply.error(), (502, "gafaelfawr_error".into()));
}

fn app_for(backend: TestBackend) -> axum::Router {
    app(Arc::new(backend))
}

/// Without Gafaelfawr the form is open: no header needed, every size offered.
#[tokio::test]
async fn open_form_without_gafaelfawr() {
    let backend = TestBackend::standard();
    let std = backend.form.sizes.clone();
    let reply = request(&app_for(backend), Method::GET, "anyone", None, None).await;
    let shape = check_form("open", &reply, &std, None);
    assert_eq!(shape.size_names(), "small✓ medium large huge");
}

/// With Gafaelfawr configured, no way of asking returns a form without both headers.
#[tokio::test]
async fn no_path_serves_a_form_without_authentication() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let app = app_for(backend(&fake, sizes(Some(STD), None)));
    for (method, uri) in [
        (Method::GET, form_uri("alice")),
        (Method::HEAD, form_uri("alice")),
        (Method::GET, format!("{}?user=alice", form_uri("alice"))),
        (Method::GET, format!("{}/", form_uri("alice"))),
        (Method::GET, format!("{}//", form_uri("alice"))),
        (Method::GET, form_uri("%61lice")),
        (Method::GET, form_uri("alice%2F..")),
        (Method::GET, format!("/{}", form_uri("alice"))),
        (Method::GET, format!("{PREFIX}/spawner/v1/lab-form/alice/x")),
        (Method::GET, format!("{PREFIX}/spawner/v1//lab-form/alice")),
    ] {
        let reply = send(
            &app,
            Request::builder()
                .method(method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert!(
            [307, 404, 405, 422].contains(&reply.status.as_u16()),
            "{method} {uri}: {} {}",
            reply.status,
            reply.text()
        );
        assert!(!reply.text().contains("<input"), "{method} {uri}");
    }
    assert_eq!(
        fake.request_count(),
        0,
        "nothing reached Gafaelfawr without a token"
    );
}
