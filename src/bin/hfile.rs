//! `hfile`: dump and verify HBase HFiles offline. A superset of `hbase hfile`
//! (HFilePrettyPrinter) with the same text shapes, plus NDJSON and a full verifier.

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{ArgAction, Args, Parser, Subcommand};
use hbkit::bytes::{from_string_binary, push_string_binary, to_string_binary};
use hbkit::cell::Cell;
use hbkit::hfile::verify::{self, Report, Status};
use hbkit::hfile::{pretty, HFile};
use hbkit::{Error, ErrorKind};

#[derive(Parser)]
#[command(
    name = "hfile",
    version,
    about = "Dump and verify Apache HBase HFiles (v2, v3) offline, without a cluster",
    long_about = "Dump and verify Apache HBase HFiles (v2 and v3, every codec, encoding, index depth, \
bloom and tag form HBase 1.x/2.x writes) offline, without a cluster or a JVM.\n\n\
`hfile dump` prints what `hbase hfile` (HFilePrettyPrinter) prints, in the same text shapes, \
plus NDJSON and row/time filters. `hfile verify` reads every block and cell and checks checksums, \
order, index, blooms, trailer and FileInfo.\n\n\
Input files are opened read-only and never changed.",
    after_help = "Examples:\n  hfile dump -m -p fixtures/sample.hfile\n  hfile dump -e --start-row 'row-0010' --limit 5 /hbase/data/default/t1\n  hfile dump --json -p FILE | jq .\n  hfile verify /hbase/data/default/t1 && echo clean\n\nExit codes: 0 success / clean; 1 problems found (verify); 2 could not run (bad arguments, unreadable or unsupported file)."
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Print cells, metadata, block index, block headers or statistics (like `hbase hfile`).
    #[command(disable_help_flag = true)]
    Dump(DumpArgs),
    /// Read every block and cell and report every problem found.
    Verify(VerifyArgs),
    /// Re-encode an HFile with other writer options, keeping every cell and its metadata.
    Rewrite(RewriteArgs),
    /// Scan a table or region dir as a region server would answer a scan/get from its
    /// store files (deletes, versions, TTL applied).
    Scan(ScanArgs),
    /// Write HBase HashTable's output (for SyncTable) computed offline from a table,
    /// region or snapshot dir.
    #[command(long_about = HASHTABLE_LONG)]
    Hashtable(HashtableArgs),
    /// Compare two tables/snapshots (or HashTable outputs) as SyncTable does and list the
    /// differing cells.
    #[command(long_about = DIFF_LONG)]
    Diff(DiffArgs),
}

#[derive(Args)]
#[command(
    after_help = "Cells print as `K: row/family:qualifier/timestamp/Type/vlen=N/seqid=N V: value` with bytes in \
HBase's Bytes.toStringBinary form (printable ASCII as is, other bytes as \\xHH). Rows given to --start-row, --stop-row, \
--prefix and -w accept that same escaped form.\n\nWith no output option, -m is assumed. --json prints one JSON object per line \
(NDJSON), each with a \"kind\": file, cell, meta, block_index, block, stats."
)]
struct DumpArgs {
    /// HFiles, or directories (root dir, table, region, family) to search for store files.
    #[arg(value_name = "FILE|DIR")]
    paths: Vec<PathBuf>,
    /// File to scan (as `hbase hfile -f`); may be repeated.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Print cells with values (implies -e).
    #[arg(short = 'p', long = "printkv")]
    printkv: bool,
    /// Print cell keys.
    #[arg(short = 'e', long = "printkey")]
    printkey: bool,
    /// Print trailer, FileInfo, mid-key and bloom meta.
    #[arg(short = 'm', long = "printmeta")]
    printmeta: bool,
    /// Print the data block index (root level).
    #[arg(short = 'b', long = "printblocks")]
    printblocks: bool,
    /// Print every block header.
    #[arg(short = 'h', long = "printblockheaders")]
    printblockheaders: bool,
    /// Warn (stderr) about cells out of order: full cell order, not only rows.
    #[arg(short = 'k', long = "checkrow")]
    checkrow: bool,
    /// Print exact statistics: key/value/row sizes, cells per row, biggest row.
    #[arg(short = 's', long = "stats")]
    stats: bool,
    /// -s plus per-range counts.
    #[arg(short = 'd', long = "details")]
    details: bool,
    /// Print only the cells of ROW (escaped form accepted).
    #[arg(short = 'w', long = "seekToRow", value_name = "ROW")]
    seek_to_row: Option<String>,
    /// Print `Scanning -> FILE` per file and the total cell count.
    #[arg(short = 'v', long = "verbose")]
    verbose: bool,
    /// Output NDJSON instead of text.
    #[arg(long)]
    json: bool,
    /// First row to print (inclusive).
    #[arg(long, value_name = "ROW")]
    start_row: Option<String>,
    /// Row to stop before (exclusive).
    #[arg(long, value_name = "ROW")]
    stop_row: Option<String>,
    /// Print only rows starting with PREFIX.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Only cells with FROM <= timestamp < TO (`FROM..TO`, either side may be empty).
    #[arg(long, value_name = "FROM..TO")]
    time_range: Option<String>,
    /// Stop after N cells in total.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Print help.
    #[arg(long, action = ArgAction::Help)]
    help: Option<bool>,
}

#[derive(Args)]
struct VerifyArgs {
    /// HFiles, or directories to search for store files.
    #[arg(value_name = "FILE|DIR", required = true)]
    paths: Vec<PathBuf>,
    /// Print one JSON report per file (NDJSON).
    #[arg(long)]
    json: bool,
    /// Worker threads (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print only files with problems and the summary.
    #[arg(short, long)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Dump(a) => dump(a),
        Cmd::Verify(a) => verify_cmd(a),
        Cmd::Rewrite(a) => rewrite_cmd(a),
        Cmd::Scan(a) => scan_cmd(a),
        Cmd::Hashtable(a) => hashtable_cmd(a),
        Cmd::Diff(a) => diff_cmd(a),
    };
    match r {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hfile: {e}");
            ExitCode::from(2)
        }
    }
}

/// Row and time filters of a dump.
struct Filter {
    start: Option<Vec<u8>>,
    stop: Option<Vec<u8>>,
    prefix: Option<Vec<u8>>,
    exact: Option<Vec<u8>>,
    ts: (i64, i64),
}

enum Verdict {
    Skip,
    Take,
    Done,
}

impl Filter {
    fn seek_row(&self) -> Option<&[u8]> {
        [&self.exact, &self.start, &self.prefix]
            .into_iter()
            .flatten()
            .map(Vec::as_slice)
            .max()
    }
    fn check(&self, f: &HFile, c: &Cell<'_>) -> Verdict {
        let row = c.key.row();
        let o = |a: &[u8], b: &[u8]| f.order.compare_rows(a, b);
        if let Some(e) = &self.exact {
            match o(row, e) {
                std::cmp::Ordering::Less => return Verdict::Skip,
                std::cmp::Ordering::Greater => return Verdict::Done,
                _ => {}
            }
        }
        if let Some(s) = &self.start {
            if o(row, s).is_lt() {
                return Verdict::Skip;
            }
        }
        if let Some(s) = &self.stop {
            if o(row, s).is_ge() {
                return Verdict::Done;
            }
        }
        if let Some(p) = &self.prefix {
            if !row.starts_with(p) {
                return if row > p.as_slice() {
                    Verdict::Done
                } else {
                    Verdict::Skip
                };
            }
        }
        let ts = c.key.timestamp();
        if ts < self.ts.0 || ts >= self.ts.1 {
            return Verdict::Skip;
        }
        Verdict::Take
    }
}

