//! End-to-end tests of the generator: determinism, formats, defects against
//! the manifest, codes against the codes crate, prevalences, edge configs.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::Path;

use chrono::NaiveDate;
use halsohub_codes::{CodeRegistry, System};
use halsohub_identity::{IdError, IdentityNumber, ParseOptions};
use halsohub_synth::{Config, DefectCounts, Summary, SynthError, generate};

fn config(patients: u64, seed: u64, defect_rate: f64) -> Config {
    Config {
        patients,
        seed,
        defect_rate,
        chunk_size: 256,
        ..Config::default()
    }
}

fn gen_in(dir: &Path, cfg: &Config) -> Summary {
    generate(cfg, dir, &|_| {}).unwrap()
}

/// Every file under `dir`, relative path → bytes.
fn read_tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.insert(rel, fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// A file decoded to lines (BOM stripped, Windows-1252 for national files).
struct Parsed {
    header: String,
    rows: Vec<String>,
    delimiter: char,
}

fn parse(dir: &Path, rel: &str) -> Parsed {
    let bytes = fs::read(dir.join(rel)).unwrap();
    let national = !rel.starts_with("region_");
    let text = if national {
        let (t, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
        assert!(
            !t.split('\n').any(|l| !l.is_empty() && !l.ends_with('\r')),
            "{rel}: every national line ends with CRLF"
        );
        t.replace("\r\n", "\n")
    } else {
        let t = String::from_utf8(bytes).unwrap();
        assert!(!t.contains('\r'), "{rel}: regional files use LF");
        t.strip_prefix('\u{feff}').unwrap_or(&t).to_string()
    };
    let mut lines = text.split('\n');
    let header = lines.next().unwrap().to_string();
    let rows: Vec<String> = lines
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    let delimiter = if rel.ends_with(".tsv") {
        '\t'
    } else if rel.ends_with("primarvard.csv") {
        ','
    } else {
        ';'
    };
    Parsed {
        header,
        rows,
        delimiter,
    }
}

/// The format table of docs/formats.md: synthetic file path → header.
fn spec_headers() -> BTreeMap<String, String> {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/formats.md"))
            .unwrap();
    let mut out = BTreeMap::new();
    // Only the register section: later sections (FHIR, OMOP) have tables too.
    let register = doc
        .lines()
        .skip_while(|l| !l.starts_with("## Swedish register extracts"))
        .skip(1)
        .take_while(|l| !l.starts_with("## "));
    for line in register.filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | name | holder (`path`) | delimiter | encoding | `header` |
        let holder = cells[2];
        let path = holder.split('`').nth(1).unwrap().to_string();
        let header = cells[5].trim_matches('`').to_string();
        out.insert(path, header);
    }
    out
}

fn files_of(dir: &Path) -> Vec<String> {
    read_tree(dir)
        .into_keys()
        .filter(|k| k != "manifest.json")
        .collect()
}

/// The `region_NN/...` spec path for a concrete file.
fn spec_path(rel: &str) -> String {
    match rel.split_once('/') {
        Some((r, f)) if r.starts_with("region_") => format!("region_NN/{f}"),
        _ => rel.to_string(),
    }
}

#[test]
fn same_seed_gives_identical_bytes_whatever_the_thread_count() {
    let cfg = config(1_500, 7, 0.01);
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let c = tempfile::tempdir().unwrap();
    rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| gen_in(a.path(), &cfg));
    rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap()
        .install(|| gen_in(b.path(), &cfg));
    gen_in(
        c.path(),
        &Config {
            seed: 8,
            ..cfg.clone()
        },
    );
    let ta = read_tree(a.path());
    let tb = read_tree(b.path());
    assert_eq!(ta.len(), 6 + 3 * 21 + 1);
    assert_eq!(ta, tb);
    assert_ne!(ta, read_tree(c.path()));
}

