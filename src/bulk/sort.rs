//! External merge sort of cells with bounded memory.
//!
//! A cell record is `klen:varint vlen:varint KEY VALUE` (KEY in HBase's KeyValue key layout,
//! varints as protobuf's); run files hold such records. In memory, cells collect in a
//! [`Chunk`] as *groups*: the cells of one input row in one family, the row, family,
//! timestamp and type once (see [`push_group_head`]) and then each cell's qualifier and
//! value in cell order, with one [`Entry`] per group, so the sort moves one entry per row and
//! family and memory holds each row once. When the chunk is full it is sorted in parallel and
//! written to a *run* file — its cells as records, back to back, deduplicated — in the spill
//! directory. [`merge`] streams the runs and
//! the last chunk in order through a k-way heap merge.
//!
//! Order: family, then HBase's cell order (row, qualifier, timestamp descending, type
//! descending), then input order descending — in a chunk the place a group was appended at
//! (within a group, of two columns naming the same cell the later),
//! across runs the run's number (runs hold ever later input, the chunk the latest). Of cells
//! with the same row, family, qualifier, timestamp and type only the first in this order —
//! the one read **last** from the input — is kept: last wins, as when HBase applies the same
//! puts in input order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bulk::regions::Regions;

use crate::bytes::{compare, read_pbvar, write_pbvar};
use crate::cell::{Key, Order};
use crate::error::{Error, Result};

/// A borrowed record.
#[derive(Debug, Clone, Copy)]
pub struct Rec<'a> {
    /// KEY bytes.
    pub key: &'a [u8],
    /// Value bytes.
    pub value: &'a [u8],
}

/// Parse the record at the start of `b`; None if truncated.
pub fn rec_at(b: &[u8]) -> Option<(Rec<'_>, usize)> {
    let (kl, n1) = read_pbvar(b)?;
    let (vl, n2) = read_pbvar(b.get(n1..)?)?;
    let at = n1 + n2;
    let end_key = at.checked_add(usize::try_from(kl).ok()?)?;
    let end = end_key.checked_add(usize::try_from(vl).ok()?)?;
    let key = b.get(at..end_key)?;
    let value = b.get(end_key..end)?;
    Some((Rec { key, value }, end))
}

/// Append a record.
pub fn push_rec(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    write_pbvar(out, key.len() as u64);
    write_pbvar(out, value.len() as u64);
    out.extend_from_slice(key);
    out.extend_from_slice(value);
}

/// Start a group in `out`: `row_len:u16 row fam_len:u8 family ts:i64 type:u8` (big-endian,
/// the KEY's own layout less the qualifier). Its cells follow ([`push_group_cell`]).
pub fn push_group_head(out: &mut Vec<u8>, row: &[u8], family: &[u8], ts: i64, type_code: u8) {
    out.extend_from_slice(&(row.len() as u16).to_be_bytes());
    out.extend_from_slice(row);
    out.push(family.len() as u8);
    out.extend_from_slice(family);
    out.extend_from_slice(&ts.to_be_bytes());
    out.push(type_code);
}

/// Append a cell of the open group: `qual_len:varint qualifier vlen:varint value`.
pub fn push_group_cell(out: &mut Vec<u8>, qualifier: &[u8], value: &[u8]) {
    write_pbvar(out, qualifier.len() as u64);
    out.extend_from_slice(qualifier);
    write_pbvar(out, value.len() as u64);
    out.extend_from_slice(value);
}

/// A group's head: the KEY bytes before the qualifier (and their row and family), the 9
/// after it, and the group's cells.
#[derive(Debug, Clone, Copy)]
struct GroupHead<'a> {
    /// `row_len row fam_len family`.
    row_family: &'a [u8],
    row: &'a [u8],
    family: &'a [u8],
    ts_type: &'a [u8],
    body: &'a [u8],
}

