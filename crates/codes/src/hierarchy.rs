//! Hierarchies: ICD-10 (chapter, block, category, subcategory) and ATC (five
//! levels), and the "is X within Y" test the cohort engine uses for code sets.
//!
//! All functions take *normalised* codes (see [`crate::normalise`]) unless
//! they say otherwise; [`is_within`] normalises for you.

use std::sync::LazyLock;

use crate::error::{CodeError, CodeProblem};
use crate::normalise::{ATC_GROUPS, normalise};
use crate::system::System;

/// An ICD-10 chapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chapter {
    /// 1..=22.
    pub number: u8,
    /// Roman numeral, `I`..`XXII`.
    pub roman: &'static str,
    /// First category of the chapter as published (e.g. `A00`).
    pub first: &'static str,
    /// Last category as published (e.g. `B99`).
    pub last: &'static str,
    /// Swedish title (ICD-10-SE).
    pub title: &'static str,
    /// Inclusive range of categories matched (wide enough to take in the
    /// categories ICD-10-CM adds, e.g. `D49`, `V00`).
    match_first: &'static str,
    match_last: &'static str,
}

macro_rules! chapter {
    ($n:expr, $r:expr, $f:expr, $l:expr, $mf:expr, $ml:expr, $t:expr) => {
        Chapter {
            number: $n,
            roman: $r,
            first: $f,
            last: $l,
            title: $t,
            match_first: $mf,
            match_last: $ml,
        }
    };
}

#[rustfmt::skip]
static CHAPTERS: [Chapter; 22] = [
    chapter!(1, "I", "A00", "B99", "A00", "BZZ", "Vissa infektionssjukdomar och parasitsjukdomar"),
    chapter!(2, "II", "C00", "D48", "C00", "D49", "Tumörer"),
    chapter!(3, "III", "D50", "D89", "D50", "DZZ", "Sjukdomar i blod och blodbildande organ samt vissa rubbningar i immunsystemet"),
    chapter!(4, "IV", "E00", "E90", "E00", "EZZ", "Endokrina sjukdomar, nutritionsrubbningar och ämnesomsättningssjukdomar"),
    chapter!(5, "V", "F00", "F99", "F00", "FZZ", "Psykiska sjukdomar och syndrom samt beteendestörningar"),
    chapter!(6, "VI", "G00", "G99", "G00", "GZZ", "Sjukdomar i nervsystemet"),
    chapter!(7, "VII", "H00", "H59", "H00", "H59", "Sjukdomar i ögat och närliggande organ"),
    chapter!(8, "VIII", "H60", "H95", "H60", "HZZ", "Sjukdomar i örat och mastoidutskottet"),
    chapter!(9, "IX", "I00", "I99", "I00", "IZZ", "Cirkulationsorganens sjukdomar"),
    chapter!(10, "X", "J00", "J99", "J00", "JZZ", "Andningsorganens sjukdomar"),
    chapter!(11, "XI", "K00", "K93", "K00", "KZZ", "Matsmältningsorganens sjukdomar"),
    chapter!(12, "XII", "L00", "L99", "L00", "LZZ", "Hudens och underhudens sjukdomar"),
    chapter!(13, "XIII", "M00", "M99", "M00", "MZZ", "Sjukdomar i muskuloskeletala systemet och bindväven"),
    chapter!(14, "XIV", "N00", "N99", "N00", "NZZ", "Sjukdomar i urin- och könsorganen"),
    chapter!(15, "XV", "O00", "O99", "O00", "OZZ", "Graviditet, förlossning och barnsängstid"),
    chapter!(16, "XVI", "P00", "P96", "P00", "PZZ", "Vissa perinatala tillstånd"),
    chapter!(17, "XVII", "Q00", "Q99", "Q00", "QZZ", "Medfödda missbildningar, deformiteter och kromosomavvikelser"),
    chapter!(18, "XVIII", "R00", "R99", "R00", "RZZ", "Symtom, sjukdomstecken och onormala kliniska fynd och laboratoriefynd som ej klassificeras på annat ställe"),
    chapter!(19, "XIX", "S00", "T98", "S00", "TZZ", "Skador, förgiftningar och vissa andra följder av yttre orsaker"),
    chapter!(20, "XX", "V01", "Y98", "V00", "YZZ", "Yttre orsaker till sjukdom och död"),
    chapter!(21, "XXI", "Z00", "Z99", "Z00", "ZZZ", "Faktorer av betydelse för hälsotillståndet och för kontakter med hälso- och sjukvården"),
    chapter!(22, "XXII", "U00", "U99", "U00", "UZZ", "Koder för särskilda ändamål"),
];

