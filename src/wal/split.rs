//! Offline WAL splitting, as HBase's `WALSplitter` with the recovered-edits output sink does
//! it: every entry of one WAL goes to the `recovered.edits` file of its region,
//! `<root>/data/<namespace>/<table>/<encoded region>/recovered.edits/`, one file per region
//! per input WAL.
//!
//! * Written under `%019d-<wal file name>-<worker>.temp` (first entry's sequence id; the
//!   worker name is empty offline, as in HBase when there is no region server), then renamed
//!   to `%019d` of the largest sequence id written. If that name exists, HBase's rule
//!   decides: the existing file is replaced only when ours starts at a smaller sequence id
//!   (holds more edits); otherwise ours is deleted. A rerun therefore leaves the same files.
//! * Skipped as HBase skips them: replication-marker edits, and meta edits (no cells, or every
//!   cell in `METAFAMILY`) unless they carry a compaction marker.
//! * At most [`SplitOptions::max_open_files`] outputs are open at once: a WAL holding more
//!   regions is read once per group of regions, with the same files as a result.
//! * Table and encoded region names are validated as HBase validates them before they become
//!   path components, so no WAL can make the splitter write outside the root it was given.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};

use super::reader::Entry;
use super::writer::{sync_dir, ClosedWal, WalFile, WriteOptions, WriteStats};
use super::{Summary, WalReader, METAFAMILY};

/// Qualifier of a compaction marker cell.
pub const COMPACTION_QUALIFIER: &[u8] = b"HBASE::COMPACTION";
/// Qualifier of a replication marker cell (2.5+).
pub const REPLICATION_MARKER_QUALIFIER: &[u8] = b"HBASE::REPLICATION_MARKER";
/// `HConstants.RECOVERED_EDITS_DIR`.
pub const RECOVERED_EDITS_DIR: &str = "recovered.edits";

/// A table name split into namespace and qualifier, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Namespace (`default` when the name has none).
    pub namespace: String,
    /// Qualifier.
    pub qualifier: String,
}

impl TableName {
    /// `ns:qualifier`, or `qualifier` in `default` (`TableName.getNameAsString`).
    pub fn as_string(&self) -> String {
        if self.namespace == "default" {
            self.qualifier.clone()
        } else {
            format!("{}:{}", self.namespace, self.qualifier)
        }
    }
}

fn legal(c: char, extra: &[char]) -> bool {
    c.is_alphabetic() || c.is_ascii_digit() || c.is_numeric() || c == '_' || extra.contains(&c)
}

/// `TableName.valueOf(byte[])` validation: namespace `[\p{IsAlphabetic}\p{Digit}_]+`,
/// qualifier `[\p{IsAlphabetic}\p{Digit}_.-]+` not starting with `.` or `-`; the old
/// `.META.`/`-ROOT-` names are refused. The result never holds a path separator or `..`.
pub fn parse_table_name(name: &[u8]) -> Result<TableName> {
    let bad = |m: &str| {
        Error::corrupt(
            "table name",
            format!(
                "{:?} is not a legal table name: {m}",
                String::from_utf8_lossy(name)
            ),
        )
    };
    let s = std::str::from_utf8(name).map_err(|_| bad("not UTF-8"))?;
    let (ns, q) = match s.split_once(':') {
        Some((ns, q)) => (ns, q),
        None => ("default", s),
    };
    if ns.is_empty() || !ns.chars().all(|c| legal(c, &[])) {
        return Err(bad("illegal namespace"));
    }
    if q.is_empty() {
        return Err(bad("empty qualifier"));
    }
    if q.starts_with('.') || q.starts_with('-') {
        return Err(bad("a qualifier may not start with '.' or '-'"));
    }
    if !q.chars().all(|c| legal(c, &['.', '-'])) {
        return Err(bad(
            "a qualifier may hold only letters, digits, '_', '-' and '.'",
        ));
    }
    Ok(TableName {
        namespace: ns.to_string(),
        qualifier: q.to_string(),
    })
}

/// An encoded region name HBase creates: 32 lowercase hex digits (MD5, 0.96+) or the
/// decimal Jenkins hash of old-style names (e.g. `1588230740` for meta).
pub fn parse_encoded_region(name: &[u8]) -> Result<String> {
    let md5 = name.len() == 32 && name.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let digits = name.strip_prefix(b"-").unwrap_or(name);
    let old = (1..=11).contains(&digits.len()) && digits.iter().all(u8::is_ascii_digit);
    if md5 || old {
        Ok(String::from_utf8_lossy(name).into_owned())
    } else {
        Err(Error::corrupt(
            "encoded region name",
            format!(
                "{:?} is not an encoded region name (32 hex digits or a decimal hash)",
                crate::bytes::to_string_binary(name)
            ),
        ))
    }
}

