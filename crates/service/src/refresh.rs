//! The registry refresh loop and its record of how refreshes went.
//!
//! One refresh lists the registry and publishes a new [`Listing`]; a failed one publishes
//! nothing, so the last good listing keeps being served, and records the error with its time
//! for the status page (decisions §5 fix 10). Refreshes follow `refreshInterval` with ±10 %
//! jitter (replicas do not hit the registry in step); after a failure the next try comes
//! sooner, backing off from 5 s up to the interval, so a service that started while the
//! registry was down becomes ready soon after it comes back. Both waits follow the project's
//! one retry rule ([`rsp_retry`]). Each listing carries the lab's init container images as
//! they are known at the time (`init_images`).

use crate::init_images::InitImages;
use crate::metrics::{Histogram, REFRESH_BUCKETS};
use rsp_config::ImagesConfig;
use rsp_model::listing::Listing;
use rsp_registry::source::ImageSource;
use rsp_retry::Backoff;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// What the status page and metrics say about refreshes.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub last_success: Option<SystemTime>,
    pub last_error: Option<(String, SystemTime)>,
    /// When the current run of failures began (none after a success).
    pub failing_since: Option<SystemTime>,
    /// Refreshes failed in a row.
    pub consecutive_failures: u32,
    pub success_total: u64,
    pub failure_total: u64,
    pub durations: Histogram,
}

impl Default for RefreshRecord {
    fn default() -> Self {
        RefreshRecord {
            last_success: None,
            last_error: None,
            failing_since: None,
            consecutive_failures: 0,
            success_total: 0,
            failure_total: 0,
            durations: Histogram::new(REFRESH_BUCKETS),
        }
    }
}

/// Shared between the loop (writer) and the HTTP layer (readers).
pub type SharedRecord = Arc<Mutex<RefreshRecord>>;

/// Runs refreshes until `stop` turns true. Each success is published on `listings`, with the
/// latest init container images (`init`) attached; when those change between refreshes (a
/// digest learnt), the last listing is published again with them, without asking the
/// registry. Waiting on `init` never delays a refresh: its latest value is read as it is.
pub async fn run<S: ImageSource>(
    source: Arc<S>,
    options: ImagesConfig,
    listings: watch::Sender<Arc<Listing>>,
    record: SharedRecord,
    mut init: watch::Receiver<InitImages>,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
    // The last listing as the registry gave it, for publishing again with new init images.
    let mut last: Option<Listing> = None;
    loop {
        let started = Instant::now();
        let result = source.update_images(&options).await;
        let elapsed = started.elapsed();
        let delay = match result {
            Ok(listing) => {
                failures = 0;
                tracing::info!(
                    source = %source.describe(),
                    tags = listing.tag_count(),
                    images = listing.catalog.len(),
                    prepull = listing.to_prepull.len(),
                    seconds = elapsed.as_secs_f64(),
                    "Refreshed image information"
                );
                update(&record, |r| {
                    r.last_success = Some(SystemTime::now());
                    r.last_error = None;
                    r.failing_since = None;
                    r.consecutive_failures = 0;
                    r.success_total += 1;
                    r.durations.observe(elapsed.as_secs_f64());
                });
                let images = init.borrow_and_update().clone();
                listings.send_replace(Arc::new(listing.clone().with_init_images(images)));
                last = Some(listing);
                rsp_retry::spread(options.refresh_interval.saturating_sub(elapsed))
            }
            Err(error) => {
                failures = failures.saturating_add(1);
                tracing::warn!(
                    source = %source.describe(),
                    %error,
                    failures,
                    "Refreshing image information failed; still serving the last good listing"
                );
                update(&record, |r| {
                    let now = SystemTime::now();
                    r.failing_since.get_or_insert(now);
                    r.consecutive_failures = failures;
                    r.last_error = Some((error.to_string(), now));
                    r.failure_total += 1;
                    r.durations.observe(elapsed.as_secs_f64());
                });
                failure_backoff(options.refresh_interval).delay(failures)
            }
        };
        let next = tokio::time::sleep(delay);
        tokio::pin!(next);
        loop {
            tokio::select! {
                () = &mut next => break,
                _ = stop.wait_for(|stop| *stop) => return,
                Ok(()) = init.changed() => {
                    if let Some(listing) = &last {
                        let images = init.borrow_and_update().clone();
                        listings.send_replace(Arc::new(listing.clone().with_init_images(images)));
                    }
                }
            }
        }
    }
}

