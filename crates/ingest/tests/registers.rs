//! Hand-written register files: what each row becomes, and the bad-input
//! cases (empty, unknown header, Latin-1, truncated gzip, too few columns,
//! garbage bytes), each with its expected error or reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod common;

use std::io::Write;

use chrono::NaiveDate;
use common::*;
use halsohub_identity::{Form, IdentityNumber, ParseOptions, Personnummer, Pseudonymiser};
use halsohub_ingest::{Format, IngestError, IngestOptions};
use halsohub_store::{Comparator, Domain, Setting, Store};

fn d(y: i32, m: u32, dd: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, dd).unwrap()
}

fn pnr(birth: NaiveDate, serial: u16, coordination: bool) -> Personnummer {
    Personnummer::from_parts(birth, serial, coordination).unwrap()
}

struct People {
    a: Personnummer,
    b: Personnummer,
    c_old: Personnummer,
    c_new: Personnummer,
}

fn people() -> People {
    People {
        a: pnr(d(1950, 3, 4), 123, false),
        b: pnr(d(1980, 5, 6), 456, false),
        c_old: pnr(d(1990, 7, 8), 789, true),
        c_new: pnr(d(1990, 7, 8), 321, false),
    }
}

fn pseudonym(p: &Personnummer) -> String {
    let key = key();
    let ps = Pseudonymiser::new(&key);
    let id = IdentityNumber::parse(&p.canonical(), &ParseOptions::new(reference())).unwrap();
    ps.pseudonym(&id).to_string()
}

fn cp1252(s: &str) -> Vec<u8> {
    encoding_rs::WINDOWS_1252.encode(s).0.into_owned()
}

/// A small file set covering every format.
fn write_set(dir: &std::path::Path, p: &People) -> Vec<std::path::PathBuf> {
    let t = |x: &Personnummer| x.format(Form::Twelve);
    let ten = |x: &Personnummer| {
        x.format(Form::TenSeparated {
            reference: reference(),
        })
    };
    let mut files = Vec::new();
    files.push(write(
        dir,
        "population/folkbokforing.txt",
        &cp1252(&format!(
            "PERSONNR;KON;FODELSEDATUM;LAN;KOMMUN;FRAN_DATUM;TILL_DATUM;INVANDRING_DATUM;UTVANDRING_DATUM\r\n\
             {a};1;19500304;01;0180;20120101;20150630;;\r\n\
             {a};1;19500304;12;1280;20150701;;;\r\n\
             {b};2;19800506;14;1480;20120101;;;\r\n\
             {c};2;19900708;14;1480;20180101;;20180101;\r\n",
            a = t(&p.a),
            b = t(&p.b),
            c = t(&p.c_new)
        )),
    ));
    files.push(write(
        dir,
        "population/personnummerbyten.txt",
        format!(
            "GAMMALT_PERSONNR;NYTT_PERSONNR;ANDRINGSDATUM\r\n{};{};20200101\r\n",
            t(&p.c_old),
            t(&p.c_new)
        )
        .as_bytes(),
    ));
    files.push(write(
        dir,
        "socialstyrelsen/par_sluten.txt",
        format!(
            "PERSONNR;INDATUM;UTDATUM;HDIA;DIAGNOS;OP;SJUKHUS;MVO\r\n\
             {a};20230101;20230105;E119;E119 I10;FNG05;12001;101\r\n\
             {c};20190101;20190102;I509;I509;;14001;101\r\n\
             {b};20230105;20230101;I10;I10;;14001;101\r\n",
            a = t(&p.a),
            b = t(&p.b),
            c = t(&p.c_old)
        )
        .as_bytes(),
    ));
    files.push(write(
        dir,
        "socialstyrelsen/dors.txt",
        format!(
            "PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n{a};20240300;I509;E119 I10\r\n",
            a = t(&p.a)
        )
        .as_bytes(),
    ));
    files.push(write(
        dir,
        "socialstyrelsen/lmed.txt",
        format!(
            "PERSONNR;EDATUM;ATC;VARUNR;ANTAL;FDATUM\r\n\
             {a};20230110;A10BA02;123456;2;20230105\r\n\
             {a};20230110;A10BA02;123456;två;20230105\r\n",
            a = t(&p.a)
        )
        .as_bytes(),
    ));
    files.push(write(
        dir,
        "region_12/primarvard.csv",
        format!(
            "\u{feff}personnummer,besoksdatum,diagnoskoder,vardenhet\n\
             {a},2023-02-01,e11.9 D97.3,SE2321000016-ABCD\n\
             {a},2023-02-02,,SE2321000016-ABCD\n",
            a = ten(&p.a)
        )
        .as_bytes(),
    ));
    files.push(write(
        dir,
        "region_12/lab.tsv",
        format!(
            "personnummer\tprovtagningstid\tanalyskod\tkodsystem\tresultat\tenhet\treferensintervall\n\
             {a}\t2023-02-01 08:30\tNPU27300\tNPU\t52,5\tmmol/mol\t27-42\n\
             {a}\t2023-02-01 08:30\t2160-0\tLOINC\t<1,0\tmg/dl\t\n\
             {a}\t2023-02-01 08:30\tNPU27300\tNPU\t52\tkg\t\n",
            a = t(&p.a)
        )
        .as_bytes(),
    ));
    files
}

