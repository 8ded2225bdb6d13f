//! The status page's view model: [`StatusView`] with every time and state already turned into
//! the words and CSS classes the template shows, so the template holds no logic beyond loops.

use serde::Serialize;
use std::time::SystemTime;

use super::time::{relative, span, timestamp};
use crate::backend::{CellState, ImageRow, NodeView, Notice, RefreshView, Severity, StatusView};
use crate::text::{human_size, short_digest};

#[derive(Serialize)]
pub struct StatusPage<'a> {
    now: String,
    prefix: &'a str,
    css: &'static str,
    refresh: Refresh<'a>,
    nodes: Vec<Node<'a>>,
    images: Vec<Image<'a>>,
    summary: Summary,
    leader: bool,
    prepulling: bool,
    notices: Vec<NoticeItem<'a>>,
}

/// A notice as the page lists it; the severity doubles as its CSS class.
#[derive(Serialize)]
struct NoticeItem<'a> {
    severity: &'static str,
    title: &'a str,
    detail: &'a str,
}

impl<'a> NoticeItem<'a> {
    fn new(notice: &'a Notice) -> Self {
        Self {
            severity: match notice.severity {
                Severity::Info => "info",
                Severity::Warning => "warning",
                Severity::Error => "error",
            },
            title: &notice.title,
            detail: &notice.detail,
        }
    }
}

/// How the (image, eligible node) pairs stand, for a one-line overview above the matrix.
#[derive(Serialize, Default, Debug, PartialEq, Eq)]
struct Summary {
    eligible_nodes: usize,
    cached: usize,
    pulling: usize,
    backing_off: usize,
    missing: usize,
}

impl Summary {
    fn new(view: &StatusView) -> Self {
        let eligible: Vec<bool> = view.nodes.iter().map(|n| n.eligible).collect();
        let mut summary = Summary {
            eligible_nodes: eligible.iter().filter(|e| **e).count(),
            ..Summary::default()
        };
        for row in &view.images {
            let cells = row.cells.iter().zip(&eligible).filter(|(_, e)| **e);
            for (cell, _) in cells {
                match cell {
                    CellState::Cached => summary.cached += 1,
                    CellState::Pulling { .. } => summary.pulling += 1,
                    CellState::BackingOff { .. } => summary.backing_off += 1,
                    CellState::Missing => summary.missing += 1,
                }
            }
        }
        summary
    }
}

#[derive(Serialize)]
struct Node<'a> {
    name: &'a str,
    eligible: bool,
    comment: Option<&'a str>,
}

#[derive(Serialize)]
struct Refresh<'a> {
    source: &'a str,
    last_success: Option<When>,
    last_error: Option<Failure<'a>>,
}

#[derive(Serialize)]
struct When {
    time: String,
    age: String,
}

#[derive(Serialize)]
struct Failure<'a> {
    message: &'a str,
    age: String,
}

#[derive(Serialize)]
struct Image<'a> {
    name: &'a str,
    tag: &'a str,
    digest: &'a str,
    digest_short: &'a str,
    size: Option<String>,
    cells: Vec<Cell>,
}

#[derive(Serialize)]
struct Cell {
    class: &'static str,
    label: &'static str,
    detail: String,
    title: String,
}

impl<'a> StatusPage<'a> {
    pub fn new(view: &'a StatusView, prefix: &'a str, now: SystemTime) -> Self {
        Self {
            now: timestamp(now),
            prefix,
            css: super::CSS,
            refresh: Refresh::new(&view.refresh, now),
            nodes: view.nodes.iter().map(Node::new).collect(),
            images: view
                .images
                .iter()
                .map(|row| Image::new(row, &view.nodes, now))
                .collect(),
            summary: Summary::new(view),
            leader: view.leader,
            prepulling: view.prepulling,
            notices: view.notices.iter().map(NoticeItem::new).collect(),
        }
    }
}

impl<'a> Node<'a> {
    fn new(node: &'a NodeView) -> Self {
        Self {
            name: &node.name,
            eligible: node.eligible,
            comment: node.comment.as_deref(),
        }
    }
}

impl<'a> Refresh<'a> {
    fn new(view: &'a RefreshView, now: SystemTime) -> Self {
        Self {
            source: &view.source,
            last_success: view.last_success.map(|t| When {
                time: timestamp(t),
                age: relative(t, now),
            }),
            last_error: view.last_error.as_ref().map(|(message, at)| Failure {
                message,
                age: relative(*at, now),
            }),
        }
    }
}

impl<'a> Image<'a> {
    fn new(row: &'a ImageRow, nodes: &[NodeView], now: SystemTime) -> Self {
        Self {
            name: &row.name,
            tag: &row.tag,
            digest: &row.digest,
            digest_short: short_digest(&row.digest),
            size: row.size.map(human_size),
            cells: row
                .cells
                .iter()
                .zip(nodes)
                .map(|(cell, node)| match cell {
                    // Nothing is prepulled onto an ineligible node: not "missing", just absent.
                    CellState::Missing if !node.eligible => Cell::not_wanted(),
                    _ => Cell::new(cell, now),
                })
                .collect(),
        }
    }
}

impl Cell {
    fn not_wanted() -> Self {
        Self {
            class: "skip",
            label: "—",
            detail: String::new(),
            title: "Ineligible node: images are not prepulled here".to_owned(),
        }
    }

    fn new(state: &CellState, now: SystemTime) -> Self {
        match state {
            CellState::Cached => Self {
                class: "cached",
                label: "cached",
                detail: String::new(),
                title: "The node has this image".to_owned(),
            },
            CellState::Pulling { since } => Self {
                class: "pulling",
                label: "pulling",
                detail: format!("for {}", age(*since, now)),
                title: format!("A prepull pod started {}", timestamp(*since)),
            },
            CellState::BackingOff {
                reason,
                failed_at,
                until,
            } => Self {
                class: "backoff",
                label: "backing off",
                detail: format!("retry {}", relative(*until, now)),
                title: format!(
                    "Failed {}: {reason}; next try at {}",
                    relative(*failed_at, now),
                    timestamp(*until)
                ),
            },
            CellState::Missing => Self {
                class: "missing",
                label: "missing",
                detail: String::new(),
                title: "Not on the node; waiting for a prepull slot".to_owned(),
            },
        }
    }
}

/// Elapsed time since `since`, `0s` if the clocks disagree.
fn age(since: SystemTime, now: SystemTime) -> String {
    span(now.duration_since(since).unwrap_or_default())
}
