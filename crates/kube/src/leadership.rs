//! Whether, and until when, this replica may act as the leader: what the prepuller checks
//! before every write.
//!
//! Leadership is a deadline, not a flag. The election publishes "leading until T", where T is
//! the renew deadline of the last renewal the API server confirmed (measured from before the
//! renewal was sent, so T comes before any other replica may take the lease over). Whoever
//! holds a [`Leadership`] reads the clock against T itself: the moment T passes without a
//! newer confirmed renewal, [`Leadership::is_leading`] is false and [`Leadership::run`]
//! stops polling the call it guards, whatever the election task or an in-flight call is doing.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;

use tokio::sync::watch;
use tokio::time::Instant;

/// What the election last published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tenure {
    /// Not leading.
    Follower,
    /// Leading until this instant, unless a renewal moves it.
    Until(Instant),
    /// Leading for as long as the process lives: leader election is off.
    Always,
}

impl Tenure {
    fn is_leading_at(self, now: Instant) -> bool {
        match self {
            Tenure::Follower => false,
            Tenure::Until(deadline) => now < deadline,
            Tenure::Always => true,
        }
    }
}

/// A view of this replica's tenure; clones share it.
#[derive(Debug, Clone)]
pub struct Leadership {
    tenure: watch::Receiver<Tenure>,
}

impl Leadership {
    /// Follows what an election (or a test) publishes.
    pub fn new(tenure: watch::Receiver<Tenure>) -> Leadership {
        Leadership { tenure }
    }

    /// Leading for good (a single replica without election).
    pub fn always() -> Leadership {
        Leadership::new(watch::channel(Tenure::Always).1)
    }

    /// What the election last published, to forward it to a view that outlives the election.
    pub fn tenure(&self) -> Tenure {
        *self.tenure.borrow()
    }

    /// Waits for the election to publish a new tenure, and returns it; `Err` once it never
    /// will (the election is gone).
    pub async fn changed(&mut self) -> Result<Tenure, watch::error::RecvError> {
        self.tenure.changed().await?;
        Ok(*self.tenure.borrow_and_update())
    }

    /// Whether this replica may write now.
    pub fn is_leading(&self) -> bool {
        self.tenure.borrow().is_leading_at(Instant::now())
    }

    /// Resolves once this replica is not leading (at once if it is not).
    pub async fn lost(&mut self) {
        loop {
            let tenure = *self.tenure.borrow_and_update();
            match tenure {
                Tenure::Follower => return,
                Tenure::Until(deadline) => {
                    if Instant::now() >= deadline {
                        return;
                    }
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline) => {}
                        changed = self.tenure.changed() => if changed.is_err() {
                            // Nobody renews any more: the tenure ends at its deadline.
                            tokio::time::sleep_until(deadline).await;
                            return;
                        },
                    }
                }
                Tenure::Always => {
                    if self.tenure.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                }
            }
        }
    }

    /// Resolves once this replica leads; `false` when it never can (the election is gone).
    pub async fn gained(&mut self) -> bool {
        loop {
            if self.is_leading() {
                return true;
            }
            if self.tenure.changed().await.is_err() {
                return self.is_leading();
            }
        }
    }

    /// Runs `call` while this replica leads: `None`, without polling `call` again, as soon as
    /// it does not. The tenure is checked against the clock before every poll, so a request
    /// is never started (nor a multi-step call continued) after the deadline, even by a
    /// moment the timer has not noticed yet.
    pub async fn run<F: Future>(&self, call: F) -> Option<F::Output> {
        let mut watcher = self.clone();
        let mut lost = pin!(watcher.lost());
        let mut call = pin!(call);
        std::future::poll_fn(|cx| {
            if !self.is_leading() || lost.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            call.as_mut().poll(cx).map(Some)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_tenure_ends_at_its_deadline_without_anyone_saying_so() {
        let (tx, rx) = watch::channel(Tenure::Until(Instant::now() + Duration::from_millis(100)));
        let mut leadership = Leadership::new(rx);
        assert!(leadership.is_leading());
        let started = Instant::now();
        leadership.lost().await;
        assert!(started.elapsed() >= Duration::from_millis(90));
        assert!(!leadership.is_leading());
        // A renewal makes it lead again.
        tx.send_replace(Tenure::Until(Instant::now() + Duration::from_secs(60)));
        assert!(leadership.gained().await);
    }

    /// On paused time, so that the clock cannot move between the check before a poll and the
    /// call's own reading of it: on real time a loaded machine can preempt the test between the
    /// two, and the call then sees a deadline the check had not (a flake on CI, not a fault of
    /// `run`). The timers of the call and of the deadline still fire together at 50 ms.
    #[tokio::test(start_paused = true)]
    async fn calls_stop_being_polled_when_the_tenure_ends() {
        let deadline = Instant::now() + Duration::from_millis(50);
        let (_tx, rx) = watch::channel(Tenure::Until(deadline));
        let leadership = Leadership::new(rx);
        let polled_after = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = polled_after.clone();
        let call = async move {
            loop {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if Instant::now() >= deadline {
                    flag.store(true, std::sync::atomic::Ordering::SeqCst);
                }
            }
        };
        assert_eq!(leadership.run(call).await, None);
        assert!(!polled_after.load(std::sync::atomic::Ordering::SeqCst));
        assert_eq!(Leadership::always().run(async { 7 }).await, Some(7));
        let (_tx, follower) = watch::channel(Tenure::Follower);
        assert_eq!(Leadership::new(follower).run(async { 7 }).await, None);
    }
}
