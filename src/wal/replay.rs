//! Replaying WAL edits into HFiles (what region open does with recovered.edits, but into
//! bulk-loadable files), and the region-open decision of which recovered.edits files still
//! matter.
//!
//! [`Replayer`] buffers cells per (table, region, family) store, sorted at write time in
//! HBase's cell order (key, then sequence id descending). Memory is bounded by
//! [`ReplayOptions::memory_limit`]: when the buffers exceed it, the largest store is written
//! out as one HFile and its buffer emptied, so a store may get several HFiles (each sorted;
//! bulk load takes any number). Each cell keeps its tags and gets mvcc = the edit's sequence
//! id (`orig_sequence_number` when the key has one, as replay does).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::cell::{Cell, Key, Order};
use crate::error::{Error, Result};
use crate::hfile::fileinfo::keys;
use crate::hfile::{HFile, HFileWriter, StoreMeta, WriterOptions};

use super::reader::Entry;
use super::split::{parse_encoded_region, parse_table_name, RECOVERED_EDITS_DIR};
use super::METAFAMILY;

/// Max sequence id of a store folder: the largest `MAX_SEQ_ID_KEY` of its HFiles (0 when
/// it has none, as `HStore.getMaxSequenceId().orElse(0)`), plus the files that could not
/// be read.
pub fn store_max_seq_id(family_dir: &Path) -> Result<(i64, Vec<(PathBuf, String)>)> {
    let mut max = 0i64;
    let mut bad = Vec::new();
    let rd = std::fs::read_dir(family_dir).map_err(|e| Error::io(family_dir, e))?;
    for ent in rd.flatten() {
        let p = ent.path();
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || !p.is_file() {
            continue;
        }
        match HFile::open(&p) {
            Ok(h) => {
                if let Some(m) = h.file_info.get_i64(keys::MAX_SEQ_ID_KEY) {
                    max = max.max(m);
                }
            }
            Err(e) => bad.push((p, e.to_string())),
        }
    }
    Ok((max, bad))
}

/// Max sequence id per family (store folder name).
pub type StoreSeqIds = BTreeMap<Vec<u8>, i64>;

/// Store folders of a region folder (every sub-folder except hidden ones and
/// `recovered.edits`) and their max sequence ids.
pub fn region_store_seq_ids(region_dir: &Path) -> Result<(StoreSeqIds, Vec<(PathBuf, String)>)> {
    let mut out = BTreeMap::new();
    let mut bad = Vec::new();
    let rd = std::fs::read_dir(region_dir).map_err(|e| Error::io(region_dir, e))?;
    for ent in rd.flatten() {
        let p = ent.path();
        let name = ent.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name == RECOVERED_EDITS_DIR || !p.is_dir() {
            continue;
        }
        let (m, b) = store_max_seq_id(&p)?;
        bad.extend(b);
        out.insert(name.into_bytes(), m);
    }
    Ok((out, bad))
}

/// Replay settings.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// Output folder.
    pub out: PathBuf,
    /// Existing table folder (`<root>/data/<ns>/<table>`): edits whose sequence id is ≤ the
    /// max sequence id of their store there are skipped, and cells of families the region
    /// folder lacks are skipped, as region open does.
    pub table_dir: Option<PathBuf>,
    /// Table renames (old → new), applied to the output layout.
    pub table_map: Vec<(Vec<u8>, Vec<u8>)>,
    /// Only entries whose write time is in this inclusive range (WALPlayer's rule).
    pub time_range: (u64, u64),
    /// Buffered bytes above which the largest store is written out.
    pub memory_limit: usize,
    /// HFile writer settings (family, tags and mvcc are set per file).
    pub writer: WriterOptions,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            out: PathBuf::from("."),
            table_dir: None,
            table_map: Vec::new(),
            time_range: (0, u64::MAX),
            memory_limit: 512 << 20,
            writer: WriterOptions::default(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Rec {
    off: usize,
    klen: u32,
    vlen: u32,
    tlen: u32,
    seq: u64,
}

#[derive(Debug, Default)]
struct StoreBuf {
    arena: Vec<u8>,
    recs: Vec<Rec>,
}

impl StoreBuf {
    fn bytes(&self) -> usize {
        self.arena.len() + self.recs.len() * std::mem::size_of::<Rec>()
    }
}

/// One HFile written.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReplayFile {
    /// Where.
    pub path: PathBuf,
    /// Table (after `table_map`).
    pub table: String,
    /// Encoded region.
    pub region: String,
    /// Family.
    pub family: String,
    /// Cells written.
    pub cells: u64,
    /// Sequence id range of those cells.
    pub min_seq: u64,
    /// Largest sequence id (also the file's MAX_SEQ_ID_KEY).
    pub max_seq: u64,
}