fn parse_row(s: &Option<String>) -> Result<Option<Vec<u8>>, Error> {
    s.as_deref().map(from_string_binary).transpose()
}

fn parse_range(s: &str) -> Result<(i64, i64), Error> {
    let (a, b) = s
        .split_once("..")
        .ok_or_else(|| Error::usage(format!("--time-range {s:?}: expected FROM..TO")))?;
    let num = |x: &str, d: i64| -> Result<i64, Error> {
        if x.is_empty() {
            Ok(d)
        } else {
            x.parse()
                .map_err(|_| Error::usage(format!("--time-range {s:?}: {x:?} is not a number")))
        }
    };
    Ok((num(a, i64::MIN)?, num(b, i64::MAX)?))
}

fn usage_exit(e: Error) -> io::Result<u8> {
    eprintln!("hfile: {e}");
    Ok(2)
}

use hbkit::json::push_binary as push_json_bytes;

fn push_cell_json(out: &mut Vec<u8>, c: &Cell<'_>, with_value: bool) {
    out.extend_from_slice(b"{\"kind\":\"cell\",\"row\":");
    push_json_bytes(out, c.key.row());
    out.extend_from_slice(b",\"family\":");
    push_json_bytes(out, c.key.family());
    out.extend_from_slice(b",\"qualifier\":");
    push_json_bytes(out, c.key.qualifier());
    out.extend_from_slice(b",\"timestamp\":");
    out.extend_from_slice(c.key.timestamp().to_string().as_bytes());
    out.extend_from_slice(b",\"type\":\"");
    out.extend_from_slice(hbkit::cell::type_name(c.key.type_code()).as_bytes());
    out.extend_from_slice(b"\",\"seqid\":");
    out.extend_from_slice(c.seq_id.to_string().as_bytes());
    out.extend_from_slice(b",\"vlen\":");
    out.extend_from_slice(c.value.len().to_string().as_bytes());
    if with_value {
        out.extend_from_slice(b",\"value\":");
        push_json_bytes(out, c.value);
        out.extend_from_slice(b",\"tags\":[");
        for (i, t) in c.tags().flatten().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(format!("{{\"type\":{},\"value\":", t.0).as_bytes());
            push_json_bytes(out, t.1);
            out.push(b'}');
        }
        out.push(b']');
    }
    out.extend_from_slice(b"}\n");
}

fn push_cell_text(out: &mut Vec<u8>, c: &Cell<'_>, with_value: bool) {
    out.extend_from_slice(b"K: ");
    c.push_text(out);
    if with_value {
        out.extend_from_slice(b" V: ");
        push_string_binary(out, c.value);
        for (i, t) in c.tags().flatten().enumerate() {
            out.extend_from_slice(
                format!(" T[{i}]: [Tag type : {}, value : ", t.0 as i8).as_bytes(),
            );
            push_string_binary(out, t.1);
            out.push(b']');
        }
    }
    out.push(b'\n');
}

/// Print the cells of `f` (`-p`/`-e`, text or NDJSON) that pass `filter`, formatting
/// blocks on all cores a window at a time and writing them in file order. Everything
/// before a damaged block is written before its error is returned. Returns the cells printed.
fn dump_cells_parallel(
    f: &HFile,
    filter: &Filter,
    with_value: bool,
    json: bool,
    out: &mut impl Write,
) -> hbkit::Result<u64> {
    use rayon::prelude::*;
    let Some(first) = f.first_block_for(filter.seek_row())? else {
        return Ok(0);
    };
    let offsets = f.data_block_offsets(first)?;
    let window = 8 * rayon::current_num_threads();
    let mut total = 0u64;
    // One text buffer per block of the window, reused from window to window.
    let mut texts: Vec<Vec<u8>> = (0..window).map(|_| Vec::new()).collect();
    for chunk in offsets.chunks(window) {
        // Per block: the cells printed, whether the filter said stop, or an error after
        // the text of the cells before it.
        let parts: Vec<(u64, bool, Option<Error>)> = chunk
            .par_iter()
            .zip(texts.par_iter_mut())
            .map(|(&off, text)| {
                text.clear();
                let mut n = 0u64;
                let r = (|| -> hbkit::Result<bool> {
                    let raw = f.block(off)?;
                    let mut dec = f.open_data_block(&raw, Vec::new())?;
                    while let Some(c) = dec.next_cell().map_err(|e| {
                        e.rebase(off + u64::from(raw.header.header_size))
                            .in_file(f.path())
                    })? {
                        match filter.check(f, &c) {
                            Verdict::Skip => continue,
                            Verdict::Done => return Ok(true),
                            Verdict::Take => {}
                        }
                        n += 1;
                        if json {
                            push_cell_json(text, &c, with_value);
                        } else {
                            push_cell_text(text, &c, with_value);
                        }
                    }
                    Ok(false)
                })();
                match r {
                    Ok(done) => (n, done, None),
                    Err(e) => (n, true, Some(e)),
                }
            })
            .collect();
        if let (Some(&lo), Some(&hi)) = (chunk.first(), chunk.last()) {
            f.done_with(lo, hi.saturating_add(1));
        }
        for ((n, done, err), text) in parts.into_iter().zip(&texts) {
            out.write_all(text).map_err(|e| Error::io(f.path(), e))?;
            total += n;
            if let Some(e) = err {
                return Err(e);
            }
            if done {
                return Ok(total);
            }
        }
    }
    Ok(total)
}

