//! Typed, columnar access to the store's Parquet: the one reader that the
//! store's own tables, the cohort engine and exports share.
//!
//! * [`EventColumn`]: the columns of an event segment, for projection
//!   ([`crate::Snapshot::event_columns`] reads only those asked for).
//! * [`Columns`]: one record batch with typed getters by column name (or
//!   [`EventColumn`]); every error names the file and the column.
//! * [`TextColumn`]: a string column as a dictionary (segments write
//!   dictionaries; a plain string column is converted once per batch), so a
//!   reader maps each *distinct* value once per batch ([`TextColumn::map`])
//!   and rows through their dictionary keys: no string per row.
//! * Dates: Parquet `DATE` is Arrow `Date32`, days since 1970-01-01;
//!   [`date_from_days`] / [`days_from_date`] convert, [`EPOCH_FROM_CE`] is
//!   the offset to chrono's days from the common era.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Date32Array, DictionaryArray, Float64Array, Int64Array,
    RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Int32Type};
use chrono::{Datelike, NaiveDate};

use crate::StoreError;

/// Days between 0001-01-01 (CE day 1, chrono's `num_days_from_ce`) and
/// 1970-01-01 (Arrow `Date32` day 0).
pub const EPOCH_FROM_CE: i32 = 719_163;

/// The date of an Arrow `Date32` value (`None` outside chrono's range).
pub fn date_from_days(days: i32) -> Option<NaiveDate> {
    days.checked_add(EPOCH_FROM_CE)
        .and_then(NaiveDate::from_num_days_from_ce_opt)
}

/// The Arrow `Date32` value of a date.
pub fn days_from_date(d: NaiveDate) -> i32 {
    d.num_days_from_ce() - EPOCH_FROM_CE
}

/// A column of the event segments (the schema in the crate docs), in
/// schema order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventColumn {
    PersonId,
    Domain,
    System,
    Code,
    CodeKnown,
    StartDate,
    EndDate,
    Value,
    Comparator,
    Unit,
    ValueSystem,
    ValueCode,
    ValueText,
    Quantity,
    Setting,
    IsPrimary,
    Provider,
    ProviderRegion,
    Source,
}

impl EventColumn {
    /// Every column, in schema order.
    pub const ALL: [EventColumn; 19] = [
        EventColumn::PersonId,
        EventColumn::Domain,
        EventColumn::System,
        EventColumn::Code,
        EventColumn::CodeKnown,
        EventColumn::StartDate,
        EventColumn::EndDate,
        EventColumn::Value,
        EventColumn::Comparator,
        EventColumn::Unit,
        EventColumn::ValueSystem,
        EventColumn::ValueCode,
        EventColumn::ValueText,
        EventColumn::Quantity,
        EventColumn::Setting,
        EventColumn::IsPrimary,
        EventColumn::Provider,
        EventColumn::ProviderRegion,
        EventColumn::Source,
    ];

    /// The Parquet column name.
    pub fn name(self) -> &'static str {
        match self {
            EventColumn::PersonId => "person_id",
            EventColumn::Domain => "domain",
            EventColumn::System => "system",
            EventColumn::Code => "code",
            EventColumn::CodeKnown => "code_known",
            EventColumn::StartDate => "start_date",
            EventColumn::EndDate => "end_date",
            EventColumn::Value => "value",
            EventColumn::Comparator => "comparator",
            EventColumn::Unit => "unit",
            EventColumn::ValueSystem => "value_system",
            EventColumn::ValueCode => "value_code",
            EventColumn::ValueText => "value_text",
            EventColumn::Quantity => "quantity",
            EventColumn::Setting => "setting",
            EventColumn::IsPrimary => "is_primary",
            EventColumn::Provider => "provider",
            EventColumn::ProviderRegion => "provider_region",
            EventColumn::Source => "source",
        }
    }

    /// Whether a segment may lack the value (and, written before the
    /// column existed, the whole column: it then reads as nulls).
    pub fn nullable(self) -> bool {
        matches!(
            self,
            EventColumn::EndDate
                | EventColumn::Value
                | EventColumn::Comparator
                | EventColumn::Unit
                | EventColumn::ValueSystem
                | EventColumn::ValueCode
                | EventColumn::ValueText
                | EventColumn::Quantity
                | EventColumn::Setting
                | EventColumn::IsPrimary
                | EventColumn::Provider
                | EventColumn::ProviderRegion
        )
    }
}

impl AsRef<str> for EventColumn {
    fn as_ref(&self) -> &str {
        self.name()
    }
}

impl std::fmt::Display for EventColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

fn corrupt(path: &Path, message: String) -> StoreError {
    StoreError::Corrupt {
        path: path.to_path_buf(),
        message,
    }
}

