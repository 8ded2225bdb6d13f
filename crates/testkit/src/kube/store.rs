//! The versioned object store: every object of every kind, one global `resourceVersion`, a
//! bounded history of changes and a broadcast channel that feeds open watches.
//!
//! It is a plain synchronous structure kept behind the cluster's mutex, so that a write, its
//! history entry and its broadcast happen atomically and a watch that subscribes under the
//! same lock can never miss or duplicate an event. It knows nothing about pods or kubelets:
//! kind-specific rules live in `cluster.rs`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use super::kind::Kind;
use super::selector::Selector;
use super::status::ApiError;

/// Watch events buffered per subscriber before it is told it fell behind (410).
const BROADCAST_CAPACITY: usize = 16 * 1024;
/// Paged-list snapshots kept for `continue` tokens; older tokens answer 410, as in etcd.
const MAX_CONTINUES: usize = 64;
/// Default number of changes kept for watches that resume from a resourceVersion.
pub const DEFAULT_HISTORY: usize = 1000;

/// (kind, namespace or "", name): sorted like etcd keys, so lists come out in a stable order.
pub type Key = (Kind, String, String);

/// What happened to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

/// One committed change, as kept in history and sent to watches.
#[derive(Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: Kind,
    pub namespace: String,
    pub change: ChangeType,
    /// The object before the change (for selector transitions); `None` for additions.
    pub old: Option<Arc<Value>>,
    /// The object after the change; for deletions its last state, at the deletion's version.
    pub object: Arc<Value>,
}

/// What the broadcast channel carries to open watches.
#[derive(Clone, Debug)]
pub enum Broadcast {
    Change(Arc<Change>),
    /// Close every open watch (simulates an API server restart or a load-balancer reset).
    DropAll,
    /// End every open watch with an `ERROR` 410 event: their position was compacted away.
    ExpireAll,
}

/// One page of a list.
pub struct Page {
    pub items: Vec<Value>,
    pub resource_version: u64,
    pub continue_token: Option<String>,
    pub remaining: usize,
}

/// Where a new watch starts.
pub struct WatchStart {
    /// Changes to replay before live ones (history, or synthetic ADDED for a fresh watch).
    pub backlog: Vec<Arc<Change>>,
    pub rx: broadcast::Receiver<Broadcast>,
    /// The resourceVersion the watch is positioned at after the backlog.
    pub rv: u64,
}

pub struct Store {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
    history_limit: usize,
    /// Highest resourceVersion whose change was dropped from history.
    compacted_through: u64,
    tx: broadcast::Sender<Broadcast>,
    continues: HashMap<String, (u64, Vec<Value>)>,
    continue_order: VecDeque<String>,
    continue_seq: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            rv: 1,
            objects: BTreeMap::new(),
            history: VecDeque::new(),
            history_limit: DEFAULT_HISTORY,
            compacted_through: 0,
            tx: broadcast::channel(BROADCAST_CAPACITY).0,
            continues: HashMap::new(),
            continue_order: VecDeque::new(),
            continue_seq: 0,
        }
    }
}

/// The current time as the API server writes it (RFC 3339, whole seconds, UTC).
pub fn now_rfc3339() -> String {
    let now = k8s_openapi::jiff::Timestamp::now();
    k8s_openapi::jiff::Timestamp::from_second(now.as_second())
        .unwrap_or(now)
        .to_string()
}