fn dump(mut a: DumpArgs) -> io::Result<u8> {
    let filter = match (|| -> Result<Filter, Error> {
        let exact = parse_row(&a.seek_to_row)?;
        if exact.as_deref() == Some(b"") {
            return Err(Error::usage(
                "Invalid row is specified: -w needs a non-empty row",
            ));
        }
        Ok(Filter {
            start: parse_row(&a.start_row)?,
            stop: parse_row(&a.stop_row)?,
            prefix: parse_row(&a.prefix)?,
            exact,
            ts: a
                .time_range
                .as_deref()
                .map(parse_range)
                .transpose()?
                .unwrap_or((i64::MIN, i64::MAX)),
        })
    })() {
        Ok(f) => f,
        Err(e) => return usage_exit(e),
    };
    let mut inputs = std::mem::take(&mut a.files);
    inputs.append(&mut a.paths);
    if inputs.is_empty() {
        return usage_exit(Error::usage(
            "no input: give HFiles or directories (see hfile dump --help)",
        ));
    }
    let (files, _) = match hbkit::walk::hfiles(&inputs) {
        Ok(x) => x,
        Err(e) => return usage_exit(e),
    };
    if a.details {
        a.stats = true;
    }
    let print_key = a.printkv || a.printkey;
    if !(print_key
        || a.printmeta
        || a.printblocks
        || a.printblockheaders
        || a.stats
        || a.checkrow
        || a.verbose)
    {
        a.printmeta = true;
    }
    let scan = print_key || a.stats || a.checkrow || a.verbose;
    // Printing cells only (no order check, statistics or limit): blocks are decoded and
    // formatted on every core, and written in file order.
    let parallel = print_key
        && !a.stats
        && !a.checkrow
        && a.limit.is_none()
        && rayon::current_num_threads() > 1;
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 20, stdout.lock());
    let mut buf: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut total: u64 = 0;
    let mut code = 0u8;
    let mut remaining = a.limit.unwrap_or(u64::MAX);
    for path in &files {
        if a.verbose && !a.json {
            writeln!(out, "Scanning -> {}", path.display())?;
        }
        let f = match HFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                out.flush()?;
                eprintln!("hfile: {e}");
                code = 2;
                continue;
            }
        };
        if a.json {
            writeln!(
                out,
                "{}",
                serde_json::json!({"kind": "file", "path": path.display().to_string()})
            )?;
        }
        if scan && parallel {
            let res = dump_cells_parallel(&f, &filter, a.printkv, a.json, &mut out);
            match res {
                Ok(n) => total += n,
                Err(e) => {
                    if let ErrorKind::Io = e.kind {
                        if e.message.contains("Broken pipe") {
                            return Ok(0);
                        }
                    }
                    out.flush()?;
                    eprintln!("hfile: {e}");
                    code = 2;
                    continue;
                }
            }
            meta_sections(&mut out, &f, &a)?;
        } else if scan {
            let mut stats = pretty::Stats::default();
            let mut prev: Option<Vec<u8>> = None;
            let mut count_file = 0u64;
            let res = (|| -> hbkit::Result<()> {
                let mut s = match filter.seek_row() {
                    Some(r) => f.scanner_at_row(r)?,
                    None => f.scanner(),
                };
                while remaining > 0 {
                    let Some(c) = s.next_cell()? else { break };
                    match filter.check(&f, &c) {
                        Verdict::Skip => continue,
                        Verdict::Done => break,
                        Verdict::Take => {}
                    }
                    remaining -= 1;
                    count_file += 1;
                    if a.stats {
                        stats.add(&c);
                    }
                    if print_key {
                        if a.json {
                            push_cell_json(&mut buf, &c, a.printkv);
                        } else {
                            push_cell_text(&mut buf, &c, a.printkv);
                        }
                        if buf.len() >= 1 << 20 {
                            out.write_all(&buf).map_err(|e| Error::io(path, e))?;
                            buf.clear();
                        }
                    }
                    if a.checkrow {
                        if let Some(p) = &prev {
                            if f.compare_keys(p, c.key.raw()).is_gt() {
                                out.write_all(&buf).map_err(|e| Error::io(path, e))?;
                                buf.clear();
                                out.flush().map_err(|e| Error::io(path, e))?;
                                let pk = hbkit::cell::Key::parse(p)
                                    .map(|k| k.key_string())
                                    .unwrap_or_default();
                                let what = if f
                                    .order
                                    .compare_rows(
                                        hbkit::cell::Key::parse(p).map(|k| k.row()).unwrap_or(&[]),
                                        c.key.row(),
                                    )
                                    .is_gt()
                                {
                                    "previous row is greater then current row"
                                } else {
                                    "previous cell is greater then current cell"
                                };
                                eprintln!(
                                    "WARNING, {what}\n\tfilename -> {}\n\tprevious -> {pk}\n\tcurrent  -> {}",
                                    path.display(),
                                    c.key.key_string()
                                );
                            }
                        }
                        prev = Some(c.key.raw().to_vec());
                    }
                }
                Ok(())
            })();
            out.write_all(&buf)?;
            buf.clear();
            total += count_file;
            if let Err(e) = res {
                if let ErrorKind::Io = e.kind {
                    if e.message.contains("Broken pipe") {
                        return Ok(0);
                    }
                }
                out.flush()?;
                eprintln!("hfile: {e}");
                code = 2;
                continue;
            }
            if a.stats && !a.printmeta && !a.printblocks && !a.printblockheaders {
                write_stats(&mut out, &mut stats, a.json, a.details)?;
                continue;
            }
            meta_sections(&mut out, &f, &a)?;
            if a.stats {
                write_stats(&mut out, &mut stats, a.json, a.details)?;
            }
        } else {
            meta_sections(&mut out, &f, &a)?;
        }
    }
    if (a.verbose || print_key) && code == 0 && !a.json {
        writeln!(out, "Scanned kv count -> {total}")?;
    }
    out.flush()?;
    Ok(code)
}

fn write_stats(
    out: &mut impl Write,
    stats: &mut pretty::Stats,
    json: bool,
    details: bool,
) -> io::Result<()> {
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"kind": "stats", "stats": stats.json()})
        )
    } else {
        write!(out, "{}", stats.text(details))
    }
}

fn meta_sections(out: &mut impl Write, f: &HFile, a: &DumpArgs) -> io::Result<()> {
    if a.printmeta {
        if a.json {
            writeln!(out, "{}", meta_json(f))?;
        } else {
            write!(out, "{}", pretty::meta_text(f))?;
        }
    }
    if a.printblocks {
        if a.json {
            let entries: Vec<_> = f
                .root_index
                .iter()
                .map(|e| serde_json::json!({"key": key_json(&e.key), "offset": e.offset, "size": e.on_disk_size}))
                .collect();
            writeln!(
                out,
                "{}",
                serde_json::json!({"kind": "block_index", "levels": f.trailer.num_data_index_levels, "root": entries})
            )?;
        } else {
            write!(out, "{}", pretty::block_index_text(f))?;
        }
    }
    if a.printblockheaders {
        if !a.json {
            writeln!(out, "Block Headers:")?;
        }
        let end = f.len() - f.trailer.trailer_size as u64;
        let mut off = 0u64;
        while off < end {
            match f.block(off) {
                Ok(raw) => {
                    let h = raw.header;
                    let mut buf = Vec::new();
                    let start: Vec<u8> = raw
                        .payload(f.compression, &mut buf)
                        .map(|p| p.get(..32).unwrap_or(p).to_vec())
                        .unwrap_or_default();
                    if a.json {
                        writeln!(out, "{}", serde_json::json!({"kind": "block", "header": h}))?;
                    } else {
                        writeln!(out, "{}", pretty::block_header_line(&h, &start))?;
                    }
                    off += h.on_disk_size_with_header();
                }
                Err(e) => {
                    out.flush()?;
                    eprintln!("hfile: {e}");
                    break;
                }
            }
        }
    }
    Ok(())
}

fn key_json(k: &[u8]) -> String {
    hbkit::cell::Key::parse(k)
        .map(|k| k.key_string())
        .unwrap_or_else(|_| to_string_binary(k))
}

