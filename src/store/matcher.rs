//! HBase's per-cell decisions over a merged store stream (FORMATS.md §12.2): the
//! query matchers of compactions (major = drop deletes, minor = retain deletes), of user
//! scans and of raw scans, with `ScanDeleteTracker` and `ScanWildcardColumnTracker`.
//!
//! Feed cells in merged order to [`Matcher::check`]; it returns whether the cell is kept.
//! State resets at every new row and (for multi-family streams) every new family.

use std::collections::HashSet;

use crate::cell::{Cell, KeyType};
use crate::layout::{FamilySchema, KeepDeletedCells};
use crate::store::filter::{Filter, ReturnCode};
use crate::Result;

/// Which matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Mode {
    /// All-files compaction: COMPACT_DROP_DELETES.
    Major,
    /// Compaction that keeps delete markers: COMPACT_RETAIN_DELETES.
    Minor,
    /// A user scan / get: delete markers mask and are never returned.
    User,
    /// A raw scan: every cell and marker (versions and time range still apply).
    Raw,
}

/// Store and scan parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    /// Max versions kept per column (for user scans: min(requested, family VERSIONS)).
    pub max_versions: i64,
    /// `MIN_VERSIONS`.
    pub min_versions: i64,
    /// TTL in ms (`i64::MAX` = forever).
    pub ttl_ms: i64,
    /// `KEEP_DELETED_CELLS`.
    pub keep_deleted: KeepDeletedCells,
    /// The clock (ms).
    pub now: i64,
    /// Min `EARLIEST_PUT_TS` over the inputs (major compactions only).
    pub earliest_put_ts: i64,
    /// `hbase.hstore.time.to.purge.deletes` (ms).
    pub time_to_purge_deletes: i64,
    /// Scan time range [min, max) (user and raw scans).
    pub time_range: (i64, i64),
    /// Requested qualifiers (user and raw scans); None = all.
    pub columns: Option<Vec<Vec<u8>>>,
}

impl Params {
    /// Parameters from a family's settings at time `now`.
    pub fn from_family(f: &FamilySchema, now: i64) -> Result<Params> {
        Ok(Params {
            max_versions: f.max_versions()?,
            min_versions: f.min_versions()?,
            ttl_ms: f.ttl_ms()?,
            keep_deleted: f.keep_deleted_cells()?,
            now,
            earliest_put_ts: i64::MIN,
            time_to_purge_deletes: 0,
            time_range: (i64::MIN, i64::MAX),
            columns: None,
        })
    }

    /// `now − ttl`.
    pub fn oldest_unexpired(&self) -> i64 {
        self.now.saturating_sub(self.ttl_ms)
    }
}

#[derive(Debug, Default)]
struct DeleteTracker {
    has_family_stamp: bool,
    family_stamp: i64,
    family_versions: HashSet<i64>,
    delete_qual: Option<Vec<u8>>,
    delete_type: u8,
    delete_ts: i64,
}

#[allow(clippy::enum_variant_names)]
enum DeleteResult {
    NotDeleted,
    FamilyDeleted,
    FamilyVersionDeleted,
    ColumnDeleted,
    VersionDeleted,
}

impl DeleteTracker {
    fn reset(&mut self) {
        self.has_family_stamp = false;
        self.family_stamp = 0;
        self.family_versions.clear();
        self.delete_qual = None;
    }
    fn is_empty(&self) -> bool {
        !self.has_family_stamp && self.family_versions.is_empty() && self.delete_qual.is_none()
    }
    fn add(&mut self, qual: &[u8], ts: i64, t: u8) {
        if !self.has_family_stamp || ts > self.family_stamp {
            if t == KeyType::DeleteFamily as u8 {
                self.has_family_stamp = true;
                self.family_stamp = ts;
                return;
            }
            if t == KeyType::DeleteFamilyVersion as u8 {
                self.family_versions.insert(ts);
                return;
            }
            if let Some(q) = &self.delete_qual {
                if t < self.delete_type && q.as_slice() == qual {
                    return;
                }
            }
            self.delete_qual = Some(qual.to_vec());
            self.delete_type = t;
            self.delete_ts = ts;
        }
    }
    fn is_deleted(&mut self, qual: &[u8], ts: i64) -> DeleteResult {
        if self.has_family_stamp && ts <= self.family_stamp {
            return DeleteResult::FamilyDeleted;
        }
        if self.family_versions.contains(&ts) {
            return DeleteResult::FamilyVersionDeleted;
        }
        if let Some(q) = &self.delete_qual {
            if q.as_slice() == qual {
                if self.delete_type == KeyType::DeleteColumn as u8 {
                    return DeleteResult::ColumnDeleted;
                }
                if ts == self.delete_ts {
                    return DeleteResult::VersionDeleted;
                }
            }
            // A different (later) column, or an older version: forget the column marker.
            self.delete_qual = None;
        }
        DeleteResult::NotDeleted
    }
    /// Minor compactions: is this marker already covered by a tracked one (§12.2 step 3)?
    fn is_redundant(&self, qual: &[u8], ts: i64, t: u8) -> bool {
        if self.has_family_stamp && ts <= self.family_stamp {
            return true;
        }
        if t == KeyType::Delete as u8 || t == KeyType::DeleteColumn as u8 {
            if let Some(q) = &self.delete_qual {
                return self.delete_type == KeyType::DeleteColumn as u8
                    && q.as_slice() == qual
                    && self.delete_ts >= ts;
            }
        }
        false
    }
}

