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
    let mut buf = Vec::with_capacity(1 << 16);
    for path in &files {
        let name = path.display().to_string();
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
        let mut n = 0u64;
        loop {
            let e = match r.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) => break,
                Err(e) => {
                    eprintln!("hwal: {e}");
                    code = 2;
                    break;
                }
            };
            if f.entry(e) {
                let kept = if a.json {
                    let k = pretty::entry_json(&mut buf, &name, e, show, |c| f.cell(c));
                    if k {
                        buf.push(b'\n');
                    }
                    k
                } else {
                    pretty::entry_text(&mut buf, e, show, |c| f.cell(c))
                };
                let _ = kept;
            }
            if buf.len() >= 1 << 16 {
                out.write_all(&buf)?;
                buf.clear();
            }
            n += 1;
            if n % 4096 == 0 {
                if let Some(b) = &bar {
                    b.set_position(r.position());
                }
            }
        }
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