fn meta_json(f: &HFile) -> serde_json::Value {
    let fi: serde_json::Map<String, serde_json::Value> = f
        .file_info
        .map
        .iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(k).into_owned(),
                serde_json::Value::String(hbkit::hfile::fileinfo::FileInfo::render(k, v)),
            )
        })
        .collect();
    let bloom = |b: &Option<hbkit::hfile::reader::Bloom>| {
        b.as_ref()
            .map(|b| serde_json::to_value(&b.meta).unwrap_or_default())
    };
    serde_json::json!({
        "kind": "meta",
        "path": f.path().display().to_string(),
        "length": f.len(),
        "trailer": f.trailer,
        "compression": f.compression.name(),
        "encoding": f.encoding.name(),
        "includes_tags": f.flags.tags,
        "includes_mvcc": f.flags.mvcc,
        "tags_compressed": f.flags.tags_compressed,
        "first_key": f.first_key().map(key_json),
        "last_key": f.last_key().map(key_json),
        "mid_key": f.mid_key().ok().flatten().map(|k| key_json(&k)),
        "file_info": fi,
        "bloom_type": f.bloom_type.name(),
        "general_bloom": bloom(&f.general_bloom),
        "delete_family_bloom": bloom(&f.delete_family_bloom),
        "meta_blocks": f.meta_index.iter().map(|e| to_string_binary(&e.key)).collect::<Vec<_>>(),
    })
}

fn verify_cmd(a: VerifyArgs) -> io::Result<u8> {
    use rayon::prelude::*;
    if let Some(n) = a.threads {
        if let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
        {
            return usage_exit(Error::usage(format!("--threads: {e}")));
        }
    }
    let (files, skipped) = match hbkit::walk::hfiles(&a.paths) {
        Ok(x) => x,
        Err(e) => return usage_exit(e),
    };
    let bytes: u64 = files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = (io::stderr().is_terminal() && (files.len() > 1 || bytes > 64 << 20)).then(|| {
        let b = indicatif::ProgressBar::new(bytes);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "verify {bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let reports: Vec<Report> = files
        .par_iter()
        .map(|p| {
            let r = verify::verify_file(p);
            if let Some(b) = &bar {
                b.inc(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0));
            }
            r
        })
        .collect();
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let (mut clean, mut bad, mut unreadable) = (0, 0, 0);
    for r in &reports {
        match r.status {
            Status::Clean => clean += 1,
            Status::Problems => bad += 1,
            Status::Unreadable => unreadable += 1,
        }
        if a.json {
            writeln!(out, "{}", serde_json::to_string(r).unwrap_or_default())?;
            continue;
        }
        match r.status {
            Status::Clean if a.quiet => {}
            Status::Clean => writeln!(
                out,
                "OK       {} (v{}, {} cells, {} blocks, {} bloom keys checked)",
                r.path.display(),
                r.version.as_deref().unwrap_or("?"),
                r.cells,
                r.blocks.values().sum::<u64>(),
                r.bloom_keys_checked
            )?,
            Status::Problems | Status::Unreadable => {
                let label = if r.status == Status::Problems {
                    "PROBLEMS"
                } else {
                    "UNREADABLE"
                };
                writeln!(
                    out,
                    "{label} {}: {} problem(s)",
                    r.path.display(),
                    r.problems.len() as u64 + r.problems_not_shown
                )?;
                for p in &r.problems {
                    let at = p
                        .offset
                        .map(|o| format!("at byte {o}"))
                        .unwrap_or_else(|| "file".to_string());
                    let bt = p
                        .block_type
                        .map(|b| format!(" ({b} block)"))
                        .unwrap_or_default();
                    writeln!(out, "  {at}{bt}: [{}] {}", p.check, p.message)?;
                }
                if r.problems_not_shown > 0 {
                    writeln!(out, "  ... and {} more", r.problems_not_shown)?;
                }
            }
        }
    }
    if !a.json {
        let skip = if skipped > 0 {
            format!(" ({skipped} non-HFile files skipped)")
        } else {
            String::new()
        };
        writeln!(out, "verified {} file(s): {clean} clean, {bad} with problems, {unreadable} unreadable{skip}", reports.len())?;
    }
    out.flush()?;
    Ok(if unreadable > 0 {
        2
    } else if bad > 0 {
        1
    } else {
        0
    })
}

// ---------------------------------------------------------------------------------------
// hfile rewrite

#[derive(Args)]
#[command(
    after_help = "Options not given keep the input's setting (compression, encoding, bloom type and prefix \
length, checksum type and bytes per checksum); the block size, which no HFile records, defaults to 65536. Values \
use HBase's names, case-insensitive, as `describe` prints them:\n  --compression NONE|GZ|SNAPPY|LZ4|ZSTD\n  \
--encoding NONE|PREFIX|DIFF|FAST_DIFF|ROW_INDEX_V1\n  --bloom NONE|ROW|ROWCOL|ROWPREFIX_FIXED_LENGTH\n  \
--checksum NULL|CRC32|CRC32C\n\nEvery cell is kept with its tags and sequence id. Store-file metadata that \
still holds is kept (MAX_SEQ_ID_KEY, MAJOR_COMPACTION_KEY, BULKLOAD_*, EXCLUDE_FROM_MINOR_COMPACTION, \
COMPACTION_EVENT_KEY, HISTORICAL, hfile.CREATE_TIME_TS, other non-standard FileInfo keys, meta blocks); \
what depends on the cells or the options is recomputed (TIMERANGE, EARLIEST_PUT_TS, DELETE_FAMILY_COUNT, \
blooms, index, averages). The output is written to a hidden temporary file beside OUT and renamed into \
place only when complete (and, with --verify, clean). IN is opened read-only.\n\nExit codes: 0 written; \
2 nothing written (bad arguments, unreadable input, OUT exists, write or verify failure)."
)]
struct RewriteArgs {
    /// The HFile to read (never modified).
    #[arg(value_name = "IN")]
    input: PathBuf,
    /// Where to write the new HFile.
    #[arg(value_name = "OUT")]
    output: PathBuf,
    /// Block compression: NONE, GZ, SNAPPY, LZ4, ZSTD.
    #[arg(long, value_name = "CODEC", value_parser = parse_compression)]
    compression: Option<hbkit::codec::Compression>,
    /// Data block encoding: NONE, PREFIX, DIFF, FAST_DIFF, ROW_INDEX_V1.
    #[arg(long, value_name = "ENCODING", value_parser = parse_encoding)]
    encoding: Option<hbkit::hfile::encoding::Encoding>,
    /// Bloom filter: NONE, ROW, ROWCOL, ROWPREFIX_FIXED_LENGTH.
    #[arg(long, value_name = "TYPE", value_parser = parse_bloom)]
    bloom: Option<hbkit::hfile::bloom::BloomType>,
    /// Prefix length for ROWPREFIX_FIXED_LENGTH blooms.
    #[arg(long, value_name = "N")]
    bloom_prefix_len: Option<usize>,
    /// Target data block size in bytes (K/M suffixes accepted) [default: 65536].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    block_size: Option<usize>,
    /// Block checksum type: NULL, CRC32, CRC32C.
    #[arg(long, value_name = "TYPE", value_parser = parse_checksum)]
    checksum: Option<hbkit::codec::ChecksumType>,
    /// Bytes per checksum chunk (at least 33).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    bytes_per_checksum: Option<usize>,
    /// Re-read and verify the output before renaming it into place.
    #[arg(long)]
    verify: bool,
    /// Replace OUT if it exists (never IN itself).
    #[arg(long)]
    force: bool,
    /// Threads compressing blocks (default: all cores when compressing).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

fn parse_compression(s: &str) -> Result<hbkit::codec::Compression, String> {
    hbkit::codec::Compression::from_name(s)
        .ok_or_else(|| format!("unknown compression {s:?} (NONE, GZ, SNAPPY, LZ4, ZSTD)"))
}

fn parse_encoding(s: &str) -> Result<hbkit::hfile::encoding::Encoding, String> {
    hbkit::hfile::encoding::Encoding::from_name(s).ok_or_else(|| {
        format!("unknown data block encoding {s:?} (NONE, PREFIX, DIFF, FAST_DIFF, ROW_INDEX_V1)")
    })
}

fn parse_bloom(s: &str) -> Result<hbkit::hfile::bloom::BloomType, String> {
    hbkit::hfile::bloom::BloomType::from_name(s).ok_or_else(|| {
        format!("unknown bloom type {s:?} (NONE, ROW, ROWCOL, ROWPREFIX_FIXED_LENGTH)")
    })
}

fn parse_checksum(s: &str) -> Result<hbkit::codec::ChecksumType, String> {
    hbkit::codec::ChecksumType::from_name(s)
        .ok_or_else(|| format!("unknown checksum type {s:?} (NULL, CRC32, CRC32C)"))
}

fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (num, mul) = if let Some(n) = lower.strip_suffix('k') {
        (n, 1024)
    } else if let Some(n) = lower.strip_suffix('m') {
        (n, 1 << 20)
    } else {
        (lower.as_str(), 1)
    };
    num.parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(mul))
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{s:?} is not a positive size in bytes"))
}

