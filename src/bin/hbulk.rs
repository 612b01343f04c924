//! `hbulk`: CSV to region-partitioned HFiles in HBase's bulk-load layout, plus the
//! pre-flight check and offline splitting of staging directories.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use hbkit::bulk::build::{build, default_memory, BuildOptions, BuildReport, RegionSource};
use hbkit::bulk::check::{check, families_of, split};
use hbkit::bulk::input::parse_separator;
use hbkit::bulk::regions::{Regions, TargetTable};
use hbkit::bulk::spec::RowKeySpec;
use hbkit::bulk::{now_ms, parse_size};
use hbkit::codec::Compression;
use hbkit::hfile::bloom::BloomType;
use hbkit::hfile::encoding::Encoding;
use hbkit::hfile::WriterOptions;
use hbkit::Error;

#[derive(Parser)]
#[command(
    name = "hbulk",
    version,
    about = "Build HBase bulk-load HFiles from CSV offline; check and split staging directories"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Build `<out>/<family>/<hfile>` from CSV inputs.
    Build(Box<BuildArgs>),
    /// Pre-flight check of a bulk-load staging directory.
    Check(CheckArgs),
    /// Cut HFiles of a staging directory at the region boundaries of a table.
    Split(SplitArgs),
}

#[derive(Args)]
struct BuildArgs {
    /// Input files (`-` = stdin); gzip and zstd are detected.
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Column spec, ImportTsv syntax (`HBASE_ROW_KEY,cf:a,HBASE_TS_KEY,...`; `T=name` by header).
    #[arg(long, short = 'c', allow_hyphen_values = true)]
    columns: Option<String>,
    /// Output directory.
    #[arg(long, short = 'o')]
    out: PathBuf,
    /// Composite row key (e.g. `salt(16),user,desc_long(ts)`).
    #[arg(long)]
    row_key: Option<String>,
    /// Bytes between row key parts (`\xHH` escapes).
    #[arg(long, default_value = "")]
    row_key_separator: String,
    /// Split points: one toStringBinary-escaped key per line.
    #[arg(long, conflicts_with_all = ["table_dir", "regions"])]
    split_file: Option<PathBuf>,
    /// Target table directory: split points from its live regions, family settings from
    /// its descriptor.
    #[arg(long, conflicts_with = "regions")]
    table_dir: Option<PathBuf>,
    /// Sample the input for N regions' split points (written to <out>/_hbulk_splits).
    #[arg(long)]
    regions: Option<usize>,
    /// Field separator: one or more bytes (`tab`, `\t`, `||`, `\x01`).
    #[arg(long, short = 's', default_value = ",")]
    separator: String,
    /// Quotes are data (ImportTsv's parsing) instead of RFC-4180 quoting.
    #[arg(long)]
    no_quoting: bool,
    /// The first record of every input is a header.
    #[arg(long)]
    header: bool,
    /// Timestamp (ms) of cells without HBASE_TS_KEY (default: now).
    #[arg(long)]
    timestamp: Option<i64>,
    /// Write no cell for empty fields.
    #[arg(long)]
    skip_empty: bool,
    /// Block codec: NONE, GZ, SNAPPY, LZ4, ZSTD (default: the family's COMPRESSION with
    /// --table-dir, else NONE).
    #[arg(long)]
    compression: Option<String>,
    /// Data block encoding: NONE, PREFIX, DIFF, FAST_DIFF, ROW_INDEX_V1 (default: the
    /// family's DATA_BLOCK_ENCODING with --table-dir, else NONE).
    #[arg(long)]
    encoding: Option<String>,
    /// Bloom type: NONE, ROW, ROWCOL (default: the family's BLOOMFILTER with --table-dir,
    /// else NONE).
    #[arg(long)]
    bloom: Option<String>,
    /// Data block size (default: the family's BLOCKSIZE with --table-dir, else 64K).
    #[arg(long)]
    block_size: Option<String>,
    /// Roll files past this many bytes of cells (hbase.hregion.max.filesize).
    #[arg(long, default_value = "10G")]
    max_file_size: String,
    /// Most files per region and family (hbase.mapreduce.bulkload.max.hfiles.perRegion.perFamily).
    #[arg(long, default_value_t = 32)]
    max_files_per_region: usize,
    /// Memory for sorting (default: a quarter of RAM), e.g. 256M.
    #[arg(long)]
    memory: Option<String>,
    /// Directory for sorted runs (default: the output directory).
    #[arg(long)]
    tmp: Option<PathBuf>,
    /// Write bad records here with their line numbers and reasons.
    #[arg(long)]
    reject: Option<PathBuf>,
    /// Fail when more than N bad records are found (default: no limit).
    #[arg(long)]
    max_bad_lines: Option<u64>,
    /// Build only the regions r with r % n == i (`i/n`).
    #[arg(long)]
    shard: Option<String>,
    /// Threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// Staging directory (`<dir>/<family>/<hfile>`).
    dir: PathBuf,
    /// Target table directory (region boundaries and families).
    #[arg(long)]
    table_dir: Option<PathBuf>,
    /// Split points instead of a table directory.
    #[arg(long, conflicts_with = "table_dir")]
    split_file: Option<PathBuf>,
    /// Most files per region and family.
    #[arg(long, default_value_t = 32)]
    max_files_per_region: usize,
    /// JSON report on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct SplitArgs {
    /// Staging directory (`<dir>/<family>/<hfile>`).
    dir: PathBuf,
    /// Target table directory.
    #[arg(long)]
    table_dir: Option<PathBuf>,
    /// Split points instead of a table directory.
    #[arg(long, conflicts_with = "table_dir")]
    split_file: Option<PathBuf>,
    /// Block size of the pieces.
    #[arg(long, default_value = "64K")]
    block_size: String,
    /// JSON report on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Build(a) => run_build(*a),
        Cmd::Check(a) => run_check(a),
        Cmd::Split(a) => run_split(a),
    };
    match r {
        Ok(c) => ExitCode::from(c),
        Err(e) => {
            eprintln!("hbulk: {e}");
            ExitCode::from(2)
        }
    }
}

