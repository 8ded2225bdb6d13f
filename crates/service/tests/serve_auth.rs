//! Where `serve` takes user information from: `gafaelfawr.url`, else Repertoire when
//! `REPERTOIRE_BASE_URL` is set, else nowhere (the open form). Through `serve` and real HTTP
//! on the demo's saved listing, with the fake Gafaelfawr and Repertoire.

mod serve_support;

use rsp_config::Config;
use rsp_service::run::{Environment, Options};
use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, FakeRepertoire, Recorded};
use serve_support::Running;
use std::path::{Path, PathBuf};

fn demo_config(extra: &str) -> Config {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let text = std::fs::read_to_string(dir.join("demo.yaml")).expect("the demo configuration");
    // Absolute paths, so that the configuration works from any directory.
    let text = text
        .replace(
            "path: demo-snapshot.json",
            &format!("path: {}", dir.join("demo-snapshot.json").display()),
        )
        .replace(
            "nodesFile: demo-nodes.json",
            &format!("nodesFile: {}", dir.join("demo-nodes.json").display()),
        );
    Config::from_yaml(&format!("{text}{extra}"))
        .expect("loads")
        .0
}

async fn form(base: &str, user: &str, token: Option<&str>) -> (u16, String) {
    let mut request =
        reqwest::Client::new().get(format!("{base}/nublado/spawner/v1/lab-form/{user}"));
    if let Some(token) = token {
        request = request
            .header("X-Auth-Request-User", user)
            .header("X-Auth-Request-Token", token);
    }
    let reply = request.send().await.expect("an answer");
    (
        reply.status().as_u16(),
        reply.text().await.unwrap_or_default(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_information_only_where_configured() {
    let gafaelfawr = FakeGafaelfawr::start().await.unwrap();
    // Two sizes fit alice's quota of the demo's four.
    let token = gafaelfawr.issue_token(user_info("alice", Some((2.0, 6.0))));

    // gafaelfawr.url: the headers are required, the quota filters the sizes.
    let config = demo_config(&format!("gafaelfawr:\n  url: {}\n", gafaelfawr.url()));
    let running = Running::start(config, Path::new("."), Options::default()).await;
    let base = running.base.clone();
    assert_eq!(form(&base, "alice", None).await.0, 422);
    let (status, html) = form(&base, "alice", Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches(r#"name="size""#).count(), 2, "{html}");
    let status_page = reqwest::get(format!("{base}/nublado/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!status_page.contains("Lab form without authentication"));
    running.stop().await;

    // REPERTOIRE_BASE_URL: Gafaelfawr found through discovery.
    let repertoire = FakeRepertoire::start(Some(gafaelfawr.url())).await.unwrap();
    let environment = Environment {
        repertoire_base_url: Some(repertoire.base_url()),
    };
    let options = Options {
        environment,
        ..Options::default()
    };
    let running = Running::start(demo_config(""), Path::new("."), options).await;
    let base = running.base.clone();
    assert_eq!(form(&base, "alice", None).await.0, 422);
    assert_eq!(form(&base, "alice", Some(&token)).await.0, 200);
    assert_eq!(form(&base, "mallory", Some(&token)).await.0, 403);
    assert_eq!(repertoire.request_count(), 1);
    running.stop().await;

    // Neither: the open form, with every size, and a notice.
    let running = Running::start(demo_config(""), Path::new("."), Options::default()).await;
    let base = running.base.clone();
    let (status, html) = form(&base, "anyone", None).await;
    assert_eq!(status, 200);
    assert_eq!(html.matches(r#"name="size""#).count(), 4);
    let status_page = reqwest::get(format!("{base}/nublado/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(status_page.contains("Lab form without authentication"));
    running.stop().await;
}
