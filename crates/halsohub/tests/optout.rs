//! End to end through the real binary and a real state database: an
//! opt-out delivery file given to `halsohub ingest` (alone, or in a
//! directory with source files) is recorded in the register, takes the
//! persons out of `halsohub count` at once and out of `halsohub export`,
//! is not recorded twice, and a withdrawal brings them back. Bad lines are
//! reported by line and reason, never by content.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failure is the test failing

mod common;

use std::path::Path;

use common::Hub;

const EXTRACT: &str = "2025-12-31";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `halsohub ingest` into `store` at the extract date, then `rest`.
fn ingest<'a>(store: &'a Path, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["ingest", "--store", s(store), "--reference-date", EXTRACT];
    args.extend_from_slice(rest);
    args
}

/// Valid personnummer of the synthetic population register, in order.
fn numbers(hub: &Hub, n: usize) -> Vec<String> {
    let bytes = std::fs::read(hub.path("data/population/folkbokforing.txt")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines().skip(1) {
        let number = line.split(';').next().unwrap_or("").trim().to_string();
        // 12 digits (the register's form) with a correct check digit (the
        // synthetic files carry defects).
        if number.len() == 12
            && number.bytes().all(|b| b.is_ascii_digit())
            && luhn_ok(&number)
            && !out.contains(&number)
        {
            out.push(number);
        }
        if out.len() == n {
            break;
        }
    }
    out
}

/// The Luhn check over `YYMMDDNNNC` of `YYYYMMDDNNNC`.
fn luhn_ok(number: &str) -> bool {
    let digits: Vec<u32> = number
        .chars()
        .filter_map(|c| c.to_digit(10))
        .skip(2)
        .collect();
    if digits.len() != 10 {
        return false;
    }
    let sum: u32 = digits[..9]
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let x = d * if i % 2 == 0 { 2 } else { 1 };
            x / 10 + x % 10
        })
        .sum();
    (10 - sum % 10) % 10 == digits[9]
}

fn count_everyone(hub: &Hub) -> u64 {
    let q = hub.path("everyone.json");
    std::fs::write(
        &q,
        r#"{"version": 1, "criteria": [], "output": {"type": "count"}}"#,
    )
    .unwrap();
    let out = hub.json(&[
        "count",
        "--store",
        s(&hub.path("store")),
        "--exact",
        "--json",
        s(&q),
    ]);
    out["result"]["count"].as_u64().unwrap()
}

#[test]
fn a_delivery_file_takes_persons_out_of_counts_and_exports_until_withdrawn() {
    let hub = Hub::new();
    hub.ok(&["keys", "init"]);
    let data = hub.path("data");
    hub.ok(&[
        "synth",
        "--patients",
        "200",
        "--seed",
        "3",
        "--out",
        s(&data),
    ]);
    let store = hub.path("store");
    let opt = hub.path("deliveries");
    std::fs::create_dir_all(&opt).unwrap();
    let people = numbers(&hub, 3);
    assert_eq!(people.len(), 3);
    // A delivery among the source files: recorded in the register, the
    // sources loaded into the store, in one `ingest`.
    std::fs::write(
        data.join("optout_20251201.csv"),
        format!(
            "personnummer;syfte;galler_fran;atgard\n{};all;2025-12-01;avanmalan\n{};scientific_research;2025-12-01;avanmalan\n19121212-1213;all;2025-12-01;avanmalan\n{};all;2025-13-01;avanmalan\n",
            people[0], people[1], people[2]
        ),
    )
    .unwrap();
    let out = hub.json(&ingest(&store, &["--json", s(&data)]));
    let d = &out["opt_out_deliveries"][0];
    assert_eq!(d["recorded"], 2, "{out}");
    assert_eq!(
        d["rejected"],
        serde_json::json!([
            [4, "invalid_identity.bad_check_digit"],
            [5, "optout.bad_date"]
        ]),
        "{out}"
    );
    assert!(out["load"]["snapshot"].is_string(), "{out}");
    let notes = out["load"]["notes"].to_string();
    assert!(notes.contains("opt-out delivery"), "{notes}");
    assert!(!out.to_string().contains(&people[0]), "{out}");

    let with_two_out = count_everyone(&hub);
    // The withdrawal of the first, alone in its own `ingest`.
    std::fs::write(
        opt.join("optout_20251215.csv"),
        format!(
            "personnummer;syfte;galler_fran;atgard\n{};all;2025-12-15;atertagande\n",
            people[0]
        ),
    )
    .unwrap();
    let text = hub.ok(&ingest(&store, &[s(&opt)]));
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(
        text.contains("1 records recorded, 0 lines rejected"),
        "{text}"
    );
    assert_eq!(count_everyone(&hub), with_two_out + 1);
    // The same file again records nothing.
    let again = hub.ok(&ingest(&store, &[s(&opt)]));
    assert!(String::from_utf8_lossy(&again.stdout).contains("already recorded"));
    assert_eq!(count_everyone(&hub), with_two_out + 1);

    // The export (no permit) leaves out everyone opted out of anything now:
    // the second person, opted out of research only.
    let everyone = count_everyone(&hub);
    let export = hub.json(&[
        "export",
        "--store",
        s(&store),
        "--format",
        "omop-csv",
        "--project",
        "p1",
        "--out",
        s(&hub.path("p1")),
        "--json",
    ]);
    assert_eq!(export["persons"].as_u64().unwrap(), everyone, "{export}");
    assert_eq!(export["excluded_persons"], 1, "{export}");
    // An unknown permit is refused before anything is written.
    let e = hub.fails(&[
        "export",
        "--store",
        s(&store),
        "--format",
        "omop-csv",
        "--project",
        "p2",
        "--permit",
        "HH-P-2026-000042",
        "--out",
        s(&hub.path("p2")),
    ]);
    assert!(
        e.contains("--permit") && e.contains("HH-P-2026-000042"),
        "{e}"
    );
    assert!(!hub.path("p2").exists());
}
