//! `hbulk build`: records → cells → external sort → region-partitioned HFiles.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use rayon::prelude::*;

use crate::bulk::input::{encode_record, open_input, BlockRecords, Blocks};
use crate::bulk::regions::{splits_from_sample, Regions};
use crate::bulk::sort::{merge, push_group_cell, push_group_head, Chunk, Entry, Rec};
use crate::bulk::spec::{BadReason, ColumnSpec, Mapping, RowKeySpec};
use crate::bulk::{new_file_name, now_ms, remove_dir_quietly};
use crate::cell::{Cell, Key, KeyType};
use crate::error::{Error, ErrorKind, Result};
use crate::hfile::fileinfo::keys;
use crate::hfile::verify::{verify_file, Status};
use crate::hfile::{HFileWriter, StoreMeta, Unrenamed, WriterOptions};

/// Where region boundaries come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegionSource {
    /// One region (no split points).
    Single,
    /// Given split keys (from `--split-file` or `--table-dir`).
    Splits(Regions),
    /// `--regions N`: split points at the quantiles of a sample of the input rows.
    Sample(usize),
}

/// Options of a build.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Input files (`-` = stdin).
    pub inputs: Vec<PathBuf>,
    /// `--columns` (None with `header` = the header names are the spec).
    pub columns: Option<String>,
    /// `--row-key`.
    pub row_key: Option<RowKeySpec>,
    /// Field separator.
    pub separator: Vec<u8>,
    /// RFC-4180 quoting (false: quotes are data, as in ImportTsv).
    pub quoting: bool,
    /// The first record of every input is a header.
    pub header: bool,
    /// Timestamp for cells without HBASE_TS_KEY.
    pub timestamp: i64,
    /// Skip cells whose field is empty.
    pub skip_empty: bool,
    /// Output directory.
    pub out: PathBuf,
    /// Spill directory parent (default: `out`).
    pub tmp: Option<PathBuf>,
    /// Region boundaries.
    pub regions: RegionSource,
    /// Writer settings (compression, encoding, bloom, block size) for the families not in
    /// `family_writers`.
    pub writer: WriterOptions,
    /// Per-family writer settings (from the target table's descriptor). When given, every
    /// family the columns write must be a key here: others are an error.
    pub family_writers: Option<BTreeMap<Vec<u8>, WriterOptions>>,
    /// Roll files at this many (uncompressed cell) bytes.
    pub max_file_size: u64,
    /// Most files per region and family.
    pub max_files_per_region: usize,
    /// Memory for sorting, bytes.
    pub memory: usize,
    /// Reject file.
    pub reject: Option<PathBuf>,
    /// Fail when more bad lines than this are seen.
    pub max_bad_lines: Option<u64>,
    /// `(i, n)`: build only regions r with r % n == i.
    pub shard: Option<(usize, usize)>,
    /// Show progress bars.
    pub progress: bool,
}

/// One output file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileReport {
    /// Family.
    pub family: String,
    /// Region index.
    pub region: usize,
    /// Final path.
    pub path: PathBuf,
    /// Cells.
    pub cells: u64,
    /// File size.
    pub bytes: u64,
    /// First row (escaped).
    pub first_row: String,
    /// Last row (escaped).
    pub last_row: String,
}

/// What a build did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BuildReport {
    /// Records read (including bad ones, excluding headers).
    pub records: u64,
    /// Bad records.
    pub bad_lines: u64,
    /// Bad records per reason.
    pub bad_by_reason: BTreeMap<String, u64>,
    /// Records skipped because their region belongs to another shard.
    pub other_shard_records: u64,
    /// Cells produced by parsing.
    pub cells_parsed: u64,
    /// Cells written (after removing duplicates).
    pub cells_written: u64,
    /// Duplicate cells dropped (same row, family, qualifier, timestamp; last wins).
    pub duplicates: u64,
    /// Input bytes read (as stored, e.g. compressed).
    pub input_bytes: u64,
    /// Bytes of HFiles written.
    pub output_bytes: u64,
    /// Sorted runs spilled to disk.
    pub spilled_runs: usize,
    /// Bytes spilled.
    pub spilled_bytes: u64,
    /// Regions.
    pub regions: usize,
    /// Split keys used (escaped).
    pub split_keys: Vec<String>,
    /// Files per family per region index.
    pub files_per_region: BTreeMap<String, BTreeMap<usize, usize>>,
    /// Output files.
    pub files: Vec<FileReport>,
    /// Seconds spent reading and parsing.
    pub parse_seconds: f64,
    /// Seconds spent sorting the last in-memory chunk (part of `write_seconds`).
    pub sort_seconds: f64,
    /// Seconds spent sorting, merging, writing and verifying.
    pub write_seconds: f64,
}