/// Counters of a replay.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ReplayReport {
    /// Entries seen.
    pub entries: u64,
    /// Cells written to HFiles.
    pub cells: u64,
    /// METAFAMILY cells (markers), never applied.
    pub skipped_meta_cells: u64,
    /// Cells whose entry fell outside the time range.
    pub skipped_time_range: u64,
    /// Cells whose sequence id was ≤ their store's max sequence id in the table folder.
    pub skipped_already_in_store: u64,
    /// Cells of families the region folder does not have.
    pub skipped_unknown_family: u64,
    /// Exact duplicates (same key and sequence id) dropped.
    pub duplicates: u64,
    /// Entries refused for an illegal table or region name.
    pub rejected: Vec<String>,
    /// Store files that could not be read while computing max sequence ids.
    pub unreadable_store_files: Vec<(PathBuf, String)>,
    /// HFiles written.
    pub files: Vec<ReplayFile>,
}

type StoreId = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Collects edits and writes them as HFiles. Feed entries with [`Replayer::add`], then call
/// [`Replayer::finish`].
#[derive(Debug)]
pub struct Replayer {
    opts: ReplayOptions,
    stores: HashMap<StoreId, StoreBuf>,
    buffered: usize,
    /// Per region: family → max seq id (None: no region folder, nothing skipped).
    seqids: HashMap<Vec<u8>, Option<BTreeMap<Vec<u8>, i64>>>,
    used_names: HashSet<PathBuf>,
    /// Validated (table, region) names.
    checked: HashMap<(Vec<u8>, Vec<u8>), std::result::Result<(), String>>,
    report: ReplayReport,
}

impl Replayer {
    /// A replayer writing under `opts.out`.
    pub fn new(opts: ReplayOptions) -> Self {
        Replayer {
            opts,
            stores: HashMap::new(),
            buffered: 0,
            seqids: HashMap::new(),
            used_names: HashSet::new(),
            checked: HashMap::new(),
            report: ReplayReport::default(),
        }
    }

    fn store_seqids(&mut self, region: &[u8]) -> Option<&BTreeMap<Vec<u8>, i64>> {
        if !self.seqids.contains_key(region) {
            let v = match &self.opts.table_dir {
                None => None,
                Some(td) => {
                    let rd = td.join(String::from_utf8_lossy(region).as_ref());
                    if rd.is_dir() {
                        match region_store_seq_ids(&rd) {
                            Ok((m, bad)) => {
                                self.report.unreadable_store_files.extend(bad);
                                Some(m)
                            }
                            Err(e) => {
                                self.report
                                    .unreadable_store_files
                                    .push((rd.clone(), e.to_string()));
                                None
                            }
                        }
                    } else {
                        None
                    }
                }
            };
            self.seqids.insert(region.to_vec(), v);
        }
        self.seqids.get(region).and_then(Option::as_ref)
    }

