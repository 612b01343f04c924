//! `hfile diff`: compare two tables as SyncTable does (FORMATS.md §16.10).
//!
//! Side A is cut into HashTable batches (or A's HashTable output is read). Side B is
//! hashed over exactly A's key ranges `[key_i, key_i+1)`, whatever B's region layout.
//! Only ranges whose digests differ are read again on both sides and compared cell by
//! cell: cells are matched on family, qualifier and timestamp (type too), or by order
//! within a column with `ignore_timestamps`.

use std::path::Path;

use rayon::prelude::*;

use super::{compute, is_hash_output, read_output, splits, Batch, HashOptions, HashOutput, Hasher};
use crate::bytes::{push_string_binary, to_string_binary};
use crate::cell::Cell;
use crate::error::{Error, Result};
use crate::layout::snapshot::{open_source, Source};
use crate::store::scan_regions;

/// Options of a diff.
#[derive(Debug, Clone)]
pub struct DiffOptions {
    /// Scan and batch options (used when A is not a HashTable output).
    pub hash: HashOptions,
    /// True when the caller set families/rows/time range/versions/raw explicitly; that is
    /// refused when a HashTable output's manifest decides them.
    pub scan_options_given: bool,
    /// Stop reporting differences after this many (counting goes on).
    pub limit: Option<u64>,
}

/// One cell, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellRec {
    /// Row.
    pub row: Vec<u8>,
    /// Family.
    pub family: Vec<u8>,
    /// Qualifier.
    pub qualifier: Vec<u8>,
    /// Timestamp.
    pub timestamp: i64,
    /// Type code.
    pub type_code: u8,
    /// Value.
    pub value: Vec<u8>,
}

impl CellRec {
    fn from_cell(c: &Cell<'_>) -> CellRec {
        CellRec {
            row: c.key.row().to_vec(),
            family: c.key.family().to_vec(),
            qualifier: c.key.qualifier().to_vec(),
            timestamp: c.key.timestamp(),
            type_code: c.key.type_code(),
            value: c.value.to_vec(),
        }
    }

    fn text(&self) -> String {
        let mut b = b"K: ".to_vec();
        push_string_binary(&mut b, &self.row);
        b.push(b'/');
        push_string_binary(&mut b, &self.family);
        b.push(b':');
        push_string_binary(&mut b, &self.qualifier);
        b.extend_from_slice(
            format!(
                "/{}/{} V: ",
                self.timestamp,
                crate::cell::type_name(self.type_code)
            )
            .as_bytes(),
        );
        push_string_binary(&mut b, &self.value);
        String::from_utf8_lossy(&b).into_owned()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "row": to_string_binary(&self.row),
            "family": to_string_binary(&self.family),
            "qualifier": to_string_binary(&self.qualifier),
            "timestamp": self.timestamp,
            "type": crate::cell::type_name(self.type_code),
            "value": to_string_binary(&self.value),
        })
    }
}

/// One difference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// In A, not in B.
    Missing(CellRec),
    /// In B, not in A.
    Extra(CellRec),
    /// The same column in both, with another value or timestamp.
    Changed {
        /// A's cell.
        a: CellRec,
        /// B's cell.
        b: CellRec,
    },
    /// A range whose digests differ, where one side has no cells to compare (a
    /// HashTable output). `end` empty = to the end of the table.
    Range {
        /// Range start (inclusive).
        start: Vec<u8>,
        /// Range end (exclusive).
        end: Vec<u8>,
    },
}

impl Difference {
    /// One text line.
    pub fn to_text(&self) -> String {
        match self {
            Difference::Missing(c) => format!("missing  {}", c.text()),
            Difference::Extra(c) => format!("extra    {}", c.text()),
            Difference::Changed { a, b } => format!("changed  {} -> {}", a.text(), b.text()),
            Difference::Range { start, end } => format!(
                "range    [{}, {}) differs",
                to_string_binary(start),
                if end.is_empty() {
                    "END".to_string()
                } else {
                    to_string_binary(end)
                }
            ),
        }
    }

