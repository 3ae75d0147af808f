//! Parsing (JSON, YAML) and validation. Every error names the JSON path of
//! the offending value (`$.criteria[2].include.event.within.days`) and says
//! why.

use chrono::Datelike;
use halsohub_store::Domain;

use crate::codeset::{CodeLists, check_code};
use crate::query::{
    At, CodeSet, Criterion, DEFAULT_AGE_BANDS, Dimension, EventCriterion, Interval, Occurrence,
    Output, PersonCriterion, QUERY_VERSION, Query, Step,
};

/// Largest `at_least`.
pub const MAX_AT_LEAST: u32 = 1000;
/// Largest age accepted.
pub const MAX_AGE: u32 = 130;
/// Largest distance in days of a window end from the index date.
pub const MAX_WINDOW_DAYS: i32 = 36_600;
/// Most age bands.
pub const MAX_AGE_BANDS: usize = 30;
/// Most periods in a time series.
pub const MAX_PERIODS: usize = 1200;
/// Deepest nesting of AND / OR / NOT.
pub const MAX_DEPTH: usize = 64;
/// Most inclusion/exclusion steps.
pub const MAX_STEPS: usize = 100;

/// What kind of problem a query has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryErrorKind {
    /// Not JSON/YAML, wrong type, unknown field, missing field.
    Syntax,
    /// Well formed but meaningless or not allowed.
    Invalid,
}

/// A problem with a query, at a JSON path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct QueryError {
    pub kind: QueryErrorKind,
    /// JSON path of the offending value, `$` for the whole query.
    pub path: String,
    pub message: String,
}

/// At most this many code systems are named in an unknown-system error.
const MAX_LISTED_SYSTEMS: usize = 24;

fn invalid(path: &str, message: impl Into<String>) -> QueryError {
    QueryError {
        kind: QueryErrorKind::Invalid,
        path: path.to_string(),
        message: message.into(),
    }
}

fn syntax_path(p: &serde_path_to_error::Path) -> String {
    let s = p.to_string();
    if s == "." || s.is_empty() {
        "$".to_string()
    } else if s.starts_with('[') {
        format!("${s}")
    } else {
        format!("$.{s}")
    }
}

/// Parse and validate a query written as JSON.
pub fn parse_json(text: &str, lists: &CodeLists) -> Result<Query, QueryError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let q: Query = serde_path_to_error::deserialize(&mut de).map_err(|e| QueryError {
        kind: QueryErrorKind::Syntax,
        path: syntax_path(e.path()),
        message: e.inner().to_string(),
    })?;
    de.end().map_err(|e| QueryError {
        kind: QueryErrorKind::Syntax,
        path: "$".into(),
        message: e.to_string(),
    })?;
    validate(&q, lists)?;
    Ok(q)
}

/// Parse and validate a query written as YAML (same structure as JSON).
pub fn parse_yaml(text: &str, lists: &CodeLists) -> Result<Query, QueryError> {
    // Through a JSON value: YAML's own enum syntax uses tags, and queries
    // are written as `{event: {...}}` maps exactly as in JSON.
    let value: serde_json::Value = serde_yaml_ng::from_str(text).map_err(|e| QueryError {
        kind: QueryErrorKind::Syntax,
        path: "$".into(),
        message: e.to_string(),
    })?;
    parse_value(&value, lists)
}

/// Parse and validate a query already held as a JSON value.
pub fn parse_value(value: &serde_json::Value, lists: &CodeLists) -> Result<Query, QueryError> {
    let q: Query = serde_path_to_error::deserialize(value).map_err(|e| QueryError {
        kind: QueryErrorKind::Syntax,
        path: syntax_path(e.path()),
        message: e.inner().to_string(),
    })?;
    validate(&q, lists)?;
    Ok(q)
}