    /// Add the cells of one entry.
    pub fn add(&mut self, e: &Entry) -> Result<()> {
        self.report.entries += 1;
        let k = &e.key;
        let table = self
            .opts
            .table_map
            .iter()
            .find(|(old, _)| *old == k.table)
            .map_or_else(|| k.table.clone(), |(_, new)| new.clone());
        let ck = (table.clone(), k.encoded_region.clone());
        if !self.checked.contains_key(&ck) {
            let r = parse_table_name(&table)
                .and_then(|_| parse_encoded_region(&k.encoded_region))
                .map(|_| ())
                .map_err(|x| x.message);
            self.checked.insert(ck.clone(), r);
        }
        if let Some(Err(why)) = self.checked.get(&ck) {
            self.report.rejected.push(why.clone());
            return Ok(());
        }
        let in_time = (self.opts.time_range.0..=self.opts.time_range.1).contains(&k.write_time);
        let seq = k
            .orig_sequence_number
            .filter(|&o| o > 0)
            .unwrap_or(k.sequence_id);
        let entry_seq = k.sequence_id;
        let region = k.encoded_region.clone();
        let stores = self.store_seqids(&region).cloned();
        for c in e.cells() {
            let fam = c.key.family();
            if fam == METAFAMILY {
                self.report.skipped_meta_cells += 1;
                continue;
            }
            if !in_time {
                self.report.skipped_time_range += 1;
                continue;
            }
            if let Some(st) = &stores {
                match st.get(fam) {
                    None => {
                        self.report.skipped_unknown_family += 1;
                        continue;
                    }
                    Some(&max) if i64::try_from(entry_seq).is_ok_and(|s| s <= max) => {
                        self.report.skipped_already_in_store += 1;
                        continue;
                    }
                    Some(_) => {}
                }
            }
            let id = (table.clone(), region.clone(), fam.to_vec());
            let buf = self.stores.entry(id).or_default();
            let before = buf.bytes();
            let off = buf.arena.len();
            buf.arena.extend_from_slice(c.key.raw());
            buf.arena.extend_from_slice(c.value);
            buf.arena.extend_from_slice(c.tags);
            let len32 = |n: usize| {
                u32::try_from(n).map_err(|_| Error::usage(format!("cell part of {n} bytes")))
            };
            buf.recs.push(Rec {
                off,
                klen: len32(c.key.raw().len())?,
                vlen: len32(c.value.len())?,
                tlen: len32(c.tags.len())?,
                seq,
            });
            self.buffered = self
                .buffered
                .saturating_add(buf.bytes().saturating_sub(before));
        }
        while self.buffered > self.opts.memory_limit {
            let Some(id) = self
                .stores
                .iter()
                .max_by_key(|(_, b)| b.bytes())
                .map(|(id, _)| id.clone())
            else {
                break;
            };
            self.flush(&id)?;
        }
        Ok(())
    }

