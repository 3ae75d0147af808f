//! Reading FHIR JSON with bounded memory: a Bundle document streamed entry
//! by entry, and NDJSON line by line.
//!
//! A Bundle's `entry` array is never held whole: a serde visitor hands each
//! entry's resource to the caller as soon as it is parsed, so memory is
//! bounded by the largest single resource, not by the file.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::rc::Rc;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::reason::{self, Rejection};

/// How a FHIR JSON file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Shape {
    /// One JSON document: a Bundle (streamed) or a single resource.
    Document,
    /// Newline-delimited JSON, one resource per line (FHIR Bulk Data).
    Ndjson,
}

/// Decides from a file's first line (at most the first 64 KiB of it)
/// whether it is FHIR JSON and how it is laid out; `None` when it does not
/// start with `{`.
///
/// * A first line that is one complete JSON object is NDJSON, unless that
///   object is a Bundle (then the file is a document).
/// * An incomplete first line is a document when it is a bare `{` or
///   starts a Bundle (`{"resourceType": "Bundle", ...`) — a pretty-printed
///   or very long single-line Bundle; otherwise it is NDJSON whose first
///   line is damaged (it is quarantined and the rest loads).
pub fn sniff(first_line: &[u8]) -> Option<Shape> {
    let t = first_line.trim_ascii();
    if !t.starts_with(b"{") {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(t) {
        let bundle = v.get("resourceType").and_then(Value::as_str) == Some("Bundle");
        return Some(if bundle {
            Shape::Document
        } else {
            Shape::Ndjson
        });
    }
    if t == b"{" || starts_bundle(t) {
        Some(Shape::Document)
    } else {
        Some(Shape::Ndjson)
    }
}

/// The `resourceType` of an NDJSON file's first line, when it is a
/// complete JSON object (a bulk export writes one type per file).
pub fn first_resource_type(first_line: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(first_line.trim_ascii()).ok()?;
    v.get("resourceType")?.as_str().map(str::to_owned)
}

/// What an NDJSON file is when its first line shows it is the log of a FHIR
/// bulk export rather than data: an OperationOutcome (the server's error
/// and message file of the export, Bulk Data Access IG `error` output), or
/// an event of a bulk-data client's `log.ndjson` (a JSON object without
/// `resourceType` with an `eventId` and an `exportId` or `timestamp`, as
/// the SMART bulk-data client writes). `None` for anything else.
pub fn bulk_export_log(first_line: &[u8]) -> Option<&'static str> {
    let v: Value = serde_json::from_slice(first_line.trim_ascii()).ok()?;
    let o = v.as_object()?;
    match o.get("resourceType").and_then(Value::as_str) {
        Some("OperationOutcome") => {
            Some("the OperationOutcome log of a FHIR bulk export (messages, not data)")
        }
        Some(_) => None,
        None if o.get("eventId").is_some_and(Value::is_string)
            && (o.contains_key("exportId") || o.contains_key("timestamp")) =>
        {
            Some("the event log of a FHIR bulk-data client (log.ndjson: messages, not data)")
        }
        None => None,
    }
}

/// `{ "resourceType" : "Bundle"` at the start, whitespace allowed.
fn starts_bundle(t: &[u8]) -> bool {
    let mut rest = t;
    for token in [&b"{"[..], b"\"resourceType\"", b":", b"\"Bundle\""] {
        rest = rest.trim_ascii_start();
        match rest.strip_prefix(token) {
            Some(r) => rest = r,
            None => return false,
        }
    }
    true
}

/// One resource read from a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Line of the file where the entry (or NDJSON line) starts, 1-based.
    pub line: u64,
    /// `Bundle.entry.fullUrl`.
    pub full_url: Option<String>,
    /// The resource; `None` for a Bundle entry without one.
    pub resource: Option<Value>,
}

/// What a document was, at its root.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentSummary {
    /// `resourceType` of the root.
    pub resource_type: Option<String>,
    /// `Bundle.type` (`collection`, `transaction`, `batch`, `searchset`, ...).
    pub bundle_type: Option<String>,
    /// Entries (or, for a single resource, 1) handed to the caller.
    pub entries: u64,
}