/// Check a query's meaning: known code systems and lists, non-empty sets,
/// windows and ranges that are not inverted, ages in range, index-relative
/// parts only with an index, strata that cannot explode.
pub fn validate(q: &Query, lists: &CodeLists) -> Result<(), QueryError> {
    if q.version != QUERY_VERSION {
        return Err(invalid(
            "$.version",
            format!(
                "unsupported query version {}; this hub understands version {QUERY_VERSION}",
                q.version
            ),
        ));
    }
    let has_index = q.index.is_some();
    if let Some(ix) = &q.index {
        let p = "$.index.event";
        event(&ix.event, p, false, lists)?;
        if ix.event.occurrence != Occurrence::Any {
            return Err(invalid(
                &format!("{p}.occurrence"),
                "set the index's occurrence on $.index.occurrence, not on its event",
            ));
        }
        if ix.event.at_least != 1 {
            return Err(invalid(
                &format!("{p}.at_least"),
                "the index event is one event; at_least must be 1",
            ));
        }
        if ix.event.within.is_some() {
            return Err(invalid(
                &format!("{p}.within"),
                "the index event cannot be relative to itself",
            ));
        }
    }
    steps(&q.criteria, "$.criteria", has_index, lists)?;
    match &q.output {
        Output::Count {} => {}
        Output::Funnel {} => {
            if q.criteria.is_empty() && !has_index {
                return Err(invalid(
                    "$.criteria",
                    "a funnel needs at least one step (or an index)",
                ));
            }
        }
        Output::Strata { by, age_bands, at } => {
            dimensions(by, "$.output.by")?;
            if let Some(b) = age_bands {
                bands(b, "$.output.age_bands")?;
            }
            if *at == Some(At::Index) && !has_index {
                return Err(invalid("$.output.at", "\"index\" needs $.index"));
            }
            for (i, d) in by.iter().enumerate() {
                let p = format!("$.output.by[{i}]");
                match d {
                    Dimension::Provider | Dimension::CalendarYear if !has_index => {
                        return Err(invalid(
                            &p,
                            format!(
                                "{} is taken from the index event; define $.index",
                                d.as_str()
                            ),
                        ));
                    }
                    Dimension::AgeBand | Dimension::Region if !has_index && at.is_none() => {
                        return Err(invalid(
                            &p,
                            format!(
                                "{} needs a date: set $.output.at or define $.index",
                                d.as_str()
                            ),
                        ));
                    }
                    _ => {}
                }
            }
        }
        Output::Proportion { numerator } => {
            if numerator.is_empty() {
                return Err(invalid(
                    "$.output.numerator",
                    "a proportion needs at least one numerator step",
                ));
            }
            steps(numerator, "$.output.numerator", has_index, lists)?;
        }
        Output::TimeSeries {
            event: e,
            interval,
            from,
            to,
            by,
            age_bands,
        } => {
            let p = "$.output.event";
            // Checked before the event itself: otherwise its `within` is
            // refused as needing $.index, even when $.index is set.
            if e.within.is_some() {
                return Err(invalid(
                    &format!("{p}.within"),
                    "a time series counts each patient at their first matching event by \
                     calendar date; a window relative to the index does not apply here \
                     (use $.output.from/to, or put the window in $.criteria)",
                ));
            }
            event(e, p, false, lists)?;
            if e.occurrence != Occurrence::Any || e.at_least != 1 || e.date.is_some() {
                return Err(invalid(
                    p,
                    "a time series counts each patient at their first matching event; \
                     leave out occurrence, at_least and date (use $.output.from/to)",
                ));
            }
            if from > to {
                return Err(invalid(
                    "$.output.to",
                    format!("the series ends ({to}) before it starts ({from})"),
                ));
            }
            let periods = match interval {
                Interval::Year => (to.year() - from.year()) as i64 + 1,
                Interval::Month => {
                    (to.year() as i64 * 12 + to.month() as i64)
                        - (from.year() as i64 * 12 + from.month() as i64)
                        + 1
                }
            };
            if periods > MAX_PERIODS as i64 {
                return Err(invalid(
                    "$.output.to",
                    format!("{periods} periods; at most {MAX_PERIODS} are allowed"),
                ));
            }
            if let Some(b) = age_bands {
                bands(b, "$.output.age_bands")?;
            }
            if *by == Some(Dimension::CalendarYear) {
                return Err(invalid(
                    "$.output.by",
                    "a time series is already split by period; choose sex, age_band, region or provider",
                ));
            }
        }
    }
    Ok(())
}