#[test]
fn every_format_maps_to_the_model() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("in");
    let store_dir = tmp.path().join("store");
    let p = people();
    write_set(&src, &p);
    let report = load(
        &store_dir,
        std::slice::from_ref(&src),
        &options(reference()),
    )
    .unwrap();
    assert!(report.committed());
    let t = &report.totals;
    assert_eq!(t.rows_read, t.rows_accepted + t.rows_rejected);
    assert_eq!(t.rejected_by_reason.get("impossible_date"), Some(&1));
    assert_eq!(t.rejected_by_reason.get("unparseable_value"), Some(&1));
    assert_eq!(t.rejected_by_reason.get("incompatible_unit"), Some(&1));
    assert_eq!(t.id_changes, 1);
    assert_eq!(t.imputed_dates, 1);
    assert_eq!(t.unknown_codes, 1, "{report}");
    let pop = report
        .files
        .iter()
        .find(|f| f.format == "population")
        .unwrap();
    // All-ASCII Windows-1252 is also valid UTF-8, and read as such.
    assert_eq!(pop.encoding, "utf-8");
    let pc = report
        .files
        .iter()
        .find(|f| f.format == "primary_care")
        .unwrap();
    assert_eq!(pc.encoding, "utf-8");
    assert_eq!(pc.unknown_code_examples.get("icd10se:D973"), Some(&1));

    let store = Store::open(&store_dir).unwrap();
    let snap = store.snapshot(None).unwrap();
    let events = snap.events().unwrap();
    let a = pseudonym(&p.a);
    let of = |who: &str, domain: Domain| -> Vec<halsohub_store::Event> {
        events
            .iter()
            .map(|(_, e)| e.clone())
            .filter(|e| e.patient.to_string() == who && e.domain == domain)
            .collect()
    };
    // Inpatient stay: one encounter, main + secondary diagnosis, procedure.
    let enc = of(&a, Domain::Encounter);
    let inpatient: Vec<_> = enc
        .iter()
        .filter(|e| e.setting == Some(Setting::Inpatient))
        .collect();
    assert_eq!(inpatient.len(), 1);
    assert_eq!(inpatient[0].end, Some(d(2023, 1, 5)));
    assert_eq!(inpatient[0].provider.as_deref(), Some("12001"));
    assert_eq!(inpatient[0].provider_region.as_deref(), Some("12"));
    let dia: Vec<_> = of(&a, Domain::Diagnosis)
        .into_iter()
        .filter(|e| e.source == "par_inpatient")
        .collect();
    assert_eq!(dia.len(), 2);
    assert!(
        dia.iter()
            .any(|e| e.code == "E119" && e.primary == Some(true) && e.code_known)
    );
    assert!(
        dia.iter()
            .any(|e| e.code == "I10" && e.primary == Some(false))
    );
    assert_eq!(of(&a, Domain::Procedure)[0].code, "FNG05");
    // Primary care: region from the folder, codes normalised, uncoded visit kept.
    let pc_enc: Vec<_> = enc
        .iter()
        .filter(|e| e.setting == Some(Setting::PrimaryCare))
        .collect();
    assert_eq!(pc_enc.len(), 2);
    assert!(
        pc_enc
            .iter()
            .all(|e| e.provider_region.as_deref() == Some("12"))
    );
    let pc_dia: Vec<_> = of(&a, Domain::Diagnosis)
        .into_iter()
        .filter(|e| e.source == "primary_care")
        .collect();
    assert!(pc_dia.iter().any(|e| e.code == "E119" && e.code_known));
    assert!(pc_dia.iter().any(|e| e.code == "D973" && !e.code_known));
    // Dispensing: packages.
    let disp = of(&a, Domain::DispensedDrug);
    assert_eq!(disp.len(), 1);
    assert_eq!(disp[0].quantity, Some(2.0));
    // Lab: decimal comma, comparator, conversion to the canonical unit.
    let lab = of(&a, Domain::LabResult);
    assert_eq!(lab.len(), 2);
    let hba1c = lab.iter().find(|e| e.code == "NPU27300").unwrap();
    assert_eq!(
        (hba1c.value, hba1c.unit.as_deref()),
        (Some(52.5), Some("mmol/mol"))
    );
    let crea = lab.iter().find(|e| e.system == "loinc").unwrap();
    assert_eq!(crea.comparator, Some(Comparator::Lt));
    assert_eq!(crea.unit.as_deref(), Some("umol/L"));
    // 1.0 mg/dL × 88.42 = 88.42, rounded to creatinine's reporting
    // precision (whole µmol/L): the one conversion rule.
    assert_eq!(crea.value, Some(88.0));
    // Death: underlying cause primary, unknown day imputed to the 15th.
    let deaths = of(&a, Domain::Death);
    assert_eq!(deaths.len(), 3);
    assert!(deaths.iter().all(|e| e.start == d(2024, 3, 15)));
    assert_eq!(deaths.iter().filter(|e| e.primary == Some(true)).count(), 1);
    let persons = snap.persons().unwrap();
    let pa = persons
        .iter()
        .find(|x| x.person.patient.to_string() == a)
        .unwrap();
    assert_eq!(pa.person.sex, Some('M'));
    assert_eq!(pa.person.birth_date, Some(d(1950, 3, 4)));
    assert_eq!(pa.person.death_date, Some(d(2024, 3, 15)));
    // Residences: TILL_DATUM is inclusive in the file, exclusive in the store.
    let res = snap.residences().unwrap();
    let ra: Vec<_> = res
        .iter()
        .filter(|r| r.residence.patient.to_string() == a)
        .collect();
    assert_eq!(ra.len(), 2);
    assert!(
        ra.iter()
            .any(|r| r.residence.region == "01" && r.residence.to == Some(d(2015, 7, 1)))
    );
    // Id change: the inpatient stay under the old number belongs to the new one.
    let c_new = pseudonym(&p.c_new);
    let c_old = pseudonym(&p.c_old);
    assert_eq!(of(&c_new, Domain::Encounter).len(), 1);
    assert!(of(&c_old, Domain::Encounter).is_empty());
    // Linkage: A is in population, inpatient, death, drugs, primary care, lab.
    assert_eq!(
        report.patients_by_source_count.get(&6),
        Some(&1),
        "{report}"
    );
    // The quarantine names file, line and field, with the pseudonym.
    let q = snap.quarantine().unwrap();
    let bad_dates: Vec<_> = q.iter().filter(|r| r.reason == "impossible_date").collect();
    assert_eq!(bad_dates.len(), 1);
    assert_eq!(bad_dates[0].line, 4);
    assert!(bad_dates[0].source_file.ends_with("par_sluten.txt"));
    assert!(
        bad_dates[0].detail.starts_with("UTDATUM"),
        "{}",
        bad_dates[0].detail
    );
    assert_eq!(bad_dates[0].identity, Some(pseudonym(&p.b)));
    // The stored report is the returned one (but for the snapshot id).
    let stored: halsohub_ingest::LoadReport =
        serde_json::from_value(snap.load_report().unwrap()).unwrap();
    assert_eq!(stored.totals, report.totals);

    // Loading the same files again adds nothing.
    let again = load(&store_dir, &[src], &options(reference())).unwrap();
    assert!(!again.committed());
    assert_eq!(again.skipped.len(), report.files.len());
    assert_eq!(current(&store_dir), report.snapshot);
}