    fn flush(&mut self, id: &StoreId) -> Result<()> {
        let Some(buf) = self.stores.remove(id) else {
            return Ok(());
        };
        self.buffered = self.buffered.saturating_sub(buf.bytes());
        if buf.recs.is_empty() {
            return Ok(());
        }
        let (table, region, family) = id;
        let arena = &buf.arena;
        let part = |r: &Rec, a: usize, n: u32| -> &[u8] {
            arena.get(r.off + a..r.off + a + n as usize).unwrap_or(&[])
        };
        let mut recs = buf.recs;
        let mut keys: Vec<Key<'_>> = Vec::with_capacity(recs.len());
        for r in &recs {
            keys.push(Key::parse(part(r, 0, r.klen))?);
        }
        let mut idx: Vec<usize> = (0..recs.len()).collect();
        let order = Order::Normal;
        idx.sort_by(
            |&a, &b| match (keys.get(a), keys.get(b), recs.get(a), recs.get(b)) {
                (Some(ka), Some(kb), Some(ra), Some(rb)) => {
                    order.compare(ka, kb).then(rb.seq.cmp(&ra.seq))
                }
                _ => std::cmp::Ordering::Equal,
            },
        );
        let include_tags = recs.iter().any(|r| r.tlen > 0);
        let table_s = String::from_utf8_lossy(table).into_owned();
        let region_s = String::from_utf8_lossy(region).into_owned();
        let fam_s = String::from_utf8_lossy(family).into_owned();
        let dir = self.opts.out.join(&table_s).join(&region_s).join(&fam_s);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let min_seq = recs.iter().map(|r| r.seq).min().unwrap_or(0);
        let max_seq = recs.iter().map(|r| r.seq).max().unwrap_or(0);
        let mut n = 0u32;
        let path = loop {
            let name = if n == 0 {
                format!("{min_seq:016x}{max_seq:016x}")
            } else {
                format!("{min_seq:016x}{max_seq:016x}{n:x}")
            };
            let p = dir.join(name);
            if self.used_names.insert(p.clone()) {
                break p;
            }
            n += 1;
        };
        let wopts = WriterOptions {
            family: Some(family.clone()),
            include_tags,
            include_mvcc: true,
            ..self.opts.writer.clone()
        };
        let mut w = HFileWriter::create(&path, wopts)?;
        let mut cells = 0u64;
        let mut pos = 0usize;
        while let Some(&i) = idx.get(pos) {
            pos += 1;
            let (Some(r), Some(k)) = (recs.get(i), keys.get(i)) else {
                continue;
            };
            // Exact duplicates (same key and seq id): keep the last one added (the stable
            // sort put it last), as a memstore put of an equal cell replaces it.
            if let Some(&j) = idx.get(pos) {
                if let (Some(rj), Some(kj)) = (recs.get(j), keys.get(j)) {
                    if rj.seq == r.seq && kj.raw() == k.raw() {
                        self.report.duplicates += 1;
                        continue;
                    }
                }
            }
            let cell = Cell {
                key: *k,
                value: part(r, r.klen as usize, r.vlen),
                tags: part(r, r.klen as usize + r.vlen as usize, r.tlen),
                seq_id: r.seq,
            };
            w.append(&cell)?;
            cells += 1;
        }
        w.finish(StoreMeta {
            max_seq_id: i64::try_from(max_seq).unwrap_or(i64::MAX),
            ..StoreMeta::default()
        })?;
        recs.clear();
        self.report.cells += cells;
        self.report.files.push(ReplayFile {
            path,
            table: table_s,
            region: region_s,
            family: fam_s,
            cells,
            min_seq,
            max_seq,
        });
        Ok(())
    }

    /// Write every buffered store. When all files belong to one table and region, they are
    /// moved to `<out>/<family>/` (the layout `completebulkload <dir> <table>` takes).
    pub fn finish(mut self) -> Result<ReplayReport> {
        let mut ids: Vec<StoreId> = self.stores.keys().cloned().collect();
        ids.sort();
        for id in ids {
            self.flush(&id)?;
        }
        let regions: HashSet<(&str, &str)> = self
            .report
            .files
            .iter()
            .map(|f| (f.table.as_str(), f.region.as_str()))
            .collect();
        if regions.len() == 1 {
            let mut moved = Vec::new();
            for f in &self.report.files {
                let Some(name) = f.path.file_name() else {
                    continue;
                };
                let dir = self.opts.out.join(&f.family);
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let to = dir.join(name);
                std::fs::rename(&f.path, &to).map_err(|e| Error::io(&f.path, e))?;
                moved.push(to);
            }
            for (f, to) in self.report.files.iter_mut().zip(moved) {
                let old_region_dir = f
                    .path
                    .parent()
                    .and_then(Path::parent)
                    .map(Path::to_path_buf);
                f.path = to;
                if let Some(rd) = old_region_dir {
                    for d in [rd.join(&f.family), rd.clone()] {
                        let _ = std::fs::remove_dir(&d);
                    }
                    if let Some(td) = rd.parent() {
                        let _ = std::fs::remove_dir(td);
                    }
                }
            }
        }
        Ok(self.report)
    }
}

