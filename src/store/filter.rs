//! Scan filters in the HBase shell's filter language (the syntax of HBase's `ParseFilter`)
//! and their server-side evaluation, with the semantics of HBase's filter classes.
//!
//! [`parse`] turns `"PrefixFilter('r0') AND ValueFilter(=, 'substring:x')"` into a
//! [`Filter`]. A scan calls, per row, [`Filter::filter_row_key`] on the row's first cell,
//! [`Filter::filter_cell`] on each cell that passed the column tracker, time range and
//! version checks, [`Filter::transform_value`] on the cells it keeps, [`Filter::filter_row`]
//! once a non-empty row is complete, and [`Filter::reset`] between rows
//! ([`crate::store::scan`] does this).
//!
//! Supported: `KeyOnlyFilter`, `FirstKeyOnlyFilter`, `PrefixFilter`, `ColumnPrefixFilter`,
//! `PageFilter`, `TimestampsFilter`, `RowFilter`, `FamilyFilter`, `QualifierFilter`,
//! `ValueFilter`, `SingleColumnValueFilter`, `InclusiveStopFilter`, `ColumnRangeFilter`,
//! `MultipleColumnPrefixFilter`, `ColumnCountGetFilter`, `ColumnPaginationFilter`,
//! `ColumnValueFilter`, `SingleColumnValueExcludeFilter`, `DependentColumnFilter` (every
//! filter ParseFilter knows), combined with `AND`, `OR`, `SKIP`, `WHILE` and parentheses. Comparators: `binary:`, `binaryprefix:`, `substring:`, `regexstring:`,
//! `regexstringnocase:`.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::cell::Cell;
use crate::error::{Error, ErrorKind, Result};

/// What a filter says about one cell (HBase's `Filter.ReturnCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnCode {
    /// Keep the cell.
    Include,
    /// Keep the cell, skip the other versions of its column.
    IncludeAndNextCol,
    /// Keep the cell, skip the rest of the row (in this family).
    IncludeAndSeekNextRow,
    /// Drop the cell.
    Skip,
    /// Drop the cell and the rest of its column.
    NextCol,
    /// Drop the cell and the rest of the row (in this family).
    NextRow,
    /// Drop the cell and seek to [`Filter::next_cell_hint`].
    SeekNextUsingHint,
}

use ReturnCode as Rc;

/// A comparison operator (`CompareOperator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `<`
    Less,
    /// `<=`
    LessOrEqual,
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `>=`
    GreaterOrEqual,
    /// `>`
    Greater,
}

impl CompareOp {
    /// `CompareFilter.compare`: true when a cell whose comparator result is `r`
    /// (`comparator value` vs `cell bytes`) is filtered OUT.
    fn filters_out(self, r: Ordering) -> bool {
        match self {
            CompareOp::Less => r != Ordering::Greater,
            CompareOp::LessOrEqual => r == Ordering::Less,
            CompareOp::Equal => r != Ordering::Equal,
            CompareOp::NotEqual => r == Ordering::Equal,
            CompareOp::GreaterOrEqual => r == Ordering::Greater,
            CompareOp::Greater => r != Ordering::Less,
        }
    }
}

/// A byte comparator (`ByteArrayComparable`).
#[derive(Debug, Clone)]
pub enum Comparator {
    /// `binary:` — lexicographic compare of the whole value.
    Binary(Vec<u8>),
    /// `binaryprefix:` — compare with the value cut to the comparator's length.
    BinaryPrefix(Vec<u8>),
    /// `substring:` — case-insensitive containment (stored lower-cased).
    Substring(String),
    /// `regexstring:` / `regexstringnocase:` — a regex search in the UTF-8 decoded value.
    Regex(regex::Regex),
}