/// `<root>/data/<namespace>/<table>/<encoded region>`.
pub fn region_dir(root: &Path, table: &TableName, region: &str) -> PathBuf {
    root.join("data")
        .join(&table.namespace)
        .join(&table.qualifier)
        .join(region)
}

/// `WALSplitUtil.formatRecoveredEditsFileName`: `%019d`.
pub fn edits_file_name(seq: u64) -> String {
    format!("{seq:019}")
}

/// `WALSplitUtil.getRegionSplitEditsPath` file name: `%019d-<wal>-<worker>.temp`.
pub fn temp_file_name(first_seq: u64, wal_name: &str, worker: &str) -> String {
    format!("{first_seq:019}-{wal_name}-{worker}.temp")
}

/// True for a replication-marker edit (`WALEdit.isReplicationMarkerEdit`: one cell,
/// METAFAMILY:HBASE::REPLICATION_MARKER).
pub fn is_replication_marker(e: &Entry) -> bool {
    e.cell_count() == 1
        && e.cells().all(|c| {
            c.key.family() == METAFAMILY && c.key.qualifier() == REPLICATION_MARKER_QUALIFIER
        })
}

/// `WALEdit.isMetaEdit` (true for an edit without cells too).
pub fn is_meta_edit(e: &Entry) -> bool {
    e.cells().all(|c| c.key.family() == METAFAMILY)
}

/// `RecoveredEditsOutputSink.keepRegionEvent`: the edit holds a compaction marker.
pub fn has_compaction_marker(e: &Entry) -> bool {
    e.cells()
        .any(|c| c.key.family() == METAFAMILY && c.key.qualifier() == COMPACTION_QUALIFIER)
}

/// Default of [`SplitOptions::max_open_files`].
pub const DEFAULT_MAX_OPEN_FILES: usize = 256;

/// Split settings.
#[derive(Debug, Clone)]
pub struct SplitOptions {
    /// Drop the edits of regions whose directory does not exist under the root (what HBase
    /// does on a live root dir). Off by default: an offline split into an empty folder
    /// creates the region folders it needs.
    pub existing_regions_only: bool,
    /// Worker name in temporary file names (HBase: the URL-encoded region server name; empty
    /// when splitting without one).
    pub worker: String,
    /// Most output files one input keeps open at once (0: no cap). A WAL with more regions
    /// is read once per group of this many regions; the files written are the same.
    pub max_open_files: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        SplitOptions {
            existing_regions_only: false,
            worker: String::new(),
            max_open_files: DEFAULT_MAX_OPEN_FILES,
        }
    }
}

/// What happened to one output file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OutputAction {
    /// Renamed into place.
    Written,
    /// A file of that name existed with fewer edits (a later first sequence id) and was
    /// replaced.
    Replaced,
    /// A file of that name existed starting at the same or a smaller sequence id; it was
    /// kept and ours deleted (HBase's rule — a rerun of the same split lands here).
    KeptExisting,
}

/// One recovered.edits file produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OutputFile {
    /// Final path.
    pub path: PathBuf,
    /// Table (`ns:name` or `name`).
    pub table: String,
    /// Encoded region name.
    pub region: String,
    /// Entries, cells, sequence ids and bytes written.
    pub stats: WriteStats,
    /// Outcome.
    pub action: OutputAction,
}

/// Result of splitting one WAL.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SplitReport {
    /// The input.
    pub input: PathBuf,
    /// How reading ended, entries and cells read, last good offset.
    pub read: Summary,
    /// Entries written to some output.
    pub entries_written: u64,
    /// Replication-marker edits skipped.
    pub skipped_replication_markers: u64,
    /// Meta edits (no compaction marker) skipped.
    pub skipped_meta_edits: u64,
    /// Edits of regions without a region folder (with `existing_regions_only`).
    pub skipped_missing_region: u64,
    /// Edits refused because their table or region name is illegal: (entry offset, reason).
    pub rejected: Vec<(u64, String)>,
    /// Files produced, in order of the first appearance of their region.
    pub outputs: Vec<OutputFile>,
    /// Reads of the input (more than 1 when it holds more regions than the open-file cap).
    pub passes: u32,
    /// Most output files that were open at once.
    pub peak_open_files: usize,
}

impl SplitReport {
    /// True when the input was damaged or entries were refused.
    pub fn has_damage(&self) -> bool {
        self.read.ending.is_damage() || !self.rejected.is_empty()
    }
}

