//! Watch semantics of the fake cluster as kube-runtime sees them: relist after 410 (injected
//! or from compacted history), resuming without loss after dropped watches, streaming lists,
//! server-side timeouts with bookmarks, and injected request failures.

use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};
use kube::runtime::watcher::{self, Event};
use kube::ResourceExt;
use rsp_testkit::kube::{self as kube_fake, FakeCluster};

fn pod(name: &str) -> Pod {
    kube_fake::pod(name, "reg.io/img:1").build()
}

type Item = Result<Event<Pod>, watcher::Error>;

async fn next<S: Stream<Item = Item> + Unpin>(s: &mut S) -> Item {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("a watcher item within 5 s")
        .expect("watcher streams forever")
}

/// Consumes one complete initial list; returns the names it applied.
async fn init<S: Stream<Item = Item> + Unpin>(s: &mut S) -> Vec<String> {
    assert!(matches!(next(s).await, Ok(Event::Init)));
    let mut names = Vec::new();
    loop {
        match next(s).await.expect("no error during the initial list") {
            Event::InitApply(p) => names.push(p.name_any()),
            Event::InitDone => return names,
            other => panic!("unexpected {other:?} during the initial list"),
        }
    }
}

fn error_code(item: Item) -> Option<u16> {
    match item {
        Err(watcher::Error::WatchError(s)) => Some(s.code),
        Err(watcher::Error::WatchStartFailed(kube::Error::Api(s))) => Some(s.code),
        _ => None,
    }
}

/// A cluster with pod p1 and a watcher on pods that has finished its initial list.
async fn watching_one_pod() -> (FakeCluster, impl Stream<Item = Item> + Unpin) {
    let cluster = FakeCluster::start().await;
    cluster.create_pod_directly(pod("p1"));
    let api: Api<Pod> = Api::default_namespaced(cluster.client());
    let mut s = watcher::watcher(api, watcher::Config::default()).boxed();
    assert_eq!(init(&mut s).await, ["p1"]);
    (cluster, s)
}

#[tokio::test]
async fn watcher_relists_after_an_injected_410() {
    let (cluster, mut s) = watching_one_pod().await;

    cluster.fail_next("watch", "pods", 1, 410);
    cluster.drop_watches();
    assert_eq!(error_code(next(&mut s).await), Some(410));
    assert_eq!(init(&mut s).await, ["p1"]);
    assert_eq!(cluster.stats().requests("list", "pods"), 2);
}

#[tokio::test]
async fn watcher_relists_when_its_version_was_compacted() {
    let (cluster, mut s) = watching_one_pod().await;

    // Keep the watcher away while history moves on and is compacted.
    cluster.fail_next("watch", "pods", 1, 500);
    cluster.drop_watches();
    assert_eq!(error_code(next(&mut s).await), Some(500));
    cluster.create_pod_directly(pod("p2"));
    cluster.compact_history();

    assert_eq!(error_code(next(&mut s).await), Some(410));
    assert_eq!(init(&mut s).await, ["p1", "p2"]);
}

#[tokio::test]
async fn dropped_watches_resume_without_losing_events() {
    let cluster = FakeCluster::start().await;
    let api: Api<Pod> = Api::default_namespaced(cluster.client());
    let mut s = watcher::watcher(api, watcher::Config::default()).boxed();
    assert!(init(&mut s).await.is_empty());

    // Each drop closes the open watch while a change is on its way: the watcher must
    // resume from its last version and get the change from history, without relisting.
    let mut drops = 0;
    for i in 0..20 {
        if i % 3 == 1 {
            cluster.drop_watches();
            drops += 1;
        }
        let name = format!("p{i}");
        cluster.create_pod_directly(pod(&name));
        match next(&mut s).await.expect("no watch error") {
            Event::Apply(p) => assert_eq!(p.name_any(), name),
            other => panic!("a resumed watch should not relist: {other:?}"),
        }
    }
    let stats = cluster.stats();
    assert_eq!(stats.requests("list", "pods"), 1);
    assert_eq!(stats.requests("watch", "pods"), 1 + drops);
}