/// A run of whole records of one input, cut at a record boundary by the reader thread so
/// that blocks parse independently.
struct Block {
    /// Input index.
    input: usize,
    /// Newlines of the input before the block.
    lines: u64,
    /// The block begins its input (whose first record is the header under `--header`).
    first: bool,
    data: Vec<u8>,
}

/// Bytes of input per block: a small share of `--memory` (blocks in flight and their
/// converted cells count against it), at most 1 MiB.
fn block_bytes(memory: usize) -> usize {
    (memory / 64).clamp(4 << 10, 1 << 20)
}

/// The result of parsing and converting one block.
#[derive(Default)]
struct Converted {
    /// Records read (including bad ones, excluding a header).
    records: u64,
    /// Malformed records: (input index, line, message).
    malformed: Vec<(usize, u64, String)>,
    bytes: Vec<u8>,
    entries: Vec<Entry>,
    cells: u64,
    bad: Vec<(usize, u64, BadReason, csv::ByteRecord)>,
    other_shard: u64,
    /// (region, family index) → roll-measure bytes.
    tally: BTreeMap<(usize, usize), u64>,
    sample: Vec<Vec<u8>>,
}

struct Ctx<'a> {
    separator: &'a [u8],
    quoting: bool,
    header: bool,
    mapping: &'a Mapping,
    fam_index: &'a [usize],
    /// Each column's family rank in the sort chunk.
    fam_rank: &'a [u16],
    /// Column indices in the order a row's cells sort: family rank, qualifier rank, and
    /// of two columns naming the same cell the later first (it wins).
    order: &'a [usize],
    timestamp: i64,
    skip_empty: bool,
    regions: Option<&'a Regions>,
    shard: Option<(usize, usize)>,
    sample_stride: u64,
}

/// Parse the records of `block` and encode their cells as sort records.
fn convert(ctx: &Ctx<'_>, block: &Block) -> Converted {
    let mut c = Converted::default();
    let mut row = Vec::new();
    let mut rec = csv::ByteRecord::with_capacity(256, 16);
    let mut records = BlockRecords::new(&block.data, block.lines, ctx.separator, ctx.quoting);
    let mut index = 0u64;
    let mut skip_header = block.first && ctx.header;
    loop {
        match records.read(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err((line, msg)) => {
                c.malformed.push((block.input, line, msg));
                c.records += 1;
                continue;
            }
        }
        if std::mem::take(&mut skip_header) {
            continue;
        }
        index += 1;
        c.records += 1;
        let r = (|| {
            ctx.mapping.check_count(rec.len())?;
            ctx.mapping.row_key(&rec, &mut row)?;
            ctx.mapping.timestamp(&rec, ctx.timestamp)
        })();
        let ts = match r {
            Ok(ts) => ts,
            Err(reason) => {
                c.bad
                    .push((block.input, records.line(), reason, rec.clone()));
                continue;
            }
        };
        let region = ctx.regions.map_or(0, |r| r.region_of(&row));
        if let Some((i, n)) = ctx.shard {
            if region % n != i {
                c.other_shard += 1;
                continue;
            }
        }
        if ctx.sample_stride > 0 && index % ctx.sample_stride == 0 {
            c.sample.push(row.clone());
        }
        // The row's cells in cell order, one sort group per family (see `Entry`).
        let mut group: Option<(u16, usize, u16)> = None; // (family rank, offset, cells)
        for &i in ctx.order {
            let (Some(col), Some(&fi), Some(&rank)) = (
                ctx.mapping.columns.get(i),
                ctx.fam_index.get(i),
                ctx.fam_rank.get(i),
            ) else {
                continue;
            };
            let Some(value) = rec.get(col.field) else {
                continue;
            };
            if value.is_empty() && ctx.skip_empty {
                continue;
            }
            let b = &mut c.bytes;
            group = match group {
                Some((f, at, n)) if f == rank && n < u16::MAX => Some((f, at, n + 1)),
                other => {
                    if let Some((f, at, n)) = other {
                        c.entries.push(Entry::new(f, &row, n, at));
                    }
                    let at = b.len();
                    push_group_head(b, &row, &col.family, ts, KeyType::Put as u8);
                    Some((rank, at, 1))
                }
            };
            let klen = 2 + row.len() + 1 + col.family.len() + col.qualifier.len() + 9;
            push_group_cell(b, &col.qualifier, value);
            c.cells += 1;
            *c.tally.entry((region, fi)).or_insert(0) += (8 + klen + value.len()) as u64;
        }
        if let Some((f, at, n)) = group {
            c.entries.push(Entry::new(f, &row, n, at));
        }
    }
    c
}

