//! The registry refresh loop and its record of how refreshes went.
//!
//! One refresh lists the registry and publishes a new [`Listing`]; a failed one publishes
//! nothing, so the last good listing keeps being served, and records the error with its time
//! for the status page (decisions §5 fix 10). Refreshes follow `refreshInterval` with ±10 %
//! jitter (replicas do not hit the registry in step); after a failure the next try comes
//! sooner, backing off from 5 s up to the interval, so a service that started while the
//! registry was down becomes ready soon after it comes back.

use crate::metrics::{Histogram, REFRESH_BUCKETS};
use rsp_config::ImagesConfig;
use rsp_registry::source::{ImageSource, Listing};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::watch;

/// What the status page and metrics say about refreshes.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub last_success: Option<SystemTime>,
    pub last_error: Option<(String, SystemTime)>,
    pub success_total: u64,
    pub failure_total: u64,
    pub durations: Histogram,
}

impl Default for RefreshRecord {
    fn default() -> Self {
        RefreshRecord {
            last_success: None,
            last_error: None,
            success_total: 0,
            failure_total: 0,
            durations: Histogram::new(REFRESH_BUCKETS),
        }
    }
}

/// Shared between the loop (writer) and the HTTP layer (readers).
pub type SharedRecord = Arc<Mutex<RefreshRecord>>;

/// Runs refreshes until `stop` turns true. Each success is published on `listings`.
pub async fn run<S: ImageSource>(
    source: Arc<S>,
    options: ImagesConfig,
    listings: watch::Sender<Arc<Listing>>,
    record: SharedRecord,
    mut stop: watch::Receiver<bool>,
) {
    let mut failures: u32 = 0;
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
                    r.success_total += 1;
                    r.durations.observe(elapsed.as_secs_f64());
                });
                listings.send_replace(Arc::new(listing));
                jittered(options.refresh_interval.saturating_sub(elapsed))
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
                    r.last_error = Some((error.to_string(), SystemTime::now()));
                    r.failure_total += 1;
                    r.durations.observe(elapsed.as_secs_f64());
                });
                retry_delay(failures, options.refresh_interval)
            }
        };
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
    }
}

fn update(record: &SharedRecord, f: impl FnOnce(&mut RefreshRecord)) {
    match record.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

/// `delay` ± 10 %.
fn jittered(delay: Duration) -> Duration {
    let factor = 0.9 + rand::random::<f64>() * 0.2;
    delay.mul_f64(factor)
}

/// 5 s, 10 s, 20 s, … after consecutive failures, never more than the refresh interval.
fn retry_delay(failures: u32, interval: Duration) -> Duration {
    let exponent = failures.saturating_sub(1).min(16);
    let backoff = Duration::from_secs(5).saturating_mul(1 << exponent);
    jittered(backoff.min(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_up_to_the_interval() {
        let interval = Duration::from_secs(300);
        let first = retry_delay(1, interval);
        assert!(first >= Duration::from_millis(4500) && first <= Duration::from_millis(5500));
        let third = retry_delay(3, interval);
        assert!(third >= Duration::from_secs(18) && third <= Duration::from_secs(22));
        assert!(retry_delay(30, interval) <= Duration::from_secs(330));
    }
}
