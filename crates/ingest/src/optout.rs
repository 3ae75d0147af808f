//! Opt-out delivery files from the national e-service (1177): who opted out
//! of (or back into) secondary use, for which purpose, from when.
//!
//! A delivery is a semicolon-separated text file (UTF-8 or Windows-1252,
//! optionally gzip) whose header is `personnummer;syfte;galler_fran;atgard`
//! (`gäller_från`, `åtgärd` and any letter case accepted), one line per
//! record: the identity number in any written form, the purpose (`all` or
//! empty for every purpose, else a purpose's wire name), the date it takes
//! effect (`YYYY-MM-DD`, from Swedish midnight), and `avanmalan` /
//! `opt_out` or `atertagande` / `withdrawal`. See `docs/formats.md`.
//!
//! The identity number is pseudonymised on the line it is read from and
//! goes no further: [`OptOutDelivery`] holds hub pseudonyms only. A bad
//! line is rejected with a reason code (`optout.*`, `invalid_identity.*`)
//! and its line number, never its content. A file whose header is not a
//! delivery's is not one ([`is_optout_delivery`]); `ingest` skips such
//! files with a note so that the caller records them in the state
//! database instead of the store.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate, Utc};
use halsohub_access::optout::{OptOutAction, OptOutScope};
use halsohub_identity::{IdentityNumber, ParseOptions, Pseudonym, Pseudonymiser};
use sha2::{Digest, Sha256};

use crate::IngestError;
use crate::reject::identity_reason;

/// The header's columns, in order (ASCII spelling).
pub const OPTOUT_COLUMNS: [&str; 4] = ["personnummer", "syfte", "galler_fran", "atgard"];

/// Largest delivery file read (bytes, after decompression).
pub const MAX_DELIVERY_BYTES: u64 = 512 * 1024 * 1024;

/// A line with the wrong number of fields.
pub const COLUMNS: &str = "optout.columns";
/// A purpose that is neither `all` nor a purpose of the application form.
pub const BAD_PURPOSE: &str = "optout.bad_purpose";
/// An effective date that is not `YYYY-MM-DD`.
pub const BAD_DATE: &str = "optout.bad_date";
/// An action that is neither an opt-out nor a withdrawal.
pub const BAD_ACTION: &str = "optout.bad_action";

/// One recorded line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutLine {
    /// 1-based line number in the file.
    pub line: u64,
    /// The person's hub pseudonym.
    pub pseudonym: Pseudonym,
    /// What it covers.
    pub scope: OptOutScope,
    /// Opt-out or withdrawal.
    pub action: OptOutAction,
    /// The instant it takes effect (Swedish midnight of its date).
    pub effective_at: DateTime<Utc>,
}

/// A delivery file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptOutDelivery {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes as delivered (hex).
    pub sha256: String,
    /// Its lines that hold a record.
    pub records: Vec<OptOutLine>,
    /// Its lines that do not: (line, reason code).
    pub rejected: Vec<(u64, &'static str)>,
}

fn normalise_header(field: &str) -> String {
    field
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace(['ä', 'å'], "a")
        .replace('ö', "o")
}

/// Whether `header` (a file's first line) is an opt-out delivery's.
pub fn is_delivery_header(header: &str) -> bool {
    let fields: Vec<String> = header
        .trim_end_matches(['\r', '\n'])
        .split(';')
        .map(normalise_header)
        .collect();
    fields.len() == OPTOUT_COLUMNS.len() && fields.iter().zip(OPTOUT_COLUMNS).all(|(a, b)| a == b)
}

