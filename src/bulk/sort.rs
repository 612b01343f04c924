//! External merge sort of cells with bounded memory.
//!
//! A cell record is `klen:u32le vlen:u32le seq:u64le KEY VALUE` (KEY in HBase's KeyValue key
//! layout). Records collect in a [`Chunk`] (one arena plus offsets); when the chunk is full
//! it is sorted in parallel and written to a *run* file — the same records back to back,
//! deduplicated — in the spill directory. [`merge`] streams the runs and the last chunk in
//! order through a k-way heap merge.
//!
//! Order: family, then HBase's cell order (row, qualifier, timestamp descending, type
//! descending), then input sequence descending. Of cells with the same row, family,
//! qualifier, timestamp and type only the first in this order — the one read **last** from
//! the input — is kept: last wins, as when HBase applies the same puts in input order.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::bulk::regions::Regions;

use crate::bytes::compare;
use crate::cell::{Key, Order};
use crate::error::{Error, Result};

/// Bytes of the record header.
pub const HEADER: usize = 16;

/// A borrowed record.
#[derive(Debug, Clone, Copy)]
pub struct Rec<'a> {
    /// KEY bytes.
    pub key: &'a [u8],
    /// Value bytes.
    pub value: &'a [u8],
    /// Input sequence number.
    pub seq: u64,
}

fn u32_at(b: &[u8], at: usize) -> usize {
    b.get(at..at + 4)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map_or(0, |a| u32::from_le_bytes(a) as usize)
}

/// Parse the record at the start of `b`; None if truncated.
pub fn rec_at(b: &[u8]) -> Option<(Rec<'_>, usize)> {
    let kl = u32_at(b, 0);
    let vl = u32_at(b, 4);
    let seq = b
        .get(8..16)
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .map(u64::from_le_bytes)?;
    let key = b.get(HEADER..HEADER + kl)?;
    let value = b.get(HEADER + kl..HEADER + kl + vl)?;
    Some((Rec { key, value, seq }, HEADER + kl + vl))
}