impl Comparator {
    /// `compareTo(bytes)`: the comparator's value against `b` (0 = match for substring and
    /// regex comparators, which answer only match / no match).
    pub fn compare_to(&self, b: &[u8]) -> Ordering {
        match self {
            Comparator::Binary(v) => v.as_slice().cmp(b),
            Comparator::BinaryPrefix(v) => {
                let n = v.len().min(b.len());
                v.as_slice().cmp(b.get(..n).unwrap_or(b))
            }
            Comparator::Substring(s) => {
                if String::from_utf8_lossy(b)
                    .to_lowercase()
                    .contains(s.as_str())
                {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            Comparator::Regex(re) => {
                if re.is_match(&String::from_utf8_lossy(b)) {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
        }
    }
}

/// A seek target: the first key of `row` (empty family and qualifier) or of a column.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Hint {
    /// Row.
    pub row: Vec<u8>,
    /// Family (empty = first on row).
    pub family: Vec<u8>,
    /// Qualifier.
    pub qualifier: Vec<u8>,
}

impl Hint {
    /// Whether a cell at (`row`, `family`, `qualifier`) sorts before this hint.
    pub fn is_after(&self, c: &Cell<'_>) -> bool {
        (c.key.row(), c.key.family(), c.key.qualifier())
            < (
                self.row.as_slice(),
                self.family.as_slice(),
                self.qualifier.as_slice(),
            )
    }
}

/// Row, family and qualifier of a cell seen earlier (for `FilterListWithOR`).
#[derive(Debug, Clone)]
struct PrevCell {
    row: Vec<u8>,
    family: Vec<u8>,
    qualifier: Vec<u8>,
}

/// A filter with its per-scan state. Clone an unused one for each region, as a region
/// server deserializes the scan's filter afresh per region.
#[derive(Debug, Clone)]
pub enum Filter {
    /// `PrefixFilter('p')`: rows starting with p.
    Prefix {
        /// The prefix.
        prefix: Vec<u8>,
        /// State: a row past the prefix was seen.
        passed: bool,
        /// State: the current row does not match.
        filter_row: bool,
        /// State: the current row is before the prefix.
        provide_hint: bool,
    },
    /// `RowFilter(op, 'cmp')`.
    Row {
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
        /// State: the current row is filtered out.
        filter_out_row: bool,
    },
    /// `FamilyFilter(op, 'cmp')`.
    Family {
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
    },
    /// `QualifierFilter(op, 'cmp')`.
    Qualifier {
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
    },
    /// `ValueFilter(op, 'cmp')`.
    Value {
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
    },
    /// `ColumnPrefixFilter('p')`: qualifiers starting with p.
    ColumnPrefix {
        /// The prefix.
        prefix: Vec<u8>,
    },
    /// `SingleColumnValueFilter('f', 'q', op, 'cmp'[, filterIfMissing, latestVersionOnly])`.
    SingleColumnValue {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
        /// Drop rows without the column.
        filter_if_missing: bool,
        /// Test only the newest version.
        latest_version_only: bool,
        /// `SingleColumnValueExcludeFilter`: the tested column is left out of the row.
        exclude: bool,
        /// State: the column was seen in this row.
        found: bool,
        /// State: a tested version matched.
        matched: bool,
    },
    /// `TimestampsFilter(t1, t2, ...)`.
    Timestamps {
        /// The timestamps.
        timestamps: BTreeSet<i64>,
    },
    /// `KeyOnlyFilter([lenAsVal])`: values replaced by nothing (or their 4-byte length).
    KeyOnly {
        /// Value = the original value length as a big-endian int.
        len_as_val: bool,
    },
    /// `FirstKeyOnlyFilter()`: the first cell of each row.
    FirstKeyOnly {
        /// State: a cell was included in this row.
        found: bool,
    },
    /// `PageFilter(n)`: n rows (per region).
    Page {
        /// Page size.
        size: i64,
        /// State: rows accepted so far.
        accepted: i64,
    },
    /// `InclusiveStopFilter('row')`: rows up to and including `row`.
    InclusiveStop {
        /// The last row.
        stop: Vec<u8>,
        /// State: a row past it was seen.
        done: bool,
    },
    /// `ColumnRangeFilter('min', minInclusive, 'max', maxInclusive)` (empty = unbounded).
    ColumnRange {
        /// Lowest qualifier (None = unbounded).
        min: Option<Vec<u8>>,
        /// Whether `min` itself is in.
        min_inclusive: bool,
        /// Highest qualifier (None = unbounded).
        max: Option<Vec<u8>>,
        /// Whether `max` itself is in.
        max_inclusive: bool,
    },
    /// `MultipleColumnPrefixFilter('p1', 'p2', ...)`: qualifiers starting with any prefix.
    MultipleColumnPrefix {
        /// Distinct prefixes, sorted.
        prefixes: BTreeSet<Vec<u8>>,
        /// State: the prefix to seek to after SEEK_NEXT_USING_HINT.
        hint: Vec<u8>,
    },
    /// `ColumnCountGetFilter(n)`: the first n columns (newest version each), then the scan
    /// ends (a filter meant for gets).
    ColumnCountGet {
        /// Column limit.
        limit: i64,
        /// State: columns counted in this row.
        count: i64,
    },
    /// `ColumnPaginationFilter(limit, offset)`: columns offset..offset+limit of each row.
    ColumnPagination {
        /// Columns per row.
        limit: i64,
        /// Columns skipped first.
        offset: i64,
        /// State: columns seen in this row.
        count: i64,
    },
    /// `ColumnValueFilter('f', 'q', op, 'cmp')`: only that column's matching versions.
    ColumnValue {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Operator.
        op: CompareOp,
        /// Comparator.
        cmp: Comparator,
        /// State: the column was seen in this row.
        found: bool,
    },
    /// `DependentColumnFilter('f', 'q'[, dropDependentColumn[, op, 'cmp']])`: only cells
    /// whose timestamp is one of the (matching) versions of the reference column.
    DependentColumn {
        /// Family.
        family: Vec<u8>,
        /// Qualifier.
        qualifier: Vec<u8>,
        /// Leave the reference column itself out.
        drop_dependent: bool,
        /// Optional value test of the reference column.
        test: Option<(CompareOp, Comparator)>,
        /// State: timestamps of the reference column's accepted versions in this row.
        stamps: BTreeSet<i64>,
    },
    /// `SKIP filter`: drop a whole row when any of its cells is not included.
    Skip {
        /// Wrapped filter.
        inner: Box<Filter>,
        /// State: a cell was not included.
        filter_row: bool,
    },
    /// `WHILE filter`: end the scan at the first cell or row the filter rejects.
    While {
        /// Wrapped filter.
        inner: Box<Filter>,
        /// State: something was rejected.
        all_remaining: bool,
    },
    /// `A AND B ...` (`FilterListWithAND`).
    And {
        /// The members.
        filters: Vec<Filter>,
        /// State: members that answered SEEK_NEXT_USING_HINT for the last cell.
        seek_hint: Vec<usize>,
        /// State: members that rejected the current row key.
        rejected_row_key: Vec<bool>,
    },
    /// `A OR B ...` (`FilterListWithOR`).
    Or {
        /// The members.
        filters: Vec<Filter>,
        /// State: each member's last answer in this row.
        prev_rc: Vec<Option<ReturnCode>>,
        /// State: the cell of that answer (kept for non-INCLUDE/SKIP answers).
        prev_cell: Vec<Option<PrevCellBox>>,
        /// State: which members included the last cell.
        included: Vec<bool>,
    },
}

/// An opaque copy of a previously seen cell's coordinates.
#[derive(Debug, Clone)]
pub struct PrevCellBox(PrevCell);

fn is_hinting(f: &Filter) -> bool {
    // The classes implementing HintingFilter among those supported here.
    matches!(
        f,
        Filter::Prefix { .. }
            | Filter::ColumnPrefix { .. }
            | Filter::Timestamps { .. }
            | Filter::ColumnRange { .. }
            | Filter::MultipleColumnPrefix { .. }
    )
}

fn is_include(rc: ReturnCode) -> bool {
    matches!(
        rc,
        Rc::Include | Rc::IncludeAndNextCol | Rc::IncludeAndSeekNextRow
    )
}

fn and_merge(rc: ReturnCode, local: ReturnCode) -> ReturnCode {
    if rc == Rc::SeekNextUsingHint {
        return Rc::SeekNextUsingHint;
    }
    match local {
        Rc::SeekNextUsingHint => Rc::SeekNextUsingHint,
        Rc::Include => rc,
        Rc::IncludeAndNextCol => match rc {
            Rc::Include | Rc::IncludeAndNextCol => Rc::IncludeAndNextCol,
            Rc::IncludeAndSeekNextRow => Rc::IncludeAndSeekNextRow,
            Rc::Skip | Rc::NextCol => Rc::NextCol,
            _ => Rc::NextRow,
        },
        Rc::IncludeAndSeekNextRow => match rc {
            Rc::Include | Rc::IncludeAndNextCol | Rc::IncludeAndSeekNextRow => {
                Rc::IncludeAndSeekNextRow
            }
            _ => Rc::NextRow,
        },
        Rc::Skip => match rc {
            Rc::Include | Rc::Skip => Rc::Skip,
            Rc::IncludeAndNextCol | Rc::NextCol => Rc::NextCol,
            _ => Rc::NextRow,
        },
        Rc::NextCol => match rc {
            Rc::Include | Rc::IncludeAndNextCol | Rc::Skip | Rc::NextCol => Rc::NextCol,
            _ => Rc::NextRow,
        },
        Rc::NextRow => Rc::NextRow,
    }
}

fn or_merge(rc: Option<ReturnCode>, local: ReturnCode) -> ReturnCode {
    let Some(rc) = rc else { return local };
    match local {
        Rc::Include => Rc::Include,
        Rc::IncludeAndNextCol => match rc {
            Rc::Include | Rc::Skip | Rc::SeekNextUsingHint => Rc::Include,
            _ => Rc::IncludeAndNextCol,
        },
        Rc::IncludeAndSeekNextRow => match rc {
            Rc::Include | Rc::Skip | Rc::SeekNextUsingHint => Rc::Include,
            Rc::IncludeAndNextCol | Rc::NextCol => Rc::IncludeAndNextCol,
            Rc::IncludeAndSeekNextRow | Rc::NextRow => Rc::IncludeAndSeekNextRow,
        },
        Rc::Skip => match rc {
            Rc::Include | Rc::IncludeAndNextCol | Rc::IncludeAndSeekNextRow => Rc::Include,
            _ => Rc::Skip,
        },
        Rc::NextCol => match rc {
            Rc::Include => Rc::Include,
            Rc::NextCol | Rc::NextRow => Rc::NextCol,
            Rc::IncludeAndNextCol | Rc::IncludeAndSeekNextRow => Rc::IncludeAndNextCol,
            Rc::Skip | Rc::SeekNextUsingHint => Rc::Skip,
        },
        Rc::NextRow => match rc {
            Rc::Skip | Rc::SeekNextUsingHint => Rc::Skip,
            other => other,
        },
        Rc::SeekNextUsingHint => match rc {
            Rc::Include | Rc::IncludeAndNextCol | Rc::IncludeAndSeekNextRow => Rc::Include,
            Rc::Skip | Rc::NextCol | Rc::NextRow => Rc::Skip,
            Rc::SeekNextUsingHint => Rc::SeekNextUsingHint,
        },
    }
}

impl Filter {
    fn and(filters: Vec<Filter>) -> Filter {
        let n = filters.len();
        Filter::And {
            filters,
            seek_hint: Vec::new(),
            rejected_row_key: vec![false; n],
        }
    }

    fn or(filters: Vec<Filter>) -> Filter {
        let n = filters.len();
        Filter::Or {
            filters,
            prev_rc: vec![None; n],
            prev_cell: vec![None; n],
            included: vec![false; n],
        }
    }

    /// `filterAllRemaining`: the scan (of this region) can end.
    pub fn filter_all_remaining(&self) -> bool {
        match self {
            Filter::Prefix { passed, .. } => *passed,
            Filter::Page { size, accepted } => accepted >= size,
            Filter::InclusiveStop { done, .. } => *done,
            Filter::ColumnCountGet { limit, count } => count > limit,
            Filter::While {
                inner,
                all_remaining,
            } => *all_remaining || inner.filter_all_remaining(),
            Filter::And { filters, .. } => filters.iter().any(Filter::filter_all_remaining),
            Filter::Or { filters, .. } => filters.iter().all(Filter::filter_all_remaining),
            _ => false,
        }
    }

    /// `filterRowKey(firstRowCell)`: true = skip the whole row.
    pub fn filter_row_key(&mut self, row: &[u8]) -> bool {
        match self {
            Filter::Prefix {
                prefix,
                passed,
                filter_row,
                provide_hint,
            } => {
                if *passed {
                    return true;
                }
                let n = prefix.len().min(row.len());
                let cmp = row.get(..n).unwrap_or(row).cmp(prefix.as_slice());
                if cmp == Ordering::Greater {
                    *passed = true;
                }
                *filter_row = cmp != Ordering::Equal;
                *provide_hint = cmp == Ordering::Less;
                *passed
            }
            Filter::Row {
                op,
                cmp,
                filter_out_row,
            } => {
                if op.filters_out(cmp.compare_to(row)) {
                    *filter_out_row = true;
                }
                *filter_out_row
            }
            Filter::Page { .. } | Filter::ColumnCountGet { .. } => self.filter_all_remaining(),
            Filter::InclusiveStop { stop, done } => {
                if *done {
                    return true;
                }
                *done = row > stop.as_slice();
                *done
            }
            Filter::While {
                inner,
                all_remaining,
            } => {
                if *all_remaining || inner.filter_all_remaining() {
                    return true;
                }
                let v = inner.filter_row_key(row);
                *all_remaining |= v;
                v
            }
            Filter::And {
                filters,
                rejected_row_key,
                ..
            } => {
                rejected_row_key.iter_mut().for_each(|r| *r = false);
                let mut any_rejected = false;
                let mut any_hinting_passed = false;
                for (i, f) in filters.iter_mut().enumerate() {
                    if f.filter_all_remaining() {
                        return true;
                    } else if f.filter_row_key(row) {
                        any_rejected = true;
                        if let Some(r) = rejected_row_key.get_mut(i) {
                            *r = true;
                        }
                    } else if is_hinting(f) {
                        any_hinting_passed = true;
                    }
                }
                any_rejected && !any_hinting_passed
            }
            Filter::Or { filters, .. } => {
                let mut all = true;
                for f in filters.iter_mut() {
                    if !f.filter_all_remaining() && !f.filter_row_key(row) {
                        all = false;
                    }
                }
                all
            }
            _ => false,
        }
    }

    /// `filterCell`: the answer for a cell that passed the column, time range and version
    /// checks.
    pub fn filter_cell(&mut self, c: &Cell<'_>) -> ReturnCode {
        match self {
            Filter::Prefix {
                filter_row,
                provide_hint,
                ..
            } => {
                if *provide_hint {
                    Rc::SeekNextUsingHint
                } else if *filter_row {
                    Rc::NextRow
                } else {
                    Rc::Include
                }
            }
            Filter::Row { filter_out_row, .. } => {
                if *filter_out_row {
                    Rc::NextRow
                } else {
                    Rc::Include
                }
            }
            Filter::Family { op, cmp } => {
                let fam = c.key.family();
                if !fam.is_empty() && op.filters_out(cmp.compare_to(fam)) {
                    Rc::NextRow
                } else {
                    Rc::Include
                }
            }
            Filter::Qualifier { op, cmp } => {
                if op.filters_out(cmp.compare_to(c.key.qualifier())) {
                    Rc::Skip
                } else {
                    Rc::Include
                }
            }
            Filter::Value { op, cmp } => {
                if op.filters_out(cmp.compare_to(c.value)) {
                    Rc::Skip
                } else {
                    Rc::Include
                }
            }
            Filter::ColumnPrefix { prefix } => {
                let q = c.key.qualifier();
                let n = q.len().min(prefix.len());
                let cmp = q
                    .get(..n)
                    .unwrap_or(q)
                    .cmp(prefix.get(..n).unwrap_or(prefix));
                if q.len() < prefix.len() {
                    if cmp != Ordering::Greater {
                        Rc::SeekNextUsingHint
                    } else {
                        Rc::NextRow
                    }
                } else {
                    match cmp {
                        Ordering::Less => Rc::SeekNextUsingHint,
                        Ordering::Greater => Rc::NextRow,
                        Ordering::Equal => Rc::Include,
                    }
                }
            }
            Filter::SingleColumnValue {
                family,
                qualifier,
                op,
                cmp,
                latest_version_only,
                found,
                matched,
                ..
            } => {
                if *matched {
                    return Rc::Include;
                } else if *latest_version_only && *found {
                    return Rc::NextRow;
                }
                if c.key.family() != family.as_slice() || c.key.qualifier() != qualifier.as_slice()
                {
                    return Rc::Include;
                }
                *found = true;
                if op.filters_out(cmp.compare_to(c.value)) {
                    return if *latest_version_only {
                        Rc::NextRow
                    } else {
                        Rc::Include
                    };
                }
                *matched = true;
                Rc::Include
            }
            Filter::ColumnValue {
                family,
                qualifier,
                op,
                cmp,
                found,
            } => {
                if c.key.family() != family.as_slice() || c.key.qualifier() != qualifier.as_slice()
                {
                    return if *found { Rc::NextRow } else { Rc::NextCol };
                }
                *found = true;
                if op.filters_out(cmp.compare_to(c.value)) {
                    Rc::Skip
                } else {
                    Rc::Include
                }
            }
            Filter::DependentColumn {
                family,
                qualifier,
                drop_dependent,
                test,
                stamps,
            } => {
                if c.key.family() != family.as_slice() || c.key.qualifier() != qualifier.as_slice()
                {
                    return Rc::Include;
                }
                if let Some((op, cmp)) = test {
                    if op.filters_out(cmp.compare_to(c.value)) {
                        return Rc::Skip;
                    }
                }
                stamps.insert(c.key.timestamp());
                if *drop_dependent {
                    Rc::Skip
                } else {
                    Rc::Include
                }
            }
            Filter::Timestamps { timestamps } => {
                let ts = c.key.timestamp();
                if timestamps.contains(&ts) {
                    Rc::Include
                } else if ts < timestamps.first().copied().unwrap_or(i64::MAX) {
                    Rc::NextCol
                } else {
                    Rc::Skip
                }
            }
            Filter::KeyOnly { .. } | Filter::Page { .. } => Rc::Include,
            Filter::InclusiveStop { done, .. } => {
                if *done {
                    Rc::NextRow
                } else {
                    Rc::Include
                }
            }
            Filter::ColumnRange {
                min,
                min_inclusive,
                max,
                max_inclusive,
            } => {
                let q = c.key.qualifier();
                let cmp_min = min
                    .as_ref()
                    .map_or(Ordering::Greater, |m| q.cmp(m.as_slice()));
                if cmp_min == Ordering::Less {
                    return Rc::SeekNextUsingHint;
                }
                if !*min_inclusive && cmp_min == Ordering::Equal {
                    return Rc::NextCol;
                }
                let Some(max) = max else {
                    return Rc::Include;
                };
                match q.cmp(max.as_slice()) {
                    Ordering::Less => Rc::Include,
                    Ordering::Equal if *max_inclusive => Rc::Include,
                    _ => Rc::NextRow,
                }
            }
            Filter::MultipleColumnPrefix { prefixes, hint } => {
                if prefixes.is_empty() {
                    return Rc::Include;
                }
                let q = c.key.qualifier();
                let mut le = prefixes
                    .range::<[u8], _>((std::ops::Bound::Unbounded, std::ops::Bound::Included(q)));
                match le.next_back() {
                    Some(largest) => {
                        if q.starts_with(largest) {
                            return Rc::Include;
                        }
                        let mut above = prefixes.range::<[u8], _>((
                            std::ops::Bound::Excluded(largest.as_slice()),
                            std::ops::Bound::Unbounded,
                        ));
                        match above.next() {
                            None => Rc::NextRow,
                            Some(h) => {
                                *hint = h.clone();
                                Rc::SeekNextUsingHint
                            }
                        }
                    }
                    None => {
                        *hint = prefixes.first().cloned().unwrap_or_default();
                        Rc::SeekNextUsingHint
                    }
                }
            }
            Filter::ColumnCountGet { limit, count } => {
                *count = count.saturating_add(1);
                if *count > *limit {
                    Rc::NextCol
                } else {
                    Rc::IncludeAndNextCol
                }
            }
            Filter::ColumnPagination {
                limit,
                offset,
                count,
            } => {
                if *count >= offset.saturating_add(*limit) {
                    return Rc::NextRow;
                }
                let rc = if *count < *offset {
                    Rc::NextCol
                } else {
                    Rc::IncludeAndNextCol
                };
                *count = count.saturating_add(1);
                rc
            }
            Filter::FirstKeyOnly { found } => {
                if *found {
                    Rc::NextRow
                } else {
                    *found = true;
                    Rc::Include
                }
            }
            Filter::Skip { inner, filter_row } => {
                let rc = inner.filter_cell(c);
                *filter_row |= rc != Rc::Include;
                rc
            }
            Filter::While {
                inner,
                all_remaining,
            } => {
                let rc = inner.filter_cell(c);
                *all_remaining |= rc != Rc::Include;
                rc
            }
            Filter::And {
                filters, seek_hint, ..
            } => {
                let mut rc = Rc::Include;
                seek_hint.clear();
                let n = filters.len();
                let mut i = 0;
                while i < n {
                    let Some(f) = filters.get_mut(i) else { break };
                    if f.filter_all_remaining() {
                        rc = Rc::NextRow;
                        break;
                    }
                    let local = f.filter_cell(c);
                    if local == Rc::SeekNextUsingHint {
                        seek_hint.push(i);
                    }
                    rc = and_merge(rc, local);
                    if !is_include(rc) {
                        break;
                    }
                    i += 1;
                }
                // Hinting members after the one that decided still get to give a hint.
                for j in i.saturating_add(1)..n {
                    if let Some(f) = filters.get_mut(j) {
                        if is_hinting(f) && f.filter_cell(c) == Rc::SeekNextUsingHint {
                            seek_hint.push(j);
                        }
                    }
                }
                if !seek_hint.is_empty() {
                    return Rc::SeekNextUsingHint;
                }
                rc
            }
            Filter::Or {
                filters,
                prev_rc,
                prev_cell,
                included,
            } => {
                let mut rc: Option<ReturnCode> = None;
                for (i, f) in filters.iter_mut().enumerate() {
                    if let Some(x) = included.get_mut(i) {
                        *x = false;
                    }
                    if f.filter_all_remaining() {
                        continue;
                    }
                    let prev = prev_cell.get(i).cloned().flatten();
                    let prc = prev_rc.get(i).copied().flatten();
                    let local = match or_from_prev(f, c, prev.as_ref(), prc) {
                        Some(r) => r,
                        None => f.filter_cell(c),
                    };
                    if let Some(p) = prev_rc.get_mut(i) {
                        *p = Some(local);
                    }
                    if let Some(p) = prev_cell.get_mut(i) {
                        *p = if matches!(local, Rc::Include | Rc::Skip) {
                            None
                        } else {
                            Some(PrevCellBox(PrevCell {
                                row: c.key.row().to_vec(),
                                family: c.key.family().to_vec(),
                                qualifier: c.key.qualifier().to_vec(),
                            }))
                        };
                    }
                    rc = Some(or_merge(rc, local));
                    if is_include(local) {
                        if let Some(x) = included.get_mut(i) {
                            *x = true;
                        }
                    }
                }
                rc.unwrap_or(Rc::Skip)
            }
        }
    }

    /// `filterRowCells`: called at the end of a row with its kept cells, before
    /// [`Filter::filter_row`]; `keep` says whether a cell (family, qualifier, timestamp)
    /// stays. Only SingleColumnValueExcludeFilter and DependentColumnFilter (and lists of
    /// them) remove cells; SKIP and WHILE do not pass it on, as in HBase.
    pub fn row_cell_kept(&self, family: &[u8], qualifier: &[u8], ts: i64) -> bool {
        match self {
            Filter::SingleColumnValue {
                family: f,
                qualifier: q,
                exclude: true,
                ..
            } => !(f.as_slice() == family && q.as_slice() == qualifier),
            Filter::DependentColumn { stamps, .. } => stamps.contains(&ts),
            Filter::And { filters, .. } | Filter::Or { filters, .. } => filters
                .iter()
                .all(|f| f.row_cell_kept(family, qualifier, ts)),
            _ => true,
        }
    }

    /// `filterRow`: called once per row that has cells left; true = drop the row.
    pub fn filter_row(&mut self) -> bool {
        match self {
            Filter::Prefix { filter_row, .. } => *filter_row,
            Filter::Row { filter_out_row, .. } => *filter_out_row,
            Filter::SingleColumnValue {
                filter_if_missing,
                found,
                matched,
                ..
            } => {
                if *found {
                    !*matched
                } else {
                    *filter_if_missing
                }
            }
            Filter::Page { size, accepted } => {
                *accepted = accepted.saturating_add(1);
                *accepted > *size
            }
            Filter::Skip { filter_row, .. } => *filter_row,
            Filter::While {
                inner,
                all_remaining,
            } => {
                let v = inner.filter_row();
                *all_remaining |= v;
                v
            }
            Filter::And { filters, .. } => {
                // Every member is asked (PageFilter counts in filterRow) until one says drop.
                for f in filters.iter_mut() {
                    if f.filter_row() {
                        return true;
                    }
                }
                false
            }
            Filter::Or { filters, .. } => {
                for f in filters.iter_mut() {
                    if !f.filter_row() {
                        return false;
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// `reset`: called between rows.
    pub fn reset(&mut self) {
        match self {
            Filter::Prefix { filter_row, .. } => *filter_row = true,
            Filter::Row { filter_out_row, .. } => *filter_out_row = false,
            Filter::SingleColumnValue { found, matched, .. } => {
                *found = false;
                *matched = false;
            }
            Filter::FirstKeyOnly { found } | Filter::ColumnValue { found, .. } => *found = false,
            Filter::DependentColumn { stamps, .. } => stamps.clear(),
            Filter::ColumnCountGet { count, .. } | Filter::ColumnPagination { count, .. } => {
                *count = 0
            }
            Filter::Skip { inner, filter_row } => {
                inner.reset();
                *filter_row = false;
            }
            Filter::While { inner, .. } => inner.reset(),
            Filter::And {
                filters,
                seek_hint,
                rejected_row_key,
            } => {
                filters.iter_mut().for_each(Filter::reset);
                seek_hint.clear();
                rejected_row_key.iter_mut().for_each(|r| *r = false);
            }
            Filter::Or {
                filters,
                prev_rc,
                prev_cell,
                included,
            } => {
                filters.iter_mut().for_each(Filter::reset);
                prev_rc.iter_mut().for_each(|r| *r = None);
                prev_cell.iter_mut().for_each(|r| *r = None);
                included.iter_mut().for_each(|r| *r = false);
            }
            _ => {}
        }
    }

    /// `getNextCellHint`: where to seek after SEEK_NEXT_USING_HINT for a cell of `row`
    /// and `family`. None = just skip the cell.
    pub fn next_cell_hint(&self, row: &[u8], family: &[u8]) -> Option<Hint> {
        match self {
            Filter::Prefix { prefix, .. } => Some(Hint {
                row: prefix.clone(),
                family: Vec::new(),
                qualifier: Vec::new(),
            }),
            Filter::ColumnPrefix { prefix } => Some(Hint {
                row: row.to_vec(),
                family: family.to_vec(),
                qualifier: prefix.clone(),
            }),
            Filter::ColumnRange { min, .. } => Some(Hint {
                row: row.to_vec(),
                family: family.to_vec(),
                qualifier: min.clone().unwrap_or_default(),
            }),
            Filter::MultipleColumnPrefix { hint, .. } => Some(Hint {
                row: row.to_vec(),
                family: family.to_vec(),
                qualifier: hint.clone(),
            }),
            Filter::And {
                filters, seek_hint, ..
            } => {
                let mut best: Option<Hint> = None;
                for &i in seek_hint {
                    let Some(f) = filters.get(i) else { continue };
                    if f.filter_all_remaining() {
                        continue;
                    }
                    let h = f.next_cell_hint(row, family);
                    best = match (best, h) {
                        (None, h) => h,
                        (Some(b), Some(h)) => Some(b.max(h)),
                        (b, None) => b,
                    };
                }
                best
            }
            Filter::Or { filters, .. } => {
                let mut best: Option<Hint> = None;
                for f in filters {
                    if f.filter_all_remaining() {
                        continue;
                    }
                    let h = f.next_cell_hint(row, family)?;
                    best = Some(match best {
                        Some(b) => b.min(h),
                        None => h,
                    });
                }
                best
            }
            _ => None,
        }
    }

    /// `transformCell` for a kept cell: the replacement value, when the filter changes it
    /// (KeyOnlyFilter; such cells also lose their tags and sequence id).
    pub fn transform_value(&self, value: &[u8]) -> Option<Vec<u8>> {
        let mut out: Option<Vec<u8>> = None;
        self.transform_into(value, &mut out);
        out
    }

    fn transform_into(&self, orig: &[u8], out: &mut Option<Vec<u8>>) {
        match self {
            Filter::KeyOnly { len_as_val } => {
                let len = out.as_ref().map_or(orig.len(), Vec::len);
                *out = Some(if *len_as_val {
                    (i32::try_from(len).unwrap_or(i32::MAX))
                        .to_be_bytes()
                        .to_vec()
                } else {
                    Vec::new()
                });
            }
            Filter::Skip { inner, .. } | Filter::While { inner, .. } => {
                inner.transform_into(orig, out)
            }
            Filter::And { filters, .. } => {
                filters.iter().for_each(|f| f.transform_into(orig, out));
            }
            Filter::Or {
                filters, included, ..
            } => {
                for (f, inc) in filters.iter().zip(included) {
                    if *inc {
                        f.transform_into(orig, out);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `FilterListWithOR.calculateReturnCodeByPrevCellAndRC`: reuse a member's previous
/// answer while the cell is still inside the column / family / hinted range it skipped.
fn or_from_prev(
    f: &Filter,
    c: &Cell<'_>,
    prev: Option<&PrevCellBox>,
    prc: Option<ReturnCode>,
) -> Option<ReturnCode> {
    let (PrevCellBox(p), rc) = (prev?, prc?);
    match rc {
        Rc::Include | Rc::Skip => None,
        Rc::SeekNextUsingHint => {
            let h = f.next_cell_hint(&p.row, &p.family)?;
            h.is_after(c).then_some(Rc::SeekNextUsingHint)
        }
        Rc::NextCol | Rc::IncludeAndNextCol => {
            (p.family == c.key.family() && p.qualifier == c.key.qualifier()).then_some(Rc::NextCol)
        }
        Rc::NextRow | Rc::IncludeAndSeekNextRow => {
            (p.family == c.key.family()).then_some(Rc::NextRow)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

/// A parse failure at byte `pos` of the filter string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset in the filter string.
    pub pos: usize,
    /// What is wrong.
    pub message: String,
}

impl ParseError {
    fn new(pos: usize, message: impl Into<String>) -> Self {
        ParseError {
            pos,
            message: message.into(),
        }
    }

    /// The message, the filter string and a caret under the position.
    pub fn render(&self, filter: &str) -> String {
        let col = filter
            .char_indices()
            .take_while(|(i, _)| *i < self.pos)
            .count();
        format!(
            "{} (at character {})\n  {}\n  {}^",
            self.message,
            col.saturating_add(1),
            filter,
            " ".repeat(col)
        )
    }
}

/// Parse a filter string (HBase shell / `ParseFilter` syntax). Errors are usage errors
/// whose message shows the string and points at the position.
pub fn parse(s: &str) -> Result<Filter> {
    parse_bytes(s.as_bytes()).map_err(|e| Error::new(ErrorKind::Usage, "--filter", e.render(s)))
}

/// [`parse`] with the raw error.
pub fn parse_bytes(s: &[u8]) -> std::result::Result<Filter, ParseError> {
    let mut p = Parser { s, i: 0, depth: 0 };
    let f = p.or_expr()?;
    p.ws();
    if p.i < s.len() {
        return Err(ParseError::new(
            p.i,
            if p.peek() == Some(b')') {
                "unbalanced ')'"
            } else {
                "expected AND, OR or the end of the filter"
            },
        ));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    /// Nesting of parentheses and SKIP/WHILE (bounded: the parser recurses).
    depth: usize,
}

/// Deepest nesting accepted.
const MAX_DEPTH: usize = 100;

/// One argument of a simple filter: its text (quotes removed, `''` unescaped), whether it
/// was quoted, and where it starts.
struct Arg {
    text: Vec<u8>,
    quoted: bool,
    pos: usize,
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn at(&self, j: usize) -> Option<u8> {
        self.s.get(j).copied()
    }
    fn ws(&mut self) {
        while self.peek().is_some_and(is_ws) {
            self.i += 1;
        }
    }

    /// A keyword at the cursor, with ParseFilter's boundary rules: AND/OR need a space or
    /// `)` before and a space or `(` after; SKIP/WHILE may also start the string or follow `(`.
    fn keyword(&self, kw: &[u8]) -> bool {
        let i = self.i;
        if !self.s.get(i..).is_some_and(|r| r.starts_with(kw)) {
            return false;
        }
        let unary = kw == b"SKIP" || kw == b"WHILE";
        let before_ok = match i.checked_sub(1).and_then(|j| self.at(j)) {
            None => unary,
            Some(b) => is_ws(b) || b == b')' || (unary && b == b'('),
        };
        // (At the end of the string the keyword is taken too, to report the missing operand.)
        let after_ok = self
            .at(i.saturating_add(kw.len()))
            .is_none_or(|b| is_ws(b) || b == b'(');
        before_ok && after_ok
    }

    fn or_expr(&mut self) -> std::result::Result<Filter, ParseError> {
        let mut items = vec![self.and_expr()?];
        loop {
            self.ws();
            if self.keyword(b"OR") {
                self.i += 2;
                items.push(self.and_expr()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Filter::KeyOnly { len_as_val: false })
        } else {
            Filter::or(items)
        })
    }

    fn and_expr(&mut self) -> std::result::Result<Filter, ParseError> {
        let mut items = vec![self.unary()?];
        loop {
            self.ws();
            if self.keyword(b"AND") {
                self.i += 3;
                items.push(self.unary()?);
            } else {
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Filter::KeyOnly { len_as_val: false })
        } else {
            Filter::and(items)
        })
    }

    fn unary(&mut self) -> std::result::Result<Filter, ParseError> {
        self.ws();
        if self.depth >= MAX_DEPTH {
            return Err(ParseError::new(
                self.i,
                format!("filter nested more than {MAX_DEPTH} levels deep"),
            ));
        }
        self.depth += 1;
        let r = self.unary_inner();
        self.depth -= 1;
        r
    }

    fn unary_inner(&mut self) -> std::result::Result<Filter, ParseError> {
        if self.keyword(b"SKIP") {
            self.i += 4;
            let inner = self.unary()?;
            return Ok(Filter::Skip {
                inner: Box::new(inner),
                filter_row: false,
            });
        }
        if self.keyword(b"WHILE") {
            self.i += 5;
            let inner = self.unary()?;
            return Ok(Filter::While {
                inner: Box::new(inner),
                all_remaining: false,
            });
        }
        match self.peek() {
            None => Err(ParseError::new(self.i, "expected a filter")),
            Some(b'(') => {
                let open = self.i;
                self.i += 1;
                let f = self.or_expr()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(ParseError::new(
                        self.i,
                        format!("expected ')' to close the '(' at character {}", open + 1),
                    ));
                }
                self.i += 1;
                Ok(f)
            }
            Some(b')') => Err(ParseError::new(self.i, "expected a filter, found ')'")),
            Some(_) => self.simple(),
        }
    }

    /// `Name(arg, ...)`.
    fn simple(&mut self) -> std::result::Result<Filter, ParseError> {
        let start = self.i;
        while self
            .peek()
            .is_some_and(|b| b != b'(' && !is_ws(b) && b != b')')
        {
            self.i += 1;
        }
        let name_bytes = self.s.get(start..self.i).unwrap_or_default();
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        self.ws();
        if self.peek() != Some(b'(') {
            return Err(ParseError::new(
                self.i,
                format!("expected '(' after the filter name {name:?}"),
            ));
        }
        self.i += 1;
        let mut args = Vec::new();
        loop {
            while self.peek().is_some_and(|b| is_ws(b) || b == b',') {
                self.i += 1;
            }
            match self.peek() {
                None => {
                    return Err(ParseError::new(
                        self.i,
                        format!("missing ')' at the end of the arguments of {name}"),
                    ))
                }
                Some(b')') => {
                    self.i += 1;
                    break;
                }
                Some(b'\'') => {
                    let pos = self.i;
                    self.i += 1;
                    let mut text = Vec::new();
                    loop {
                        match self.peek() {
                            None => return Err(ParseError::new(pos, "unterminated quoted string")),
                            Some(b'\'') => {
                                if self.at(self.i + 1) == Some(b'\'') {
                                    text.push(b'\'');
                                    self.i += 2;
                                } else {
                                    self.i += 1;
                                    break;
                                }
                            }
                            Some(b) => {
                                text.push(b);
                                self.i += 1;
                            }
                        }
                    }
                    args.push(Arg {
                        text,
                        quoted: true,
                        pos,
                    });
                }
                Some(_) => {
                    let pos = self.i;
                    while self
                        .peek()
                        .is_some_and(|b| !is_ws(b) && b != b',' && b != b')')
                    {
                        self.i += 1;
                    }
                    args.push(Arg {
                        text: self.s.get(pos..self.i).unwrap_or_default().to_vec(),
                        quoted: false,
                        pos,
                    });
                }
            }
        }
        build(&name, start, args)
    }
}

fn count(
    name: &str,
    pos: usize,
    args: &[Arg],
    ok: &[usize],
) -> std::result::Result<(), ParseError> {
    if ok.contains(&args.len()) {
        return Ok(());
    }
    let want: Vec<String> = ok.iter().map(|n| n.to_string()).collect();
    Err(ParseError::new(
        pos,
        format!(
            "{name} takes {} argument(s), got {}",
            want.join(" or "),
            args.len()
        ),
    ))
}

fn quoted(a: &Arg, what: &str) -> std::result::Result<Vec<u8>, ParseError> {
    if !a.quoted {
        return Err(ParseError::new(
            a.pos,
            format!("{what} must be a quoted string ('...')"),
        ));
    }
    Ok(a.text.clone())
}

fn bare<'a>(a: &'a Arg, what: &str) -> std::result::Result<&'a [u8], ParseError> {
    if a.quoted {
        return Err(ParseError::new(a.pos, format!("{what} must not be quoted")));
    }
    Ok(&a.text)
}

fn long(a: &Arg, what: &str) -> std::result::Result<i64, ParseError> {
    let t = bare(a, what)?;
    let s = std::str::from_utf8(t).unwrap_or("");
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::new(
            a.pos,
            format!("{what}: {:?} is not a number", String::from_utf8_lossy(t)),
        ));
    }
    s.parse::<i64>()
        .map_err(|_| ParseError::new(a.pos, format!("{what}: {s} is out of range for a long")))
}

/// A non-negative Java int (`convertByteArrayToInt` and the filters' preconditions).
fn int(a: &Arg, what: &str) -> std::result::Result<i64, ParseError> {
    let v = long(a, what)?;
    if v > i64::from(i32::MAX) {
        return Err(ParseError::new(
            a.pos,
            format!("{what}: {v} is too large for an int"),
        ));
    }
    if v < 0 {
        return Err(ParseError::new(
            a.pos,
            format!("{what} must not be negative"),
        ));
    }
    Ok(v)
}

fn boolean(a: &Arg, what: &str) -> std::result::Result<bool, ParseError> {
    let t = bare(a, what)?;
    if t.eq_ignore_ascii_case(b"true") {
        Ok(true)
    } else if t.eq_ignore_ascii_case(b"false") {
        Ok(false)
    } else {
        Err(ParseError::new(
            a.pos,
            format!(
                "{what}: expected true or false, found {:?}",
                String::from_utf8_lossy(t)
            ),
        ))
    }
}

fn compare_op(a: &Arg) -> std::result::Result<CompareOp, ParseError> {
    let t = bare(a, "the compare operator")?;
    Ok(match t {
        b"<" => CompareOp::Less,
        b"<=" => CompareOp::LessOrEqual,
        b"=" => CompareOp::Equal,
        b"!=" => CompareOp::NotEqual,
        b">=" => CompareOp::GreaterOrEqual,
        b">" => CompareOp::Greater,
        _ => {
            return Err(ParseError::new(
                a.pos,
                format!(
                    "invalid compare operator {:?} (expected <, <=, =, !=, >=, >)",
                    String::from_utf8_lossy(t)
                ),
            ))
        }
    })
}

fn comparator(a: &Arg, op: CompareOp) -> std::result::Result<Comparator, ParseError> {
    let t = quoted(a, "the comparator")?;
    let Some(colon) = t.iter().position(|&b| b == b':') else {
        return Err(ParseError::new(
            a.pos,
            "comparator must be TYPE:VALUE (binary, binaryprefix, substring, regexstring, regexstringnocase)",
        ));
    };
    let (kind, value) = (
        t.get(..colon).unwrap_or_default(),
        t.get(colon + 1..).unwrap_or_default(),
    );
    let text_only = || -> std::result::Result<(), ParseError> {
        if matches!(op, CompareOp::Equal | CompareOp::NotEqual) {
            Ok(())
        } else {
            Err(ParseError::new(
                a.pos,
                "a regexstring or substring comparator can only be used with = and !=",
            ))
        }
    };
    match kind {
        b"binary" => Ok(Comparator::Binary(value.to_vec())),
        b"binaryprefix" => Ok(Comparator::BinaryPrefix(value.to_vec())),
        b"substring" => {
            text_only()?;
            Ok(Comparator::Substring(
                String::from_utf8_lossy(value).to_lowercase(),
            ))
        }
        b"regexstring" | b"regexstringnocase" => {
            text_only()?;
            let re = regex::RegexBuilder::new(&String::from_utf8_lossy(value))
                .dot_matches_new_line(true)
                .case_insensitive(kind == b"regexstringnocase")
                .build()
                .map_err(|e| {
                    ParseError::new(
                        a.pos,
                        format!("bad regular expression: {}", e.to_string().replace('\n', " ")),
                    )
                })?;
            Ok(Comparator::Regex(re))
        }
        _ => Err(ParseError::new(
            a.pos,
            format!(
                "unknown comparator type {:?} (expected binary, binaryprefix, substring, regexstring, regexstringnocase)",
                String::from_utf8_lossy(kind)
            ),
        )),
    }
}

fn op_cmp(
    name: &str,
    pos: usize,
    args: &[Arg],
) -> std::result::Result<(CompareOp, Comparator), ParseError> {
    count(name, pos, args, &[2])?;
    let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
        return Err(ParseError::new(pos, "missing arguments"));
    };
    let op = compare_op(a)?;
    Ok((op, comparator(b, op)?))
}

fn build(name: &str, pos: usize, args: Vec<Arg>) -> std::result::Result<Filter, ParseError> {
    let first = |what: &str| -> std::result::Result<&Arg, ParseError> {
        args.first()
            .ok_or_else(|| ParseError::new(pos, format!("{name}: missing {what}")))
    };
    Ok(match name {
        "KeyOnlyFilter" => {
            count(name, pos, &args, &[0, 1])?;
            let len_as_val = match args.first() {
                Some(a) => boolean(a, "lenAsVal")?,
                None => false,
            };
            Filter::KeyOnly { len_as_val }
        }
        "FirstKeyOnlyFilter" => {
            count(name, pos, &args, &[0])?;
            Filter::FirstKeyOnly { found: false }
        }
        "PrefixFilter" => {
            count(name, pos, &args, &[1])?;
            Filter::Prefix {
                prefix: quoted(first("the prefix")?, "the prefix")?,
                passed: false,
                filter_row: true,
                provide_hint: false,
            }
        }
        "ColumnPrefixFilter" => {
            count(name, pos, &args, &[1])?;
            Filter::ColumnPrefix {
                prefix: quoted(first("the prefix")?, "the prefix")?,
            }
        }
        "PageFilter" => {
            count(name, pos, &args, &[1])?;
            let a = first("the page size")?;
            let size = long(a, "the page size")?;
            if size < 0 {
                return Err(ParseError::new(a.pos, "the page size must not be negative"));
            }
            Filter::Page { size, accepted: 0 }
        }
        "TimestampsFilter" => {
            let mut timestamps = BTreeSet::new();
            for a in &args {
                let t = long(a, "a timestamp")?;
                if t < 0 {
                    return Err(ParseError::new(a.pos, "timestamps must not be negative"));
                }
                timestamps.insert(t);
            }
            Filter::Timestamps { timestamps }
        }
        "InclusiveStopFilter" => {
            count(name, pos, &args, &[1])?;
            Filter::InclusiveStop {
                stop: quoted(first("the stop row")?, "the stop row")?,
                done: false,
            }
        }
        "ColumnRangeFilter" => {
            count(name, pos, &args, &[4])?;
            let arg = |i: usize| {
                args.get(i)
                    .ok_or_else(|| ParseError::new(pos, "missing argument"))
            };
            let min = quoted(arg(0)?, "the min column")?;
            let min_inclusive = boolean(arg(1)?, "minColumnInclusive")?;
            let max = quoted(arg(2)?, "the max column")?;
            let max_inclusive = boolean(arg(3)?, "maxColumnInclusive")?;
            Filter::ColumnRange {
                min: (!min.is_empty()).then_some(min),
                min_inclusive,
                max: (!max.is_empty()).then_some(max),
                max_inclusive,
            }
        }
        "MultipleColumnPrefixFilter" => {
            let mut prefixes = BTreeSet::new();
            for a in &args {
                if !prefixes.insert(quoted(a, "a prefix")?) {
                    return Err(ParseError::new(a.pos, "prefixes must be distinct"));
                }
            }
            Filter::MultipleColumnPrefix {
                prefixes,
                hint: Vec::new(),
            }
        }
        "ColumnCountGetFilter" => {
            count(name, pos, &args, &[1])?;
            let a = first("the limit")?;
            let limit = int(a, "the limit")?;
            Filter::ColumnCountGet { limit, count: 0 }
        }
        "ColumnPaginationFilter" => {
            count(name, pos, &args, &[2])?;
            let (Some(a), Some(b)) = (args.first(), args.get(1)) else {
                return Err(ParseError::new(pos, "missing arguments"));
            };
            Filter::ColumnPagination {
                limit: int(a, "the limit")?,
                offset: int(b, "the offset")?,
                count: 0,
            }
        }
        "RowFilter" => {
            let (op, cmp) = op_cmp(name, pos, &args)?;
            Filter::Row {
                op,
                cmp,
                filter_out_row: false,
            }
        }
        "FamilyFilter" => {
            let (op, cmp) = op_cmp(name, pos, &args)?;
            Filter::Family { op, cmp }
        }
        "QualifierFilter" => {
            let (op, cmp) = op_cmp(name, pos, &args)?;
            Filter::Qualifier { op, cmp }
        }
        "ValueFilter" => {
            let (op, cmp) = op_cmp(name, pos, &args)?;
            Filter::Value { op, cmp }
        }
        "ColumnValueFilter" => {
            count(name, pos, &args, &[4])?;
            let arg = |i: usize| {
                args.get(i)
                    .ok_or_else(|| ParseError::new(pos, "missing argument"))
            };
            let family = quoted(arg(0)?, "the family")?;
            let qualifier = quoted(arg(1)?, "the qualifier")?;
            let op = compare_op(arg(2)?)?;
            let cmp = comparator(arg(3)?, op)?;
            Filter::ColumnValue {
                family,
                qualifier,
                op,
                cmp,
                found: false,
            }
        }
        "DependentColumnFilter" => {
            count(name, pos, &args, &[2, 3, 5])?;
            let arg = |i: usize| {
                args.get(i)
                    .ok_or_else(|| ParseError::new(pos, "missing argument"))
            };
            let family = quoted(arg(0)?, "the family")?;
            let qualifier = quoted(arg(1)?, "the qualifier")?;
            let drop_dependent = if args.len() >= 3 {
                boolean(arg(2)?, "dropDependentColumn")?
            } else {
                false
            };
            let test = if args.len() == 5 {
                let op = compare_op(arg(3)?)?;
                // (ParseFilter does not restrict substring/regex to = and != here.)
                Some((op, comparator(arg(4)?, CompareOp::Equal)?))
            } else {
                None
            };
            Filter::DependentColumn {
                family,
                qualifier,
                drop_dependent,
                test,
                stamps: BTreeSet::new(),
            }
        }
        "SingleColumnValueFilter" | "SingleColumnValueExcludeFilter" => {
            count(name, pos, &args, &[4, 6])?;
            let arg = |i: usize| {
                args.get(i)
                    .ok_or_else(|| ParseError::new(pos, "missing argument"))
            };
            let family = quoted(arg(0)?, "the family")?;
            let qualifier = quoted(arg(1)?, "the qualifier")?;
            let op = compare_op(arg(2)?)?;
            let cmp = comparator(arg(3)?, op)?;
            let (filter_if_missing, latest_version_only) = if args.len() == 6 {
                (
                    boolean(arg(4)?, "filterIfMissing")?,
                    boolean(arg(5)?, "latestVersionOnly")?,
                )
            } else {
                (false, true)
            };
            Filter::SingleColumnValue {
                family,
                qualifier,
                op,
                cmp,
                filter_if_missing,
                latest_version_only,
                exclude: name == "SingleColumnValueExcludeFilter",
                found: false,
                matched: false,
            }
        }
        "" => return Err(ParseError::new(pos, "expected a filter name")),
        _ => {
            return Err(ParseError::new(
                pos,
                format!("unknown filter {name:?} (filter names are case-sensitive)"),
            ))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, Key};

    /// A compact picture of a parsed filter tree.
    fn shape(f: &Filter) -> String {
        let list = |name: &str, fs: &[Filter]| {
            let v: Vec<String> = fs.iter().map(shape).collect();
            format!("{name}({})", v.join(","))
        };
        match f {
            Filter::Prefix { prefix, .. } => format!("Prefix({})", String::from_utf8_lossy(prefix)),
            Filter::Row { .. } => "Row".into(),
            Filter::Family { .. } => "Family".into(),
            Filter::Qualifier { .. } => "Qualifier".into(),
            Filter::Value { .. } => "Value".into(),
            Filter::ColumnPrefix { .. } => "ColumnPrefix".into(),
            Filter::SingleColumnValue { .. } => "SCV".into(),
            Filter::Timestamps { .. } => "Timestamps".into(),
            Filter::KeyOnly { .. } => "KeyOnly".into(),
            Filter::FirstKeyOnly { .. } => "FirstKeyOnly".into(),
            Filter::Page { .. } => "Page".into(),
            Filter::InclusiveStop { .. } => "InclusiveStop".into(),
            Filter::ColumnRange { .. } => "ColumnRange".into(),
            Filter::MultipleColumnPrefix { .. } => "MultipleColumnPrefix".into(),
            Filter::ColumnCountGet { .. } => "ColumnCountGet".into(),
            Filter::ColumnPagination { .. } => "ColumnPagination".into(),
            Filter::ColumnValue { .. } => "ColumnValue".into(),
            Filter::DependentColumn { .. } => "DependentColumn".into(),
            Filter::Skip { inner, .. } => format!("SKIP({})", shape(inner)),
            Filter::While { inner, .. } => format!("WHILE({})", shape(inner)),
            Filter::And { filters, .. } => list("AND", filters),
            Filter::Or { filters, .. } => list("OR", filters),
        }
    }

    fn p(s: &str) -> Filter {
        parse_bytes(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {}", e.render(s)))
    }

    fn err(s: &str) -> ParseError {
        match parse_bytes(s.as_bytes()) {
            Ok(f) => panic!("{s} parsed as {}", shape(&f)),
            Err(e) => e,
        }
    }

    fn with_cell<R>(
        row: &str,
        fq: &str,
        ts: i64,
        value: &str,
        f: impl FnOnce(&Cell<'_>) -> R,
    ) -> R {
        let (fam, q) = fq.split_once(':').unwrap();
        let k = make_key(row.as_bytes(), fam.as_bytes(), q.as_bytes(), ts, 4);
        let c = Cell {
            key: Key::parse(&k).unwrap(),
            value: value.as_bytes(),
            tags: &[],
            seq_id: 0,
        };
        f(&c)
    }

    #[test]
    fn every_filter_parses() {
        let cases = [
            ("KeyOnlyFilter()", "KeyOnly"),
            ("KeyOnlyFilter(true)", "KeyOnly"),
            ("FirstKeyOnlyFilter()", "FirstKeyOnly"),
            ("PrefixFilter('r0')", "Prefix(r0)"),
            ("ColumnPrefixFilter('q')", "ColumnPrefix"),
            ("PageFilter(3)", "Page"),
            ("TimestampsFilter(5, 6,7)", "Timestamps"),
            ("RowFilter(<=, 'binary:r005')", "Row"),
            ("FamilyFilter(=, 'binaryprefix:k')", "Family"),
            ("QualifierFilter(!=, 'substring:Q')", "Qualifier"),
            ("ValueFilter(=, 'regexstring:^a.b$')", "Value"),
            ("ValueFilter(!=, 'regexstringnocase:ABC')", "Value"),
            ("SingleColumnValueFilter('f', 'q', >=, 'binary:5')", "SCV"),
            (
                "SingleColumnValueFilter('f','q',>,'binary:5',true,FALSE)",
                "SCV",
            ),
            ("  PrefixFilter ( 'r0' )  ", "Prefix(r0)"),
            ("InclusiveStopFilter('r5')", "InclusiveStop"),
            ("ColumnRangeFilter('a', true, 'c', false)", "ColumnRange"),
            (
                "MultipleColumnPrefixFilter('a', 'b')",
                "MultipleColumnPrefix",
            ),
            ("ColumnCountGetFilter(2)", "ColumnCountGet"),
            ("ColumnPaginationFilter(2, 1)", "ColumnPagination"),
            ("ColumnValueFilter('f', 'q', =, 'binary:v')", "ColumnValue"),
            (
                "SingleColumnValueExcludeFilter('f', 'q', =, 'binary:v')",
                "SCV",
            ),
            ("DependentColumnFilter('f', 'q')", "DependentColumn"),
            ("DependentColumnFilter('f', 'q', true)", "DependentColumn"),
            (
                "DependentColumnFilter('f', 'q', false, <, 'substring:x')",
                "DependentColumn",
            ),
        ];
        for (s, want) in cases {
            assert_eq!(shape(&p(s)), want, "{s}");
        }
        match p("KeyOnlyFilter(true)") {
            Filter::KeyOnly { len_as_val } => assert!(len_as_val),
            f => panic!("{}", shape(&f)),
        }
        match p("SingleColumnValueFilter('f','q',>,'binary:5',true,FALSE)") {
            Filter::SingleColumnValue {
                family,
                qualifier,
                op,
                filter_if_missing,
                latest_version_only,
                ..
            } => {
                assert_eq!(
                    (family.as_slice(), qualifier.as_slice()),
                    (&b"f"[..], &b"q"[..])
                );
                assert_eq!(op, CompareOp::Greater);
                assert!(filter_if_missing && !latest_version_only);
            }
            f => panic!("{}", shape(&f)),
        }
        match p("SingleColumnValueFilter('f','q',=,'binary:5')") {
            Filter::SingleColumnValue {
                filter_if_missing,
                latest_version_only,
                ..
            } => assert!(!filter_if_missing && latest_version_only),
            f => panic!("{}", shape(&f)),
        }
        match p("TimestampsFilter(7, 5, 6)") {
            Filter::Timestamps { timestamps } => {
                assert_eq!(timestamps.into_iter().collect::<Vec<_>>(), vec![5, 6, 7])
            }
            f => panic!("{}", shape(&f)),
        }
        for (s, op) in [
            ("<", CompareOp::Less),
            ("<=", CompareOp::LessOrEqual),
            ("=", CompareOp::Equal),
            ("!=", CompareOp::NotEqual),
            (">=", CompareOp::GreaterOrEqual),
            (">", CompareOp::Greater),
        ] {
            match p(&format!("RowFilter({s}, 'binary:x')")) {
                Filter::Row { op: got, .. } => assert_eq!(got, op),
                f => panic!("{}", shape(&f)),
            }
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_unary_tightest() {
        let a = "PrefixFilter('a')";
        let b = "PrefixFilter('b')";
        let c = "PrefixFilter('c')";
        let d = "PrefixFilter('d')";
        assert_eq!(
            shape(&p(&format!("{a} OR {b} AND {c}"))),
            "OR(Prefix(a),AND(Prefix(b),Prefix(c)))"
        );
        assert_eq!(
            shape(&p(&format!("{a} AND {b} OR {c}"))),
            "OR(AND(Prefix(a),Prefix(b)),Prefix(c))"
        );
        assert_eq!(
            shape(&p(&format!("{a} AND {b} OR {c} AND {d}"))),
            "OR(AND(Prefix(a),Prefix(b)),AND(Prefix(c),Prefix(d)))"
        );
        assert_eq!(
            shape(&p(&format!("({a} OR {b}) AND {c}"))),
            "AND(OR(Prefix(a),Prefix(b)),Prefix(c))"
        );
        assert_eq!(
            shape(&p(&format!("{a} AND {b} AND {c}"))),
            "AND(Prefix(a),Prefix(b),Prefix(c))"
        );
        assert_eq!(
            shape(&p(&format!("{a} OR {b} OR {c}"))),
            "OR(Prefix(a),Prefix(b),Prefix(c))"
        );
        assert_eq!(
            shape(&p(&format!("SKIP {a} AND {b}"))),
            "AND(SKIP(Prefix(a)),Prefix(b))"
        );
        assert_eq!(
            shape(&p(&format!("WHILE ({a} OR {b})"))),
            "WHILE(OR(Prefix(a),Prefix(b)))"
        );
        assert_eq!(
            shape(&p(&format!("(SKIP {a})AND({b})"))),
            "AND(SKIP(Prefix(a)),Prefix(b))"
        );
        assert_eq!(shape(&p(&format!("((({a})))"))), "Prefix(a)");
        // Keywords are recognised only between spaces / parentheses, as ParseFilter does.
        assert_eq!(shape(&p("PrefixFilter('a OR b')")), "Prefix(a OR b)");
    }

    #[test]
    fn quoting_follows_parse_filter() {
        assert_eq!(shape(&p("PrefixFilter('it''s')")), "Prefix(it's)");
        assert_eq!(shape(&p("PrefixFilter('')")), "Prefix()");
        assert_eq!(shape(&p("PrefixFilter('''')")), "Prefix(')");
        assert_eq!(shape(&p("PrefixFilter('a)b,c (d')")), "Prefix(a)b,c (d)");
        match p("ValueFilter(=, 'binary:a''b:c')") {
            Filter::Value {
                cmp: Comparator::Binary(v),
                ..
            } => assert_eq!(v, b"a'b:c"),
            f => panic!("{}", shape(&f)),
        }
    }

    #[test]
    fn errors_point_at_the_problem() {
        let cases: &[(&str, usize, &str)] = &[
            ("PrefixFilter('r0'", 17, "missing ')'"),
            ("PrefixFilter('r0)", 13, "unterminated"),
            ("PrefixFilter(r0)", 13, "quoted"),
            ("Bogus('x')", 0, "unknown filter"),
            ("prefixfilter('x')", 0, "unknown filter"),
            ("PrefixFilter('a') AND Bogus('x')", 22, "unknown filter"),
            ("RowFilter(<>, 'binary:x')", 10, "compare operator"),
            ("RowFilter('<', 'binary:x')", 10, "must not be quoted"),
            ("RowFilter(<, 'nosuch:x')", 13, "comparator type"),
            ("RowFilter(<, 'binaryx')", 13, "TYPE:VALUE"),
            ("RowFilter(<, 'substring:x')", 13, "= and !="),
            ("ValueFilter(>=, 'regexstring:x')", 16, "= and !="),
            (
                "ValueFilter(=, 'regexstring:(unclosed')",
                15,
                "regular expression",
            ),
            ("RowFilter(=)", 0, "2 argument"),
            ("PageFilter(x)", 11, "not a number"),
            ("PageFilter(-1)", 11, "negative"),
            ("PageFilter(99999999999999999999)", 11, "out of range"),
            ("TimestampsFilter(1, -2)", 20, "negative"),
            ("KeyOnlyFilter(yes)", 14, "true or false"),
            ("FirstKeyOnlyFilter(1)", 0, "0 argument"),
            (
                "SingleColumnValueFilter('f','q',=,'binary:x',true)",
                0,
                "4 or 6",
            ),
            (
                "PrefixFilter('a') PrefixFilter('b')",
                18,
                "expected AND, OR",
            ),
            ("PrefixFilter('a'))", 17, "unbalanced ')'"),
            ("(PrefixFilter('a')", 18, "expected ')'"),
            ("PrefixFilter('a') AND", 21, "expected a filter"),
            ("", 0, "expected a filter"),
            ("PrefixFilter", 12, "expected '('"),
            ("DependentColumnFilter('f','q',true,=)", 0, "2 or 3 or 5"),
            ("ColumnValueFilter('f','q',<,'substring:x')", 28, "= and !="),
            ("ColumnPaginationFilter(1, -1)", 26, "negative"),
            ("ColumnCountGetFilter(3000000000)", 21, "too large"),
            ("MultipleColumnPrefixFilter('a', 'a')", 32, "distinct"),
            ("PrefixFilter('a') OR ) ", 21, "found ')'"),
        ];
        for &(s, pos, what) in cases {
            let e = err(s);
            assert_eq!(e.pos, pos, "{s}: {}", e.render(s));
            assert!(e.message.contains(what), "{s}: {}", e.message);
        }
        let r = err("PrefixFilter('a') AND Bogus('x')").render("PrefixFilter('a') AND Bogus('x')");
        assert_eq!(
            r.lines().collect::<Vec<_>>(),
            vec![
                "unknown filter \"Bogus\" (filter names are case-sensitive) (at character 23)",
                "  PrefixFilter('a') AND Bogus('x')",
                "                        ^",
            ]
        );
        // Deep nesting is an error, not a stack overflow.
        let deep = format!(
            "{}PrefixFilter('a'){}",
            "(".repeat(100_000),
            ")".repeat(100_000)
        );
        assert!(err(&deep).message.contains("nested"));
        let deep = format!("{}PrefixFilter('a')", "SKIP ".repeat(100_000));
        assert!(err(&deep).message.contains("nested"));
        assert_eq!(
            shape(&p(&format!(
                "{}PrefixFilter('a'){}",
                "(".repeat(50),
                ")".repeat(50)
            ))),
            "Prefix(a)"
        );
        let e = parse("Bogus()").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
    }

    #[test]
    fn comparators_as_hbase() {
        let b = Comparator::Binary(b"r005".to_vec());
        assert_eq!(b.compare_to(b"r004"), Ordering::Greater);
        assert_eq!(b.compare_to(b"r005"), Ordering::Equal);
        assert_eq!(b.compare_to(b"r0050"), Ordering::Less);
        let bp = Comparator::BinaryPrefix(b"r00".to_vec());
        assert_eq!(bp.compare_to(b"r001xyz"), Ordering::Equal);
        assert_eq!(bp.compare_to(b"r0"), Ordering::Greater);
        assert_eq!(bp.compare_to(b"r01"), Ordering::Less);
        // Substring: case-insensitive on both sides.
        let Filter::Value { cmp, .. } = p("ValueFilter(=, 'substring:AbC')") else {
            panic!()
        };
        assert_eq!(cmp.compare_to(b"xxaBcxx"), Ordering::Equal);
        assert_eq!(cmp.compare_to(b"xxab cxx"), Ordering::Greater);
        // Regex: find() anywhere, DOTALL, case-sensitive unless nocase.
        let Filter::Value { cmp, .. } = p("ValueFilter(=, 'regexstring:b.c')") else {
            panic!()
        };
        assert_eq!(cmp.compare_to(b"ab\ncd"), Ordering::Equal);
        assert_eq!(cmp.compare_to(b"AB\nCD"), Ordering::Greater);
        let Filter::Value { cmp, .. } = p("ValueFilter(=, 'regexstringnocase:b.c')") else {
            panic!()
        };
        assert_eq!(cmp.compare_to(b"AB\nCD"), Ordering::Equal);
        // Operators filter out what does not satisfy `cell OP value`.
        assert!(!CompareOp::Less.filters_out(b.compare_to(b"r004")));
        assert!(CompareOp::Less.filters_out(b.compare_to(b"r005")));
        assert!(!CompareOp::LessOrEqual.filters_out(b.compare_to(b"r005")));
        assert!(CompareOp::Greater.filters_out(b.compare_to(b"r005")));
        assert!(!CompareOp::GreaterOrEqual.filters_out(b.compare_to(b"r006")));
        assert!(CompareOp::NotEqual.filters_out(b.compare_to(b"r005")));
    }

    #[test]
    fn cell_answers() {
        let mut f = p("ColumnPrefixFilter('q1')");
        with_cell("r", "f:q0", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        with_cell("r", "f:q", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        with_cell("r", "f:q1x", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q2", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        let h = f.next_cell_hint(b"r", b"f").unwrap();
        assert_eq!(h.qualifier, b"q1");
        with_cell("r", "f:q0", 1, "v", |c| assert!(h.is_after(c)));
        with_cell("r", "f:q1", 9, "v", |c| assert!(!h.is_after(c)));

        let mut f = p("TimestampsFilter(5, 7)");
        with_cell("r", "f:q", 9, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        with_cell("r", "f:q", 7, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q", 4, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextCol)
        });

        let mut f = p("FirstKeyOnlyFilter()");
        with_cell("r", "f:q", 9, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q", 8, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        f.reset();
        with_cell("s", "f:q", 9, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });

        let mut f = p("PageFilter(1)");
        assert!(!f.filter_row_key(b"a"));
        assert!(!f.filter_row());
        assert!(f.filter_all_remaining());
        assert!(f.filter_row_key(b"b"));

        let mut f = p("PrefixFilter('r1')");
        assert!(!f.filter_row_key(b"r0"));
        with_cell("r0", "f:q", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        f.reset();
        assert!(!f.filter_row_key(b"r10"));
        with_cell("r10", "f:q", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        assert!(!f.filter_row());
        f.reset();
        assert!(f.filter_row_key(b"r2"));
        assert!(f.filter_all_remaining());

        // SingleColumnValueFilter: latest version decides; missing column keeps the row
        // unless filterIfMissing.
        let mut f = p("SingleColumnValueFilter('f','q',=,'binary:yes')");
        with_cell("r", "f:a", 1, "no", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q", 2, "no", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        with_cell("r", "f:q", 1, "yes", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        assert!(f.filter_row());
        f.reset();
        assert!(!f.filter_row());
        let mut f = p("SingleColumnValueFilter('f','q',=,'binary:yes',true,false)");
        with_cell("r", "f:q", 2, "no", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q", 1, "yes", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        assert!(!f.filter_row());
        f.reset();
        assert!(f.filter_row());

        let mut f = p("ColumnRangeFilter('b', false, 'd', true)");
        with_cell("r", "f:a", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        with_cell("r", "f:b", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextCol)
        });
        with_cell("r", "f:c", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:d", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:e", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        let mut f = p("MultipleColumnPrefixFilter('q3', 'q1')");
        with_cell("r", "f:a", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        assert_eq!(f.next_cell_hint(b"r", b"f").unwrap().qualifier, b"q1");
        with_cell("r", "f:q10", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:q2", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::SeekNextUsingHint)
        });
        assert_eq!(f.next_cell_hint(b"r", b"f").unwrap().qualifier, b"q3");
        with_cell("r", "f:q4", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        let mut f = p("ColumnPaginationFilter(2, 1)");
        let codes: Vec<ReturnCode> = ["a", "b", "c", "d"]
            .iter()
            .map(|q| with_cell("r", &format!("f:{q}"), 1, "v", |c| f.filter_cell(c)))
            .collect();
        assert_eq!(
            codes,
            vec![
                Rc::NextCol,
                Rc::IncludeAndNextCol,
                Rc::IncludeAndNextCol,
                Rc::NextRow
            ]
        );
        let mut f = p("ColumnCountGetFilter(1)");
        with_cell("r", "f:a", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::IncludeAndNextCol)
        });
        assert!(!f.filter_all_remaining());
        with_cell("r", "f:b", 1, "v", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextCol)
        });
        assert!(f.filter_all_remaining());
        let mut f = p("InclusiveStopFilter('r5')");
        assert!(!f.filter_row_key(b"r5"));
        assert!(f.filter_row_key(b"r50"));
        assert!(f.filter_all_remaining());

        // KeyOnlyFilter transforms; lenAsVal gives the 4-byte length.
        assert_eq!(p("KeyOnlyFilter()").transform_value(b"abc"), Some(vec![]));
        assert_eq!(
            p("KeyOnlyFilter(true)").transform_value(b"abc"),
            Some(vec![0, 0, 0, 3])
        );
        assert_eq!(p("PageFilter(1)").transform_value(b"abc"), None);
    }

    #[test]
    fn lists_merge_like_hbase() {
        // OR: one member including is enough; AND: all must.
        let mut f = p("QualifierFilter(=,'binary:a') OR ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:b", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        with_cell("r", "f:b", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        let mut f = p("QualifierFilter(=,'binary:a') AND ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        with_cell("r", "f:a", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        // AND with a NEXT_ROW member gives NEXT_ROW.
        let mut f = p("FamilyFilter(=,'binary:g') AND KeyOnlyFilter()");
        with_cell("r", "f:a", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::NextRow)
        });
        // OR remembers a member's NEXT_ROW for the rest of the family.
        let mut f = p("FirstKeyOnlyFilter() OR ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 2, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        with_cell("r", "f:a", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        with_cell("r", "f:b", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        // AND's filterRow stops at the first member that drops the row: a PageFilter after
        // it does not count that row.
        let mut f = p("RowFilter(=,'binary:a') AND PageFilter(1)");
        assert!(f.filter_row_key(b"b"));
        assert!(f.filter_row());
        f.reset();
        assert!(!f.filter_all_remaining());
        // WHILE ends everything at the first rejection.
        let mut f = p("WHILE ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        assert!(!f.filter_all_remaining());
        with_cell("r", "f:b", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        assert!(f.filter_all_remaining());
        // SKIP drops the row when any cell was not included.
        let mut f = p("SKIP ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        assert!(!f.filter_row());
        with_cell("r", "f:b", 1, "y", |c| {
            assert_eq!(f.filter_cell(c), Rc::Skip)
        });
        assert!(f.filter_row());
        f.reset();
        assert!(!f.filter_row());
        // Transform through lists: OR applies only members that included the cell.
        let mut f = p("KeyOnlyFilter() OR ValueFilter(=,'binary:x')");
        with_cell("r", "f:a", 1, "x", |c| {
            assert_eq!(f.filter_cell(c), Rc::Include)
        });
        assert_eq!(f.transform_value(b"x"), Some(vec![]));
    }

    proptest::proptest! {
        /// Any string parses or fails with a position inside it; never a panic.
        #[test]
        fn parser_never_panics(s in "[ ()',:=<>!A-Za-z0-9']{0,60}") {
            if let Err(e) = parse_bytes(s.as_bytes()) {
                proptest::prop_assert!(e.pos <= s.len());
                let _ = e.render(&s);
            }
        }

        /// Pieces of the real grammar glued at random.
        #[test]
        fn grammar_soup_never_panics(parts in proptest::collection::vec(proptest::sample::select(vec![
            "PrefixFilter('r0')", "ValueFilter(=, 'substring:x')", "RowFilter(<, 'binary:r5')",
            "SingleColumnValueFilter('f','q',=,'binary:v',true,false)", "PageFilter(2)",
            " AND ", " OR ", "SKIP ", "WHILE ", "(", ")", "'", "''", ",", " ",
            "TimestampsFilter(1,2)", "KeyOnlyFilter()",
        ]), 0..12)) {
            let s: String = parts.concat();
            if let Err(e) = parse_bytes(s.as_bytes()) {
                proptest::prop_assert!(e.pos <= s.len());
            }
        }
    }
}