fn rewrite_cmd(a: RewriteArgs) -> io::Result<u8> {
    match rewrite(&a) {
        Ok(msg) => {
            println!("{msg}");
            Ok(0)
        }
        Err(e) => {
            eprintln!("hfile: {e}");
            Ok(2)
        }
    }
}

fn rewrite(a: &RewriteArgs) -> Result<String, Error> {
    use hbkit::codec::{ChecksumType, Compression};
    use hbkit::hfile::bloom::BloomType;
    use hbkit::hfile::encoding::Encoding;
    use hbkit::hfile::fileinfo::keys;
    use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};

    let usage = |m: String| Error::new(ErrorKind::Usage, "rewrite", m);
    if a.output.is_dir() {
        return Err(usage(format!("{} is a directory", a.output.display())));
    }
    if a.output.symlink_metadata().is_ok() {
        let same = match (
            std::fs::canonicalize(&a.input),
            std::fs::canonicalize(&a.output),
        ) {
            (Ok(i), Ok(o)) => i == o,
            _ => false,
        };
        if same {
            return Err(usage(format!(
                "OUT {} is the input file; the input is never overwritten",
                a.output.display()
            )));
        }
        if !a.force {
            return Err(usage(format!(
                "{} exists (use --force to replace it)",
                a.output.display()
            )));
        }
    }
    let f = HFile::open(&a.input)?;
    if f.order != hbkit::cell::Order::Normal {
        return Err(usage(format!(
            "{} uses the {:?} cell order; only user-table HFiles can be rewritten",
            a.input.display(),
            f.order
        )));
    }
    let fi = &f.file_info;
    let header = f.load_on_open.first();
    let compression = a.compression.unwrap_or(f.compression);
    let bloom = a.bloom.unwrap_or(f.bloom_type);
    let input_prefix = fi
        .get_i32(keys::BLOOM_FILTER_PARAM)
        .and_then(|n| usize::try_from(n).ok());
    // Keys the writer recomputes (or takes from StoreMeta); every other non-`hfile.` key
    // is passed through unchanged.
    let recomputed = [
        keys::MAX_SEQ_ID_KEY,
        keys::MAJOR_COMPACTION_KEY,
        keys::TIMERANGE,
        keys::EARLIEST_PUT_TS,
        keys::BLOOM_FILTER_TYPE,
        keys::BLOOM_FILTER_PARAM,
        keys::LAST_BLOOM_KEY,
        keys::DELETE_FAMILY_COUNT,
        keys::BULKLOAD_TIMESTAMP,
        keys::EXCLUDE_FROM_MINOR_COMPACTION,
        keys::DATA_BLOCK_ENCODING,
        keys::MAX_MEMSTORE_TS_KEY,
        keys::KEY_VALUE_VERSION,
    ];
    let extra: Vec<(Vec<u8>, Vec<u8>)> = fi
        .map
        .iter()
        .filter(|(k, _)| {
            !k.starts_with(b"hfile.") && !recomputed.iter().any(|r| r.as_bytes() == k.as_slice())
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let store_file = fi.get(keys::MAX_SEQ_ID_KEY).is_some()
        || fi.get(keys::TIMERANGE).is_some()
        || bloom != BloomType::None;
    let threads = a.threads.unwrap_or_else(|| {
        if compression == Compression::None {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    });
    let defaults = WriterOptions::default();
    let opts = WriterOptions {
        block_size: a.block_size.unwrap_or(defaults.block_size),
        compression,
        encoding: a.encoding.unwrap_or(f.encoding),
        checksum: a.checksum.unwrap_or_else(|| {
            header
                .and_then(|h| h.checksum_type)
                .unwrap_or(ChecksumType::Crc32c)
        }),
        bytes_per_checksum: match a.bytes_per_checksum {
            Some(n) => u32::try_from(n)
                .map_err(|_| usage(format!("--bytes-per-checksum {n} is too large")))?,
            None => header
                .map(|h| h.bytes_per_checksum)
                .filter(|n| *n as usize >= 33)
                .unwrap_or(defaults.bytes_per_checksum),
        },
        bloom,
        bloom_prefix_len: a.bloom_prefix_len.or(input_prefix).unwrap_or(0),
        include_tags: f.flags.tags,
        include_mvcc: f.flags.mvcc,
        compress_tags: f.flags.tags_compressed || f.encoding == Encoding::None,
        create_time: fi
            .get_i64(keys::CREATE_TIME_TS)
            .unwrap_or(defaults.create_time),
        family: None,
        store_file_metadata: store_file,
        file_info: extra,
        compress_threads: threads,
        ..defaults
    };
    let meta = StoreMeta {
        max_seq_id: fi.get_i64(keys::MAX_SEQ_ID_KEY).unwrap_or(0),
        major_compaction: fi.get_bool(keys::MAJOR_COMPACTION_KEY).unwrap_or(false),
        bulkload_time: fi.get_i64(keys::BULKLOAD_TIMESTAMP),
        exclude_from_minor_compaction: fi.get_bool(keys::EXCLUDE_FROM_MINOR_COMPACTION),
        compacted_store_files: Vec::new(),
    };

    let mut w = HFileWriter::create(&a.output, opts)?;
    for e in &f.meta_index {
        let (_, p) = f.block_payload(e.offset)?;
        w.append_meta_block(&e.key, p.bytes())?;
    }
    let mut s = f.scanner();
    while let Some(c) = s.next_cell()? {
        w.append(&c)?;
    }
    let done = w.finish_unrenamed(meta)?;
    let entries = done.summary().entries;
    if entries != f.trailer.entry_count {
        return Err(usage(format!(
            "wrote {entries} cells but the input's trailer declares {}; nothing written",
            f.trailer.entry_count
        )));
    }
    let mut note = String::new();
    if a.verify {
        let r = verify::verify_file(done.temp_path());
        if r.status != Status::Clean || r.cells != entries {
            let mut m = format!(
                "the output failed verification ({} cells read of {entries}); nothing written",
                r.cells
            );
            for p in r.problems.iter().take(5) {
                m.push_str(&format!("\n  {}: {}", p.check, p.message));
            }
            return Err(Error::new(ErrorKind::Corrupt, "rewrite", m));
        }
        note = ", verified clean".to_string();
    }
    let summary = done.commit()?;
    Ok(format!(
        "{} -> {}: {} cells, {} data blocks, {} index levels, {} bytes{note}",
        a.input.display(),
        a.output.display(),
        summary.entries,
        summary.data_blocks,
        summary.index_levels,
        summary.file_size
    ))
}

#[derive(Args)]
#[command(
    after_help = "Cells print as the `K: ... V: ...` lines of `hfile dump -p`. Rows and columns accept the \
Bytes.toStringBinary escaped form. --versions defaults to 1 as in the HBase shell and is capped by each family's \
VERSIONS (not in --raw mode).\n\n\
--filter takes the HBase shell's filter language (ParseFilter syntax) with HBase 2.6 semantics:\n  \
PrefixFilter('p')  ColumnPrefixFilter('p')  RowFilter(OP, CMP)  FamilyFilter(OP, CMP)\n  \
QualifierFilter(OP, CMP)  ValueFilter(OP, CMP)  TimestampsFilter(ts, ...)  PageFilter(n)\n  \
SingleColumnValueFilter('f', 'q', OP, CMP[, filterIfMissing, latestVersionOnly])\n  \
KeyOnlyFilter([lenAsVal])  FirstKeyOnlyFilter()  InclusiveStopFilter('row')\n  \
MultipleColumnPrefixFilter('p', ...)  ColumnRangeFilter('min', minIncl, 'max', maxIncl)\n  \
ColumnPaginationFilter(limit, offset)  ColumnCountGetFilter(n)\n  \
ColumnValueFilter('f', 'q', OP, CMP)  DependentColumnFilter('f', 'q'[, drop[, OP, CMP]])\n  \
SingleColumnValueExcludeFilter(same arguments as SingleColumnValueFilter)\n\
OP is < <= = != >= >; CMP is 'binary:..', 'binaryprefix:..', 'substring:..' (case-insensitive), \
'regexstring:..' or 'regexstringnocase:..' (substring/regex with = and != only). Combine with AND, OR \
(AND binds tighter), SKIP, WHILE and parentheses; '' inside a quoted string is a quote. With a filter, \
versions are counted up to the family's VERSIONS before the filter and --versions caps what it returns, \
as a region server does.\n\n\
--shell prints the HBase shell's scan layout (`ROW  COLUMN+CELL`, ` row column=f:q, timestamp=T, value=V`, \
`N row(s)`), or its get layout with --row; timestamps in UTC, no `Took` line.\n\n\
Example: hfile scan --shell --filter \"PrefixFilter('r0') AND ValueFilter(=, 'substring:err')\" TABLE_DIR"
)]
struct ScanArgs {
    /// A table dir (with .tabledesc), a region dir (with .regioninfo) or a snapshot dir
    /// (`<root>/.hbase-snapshot/<name>`, files resolved under `<root>/data` then `<root>/archive`).
    #[arg(value_name = "TABLE|REGION|SNAPSHOT_DIR")]
    path: PathBuf,
    /// Only this row (a get).
    #[arg(long, value_name = "ROW", conflicts_with_all = ["start_row", "stop_row", "prefix"])]
    row: Option<String>,
    /// First row (inclusive).
    #[arg(long, value_name = "ROW")]
    start_row: Option<String>,
    /// Row to stop before (exclusive).
    #[arg(long, value_name = "ROW")]
    stop_row: Option<String>,
    /// Only rows starting with PREFIX.
    #[arg(long, value_name = "PREFIX")]
    prefix: Option<String>,
    /// Columns `family` or `family:qualifier`, comma separated.
    #[arg(long, value_name = "F[:Q],...", value_delimiter = ',')]
    columns: Vec<String>,
    /// Only cells with FROM <= timestamp < TO (`FROM..TO`).
    #[arg(long, value_name = "FROM..TO")]
    time_range: Option<String>,
    /// Versions per column (default 1).
    #[arg(long, value_name = "N", default_value_t = 1)]
    versions: i64,
    /// Every cell and delete marker (no delete masking, no TTL).
    #[arg(long)]
    raw: bool,
    /// Clock in ms for TTL expiry (default: now).
    #[arg(long, value_name = "MS")]
    now: Option<i64>,
    /// Stop after N rows.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// NDJSON output.
    #[arg(long, conflicts_with = "shell")]
    json: bool,
    /// A server-side filter in the HBase shell's filter language, e.g.
    /// "PrefixFilter('r0') AND ValueFilter(=, 'substring:abc')".
    #[arg(long, value_name = "FILTER STRING")]
    filter: Option<String>,
    /// Print what the HBase shell's `scan` (or `get`, with --row) prints, timestamps in UTC.
    #[arg(long)]
    shell: bool,
    /// Also read each region's recovered.edits (WAL edits not yet flushed), as HBase's
    /// replay on region open would apply them.
    #[arg(long)]
    recovered_edits: bool,
    /// With --recovered-edits: use the intact entries of a damaged edits file, as HBase
    /// does, instead of failing.
    #[arg(long, requires = "recovered_edits")]
    accept_damaged_edits: bool,
}