    /// One JSON object (NDJSON line).
    pub fn to_json(&self) -> String {
        let v = match self {
            Difference::Missing(c) => {
                let mut v = c.json();
                if let Some(o) = v.as_object_mut() {
                    o.insert("kind".into(), "missing".into());
                }
                v
            }
            Difference::Extra(c) => {
                let mut v = c.json();
                if let Some(o) = v.as_object_mut() {
                    o.insert("kind".into(), "extra".into());
                }
                v
            }
            Difference::Changed { a, b } => serde_json::json!({
                "kind": "changed",
                "row": to_string_binary(&a.row),
                "value_changed": a.value != b.value,
                "timestamp_changed": a.timestamp != b.timestamp,
                "a": a.json(),
                "b": b.json(),
            }),
            Difference::Range { start, end } => serde_json::json!({
                "kind": "range",
                "start": to_string_binary(start),
                "end": if end.is_empty() { serde_json::Value::Null } else { to_string_binary(end).into() },
            }),
        };
        v.to_string()
    }
}

/// Counts of a diff.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Always "summary" (for NDJSON consumers).
    pub kind: &'static str,
    /// Ranges compared.
    pub ranges: u64,
    /// Ranges whose digests matched.
    pub ranges_matched: u64,
    /// Ranges whose digests differed.
    pub ranges_differ: u64,
    /// Cells in A only.
    pub missing: u64,
    /// Cells in B only.
    pub extra: u64,
    /// Cells changed.
    pub changed: u64,
    /// Cells equal inside the ranges that were compared cell by cell.
    pub matching_cells: u64,
}

impl Summary {
    /// True when no difference was found.
    pub fn equal(&self) -> bool {
        self.ranges_differ == 0 && self.missing == 0 && self.extra == 0 && self.changed == 0
    }
    /// One text line.
    pub fn to_text(&self) -> String {
        format!(
            "summary: {} ranges, {} matched, {} differ; cells: {} missing, {} extra, {} changed -> {}",
            self.ranges,
            self.ranges_matched,
            self.ranges_differ,
            self.missing,
            self.extra,
            self.changed,
            if self.equal() { "EQUAL" } else { "DIFFERENT" }
        )
    }
}

enum Side {
    Data(Source),
    Hashes(HashOutput),
}

fn open_side(p: &Path) -> Result<Side> {
    if is_hash_output(p) {
        Ok(Side::Hashes(read_output(p)?))
    } else {
        Ok(Side::Data(open_source(p)?))
    }
}

/// The end of the rows `src` covers for `opts`: the stop row, or the last region's end.
fn data_end(src: &Source, opts: &HashOptions) -> Result<Vec<u8>> {
    let sp = splits(src, &opts.start_row, &opts.stop_row)?;
    let last_end = sp
        .last()
        .and_then(|(r, _)| r.info.as_ref().ok())
        .map(|i| i.end_key.clone())
        .unwrap_or_default();
    Ok(match (last_end.is_empty(), opts.stop_row.is_empty()) {
        (true, _) => opts.stop_row.clone(),
        (false, true) => last_end,
        (false, false) => last_end.min(opts.stop_row.clone()),
    })
}