impl<'a> GroupHead<'a> {
    fn parse(b: &'a [u8]) -> Option<GroupHead<'a>> {
        let row_len = usize::from(u16::from_be_bytes([*b.first()?, *b.get(1)?]));
        let fam_len = usize::from(*b.get(2 + row_len)?);
        let rf = 3 + row_len + fam_len;
        Some(GroupHead {
            row_family: b.get(..rf)?,
            row: b.get(2..2 + row_len)?,
            family: b.get(3 + row_len..rf)?,
            ts_type: b.get(rf..rf + 9)?,
            body: b.get(rf + 9..)?,
        })
    }

    /// Append the KEY of this group's cell with `qualifier` to `out`.
    fn push_key(&self, qualifier: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(self.row_family);
        out.extend_from_slice(qualifier);
        out.extend_from_slice(self.ts_type);
    }
}

/// Read a group cell at the start of `b`: (qualifier, value, bytes used).
fn group_cell(b: &[u8]) -> Option<(&[u8], &[u8], usize)> {
    let (ql, n1) = read_pbvar(b)?;
    let q_end = n1.checked_add(usize::try_from(ql).ok()?)?;
    let qual = b.get(n1..q_end)?;
    let (vl, n2) = read_pbvar(b.get(q_end..)?)?;
    let v_start = q_end + n2;
    let v_end = v_start.checked_add(usize::try_from(vl).ok()?)?;
    Some((qual, b.get(v_start..v_end)?, v_end))
}

/// Compare two KEYs family first, then in HBase's cell order.
pub fn cmp_keys(a: &[u8], b: &[u8]) -> Ordering {
    match (Key::parse(a), Key::parse(b)) {
        (Ok(x), Ok(y)) => x
            .family()
            .cmp(y.family())
            .then_with(|| Order::Normal.compare(&x, &y)),
        _ => a.cmp(b),
    }
}

/// A group's place in the arena with a cached sort key, so most comparisons touch no arena
/// memory: the family's rank, the first 16 row bytes (zero padded, big-endian) and, for rows
/// of at most 16 bytes, the row's length. A group is a head and `cells` cells of one row and
/// family in cell order ([`push_group_head`]; as one input row's columns are). Groups sort by
/// (family, row, input order descending); groups of the same row and family are merged
/// cell by cell when read ([`Chunk::iter`]). Made where the records are encoded
/// ([`Entry::new`]) and handed to [`Chunk::extend_entries`].
#[derive(Debug, Clone, Copy)]
pub struct Entry {
    prefix: u128,
    off: usize,
    fam: u16,
    /// Records in the group (at least 1).
    cells: u16,
    /// Row length, or [`LONG_ROW`] when the prefix does not hold the whole row.
    row_len: u8,
}

/// [`Entry::row_len`] of a row longer than the prefix.
const LONG_ROW: u8 = u8::MAX;

impl Entry {
    /// The entry of a group of `cells` records at `off` in its batch, of family rank `fam`
    /// ([`Chunk::family_rank`]) and row `row`. The records must be in cell order.
    pub fn new(fam: u16, row: &[u8], cells: u16, off: usize) -> Entry {
        let mut p = [0u8; 16];
        for (d, s) in p.iter_mut().zip(row) {
            *d = *s;
        }
        Entry {
            prefix: u128::from_be_bytes(p),
            off,
            fam,
            cells: cells.max(1),
            row_len: if row.len() <= 16 {
                row.len() as u8
            } else {
                LONG_ROW
            },
        }
    }

    /// Order by the cached key alone where it decides; None when the rows must be compared.
    /// Equal family rank and prefix, both rows held whole: the row length orders different
    /// rows (the shorter is a prefix of the longer); the same row: the later group first.
    fn quick_cmp(&self, o: &Entry) -> Option<Ordering> {
        let c = self.fam.cmp(&o.fam).then(self.prefix.cmp(&o.prefix));
        if c != Ordering::Equal {
            return Some(c);
        }
        if self.row_len == LONG_ROW || o.row_len == LONG_ROW {
            return None;
        }
        Some(self.row_len.cmp(&o.row_len).then(o.off.cmp(&self.off)))
    }