/// Read all inputs in a thread, cutting them into [`Block`]s at record boundaries. Spent
/// block buffers come back on `recycle` to be filled again.
fn spawn_reader(
    inputs: Vec<PathBuf>,
    sep: Vec<u8>,
    quoting: bool,
    count: Arc<AtomicU64>,
    block: usize,
    tx: mpsc::SyncSender<Result<Block>>,
    recycle: mpsc::Receiver<Vec<u8>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for (idx, path) in inputs.iter().enumerate() {
            let input = match open_input(path, count.clone()) {
                Ok(i) => i,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let mut blocks = Blocks::new(input, &sep, quoting, block);
            let mut first = true;
            loop {
                let spare = recycle
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(2 * block));
                let (data, lines) = match blocks.next_block(spare) {
                    Ok(Some(b)) => b,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = tx.send(Err(Error::io(path, e)));
                        return;
                    }
                };
                let block = Block {
                    input: idx,
                    lines,
                    first,
                    data,
                };
                if tx.send(Ok(block)).is_err() {
                    return;
                }
                first = false;
            }
        }
    })
}

fn bar(show: bool, len: Option<u64>, msg: &'static str) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let b = match len {
        Some(n) => indicatif::ProgressBar::new(n),
        None => indicatif::ProgressBar::new_spinner(),
    };
    let style = if len.is_some() {
        "{msg:>8} [{elapsed_precise}] {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} eta {eta}"
    } else {
        "{msg:>8} [{elapsed_precise}] {spinner} {human_pos} cells {per_sec}"
    };
    if let Ok(s) = indicatif::ProgressStyle::with_template(style) {
        b.set_style(s);
    }
    b.set_message(msg);
    b
}

/// A finished file waiting for verification.
struct Pending {
    file: Unrenamed,
    family: Vec<u8>,
    region: usize,
    cells: u64,
    first_row: Vec<u8>,
    last_row: Vec<u8>,
}

fn verify_and_commit(p: Pending) -> Result<FileReport> {
    let rep = verify_file(p.file.temp_path());
    if rep.status != Status::Clean || rep.cells != p.cells {
        let why = rep.problems.first().map_or_else(
            || format!("{} cells read back, {} written", rep.cells, p.cells),
            |x| x.message.clone(),
        );
        return Err(Error::corrupt(
            "hbulk verify",
            format!("{} failed verification: {why}", p.file.target().display()),
        ));
    }
    let s = p.file.commit()?;
    Ok(FileReport {
        family: String::from_utf8_lossy(&p.family).into_owned(),
        region: p.region,
        path: s.path.unwrap_or_default(),
        cells: p.cells,
        bytes: s.file_size,
        first_row: crate::bytes::to_string_binary(&p.first_row),
        last_row: crate::bytes::to_string_binary(&p.last_row),
    })
}

/// Writes merged cells into per-region, per-family files.
struct Output<'a> {
    opts: &'a BuildOptions,
    regions: &'a Regions,
    staging: PathBuf,
    writer: Option<HFileWriter>,
    family: Vec<u8>,
    region: usize,
    written: u64,
    cells: u64,
    first_row: Vec<u8>,
    prev_row: Vec<u8>,
    /// Where finished files go: the verifier thread, or (None) `pending`.
    tx: Option<mpsc::SyncSender<Pending>>,
    pending: Vec<Pending>,
    /// Compression threads per writer (1 when several writers run at once).
    compress_threads: Option<usize>,
    cells_total: u64,
    bar: indicatif::ProgressBar,
}