/// All 22 ICD-10 chapters, in order.
pub fn chapters() -> &'static [Chapter] {
    &CHAPTERS
}

/// The chapter of a normalised ICD-10 code (any level), if any.
pub fn chapter_of(code: &str) -> Option<&'static Chapter> {
    let cat = category(code)?;
    CHAPTERS
        .iter()
        .find(|c| c.match_first <= cat && cat <= c.match_last)
}

/// An ICD-10 block: a range of categories, e.g. `E10-E14`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// First category.
    pub first: String,
    /// Last category (inclusive).
    pub last: String,
    /// Swedish title.
    pub title: String,
}

impl Block {
    /// The block id, `first-last`.
    pub fn id(&self) -> String {
        format!("{}-{}", self.first, self.last)
    }

    /// Whether a normalised code falls in this block.
    pub fn contains(&self, code: &str) -> bool {
        category(code).is_some_and(|c| self.first.as_str() <= c && c <= self.last.as_str())
    }
}

static BLOCKS: LazyLock<Vec<Block>> = LazyLock::new(|| {
    include_str!("../data/icd10_blocks.tsv")
        .lines()
        .filter_map(|line| {
            let (range, title) = line.split_once('\t')?;
            let (first, last) = range.split_once('-')?;
            Some(Block {
                first: first.to_owned(),
                last: last.to_owned(),
                title: title.trim().to_owned(),
            })
        })
        .collect()
});

/// The WHO ICD-10 blocks (as used by ICD-10-SE), in order.
pub fn blocks() -> &'static [Block] {
    &BLOCKS
}

/// The block of a normalised ICD-10 code, if the code lies in one.
pub fn block_of(code: &str) -> Option<&'static Block> {
    BLOCKS.iter().find(|b| b.contains(code))
}

/// The 3-character category of a normalised ICD-10 code.
pub fn category(code: &str) -> Option<&str> {
    code.get(..3).filter(|c| c.len() == 3)
}

/// The level of an ICD-10 node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Icd10Level {
    /// A chapter (I..XXII).
    Chapter,
    /// A block of categories (`E10-E14`).
    Block,
    /// A 3-character category (`E11`).
    Category,
    /// 4 or more characters (`E119`).
    Subcategory,
}

/// A node of the ICD-10 hierarchy that codes can fall within.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Icd10Node {
    /// A chapter, by number 1..=22.
    Chapter(u8),
    /// A range of categories, inclusive (need not be a published block).
    Block {
        /// First category.
        first: String,
        /// Last category.
        last: String,
    },
    /// A category or subcategory (normalised); contains itself and every
    /// code that starts with it.
    Code(String),
}

fn roman_to_chapter(s: &str) -> Option<u8> {
    CHAPTERS.iter().find(|c| c.roman == s).map(|c| c.number)
}

impl Icd10Node {
    /// Reads a node: a chapter (`IV`, `kapitel IV`, `chapter 4`, `4`), a
    /// block (`E10-E14`, `e10–e14`), or a code (`E11`, `E11.9`).
    pub fn parse(system: &System, text: &str) -> Result<Icd10Node, CodeError> {
        let t = text.trim();
        let upper = t.to_uppercase();
        let bare = ["KAPITEL", "CHAPTER", "KAP.", "KAP"]
            .iter()
            .find_map(|p| upper.strip_prefix(p))
            .map(str::trim);
        let chapter_text = bare.unwrap_or(&upper);
        if let Some(n) = roman_to_chapter(chapter_text) {
            return Ok(Icd10Node::Chapter(n));
        }
        if let Ok(n) = chapter_text.parse::<u8>() {
            if (1..=22).contains(&n) {
                return Ok(Icd10Node::Chapter(n));
            }
            return Err(CodeError::new(
                system,
                text,
                CodeProblem::Node("a chapter number 1-22"),
            ));
        }
        if bare.is_some() {
            return Err(CodeError::new(
                system,
                text,
                CodeProblem::Node("a chapter I-XXII"),
            ));
        }
        let dashless = upper.replace(['–', '—'], "-");
        if let Some((a, b)) = dashless.split_once('-') {
            let first = normalise(system, a)?;
            let last = normalise(system, b)?;
            if first.len() != 3 || last.len() != 3 || first > last {
                return Err(CodeError::new(
                    system,
                    text,
                    CodeProblem::Node("a block of two categories in order, e.g. E10-E14"),
                ));
            }
            return Ok(Icd10Node::Block { first, last });
        }
        Ok(Icd10Node::Code(normalise(system, t)?))
    }