#[test]
fn bad_check_digit_and_other_identity_problems_are_quarantined_without_the_number() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let good = p.b.format(Form::Twelve);
    let mut bad = good.clone().into_bytes();
    let last = bad.len() - 1;
    bad[last] = b'0' + (bad[last] - b'0' + 1) % 10;
    let bad = String::from_utf8(bad).unwrap();
    let f = write(
        tmp.path(),
        "dors.txt",
        format!(
            "PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n{bad};20240101;I10;\r\n19501399-1234;20240101;I10;\r\n12345;20240101;I10;\r\n;20240101;I10;\r\n"
        )
        .as_bytes(),
    );
    let store_dir = tmp.path().join("store");
    let r = load(&store_dir, &[f], &options(reference())).unwrap();
    let reasons = &r.totals.rejected_by_reason;
    assert_eq!(
        reasons.get("invalid_identity.bad_check_digit"),
        Some(&1),
        "{r}"
    );
    assert_eq!(
        reasons.get("invalid_identity.impossible_date"),
        Some(&1),
        "{r}"
    );
    assert_eq!(
        reasons.get("invalid_identity.wrong_length"),
        Some(&1),
        "{r}"
    );
    assert_eq!(reasons.get("missing_field"), Some(&1), "{r}");
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    for q in snap.quarantine().unwrap() {
        assert_eq!(q.identity, None);
        assert!(q.detail.starts_with("PERSONNR"), "{}", q.detail);
        assert!(
            !q.detail.contains(&bad) && !q.detail.contains(&bad[2..]),
            "{}",
            q.detail
        );
    }
}

