//! Answers of Gafaelfawr kept per token for a short while (lab-form.md §2.4: the original
//! keeps them five minutes, at most 1000 tokens; failures are never kept). A token is a
//! secret: it stays in memory, as a map key, and is never logged.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::wire::UserInfo;

/// Most tokens remembered at once, as in the original.
const CAPACITY: usize = 1000;

pub(crate) struct TokenCache {
    lifetime: Duration,
    entries: Mutex<HashMap<String, (Instant, Arc<UserInfo>)>>,
}

impl TokenCache {
    /// A cache keeping answers for `lifetime`; zero keeps nothing.
    pub(crate) fn new(lifetime: Duration) -> TokenCache {
        TokenCache {
            lifetime,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<String, (Instant, Arc<UserInfo>)>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get(&self, token: &str, now: Instant) -> Option<Arc<UserInfo>> {
        let entries = self.entries();
        let (stored, info) = entries.get(token)?;
        (now.saturating_duration_since(*stored) < self.lifetime).then(|| Arc::clone(info))
    }

    pub(crate) fn put(&self, token: &str, info: Arc<UserInfo>, now: Instant) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut entries = self.entries();
        if entries.len() >= CAPACITY && !entries.contains_key(token) {
            let lifetime = self.lifetime;
            entries.retain(|_, (stored, _)| now.saturating_duration_since(*stored) < lifetime);
            if entries.len() >= CAPACITY {
                let oldest = entries
                    .iter()
                    .min_by_key(|(_, (stored, _))| *stored)
                    .map(|(token, _)| token.clone());
                if let Some(oldest) = oldest {
                    entries.remove(&oldest);
                }
            }
        }
        entries.insert(token.to_owned(), (now, info));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(name: &str) -> Arc<UserInfo> {
        Arc::new(UserInfo {
            username: name.to_owned(),
            notebook_quota: None,
        })
    }

    #[test]
    fn answers_expire_and_the_oldest_make_room() {
        let start = Instant::now();
        let cache = TokenCache::new(Duration::from_secs(300));
        cache.put("t0", info("a"), start);
        assert_eq!(
            cache
                .get("t0", start + Duration::from_secs(299))
                .unwrap()
                .username,
            "a"
        );
        assert!(cache.get("t0", start + Duration::from_secs(300)).is_none());
        for i in 1..=CAPACITY {
            cache.put(
                &format!("t{i}"),
                info("b"),
                start + Duration::from_millis(i as u64),
            );
        }
        assert!(cache.entries().len() <= CAPACITY);
        assert!(cache.get("t0", start).is_none(), "the oldest made room");
        assert!(cache.get(&format!("t{CAPACITY}"), start).is_some());
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing() {
        let cache = TokenCache::new(Duration::ZERO);
        cache.put("t", info("a"), Instant::now());
        assert!(cache.get("t", Instant::now()).is_none());
    }
}
