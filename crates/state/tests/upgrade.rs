//! Upgrades and CPU-heavy work: a database written before token lifetimes
//! were limited migrates forward with its tokens clamped; argon2 runs off
//! the async workers.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use chrono::Utc;
use halsohub_state::accounts::{NewUser, hash_password};
use halsohub_state::{Backend, ConnectOptions, Db};
use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, AssertSqlSafe};

/// The last migration of the release before token lifetimes were limited.
const PREVIOUS_RELEASE: i64 = 20261201000001;
const DAY_MS: i64 = 86_400_000;

/// A fresh, empty database of the backend `t` uses: its options and a raw
/// pool on it (SQLite file or PostgreSQL schema).
async fn fresh_database(t: &common::TestDb, dir: &std::path::Path) -> (ConnectOptions, AnyPool) {
    sqlx::any::install_default_drivers();
    let mut pool = AnyPoolOptions::new().max_connections(1);
    let opts = match t.db.backend() {
        Backend::Sqlite => ConnectOptions::new(format!(
            "sqlite://{}?mode=rwc",
            dir.join("old.db").display()
        )),
        Backend::Postgres => {
            let schema = format!("t_{}", uuid::Uuid::new_v4().simple());
            let setup = AnyPoolOptions::new()
                .max_connections(1)
                .connect(&t.opts.url)
                .await
                .unwrap();
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&setup)
                .await
                .unwrap();
            setup.close().await;
            let set = format!("SET search_path TO {schema}");
            pool = pool.after_connect(move |conn, _| {
                let set = set.clone();
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(set)).execute(&mut *conn).await?;
                    Ok(())
                })
            });
            let mut o = t.opts.clone();
            o.pg_schema = Some(schema);
            o
        }
    };
    let pool = pool.connect(&opts.url).await.unwrap();
    (opts, pool)
}

#[tokio::test]
async fn tokens_of_an_older_release_are_clamped_on_upgrade() {
    for t in common::backends().await {
        // A database as the previous release left it: migrated up to
        // PREVIOUS_RELEASE only, with tokens in it.
        let dir = tempfile::tempdir().unwrap();
        let (opts, pool) = fresh_database(&t, dir.path()).await;
        let migrator = match t.db.backend() {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite"),
            Backend::Postgres => sqlx::migrate!("./migrations/postgres"),
        };
        migrator.run_to(PREVIOUS_RELEASE, &pool).await.unwrap();
        let now = Utc::now().timestamp_millis();
        let created = now - 400 * DAY_MS;
        sqlx::query(
            "INSERT INTO users (id, username, display_name, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind("u1")
        .bind("old-user")
        .bind("Old User")
        .bind(created)
        .execute(&pool)
        .await
        .unwrap();
        // Created 400 days ago: never expiring, expiring in ten years,
        // expiring in five days; created yesterday without expiry.
        for (id, created_at, expires) in [
            ("never", created, None),
            ("decade", created, Some(created + 3650 * DAY_MS)),
            ("soon", created, Some(now + 5 * DAY_MS)),
            ("young", now - DAY_MS, None),
        ] {
            sqlx::query(
                "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at, expires_at) \
                 VALUES ($1, 'u1', $1, $2, $3, $4)",
            )
            .bind(id)
            .bind(format!("hash-{id}"))
            .bind(created_at)
            .bind(expires)
            .execute(&pool)
            .await
            .unwrap();
        }
        pool.close().await;

        // This release opens it and migrates forward.
        let db = Db::connect_with(opts).await.unwrap();
        let label = t.label;
        let never = db.api_token("never").await.unwrap();
        assert_eq!(
            never.expires_at.unwrap().timestamp_millis(),
            created + 365 * DAY_MS,
            "{label}"
        );
        // Already past its year, so expired by the clamp.
        assert!(never.expires_at.unwrap() < Utc::now());
        let decade = db.api_token("decade").await.unwrap();
        assert_eq!(decade.expires_at, never.expires_at, "{label}");
        let soon = db.api_token("soon").await.unwrap();
        assert_eq!(soon.expires_at, never.expires_at, "{label}");
        let young = db.api_token("young").await.unwrap();
        assert_eq!(
            young.expires_at.unwrap().timestamp_millis(),
            now - DAY_MS + 365 * DAY_MS,
            "{label}"
        );
        // The previous release's user reads back; the throttle's tables
        // arrived by migration.
        assert_eq!(
            db.user_by_username("old-user").await.unwrap().display_name,
            "Old User"
        );
        assert_eq!(
            db.login_attempts_since("old-user", Utc::now() - chrono::Duration::days(1))
                .await
                .unwrap(),
            0
        );
        db.close().await;
    }
}

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
        let (wrong, stall2) =
            longest_stall(t.db.verify_password("hasher", "a wrong password")).await;
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