#[tokio::test]
async fn streaming_list_ends_with_the_initial_events_bookmark() {
    let cluster = FakeCluster::start().await;
    cluster.create_pod_directly(pod("p1"));
    cluster.create_pod_directly(pod("p2"));
    let api: Api<Pod> = Api::default_namespaced(cluster.client());
    let cfg = watcher::Config::default().streaming_lists();
    let mut s = watcher::watcher(api.clone(), cfg).boxed();
    assert_eq!(init(&mut s).await, ["p1", "p2"]);
    api.create(&PostParams::default(), &pod("p3"))
        .await
        .unwrap();
    assert!(matches!(next(&mut s).await, Ok(Event::Apply(p)) if p.name_any() == "p3"));
    assert_eq!(cluster.stats().requests("list", "pods"), 0);
}

#[tokio::test]
async fn watch_timeout_is_honoured_with_bookmarks() {
    let cluster = FakeCluster::start().await;
    cluster.set_bookmark_interval(Duration::from_millis(100));
    cluster.create_pod_directly(pod("p1"));
    let api: Api<Pod> = Api::default_namespaced(cluster.client());
    let started = Instant::now();
    // Bookmarks are on by default in kube-rs watch parameters.
    let wp = WatchParams::default().timeout(1);
    let events: Vec<_> = api.watch(&wp, "0").await.unwrap().collect().await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(3));
    assert!(matches!(events.first(), Some(Ok(WatchEvent::Added(p))) if p.name_any() == "p1"));
    let bookmarks = events
        .iter()
        .filter(|e| matches!(e, Ok(WatchEvent::Bookmark(_))))
        .count();
    assert!(bookmarks >= 5, "bookmarks every 100 ms, got {bookmarks}");
    assert!(matches!(events.last(), Some(Ok(WatchEvent::Bookmark(_)))));

    let quiet = WatchParams::default().timeout(1).disable_bookmarks();
    let events: Vec<_> = api.watch(&quiet, "0").await.unwrap().collect().await;
    assert_eq!(events.len(), 1, "no bookmarks unless asked for");
}

fn code(err: kube::Error) -> u16 {
    match err {
        kube::Error::Api(s) => s.code,
        other => panic!("expected an API error, got {other}"),
    }
}

#[tokio::test]
async fn fail_next_and_unavailable() {
    let cluster = FakeCluster::start().await;
    cluster.create_pod_directly(pod("p1"));
    let pods: Api<Pod> = Api::default_namespaced(cluster.client());

    cluster.fail_next("get", "pods", 2, 500);
    cluster.fail_next("create", "pods", 1, 409);
    assert_eq!(code(pods.get("p1").await.unwrap_err()), 500);
    assert_eq!(code(pods.get("p1").await.unwrap_err()), 500);
    pods.get("p1").await.expect("third get succeeds");
    assert_eq!(
        code(
            pods.create(&PostParams::default(), &pod("p2"))
                .await
                .unwrap_err()
        ),
        409
    );
    pods.create(&PostParams::default(), &pod("p2"))
        .await
        .expect("second create");
    assert_eq!(cluster.stats().requests("get", "pods"), 3);

    // Without kube's retry layer every request sees the 503.
    let plain: Api<Pod> = Api::default_namespaced(cluster.client_without_retry());
    cluster.set_unavailable(true);
    assert_eq!(
        code(plain.list(&ListParams::default()).await.unwrap_err()),
        503
    );
    // kube's default client retries 503, so a short outage is invisible to it.
    let healer = cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(100)).await;
        healer.set_unavailable(false);
    });
    assert_eq!(
        pods.list(&ListParams::default()).await.unwrap().items.len(),
        2
    );
    assert!(cluster.stats().requests("list", "pods") >= 3);
}

#[tokio::test]
async fn an_outage_closes_watches_and_watchers_recover_after_it() {
    let (cluster, mut s) = watching_one_pod().await;
    cluster.set_unavailable(true);
    let healer = cluster.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        healer.create_pod_directly(pod("p2"));
        healer.set_unavailable(false);
    });
    // The closed watch is re-established (kube's retry layer rides out the 503s) and the
    // pod created during the outage arrives from history.
    match next(&mut s).await.expect("no error once the API is back") {
        Event::Apply(p) => assert_eq!(p.name_any(), "p2"),
        other => panic!("expected p2, got {other:?}"),
    }
    assert!(
        cluster.stats().requests("watch", "pods") >= 2,
        "the watch was re-established"
    );
}
