//! A region's `recovered.edits/` as one more merge input per store, the way HBase replays
//! them when it opens the region (`HRegion.replayRecoveredEditsIfAny`, branch-2.6):
//!
//! * edits files are the names matching `-?[0-9]+` (not `*.temp`, not `*.seqid`/`*_seqid`),
//!   in name order; zero-length files are skipped; a file whose name (its highest sequence
//!   id) is ≤ the smallest store max sequence id of the region is skipped whole;
//! * `METAFAMILY` marker cells are skipped (HBase replays compaction markers, which only
//!   matter to a live region);
//! * cells of a family the region has no store for are skipped;
//! * an entry of another region (the HBASE-20734 layouts) is applied only for rows inside
//!   this region's key range (when the `.regioninfo` could not be read, not at all);
//! * an edit whose entry sequence id is ≤ its store's max sequence id is skipped (already
//!   flushed);
//! * every applied cell carries the entry's original sequence number when it has one, else
//!   the entry's sequence id.
//!
//! Nothing is deleted or renamed. A damaged edits file (truncated or corrupt entry) is an
//! error unless [`EditsOptions::accept_damaged`] is set; then the entries before the damage
//! are used, as HBase does before it moves such a file aside, and the damage is listed in
//! [`EditsReport::damaged`].
//!
//! Edits files are not sorted. Each store's cells are sorted with bounded memory: records
//! collect in memory up to [`EditsOptions::memory_limit`] (over all stores), then the largest
//! store's buffer is sorted and written to a run file in a private temp dir; the store's
//! stream is a k-way merge of its runs and its last buffer. The temp dir is removed when the
//! [`StoreEdits`] are dropped.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::cell::{Key, Order};
use crate::error::{Error, Result};
use crate::layout::{self, Region, RegionInfo, Store};
use crate::wal::reader::WalReader;
use crate::wal::METAFAMILY;

use super::merge::{Input, OwnedCell};

/// The recovered-edits dir name.
pub const RECOVERED_EDITS_DIR: &str = "recovered.edits";

/// How to read the edits.
#[derive(Debug, Clone)]
pub struct EditsOptions {
    /// Bytes buffered (over all stores of the region) before a store's buffer is spilled.
    pub memory_limit: usize,
    /// Where spill runs go (a private sub dir is made and removed); default the system
    /// temp dir.
    pub spill_dir: Option<PathBuf>,
    /// Use the intact entries of a damaged edits file instead of failing.
    pub accept_damaged: bool,
}

impl Default for EditsOptions {
    fn default() -> Self {
        EditsOptions {
            memory_limit: 256 << 20,
            spill_dir: None,
            accept_damaged: false,
        }
    }
}

/// What reading a region's edits did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct EditsReport {
    /// Edits files read, in replay order.
    pub files: Vec<PathBuf>,
    /// Files not read and why (name not an edits file, zero length, all edits older than
    /// every store).
    pub files_skipped: Vec<(PathBuf, String)>,
    /// Entries read.
    pub entries: u64,
    /// Cells applied (merge inputs).
    pub cells: u64,
    /// METAFAMILY marker cells skipped.
    pub skipped_markers: u64,
    /// Cells skipped because their store already holds their sequence id.
    pub skipped_flushed: u64,
    /// Cells of a family without a store in this region.
    pub skipped_no_family: u64,
    /// Cells of entries of another region, outside this region's rows.
    pub skipped_other_region: u64,
    /// Damaged files: path and what is wrong; the entries before the damage were applied.
    pub damaged: Vec<(PathBuf, String)>,
    /// Entries whose sequence id was lower than the entry before (HBase logs this).
    pub decreasing_seq_ids: u64,
}

/// Paths with a reason.
pub type PathNotes = Vec<(PathBuf, String)>;

