//! Leader election with a `coordination.k8s.io/v1` Lease, so that any number of replicas can
//! serve while only one prepulls.
//!
//! The algorithm is client-go's, reduced to what one lease needs: read the Lease; create it
//! when absent; the holder renews `renewTime` every `renew_interval` with a replace guarded by
//! `resourceVersion` (a 409 means someone else won); a non-holder takes over once the lease
//! has expired.
//!
//! Safety rests on two durations, as in client-go: the lease duration D, after which others
//! may take an unrenewed lease, and the renew deadline R < D. Every renewal (and acquisition)
//! the API server confirms makes this replica leader until R after the moment the write was
//! *sent*; that deadline is published as a [`Tenure`] and the prepuller checks it before each
//! write ([`Leadership`]). Every Lease call is bounded by the time left before the deadline,
//! and nothing waits for a call to return before the deadline takes effect. Another replica
//! judges expiry by the record's own `leaseDurationSeconds`, counted from when it first saw
//! the record unchanged (never earlier than the write that renewed it) or from `renewTime` on
//! its clock, whichever comes first. So the old holder stops writing at least D − R before a
//! new one can start, whatever the network does to its Lease calls; only a clock running more
//! than D − R ahead on the new holder's side could shorten that gap. On shutdown the holder
//! releases the lease so a successor starts at once.

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
use crate::leadership::{Leadership, Tenure};

/// A running election. Dropping it stops campaigning without releasing the lease.
pub struct LeaderElection {
    tenure: watch::Receiver<Tenure>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl LeaderElection {
    /// Starts campaigning for the lease.
    pub fn start(client: Client, config: LeaderConfig) -> LeaderElection {
        let (tenure_tx, tenure) = watch::channel(Tenure::Follower);
        let (stop, stop_rx) = watch::channel(false);
        let campaign = Campaign {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
        };
        let task = tokio::spawn(campaign.run(tenure_tx, stop_rx));
        LeaderElection {
            tenure,
            stop,
            task: Some(task),
        }
    }

    /// This replica's leadership, for the prepuller and the status page.
    pub fn leadership(&self) -> Leadership {
        Leadership::new(self.tenure.clone())
    }

    /// Whether this replica may act as leader now.
    pub fn is_leader(&self) -> bool {
        self.leadership().is_leading()
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
}

impl Campaign {
    async fn run(mut self, tenure: watch::Sender<Tenure>, mut stop: watch::Receiver<bool>) {
        let renew_deadline = self.config.renew_deadline();
        loop {
            let current = *tenure.borrow();
            // Bounded by the time left to lead (a follower by one renew deadline): a call still
            // running then could only confirm a renewal too late to count.
            let bound = match current {
                Tenure::Until(deadline) => deadline,
                _ => Instant::now() + renew_deadline,
            };
            let next = match tokio::time::timeout_at(bound, self.attempt()).await {
                Ok(Ok(Some(sent))) => Tenure::Until(sent + renew_deadline),
                Ok(Ok(None)) => Tenure::Follower,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "Leader election attempt failed");
                    current
                }
                Err(_) => {
                    tracing::warn!(
                        lease = %self.config.lease_name,
                        "Leader election attempt timed out at the renew deadline"
                    );
                    current
                }
            };
            // An expired tenure is a follower's: nobody may act on it any more.
            let next = match next {
                Tenure::Until(deadline) if Instant::now() >= deadline => Tenure::Follower,
                other => other,
            };
            let was_leading = matches!(current, Tenure::Until(d) if Instant::now() < d);
            if matches!(next, Tenure::Until(_)) != was_leading {
                tracing::info!(
                    identity = %self.config.identity,
                    leader = matches!(next, Tenure::Until(_)),
                    "Leadership changed"
                );
            }
            tenure.send_replace(next);
            tokio::select! {
                () = tokio::time::sleep(self.config.renew_interval) => {}
                _ = stop.changed() => {
                    let leading = matches!(*tenure.borrow(), Tenure::Until(d) if Instant::now() < d);
                    tenure.send_replace(Tenure::Follower);
                    if leading {
                        if let Err(error) = self.release().await {
                            tracing::warn!(%error, "Could not release the leader lease");
                        }
                    }
                    return;
                }
            }
        }
    }

    /// One round: `Some(sent)` when we hold the lease afterwards, `sent` being when the
    /// confirmed write was sent (the renew deadline counts from there).
    async fn attempt(&mut self) -> Result<Option<Instant>, KubeError> {
        let name = self.config.lease_name.clone();
        let current = self.call(self.api.get_opt(&name)).await?;
        let sent = Instant::now();
        let now = Timestamp::now();
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name),
                    ..ObjectMeta::default()
                },
                spec: Some(self.held_spec(now, 0)),
            };
            return Ok(self.write(None, &lease).await?.then_some(sent));
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        if holder.as_deref() == Some(self.config.identity.as_str()) {
            let mut renewed = spec;
            renewed.renew_time = Some(MicroTime(now));
            renewed.lease_duration_seconds = Some(self.duration_seconds());
            lease.spec = Some(renewed);
            return Ok(self.write(Some(&name), &lease).await?.then_some(sent));
        }
        if !self.expired(&spec, holder.clone(), now) {
            return Ok(None);
        }
        tracing::info!(previous = ?holder, identity = %self.config.identity, "Taking over the leader lease");
        let transitions = spec.lease_transitions.unwrap_or(0).saturating_add(1);
        lease.spec = Some(self.held_spec(now, transitions));
        Ok(self.write(Some(&name), &lease).await?.then_some(sent))
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
        // The record's duration: the holder's promise, whatever this replica's setting is.
        let duration = spec
            .lease_duration_seconds
            .and_then(|seconds| u64::try_from(seconds).ok())
            .filter(|seconds| *seconds > 0)
            .map_or(self.config.lease_duration, std::time::Duration::from_secs);
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
            None => self.call(self.api.create(&params, lease)).await,
            Some(name) => self.call(self.api.replace(name, &params, lease)).await,
        };
        match result {
            Ok(_) => Ok(true),
            Err(KubeError::Lease { status, .. }) if status == "409" => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// Gives the lease up so that another replica takes over at once (bounded by one renew
    /// deadline: a release that does not happen only makes the successor wait for expiry).
    async fn release(&self) -> Result<(), KubeError> {
        let name = &self.config.lease_name;
        let release = async {
            let Some(lease) = self.call(self.api.get_opt(name)).await? else {
                return Ok(());
            };
            self.give_up(lease).await
        };
        tokio::time::timeout(self.config.renew_deadline(), release)
            .await
            .unwrap_or_else(|_| {
                Err(self.lease_error("none".to_owned(), "release timed out".to_owned()))
            })
    }

    /// Clears the holder of a lease we hold (a lease someone else holds is left alone).
    async fn give_up(&self, mut lease: Lease) -> Result<(), KubeError> {
        let name = &self.config.lease_name;
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

    fn lease_error(&self, status: String, message: String) -> KubeError {
        KubeError::Lease {
            namespace: self.config.namespace.clone(),
            name: self.config.lease_name.clone(),
            status,
            message,
        }
    }

    /// One Lease call, naming the lease in errors (the caller bounds its time).
    async fn call<T>(
        &self,
        call: impl std::future::Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, KubeError> {
        match call.await {
            Ok(value) => Ok(value),
            Err(error) if is_conflict(&error) => {
                Err(self.lease_error("409".to_owned(), error.to_string()))
            }
            Err(error) => {
                let (status, message) = status_and_message(&error);
                Err(self.lease_error(status, message))
            }
        }
    }
}
