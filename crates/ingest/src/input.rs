//! Opening a source file: SHA-256 of its bytes, gzip (and Parquet) by
//! magic bytes, encoding (UTF-8, else Windows-1252), byte-order mark,
//! header line.
//!
//! A file is read twice. The first pass ([`sniff`]) hashes it, decompresses
//! it, decides its encoding and reads its header; it finds every file-level
//! problem before any row is loaded. The second pass ([`open_rows`]) streams
//! the rows and hashes the bytes again, so a file that changed in between is
//! refused instead of being recorded under the wrong hash.

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::Progress;
use crate::error::IngestError;
use crate::format::{Format, Layout, detect};

const BOM: &[u8] = b"\xEF\xBB\xBF";
const GZIP_MAGIC: &[u8] = b"\x1F\x8B";
/// A Parquet file starts (and ends) with it; only OMOP tables are read
/// from Parquet, by their own reader.
const PARQUET_MAGIC: &[u8] = b"PAR1";
/// Longest line accepted (bounded memory on garbage without line ends).
pub(crate) const MAX_LINE: usize = 1 << 20;
const BUF: usize = 256 * 1024;

/// Character encoding of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Encoding {
    /// Valid UTF-8 (a byte-order mark, if any, is dropped).
    #[serde(rename = "utf-8")]
    Utf8,
    /// Anything that is not valid UTF-8 is read as Windows-1252.
    #[serde(rename = "windows-1252")]
    Windows1252,
}

impl Encoding {
    /// `utf-8` or `windows-1252`.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::Utf8 => "utf-8",
            Encoding::Windows1252 => "windows-1252",
        }
    }
}

/// What the first pass learnt about a file.
#[derive(Debug, Clone)]
pub(crate) struct Sniffed {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub gzip: bool,
    pub bom: bool,
    pub encoding: Encoding,
    pub layout: Layout,
}

/// Running SHA-256 and byte count of the raw file.
pub(crate) struct RawState {
    sha: Sha256,
    bytes: u64,
}

impl RawState {
    pub(crate) fn new() -> Self {
        RawState {
            sha: Sha256::new(),
            bytes: 0,
        }
    }
    pub(crate) fn finish(self) -> (String, u64) {
        (hex::encode(self.sha.finalize()), self.bytes)
    }
}

/// Hashes and counts the raw bytes as they are read, and reports progress.
pub(crate) struct HashingReader<'a> {
    inner: File,
    state: &'a mut RawState,
    progress: &'a dyn Progress,
    unreported: u64,
}

impl Read for HashingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let read = buf.get(..n).unwrap_or_default();
        self.state.sha.update(read);
        self.state.bytes += n as u64;
        self.unreported += n as u64;
        if self.unreported >= 1 << 20 || n == 0 {
            self.progress.advance(self.unreported);
            self.unreported = 0;
        }
        Ok(n)
    }
}

/// The decompressed byte stream of a file.
pub(crate) enum Decoded<'a> {
    Plain(HashingReader<'a>),
    Gzip(Box<MultiGzDecoder<BufReader<HashingReader<'a>>>>),
}

impl Read for Decoded<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Decoded::Plain(r) => r.read(buf),
            Decoded::Gzip(r) => r.read(buf),
        }
    }
}

impl Decoded<'_> {
    /// Reads any raw bytes left after the decoded stream ended so that the
    /// hash covers the whole file.
    pub(crate) fn drain(self) -> io::Result<()> {
        let mut raw = match self {
            Decoded::Plain(r) => r,
            Decoded::Gzip(g) => {
                let buffered = (*g).into_inner();
                if !buffered.buffer().is_empty() {
                    // Bytes after the last gzip member: not gzip data.
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "data after the end of the gzip stream",
                    ));
                }
                buffered.into_inner()
            }
        };
        let extra = io::copy(&mut raw, &mut io::sink())?;
        if extra > 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "data after the end of the gzip stream",
            ));
        }
        raw.progress.advance(raw.unreported);
        raw.unreported = 0;
        Ok(())
    }
}

/// The first (up to) four bytes of a file.
fn magic(path: &Path) -> Result<Vec<u8>, IngestError> {
    let mut f = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        let n = f
            .read(magic.get_mut(got..).unwrap_or_default())
            .map_err(|e| IngestError::io(path, e))?;
        if n == 0 {
            break;
        }
        got += n;
    }
    Ok(magic.get(..got).unwrap_or_default().to_vec())
}