fn assert_nothing_loaded(store_dir: &std::path::Path) {
    assert_eq!(current(store_dir), None);
}

#[test]
fn empty_file_aborts_the_load_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let files = write_set(&tmp.path().join("in"), &p);
    let empty = write(tmp.path(), "in/empty.txt", b"");
    let store_dir = tmp.path().join("store");
    let err = load(&store_dir, &[tmp.path().join("in")], &options(reference())).unwrap_err();
    assert!(matches!(err, IngestError::Empty { .. }), "{err}");
    assert!(err.to_string().contains("empty.txt"), "{err}");
    assert_nothing_loaded(&store_dir);
    std::fs::remove_file(empty).unwrap();
    // A header with no rows is fine: nothing to load from it.
    let header_only = write(
        tmp.path(),
        "in/dors2.txt",
        b"PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n",
    );
    let r = load(&store_dir, &[header_only], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_read, 0);
    assert!(files.len() > 3);
}

#[test]
fn unknown_header_aborts_and_shows_the_header_without_ids() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let f = write(
        tmp.path(),
        "odd.csv",
        format!("id;datum;kod\n{};20240101;I10\n", p.a.format(Form::Twelve)).as_bytes(),
    );
    let store_dir = tmp.path().join("store");
    let err = load(&store_dir, std::slice::from_ref(&f), &options(reference())).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, IngestError::UnknownFormat { .. }), "{msg}");
    assert!(
        msg.contains("odd.csv") && msg.contains("id;datum;kod"),
        "{msg}"
    );
    assert_nothing_loaded(&store_dir);
    // A header whose first line is an identity number is shown scrubbed.
    let g = write(
        tmp.path(),
        "g.csv",
        format!("{}\n", p.a.format(Form::Twelve)).as_bytes(),
    );
    let msg = load(&store_dir, &[g], &options(reference()))
        .unwrap_err()
        .to_string();
    assert!(!msg.contains(&p.a.format(Form::Twelve)), "{msg}");
    // Forcing a format whose columns are missing names them.
    let opts = IngestOptions {
        format: Some(Format::Lab),
        ..options(reference())
    };
    let msg = load(&store_dir, &[f], &opts).unwrap_err().to_string();
    assert!(
        msg.contains("not a lab file") && msg.contains("provtagningstid"),
        "{msg}"
    );
}

