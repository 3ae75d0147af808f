//! OpenID Connect bearer tokens against a locally generated key whose JWKS
//! is served on loopback: over plain HTTP, from a file, and over HTTPS with
//! a certificate generated here (a private CA given as the CA bundle), where
//! rotated keys are picked up by refetching on an unknown key id and at an
//! interval.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use halsohub_state::oidc::{JwksSource, OidcConfig, OidcVerifier, RefreshPolicy};
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// A fresh Ed25519 key with id `k1`.
fn ed25519_key() -> (EncodingKey, Jwk) {
    ed25519_key_id("k1")
}

/// A fresh Ed25519 key: PKCS#8 DER is a fixed 16-byte header and the seed.
fn ed25519_key_id(kid: &str) -> (EncodingKey, Jwk) {
    let seed: [u8; 32] = rand::random();
    let mut der = vec![
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    der.extend_from_slice(&seed);
    let key = EncodingKey::from_ed_der(&der);
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::EdDSA).unwrap();
    jwk.common.key_id = Some(kid.into());
    (key, jwk)
}

fn token(key: &EncodingKey, claims: serde_json::Value) -> String {
    token_kid(key, "k1", claims)
}

fn token_kid(key: &EncodingKey, kid: &str, claims: serde_json::Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.into());
    encode(&header, &claims, key).unwrap()
}

fn config(jwks: JwksSource) -> OidcConfig {
    OidcConfig {
        issuer: "https://idp.example".into(),
        audience: Some("halsohub".into()),
        jwks,
        roles_claim: "realm_access.roles".into(),
        organisation_claim: "org".into(),
        identity_number_claim: Some("personal_identity_number".into()),
        ca_bundle: None,
        refresh: RefreshPolicy::default(),
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
    let id = v.verify(&good).await.unwrap();
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
        assert!(v.verify(&t).await.is_err(), "accepted {claims}");
    }
    let mut tampered = good.clone();
    tampered.insert(good.len() / 2, 'x');
    assert!(v.verify(&tampered).await.is_err());
    // Signed by another key.
    let (other, _) = ed25519_key();
    let t = token(
        &other,
        json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "u", "exp": now() + 600}),
    );
    let err = v.verify(&t).await.unwrap_err().to_string();
    assert!(!err.contains(&t), "errors never echo the token");
    assert!(v.verify("not-a-jwt").await.is_err());
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
    assert_eq!(v.verify(&t).await.unwrap().subject, "s");

    let missing = OidcVerifier::load(config(JwksSource::File(dir.path().join("none.json")))).await;
    assert!(missing.is_err());
    let empty =
        OidcVerifier::from_jwks_json(config(JwksSource::Url(String::new())), r#"{"keys": []}"#);
    assert!(empty.is_err());
    let refused =
        OidcVerifier::load(config(JwksSource::Url("http://127.0.0.1:9/jwks".into()))).await;
    assert!(refused.is_err());
}

