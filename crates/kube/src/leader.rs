//! Leader election with a `coordination.k8s.io/v1` Lease, so that any number of replicas can
//! serve while only one prepulls.
//!
//! The algorithm is client-go's, reduced to what one lease needs: read the Lease; create it
//! when absent; the holder renews `renewTime` every `renew_interval` with a replace guarded by
//! `resourceVersion` (a 409 means someone else won); a non-holder takes over once the lease
//! has expired. Expiry is judged two ways and the earlier wins: by the holder's `renewTime`
//! against our clock (so a dead leader is replaced about `lease_duration` after its last
//! renewal), and by how long the record has been seen unchanged (so a skewed clock alone can
//! never keep a dead lease alive). A clock far ahead could steal a live lease; the old holder
//! then fails its next guarded renewal and steps down, so two leaders overlap by at most one
//! renew interval, which the prepuller tolerates (it adopts or deletes foreign pods). A holder
//! that cannot renew for two thirds of the lease duration steps down before anyone can take
//! over. On shutdown the holder releases the lease so a successor starts at once.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::PostParams;
use kube::{Api, Client};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::config::LeaderConfig;
use crate::error::{is_conflict, status_and_message, KubeError};
use crate::REQUEST_TIMEOUT;

/// A running election. Dropping it stops campaigning without releasing the lease.
pub struct LeaderElection {
    leader: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl LeaderElection {
    /// Starts campaigning for the lease.
    pub fn start(client: Client, config: LeaderConfig) -> LeaderElection {
        let (leader_tx, leader) = watch::channel(false);
        let (stop, stop_rx) = watch::channel(false);
        let campaign = Campaign {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            last_renewal: None,
        };
        let task = tokio::spawn(campaign.run(leader_tx, stop_rx));
        LeaderElection {
            leader,
            stop,
            task: Some(task),
        }
    }

    /// `true` while this replica holds the lease.
    pub fn subscribe(&self) -> watch::Receiver<bool> {
        self.leader.clone()
    }

    pub fn is_leader(&self) -> bool {
        *self.leader.borrow()
    }

    /// Stops campaigning and releases the lease if held.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::error!(%error, "Leader election task ended abnormally");
            }
        }
    }
}

impl Drop for LeaderElection {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The lease record as last seen, and when it was first seen so.
struct Observed {
    holder: Option<String>,
    renew_time: Option<Timestamp>,
    since: Instant,
}

struct Campaign {
    api: Api<Lease>,
    config: LeaderConfig,
    observed: Option<Observed>,
    /// When we last renewed successfully while holding the lease.
    last_renewal: Option<Instant>,
}

impl Campaign {
    async fn run(mut self, leader: watch::Sender<bool>, mut stop: watch::Receiver<bool>) {
        loop {
            let held = match self.attempt().await {
                Ok(held) => {
                    if held {
                        self.last_renewal = Some(Instant::now());
                    }
                    held
                }
                Err(error) => {
                    tracing::warn!(%error, "Leader election attempt failed");
                    // Keep leading only while the lease we hold cannot have expired for others.
                    let deadline = self.config.lease_duration * 2 / 3;
                    *leader.borrow() && self.last_renewal.is_some_and(|at| at.elapsed() < deadline)
                }
            };
            if held != *leader.borrow() {
                tracing::info!(identity = %self.config.identity, leader = held, "Leadership changed");
                leader.send_replace(held);
            }
            tokio::select! {
                _ = tokio::time::sleep(self.config.renew_interval) => {}
                _ = stop.changed() => {
                    if *leader.borrow() {
                        leader.send_replace(false);
                        if let Err(error) = self.release().await {
                            tracing::warn!(%error, "Could not release the leader lease");
                        }
                    }
                    return;
                }
            }
        }
    }

