//! Tests against the real ICD-10-CM 2026 file in `shared/data`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use halsohub_codes::hierarchy::{Icd10Node, block_of, chapter_of};
use halsohub_codes::{CodeRegistry, Lookup, System, normalise};

fn cm_path() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join("../../../shared/data/icd10cm-2026/icd10cm_2026.csv.gz"),
        PathBuf::from("/work/shared/data/icd10cm-2026/icd10cm_2026.csv.gz"),
    ]
    .into_iter()
    .find(|p| p.exists())
}

struct Row {
    code: String,
    title: String,
    parent: String,
    kind: String,
}

fn rows(path: &Path) -> Vec<Row> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut rdr = csv::Reader::from_reader(text.as_bytes());
    rdr.records()
        .map(|r| {
            let r = r.unwrap();
            Row {
                code: r[0].to_owned(),
                title: r[1].to_owned(),
                parent: r[2].to_owned(),
                kind: r[3].to_owned(),
            }
        })
        .collect()
}

#[test]
fn loads_the_icd10cm_file() {
    let Some(path) = cm_path() else {
        eprintln!("ICD-10-CM file not found; skipping");
        return;
    };
    let mut reg = CodeRegistry::new();
    let n = reg.load_file(System::Icd10Cm, &path).unwrap();
    let expected = rows(&path)
        .iter()
        .filter(|r| r.kind != "chapter" && r.kind != "block")
        .count();
    assert_eq!(n, expected);
    assert_eq!(reg.len(&System::Icd10Cm), expected);
    let e = reg.lookup(&System::Icd10Cm, "e11.9").unwrap();
    assert_eq!(e.code(), "E119");
    assert_eq!(e.title(), "Type 2 diabetes mellitus without complications");
    assert!(reg.is_known(&System::Icd10Cm, "S72.001A"));
    assert_eq!(
        reg.resolve(&System::Icd10Cm, "E11.99").unwrap(),
        Lookup::NotInList("E1199".into())
    );
    let hits = reg.search(&System::Icd10Cm, "e11.6", 50);
    assert!(!hits.is_empty() && hits.iter().all(|h| h.code().starts_with("E116")));
    let hits = reg.search(&System::Icd10Cm, "ATRIAL FIBRILLATION", 10);
    assert!(hits.iter().any(|h| h.code().starts_with("I48")));
    // Loading it as ICD-10-SE fails (7-character codes), naming the line,
    // and adds nothing.
    let mut se = CodeRegistry::new();
    let err = se
        .load_file(System::Icd10Se, &path)
        .unwrap_err()
        .to_string();
    assert!(err.contains("icd10cm_2026.csv.gz:"), "{err}");
    assert!(err.contains("ICD-10-SE code"), "{err}");
    assert_eq!(se.len(&System::Icd10Se), 0);
}

