//! What the status pages show, as data: a [`StatusReport`] of the served snapshot, computed by
//! pure functions so that the live service and the HTTP tests get the same report from the same
//! inputs, and pages only choose words and layout (`crate::pages`).
//!
//! - `cell`: [`CellState`], the state of one prepull image on one node, and its [`CellKind`].
//! - `grid`: [`StatusGrid`], every (node, image) cell of a snapshot with the summaries the
//!   overview shows (per image over the eligible nodes, nodes by eligibility).
//! - `query`: [`NodeQuery`], the node list's filter, order and paging.
//! - `notice`: [`Notice`]s, the problems an operator must act on, most severe first.
//!
//! Nothing here is proportional to nodes × images per request: the grid is built once per
//! snapshot (`snapshot::ServedSnapshot`), and pages read a bounded part of it (the overview's
//! summaries, one page of nodes, one node).
//!
//! ## Adding a state of an image on a node
//!
//! 1. A variant of [`CellState`] (with the details pages show) and of [`CellKind`], listed in
//!    `CellKind::ALL` at its `index`, with its URL name and whether it is wanted (counts
//!    toward "cached on N of M") and a failure (listed by node with its error).
//! 2. The case that decides it in [`CellState::decide`] (or an input to it from the grid).
//! 3. Its words in `pages/words.rs` (the compiler points there: the match is exhaustive).
//!
//! Summaries, the node list's `?state=` filter and the page legends follow from `ALL`.
//!
//! ## Adding a notice
//!
//! 1. The fact it reads, as a field of [`StatusReport`] and of `snapshot::ServiceFacts`
//!    (filled in `ServiceState::status`; the HTTP tests' backend sets it directly).
//! 2. One case in [`notice::notices`] with its severity, title and detail.

mod cell;
mod grid;
mod notice;
mod query;

pub use cell::{CellKind, CellState, KindCounts, PlatformMismatch};
pub use grid::{ImageRow, NodeEntry, NodeSummary, StatusGrid};
pub use notice::{lab_form_notices, notices, notices_at, Notice, Severity};
pub use query::{
    NodeFilter, NodePage, NodeParams, NodeQuery, NodeSort, QueryError, NODES_PER_PAGE,
};

use std::sync::Arc;
use std::time::SystemTime;

/// How the registry refreshes went.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RefreshReport {
    /// What is tracked, e.g. `us-central1-docker.pkg.dev/project/repo/image (google)`.
    pub source: String,
    pub last_success: Option<SystemTime>,
    /// The error of the last refresh, if it failed; the last good listing is still served.
    pub last_error: Option<(String, SystemTime)>,
    /// When the current run of failed refreshes began (none after a success).
    pub failing_since: Option<SystemTime>,
    /// Refreshes failed in a row.
    pub consecutive_failures: u32,
}

impl RefreshReport {
    /// The report of `record`, the refresh loop's, for a source described as `source`.
    pub fn of(source: String, record: &crate::refresh::RefreshRecord) -> RefreshReport {
        RefreshReport {
            source,
            last_success: record.last_success,
            last_error: record.last_error.clone(),
            failing_since: record.failing_since,
            consecutive_failures: record.consecutive_failures,
        }
    }
}

/// How one supervised long-running task fares (`crate::supervise`): data for a notice once it
/// has died.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskReport {
    /// What it is, for people ("The node watcher").
    pub title: &'static str,
    pub running: bool,
    /// Whether `/readyz` fails while it is down (the API's answers go stale without it).
    pub serves_the_api: bool,
    /// How often it was restarted since the service started.
    pub restarts: u64,
    /// Why and when it last died.
    pub last_death: Option<(String, SystemTime)>,
}

/// Everything the status pages show.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub refresh: RefreshReport,
    /// Whether this replica is the one that prepulls.
    pub leader: bool,
    /// Whether prepull pods are really created (false for a static cluster: plan only).
    pub prepulling: bool,
    /// The prepull images against the nodes.
    pub grid: Arc<StatusGrid>,
    /// The supervised tasks, in a fixed order.
    pub tasks: Vec<TaskReport>,
    /// How the lab form is set up.
    pub lab_form: LabFormSetup,
}

/// How the lab form is set up, as far as an operator should know (its notices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabFormSetup {
    pub users: FormUsers,
    /// The number of sizes in `lab.sizes`.
    pub sizes: usize,
}

/// Who gets the lab form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormUsers {
    /// Anyone, with every size: no Gafaelfawr is configured.
    Anyone,
    /// Users Gafaelfawr vouches for, with the sizes their quota allows.
    Authenticated,
}

impl StatusReport {
    /// The notices that hold for this report, most severe first.
    pub fn notices(&self) -> Vec<Notice> {
        notices(self)
    }
}
