//! `hwal`: read HBase write-ahead logs offline. `dump` prints entries in the shape of
//! `hbase wal` (WALPrettyPrinter) or as NDJSON; `verify` walks every entry and reports per
//! file what was read and where any damage is.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hbkit::bytes::to_string_binary;
use hbkit::cell::Cell;
use hbkit::wal::pretty::{self, Show};
use hbkit::wal::{Ending, Entry, Format, WalReader};
use hbkit::Error;

#[derive(Parser)]
#[command(
    name = "hwal",
    version,
    about = "Dump and verify Apache HBase write-ahead logs (WALs, recovered.edits) offline",
    long_about = "Dump and verify Apache HBase write-ahead logs offline, without a cluster or a JVM: \
protobuf WALs of HBase 0.96-2.6 (every cell codec, dictionary, tag and value compression) and the \
SequenceFile HLogs of HBase 0.92/0.94. recovered.edits files are WALs too.\n\n\
A WAL without a trailer (its writer never closed it) is normal and reads completely; a file cut \
inside an entry or with a garbage tail is reported as damage with the byte offset of the last good \
entry, after every complete entry before it. Files are opened read-only.",
    after_help = "Exit codes: 0 every file clean; 1 damage found in some file; 2 could not run \
(bad arguments, unreadable, unsupported or non-WAL file)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print entries (like `hbase wal`), or NDJSON with --json.
    Dump(DumpArgs),
    /// Read every entry and report entries, cells, sequence ids per region and damage.
    Verify(VerifyArgs),
    /// Split WALs into per-region recovered.edits files, as HBase's log splitter does.
    Split(SplitArgs),
    /// Turn WAL / recovered.edits edits into HFiles per region and family (bulk-load layout).
    Replay(ReplayArgs),
    /// Say which recovered.edits files of a region still hold edits its store files lack.
    EditsNeeded(EditsNeededArgs),
}

#[derive(Args)]
struct SplitArgs {
    /// WAL files, or directories to search for WALs.
    #[arg(value_name = "WAL|DIR", required = true)]
    paths: Vec<PathBuf>,
    /// Root folder to write `data/<ns>/<table>/<region>/recovered.edits/` under. Nothing is
    /// written anywhere else; naming a live HBase root dir here is the only way to write into it.
    #[arg(long, value_name = "DIR", required = true)]
    out: PathBuf,
    /// Drop edits of regions whose folder does not exist under --out (HBase's rule on a live root).
    #[arg(long)]
    existing_regions_only: bool,
    /// Parallel input files (default: the number of CPUs).
    #[arg(short = 'j', long, value_name = "N")]
    jobs: Option<usize>,
    /// Most recovered.edits files one input keeps open at once (0: no cap). A WAL holding
    /// more regions is read once per group of N regions; the output is the same.
    #[arg(long, value_name = "N", default_value_t = hbkit::wal::split::DEFAULT_MAX_OPEN_FILES)]
    max_open_files: usize,
    /// One JSON object per input WAL and line (NDJSON).
    #[arg(long)]
    json: bool,
    /// Print only the per-file summary lines, not each output file.
    #[arg(short = 'q', long)]
    quiet: bool,
}