    /// One round: returns whether we hold the lease afterwards.
    async fn attempt(&mut self) -> Result<bool, KubeError> {
        let name = self.config.lease_name.clone();
        let current = bounded(&self.config, self.api.get_opt(&name)).await?;
        let now = Timestamp::now();
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name),
                    ..ObjectMeta::default()
                },
                spec: Some(self.held_spec(now, 0)),
            };
            return self.write(None, &lease).await;
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() == Some(self.config.identity.as_str()) {
            let mut renewed = spec;
            renewed.renew_time = Some(MicroTime(now));
            renewed.lease_duration_seconds = Some(self.duration_seconds());
            lease.spec = Some(renewed);
            return self.write(Some(&name), &lease).await;
        }
        if !self.expired(&spec, holder.clone(), now) {
            return Ok(false);
        }
        tracing::info!(previous = ?holder, identity = %self.config.identity, "Taking over the leader lease");
        let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
        lease.spec = Some(self.held_spec(now, transitions));
        self.write(Some(&name), &lease).await
    }

    fn held_spec(&self, now: Timestamp, transitions: i32) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(self.config.identity.clone()),
            lease_duration_seconds: Some(self.duration_seconds()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_transitions: Some(transitions),
            ..LeaseSpec::default()
        }
    }

    fn duration_seconds(&self) -> i32 {
        i32::try_from(self.config.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX)
    }

    /// Whether the lease held by `holder` may be taken (see the module comment).
    fn expired(&mut self, spec: &LeaseSpec, holder: Option<String>, now: Timestamp) -> bool {
        let Some(holder) = holder else {
            return true;
        };
        let renew_time = spec.renew_time.as_ref().map(|time| time.0);
        let changed = self.observed.as_ref().is_none_or(|seen| {
            seen.holder.as_deref() != Some(&holder) || seen.renew_time != renew_time
        });
        if changed {
            self.observed = Some(Observed {
                holder: Some(holder),
                renew_time,
                since: Instant::now(),
            });
        }
        // Our own setting rather than the record's whole seconds: replicas share one
        // configuration, and tests use sub-second leases.
        let duration = self.config.lease_duration;
        let stale_by_clock = renew_time.is_none_or(|renewed| {
            let age = now.duration_since(renewed);
            age >= SignedDuration::try_from(duration).unwrap_or(SignedDuration::MAX)
        });
        let stale_by_observation = self
            .observed
            .as_ref()
            .is_some_and(|seen| seen.since.elapsed() >= duration);
        stale_by_clock || stale_by_observation
    }

    /// Creates (`name` is `None`) or replaces the lease; a 409 means another replica won.
    async fn write(&self, name: Option<&str>, lease: &Lease) -> Result<bool, KubeError> {
        let params = PostParams::default();
        let result = match name {
            None => bounded(&self.config, self.api.create(&params, lease)).await,
            Some(name) => bounded(&self.config, self.api.replace(name, &params, lease)).await,
        };
        match result {
            Ok(_) => Ok(true),
            Err(KubeError::Lease { status, .. }) if status == "409" => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the lease up so that another replica takes over at once.
    async fn release(&self) -> Result<(), KubeError> {
        let name = &self.config.lease_name;
        let Some(mut lease) = bounded(&self.config, self.api.get_opt(name)).await? else {
            return Ok(());
        };
        let Some(spec) = lease.spec.as_mut() else {
            return Ok(());
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(());
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        self.write(Some(name), &lease).await.map(|_| ())
    }
}

/// Runs one Lease call under the request timeout, naming the lease in errors.
async fn bounded<T>(
    config: &LeaderConfig,
    call: impl std::future::Future<Output = Result<T, kube::Error>>,
) -> Result<T, KubeError> {
    let lease_error = |status: String, message: String| KubeError::Lease {
        namespace: config.namespace.clone(),
        name: config.lease_name.clone(),
        status,
        message,
    };
    match tokio::time::timeout(REQUEST_TIMEOUT, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) if is_conflict(&error) => {
            Err(lease_error("409".to_owned(), error.to_string()))
        }
        Ok(Err(error)) => {
            let (status, message) = status_and_message(&error);
            Err(lease_error(status, message))
        }
        Err(_) => Err(lease_error(
            "none".to_owned(),
            "request timed out".to_owned(),
        )),
    }
}
