//! The body of a watch response: newline-delimited JSON events, as the API server streams them.
//!
//! A watch replays its backlog, then follows the store's broadcast, translating each change
//! through the request's namespace and selectors the way the API server does: an object that
//! starts matching is ADDED, one that stops matching is DELETED. It ends on `timeoutSeconds`
//! (after a final bookmark when bookmarks were asked for), on `drop_watches`, or with an
//! `ERROR` 410 event when it falls too far behind, starts from a compacted version or is
//! expired (`expire_watches`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::Stream;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;

use super::kind::Kind;
use super::selector::Selector;
use super::status::ApiError;
use super::store::{Broadcast, Change, ChangeType, WatchStart};

/// What one watch request asked for.
pub struct WatchRequest {
    pub kind: Kind,
    pub namespace: Option<String>,
    pub selector: Selector,
    pub timeout: Duration,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the synthetic ADDED events with an annotated bookmark.
    pub initial_events_end: bool,
    pub bookmark_every: Duration,
}

struct WatchState {
    req: WatchRequest,
    backlog: VecDeque<Arc<Change>>,
    rx: tokio::sync::broadcast::Receiver<Broadcast>,
    /// The version of the last change this watch has looked at, delivered or filtered out.
    seen: u64,
    deadline: Instant,
    next_bookmark: Instant,
    initial_end_pending: bool,
    done: bool,
}

/// One line of the stream.
fn line(event_type: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

/// A stream that sends one ERROR event and ends, as the API does for an expired version.
pub fn error_stream(err: &ApiError) -> impl Stream<Item = Result<Bytes, Infallible>> + use<> {
    futures::stream::iter([Ok(line("ERROR", &err.to_status()))])
}

fn bookmark(kind: Kind, rv: u64, initial_end: bool) -> Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        &json!({"kind": kind.name(), "apiVersion": kind.api_version(), "metadata": meta}),
    )
}

impl WatchState {
    /// The event a change becomes for this watch, if any.
    fn translate(&self, c: &Change) -> Option<Bytes> {
        if c.kind != self.req.kind
            || self
                .req
                .namespace
                .as_deref()
                .is_some_and(|ns| ns != c.namespace)
        {
            return None;
        }
        let now = self.req.selector.matches(&c.object);
        let before = c
            .old
            .as_deref()
            .is_some_and(|o| self.req.selector.matches(o));
        let event_type = match c.change {
            ChangeType::Added if now => "ADDED",
            ChangeType::Modified if now && before => "MODIFIED",
            ChangeType::Modified if now => "ADDED",
            ChangeType::Modified if before => "DELETED",
            ChangeType::Deleted if now => "DELETED",
            _ => return None,
        };
        Some(line(event_type, &c.object))
    }

    /// Ends the watch with the `ERROR` event of a version that is gone.
    fn expire(&mut self, why: &str) -> Bytes {
        self.done = true;
        let err = ApiError::expired(format!("too old resource version: {} ({why})", self.seen));
        line("ERROR", &err.to_status())
    }

    async fn next_line(&mut self) -> Option<Bytes> {
        loop {
            if self.done {
                return None;
            }
            if let Some(c) = self.backlog.pop_front() {
                self.seen = self.seen.max(c.rv);
                match self.translate(&c) {
                    Some(l) => return Some(l),
                    None => continue,
                }
            }
            if self.initial_end_pending {
                self.initial_end_pending = false;
                return Some(bookmark(self.req.kind, self.seen, true));
            }
            let tick = if self.req.bookmarks {
                self.next_bookmark
            } else {
                self.deadline
            };
            tokio::select! {
                msg = self.rx.recv() => match msg {
                    Ok(Broadcast::Change(c)) => {
                        if c.rv <= self.seen {
                            continue;
                        }
                        self.seen = c.rv;
                        if let Some(l) = self.translate(&c) {
                            return Some(l);
                        }
                    }
                    Ok(Broadcast::DropAll) | Err(RecvError::Closed) => return None,
                    Ok(Broadcast::ExpireAll) => return Some(self.expire("compacted")),
                    Err(RecvError::Lagged(_)) => return Some(self.expire("watch fell behind")),
                },
                _ = tokio::time::sleep_until(self.deadline) => {
                    // The API server closes timed-out watches with a last bookmark so that
                    // the client resumes from the newest version.
                    self.done = true;
                    if self.req.bookmarks {
                        return Some(bookmark(self.req.kind, self.seen, false));
                    }
                    return None;
                }
                _ = tokio::time::sleep_until(tick), if tick < self.deadline => {
                    self.next_bookmark = after(self.req.bookmark_every, self.deadline);
                    return Some(bookmark(self.req.kind, self.seen, false));
                }
            }
        }
    }
}

/// Longest a watch stays open, whatever it asked for.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// `now + d`, but no later than `cap` (clients and tests may ask for huge durations,
/// which would overflow an `Instant`).
fn after(d: Duration, cap: Instant) -> Instant {
    Instant::now().checked_add(d).map_or(cap, |t| t.min(cap))
}

/// The event stream of one watch.
pub fn stream(
    req: WatchRequest,
    start: WatchStart,
) -> impl Stream<Item = Result<Bytes, Infallible>> + use<> {
    let deadline = after(req.timeout, Instant::now() + MAX_TIMEOUT);
    let state = WatchState {
        deadline,
        next_bookmark: after(req.bookmark_every, deadline),
        initial_end_pending: req.initial_events_end,
        backlog: start.backlog.into(),
        rx: start.rx,
        seen: start.rv,
        done: false,
        req,
    };
    futures::stream::unfold(state, |mut state| async move {
        let next = state.next_line().await?;
        Some((Ok(next), state))
    })
}