#[derive(Args)]
struct ReplayArgs {
    /// WAL or recovered.edits files, or directories to search for them.
    #[arg(value_name = "WAL|DIR", required = true)]
    paths: Vec<PathBuf>,
    /// Output folder: `<table>/<region>/<family>/<hfile>`, or `<family>/<hfile>` when the edits
    /// are of one table and region.
    #[arg(long, value_name = "DIR", required = true)]
    out: PathBuf,
    /// Existing table folder (`<root>/data/<ns>/<table>`): skip edits already in its store
    /// files (seq id <= the store's MAX_SEQ_ID_KEY) and cells of families a region lacks.
    #[arg(long, value_name = "DIR")]
    table_dir: Option<PathBuf>,
    /// Rename a table in the output (`old:new`; namespaced names as `ns:old=ns:new` also work).
    #[arg(long = "table-map", value_name = "OLD:NEW")]
    table_map: Vec<String>,
    /// Only entries whose write time (ms) is in A..B (inclusive).
    #[arg(long = "time-range", value_name = "A..B")]
    time_range: Option<String>,
    /// Buffered edits (MiB) above which the largest store is written out as its own HFile.
    #[arg(long, value_name = "MIB", default_value_t = 512)]
    memory_mb: usize,
    /// HFile block compression (NONE, GZ, SNAPPY, LZ4, ZSTD).
    #[arg(long, value_name = "CODEC", default_value = "NONE")]
    compression: String,
    /// NDJSON report (one line per HFile, then a summary line).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct EditsNeededArgs {
    /// Region folders (`<root>/data/<ns>/<table>/<encoded region>`).
    #[arg(value_name = "REGION_DIR", required = true)]
    regions: Vec<PathBuf>,
    /// Also read every needed file and count the cells replay would apply.
    #[arg(long)]
    read: bool,
    /// One JSON object per region and line.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DumpArgs {
    /// WAL files, or directories to search for WALs.
    #[arg(value_name = "FILE|DIR", required = true)]
    paths: Vec<PathBuf>,
    /// Print cell values.
    #[arg(short = 'p', long = "printvals")]
    values: bool,
    /// Print only row keys.
    #[arg(short = 'k', long = "keys-only")]
    keys_only: bool,
    /// One JSON object per entry and line (NDJSON); nothing else on stdout.
    #[arg(short = 'j', long = "json")]
    json: bool,
    /// Only entries of this table (`ns:name`, or `name` in default); repeatable, or comma-separated.
    #[arg(short = 't', long = "table", value_name = "TABLE")]
    tables: Vec<String>,
    /// Only entries of this encoded region name.
    #[arg(short = 'r', long = "region", value_name = "ENCODED")]
    region: Option<String>,
    /// Only cells of this row (in toStringBinary form, as HBase compares it).
    #[arg(
        short = 'w',
        long = "row",
        value_name = "ROW",
        conflicts_with = "row_prefix"
    )]
    row: Option<String>,
    /// Only cells whose row (toStringBinary form) starts with this.
    #[arg(short = 'f', long = "row-prefix", value_name = "PREFIX")]
    row_prefix: Option<String>,
    /// Only entries with a sequence id in A..B (inclusive; either end may be omitted; N = exactly N).
    #[arg(short = 's', long = "seq-range", value_name = "A..B")]
    seq_range: Option<String>,
    /// Only entries whose write time (ms) is in A..B (inclusive; either end may be omitted).
    #[arg(long = "time-range", value_name = "A..B")]
    time_range: Option<String>,
    /// Start at this byte offset (an entry boundary, e.g. a printed `position:`). Compressed
    /// WALs are decoded from the start up to it to rebuild their dictionaries.
    #[arg(short = 'g', long = "start-offset", value_name = "BYTES")]
    start_offset: Option<u64>,
}

#[derive(Args)]
struct VerifyArgs {
    /// WAL files, or directories to search for WALs.
    #[arg(value_name = "FILE|DIR", required = true)]
    paths: Vec<PathBuf>,
    /// One JSON object per file and line (NDJSON).
    #[arg(long)]
    json: bool,
    /// Only print files with damage or errors (text mode).
    #[arg(short = 'q', long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Dump(a) => dump(a),
        Cmd::Verify(a) => verify(a),
        Cmd::Split(a) => split(a),
        Cmd::Replay(a) => replay(a),
        Cmd::EditsNeeded(a) => edits_needed(a),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hwal: {e}");
            ExitCode::from(2)
        }
    }
}

/// Parse `A..B`, `A..`, `..B` or `N` (inclusive).
fn parse_range(s: &str, what: &str) -> Result<(u64, u64), Error> {
    let num = |x: &str, d: u64| -> Result<u64, Error> {
        if x.is_empty() {
            Ok(d)
        } else {
            x.trim()
                .parse()
                .map_err(|_| Error::usage(format!("{what}: {x:?} is not a number")))
        }
    };
    match s.split_once("..") {
        Some((a, b)) => Ok((num(a, 0)?, num(b, u64::MAX)?)),
        None => {
            let n = num(s, 0)?;
            Ok((n, n))
        }
    }
}