/// Hash `src` over the ranges `[keys[i], keys[i+1])`, the last one ending at `end`
/// (empty = unbounded), as SyncTable hashes its target. Parallel over chunks of ranges.
pub fn hash_ranges(
    src: &Source,
    opts: &HashOptions,
    keys: &[Vec<u8>],
    end: &[u8],
) -> Result<Vec<[u8; 16]>> {
    let base = opts.scan_spec(&src.descriptor)?;
    let regions: Vec<crate::layout::Region> = src.serving_regions().into_iter().cloned().collect();
    let n = keys.len();
    let chunk = n.div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
    let starts: Vec<usize> = (0..n).step_by(chunk).collect();
    let parts: Vec<Result<Vec<[u8; 16]>>> = starts
        .par_iter()
        .map(|&lo| {
            let hi = (lo + chunk).min(n);
            let mut spec = base.clone();
            spec.start_row = keys.get(lo).cloned().unwrap_or_default();
            // Keep the manifest's own row bounds.
            if spec.start_row.as_slice() < opts.start_row.as_slice() {
                spec.start_row = opts.start_row.clone();
            }
            let stop = keys.get(hi).cloned().unwrap_or_else(|| end.to_vec());
            spec.stop_row = (!stop.is_empty()).then_some(stop);
            let mut out = Vec::with_capacity(hi - lo);
            let mut h = Hasher::new(opts.ignore_timestamps);
            let mut idx = lo;
            scan_regions(&regions, &spec, &mut |c| {
                let row = c.key.row();
                while keys
                    .get(idx + 1)
                    .is_some_and(|k| idx + 1 < hi && row >= k.as_slice())
                {
                    out.push(h.finish());
                    idx += 1;
                }
                h.cell(c);
                Ok(true)
            })?;
            while idx < hi {
                out.push(h.finish());
                idx += 1;
            }
            Ok(out)
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for p in parts {
        all.extend(p?);
    }
    Ok(all)
}

fn cells_in(src: &Source, opts: &HashOptions, start: &[u8], end: &[u8]) -> Result<Vec<CellRec>> {
    let mut spec = opts.scan_spec(&src.descriptor)?;
    spec.start_row = start.to_vec().max(opts.start_row.clone());
    spec.stop_row = (!end.is_empty()).then(|| end.to_vec());
    let regions: Vec<crate::layout::Region> = src.serving_regions().into_iter().cloned().collect();
    let mut out = Vec::new();
    scan_regions(&regions, &spec, &mut |c| {
        out.push(CellRec::from_cell(c));
        Ok(true)
    })?;
    Ok(out)
}

/// Compare two sorted cell lists (one range) as SyncTable does.
pub fn compare_cells(
    a: &[CellRec],
    b: &[CellRec],
    ignore_timestamps: bool,
    matching: &mut u64,
) -> Vec<Difference> {
    let mut out = Vec::new();
    // Group by (row, family, qualifier); both lists are in scan order.
    let groups = |v: &[CellRec]| -> Vec<Column> {
        let mut g: Vec<Column> = Vec::new();
        for c in v {
            match g.last_mut() {
                Some((r, f, q, cs)) if *r == c.row && *f == c.family && *q == c.qualifier => {
                    cs.push(c.clone())
                }
                _ => g.push((
                    c.row.clone(),
                    c.family.clone(),
                    c.qualifier.clone(),
                    vec![c.clone()],
                )),
            }
        }
        g
    };
    let (ga, gb) = (groups(a), groups(b));
    let (mut i, mut j) = (0, 0);
    loop {
        let (x, y) = (ga.get(i), gb.get(j));
        let ord = match (x, y) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(x), Some(y)) => {
                let kx = (&x.0, &x.1, &x.2);
                let ky = (&y.0, &y.1, &y.2);
                kx.cmp(&ky)
            }
        };
        match (ord, x, y) {
            (std::cmp::Ordering::Less, Some(x), _) => {
                out.extend(x.3.iter().cloned().map(Difference::Missing));
                i += 1;
            }
            (std::cmp::Ordering::Greater, _, Some(y)) => {
                out.extend(y.3.iter().cloned().map(Difference::Extra));
                j += 1;
            }
            (_, Some(x), Some(y)) => {
                compare_column(&x.3, &y.3, ignore_timestamps, matching, &mut out);
                i += 1;
                j += 1;
            }
            _ => break,
        }
    }
    out
}

/// (row, family, qualifier, versions).
type Column = (Vec<u8>, Vec<u8>, Vec<u8>, Vec<CellRec>);

fn compare_column(
    a: &[CellRec],
    b: &[CellRec],
    ignore_timestamps: bool,
    matching: &mut u64,
    out: &mut Vec<Difference>,
) {
    let (la, lb): (Vec<&CellRec>, Vec<&CellRec>) = if ignore_timestamps {
        (a.iter().collect(), b.iter().collect())
    } else {
        // Match versions on (timestamp, type); leftovers are paired below.
        let mut la = Vec::new();
        let mut used = vec![false; b.len()];
        for x in a {
            let hit = b.iter().enumerate().find(|(k, y)| {
                !used.get(*k).copied().unwrap_or(true)
                    && y.timestamp == x.timestamp
                    && y.type_code == x.type_code
            });
            match hit {
                Some((k, y)) => {
                    if let Some(u) = used.get_mut(k) {
                        *u = true;
                    }
                    if x.value == y.value {
                        *matching += 1;
                    } else {
                        out.push(Difference::Changed {
                            a: x.clone(),
                            b: y.clone(),
                        });
                    }
                }
                None => la.push(x),
            }
        }
        let lb = b
            .iter()
            .enumerate()
            .filter(|(k, _)| !used.get(*k).copied().unwrap_or(true))
            .map(|(_, y)| y)
            .collect();
        (la, lb)
    };
    let n = la.len().min(lb.len());
    for (x, y) in la.iter().zip(lb.iter()) {
        if ignore_timestamps && x.value == y.value {
            *matching += 1;
        } else {
            out.push(Difference::Changed {
                a: (*x).clone(),
                b: (*y).clone(),
            });
        }
    }
    out.extend(la.iter().skip(n).map(|c| Difference::Missing((*c).clone())));
    out.extend(lb.iter().skip(n).map(|c| Difference::Extra((*c).clone())));
}

