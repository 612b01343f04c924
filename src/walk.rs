//! Finding HBase files under the paths an operator names: files given explicitly are always
//! taken; directories (a root dir, table, region or family dir) are walked recursively and
//! only files that look like store files are taken.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Directory names that never hold store files (WALs, temp dirs, recovered edits, archives of
/// logs, snapshots' metadata).
const SKIP_DIRS: &[&str] = &[
    "recovered.edits",
    ".tmp",
    "WALs",
    "oldWALs",
    ".logs",
    ".oldlogs",
    "corrupt",
    ".hbase-snapshot",
    ".tabledesc",
];

/// True when the last bytes of `path` carry an HFile version and trailer magic.
pub fn looks_like_hfile(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = f.metadata().map(|m| m.len()) else {
        return false;
    };
    if len < 60 {
        return false;
    }
    let mut v = [0u8; 4];
    if f.seek(SeekFrom::End(-4)).is_err() || f.read_exact(&mut v).is_err() {
        return false;
    }
    let major = u32::from_be_bytes(v) & 0x00ff_ffff;
    let t: u64 = match major {
        1 => 60,
        2 => 212,
        3 => 4096,
        _ => return false,
    };
    let mut m = [0u8; 8];
    len >= t
        && f.seek(SeekFrom::Start(len - t)).is_ok()
        && f.read_exact(&mut m).is_ok()
        && &m == b"TRABLK\"$"
}

/// Expand `paths` into files: explicit files as given, directories walked (sorted, skipping
/// hidden files and non-store directories) keeping files that look like HFiles.
/// Returns the files and how many non-HFile files were skipped.
pub fn hfiles(paths: &[PathBuf]) -> Result<(Vec<PathBuf>, usize)> {
    let mut out = Vec::new();
    let mut skipped = 0;
    for p in paths {
        let md = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if md.is_dir() {
            walk_dir(p, &mut out, &mut skipped)?;
        } else {
            out.push(p.clone());
        }
    }
    Ok((out, skipped))
}

fn walk_dir(dir: &Path, out: &mut Vec<PathBuf>, skipped: &mut usize) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Ok(md) = std::fs::metadata(&p) else {
            continue;
        };
        if md.is_dir() {
            if !SKIP_DIRS.contains(&name.as_str()) {
                walk_dir(&p, out, skipped)?;
            }
        } else if name.starts_with('.') || name.ends_with(".crc") {
            continue;
        } else if looks_like_hfile(&p) {
            out.push(p);
        } else {
            *skipped += 1;
        }
    }
    Ok(())
}