#[derive(Debug, Default)]
struct ColumnTracker {
    column: Option<Vec<u8>>,
    count: i64,
    latest_ts: i64,
    latest_type: u8,
}

enum Verdict {
    Include,
    IncludeSeekNextCol,
    IncludeSeekNextRow,
    Skip,
    SeekNextCol,
    SeekNextRow,
    Hint,
}

/// The matcher's answer for one cell of a filtered scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filtered {
    /// Return the cell.
    Include,
    /// Drop it.
    Skip,
    /// Drop it and seek this family to the filter's next-cell hint.
    Hint,
}

impl ColumnTracker {
    fn reset(&mut self) {
        self.column = None;
        self.count = 0;
        self.reset_ts_type();
    }
    fn reset_ts_type(&mut self) {
        self.latest_ts = i64::MAX;
        self.latest_type = 0;
    }
    fn check_versions(&mut self, qual: &[u8], ts: i64, t: u8, p: &Params, oldest: i64) -> Verdict {
        match &self.column {
            None => {
                self.column = Some(qual.to_vec());
                self.count = 0;
            }
            Some(c) if c.as_slice() == qual => {
                if ts == self.latest_ts && t == self.latest_type {
                    return Verdict::Skip;
                }
            }
            Some(_) => {
                self.reset_ts_type();
                self.column = Some(qual.to_vec());
                self.count = 0;
            }
        }
        if !is_delete(t) {
            self.count += 1;
        }
        if self.count > p.max_versions {
            return Verdict::SeekNextCol;
        }
        if self.count <= p.min_versions || ts >= oldest {
            self.latest_ts = ts;
            self.latest_type = t;
            Verdict::Include
        } else {
            Verdict::SeekNextCol
        }
    }
}

fn is_delete(t: u8) -> bool {
    KeyType::from_code(t).is_some_and(KeyType::is_delete)
}

/// `TagType.TTL_TAG_TYPE`.
const TTL_TAG: u8 = 8;

/// The stateful per-cell decision.
#[derive(Debug)]
pub struct Matcher {
    mode: Mode,
    params: Params,
    oldest: i64,
    row: Option<Vec<u8>>,
    family: Vec<u8>,
    /// Skip the rest of this qualifier (in the current row and family).
    seek_col: Option<Vec<u8>>,
    deletes: DeleteTracker,
    columns: ColumnTracker,
    /// Skip the rest of this row (in this family).
    seek_row: bool,
    /// Versions returned per column after the filter (`versionsAfterFilter`).
    after_filter: i64,
    /// Column and count of filter-included versions.
    filter_col: Option<Vec<u8>>,
    filter_count: i64,
}

impl Matcher {
    /// A matcher in `mode` with `params`.
    pub fn new(mode: Mode, params: Params) -> Matcher {
        let oldest = params.oldest_unexpired();
        Matcher {
            mode,
            params,
            oldest,
            row: None,
            family: Vec::new(),
            seek_col: None,
            deletes: DeleteTracker::default(),
            columns: ColumnTracker::default(),
            seek_row: false,
            after_filter: i64::MAX,
            filter_col: None,
            filter_count: 0,
        }
    }

