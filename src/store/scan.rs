//! The offline scan: what a region server would answer for a user (or raw) scan or get,
//! computed from a region's store files with the merged read and HBase's matchers.
//!
//! [`ScanSpec`] holds the row range and the per-family parameters; [`scan_region`] streams
//! the kept cells of one region in scan order. Row-level logic (filters, batching, row
//! limits) is left to the caller's callback.

use std::collections::BTreeMap;

use crate::cell::Cell;
use crate::error::{Error, Result};
use crate::layout::{Region, TableDescriptor};
use crate::store::edits::{self, EditsOptions};
use crate::store::{Input, Matcher, Merge, Mode, Params};

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
        for f in &desc.families {
            if !wanted.is_empty() && !wanted.contains_key(&f.name) {
                continue;
            }
            let mut p = Params::from_family(f, opts.now)?;
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
    let mut inputs = Vec::new();
    for s in &region.stores {
        if !spec.families.contains_key(&s.family) {
            continue;
        }
        for sf in &s.files {
            inputs.push(Input::open(sf)?);
        }
    }
    let first = spec.first_row();
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
    let mut merge = Merge::with_edits(&inputs, streams, first)?;
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