    /// The level of this node.
    pub fn level(&self) -> Icd10Level {
        match self {
            Icd10Node::Chapter(_) => Icd10Level::Chapter,
            Icd10Node::Block { .. } => Icd10Level::Block,
            Icd10Node::Code(c) if c.len() == 3 => Icd10Level::Category,
            Icd10Node::Code(_) => Icd10Level::Subcategory,
        }
    }

    /// Whether the normalised `code` is this node or lies below it.
    pub fn contains(&self, code: &str) -> bool {
        match self {
            Icd10Node::Chapter(n) => chapter_of(code).is_some_and(|c| c.number == *n),
            Icd10Node::Block { first, last } => {
                category(code).is_some_and(|c| first.as_str() <= c && c <= last.as_str())
            }
            Icd10Node::Code(prefix) => code.starts_with(prefix.as_str()),
        }
    }
}

/// The ancestors of a normalised ICD-10 code, from the chapter down to the
/// code's parent: chapter, block, category, then each shorter subcategory.
pub fn icd10_ancestors(code: &str) -> Vec<Icd10Node> {
    let mut out = Vec::new();
    if let Some(c) = chapter_of(code) {
        out.push(Icd10Node::Chapter(c.number));
    }
    if let Some(b) = block_of(code) {
        out.push(Icd10Node::Block {
            first: b.first.clone(),
            last: b.last.clone(),
        });
    }
    for len in 3..code.len() {
        if let Some(p) = code.get(..len) {
            out.push(Icd10Node::Code(p.to_owned()));
        }
    }
    out
}

/// The ATC level (1-5) of a normalised ATC code: `A`=1, `A10`=2, `A10B`=3,
/// `A10BA`=4, `A10BA02`=5.
pub fn atc_level(code: &str) -> Option<u8> {
    let ok_group = code
        .as_bytes()
        .first()
        .is_some_and(|c| ATC_GROUPS.contains(c));
    if !ok_group {
        return None;
    }
    match code.len() {
        1 => Some(1),
        3 => Some(2),
        4 => Some(3),
        5 => Some(4),
        7 => Some(5),
        _ => None,
    }
}

/// The ATC ancestors of a normalised code, level 1 first, excluding itself.
pub fn atc_ancestors(code: &str) -> Vec<&str> {
    let level = atc_level(code).unwrap_or(0);
    [1usize, 3, 4, 5]
        .iter()
        .take(usize::from(level.saturating_sub(1)))
        .filter_map(|&n| code.get(..n))
        .collect()
}

/// Whether the normalised ATC `code` is `ancestor` or lies below it.
pub fn atc_contains(ancestor: &str, code: &str) -> bool {
    atc_level(ancestor).is_some() && code.starts_with(ancestor)
}

