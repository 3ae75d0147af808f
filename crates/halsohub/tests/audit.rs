//! End to end through the real binary: `halsohub keys audit` makes a
//! signing key (0600) and its public key; counts are logged; `halsohub
//! audit sequence` puts them into the tree; `halsohub audit verify` checks
//! the files alone with every entry proven, and fails naming the index
//! when an entry bundle is tampered with; a witness (`halsohub keys
//! witness`, `halsohub audit witness`) cosigns and its cosignature
//! verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

mod common;

use std::path::Path;

use common::Hub;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn text(out: std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn counts_are_logged_sequenced_verified_and_witnessed() {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let made = text(hub.ok(&["keys", "audit", "--name", "hub.test/audit"]));
    assert!(made.contains("public key hub.test/audit+"), "{made}");
    let key = hub.home().join("audit.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // A second `keys audit` never overwrites the key.
    let e = hub.fails(&["keys", "audit"]);
    assert!(e.contains("never overwritten"), "{e}");
    let public = hub.home().join("audit.key.pub");

    let data = hub.path("data");
    hub.ok(&[
        "synth",
        "--patients",
        "60",
        "--seed",
        "4",
        "--out",
        s(&data),
    ]);
    let store = hub.path("store");
    hub.ok(&[
        "ingest",
        "--store",
        s(&store),
        "--reference-date",
        "2025-12-31",
        s(&data),
    ]);
    let q = hub.path("q.json");
    std::fs::write(
        &q,
        r#"{"version": 1, "criteria": [], "output": {"type": "count"}}"#,
    )
    .unwrap();
    for _ in 0..3 {
        hub.ok(&["count", "--store", s(&store), s(&q)]);
    }
    let seq = text(hub.ok(&["audit", "sequence"]));
    assert!(
        seq.contains("appended 3 entries; the tree holds 3"),
        "{seq}"
    );
    assert!(seq.contains("hub.test/audit\n3\n"), "{seq}");
    let again = text(hub.ok(&["audit", "sequence"]));
    assert!(again.contains("appended 0 entries"), "{again}");

    let entries = text(hub.ok(&["audit", "entries"]));
    assert_eq!(entries.lines().count(), 3);
    assert!(entries.contains("\"kind\":\"feasibility_answer\""));
    let entries_file = hub.path("entries.jsonl");
    std::fs::write(&entries_file, &entries).unwrap();
    let ok = text(hub.ok(&[
        "audit",
        "verify",
        "--log-key",
        s(&public),
        "--entries",
        s(&entries_file),
        "--all",
    ]));
    assert!(ok.starts_with("ok: the log of 3 entries"), "{ok}");

    // A witness cosigns; its cosignature verifies.
    hub.ok(&[
        "keys",
        "witness",
        "--name",
        "region.test/witness",
        "--out",
        s(&hub.path("w.key")),
    ]);
    let cosigned = hub.path("cosigned.txt");
    hub.ok(&[
        "audit",
        "witness",
        "--log-key",
        s(&public),
        "--key",
        s(&hub.path("w.key")),
        "--state",
        s(&hub.path("w.state")),
        "--out",
        s(&cosigned),
    ]);
    let ok = text(hub.ok(&[
        "audit",
        "verify",
        "--log-key",
        s(&public),
        "--checkpoint",
        s(&cosigned),
        "--witness-key",
        s(&hub.path("w.key.pub")),
        "--min-witnesses",
        "1",
    ]));
    assert!(ok.contains("cosigned by region.test/witness"), "{ok}");

    // Tampering with an entry bundle: verification fails, naming index 1.
    let bundle = common::files_below(&hub.home().join("audit/tile/entries"))
        .into_iter()
        .find(|p| p.to_string_lossy().contains(".p/3"))
        .expect("the partial bundle of three");
    let mut bytes = std::fs::read(&bundle).unwrap();
    // Each commitment is a 2-byte length and 32 bytes: flip one of the
    // second commitment's bytes.
    bytes[34 + 2 + 5] ^= 0x40;
    std::fs::write(&bundle, bytes).unwrap();
    let e = hub.fails(&["audit", "verify", "--log-key", s(&public)]);
    assert!(e.contains("first bad index 1"), "{e}");
}