fn update(record: &SharedRecord, f: impl FnOnce(&mut RefreshRecord)) {
    match record.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// After failures: 5 s doubling, never more than the refresh interval.
fn failure_backoff(interval: Duration) -> Backoff {
    Backoff::new(Duration::from_secs(5).min(interval), interval)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsp_registry::RegistryError;
    use tokio::sync::mpsc;

    /// A source whose refreshes succeed or fail as the test says, one message per refresh.
    struct Scripted {
        outcomes: tokio::sync::Mutex<mpsc::UnboundedReceiver<bool>>,
    }

    impl ImageSource for Scripted {
        async fn update_images(&self, _: &ImagesConfig) -> Result<Listing, RegistryError> {
            let next = self.outcomes.lock().await.recv().await;
            match next {
                Some(true) => Ok(Listing::empty("registry.test", "lab")),
                Some(false) => Err(RegistryError::Transport {
                    host: "registry.test".to_owned(),
                    operation: "list tags".to_owned(),
                    detail: "connection refused".to_owned(),
                    timeout: false,
                }),
                None => std::future::pending().await,
            }
        }

        fn registry_and_repository(&self) -> (&str, &str) {
            ("registry.test", "lab")
        }
    }

    async fn after_refresh(record: &SharedRecord, number: u64) -> RefreshRecord {
        loop {
            let current = record.lock().expect("not poisoned").clone();
            if current.success_total + current.failure_total >= number {
                return current;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_record_knows_since_when_refreshes_fail() {
        let (config, _) = rsp_config::Config::from_yaml(
            "images:\n  source:\n    type: docker\n    repository: lab\n",
        )
        .expect("config");
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let source = Arc::new(Scripted {
            outcomes: tokio::sync::Mutex::new(outcomes),
        });
        let (listings, _listings_rx) = watch::channel(Arc::new(Listing::empty("r", "l")));
        let record = SharedRecord::default();
        let (_stop_tx, stop) = watch::channel(false);
        let (_init_tx, init) = watch::channel(InitImages::default());
        tokio::spawn(run(
            source,
            config.images,
            listings,
            Arc::clone(&record),
            init,
            stop,
        ));

        outcomes_tx.send(false).expect("the loop listens");
        let first = after_refresh(&record, 1).await;
        assert_eq!(first.consecutive_failures, 1);
        let since = first
            .failing_since
            .expect("failing since the first failure");
        outcomes_tx.send(false).expect("the loop listens");
        let second = after_refresh(&record, 2).await;
        assert_eq!(
            (second.consecutive_failures, second.failing_since),
            (2, Some(since))
        );
        outcomes_tx.send(true).expect("the loop listens");
        let ok = after_refresh(&record, 3).await;
        assert_eq!((ok.consecutive_failures, ok.failing_since), (0, None));
        assert!(ok.last_error.is_none());
        outcomes_tx.send(false).expect("the loop listens");
        let again = after_refresh(&record, 4).await;
        assert_eq!(again.consecutive_failures, 1);
        assert!(again.failing_since.is_some_and(|t| t > since));
    }

    #[tokio::test(start_paused = true)]
    async fn listings_carry_the_init_images_and_a_learnt_digest_is_published_at_once() {
        use rsp_model::init_image::InitImage;
        let (config, _) = rsp_config::Config::from_yaml(
            "images:\n  source:\n    type: docker\n    repository: lab\n",
        )
        .expect("config");
        let (outcomes_tx, outcomes) = mpsc::unbounded_channel();
        let source = Arc::new(Scripted {
            outcomes: tokio::sync::Mutex::new(outcomes),
        });
        let (listings, mut published) = watch::channel(Arc::new(Listing::empty("r", "l")));
        let mut image = InitImage::new("ghcr.io/lsst-sqre/nublado", "10.0.0");
        let (init_tx, init) = watch::channel(InitImages::from([image.prepull_image()]));
        let (_stop_tx, stop) = watch::channel(false);
        tokio::spawn(run(
            source,
            config.images,
            listings,
            SharedRecord::default(),
            init,
            stop,
        ));
        // A digest learnt before the first refresh waits for it: there is nothing to publish.
        image.digest = Some("sha256:0a".into());
        init_tx.send_replace(InitImages::from([image.prepull_image()]));
        outcomes_tx.send(true).expect("the loop listens");
        published.changed().await.expect("published");
        let first = Arc::clone(&published.borrow_and_update());
        assert_eq!(first.init_images[0].digest, "sha256:0a");
        // Learnt between refreshes (the next is 5 minutes away, and nothing answers it): the
        // same listing again, at once, with the new images.
        image.digest = Some("sha256:0b".into());
        init_tx.send_replace(InitImages::from([image.prepull_image()]));
        tokio::time::timeout(Duration::from_secs(1), published.changed())
            .await
            .expect("published without waiting for a refresh")
            .expect("open");
        let second = Arc::clone(&published.borrow_and_update());
        assert_eq!(second.init_images[0].digest, "sha256:0b");
        assert_eq!(second.catalog.registry(), first.catalog.registry());
    }

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let backoff = failure_backoff(Duration::from_secs(300));
        assert_eq!(backoff.step(1), Duration::from_secs(5));
        assert_eq!(backoff.step(3), Duration::from_secs(20));
        assert_eq!(backoff.step(30), Duration::from_secs(300));
        let short = failure_backoff(Duration::from_secs(2));
        assert_eq!(short.step(1), Duration::from_secs(2));
    }
}