impl Output<'_> {
    fn close(&mut self) -> Result<()> {
        let Some(w) = self.writer.take() else {
            return Ok(());
        };
        let meta = StoreMeta {
            max_seq_id: 0,
            major_compaction: true,
            bulkload_time: Some(now_ms()),
            exclude_from_minor_compaction: Some(false),
            compacted_store_files: Vec::new(),
        };
        let file = w.finish_unrenamed(meta)?;
        let p = Pending {
            file,
            family: self.family.clone(),
            region: self.region,
            cells: self.cells,
            first_row: std::mem::take(&mut self.first_row),
            last_row: self.prev_row.clone(),
        };
        match &self.tx {
            Some(tx) => tx
                .send(p)
                .map_err(|_| Error::new(ErrorKind::Io, "hbulk", "the verifier stopped")),
            None => {
                self.pending.push(p);
                Ok(())
            }
        }
    }

    fn open(&mut self, row: &[u8]) -> Result<()> {
        let dir = self
            .staging
            .join(String::from_utf8_lossy(&self.family).as_ref());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let mut o = self
            .opts
            .family_writers
            .as_ref()
            .and_then(|m| m.get(&self.family))
            .unwrap_or(&self.opts.writer)
            .clone();
        o.family = Some(self.family.clone());
        if let Some(t) = self.compress_threads {
            o.compress_threads = t;
        }
        o.include_tags = true;
        o.include_mvcc = true;
        o.store_file_metadata = true;
        o.append_metadata = false;
        o.create_time = now_ms();
        o.file_info.push((
            keys::BULKLOAD_SOURCE_TASK.as_bytes().to_vec(),
            match self.opts.shard {
                Some((i, n)) => format!("hbulk_shard_{i}_of_{n}_r_{:06}", self.region),
                None => format!("hbulk_r_{:06}", self.region),
            }
            .into_bytes(),
        ));
        self.writer = Some(HFileWriter::create(dir.join(new_file_name()), o)?);
        self.written = 0;
        self.cells = 0;
        self.first_row = row.to_vec();
        Ok(())
    }

    fn append(&mut self, r: Rec<'_>) -> Result<()> {
        let key = Key::parse(r.key)?;
        let row = key.row();
        let new_row = row != self.prev_row.as_slice() || self.writer.is_none();
        if key.family() != self.family.as_slice() {
            self.close()?;
            self.family = key.family().to_vec();
        }
        if new_row {
            let region = self.regions.region_of(row);
            if region != self.region {
                self.close()?;
                self.region = region;
            }
        }
        let length = (8 + r.key.len() + r.value.len()) as u64;
        if self.writer.is_some()
            && self.written + length >= self.opts.max_file_size
            && row != self.prev_row.as_slice()
        {
            self.close()?;
        }
        if self.writer.is_none() {
            self.open(row)?;
        }
        if let Some(w) = &mut self.writer {
            w.append(&Cell {
                key,
                value: r.value,
                tags: &[],
                seq_id: 0,
            })?;
        }
        self.written += length;
        self.cells += 1;
        self.cells_total += 1;
        if self.cells_total % 65536 == 0 {
            self.bar.inc(65536);
        }
        if new_row {
            self.prev_row.clear();
            self.prev_row.extend_from_slice(row);
        }
        Ok(())
    }
}

/// Rows sampled for `--regions N` split points (about this many kept).
const SAMPLE_TARGET: usize = 100_000;

/// What the parse phase gathers from converted blocks, taken in input order: records for
/// the sort (spilled when the chunk is full), counts, the row sample, bad lines.
struct Intake<'a> {
    opts: &'a BuildOptions,
    spill_dir: &'a Path,
    report: &'a mut BuildReport,
    chunk: Chunk,
    runs: Vec<PathBuf>,
    /// (region, family index) -> roll-measure bytes.
    tally: BTreeMap<(usize, usize), u64>,
    sample: Vec<Vec<u8>>,
    /// Sample every `stride`-th record of a block (0: no sampling).
    stride: u64,
    reject: Option<std::io::BufWriter<std::fs::File>>,
    line_buf: Vec<u8>,
}

