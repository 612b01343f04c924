//! The offline scan: what a region server would answer for a user (or raw) scan or get,
//! computed from a region's store files with the merged read and HBase's matchers.
//!
//! [`ScanSpec`] holds the row range and the per-family parameters; [`scan_region`] streams
//! the kept cells of one region in scan order. A [`Filter`] (HBase shell filter language)
//! is applied as a region server does, buffering at most one row. Row limits are left to
//! the caller's callback.

use std::collections::{BTreeMap, BTreeSet};

use crate::cell::Cell;
use crate::error::{Error, Result};
use crate::layout::{Region, TableDescriptor};
use crate::store::edits::{self, EditsOptions, EditsStream};
use crate::store::filter::{Filter, Hint};
use crate::store::{Filtered, Input, Matcher, Merge, Mode, OwnedCell, Params};

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanSpec {
    /// First row, inclusive (empty = the first row).
    pub start_row: Vec<u8>,
    /// Row to stop before (None = to the end).
    pub stop_row: Option<Vec<u8>>,
    /// Only rows starting with this prefix.
    pub prefix: Option<Vec<u8>>,
    /// The families read, with their matcher parameters.
    pub families: BTreeMap<Vec<u8>, Params>,
    /// User or raw scan.
    pub mode: Mode,
    /// A server-side filter (fresh state; each region gets its own copy).
    pub filter: Option<Filter>,
    /// Per family: the versions the column tracker counts when a filter is set (the
    /// family's VERSIONS, unlimited for raw scans); `families[f].max_versions` is then
    /// the number returned after the filter.
    filter_tracker_versions: BTreeMap<Vec<u8>, i64>,
    /// Also read each region's recovered.edits as HBase's replay on region open would
    /// ([`crate::store::edits`]).
    pub recovered_edits: Option<EditsOptions>,
}

/// The user-facing knobs of a scan, before they are checked against the table schema.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The clock (ms) for TTL expiry.
    pub now: i64,
    /// Versions per column (capped by each family's VERSIONS unless raw).
    pub versions: i64,
    /// Raw scan: every cell and delete marker.
    pub raw: bool,
    /// Only cells with `from <= ts < to`.
    pub time_range: (i64, i64),
    /// `(family, Some(qualifier))` or `(family, None)` for a whole family; empty = all.
    pub columns: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            now: i64::MAX,
            versions: 1,
            raw: false,
            time_range: (i64::MIN, i64::MAX),
            columns: Vec::new(),
        }
    }
}

impl ScanSpec {
    /// A whole-table scan of `desc` with `opts`. Unknown families in `opts.columns` are a
    /// usage error.
    pub fn new(desc: &TableDescriptor, opts: &ScanOptions) -> Result<ScanSpec> {
        // family -> None (all qualifiers) or the qualifiers asked for.
        let mut wanted: BTreeMap<Vec<u8>, Option<Vec<Vec<u8>>>> = BTreeMap::new();
        for (f, q) in &opts.columns {
            if desc.family(f).is_none() {
                return Err(Error::usage(format!(
                    "no family {:?} in table {}",
                    String::from_utf8_lossy(f),
                    desc.display_name()
                )));
            }
            let e = wanted.entry(f.clone()).or_insert_with(|| Some(Vec::new()));
            match (e.as_mut(), q) {
                (Some(v), Some(q)) => v.push(q.clone()),
                (_, None) => *e = None,
                (None, Some(_)) => {}
            }
        }
        let mut families = BTreeMap::new();
        let mut filter_tracker_versions = BTreeMap::new();
        for f in &desc.families {
            if !wanted.is_empty() && !wanted.contains_key(&f.name) {
                continue;
            }
            let mut p = Params::from_family(f, opts.now)?;
            filter_tracker_versions.insert(
                f.name.clone(),
                if opts.raw { i64::MAX } else { p.max_versions },
            );
            p.max_versions = if opts.raw {
                opts.versions
            } else {
                opts.versions.min(p.max_versions)
            };
            p.time_range = opts.time_range;
            p.columns = wanted.get(&f.name).cloned().flatten();
            families.insert(f.name.clone(), p);
        }
        Ok(ScanSpec {
            start_row: Vec::new(),
            stop_row: None,
            prefix: None,
            families,
            mode: if opts.raw { Mode::Raw } else { Mode::User },
            filter: None,
            filter_tracker_versions,
            recovered_edits: None,
        })
    }

    /// Restrict to one row (a get).
    pub fn only_row(&mut self, row: &[u8]) {
        self.start_row = row.to_vec();
        let mut stop = row.to_vec();
        stop.push(0);
        self.stop_row = Some(stop);
    }

    /// Where reading can start: the later of the start row and the prefix.
    fn first_row(&self) -> &[u8] {
        match &self.prefix {
            Some(p) if p.as_slice() > self.start_row.as_slice() => p,
            _ => &self.start_row,
        }
    }