    /// Same family and row, when the cached key can tell (None: compare the rows).
    fn same_group(&self, o: &Entry) -> Option<bool> {
        if self.fam != o.fam || self.prefix != o.prefix || self.row_len != o.row_len {
            return Some(false);
        }
        (self.row_len != LONG_ROW).then_some(true)
    }
}

/// Bytes of an [`Entry`]'s radix key: family rank (2) and row prefix (16), big-endian.
const RADIX_BYTES: usize = 18;

/// Byte `depth` of `e`'s radix key.
fn digit(e: &Entry, depth: usize) -> usize {
    if depth < 2 {
        usize::from(e.fam.to_be_bytes().get(depth).copied().unwrap_or(0))
    } else {
        ((e.prefix >> (8 * (RADIX_BYTES - 1 - depth))) & 0xff) as usize
    }
}

/// Below this many entries a bucket is finished by comparison sort.
const RADIX_SMALL: usize = 48;

/// Buckets bigger than this are sorted on several threads.
const RADIX_PARALLEL: usize = 1 << 15;

/// In-place MSD radix sort (American flag sort) of `v` from key byte `depth` on, equal to
/// sorting by (family rank, row prefix, `full`). Buckets whose radix key is used up, and small
/// ones, are finished with `full`; bytes all entries share are skipped without moving them.
#[allow(clippy::indexing_slicing)] // indices are counts over `v` itself, not input bytes
fn radix_sort<F>(v: &mut [Entry], mut depth: usize, full: &F)
where
    F: Fn(&Entry, &Entry) -> Ordering + Sync,
{
    let tie = |a: &Entry, b: &Entry| a.quick_cmp(b).unwrap_or_else(|| full(a, b));
    if v.len() > RADIX_SMALL {
        // Skip the key bytes every entry shares, found in one pass.
        let (f0, p0) = v.first().map_or((0, 0), |e| (e.fam, e.prefix));
        let (df, dp) = v.iter().fold((0u16, 0u128), |(df, dp), e| {
            (df | (e.fam ^ f0), dp | (e.prefix ^ p0))
        });
        let first_diff = if df != 0 {
            df.leading_zeros() as usize / 8
        } else if dp != 0 {
            2 + dp.leading_zeros() as usize / 8
        } else {
            RADIX_BYTES
        };
        depth = depth.max(first_diff);
    }
    if v.len() <= RADIX_SMALL || depth >= RADIX_BYTES {
        v.sort_unstable_by(tie);
        return;
    }
    let mut counts = [0usize; 256];
    for e in v.iter() {
        counts[digit(e, depth)] += 1;
    }
    let mut ends = [0usize; 256];
    let mut sum = 0;
    for (end, c) in ends.iter_mut().zip(counts) {
        sum += c;
        *end = sum;
    }
    // Permute in place: `next[b]` is the first slot of bucket b not yet holding its own.
    let mut next = [0usize; 256];
    next[1..].copy_from_slice(&ends[..255]);
    for b in 0..256 {
        while next[b] < ends[b] {
            let mut e = v[next[b]];
            loop {
                let d = digit(&e, depth);
                if d == b {
                    break;
                }
                std::mem::swap(&mut e, &mut v[next[d]]);
                next[d] += 1;
            }
            v[next[b]] = e;
            next[b] += 1;
        }
    }
    let mut buckets = Vec::with_capacity(256);
    let mut rest = v;
    let mut start = 0;
    for end in ends {
        let (b, r) = rest.split_at_mut(end - start);
        if b.len() > 1 {
            buckets.push(b);
        }
        rest = r;
        start = end;
    }
    if start > RADIX_PARALLEL {
        buckets
            .into_par_iter()
            .for_each(|b| radix_sort(b, depth + 1, full));
    } else {
        for b in buckets {
            radix_sort(b, depth + 1, full);
        }
    }
}

/// An [`Entry`]'s offset holds its batch's index above this bit and the offset in the batch
/// below it.
const BATCH_SHIFT: u32 = 32;
const BATCH_MASK: usize = (1 << BATCH_SHIFT) - 1;

/// How many entries ahead of the one being read [`Chunk::range`] prefetches records.
const PREFETCH_AHEAD: usize = 32;

/// The head of the group `e` points at in `batches`.
fn head_in<'a>(batches: &'a [Vec<u8>], e: &Entry) -> Option<GroupHead<'a>> {
    batches
        .get(e.off >> BATCH_SHIFT)?
        .get(e.off & BATCH_MASK..)
        .and_then(GroupHead::parse)
}