#[test]
fn latin1_file_is_read_as_windows_1252() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let f = write(
        tmp.path(),
        "region_01/rekvisition.csv",
        &cp1252(&format!(
            "personnummer;administreringsdatum;atc;dos;enhet;avdelning\n{};2023-01-01;L01FD01;440;mg;Onkologi Södersjukhuset\n",
            p.a.format(Form::Twelve)
        )),
    );
    let store_dir = tmp.path().join("store");
    let r = load(&store_dir, &[f], &options(reference())).unwrap();
    assert_eq!(r.files[0].encoding, "windows-1252");
    assert_eq!(r.files[0].rows_accepted, 1);
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    let (_, e) = &snap.events().unwrap()[0];
    assert_eq!(e.provider.as_deref(), Some("Onkologi Södersjukhuset"));
    assert_eq!(e.provider_region.as_deref(), Some("01"));
    assert_eq!((e.quantity, e.unit.as_deref()), (Some(440.0), Some("mg")));
}

#[test]
fn gzip_is_read_and_truncated_gzip_aborts() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let mut content = String::from("PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n");
    for i in 0..200u16 {
        let x = pnr(
            d(1940, 1, 1) + chrono::Duration::days(i64::from(i)),
            i,
            false,
        );
        content.push_str(&format!("{};20240101;I10;\r\n", x.format(Form::Twelve)));
    }
    let _ = &p;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(content.as_bytes()).unwrap();
    let gz = enc.finish().unwrap();
    let whole = write(tmp.path(), "ok/dors.txt.gz", &gz);
    let cut = write(tmp.path(), "cut/dors.txt.gz", &gz[..gz.len() * 2 / 3]);
    let store_dir = tmp.path().join("store");
    let err = load(&store_dir, &[whole.clone(), cut], &options(reference())).unwrap_err();
    assert!(matches!(err, IngestError::Gzip { .. }), "{err}");
    assert!(err.to_string().contains("cut/dors.txt.gz"), "{err}");
    assert_nothing_loaded(&store_dir);
    let r = load(&store_dir, &[whole], &options(reference())).unwrap();
    assert!(r.files[0].gzip);
    assert_eq!(r.files[0].rows_accepted, 200);
}