fn open_decoded<'a>(
    path: &Path,
    gzip: bool,
    state: &'a mut RawState,
    progress: &'a dyn Progress,
) -> Result<Decoded<'a>, IngestError> {
    let file = File::open(path).map_err(|e| IngestError::io(path, e))?;
    let raw = HashingReader {
        inner: file,
        state,
        progress,
        unreported: 0,
    };
    Ok(if gzip {
        Decoded::Gzip(Box::new(MultiGzDecoder::new(BufReader::with_capacity(
            BUF, raw,
        ))))
    } else {
        Decoded::Plain(raw)
    })
}

/// Maps a read error of the decoded stream to a file-level error.
pub(crate) fn read_error(path: &Path, gzip: bool, e: io::Error) -> IngestError {
    let gzip_failure = gzip
        && matches!(
            e.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData
        );
    if gzip_failure {
        IngestError::Gzip {
            path: path.to_path_buf(),
            message: e.to_string(),
        }
    } else {
        IngestError::io(path, e)
    }
}

/// First pass: hash, decompress, decide the encoding, detect the format.
pub(crate) fn sniff(
    path: &Path,
    forced: Option<Format>,
    progress: &dyn Progress,
) -> Result<Sniffed, IngestError> {
    let magic = magic(path)?;
    let gzip = magic.starts_with(GZIP_MAGIC);
    let parquet = magic.starts_with(PARQUET_MAGIC);
    let mut state = RawState::new();
    let mut header: Vec<u8> = Vec::new();
    let mut header_done = false;
    let mut utf8 = true;
    let mut carry: Vec<u8> = Vec::new();
    let mut decoded_len: u64 = 0;
    {
        let mut dec = open_decoded(path, gzip, &mut state, progress)?;
        let mut buf = vec![0u8; BUF];
        loop {
            let n = match dec.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(path, gzip, e)),
            };
            let chunk = buf.get(..n).unwrap_or_default();
            decoded_len += n as u64;
            if !header_done {
                match chunk.iter().position(|&b| b == b'\n') {
                    Some(i) => {
                        header.extend_from_slice(chunk.get(..i).unwrap_or_default());
                        header_done = true;
                    }
                    None => header.extend_from_slice(chunk),
                }
                if header.len() > 64 * 1024 {
                    header.truncate(64 * 1024);
                    header_done = true;
                }
            }
            if utf8 {
                carry.extend_from_slice(chunk);
                match std::str::from_utf8(&carry) {
                    Ok(_) => carry.clear(),
                    Err(e) if e.error_len().is_none() => {
                        // An incomplete sequence at the end: keep it for the
                        // next chunk.
                        let keep = carry.split_off(e.valid_up_to());
                        carry = keep;
                    }
                    Err(_) => {
                        utf8 = false;
                        carry = Vec::new();
                    }
                }
            }
        }
        dec.drain().map_err(|e| read_error(path, gzip, e))?;
    }
    if utf8 && !carry.is_empty() {
        utf8 = false; // ends inside a multi-byte sequence
    }
    let (sha256, bytes) = state.finish();
    if bytes == 0 {
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
            reason: "no bytes",
        });
    }
    if parquet {
        // Binary: no header line or text encoding; the reader casts its
        // columns to UTF-8 text.
        return Ok(Sniffed {
            path: path.to_path_buf(),
            bytes,
            sha256,
            gzip: false,
            bom: false,
            encoding: Encoding::Utf8,
            layout: crate::format::detect_parquet(path, forced)?,
        });
    }
    let bom = header.starts_with(BOM);
    let mut head: &[u8] = header.strip_prefix(BOM).unwrap_or(&header);
    if let Some(h) = head.strip_suffix(b"\r") {
        head = h;
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        let reason = if decoded_len <= 3 {
            "no content after decompression"
        } else {
            "no header line"
        };
        return Err(IngestError::Empty {
            path: path.to_path_buf(),
            reason,
        });
    }
    let layout = detect(path, head, forced)?;
    Ok(Sniffed {
        path: path.to_path_buf(),
        bytes,
        sha256,
        gzip,
        bom,
        encoding: if utf8 {
            Encoding::Utf8
        } else {
            Encoding::Windows1252
        },
        layout,
    })
}