/// Order of two groups by (family, row); unreadable groups last.
fn group_cmp(a: Option<GroupHead<'_>>, b: Option<GroupHead<'_>>) -> Ordering {
    match (a, b) {
        (Some(x), Some(y)) => x.family.cmp(y.family).then_with(|| compare(x.row, y.row)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

/// Cursor over the cells of sorted groups in cell order, each distinct key once (of equal
/// keys the first, i.e. the later input's: last wins). A lone group's cells come as stored;
/// several groups of one row and family are merged (equal keys: the later group's first).
/// Sorted order visits groups at random places in memory, so each step asks the CPU to
/// fetch a group a few entries ahead. Keys are built into the cursor's buffer, so it hands
/// out one record at a time ([`Cells::next_cell`]).
pub struct Cells<'a> {
    chunk: &'a Chunk,
    entries: &'a [Entry],
    /// Next entry to open.
    next: usize,
    /// The open group and how many of its cells are unread.
    head: Option<GroupHead<'a>>,
    left: u16,
    /// Merged groups: their keys back to back in `keys`, and (key range, value) in order.
    keys: Vec<u8>,
    merged: Vec<(std::ops::Range<usize>, &'a [u8])>,
    taken: usize,
    /// The key being made and the last key handed out.
    key: Vec<u8>,
    last: Vec<u8>,
    have_last: bool,
}

impl<'a> Cells<'a> {
    fn new(chunk: &'a Chunk, entries: &'a [Entry]) -> Self {
        Cells {
            chunk,
            entries,
            next: 0,
            head: None,
            left: 0,
            keys: Vec::new(),
            merged: Vec::new(),
            taken: 0,
            key: Vec::new(),
            last: Vec::new(),
            have_last: false,
        }
    }

    /// The next cell: its KEY (in this cursor's buffer) and value; None at the end.
    pub fn next_cell(&mut self) -> Option<Rec<'_>> {
        loop {
            let value = self.next_candidate()?;
            if self.have_last && self.key == self.last {
                continue;
            }
            std::mem::swap(&mut self.key, &mut self.last);
            self.have_last = true;
            return Some(Rec {
                key: &self.last,
                value,
            });
        }
    }

    /// Put the next cell's key (duplicates included) into `self.key`; give its value.
    fn next_candidate(&mut self) -> Option<&'a [u8]> {
        loop {
            if let Some((range, value)) = self.merged.get(self.taken) {
                self.taken += 1;
                self.key.clear();
                self.key
                    .extend_from_slice(self.keys.get(range.clone()).unwrap_or(&[]));
                return Some(value);
            }
            if self.left > 0 {
                self.left -= 1;
                if let Some(h) = &mut self.head {
                    if let Some((qual, value, n)) = group_cell(h.body) {
                        h.body = h.body.get(n..).unwrap_or(&[]);
                        self.key.clear();
                        h.push_key(qual, &mut self.key);
                        return Some(value);
                    }
                }
                self.left = 0;
            }
            self.open_next()?;
        }
    }

    /// Open the next entry, merging it with the following ones of the same row and family.
    fn open_next(&mut self) -> Option<()> {
        let chunk: &'a Chunk = self.chunk;
        let e = *self.entries.get(self.next)?;
        if let Some(ahead) = self.entries.get(self.next + PREFETCH_AHEAD) {
            chunk.prefetch(ahead);
        }
        let mut end = self.next + 1;
        while self
            .entries
            .get(end)
            .is_some_and(|o| chunk.same_group(&e, o))
        {
            end += 1;
        }
        self.merged.clear();
        self.keys.clear();
        self.taken = 0;
        if end == self.next + 1 {
            self.head = chunk.head(&e);
            self.left = e.cells;
        } else {
            // The same row and family several times: merge the groups' cells. The entries
            // run later group first and a stable sort keeps that among equal keys.
            self.head = None;
            self.left = 0;
            for o in self.entries.get(self.next..end).unwrap_or(&[]) {
                let Some(h) = chunk.head(o) else { continue };
                let mut body = h.body;
                for _ in 0..o.cells {
                    let Some((qual, value, n)) = group_cell(body) else {
                        break;
                    };
                    let start = self.keys.len();
                    h.push_key(qual, &mut self.keys);
                    self.merged.push((start..self.keys.len(), value));
                    body = body.get(n..).unwrap_or(&[]);
                }
            }
            let keys = &self.keys;
            self.merged.sort_by(|(a, _), (b, _)| {
                cmp_keys(
                    keys.get(a.clone()).unwrap_or(&[]),
                    keys.get(b.clone()).unwrap_or(&[]),
                )
            });
        }
        self.next = end;
        Some(())
    }
}

/// Records in memory.
#[derive(Debug, Default)]
pub struct Chunk {
    /// The record batches as their converters encoded them (not copied together).
    batches: Vec<Vec<u8>>,
    /// Bytes in `batches`.
    bytes: usize,
    offsets: Vec<Entry>,
    limit: usize,
    families: Vec<Vec<u8>>,
}

impl Chunk {
    /// A chunk holding at most about `limit` bytes (records plus offsets).
    /// `families` (any order) speed up sorting; others sort correctly but slower.
    pub fn new(limit: usize, families: &[Vec<u8>]) -> Chunk {
        let limit = limit.max(1 << 16);
        let mut families = families.to_vec();
        families.sort();
        families.dedup();
        Chunk {
            batches: Vec::new(),
            bytes: 0,
            offsets: Vec::new(),
            limit,
            families,
        }
    }

    /// The sort rank of `family`: its place among the chunk's families (`u16::MAX` when
    /// it is not one of them).
    pub fn family_rank(&self, family: &[u8]) -> u16 {
        self.families
            .binary_search_by(|f| f.as_slice().cmp(family))
            .map_or(u16::MAX, |i| i.min(u16::MAX as usize - 1) as u16)
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.bytes + self.offsets.len() * std::mem::size_of::<Entry>()
    }

    /// True when `extra_bytes` more record bytes in `extra_recs` records do not fit.
    pub fn would_overflow(&self, extra_bytes: usize, extra_recs: usize) -> bool {
        !self.is_empty()
            && self.used() + extra_bytes + extra_recs * std::mem::size_of::<Entry>() > self.limit
    }

    /// Groups held (a group is one or more records of one row and family).
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Append the records encoded back to back in `batch` as one-cell groups (tests; the
    /// build hands over groups and entries made while encoding, [`Chunk::extend_entries`]).
    #[cfg(test)]
    pub fn extend(&mut self, batch: &[u8]) -> Result<()> {
        let mut entries = Vec::new();
        let mut groups = Vec::new();
        let mut at = 0;
        while let Some((r, n)) = batch.get(at..).and_then(rec_at) {
            let k = Key::parse(r.key)?;
            entries.push(Entry::new(
                self.family_rank(k.family()),
                k.row(),
                1,
                groups.len(),
            ));
            push_group_head(
                &mut groups,
                k.row(),
                k.family(),
                k.timestamp(),
                k.type_code(),
            );
            push_group_cell(&mut groups, k.qualifier(), r.value);
            at += n;
        }
        self.extend_entries(groups, &entries)
    }

    /// Append the records of `batch` whose entries (offsets within `batch`) are `entries`.
    /// The batch is kept as it is, not copied; it must be under 4 GiB.
    pub fn extend_entries(&mut self, batch: Vec<u8>, entries: &[Entry]) -> Result<()> {
        if batch.len() > BATCH_MASK {
            return Err(Error::usage(format!(
                "{} bytes of cells from one block of input: more than a sort batch holds (4 GiB)",
                batch.len()
            )));
        }
        let index = self.batches.len();
        self.offsets.extend(entries.iter().map(|e| Entry {
            off: index << BATCH_SHIFT | e.off,
            ..*e
        }));
        self.bytes += batch.len();
        self.batches.push(batch);
        Ok(())
    }

    /// The head of the group an entry points at.
    fn head(&self, e: &Entry) -> Option<GroupHead<'_>> {
        head_in(&self.batches, e)
    }

    /// Sort the groups (in parallel): an in-place radix sort on the cached (family rank,
    /// row prefix) bytes, the rows themselves compared only where those tie.
    pub fn sort(&mut self) {
        let batches = &self.batches;
        // The same row and family: the group appended later (read later) first.
        let full = |a: &Entry, b: &Entry| {
            group_cmp(head_in(batches, a), head_in(batches, b)).then(b.off.cmp(&a.off))
        };
        if self.offsets.iter().any(|e| e.fam == u16::MAX) {
            // A family outside the known set has no rank: compare everything in full.
            self.offsets.par_sort_unstable_by(full);
            return;
        }
        radix_sort(&mut self.offsets, 0, &full);
    }

    /// Ranges of the sorted records that go to one (family, region) each, in order: the
    /// units that can be written independently. Found by binary search (the records are
    /// sorted by family, then row), touching O((families + regions) log n) records.
    pub fn groups(&self, regions: &Regions) -> Vec<std::ops::Range<usize>> {
        let key = |e: &Entry| self.head(e);
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.offsets.len() {
            let rest = self.offsets.get(start..).unwrap_or(&[]);
            let Some(fam) = rest.first().and_then(key).map(|k| k.family.to_vec()) else {
                out.push(start..self.offsets.len());
                break;
            };
            let n = rest
                .partition_point(|e| key(e).is_some_and(|k| k.family == fam.as_slice()))
                .max(1);
            let end = start + n;
            let fam_part = self.offsets.get(start..end).unwrap_or(&[]);
            let mut from = start;
            for split in &regions.splits {
                let at = start
                    + fam_part.partition_point(|e| {
                        key(e).is_some_and(|k| compare(k.row, split) == Ordering::Less)
                    });
                if at > from {
                    out.push(from..at);
                    from = at;
                }
            }
            if end > from {
                out.push(from..end);
            }
            start = end;
        }
        out
    }

    /// The sorted records of the groups in `range` (of [`Chunk::groups`]), in order.
    pub fn range(&self, range: std::ops::Range<usize>) -> Cells<'_> {
        Cells::new(self, self.offsets.get(range).unwrap_or(&[]))
    }

    /// The sorted records, in order.
    pub fn iter(&self) -> Cells<'_> {
        Cells::new(self, &self.offsets)
    }

    /// Hint the CPU to bring `e`'s group into cache: a line per cell, up to four lines.
    fn prefetch(&self, e: &Entry) {
        if let Some(b) = self
            .batches
            .get(e.off >> BATCH_SHIFT)
            .and_then(|b| b.get(e.off & BATCH_MASK..))
        {
            for line in 0..usize::from(e.cells.min(4)) {
                if let Some(at) = b.get(64 * line..) {
                    crate::bytes::prefetch(at);
                }
            }
        }
    }

    /// Whether two sorted-adjacent groups hold the same row and family.
    fn same_group(&self, a: &Entry, b: &Entry) -> bool {
        a.same_group(b)
            .unwrap_or_else(|| group_cmp(self.head(a), self.head(b)) == Ordering::Equal)
    }

    /// Sort and write the records, deduplicated, as a run file `path`.
    pub fn spill(&mut self, path: &Path) -> Result<u64> {
        self.sort();
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut bytes = 0u64;
        let mut buf = Vec::new();
        let mut cells = self.iter();
        while let Some(r) = cells.next_cell() {
            buf.clear();
            push_rec(&mut buf, r.key, r.value);
            w.write_all(&buf).map_err(|e| Error::io(path, e))?;
            bytes += buf.len() as u64;
        }
        w.flush().map_err(|e| Error::io(path, e))?;
        self.clear();
        Ok(bytes)
    }

    /// Drop the records.
    pub fn clear(&mut self) {
        self.batches.clear();
        self.bytes = 0;
        self.offsets.clear();
    }
}