#[test]
fn rows_with_wrong_column_counts_and_garbage_are_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let a = p.a.format(Form::Twelve);
    let mut content = format!(
        "PERSONNR;EDATUM;ATC;VARUNR;ANTAL;FDATUM\r\n{a};20230110;A10BA02;123456;2;20230105\r\n{a};20230110;A10BA02\r\n"
    )
    .into_bytes();
    content.extend_from_slice(b"\x00\xff\xfe garbage \x80\x81;;\r\n");
    content
        .extend_from_slice(format!("{a};20230110;A10BA02;123456;2;20230105;extra\r\n").as_bytes());
    let f = write(tmp.path(), "lmed.txt", &content);
    let store_dir = tmp.path().join("store");
    let r = load(&store_dir, &[f], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_read, 4);
    assert_eq!(r.totals.rows_accepted, 1);
    assert_eq!(
        r.totals.rejected_by_reason.get("wrong_column_count"),
        Some(&3),
        "{r}"
    );
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    let mut lines: Vec<u64> = snap.quarantine().unwrap().iter().map(|q| q.line).collect();
    lines.sort();
    assert_eq!(lines, vec![3, 4, 5]);
    // A file of nothing but garbage is not a register file.
    let g = write(
        tmp.path(),
        "garbage.bin",
        &[0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13],
    );
    let err = load(&store_dir, &[g], &options(reference())).unwrap_err();
    assert!(matches!(err, IngestError::UnknownFormat { .. }), "{err}");
}

#[test]
fn duplicate_rows_and_files_are_caught() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let line = format!("{};20240101;I10;\r\n", p.a.format(Form::Twelve));
    let content = format!("PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n{line}{line}");
    let f1 = write(tmp.path(), "a/dors.txt", content.as_bytes());
    let f2 = write(tmp.path(), "b/dors.txt", content.as_bytes());
    let store_dir = tmp.path().join("store");
    let r = load(&store_dir, &[f1, f2], &options(reference())).unwrap();
    assert_eq!(r.files.len(), 1);
    assert_eq!(r.skipped.len(), 1);
    assert_eq!(r.totals.rejected_by_reason.get("duplicate_row"), Some(&1));
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    let q = snap.quarantine().unwrap();
    assert_eq!(q[0].line, 3);
    assert_eq!(q[0].identity, Some(pseudonym(&p.a)));
}

#[test]
fn two_residence_periods_with_one_start_are_not_silently_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let p = people();
    let a = p.a.format(Form::Twelve);
    let b = p.b.format(Form::Twelve);
    let header = "PERSONNR;KON;FODELSEDATUM;LAN;KOMMUN;FRAN_DATUM;TILL_DATUM;INVANDRING_DATUM;UTVANDRING_DATUM";
    let content = format!(
        "{header}\r\n\
         {a};1;19500304;01;0180;20120101;;;\r\n\
         {a};1;19500304;12;1280;20120101;;;\r\n\
         {b};2;19800506;14;1480;20120101;;;\r\n\
         {b};2;19800506;14;1480;20120101;;19700101;\r\n"
    );
    let f = write(
        tmp.path(),
        "population/folkbokforing.txt",
        content.as_bytes(),
    );
    let store_dir = tmp.path().join("store");
    let r = load(&store_dir, &[f], &options(reference())).unwrap();
    assert_eq!(r.totals.rows_read, 4);
    // b's second line repeats the same period (another immigration date):
    // harmless. a's second line contradicts the first: quarantined.
    assert_eq!(r.totals.rows_accepted, 3, "{r}");
    assert_eq!(
        r.totals.rejected_by_reason.get("conflicting_residence"),
        Some(&1),
        "{r}"
    );
    let snap = Store::open(&store_dir).unwrap().snapshot(None).unwrap();
    let q = snap.quarantine().unwrap();
    assert_eq!(q.len(), 1);
    assert_eq!(q[0].line, 3);
    assert_eq!(q[0].reason, "conflicting_residence");
    assert_eq!(q[0].identity, Some(pseudonym(&p.a)));
    assert!(q[0].detail.contains("line 2"), "{}", q[0].detail);
    assert!(!q[0].detail.contains(&a), "no personnummer in the detail");
    let res = snap.residences().unwrap();
    let of_a: Vec<_> = res
        .iter()
        .filter(|r| r.residence.patient.to_string() == pseudonym(&p.a))
        .map(|r| r.residence.region.clone())
        .collect();
    assert_eq!(of_a, vec!["01".to_owned()]);
}
