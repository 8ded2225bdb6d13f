//! The fake API's answers to unusual and malformed requests: every one is a proper `Status`
//! with the code the real API server uses, never a crash. Also discovery, `generateName`
//! and collection deletes.

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::{Client, ResourceExt};
use rsp_testkit::kube::{pod, FakeCluster};

/// Sends a raw request and returns (HTTP code, reason) of the error, or (200, "") on success.
async fn raw(client: &Client, method: &str, path: &str, ct: &str, body: &str) -> (u16, String) {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(body.as_bytes().to_vec())
        .expect("request builds");
    match client.request_text(req).await {
        Ok(_) => (200, String::new()),
        Err(kube::Error::Api(s)) => (s.code, s.reason),
        Err(other) => panic!("expected a Status, got {other}"),
    }
}

const PODS: &str = "/api/v1/namespaces/default/pods";
const JSON: &str = "application/json";

#[tokio::test]
async fn malformed_requests_get_status_errors() {
    let cluster = FakeCluster::start().await;
    let c = cluster.client_without_retry();
    let bad = |code: u16, reason: &str| (code, reason.to_string());
    let container = r#"{"name":"c","image":"i"}"#;
    let pod = |name: &str| {
        format!(r#"{{"metadata":{{"name":"{name}"}},"spec":{{"containers":[{container}]}}}}"#)
    };

    assert_eq!(
        raw(&c, "POST", PODS, JSON, "not json").await,
        bad(400, "BadRequest")
    );
    assert_eq!(
        raw(&c, "POST", PODS, JSON, "[1]").await,
        bad(400, "BadRequest")
    );
    assert_eq!(
        raw(&c, "POST", PODS, JSON, r#"{"metadata":{"name":"p"}}"#).await,
        bad(422, "Invalid")
    );
    assert_eq!(
        raw(&c, "POST", PODS, JSON, &pod("Bad_Name")).await,
        bad(422, "Invalid")
    );
    let other_ns = r#"{"metadata":{"name":"p","namespace":"x"},"spec":{"containers":[{"name":"c","image":"i"}]}}"#;
    assert_eq!(
        raw(&c, "POST", PODS, JSON, other_ns).await,
        bad(400, "BadRequest")
    );
    let wrong_kind = r#"{"kind":"Node","metadata":{"name":"p"}}"#;
    assert_eq!(
        raw(&c, "POST", PODS, JSON, wrong_kind).await,
        bad(400, "BadRequest")
    );
    assert_eq!(raw(&c, "POST", PODS, JSON, &pod("ok")).await.0, 200);
    assert_eq!(
        raw(&c, "POST", &format!("{PODS}/ok"), JSON, "{}").await,
        bad(405, "MethodNotAllowed")
    );
    assert_eq!(
        raw(&c, "PUT", &format!("{PODS}/ok"), JSON, &pod("other")).await,
        bad(400, "BadRequest")
    );
    assert_eq!(
        raw(&c, "PATCH", &format!("{PODS}/ok"), "text/plain", "{}")
            .await
            .0,
        415
    );
    assert_eq!(
        raw(&c, "DELETE", &format!("{PODS}/ok"), JSON, "{bad").await,
        bad(400, "BadRequest")
    );

    for query in [
        "limit=abc",
        "watch=1&resourceVersion=abc",
        "labelSelector=a%20in%20b",
        "watch=1&timeoutSeconds=-1",
        "watch=1&timeoutSeconds=99999999999999999999",
    ] {
        assert_eq!(
            raw(&c, "GET", &format!("{PODS}?{query}"), JSON, "").await.0,
            400,
            "{query}"
        );
    }
    for path in [
        "/api/v1/namespaces/default/widgets",
        "/api/v2/pods",
        "/nope",
        "/api/v1/nodes/a/b/c",
    ] {
        assert_eq!(
            raw(&c, "GET", path, JSON, "").await,
            bad(404, "NotFound"),
            "{path}"
        );
    }
    // Huge timeouts are served (capped), not a crash.
    let huge = format!("{PODS}?watch=1&timeoutSeconds=18446744073709551615");
    let req = http::Request::get(huge).body(Vec::new()).unwrap();
    assert!(c.request_events::<Pod>(req).await.is_ok());
    // The server is still fine.
    let pods: Api<Pod> = Api::default_namespaced(c);
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        1
    );
}

#[tokio::test]
async fn version_and_discovery() {
    let cluster = FakeCluster::start().await;
    let client = cluster.client();
    let info = client.apiserver_version().await.expect("version");
    assert_eq!((info.major.as_str(), info.minor.as_str()), ("1", "33"));
    let groups = client.list_api_groups().await.expect("groups");
    assert!(groups
        .groups
        .iter()
        .any(|g| g.name == "coordination.k8s.io"));
    let core = client
        .list_core_api_resources("v1")
        .await
        .expect("core resources");
    let names: Vec<_> = core.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["nodes", "pods"]);
    assert_eq!(cluster.stats().requests("get", "version"), 1);
}

#[tokio::test]
async fn generate_name_and_delete_collection() {
    let cluster = FakeCluster::start().await;
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());
    let pp = PostParams::default();
    let made = pods
        .create(
            &pp,
            &pod("", "reg.io/img:1")
                .generate_name("gen-")
                .label("role", "a")
                .build(),
        )
        .await
        .unwrap();
    let name = made.name_any();
    assert!(name.starts_with("gen-") && name.len() == 9, "{name}");
    pods.create(&pp, &pod("keep", "reg.io/img:1").label("role", "b").build())
        .await
        .unwrap();

    let deleted = pods
        .delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels("role=a"),
        )
        .await
        .expect("delete collection");
    let gone: Vec<_> = deleted
        .left()
        .expect("a list")
        .items
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(gone, [name]);
    let left: Vec<_> = cluster
        .pods("default")
        .iter()
        .map(ResourceExt::name_any)
        .collect();
    assert_eq!(left, ["keep"]);
    assert_eq!(cluster.stats().pods_deleted, 1);
}