fn regions_from(
    table_dir: &Option<PathBuf>,
    split_file: &Option<PathBuf>,
) -> Result<Option<Regions>, Error> {
    Ok(match (table_dir, split_file) {
        (Some(t), _) => Some(Regions::from_table_dir(t)?),
        (None, Some(f)) => Some(Regions::from_split_file(f)?),
        (None, None) => None,
    })
}

fn run_build(a: BuildArgs) -> Result<u8, Error> {
    if let Some(t) = a.threads {
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global();
    }
    let compression = match &a.compression {
        Some(c) => Some(
            Compression::from_name(c)
                .ok_or_else(|| Error::usage(format!("unknown compression {c:?}")))?,
        ),
        None => None,
    };
    let encoding = match &a.encoding {
        Some(e) => Some(
            Encoding::from_name(e)
                .ok_or_else(|| Error::usage(format!("unknown encoding {e:?}")))?,
        ),
        None => None,
    };
    let bloom = match &a.bloom {
        Some(b) => Some(
            BloomType::from_name(b)
                .ok_or_else(|| Error::usage(format!("unknown bloom type {b:?}")))?,
        ),
        None => None,
    };
    let block_size = match &a.block_size {
        Some(b) => Some(parse_size(b)? as usize),
        None => None,
    };
    let threads = a.threads.unwrap_or_else(rayon::current_num_threads);
    let writer = WriterOptions {
        compression: compression.unwrap_or(Compression::None),
        encoding: encoding.unwrap_or(Encoding::None),
        bloom: bloom.unwrap_or(BloomType::None),
        block_size: block_size.unwrap_or(64 << 10),
        compress_threads: threads,
        ..WriterOptions::default()
    };
    let target = match &a.table_dir {
        Some(t) => Some(TargetTable::read(t)?),
        None => None,
    };
    let family_writers = match &target {
        None => None,
        Some(t) => match &t.descriptor {
            Ok(d) => {
                let mut m = BTreeMap::new();
                for f in &d.families {
                    let bs = match block_size {
                        Some(b) => b,
                        None => {
                            let b = f.block_size()?;
                            usize::try_from(b).ok().filter(|b| *b > 0).ok_or_else(|| {
                                Error::usage(format!(
                                    "family {}: BLOCKSIZE {b} is not a positive size",
                                    hbkit::bytes::to_string_binary(&f.name)
                                ))
                            })?
                        }
                    };
                    let o = WriterOptions {
                        compression: match compression {
                            Some(c) => c,
                            None => f.compression()?,
                        },
                        encoding: match encoding {
                            Some(e) => e,
                            None => f.encoding()?,
                        },
                        bloom: match bloom {
                            Some(b) => b,
                            None => f.bloom()?,
                        },
                        block_size: bs,
                        ..writer.clone()
                    };
                    m.insert(f.name.clone(), o);
                }
                Some(m)
            }
            Err(e) => {
                if compression.is_none()
                    || encoding.is_none()
                    || bloom.is_none()
                    || block_size.is_none()
                {
                    return Err(Error::usage(format!(
                        "--table-dir: the table descriptor cannot be read ({e}), so the families' \
                         settings are unknown: give --compression, --encoding, --bloom and \
                         --block-size"
                    )));
                }
                None
            }
        },
    };
    let regions = match (&a.regions, &target, &a.split_file) {
        (Some(n), _, _) => RegionSource::Sample(*n),
        (None, Some(t), _) => RegionSource::Splits(t.regions.clone()),
        (None, None, Some(f)) => RegionSource::Splits(Regions::from_split_file(f)?),
        (None, None, None) => RegionSource::Single,
    };
    let shard = match &a.shard {
        None => None,
        Some(s) => {
            let (i, n) = s
                .split_once('/')
                .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
                .ok_or_else(|| Error::usage(format!("--shard {s:?}: expected i/n")))?;
            Some((i, n))
        }
    };
    let opts = BuildOptions {
        inputs: a.inputs,
        columns: a.columns,
        row_key: match &a.row_key {
            Some(s) => Some(RowKeySpec::parse(
                s,
                hbkit::bytes::from_string_binary(&a.row_key_separator)?,
            )?),
            None => None,
        },
        separator: parse_separator(&a.separator)?,
        quoting: !a.no_quoting,
        header: a.header,
        timestamp: a.timestamp.unwrap_or_else(now_ms),
        skip_empty: a.skip_empty,
        out: a.out,
        tmp: a.tmp,
        regions,
        writer,
        family_writers,
        max_file_size: parse_size(&a.max_file_size)?,
        max_files_per_region: a.max_files_per_region,
        memory: match &a.memory {
            Some(m) => parse_size(m)? as usize,
            None => default_memory(),
        },
        reject: a.reject,
        max_bad_lines: a.max_bad_lines,
        shard,
        progress: std::io::stderr().is_terminal(),
    };
    let rep = build(&opts)?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep).unwrap_or_default());
    } else {
        print_build(&rep);
    }
    Ok(0)
}

