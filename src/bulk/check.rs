//! `hbulk check` (pre-flight of a bulk-load staging directory) and `hbulk split` (cut
//! HFiles at region boundaries offline, as LoadIncrementalHFiles does at load time).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::bulk::new_file_name;
use crate::bulk::regions::Regions;
use crate::bytes::to_string_binary;
use crate::error::{Error, Result};
use crate::hfile::fileinfo::keys;
use crate::hfile::verify::{verify_file, Status};
use crate::hfile::{HFile, HFileWriter, StoreMeta, Unrenamed, WriterOptions};

/// One checked file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CheckedFile {
    /// Path.
    pub path: PathBuf,
    /// Family (directory name).
    pub family: String,
    /// Cells.
    pub cells: u64,
    /// First row (escaped).
    pub first_row: Option<String>,
    /// Last row (escaped).
    pub last_row: Option<String>,
    /// Region of the first row, when regions are known.
    pub region: Option<usize>,
    /// Problems found.
    pub problems: Vec<String>,
}

/// What `hbulk check` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct CheckReport {
    /// Files.
    pub files: Vec<CheckedFile>,
    /// Problems not tied to one file.
    pub problems: Vec<String>,
    /// Files per family per region.
    pub files_per_region: BTreeMap<String, BTreeMap<usize, usize>>,
    /// True when nothing was found.
    pub ok: bool,
}

/// Store files of a staging directory: (family, path), skipping `_`/`.` names as
/// LoadIncrementalHFiles does.
pub fn staging_files(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    let mut fams: Vec<_> = rd.flatten().collect();
    fams.sort_by_key(|e| e.file_name());
    for fe in fams {
        let name = fe.file_name().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') || !fe.path().is_dir() {
            continue;
        }
        let rd = std::fs::read_dir(fe.path()).map_err(|e| Error::io(fe.path(), e))?;
        let mut files: Vec<_> = rd.flatten().collect();
        files.sort_by_key(|e| e.file_name());
        for f in files {
            let n = f.file_name().to_string_lossy().into_owned();
            if n.starts_with('_') || n.starts_with('.') || !f.path().is_file() {
                continue;
            }
            out.push((name.clone(), f.path()));
        }
    }
    Ok(out)
}

/// (cells, first row, last row, problems) of a full scan.
type Scanned = (u64, Option<Vec<u8>>, Option<Vec<u8>>, Vec<String>);

/// Scan a file fully.
fn scan(path: &Path, family: &str) -> Scanned {
    let mut problems = Vec::new();
    let f = match HFile::open(path) {
        Ok(f) => f,
        Err(e) => {
            problems.push(format!("cannot open: {e}"));
            return (0, None, None, problems);
        }
    };
    let order = f.order;
    let mut s = f.scanner();
    let (mut n, mut first, mut last) = (0u64, None, None);
    let mut prev: Option<Vec<u8>> = None;
    loop {
        match s.next_cell() {
            Ok(Some(c)) => {
                n += 1;
                if let Some(p) = &prev {
                    if let Ok(pk) = crate::cell::Key::parse(p) {
                        if order.compare(&pk, &c.key) == std::cmp::Ordering::Greater {
                            problems.push(format!(
                                "cell {n} {} sorts before the previous cell {}",
                                c.key.key_string(),
                                pk.key_string()
                            ));
                            break;
                        }
                    }
                }
                if c.key.family() != family.as_bytes() {
                    problems.push(format!(
                        "cell {n} has family {:?}, not the directory's {family:?}",
                        to_string_binary(c.key.family())
                    ));
                    break;
                }
                if first.is_none() {
                    first = Some(c.key.row().to_vec());
                }
                if last.as_deref() != Some(c.key.row()) {
                    last = Some(c.key.row().to_vec());
                }
                prev = Some(c.key.raw().to_vec());
            }
            Ok(None) => break,
            Err(e) => {
                problems.push(format!("cannot read cell {}: {e}", n + 1));
                break;
            }
        }
    }
    (n, first, last, problems)
}

/// Check a staging directory. `regions` and `families` come from the target table.
pub fn check(
    dir: &Path,
    regions: Option<&Regions>,
    families: Option<&[Vec<u8>]>,
    max_files: usize,
) -> Result<CheckReport> {
    let mut rep = CheckReport::default();
    let files = staging_files(dir)?;
    if files.is_empty() {
        rep.problems
            .push(format!("{} holds no store files", dir.display()));
    }
    let mut counts: BTreeMap<(String, usize), usize> = BTreeMap::new();
    for (family, path) in files {
        let mut problems = Vec::new();
        let v = verify_file(&path);
        if v.status != Status::Clean {
            for p in v.problems.iter().take(5) {
                problems.push(format!("verify: {}: {}", p.check, p.message));
            }
            if v.problems.is_empty() {
                problems.push("verify: the file is not a readable HFile".into());
            }
        }
        let (cells, first, last, mut sp) = scan(&path, &family);
        problems.append(&mut sp);
        if let Some(fams) = families {
            if !fams.iter().any(|f| f.as_slice() == family.as_bytes()) {
                problems.push(format!("family {family:?} does not exist in the table"));
            }
        }
        let mut region = None;
        if let (Some(r), Some(a), Some(b)) = (regions, &first, &last) {
            let (ra, rb) = (r.region_of(a), r.region_of(b));
            region = Some(ra);
            if ra != rb {
                problems.push(format!(
                    "rows {}..{} straddle regions {ra}..{rb} (split at {}); run hbulk split",
                    to_string_binary(a),
                    to_string_binary(b),
                    to_string_binary(r.end(ra))
                ));
            }
        }
        if cells > 0 {
            *counts
                .entry((family.clone(), region.unwrap_or(0)))
                .or_insert(0) += 1;
        }
        rep.files.push(CheckedFile {
            path,
            family,
            cells,
            first_row: first.as_deref().map(to_string_binary),
            last_row: last.as_deref().map(to_string_binary),
            region,
            problems,
        });
    }
    for ((f, r), n) in counts {
        if n > max_files {
            rep.problems.push(format!(
                "family {f:?} region {r}: {n} files, more than {max_files} (hbase.mapreduce.bulkload.max.hfiles.perRegion.perFamily)"
            ));
        }
        rep.files_per_region.entry(f).or_default().insert(r, n);
    }
    rep.ok = rep.problems.is_empty() && rep.files.iter().all(|f| f.problems.is_empty());
    Ok(rep)
}

