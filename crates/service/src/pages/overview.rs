//! The overview (`{prefix}/`): notices, the registry refresh, one row per prepull image and
//! the nodes by eligibility. Its size depends on the number of images and notices, never on
//! the number of nodes: failing nodes are listed up to [`FAILING_SHOWN`] per image and
//! ineligibility reasons up to [`REASONS_SHOWN`], each with a link to the full node list.

use serde::Serialize;
use std::time::SystemTime;

use super::links::{self, NodeList};
use super::time::{relative, timestamp};
use super::words::{self, clip, count, kind_words, KindWords};
use super::Frame;
use crate::status::{CellKind, CellState, ImageRow, NodeFilter, Notice, StatusGrid, StatusReport};
use crate::text::{human_size, short_digest};

/// Failing nodes listed per image.
pub const FAILING_SHOWN: usize = 3;
/// Ineligibility reasons listed.
pub const REASONS_SHOWN: usize = 10;

#[derive(Serialize)]
pub struct Overview<'a> {
    frame: Frame,
    notices: Vec<NoticeItem>,
    refresh: Refresh,
    replica: &'static str,
    images: Vec<ImageItem<'a>>,
    nodes: Nodes,
    legend: Vec<KindWords>,
}

#[derive(Serialize)]
struct When {
    time: String,
    age: String,
}

impl When {
    fn new(time: SystemTime, now: SystemTime) -> When {
        When {
            time: timestamp(time),
            age: relative(time, now),
        }
    }
}

#[derive(Serialize)]
struct NoticeItem {
    severity: &'static str,
    title: String,
    detail: String,
    since: Option<When>,
}

#[derive(Serialize)]
struct Refresh {
    source: String,
    last_success: Option<When>,
    /// What the last good listing holds, in words.
    listing: String,
    last_error: Option<Failure>,
}

#[derive(Serialize)]
struct Failure {
    message: String,
    age: String,
}

#[derive(Serialize)]
struct ImageItem<'a> {
    name: &'a str,
    tag: &'a str,
    digest: &'a str,
    digest_short: &'a str,
    size: Option<String>,
    cached: usize,
    wanted: usize,
    /// Of the wanted nodes, for the bar.
    percent: usize,
    /// The other states on the eligible nodes, each a link to those nodes.
    states: Vec<StateLink>,
    failing: Vec<FailingNode>,
    /// A link to every failing node, when more than are listed.
    all_failing: Option<StateLink>,
}

#[derive(Serialize)]
struct StateLink {
    class: &'static str,
    text: String,
    href: String,
}

#[derive(Serialize)]
struct FailingNode {
    name: String,
    href: String,
    error: String,
    age: String,
}

#[derive(Serialize)]
struct Nodes {
    total: usize,
    eligible: StateLink,
    complete: usize,
    incomplete: Option<StateLink>,
    failing: Option<StateLink>,
    ineligible: Option<StateLink>,
    reasons: Vec<Reason>,
    /// Nodes whose reasons are not listed.
    other_reasons: usize,
}

#[derive(Serialize)]
struct Reason {
    reason: String,
    count: usize,
}

impl<'a> Overview<'a> {
    pub fn new(report: &'a StatusReport, prefix: &'a str, now: SystemTime) -> Overview<'a> {
        let grid = &report.grid;
        Overview {
            frame: Frame::new(prefix, now),
            notices: report
                .notices()
                .into_iter()
                .map(|notice| NoticeItem::new(notice, now))
                .collect(),
            refresh: Refresh::new(report, now),
            replica: match (report.leader, report.prepulling) {
                (true, true) => "leader: creates prepull pods",
                (true, false) => "plans prepulls only (dry run): no pods are created",
                (false, _) => "standby: another replica prepulls",
            },
            images: grid
                .images()
                .iter()
                .enumerate()
                .map(|(column, image)| ImageItem::new(column, image, grid, prefix, now))
                .collect(),
            nodes: Nodes::new(grid, prefix),
            legend: words::legend(),
        }
    }
}

impl NoticeItem {
    fn new(notice: Notice, now: SystemTime) -> NoticeItem {
        NoticeItem {
            severity: notice.severity.name(),
            detail: clip(&notice.detail, words::ERROR_IN_FULL).into_owned(),
            title: notice.title,
            since: notice.since.map(|since| When::new(since, now)),
        }
    }
}