/// One record batch of a store file, with typed getters; errors name
/// `path` and the column.
#[derive(Debug, Clone, Copy)]
pub struct Columns<'b> {
    batch: &'b RecordBatch,
    path: &'b Path,
}

impl<'b> Columns<'b> {
    /// Typed access to `batch`, read from `path`.
    pub fn new(batch: &'b RecordBatch, path: &'b Path) -> Columns<'b> {
        Columns { batch, path }
    }

    /// The file the batch came from.
    pub fn path(&self) -> &'b Path {
        self.path
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.batch.num_rows()
    }

    /// Whether the batch holds the column.
    pub fn has(&self, name: impl AsRef<str>) -> bool {
        self.batch.column_by_name(name.as_ref()).is_some()
    }

    fn raw(&self, name: &str) -> Result<&'b ArrayRef, StoreError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| corrupt(self.path, format!("column `{name}` is missing")))
    }

    /// A column of Arrow type `T`; an error when absent or of another type.
    pub fn typed<T: Array + 'static>(&self, name: impl AsRef<str>) -> Result<&'b T, StoreError> {
        let name = name.as_ref();
        self.raw(name)?
            .as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| corrupt(self.path, format!("column `{name}` has an unexpected type")))
    }

    /// Like [`Columns::typed`], but `None` when the column is absent.
    pub fn opt_typed<T: Array + 'static>(
        &self,
        name: impl AsRef<str>,
    ) -> Result<Option<&'b T>, StoreError> {
        if self.has(name.as_ref()) {
            self.typed(name).map(Some)
        } else {
            Ok(None)
        }
    }

    /// An `Int64` column (ids).
    pub fn int64(&self, name: impl AsRef<str>) -> Result<&'b Int64Array, StoreError> {
        self.typed(name)
    }

    /// A `Date32` column (days since 1970-01-01, see [`date_from_days`]).
    pub fn date32(&self, name: impl AsRef<str>) -> Result<&'b Date32Array, StoreError> {
        self.typed(name)
    }

    /// A `Float64` column.
    pub fn float64(&self, name: impl AsRef<str>) -> Result<&'b Float64Array, StoreError> {
        self.typed(name)
    }

    /// A `Boolean` column.
    pub fn boolean(&self, name: impl AsRef<str>) -> Result<&'b BooleanArray, StoreError> {
        self.typed(name)
    }

    /// A plain (not dictionary) `Utf8` column.
    pub fn string(&self, name: impl AsRef<str>) -> Result<&'b StringArray, StoreError> {
        self.typed(name)
    }

    /// A text column as a dictionary, whether the file holds a dictionary
    /// or plain strings.
    pub fn text(&self, name: impl AsRef<str>) -> Result<TextColumn, StoreError> {
        let name = name.as_ref();
        let col = self.raw(name)?;
        let want = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let arr: ArrayRef = if col.data_type() == &want {
            Arc::clone(col)
        } else {
            arrow::compute::cast(col, &want).map_err(|e| {
                corrupt(
                    self.path,
                    format!("column `{name}` ({}) is not text: {e}", col.data_type()),
                )
            })?
        };
        let dict = arr
            .as_dictionary_opt::<Int32Type>()
            .cloned()
            .ok_or_else(|| {
                corrupt(
                    self.path,
                    format!("column `{name}` is not a text dictionary"),
                )
            })?;
        let values = dict
            .values()
            .as_string_opt::<i32>()
            .cloned()
            .ok_or_else(|| corrupt(self.path, format!("column `{name}` does not hold text")))?;
        Ok(TextColumn { dict, values })
    }

    /// Like [`Columns::text`], but `None` when the column is absent.
    pub fn opt_text(&self, name: impl AsRef<str>) -> Result<Option<TextColumn>, StoreError> {
        if self.has(name.as_ref()) {
            self.text(name).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// A text column of one batch as dictionary keys and distinct values.
#[derive(Debug, Clone)]
pub struct TextColumn {
    dict: DictionaryArray<Int32Type>,
    values: StringArray,
}

impl TextColumn {
    /// The distinct values (the dictionary); keys index it.
    pub fn values(&self) -> &StringArray {
        &self.values
    }

    /// Whether row `row` is null.
    pub fn is_null(&self, row: usize) -> bool {
        self.dict.is_null(row)
    }

    /// The dictionary key of row `row`: `None` when the row is null or the
    /// key does not index the dictionary.
    pub fn key(&self, row: usize) -> Option<usize> {
        if row >= self.dict.len() || self.dict.is_null(row) {
            return None;
        }
        usize::try_from(self.dict.keys().value(row))
            .ok()
            .filter(|k| *k < self.values.len())
    }

    /// The text of row `row` (`None` when null).
    pub fn get(&self, row: usize) -> Option<&str> {
        let k = self.key(row)?;
        self.values.is_valid(k).then(|| self.values.value(k))
    }

    /// `f` of every distinct value, by dictionary key (`None` for a null
    /// dictionary value): map once per batch, then read rows with
    /// [`TextColumn::mapped`].
    pub fn map<T>(&self, mut f: impl FnMut(&str) -> T) -> Vec<Option<T>> {
        (0..self.values.len())
            .map(|i| self.values.is_valid(i).then(|| f(self.values.value(i))))
            .collect()
    }

    /// Like [`TextColumn::map`], stopping at the first error.
    pub fn try_map<T, E>(
        &self,
        mut f: impl FnMut(&str) -> Result<T, E>,
    ) -> Result<Vec<Option<T>>, E> {
        let mut out = Vec::with_capacity(self.values.len());
        for i in 0..self.values.len() {
            out.push(if self.values.is_valid(i) {
                Some(f(self.values.value(i))?)
            } else {
                None
            });
        }
        Ok(out)
    }

    /// The mapped value of row `row` from a flat per-key `map` (see
    /// [`TextColumn::map`]), `absent` when the row is null or its key is
    /// outside `map`: the per-row fast path (one null check, one key, one
    /// lookup).
    #[inline]
    pub fn mapped_or<T: Copy>(&self, map: &[T], row: usize, absent: T) -> T {
        if self.dict.is_null(row) {
            return absent;
        }
        usize::try_from(self.dict.keys().value(row))
            .ok()
            .and_then(|k| map.get(k))
            .copied()
            .unwrap_or(absent)
    }

    /// The mapped value of row `row` (`None` when the row or its value is
    /// null).
    pub fn mapped<'m, T>(&self, map: &'m [Option<T>], row: usize) -> Option<&'m T> {
        map.get(self.key(row)?)?.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::StringDictionaryBuilder;

    #[test]
    fn dates_round_trip() {
        let d = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap_or_default();
        assert_eq!(date_from_days(days_from_date(d)), Some(d));
        assert_eq!(date_from_days(0), NaiveDate::from_ymd_opt(1970, 1, 1));
        assert_eq!(date_from_days(i32::MAX), None);
        assert_eq!(
            NaiveDate::from_ymd_opt(1970, 1, 1).map(|d| d.num_days_from_ce()),
            Some(EPOCH_FROM_CE)
        );
    }

    #[test]
    fn event_columns_match_the_segment_schema() {
        let fields = crate::tables::EVENTS.fields();
        assert_eq!(fields.len(), EventColumn::ALL.len());
        for (f, c) in fields.iter().zip(EventColumn::ALL) {
            assert_eq!(f.name(), c.name());
            assert_eq!(f.is_nullable(), c.nullable(), "{c}");
        }
    }

    #[test]
    fn text_columns_map_distinct_values_once() {
        let mut b = StringDictionaryBuilder::<Int32Type>::new();
        for v in [Some("a"), None, Some("b"), Some("a")] {
            b.append_option(v);
        }
        let plain = StringArray::from(vec![Some("x"), None, Some("y"), Some("x")]);
        let batch = RecordBatch::try_from_iter([
            ("d", Arc::new(b.finish()) as ArrayRef),
            ("p", Arc::new(plain) as ArrayRef),
            (
                "n",
                Arc::new(Int64Array::from(vec![1, 2, 3, 4])) as ArrayRef,
            ),
        ])
        .unwrap_or_else(|e| panic!("{e}"));
        let path = Path::new("t.parquet");
        let c = Columns::new(&batch, path);
        for name in ["d", "p"] {
            let t = c.text(name).unwrap_or_else(|e| panic!("{e}"));
            let mut calls = 0;
            let map = t.map(|s| {
                calls += 1;
                s.to_uppercase()
            });
            assert_eq!(calls, 2, "{name}: one call per distinct value");
            let rows: Vec<Option<&String>> = (0..4).map(|i| t.mapped(&map, i)).collect();
            assert_eq!(rows[1], None);
            assert_eq!(rows[0], rows[3]);
            assert_ne!(rows[0], rows[2]);
            assert_eq!(t.get(1), None);
            assert_eq!(t.get(0).map(str::to_uppercase).as_ref(), rows[0]);
            let flat: Vec<usize> = t
                .map(str::len)
                .into_iter()
                .map(|x| x.unwrap_or(9))
                .collect();
            assert_eq!(t.mapped_or(&flat, 0, 0), 1);
            assert_eq!(t.mapped_or(&flat, 1, 0), 0, "a null row is absent");
            assert_eq!(t.mapped_or(&[], 2, 7), 7, "a key outside the map is absent");
        }
        assert!(c.opt_text("missing").is_ok_and(|t| t.is_none()));
        let err = c
            .int64("d")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("`d`") && err.contains("unexpected type") && err.contains("t.parquet"),
            "{err}"
        );
        assert!(c.int64(EventColumn::PersonId).is_err());
    }
}
