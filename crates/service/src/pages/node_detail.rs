//! A node's page (`{prefix}/nodes/{name}`): its eligibility and why, the facts eligibility
//! reads (readiness, cordon, taints) and the labels that say what the node is, and the state
//! of every prepull image there with its last error.

use serde::Serialize;
use std::time::SystemTime;

use super::links::NodeList;
use super::words::{self, clip, kind_words};
use super::Frame;
use crate::status::{NodeEntry, StatusReport};
use crate::text::short_digest;
use rsp_model::node::NodeInfo;

use super::time::{relative, span};

/// Labels that say what a node is: its platform (which images can run there), machine type,
/// zone and pool. Labels of the lab node selector are the same on every node listed.
const LABELS: [&str; 5] = [
    "kubernetes.io/arch",
    "kubernetes.io/os",
    "node.kubernetes.io/instance-type",
    "topology.kubernetes.io/zone",
    "cloud.google.com/gke-nodepool",
];

/// Taints listed; a node with more says how many more.
const TAINTS_SHOWN: usize = 20;

#[derive(Serialize)]
pub struct NodePage<'a> {
    frame: Frame,
    name: &'a str,
    eligible: bool,
    reason: Option<String>,
    ready: &'static str,
    schedulable: &'static str,
    labels: Vec<(&'static str, String)>,
    taints: Vec<String>,
    more_taints: usize,
    /// With warm nodes configured, whether this node still carries the warm taint, and how
    /// long it has waited.
    warm: Option<String>,
    images: Vec<ImageState<'a>>,
    all_nodes: String,
}

#[derive(Serialize)]
struct ImageState<'a> {
    name: &'a str,
    tag: &'a str,
    digest: &'a str,
    digest_short: &'a str,
    class: &'static str,
    label: &'static str,
    detail: String,
}

impl<'a> NodePage<'a> {
    pub fn new(
        report: &'a StatusReport,
        node: NodeEntry<'a>,
        prefix: &'a str,
        now: SystemTime,
    ) -> NodePage<'a> {
        let info = node.info;
        NodePage {
            frame: Frame::new(prefix, now),
            name: &info.name,
            eligible: node.eligibility.is_eligible(),
            reason: node
                .eligibility
                .comment()
                .map(|reason| clip(reason, words::REASON).into_owned()),
            ready: match info.ready {
                Some(true) => "yes",
                Some(false) => "no",
                None => "unknown (no Ready condition)",
            },
            schedulable: if info.unschedulable {
                "no: cordoned"
            } else {
                "yes"
            },
            labels: LABELS
                .iter()
                .filter_map(|key| {
                    let value = info.labels.get(*key)?;
                    Some((*key, clip(value, words::REASON).into_owned()))
                })
                .collect(),
            taints: info
                .taints
                .iter()
                .take(TAINTS_SHOWN)
                .map(|taint| {
                    let text = match &taint.value {
                        Some(value) => format!("{}={value}:{}", taint.key, taint.effect),
                        None => format!("{}:{}", taint.key, taint.effect),
                    };
                    clip(&text, words::REASON).into_owned()
                })
                .collect(),
            more_taints: info.taints.len().saturating_sub(TAINTS_SHOWN),
            warm: warm_state(report, node.info, now),
            images: report
                .grid
                .images()
                .iter()
                .zip(node.cells)
                .map(|(image, cell)| {
                    let kind = kind_words(cell.kind());
                    ImageState {
                        name: &image.name,
                        tag: &image.tag,
                        digest: &image.digest,
                        digest_short: short_digest(&image.digest),
                        class: kind.class,
                        label: kind.label,
                        detail: words::cell_detail(cell, now),
                    }
                })
                .collect(),
            all_nodes: NodeList::default().href(prefix),
        }
    }
}

/// The node's warm state in words: cold (with its wait and the timeout) or warm; `None`
/// without warm nodes configured.
fn warm_state(report: &StatusReport, info: &NodeInfo, now: SystemTime) -> Option<String> {
    let warm = report.grid.listing_on_nodes().warm.as_ref()?;
    if !warm.is_cold(info) {
        return Some("warm: no warm taint".to_owned());
    }
    let timeout = span(warm.timeout(report.grid.images().len()));
    let waited = match (info.ready, info.ready_since) {
        (Some(true), Some(since)) => {
            let since = SystemTime::from(since);
            format!("waiting since it turned Ready, {}", relative(since, now))
        }
        _ => "waiting for the node to turn Ready".to_owned(),
    };
    Some(format!(
        "cold: carries the warm taint {} and takes no labs until its prepull images are \
         here; {waited} (released at the latest {timeout} after Ready)",
        clip(&warm.taint.key, words::REASON)
    ))
}
