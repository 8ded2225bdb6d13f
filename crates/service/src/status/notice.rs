//! Notices: the problems an operator must act on (or know about), most severe first, at the
//! top of the overview. Each is a pure function of the [`StatusReport`]: one `if` per condition
//! in [`notices`], so a new condition is one new case reading a field of the report.
//!
//! Titles are short and fixed; details are sentences that say what is wrong, what it means
//! for users and where to look. Text from outside (a registry's error) goes in the detail,
//! which pages escape and shorten.

use std::time::{Duration, SystemTime};

use crate::pages::time::span;

use super::{FormUsers, LabFormSetup, StatusReport};

/// How urgently an operator should look, most severe first (the derived order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The service cannot do its job (users see it).
    Critical,
    /// Degraded: served from older data, or some nodes will make users wait.
    Warning,
    /// Worth knowing when reading this page.
    Info,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem or fact shown above everything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub severity: Severity,
    pub title: String,
    pub detail: String,
    /// Since when it holds, when that is known (pages show the time and the age).
    pub since: Option<SystemTime>,
}

impl Notice {
    fn new(severity: Severity, title: &str, detail: String) -> Notice {
        Notice {
            severity,
            title: title.to_owned(),
            detail,
            since: None,
        }
    }

    fn since(mut self, since: Option<SystemTime>) -> Notice {
        self.since = since;
        self
    }
}

/// Every notice that holds for `report` now, most severe first (in case order within a
/// severity).
pub fn notices(report: &StatusReport) -> Vec<Notice> {
    notices_at(report, SystemTime::now())
}

/// Every notice that holds for `report` at `now` (the only notices that read the clock are
/// about how long something has waited).
pub fn notices_at(report: &StatusReport, now: SystemTime) -> Vec<Notice> {
    let mut notices = Vec::new();
    let refresh = &report.refresh;
    let attempts = refresh.consecutive_failures;
    match (&refresh.last_success, &refresh.last_error) {
        (None, Some((error, _))) => notices.push(
            Notice::new(
                Severity::Critical,
                "No image listing yet",
                format!(
                    "No refresh of the registry has succeeded since start-up ({attempts} \
                     attempts): the service is not ready and serves no images. Last error: \
                     {error}"
                ),
            )
            .since(refresh.failing_since),
        ),
        (None, None) => notices.push(Notice::new(
            Severity::Info,
            "Waiting for the first listing",
            "The first refresh of the registry is under way; the service becomes ready when \
             it succeeds."
                .to_owned(),
        )),
        (Some(_), Some((error, _))) => notices.push(
            Notice::new(
                Severity::Warning,
                "Registry refresh failing",
                format!(
                    "The last {attempts} refreshes failed; the last good listing is still \
                     served, so new images do not appear. Last error: {error}"
                ),
            )
            .since(refresh.failing_since),
        ),
        (Some(_), None) => {}
    }

    for task in &report.tasks {
        let Some((reason, died_at)) = &task.last_death else {
            continue;
        };
        let times = match task.restarts {
            1 => "once".to_owned(),
            n => format!("{n} times"),
        };
        let notice = if task.running {
            Notice::new(
                Severity::Warning,
                &format!("{} was restarted", task.title),
                format!(
                    "It died ({reason}) and runs again; restarted {times} since the service \
                     started. Look in the logs for what preceded the death."
                ),
            )
        } else {
            Notice::new(
                Severity::Critical,
                &format!("{} is down", task.title),
                format!(
                    "It died ({reason}) and is waiting to be restarted (restarted {times} \
                     before). While it is down what it maintains goes stale{}.",
                    if task.serves_the_api {
                        " and the service reports not ready"
                    } else {
                        ""
                    }
                ),
            )
        };
        notices.push(notice.since(Some(*died_at)));
    }

    let nodes = report.grid.nodes();
    let listed = refresh.last_success.is_some();
    if listed && nodes.total == 0 {
        notices.push(Notice::new(
            Severity::Warning,
            "No nodes",
            "No node matches lab.nodeSelector (or none has been listed yet): nothing is \
             prepulled."
                .to_owned(),
        ));
    } else if listed && nodes.eligible == 0 {
        notices.push(Notice::new(
            Severity::Warning,
            "No eligible nodes",
            format!(
                "All {} nodes are ineligible (see Nodes): nothing is prepulled, and every \
                 prepull image counts as prepulled in the spawner's menu.",
                nodes.total
            ),
        ));
    }

    let failures = report.grid.eligible_counts().failures();
    if failures > 0 {
        notices.push(Notice::new(
            Severity::Warning,
            "Prepulls failing",
            format!(
                "{failures} prepull{} failed on {} node{} and wait before the next try; \
                 the images below name the nodes and their errors.",
                plural(failures),
                nodes.failing,
                plural(nodes.failing)
            ),
        ));
    }

    if let Some(notice) = cold_nodes(report, now) {
        notices.push(notice);
    }

    if !report.leader {
        notices.push(Notice::new(
            Severity::Info,
            "This replica is on standby",
            "Another replica holds the prepuller's Lease and prepulls (or none does, if no \
             replica can renew it). Pulls in progress and their errors are known to the \
             leader only: this replica shows what the nodes report."
                .to_owned(),
        ));
    }
    if !report.prepulling {
        notices.push(Notice::new(
            Severity::Info,
            "Plan only",
            "The cluster is a static node list (cluster.type: static): rsp-images plans \
             prepulls but creates no pods."
                .to_owned(),
        ));
    }

    notices.extend(lab_form_notices(&report.lab_form));

    notices.sort_by_key(|notice| notice.severity);
    notices
}