fn dimensions(by: &[Dimension], p: &str) -> Result<(), QueryError> {
    if by.is_empty() {
        return Err(invalid(p, "name one dimension, or a cross of two"));
    }
    if by.len() > 2 {
        return Err(invalid(
            p,
            format!(
                "{} dimensions would explode into tiny cells; at most two may be crossed",
                by.len()
            ),
        ));
    }
    if by.len() == 2 && by.first() == by.get(1) {
        return Err(invalid(&format!("{p}[1]"), "the same dimension twice"));
    }
    if by.len() == 2 && by.contains(&Dimension::Provider) && by.contains(&Dimension::Region) {
        return Err(invalid(
            p,
            "provider × region has too many cells to be shown safely; cross provider with sex, age_band or calendar_year",
        ));
    }
    Ok(())
}

fn bands(b: &[u32], p: &str) -> Result<(), QueryError> {
    if b.is_empty() || b.first() != Some(&0) {
        return Err(invalid(p, "age bands are lower bounds starting at 0"));
    }
    if b.len() > MAX_AGE_BANDS {
        return Err(invalid(
            p,
            format!("{} bands; at most {MAX_AGE_BANDS}", b.len()),
        ));
    }
    for (i, w) in b.windows(2).enumerate() {
        if w[0] >= w[1] {
            return Err(invalid(
                &format!("{p}[{}]", i + 1),
                "age bands must be strictly ascending",
            ));
        }
    }
    if let Some(last) = b.last()
        && *last > MAX_AGE
    {
        return Err(invalid(
            &format!("{p}[{}]", b.len() - 1),
            format!("age {last} is out of range 0..={MAX_AGE}"),
        ));
    }
    Ok(())
}

fn steps(steps: &[Step], p: &str, has_index: bool, lists: &CodeLists) -> Result<(), QueryError> {
    if steps.len() > MAX_STEPS {
        return Err(invalid(
            p,
            format!("{} steps; at most {MAX_STEPS}", steps.len()),
        ));
    }
    for (i, s) in steps.iter().enumerate() {
        let sp = format!("{p}[{i}]");
        if let Some(l) = &s.label
            && l.chars().count() > 200
        {
            return Err(invalid(
                &format!("{sp}.label"),
                "labels are at most 200 characters",
            ));
        }
        match (&s.include, &s.exclude) {
            (Some(c), None) => criterion(c, &format!("{sp}.include"), has_index, lists, 0)?,
            (None, Some(c)) => criterion(c, &format!("{sp}.exclude"), has_index, lists, 0)?,
            (Some(_), Some(_)) => {
                return Err(invalid(
                    &sp,
                    "a step either includes or excludes; split it into two steps",
                ));
            }
            (None, None) => {
                return Err(invalid(&sp, "a step needs \"include\" or \"exclude\""));
            }
        }
    }
    Ok(())
}

fn criterion(
    c: &Criterion,
    p: &str,
    has_index: bool,
    lists: &CodeLists,
    depth: usize,
) -> Result<(), QueryError> {
    if depth > MAX_DEPTH {
        return Err(invalid(p, format!("nested deeper than {MAX_DEPTH} levels")));
    }
    match c {
        Criterion::Event(e) => event(e, &format!("{p}.event"), has_index, lists),
        Criterion::Person(pc) => person(pc, &format!("{p}.person"), has_index),
        Criterion::And(cs) | Criterion::Or(cs) => {
            let op = if matches!(c, Criterion::And(_)) {
                "and"
            } else {
                "or"
            };
            if cs.is_empty() {
                return Err(invalid(
                    &format!("{p}.{op}"),
                    format!("an empty \"{op}\" has no meaning; give at least one criterion"),
                ));
            }
            for (i, child) in cs.iter().enumerate() {
                criterion(
                    child,
                    &format!("{p}.{op}[{i}]"),
                    has_index,
                    lists,
                    depth + 1,
                )?;
            }
            Ok(())
        }
        Criterion::Not(child) => criterion(child, &format!("{p}.not"), has_index, lists, depth + 1),
    }
}