impl Refresh {
    fn new(report: &StatusReport, now: SystemTime) -> Refresh {
        let refresh = &report.refresh;
        let listing = &report.grid.listing_on_nodes().listing;
        Refresh {
            source: refresh.source.clone(),
            last_success: refresh.last_success.map(|t| When::new(t, now)),
            listing: format!(
                "{}, {}, {} to prepull",
                count(listing.tag_count(), "tag"),
                count(listing.catalog.len(), "image"),
                report.grid.images().len()
            ),
            last_error: refresh.last_error.as_ref().map(|(message, at)| Failure {
                message: clip(message, words::ERROR_IN_FULL).into_owned(),
                age: relative(*at, now),
            }),
        }
    }
}

impl<'a> ImageItem<'a> {
    /// The image in `column` of the grid.
    fn new(
        column: usize,
        image: &'a ImageRow,
        grid: &StatusGrid,
        prefix: &str,
        now: SystemTime,
    ) -> Self {
        let counts = &image.counts;
        let (cached, wanted) = (counts.get(CellKind::Cached), counts.wanted());
        let link = |kind: CellKind, text: String| StateLink {
            class: kind.name(),
            text,
            href: NodeList::filtered(NodeFilter::Cell(kind), Some(&image.tag)).href(prefix),
        };
        let failing = image
            .failing
            .iter()
            .take(FAILING_SHOWN)
            .map(|&node| FailingNode::new(grid, node, column, prefix, now))
            .collect();
        let all_failing = (image.failing.len() > FAILING_SHOWN).then(|| {
            link(
                CellKind::BackingOff,
                format!("all {} failing nodes", image.failing.len()),
            )
        });
        ImageItem {
            name: &image.name,
            tag: &image.tag,
            digest: &image.digest,
            digest_short: short_digest(&image.digest),
            size: image.size.map(human_size),
            cached,
            wanted,
            percent: (cached * 100).checked_div(wanted).unwrap_or(0),
            states: counts
                .nonzero()
                .filter(|(kind, _)| *kind != CellKind::Cached)
                .map(|(kind, n)| link(kind, format!("{n} {}", kind_words(kind).label)))
                .collect(),
            failing,
            all_failing,
        }
    }
}

impl FailingNode {
    fn new(grid: &StatusGrid, node: u32, column: usize, prefix: &str, now: SystemTime) -> Self {
        let node = grid.node(node);
        let (error, age) = match node.cells.get(column) {
            Some(CellState::BackingOff {
                reason, failed_at, ..
            }) => (
                clip(reason, words::ERROR_IN_LIST).into_owned(),
                relative(*failed_at, now),
            ),
            _ => (String::new(), String::new()),
        };
        FailingNode {
            name: node.info.name.clone(),
            href: links::node(prefix, &node.info.name),
            error,
            age,
        }
    }
}

impl Nodes {
    fn new(grid: &StatusGrid, prefix: &str) -> Nodes {
        let summary = grid.nodes();
        let link = |filter: NodeFilter, n: usize, noun: &str| StateLink {
            class: filter.name(),
            text: format!("{} {noun}", count(n, "node")),
            href: NodeList::filtered(filter, None).href(prefix),
        };
        let ineligible = summary.total - summary.eligible;
        let incomplete = summary.eligible - summary.complete;
        let shown = &summary.ineligible[..summary.ineligible.len().min(REASONS_SHOWN)];
        Nodes {
            total: summary.total,
            eligible: link(NodeFilter::Eligible, summary.eligible, "eligible"),
            complete: summary.complete,
            incomplete: (incomplete > 0)
                .then(|| link(NodeFilter::Incomplete, incomplete, "missing some image")),
            failing: (summary.failing > 0).then(|| {
                link(
                    NodeFilter::Cell(CellKind::BackingOff),
                    summary.failing,
                    "with failed pulls",
                )
            }),
            ineligible: (ineligible > 0)
                .then(|| link(NodeFilter::Ineligible, ineligible, "ineligible")),
            reasons: shown
                .iter()
                .map(|(reason, count)| Reason {
                    reason: clip(reason, words::REASON).into_owned(),
                    count: *count,
                })
                .collect(),
            other_reasons: summary.ineligible[shown.len()..]
                .iter()
                .map(|(_, count)| count)
                .sum(),
        }
    }
}
