//! Supervision of the service's long-running tasks.
//!
//! The refresh loop, the snapshot task, the node watcher and the prepuller each run for as long
//! as the service does. One that dies (a panic, or an end nobody asked for) must not leave the
//! service looking healthy with its data frozen: the supervisor notices, records why, runs the
//! task's clean-up (the prepuller releases its Lease, so that a healthy replica prepulls) and
//! starts it again, at once the first time and then after a growing wait while it keeps
//! dying. While a task the API depends on is down, `/readyz` fails; every death stays on the
//! status pages (a notice, see `crate::status`) and in the metrics (restarts per task, whether
//! each runs).
//!
//! No input is known to kill a task; [`Faults`] lets tests kill or panic one from outside.

use crate::backend::{NotReady, TaskMetrics, TaskReport};
use crate::state::lock;
use rsp_retry::Backoff;
use std::any::Any;
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The supervised tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Task {
    /// Lists the registry every `refreshInterval`.
    Refresh,
    /// Rebuilds the served snapshot the API answers from (`state::snapshot_task`; named
    /// `world` in metrics and logs, as it always was).
    World,
    /// Watches the selected nodes.
    NodeWatcher,
    /// Creates and watches prepull pods (with the pod watcher inside it) and holds the Lease.
    Prepuller,
}

impl Task {
    pub const ALL: [Task; 4] = [
        Task::Refresh,
        Task::World,
        Task::NodeWatcher,
        Task::Prepuller,
    ];

    /// The `task` label of its metrics.
    pub fn name(self) -> &'static str {
        match self {
            Task::Refresh => "refresh",
            Task::World => "world",
            Task::NodeWatcher => "node_watcher",
            Task::Prepuller => "prepuller",
        }
    }

    /// What it is, for people.
    pub fn title(self) -> &'static str {
        match self {
            Task::Refresh => "The registry refresh loop",
            Task::World => "The task that rebuilds the served state",
            Task::NodeWatcher => "The node watcher",
            Task::Prepuller => "The prepuller",
        }
    }

    /// Whether the API's answers go stale without it, so that `/readyz` fails while it is
    /// down. Without the prepuller the API still answers rightly; another replica prepulls.
    fn serves_the_api(self) -> bool {
        !matches!(self, Task::Prepuller)
    }
}

/// The first restart is immediate; later ones wait from one second, doubling up to a minute
/// while the task keeps dying.
const RESTART_BACKOFF: Backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
/// A task that ran this long before dying counts as having been healthy: its next restart is
/// immediate again.
const HEALTHY_RUN: Duration = Duration::from_secs(300);

/// How one task has fared.
#[derive(Debug, Clone, Default)]
struct Record {
    running: bool,
    restarts: u64,
    /// Why and when it last died.
    last_death: Option<(String, SystemTime)>,
}

/// What the supervisor knows about every task, shared with readiness, status and metrics.
#[derive(Clone, Default)]
pub struct Health {
    records: Arc<Mutex<BTreeMap<Task, Record>>>,
}

impl Health {
    fn update(&self, task: Task, change: impl FnOnce(&mut Record)) {
        change(lock(&self.records).entry(task).or_default());
    }

    fn records(&self) -> BTreeMap<Task, Record> {
        lock(&self.records).clone()
    }

    /// `Err` while a task the API depends on is down.
    pub fn ready(&self) -> Result<(), NotReady> {
        match self
            .records()
            .into_iter()
            .find(|(task, record)| task.serves_the_api() && !record.running)
        {
            None => Ok(()),
            Some((task, record)) => Err(NotReady::TaskDown {
                task: task.title(),
                reason: record
                    .last_death
                    .map_or_else(|| "not started".to_owned(), |(reason, _)| reason),
            }),
        }
    }

    /// Every task that was started, for the status pages' notices.
    pub fn tasks(&self) -> Vec<TaskReport> {
        self.records()
            .into_iter()
            .map(|(task, record)| TaskReport {
                title: task.title(),
                running: record.running,
                serves_the_api: task.serves_the_api(),
                restarts: record.restarts,
                last_death: record.last_death,
            })
            .collect()
    }

    /// Restarts and whether it runs, per supervised task.
    pub fn metrics(&self) -> Vec<TaskMetrics> {
        self.records()
            .into_iter()
            .map(|(task, record)| TaskMetrics {
                task: task.name(),
                restarts: record.restarts,
                up: record.running,
            })
            .collect()
    }
}

/// What a test can do to a running task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The task panics where it runs.
    Panic,
    /// The task returns as if its work were done.
    End,
}

/// Test-only fault hooks: a handle through which a test kills or panics a supervised task.
/// The service builds it with [`Faults::none`], which injects nothing and costs nothing.
#[derive(Clone, Default)]
pub struct Faults {
    hooks: Option<Arc<BTreeMap<Task, watch::Sender<Option<Fault>>>>>,
}

impl Faults {
    /// No hooks (what `serve` uses).
    pub fn none() -> Faults {
        Faults::default()
    }

