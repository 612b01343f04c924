//! `hcompact`: offline major (or minor) compaction of HBase stores, with HBase's delete,
//! version and TTL rules and the store-file metadata HBase writes.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use hbkit::layout::{self, Context, DirKind, Problem, Store, TableDescriptor};
use hbkit::store::compact::{self, Options, Overrides};
use hbkit::Error;
use rayon::prelude::*;

#[derive(Parser)]
#[command(
    name = "hcompact",
    version,
    about = "Compact HBase stores offline: every store file of a family into one HFile",
    long_about = "Compact HBase stores offline, without a cluster: each store (family dir) is merged into one new \
HFile, applying HBase's rules (Delete/DeleteColumn/DeleteFamily/DeleteFamilyVersion, VERSIONS, MIN_VERSIONS, TTL, \
KEEP_DELETED_CELLS) and written with the family's settings from the table descriptor and the store-file metadata \
HBase writes after a compaction.\n\nThe new file is written under a hidden temporary name, verified, and only then \
renamed into the family dir; the inputs are then moved to a sidecar dir (never deleted). Run it only while the table \
is offline (disabled, or the cluster down).",
    after_help = "Examples:\n  hcompact --dry-run /hbase/data/default/t1\n  hcompact --now 1700100000000 /hbase/data/default/t1/<region>\n  hcompact --out /tmp/compacted --compression GZ /hbase/data/default/t1/<region>/cf\n\nExit codes: 0 success; 1 some store failed; 2 could not run."
)]
struct Cli {
    /// Store (family) dirs, region dirs or table dirs.
    #[arg(value_name = "STORE|REGION|TABLE_DIR", required = true)]
    paths: Vec<PathBuf>,
    /// Clock in ms for TTL expiry (default: now).
    #[arg(long, value_name = "MS")]
    now: Option<i64>,
    /// Minor compaction: merge without dropping delete markers (MAJOR_COMPACTION_KEY=false).
    #[arg(long)]
    minor: bool,
    /// Print what would be merged and the expected cell counts; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Leave the input files in place after the output is committed.
    #[arg(long, conflicts_with = "out")]
    keep: bool,
    /// Move the inputs under DIR/<region>/<family>/ (default <region>/.hcompact-originals/<family>/).
    #[arg(long, value_name = "DIR", conflicts_with = "keep")]
    sidecar: Option<PathBuf>,
    /// Write outputs under DIR/<region>/<family>/ and leave the stores untouched.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Override the codec (NONE, GZ, SNAPPY, LZ4, ZSTD).
    #[arg(long, value_name = "CODEC")]
    compression: Option<String>,
    /// Override the data block encoding.
    #[arg(long, value_name = "ENC")]
    encoding: Option<String>,
    /// Override the bloom type (NONE, ROW, ROWCOL).
    #[arg(long, value_name = "TYPE")]
    bloom: Option<String>,
    /// Override the block size (bytes).
    #[arg(long, value_name = "BYTES")]
    block_size: Option<usize>,
    /// hbase.hstore.time.to.purge.deletes in ms.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    time_to_purge_deletes: i64,
    /// Stores compacted in parallel (default: all cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// One JSON report per store (NDJSON).
    #[arg(long)]
    json: bool,
    /// Merge the region's recovered.edits (WAL edits not yet flushed) into each store as
    /// HBase's replay on region open would: only edits of that store newer than its max
    /// sequence id. The output's MAX_SEQ_ID covers them, so HBase later skips them; the
    /// edits files are never deleted.
    #[arg(long)]
    recovered_edits: bool,
    /// Memory for sorting recovered edits per region before spilling to temp files.
    #[arg(long, value_name = "MB", default_value_t = 256)]
    edits_memory: usize,
    /// With --recovered-edits: use the intact entries of a damaged (truncated) edits file,
    /// as HBase does, instead of failing the store.
    #[arg(long, requires = "recovered_edits")]
    accept_damaged_edits: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("hcompact: {e}");
            ExitCode::from(2)
        }
    }
}

struct Job {
    store: Store,
    family: Result<hbkit::layout::FamilySchema, Error>,
}

fn collect(paths: &[PathBuf], problems: &mut Vec<Problem>) -> Result<Vec<Job>, Error> {
    let mut jobs = Vec::new();
    for p in paths {
        let ctx = Context::for_path(p);
        let kind = layout::dir_kind(p).ok_or_else(|| {
            Error::usage(format!(
                "{}: not a table dir (.tabledesc), region dir (.regioninfo) or family dir",
                p.display()
            ))
        })?;
        let regions: Vec<PathBuf> = match kind {
            DirKind::Region => vec![p.clone()],
            DirKind::Store => vec![],
            DirKind::Table => {
                let t = layout::read_table(p, &ctx, problems)?;
                // Split/merge parents (reported by read_table) are left alone: their
                // daughters' reference files point at their store files.
                t.regions
                    .into_iter()
                    .filter(|r| !r.superseded)
                    .map(|r| r.dir)
                    .collect()
            }
            DirKind::Root => {
                return Err(Error::usage(format!(
                    "{}: a root dir; name the table dirs to compact",
                    p.display()
                )))
            }
        };
        let stores: Vec<Store> = if kind == DirKind::Store {
            vec![layout::read_store(p, &ctx, problems)?]
        } else {
            let mut v = Vec::new();
            for r in regions {
                v.extend(layout::read_region(&r, &ctx, problems)?.stores);
            }
            v
        };
        for s in stores {
            let table_dir = s.dir.parent().and_then(Path::parent);
            let family = match table_dir {
                None => Err(Error::usage("store has no table dir above it")),
                Some(t) => TableDescriptor::read_table_dir(t).and_then(|(path, td)| {
                    td.family(&s.family).cloned().ok_or_else(|| {
                        Error::corrupt(
                            "table descriptor",
                            format!(
                                "family {} is not in the descriptor",
                                String::from_utf8_lossy(&s.family)
                            ),
                        )
                        .in_file(path)
                    })
                }),
            };
            jobs.push(Job { store: s, family });
        }
    }
    Ok(jobs)
}