#[test]
fn headers_paths_and_encodings_follow_the_format_spec() {
    let dir = tempfile::tempdir().unwrap();
    let summary = gen_in(dir.path(), &config(800, 3, 0.0));
    let spec = spec_headers();
    assert_eq!(spec.len(), 9);
    let files = files_of(dir.path());
    for rel in &files {
        let p = parse(dir.path(), rel);
        let want = spec
            .get(&spec_path(rel))
            .unwrap_or_else(|| panic!("{rel} not in docs/formats.md"));
        assert_eq!(&p.header, want, "{rel}");
        let cols = want.split(p.delimiter).count();
        for (i, row) in p.rows.iter().enumerate() {
            assert_eq!(row.split(p.delimiter).count(), cols, "{rel} line {}", i + 2);
        }
        let m = &summary.files[rel];
        assert_eq!(m.rows, p.rows.len() as u64, "{rel}");
        let bytes = fs::read(dir.path().join(rel)).unwrap();
        assert_eq!(bytes.starts_with(b"\xEF\xBB\xBF"), m.bom, "{rel}");
    }
    // every region is present, with its real län code
    let lans: HashSet<&str> = files
        .iter()
        .filter_map(|f| f.strip_prefix("region_"))
        .map(|f| &f[..2])
        .collect();
    let want: HashSet<&str> = [
        "01", "03", "04", "05", "06", "07", "08", "09", "10", "12", "13", "14", "17", "18", "19",
        "20", "21", "22", "23", "24", "25",
    ]
    .into_iter()
    .collect();
    assert_eq!(lans, want);
}

/// The main date field of a row, by format.
fn main_date_field(rel: &str, fields: &[&str]) -> String {
    let i = match spec_path(rel).as_str() {
        "population/folkbokforing.txt" => 5,
        _ => 1,
    };
    let f = fields[i];
    // lab sample time: date and HH:MM
    f.split(' ').next().unwrap_or("").to_string()
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y%m%d")
        .or_else(|_| NaiveDate::parse_from_str(s, "%Y-%m-%d"))
        .ok()
}

fn parse_number(s: &str) -> Option<f64> {
    let s = s.trim_start_matches(['<', '>']);
    if s.is_empty() || s.chars().filter(|c| *c == ',').count() > 1 {
        return None;
    }
    s.replace(',', ".")
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
}

/// Re-derives every defect of a file from its content.
fn count_defects(
    dir: &Path,
    rel: &str,
    reg: &CodeRegistry,
    extract: NaiveDate,
) -> (DefectCounts, Vec<String>) {
    let p = parse(dir, rel);
    let opts = ParseOptions::new(extract);
    let mut c = DefectCounts::default();
    let mut problems = Vec::new();
    let kind = spec_path(rel);
    let mut prev: Option<&String> = None;
    for row in &p.rows {
        if prev == Some(row) {
            c.exact_duplicate += 1;
            prev = None; // a third copy would count again
            continue;
        }
        prev = Some(row);
        let f: Vec<&str> = row.split(p.delimiter).collect();
        match IdentityNumber::parse(f[0], &opts) {
            Ok(_) => {}
            Err(IdError::BadCheckDigit) => {
                c.bad_check_digit += 1;
                continue;
            }
            Err(e) => problems.push(format!("{rel}: unexpected identity error {e}")),
        }
        if kind == "population/personnummerbyten.txt" {
            continue;
        }
        let date = main_date_field(rel, &f);
        if date.is_empty() {
            c.missing_field += 1;
            continue;
        }
        let dors_partial =
            kind == "socialstyrelsen/dors.txt" && date.len() == 8 && date.ends_with("00");
        if !dors_partial && parse_date(&date).is_none() {
            c.impossible_date += 1;
            continue;
        }
        // codes
        let codes: Vec<(System, String)> = match kind.as_str() {
            "socialstyrelsen/par_sluten.txt" => vec![(System::Icd10Se, f[3].to_string())],
            "socialstyrelsen/par_oppen.txt" => vec![(System::Icd10Se, f[2].to_string())],
            "socialstyrelsen/lmed.txt" => vec![(System::Atc, f[2].to_string())],
            "socialstyrelsen/dors.txt" => vec![(System::Icd10Se, f[2].to_string())],
            "region_NN/primarvard.csv" => f[2]
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| (System::Icd10Se, s.to_string()))
                .collect(),
            "region_NN/rekvisition.csv" => vec![(System::Atc, f[2].to_string())],
            "region_NN/lab.tsv" => {
                let sys = if f[3] == "LOINC" {
                    System::Loinc
                } else {
                    System::Npu
                };
                vec![(sys, f[2].to_string())]
            }
            _ => vec![],
        };
        let unknown = codes.iter().any(|(s, code)| !reg.is_known(s, code));
        if unknown {
            c.unknown_code += 1;
            continue;
        }
        let value = match kind.as_str() {
            "socialstyrelsen/lmed.txt" => Some(f[4]),
            "region_NN/rekvisition.csv" => Some(f[3]),
            "region_NN/lab.tsv" => Some(f[4]),
            _ => None,
        };
        if let Some(v) = value {
            match parse_number(v) {
                None => c.unparseable_value += 1,
                Some(x) if kind == "region_NN/lab.tsv" => {
                    let sys = if f[3] == "LOINC" {
                        System::Loinc
                    } else {
                        System::Npu
                    };
                    match halsohub_codes::units::to_canonical(&sys, f[2], x, f[5]) {
                        Ok(_) => {}
                        Err(e) => {
                            problems.push(format!("{rel}: unit {:?} for {}: {e}", f[5], f[2]))
                        }
                    }
                }
                Some(_) => {}
            }
        }
        // other codes in the row must all be known
        let extra: Vec<(System, &str)> = match kind.as_str() {
            "socialstyrelsen/par_sluten.txt" => f[4]
                .split(' ')
                .map(|s| (System::Icd10Se, s))
                .chain(
                    f[5].split(' ')
                        .filter(|s| !s.is_empty())
                        .map(|s| (System::Kva, s)),
                )
                .collect(),
            "socialstyrelsen/par_oppen.txt" => f[3]
                .split(' ')
                .map(|s| (System::Icd10Se, s))
                .chain(
                    f[4].split(' ')
                        .filter(|s| !s.is_empty())
                        .map(|s| (System::Kva, s)),
                )
                .collect(),
            "socialstyrelsen/dors.txt" => f[3]
                .split(' ')
                .filter(|s| !s.is_empty())
                .map(|s| (System::Icd10Se, s))
                .collect(),
            _ => vec![],
        };
        for (s, code) in extra {
            if !reg.is_known(&s, code) {
                problems.push(format!(
                    "{rel}: code {code} ({s:?}) not in the built-in lists"
                ));
            }
        }
    }
    (c, problems)
}