/// A sorted run on disk.
struct RunReader {
    r: BufReader<File>,
    path: PathBuf,
}

impl RunReader {
    /// Read one varint length, appending its bytes to `buf`; None at a clean end of the run
    /// (`at_start`: nothing of the record read yet).
    fn read_len(&mut self, buf: &mut Vec<u8>, at_start: bool) -> Result<Option<u64>> {
        let mut v = 0u64;
        for i in 0..10 {
            let mut b = [0u8; 1];
            match self.r.read_exact(&mut b) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && at_start && i == 0 => {
                    return Ok(None)
                }
                Err(e) => return Err(Error::io(&self.path, e)),
            }
            buf.push(b[0]);
            v |= u64::from(b[0] & 0x7f) << (7 * i);
            if b[0] & 0x80 == 0 {
                return Ok(Some(v));
            }
        }
        Err(Error::corrupt("sort run", "record length of more than 10 bytes").in_file(&self.path))
    }

    /// Read the next record into `buf` (replacing it); false at the end.
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        buf.clear();
        let Some(kl) = self.read_len(buf, true)? else {
            return Ok(false);
        };
        let vl = self.read_len(buf, false)?.unwrap_or(0);
        let header = buf.len();
        let body = usize::try_from(kl.saturating_add(vl))
            .map_err(|_| Error::corrupt("sort run", "record too long").in_file(&self.path))?;
        buf.resize(header + body, 0);
        let body = buf.get_mut(header..).unwrap_or(&mut []);
        self.r
            .read_exact(body)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(true)
    }
}

