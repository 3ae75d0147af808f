//! The citizens' endpoints through the HTTP API with real OpenID Connect
//! tokens (Ed25519, the issuer's key set in a file): a citizen reads and
//! changes only their own opt-out, the identity number from the token is
//! pseudonymised and never stored, a token without one is refused, and a
//! bad body names its field.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::call;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use halsohub_app::auth::{JwksSource, OidcConfig, OidcVerifier};
use halsohub_app::optout::Citizens;
use halsohub_identity::{HubKey, Pseudonymiser};
use halsohub_server::{AppState, router};
use halsohub_state::Db;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

const ISSUER: &str = "https://login.example.se";
const ANNA: &str = "19121212-1212";
const BERTIL: &str = "190101012383";

/// An Ed25519 signing key (PKCS#8 DER: a fixed header and the seed) and
/// its public JWK with id `k1`.
fn key_pair() -> (EncodingKey, Jwk) {
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&[42u8; 32]);
    let key = EncodingKey::from_ed_der(&der);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some("k1".into());
    (key, jwk)
}

fn token(key: &EncodingKey, sub: &str, number: Option<&str>) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    let mut claims = json!({
        "iss": ISSUER, "sub": sub,
        "exp": chrono::Utc::now().timestamp() + 600,
    });
    if let Some(n) = number {
        claims["personal_identity_number"] = json!(n);
    }
    encode(&header, &claims, key).unwrap()
}

/// A server with an OIDC issuer whose tokens carry the identity-number
/// claim, and (with `key`) a hub key to recognise citizens by.
async fn setup(key: bool) -> (tempfile::TempDir, Db, EncodingKey, Router) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::connect(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    ))
    .await
    .unwrap();
    let (signing, jwk) = key_pair();
    let jwks = dir.path().join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap(),
    )
    .unwrap();
    let mut config = OidcConfig::new(ISSUER, JwksSource::File(jwks));
    config.identity_number_claim = Some("personal_identity_number".into());
    let mut state = AppState::new(db.clone());
    state.oidc = Some(Arc::new(OidcVerifier::load(config).await.unwrap()));
    if key {
        state.citizens = Some(Arc::new(Citizens::new(Pseudonymiser::new(
            &HubKey::from_bytes([9; 32]),
        ))));
    }
    (dir, db, signing, router(state))
}

#[tokio::test]
async fn citizens_read_and_change_only_their_own_opt_out() {
    let (dir, db, signing, app) = setup(true).await;
    let db_path = dir.path().join("state.db");
    let anna = token(&signing, "anna-sub", Some(ANNA));
    let bertil = token(&signing, "bertil-sub", Some(BERTIL));
    let staff = token(&signing, "staff-sub", None);

    let (s, v) = call(&app, "GET", "/api/v1/me/opt-out", Some(&anna), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["excluded_from_counts"], json!(false));
    assert_eq!(v["history"], json!([]));

    let (s, v) = call(
        &app,
        "POST",
        "/api/v1/me/opt-out",
        Some(&anna),
        Some(json!({"action": "opt_out"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["all"], json!(true));
    assert_eq!(v["history"][0]["scope"], json!("all"));
    assert_eq!(v["history"][0]["channel"], json!("api"));

    // Bertil, logged in the same way, sees nothing of Anna's.
    let (s, v) = call(&app, "GET", "/api/v1/me/opt-out", Some(&bertil), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["excluded_from_counts"], json!(false));
    assert_eq!(v["history"], json!([]));
    let (s, v) = call(
        &app,
        "POST",
        "/api/v1/me/opt-out",
        Some(&bertil),
        Some(json!({"action": "opt_out", "scope": "algorithm_training"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["all"], json!(false));
    assert_eq!(v["purposes"], json!(["algorithm_training"]));

    // Anna withdraws; her history keeps both records.
    let (s, v) = call(
        &app,
        "POST",
        "/api/v1/me/opt-out",
        Some(&anna),
        Some(json!({"action": "withdrawal", "scope": "all"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["excluded_from_counts"], json!(false));
    assert_eq!(v["history"].as_array().unwrap().len(), 2);

    // A purpose that does not exist, a field that does not: 400 naming it.
    for body in [
        json!({"action": "opt_out", "scope": "marketing"}),
        json!({"action": "opt_out", "who": "19121212-1212"}),
    ] {
        let (s, v) = call(&app, "POST", "/api/v1/me/opt-out", Some(&anna), Some(body)).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert!(!v.to_string().contains("1212-1212"), "{v}");
    }
    // A token without an identity number, and no token at all.
    let (s, v) = call(&app, "GET", "/api/v1/me/opt-out", Some(&staff), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, _) = call(&app, "GET", "/api/v1/me/permits", None, None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, v) = call(&app, "GET", "/api/v1/me/permits", Some(&anna), None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v, json!([]));

    // The register holds pseudonyms only: no form of either number is
    // anywhere in the database file.
    assert_eq!(db.optout_records().await.unwrap().len(), 3);
    db.close().await;
    let mut bytes = std::fs::read(&db_path).unwrap();
    if let Ok(wal) = std::fs::read(dir.path().join("state.db-wal")) {
        bytes.extend(wal);
    }
    let text = String::from_utf8_lossy(&bytes);
    for needle in [
        "191212121212",
        "121212-1212",
        "1212121212",
        "190101012383",
        "0101012383",
    ] {
        assert!(!text.contains(needle), "{needle} is stored");
    }
}

#[tokio::test]
async fn without_a_key_the_citizens_endpoints_say_so() {
    let (_dir, _db, signing, app) = setup(false).await;
    let anna = token(&signing, "anna-sub", Some(ANNA));
    let (s, v) = call(&app, "GET", "/api/v1/me/opt-out", Some(&anna), None).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    let doc = halsohub_server::openapi(Default::default());
    let paths = serde_json::to_value(&doc).unwrap()["paths"].clone();
    for p in ["/api/v1/me/opt-out", "/api/v1/me/permits"] {
        assert!(paths.get(p).is_some(), "{p} is documented");
    }
}
