//! The status pages' data as pure functions of the served snapshot: the image × node grid and
//! its summaries, and the notices, on the HTTP tests' fixture (no cluster, no templates).

mod http_support;

use http_support::{at, TestBackend};
use rsp_service::backend::Backend;
use rsp_service::status::{CellKind, CellState, FormUsers, LabFormSetup, Severity, StatusReport};
use std::time::{Duration, SystemTime};

/// A lab form behind Gafaelfawr with sizes: nothing to say about it.
const QUIET_FORM: LabFormSetup = LabFormSetup {
    users: FormUsers::Authenticated,
    sizes: 4,
};

/// The notices' titles, the lab form set up as `QUIET_FORM` (the fixture's form is open).
fn titles(backend: &TestBackend) -> Vec<String> {
    let mut report = backend.status();
    report.lab_form = QUIET_FORM;
    form_titles(&report)
}

fn form_titles(report: &StatusReport) -> Vec<String> {
    report
        .notices()
        .into_iter()
        .map(|notice| notice.title)
        .collect()
}

/// The fixture with only the nodes named in `keep`.
fn only_nodes(mut backend: TestBackend, keep: &[&str]) -> TestBackend {
    let nodes: Vec<_> = backend
        .listing_on_nodes
        .nodes
        .iter()
        .filter(|node| keep.contains(&node.name.as_str()))
        .cloned()
        .collect();
    backend.set_nodes(&nodes);
    backend
}

#[test]
fn each_image_is_counted_over_the_eligible_nodes_with_its_failing_ones() {
    let report = TestBackend::standard().status();
    let grid = &report.grid;
    let tags: Vec<&str> = grid.images().iter().map(|i| i.tag.as_str()).collect();
    assert_eq!(tags, ["w_2077_43", "d_2077_10_23"]);
    let weekly = &grid.images()[0];
    assert_eq!(
        (weekly.counts.get(CellKind::Cached), weekly.counts.wanted()),
        (3, 3),
        "node3 is ineligible: not counted"
    );
    let daily = &grid.images()[1];
    let counts: Vec<(CellKind, usize)> = daily.counts.nonzero().collect();
    assert_eq!(
        counts,
        [
            (CellKind::Cached, 1),
            (CellKind::Pulling, 1),
            (CellKind::BackingOff, 1)
        ]
    );
    let failing: Vec<&str> = daily
        .failing
        .iter()
        .map(|&i| grid.node(i).info.name.as_str())
        .collect();
    assert_eq!(failing, ["node2"]);
    assert_eq!(
        daily.size,
        Some(3 * 1024 * 1024 * 1024),
        "size from the nodes"
    );

    let nodes = grid.nodes();
    assert_eq!(
        (nodes.total, nodes.eligible, nodes.complete, nodes.failing),
        (4, 3, 1, 1)
    );
    assert_eq!(
        nodes.ineligible,
        [(
            "Node is tainted (NoSchedule, some-taint = other-value)".to_owned(),
            1
        )]
    );
    let node3 = grid.node_named("node3").expect("node3");
    assert_eq!(node3.cells, [CellState::NotWanted, CellState::NotWanted]);
    assert!(grid.node_named("node5").is_none());
}

#[test]
fn what_is_cached_wins_and_reports_about_unknown_pairs_are_ignored() {
    let mut backend = TestBackend::standard();
    let later = SystemTime::now() + Duration::from_secs(60);
    // node1 caches both digests; "ghost" is no node; sha256:9999 is no prepull image.
    backend.set_failed("node1", "sha256:1234", "stale", at(5), later);
    backend.set_failed("ghost", "sha256:1234", "gone", at(5), later);
    backend.set_pulling("node1", "sha256:9999", at(5));
    // An ineligible node's pull in progress is shown as it is.
    backend.set_pulling("node3", "sha256:5678", at(5));
    let report = backend.status();
    let node1 = report.grid.node_named("node1").expect("node1");
    assert_eq!(node1.cells, [CellState::Cached, CellState::Cached]);
    let node3 = report.grid.node_named("node3").expect("node3");
    assert_eq!(node3.cells[0].kind(), CellKind::Pulling);
    assert_eq!(
        report.grid.images()[0].counts.get(CellKind::Pulling),
        0,
        "ineligible nodes are not in the image's summary"
    );
}

#[test]
fn each_condition_gives_its_notice_most_severe_first() {
    assert_eq!(titles(&TestBackend::standard()), ["Prepulls failing"]);

    let mut quiet = TestBackend::standard();
    quiet.puller = Default::default();
    assert!(titles(&quiet).is_empty());

    assert_eq!(titles(&TestBackend::empty()), ["No image listing yet"]);
    let mut starting = TestBackend::empty();
    starting.refresh.last_error = None;
    assert_eq!(titles(&starting), ["Waiting for the first listing"]);

    let mut failing = TestBackend::standard();
    failing.refresh.last_error = Some(("HTTP 503".to_owned(), at(3)));
    failing.refresh.failing_since = Some(at(600));
    failing.refresh.consecutive_failures = 7;
    failing.leader = false;
    failing.prepulling = false;
    assert_eq!(
        titles(&failing),
        [
            "Registry refresh failing",
            "Prepulls failing",
            "This replica is on standby",
            "Plan only"
        ]
    );
    let refresh = &failing.status().notices()[0];
    assert_eq!(refresh.severity, Severity::Warning);
    assert_eq!(refresh.since, failing.refresh.failing_since);
    assert!(
        refresh.detail.contains("The last 7 refreshes failed")
            && refresh.detail.ends_with("HTTP 503"),
        "{}",
        refresh.detail
    );

    assert_eq!(
        titles(&only_nodes(TestBackend::standard(), &[])),
        ["No nodes"]
    );
    let tainted = only_nodes(TestBackend::standard(), &["node3"]);
    assert_eq!(titles(&tainted), ["No eligible nodes"]);

    let mut open = quiet.status();
    open.lab_form = LabFormSetup {
        users: FormUsers::Anyone,
        ..QUIET_FORM
    };
    assert_eq!(form_titles(&open), ["Lab form without authentication"]);
    open.lab_form.sizes = 0;
    assert_eq!(
        form_titles(&open),
        ["Lab form without authentication", "No lab sizes"]
    );
    assert_eq!(
        form_titles(&quiet.status()),
        ["Lab form without authentication"],
        "the fixture's form is open"
    );

    let mut worst = TestBackend::empty();
    worst.leader = false;
    let mut worst = worst.status();
    worst.lab_form = QUIET_FORM;
    let severities: Vec<Severity> = worst.notices().iter().map(|n| n.severity).collect();
    assert_eq!(severities, [Severity::Critical, Severity::Info]);
}

