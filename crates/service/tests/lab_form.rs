//! The lab form against lab-form.md, whose vectors are read from the specification at run
//! time (`rsp_testkit::spec::lab_form`): every form vector of §6.1 (sizes, quotas, menus),
//! every error vector of §6.2 with the bodies of §1.4, each through the router with the real
//! Gafaelfawr client talking to the fake Gafaelfawr. The standard case must equal the
//! original's `lab-form.html` byte for byte; every other form has the same structure and
//! passes the acceptance check of §5.5 (its default submission is a valid lab request whose
//! size the user's quota allows). Where the original answers a plain-text 500, rsp-images
//! answers 502 (504 on a timeout) with the JSON error body: no input gives a 500.

mod conformance_support;
mod http_support;

use axum::body::Body;
use axum::http::{header, Method, Request};
use http_support::{app, send, Reply, TestBackend, PREFIX};
use rsp_config::{Config, GafaelfawrConfig, GafaelfawrEndpoint};
use rsp_gafaelfawr::GafaelfawrClient;
use rsp_model::api::{MenuImage, MenuImages};
use rsp_model::lab::{ImageSelection, LabRequest, LabSizes, NotebookQuota};
use rsp_service::form::FormAuth;
use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, Fault, Recorded};
use rsp_testkit::spec::lab_form::{
    sizes_yaml, ErrorVector, FormAnswer, FormCheck, FormVector, LabFormSpec, SpecSize,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// `lab.sizes` (`None`: no key) and `lab.defaultSize`, read by the configuration crate as
/// the service reads them.
fn sizes(list: Option<&[SpecSize]>, default: Option<&str>) -> LabSizes {
    let mut lab = String::from("lab:\n");
    if let Some(list) = list {
        lab.push_str("  sizes:");
        lab.push_str(&sizes_yaml(list));
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

/// **STD**, the sizes most vectors use.
fn std_sizes(spec: &LabFormSpec) -> LabSizes {
    sizes(Some(&spec.std_sizes()), None)
}

fn client(fake: &FakeGafaelfawr, cache_lifetime: Duration) -> GafaelfawrClient {
    client_for(&fake.url(), Duration::from_millis(1500), cache_lifetime)
}

fn client_for(url: &str, timeout: Duration, cache_lifetime: Duration) -> GafaelfawrClient {
    let settings = GafaelfawrConfig {
        url: None,
        timeout,
        cache_lifetime,
    };
    GafaelfawrClient::new(&GafaelfawrEndpoint::Url(url.to_owned()), &settings).expect("a client")
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

/// The username every vector's requests are made as.
const USER: &str = "alice";

/// Where the original answers a plain-text 500, rsp-images answers 502 with the JSON error
/// body (decisions §8: no input gives a 500); every other status is the original's.
fn our_status(original: u16) -> u16 {
    if original == 500 {
        502
    } else {
        original
    }
}

fn menu_image((reference, name): &(String, String)) -> MenuImage {
    MenuImage {
        reference: reference.clone(),
        name: name.clone(),
    }
}

/// What the default submission chose as its image: `(field, value)`.
fn chosen_image(image: &ImageSelection) -> (&'static str, String) {
    let value = match image {
        ImageSelection::List(text) | ImageSelection::Dropdown(text) | ImageSelection::Tag(text) => {
            text.clone()
        }
        ImageSelection::Class(class) => format!("{class:?}"),
    };
    (image.field(), value)
}

/// `small✓ medium` from a vector's sizes and checked size.
fn marked(sizes: &[String], default: &str) -> String {
    sizes
        .iter()
        .map(|name| format!("{name}{}", if name == default { "✓" } else { "" }))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One detail of a vector's answer.
fn assert_check(vector: &FormVector, check: &FormCheck, reply: &Reply, shape: &Shape) {
    let id = &vector.id;
    let html = reply.text();
    match check {
        FormCheck::ByteIdentical(file) => {
            let expected = conformance_support::read(file);
            assert!(
                html == expected,
                "{id}: the form differs from {file}\n--- want\n{expected}\n--- got\n{html}"
            );
        }
        FormCheck::ImageChecked(radio, checked) => {
            let image = shape.images.iter().find(|(i, _, _)| i == radio);
            assert_eq!(image.map(|i| i.2), Some(*checked), "{id}: {radio}");
        }
        FormCheck::SentinelChecked(checked) => {
            let sentinel = shape.images.last().expect("the sentinel");
            assert_eq!(sentinel.2, *checked, "{id}: the sentinel radio");
        }
        FormCheck::NoMenuImages => assert_eq!(shape.images.len(), 1, "{id}: only the sentinel"),
        FormCheck::Options(count) => assert_eq!(shape.options.len(), *count, "{id}: options"),
        FormCheck::Submits(field, value) => {
            let request = LabRequest::from_options(&shape.default_submission())
                .unwrap_or_else(|errors| panic!("{id}: refused {errors:?}"));
            assert_eq!(
                chosen_image(&request.image),
                (field.as_str(), value.clone()),
                "{id}"
            );
        }
        FormCheck::SubmissionRefused(message) => {
            let errors = LabRequest::from_options(&shape.default_submission())
                .expect_err("the default submission is refused");
            assert_eq!(errors[0].to_string(), *message, "{id}");
        }
        FormCheck::Labels(labels) => {
            let shown: Vec<&String> = shape.sizes.iter().map(|s| &s.1).collect();
            assert_eq!(shown, labels.iter().collect::<Vec<_>>(), "{id}: labels");
        }
        FormCheck::Contains(text) => assert!(html.contains(text), "{id}: no {text:?} in\n{html}"),
    }
}

/// §6.1: every form vector, as a user whose Gafaelfawr answer carries the vector's quota.
#[tokio::test]
async fn form_vectors() {
    let spec = LabFormSpec::load();
    let fake = FakeGafaelfawr::start().await.unwrap();
    for vector in spec.form_vectors() {
        let id = &vector.id;
        let sizes = sizes(vector.sizes.as_deref(), vector.default_size.as_deref());
        let info = vector.quota.user_info(USER);
        let token = fake.issue_token(info.clone());
        let mut backend = backend(&fake, sizes.clone());
        if let Some(menu) = &vector.menu {
            backend.menu_override = Some(MenuImages {
                menu: menu.menu.iter().map(menu_image).collect(),
                dropdown: menu.dropdown.iter().map(menu_image).collect(),
            });
        }
        let reply = form_for(backend, &token).await;
        match &vector.answer {
            FormAnswer::ServerError => {
                assert_eq!(reply.status, our_status(500), "{id}: {}", reply.text());
                assert_eq!(reply.content_type(), "application/json", "{id}");
                assert_eq!(reply.error().1, "no_lab_sizes", "{id}");
            }
            FormAnswer::Unavailable => {
                assert_eq!(reply.status, 200, "{id}: {}", reply.text());
                assert_eq!(
                    reply.text(),
                    rsp_service::pages::lab_form::UNAVAILABLE,
                    "{id}"
                );
                assert_eq!(reply.content_type(), "text/html; charset=utf-8", "{id}");
            }
            FormAnswer::Form { sizes: offered } => {
                let quota = rsp_gafaelfawr::UserInfo::from_json(info.to_string().as_bytes())
                    .expect("user information")
                    .notebook_quota;
                let shape = check_form(id, &reply, &sizes, quota.as_ref());
                if let Some((names, default)) = offered {
                    assert_eq!(shape.size_names(), marked(names, default), "{id}");
                }
                for check in &vector.checks {
                    assert_check(&vector, check, &reply, &shape);
                }
            }
        }
    }
}

/// §1.4's bodies: both headers missing, one of them missing, a refused token, a user that
/// does not match.
struct Bodies {
    missing_both: String,
    missing_user: String,
    missing_token: String,
    invalid_token: String,
    permission_denied: String,
}

impl Bodies {
    fn read(spec: &LabFormSpec) -> Bodies {
        let (status, missing_both) = spec.error_body("both headers missing");
        assert_eq!(status, 422);
        // "only one missing: same shape, one element, for the missing header", the
        // elements as written (key order is part of the bytes).
        let elements = missing_both
            .strip_prefix(r#"{"detail":["#)
            .and_then(|rest| rest.strip_suffix("]}"))
            .and_then(|list| list.split_once("},{"))
            .expect("two error elements");
        let one = |element: &str| format!(r#"{{"detail":[{element}]}}"#);
        let (user, token) = (format!("{}}}", elements.0), format!("{{{}", elements.1));
        Bodies {
            missing_user: one(&user),
            missing_token: one(&token),
            missing_both,
            invalid_token: spec.error_body("Gafaelfawr answers 401").1,
            permission_denied: spec.error_body("token's user").1,
        }
    }

    /// The body §1.4 gives for `status` where the headers are both present.
    fn refusal(&self, status: u16) -> &str {
        match status {
            401 => &self.invalid_token,
            403 => &self.permission_denied,
            other => panic!("no body for {other}"),
        }
    }
}

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

/// The quota of §6.2's user ("standard config, quota 9/27").
fn error_vector_user(spec: &LabFormSpec) -> Value {
    spec.error_vector_quota().user_info(USER)
}

/// §1.2–§1.4: every combination of the two headers (absent, empty, right, wrong) and of the
/// path user, answered with the original's status and body, in its order of checks.
#[tokio::test]
async fn every_header_combination() {
    let spec = LabFormSpec::load();
    let bodies = Bodies::read(&spec);
    let fake = FakeGafaelfawr::start().await.unwrap();
    let alice = fake.issue_token(error_vector_user(&spec));
    let expired = fake.issue_token(user_info(USER, None));
    fake.expire_token(&expired);
    let app = app(Arc::new(backend(&fake, std_sizes(&spec))));
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
        Some("gt-unknownunknownunknow.secretsecretsecretsecr"),
        Some("not a token"),
    ];
    let mut cases = 0;
    for path_user in ["alice", "mallory", "Alice"] {
        for user in users {
            for token in tokens {
                let reply = request(&app, Method::GET, path_user, user, token).await;
                let case = format!("path {path_user}, user {user:?}, token {token:?}");
                match (user, token) {
                    (None, None) => assert_answer(&reply, 422, &bodies.missing_both, &case),
                    (None, Some(_)) => assert_answer(&reply, 422, &bodies.missing_user, &case),
                    (Some(_), None) => assert_answer(&reply, 422, &bodies.missing_token, &case),
                    (Some(user), Some(token)) if token == alice => {
                        if user == "alice" && path_user == "alice" {
                            assert_answer(&reply, 200, "", &case);
                            assert!(reply.text().contains(r#"name="size""#), "{case}");
                        } else {
                            assert_answer(&reply, 403, &bodies.permission_denied, &case);
                        }
                    }
                    // Any refused token is 401, whatever the users (before the path).
                    (Some(_), Some(_)) => assert_answer(&reply, 401, &bodies.invalid_token, &case),
                }
                cases += 1;
            }
        }
    }
    assert_eq!(cases, 3 * users.len() * tokens.len());
    // The empty token never reached Gafaelfawr.
    let asked = fake
        .requests()
        .iter()
        .filter(|r| r.authorization.as_deref() == Some("Bearer "))
        .count();
    assert_eq!(asked, 0);
}

/// §6.2: every error vector, set up as its case says, answered as the original answers (a
/// plain-text 500 as a JSON 502).
#[tokio::test]
async fn error_vectors() {
    let spec = LabFormSpec::load();
    let bodies = Bodies::read(&spec);
    let fake = FakeGafaelfawr::start().await.unwrap();
    let std = std_sizes(&spec);
    let app = app(Arc::new(backend(&fake, std.clone())));
    let standard_user = error_vector_user(&spec);
    let alice = || fake.issue_token(standard_user.clone());
    for vector in spec.error_vectors() {
        let ErrorVector { id, case, answer } = &vector;
        // A Gafaelfawr status named by the case is served once, for this request.
        let queue_fault = || {
            if let Some(status) = vector.gafaelfawr_status().filter(|&s| s != 200) {
                fake.push_faults([Fault::Status(status)]);
            }
        };
        let reply = match id.as_str() {
            "E1" => ask(&app, USER, None, None).await,
            "E2" => ask(&app, USER, Some(USER), None).await,
            "E3" => ask(&app, USER, None, Some(&alice())).await,
            "E4" => {
                let token = code_span(case);
                queue_fault();
                ask(&app, USER, Some(USER), Some(&token)).await
            }
            "E5" => {
                let token = alice();
                fake.expire_token(&token);
                ask(&app, USER, Some(USER), Some(&token)).await
            }
            "E6" => ask(&app, USER, Some("mallory"), Some(&alice())).await,
            "E7" => ask(&app, "mallory", Some(USER), Some(&alice())).await,
            "E8" => ask(&app, "Alice", Some(USER), Some(&alice())).await,
            "E9" => ask(&app, "mallory", Some(USER), Some("gt-bad")).await,
            "E10" => {
                let reply = request(&app, Method::POST, USER, Some(USER), Some(&alice())).await;
                assert!(reply.headers[header::ALLOW]
                    .to_str()
                    .unwrap()
                    .contains("GET"));
                reply
            }
            "E11" => {
                let uri = format!("{}/?x=1", form_uri(USER));
                let reply = send(&app, Request::get(uri).body(Body::empty()).unwrap()).await;
                assert_eq!(
                    reply.headers[header::LOCATION],
                    format!("{}?x=1", form_uri(USER)),
                    "{id}"
                );
                reply
            }
            "E12" | "E13" | "E17" | "E18" => {
                let token = alice();
                queue_fault();
                ask(&app, USER, Some(USER), Some(&token)).await
            }
            "E14" => {
                let gone = FakeGafaelfawr::start().await.unwrap();
                let token = gone.issue_token(standard_user.clone());
                let url = gone.url();
                drop(gone);
                let mut backend = TestBackend::standard();
                backend.form.auth =
                    FormAuth::Gafaelfawr(client_for(&url, Duration::from_secs(2), Duration::ZERO));
                request(
                    &app_for(backend),
                    Method::GET,
                    USER,
                    Some(USER),
                    Some(&token),
                )
                .await
            }
            "E15" => {
                let info: Value = serde_json::from_str(&code_span(case)).expect("JSON");
                ask(&app, USER, Some(USER), Some(&fake.issue_token(info))).await
            }
            "E16" => {
                let mut extra = standard_user.clone();
                extra["future_field"] = json!({"a": [1, 2]});
                ask(&app, USER, Some(USER), Some(&fake.issue_token(extra))).await
            }
            "E19" => {
                cached_quota_change(&fake, &app, &standard_user, answer).await;
                continue;
            }
            "E20" => ask(&app, USER, Some(""), Some(&alice())).await,
            "E21" => {
                let reply = ask(&app, USER, Some(USER), Some("")).await;
                // Refused without asking Gafaelfawr with an empty bearer token.
                let empty = fake
                    .requests()
                    .iter()
                    .filter(|r| r.authorization.as_deref() == Some("Bearer "))
                    .count();
                assert_eq!(empty, 0, "{id}");
                reply
            }
            other => panic!("{other} ({case}) has no test: add its setup here"),
        };
        let original = vector
            .status()
            .unwrap_or_else(|| panic!("{id}: no status in {answer:?}"));
        let status = our_status(original);
        assert_eq!(
            reply.status.as_u16(),
            status,
            "{id} {case}: {}",
            reply.text()
        );
        match status {
            200 if answer.contains("form") => {
                check_form(id, &reply, &std, quota_of(&standard_user).as_ref());
            }
            422 => {
                let body = match id.as_str() {
                    "E1" => &bodies.missing_both,
                    "E2" => &bodies.missing_token,
                    _ => &bodies.missing_user,
                };
                assert_answer(&reply, 422, body, id);
            }
            401 | 403 => assert_answer(&reply, status, bodies.refusal(status), id),
            502 => assert_eq!(reply.error(), (502, "gafaelfawr_error".into()), "{id}"),
            _ => {}
        }
        // Nothing that is not a form carries one.
        if status != 200 {
            assert!(!reply.text().contains("<input"), "{id}");
        }
    }
}

/// A GET of the form of `path`'s user with these headers.
async fn ask(app: &axum::Router, path: &str, user: Option<&str>, token: Option<&str>) -> Reply {
    request(app, Method::GET, path, user, token).await
}

/// E19: the quota turns spawning off; the same token keeps its cached answer, a new one
/// sees the change.
async fn cached_quota_change(
    fake: &FakeGafaelfawr,
    app: &axum::Router,
    user: &Value,
    answer: &str,
) {
    assert!(
        answer.contains("still the form") && answer.contains("unavailable page"),
        "E19 reads {answer:?}"
    );
    let token = fake.issue_token(user.clone());
    let get = |token: String| async move {
        request(app, Method::GET, USER, Some(USER), Some(&token)).await
    };
    assert_eq!(get(token.clone()).await.status, 200);
    let mut no_spawn = user.clone();
    no_spawn["quota"]["notebook"]["spawn"] = json!(false);
    fake.set_user_info(&token, no_spawn.clone());
    assert!(
        get(token).await.text().contains(r#"name="size""#),
        "E19: the cached answer"
    );
    let fresh = get(fake.issue_token(no_spawn)).await;
    assert_eq!(
        fresh.text(),
        rsp_service::pages::lab_form::UNAVAILABLE,
        "E19: a fresh token"
    );
}

/// Failures beyond the vectors: other Gafaelfawr statuses, a broken body, its backend
/// failing, and a Gafaelfawr too slow to wait for (504, within the client's timeout).
#[tokio::test]
async fn gafaelfawr_failures_are_bounded_json_errors() {
    let fake = FakeGafaelfawr::start().await.unwrap();
    let app = app(Arc::new(backend(&fake, LabSizes::default())));
    let get = |token: String| {
        let app = app.clone();
        async move { request(&app, Method::GET, USER, Some(USER), Some(&token)).await }
    };
    for (fault, status, kind) in [
        (Fault::Status(400), 502, "gafaelfawr_error"),
        (Fault::Status(503), 502, "gafaelfawr_error"),
        (Fault::TruncatedBody, 502, "gafaelfawr_error"),
        (
            Fault::Delay(Duration::from_secs(5)),
            504,
            "gafaelfawr_timeout",
        ),
    ] {
        let token = fake.issue_token(user_info(USER, None));
        fake.push_faults([fault.clone()]);
        let started = std::time::Instant::now();
        let reply = get(token).await;
        assert_eq!(reply.error(), (status, kind.to_owned()), "{fault:?}");
        assert_eq!(reply.content_type(), "application/json");
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{fault:?}: not bounded"
        );
    }
    fake.set_backend_failing(true);
    let token = fake.issue_token(user_info(USER, None));
    assert_eq!(get(token).await.error(), (502, "gafaelfawr_error".into()));
}

/// The text of the first code span of a vector's case.
fn code_span(case: &str) -> String {
    rsp_testkit::spec::code_spans(case)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no code span in {case:?}"))
}

fn quota_of(info: &Value) -> Option<NotebookQuota> {
    rsp_gafaelfawr::UserInfo::from_json(info.to_string().as_bytes())
        .expect("user information")
        .notebook_quota
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
    let app = app_for(backend(&fake, std_sizes(&LabFormSpec::load())));
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