/// For directory walks: a protobuf WAL (or a cut one), a SequenceFile of HLogKey, or an
/// empty file named like a WAL (`<prefix>.<digits>[.meta]`) or inside `recovered.edits`.
fn looks_like_wal(p: &Path) -> bool {
    let Ok(f) = std::fs::File::open(p) else {
        return false;
    };
    let mut head = Vec::with_capacity(128);
    if f.take(128).read_to_end(&mut head).is_err() {
        return false;
    }
    if head.is_empty() {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let stem = name.strip_suffix(".meta").unwrap_or(&name);
        let walname = stem
            .rsplit_once('.')
            .is_some_and(|(_, d)| !d.is_empty() && d.bytes().all(|c| c.is_ascii_digit()));
        let in_edits = p
            .parent()
            .and_then(|d| d.file_name())
            .is_some_and(|d| d == "recovered.edits");
        return walname || in_edits;
    }
    if head.len() < 4 {
        return b"PWAL".starts_with(&head);
    }
    head.starts_with(b"PWAL")
        || (head.starts_with(b"SEQ") && head.windows(7).any(|w| w == b"HLogKey"))
}

/// Files to read: explicit files as given; directories walked (sorted), taking files that
/// start like a WAL or are empty, skipping hidden, `.crc` and `.seqid` marker files.
fn expand(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<(PathBuf, Error)>, usize) {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    let mut skipped = 0;
    for p in paths {
        match std::fs::metadata(p) {
            Err(e) => errs.push((p.clone(), Error::io(p, e))),
            Ok(m) if m.is_dir() => walk(p, &mut out, &mut skipped),
            Ok(_) => out.push(p.clone()),
        }
    }
    (out, errs, skipped)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut usize) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut v: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    v.sort();
    for p in v {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if p.is_dir() {
            walk(&p, out, skipped);
        } else if name.starts_with('.')
            || name.ends_with(".crc")
            || name.ends_with(".seqid")
            || name.ends_with("_seqid")
        {
            continue;
        } else if looks_like_wal(&p) {
            out.push(p);
        } else {
            *skipped += 1;
        }
    }
}

fn progress(files: &[PathBuf]) -> Option<indicatif::ProgressBar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let b = indicatif::ProgressBar::new(total);
    if let Ok(st) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {wide_msg}",
    ) {
        b.set_style(st);
    }
    Some(b)
}

struct Filters {
    tables: Vec<String>,
    region: Option<String>,
    row: Option<String>,
    row_prefix: Option<String>,
    seq: (u64, u64),
    time: (u64, u64),
}

impl Filters {
    fn entry(&self, e: &Entry) -> bool {
        let k = &e.key;
        if !self.tables.is_empty() && !self.tables.iter().any(|t| t.as_bytes() == k.table) {
            return false;
        }
        if let Some(r) = &self.region {
            if to_string_binary(&k.encoded_region) != *r {
                return false;
            }
        }
        (self.seq.0..=self.seq.1).contains(&k.sequence_id)
            && (self.time.0..=self.time.1).contains(&k.write_time)
    }
    fn cell(&self, c: &Cell<'_>) -> bool {
        if self.row.is_none() && self.row_prefix.is_none() {
            return true;
        }
        let r = to_string_binary(c.key.row());
        self.row.as_ref().is_none_or(|w| r == *w)
            && self
                .row_prefix
                .as_ref()
                .is_none_or(|p| r.starts_with(p.as_str()))
    }
}

/// Entries per batch handed from the reading thread to the rendering one.
const DUMP_BATCH: usize = 2048;