fn scan_cmd(a: ScanArgs) -> io::Result<u8> {
    match scan_inner(&a) {
        Ok(()) => Ok(0),
        Err(ScanErr::Io(e)) => Err(e),
        Err(ScanErr::Hb(e)) => usage_exit(e),
    }
}

enum ScanErr {
    Io(io::Error),
    Hb(Error),
}
impl From<io::Error> for ScanErr {
    fn from(e: io::Error) -> Self {
        ScanErr::Io(e)
    }
}
impl From<Error> for ScanErr {
    fn from(e: Error) -> Self {
        ScanErr::Hb(e)
    }
}

fn scan_inner(a: &ScanArgs) -> Result<(), ScanErr> {
    use hbkit::layout;
    use hbkit::store::{scan_regions, ScanOptions, ScanSpec};
    let now = a.now.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    });
    let src = layout::snapshot::open_source(&a.path)?;
    for p in &src.problems {
        eprintln!("hfile: warning: {}: {}", p.path.display(), p.message);
    }
    let desc = src.descriptor;
    let regions = src.regions;
    let mut columns = Vec::new();
    for c in &a.columns {
        columns.push(match c.split_once(':') {
            Some((f, q)) => (from_string_binary(f)?, Some(from_string_binary(q)?)),
            None => (from_string_binary(c)?, None),
        });
    }
    let opts = ScanOptions {
        now,
        versions: a.versions,
        raw: a.raw,
        time_range: match &a.time_range {
            Some(s) => parse_range(s)?,
            None => (i64::MIN, i64::MAX),
        },
        columns,
    };
    let mut spec =
        ScanSpec::new(&desc, &opts).map_err(|e| Error::usage(format!("--columns: {e}")))?;
    if let Some(r) = parse_row(&a.row)? {
        spec.only_row(&r);
    }
    if let Some(s) = parse_row(&a.start_row)? {
        spec.start_row = s;
    }
    spec.stop_row = parse_row(&a.stop_row)?.or(spec.stop_row);
    spec.prefix = parse_row(&a.prefix)?;
    if let Some(fs) = &a.filter {
        spec.filter = Some(hbkit::store::filter::parse(fs)?);
    }
    let get = a.row.is_some();
    if a.recovered_edits {
        spec.recovered_edits = Some(hbkit::store::edits::EditsOptions {
            accept_damaged: a.accept_damaged_edits,
            ..Default::default()
        });
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut buf = Vec::new();
    let mut rows = 0u64;
    let mut last_row: Option<Vec<u8>> = None;
    let mut io_err: Option<io::Error> = None;
    if a.shell {
        if get {
            out.write_all(b"COLUMN  CELL\n")?;
        } else {
            out.write_all(b"ROW  COLUMN+CELL\n")?;
        }
    }
    scan_regions(&regions, &spec, &mut |cell| {
        let row = cell.key.row();
        if last_row.as_deref() != Some(row) {
            if a.limit.is_some_and(|l| rows >= l) {
                return Ok(false);
            }
            rows += 1;
            last_row = Some(row.to_vec());
        }
        buf.clear();
        if a.shell {
            push_cell_shell(&mut buf, cell, !get);
        } else if a.json {
            push_cell_json(&mut buf, cell, true);
        } else {
            push_cell_text(&mut buf, cell, true);
        }
        if let Err(e) = out.write_all(&buf) {
            io_err = Some(e);
            return Ok(false);
        }
        Ok(true)
    })?;
    if let Some(e) = io_err {
        return Err(e.into());
    }
    if a.shell {
        // A get answers one row at most; the shell counts it as 1 row(s) when non-empty.
        writeln!(out, "{rows} row(s)")?;
    }
    out.flush()?;
    Ok(())
}