    /// For filtered scans: at most `n` filter-included versions per column are returned
    /// (HBase's `versionsAfterFilter`; the column tracker itself then counts up to the
    /// family's VERSIONS, set through the params).
    pub fn set_versions_after_filter(&mut self, n: i64) {
        self.after_filter = n;
    }

    /// The parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// Switch parameters (multi-family streams); call before the family's first cell.
    pub fn set_params(&mut self, params: Params) {
        self.oldest = params.oldest_unexpired();
        self.params = params;
    }

    /// True when the cell is in a different row or family than the previous one: state
    /// is reset. Callers that switch parameters per family call this first.
    pub fn starts_new_group(&self, c: &Cell<'_>) -> bool {
        self.row.as_deref() != Some(c.key.row()) || self.family.as_slice() != c.key.family()
    }

    fn reset_to(&mut self, c: &Cell<'_>) {
        let row = self.row.get_or_insert_with(Vec::new);
        row.clear();
        row.extend_from_slice(c.key.row());
        self.family.clear();
        self.family.extend_from_slice(c.key.family());
        self.seek_col = None;
        self.seek_row = false;
        self.filter_col = None;
        self.filter_count = 0;
        self.deletes.reset();
        self.columns.reset();
    }

    /// Decide one cell (fed in merged order). True = the cell is kept / returned.
    pub fn check(&mut self, c: &Cell<'_>) -> bool {
        self.check_inner(c, None) == Filtered::Include
    }

    /// Decide one cell of a filtered user or raw scan: `filter.filter_cell` is asked
    /// after the time range, column and version checks, as `UserScanQueryMatcher` does.
    pub fn check_filtered(&mut self, c: &Cell<'_>, filter: &mut Filter) -> Filtered {
        self.check_inner(c, Some(filter))
    }

    fn check_inner(&mut self, c: &Cell<'_>, filter: Option<&mut Filter>) -> Filtered {
        if self.starts_new_group(c) {
            self.reset_to(c);
        }
        if self.seek_row {
            return Filtered::Skip;
        }
        let qual = c.key.qualifier();
        if let Some(q) = &self.seek_col {
            if q.as_slice() == qual {
                return Filtered::Skip;
            }
            self.seek_col = None;
        }
        match self.decide(c, filter) {
            Verdict::Include => Filtered::Include,
            Verdict::IncludeSeekNextCol => {
                self.seek_col = Some(qual.to_vec());
                Filtered::Include
            }
            Verdict::IncludeSeekNextRow => {
                self.seek_row = true;
                Filtered::Include
            }
            Verdict::Skip => Filtered::Skip,
            Verdict::SeekNextCol => {
                self.seek_col = Some(qual.to_vec());
                Filtered::Skip
            }
            Verdict::SeekNextRow => {
                self.seek_row = true;
                Filtered::Skip
            }
            Verdict::Hint => Filtered::Hint,
        }
    }

    fn decide(&mut self, c: &Cell<'_>, filter: Option<&mut Filter>) -> Verdict {
        let ts = c.key.timestamp();
        let t = c.key.type_code();
        let qual = c.key.qualifier();
        let (min_versions, now, kdc) = (
            self.params.min_versions,
            self.params.now,
            self.params.keep_deleted,
        );
        let (purge, earliest_put_ts, (lo, hi)) = (
            self.params.time_to_purge_deletes,
            self.params.earliest_put_ts,
            self.params.time_range,
        );
        if self.mode != Mode::Raw {
            // preCheck: family TTL (column is done), then per-cell TTL tag.
            if ts == i64::MIN || (min_versions <= 0 && ts < self.oldest) {
                return Verdict::SeekNextCol;
            }
            if cell_ttl_expired(c, now) {
                return Verdict::Skip;
            }
        }
        let tracks =
            kdc == KeepDeletedCells::False || (kdc == KeepDeletedCells::Ttl && ts < self.oldest);
        match self.mode {
            Mode::Major => {
                if is_delete(t) {
                    if tracks {
                        self.deletes.add(qual, ts, t);
                    }
                    if purge > 0 && now.saturating_sub(ts) <= purge {
                        return Verdict::Include;
                    }
                    if kdc == KeepDeletedCells::True
                        || (kdc == KeepDeletedCells::Ttl && ts >= self.oldest)
                    {
                        if ts < earliest_put_ts {
                            return Verdict::SeekNextCol;
                        }
                    } else {
                        return Verdict::Skip;
                    }
                } else if let Some(v) = self.check_deleted(qual, ts) {
                    return v;
                }
                self.columns
                    .check_versions(qual, ts, t, &self.params, self.oldest)
            }
            Mode::Minor => {
                if is_delete(t) {
                    if tracks {
                        if self.deletes.is_redundant(qual, ts, t) {
                            return if qual.is_empty() && t != KeyType::DeleteFamily as u8 {
                                Verdict::Skip
                            } else {
                                Verdict::SeekNextCol
                            };
                        }
                        self.deletes.add(qual, ts, t);
                    }
                    return Verdict::Include;
                }
                if let Some(v) = self.check_deleted(qual, ts) {
                    return v;
                }
                self.columns
                    .check_versions(qual, ts, t, &self.params, self.oldest)
            }
            Mode::User => {
                if is_delete(t) {
                    let track = if kdc != KeepDeletedCells::False {
                        ts >= lo && ts < hi
                    } else {
                        ts >= lo
                    };
                    if track {
                        self.deletes.add(qual, ts, t);
                    }
                    return Verdict::Skip;
                }
                if let Some(v) = self.check_deleted(qual, ts) {
                    return v;
                }
                self.match_column(c, filter)
            }
            Mode::Raw => self.match_column(c, filter),
        }
    }