/// One recovered.edits file and whether region open would still replay it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EditsFile {
    /// The file.
    pub path: PathBuf,
    /// Its name as a number (its max sequence id, absolute value as HBase takes it).
    pub max_seq: u64,
    /// File length.
    pub length: u64,
    /// HBase's decision: `needed` (name > the smallest store max seq id), `skippable`
    /// (every edit is already in the store files: safe to delete) or `empty` (zero length;
    /// HBase deletes it).
    pub verdict: &'static str,
    /// Cells that would actually be applied (non-marker cells of an existing family whose
    /// entry seq id exceeds that family's store max seq id); None when not read.
    pub cells_to_apply: Option<u64>,
    /// Damage found while reading, if any.
    pub damage: Option<String>,
}

/// `edits-needed` for one region folder.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EditsNeeded {
    /// The region folder.
    pub region_dir: PathBuf,
    /// Store (family) → max seq id.
    pub stores: BTreeMap<String, i64>,
    /// `minSeqIdForTheRegion` (−1 without stores).
    pub min_store_seq_id: i64,
    /// Candidate files, in HBase's replay order.
    pub files: Vec<EditsFile>,
    /// Files in recovered.edits that region open ignores (`.temp`, `.seqid`, moved-aside).
    pub ignored: Vec<PathBuf>,
    /// Store files that could not be read.
    pub unreadable_store_files: Vec<(PathBuf, String)>,
}

fn edits_name_seq(name: &str) -> Option<u64> {
    let digits = name.strip_prefix('-').unwrap_or(name);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    name.parse::<i64>().ok().map(i64::unsigned_abs)
}

/// Decide, as `HRegion.replayRecoveredEditsIfAny` does, which recovered.edits files of a
/// region still hold edits newer than its store files. With `read`, each needed file is
/// read to count the cells replay would apply.
pub fn edits_needed(region_dir: &Path, read: bool) -> Result<EditsNeeded> {
    let (stores, bad) = region_store_seq_ids(region_dir)?;
    let min = stores.values().copied().min().unwrap_or(-1);
    let dir = region_dir.join(RECOVERED_EDITS_DIR);
    let mut files = Vec::new();
    let mut ignored = Vec::new();
    if dir.is_dir() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut cands: Vec<(String, PathBuf)> = Vec::new();
        for ent in rd.flatten() {
            let p = ent.path();
            let name = ent.file_name().to_string_lossy().into_owned();
            if p.is_file() && edits_name_seq(&name).is_some() {
                cands.push((name, p));
            } else {
                ignored.push(p);
            }
        }
        cands.sort();
        ignored.sort();
        for (name, p) in cands {
            let max_seq = edits_name_seq(&name).unwrap_or(0);
            let length = std::fs::metadata(&p).map_err(|e| Error::io(&p, e))?.len();
            let verdict = if length == 0 {
                "empty"
            } else if i64::try_from(max_seq).is_ok_and(|m| m <= min) {
                "skippable"
            } else {
                "needed"
            };
            let (mut cells_to_apply, mut damage) = (None, None);
            if read && verdict == "needed" {
                let mut r = super::WalReader::open(&p)?;
                let mut n = 0u64;
                while let Some(e) = r.next_entry()? {
                    let s = i64::try_from(e.key.sequence_id).unwrap_or(i64::MAX);
                    n += e
                        .cells()
                        .filter(|c| {
                            c.key.family() != METAFAMILY
                                && stores.get(c.key.family()).is_some_and(|&m| s > m)
                        })
                        .count() as u64;
                }
                cells_to_apply = Some(n);
                damage = r.ending().is_damage().then(|| r.ending().note()).flatten();
            }
            files.push(EditsFile {
                path: p,
                max_seq,
                length,
                verdict,
                cells_to_apply,
                damage,
            });
        }
    }
    Ok(EditsNeeded {
        region_dir: region_dir.to_path_buf(),
        stores: stores
            .into_iter()
            .map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v))
            .collect(),
        min_store_seq_id: min,
        files,
        ignored,
        unreadable_store_files: bad,
    })
}