fn non_empty_list(v: &Option<Vec<String>>, p: &str, what: &str) -> Result<(), QueryError> {
    if let Some(v) = v {
        if v.is_empty() {
            return Err(invalid(
                p,
                format!("an empty {what} list matches nothing; leave the field out to allow any"),
            ));
        }
        if let Some(i) = v.iter().position(|s| s.trim().is_empty()) {
            return Err(invalid(&format!("{p}[{i}]"), format!("empty {what}")));
        }
    }
    Ok(())
}

fn event(
    e: &EventCriterion,
    p: &str,
    has_index: bool,
    lists: &CodeLists,
) -> Result<(), QueryError> {
    if let Some(sets) = &e.codes {
        if sets.is_empty() {
            return Err(invalid(
                &format!("{p}.codes"),
                "an empty code set matches nothing; leave \"codes\" out to match any code",
            ));
        }
        code_sets(sets, &format!("{p}.codes"), lists)?;
    }
    event_rest(e, p, has_index)?;
    value_unit(e, p, lists)
}

/// A lab filter's unit: one halsohub-codes reads (the spellings ingest
/// accepts), convertible to what the criterion's codes are stored in.
fn value_unit(e: &EventCriterion, p: &str, lists: &CodeLists) -> Result<(), QueryError> {
    use halsohub_codes::units;
    let Some(v) = &e.value else {
        return Ok(());
    };
    let up = format!("{p}.value.unit");
    let unit = units::normalise_unit(&v.unit).map_err(|e| {
        invalid(
            &up,
            format!("{e}; write a unit such as mmol/L, umol/L, mg/L, g/L, ng/L, mmol/mol or %"),
        )
    })?;
    let analytes = e
        .codes
        .as_deref()
        .map(|c| crate::codeset::analytes_of(c, lists))
        .unwrap_or_default();
    for a in &analytes {
        if !a.accepts(unit) {
            return Err(invalid(
                &up,
                format!(
                    "{} ({}) is stored in {}; {unit} cannot be converted to it",
                    a.name, a.id, a.canonical_unit
                ),
            ));
        }
    }
    if analytes.len() > 1
        && let Some(a) = analytes
            .iter()
            .find(|a| units::power_of_ten(unit, a.canonical_unit).is_none())
    {
        let ids: Vec<&str> = analytes.iter().map(|a| a.id).collect();
        return Err(invalid(
            &up,
            format!(
                "the codes measure several analytes ({}); {unit} converts to {} only by {}'s own factor: \
                 write the threshold in {} or split the criterion",
                ids.join(", "),
                a.canonical_unit,
                a.id,
                a.canonical_unit
            ),
        ));
    }
    Ok(())
}