impl Intake<'_> {
    /// Take in converted blocks; an error stops the build (a spill failed, or too many bad
    /// lines).
    fn take(&mut self, parts: Vec<Converted>) -> Result<()> {
        let mut bad: Vec<(usize, u64, String, Option<csv::ByteRecord>)> = Vec::new();
        for mut p in parts {
            self.report.records += p.records;
            bad.extend(
                std::mem::take(&mut p.malformed)
                    .into_iter()
                    .map(|(i, l, m)| (i, l, m, None)),
            );
            self.report.cells_parsed += p.cells;
            self.report.other_shard_records += p.other_shard;
            for (k, v) in std::mem::take(&mut p.tally) {
                *self.tally.entry(k).or_insert(0) += v;
            }
            for (i, l, reason, rec) in std::mem::take(&mut p.bad) {
                bad.push((i, l, reason.name().to_string(), Some(rec)));
            }
            if self.stride > 0 {
                self.sample.append(&mut p.sample);
                if self.sample.len() >= 2 * SAMPLE_TARGET {
                    // Keep every other sampled row and sample half as often from now on.
                    let mut k = 0u64;
                    self.sample.retain(|_| {
                        k += 1;
                        k % 2 == 1
                    });
                    self.stride *= 2;
                }
            }
            if self.chunk.would_overflow(p.bytes.len(), p.entries.len()) {
                let path = self.spill_dir.join(format!("run-{:05}", self.runs.len()));
                self.report.spilled_bytes += self.chunk.spill(&path)?;
                self.runs.push(path);
            }
            self.chunk
                .extend_entries(std::mem::take(&mut p.bytes), &p.entries)?;
        }
        bad.sort_by_key(|(i, l, _, _)| (*i, *l));
        for (i, line, reason, rec) in bad {
            self.report.bad_lines += 1;
            let reason = if rec.is_none() {
                format!("{}: {reason}", BadReason::Malformed.name())
            } else {
                reason
            };
            let key = reason.split(':').next().unwrap_or("").to_string();
            *self.report.bad_by_reason.entry(key).or_insert(0) += 1;
            if let Some(w) = &mut self.reject {
                self.line_buf.clear();
                let name = self
                    .opts
                    .inputs
                    .get(i)
                    .map_or(String::new(), |p| p.display().to_string());
                self.line_buf
                    .extend_from_slice(format!("{name}:{line}\t{reason}\t").as_bytes());
                if let Some(r) = &rec {
                    encode_record(r, &self.opts.separator, &mut self.line_buf);
                }
                self.line_buf.push(b'\n');
                w.write_all(&self.line_buf)
                    .map_err(|e| Error::io(self.opts.reject.clone().unwrap_or_default(), e))?;
            }
        }
        if let Some(max) = self.opts.max_bad_lines {
            if self.report.bad_lines > max {
                return Err(Error::usage(format!(
                    "{} bad lines, more than --max-bad-lines {max} ({})",
                    self.report.bad_lines,
                    self.report
                        .bad_by_reason
                        .iter()
                        .map(|(k, v)| format!("{k}: {v}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn physical_memory() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/meminfo").ok()?;
    let l = s.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = l.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Default `--memory`: a quarter of RAM (1 GiB if unknown).
pub fn default_memory() -> usize {
    physical_memory().map_or(1 << 30, |m| (m / 4) as usize)
}

/// Run a build.
pub fn build(opts: &BuildOptions) -> Result<BuildReport> {
    let mut report = BuildReport::default();
    if opts.inputs.is_empty() {
        return Err(Error::usage("no input files (use - for stdin)"));
    }
    if let Some((i, n)) = opts.shard {
        if n == 0 || i >= n {
            return Err(Error::usage(format!("--shard {i}/{n}: need 0 <= i < n")));
        }
        if matches!(opts.regions, RegionSource::Sample(_)) {
            return Err(Error::usage(
                "--shard needs fixed split points (--split-file or --table-dir) so all shards agree; --regions samples each shard's input",
            ));
        }
    }
    if opts.max_files_per_region == 0 || opts.max_file_size == 0 {
        return Err(Error::usage(
            "--max-file-size and --max-files-per-region must be positive",
        ));
    }
    std::fs::create_dir_all(&opts.out).map_err(|e| Error::io(&opts.out, e))?;

    let pid = std::process::id();
    let staging = opts.out.join(format!("_hbulk-staging-{pid}"));
    let spill_dir = opts
        .tmp
        .clone()
        .unwrap_or_else(|| opts.out.clone())
        .join(format!("_hbulk-spill-{pid}"));
    let r = build_inner(opts, &mut report, &staging, &spill_dir);
    remove_dir_quietly(&spill_dir);
    remove_dir_quietly(&staging);
    r.map(|()| report)
}

fn build_inner(
    opts: &BuildOptions,
    report: &mut BuildReport,
    staging: &Path,
    spill_dir: &Path,
) -> Result<()> {
    std::fs::create_dir_all(staging).map_err(|e| Error::io(staging, e))?;
    std::fs::create_dir_all(spill_dir).map_err(|e| Error::io(spill_dir, e))?;

    // Phase 1: read, parse, convert, sort in chunks, spill.
    let t0 = Instant::now();
    let total_in: Option<u64> = opts
        .inputs
        .iter()
        .map(|p| {
            if p.as_os_str() == "-" {
                None
            } else {
                std::fs::metadata(p).ok().map(|m| m.len())
            }
        })
        .sum();
    let count = Arc::new(AtomicU64::new(0));
    let (tx, rx) = mpsc::sync_channel::<Result<Block>>(8);
    let (recycle_tx, recycle_rx) = mpsc::channel();
    let reader = spawn_reader(
        opts.inputs.clone(),
        opts.separator.clone(),
        opts.quoting,
        count.clone(),
        block_bytes(opts.memory),
        tx,
        recycle_rx,
    );
    // The header is the first well-formed record of the first block; that block is then
    // converted like any other (each input's first record skipped).
    let mut held: Option<Block> = None;
    let header: Option<Vec<Vec<u8>>> = if opts.header {
        match rx.recv() {
            Ok(Ok(b)) => {
                let mut r = BlockRecords::new(&b.data, b.lines, &opts.separator, opts.quoting);
                let mut rec = csv::ByteRecord::new();
                let h = loop {
                    match r.read(&mut rec) {
                        Ok(true) => break Some(rec.iter().map(<[u8]>::to_vec).collect()),
                        Ok(false) => break None,
                        Err(_) => {}
                    }
                };
                held = Some(b);
                h
            }
            Ok(Err(e)) => return Err(e),
            Err(_) => None,
        }
    } else {
        None
    };
    if opts.header && header.is_none() {
        return Err(Error::usage("--header: the input is empty"));
    }
    let spec = match &opts.columns {
        Some(c) => ColumnSpec::parse(c)?,
        None => match &header {
            Some(h) => ColumnSpec::from_header(h)?,
            None => return Err(Error::usage("--columns is required without --header")),
        },
    };
    let mapping = Mapping::new(&spec, opts.row_key.as_ref(), header.as_deref())?;
    let families = mapping.families();
    let fam_index: Vec<usize> = mapping
        .columns
        .iter()
        .map(|c| families.iter().position(|f| f == &c.family).unwrap_or(0))
        .collect();
    if let Some(fw) = &opts.family_writers {
        let unknown: Vec<String> = families
            .iter()
            .filter(|f| !fw.contains_key(*f))
            .map(|f| crate::bytes::to_string_binary(f))
            .collect();
        if !unknown.is_empty() {
            return Err(Error::usage(format!(
                "column {} {} {} not in the target table (its families: {})",
                if unknown.len() == 1 {
                    "family"
                } else {
                    "families"
                },
                unknown.join(", "),
                if unknown.len() == 1 { "is" } else { "are" },
                fw.keys()
                    .map(|f| crate::bytes::to_string_binary(f))
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    for f in &families {
        let d = opts.out.join(String::from_utf8_lossy(f).as_ref());
        if std::fs::read_dir(&d).is_ok_and(|mut rd| rd.next().is_some()) {
            return Err(Error::usage(format!(
                "{} already holds files; use an empty output directory",
                d.display()
            )));
        }
    }
    let fixed = match &opts.regions {
        RegionSource::Splits(r) => Some(r.clone()),
        RegionSource::Single => Some(Regions::default()),
        RegionSource::Sample(_) => None,
    };
    let reject = match &opts.reject {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).map_err(|e| Error::io(p, e))?,
        )),
        None => None,
    };
    let memory = opts.memory.max(1 << 20);
    // Leave room for batches in flight, conversion buffers and the writers.
    let chunk_limit = (memory / 8 * 5).max(1 << 16);
    let chunk = Chunk::new(chunk_limit, &families);
    let fam_rank: Vec<u16> = mapping
        .columns
        .iter()
        .map(|c| chunk.family_rank(&c.family))
        .collect();
    let mut order: Vec<usize> = (0..fam_rank.len()).collect();
    order.sort_by_key(|&i| {
        let f = fam_rank.get(i).copied().unwrap_or(u16::MAX);
        let q = mapping.columns.get(i).map(|c| c.qualifier.as_slice());
        (f, q, std::cmp::Reverse(i))
    });
    let pbar = bar(opts.progress, total_in, "parse");
    let mut first_err: Option<Error> = None;
    let mut intake = Intake {
        opts,
        spill_dir,
        report,
        chunk,
        runs: Vec::new(),
        tally: BTreeMap::new(),
        sample: Vec::new(),
        stride: if fixed.is_none() { 1 } else { 0 },
        reject,
        line_buf: Vec::new(),
    };
    // Converted blocks waiting to be taken in, in input order.
    let mut pending: Vec<Converted> = Vec::new();
    let threads = rayon::current_num_threads().max(1);
    loop {
        // Take a block per core (waiting for them), and more if they are ready.
        let mut blocks: Vec<Block> = held.take().into_iter().collect();
        while blocks.len() < 4 * threads && first_err.is_none() {
            let next = if blocks.len() < threads {
                rx.recv().ok()
            } else {
                rx.try_recv().ok()
            };
            match next {
                Some(Ok(b)) => blocks.push(b),
                Some(Err(e)) => first_err = Some(e),
                None => break,
            }
        }
        if blocks.is_empty() || first_err.is_some() {
            break;
        }
        let ctx = Ctx {
            separator: &opts.separator,
            quoting: opts.quoting,
            header: opts.header,
            mapping: &mapping,
            fam_index: &fam_index,
            fam_rank: &fam_rank,
            order: &order,
            timestamp: opts.timestamp,
            skip_empty: opts.skip_empty,
            regions: fixed.as_ref(),
            shard: opts.shard,
            sample_stride: intake.stride,
        };
        // These blocks convert on the pool while the previous ones are taken in.
        let previous = std::mem::take(&mut pending);
        let (parts, taken) = rayon::join(
            || blocks.par_iter().map(|b| convert(&ctx, b)).collect(),
            || intake.take(previous),
        );
        for b in blocks {
            let _ = recycle_tx.send(b.data);
        }
        pending = parts;
        if let Err(e) = taken {
            first_err = Some(e);
            break;
        }
        pbar.set_position(count.load(Ordering::Relaxed));
    }
    if first_err.is_none() {
        first_err = intake.take(pending).err();
    }
    drop(rx);
    let _ = reader.join();
    let Intake {
        mut chunk,
        runs,
        mut tally,
        sample,
        reject,
        ..
    } = intake;
    if let Some(mut w) = reject {
        w.flush()
            .map_err(|e| Error::io(opts.reject.clone().unwrap_or_default(), e))?;
    }
    if let Some(e) = first_err {
        return Err(e);
    }
    pbar.finish_and_clear();
    report.input_bytes = count.load(Ordering::Relaxed);
    report.spilled_runs = runs.len();

    let regions = match (fixed, &opts.regions) {
        (Some(r), _) => r,
        (None, RegionSource::Sample(n)) => {
            let r = splits_from_sample(sample, *n);
            // Without fixed splits the tally is per family: spread it over the regions.
            let n = r.count() as u64;
            let per_family: BTreeMap<usize, u64> =
                tally.iter().fold(BTreeMap::new(), |mut m, ((_, f), b)| {
                    *m.entry(*f).or_insert(0) += b;
                    m
                });
            tally = per_family
                .into_iter()
                .flat_map(|(f, b)| (0..n as usize).map(move |reg| ((reg, f), b.div_ceil(n))))
                .collect();
            let text = r.to_text();
            let p = opts.out.join("_hbulk_splits");
            std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
            r
        }
        (None, _) => Regions::default(),
    };
    report.regions = regions.count();
    report.split_keys = regions
        .splits
        .iter()
        .map(|k| crate::bytes::to_string_binary(k))
        .collect();

    // Before writing: files per region and family.
    let mut over = Vec::new();
    for ((reg, f), bytes) in &tally {
        let files = bytes.div_ceil(opts.max_file_size).max(1);
        if files > opts.max_files_per_region as u64 {
            over.push(format!(
                "region {reg} family {}: {bytes} bytes of cells = about {files} files",
                String::from_utf8_lossy(families.get(*f).map_or(&b""[..], Vec::as_slice))
            ));
        }
    }
    if !over.is_empty() {
        return Err(Error::usage(format!(
            "more than --max-files-per-region {} files would be written (HBase refuses to load them; raise --max-file-size or add regions): {}",
            opts.max_files_per_region,
            over.join("; ")
        )));
    }

    // Phase 2: merge and write.
    let t1 = Instant::now();
    report.parse_seconds = t1.duration_since(t0).as_secs_f64();
    chunk.sort();
    report.sort_seconds = t1.elapsed().as_secs_f64();
    let wbar = bar(opts.progress, None, "write");
    let (ptx, prx) = mpsc::sync_channel::<Pending>(4);
    let verifier = std::thread::spawn(move || -> Result<Vec<FileReport>> {
        let mut out = Vec::new();
        let mut err = None;
        for p in prx {
            if err.is_some() {
                continue; // drop (removes the temporary file)
            }
            match verify_and_commit(p) {
                Ok(r) => out.push(r),
                Err(e) => err = Some(e),
            }
        }
        err.map_or(Ok(out), Err)
    });
    let buffer_per_run = (memory / 4 / runs.len().max(1)).clamp(1 << 16, 4 << 20);
    let new_output = |tx, compress_threads| Output {
        opts,
        regions: &regions,
        staging: staging.to_path_buf(),
        writer: None,
        family: Vec::new(),
        region: usize::MAX,
        written: 0,
        cells: 0,
        first_row: Vec::new(),
        prev_row: Vec::new(),
        tx,
        pending: Vec::new(),
        compress_threads,
        cells_total: 0,
        bar: wbar.clone(),
    };
    let r = if runs.is_empty() {
        // Everything is in memory: each (family, region) range of the sorted chunk is
        // written and verified on its own, on every core.
        drop(ptx);
        let groups = chunk.groups(&regions);
        let threads = if groups.len() > 1 { Some(1) } else { None };
        let done: Vec<Result<(u64, Vec<FileReport>)>> = groups
            .into_par_iter()
            .map(|g| {
                let mut output = new_output(None, threads);
                let mut cells = chunk.range(g);
                while let Some(r) = cells.next_cell() {
                    output.append(r)?;
                }
                output.close()?;
                let files = std::mem::take(&mut output.pending)
                    .into_iter()
                    .map(verify_and_commit)
                    .collect::<Result<Vec<_>>>()?;
                Ok((output.cells_total, files))
            })
            .collect();
        let mut all = Vec::new();
        let mut first_err = None;
        for d in done {
            match d {
                Ok((n, f)) => {
                    report.cells_written += n;
                    all.extend(f);
                }
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        first_err.map_or(Ok(all), Err)
    } else {
        let mut output = new_output(Some(ptx), None);
        let r = merge(&runs, &chunk, buffer_per_run, |rec| output.append(rec))
            .and_then(|()| output.close());
        report.cells_written = output.cells_total;
        drop(output);
        r.map(|()| Vec::new())
    };
    drop(chunk);
    let files = verifier
        .join()
        .map_err(|_| Error::new(ErrorKind::Io, "hbulk", "the verifier thread failed"))?;
    let mut parallel_files = r?;
    let mut files = files?;
    files.append(&mut parallel_files);
    wbar.finish_and_clear();
    report.duplicates = report.cells_parsed - report.cells_written.min(report.cells_parsed);

    // Phase 3: move the verified files into place.
    files.sort_by(|a, b| {
        (&a.family, a.region, &a.first_row).cmp(&(&b.family, b.region, &b.first_row))
    });
    for f in &mut files {
        let dir = opts.out.join(&f.family);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let name = f
            .path
            .file_name()
            .map(ToOwned::to_owned)
            .unwrap_or_default();
        let dest = dir.join(name);
        std::fs::rename(&f.path, &dest).map_err(|e| Error::io(&f.path, e))?;
        f.path = dest;
        report.output_bytes += f.bytes;
        *report
            .files_per_region
            .entry(f.family.clone())
            .or_default()
            .entry(f.region)
            .or_insert(0) += 1;
    }
    for f in &families {
        let d = opts.out.join(String::from_utf8_lossy(f).as_ref());
        if let Ok(dd) = std::fs::File::open(&d) {
            let _ = dd.sync_all();
        }
    }
    report.files = files;
    report.write_seconds = t1.elapsed().as_secs_f64();
    Ok(())
}
