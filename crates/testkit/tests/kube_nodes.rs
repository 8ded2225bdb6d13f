//! Nodes in the fake cluster through kube-rs: label and field selectors on list, paging,
//! errors, and a `kube::runtime::watcher` that sees every node change as an event.

use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ListParams};
use kube::runtime::watcher::{self, Event};
use kube::ResourceExt;
use rsp_testkit::kube::{node, FakeCluster};

async fn names(api: &Api<Node>, lp: &ListParams) -> Vec<String> {
    let list = api.list(lp).await.expect("list");
    list.items.iter().map(ResourceExt::name_any).collect()
}

async fn cluster_with_nodes() -> FakeCluster {
    let cluster = FakeCluster::start().await;
    cluster.add_node(node("a").label("pool", "lab").label("zone", "1"));
    cluster.add_node(node("b").label("pool", "lab"));
    cluster.add_node(node("c").label("pool", "other").unschedulable());
    cluster
}

#[tokio::test]
async fn list_with_selectors() {
    let cluster = cluster_with_nodes().await;
    let api: Api<Node> = Api::all(cluster.client());
    let lp = ListParams::default;
    assert_eq!(names(&api, &lp()).await, ["a", "b", "c"]);
    assert_eq!(names(&api, &lp().labels("pool=lab")).await, ["a", "b"]);
    assert_eq!(names(&api, &lp().labels("pool=lab,zone=1")).await, ["a"]);
    assert_eq!(names(&api, &lp().labels("pool!=lab")).await, ["c"]);
    assert_eq!(names(&api, &lp().labels("zone")).await, ["a"]);
    assert_eq!(names(&api, &lp().labels("!zone")).await, ["b", "c"]);
    assert_eq!(names(&api, &lp().fields("metadata.name=b")).await, ["b"]);
    assert_eq!(
        names(&api, &lp().fields("spec.unschedulable=true")).await,
        ["c"]
    );

    let err = api.list(&lp().fields("spec.nope=1")).await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 400));
    let err = api.get("zzz").await.unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 404 && s.reason == "NotFound"));
    assert_eq!(cluster.stats().requests("list", "nodes"), 9);
}

#[tokio::test]
async fn paged_list_is_one_snapshot() {
    let cluster = cluster_with_nodes().await;
    let api: Api<Node> = Api::all(cluster.client());
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.len(), 2);
    let token = first.metadata.continue_.clone().expect("continue token");
    // A node added between pages does not appear in the second page of the old snapshot.
    cluster.add_node(node("d"));
    let second = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap();
    let names: Vec<_> = second.items.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["c"]);
    assert!(second.metadata.continue_.is_none());
    assert_eq!(
        first.metadata.resource_version,
        second.metadata.resource_version
    );
    let err = api
        .list(&ListParams::default().limit(2).continue_token(&token))
        .await
        .unwrap_err();
    assert!(matches!(err, kube::Error::Api(s) if s.code == 410));
}

/// Reads watcher events until `want` names have been applied or deleted, skipping others.
async fn next_change<S>(stream: &mut S) -> (&'static str, String)
where
    S: futures::Stream<Item = Result<Event<Node>, watcher::Error>> + Unpin,
{
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), stream.next())
            .await
            .expect("an event within 5 s")
            .expect("stream open")
            .expect("no watch error");
        match ev {
            Event::Apply(n) => return ("apply", n.name_any()),
            Event::Delete(n) => return ("delete", n.name_any()),
            Event::InitApply(n) => return ("init", n.name_any()),
            Event::Init | Event::InitDone => {}
        }
    }
}

#[tokio::test]
async fn watcher_sees_node_changes_through_a_label_selector() {
    let cluster = cluster_with_nodes().await;
    let api: Api<Node> = Api::all(cluster.client());
    let cfg = watcher::Config::default().labels("pool=lab");
    let mut stream = watcher::watcher(api, cfg).boxed();
    assert_eq!(next_change(&mut stream).await, ("init", "a".into()));
    assert_eq!(next_change(&mut stream).await, ("init", "b".into()));

    cluster.add_node(node("d").label("pool", "lab"));
    assert_eq!(next_change(&mut stream).await, ("apply", "d".into()));
    // Starting to match is an addition, stopping to match a deletion.
    cluster.label_node("c", "pool", Some("lab"));
    assert_eq!(next_change(&mut stream).await, ("apply", "c".into()));
    cluster.label_node("a", "pool", None);
    assert_eq!(next_change(&mut stream).await, ("delete", "a".into()));
    cluster.cordon("b", true);
    assert_eq!(next_change(&mut stream).await, ("apply", "b".into()));
    cluster.set_ready("b", false);
    assert_eq!(next_change(&mut stream).await, ("apply", "b".into()));
    cluster.taint_node("b", "k", "v", "NoSchedule");
    assert_eq!(next_change(&mut stream).await, ("apply", "b".into()));
    cluster.remove_node("b");
    assert_eq!(next_change(&mut stream).await, ("delete", "b".into()));

    let b = cluster.node("c").expect("c");
    assert_eq!(b.labels().get("pool").map(String::as_str), Some("lab"));
    assert!(cluster.node("b").is_none());
}