    /// Hooks for every task, to be triggered with [`Faults::inject`].
    pub fn for_tests() -> Faults {
        let hooks = Task::ALL
            .into_iter()
            .map(|task| (task, watch::channel(None).0))
            .collect();
        Faults {
            hooks: Some(Arc::new(hooks)),
        }
    }

    /// Makes the running incarnation of `task` fail as `fault` says.
    pub fn inject(&self, task: Task, fault: Fault) {
        if let Some(hook) = self.hooks.as_ref().and_then(|hooks| hooks.get(&task)) {
            hook.send_replace(Some(fault));
        }
    }

    /// Runs `work` until it ends or a fault is injected into `task`.
    async fn around(&self, task: Task, work: impl Future<Output = ()>) {
        let Some(hook) = self.hooks.as_ref().and_then(|hooks| hooks.get(&task)) else {
            return work.await;
        };
        let mut faults = hook.subscribe();
        faults.mark_unchanged();
        tokio::select! {
            () = work => {}
            Ok(()) = faults.changed() => {
                let fault = *faults.borrow_and_update();
                if fault == Some(Fault::Panic) {
                    panic!("fault injected into the {} task", task.name());
                }
            }
        }
    }
}

/// Starts and restarts the long-running tasks until the service stops.
pub struct Supervisor {
    health: Health,
    stop: watch::Receiver<bool>,
    faults: Faults,
    loops: Vec<JoinHandle<()>>,
}

impl Supervisor {
    /// A supervisor whose tasks end when `stop` turns true.
    pub fn new(stop: watch::Receiver<bool>, faults: Faults) -> Supervisor {
        Supervisor {
            health: Health::default(),
            stop,
            faults,
            loops: Vec::new(),
        }
    }

    pub fn health(&self) -> Health {
        self.health.clone()
    }

    /// Runs `start()` as `task`, again whenever it dies. The future `start` makes must end
    /// soon after `stop` turns true (the supervisor waits for it, so that it can clean up).
    pub fn spawn<W>(&mut self, task: Task, start: impl FnMut() -> W + Send + 'static)
    where
        W: Future<Output = ()> + Send + 'static,
    {
        self.spawn_with_cleanup(task, start, || async {});
    }

    /// As [`Supervisor::spawn`], with `cleanup` run after every death, before the restart.
    pub fn spawn_with_cleanup<W, C>(
        &mut self,
        task: Task,
        start: impl FnMut() -> W + Send + 'static,
        cleanup: impl FnMut() -> C + Send + 'static,
    ) where
        W: Future<Output = ()> + Send + 'static,
        C: Future<Output = ()> + Send + 'static,
    {
        self.health.update(task, |record| record.running = true);
        let supervision = Supervision {
            task,
            health: self.health.clone(),
            stop: self.stop.clone(),
            faults: self.faults.clone(),
        };
        self.loops
            .push(tokio::spawn(supervision.run(start, cleanup)));
    }

    /// Waits for every task to end (call after `stop` turned true).
    pub async fn join(self) {
        for supervision in self.loops {
            if let Err(error) = supervision.await {
                tracing::error!(%error, "a supervision loop ended abnormally");
            }
        }
    }
}

struct Supervision {
    task: Task,
    health: Health,
    stop: watch::Receiver<bool>,
    faults: Faults,
}

impl Supervision {
    async fn run<W, C>(mut self, mut start: impl FnMut() -> W, mut cleanup: impl FnMut() -> C)
    where
        W: Future<Output = ()> + Send + 'static,
        C: Future<Output = ()>,
    {
        let task = self.task;
        let mut deaths_in_a_row: u32 = 0;
        loop {
            let started = Instant::now();
            let faults = self.faults.clone();
            let work = start();
            let outcome = tokio::spawn(async move { faults.around(task, work).await }).await;
            if *self.stop.borrow() {
                self.health.update(task, |record| record.running = false);
                return;
            }
            let reason = match outcome {
                Ok(()) => "it ended without being asked to".to_owned(),
                Err(error) if error.is_panic() => {
                    format!("panicked: {}", panic_message(error.into_panic().as_ref()))
                }
                Err(error) => format!("it was cancelled: {error}"),
            };
            tracing::error!(task = task.name(), %reason, "A long-running task died; restarting it");
            self.health.update(task, |record| {
                record.running = false;
                record.last_death = Some((reason, SystemTime::now()));
            });
            cleanup().await;
            deaths_in_a_row = if started.elapsed() >= HEALTHY_RUN {
                1
            } else {
                deaths_in_a_row.saturating_add(1)
            };
            let wait = match deaths_in_a_row {
                0 | 1 => Duration::ZERO,
                n => RESTART_BACKOFF.delay(n - 1),
            };
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                _ = self.stop.wait_for(|stop| *stop) => return,
            }
            tracing::info!(task = task.name(), "Restarting a long-running task");
            self.health.update(task, |record| {
                record.running = true;
                record.restarts += 1;
            });
        }
    }
}

/// The text of a panic payload (`panic!` with a message or a format string).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message")
        .to_owned()
}

/// Resumes a panic of a task a supervised future waited for, so that the supervisor records
/// its message; any other end of that task is returned.
pub fn propagate_panic(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(error) = outcome {
        if error.is_panic() {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

#[cfg(test)]
mod tests;