#[test]
fn defects_in_the_files_match_the_manifest_and_all_other_codes_are_known() {
    let dir = tempfile::tempdir().unwrap();
    let summary = gen_in(dir.path(), &config(1_200, 11, 0.03));
    let reg = CodeRegistry::builtin();
    let mut all_problems = BTreeMap::new();
    let mut total = DefectCounts::default();
    for rel in files_of(dir.path()) {
        let (counted, problems) = count_defects(dir.path(), &rel, &reg, summary.extract_date);
        assert_eq!(counted, summary.files[&rel].defects, "{rel}");
        if !problems.is_empty() {
            all_problems.insert(rel.clone(), problems);
        }
        total.bad_check_digit += counted.bad_check_digit;
        total.unknown_code += counted.unknown_code;
        total.impossible_date += counted.impossible_date;
        total.missing_field += counted.missing_field;
        total.exact_duplicate += counted.exact_duplicate;
        total.unparseable_value += counted.unparseable_value;
    }
    assert!(all_problems.is_empty(), "{all_problems:#?}");
    assert_eq!(total, summary.defects_total);
    for k in halsohub_synth::DefectKind::ALL {
        assert!(total.get(k) > 0, "some {k:?} defects at 3 %");
    }
}

#[test]
fn without_defects_every_code_and_unit_is_known() {
    let dir = tempfile::tempdir().unwrap();
    let summary = gen_in(dir.path(), &config(1_500, 5, 0.0));
    let reg = CodeRegistry::builtin();
    for rel in files_of(dir.path()) {
        let (counted, problems) = count_defects(dir.path(), &rel, &reg, summary.extract_date);
        assert_eq!(counted, DefectCounts::default(), "{rel}");
        assert!(problems.is_empty(), "{problems:#?}");
    }
    assert_eq!(summary.defects_total.total(), 0);
}