/// Why reading stopped.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The JSON is not well-formed (a document cannot be read on past it).
    Json {
        line: u64,
        column: u64,
        message: String,
    },
    /// Reading the underlying stream failed.
    Io(io::Error),
    /// The caller's callback failed.
    Callback(E),
}

impl<E: fmt::Display> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Json {
                line,
                column,
                message,
            } => write!(f, "invalid JSON at line {line}, column {column}: {message}"),
            StreamError::Io(e) => write!(f, "{e}"),
            StreamError::Callback(e) => write!(f, "{e}"),
        }
    }
}

/// Counts line ends as bytes are consumed.
struct Lines<R> {
    inner: R,
    lines: Rc<Cell<u64>>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let got = buf.get(..n).unwrap_or_default();
        let nl = got.iter().filter(|&&b| b == b'\n').count() as u64;
        if nl > 0 {
            self.lines.set(self.lines.get() + nl);
        }
        Ok(n)
    }
}

struct Shared<'a, F, E> {
    on_entry: &'a mut F,
    error: Option<E>,
    lines: Rc<Cell<u64>>,
    entries: u64,
}

const STOPPED: &str = "halsohub: stopped by the entry handler";

impl<F, E> Shared<'_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    fn deliver<Err: de::Error>(&mut self, entry: Entry) -> Result<(), Err> {
        self.entries += 1;
        match (self.on_entry)(entry) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.error = Some(e);
                Err(Err::custom(STOPPED))
            }
        }
    }
}

struct RootSeed<'s, 'a, F, E>(&'s mut Shared<'a, F, E>);

impl<'de, F, E> DeserializeSeed<'de> for RootSeed<'_, '_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = Map<String, Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, F, E> Visitor<'de> for RootSeed<'_, '_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a FHIR resource (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut rest = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "entry" {
                map.next_value_seed(EntriesSeed(&mut *self.0))?;
                rest.insert("entry".to_owned(), Value::Bool(true));
            } else {
                let v: Value = map.next_value()?;
                rest.insert(key, v);
            }
        }
        Ok(rest)
    }
}

struct EntriesSeed<'s, 'a, F, E>(&'s mut Shared<'a, F, E>);

impl<'de, F, E> DeserializeSeed<'de> for EntriesSeed<'_, '_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, F, E> Visitor<'de> for EntriesSeed<'_, '_, F, E>
where
    F: FnMut(Entry) -> Result<(), E>,
{
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bundle.entry as an array")
    }

    fn visit_unit<Err: de::Error>(self) -> Result<(), Err> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some((line, raw)) = seq.next_element_seed(EntrySeed(self.0.lines.clone()))? {
            let entry = Entry {
                line,
                full_url: raw.full_url,
                resource: raw.resource,
            };
            self.0.deliver::<A::Error>(entry)?;
        }
        Ok(())
    }
}

/// Deserialises one entry, noting the line it starts on (the parser has
/// just looked at its opening brace).
struct EntrySeed(Rc<Cell<u64>>);

impl<'de> DeserializeSeed<'de> for EntrySeed {
    type Value = (u64, RawEntry);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        let line = self.0.get() + 1;
        RawEntry::deserialize(d).map(|r| (line, r))
    }
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(rename = "fullUrl")]
    full_url: Option<String>,
    resource: Option<Value>,
}

