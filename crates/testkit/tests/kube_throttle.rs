//! The fake API server's API Priority and Fairness and kubelet heartbeats, seen over raw HTTP:
//! the classification headers on every answer, the apiserver's exact 429 (plain text,
//! `Retry-After`), watch starts limited but open watches not, and heartbeats at N / period.

use std::time::Duration;

use rsp_testkit::kube::{
    lab_node, FakeCluster, Outcome, Throttle, FLOW_SCHEMA_UID, PRIORITY_LEVEL_UID,
    TOO_MANY_REQUESTS_BODY,
};

fn get(cluster: &FakeCluster, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .get(format!("{}{path}", cluster.url()))
        .bearer_auth("replica-a")
}

#[tokio::test]
async fn every_answer_names_its_flow_schema_and_priority_level() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    let mut seen = Vec::new();
    for path in [
        "/api/v1/nodes",
        "/api/v1/nodes/node1",
        "/api/v1/nodes/none",
        "/version",
    ] {
        let answer = get(&cluster, path).send().await.unwrap();
        let uid = |name: &str| {
            answer
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let pair = (uid(FLOW_SCHEMA_UID), uid(PRIORITY_LEVEL_UID));
        assert!(pair.0.is_some() && pair.1.is_some(), "{path}: {pair:?}");
        assert_ne!(pair.0, pair.1);
        seen.push(pair);
    }
    // One classification for every request of this client.
    seen.dedup();
    assert_eq!(seen.len(), 1);
}

#[tokio::test]
async fn a_refused_request_gets_the_apiservers_429() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    cluster.set_throttle(Throttle::per_client(1, 0.25));
    assert_eq!(
        get(&cluster, "/api/v1/nodes")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let answer = get(&cluster, "/api/v1/nodes/node1").send().await.unwrap();
    assert_eq!(answer.status(), 429);
    let header = |name: &str| {
        answer
            .headers()
            .get(name)
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(header("retry-after"), "4");
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert!(answer.headers().contains_key(FLOW_SCHEMA_UID));
    assert_eq!(answer.text().await.unwrap(), TOO_MANY_REQUESTS_BODY);
    // Without effect, counted and logged as throttled.
    let last = cluster.request_log().pop().unwrap();
    assert_eq!((last.verb.as_str(), last.code), ("get", 429));
    assert_eq!(last.outcome, Outcome::Throttled);
    assert_eq!(cluster.stats().requests("get", "nodes"), 1);
    // Anonymous requests are another flow.
    let anonymous = reqwest::get(format!("{}/api/v1/nodes", cluster.url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
}

#[tokio::test]
async fn watch_starts_are_limited_but_open_watches_are_not() {
    let cluster = FakeCluster::start().await;
    cluster.add_node(lab_node("node1"));
    let mut open = get(&cluster, "/api/v1/nodes?watch=1&resourceVersion=0")
        .send()
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    let first = open.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).contains("\"node1\""));

    cluster.set_throttle(Throttle::refusing_everything());
    let refused = get(&cluster, "/api/v1/nodes?watch=1").send().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "1");

    cluster.add_node(lab_node("node2"));
    let next = tokio::time::timeout(Duration::from_secs(2), open.chunk())
        .await
        .expect("the open watch keeps delivering")
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&next).contains("\"node2\""));
}

#[tokio::test]
async fn heartbeats_come_at_n_per_period_and_change_only_the_time() {
    let cluster = FakeCluster::start().await;
    for i in 0..5 {
        cluster.add_node(lab_node(&format!("node{i}")));
    }
    let before = cluster.nodes();
    let version = cluster.resource_version();
    // Five nodes each once a second: five reports a second.
    cluster.set_heartbeat_every(Duration::from_secs(1));
    tokio::time::sleep(Duration::from_millis(2050)).await;
    cluster.stop_heartbeats();
    let reports = cluster.resource_version() - version;
    assert!((8..=11).contains(&reports), "{reports} reports in 2 s");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(cluster.resource_version() - version, reports, "stopped");

    for (old, new) in before.into_iter().zip(cluster.nodes()) {
        let beat = |node: &k8s_openapi::api::core::v1::Node| {
            node.status.as_ref().unwrap().conditions.as_ref().unwrap()[0]
                .last_heartbeat_time
                .clone()
        };
        assert_ne!(beat(&old), beat(&new), "every node reported");
        let strip = |mut node: k8s_openapi::api::core::v1::Node| {
            node.metadata.resource_version = None;
            for condition in node.status.as_mut().unwrap().conditions.as_mut().unwrap() {
                condition.last_heartbeat_time = None;
            }
            node
        };
        assert_eq!(strip(old), strip(new), "nothing else changed");
    }
}