/// The edits files of a region dir in replay order (with the sequence id of their name),
/// and the entries not taken.
pub fn list_edits_files(region_dir: &Path) -> Result<(Vec<(u64, PathBuf)>, PathNotes)> {
    let dir = region_dir.join(RECOVERED_EDITS_DIR);
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    let rd = match std::fs::read_dir(&dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((files, skipped)),
        Err(e) => return Err(Error::io(&dir, e)),
    };
    let mut names: Vec<(String, PathBuf)> = rd
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    names.sort();
    for (name, path) in names {
        let digits = name.strip_prefix('-').unwrap_or(&name);
        let is_edits = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
        if !is_edits || !path.is_file() {
            skipped.push((path, "not an edits file name (HBase skips it)".into()));
            continue;
        }
        let Ok(n) = digits.parse::<u64>() else {
            skipped.push((path, "sequence id in the name out of range".into()));
            continue;
        };
        let len = std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len();
        if len == 0 {
            skipped.push((path, "zero-length (HBase deletes it)".into()));
            continue;
        }
        files.push((n, path));
    }
    Ok((files, skipped))
}

/// One record: `klen:u32 vlen:u32 tlen:u32 seq:u64` then the bytes.
const REC_HEADER: usize = 20;

fn push_rec(buf: &mut Vec<u8>, key: &[u8], value: &[u8], tags: &[u8], seq: u64) {
    buf.extend_from_slice(&(key.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
    buf.extend_from_slice(&(tags.len() as u32).to_le_bytes());
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(key);
    buf.extend_from_slice(value);
    buf.extend_from_slice(tags);
}

fn u32_at(b: &[u8], at: usize) -> Option<usize> {
    let s: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(u32::from_le_bytes(s) as usize)
}

/// A record split at the start of a buffer: (key, value, tags, seq, total length).
type RecParts<'a> = (&'a [u8], &'a [u8], &'a [u8], u64, usize);

fn rec_at(b: &[u8]) -> Option<RecParts<'_>> {
    let k = u32_at(b, 0)?;
    let v = u32_at(b, 4)?;
    let t = u32_at(b, 8)?;
    let s: [u8; 8] = b.get(12..20)?.try_into().ok()?;
    let seq = u64::from_le_bytes(s);
    let kb = b.get(REC_HEADER..REC_HEADER + k)?;
    let vb = b.get(REC_HEADER + k..REC_HEADER + k + v)?;
    let tb = b.get(REC_HEADER + k + v..REC_HEADER + k + v + t)?;
    Some((kb, vb, tb, seq, REC_HEADER + k + v + t))
}

fn cmp_cells(order: Order, ak: &[u8], aseq: u64, bk: &[u8], bseq: u64) -> Ordering {
    match (Key::parse(ak), Key::parse(bk)) {
        (Ok(a), Ok(b)) => order.compare(&a, &b).then_with(|| bseq.cmp(&aseq)),
        _ => ak.cmp(bk),
    }
}

#[derive(Debug, Default)]
struct Buffer {
    arena: Vec<u8>,
    offs: Vec<usize>,
}

impl Buffer {
    fn bytes(&self) -> usize {
        self.arena.len() + self.offs.len() * std::mem::size_of::<usize>()
    }
    fn push(&mut self, key: &[u8], value: &[u8], tags: &[u8], seq: u64) {
        self.offs.push(self.arena.len());
        push_rec(&mut self.arena, key, value, tags, seq);
    }
    fn sort(&mut self, order: Order) {
        let arena = &self.arena;
        let rec = |o: usize| arena.get(o..).and_then(rec_at);
        self.offs.sort_by(|&a, &b| match (rec(a), rec(b)) {
            (Some(x), Some(y)) => cmp_cells(order, x.0, x.3, y.0, y.3),
            _ => Ordering::Equal,
        });
    }
    fn clear(&mut self) {
        self.arena.clear();
        self.offs.clear();
    }
}

/// A private temp dir, removed on drop.
#[derive(Debug)]
struct TempDir(PathBuf);