/// The chapter and block computed from code ranges agree with the file's own
/// parent links for every category.
#[test]
fn hierarchy_agrees_with_the_file() {
    let Some(path) = cm_path() else {
        eprintln!("ICD-10-CM file not found; skipping");
        return;
    };
    let rows = rows(&path);
    // block id -> chapter number; category -> block id
    let mut block_chapter: HashMap<String, u8> = HashMap::new();
    for r in rows.iter().filter(|r| r.kind == "block") {
        block_chapter.insert(r.code.clone(), r.parent.parse().unwrap());
    }
    let mut checked = 0;
    for r in rows.iter().filter(|r| r.kind == "category") {
        let code = normalise(&System::Icd10Cm, &r.code).unwrap();
        // A category's parent is a block (sometimes a block nested in a
        // block, whose own parent is the chapter).
        let mut parent = r.parent.clone();
        let chapter = loop {
            match block_chapter.get(&parent) {
                Some(&ch) => break ch,
                None => {
                    let up = rows
                        .iter()
                        .find(|x| x.code == parent && x.kind == "block")
                        .map(|x| x.parent.clone())
                        .expect("parent block");
                    parent = up;
                }
            }
        };
        let ours = chapter_of(&code).map(|c| c.number);
        assert_eq!(ours, Some(chapter), "{}", r.code);
        assert!(Icd10Node::Chapter(chapter).contains(&code));
        // The CM block, read as a range, contains its categories. (CM files
        // categories such as C4A or M1A under a block by convention, which
        // no range expresses; they are left out here.)
        let digit_category = code.as_bytes().get(2).is_some_and(u8::is_ascii_digit);
        if let Some((a, b)) = r.parent.split_once('-')
            && digit_category
        {
            let node = Icd10Node::parse(&System::Icd10Cm, &format!("{a}-{b}")).unwrap();
            assert!(node.contains(&code), "{} in {}", r.code, r.parent);
        }
        checked += 1;
    }
    assert!(checked > 1900, "{checked}");
    // Every WHO-shaped CM category lies in one of our (WHO) blocks.
    let missing: Vec<&str> = rows
        .iter()
        .filter(|r| r.kind == "category")
        .map(|r| r.code.as_str())
        .filter(|c| c.as_bytes().get(2).is_some_and(u8::is_ascii_digit))
        .filter(|c| block_of(c).is_none())
        .collect();
    // CM adds a few categories outside WHO's blocks; keep the gap small.
    assert!(missing.len() < 60, "{} missing: {missing:?}", missing.len());
}

/// Every ICD-10-CM row of the ICD-10 crosswalk names a code of the CDC
/// file with the file's title, under the category the row states; a row
/// that maps an ICD-10-SE code elsewhere (or nowhere) does so because the
/// CDC file has no such code.
#[test]
fn the_icd10_crosswalk_agrees_with_the_cdc_file() {
    use halsohub_codes::crosswalk::Equivalence;
    use halsohub_codes::crosswalk::icd10::icd10_crosswalk;
    let Some(path) = cm_path() else {
        eprintln!("ICD-10-CM file not found; skipping");
        return;
    };
    let rows = rows(&path);
    // normalised code -> (title, kind, parent), categories and subcategories.
    let mut by_code: HashMap<String, (&str, &str, &str)> = HashMap::new();
    for r in rows
        .iter()
        .filter(|r| r.kind == "category" || r.kind == "subcategory")
    {
        let code = normalise(&System::Icd10Cm, &r.code).unwrap();
        by_code.insert(code, (&r.title, &r.kind, &r.parent));
    }
    let mut checked = 0;
    for m in icd10_crosswalk()
        .iter()
        .filter(|m| m.system == System::Icd10Cm)
    {
        let se_category = &m.se[..3];
        match &m.target {
            Some(t) => {
                let (title, kind, _) = by_code
                    .get(t)
                    .unwrap_or_else(|| panic!("{t} not in the CDC file ({m:?})"));
                assert_eq!(Some(*title), m.target_title, "{m:?}");
                assert_eq!(
                    *kind,
                    if t.len() == 3 {
                        "category"
                    } else {
                        "subcategory"
                    }
                );
                // Its category is in the file, as a category.
                let (_, cat_kind, _) = by_code[&t[..3]];
                assert_eq!(cat_kind, "category", "{m:?}");
                if t[..3] == *se_category {
                    assert!(by_code.contains_key(se_category), "{m:?}");
                } else {
                    // Mapped to another category: ICD-10-CM has no such
                    // category (E14, I64, J46).
                    assert!(!by_code.contains_key(se_category), "{m:?}");
                    assert_ne!(m.equivalence, Equivalence::Equivalent, "{m:?}");
                }
                // A code mapped to something other than itself is absent
                // from the CDC file, or stands for something else there.
                if *t != m.se {
                    assert!(!by_code.contains_key(&m.se) || m.se.len() > 3, "{m:?}");
                }
            }
            None => {
                assert_eq!(m.equivalence, Equivalence::Unmatched);
                assert!(
                    !by_code.contains_key(&m.se),
                    "{} is in the CDC file: {m:?}",
                    m.se
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 40, "{checked}");
}