/// Check code sets (a criterion's `codes`, or a list file's): each is a
/// known list, or codes of a system a query may name; `p` is their path.
pub(crate) fn code_sets(sets: &[CodeSet], p: &str, lists: &CodeLists) -> Result<(), QueryError> {
    {
        for (i, set) in sets.iter().enumerate() {
            let sp = format!("{p}[{i}]");
            match (&set.list, &set.system, &set.codes) {
                (Some(name), None, None) => {
                    if set.descendants {
                        return Err(invalid(
                            &format!("{sp}.descendants"),
                            "a named list defines its own descendants",
                        ));
                    }
                    match lists.get(name) {
                        None => {
                            return Err(invalid(
                                &format!("{sp}.list"),
                                format!("unknown code list {name:?}"),
                            ));
                        }
                        Some([]) => {
                            return Err(invalid(
                                &format!("{sp}.list"),
                                format!("code list {name:?} is empty"),
                            ));
                        }
                        Some(_) => {}
                    }
                }
                (None, Some(system), Some(codes)) => {
                    if !lists.knows_system(system) {
                        let known = lists.systems();
                        let more = known.len().saturating_sub(MAX_LISTED_SYSTEMS);
                        let mut shown = known
                            .into_iter()
                            .take(MAX_LISTED_SYSTEMS)
                            .collect::<Vec<_>>()
                            .join(", ");
                        if more > 0 {
                            shown.push_str(&format!(" and {more} more"));
                        }
                        return Err(invalid(
                            &format!("{sp}.system"),
                            format!("unknown code system {system:?}; known: {shown}"),
                        ));
                    }
                    if codes.is_empty() {
                        return Err(invalid(
                            &format!("{sp}.codes"),
                            "an empty code set matches nothing",
                        ));
                    }
                    for (j, code) in codes.iter().enumerate() {
                        check_code(system, code, set.descendants)
                            .map_err(|m| invalid(&format!("{sp}.codes[{j}]"), m))?;
                    }
                }
                (Some(_), _, _) => {
                    return Err(invalid(
                        &sp,
                        "give either \"list\" or \"system\" with \"codes\", not both",
                    ));
                }
                (None, None, _) => {
                    return Err(invalid(&format!("{sp}.system"), "missing code system"));
                }
                (None, Some(_), None) => {
                    return Err(invalid(&format!("{sp}.codes"), "missing codes"));
                }
            }
        }
    }
    Ok(())
}

/// The rest of an event criterion, after its code sets.
fn event_rest(e: &EventCriterion, p: &str, has_index: bool) -> Result<(), QueryError> {
    if let Some(v) = &e.value {
        let vp = format!("{p}.value");
        if e.domain != Domain::LabResult {
            return Err(invalid(
                &vp,
                format!("only lab results have values, not {}", e.domain.as_str()),
            ));
        }
        if v.unit.trim().is_empty() {
            return Err(invalid(&format!("{vp}.unit"), "empty unit"));
        }
        let ends = [("gt", v.gt), ("gte", v.gte), ("lt", v.lt), ("lte", v.lte)];
        for (name, x) in ends {
            if let Some(x) = x
                && !x.is_finite()
            {
                return Err(invalid(&format!("{vp}.{name}"), "not a finite number"));
            }
        }
        if v.gt.is_some() && v.gte.is_some() {
            return Err(invalid(&vp, "give gt or gte, not both"));
        }
        if v.lt.is_some() && v.lte.is_some() {
            return Err(invalid(&vp, "give lt or lte, not both"));
        }
        if ends.iter().all(|(_, x)| x.is_none()) {
            return Err(invalid(&vp, "give at least one of gt, gte, lt, lte"));
        }
        let lo = v.gt.or(v.gte);
        let hi = v.lt.or(v.lte);
        if let (Some(lo), Some(hi)) = (lo, hi) {
            let strict = v.gt.is_some() || v.lt.is_some();
            if lo > hi || (lo == hi && strict) {
                return Err(invalid(
                    &vp,
                    "no value can satisfy this range (lower end above upper end)",
                ));
            }
        }
    }
    if let Some(d) = &e.date
        && let (Some(from), Some(to)) = (d.from, d.to)
        && from > to
    {
        return Err(invalid(
            &format!("{p}.date"),
            format!("inverted date range: from {from} is after to {to}"),
        ));
    }
    if let Some(s) = &e.setting
        && s.is_empty()
    {
        return Err(invalid(
            &format!("{p}.setting"),
            "an empty setting list matches nothing; leave the field out to allow any",
        ));
    }
    non_empty_list(&e.provider, &format!("{p}.provider"), "provider")?;
    non_empty_list(
        &e.provider_region,
        &format!("{p}.provider_region"),
        "region",
    )?;
    non_empty_list(&e.source, &format!("{p}.source"), "source")?;
    if e.at_least == 0 || e.at_least > MAX_AT_LEAST {
        return Err(invalid(
            &format!("{p}.at_least"),
            format!("at_least must be 1..={MAX_AT_LEAST}"),
        ));
    }
    if e.occurrence != Occurrence::Any && e.at_least != 1 {
        return Err(invalid(
            &format!("{p}.at_least"),
            "with occurrence first or last there is one event; at_least must be 1",
        ));
    }
    if let Some(w) = &e.within {
        let wp = format!("{p}.within.days");
        if !has_index {
            return Err(invalid(&wp, "a window relative to the index needs $.index"));
        }
        for (i, x) in w.days.iter().enumerate() {
            if let Some(x) = x
                && x.unsigned_abs() > MAX_WINDOW_DAYS as u32
            {
                return Err(invalid(
                    &format!("{wp}[{i}]"),
                    format!("{x} days is out of range ±{MAX_WINDOW_DAYS}"),
                ));
            }
        }
        if let [Some(a), Some(b)] = w.days
            && a > b
        {
            return Err(invalid(
                &wp,
                format!("inverted window [{a}, {b}]: the first day must not come after the second"),
            ));
        }
    }
    Ok(())
}