/// What happens to the edits of one (table, region).
enum Slot {
    Out(Box<Out>),
    Dropped,
    Rejected(String),
}

struct Out {
    /// Which pass writes this region (assigned at its first written entry).
    group: Option<usize>,
    file: Option<WalFile>,
    dir: PathBuf,
    table: String,
    region: String,
}

/// The (table, region) seen so far, in order of first appearance.
struct Slots {
    index: HashMap<Vec<u8>, usize>,
    list: Vec<Slot>,
    /// Lookup key: `len(table) table region`, reused.
    scratch: Vec<u8>,
    /// Regions given a group so far.
    grouped: usize,
}

impl Slots {
    /// The slot of `e`'s (table, region), created (names validated) on first sight. Keyed
    /// by both: HBase keys by region alone, but validation depends on both, and a region
    /// name seen with two tables must not share one table's folder.
    fn find(&mut self, e: &Entry, root: &Path, opts: &SplitOptions) -> usize {
        let (table, region) = (&e.key.table, &e.key.encoded_region);
        self.scratch.clear();
        self.scratch
            .extend_from_slice(&(table.len() as u64).to_be_bytes());
        self.scratch.extend_from_slice(table);
        self.scratch.extend_from_slice(region);
        if let Some(&i) = self.index.get(self.scratch.as_slice()) {
            return i;
        }
        let slot = match (parse_table_name(table), parse_encoded_region(region)) {
            (Err(x), _) | (_, Err(x)) => Slot::Rejected(x.message),
            (Ok(t), Ok(r)) => {
                let rdir = region_dir(root, &t, &r);
                if opts.existing_regions_only && !rdir.is_dir() {
                    Slot::Dropped
                } else {
                    Slot::Out(Box::new(Out {
                        group: None,
                        file: None,
                        dir: rdir.join(RECOVERED_EDITS_DIR),
                        table: t.as_string(),
                        region: r,
                    }))
                }
            }
        };
        let i = self.list.len();
        self.list.push(slot);
        self.index.insert(self.scratch.clone(), i);
        i
    }
}

/// What one pass over the input needs.
struct Pass<'a> {
    root: &'a Path,
    opts: &'a SplitOptions,
    wal_name: &'a str,
    wopts: &'a WriteOptions,
    /// The group this pass writes.
    group: usize,
    /// The first pass classifies and counts every entry; later ones only write.
    first: bool,
    /// Output files open now.
    open: usize,
}

impl Pass<'_> {
    /// Route one entry: count it (first pass) and write it when its region is in this
    /// pass's group.
    fn entry(&mut self, e: &Entry, slots: &mut Slots, rep: &mut SplitReport) -> Result<()> {
        if is_replication_marker(e) {
            rep.skipped_replication_markers += u64::from(self.first);
            return Ok(());
        }
        let i = slots.find(e, self.root, self.opts);
        let cap = self.opts.max_open_files;
        match slots.list.get_mut(i) {
            Some(Slot::Out(o)) => {
                if is_meta_edit(e) && !has_compaction_marker(e) {
                    rep.skipped_meta_edits += u64::from(self.first);
                    return Ok(());
                }
                rep.entries_written += u64::from(self.first);
                let group = *o.group.get_or_insert_with(|| {
                    slots.grouped += 1;
                    (slots.grouped - 1).checked_div(cap).unwrap_or(0)
                });
                if group != self.group {
                    return Ok(());
                }
                let file = match &mut o.file {
                    Some(f) => f,
                    None => {
                        // HBase moves aside a plain file where the folder should be; we
                        // refuse (create_dir_all fails).
                        std::fs::create_dir_all(&o.dir).map_err(|x| Error::io(&o.dir, x))?;
                        let name =
                            temp_file_name(e.key.sequence_id, self.wal_name, &self.opts.worker);
                        let f = WalFile::create(&o.dir.join(name), self.wopts.clone())?;
                        self.open += 1;
                        rep.peak_open_files = rep.peak_open_files.max(self.open);
                        o.file.insert(f)
                    }
                };
                file.append_entry(e)?;
            }
            Some(Slot::Dropped) => rep.skipped_missing_region += u64::from(self.first),
            Some(Slot::Rejected(why)) if self.first => rep.rejected.push((e.offset, why.clone())),
            _ => {}
        }
        Ok(())
    }
}