/// Passes bytes through, counting line ends and refusing a line longer than
/// [`MAX_LINE`] (bounded memory on a file without line ends).
pub(crate) struct LineGuard<R> {
    pub inner: R,
    pub since_newline: usize,
    pub lines: u64,
    /// Longest line accepted ([`MAX_LINE`]; unlimited for FHIR, whose
    /// reader bounds memory itself).
    pub limit: usize,
}

impl<R: Read> Read for LineGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let chunk = buf.get(..n).unwrap_or_default();
        match chunk.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                let first = chunk.iter().position(|&b| b == b'\n').unwrap_or(last);
                if self.since_newline.saturating_add(first) > self.limit {
                    return Err(self.too_long());
                }
                self.lines += chunk.iter().filter(|&&b| b == b'\n').count() as u64;
                self.since_newline = n - last - 1;
            }
            None => self.since_newline = self.since_newline.saturating_add(n),
        }
        if self.since_newline > self.limit {
            return Err(self.too_long());
        }
        Ok(n)
    }
}

impl<R> LineGuard<R> {
    fn too_long(&self) -> io::Error {
        io::Error::other(LineTooLong {
            line: self.lines + 1,
        })
    }
}

/// Error payload of [`LineGuard`].
#[derive(Debug)]
pub(crate) struct LineTooLong {
    pub line: u64,
}

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "line {} is longer than {} bytes: not a register file",
            self.line, MAX_LINE
        )
    }
}

impl std::error::Error for LineTooLong {}

/// Second pass: the decoded stream after the byte-order mark, ready for the
/// row reader. Call [`Decoded::drain`] on the inner reader at the end and
/// compare the hash.
pub(crate) fn open_rows<'a>(
    sniffed: &Sniffed,
    state: &'a mut RawState,
    progress: &'a dyn Progress,
) -> Result<LineGuard<Decoded<'a>>, IngestError> {
    let path = &sniffed.path;
    let mut dec = open_decoded(path, sniffed.gzip, state, progress)?;
    if sniffed.bom {
        let mut b = [0u8; 3];
        dec.read_exact(&mut b)
            .map_err(|e| read_error(path, sniffed.gzip, e))?;
        if b.as_slice() != BOM {
            return Err(IngestError::Changed { path: path.clone() });
        }
    }
    // FHIR's reader bounds memory itself; Parquet is binary (its reader
    // reads the file by path and only hashes this stream).
    let parquet = sniffed.layout.omop.as_ref().is_some_and(|o| o.parquet);
    let limit = if sniffed.layout.format == Format::Fhir || parquet {
        usize::MAX
    } else {
        MAX_LINE
    };
    Ok(LineGuard {
        inner: dec,
        since_newline: 0,
        lines: 0,
        limit,
    })
}