enum Source<'c> {
    Run(RunReader),
    Mem(Cells<'c>),
}

impl Source<'_> {
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        match self {
            Source::Run(r) => r.next_into(buf),
            Source::Mem(it) => Ok(match it.next_cell() {
                Some(r) => {
                    buf.clear();
                    push_rec(buf, r.key, r.value);
                    true
                }
                None => false,
            }),
        }
    }
}

struct Head {
    buf: Vec<u8>,
    src: usize,
}

impl Head {
    fn rec(&self) -> Option<Rec<'_>> {
        rec_at(&self.buf).map(|(r, _)| r)
    }
}

impl PartialEq for Head {
    fn eq(&self, o: &Self) -> bool {
        self.cmp(o) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Head {
    fn cmp(&self, o: &Self) -> Ordering {
        // BinaryHeap is a max-heap: reverse for ascending keys; of equal keys the later
        // source (later input) first.
        match (self.rec(), o.rec()) {
            (Some(a), Some(b)) => cmp_keys(b.key, a.key).then(self.src.cmp(&o.src)),
            _ => self.src.cmp(&o.src),
        }
    }
}

/// Merge the sorted `runs` and the (sorted) `chunk`, calling `sink` once per distinct key
/// (the newest record of each key).
pub fn merge(
    runs: &[PathBuf],
    chunk: &Chunk,
    buffer_per_run: usize,
    mut sink: impl FnMut(Rec<'_>) -> Result<()>,
) -> Result<()> {
    let mut sources: Vec<Source<'_>> = Vec::new();
    for p in runs {
        let f = File::open(p).map_err(|e| Error::io(p, e))?;
        sources.push(Source::Run(RunReader {
            r: BufReader::with_capacity(buffer_per_run.max(1 << 12), f),
            path: p.clone(),
        }));
    }
    if !chunk.is_empty() {
        sources.push(Source::Mem(chunk.iter()));
    }
    if let [Source::Mem(it)] = sources.as_mut_slice() {
        // One sorted source (its keys already distinct): no heap, no copies.
        while let Some(r) = it.next_cell() {
            sink(r)?;
        }
        return Ok(());
    }
    let mut heap = BinaryHeap::new();
    for (i, s) in sources.iter_mut().enumerate() {
        let mut buf = Vec::new();
        if s.next_into(&mut buf)? {
            heap.push(Head { buf, src: i });
        }
    }
    let mut prev_key: Vec<u8> = Vec::new();
    let mut have_prev = false;
    while let Some(mut top) = heap.peek_mut() {
        if let Some(r) = top.rec() {
            if !(have_prev && prev_key == r.key) {
                sink(r)?;
                prev_key.clear();
                prev_key.extend_from_slice(r.key);
                have_prev = true;
            }
        }
        let src = top.src;
        let more = match sources.get_mut(src) {
            Some(s) => s.next_into(&mut top.buf)?,
            None => false,
        };
        if !more {
            std::collections::binary_heap::PeekMut::pop(top);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, KeyType};

    fn key(row: &str, q: &str, ts: i64) -> Vec<u8> {
        make_key(row.as_bytes(), b"f", q.as_bytes(), ts, KeyType::Put as u8)
    }

    #[test]
    fn spill_and_merge_last_wins() {
        let dir = tempfile::tempdir().unwrap();
        let mut c = Chunk::new(1 << 16, &[b"f".to_vec()]);
        let mut all = Vec::new();
        let mut runs = Vec::new();
        for i in 0..300u64 {
            let mut b = Vec::new();
            let row = format!("r{:03}", (i * 37) % 100);
            push_rec(&mut b, &key(&row, "q", 5), format!("v{i}").as_bytes());
            all.push((row, i));
            c.extend(&b).unwrap();
            if c.len() == 70 {
                let p = dir.path().join(format!("run{}", runs.len()));
                c.spill(&p).unwrap();
                runs.push(p);
            }
        }
        c.sort();
        let mut got = Vec::new();
        merge(&runs, &c, 4096, |r| {
            let k = Key::parse(r.key).unwrap();
            let i: u64 = std::str::from_utf8(&r.value[1..]).unwrap().parse().unwrap();
            got.push((String::from_utf8(k.row().to_vec()).unwrap(), i));
            Ok(())
        })
        .unwrap();
        let mut want: std::collections::BTreeMap<String, u64> = Default::default();
        for (r, i) in all {
            want.insert(r, i);
        }
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    }

    /// Every (key, value) `c` hands out, in order.
    fn drain(c: &Chunk) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut out = Vec::new();
        let mut cells = c.iter();
        while let Some(r) = cells.next_cell() {
            out.push((r.key.to_vec(), r.value.to_vec()));
        }
        out
    }

    /// Sorting and reading groups gives records in exactly the comparator's order: rows
    /// shorter and longer than the cached prefix, rows differing only in zero padding, shared
    /// prefixes, several families, groups of one to three cells, the same row and family in
    /// several groups (merged; equal keys: the later group first), enough groups for the
    /// parallel path.
    #[test]
    fn radix_sort_equals_comparison_sort() {
        let fams = [b"a".to_vec(), b"bb".to_vec()];
        let mut c = Chunk::new(1 << 28, &fams);
        let mut b = Vec::new();
        let mut entries = Vec::new();
        let mut all = Vec::new();
        let mut x = 99u64;
        for i in 0..100_000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut row = match (x >> 60) % 4 {
                0 => format!("user{:012}", (x >> 20) % 5000).into_bytes(),
                1 => format!("a-long-shared-row-prefix-{}", (x >> 20) % 300).into_bytes(),
                2 => vec![b'a'; ((x >> 20) % 20) as usize],
                _ => ((x >> 8) as u32 % 700).to_be_bytes().to_vec(),
            };
            if (x >> 40) % 7 == 0 {
                row.push(0);
            }
            let fam = &fams[((x >> 30) % 2) as usize];
            let ts = ((x >> 45) % 3) as i64;
            // One to three distinct qualifiers, in cell order, as a converter emits them.
            let first = (x >> 33) % 3;
            let n = 1 + (x >> 36) % (3 - first);
            entries.push(Entry::new(c.family_rank(fam), &row, n as u16, b.len()));
            push_group_head(&mut b, &row, fam, ts, 4);
            for q in first..first + n {
                let qual = format!("q{q}");
                all.push((
                    make_key(&row, fam, qual.as_bytes(), ts, 4),
                    i.to_be_bytes().to_vec(),
                ));
                push_group_cell(&mut b, qual.as_bytes(), &i.to_be_bytes());
            }
        }
        c.extend_entries(b, &entries).unwrap();
        assert!(all.len() > 120_000);
        // Equal keys: the later input (higher index in the value) first, and kept alone.
        let mut want = all;
        want.sort_by(|a, b| cmp_keys(&a.0, &b.0).then(b.1.cmp(&a.1)));
        want.dedup_by(|later, earlier| later.0 == earlier.0);
        c.sort();
        let got = drain(&c);
        assert!(got == want, "radix order differs from the comparator's");
    }

    /// `groups` (binary search) equals a record-by-record scan of (family, region), with
    /// rows equal to a split key, several families and regions holding no rows.
    #[test]
    fn groups_match_a_scan() {
        let fams = [b"a".to_vec(), b"bb".to_vec(), b"c".to_vec()];
        let mut c = Chunk::new(1 << 24, &fams);
        let mut b = Vec::new();
        let mut x = 12345u64;
        for i in 0..3000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let row = format!("r{:03}", (x >> 33) % 500);
            let fam = &fams[((x >> 20) % 2) as usize]; // no cells in family "c"
            let k = make_key(
                row.as_bytes(),
                fam,
                b"q",
                (i % 3) as i64,
                KeyType::Put as u8,
            );
            push_rec(&mut b, &k, b"v");
        }
        c.extend(&b).unwrap();
        c.sort();
        for splits in [
            vec![],
            vec!["r100", "r250", "r251", "r499", "r9"],
            vec!["s"],
        ] {
            let regions = Regions::new(splits.iter().map(|s| s.as_bytes().to_vec()).collect());
            let mut want = Vec::new();
            let mut start = 0;
            let mut prev = None;
            for (i, e) in c.offsets.iter().enumerate() {
                let h = c.head(e).unwrap();
                let g = (h.family.to_vec(), regions.region_of(h.row));
                if prev.as_ref().is_some_and(|p| *p != g) {
                    want.push(start..i);
                    start = i;
                }
                prev = Some(g);
            }
            want.push(start..c.len());
            assert_eq!(c.groups(&regions), want, "{splits:?}");
        }
    }
}