#[test]
fn id_changes_split_a_persons_rows_at_the_change_date() {
    let dir = tempfile::tempdir().unwrap();
    let summary = gen_in(dir.path(), &config(6_000, 2, 0.0));
    let changes = parse(dir.path(), "population/personnummerbyten.txt");
    assert_eq!(changes.rows.len() as u64, summary.population.id_changes);
    assert!(summary.population.id_changes > 0);
    let mut by_old: HashMap<String, (String, NaiveDate)> = HashMap::new();
    for r in &changes.rows {
        let f: Vec<&str> = r.split(';').collect();
        assert_eq!(f[0][..6], f[1][..6], "same birth year and month");
        let old_day: u32 = f[0][6..8].parse().unwrap();
        assert!(old_day > 60, "the old number is a samordningsnummer");
        by_old.insert(
            f[0].to_string(),
            (f[1].to_string(), parse_date(f[2]).unwrap()),
        );
    }
    let new_ids: HashMap<&String, NaiveDate> = by_old.values().map(|(n, d)| (n, *d)).collect();
    let lmed = parse(dir.path(), "socialstyrelsen/lmed.txt");
    let (mut old_rows, mut new_rows) = (0, 0);
    for r in &lmed.rows {
        let f: Vec<&str> = r.split(';').collect();
        let day = parse_date(f[1]).unwrap();
        if let Some((_, change)) = by_old.get(f[0]) {
            assert!(day < *change);
            old_rows += 1;
        }
        if let Some(change) = new_ids.get(&f[0].to_string()) {
            assert!(day >= *change);
            new_rows += 1;
        }
    }
    assert!(old_rows + new_rows > 0);
    // the population register lists only the new numbers
    let pop = parse(dir.path(), "population/folkbokforing.txt");
    for r in &pop.rows {
        assert!(!by_old.contains_key(r.split(';').next().unwrap()));
    }
}

#[test]
fn manifest_holds_no_identity_number() {
    let dir = tempfile::tempdir().unwrap();
    gen_in(dir.path(), &config(500, 9, 0.01));
    let manifest = fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    let pop = parse(dir.path(), "population/folkbokforing.txt");
    for r in &pop.rows {
        let id = r.split(';').next().unwrap();
        if id.len() == 12 {
            assert!(!manifest.contains(id));
            assert!(!manifest.contains(&id[2..]));
        }
    }
    let back: Summary = serde_json::from_str(&manifest).unwrap();
    assert_eq!(back.population.persons, 500);
}

#[test]
fn prevalences_and_population_structure_are_plausible() {
    let dir = tempfile::tempdir().unwrap();
    let s = gen_in(
        dir.path(),
        &Config {
            patients: 20_000,
            ..config(0, 42, 0.0)
        },
    );
    let n = s.population.persons as f64;
    let share = |name: &str| s.diseases[name] as f64 / n;
    let ranges = [
        ("hypertension", 0.12, 0.35),
        ("type_2_diabetes", 0.04, 0.10),
        ("asthma", 0.05, 0.16),
        ("depression", 0.06, 0.22),
        ("atrial_fibrillation", 0.02, 0.07),
        ("heart_failure", 0.01, 0.05),
        ("stroke", 0.015, 0.06),
        ("copd", 0.01, 0.05),
        ("chronic_kidney_disease", 0.01, 0.05),
        ("breast_cancer", 0.003, 0.02),
        ("prostate_cancer", 0.004, 0.025),
        ("colorectal_cancer", 0.003, 0.015),
    ];
    for (name, lo, hi) in ranges {
        let v = share(name);
        assert!((lo..=hi).contains(&v), "{name}: {v:.4} not in {lo}..{hi}");
    }
    let p = &s.population;
    let deaths = p.deaths as f64 / n;
    assert!((0.07..0.18).contains(&deaths), "deaths {deaths}");
    let women = p.women as f64 / n;
    assert!((0.47..0.53).contains(&women), "women {women}");
    assert!((0.09..0.17).contains(&(p.born_in_period as f64 / n)));
    assert!((0.015..0.06).contains(&(p.immigrated_in_period as f64 / n)));
    assert!((0.01..0.04).contains(&(p.emigrated as f64 / n)));
    assert!((0.02..0.08).contains(&(p.moves as f64 / n)));
    assert!(p.id_changes > 0 && p.death_dates_unknown_day > 0);
    // Stockholm is the largest region, Gotland the smallest.
    let pc = |lan: &str| s.files[&format!("region_{lan}/primarvard.csv")].rows;
    assert!(pc("01") > pc("14") && pc("14") > pc("12") && pc("12") > pc("09"));
    // Lab values follow disease: HbA1c of people on metformin is higher.
    let lmed = parse(dir.path(), "socialstyrelsen/lmed.txt");
    let metformin: HashSet<String> = lmed
        .rows
        .iter()
        .filter(|r| r.contains(";A10BA02;"))
        .map(|r| r.split(';').next().unwrap().to_string())
        .collect();
    assert!(metformin.len() as f64 > 0.5 * s.diseases["type_2_diabetes"] as f64);
    let lab = parse(dir.path(), "region_01/lab.tsv");
    let hba1c: Vec<f64> = lab
        .rows
        .iter()
        .filter_map(|r| {
            let f: Vec<&str> = r.split('\t').collect();
            (f[2] == "NPU27300").then(|| parse_number(f[4]).unwrap())
        })
        .collect();
    assert!(!hba1c.is_empty());
    let mean = hba1c.iter().sum::<f64>() / hba1c.len() as f64;
    assert!((45.0..65.0).contains(&mean), "mean HbA1c {mean}");
}