/// Nodes carrying the warm taint: a fact while they wait for their images, a warning once
/// one has waited past the warm timeout (the leader would have released it: none is
/// releasing, so the node takes no labs).
fn cold_nodes(report: &StatusReport, now: SystemTime) -> Option<Notice> {
    let warm = report.grid.listing_on_nodes().warm.as_ref()?;
    let count = warm.cold.len();
    if count == 0 {
        return None;
    }
    let timeout = warm.timeout(report.grid.images().len());
    let longest = warm.longest_wait(now);
    let waited = longest.map_or_else(String::new, |wait| {
        format!("; the longest has waited {}", span(wait))
    });
    let standby = if report.leader {
        ""
    } else {
        " This replica does not lead: the leader removes the taint, and while no replica \
         leads (none running, or none able to renew the Lease) cold nodes stay tainted."
    };
    let overdue = longest.is_some_and(|wait| wait > timeout.saturating_add(OVERDUE_MARGIN));
    let notice = if overdue {
        Notice::new(
            Severity::Warning,
            "Cold nodes not released",
            format!(
                "{count} node{} still carr{} the warm taint {} past the warm timeout ({}){waited}: \
                 nothing is removing it, so labs cannot use {}. Check that a replica leads and \
                 may patch nodes (deploy/kubernetes/warm-nodes.yaml), or remove the taint by \
                 hand.{standby}",
                plural(count),
                if count == 1 { "ies" } else { "y" },
                warm.taint.key,
                span(timeout),
                if count == 1 { "it" } else { "them" },
            ),
        )
    } else {
        Notice::new(
            Severity::Info,
            "Cold nodes",
            format!(
                "{count} node{} carr{} the warm taint {} and take{} no labs until their prepull \
                 images are there (at most {}){waited}; see each node's page.{standby}",
                plural(count),
                if count == 1 { "ies" } else { "y" },
                warm.taint.key,
                if count == 1 { "s" } else { "" },
                span(timeout),
            ),
        )
    };
    Some(notice.since(longest.and_then(|wait| now.checked_sub(wait))))
}

/// How long past the warm timeout a cold node counts as forgotten: the leader's release
/// takes a pass of its loop and a patch, and the node watch some seconds to show it.
const OVERDUE_MARGIN: Duration = Duration::from_secs(60);

/// What an operator should know about the lab form's setup; also logged at start-up.
pub fn lab_form_notices(setup: &LabFormSetup) -> Vec<Notice> {
    let mut notices = Vec::new();
    if setup.users == FormUsers::Anyone {
        notices.push(Notice::new(
            Severity::Warning,
            "Lab form without authentication",
            "Neither gafaelfawr.url nor REPERTOIRE_BASE_URL is set, so the lab form is \
             served to anyone, with every size and no quota applied."
                .to_owned(),
        ));
    }
    if setup.sizes == 0 {
        notices.push(Notice::new(
            Severity::Warning,
            "No lab sizes",
            "lab.sizes is not set, so the lab form has no size to offer and answers 502 \
             instead of a form."
                .to_owned(),
        ));
    }
    notices
}

fn plural(count: usize) -> &'static str {
    if count == 1 {
        ""
    } else {
        "s"
    }
}