/// A JWKS server on loopback over TLS, with a certificate for 127.0.0.1
/// issued by a CA generated here. Serves whatever `body` holds at the
/// moment and counts the requests.
struct TlsJwks {
    url: String,
    ca_pem: String,
    body: Arc<Mutex<String>>,
    hits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TlsJwks {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tls_jwks(initial: &JwkSet) -> TlsJwks {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "halsohub test CA");
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let leaf_key = KeyPair::generate().unwrap();
    let mut leaf_params =
        CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, "idp.test");
    let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();

    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server_config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![leaf.der().clone(), ca.der().clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body = Arc::new(Mutex::new(serde_json::to_string(initial).unwrap()));
    let hits = Arc::new(AtomicU64::new(0));
    let (b, h) = (body.clone(), hits.clone());
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let (b, h) = (b.clone(), h.clone());
            tokio::spawn(async move {
                // A client that does not trust the CA ends the handshake.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                h.fetch_add(1, Ordering::SeqCst);
                let text = b.lock().unwrap().clone();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                    text.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    TlsJwks {
        url: format!("https://127.0.0.1:{}/jwks.json", addr.port()),
        ca_pem: ca.pem(),
        body,
        hits,
        task,
    }
}

fn claims() -> serde_json::Value {
    json!({"iss": "https://idp.example", "aud": "halsohub", "sub": "s", "exp": now() + 600})
}

#[tokio::test]
async fn an_https_issuer_works_with_a_ca_bundle_and_rotated_keys_are_refetched() {
    let (k1, jwk1) = ed25519_key_id("k1");
    let server = tls_jwks(&JwkSet { keys: vec![jwk1] }).await;
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("ca.pem");
    std::fs::write(&bundle, &server.ca_pem).unwrap();

    // Without the CA bundle the certificate is not trusted: TLS is real.
    let untrusted = OidcVerifier::load(config(JwksSource::Url(server.url.clone()))).await;
    let err = untrusted.unwrap_err().to_string();
    assert!(err.contains(&server.url), "{err}");
    assert_eq!(server.hits.load(Ordering::SeqCst), 0);
    // A bundle that is not PEM is refused with its path.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let mut cfg = config(JwksSource::Url(server.url.clone()));
    cfg.ca_bundle = Some(junk.clone());
    let err = OidcVerifier::load(cfg).await.unwrap_err().to_string();
    assert!(err.contains("junk.pem"), "{err}");

    // With it: keys load over HTTPS and tokens verify.
    let mut cfg = config(JwksSource::Url(server.url.clone()));
    cfg.ca_bundle = Some(bundle.clone());
    cfg.refresh = RefreshPolicy {
        interval: None,
        min_gap: Duration::ZERO,
    };
    let v = OidcVerifier::load(cfg.clone()).await.unwrap();
    assert_eq!(v.fetch_count(), 1);
    assert_eq!(server.hits.load(Ordering::SeqCst), 1);
    assert_eq!(v.verify(&token(&k1, claims())).await.unwrap().subject, "s");
    assert_eq!(
        server.hits.load(Ordering::SeqCst),
        1,
        "a known key needs no fetch"
    );

    // The issuer rotates to k2: a token naming k2 makes the verifier fetch
    // the set again, and then it verifies; k1 is gone.
    let (k2, jwk2) = ed25519_key_id("k2");
    *server.body.lock().unwrap() = serde_json::to_string(&JwkSet { keys: vec![jwk2] }).unwrap();
    let t2 = token_kid(&k2, "k2", claims());
    assert_eq!(v.verify(&t2).await.unwrap().subject, "s");
    assert_eq!(server.hits.load(Ordering::SeqCst), 2);
    assert_eq!(v.fetch_count(), 2);

    // Rate limit: with a long gap, a burst of tokens naming unknown key
    // ids causes no fetch at all (the start-up fetch was just now).
    let mut limited = cfg.clone();
    limited.refresh = RefreshPolicy {
        interval: None,
        min_gap: Duration::from_secs(3600),
    };
    let lv = OidcVerifier::load(limited).await.unwrap();
    let hits = server.hits.load(Ordering::SeqCst);
    for i in 0..20 {
        let forged = token_kid(&k1, &format!("made-up-{i}"), claims());
        let err = lv.verify(&forged).await.unwrap_err().to_string();
        assert!(err.contains("no key with id"), "{err}");
    }
    assert_eq!(server.hits.load(Ordering::SeqCst), hits);
    assert_eq!(lv.fetch_count(), 1);

    // Interval: keys older than the interval are fetched again on the next
    // token even when its key id is known, so a withdrawn key stops
    // working. (Unknown-id fetches are held off by the long gap here.)
    let (k3, jwk3) = ed25519_key_id("k3");
    *server.body.lock().unwrap() = serde_json::to_string(&JwkSet {
        keys: vec![jwk3.clone()],
    })
    .unwrap();
    let mut timed = cfg.clone();
    timed.refresh = RefreshPolicy {
        interval: Some(Duration::from_millis(300)),
        min_gap: Duration::from_secs(3600),
    };
    let tv = OidcVerifier::load(timed).await.unwrap();
    let t3 = token_kid(&k3, "k3", claims());
    assert!(tv.verify(&t3).await.is_ok());
    assert_eq!(tv.fetch_count(), 1);
    let (k4, jwk4) = ed25519_key_id("k4");
    *server.body.lock().unwrap() = serde_json::to_string(&JwkSet { keys: vec![jwk4] }).unwrap();
    // Within the interval: k3 still works, nothing fetched.
    assert!(tv.verify(&t3).await.is_ok());
    assert_eq!(tv.fetch_count(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    // Past it: fetched again, k3 is withdrawn, k4 works.
    assert!(tv.verify(&t3).await.is_err());
    assert_eq!(tv.fetch_count(), 2);
    assert!(tv.verify(&token_kid(&k4, "k4", claims())).await.is_ok());
    assert_eq!(tv.fetch_count(), 2);
}