fn run(cli: &Cli) -> Result<u8, Error> {
    let overrides = Overrides {
        compression: cli
            .compression
            .as_deref()
            .map(|s| {
                hbkit::codec::Compression::from_name(s)
                    .ok_or_else(|| Error::usage(format!("--compression {s:?}: unknown codec")))
            })
            .transpose()?,
        encoding: cli
            .encoding
            .as_deref()
            .map(|s| {
                hbkit::hfile::encoding::Encoding::from_name(s)
                    .ok_or_else(|| Error::usage(format!("--encoding {s:?}: unknown encoding")))
            })
            .transpose()?,
        bloom: cli
            .bloom
            .as_deref()
            .map(|s| {
                hbkit::hfile::bloom::BloomType::from_name(s)
                    .ok_or_else(|| Error::usage(format!("--bloom {s:?}: unknown bloom type")))
            })
            .transpose()?,
        block_size: cli.block_size,
    };
    let mut opts = Options {
        major: !cli.minor,
        time_to_purge_deletes: cli.time_to_purge_deletes,
        overrides,
        dry_run: cli.dry_run,
        out_dir: cli.out.clone(),
        keep: cli.keep,
        sidecar: cli.sidecar.clone(),
        ..Options::default()
    };
    if let Some(n) = cli.now {
        opts.now = n;
    }
    let mut problems = Vec::new();
    let jobs = collect(&cli.paths, &mut problems)?;
    for p in &problems {
        eprintln!("hcompact: warning: {}: {}", p.path.display(), p.message);
    }
    let bar = if std::io::stderr().is_terminal() && !cli.json {
        let b = indicatif::ProgressBar::new(jobs.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} stores {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        Some(b)
    } else {
        None
    };
    let cells = std::sync::atomic::AtomicU64::new(0);
    let work = || {
        jobs.par_iter()
            .map(|j| {
                let r = match &j.family {
                    Err(e) => Err(e.clone()),
                    Ok(f) => {
                        let last = std::sync::atomic::AtomicU64::new(0);
                        let progress = |n: u64| {
                            let prev = last.swap(n, std::sync::atomic::Ordering::Relaxed);
                            let total = cells.fetch_add(
                                n.saturating_sub(prev),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            if let Some(b) = &bar {
                                b.set_message(format!("{} cells read", total + n - prev));
                            }
                        };
                        if cli.recovered_edits {
                            store_edits(&j.store, cli.edits_memory, cli.accept_damaged_edits)
                                .and_then(|e| {
                                    compact::compact_store_with_edits(
                                        &j.store,
                                        f,
                                        &opts,
                                        Some(e),
                                        &progress,
                                    )
                                })
                        } else {
                            compact::compact_store(&j.store, f, &opts, &progress)
                        }
                    }
                };
                if let Some(b) = &bar {
                    b.inc(1);
                }
                (j, r)
            })
            .collect::<Vec<_>>()
    };
    let results = match cli.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::usage(e.to_string()))?
            .install(work),
        None => work(),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut failed = false;
    for (j, r) in results {
        match r {
            Ok(rep) => {
                if cli.json {
                    println!("{}", serde_json::to_string(&rep).unwrap_or_default());
                } else {
                    print_report(&rep, cli.dry_run);
                }
            }
            Err(e) => {
                failed = true;
                if cli.json {
                    println!(
                        "{}",
                        serde_json::json!({"store": j.store.dir, "error": e.to_string()})
                    );
                }
                eprintln!("hcompact: {}: {e}", j.store.dir.display());
            }
        }
    }
    Ok(u8::from(failed))
}

/// The recovered edits of one store's region for that store; warnings go to stderr.
fn store_edits(
    store: &Store,
    memory_mb: usize,
    accept_damaged: bool,
) -> Result<hbkit::store::edits::StoreEdits, Error> {
    use hbkit::store::edits::{self, EditsOptions};
    let opts = EditsOptions {
        memory_limit: memory_mb.saturating_mul(1 << 20),
        spill_dir: None,
        accept_damaged,
    };
    let (e, rep) = edits::read_for_store(store, &opts)?;
    for (p, why) in &rep.damaged {
        eprintln!(
            "hcompact: warning: {}: damaged recovered.edits file; the entries before the damage are used: {why}",
            p.display()
        );
    }
    if rep.decreasing_seq_ids > 0 {
        eprintln!(
            "hcompact: warning: {}: {} recovered edit(s) with a decreasing sequence id",
            store.dir.display(),
            rep.decreasing_seq_ids
        );
    }
    Ok(e)
}

fn print_report(r: &compact::Report, dry: bool) {
    println!(
        "{}: {} file(s), {} cells -> {} cells{}",
        r.store.display(),
        r.inputs.len(),
        r.input_cells,
        r.output_cells,
        if dry { " (dry run)" } else { "" }
    );
    if dry {
        for i in &r.inputs {
            println!("  {}", i.display());
        }
    }
    if r.recovered_edits_cells > 0 {
        println!(
            "  {} cell(s) from recovered.edits (files left in place)",
            r.recovered_edits_cells
        );
    }
    if let Some(o) = &r.output {
        println!(
            "  wrote {} ({} bytes, MAX_SEQ_ID {})",
            o.display(),
            r.output_bytes,
            r.max_seq_id
        );
    }
    if let Some(m) = &r.moved_to {
        println!("  inputs moved to {}", m.display());
    }
}