fn dump(a: DumpArgs) -> io::Result<u8> {
    let f = match (|| -> Result<Filters, Error> {
        Ok(Filters {
            tables: a
                .tables
                .iter()
                .flat_map(|t| t.split(','))
                .filter(|t| !t.is_empty())
                .map(str::to_string)
                .collect(),
            region: a.region.clone(),
            row: a.row.clone(),
            row_prefix: a.row_prefix.clone(),
            seq: a
                .seq_range
                .as_deref()
                .map_or(Ok((0, u64::MAX)), |s| parse_range(s, "--seq-range"))?,
            time: a
                .time_range
                .as_deref()
                .map_or(Ok((0, u64::MAX)), |s| parse_range(s, "--time-range"))?,
        })
    })() {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hwal: {e}");
            return Ok(2);
        }
    };
    let show = Show {
        values: a.values,
        keys_only: a.keys_only,
    };
    let (files, errs, skipped) = expand(&a.paths);
    let mut code = 0u8;
    for (_, e) in &errs {
        eprintln!("hwal: {e}");
        code = 2;
    }
    if skipped > 0 {
        eprintln!("hwal: skipped {skipped} file(s) that are not WALs");
    }
    let bar = progress(&files);
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut buf = Vec::with_capacity(1 << 17);
    let mut done_bytes = 0u64;
    for path in &files {
        let name = path.display().to_string();
        let mut name_json = Vec::new();
        hbkit::json::push_str(&mut name_json, &name);
        let mut r = match WalReader::open(path) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("hwal: {e}");
                code = 2;
                continue;
            }
        };
        if !a.json {
            buf.extend_from_slice(
                pretty::file_header_text(r.header().cell_codec_cls_name.as_deref()).as_bytes(),
            );
        }
        if let Some(off) = a.start_offset {
            if let Err(e) = r.seek_to_entry(off) {
                eprintln!("hwal: {name}: {e}");
                code = 2;
                continue;
            }
        }
        // One thread reads and decodes entries into batches while this one renders the
        // previous batch: the output is the same as one thread's, in the same order.
        let (joined, written) = std::thread::scope(|sc| {
            let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<(Vec<Entry>, usize)>(2);
            let (empty_tx, empty_rx) = std::sync::mpsc::channel::<Vec<Entry>>();
            let bar = bar.clone();
            let reader = sc.spawn(move || {
                let mut err = None;
                loop {
                    let mut batch = empty_rx.try_recv().unwrap_or_default();
                    let mut n = 0;
                    while n < DUMP_BATCH {
                        if batch.len() <= n {
                            batch.push(Entry::default());
                        }
                        let Some(slot) = batch.get_mut(n) else { break };
                        match r.next_entry_into(slot) {
                            Ok(true) => n += 1,
                            Ok(false) => break,
                            Err(e) => {
                                err = Some(e);
                                break;
                            }
                        }
                    }
                    if let Some(b) = &bar {
                        b.set_position(done_bytes + r.position());
                    }
                    let last = n < DUMP_BATCH;
                    if full_tx.send((batch, n)).is_err() || last {
                        return (r, err);
                    }
                }
            });
            let mut write_err = Ok(());
            let mut buf2 = Vec::new();
            for (batch, n) in full_rx.iter() {
                // Rendering costs more than reading: the batch's two halves are rendered on
                // two threads (into two buffers, written in order), filling the reader's idle
                // time on the other core.
                let entries = batch.get(..n).unwrap_or(&[]);
                let (first, second) = entries.split_at(n / 2);
                let render = |out: &mut Vec<u8>, part: &[Entry]| {
                    for e in part {
                        if f.entry(e) {
                            if a.json {
                                if pretty::entry_json(out, &name_json, e, show, |c| f.cell(c)) {
                                    out.push(b'\n');
                                }
                            } else {
                                pretty::entry_text(out, e, show, |c| f.cell(c));
                            }
                        }
                    }
                };
                rayon::join(|| render(&mut buf, first), || render(&mut buf2, second));
                buf.append(&mut buf2);
                if buf.len() >= 1 << 16 && write_err.is_ok() {
                    write_err = out.write_all(&buf);
                    buf.clear();
                }
                if write_err.is_err() {
                    break;
                }
                let _ = empty_tx.send(batch);
            }
            drop(full_rx);
            let joined = reader.join();
            (joined, write_err)
        });
        written?;
        let Ok((r, read_err)) = joined else {
            return Err(io::Error::other("the WAL reader thread panicked"));
        };
        if let Some(e) = read_err {
            eprintln!("hwal: {e}");
            code = 2;
        }
        done_bytes += r.position();
        out.write_all(&buf)?;
        buf.clear();
        if let Some(b) = &bar {
            b.inc(0);
        }
        let s = r.summary();
        if let Some(note) = s.ending.note() {
            eprintln!("hwal: {name}: {note}");
        }
        if s.ending.is_damage() {
            code = code.max(1);
        }
    }
    out.flush()?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(code)
}

#[derive(Default, serde::Serialize)]
struct RegionStats {
    table: String,
    entries: u64,
    cells: u64,
    first_sequence_id: u64,
    last_sequence_id: u64,
    min_sequence_id: u64,
    max_sequence_id: u64,
}

#[derive(serde::Serialize)]
struct FileReport {
    file: String,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Format>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compression: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    writer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    codec: Option<String>,
    entries: u64,
    cells: u64,
    marker_entries: u64,
    last_good_offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_length: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trailer_offset: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ending: Option<Ending>,
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    regions: BTreeMap<String, RegionStats>,
}

fn compression_text(h: &hbkit::wal::WalHeader) -> String {
    if !h.has_compression {
        return "none".into();
    }
    let mut s = String::from("dictionary");
    if h.tag_compression() {
        s.push_str("+tags");
    }
    if let Some(v) = h.value_codec() {
        let name = hbkit::codec::Compression::from_ordinal(v).map_or("?", |c| c.name());
        s.push_str(&format!("+values({name})"));
    }
    s
}