/// Append a record.
pub fn push_rec(out: &mut Vec<u8>, key: &[u8], value: &[u8], seq: u64) {
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(value);
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

/// Record order: [`cmp_keys`], then sequence descending.
pub fn cmp_recs(a: &Rec<'_>, b: &Rec<'_>) -> Ordering {
    cmp_keys(a.key, b.key).then_with(|| b.seq.cmp(&a.seq))
}

/// A record's place in the arena with a cached sort prefix: the family's rank and the
/// first 16 row bytes (zero padded, big-endian), so most comparisons touch no arena memory.
#[derive(Debug, Clone, Copy)]
struct Entry {
    fam: u16,
    prefix: u128,
    off: usize,
}

/// Records in memory.
#[derive(Debug, Default)]
pub struct Chunk {
    arena: Vec<u8>,
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
            arena: Vec::with_capacity(limit / 8 * 5),
            offsets: Vec::new(),
            limit,
            families,
        }
    }

    fn entry(&self, key: &[u8], off: usize) -> Entry {
        let (fam, prefix) = match Key::parse(key) {
            Ok(k) => {
                let fam = self
                    .families
                    .binary_search_by(|f| f.as_slice().cmp(k.family()))
                    .map_or(u16::MAX, |i| i.min(u16::MAX as usize - 1) as u16);
                let mut p = [0u8; 16];
                for (d, s) in p.iter_mut().zip(k.row()) {
                    *d = *s;
                }
                (fam, u128::from_be_bytes(p))
            }
            Err(_) => (u16::MAX, 0),
        };
        Entry { fam, prefix, off }
    }

    /// Bytes in use.
    pub fn used(&self) -> usize {
        self.arena.len() + self.offsets.len() * std::mem::size_of::<Entry>()
    }

    /// True when `extra_bytes` more record bytes in `extra_recs` records do not fit.
    pub fn would_overflow(&self, extra_bytes: usize, extra_recs: usize) -> bool {
        !self.is_empty()
            && (self.used() + extra_bytes + extra_recs * std::mem::size_of::<Entry>() > self.limit
                || self.arena.len() + extra_bytes > self.arena.capacity())
    }

    /// Records held.
    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    /// No records.
    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// Append the records encoded back to back in `batch`.
    pub fn extend(&mut self, batch: &[u8]) {
        let base = self.arena.len();
        let mut at = 0;
        while let Some((r, n)) = batch.get(at..).and_then(rec_at) {
            let e = self.entry(r.key, base + at);
            self.offsets.push(e);
            at += n;
        }
        self.arena.extend_from_slice(batch.get(..at).unwrap_or(&[]));
    }

    /// Sort the records (in parallel).
    pub fn sort(&mut self) {
        let arena = &self.arena;
        let get = |o: usize| arena.get(o..).and_then(rec_at).map(|(r, _)| r);
        self.offsets.par_sort_unstable_by(|a, b| {
            // Known families sort by rank; the row prefix decides unless equal.
            if a.fam != u16::MAX && b.fam != u16::MAX {
                let c = a.fam.cmp(&b.fam).then(a.prefix.cmp(&b.prefix));
                if c != Ordering::Equal {
                    return c;
                }
            }
            match (get(a.off), get(b.off)) {
                (Some(x), Some(y)) => cmp_recs(&x, &y),
                _ => a.off.cmp(&b.off),
            }
        });
    }

    /// Ranges of the sorted records that go to one (family, region) each, in order: the
    /// units that can be written independently. Found by binary search (the records are
    /// sorted by family, then row), touching O((families + regions) log n) records.
    pub fn groups(&self, regions: &Regions) -> Vec<std::ops::Range<usize>> {
        let key = |e: &Entry| {
            self.arena
                .get(e.off..)
                .and_then(rec_at)
                .and_then(|(r, _)| Key::parse(r.key).ok())
        };
        let mut out = Vec::new();
        let mut start = 0;
        while start < self.offsets.len() {
            let rest = self.offsets.get(start..).unwrap_or(&[]);
            let Some(fam) = rest.first().and_then(key).map(|k| k.family().to_vec()) else {
                out.push(start..self.offsets.len());
                break;
            };
            let n = rest
                .partition_point(|e| key(e).is_some_and(|k| k.family() == fam.as_slice()))
                .max(1);
            let end = start + n;
            let fam_part = self.offsets.get(start..end).unwrap_or(&[]);
            let mut from = start;
            for split in &regions.splits {
                let at = start
                    + fam_part.partition_point(|e| {
                        key(e).is_some_and(|k| compare(k.row(), split) == Ordering::Less)
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

    /// The sorted records in `range`.
    pub fn range(&self, range: std::ops::Range<usize>) -> impl Iterator<Item = Rec<'_>> + '_ {
        self.offsets
            .get(range)
            .unwrap_or(&[])
            .iter()
            .filter_map(move |e| self.arena.get(e.off..).and_then(rec_at).map(|(r, _)| r))
    }

    /// The sorted records, in order.
    pub fn iter(&self) -> impl Iterator<Item = Rec<'_>> + '_ {
        self.offsets
            .iter()
            .filter_map(move |e| self.arena.get(e.off..).and_then(rec_at).map(|(r, _)| r))
    }

    /// Sort and write the records, deduplicated, as a run file `path`.
    pub fn spill(&mut self, path: &Path) -> Result<u64> {
        self.sort();
        let f = File::create(path).map_err(|e| Error::io(path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        let mut prev: Option<&[u8]> = None;
        let mut bytes = 0u64;
        let mut buf = Vec::new();
        for r in self.iter() {
            if prev == Some(r.key) {
                continue;
            }
            prev = Some(r.key);
            buf.clear();
            push_rec(&mut buf, r.key, r.value, r.seq);
            w.write_all(&buf).map_err(|e| Error::io(path, e))?;
            bytes += buf.len() as u64;
        }
        w.flush().map_err(|e| Error::io(path, e))?;
        self.clear();
        Ok(bytes)
    }

    /// Drop the records, keeping the allocation.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.offsets.clear();
    }
}

/// A sorted run on disk.
struct RunReader {
    r: BufReader<File>,
    path: PathBuf,
}

impl RunReader {
    /// Read the next record into `buf` (replacing it); false at the end.
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        let mut h = [0u8; HEADER];
        match self.r.read_exact(&mut h) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(false),
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        let kl = u32_at(&h, 0);
        let vl = u32_at(&h, 4);
        buf.clear();
        buf.extend_from_slice(&h);
        buf.resize(HEADER + kl + vl, 0);
        let body = buf.get_mut(HEADER..).unwrap_or(&mut []);
        self.r
            .read_exact(body)
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(true)
    }
}

enum Source<'c> {
    Run(RunReader),
    Mem(Box<dyn Iterator<Item = Rec<'c>> + 'c>),
}

impl Source<'_> {
    fn next_into(&mut self, buf: &mut Vec<u8>) -> Result<bool> {
        match self {
            Source::Run(r) => r.next_into(buf),
            Source::Mem(it) => Ok(match it.next() {
                Some(r) => {
                    buf.clear();
                    push_rec(buf, r.key, r.value, r.seq);
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
        // BinaryHeap is a max-heap: reverse for ascending order.
        match (self.rec(), o.rec()) {
            (Some(a), Some(b)) => cmp_recs(&b, &a),
            _ => Ordering::Equal,
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
        sources.push(Source::Mem(Box::new(chunk.iter())));
    }
    if let [Source::Mem(it)] = sources.as_mut_slice() {
        // One sorted source: no heap, no copies.
        let mut prev: Option<&[u8]> = None;
        for r in it {
            if prev != Some(r.key) {
                sink(r)?;
            }
            prev = Some(r.key);
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
            push_rec(&mut b, &key(&row, "q", 5), format!("v{i}").as_bytes(), i);
            all.push((row, i));
            c.extend(&b);
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
            got.push((String::from_utf8(k.row().to_vec()).unwrap(), r.seq));
            Ok(())
        })
        .unwrap();
        let mut want: std::collections::BTreeMap<String, u64> = Default::default();
        for (r, i) in all {
            want.insert(r, i);
        }
        assert_eq!(got, want.into_iter().collect::<Vec<_>>());
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
            push_rec(&mut b, &k, b"v", i);
        }
        c.extend(&b);
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
            for (i, r) in c.iter().enumerate() {
                let k = Key::parse(r.key).unwrap();
                let g = (k.family().to_vec(), regions.region_of(k.row()));
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
