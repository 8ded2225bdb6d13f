use super::*;
use crate::node::Taint;
use chrono::TimeZone;

fn cold() -> WarmTaint {
    WarmTaint {
        key: "startup-taint.cluster-autoscaler.kubernetes.io/rsp-cold".into(),
        effect: "NoSchedule".into(),
    }
}

fn node(taints: Vec<Taint>) -> NodeInfo {
    NodeInfo {
        name: "n".into(),
        taints,
        ready: Some(true),
        ..NodeInfo::default()
    }
}

fn taint(key: &str, effect: &str) -> Taint {
    Taint {
        key: key.into(),
        value: None,
        effect: effect.into(),
    }
}

#[test]
fn a_node_tainted_only_by_the_warm_taint_is_eligible() {
    let warm = cold();
    let tainted = node(vec![Taint {
        value: Some("true".into()),
        ..taint(&warm.key, "NoSchedule")
    }]);
    assert!(!tainted.eligibility(&[]).is_eligible());
    let tolerations = eligibility_tolerations(&[], Some(&warm));
    assert!(tainted.eligibility(&tolerations).is_eligible());
    // Another effect under the same key is another taint.
    let other = node(vec![taint(&warm.key, "NoExecute")]);
    assert!(!other.eligibility(&tolerations).is_eligible());
}

#[test]
fn the_taint_is_found_at_its_index() {
    let warm = cold();
    let n = node(vec![
        taint("gpu", "NoSchedule"),
        taint(&warm.key, "NoExecute"),
        taint(&warm.key, "NoSchedule"),
    ]);
    assert_eq!(warm.index_on(&n), Some(2));
    assert_eq!(warm.index_on(&node(vec![])), None);
}

#[test]
fn decisions() {
    let timeout = Duration::from_secs(60);
    let short = Duration::from_secs(10);
    assert_eq!(decide(None, 0, short, timeout), WarmDecision::Warm);
    assert_eq!(decide(None, 2, short, timeout), WarmDecision::Wait);
    assert_eq!(decide(None, 2, timeout, timeout), WarmDecision::TimedOut);
    let tainted = Some(IneligibleReason::Tainted);
    assert_eq!(decide(tainted, 2, short, timeout), WarmDecision::Warm);
    let not_ready = Some(IneligibleReason::NotReady);
    assert_eq!(decide(not_ready, 0, short, timeout), WarmDecision::Wait);
    assert_eq!(
        decide(not_ready, 0, timeout, timeout),
        WarmDecision::TimedOut
    );
}

#[test]
fn the_wait_counts_from_ready_and_never_goes_negative() {
    let at = |s: i64| Utc.timestamp_opt(1_000_000 + s, 0).unwrap();
    let mut n = node(vec![]);
    n.ready_since = Some(at(0));
    assert_eq!(waited(&n, at(30), at(40)), Duration::from_secs(40));
    n.ready = Some(false);
    assert_eq!(waited(&n, at(30), at(40)), Duration::from_secs(10));
    assert_eq!(waited(&n, at(50), at(40)), Duration::ZERO);
}

#[test]
fn the_default_timeout_is_one_prepull_timeout_per_image_and_saturates() {
    let ten = Duration::from_secs(600);
    assert_eq!(timeout(None, ten, 4), Duration::from_secs(2400));
    assert_eq!(timeout(None, ten, 0), ten);
    assert_eq!(
        timeout(Some(Duration::from_secs(5)), ten, 4),
        Duration::from_secs(5)
    );
    assert_eq!(timeout(None, Duration::MAX, usize::MAX), Duration::MAX);
}