/// A supervised task that died is a notice: critical while it is down (saying whether
/// readiness fails), a warning once it runs again, dated from its death; one that never died
/// is none.
#[test]
fn a_dead_task_is_critical_until_it_runs_again() {
    use rsp_service::status::TaskReport;
    let died = at(40);
    let task = |title, running, serves_the_api, last_death: Option<SystemTime>| TaskReport {
        title,
        running,
        serves_the_api,
        restarts: 3,
        last_death: last_death.map(|at| ("panicked: boom".to_owned(), at)),
    };
    let mut backend = TestBackend::standard();
    backend.tasks = vec![
        task("The registry refresh loop", true, true, None),
        task("The node watcher", false, true, Some(died)),
        task("The prepuller", false, false, Some(died)),
        task(
            "The task that rebuilds the served state",
            true,
            true,
            Some(died),
        ),
    ];
    let mut report = backend.status();
    report.lab_form = QUIET_FORM;
    let notices = report.notices();
    let summary: Vec<(&str, Severity)> = notices
        .iter()
        .map(|notice| (notice.title.as_str(), notice.severity))
        .collect();
    assert_eq!(
        summary,
        [
            ("The node watcher is down", Severity::Critical),
            ("The prepuller is down", Severity::Critical),
            (
                "The task that rebuilds the served state was restarted",
                Severity::Warning
            ),
            // The fixture's own, after the tasks' within its severity.
            ("Prepulls failing", Severity::Warning),
        ]
    );
    assert!(notices[..3].iter().all(|notice| notice.since == Some(died)));
    assert!(notices[0].detail.contains("panicked: boom"));
    assert!(notices[0].detail.contains("restarted 3 times"));
    assert!(notices[0].detail.contains("reports not ready"));
    assert!(!notices[1].detail.contains("reports not ready"));
}

#[test]
fn cold_nodes_are_eligible_and_noticed_and_forgotten_ones_warned_about() {
    let minute = Duration::from_secs(60);
    let backend = http_support::TestBackend::with_a_cold_node(3 * minute);
    let report = backend.status();
    let warm = report
        .grid
        .listing_on_nodes()
        .warm
        .as_ref()
        .expect("warm nodes on");
    let cold: Vec<&str> = warm
        .cold
        .iter()
        .map(|cold| {
            report.grid.listing_on_nodes().nodes[cold.index]
                .name
                .as_str()
        })
        .collect();
    assert_eq!(cold, ["node4"]);
    assert!(
        report
            .grid
            .node_named("node4")
            .unwrap()
            .eligibility
            .is_eligible(),
        "the warm taint alone does not make a node ineligible"
    );
    // Two prepull images at the default 10 minutes each: a 20-minute timeout.
    assert_eq!(warm.timeout(report.grid.images().len()), 20 * minute);
    let notice = report
        .notices()
        .into_iter()
        .find(|n| n.title == "Cold nodes")
        .expect("a notice while node4 waits");
    assert_eq!(notice.severity, Severity::Info);
    assert!(
        notice.detail.contains("1 node carries the warm taint"),
        "{}",
        notice.detail
    );
    assert!(
        notice.detail.contains("the longest has waited 3m"),
        "{}",
        notice.detail
    );

    // Past the timeout and its margin, nobody is releasing it.
    let late = SystemTime::now() + 18 * minute + 30 * Duration::from_secs(1);
    let notices = rsp_service::status::notices_at(&report, late);
    let forgotten = notices
        .iter()
        .find(|n| n.title == "Cold nodes not released")
        .expect("a warning once overdue");
    assert_eq!(forgotten.severity, Severity::Warning);
    assert!(
        forgotten.detail.contains("warm-nodes.yaml"),
        "{}",
        forgotten.detail
    );

    // A standby replica says who removes the taint.
    let mut standby = http_support::TestBackend::with_a_cold_node(minute);
    standby.leader = false;
    let detail = standby
        .status()
        .notices()
        .into_iter()
        .find(|n| n.title == "Cold nodes")
        .unwrap()
        .detail;
    assert!(detail.contains("while no replica leads"), "{detail}");

    // Without the feature: no notice, no warm data.
    let report = TestBackend::standard().status();
    assert!(report.grid.listing_on_nodes().warm.is_none());
    assert!(!titles(&TestBackend::standard())
        .iter()
        .any(|t| t.starts_with("Cold")));
}