/// Reads one JSON document from `input`: a Bundle's entries are handed to
/// `on_entry` one at a time as they are parsed; any other resource is
/// handed over whole. Trailing non-whitespace after the document is an
/// error.
pub fn read_document<R: Read, E>(
    input: R,
    mut on_entry: impl FnMut(Entry) -> Result<(), E>,
) -> Result<DocumentSummary, StreamError<E>> {
    let lines = Rc::new(Cell::new(0u64));
    let reader = Lines {
        inner: input,
        lines: lines.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut shared = Shared {
        on_entry: &mut on_entry,
        error: None,
        lines,
        entries: 0,
    };
    let root = RootSeed(&mut shared).deserialize(&mut de).and_then(|root| {
        de.end()?;
        Ok(root)
    });
    let mut root = match root {
        Ok(r) => r,
        Err(e) => {
            if let Some(cb) = shared.error.take() {
                return Err(StreamError::Callback(cb));
            }
            return Err(json_error(e));
        }
    };
    let resource_type = root
        .get("resourceType")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let bundle_type = root.get("type").and_then(Value::as_str).map(str::to_owned);
    let is_bundle = resource_type.as_deref() == Some("Bundle") || root.contains_key("entry");
    if !is_bundle {
        root.remove("entry");
        shared
            .deliver::<serde_json::Error>(Entry {
                line: 1,
                full_url: None,
                resource: Some(Value::Object(root)),
            })
            .map_err(|_| match shared.error.take() {
                Some(e) => StreamError::Callback(e),
                None => StreamError::Json {
                    line: 1,
                    column: 1,
                    message: STOPPED.to_owned(),
                },
            })?;
    }
    Ok(DocumentSummary {
        resource_type,
        bundle_type: if is_bundle { bundle_type } else { None },
        entries: shared.entries,
    })
}

fn json_error<E>(e: serde_json::Error) -> StreamError<E> {
    if e.is_io() {
        return StreamError::Io(io::Error::from(e));
    }
    StreamError::Json {
        line: e.line() as u64,
        column: e.column() as u64,
        message: e.to_string(),
    }
}

/// The entries of a Bundle already held as a value (a nested Bundle, or a
/// Bundle on one NDJSON line).
pub fn bundle_entries(bundle: &Value, line: u64) -> Vec<Entry> {
    bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|e| Entry {
                    line,
                    full_url: e.get("fullUrl").and_then(Value::as_str).map(str::to_owned),
                    resource: e.get("resource").cloned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads NDJSON from `input`, one resource per line, calling `on_line`
/// with the line number and the parsed object, or the rejection of a line
/// that is not one (the rest of the file still loads). Blank lines are
/// skipped. A line longer than `max_line` bytes is rejected without being
/// held in memory. Returns the number of non-blank lines.
pub fn read_ndjson<R: BufRead, E>(
    mut input: R,
    max_line: usize,
    mut on_line: impl FnMut(u64, Result<Value, Rejection>) -> Result<(), E>,
) -> Result<u64, StreamError<E>> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut line: u64 = 0;
    let mut count: u64 = 0;
    loop {
        buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let chunk = match input.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(StreamError::Io(e)),
            };
            if chunk.is_empty() {
                break;
            }
            any = true;
            let (part, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (chunk.get(..i).unwrap_or_default(), Some(i + 1)),
                None => (chunk, None),
            };
            if !too_long {
                if buf.len() + part.len() > max_line {
                    too_long = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(part);
                }
            }
            let used = done.unwrap_or(chunk.len());
            input.consume(used);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Ok(count);
        }
        line += 1;
        if too_long {
            count += 1;
            let r = Rejection::new(
                reason::LINE_TOO_LONG,
                "line",
                format!("longer than {max_line} bytes"),
            );
            on_line(line, Err(r)).map_err(StreamError::Callback)?;
            continue;
        }
        let text = buf.trim_ascii();
        if text.is_empty() {
            continue;
        }
        count += 1;
        let parsed = match serde_json::from_slice::<Value>(text) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(Rejection::new(
                reason::INVALID_JSON,
                "line",
                "not a JSON object",
            )),
            Err(e) => Err(Rejection::new(
                reason::INVALID_JSON,
                "line",
                format!("column {}: {}", e.column(), e.classify_message()),
            )),
        };
        on_line(line, parsed).map_err(StreamError::Callback)?;
    }
}

