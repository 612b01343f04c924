//! Block indexes: the root format (data index root, meta index, bloom chunk index) and the
//! non-root format (leaf and intermediate index blocks).

use crate::bytes::{be_i32, Cursor};
use crate::error::{Error, Result};

/// One index entry: a child block and the key it starts at (possibly a shortened fake key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexEntry {
    /// Offset of the child block.
    pub offset: u64,
    /// On-disk size of the child block including header and checksums.
    pub on_disk_size: u32,
    /// Index key (KEY bytes, meta block name or bloom key).
    pub key: Vec<u8>,
}

/// Mid-key metadata stored after a multi-level data index root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MidKeyMeta {
    /// Offset of the leaf block holding the mid-key.
    pub leaf_offset: u64,
    /// Its on-disk size.
    pub leaf_on_disk_size: u32,
    /// Entry number of the mid-key within that leaf.
    pub entry: u32,
}

/// Parse `count` root-format entries and, when `mid_key` is set and 16 bytes remain, the
/// mid-key metadata. Offsets in errors are relative to the payload.
pub fn parse_root(
    payload: &[u8],
    count: u32,
    mid_key: bool,
) -> Result<(Vec<IndexEntry>, Option<MidKeyMeta>)> {
    let mut c = Cursor::new(payload, "root index");
    let mut out = Vec::with_capacity((count as usize).min(payload.len() / 13 + 1));
    for i in 0..count {
        let at = c.pos();
        let off = c.i64("entry offset")?;
        let size = c.i32("entry size")?;
        let kl = c.vint_len("entry key length")?;
        let key = c.take(kl, "entry key")?;
        if off < 0 || size <= 0 {
            return Err(Error::corrupt(
                "root index",
                format!("entry {i}: offset {off}, size {size} is not a block"),
            )
            .at(at as u64));
        }
        out.push(IndexEntry {
            offset: off as u64,
            on_disk_size: size as u32,
            key: key.to_vec(),
        });
    }
    let mid = if mid_key && c.remaining() >= 16 {
        let o = c.i64("mid leaf offset")?;
        let s = c.i32("mid leaf size")?;
        let e = c.i32("mid key entry")?;
        Some(MidKeyMeta {
            leaf_offset: o as u64,
            leaf_on_disk_size: s as u32,
            entry: e as u32,
        })
    } else {
        None
    };
    Ok((out, mid))
}

/// A parsed non-root index block (leaf or intermediate), borrowing its payload.
#[derive(Debug, Clone, Copy)]
pub struct NonRoot<'a> {
    count: usize,
    secondary: &'a [u8],
    entries: &'a [u8],
}

impl<'a> NonRoot<'a> {
    /// Validate the layout: entry count, secondary offsets ascending and inside the payload.
    pub fn parse(payload: &'a [u8]) -> Result<NonRoot<'a>> {
        let mut c = Cursor::new(payload, "non-root index");
        let n = c.i32("entry count")?;
        let count = usize::try_from(n)
            .map_err(|_| Error::corrupt("non-root index", format!("negative entry count {n}")))?;
        let sec_len = count
            .checked_add(1)
            .and_then(|x| x.checked_mul(4))
            .filter(|&l| l <= c.remaining())
            .ok_or_else(|| {
                Error::corrupt(
                    "non-root index",
                    format!("{count} entries do not fit in {} bytes", payload.len()),
                )
            })?;
        let secondary = c.take(sec_len, "secondary index")?;
        let entries = c.rest();
        let mut prev = 0usize;
        for i in 0..=count {
            let v = be_i32(secondary, i * 4).and_then(|v| usize::try_from(v).ok());
            let ok = match v {
                Some(v) if i == 0 => v == 0,
                Some(v) => v >= prev + 12 && v <= entries.len(),
                None => false,
            };
            if !ok {
                return Err(Error::corrupt(
                    "non-root index",
                    format!("secondary index entry {i} ({v:?}) is out of order or out of range"),
                )
                .at(4 + 4 * i as u64));
            }
            prev = v.unwrap_or(0);
        }
        if prev != entries.len() {
            return Err(Error::corrupt(
                "non-root index",
                format!(
                    "entries area is {} bytes but the secondary index ends at {prev}",
                    entries.len()
                ),
            ));
        }
        Ok(NonRoot {
            count,
            secondary,
            entries,
        })
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// Entry `i`: (offset, on-disk size, key).
    pub fn entry(&self, i: usize) -> Option<(u64, u32, &'a [u8])> {
        let s = be_i32(self.secondary, i * 4)? as usize;
        let e = be_i32(self.secondary, (i + 1) * 4)? as usize;
        let b = self.entries.get(s..e)?;
        let off = crate::bytes::be_i64(b, 0)?;
        let size = be_i32(b, 8)?;
        Some((off as u64, size as u32, b.get(12..)?))
    }
    /// All entries, owned.
    pub fn to_entries(&self) -> Vec<IndexEntry> {
        (0..self.count)
            .filter_map(|i| self.entry(i))
            .map(|(offset, on_disk_size, k)| IndexEntry {
                offset,
                on_disk_size,
                key: k.to_vec(),
            })
            .collect()
    }
}

/// Index of the last entry whose key is <= `probe` under `cmp`, or None if `probe` sorts
/// before every entry.
pub fn search<K: AsRef<[u8]>>(
    keys: &[K],
    probe: &[u8],
    cmp: impl Fn(&[u8], &[u8]) -> std::cmp::Ordering,
) -> Option<usize> {
    let n = keys.partition_point(|k| cmp(k.as_ref(), probe) != std::cmp::Ordering::Greater);
    n.checked_sub(1)
}