/// Split one WAL into `root`. `finalize` serialises the check-and-rename of final names
/// between concurrent splits of different WALs into the same root.
///
/// At most `opts.max_open_files` outputs are open at once: the regions are numbered in the
/// order of their first written entry and written in groups of that many, the first group
/// while the input is read the first time, each further group on a fresh read of it (up to
/// the entries the first read delivered). Each group is finished (trailers written, files
/// fsynced together on a few threads, renamed, folders fsynced) before the next one starts.
/// The files are the same whatever the cap.
pub fn split_wal(
    wal: &Path,
    root: &Path,
    opts: &SplitOptions,
    finalize: &Mutex<()>,
) -> Result<SplitReport> {
    split_wal_pending(wal, root, opts, finalize)?.commit(finalize)
}

/// A split whose last group of outputs is written (trailers included) but not yet fsynced
/// nor renamed; [`PendingSplit::commit`] finishes it, on any thread. Dropping it removes
/// those temporary files. This lets a caller overlap the fsyncs of one WAL's outputs with
/// splitting the next WAL.
#[derive(Debug)]
pub struct PendingSplit {
    rep: SplitReport,
    outputs: Vec<(usize, OutputFile)>,
    last: Vec<Closing>,
}

/// One output closed (unsynced) with what its final name and report need.
#[derive(Debug)]
struct Closing {
    slot: usize,
    closed: ClosedWal,
    dir: PathBuf,
    table: String,
    region: String,
}

impl PendingSplit {
    /// fsync the remaining outputs (together, on a few threads), give them their final
    /// names (HBase's check under `finalize`), fsync their folders, and report.
    pub fn commit(self, finalize: &Mutex<()>) -> Result<SplitReport> {
        let PendingSplit {
            mut rep,
            mut outputs,
            last,
        } = self;
        commit_group(last, finalize, &mut outputs)?;
        outputs.sort_by_key(|(i, _)| *i);
        rep.outputs = outputs.into_iter().map(|(_, o)| o).collect();
        Ok(rep)
    }
}

/// [`split_wal`] up to the last group's fsync: every group but the last is finished.
pub fn split_wal_pending(
    wal: &Path,
    root: &Path,
    opts: &SplitOptions,
    finalize: &Mutex<()>,
) -> Result<PendingSplit> {
    let mut reader = WalReader::open(wal)?;
    let wal_name = wal
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::usage(format!("{} does not name a file", wal.display())))?;
    let wopts = WriteOptions::like(reader.header()).map_err(|e| e.in_file(wal))?;
    let mut slots = Slots {
        index: HashMap::new(),
        list: Vec::new(),
        scratch: Vec::new(),
        grouped: 0,
    };
    let mut rep = SplitReport {
        input: wal.to_path_buf(),
        read: reader.summary(),
        entries_written: 0,
        skipped_replication_markers: 0,
        skipped_meta_edits: 0,
        skipped_missing_region: 0,
        rejected: Vec::new(),
        outputs: Vec::new(),
        passes: 1,
        peak_open_files: 0,
    };
    let mut pass = Pass {
        root,
        opts,
        wal_name: &wal_name,
        wopts: &wopts,
        group: 0,
        first: true,
        open: 0,
    };
    while let Some(e) = reader.next_entry()? {
        pass.entry(e, &mut slots, &mut rep)?;
    }
    rep.read = reader.summary();
    drop(reader);
    // Outputs in order of first appearance of their region, whatever their group.
    let mut outputs: Vec<(usize, OutputFile)> = Vec::new();
    let mut last = close_group(&mut slots, 0)?;
    let groups = match opts.max_open_files {
        0 => 1,
        cap => slots.grouped.div_ceil(cap),
    };
    for group in 1..groups {
        commit_group(std::mem::take(&mut last), finalize, &mut outputs)?;
        pass.group = group;
        pass.first = false;
        pass.open = 0;
        rep.passes += 1;
        let mut reader = WalReader::open(wal)?;
        let mut n = 0u64;
        while n < rep.read.entries {
            let Some(e) = reader.next_entry()? else {
                return Err(Error::corrupt(
                    "WAL split",
                    format!(
                        "pass {} read {n} entries where the first read {}: the WAL changed while it was split",
                        rep.passes, rep.read.entries
                    ),
                )
                .in_file(wal));
            };
            pass.entry(e, &mut slots, &mut rep)?;
            n += 1;
        }
        drop(reader);
        last = close_group(&mut slots, group)?;
    }
    Ok(PendingSplit { rep, outputs, last })
}

/// fsync threads per group (the files' writeback overlaps; fsync is I/O, not CPU).
const SYNC_THREADS: usize = 4;