/// One line of the HBase shell's `scan` (` ROW column=F:Q, timestamp=T, value=V`) or
/// `get` (` F:Q timestamp=T, value=V`) output as printed to a non-terminal (no column
/// padding): bytes in toStringBinary form, the timestamp as Java's LocalDateTime in UTC,
/// and `type=...` instead of the value for delete markers (raw scans).
fn push_cell_shell(out: &mut Vec<u8>, c: &Cell<'_>, with_row: bool) {
    out.push(b' ');
    if with_row {
        push_string_binary(out, c.key.row());
        out.extend_from_slice(b" column=");
    }
    push_string_binary(out, c.key.family());
    out.push(b':');
    push_string_binary(out, c.key.qualifier());
    out.extend_from_slice(if with_row {
        b", timestamp="
    } else {
        b" timestamp="
    });
    out.extend_from_slice(java_local_date_time(c.key.timestamp()).as_bytes());
    match c.key.key_type() {
        Some(t) if t.is_delete() => {
            out.extend_from_slice(b", type=");
            out.extend_from_slice(t.name().as_bytes());
        }
        _ => {
            out.extend_from_slice(b", value=");
            push_string_binary(out, c.value);
        }
    }
    out.push(b'\n');
}

/// `LocalDateTime.ofInstant(Instant.ofEpochMilli(ms), UTC).toString()`:
/// `yyyy-MM-ddTHH:mm`, then `:ss` when seconds or millis are non-zero, then `.SSS` when
/// millis are non-zero; years past 9999 get a `+`.
fn java_local_date_time(ms: i64) -> String {
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, mi, sec, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    let mut s = if year > 9999 {
        format!("+{year}")
    } else if year < 0 {
        format!("-{:04}", -year)
    } else {
        format!("{year:04}")
    };
    s.push_str(&format!("-{month:02}-{day:02}T{h:02}:{mi:02}"));
    if sec > 0 || milli > 0 {
        s.push_str(&format!(":{sec:02}"));
        if milli > 0 {
            s.push_str(&format!(".{milli:03}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::java_local_date_time as t;

    #[test]
    fn shell_timestamps_are_java_local_date_time_in_utc() {
        assert_eq!(t(0), "1970-01-01T00:00");
        assert_eq!(t(1000), "1970-01-01T00:00:01");
        assert_eq!(t(1), "1970-01-01T00:00:00.001");
        assert_eq!(t(-1), "1969-12-31T23:59:59.999");
        assert_eq!(t(1_700_100_000_000), "2023-11-16T02:00");
        assert_eq!(t(1_700_015_400_100), "2023-11-15T02:30:00.100");
        assert_eq!(t(951_782_400_000), "2000-02-29T00:00");
        assert_eq!(t(253_402_300_800_000), "+10000-01-01T00:00");
        assert_eq!(t(-62_198_755_200_000), "-0001-01-01T00:00");
        // i64::MAX is Java's LATEST_TIMESTAMP; it must not overflow.
        assert_eq!(t(i64::MAX), "+292278994-08-17T07:12:55.807");
        assert_eq!(t(i64::MIN), "-292275055-05-16T16:47:04.192");
    }
}
#[derive(Args)]
#[command(
    after_help = "HashTable option names map as: --batchsize=N -> --batch-size N, --numhashfiles=N -> \
--num-hash-files N, --startrow/--stoprow (hex) -> --start-row/--stop-row (escaped form, e.g. 'row\\x00'), \
--starttime/--endtime -> --time-range FROM..TO, --versions, --rawScan -> --raw, --families, \
--ignoreTimestamps -> --ignore-timestamps. --ignore-timestamps is not recorded in the manifest: pass the same \
flag to SyncTable or `hfile diff`.\n\n\
Examples:\n  hfile hashtable /backup/.hbase-snapshot/snap1 --out /tmp/ht\n  \
hfile hashtable /hbase/data/default/t1 --out /tmp/ht --batch-size 32000 --families cf\n\n\
Exit codes: 0 written; 2 could not run (bad arguments, unreadable input, missing store files, --out not empty)."
)]
struct HashtableArgs {
    /// A table dir, a region dir or a snapshot dir.
    #[arg(value_name = "TABLE|REGION|SNAPSHOT_DIR")]
    input: PathBuf,
    /// Output dir (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Target batch size in bytes (HashTable --batchsize).
    #[arg(long, value_name = "BYTES", default_value_t = hbkit::hashtable::DEFAULT_BATCH_SIZE)]
    batch_size: u64,
    /// Number of hash files (default: regions / 100, at least 1, at most the regions).
    #[arg(long, value_name = "N", default_value_t = 0)]
    num_hash_files: u32,
    #[command(flatten)]
    scan: HashScanArgs,
    /// Bytes between sync markers in the data files: 102400 as Hadoop 3 writes them,
    /// 2000 for files identical to a Hadoop 1/2 cluster's.
    #[arg(long, value_name = "BYTES", default_value_t = hbkit::seqfile::SYNC_INTERVAL)]
    sync_interval: u64,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct HashScanArgs {
    /// Families to hash, comma separated (default: all).
    #[arg(long, value_name = "F1,F2")]
    families: Option<String>,
    /// First row, inclusive (escaped form).
    #[arg(long, value_name = "ROW")]
    start_row: Option<String>,
    /// Row to stop before (escaped form).
    #[arg(long, value_name = "ROW")]
    stop_row: Option<String>,
    /// Only cells with FROM <= timestamp < TO (`FROM..TO`; an empty side is unbounded).
    #[arg(long, value_name = "FROM..TO")]
    time_range: Option<String>,
    /// Versions per column (default: the Scan default, 1).
    #[arg(long, value_name = "N")]
    versions: Option<i32>,
    /// Raw scan: delete markers and deleted cells are hashed too.
    #[arg(long)]
    raw: bool,
    /// Leave timestamps out of the digests (the 8 bytes still count toward batch size).
    #[arg(long)]
    ignore_timestamps: bool,
    /// Clock in ms for TTL expiry (default: now).
    #[arg(long, value_name = "MS")]
    now: Option<i64>,
}

impl HashScanArgs {
    fn options(&self) -> Result<hbkit::hashtable::HashOptions, Error> {
        let mut o = hbkit::hashtable::HashOptions {
            families: self.families.clone(),
            start_row: parse_row(&self.start_row)?.unwrap_or_default(),
            stop_row: parse_row(&self.stop_row)?.unwrap_or_default(),
            versions: self.versions.unwrap_or(-1),
            raw: self.raw,
            ignore_timestamps: self.ignore_timestamps,
            ..Default::default()
        };
        if let Some(n) = self.now {
            o.now = n;
        }
        if let Some(t) = &self.time_range {
            let (a, b) = parse_range(t)?;
            o.start_time = if a == i64::MIN { 0 } else { a };
            o.end_time = if b == i64::MAX { 0 } else { b };
        }
        Ok(o)
    }
    fn given(&self) -> bool {
        self.families.is_some()
            || self.start_row.is_some()
            || self.stop_row.is_some()
            || self.time_range.is_some()
            || self.versions.is_some()
            || self.raw
    }
}

fn hashtable_cmd(a: HashtableArgs) -> io::Result<u8> {
    let run = || -> Result<(hbkit::hashtable::Written, std::time::Duration), Error> {
        let mut opts = a.scan.options()?;
        opts.batch_size = a.batch_size;
        opts.num_hash_files = a.num_hash_files;
        let t = std::time::Instant::now();
        let src = hbkit::layout::snapshot::open_source(&a.input)?;
        for p in &src.problems {
            eprintln!("hfile: warning: {}: {}", p.path.display(), p.message);
        }
        let w = hbkit::hashtable::write_output(
            &src,
            &opts,
            &a.out,
            &hbkit::hashtable::OutputOptions {
                markers: None,
                sync_interval: a.sync_interval.max(1),
            },
        )?;
        Ok((w, t.elapsed()))
    };
    match run() {
        Ok((w, el)) => {
            let mut out = io::stdout().lock();
            if a.json {
                let mut v = serde_json::to_value(&w).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("out".into(), a.out.display().to_string().into());
                    o.insert("seconds".into(), el.as_secs_f64().into());
                }
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "wrote {}: {} regions, {} rows, {} cells, {} batches in {} hash files ({:.2}s)",
                    a.out.display(),
                    w.stats.regions,
                    w.stats.rows,
                    w.stats.cells,
                    w.stats.batches,
                    w.num_hash_files,
                    el.as_secs_f64()
                )?;
            }
            Ok(0)
        }
        Err(e) => usage_exit(e),
    }
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  hfile diff /src/.hbase-snapshot/s1 /dst/hbase/data/default/t1\n  \
hfile diff --ignore-timestamps --json /tmp/ht /dst/.hbase-snapshot/s1\n\n\
Exit codes: 0 equal; 1 different; 2 could not run."
)]
struct DiffArgs {
    /// Side A: table, region, snapshot or HashTable output dir.
    #[arg(value_name = "A")]
    a: PathBuf,
    /// Side B: table, region, snapshot or HashTable output dir.
    #[arg(value_name = "B")]
    b: PathBuf,
    /// Batch size used to cut A into ranges when A is not a HashTable output.
    #[arg(long, value_name = "BYTES", default_value_t = hbkit::hashtable::DEFAULT_BATCH_SIZE)]
    batch_size: u64,
    #[command(flatten)]
    scan: HashScanArgs,
    /// Stop listing cells after N differences (counting goes on).
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// NDJSON output: one object per difference, then a summary object.
    #[arg(long)]
    json: bool,
}

