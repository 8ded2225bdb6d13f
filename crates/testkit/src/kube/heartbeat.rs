//! Kubelets' periodic node status reports, which change nothing but the time.
//!
//! Kubelet posts its node's status when something changed and otherwise every
//! `nodeStatusReportFrequency` (5 minutes by default), each post setting every condition's
//! `lastHeartbeatTime` to the current time
//! (<https://kubernetes.io/docs/reference/node/node-status/#heartbeats>, kubelet's
//! `nodestatus` setters). Each post is a write: a new `resourceVersion` and a MODIFIED
//! event to every node watcher. At 5,000 nodes that is about 17 updates a second that change
//! nothing rsp-images reads (issue 16), which is what [`FakeCluster::set_heartbeat_every`]
//! sends: every node once per period, the nodes spread evenly over it, as independent
//! kubelets started at different times are.
//!
//! [`FakeCluster::set_heartbeat_every`]: super::FakeCluster::set_heartbeat_every

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use serde_json::{json, Value};
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use super::cluster::Inner;
use super::kind::Kind;
use super::store::meta_str;

/// How often the reporting task wakes; the reports due since the last wake are sent then.
const TICK: Duration = Duration::from_millis(100);

/// Sets every condition's `lastHeartbeatTime` to now, as one status post of kubelet does.
/// Kubelet posts at most every `nodeStatusUpdateFrequency` (10 s), so two posts always carry
/// different times (the API's times have whole seconds); the fake moves the time at least a
/// second past the last one, so that reports sent back to back are each a change.
pub fn stamp(node: &mut Value) {
    // `get_mut`, not indexing: indexing a missing key inserts a null, which is a change.
    let Some(conditions) = node
        .get_mut("status")
        .and_then(|status| status.get_mut("conditions"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let now = Timestamp::now().as_second();
    let last = conditions
        .iter()
        .filter_map(|c| c["lastHeartbeatTime"].as_str()?.parse::<Timestamp>().ok())
        .map(|t| t.as_second())
        .max();
    let beat = match last {
        Some(last) if last >= now => last.saturating_add(1),
        _ => now,
    };
    let Ok(beat) = Timestamp::from_second(beat) else {
        return;
    };
    for condition in conditions.iter_mut() {
        condition["lastHeartbeatTime"] = json!(beat.to_string());
    }
}

/// Sends one report for the node `name`. Nothing but `lastHeartbeatTime` changes, so the
/// kubelets, the scheduler and the taint manager, which wait for node changes, are not woken.
pub fn report(inner: &Inner, name: &str) {
    inner.lock().store.modify(Kind::Node, "", name, stamp);
}

/// Starts sending every node's report once per `period`, spread evenly (N nodes give N /
/// period reports a second), in name order, until the task is aborted. Nodes that join or
/// leave are picked up as they come.
pub fn spawn(inner: Arc<Inner>, period: Duration) -> JoinHandle<()> {
    let runtime = inner.runtime.clone();
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(TICK);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut last = Instant::now();
        // Reports owed, fractions included, so that slow rates still come out right.
        let mut owed = 0.0_f64;
        // The last node reported: the next round continues after it.
        let mut cursor = String::new();
        loop {
            ticks.tick().await;
            let now = Instant::now();
            let elapsed = now.duration_since(last);
            last = now;
            let mut st = inner.lock();
            let nodes = st.store.iter(Kind::Node, None).count();
            if nodes == 0 || period.is_zero() {
                owed = 0.0;
                continue;
            }
            owed += elapsed.as_secs_f64() * nodes as f64 / period.as_secs_f64();
            let due = owed.floor();
            owed -= due;
            // One round at most per tick, the rest forgotten: a period shorter than a tick
            // cannot be met anyway, and owing more would only make later ticks burst.
            let due = (due as usize).min(nodes);
            let names: Vec<String> = {
                let after = st
                    .store
                    .iter(Kind::Node, None)
                    .map(|n| meta_str(n, "name"))
                    .filter(|name| *name > cursor);
                let from_start = st.store.iter(Kind::Node, None).map(|n| meta_str(n, "name"));
                after.chain(from_start).take(due).collect()
            };
            for name in names {
                st.store.modify(Kind::Node, "", &name, stamp);
                cursor = name;
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_moves_every_condition_and_nothing_else() {
        let before = json!({
            "metadata": {"name": "n"},
            "status": {"conditions": [
                {"type": "Ready", "status": "True",
                 "lastTransitionTime": "2020-01-01T00:00:00Z",
                 "lastHeartbeatTime": "2020-01-01T00:00:00Z"},
                {"type": "MemoryPressure", "status": "False"},
            ]},
        });
        let mut node = before.clone();
        stamp(&mut node);
        let conditions = node["status"]["conditions"].as_array().unwrap();
        let beat = conditions[0]["lastHeartbeatTime"].as_str().unwrap();
        assert_ne!(beat, "2020-01-01T00:00:00Z");
        assert_eq!(conditions[1]["lastHeartbeatTime"], beat);
        assert_eq!(conditions[0]["lastTransitionTime"], "2020-01-01T00:00:00Z");
        // Back to back, the time still moves.
        let mut again = node.clone();
        stamp(&mut again);
        assert_ne!(again, node);
        // Nothing but the heartbeat times differs.
        for condition in again["status"]["conditions"].as_array_mut().unwrap() {
            condition
                .as_object_mut()
                .unwrap()
                .remove("lastHeartbeatTime");
        }
        let mut stripped = before;
        for condition in stripped["status"]["conditions"].as_array_mut().unwrap() {
            condition
                .as_object_mut()
                .unwrap()
                .remove("lastHeartbeatTime");
        }
        assert_eq!(again, stripped);
    }

    #[test]
    fn a_node_without_conditions_is_unchanged() {
        let mut node = json!({"metadata": {"name": "n"}, "status": {}});
        let before = node.clone();
        stamp(&mut node);
        assert_eq!(node, before);
    }
}