impl TempDir {
    fn new(base: Option<&Path>) -> Result<TempDir> {
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let name = format!(
            "hbkit-edits-{}-{}",
            std::process::id(),
            super::compact::new_file_name()
        );
        let p = base.join(name);
        std::fs::create_dir_all(&p).map_err(|e| Error::io(&p, e))?;
        Ok(TempDir(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The applied edits of one store: sorted runs on disk plus a sorted in-memory buffer.
#[derive(Debug)]
pub struct StoreEdits {
    /// Family.
    pub family: Vec<u8>,
    /// Cells applied.
    pub cells: u64,
    /// Highest entry sequence id applied (0 when none): a store that holds these edits
    /// must have at least this MAX_SEQ_ID so that HBase does not replay them again.
    pub max_seq_id: u64,
    /// Smallest timestamp of a Put among the edits (i64::MAX when none).
    pub earliest_put_ts: i64,
    /// True when some cell has tags.
    pub has_tags: bool,
    order: Order,
    buf: Buffer,
    runs: Vec<PathBuf>,
    tmp: Option<std::sync::Arc<TempDir>>,
}

impl StoreEdits {
    fn new(family: Vec<u8>, order: Order) -> StoreEdits {
        StoreEdits {
            family,
            cells: 0,
            max_seq_id: 0,
            earliest_put_ts: i64::MAX,
            has_tags: false,
            order,
            buf: Buffer::default(),
            runs: Vec::new(),
            tmp: None,
        }
    }

    /// An empty set of edits for `family` (no cells).
    pub fn empty(family: &[u8]) -> StoreEdits {
        StoreEdits::new(family.to_vec(), Order::Normal)
    }

    fn spill(&mut self, tmp: &std::sync::Arc<TempDir>) -> Result<()> {
        if self.buf.offs.is_empty() {
            return Ok(());
        }
        self.buf.sort(self.order);
        let path = tmp
            .0
            .join(format!("run-{}", super::compact::new_file_name()));
        let f = File::create(&path).map_err(|e| Error::io(&path, e))?;
        let mut w = BufWriter::with_capacity(1 << 20, f);
        for &o in &self.buf.offs {
            let Some((_, _, _, _, n)) = self.buf.arena.get(o..).and_then(rec_at) else {
                continue;
            };
            let bytes = self.buf.arena.get(o..o + n).unwrap_or(&[]);
            w.write_all(bytes).map_err(|e| Error::io(&path, e))?;
        }
        w.flush().map_err(|e| Error::io(&path, e))?;
        self.runs.push(path);
        self.tmp = Some(tmp.clone());
        self.buf.clear();
        Ok(())
    }

    /// The cells in HBase's scan order (key, then sequence id descending).
    pub fn stream(mut self) -> Result<EditsStream> {
        self.buf.sort(self.order);
        let mut heads = Vec::new();
        for r in &self.runs {
            let f = File::open(r).map_err(|e| Error::io(r, e))?;
            heads.push(Head {
                src: HeadSrc::Run(BufReader::with_capacity(256 << 10, f), r.clone()),
                cur: OwnedCell::default(),
                has: false,
            });
        }
        heads.push(Head {
            src: HeadSrc::Mem(0),
            cur: OwnedCell::default(),
            has: false,
        });
        let mut s = EditsStream {
            order: self.order,
            heads,
            arena: std::mem::take(&mut self.buf.arena),
            offs: std::mem::take(&mut self.buf.offs),
            last: None,
            started: false,
            _tmp: self.tmp.take(),
        };
        for i in 0..s.heads.len() {
            s.advance(i)?;
        }
        s.started = true;
        Ok(s)
    }
}

#[derive(Debug)]
enum HeadSrc {
    Run(BufReader<File>, PathBuf),
    Mem(usize),
}

#[derive(Debug)]
struct Head {
    src: HeadSrc,
    cur: OwnedCell,
    has: bool,
}

/// A sorted stream of one store's edits.
#[derive(Debug)]
pub struct EditsStream {
    order: Order,
    heads: Vec<Head>,
    arena: Vec<u8>,
    offs: Vec<usize>,
    last: Option<usize>,
    started: bool,
    _tmp: Option<std::sync::Arc<TempDir>>,
}

fn read_exact_or_eof(r: &mut impl Read, buf: &mut [u8], path: &Path) -> Result<bool> {
    let mut got = 0;
    while got < buf.len() {
        let Some(rest) = buf.get_mut(got..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => {
                return Err(Error::corrupt(
                    "recovered-edits spill run",
                    "the run ends inside a record",
                )
                .in_file(path))
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io(path, e)),
        }
    }
    Ok(true)
}

impl EditsStream {
    fn advance(&mut self, i: usize) -> Result<()> {
        let Some(h) = self.heads.get_mut(i) else {
            return Ok(());
        };
        match &mut h.src {
            HeadSrc::Mem(pos) => {
                let rec = self
                    .offs
                    .get(*pos)
                    .and_then(|&o| self.arena.get(o..))
                    .and_then(rec_at);
                match rec {
                    Some((k, v, t, seq, _)) => {
                        *pos += 1;
                        set_owned(&mut h.cur, k, v, t, seq);
                        h.has = true;
                    }
                    None => h.has = false,
                }
            }
            HeadSrc::Run(r, path) => {
                let mut hdr = [0u8; REC_HEADER];
                if !read_exact_or_eof(r, &mut hdr, path)? {
                    h.has = false;
                    return Ok(());
                }
                let (Some(k), Some(v), Some(t)) =
                    (u32_at(&hdr, 0), u32_at(&hdr, 4), u32_at(&hdr, 8))
                else {
                    h.has = false;
                    return Ok(());
                };
                let seq = hdr
                    .get(12..20)
                    .and_then(|s| <[u8; 8]>::try_from(s).ok())
                    .map_or(0, u64::from_le_bytes);
                h.cur.key.resize(k, 0);
                h.cur.value.resize(v, 0);
                h.cur.tags.resize(t, 0);
                for b in [&mut h.cur.key, &mut h.cur.value, &mut h.cur.tags] {
                    if !b.is_empty() && !read_exact_or_eof(r, b, path)? {
                        return Err(Error::corrupt(
                            "recovered-edits spill run",
                            "the run ends inside a record",
                        )
                        .in_file(path.as_path()));
                    }
                }
                h.cur.seq_id = seq;
                h.has = true;
            }
        }
        Ok(())
    }

    /// The next cell, or None at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&OwnedCell>> {
        if let Some(i) = self.last.take() {
            self.advance(i)?;
        }
        let mut best: Option<usize> = None;
        for (i, h) in self.heads.iter().enumerate() {
            if !h.has {
                continue;
            }
            best = match best.and_then(|b| self.heads.get(b).map(|bh| (b, bh))) {
                None => Some(i),
                Some((b, bh)) => {
                    let o = cmp_cells(
                        self.order,
                        &h.cur.key,
                        h.cur.seq_id,
                        &bh.cur.key,
                        bh.cur.seq_id,
                    );
                    if o == Ordering::Less {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        self.last = best;
        Ok(best.and_then(|i| self.heads.get(i)).map(|h| &h.cur))
    }
}

fn set_owned(o: &mut OwnedCell, k: &[u8], v: &[u8], t: &[u8], seq: u64) {
    o.key.clear();
    o.key.extend_from_slice(k);
    o.value.clear();
    o.value.extend_from_slice(v);
    o.tags.clear();
    o.tags.extend_from_slice(t);
    o.seq_id = seq;
}

/// The region facts replay needs.
#[derive(Debug, Clone)]
pub struct RegionFacts<'a> {
    /// The region dir (holding `recovered.edits/`).
    pub dir: &'a Path,
    /// Encoded region name (the dir name).
    pub encoded_name: &'a str,
    /// Parsed `.regioninfo`, when readable (for entries of other regions).
    pub info: Option<&'a RegionInfo>,
    /// Every family the region has a store for.
    pub families: &'a BTreeSet<Vec<u8>>,
    /// Max sequence id of each store whose edits are wanted (family → id; 0 for a store
    /// without files), as `HStore.getMaxSequenceId().orElse(0)`.
    pub store_max_seq_ids: &'a BTreeMap<Vec<u8>, u64>,
    /// Cell order of the table.
    pub order: Order,
}

/// Read a region's recovered edits into per-store sorted sets: one for every store in
/// `store_max_seq_ids`, empty when it has no edits. The report counts the cells of those
/// stores only (plus markers and cells of families without a store).
///
/// HBase skips an edits file whose name is ≤ the smallest max sequence id over *all*
/// stores; here the smallest over the stores collected is used, which skips exactly the same
/// edits for them (every edit in such a file is ≤ each of their max ids) without opening
/// the other stores' files.
pub fn read_region_edits(
    region: &RegionFacts<'_>,
    opts: &EditsOptions,
) -> Result<(BTreeMap<Vec<u8>, StoreEdits>, EditsReport)> {
    let mut report = EditsReport::default();
    let mut out: BTreeMap<Vec<u8>, StoreEdits> = region
        .store_max_seq_ids
        .keys()
        .map(|f| (f.clone(), StoreEdits::new(f.clone(), region.order)))
        .collect();
    let (files, skipped) = list_edits_files(region.dir)?;
    report.files_skipped = skipped;
    let min_store = region
        .store_max_seq_ids
        .values()
        .copied()
        .min()
        .unwrap_or(0);
    let mut tmp: Option<std::sync::Arc<TempDir>> = None;
    let mut buffered = 0usize;
    for (name_seq, path) in files {
        if name_seq <= min_store {
            report.files_skipped.push((
                path,
                format!("every edit is ≤ the smallest store max sequence id {min_store}"),
            ));
            continue;
        }
        let mut r = WalReader::open(&path)?;
        let mut last_seq: Option<u64> = None;
        while let Some(e) = r.next_entry()? {
            report.entries += 1;
            let seq = e.key.sequence_id;
            if last_seq.is_some_and(|l| l > seq) {
                report.decreasing_seq_ids += 1;
            } else {
                last_seq = Some(seq);
            }
            let cell_seq = e.key.orig_sequence_number.filter(|&o| o > 0).unwrap_or(seq);
            let foreign = e.key.encoded_region != region.encoded_name.as_bytes();
            for c in e.cells() {
                let fam = c.key.family();
                if fam == METAFAMILY {
                    report.skipped_markers += 1;
                    continue;
                }
                if !region.families.contains(fam) {
                    report.skipped_no_family += 1;
                    continue;
                }
                let Some(&store_max) = region.store_max_seq_ids.get(fam) else {
                    continue;
                };
                if foreign && !region.info.is_some_and(|i| i.contains_row(c.key.row())) {
                    report.skipped_other_region += 1;
                    continue;
                }
                if seq <= store_max {
                    report.skipped_flushed += 1;
                    continue;
                }
                let Some(se) = out.get_mut(fam) else {
                    report.skipped_no_family += 1;
                    continue;
                };
                let before = se.buf.bytes();
                se.buf.push(c.key.raw(), c.value, c.tags, cell_seq);
                buffered += se.buf.bytes() - before;
                se.cells += 1;
                se.max_seq_id = se.max_seq_id.max(seq);
                se.has_tags |= !c.tags.is_empty();
                if c.key.type_code() == crate::cell::KeyType::Put as u8 {
                    se.earliest_put_ts = se.earliest_put_ts.min(c.key.timestamp());
                }
                report.cells += 1;
            }
            if buffered > opts.memory_limit {
                // Spill the largest buffer.
                let big = out
                    .values_mut()
                    .max_by_key(|s| s.buf.bytes())
                    .filter(|s| s.buf.bytes() > 0);
                if let Some(s) = big {
                    let t = match &tmp {
                        Some(t) => t.clone(),
                        None => {
                            let t = std::sync::Arc::new(TempDir::new(opts.spill_dir.as_deref())?);
                            tmp = Some(t.clone());
                            t
                        }
                    };
                    buffered = buffered.saturating_sub(s.buf.bytes());
                    s.spill(&t)?;
                }
            }
        }
        if r.ending().is_damage() {
            let note = r.ending().note().unwrap_or_else(|| "damaged".into());
            if !opts.accept_damaged {
                return Err(Error::corrupt(
                    "recovered.edits",
                    format!(
                        "{note}; HBase would use the entries before the damage and move the file \
                         aside (accept that explicitly to go on)"
                    ),
                )
                .in_file(&path));
            }
            report.damaged.push((path.clone(), note));
        }
        report.files.push(path);
    }
    Ok((out, report))
}

impl EditsStream {
    /// The cell order of the stream.
    pub fn order(&self) -> Order {
        self.order
    }
}

/// The max sequence id of `stores` (as the merge counts it: `MAX_SEQ_ID_KEY`, +1 for top
/// references, bulk `_SeqId_N_`; 0 for a store without files) and the table's cell order
/// (from the first store file, else from the table name).
pub fn store_max_seq_ids<'a>(
    stores: impl IntoIterator<Item = &'a Store>,
    info: Option<&RegionInfo>,
) -> Result<(BTreeMap<Vec<u8>, u64>, Order)> {
    let mut out = BTreeMap::new();
    let mut order = None;
    for s in stores {
        let mut max = 0u64;
        for f in &s.files {
            let i = Input::open(f)?;
            order.get_or_insert(i.hfile.order);
            max = max.max(i.seq_id);
        }
        out.insert(s.family.clone(), max);
    }
    let order = order.unwrap_or_else(|| match info {
        Some(i) if i.namespace == b"hbase" && i.table == b"meta" => Order::Meta,
        _ => Order::Normal,
    });
    Ok((out, order))
}

/// Read the recovered edits of `region` for the stores of `families` (all stores when
/// None).
pub fn read_for_region(
    region: &Region,
    families: Option<&[Vec<u8>]>,
    opts: &EditsOptions,
) -> Result<(BTreeMap<Vec<u8>, StoreEdits>, EditsReport)> {
    let info = region.info.as_ref().ok();
    let wanted = region
        .stores
        .iter()
        .filter(|s| families.is_none_or(|f| f.contains(&s.family)));
    let (max_ids, order) = store_max_seq_ids(wanted, info)?;
    let all: BTreeSet<Vec<u8>> = region.stores.iter().map(|s| s.family.clone()).collect();
    let facts = RegionFacts {
        dir: &region.dir,
        encoded_name: &region.encoded_name,
        info,
        families: &all,
        store_max_seq_ids: &max_ids,
        order,
    };
    read_region_edits(&facts, opts)
}

/// Read the recovered edits of one store's region for that store only. Opens no file of
/// the region's other stores (they may be being compacted at the same time).
pub fn read_for_store(store: &Store, opts: &EditsOptions) -> Result<(StoreEdits, EditsReport)> {
    let region_dir = store
        .dir
        .parent()
        .ok_or_else(|| Error::usage("store has no region dir above it"))?;
    let encoded_name = region_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let info = RegionInfo::read(region_dir).ok();
    let mut all = BTreeSet::new();
    for e in std::fs::read_dir(region_dir)
        .map_err(|e| Error::io(region_dir, e))?
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with('.') && !layout::is_region_non_family(&name) && e.path().is_dir() {
            all.insert(name.into_bytes());
        }
    }
    all.insert(store.family.clone());
    let (max_ids, order) = store_max_seq_ids([store], info.as_ref())?;
    let facts = RegionFacts {
        dir: region_dir,
        encoded_name: &encoded_name,
        info: info.as_ref(),
        families: &all,
        store_max_seq_ids: &max_ids,
        order,
    };
    let (mut by_fam, rep) = read_region_edits(&facts, opts)?;
    let e = by_fam
        .remove(&store.family)
        .unwrap_or_else(|| StoreEdits::empty(&store.family));
    Ok((e, rep))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, KeyType};

    /// Records spilled to many runs and the last buffer stream back in HBase's order (key,
    /// then sequence id descending), every one of them, duplicates included.
    #[test]
    fn spilled_runs_merge_in_order() {
        let tmp = std::sync::Arc::new(TempDir::new(None).unwrap());
        let mut se = StoreEdits::new(b"f".to_vec(), Order::Normal);
        let mut want = Vec::new();
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for i in 0..2000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let row = format!("r{:03}", x % 97);
            let q = format!("q{}", (x >> 8) % 3);
            let ts = ((x >> 16) % 5) as i64;
            let t = if (x >> 24) % 7 == 0 {
                KeyType::Delete as u8
            } else {
                KeyType::Put as u8
            };
            let key = make_key(row.as_bytes(), b"f", q.as_bytes(), ts, t);
            let seq = (x >> 32) % 50;
            let value = i.to_le_bytes();
            se.buf.push(&key, &value, b"", seq);
            se.cells += 1;
            want.push((key, value.to_vec(), seq));
            if i % 300 == 299 {
                se.spill(&tmp).unwrap();
            }
        }
        assert!(se.runs.len() >= 6);
        let dir = tmp.0.clone();
        drop(tmp);
        assert!(dir.is_dir(), "runs stay while the edits live");
        let mut s = se.stream().unwrap();
        let mut got = Vec::new();
        while let Some(c) = s.next().unwrap() {
            got.push((c.key.clone(), c.value.clone(), c.seq_id));
        }
        for w in got.windows(2) {
            let (a, b) = (&w[0], &w[1]);
            assert_ne!(
                cmp_cells(Order::Normal, &a.0, a.2, &b.0, b.2),
                Ordering::Greater
            );
        }
        let mut g = got.clone();
        g.sort();
        want.sort();
        assert_eq!(g, want);
        drop(s);
        assert!(!dir.exists(), "the temp dir is removed with the stream");
    }
}
