use super::*;
use std::sync::atomic::{AtomicU32, Ordering};

/// A task that counts its starts and then runs until stopped or faulted.
fn counted(
    starts: &Arc<AtomicU32>,
    stop: &watch::Receiver<bool>,
) -> impl FnMut() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
    let (starts, stop) = (Arc::clone(starts), stop.clone());
    move || {
        starts.fetch_add(1, Ordering::SeqCst);
        let mut stop = stop.clone();
        Box::pin(async move {
            let _ = stop.wait_for(|stop| *stop).await;
        })
    }
}

async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if condition() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test(start_paused = true)]
async fn a_panicking_task_is_restarted_and_its_death_reported() {
    let (stop_tx, stop) = watch::channel(false);
    let faults = Faults::for_tests();
    let mut supervisor = Supervisor::new(stop.clone(), faults.clone());
    let health = supervisor.health();
    let starts = Arc::new(AtomicU32::new(0));
    supervisor.spawn(Task::World, counted(&starts, &stop));
    until("started", || starts.load(Ordering::SeqCst) == 1).await;
    assert!(health.ready().is_ok());
    assert_eq!(health.tasks()[0].last_death, None);

    faults.inject(Task::World, Fault::Panic);
    until("restarted", || starts.load(Ordering::SeqCst) == 2).await;
    assert!(health.ready().is_ok());
    let tasks = health.tasks();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert!(tasks[0].running && tasks[0].serves_the_api, "{tasks:?}");
    let (reason, _) = tasks[0].last_death.as_ref().expect("the death is recorded");
    assert!(
        reason.contains("fault injected into the world task"),
        "{tasks:?}"
    );
    assert_eq!(
        health.metrics(),
        vec![TaskMetrics {
            task: "world",
            restarts: 1,
            up: true
        }]
    );

    stop_tx.send_replace(true);
    supervisor.join().await;
    assert_eq!(starts.load(Ordering::SeqCst), 2, "no restart after stop");
}

#[tokio::test(start_paused = true)]
async fn a_task_that_keeps_dying_waits_longer_and_fails_readiness_meanwhile() {
    let (stop_tx, stop) = watch::channel(false);
    let mut supervisor = Supervisor::new(stop.clone(), Faults::none());
    let health = supervisor.health();
    let starts = Arc::new(AtomicU32::new(0));
    let cleanups = Arc::new(AtomicU32::new(0));
    let (counter, cleaned) = (Arc::clone(&starts), Arc::clone(&cleanups));
    supervisor.spawn_with_cleanup(
        Task::Refresh,
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            async {}
        },
        move || {
            cleaned.fetch_add(1, Ordering::SeqCst);
            async {}
        },
    );
    // Dies at once, restarted at once, dies again: now it waits about a second.
    until("two starts", || starts.load(Ordering::SeqCst) >= 2).await;
    let error = health.ready().unwrap_err();
    assert!(
        error.to_string().contains("ended without being asked to"),
        "{error}"
    );
    assert!(!health.tasks()[0].running);
    let at_two = Instant::now();
    until("three starts", || starts.load(Ordering::SeqCst) >= 3).await;
    let waited = at_two.elapsed();
    assert!(
        waited >= Duration::from_millis(500) && waited <= Duration::from_secs(2),
        "{waited:?}"
    );
    assert!(cleanups.load(Ordering::SeqCst) >= 2);
    stop_tx.send_replace(true);
    supervisor.join().await;
}

#[tokio::test(start_paused = true)]
async fn an_ended_prepuller_does_not_fail_readiness() {
    let (stop_tx, stop) = watch::channel(false);
    let faults = Faults::for_tests();
    let mut supervisor = Supervisor::new(stop.clone(), faults.clone());
    let health = supervisor.health();
    let starts = Arc::new(AtomicU32::new(0));
    supervisor.spawn(Task::Prepuller, counted(&starts, &stop));
    until("started", || starts.load(Ordering::SeqCst) == 1).await;
    faults.inject(Task::Prepuller, Fault::End);
    until("restarted", || starts.load(Ordering::SeqCst) == 2).await;
    assert!(health.ready().is_ok());
    let tasks = health.tasks();
    assert!(!tasks[0].serves_the_api);
    let (reason, _) = tasks[0].last_death.as_ref().expect("the death is recorded");
    assert!(reason.contains("ended without being asked to"), "{reason}");
    stop_tx.send_replace(true);
    supervisor.join().await;
}

#[test]
fn panic_messages_are_read_from_both_payload_kinds() {
    assert_eq!(panic_message(&"static"), "static");
    assert_eq!(panic_message(&String::from("formatted")), "formatted");
    assert_eq!(panic_message(&42u8), "a panic without a message");
}
