//! Privacy-budget charges and differencing-guard anchors, on SQLite and
//! (when HALSOHUB_TEST_DATABASE_URL is set) PostgreSQL: free repeats,
//! refusals that record nothing, persistence across handles, upserts that
//! only ever turn an anchor suppressed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use chrono::{DateTime, Utc};
use halsohub_state::privacy::{BudgetLedger, StoredAnchor};

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
}

#[tokio::test]
async fn budget_charges_add_up_repeats_are_free_refusals_record_nothing() {
    for t in common::backends().await {
        let db = &t.db;
        let period = at(0);
        let charge = |key: &'static str, cost: u64| {
            let db = db.clone();
            async move {
                db.charge_budget("anna", period, key, at(10), |l: BudgetLedger| {
                    if l.repeat {
                        Ok((0, l))
                    } else if l.spent + cost > 10 {
                        Err(l)
                    } else {
                        Ok((cost, l))
                    }
                })
                .await
                .unwrap()
            }
        };
        assert_eq!(charge("q1", 4).await.unwrap().spent, 0);
        assert_eq!(charge("q2", 5).await.unwrap().spent, 4);
        let repeat = charge("q1", 4).await.unwrap();
        assert!(repeat.repeat, "{}", t.label);
        assert_eq!(repeat.spent, 9);
        let refused = charge("q3", 2).await.unwrap_err();
        assert_eq!(refused.spent, 9);
        assert_eq!(db.budget_spent("anna", period).await.unwrap(), 9);
        // another period, another user: nothing spent; a second handle sees it
        assert_eq!(db.budget_spent("anna", at(1)).await.unwrap(), 0);
        assert_eq!(db.budget_spent("bo", period).await.unwrap(), 0);
        assert_eq!(
            t.reopen().await.budget_spent("anna", period).await.unwrap(),
            9
        );
    }
}

#[tokio::test]
async fn anchors_persist_by_size_and_only_turn_suppressed() {
    for t in common::backends().await {
        let db = &t.db;
        let anchor = |persons: u64, sum: u64, suppressed: bool| StoredAnchor {
            persons,
            tag_sum: sum,
            print: vec![persons as u8; 496],
            value: persons + 1,
            suppressed,
        };
        db.store_anchors(
            "anna",
            &[
                anchor(10, u64::MAX, false),
                anchor(20, 7, false),
                anchor(300, 1, true),
            ],
            at(0),
        )
        .await
        .unwrap();
        db.store_anchors("bo", &[anchor(12, 5, false)], at(1))
            .await
            .unwrap();
        // the same set again, now suppressed; and again not suppressed
        db.store_anchors("anna", &[anchor(10, u64::MAX, true)], at(2))
            .await
            .unwrap();
        db.store_anchors("anna", &[anchor(10, u64::MAX, false)], at(3))
            .await
            .unwrap();
        let mine = db.anchors_in(Some("anna"), &[(0, 25)]).await.unwrap();
        assert_eq!(mine.len(), 2, "{}", t.label);
        assert_eq!(mine[0].tag_sum, u64::MAX);
        assert!(mine[0].suppressed);
        assert_eq!(mine[0].print.len(), 496);
        let all = t
            .reopen()
            .await
            .anchors_in(None, &[(0, 15), (250, 400)])
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
        assert_eq!(db.anchor_count("anna").await.unwrap(), 3);

        // More ranges than one statement reads: every anchor in any of
        // them, once, and nothing between them.
        let many: Vec<(u64, u64)> = (0..1000u64).map(|k| (k * 1000, k * 1000 + 20)).collect();
        assert!(many.len() > halsohub_state::privacy::RANGES_PER_STATEMENT);
        let found = db.anchors_in(None, &many).await.unwrap();
        let mut sizes: Vec<u64> = found.iter().map(|a| a.persons).collect();
        sizes.sort_unstable();
        assert_eq!(sizes, vec![10, 12, 20], "{}", t.label);
        db.store_anchors("bo", &[anchor(999_010, 3, false)], at(4))
            .await
            .unwrap();
        let found = db.anchors_in(Some("bo"), &many).await.unwrap();
        let sizes: Vec<u64> = found.iter().map(|a| a.persons).collect();
        assert_eq!(sizes, vec![12, 999_010], "{}", t.label);
    }
}
