//! Warm nodes on the service side (`prepuller.warmTaint`): which selected nodes still carry
//! the warm taint and since when they wait, for the status pages and the cold-node gauge; and
//! the record of the releases this replica made, for the wait histogram and the count of
//! nodes released by the timeout.
//!
//! Cold nodes are read from the nodes themselves, not from the prepuller, so that every
//! replica shows them, and a cluster where no replica leads (where nobody removes the taint)
//! shows them too.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rsp_config::Config;
use rsp_kube::prepuller::{WarmEvent, WarmOutcome};
use rsp_model::node::NodeInfo;
use rsp_model::warm::WarmTaint;
use tokio::sync::broadcast;

use crate::metrics::Histogram;

/// Upper bounds (seconds) of the wait buckets: a node with the images in a node-pool image
/// is warm in seconds, one that pulls every lab image in minutes, up to the default timeout
/// of ten minutes per image.
pub const WARM_BUCKETS: [f64; 10] = [
    5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 2400.0, 3600.0,
];

/// The warm gate over one node snapshot: the taint, the timeout's inputs and the nodes carrying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WarmNodes {
    pub taint: WarmTaint,
    configured_timeout: Option<Duration>,
    prepull_timeout: Duration,
    /// The selected nodes carrying the taint, in listing order.
    pub cold: Vec<ColdNode>,
}

/// A node that carries the warm taint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColdNode {
    /// Its index in the selected nodes (`ListingOnNodes::nodes`).
    pub index: usize,
    /// Since when it waits: its Ready transition, when it is Ready and reports one.
    pub since: Option<SystemTime>,
}

impl WarmNodes {
    /// The gate for `nodes` (the selected nodes); `None` when no warm taint is
    /// configured.
    pub fn of<'a>(
        config: &Config,
        nodes: impl IntoIterator<Item = &'a NodeInfo>,
    ) -> Option<WarmNodes> {
        let taint = config.prepuller.warm_taint.as_ref()?.taint();
        let cold = nodes
            .into_iter()
            .enumerate()
            .filter(|(_, node)| taint.index_on(node).is_some())
            .map(|(index, node)| ColdNode {
                index,
                since: (node.ready == Some(true))
                    .then_some(node.ready_since)
                    .flatten()
                    .map(SystemTime::from),
            })
            .collect();
        Some(WarmNodes {
            taint,
            configured_timeout: config.prepuller.warm_timeout,
            prepull_timeout: config.images.prepull_timeout,
            cold,
        })
    }

    /// How long a node may stay cold with `images` prepull images.
    pub fn timeout(&self, images: usize) -> Duration {
        rsp_model::warm::timeout(self.configured_timeout, self.prepull_timeout, images)
    }

    /// Whether `node` carries the warm taint.
    pub fn is_cold(&self, node: &NodeInfo) -> bool {
        self.taint.index_on(node).is_some()
    }

    /// The longest wait among the cold nodes at `now` (none when no cold node says since
    /// when it waits).
    pub fn longest_wait(&self, now: SystemTime) -> Option<Duration> {
        self.cold
            .iter()
            .filter_map(|cold| now.duration_since(cold.since?).ok())
            .max()
    }
}

/// The releases this replica made, across prepuller restarts.
#[derive(Debug, Clone)]
pub struct WarmMetrics {
    /// From node Ready to warm (releases because the images were there).
    pub waits: Histogram,
    /// Nodes released by the timeout (fail open).
    pub released_by_timeout: Arc<AtomicU64>,
}

impl Default for WarmMetrics {
    fn default() -> Self {
        WarmMetrics {
            waits: Histogram::new(WARM_BUCKETS),
            released_by_timeout: Arc::default(),
        }
    }
}

impl WarmMetrics {
    /// Records every release until the prepuller stops.
    pub async fn record(self, mut events: broadcast::Receiver<WarmEvent>) {
        use broadcast::error::RecvError;
        loop {
            match events.recv().await {
                Ok(event) => match event.outcome {
                    WarmOutcome::Warm => self.waits.observe(event.waited.as_secs_f64()),
                    WarmOutcome::TimedOut => {
                        self.released_by_timeout.fetch_add(1, Ordering::Relaxed);
                    }
                },
                // A missed event costs a sample; keep counting the next ones.
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            }
        }
    }

    /// Nodes released by the timeout so far.
    pub fn released_by_timeout(&self) -> u64 {
        self.released_by_timeout.load(Ordering::Relaxed)
    }
}
