//! Region boundaries: split points from a split file, from a table directory's
//! `.regioninfo` files, or from a sample of the input; and the table's families.
//!
//! A minimal private `.regioninfo` / `.tableinfo` reader lives here (`src/layout/` was not
//! available when this was written): only the start/end keys, the split/replica flags and
//! the family names are read.

use std::path::{Path, PathBuf};

use crate::bytes::{compare, from_string_binary};
use crate::error::{Error, Result};
use crate::pb::{self, Value};

/// Sorted, distinct, non-empty split keys: region *i* holds rows in
/// `[splits[i-1], splits[i])`, so a row equal to a split key belongs to the later region.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Regions {
    /// The split keys (region start keys without the first, empty one).
    pub splits: Vec<Vec<u8>>,
}

impl Regions {
    /// From unsorted keys: sorted, deduplicated, empty keys dropped.
    pub fn new(mut splits: Vec<Vec<u8>>) -> Regions {
        splits.retain(|s| !s.is_empty());
        splits.sort_by(|a, b| compare(a, b));
        splits.dedup();
        Regions { splits }
    }

    /// Number of regions.
    pub fn count(&self) -> usize {
        self.splits.len() + 1
    }

    /// The region holding `row`.
    pub fn region_of(&self, row: &[u8]) -> usize {
        self.splits
            .partition_point(|s| compare(s, row) != std::cmp::Ordering::Greater)
    }

    /// Start key of region `i` (empty for the first).
    pub fn start(&self, i: usize) -> &[u8] {
        match i.checked_sub(1) {
            Some(j) => self.splits.get(j).map_or(&[][..], Vec::as_slice),
            None => &[],
        }
    }

    /// End key of region `i` (empty for the last).
    pub fn end(&self, i: usize) -> &[u8] {
        self.splits.get(i).map_or(&[][..], Vec::as_slice)
    }

    /// Read a split file: one `Bytes.toStringBinary`-escaped key per line; blank lines and
    /// lines starting with `#` are ignored.
    pub fn from_split_file(path: &Path) -> Result<Regions> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let mut v = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let l = line.trim_end_matches('\r');
            if l.trim().is_empty() || l.starts_with('#') {
                continue;
            }
            v.push(from_string_binary(l).map_err(|e| {
                Error::usage(format!("{}:{}: {}", path.display(), n + 1, e.message))
            })?);
        }
        Ok(Regions::new(v))
    }

    /// Split points of a table directory: the start keys of its regions' `.regioninfo`
    /// files (split parents and replicas skipped).
    pub fn from_table_dir(dir: &Path) -> Result<Regions> {
        let infos = region_infos(dir)?;
        if infos.is_empty() {
            return Err(Error::usage(format!(
                "{} has no region directories with a .regioninfo",
                dir.display()
            )));
        }
        Ok(Regions::new(
            infos
                .into_iter()
                .filter(|r| !r.split && r.replica_id == 0)
                .map(|r| r.start_key)
                .collect(),
        ))
    }

    /// Write the split keys, one escaped key per line.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for k in &self.splits {
            s.push_str(&crate::bytes::to_string_binary(k));
            s.push('\n');
        }
        s
    }
}

/// What this module reads from a `.regioninfo`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionInfo {
    /// Region directory.
    pub dir: PathBuf,
    /// Start key.
    pub start_key: Vec<u8>,
    /// End key.
    pub end_key: Vec<u8>,
    /// Split parent (offline).
    pub split: bool,
    /// Replica id.
    pub replica_id: u64,
}

/// Parse a `.regioninfo` file's bytes: `PBUF` + varint-delimited RegionInfo.
pub fn parse_region_info(bytes: &[u8]) -> Result<RegionInfo> {
    let rest = bytes
        .strip_prefix(b"PBUF")
        .ok_or_else(|| Error::corrupt(".regioninfo", "missing the PBUF magic"))?;
    let (msg, _) = pb::delimited(rest, ".regioninfo")?;
    let mut r = RegionInfo::default();
    for f in pb::fields(msg, ".regioninfo") {
        match f? {
            (3, Value::Bytes(b)) => r.start_key = b.to_vec(),
            (4, Value::Bytes(b)) => r.end_key = b.to_vec(),
            (6, Value::Varint(v)) => r.split = v != 0,
            (7, Value::Varint(v)) => r.replica_id = v,
            _ => {}
        }
    }
    Ok(r)
}

