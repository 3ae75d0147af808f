//! One data row of a CDM table: its fields by official column name,
//! decoded (UTF-8 or Windows-1252) and trimmed, and the CDM shapes of
//! integers and dates.

use std::borrow::Cow;

use chrono::NaiveDate;
use csv::ByteRecord;
use halsohub_omop::HeaderMatch;

use crate::input::Encoding;
use crate::reject::{Reject, omop as why};
use crate::text::{self, ValueError};

/// One data row: fields by official column name, decoded and trimmed.
pub(super) struct Row<'r> {
    pub(super) record: &'r ByteRecord,
    pub(super) header: &'r HeaderMatch,
    pub(super) encoding: Encoding,
}

pub(super) fn decode(raw: &[u8], encoding: Encoding) -> Cow<'_, str> {
    let s: Cow<'_, str> = match encoding {
        Encoding::Utf8 => String::from_utf8_lossy(raw),
        Encoding::Windows1252 => encoding_rs::WINDOWS_1252.decode_without_bom_handling(raw).0,
    };
    match s {
        Cow::Borrowed(b) => Cow::Borrowed(b.trim()),
        Cow::Owned(o) => Cow::Owned(o.trim().to_owned()),
    }
}

/// An integer as CDM exports write one (`123`, also `123.0`).
pub(super) fn parse_int(t: &str) -> Option<i64> {
    let t = t.trim();
    let int = match t.split_once('.') {
        Some((i, f)) if !f.is_empty() && f.bytes().all(|b| b == b'0') => i,
        Some(_) => return None,
        None => t,
    };
    int.parse::<i64>().ok()
}

/// A CDM date (`YYYY-MM-DD`, `YYYYMMDD`); a time after it is ignored.
pub(super) fn parse_date(t: &str) -> Result<NaiveDate, ValueError> {
    let d = t.split([' ', 'T']).next().unwrap_or(t);
    text::parse_date(d)
}

impl<'r> Row<'r> {
    /// The trimmed text of `column`, `None` when absent or empty.
    pub(super) fn get(&self, column: &str) -> Option<Cow<'r, str>> {
        let i = self.header.position(column)?;
        let raw = self.record.get(i)?;
        let t = decode(raw, self.encoding);
        (!t.is_empty()).then_some(t)
    }

    pub(super) fn required(&self, column: &str) -> Result<Cow<'r, str>, Reject> {
        self.get(column)
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    pub(super) fn int(&self, column: &str) -> Result<Option<i64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => parse_int(&t).map(Some).ok_or_else(|| {
                Reject::with_value(why::INVALID_NUMBER, column, "expected an integer", &t)
            }),
        }
    }

    pub(super) fn required_int(&self, column: &str) -> Result<i64, Reject> {
        self.int(column)?
            .ok_or_else(|| Reject::new(why::MISSING_VALUE, column, "required value is empty"))
    }

    /// A concept id column: 0 when empty.
    pub(super) fn concept(&self, column: &str) -> Result<i64, Reject> {
        Ok(self.int(column)?.unwrap_or(0))
    }

    pub(super) fn number(&self, column: &str) -> Result<Option<f64>, Reject> {
        match self.get(column) {
            None => Ok(None),
            Some(t) => t
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(Some)
                .ok_or_else(|| {
                    Reject::with_value(why::INVALID_NUMBER, column, "expected a number", &t)
                }),
        }
    }

    pub(super) fn date_of(&self, column: &str, t: &str) -> Result<NaiveDate, Reject> {
        parse_date(t).map_err(|e| {
            let what = match e {
                ValueError::Shape(_) => "expected a date YYYY-MM-DD",
                ValueError::Impossible(w) => w,
            };
            Reject::with_value(why::INVALID_DATE, column, what, t)
        })
    }

    /// `<x>_date`, else the date of `<x>_datetime`; required.
    pub(super) fn date(&self, column: &str, datetime: &str) -> Result<NaiveDate, Reject> {
        match self.get(column) {
            Some(t) => self.date_of(column, &t),
            None => match self.get(datetime) {
                Some(t) => self.date_of(datetime, &t),
                None => Err(Reject::new(
                    why::MISSING_VALUE,
                    column,
                    "required value is empty",
                )),
            },
        }
    }

    pub(super) fn opt_date(
        &self,
        column: &str,
        datetime: &str,
    ) -> Result<Option<NaiveDate>, Reject> {
        match (self.get(column), self.get(datetime)) {
            (Some(t), _) => self.date_of(column, &t).map(Some),
            (None, Some(t)) => self.date_of(datetime, &t).map(Some),
            (None, None) => Ok(None),
        }
    }
}
