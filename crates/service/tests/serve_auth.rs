//! Where `serve` takes user information from: `gafaelfawr.url`, else Repertoire when
//! `REPERTOIRE_BASE_URL` is set, else nowhere (the open form). Through `serve` and real HTTP
//! on the demo's saved listing, with the fake Gafaelfawr and Repertoire.

use rsp_config::Config;
use rsp_service::run::{serve, Environment};
use rsp_testkit::gafaelfawr::{user_info, FakeGafaelfawr, FakeRepertoire, Recorded};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

/// Runs `serve` until the returned sender is used; waits until it is ready.
async fn start(
    config: Config,
    environment: Environment,
) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listen = format!("127.0.0.1:{}", free_port());
    let base = format!("http://{listen}");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        serve(
            config,
            std::path::Path::new("."),
            &listen,
            environment,
            async {
                let _ = stopped.await;
            },
        )
        .await
        .expect("serve runs");
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !reqwest::get(format!("{base}/readyz"))
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (base, stop)
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
    let (base, stop) = start(config, Environment::default()).await;
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
    let _ = stop.send(());

    // REPERTOIRE_BASE_URL: Gafaelfawr found through discovery.
    let repertoire = FakeRepertoire::start(Some(gafaelfawr.url())).await.unwrap();
    let environment = Environment {
        repertoire_base_url: Some(repertoire.base_url()),
    };
    let (base, stop) = start(demo_config(""), environment).await;
    assert_eq!(form(&base, "alice", None).await.0, 422);
    assert_eq!(form(&base, "alice", Some(&token)).await.0, 200);
    assert_eq!(form(&base, "mallory", Some(&token)).await.0, 403);
    assert_eq!(repertoire.request_count(), 1);
    let _ = stop.send(());

    // Neither: the open form, with every size, and a notice.
    let (base, stop) = start(demo_config(""), Environment::default()).await;
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
    let _ = stop.send(());
}