/// The `.regioninfo` of every region directory under `table_dir`.
pub fn region_infos(table_dir: &Path) -> Result<Vec<RegionInfo>> {
    let rd = std::fs::read_dir(table_dir).map_err(|e| Error::io(table_dir, e))?;
    let mut out = Vec::new();
    for e in rd {
        let e = e.map_err(|e| Error::io(table_dir, e))?;
        let p = e.path().join(".regioninfo");
        if !p.is_file() {
            continue;
        }
        let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        let mut r = parse_region_info(&b).map_err(|e| e.in_file(&p))?;
        r.dir = e.path();
        out.push(r);
    }
    Ok(out)
}

/// Family names from the newest `.tabledesc/.tableinfo.*` (or the 0.9x-style
/// `.tableinfo.*` in the table dir itself); None when there is no table descriptor.
pub fn table_families(table_dir: &Path) -> Result<Option<Vec<Vec<u8>>>> {
    let mut best: Option<PathBuf> = None;
    for d in [table_dir.join(".tabledesc"), table_dir.to_path_buf()] {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tableinfo.") {
                let p = e.path();
                // Names sort by their zero-padded sequence number.
                if best
                    .as_ref()
                    .and_then(|b| b.file_name())
                    .is_none_or(|b| b.to_string_lossy().as_ref() < name.as_str())
                {
                    best = Some(p);
                }
            }
        }
        if best.is_some() {
            break;
        }
    }
    let Some(p) = best else {
        return Ok(None);
    };
    let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    let msg = b
        .strip_prefix(b"PBUF")
        .ok_or_else(|| Error::corrupt(".tableinfo", "missing the PBUF magic").in_file(&p))?;
    let mut fams = Vec::new();
    for f in pb::fields(msg, ".tableinfo") {
        if let (3, Value::Bytes(cf)) = f.map_err(|e| e.in_file(&p))? {
            for g in pb::fields(cf, ".tableinfo family") {
                if let (1, Value::Bytes(name)) = g.map_err(|e| e.in_file(&p))? {
                    fams.push(name.to_vec());
                }
            }
        }
    }
    Ok(Some(fams))
}

/// Build split points for `n` regions from sorted sample rows (each weighted equally):
/// the rows at the quantiles k/n, distinct.
pub fn splits_from_sample(mut sample: Vec<Vec<u8>>, n: usize) -> Regions {
    sample.sort_by(|a, b| compare(a, b));
    let mut v = Vec::new();
    if n > 1 && !sample.is_empty() {
        for k in 1..n {
            if let Some(r) = sample.get(k * sample.len() / n) {
                v.push(r.clone());
            }
        }
    }
    Regions::new(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::put_bytes;

    #[test]
    fn region_lookup() {
        let r = Regions::new(vec![
            b"m".to_vec(),
            b"c".to_vec(),
            b"".to_vec(),
            b"m".to_vec(),
        ]);
        assert_eq!(r.splits, vec![b"c".to_vec(), b"m".to_vec()]);
        assert_eq!(r.region_of(b"a"), 0);
        assert_eq!(r.region_of(b"c"), 1);
        assert_eq!(r.region_of(b"lzz"), 1);
        assert_eq!(r.region_of(b"m"), 2);
        assert_eq!(r.start(0), b"");
        assert_eq!(r.end(2), b"");
        assert_eq!(r.end(1), b"m");
    }

    #[test]
    fn regioninfo_parse() {
        let mut m = Vec::new();
        crate::pb::put_varint(&mut m, 1, 1700000000000);
        put_bytes(&mut m, 3, b"k1");
        put_bytes(&mut m, 4, b"k2");
        let mut b = b"PBUF".to_vec();
        crate::bytes::write_pbvar(&mut b, m.len() as u64);
        b.extend_from_slice(&m);
        let r = parse_region_info(&b).unwrap();
        assert_eq!(r.start_key, b"k1");
        assert_eq!(r.end_key, b"k2");
        assert!(!r.split);
    }
}