/// Compare `a` and `b` (table, region, snapshot or HashTable output dirs). Every
/// difference goes to `emit` in row order (up to `opts.limit`); the counts are returned.
pub fn diff(
    a: &Path,
    b: &Path,
    opts: &DiffOptions,
    emit: &mut dyn FnMut(&Difference),
) -> Result<Summary> {
    let sa = open_side(a)?;
    let sb = open_side(b)?;
    let ignore_ts = opts.hash.ignore_timestamps;
    let from_manifest = |h: &HashOutput| -> Result<HashOptions> {
        if opts.scan_options_given {
            return Err(Error::usage(format!(
                "{} is a HashTable output: its manifest sets the families, rows, time range, \
                 versions and raw mode; do not give them",
                h.dir.display()
            )));
        }
        h.manifest.options(ignore_ts, opts.hash.now)
    };
    // The reference side: its batch keys and digests define the ranges.
    let (hopts, ref_batches, ref_end, a_is_ref): (HashOptions, Vec<Batch>, Vec<u8>, bool) =
        match (&sa, &sb) {
            (Side::Hashes(h), _) => {
                let o = from_manifest(h)?;
                let end = o.stop_row.clone();
                (o, h.batches.clone(), end, true)
            }
            (Side::Data(_), Side::Hashes(h)) => {
                let o = from_manifest(h)?;
                let end = o.stop_row.clone();
                (o, h.batches.clone(), end, false)
            }
            (Side::Data(s), Side::Data(_)) => {
                let (batches, _) = compute(s, &opts.hash)?;
                (opts.hash.clone(), batches, data_end(s, &opts.hash)?, true)
            }
        };
    let keys: Vec<Vec<u8>> = ref_batches.iter().map(|b| b.key.clone()).collect();
    let other = if a_is_ref { &sb } else { &sa };
    let other_hashes: Vec<[u8; 16]> = match other {
        Side::Data(s) => hash_ranges(s, &hopts, &keys, &ref_end)?,
        Side::Hashes(h) => {
            if h.batches.iter().map(|b| &b.key).ne(keys.iter()) {
                return Err(Error::usage(
                    "both sides are HashTable outputs with different batch keys; give a table, \
                     region or snapshot dir for one side so it can be hashed over the other's ranges",
                ));
            }
            h.batches.iter().map(|b| b.hash).collect()
        }
    };
    let mut sum = Summary {
        kind: "summary",
        ranges: keys.len() as u64,
        ..Summary::default()
    };
    let mut differing = Vec::new();
    for (i, (rb, oh)) in ref_batches.iter().zip(other_hashes.iter()).enumerate() {
        if rb.hash == *oh {
            sum.ranges_matched += 1;
        } else {
            sum.ranges_differ += 1;
            let end = keys.get(i + 1).cloned().unwrap_or_else(|| ref_end.clone());
            differing.push((rb.key.clone(), end));
        }
    }
    let mut emitted = 0u64;
    let mut put = |d: &Difference, emitted: &mut u64| {
        if opts.limit.is_none_or(|l| *emitted < l) {
            emit(d);
        }
        *emitted += 1;
    };
    match (&sa, &sb) {
        (Side::Data(da), Side::Data(db)) => {
            let per: Vec<Result<(Vec<Difference>, u64)>> = differing
                .par_iter()
                .map(|(s, e)| {
                    let ca = cells_in(da, &hopts, s, e)?;
                    let cb = cells_in(db, &hopts, s, e)?;
                    let mut m = 0;
                    let d = compare_cells(&ca, &cb, ignore_ts, &mut m);
                    Ok((d, m))
                })
                .collect();
            for r in per {
                let (ds, m) = r?;
                sum.matching_cells += m;
                for d in &ds {
                    match d {
                        Difference::Missing(_) => sum.missing += 1,
                        Difference::Extra(_) => sum.extra += 1,
                        Difference::Changed { .. } => sum.changed += 1,
                        Difference::Range { .. } => {}
                    }
                    put(d, &mut emitted);
                }
            }
        }
        _ => {
            for (s, e) in differing {
                put(&Difference::Range { start: s, end: e }, &mut emitted);
            }
        }
    }
    Ok(sum)
}