fn verify_one(path: &Path, bar: Option<&indicatif::ProgressBar>) -> FileReport {
    let mut rep = FileReport {
        file: path.display().to_string(),
        status: "ok",
        format: None,
        compression: None,
        writer: None,
        codec: None,
        entries: 0,
        cells: 0,
        marker_entries: 0,
        last_good_offset: 0,
        file_length: None,
        trailer_offset: None,
        ending: None,
        note: None,
        error: None,
        regions: BTreeMap::new(),
    };
    let mut r = match WalReader::open(path) {
        Ok(r) => r,
        Err(e) => {
            rep.status = "error";
            rep.error = Some(e.to_string());
            return rep;
        }
    };
    rep.format = Some(r.format());
    rep.compression = Some(compression_text(r.header()));
    rep.writer = r.header().writer_cls_name.clone();
    rep.codec = r.header().cell_codec_cls_name.clone();
    let base = bar.map_or(0, |b| b.position());
    let mut n = 0u64;
    loop {
        match r.next_entry() {
            Ok(Some(e)) => {
                if e.is_meta_edit() {
                    rep.marker_entries += 1;
                }
                let k = &e.key;
                let st = rep
                    .regions
                    .entry(to_string_binary(&k.encoded_region))
                    .or_insert_with(|| RegionStats {
                        table: to_string_binary(&k.table),
                        first_sequence_id: k.sequence_id,
                        min_sequence_id: k.sequence_id,
                        ..Default::default()
                    });
                st.entries += 1;
                st.cells += e.cell_count() as u64;
                st.last_sequence_id = k.sequence_id;
                st.min_sequence_id = st.min_sequence_id.min(k.sequence_id);
                st.max_sequence_id = st.max_sequence_id.max(k.sequence_id);
                n += 1;
                if n % 4096 == 0 {
                    if let Some(b) = bar {
                        b.set_position(base + r.position());
                    }
                }
            }
            Ok(None) => break,
            Err(e) => {
                rep.status = "error";
                rep.error = Some(e.to_string());
                break;
            }
        }
    }
    let s = r.summary();
    rep.entries = s.entries;
    rep.cells = s.cells;
    rep.last_good_offset = s.last_good_offset;
    rep.file_length = s.file_length;
    rep.trailer_offset = s.trailer_offset;
    rep.note = s.ending.note();
    if s.ending.is_damage() && rep.status == "ok" {
        rep.status = "damaged";
    }
    rep.ending = Some(s.ending);
    if let Some(b) = bar {
        b.set_position(base + s.file_length.unwrap_or(0));
    }
    rep
}

fn verify_text(rep: &FileReport) -> String {
    let mut s = format!("{}: {}\n", rep.file, rep.status.to_uppercase());
    if let Some(e) = &rep.error {
        s.push_str(&format!("  error: {e}\n"));
    }
    if let (Some(f), Some(c)) = (rep.format, &rep.compression) {
        let fmt = match f {
            Format::Protobuf => "protobuf WAL",
            Format::SequenceFile => "SequenceFile HLog",
        };
        s.push_str(&format!(
            "  format: {fmt}; compression: {c}; writer: {}; codec: {}\n",
            rep.writer.as_deref().unwrap_or("-"),
            rep.codec.as_deref().unwrap_or("-")
        ));
    }
    s.push_str(&format!(
        "  entries: {}, cells: {}, marker entries: {}\n",
        rep.entries, rep.cells, rep.marker_entries
    ));
    s.push_str(&format!(
        "  last good offset: {}{}\n",
        rep.last_good_offset,
        rep.file_length
            .map_or(String::new(), |l| format!(" of {l} bytes"))
    ));
    match &rep.ending {
        Some(Ending::Trailer) => s.push_str(&format!(
            "  ending: trailer at byte {}\n",
            rep.trailer_offset.unwrap_or(0)
        )),
        Some(_) => {
            if let Some(n) = &rep.note {
                s.push_str(&format!("  ending: {n}\n"));
            }
        }
        None => {}
    }
    for (region, st) in &rep.regions {
        s.push_str(&format!(
            "  region {region} (table {}): entries {}, cells {}, sequence ids {}..{} (min {}, max {})\n",
            st.table,
            st.entries,
            st.cells,
            st.first_sequence_id,
            st.last_sequence_id,
            st.min_sequence_id,
            st.max_sequence_id
        ));
    }
    s
}