/// Run `f` on every item, on up to `threads` threads; the first error wins.
fn on_threads<T: Send>(
    items: &mut [T],
    threads: usize,
    f: impl Fn(&mut T) -> Result<()> + Sync,
) -> Result<()> {
    let per = items.len().div_ceil(threads.max(1)).max(1);
    if items.len() <= 1 {
        return items.iter_mut().try_for_each(&f);
    }
    std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks_mut(per)
            .map(|chunk| {
                let f = &f;
                s.spawn(move || chunk.iter_mut().try_for_each(f))
            })
            .collect();
        handles.into_iter().try_for_each(|h| {
            h.join()
                .unwrap_or_else(|_| Err(Error::usage("an fsync thread panicked")))
        })
    })
}

/// Write the trailers of every output of `group` (no fsync yet).
fn close_group(slots: &mut Slots, group: usize) -> Result<Vec<Closing>> {
    let mut closed = Vec::new();
    for (i, slot) in slots.list.iter_mut().enumerate() {
        if let Slot::Out(o) = slot {
            if o.group == Some(group) {
                if let Some(f) = o.file.take() {
                    closed.push(Closing {
                        slot: i,
                        closed: f.finish()?,
                        dir: o.dir.clone(),
                        table: o.table.clone(),
                        region: o.region.clone(),
                    });
                }
            }
        }
    }
    Ok(closed)
}

/// fsync closed outputs together (on a few threads), then HBase's check-and-rename to the
/// final name, then one fsync per folder renamed into.
fn commit_group(
    mut closed: Vec<Closing>,
    finalize: &Mutex<()>,
    outputs: &mut Vec<(usize, OutputFile)>,
) -> Result<()> {
    on_threads(&mut closed, SYNC_THREADS, |c| c.closed.sync())?;
    let mut dirs: Vec<PathBuf> = Vec::new();
    for c in closed {
        let stats = c.closed.stats().clone();
        let (Some(max), Some(first)) = (stats.max_seq, stats.first_seq) else {
            // Nothing written (HBase deletes empty outputs).
            c.closed.discard()?;
            continue;
        };
        let dst = c.dir.join(edits_file_name(max));
        let _guard = finalize
            .lock()
            .map_err(|_| Error::usage("split lock poisoned"))?;
        let action = if dst.exists() {
            let dst_min = first_seq_of(&dst);
            if dst_min.is_none_or(|m| first < m) {
                c.closed.rename_without_dir_sync(&dst)?;
                OutputAction::Replaced
            } else {
                c.closed.discard()?;
                OutputAction::KeptExisting
            }
        } else {
            c.closed.rename_without_dir_sync(&dst)?;
            OutputAction::Written
        };
        if action != OutputAction::KeptExisting {
            dirs.push(dst.clone());
        }
        outputs.push((
            c.slot,
            OutputFile {
                path: dst,
                table: c.table,
                region: c.region,
                stats,
                action,
            },
        ));
    }
    on_threads(&mut dirs, SYNC_THREADS, |p| sync_dir(p))
}

/// Sequence id of the first entry of a WAL (None when it has none or cannot be read; HBase
/// then treats the file as having fewer entries).
pub fn first_seq_of(p: &Path) -> Option<u64> {
    let mut r = WalReader::open(p).ok()?;
    let e = r.next_entry().ok()??;
    Some(e.key.sequence_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names() {
        let t = parse_table_name(b"ns1:t2").unwrap();
        assert_eq!((t.namespace.as_str(), t.qualifier.as_str()), ("ns1", "t2"));
        assert_eq!(parse_table_name(b"t1").unwrap().namespace, "default");
        assert_eq!(
            parse_table_name(b"hbase:meta").unwrap().as_string(),
            "hbase:meta"
        );
        for bad in [
            &b".."[..],
            b"../x",
            b"a/b",
            b"ns:..",
            b"ns:a/b",
            b"n/s:a",
            b"..:a",
            b"",
            b"ns:",
            b":a",
            b".META.",
            b"-ROOT-",
            b"a\\b",
            b"a\0b",
            b"\xff",
        ] {
            assert!(parse_table_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn region_names() {
        assert!(parse_encoded_region(b"43ae7364b4a555b93267937f9bc49ec1").is_ok());
        assert!(parse_encoded_region(b"1588230740").is_ok());
        for bad in [
            &b".."[..],
            b"",
            b"../43ae7364b4a555b93267937f9bc49ec",
            b"43AE7364B4A555B93267937F9BC49EC1",
            b"a/b",
        ] {
            assert!(parse_encoded_region(bad).is_err());
        }
    }

    #[test]
    fn names() {
        assert_eq!(edits_file_name(168), "0000000000000000168");
        assert_eq!(
            temp_file_name(101, "rs%2C1%2C2.17", ""),
            "0000000000000000101-rs%2C1%2C2.17-.temp"
        );
    }
}