#[test]
fn edge_configurations() {
    // no persons: header-only files and a manifest
    let dir = tempfile::tempdir().unwrap();
    let s = gen_in(dir.path(), &config(0, 1, 0.002));
    assert_eq!(s.population.persons, 0);
    assert_eq!(s.rows_total, 0);
    assert_eq!(files_of(dir.path()).len(), 69);
    // one person
    let dir = tempfile::tempdir().unwrap();
    let s = gen_in(dir.path(), &config(1, 1, 0.0));
    assert_eq!(s.population.persons, 1);
    assert!(s.files["population/folkbokforing.txt"].rows >= 1);
    // every row defective
    let dir = tempfile::tempdir().unwrap();
    let s = gen_in(dir.path(), &config(60, 1, 1.0));
    let changes = s.files["population/personnummerbyten.txt"].rows;
    assert_eq!(
        s.defects_total.total(),
        s.rows_total - changes - s.defects_total.exact_duplicate
    );
    // invalid configurations are refused with a clear error
    for rate in [-0.1, 1.5, f64::NAN] {
        let dir = tempfile::tempdir().unwrap();
        let err = generate(&config(10, 1, rate), dir.path(), &|_| {}).unwrap_err();
        assert!(matches!(err, SynthError::InvalidConfig(_)), "{err}");
        assert!(err.to_string().contains("defect rate"));
    }
    let dir = tempfile::tempdir().unwrap();
    let bad = Config {
        start: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
        end: NaiveDate::from_ymd_opt(2019, 1, 1).unwrap(),
        ..config(10, 1, 0.0)
    };
    assert!(matches!(
        generate(&bad, dir.path(), &|_| {}),
        Err(SynthError::InvalidConfig(_))
    ));
    let zero_chunk = Config {
        chunk_size: 0,
        ..config(10, 1, 0.0)
    };
    assert!(matches!(
        generate(&zero_chunk, dir.path(), &|_| {}),
        Err(SynthError::InvalidConfig(_))
    ));
    // an existing set is not overwritten
    let dir = tempfile::tempdir().unwrap();
    gen_in(dir.path(), &config(5, 1, 0.0));
    let before = read_tree(dir.path());
    let err = generate(&config(5, 2, 0.0), dir.path(), &|_| {}).unwrap_err();
    assert!(matches!(err, SynthError::OutputExists { .. }), "{err}");
    assert_eq!(read_tree(dir.path()), before);
    // an output path that is a file gives an I/O error naming it
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    fs::write(&file, b"x").unwrap();
    let err = generate(&config(5, 1, 0.0), &file, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("not-a-dir"), "{err}");
}

#[test]
fn progress_reports_every_person_once_at_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let seen = std::cell::RefCell::new(Vec::new());
    let cfg = Config {
        chunk_size: 16,
        ..config(1_000, 1, 0.0)
    };
    generate(&cfg, dir.path(), &|n| seen.borrow_mut().push(n)).unwrap();
    let seen = seen.into_inner();
    assert_eq!(seen.last(), Some(&1_000));
    assert!(seen.windows(2).all(|w| w[0] <= w[1]));
    assert!(seen.len() > 1);
}