    fn check_deleted(&mut self, qual: &[u8], ts: i64) -> Option<Verdict> {
        if self.deletes.is_empty() {
            return None;
        }
        match self.deletes.is_deleted(qual, ts) {
            DeleteResult::NotDeleted => None,
            DeleteResult::FamilyDeleted | DeleteResult::ColumnDeleted => Some(Verdict::SeekNextCol),
            DeleteResult::FamilyVersionDeleted | DeleteResult::VersionDeleted => {
                Some(Verdict::Skip)
            }
        }
    }

    fn match_column(&mut self, c: &Cell<'_>, filter: Option<&mut Filter>) -> Verdict {
        let (qual, ts, t) = (c.key.qualifier(), c.key.timestamp(), c.key.type_code());
        let p = &self.params;
        let (lo, hi) = p.time_range;
        if ts >= hi {
            return Verdict::Skip;
        }
        if ts < lo {
            return Verdict::SeekNextCol;
        }
        if let Some(cols) = &p.columns {
            if !cols.iter().any(|c| c.as_slice() == qual) {
                return Verdict::SeekNextCol;
            }
        }
        let v = self.columns.check_versions(qual, ts, t, p, self.oldest);
        match (v, filter) {
            (Verdict::Include, Some(f)) => {
                let rc = f.filter_cell(c);
                self.merge_filter_response(qual, rc)
            }
            (v, _) => v,
        }
    }

    /// `mergeFilterResponse` for a cell the column tracker included.
    fn merge_filter_response(&mut self, qual: &[u8], rc: ReturnCode) -> Verdict {
        let v = match rc {
            ReturnCode::Skip => return Verdict::Skip,
            ReturnCode::NextCol => return Verdict::SeekNextCol,
            ReturnCode::NextRow => return Verdict::SeekNextRow,
            ReturnCode::SeekNextUsingHint => return Verdict::Hint,
            ReturnCode::Include => Verdict::Include,
            ReturnCode::IncludeAndNextCol => Verdict::IncludeSeekNextCol,
            ReturnCode::IncludeAndSeekNextRow => Verdict::IncludeSeekNextRow,
        };
        if self.filter_col.as_deref() != Some(qual) {
            self.filter_col = Some(qual.to_vec());
            self.filter_count = 0;
        }
        self.filter_count = self.filter_count.saturating_add(1);
        if self.filter_count > self.after_filter {
            return match v {
                Verdict::IncludeSeekNextRow => Verdict::SeekNextRow,
                _ => Verdict::SeekNextCol,
            };
        }
        v
    }
}

fn cell_ttl_expired(c: &Cell<'_>, now: i64) -> bool {
    if c.tags.is_empty() {
        return false;
    }
    for (t, v) in c.tags().flatten() {
        if t == TTL_TAG {
            let ttl = crate::bytes::be_i64(v, 0).unwrap_or(i64::MAX);
            return c.key.timestamp().saturating_add(ttl) < now;
        }
    }
    false
}