/// Whether `code` is `ancestor` or a descendant of it, in `system`.
///
/// Both are normalised first. For ICD-10 the ancestor may be a chapter
/// (`IV`), a block (`E10-E14`), a category or a subcategory; for ATC any of
/// the five levels. Systems without a hierarchy here (KVÅ, NPU, LOINC,
/// SNOMED CT, other) compare for equality.
pub fn is_within(system: &System, code: &str, ancestor: &str) -> Result<bool, CodeError> {
    let code_n = normalise(system, code)?;
    if system.is_icd10() {
        let node = Icd10Node::parse(system, ancestor)?;
        return Ok(node.contains(&code_n));
    }
    let anc = normalise(system, ancestor)?;
    Ok(match system {
        System::Atc => atc_contains(&anc, &code_n),
        _ => anc == code_n,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapters_and_blocks() {
        assert_eq!(chapter_of("E119").unwrap().roman, "IV");
        assert_eq!(chapter_of("C50").unwrap().number, 2);
        assert_eq!(chapter_of("D50").unwrap().number, 3);
        assert_eq!(chapter_of("H60").unwrap().number, 8);
        assert_eq!(chapter_of("T14").unwrap().number, 19);
        assert_eq!(chapter_of("W19").unwrap().number, 20);
        assert_eq!(chapter_of("U071").unwrap().number, 22);
        assert_eq!(block_of("E119").unwrap().id(), "E10-E14");
        assert_eq!(block_of("I639").unwrap().id(), "I60-I69");
        assert_eq!(block_of("J449").unwrap().id(), "J40-J47");
        assert_eq!(block_of("N183").unwrap().id(), "N17-N19");
        assert_eq!(block_of("C50").unwrap().id(), "C50-C50");
        assert_eq!(blocks().len(), 235);
        // Blocks lie inside one chapter and are in order.
        for w in blocks().windows(2) {
            let (a, b) = (&w[0], &w[1]);
            assert!(a.first <= a.last, "{}", a.id());
            assert!(
                a.last < b.first || chapter_of(&a.first) != chapter_of(&b.first),
                "{} {}",
                a.id(),
                b.id()
            );
            assert_eq!(chapter_of(&a.first), chapter_of(&a.last), "{}", a.id());
        }
    }

    #[test]
    fn nodes() {
        let s = System::Icd10Se;
        assert_eq!(Icd10Node::parse(&s, "IV").unwrap(), Icd10Node::Chapter(4));
        assert_eq!(
            Icd10Node::parse(&s, "kapitel ix").unwrap(),
            Icd10Node::Chapter(9)
        );
        assert_eq!(Icd10Node::parse(&s, "4").unwrap(), Icd10Node::Chapter(4));
        assert!(Icd10Node::parse(&s, "23").is_err());
        assert_eq!(
            Icd10Node::parse(&s, "e10–e14").unwrap(),
            Icd10Node::Block {
                first: "E10".into(),
                last: "E14".into()
            }
        );
        assert!(Icd10Node::parse(&s, "E14-E10").is_err());
        assert_eq!(
            Icd10Node::parse(&s, "E11.9").unwrap().level(),
            Icd10Level::Subcategory
        );
    }

    #[test]
    fn within() {
        let s = System::Icd10Se;
        assert!(is_within(&s, "E11.9", "E10-E14").unwrap());
        assert!(is_within(&s, "E11.9", "IV").unwrap());
        assert!(is_within(&s, "E11.9", "E11").unwrap());
        assert!(is_within(&s, "E11.9", "E11.9").unwrap());
        assert!(!is_within(&s, "E11", "E11.9").unwrap());
        assert!(!is_within(&s, "E15", "E10-E14").unwrap());
        assert!(is_within(&s, "I64", "I60-I69").unwrap());
        let a = System::Atc;
        assert!(is_within(&a, "A10BA02", "A10").unwrap());
        assert!(is_within(&a, "A10BA02", "A").unwrap());
        assert!(!is_within(&a, "A10BA02", "C10").unwrap());
        assert!(is_within(&System::Loinc, "04548-4", "4548-4").unwrap());
        assert!(is_within(&a, "A10BA02", "X1").is_err());
    }

    #[test]
    fn ancestors() {
        assert_eq!(atc_ancestors("A10BA02"), vec!["A", "A10", "A10B", "A10BA"]);
        assert_eq!(atc_ancestors("A"), Vec::<&str>::new());
        assert_eq!(atc_level("A10BA02"), Some(5));
        assert_eq!(atc_level("A10BA0"), None);
        let a = icd10_ancestors("E1190");
        assert_eq!(a.len(), 4);
        assert_eq!(a[0], Icd10Node::Chapter(4));
        assert_eq!(a[3], Icd10Node::Code("E119".into()));
    }
}
