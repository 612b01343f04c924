//! Offline compaction of one store (FORMATS.md §12): merge every store file, apply the
//! compaction matcher, write one HFile with the family's settings and the store-file
//! metadata HBase writes after a compaction (§12.3), verify it, then put it in place.
//!
//! Order of the steps keeps the store readable at every point: the output is written under a
//! hidden temporary name, fsynced and verified; only then is it renamed into the family dir,
//! and only after that are the inputs moved to a sidecar dir (never deleted).

use std::path::{Path, PathBuf};

use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::hfile::bloom::BloomType;
use crate::hfile::encoding::Encoding;
use crate::hfile::verify::{self, Status};
use crate::hfile::{HFileWriter, StoreMeta, WriterOptions};
use crate::layout::{FamilySchema, Store};

use super::edits::StoreEdits;
use super::matcher::{Matcher, Mode, Params};
use super::merge::{Input, Merge};

/// Writer settings that override the family's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Codec.
    pub compression: Option<Compression>,
    /// Data block encoding.
    pub encoding: Option<Encoding>,
    /// Bloom type.
    pub bloom: Option<BloomType>,
    /// Block size.
    pub block_size: Option<usize>,
}

/// How to compact.
#[derive(Debug, Clone)]
pub struct Options {
    /// Major (drop deletes, MAJOR_COMPACTION_KEY=true) or minor (keep delete markers).
    pub major: bool,
    /// The clock (ms) for TTLs.
    pub now: i64,
    /// `hbase.hstore.time.to.purge.deletes` (ms).
    pub time_to_purge_deletes: i64,
    /// Writer overrides.
    pub overrides: Overrides,
    /// Only count: write nothing.
    pub dry_run: bool,
    /// Write the output under this dir (`<out>/<region>/<family>/`) and leave the store alone.
    pub out_dir: Option<PathBuf>,
    /// Leave the inputs in place after the output is committed.
    pub keep: bool,
    /// Where inputs are moved (default `<region>/.hcompact-originals/<family>/`).
    pub sidecar: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            major: true,
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            time_to_purge_deletes: 0,
            overrides: Overrides::default(),
            dry_run: false,
            out_dir: None,
            keep: false,
            sidecar: None,
        }
    }
}

/// What a store compaction did (or, for a dry run, would do).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The store (family dir).
    pub store: PathBuf,
    /// Inputs, as listed in the store.
    pub inputs: Vec<PathBuf>,
    /// Cells read.
    pub input_cells: u64,
    /// Cells written (or that would be).
    pub output_cells: u64,
    /// MAX_SEQ_ID_KEY of the output.
    pub max_seq_id: u64,
    /// The output file (None for dry runs and empty results).
    pub output: Option<PathBuf>,
    /// Where the inputs went.
    pub moved_to: Option<PathBuf>,
    /// Bytes written.
    pub output_bytes: u64,
    /// Cells taken from the region's recovered.edits (counted in `input_cells` too).
    pub recovered_edits_cells: u64,
}

