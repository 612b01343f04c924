//! Region boundaries: split points from a split file, from a table directory (read with
//! [`crate::layout`]: every `.regioninfo` form, split/merge parents skipped), or from a
//! sample of the input; and the table's descriptor.

use std::path::Path;

use crate::bytes::{compare, from_string_binary, to_string_binary};
use crate::error::{Error, Result};
use crate::layout::{self, Context, TableDescriptor};

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

    /// Split points of a table directory: the start keys of its live regions (see
    /// [`TargetTable::read`]).
    pub fn from_table_dir(dir: &Path) -> Result<Regions> {
        Ok(TargetTable::read(dir)?.regions)
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

/// A bulk-load target read from its table directory with [`crate::layout::read_table`].
#[derive(Debug, Clone)]
pub struct TargetTable {
    /// Split points: the start keys of the live regions (split and merge parents, offline
    /// split regions and read replicas skipped), which tile the key space.
    pub regions: Regions,
    /// The table descriptor (`.tabledesc/.tableinfo.*`), or why it could not be read (none
    /// on disk, or the Writable form of HBase 0.94 and older).
    pub descriptor: std::result::Result<TableDescriptor, Error>,
}

impl TargetTable {
    /// Read `dir`. Fails when a `.regioninfo` cannot be read or the live regions do not
    /// tile the key space from the empty key to the empty key (a hole or an overlap: the
    /// boundaries would be a guess).
    pub fn read(dir: &Path) -> Result<TargetTable> {
        let mut problems = Vec::new();
        let t = layout::read_table(dir, &Context::for_path(dir), &mut problems)?;
        if t.regions.is_empty() {
            return Err(Error::usage(format!(
                "{} has no region directories with a .regioninfo",
                dir.display()
            )));
        }
        let mut live = Vec::new();
        for r in &t.regions {
            let info = r.info.as_ref().map_err(|e| {
                Error::usage(format!(
                    "{}: the .regioninfo cannot be read, so the region boundaries are unknown: {e}",
                    r.dir.display()
                ))
            })?;
            if r.superseded || info.split || info.replica_id != 0 {
                continue;
            }
            live.push((info, &r.dir));
        }
        live.sort_by(|(a, _), (b, _)| compare(&a.start_key, &b.start_key));
        let mut expect: &[u8] = b"";
        let mut splits = Vec::new();
        for (i, (info, rdir)) in live.iter().enumerate() {
            if i > 0 && expect.is_empty() || info.start_key.as_slice() != expect {
                return Err(Error::usage(format!(
                    "{}: the live regions do not tile the key space: region {} starts at {:?} \
                     where {} was expected (a hole or an overlap; run an hbck-style repair \
                     first, or give --split-file)",
                    dir.display(),
                    rdir.display(),
                    to_string_binary(&info.start_key),
                    if i > 0 && expect.is_empty() {
                        "nothing (the previous region ends the table)".to_string()
                    } else {
                        format!("{:?}", to_string_binary(expect))
                    }
                )));
            }
            if i > 0 {
                splits.push(info.start_key.clone());
            }
            expect = &info.end_key;
        }
        if !expect.is_empty() {
            return Err(Error::usage(format!(
                "{}: the live regions do not tile the key space: the last one ends at {:?}, \
                 not at the end of the table",
                dir.display(),
                to_string_binary(expect)
            )));
        }
        Ok(TargetTable {
            regions: Regions::new(splits),
            descriptor: t.descriptor,
        })
    }

    /// The descriptor's family names, if the descriptor could be read.
    pub fn family_names(&self) -> Option<Vec<Vec<u8>>> {
        self.descriptor
            .as_ref()
            .ok()
            .map(|d| d.families.iter().map(|f| f.name.clone()).collect())
    }
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
}