fn verify(a: VerifyArgs) -> io::Result<u8> {
    let (files, errs, skipped) = expand(&a.paths);
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut code = 0u8;
    let mut reports: Vec<FileReport> = errs
        .into_iter()
        .map(|(p, e)| FileReport {
            file: p.display().to_string(),
            status: "error",
            format: None,
            compression: None,
            writer: None,
            codec: None,
            entries: 0,
            cells: 0,
            marker_entries: 0,
            last_good_offset: 0,
            file_length: None,
            trailer_offset: None,
            ending: None,
            note: None,
            error: Some(e.to_string()),
            regions: BTreeMap::new(),
        })
        .collect();
    if skipped > 0 {
        eprintln!("hwal: skipped {skipped} file(s) that are not WALs");
    }
    let bar = progress(&files);
    for f in &files {
        reports.push(verify_one(f, bar.as_ref()));
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let (mut ok, mut damaged, mut failed) = (0, 0, 0);
    for rep in &reports {
        match rep.status {
            "ok" => ok += 1,
            "damaged" => {
                damaged += 1;
                code = code.max(1);
            }
            _ => {
                failed += 1;
                code = 2;
            }
        }
        if a.json {
            let line = serde_json::to_string(rep).map_err(io::Error::other)?;
            writeln!(out, "{line}")?;
        } else if !a.quiet || rep.status != "ok" {
            out.write_all(verify_text(rep).as_bytes())?;
        }
    }
    if !a.json {
        writeln!(
            out,
            "{} file(s): {ok} ok, {damaged} damaged, {failed} could not be read",
            reports.len()
        )?;
    }
    out.flush()?;
    Ok(code)
}

fn split(a: SplitArgs) -> io::Result<u8> {
    use hbkit::wal::split::{
        split_wal_pending, OutputAction, PendingSplit, SplitOptions, SplitReport,
    };
    use rayon::prelude::*;
    let (files, errs, skipped) = expand(&a.paths);
    let mut code = 0u8;
    for (_, e) in &errs {
        eprintln!("hwal: {e}");
        code = 2;
    }
    if skipped > 0 {
        eprintln!("hwal: skipped {skipped} file(s) that are not WALs");
    }
    // Refuse to split a WAL that lives inside the output tree's recovered.edits (a rerun
    // pointed at --out itself would feed on its own output).
    let out_abs = std::fs::canonicalize(&a.out).unwrap_or_else(|_| a.out.clone());
    let opts = SplitOptions {
        existing_regions_only: a.existing_regions_only,
        worker: String::new(),
        max_open_files: a.max_open_files,
    };
    let lock = std::sync::Mutex::new(());
    let run = |f: &PathBuf| {
        let abs = std::fs::canonicalize(f).unwrap_or_else(|_| f.clone());
        if abs.starts_with(&out_abs) && abs.components().any(|c| c.as_os_str() == "recovered.edits")
        {
            return Err(Error::usage(format!(
                "{} is a recovered.edits file inside --out; refusing to split it into itself",
                f.display()
            )));
        }
        split_wal_pending(f, &a.out, &opts, &lock)
    };
    // Inputs are split on the pool; each one's last fsyncs and renames are committed on one
    // more thread, so a core is not idle while the disk catches up. The rendezvous channel
    // keeps at most one split waiting there.
    let (tx, rx) = std::sync::mpsc::sync_channel::<(usize, PendingSplit)>(0);
    let mut results: Vec<Option<Result<SplitReport, Error>>> = files.iter().map(|_| None).collect();
    let pool = match a.jobs {
        Some(n) if n > 0 => match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => Some(pool),
            Err(e) => return Err(io::Error::other(e.to_string())),
        },
        _ => None,
    };
    std::thread::scope(|s| {
        let lock = &lock;
        let committer = s.spawn(move || {
            rx.into_iter()
                .map(|(i, p)| (i, p.commit(lock)))
                .collect::<Vec<_>>()
        });
        let split_all = || {
            files
                .par_iter()
                .enumerate()
                .filter_map(|(i, f)| match run(f) {
                    Ok(p) => tx
                        .send((i, p))
                        .err()
                        .map(|_| (i, Error::usage("the commit thread stopped"))),
                    Err(e) => Some((i, e)),
                })
                .collect::<Vec<_>>()
        };
        let failed = match &pool {
            Some(p) => p.install(split_all),
            None => split_all(),
        };
        drop(tx);
        for (i, e) in failed {
            if let Some(r) = results.get_mut(i) {
                *r = Some(Err(e));
            }
        }
        let committed = committer.join().unwrap_or_else(|_| Vec::new());
        for (i, r) in committed {
            if let Some(slot) = results.get_mut(i) {
                *slot = Some(r);
            }
        }
    });
    let results: Vec<Result<SplitReport, Error>> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::usage("the commit thread failed"))))
        .collect();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let (mut outputs, mut entries, mut damaged, mut failed) = (0usize, 0u64, 0usize, 0usize);
    for (f, r) in files.iter().zip(results) {
        match r {
            Err(e) => {
                failed += 1;
                code = 2;
                if a.json {
                    let v =
                        serde_json::json!({"input": f, "status": "error", "error": e.to_string()});
                    writeln!(out, "{v}")?;
                } else {
                    eprintln!("hwal: {e}");
                }
            }
            Ok(rep) => {
                let dmg = rep.has_damage();
                if dmg {
                    damaged += 1;
                    code = code.max(1);
                }
                outputs += rep.outputs.len();
                entries += rep.entries_written;
                if a.json {
                    let mut v = serde_json::to_value(&rep).map_err(io::Error::other)?;
                    v["status"] = if dmg { "damaged" } else { "ok" }.into();
                    writeln!(out, "{v}")?;
                    continue;
                }
                writeln!(
                    out,
                    "{}: {} entries read, {} written to {} file(s); skipped {} meta edit(s), {} replication marker(s), {} edit(s) of missing regions",
                    f.display(),
                    rep.read.entries,
                    rep.entries_written,
                    rep.outputs.len(),
                    rep.skipped_meta_edits,
                    rep.skipped_replication_markers,
                    rep.skipped_missing_region
                )?;
                if let Some(n) = rep.read.ending.note() {
                    writeln!(out, "  note: {n}")?;
                }
                for (off, why) in rep.rejected.iter().take(10) {
                    writeln!(out, "  REJECTED entry at byte {off}: {why}")?;
                }
                if rep.rejected.len() > 10 {
                    writeln!(
                        out,
                        "  ... {} more rejected entries",
                        rep.rejected.len() - 10
                    )?;
                }
                if !a.quiet {
                    for o in &rep.outputs {
                        let what = match o.action {
                            OutputAction::Written => "",
                            OutputAction::Replaced => {
                                " (replaced an existing file with fewer edits)"
                            }
                            OutputAction::KeptExisting => " (kept the existing file of that name)",
                        };
                        writeln!(
                            out,
                            "  {} entries={} cells={} seq={}..{}{what}",
                            o.path.display(),
                            o.stats.entries,
                            o.stats.cells,
                            o.stats.min_seq.unwrap_or(0),
                            o.stats.max_seq.unwrap_or(0)
                        )?;
                    }
                }
            }
        }
    }
    if !a.json {
        writeln!(
            out,
            "{} WAL(s): {entries} entries into {outputs} recovered.edits file(s); {damaged} damaged, {failed} could not be split",
            files.len()
        )?;
    }
    out.flush()?;
    Ok(code)
}