fn print_build(r: &BuildReport) {
    println!("records read:     {}", r.records);
    println!("bad lines:        {}", r.bad_lines);
    for (k, v) in &r.bad_by_reason {
        println!("  {k}: {v}");
    }
    if r.other_shard_records > 0 {
        println!("other shards:     {} records", r.other_shard_records);
    }
    println!("cells parsed:     {}", r.cells_parsed);
    println!("duplicates:       {} (last wins)", r.duplicates);
    println!("cells written:    {}", r.cells_written);
    println!("regions:          {}", r.regions);
    println!(
        "files:            {} ({} bytes)",
        r.files.len(),
        r.output_bytes
    );
    for (f, regs) in &r.files_per_region {
        let max = regs.values().max().copied().unwrap_or(0);
        println!(
            "  family {f}: {} files in {} regions (at most {max} per region)",
            regs.values().sum::<usize>(),
            regs.len()
        );
    }
    println!(
        "spilled runs:     {} ({} bytes)",
        r.spilled_runs, r.spilled_bytes
    );
    let mb = r.input_bytes as f64 / 1e6;
    println!(
        "time:             parse {:.2}s, write {:.2}s (sort {:.2}s) ({:.1} MB/s overall)",
        r.parse_seconds,
        r.write_seconds,
        r.sort_seconds,
        mb / (r.parse_seconds + r.write_seconds).max(1e-9)
    );
}

fn run_check(a: CheckArgs) -> Result<u8, Error> {
    let regions = regions_from(&a.table_dir, &a.split_file)?;
    let families = match &a.table_dir {
        Some(t) => families_of(t)?,
        None => None,
    };
    let rep = check(
        &a.dir,
        regions.as_ref(),
        families.as_deref(),
        a.max_files_per_region,
    )?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&rep).unwrap_or_default());
    } else {
        for f in &rep.files {
            let status = if f.problems.is_empty() { "OK" } else { "FAIL" };
            println!(
                "{status} {} cells={} rows={}..{}{}",
                f.path.display(),
                f.cells,
                f.first_row.as_deref().unwrap_or(""),
                f.last_row.as_deref().unwrap_or(""),
                f.region.map_or(String::new(), |r| format!(" region={r}"))
            );
            for p in &f.problems {
                println!("  {p}");
            }
        }
        for p in &rep.problems {
            println!("FAIL {p}");
        }
        println!(
            "{}: {} files",
            if rep.ok {
                "check passed"
            } else {
                "check FAILED"
            },
            rep.files.len()
        );
    }
    Ok(if rep.ok { 0 } else { 1 })
}

fn run_split(a: SplitArgs) -> Result<u8, Error> {
    let regions = regions_from(&a.table_dir, &a.split_file)?
        .ok_or_else(|| Error::usage("hbulk split needs --table-dir or --split-file"))?;
    let done = split(&a.dir, &regions, parse_size(&a.block_size)? as usize)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&done).unwrap_or_default()
        );
    } else {
        for s in &done {
            println!("{} -> {} pieces", s.source.display(), s.pieces.len());
            for p in &s.pieces {
                println!("  {}", p.display());
            }
        }
        println!("{} files split", done.len());
    }
    Ok(0)
}