/// A fresh 32-hex store-file name.
pub fn new_file_name() -> String {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut out = String::with_capacity(32);
    for half in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(t);
        h.write_u64(n);
        h.write_u64(half);
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Writer options for a compaction output of `family` (§12.3).
pub fn writer_options(
    family: &FamilySchema,
    inputs: &[Input],
    major: bool,
    ov: &Overrides,
) -> Result<WriterOptions> {
    let mut o = WriterOptions {
        family: Some(family.name.clone()),
        ..WriterOptions::default()
    };
    o.compression = match ov.compression {
        Some(c) => c,
        None => family.compaction_compression(major)?,
    };
    o.encoding = match ov.encoding {
        Some(e) => e,
        None => family.encoding()?,
    };
    o.bloom = match ov.bloom {
        Some(b) => b,
        None => family.bloom()?,
    };
    o.block_size = match ov.block_size {
        Some(b) => b,
        None => usize::try_from(family.block_size()?)
            .ok()
            .filter(|&b| b > 0)
            .ok_or_else(|| Error::usage("family BLOCKSIZE must be positive"))?,
    };
    if o.bloom == BloomType::RowPrefixFixedLength {
        let v = family
            .configuration
            .get("RowPrefixBloomFilter.prefix_length")
            .ok_or_else(|| {
                Error::usage(
                    "ROWPREFIX_FIXED_LENGTH bloom without RowPrefixBloomFilter.prefix_length",
                )
            })?;
        o.bloom_prefix_len = v
            .parse()
            .map_err(|_| Error::usage(format!("bad RowPrefixBloomFilter.prefix_length {v:?}")))?;
    }
    if let Some(v) = family.attributes.get("COMPRESS_TAGS") {
        o.compress_tags = !v.eq_ignore_ascii_case("false");
    }
    o.include_tags = inputs.iter().any(Input::has_tags);
    o.include_mvcc = inputs.iter().any(|i| i.max_memstore_ts() > 0);
    Ok(o)
}

/// Matcher parameters for compacting `inputs` of `family`.
pub fn params(family: &FamilySchema, inputs: &[Input], opts: &Options) -> Result<Params> {
    let mut p = Params::from_family(family, opts.now)?;
    p.time_to_purge_deletes = opts.time_to_purge_deletes;
    p.earliest_put_ts = inputs
        .iter()
        .map(|i| i.earliest_put_ts)
        .min()
        .unwrap_or(i64::MIN);
    Ok(p)
}

/// Compact one store. `progress` is called with the number of input cells read so far
/// (every 64Ki cells and at the end).
pub fn compact_store(
    store: &Store,
    family: &FamilySchema,
    opts: &Options,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    compact_store_with_edits(store, family, opts, None, progress)
}

/// Like [`compact_store`], with the store's recovered edits ([`super::edits`]) merged in as
/// HBase's replay on region open would apply them. The output's `MAX_SEQ_ID_KEY` then
/// covers the edits, so a later replay by HBase skips them; the edits files themselves are
/// left alone.
pub fn compact_store_with_edits(
    store: &Store,
    family: &FamilySchema,
    opts: &Options,
    edits: Option<StoreEdits>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Report> {
    let inputs: Vec<Input> = store.files.iter().map(Input::open).collect::<Result<_>>()?;
    let edits = edits.filter(|e| e.cells > 0);
    let mode = if opts.major { Mode::Major } else { Mode::Minor };
    let mut p = params(family, &inputs, opts)?;
    let mut max_seq_id = inputs.iter().map(|i| i.seq_id).max().unwrap_or(0);
    let mut edits_cells = 0;
    if let Some(e) = &edits {
        if inputs.is_empty() || e.earliest_put_ts < p.earliest_put_ts {
            p.earliest_put_ts = e.earliest_put_ts;
        }
        max_seq_id = max_seq_id.max(e.max_seq_id);
        edits_cells = e.cells;
    }
    let mut matcher = Matcher::new(mode, p);
    let mut report = Report {
        store: store.dir.clone(),
        inputs: store.files.iter().map(|f| f.path.clone()).collect(),
        input_cells: 0,
        output_cells: 0,
        max_seq_id,
        output: None,
        moved_to: None,
        output_bytes: 0,
        recovered_edits_cells: edits_cells,
    };
    if inputs.is_empty() && edits.is_none() {
        return Ok(report);
    }
    let mut wopts = writer_options(family, &inputs, opts.major, &opts.overrides)?;
    if let Some(e) = &edits {
        wopts.include_tags |= e.has_tags;
        // The edits' sequence ids order their cells against each other and the files.
        wopts.include_mvcc = true;
    }
    let region_dir = store.dir.parent().unwrap_or(Path::new("."));
    let target_dir = match &opts.out_dir {
        Some(o) => {
            let region = region_dir.file_name().unwrap_or_default();
            let fam = store.dir.file_name().unwrap_or_default();
            o.join(region).join(fam)
        }
        None => store.dir.clone(),
    };
    let mut writer = if opts.dry_run {
        None
    } else {
        std::fs::create_dir_all(&target_dir).map_err(|e| Error::io(&target_dir, e))?;
        Some(HFileWriter::create(
            target_dir.join(new_file_name()),
            wopts,
        )?)
    };
    let streams = match edits {
        Some(e) => vec![e.stream()?],
        None => Vec::new(),
    };
    let mut merge = Merge::with_edits(&inputs, streams, &[])?;
    while let Some(c) = merge.next()? {
        report.input_cells += 1;
        if report.input_cells % 65536 == 0 {
            progress(report.input_cells);
        }
        let cell = c.cell()?;
        if matcher.check(&cell) {
            report.output_cells += 1;
            if let Some(w) = writer.as_mut() {
                w.append(&cell)?;
            }
        }
    }
    progress(report.input_cells);
    let Some(w) = writer else {
        return Ok(report);
    };
    let meta = StoreMeta {
        max_seq_id: i64::try_from(max_seq_id).unwrap_or(i64::MAX),
        major_compaction: opts.major,
        compacted_store_files: store
            .files
            .iter()
            .filter_map(|f| f.path.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect(),
        ..StoreMeta::default()
    };
    let pending = w.finish_unrenamed(meta)?;
    // Verify what was written before anything else changes.
    let v = verify::verify_file(pending.temp_path());
    if v.status != Status::Clean || v.cells != report.output_cells {
        let why = v
            .problems
            .first()
            .map(|p| p.message.clone())
            .unwrap_or_else(|| {
                format!(
                    "{} cells read back, {} written",
                    v.cells, report.output_cells
                )
            });
        return Err(Error::corrupt(
            "compaction output",
            format!("verification of the new file failed ({why}); inputs left untouched"),
        )
        .in_file(pending.temp_path()));
    }
    let summary = pending.commit()?;
    report.output_bytes = summary.file_size;
    report.output = summary.path;
    if opts.out_dir.is_none() && !opts.keep {
        let fam = store.dir.file_name().unwrap_or_default();
        let side = match &opts.sidecar {
            Some(s) => s.join(region_dir.file_name().unwrap_or_default()).join(fam),
            None => region_dir.join(".hcompact-originals").join(fam),
        };
        std::fs::create_dir_all(&side).map_err(|e| Error::io(&side, e))?;
        for f in &store.files {
            let Some(name) = f.path.file_name() else {
                continue;
            };
            let dest = side.join(name);
            std::fs::rename(&f.path, &dest).map_err(|e| Error::io(&f.path, e))?;
        }
        report.moved_to = Some(side);
    }
    Ok(report)
}
