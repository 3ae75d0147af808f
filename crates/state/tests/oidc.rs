//! OpenID Connect bearer tokens against a locally generated key whose JWKS
//! is served on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use halsohub_state::oidc::{JwksSource, OidcConfig, OidcVerifier};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// A fresh Ed25519 key: PKCS#8 DER is a fixed 16-byte header and the seed.
fn ed25519_key() -> (EncodingKey, Jwk) {
    let seed: [u8; 32] = rand::random();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    let key = EncodingKey::from_ed_der(&der);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some("k1".into());
    (key, jwk)
}

fn token(key: &EncodingKey, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("k1".into());
    encode(&header, &claims, key).unwrap()
}

fn config(jwks: JwksSource) -> OidcConfig {
    OidcConfig {
        issuer: "https://idp.example".into(),
        audience: Some("halsohub".into()),
        jwks,
        roles_claim: "realm_access.roles".into(),
        organisation_claim: "org".into(),
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[tokio::test]
async fn verifies_tokens_against_a_jwks_served_on_loopback() {
    let (key, jwk) = ed25519_key();
    let set = JwkSet { keys: vec![jwk] };
    let body = serde_json::to_string(&set).unwrap();
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let body = body.clone();
            async move { body }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let url = format!("http://{addr}/jwks.json");
    let v = OidcVerifier::load(config(JwksSource::Url(url)))
        .await
        .unwrap();
    let good = token(
        &key,
        json!({
            "iss": "https://idp.example", "aud": "halsohub", "sub": "user-17",
            "exp": now() + 600, "name": "Anna Berg", "org": "Uppsala universitet",
            "realm_access": {"roles": ["applicant", "auditor@Hälsohubben", "applicant"]}
        }),
    );
    assert!(OidcVerifier::looks_like_jwt(&good));
    let id = v.verify(&good).unwrap();
    assert_eq!(id.subject, "user-17");
    assert_eq!(id.name.as_deref(), Some("Anna Berg"));
    assert_eq!(
        id.roles,
        vec![
            ("Uppsala universitet".to_string(), "applicant".to_string()),
            ("Hälsohubben".to_string(), "auditor".to_string()),
        ]
    );

    // Wrong issuer, wrong audience, expired, not yet valid, tampered: refused.
    for claims in [
        json!({"iss": "https://evil.example", "aud": "halsohub", "sub": "u", "exp": now() + 600}),
        json!({"iss": "https://idp.example", "aud": "other", "sub": "u", "exp": now() + 600}),
        json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "u", "exp": now() - 600}),
        json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "u", "exp": now() + 600, "nbf": now() + 300}),
        json!({"iss": "https://idp.example", "aud": "halsohub", "exp": now() + 600}),
    ] {
        let t = token(&key, claims.clone());
        assert!(v.verify(&t).is_err(), "accepted {claims}");
    }
    let mut tampered = good.clone();
    tampered.insert(good.len() / 2, 'x');
    assert!(v.verify(&tampered).is_err());
    // Signed by another key.
    let (other, _) = ed25519_key();
    let t = token(
        &other,
        json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "u", "exp": now() + 600}),
    );
    let err = v.verify(&t).unwrap_err().to_string();
    assert!(!err.contains(&t), "errors never echo the token");
    assert!(v.verify("not-a-jwt").is_err());
    server.abort();
}

#[tokio::test]
async fn loads_a_jwks_file_and_reports_bad_sources() {
    let (key, jwk) = ed25519_key();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jwks.json");
    std::fs::write(
        &path,
        serde_json::to_string(&JwkSet { keys: vec![jwk] }).unwrap(),
    )
    .unwrap();
    let v = OidcVerifier::load(config(JwksSource::File(path)))
        .await
        .unwrap();
    let t = token(
        &key,
        json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "s", "exp": now() + 60}),
    );
    assert_eq!(v.verify(&t).unwrap().subject, "s");

    let missing = OidcVerifier::load(config(JwksSource::File(dir.path().join("none.json")))).await;
    assert!(missing.is_err());
    let empty =
        OidcVerifier::from_jwks_json(config(JwksSource::Url(String::new())), r#"{"keys": []}"#);
    assert!(empty.is_err());
    let refused =
        OidcVerifier::load(config(JwksSource::Url("http://127.0.0.1:9/jwks".into()))).await;
    assert!(refused.is_err());
}