/// Finds the files to load: each path itself, or every file below a
/// directory (sorted, so loads are reproducible). Synth's `manifest.json`
/// files and Markdown files (`SOURCE.md`, `README.md`) found in a directory
/// are skipped and listed in the returned notes.
pub(crate) fn collect_files(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<String>), IngestError> {
    let mut files = Vec::new();
    let mut notes = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| IngestError::io(p, e))?;
        if meta.is_dir() {
            walk(p, &mut files, &mut notes)?;
        } else {
            files.push(p.clone());
        }
    }
    if files.is_empty() {
        return Err(IngestError::NoInput {
            reason: if paths.is_empty() {
                "no paths given".to_owned()
            } else {
                "the given directories hold no files".to_owned()
            },
        });
    }
    Ok((files, notes))
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, notes: &mut Vec<String>) -> Result<(), IngestError> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| IngestError::io(dir, e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| IngestError::io(dir, e))?;
    entries.sort();
    for path in entries {
        let link = std::fs::symlink_metadata(&path).map_err(|e| IngestError::io(&path, e))?;
        let meta = std::fs::metadata(&path).map_err(|e| IngestError::io(&path, e))?;
        if meta.is_dir() {
            if link.file_type().is_symlink() {
                notes.push(format!(
                    "{}: symbolic link to a directory not followed",
                    path.display()
                ));
            } else {
                walk(&path, files, notes)?;
            }
        } else if path.file_name().is_some_and(|n| n == "manifest.json") {
            notes.push(format!(
                "{}: skipped (synthetic data manifest, not a source file)",
                path.display()
            ));
        } else if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("md"))
        {
            notes.push(format!(
                "{}: skipped (Markdown documentation, not a source file)",
                path.display()
            ));
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// Whether a progress-less pass 1 is reading gzip (for tests).
#[cfg(test)]
pub(crate) fn sniff_quiet(path: &Path) -> Result<Sniffed, IngestError> {
    sniff(path, None, &crate::NoProgress)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    const DORS: &[u8] = b"PERSONNR;DODSDATUM;ULORSAK;MORSAK\r\n";

    #[test]
    fn encodings_bom_and_gzip() {
        let dir = tempfile::tempdir().unwrap();
        let utf = write(
            dir.path(),
            "a",
            b"\xEF\xBB\xBFPERSONNR;DODSDATUM;ULORSAK;MORSAK\n1;2;\xC3\xA5;x\n",
        );
        let s = sniff_quiet(&utf).unwrap();
        assert_eq!((s.encoding, s.bom, s.gzip), (Encoding::Utf8, true, false));
        assert_eq!(s.layout.format, Format::CauseOfDeath);

        let latin = write(dir.path(), "b", &[DORS, b"1;2;\xE5;x\r\n"].concat());
        let s = sniff_quiet(&latin).unwrap();
        assert_eq!((s.encoding, s.bom), (Encoding::Windows1252, false));

        let z = write(
            dir.path(),
            "c.gz",
            &gz(&[DORS, b"1;2;\xC3\xA5;x\r\n"].concat()),
        );
        let s = sniff_quiet(&z).unwrap();
        assert_eq!((s.encoding, s.gzip), (Encoding::Utf8, true));
        // The hash is over the file's bytes, not the decompressed ones.
        let raw = std::fs::read(&z).unwrap();
        assert_eq!(s.sha256, hex::encode(Sha256::digest(&raw)));
        assert_eq!(s.bytes, raw.len() as u64);
    }

    #[test]
    fn split_multibyte_sequence_across_chunks_is_still_utf8() {
        let dir = tempfile::tempdir().unwrap();
        let mut content = DORS.to_vec();
        while content.len() < BUF - 1 {
            content.push(b'x');
        }
        content.extend_from_slice("å\n".as_bytes()); // straddles the chunk edge
        let p = write(dir.path(), "a", &content);
        assert_eq!(sniff_quiet(&p).unwrap().encoding, Encoding::Utf8);
    }

    #[test]
    fn empty_and_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let e = write(dir.path(), "empty.txt", b"");
        assert!(matches!(sniff_quiet(&e), Err(IngestError::Empty { .. })));
        let e = write(dir.path(), "blank.txt", b"\xEF\xBB\xBF\r\n\n");
        assert!(matches!(sniff_quiet(&e), Err(IngestError::Empty { .. })));
        let full = gz(&DORS.repeat(1000));
        let t = write(dir.path(), "t.gz", full.get(..full.len() / 2).unwrap());
        let err = sniff_quiet(&t).unwrap_err();
        assert!(matches!(err, IngestError::Gzip { .. }), "{err}");
        assert!(err.to_string().contains("t.gz"));
        let trailing = write(dir.path(), "trail.gz", &[full.as_slice(), b"junk"].concat());
        assert!(sniff_quiet(&trailing).is_err());
    }

    #[test]
    fn line_guard_refuses_endless_lines() {
        let data = vec![b'a'; MAX_LINE + 10];
        let mut g = LineGuard {
            inner: data.as_slice(),
            since_newline: 0,
            lines: 0,
            limit: MAX_LINE,
        };
        let err = io::copy(&mut g, &mut io::sink()).unwrap_err();
        assert!(err.to_string().contains("line 1 is longer"), "{err}");
        let ok = b"a\nb\nc".repeat(1000);
        let mut g = LineGuard {
            inner: ok.as_slice(),
            since_newline: 0,
            lines: 0,
            limit: MAX_LINE,
        };
        io::copy(&mut g, &mut io::sink()).unwrap();
        assert_eq!(g.lines, 2000);
    }

    #[test]
    fn directories_are_walked_and_manifest_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        write(&dir.path().join("sub"), "b.txt", DORS);
        write(dir.path(), "a.txt", DORS);
        write(dir.path(), "manifest.json", b"{}");
        let (files, notes) = collect_files(&[dir.path().to_path_buf()]).unwrap();
        assert_eq!(files.len(), 2);
        assert!(files[0].ends_with("a.txt") && files[1].ends_with("sub/b.txt"));
        assert_eq!(notes.len(), 1);
        let empty = tempfile::tempdir().unwrap();
        assert!(matches!(
            collect_files(&[empty.path().to_path_buf()]),
            Err(IngestError::NoInput { .. })
        ));
    }
}