fn replay(a: ReplayArgs) -> io::Result<u8> {
    use hbkit::wal::replay::{ReplayOptions, Replayer};
    let setup = || -> Result<ReplayOptions, Error> {
        let mut map = Vec::new();
        for m in &a.table_map {
            let (old, new) = m
                .split_once('=')
                .or_else(|| m.split_once(':').filter(|_| !m.contains('=')))
                .ok_or_else(|| Error::usage(format!("--table-map {m:?}: expected OLD:NEW")))?;
            hbkit::wal::split::parse_table_name(new.as_bytes())?;
            map.push((old.as_bytes().to_vec(), new.as_bytes().to_vec()));
        }
        let compression = hbkit::codec::Compression::from_name(&a.compression)
            .ok_or_else(|| Error::usage(format!("unknown compression {:?}", a.compression)))?;
        Ok(ReplayOptions {
            out: a.out.clone(),
            table_dir: a.table_dir.clone(),
            table_map: map,
            time_range: a
                .time_range
                .as_deref()
                .map_or(Ok((0, u64::MAX)), |s| parse_range(s, "--time-range"))?,
            memory_limit: a.memory_mb.saturating_mul(1 << 20),
            writer: hbkit::hfile::WriterOptions {
                compression,
                ..Default::default()
            },
        })
    };
    let opts = match setup() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("hwal: {e}");
            return Ok(2);
        }
    };
    let (files, errs, skipped) = expand(&a.paths);
    let mut code = 0u8;
    for (_, e) in &errs {
        eprintln!("hwal: {e}");
        code = 2;
    }
    if skipped > 0 {
        eprintln!("hwal: skipped {skipped} file(s) that are not WALs");
    }
    let mut rp = Replayer::new(opts);
    for f in &files {
        let mut r = match WalReader::open(f) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("hwal: {e}");
                code = 2;
                continue;
            }
        };
        loop {
            match r.next_entry() {
                Ok(Some(e)) => {
                    if let Err(x) = rp.add(e) {
                        eprintln!("hwal: {x}");
                        return Ok(2);
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("hwal: {e}");
                    code = 2;
                    break;
                }
            }
        }
        if r.ending().is_damage() {
            code = code.max(1);
            eprintln!(
                "hwal: {}: {}",
                f.display(),
                r.ending().note().unwrap_or_default()
            );
        }
    }
    let rep = match rp.finish() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("hwal: {e}");
            return Ok(2);
        }
    };
    if !rep.rejected.is_empty() {
        code = code.max(1);
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    if a.json {
        for f in &rep.files {
            writeln!(
                out,
                "{}",
                serde_json::to_string(f).map_err(io::Error::other)?
            )?;
        }
        let mut v = serde_json::to_value(&rep).map_err(io::Error::other)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("files");
            o.insert("summary".into(), true.into());
        }
        writeln!(out, "{v}")?;
    } else {
        for f in &rep.files {
            writeln!(
                out,
                "{} table={} region={} family={} cells={} seq={}..{}",
                f.path.display(),
                f.table,
                f.region,
                f.family,
                f.cells,
                f.min_seq,
                f.max_seq
            )?;
        }
        writeln!(
            out,
            "{} entries: {} cells into {} HFile(s); skipped {} marker cell(s), {} outside the time range, {} already in store files, {} of unknown families, {} duplicates; {} rejected",
            rep.entries,
            rep.cells,
            rep.files.len(),
            rep.skipped_meta_cells,
            rep.skipped_time_range,
            rep.skipped_already_in_store,
            rep.skipped_unknown_family,
            rep.duplicates,
            rep.rejected.len()
        )?;
        for (p, e) in &rep.unreadable_store_files {
            writeln!(out, "  unreadable store file {}: {e}", p.display())?;
        }
    }
    out.flush()?;
    Ok(code)
}