    /// Whether a region with rows `[start, end)` (empty end = unbounded) can hold rows
    /// of this scan.
    pub fn overlaps(&self, start: &[u8], end: &[u8]) -> bool {
        let first = self.first_row();
        if !end.is_empty() && end <= first {
            return false;
        }
        if let Some(stop) = &self.stop_row {
            if start >= stop.as_slice() {
                return false;
            }
        }
        if let Some(p) = &self.prefix {
            if start > p.as_slice() && !start.starts_with(p) {
                return false;
            }
        }
        true
    }
}

/// Stream the kept cells of `region` in scan order to `f` (which returns false to stop).
/// Returns false when the scan ended inside this region (stop row, prefix passed, or `f`
/// said stop): later regions need not be read.
pub fn scan_region(
    region: &Region,
    spec: &ScanSpec,
    f: &mut dyn FnMut(&Cell<'_>) -> Result<bool>,
) -> Result<bool> {
    if let Ok(info) = &region.info {
        if !spec.overlaps(&info.start_key, &info.end_key) {
            return Ok(true);
        }
    }
    if let Some(filter) = &spec.filter {
        return scan_region_filtered(region, spec, filter.clone(), f);
    }
    let inputs = open_region(region, spec)?;
    let first = spec.first_row();
    let mut merge = Merge::with_edits(&inputs, edits_streams(region, spec)?, first)?;
    let mut matcher: Option<Matcher> = None;
    let mut fam: Vec<u8> = Vec::new();
    while let Some(c) = merge.next()? {
        let cell = c.cell()?;
        let row = cell.key.row();
        if row < first {
            continue;
        }
        if spec.stop_row.as_ref().is_some_and(|s| row >= s.as_slice()) {
            return Ok(false);
        }
        if let Some(p) = &spec.prefix {
            if !row.starts_with(p) {
                if row > p.as_slice() {
                    return Ok(false);
                }
                continue;
            }
        }
        let Some(p) = spec.families.get(cell.key.family()) else {
            continue;
        };
        let m = matcher.get_or_insert_with(|| Matcher::new(spec.mode, p.clone()));
        if cell.key.family() != fam.as_slice() {
            fam.clear();
            fam.extend_from_slice(cell.key.family());
            m.set_params(p.clone());
        }
        if !m.check(&cell) {
            continue;
        }
        if !f(&cell)? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Open the region's store files for the scanned families.
/// The recovered.edits of `region` for the scanned families, when the spec asks for them.
fn edits_streams(region: &Region, spec: &ScanSpec) -> Result<Vec<EditsStream>> {
    let mut streams = Vec::new();
    if let Some(eo) = &spec.recovered_edits {
        let fams: Vec<Vec<u8>> = region
            .stores
            .iter()
            .filter(|s| spec.families.contains_key(&s.family))
            .map(|s| s.family.clone())
            .collect();
        let (by_fam, _) = edits::read_for_region(region, Some(&fams), eo)?;
        for (_, e) in by_fam {
            if e.cells > 0 {
                streams.push(e.stream()?);
            }
        }
    }
    Ok(streams)
}

fn open_region(region: &Region, spec: &ScanSpec) -> Result<Vec<Input>> {
    let mut inputs = Vec::new();
    for s in &region.stores {
        if !spec.families.contains_key(&s.family) {
            continue;
        }
        for sf in &s.files {
            inputs.push(Input::open(sf)?);
        }
    }
    Ok(inputs)
}

/// The end of a row: `filterRow` on a non-empty row, then the row's cells go out unless
/// dropped, then `reset`. False when `f` said stop.
fn finish_row(
    filter: &mut Filter,
    buf: &mut Vec<OwnedCell>,
    f: &mut dyn FnMut(&Cell<'_>) -> Result<bool>,
) -> Result<bool> {
    let mut go_on = true;
    if !buf.is_empty() {
        // filterRowCells (then filterRow only if cells are left), as FilterWrapper does.
        buf.retain(|o| {
            o.cell().map_or(true, |c| {
                filter.row_cell_kept(c.key.family(), c.key.qualifier(), c.key.timestamp())
            })
        });
    }
    if !buf.is_empty() && !filter.filter_row() {
        for o in buf.iter() {
            if !f(&o.cell()?)? {
                go_on = false;
                break;
            }
        }
    }
    buf.clear();
    filter.reset();
    Ok(go_on)
}

/// [`scan_region`] with a filter, following `RegionScannerImpl.nextInternal`: per row,
/// `filterRowKey` on its first cell, the store matchers (with `filterCell` after the
/// version checks), then `filterRow` and `reset`; `filterAllRemaining` ends the region.
fn scan_region_filtered(
    region: &Region,
    spec: &ScanSpec,
    mut filter: Filter,
    f: &mut dyn FnMut(&Cell<'_>) -> Result<bool>,
) -> Result<bool> {
    let inputs = open_region(region, spec)?;
    let first = spec.first_row();
    let mut merge = Merge::with_edits(&inputs, edits_streams(region, spec)?, first)?;
    let mut matcher: Option<Matcher> = None;
    let mut fam: Vec<u8> = Vec::new();
    let mut row: Option<Vec<u8>> = None;
    let mut row_rejected = false;
    let mut buf: Vec<OwnedCell> = Vec::new();
    // Per family (store): a pending seek from a SEEK_NEXT_USING_HINT.
    let mut hints: BTreeMap<Vec<u8>, Hint> = BTreeMap::new();
    // Stores whose matcher answered DONE_SCAN (filterAllRemaining): closed for the rest of
    // the region, as a StoreScanner closes itself. The others go on if a `reset` makes
    // filterAllRemaining false again (ColumnCountGetFilter).
    let stores: BTreeSet<&[u8]> = region
        .stores
        .iter()
        .map(|s| s.family.as_slice())
        .filter(|f| spec.families.contains_key(*f))
        .collect();
    let mut closed: BTreeSet<Vec<u8>> = BTreeSet::new();
    while let Some(c) = merge.next()? {
        let cell = c.cell()?;
        let r = cell.key.row();
        if r < first {
            continue;
        }
        let past_stop = spec.stop_row.as_ref().is_some_and(|s| r >= s.as_slice());
        let past_prefix = spec
            .prefix
            .as_ref()
            .is_some_and(|p| !r.starts_with(p) && r > p.as_slice());
        if past_stop || past_prefix {
            finish_row(&mut filter, &mut buf, f)?;
            return Ok(false);
        }
        if spec.prefix.as_ref().is_some_and(|p| !r.starts_with(p)) {
            continue;
        }
        if row.as_deref() != Some(r) {
            if row.is_some() {
                if !finish_row(&mut filter, &mut buf, f)? {
                    return Ok(false);
                }
                if filter.filter_all_remaining()
                    || (!closed.is_empty() && stores.iter().all(|f| closed.contains(*f)))
                {
                    return Ok(true);
                }
            }
            row = Some(r.to_vec());
            row_rejected = filter.filter_all_remaining() || filter.filter_row_key(r);
            if row_rejected && filter.filter_all_remaining() {
                return Ok(true);
            }
        }
        // A row rejected by filterRowKey is still read through the store matchers (the
        // region server skips it with `nextRow`, which runs them), its cells discarded.
        let family = cell.key.family();
        let Some(p) = spec.families.get(family) else {
            continue;
        };
        if closed.contains(family) {
            continue;
        }
        if let Some(h) = hints.get(family) {
            if h.is_after(&cell) {
                continue;
            }
            hints.remove(family);
        }
        if filter.filter_all_remaining() {
            // DONE_SCAN: this store is done; the row so far is still answered.
            closed.insert(family.to_vec());
            continue;
        }
        let m = matcher.get_or_insert_with(|| Matcher::new(spec.mode, p.clone()));
        if family != fam.as_slice() {
            fam.clear();
            fam.extend_from_slice(family);
            let mut tp = p.clone();
            tp.max_versions = spec
                .filter_tracker_versions
                .get(family)
                .copied()
                .unwrap_or(p.max_versions);
            m.set_params(tp);
            m.set_versions_after_filter(p.max_versions);
        }
        match m.check_filtered(&cell, &mut filter) {
            Filtered::Include if row_rejected => {}
            Filtered::Include => {
                let mut o = OwnedCell::from_cell(&cell);
                if let Some(v) = filter.transform_value(cell.value) {
                    o.value = v;
                    o.tags.clear();
                    o.seq_id = 0;
                }
                buf.push(o);
            }
            Filtered::Skip => {}
            Filtered::Hint => {
                if let Some(h) = filter.next_cell_hint(r, family) {
                    if h.is_after(&cell) {
                        hints.insert(family.to_vec(), h);
                    }
                }
            }
        }
    }
    if row.is_some() && !finish_row(&mut filter, &mut buf, f)? {
        return Ok(false);
    }
    Ok(true)
}

/// Scan `regions` in order (they must be sorted by start key), stopping when `f` or the
/// row range says so. Split parents (offline) are skipped, as a cluster would.
pub fn scan_regions(
    regions: &[Region],
    spec: &ScanSpec,
    f: &mut dyn FnMut(&Cell<'_>) -> Result<bool>,
) -> Result<()> {
    for r in regions {
        // A split parent is offline: its daughters serve its rows. Its .regioninfo rarely
        // says so (HBase records the split in hbase:meta), hence `superseded`.
        if r.superseded || r.info.as_ref().is_ok_and(|i| i.offline && i.split) {
            continue;
        }
        if !scan_region(r, spec, f)? {
            break;
        }
    }
    Ok(())
}