/// The file's bytes as delivered and its text (gzip undone; UTF-8, else
/// Windows-1252).
fn read_text(path: &Path) -> Result<(Vec<u8>, String), IngestError> {
    let meta = std::fs::metadata(path).map_err(|e| IngestError::io(path, e))?;
    if meta.len() > MAX_DELIVERY_BYTES {
        return Err(IngestError::Read {
            path: path.to_path_buf(),
            line: 1,
            message: format!("an opt-out delivery is at most {MAX_DELIVERY_BYTES} bytes"),
        });
    }
    let raw = std::fs::read(path).map_err(|e| IngestError::io(path, e))?;
    let bytes = if raw.starts_with(b"\x1F\x8B") {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .take(MAX_DELIVERY_BYTES + 1)
            .read_to_end(&mut out)
            .map_err(|e| IngestError::Gzip {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        if out.len() as u64 > MAX_DELIVERY_BYTES {
            return Err(IngestError::Read {
                path: path.to_path_buf(),
                line: 1,
                message: format!(
                    "an opt-out delivery is at most {MAX_DELIVERY_BYTES} bytes decompressed"
                ),
            });
        }
        out
    } else {
        raw.clone()
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => encoding_rs::WINDOWS_1252
            .decode_without_bom_handling(e.as_bytes())
            .0
            .into_owned(),
    };
    Ok((raw, text))
}

/// Whether the file at `path` is an opt-out delivery (by its header).
/// Unreadable files are not (the load reports them as it would).
pub fn is_optout_delivery(path: &Path) -> bool {
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = vec![0u8; 512];
    let mut got = 0;
    while got < head.len() {
        match f.read(head.get_mut(got..).unwrap_or_default()) {
            Ok(0) | Err(_) => break,
            Ok(n) => got += n,
        }
    }
    head.truncate(got);
    let head = if head.starts_with(b"\x1F\x8B") {
        let mut out = Vec::new();
        let file = match std::fs::File::open(path) {
            Ok(f) => f,
            Err(_) => return false,
        };
        let _ = flate2::read::MultiGzDecoder::new(file)
            .take(512)
            .read_to_end(&mut out);
        out
    } else {
        head
    };
    let first = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let text = String::from_utf8_lossy(first);
    is_delivery_header(&text)
}

/// The opt-out deliveries among `paths` (files, or every file below a
/// directory, sorted), as `ingest` finds them, and how many other files
/// there are (source files for the store).
///
/// # Errors
/// [`IngestError::Io`] for a path that cannot be listed.
pub fn optout_deliveries(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, usize), IngestError> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| IngestError::io(p, e))?;
        if meta.is_dir() {
            let (found, _) = crate::input::collect_files(std::slice::from_ref(p))?;
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    let (deliveries, others): (Vec<PathBuf>, Vec<PathBuf>) =
        files.into_iter().partition(|f| is_optout_delivery(f));
    Ok((deliveries, others.len()))
}

/// Reads the delivery at `path`, pseudonymising each identity number with
/// `pseudonymiser` as it is read (`options` decide the century of
/// 10-digit numbers and the reservnummer schemes).
///
/// # Errors
/// [`IngestError`] for a file that cannot be read or is not a delivery
/// (its header named); bad lines are rejected, not errors.
pub fn read_optout_delivery(
    path: &Path,
    pseudonymiser: &Pseudonymiser,
    options: &ParseOptions,
) -> Result<OptOutDelivery, IngestError> {
    let (raw, text) = read_text(path)?;
    let sha256 = hex::encode(Sha256::digest(&raw));
    let mut lines = text.lines().enumerate();
    let header = lines.next().map(|(_, h)| h).unwrap_or_default();
    if !is_delivery_header(header) {
        return Err(IngestError::Read {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "not an opt-out delivery: its header must be {}",
                OPTOUT_COLUMNS.join(";")
            ),
        });
    }
    let mut records = Vec::new();
    let mut rejected = Vec::new();
    for (i, line) in lines {
        let n = i as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        match read_line(line, pseudonymiser, options) {
            Ok((pseudonym, scope, action, effective_at)) => records.push(OptOutLine {
                line: n,
                pseudonym,
                scope,
                action,
                effective_at,
            }),
            Err(reason) => rejected.push((n, reason)),
        }
    }
    Ok(OptOutDelivery {
        path: path.to_path_buf(),
        sha256,
        records,
        rejected,
    })
}

type Line = (Pseudonym, OptOutScope, OptOutAction, DateTime<Utc>);