fn edits_needed(a: EditsNeededArgs) -> io::Result<u8> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut code = 0u8;
    for rd in &a.regions {
        let rep = match hbkit::wal::replay::edits_needed(rd, a.read) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("hwal: {e}");
                code = 2;
                continue;
            }
        };
        if rep.files.iter().any(|f| f.damage.is_some()) {
            code = code.max(1);
        }
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(&rep).map_err(io::Error::other)?
            )?;
            continue;
        }
        let stores: Vec<String> = rep.stores.iter().map(|(k, v)| format!("{k}={v}")).collect();
        writeln!(
            out,
            "{}: stores max seq id {} (min {})",
            rd.display(),
            if stores.is_empty() {
                "(none)".to_string()
            } else {
                stores.join(" ")
            },
            rep.min_store_seq_id
        )?;
        for f in &rep.files {
            let extra = match (f.cells_to_apply, &f.damage) {
                (Some(n), None) => format!(", {n} cell(s) to apply"),
                (Some(n), Some(d)) => format!(", {n} cell(s) to apply; DAMAGED: {d}"),
                _ => String::new(),
            };
            let why = match f.verdict {
                "needed" => "NEEDED: holds edits newer than the store files",
                "skippable" => {
                    "skippable: every edit is already in the store files (safe to delete)"
                }
                _ => "empty: zero length (HBase deletes it)",
            };
            writeln!(out, "  {} {why}{extra}", f.path.display())?;
        }
        for p in &rep.ignored {
            writeln!(out, "  {} ignored by region open", p.display())?;
        }
        for (p, e) in &rep.unreadable_store_files {
            writeln!(out, "  unreadable store file {}: {e}", p.display())?;
        }
    }
    out.flush()?;
    Ok(code)
}