/// One file cut by [`split`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct SplitFile {
    /// The original (removed).
    pub source: PathBuf,
    /// The pieces, one per region.
    pub pieces: Vec<PathBuf>,
}

/// FileInfo keys not copied from the source into the pieces: the HFile layer's own, and
/// those StoreFileWriter writes itself (LoadIncrementalHFiles.copyHFileHalf).
fn copied_key(k: &[u8]) -> bool {
    let own = [
        keys::DATA_BLOCK_ENCODING,
        keys::BLOOM_FILTER_TYPE,
        keys::BLOOM_FILTER_PARAM,
        keys::LAST_BLOOM_KEY,
        keys::DELETE_FAMILY_COUNT,
        keys::MAX_MEMSTORE_TS_KEY,
        keys::KEY_VALUE_VERSION,
        keys::HISTORICAL,
    ];
    !k.starts_with(b"hfile.") && !own.iter().any(|o| o.as_bytes() == k)
}

/// Cut every file in `dir` whose rows straddle regions into one file per region (same
/// family directory, new names). Each piece keeps the source's codec, encoding, bloom
/// type and FileInfo (as LoadIncrementalHFiles copies it); `block_size` is used for the
/// pieces. Pieces are verified before they are renamed into place; the source is removed
/// last.
pub fn split(dir: &Path, regions: &Regions, block_size: usize) -> Result<Vec<SplitFile>> {
    let mut out = Vec::new();
    for (family, path) in staging_files(dir)? {
        let f = HFile::open(&path)?;
        let (Some(first), Some(last)) = (f.first_key(), f.last_key()) else {
            continue;
        };
        let (a, b) = (
            crate::cell::Key::parse(first)?.row().to_vec(),
            crate::cell::Key::parse(last)?.row().to_vec(),
        );
        if regions.region_of(&a) == regions.region_of(&b) {
            continue;
        }
        let mut o = WriterOptions {
            block_size,
            compression: f.compression,
            encoding: f.encoding,
            bloom: f.bloom_type,
            bloom_prefix_len: f
                .file_info
                .get_i32(keys::BLOOM_FILTER_PARAM)
                .map_or(0, |x| x.max(0) as usize),
            include_tags: true,
            include_mvcc: true,
            family: Some(family.as_bytes().to_vec()),
            append_metadata: false,
            ..WriterOptions::default()
        };
        o.file_info = f
            .file_info
            .map
            .iter()
            .filter(|(k, _)| copied_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let meta = StoreMeta {
            major_compaction: f
                .file_info
                .get_bool(keys::MAJOR_COMPACTION_KEY)
                .unwrap_or(false),
            ..StoreMeta::default()
        };
        let fam_dir = path
            .parent()
            .map_or_else(|| dir.join(&family), Path::to_path_buf);
        let mut pending: Vec<(Unrenamed, u64)> = Vec::new();
        let mut w: Option<(HFileWriter, usize, u64)> = None;
        let mut s = f.scanner();
        while let Some(c) = s.next_cell()? {
            let r = regions.region_of(c.key.row());
            if w.as_ref().is_some_and(|(_, wr, _)| *wr != r) {
                if let Some((wr, _, n)) = w.take() {
                    pending.push((wr.finish_unrenamed(meta.clone())?, n));
                }
            }
            if w.is_none() {
                w = Some((
                    HFileWriter::create(fam_dir.join(new_file_name()), o.clone())?,
                    r,
                    0,
                ));
            }
            if let Some((wr, _, n)) = &mut w {
                wr.append(&c)?;
                *n += 1;
            }
        }
        if let Some((wr, _, n)) = w.take() {
            pending.push((wr.finish_unrenamed(meta.clone())?, n));
        }
        for (p, n) in &pending {
            let v = verify_file(p.temp_path());
            if v.status != Status::Clean || v.cells != *n {
                return Err(Error::corrupt(
                    "hbulk split",
                    format!(
                        "piece {} of {} failed verification",
                        p.target().display(),
                        path.display()
                    ),
                ));
            }
        }
        let mut pieces = Vec::new();
        for (p, _) in pending {
            pieces.push(p.commit()?.path.unwrap_or_default());
        }
        drop(f);
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
        out.push(SplitFile {
            source: path,
            pieces,
        });
    }
    Ok(out)
}

/// Families of a table directory's descriptor; None when it has no descriptor or only the
/// Writable one of HBase 0.94 and older (which is not read).
pub fn families_of(table_dir: &Path) -> Result<Option<Vec<Vec<u8>>>> {
    if crate::layout::find_tableinfo(table_dir).is_err() {
        return Ok(None);
    }
    match crate::layout::TableDescriptor::read_table_dir(table_dir) {
        Ok((_, d)) => Ok(Some(d.families.into_iter().map(|f| f.name).collect())),
        Err(e) if e.kind == crate::error::ErrorKind::Unsupported => Ok(None),
        Err(e) => Err(e),
    }
}