trait Classify {
    fn classify_message(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_message(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "unexpected data",
            serde_json::error::Category::Eof => "the line ends inside the JSON",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(doc: &str) -> (Vec<Entry>, DocumentSummary) {
        let mut got = Vec::new();
        let s = read_document(doc.as_bytes(), |e| {
            got.push(e);
            Ok::<(), ()>(())
        })
        .unwrap();
        (got, s)
    }

    #[test]
    fn bundle_entries_stream_with_lines() {
        let doc = "{\n \"resourceType\": \"Bundle\",\n \"type\": \"collection\",\n \"entry\": [\n  {\"fullUrl\": \"urn:uuid:1\", \"resource\": {\"resourceType\": \"Patient\", \"id\": \"1\"}},\n  {\"request\": {\"method\": \"DELETE\"}}\n ]\n}\n";
        let (got, s) = collect(doc);
        assert_eq!(s.bundle_type.as_deref(), Some("collection"));
        assert_eq!(s.entries, 2);
        assert_eq!(got[0].line, 5);
        assert_eq!(got[0].full_url.as_deref(), Some("urn:uuid:1"));
        assert!(got[1].resource.is_none());
        assert_eq!(got[1].line, 6);
    }

    #[test]
    fn single_resource_and_errors() {
        let (got, s) = collect("{\"resourceType\": \"Patient\", \"id\": \"x\"}");
        assert_eq!(got.len(), 1);
        assert_eq!(s.resource_type.as_deref(), Some("Patient"));
        assert!(matches!(
            read_document("{\"entry\": [{}, ".as_bytes(), |_| Ok::<(), ()>(())),
            Err(StreamError::Json { .. })
        ));
        assert!(matches!(
            read_document("{} {}".as_bytes(), |_| Ok::<(), ()>(())),
            Err(StreamError::Json { .. })
        ));
        let r = read_document("{\"entry\": [{}, {}]}".as_bytes(), |_| {
            Err::<(), &str>("stop")
        });
        assert!(matches!(r, Err(StreamError::Callback("stop"))));
    }

    #[test]
    fn bulk_export_logs_are_recognised() {
        let client = br#"{"eventId":"kickoff","eventDetail":{"exportUrl":"x"},"exportId":"e1","timestamp":"2026-01-01T00:00:00Z"}"#;
        assert!(bulk_export_log(client).is_some_and(|w| w.contains("log.ndjson")));
        let oo = br#"{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}"#;
        assert!(bulk_export_log(oo).is_some_and(|w| w.contains("OperationOutcome")));
        assert_eq!(
            bulk_export_log(br#"{"resourceType":"Patient","id":"p"}"#),
            None
        );
        assert_eq!(bulk_export_log(br#"{"id":"p"}"#), None);
        assert_eq!(bulk_export_log(b"not json"), None);
    }

    #[test]
    fn ndjson_bad_lines_are_rejected_and_the_rest_loads() {
        let text = "{\"resourceType\":\"Patient\"}\n\n{\"resourceType\":\n[1]\n{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{\"resourceType\":\"Condition\"}";
        let mut seen = Vec::new();
        let n = read_ndjson(text.as_bytes(), 40, |line, r| {
            seen.push((line, r.map(|_| ()).map_err(|e| e.reason)));
            Ok::<(), ()>(())
        })
        .unwrap();
        assert_eq!(n, 5);
        assert_eq!(
            seen,
            vec![
                (1, Ok(())),
                (3, Err(reason::INVALID_JSON)),
                (4, Err(reason::INVALID_JSON)),
                (5, Err(reason::LINE_TOO_LONG)),
                (6, Ok(())),
            ]
        );
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"{"), Some(Shape::Document));
        assert_eq!(
            sniff(b"  {\"resourceType\" : \"Bundle\", \"type\""),
            Some(Shape::Document)
        );
        assert_eq!(
            sniff(b"{\"resourceType\":\"Bundle\",\"entry\":[]}"),
            Some(Shape::Document)
        );
        assert_eq!(
            sniff(b"{\"resourceType\":\"Patient\",\"id\":\"1\"}"),
            Some(Shape::Ndjson)
        );
        assert_eq!(
            sniff(b"{\"resourceType\":\"Patient\",\"id\":"),
            Some(Shape::Ndjson)
        );
        assert_eq!(sniff(b"PERSONNR;KON"), None);
    }

    proptest::proptest! {
        #[test]
        fn ndjson_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = read_ndjson(bytes.as_slice(), 64, |_, _| Ok::<(), ()>(()));
            let _ = read_document(bytes.as_slice(), |_| Ok::<(), ()>(()));
            let _ = sniff(&bytes);
        }
    }
}