fn at(a: &At, p: &str, has_index: bool) -> Result<(), QueryError> {
    if *a == At::Index && !has_index {
        return Err(invalid(p, "\"index\" needs $.index"));
    }
    Ok(())
}

fn person(pc: &PersonCriterion, p: &str, has_index: bool) -> Result<(), QueryError> {
    match pc {
        PersonCriterion::Sex(_) => Ok(()),
        PersonCriterion::Age(a) => {
            let ap = format!("{p}.age");
            at(&a.at, &format!("{ap}.at"), has_index)?;
            for (name, v) in [("min", a.min), ("max", a.max)] {
                if let Some(v) = v
                    && v > MAX_AGE
                {
                    return Err(invalid(
                        &format!("{ap}.{name}"),
                        format!("age {v} is out of range 0..={MAX_AGE}"),
                    ));
                }
            }
            match (a.min, a.max) {
                (None, None) => Err(invalid(&ap, "give min, max or both")),
                (Some(lo), Some(hi)) if lo > hi => Err(invalid(
                    &ap,
                    format!("inverted age range: min {lo} is above max {hi}"),
                )),
                _ => Ok(()),
            }
        }
        PersonCriterion::BirthYear(y) => {
            let yp = format!("{p}.birth_year");
            for (name, v) in [("from", y.from), ("to", y.to)] {
                if let Some(v) = v
                    && !(1800..=2200).contains(&v)
                {
                    return Err(invalid(
                        &format!("{yp}.{name}"),
                        format!("birth year {v} is out of range 1800..=2200"),
                    ));
                }
            }
            match (y.from, y.to) {
                (None, None) => Err(invalid(&yp, "give from, to or both")),
                (Some(a), Some(b)) if a > b => Err(invalid(
                    &yp,
                    format!("inverted year range: from {a} is after to {b}"),
                )),
                _ => Ok(()),
            }
        }
        PersonCriterion::Region(r) => {
            let rp = format!("{p}.region");
            at(&r.at, &format!("{rp}.at"), has_index)?;
            if r.regions.is_empty() {
                return Err(invalid(
                    &format!("{rp}.regions"),
                    "an empty region list matches nothing",
                ));
            }
            for (i, code) in r.regions.iter().enumerate() {
                let ok = code.len() == 2 && code.bytes().all(|b| b.is_ascii_digit());
                if !ok {
                    return Err(invalid(
                        &format!("{rp}.regions[{i}]"),
                        format!("{code:?} is not a two-digit län code"),
                    ));
                }
            }
            Ok(())
        }
        PersonCriterion::Alive(a) => at(&a.at, &format!("{p}.alive.at"), has_index),
    }
}

/// The age bands a strata or time-series output uses.
pub fn age_bands_of(output: &Output) -> Vec<u32> {
    let given = match output {
        Output::Strata { age_bands, .. } | Output::TimeSeries { age_bands, .. } => {
            age_bands.clone()
        }
        _ => None,
    };
    given.unwrap_or_else(|| DEFAULT_AGE_BANDS.to_vec())
}
