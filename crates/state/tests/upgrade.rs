//! CPU-heavy work: argon2 runs off the async workers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use halsohub_state::accounts::{NewUser, hash_password};

/// The longest pause between turns of a task that only yields, while
/// `work` runs on the same single-threaded runtime.
async fn longest_stall<F: std::future::Future>(work: F) -> (F::Output, Duration) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let ticker = tokio::spawn(async move {
        let mut last = Instant::now();
        let mut longest = Duration::ZERO;
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            tokio::task::yield_now().await;
            let now = Instant::now();
            longest = longest.max(now - last);
            last = now;
        }
        longest
    });
    tokio::task::yield_now().await;
    let out = work.await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    (out, ticker.await.unwrap())
}

// The default test runtime has one thread: a hash computed on it would
// stall every other task for its whole duration.
#[tokio::test]
async fn argon2_runs_off_the_async_workers() {
    let t = common::backends().await.remove(0);
    // One hash's duration, measured directly (the fastest of three).
    let hash_time = (0..3)
        .map(|_| {
            let start = Instant::now();
            hash_password("a reference password").unwrap();
            start.elapsed()
        })
        .min()
        .unwrap();
    t.db.create_user(NewUser {
        username: "hasher".into(),
        password: Some("the right password".into()),
        ..NewUser::default()
    })
    .await
    .unwrap();
    // Scheduling noise on a busy machine can stall the ticker now and
    // then; a hash on the worker would stall it every time.
    let mut stalls = Vec::new();
    for _ in 0..6 {
        let (ok, stall) = longest_stall(t.db.verify_password("hasher", "the right password")).await;
        assert!(ok.unwrap().is_some());
        let (wrong, stall2) = longest_stall(t.db.verify_password("hasher", "a wrong password")).await;
        assert!(wrong.unwrap().is_none());
        let (_, stall3) = longest_stall(t.db.verify_password("nobody", "whatever")).await;
        let worst = stall.max(stall2).max(stall3);
        stalls.push(worst);
        if worst < hash_time * 3 / 4 {
            return;
        }
    }
    panic!("the async worker stalled {stalls:?} during verification; one hash takes {hash_time:?}");
}