/// A random UUID in the canonical textual form, as `metadata.uid`.
pub fn new_uid() -> String {
    let b: [u8; 16] = rand::random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A string field of `metadata`, empty when absent.
pub fn meta_str(obj: &Value, field: &str) -> String {
    obj["metadata"][field]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Reads `metadata.resourceVersion` as a number (the fake's versions are always numeric).
pub fn object_rv(obj: &Value) -> Option<u64> {
    obj["metadata"]["resourceVersion"].as_str()?.parse().ok()
}

impl Store {
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&(kind, ns.to_string(), name.to_string()))
    }

    /// Every object of `kind`, optionally in one namespace, in key order.
    pub fn iter<'a>(
        &'a self,
        kind: Kind,
        ns: Option<&'a str>,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        // Keys sort by kind, then namespace: a range scan touches only what is listed.
        let start = (kind, ns.unwrap_or_default().to_string(), String::new());
        self.objects
            .range(start..)
            .take_while(move |((k, n, _), _)| *k == kind && ns.is_none_or(|ns| ns == n))
            .map(|(_, v)| v)
    }

    /// Lists matching objects, `limit` at a time, remembering the rest under a continue token
    /// so that every page comes from the same snapshot as the real API guarantees.
    pub fn list(
        &mut self,
        kind: Kind,
        ns: Option<&str>,
        sel: &Selector,
        limit: Option<usize>,
        continue_token: Option<&str>,
    ) -> Result<Page, ApiError> {
        let (rv, mut items) = match continue_token {
            Some(token) => self.continues.remove(token).ok_or_else(|| {
                ApiError::expired(
                    "The provided continue parameter is too old to display a consistent list \
                     result. You can start a new list without the continue parameter.",
                )
            })?,
            None => (
                self.rv,
                self.iter(kind, ns)
                    .filter(|o| sel.matches(o))
                    .cloned()
                    .collect(),
            ),
        };
        let limit = limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        if items.len() <= limit {
            return Ok(Page {
                items,
                resource_version: rv,
                continue_token: None,
                remaining: 0,
            });
        }
        let rest = items.split_off(limit);
        self.continue_seq += 1;
        let token = format!("{rv}.{}", self.continue_seq);
        let remaining = rest.len();
        self.continues.insert(token.clone(), (rv, rest));
        self.continue_order.push_back(token.clone());
        while self.continue_order.len() > MAX_CONTINUES {
            if let Some(old) = self.continue_order.pop_front() {
                self.continues.remove(&old);
            }
        }
        Ok(Page {
            items,
            resource_version: rv,
            continue_token: Some(token),
            remaining,
        })
    }

    /// Stores a new object, stamping version metadata; 409 when the name is taken.
    pub fn create(&mut self, kind: Kind, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        let name = meta_str(&obj, "name");
        let key = (kind, ns.to_string(), name.clone());
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind.plural(), &name));
        }
        obj["kind"] = json!(kind.name());
        obj["apiVersion"] = json!(kind.api_version());
        if let Some(m) = obj["metadata"].as_object_mut() {
            // Only the server marks objects for deletion.
            m.remove("deletionTimestamp");
            m.remove("deletionGracePeriodSeconds");
        }
        let meta = &mut obj["metadata"];
        meta["uid"] = json!(new_uid());
        meta["creationTimestamp"] = json!(now_rfc3339());
        if kind.namespaced() {
            meta["namespace"] = json!(ns);
        }
        self.commit(key, ChangeType::Added, obj)
    }

    /// Replaces an object wholesale; enforces `metadata.resourceVersion` when the new object
    /// carries one (optimistic concurrency), keeps the identity fields of the stored one.
    pub fn replace(&mut self, kind: Kind, ns: &str, mut obj: Value) -> Result<Value, ApiError> {
        let name = meta_str(&obj, "name");
        let key = (kind, ns.to_string(), name.clone());
        let current = self
            .objects
            .get(&key)
            .ok_or_else(|| ApiError::not_found(kind.plural(), &name))?;
        let wanted = obj["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if !wanted.is_empty() && Some(wanted) != current["metadata"]["resourceVersion"].as_str() {
            return Err(ApiError::conflict(kind.plural(), &name));
        }
        for field in ["uid", "creationTimestamp", "namespace", "deletionTimestamp"] {
            let kept = current["metadata"].get(field).cloned();
            match kept {
                Some(v) => obj["metadata"][field] = v,
                None => {
                    if let Some(m) = obj["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        obj["kind"] = json!(kind.name());
        obj["apiVersion"] = json!(kind.api_version());
        if obj == *current {
            return Ok(obj);
        }
        self.commit(key, ChangeType::Modified, obj)
    }

    /// Applies `f` to a stored object and commits it if it changed (internal writers: kubelet,
    /// node controller, test helpers). Returns the stored object, or `None` if absent.
    pub fn modify(
        &mut self,
        kind: Kind,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let key = (kind, ns.to_string(), name.to_string());
        let mut obj = self.objects.get(&key)?.clone();
        f(&mut obj);
        if obj == self.objects[&key] {
            return Some(obj);
        }
        self.commit(key, ChangeType::Modified, obj).ok()
    }

    /// Removes an object; the DELETED change carries its last state at the new version.
    pub fn remove(&mut self, kind: Kind, ns: &str, name: &str) -> Option<Value> {
        let key = (kind, ns.to_string(), name.to_string());
        let obj = self.objects.get(&key)?.clone();
        self.commit(key, ChangeType::Deleted, obj).ok()
    }

    fn commit(&mut self, key: Key, change: ChangeType, mut obj: Value) -> Result<Value, ApiError> {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let old = match change {
            ChangeType::Deleted => self.objects.remove(&key),
            _ => self.objects.insert(key.clone(), obj.clone()),
        };
        let entry = Arc::new(Change {
            rv: self.rv,
            kind: key.0,
            namespace: key.1,
            change,
            old: old.map(Arc::new),
            object: Arc::new(obj.clone()),
        });
        self.history.push_back(entry.clone());
        self.trim_history();
        // Nobody listening is fine: the history still has the change.
        let _ = self.tx.send(Broadcast::Change(entry));
        Ok(obj)
    }

    fn trim_history(&mut self) {
        while self.history.len() > self.history_limit {
            if let Some(dropped) = self.history.pop_front() {
                self.compacted_through = dropped.rv;
            }
        }
    }

    /// Keeps at most `limit` changes for resuming watches (older versions answer 410).
    pub fn set_history_limit(&mut self, limit: usize) {
        self.history_limit = limit;
        self.trim_history();
    }

    /// Forgets all history, as an etcd compaction does: any watch or paged list from an
    /// older version than now gets 410 Gone.
    pub fn compact(&mut self) {
        self.history.clear();
        self.compacted_through = self.rv;
        self.continues.clear();
        self.continue_order.clear();
    }

    /// Closes every open watch.
    pub fn drop_watches(&self) {
        let _ = self.tx.send(Broadcast::DropAll);
    }

    /// Compacts history and ends every open watch with 410 Gone, so that every watcher must
    /// list again: what a watcher sees when etcd compacts past the version it is at (after
    /// an API server restart, or a watch that fell behind the watch cache's window).
    pub fn expire_watches(&mut self) {
        self.compact();
        let _ = self.tx.send(Broadcast::ExpireAll);
    }

    /// Positions a new watch. `from` is the request's resourceVersion: `None` (unset, "" or
    /// "0") starts with synthetic ADDED events for the current objects of `kind`, a number
    /// replays history after it, or fails with 410 when that history was compacted.
    pub fn watch(&self, kind: Kind, from: Option<u64>) -> Result<WatchStart, ApiError> {
        let backlog = match from {
            None => self
                .iter(kind, None)
                .map(|obj| {
                    Arc::new(Change {
                        rv: object_rv(obj).unwrap_or(self.rv),
                        kind,
                        namespace: obj["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        change: ChangeType::Added,
                        old: None,
                        object: Arc::new(obj.clone()),
                    })
                })
                .collect(),
            Some(rv) if rv < self.compacted_through => {
                return Err(ApiError::expired(format!(
                    "too old resource version: {rv} ({})",
                    self.compacted_through + 1
                )))
            }
            Some(rv) => self
                .history
                .iter()
                .filter(|c| c.rv > rv && c.kind == kind)
                .cloned()
                .collect(),
        };
        Ok(WatchStart {
            backlog,
            rx: self.tx.subscribe(),
            rv: self.rv.max(from.unwrap_or(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> Value {
        json!({"metadata": {"name": name}})
    }

    #[test]
    fn history_limit_expires_old_versions() {
        let mut store = Store::default();
        let first = store.create(Kind::Node, "", node("a")).unwrap();
        let first_rv = object_rv(&first).unwrap();
        store.create(Kind::Node, "", node("b")).unwrap();
        store.create(Kind::Node, "", node("c")).unwrap();
        store.set_history_limit(2);
        // The change to "a" is forgotten: resuming from before it is impossible.
        assert_eq!(
            store
                .watch(Kind::Node, Some(first_rv - 1))
                .err()
                .map(|e| e.code),
            Some(410)
        );
        let resumed = store.watch(Kind::Node, Some(first_rv)).unwrap();
        assert_eq!(resumed.backlog.len(), 2);
        store.compact();
        assert!(store.watch(Kind::Node, Some(first_rv)).is_err());
        assert!(store
            .watch(Kind::Node, Some(store.resource_version()))
            .is_ok());
    }

    #[test]
    fn iter_scans_one_kind_and_namespace() {
        let mut store = Store::default();
        store.create(Kind::Pod, "a", node("p1")).unwrap();
        store.create(Kind::Pod, "b", node("p2")).unwrap();
        store.create(Kind::Lease, "a", node("l")).unwrap();
        store.create(Kind::Node, "", node("n")).unwrap();
        let names = |kind, ns| -> Vec<String> {
            store.iter(kind, ns).map(|o| meta_str(o, "name")).collect()
        };
        assert_eq!(names(Kind::Pod, None), ["p1", "p2"]);
        assert_eq!(names(Kind::Pod, Some("b")), ["p2"]);
        assert_eq!(names(Kind::Pod, Some("c")), Vec::<String>::new());
        assert_eq!(names(Kind::Lease, Some("a")), ["l"]);
        assert_eq!(names(Kind::Node, None), ["n"]);
    }
}
