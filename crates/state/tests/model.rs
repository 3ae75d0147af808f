//! Property test: the event store against an obviously correct in-memory
//! model of optimistic concurrency (a write succeeds exactly when it names
//! the current version; a failed write stores nothing).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use chrono::Utc;
use halsohub_state::cases::{CaseWrite, NewEvent};
use halsohub_state::{Db, StateError};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct Op {
    case: u8,
    expected: i64,
    events: usize,
}

fn op() -> impl Strategy<Value = Op> {
    (0u8..3, 0i64..4, 1usize..3).prop_map(|(case, expected, events)| Op {
        case,
        expected,
        events,
    })
}

async fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("m.db").display()
    ))
    .await
    .unwrap();
    let org = db.create_organisation("O").await.unwrap();
    let mut model: HashMap<String, Vec<String>> = HashMap::new();
    for (i, op) in ops.iter().enumerate() {
        let case = format!("c{}", op.case);
        let names: Vec<String> = (0..op.events).map(|k| format!("e{i}_{k}")).collect();
        let w = CaseWrite {
            case_id: case.clone(),
            expected_version: op.expected,
            organisation_id: org.id.clone(),
            created_by: "u".into(),
            events: names
                .iter()
                .map(|n| NewEvent {
                    event_type: n.clone(),
                    payload: json!({ "n": n }),
                    actor: "u".into(),
                    at: Utc::now(),
                })
                .collect(),
            status: "s".into(),
            projection: json!({}),
            attachments: vec![],
            permits: vec![],
            notifications: vec![],
            idempotency: None,
            audit: vec![],
        };
        let current = model.get(&case).map_or(0, Vec::len) as i64;
        match db.write_case(w).await {
            Ok(v) => {
                assert_eq!(op.expected, current, "accepted a stale write");
                model.entry(case.clone()).or_default().extend(names);
                assert_eq!(v, current + op.events as i64);
            }
            Err(StateError::Conflict {
                expected, actual, ..
            }) => {
                assert_ne!(op.expected, current, "refused a good write");
                assert_eq!((expected, actual), (op.expected, current));
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    for (case, names) in &model {
        let stored: Vec<String> = db
            .case_events(case)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event_type)
            .collect();
        assert_eq!(&stored, names);
        assert_eq!(db.case(case).await.unwrap().version, names.len() as i64);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn store_agrees_with_model(ops in proptest::collection::vec(op(), 1..12)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops));
    }
}