fn diff_cmd(a: DiffArgs) -> io::Result<u8> {
    use hbkit::hashtable::diff::{self, DiffOptions};
    let opts = match a.scan.options() {
        Ok(mut o) => {
            o.batch_size = a.batch_size;
            o
        }
        Err(e) => return usage_exit(e),
    };
    let dopts = DiffOptions {
        hash: opts,
        scan_options_given: a.scan.given(),
        limit: a.limit,
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut io_err: Option<io::Error> = None;
    let r = diff::diff(&a.a, &a.b, &dopts, &mut |d| {
        if io_err.is_some() {
            return;
        }
        let line = if a.json { d.to_json() } else { d.to_text() };
        if let Err(e) = writeln!(out, "{line}") {
            io_err = Some(e);
        }
    });
    if let Some(e) = io_err {
        return Err(e);
    }
    match r {
        Ok(sum) => {
            if a.json {
                writeln!(out, "{}", serde_json::to_string(&sum).unwrap_or_default())?;
            } else {
                writeln!(out, "{}", sum.to_text())?;
            }
            out.flush()?;
            Ok(if sum.equal() { 0 } else { 1 })
        }
        Err(e) => {
            out.flush()?;
            usage_exit(e)
        }
    }
}

const HASHTABLE_LONG: &str = "Compute what `hbase org.apache.hadoop.hbase.mapreduce.HashTable` writes, offline, from the \
store files of a table dir, a region dir or a snapshot dir (`<root>/.hbase-snapshot/<name>`, e.g. an \
ExportSnapshot), and write it in HBase's exact format: `partitions`, `manifest`, \
`hashes/part-r-NNNNN/{data,index}` and `hashes/_SUCCESS`. SyncTable can use the result as its source hashes, \
and `hfile diff` can compare against it.\n\n\
Each region is read with the same merged read as `hfile scan` (deletes, versions, TTL, time range). Rows are \
cut into batches of about --batch-size bytes that never span two regions; each batch is the MD5 of every \
cell's row, family, qualifier, timestamp (little-endian) and value. Regions are hashed in parallel.\n\n\
The output is written to a temporary dir beside --out, fsynced, and renamed into place only when complete.";

const DIFF_LONG: &str = "Compare A and B, each a table dir, a region dir, a snapshot dir or a HashTable output dir, \
the way SyncTable does: A is cut into HashTable batches (or A's HashTable output is read), B is hashed over \
exactly A's batch ranges, and only the ranges whose digests differ are read again on both sides and compared \
cell by cell. Region layouts of A and B need not match.\n\n\
Cells are matched on row, family, qualifier and timestamp (only row, family, qualifier and order with \
--ignore-timestamps). Each difference is printed as:\n  \
missing  K: ... V: ...   the cell is in A, not in B\n  \
extra    K: ... V: ...   the cell is in B, not in A\n  \
changed  K: ... V: ... -> K: ... V: ...   same column, other value (or, with timestamps, \
a lone version whose timestamp changed)\n\
When one side is only a HashTable output its cells are unknown: differing ranges are listed instead. \
When either side is a HashTable output, its manifest decides the families, rows, time range, versions and raw mode (do not give them).";