fn read_line(
    line: &str,
    pseudonymiser: &Pseudonymiser,
    options: &ParseOptions,
) -> Result<Line, &'static str> {
    let fields: Vec<&str> = line.trim_end_matches('\r').split(';').collect();
    let [number, purpose, date, action] = fields.as_slice() else {
        return Err(COLUMNS);
    };
    let id = IdentityNumber::parse(number, options).map_err(|e| identity_reason(&e))?;
    let pseudonym = pseudonymiser.pseudonym(&id);
    let scope: OptOutScope = purpose.parse().map_err(|_| BAD_PURPOSE)?;
    let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d").map_err(|_| BAD_DATE)?;
    let action = OptOutAction::parse(action).ok_or(BAD_ACTION)?;
    Ok((
        pseudonym,
        scope,
        action,
        halsohub_access::calendar::swedish_midnight(date),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use halsohub_identity::HubKey;

    fn pseudonymiser() -> Pseudonymiser {
        Pseudonymiser::new(&HubKey::from_bytes([7u8; 32]))
    }

    #[test]
    fn headers_are_recognised_in_either_spelling() {
        assert!(is_delivery_header("personnummer;syfte;galler_fran;atgard"));
        assert!(is_delivery_header(
            "\u{feff}Personnummer;Syfte;Gäller_från;Åtgärd\r"
        ));
        assert!(!is_delivery_header("personnummer;syfte;galler_fran"));
        assert!(!is_delivery_header("pnr;diagnos;datum;vardgivare"));
    }

    #[test]
    fn lines_are_pseudonymised_and_bad_lines_named_by_reason() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("optout_20261201.csv");
        std::fs::write(
            &p,
            "personnummer;syfte;galler_fran;atgard\n\
             19121212-1212;all;2026-12-01;avanmalan\n\
             191212121213;all;2026-12-01;avanmalan\n\
             19121212-1212;marketing;2026-12-01;avanmalan\n\
             19121212-1212;scientific_research;2026-13-01;avanmalan\n\
             19121212-1212;;2026-12-01;maybe\n\
             19121212-1212;all\n\
             \n\
             191212121212;scientific_research;2027-01-01;atertagande\n",
        )
        .unwrap();
        assert!(is_optout_delivery(&p));
        let options = ParseOptions::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let d = read_optout_delivery(&p, &pseudonymiser(), &options).unwrap();
        assert_eq!(d.records.len(), 2);
        assert_eq!(d.records[0].line, 2);
        assert_eq!(d.records[0].scope, OptOutScope::All);
        assert_eq!(d.records[0].action, OptOutAction::OptOut);
        // Swedish midnight in winter is 23:00 UTC the day before.
        assert_eq!(
            d.records[0].effective_at,
            "2026-11-30T23:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
        assert_eq!(d.records[1].line, 9);
        assert_eq!(d.records[1].action, OptOutAction::Withdrawal);
        assert_eq!(d.records[0].pseudonym, d.records[1].pseudonym);
        assert_eq!(
            d.rejected,
            vec![
                (3, "invalid_identity.bad_check_digit"),
                (4, BAD_PURPOSE),
                (5, BAD_DATE),
                (6, BAD_ACTION),
                (7, COLUMNS),
            ]
        );
        assert_eq!(d.sha256.len(), 64);
        // Nothing of the numbers is kept.
        let debug = format!("{d:?}");
        assert!(!debug.contains("1212121212"), "{debug}");
    }

    #[test]
    fn gzip_and_windows_1252_deliveries_read_and_others_are_refused() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("optout.csv.gz");
        let mut text = b"personnummer;syfte;g\xE4ller_fr\xE5n;\xE5tg\xE4rd\n".to_vec();
        text.extend_from_slice(b"19121212-1212;all;2026-12-01;opt_out\n");
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&text).unwrap();
        std::fs::write(&p, e.finish().unwrap()).unwrap();
        let options = ParseOptions::new(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        let d = read_optout_delivery(&p, &pseudonymiser(), &options).unwrap();
        assert_eq!(d.records.len(), 1);
        let other = dir.path().join("other.csv");
        std::fs::write(&other, "pnr;x\n19121212-1212;y\n").unwrap();
        assert!(!is_optout_delivery(&other));
        let e = read_optout_delivery(&other, &pseudonymiser(), &options)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("other.csv") && e.contains("personnummer;syfte"),
            "{e}"
        );
        assert!(!e.contains("19121212"), "{e}");
    }
}
