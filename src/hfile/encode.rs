//! Data block *encoders*: the writer side of [`crate::hfile::encoding`]. One
//! [`BlockEncoder`] builds the uncompressed payload of one data block exactly as HBase
//! 2.x's `NoneEncoder`, `PrefixKeyDeltaEncoder`, `DiffKeyDeltaEncoder`,
//! `FastDiffDeltaEncoder` and `RowIndexEncoderV1` do (including per-block tag
//! dictionary compression), and keeps the two running sizes HBase's writer uses to decide
//! where a block ends (`EncodingState.unencodedDataSizeWritten` / `encodedDataSizeWritten`).

use crate::bytes::common_prefix;
use crate::bytes::{vlong_size, write_pbvar, write_vlong};
use crate::cell::Cell;
use crate::dict::LruDict;
use crate::hfile::block::BlockType;
use crate::hfile::encoding::{CellFlags, Encoding};

/// Tag dictionary capacity inside encoded blocks (`Byte.MAX_VALUE`).
const TAG_DICT_CAPACITY: usize = 127;

const DIFF_SAME_KEY_LENGTH: u8 = 1;
const DIFF_SAME_VALUE_LENGTH: u8 = 1 << 1;
const DIFF_SAME_TYPE: u8 = 1 << 2;
const DIFF_TIMESTAMP_IS_DIFF: u8 = 1 << 3;
const DIFF_SHIFT_TIMESTAMP_LENGTH: u8 = 4;
const DIFF_TIMESTAMP_SIGN: u8 = 1 << 7;

const FAST_SAME_KEY_LENGTH: u8 = 1 << 3;
const FAST_SAME_VALUE_LENGTH: u8 = 1 << 4;
const FAST_SAME_TYPE: u8 = 1 << 5;
const FAST_SAME_VALUE: u8 = 1 << 6;

/// What the encoder keeps of the block's previous cell (delta encodings compare against it);
/// its key is the writer's, lent to each [`BlockEncoder::write`], not copied here.
#[derive(Debug, Clone)]
struct PrevMeta {
    value_len: usize,
    /// Where the block buffer holds the previous value's bytes (FAST_DIFF only, which
    /// compares whole values): a range instead of a copy per cell.
    value_at: std::ops::Range<usize>,
    row_len: usize,
}

/// The block's previous cell: its key and [`PrevMeta`].
#[derive(Debug, Clone)]
struct Prev<'k> {
    key: &'k [u8],
    /// Bytes the whole current and previous keys share (the writer's order check found it).
    common: usize,
    value_len: usize,
    value_at: std::ops::Range<usize>,
    row_len: usize,
}

impl Prev<'_> {
    fn row(&self) -> &[u8] {
        self.key.get(2..2 + self.row_len).unwrap_or(&[])
    }
    fn timestamp(&self) -> i64 {
        ts_of(self.key)
    }
    fn type_code(&self) -> u8 {
        self.key.last().copied().unwrap_or(0)
    }
    fn qualifier(&self) -> &[u8] {
        qual_of(self.key, self.row_len)
    }
}

fn ts_of(key: &[u8]) -> i64 {
    let n = key.len();
    key.get(n.saturating_sub(9)..n.saturating_sub(1))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map_or(0, i64::from_be_bytes)
}

fn qual_of(key: &[u8], row_len: usize) -> &[u8] {
    let fam_len = key.get(2 + row_len).copied().map_or(0, usize::from);
    let s = 3 + row_len + fam_len;
    key.get(s..key.len().saturating_sub(9)).unwrap_or(&[])
}

/// `ByteBufferUtils.putCompressedInt`.
fn put_cint(out: &mut Vec<u8>, v: usize) {
    write_pbvar(out, v as u64);
}

/// `ByteBufferUtils.longFitsIn`.
fn long_fits_in(v: i64) -> usize {
    if v < 0 {
        return 8;
    }
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(8).max(1)
}

/// `ByteBufferUtils.putLong(out, v, n)`: the low `n` bytes, little-endian.
fn put_long_le(out: &mut Vec<u8>, v: i64, n: usize) {
    let b = v.to_le_bytes();
    out.extend_from_slice(b.get(..n.min(8)).unwrap_or(&b));
}

/// `PrivateCellUtil.findCommonPrefixInFlatKey(cur, prev, bypassFamilyCheck = true, withTsType)`.
fn flat_key_common(cur: &Cell<'_>, prev: &Prev, with_ts_type: bool) -> usize {
    let r1 = cur.key.row().len();
    let r2 = prev.row_len;
    if r1 != r2 {
        return common_prefix(&(r1 as u16).to_be_bytes(), &(r2 as u16).to_be_bytes());
    }
    // The keys' common prefix decides whenever it ends inside the row, or (family check
    // bypassed, as HBase does) past equal families: then the qualifiers share
    // min(cp, end of the shorter qualifier) bytes.
    let (a, b) = (cur.key.raw(), prev.key);
    let cp = prev.common;
    if cp < 2 + r1 {
        return cp;
    }
    let fam_end = 3 + r1 + cur.key.family().len();
    if cp >= fam_end && a.len() >= fam_end + 9 && b.len() >= fam_end + 9 {
        let (q1, q2) = (a.len() - 9 - fam_end, b.len() - 9 - fam_end);
        let lim = fam_end + q1.min(q2);
        if !with_ts_type || q1 != q2 || cp < lim {
            return cp.min(lim);
        }
    }
    flat_key_common_by_parts(cur, prev, with_ts_type)
}

/// [`flat_key_common`] field by field (rows of the same length).
fn flat_key_common_by_parts(cur: &Cell<'_>, prev: &Prev, with_ts_type: bool) -> usize {
    let r1 = cur.key.row().len();
    let rk = common_prefix(cur.key.row(), prev.row());
    let mut common = 2 + rk;
    if rk != r1 {
        return common;
    }
    common += 1 + cur.key.family().len();
    let (q1, q2) = (cur.key.qualifier(), prev.qualifier());
    let qc = common_prefix(q1, q2);
    common += qc;
    if !with_ts_type || q1.len().max(q2.len()) != qc {
        return common;
    }
    let tc = common_prefix(
        &cur.key.timestamp().to_be_bytes(),
        &prev.timestamp().to_be_bytes(),
    );
    common += tc;
    if tc != 8 {
        return common;
    }
    if cur.key.type_code() == prev.type_code() {
        common += 1;
    }
    common
}

/// Bytes kept free in front of every block payload for the block header.
pub const ROOM: usize = crate::hfile::block::HEADER_SIZE;

/// Encodes the cells of one data block.
#[derive(Debug)]
pub struct BlockEncoder {
    encoding: Encoding,
    flags: CellFlags,
    buf: Vec<u8>,
    unencoded: usize,
    encoded: usize,
    cells: usize,
    prev: Option<PrevMeta>,
    tag_dict: Option<LruDict>,
    // ROW_INDEX_V1
    row_offsets: Vec<u8>,
    rows: usize,
    cells_start: Option<usize>,
    last_row: Option<Vec<u8>>,
}

impl BlockEncoder {
    /// An encoder for `encoding` (PREFIX_TREE is not writable and is treated as NONE by
    /// callers rejecting it first). `flags.tags_compressed` enables the per-block tag
    /// dictionary for PREFIX/DIFF/FAST_DIFF (HBase: includesTags && compressTags).
    pub fn new(encoding: Encoding, flags: CellFlags) -> Self {
        let mut e = BlockEncoder {
            encoding,
            flags,
            buf: Vec::new(),
            unencoded: 0,
            encoded: 0,
            cells: 0,
            prev: None,
            tag_dict: None,
            row_offsets: Vec::new(),
            rows: 0,
            cells_start: None,
            last_row: None,
        };
        e.start();
        e
    }

    fn delta(&self) -> bool {
        matches!(
            self.encoding,
            Encoding::Prefix | Encoding::Diff | Encoding::FastDiff
        )
    }

    /// Reset for a new block (writes the encoding id and the unencoded-size placeholder).
    pub fn start(&mut self) {
        self.buf.clear();
        self.buf.resize(ROOM, 0);
        self.unencoded = 0;
        self.encoded = 0;
        self.cells = 0;
        self.prev = None;
        self.row_offsets.clear();
        self.rows = 0;
        self.cells_start = None;
        self.last_row = None;
        if self.encoding != Encoding::None {
            self.buf
                .extend_from_slice(&self.encoding.id().to_be_bytes());
        }
        if self.delta() {
            self.buf.extend_from_slice(&[0, 0, 0, 0]);
            if self.flags.tags && self.flags.tags_compressed {
                match &mut self.tag_dict {
                    Some(d) => d.clear(),
                    None => self.tag_dict = Some(LruDict::new(TAG_DICT_CAPACITY)),
                }
            }
        }
    }

    /// Cells written to this block.
    pub fn cell_count(&self) -> usize {
        self.cells
    }

    /// Σ NONE-format size of the cells written (HBase `blockSizeWritten`).
    pub fn unencoded_size(&self) -> usize {
        self.unencoded
    }

    /// Σ encoded size of the cells written (HBase `encodedBlockSizeWritten`; for
    /// ROW_INDEX_V1 it includes 4 bytes per distinct row).
    pub fn encoded_size(&self) -> usize {
        self.encoded
    }

    /// The NONE-format cell bytes (`KeyValueUtil.oswrite` + tags length + memstoreTS).
    fn write_none_cell(&mut self, cell: &Cell<'_>) -> usize {
        let key = cell.key.raw();
        self.buf
            .reserve(8 + key.len() + cell.value.len() + 2 + cell.tags.len() + 9);
        let mut lens = [0u8; 8];
        lens[..4].copy_from_slice(&(key.len() as u32).to_be_bytes());
        lens[4..].copy_from_slice(&(cell.value.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(&lens);
        self.buf.extend_from_slice(key);
        self.buf.extend_from_slice(cell.value);
        let mut size = 8 + key.len() + cell.value.len();
        if self.flags.tags {
            self.buf
                .extend_from_slice(&(cell.tags.len() as u16).to_be_bytes());
            self.buf.extend_from_slice(cell.tags);
            size += 2 + cell.tags.len();
        }
        if self.flags.mvcc {
            write_vlong(&mut self.buf, cell.seq_id as i64);
            size += vlong_size(cell.seq_id as i64);
        }
        size
    }

    /// `BufferedDataBlockEncoder.afterEncodingKeyValue`: cint tags length, tags (raw or
    /// dictionary-compressed), vlong memstoreTS. Returns the unencoded size it accounts for.
    fn after_cell(&mut self, cell: &Cell<'_>) -> usize {
        let mut size = 0;
        if self.flags.tags {
            put_cint(&mut self.buf, cell.tags.len());
            if !cell.tags.is_empty() {
                match &mut self.tag_dict {
                    Some(dict) => {
                        let mut rest = cell.tags;
                        while rest.len() >= 2 {
                            let l = u16::from_be_bytes([
                                rest.first().copied().unwrap_or(0),
                                rest.get(1).copied().unwrap_or(0),
                            ]) as usize;
                            let body = rest.get(2..2 + l).unwrap_or(&[]);
                            match dict.find(body) {
                                Some(idx) => self.buf.extend_from_slice(&idx.to_be_bytes()),
                                None => {
                                    dict.add(body);
                                    self.buf.push(0xff);
                                    write_pbvar(&mut self.buf, body.len() as u64);
                                    self.buf.extend_from_slice(body);
                                }
                            }
                            rest = rest.get(2 + l..).unwrap_or(&[]);
                        }
                    }
                    None => self.buf.extend_from_slice(cell.tags),
                }
            }
            size += 2 + cell.tags.len();
        }
        if self.flags.mvcc {
            write_vlong(&mut self.buf, cell.seq_id as i64);
            size += vlong_size(cell.seq_id as i64);
        }
        size
    }

    /// Append one cell. Cells must already be validated and in order; `prev_key` is the key
    /// of the cell written before it and `common` how many leading bytes the two keys share
    /// (both ignored at the start of a block).
    pub fn write(&mut self, cell: &Cell<'_>, prev_key: Option<&[u8]>, common: usize) {
        let prev = match (&self.prev, prev_key) {
            (Some(m), Some(key)) => Some(Prev {
                key,
                common,
                value_len: m.value_len,
                value_at: m.value_at.clone(),
                row_len: m.row_len,
            }),
            _ => None,
        };
        let prev = prev.as_ref();
        let before = self.buf.len();
        let key = cell.key.raw();
        let base = 8 + key.len() + cell.value.len();
        let mut value_at = 0..0;
        let unencoded = match self.encoding {
            Encoding::None | Encoding::PrefixTree => {
                let s = self.write_none_cell(cell);
                self.encoded += s;
                s
            }
            Encoding::RowIndexV1 => {
                let row = cell.key.row();
                let mut extra = 0;
                if self.last_row.as_deref() != Some(row) {
                    let start = *self.cells_start.get_or_insert(self.buf.len());
                    let off = (self.buf.len() - start) as u32;
                    self.row_offsets.extend_from_slice(&off.to_be_bytes());
                    self.rows += 1;
                    extra = 4;
                    self.last_row = Some(row.to_vec());
                }
                let s = self.write_none_cell(cell);
                self.encoded += s + extra;
                s
            }
            Encoding::Prefix => {
                match prev {
                    None => {
                        put_cint(&mut self.buf, key.len());
                        put_cint(&mut self.buf, cell.value.len());
                        put_cint(&mut self.buf, 0);
                        self.buf.extend_from_slice(key);
                    }
                    Some(p) => {
                        let common = flat_key_common(cell, p, true);
                        put_cint(&mut self.buf, key.len() - common);
                        put_cint(&mut self.buf, cell.value.len());
                        put_cint(&mut self.buf, common);
                        self.buf.extend_from_slice(key.get(common..).unwrap_or(&[]));
                    }
                }
                self.buf.extend_from_slice(cell.value);
                let s = base + self.after_cell(cell);
                self.encoded += self.buf.len() - before;
                s
            }
            Encoding::Diff => {
                self.write_diff(cell, prev);
                let s = base + self.after_cell(cell);
                self.encoded += self.buf.len() - before;
                s
            }
            Encoding::FastDiff => {
                value_at = self.write_fast_diff(cell, prev);
                let s = base + self.after_cell(cell);
                self.encoded += self.buf.len() - before;
                s
            }
        };
        self.unencoded += unencoded;
        self.cells += 1;
        if self.delta() {
            self.prev = Some(PrevMeta {
                value_len: cell.value.len(),
                value_at,
                row_len: cell.key.row().len(),
            });
        }
    }

    /// Row part / qualifier part shared by DIFF and FAST_DIFF.
    fn write_row_qual(&mut self, cell: &Cell<'_>, common: usize) {
        let key = cell.key.raw();
        let row_end = 2 + cell.key.row().len();
        let qual_end = key.len().saturating_sub(9);
        if common < row_end {
            // The rest of the row, then the whole qualifier (the family is implied).
            let qual_start = row_end + 1 + cell.key.family().len();
            self.buf
                .extend_from_slice(key.get(common..row_end).unwrap_or(&[]));
            self.buf
                .extend_from_slice(key.get(qual_start..qual_end).unwrap_or(&[]));
        } else {
            // Same row: `common` counts into the qualifier; the rest of it follows.
            self.buf
                .extend_from_slice(key.get(common..qual_end).unwrap_or(&[]));
        }
    }

    fn write_diff(&mut self, cell: &Cell<'_>, prev: Option<&Prev<'_>>) {
        let key = cell.key.raw();
        let vlen = cell.value.len();
        let mut flag: u8 = 0;
        let mut common = 0;
        let ts_raw = cell.key.timestamp();
        let mut timestamp = ts_raw;
        let ts_bytes;
        let mut diff_ts = 0i64;
        let mut diff_bytes = 0usize;
        match prev {
            None => {
                if timestamp < 0 {
                    flag |= DIFF_TIMESTAMP_SIGN;
                    timestamp = timestamp.wrapping_neg();
                }
                ts_bytes = long_fits_in(timestamp);
                flag |= ((ts_bytes - 1) as u8) << DIFF_SHIFT_TIMESTAMP_LENGTH;
                let fam = cell.key.family();
                self.buf.push(fam.len() as u8);
                self.buf.extend_from_slice(fam);
            }
            Some(p) => {
                common = flat_key_common(cell, p, false);
                if key.len() == p.key.len() {
                    flag |= DIFF_SAME_KEY_LENGTH;
                }
                if vlen == p.value_len {
                    flag |= DIFF_SAME_VALUE_LENGTH;
                }
                if cell.key.type_code() == p.type_code() {
                    flag |= DIFF_SAME_TYPE;
                }
                diff_ts = p.timestamp().wrapping_sub(timestamp);
                let negative = timestamp < 0;
                if negative {
                    timestamp = timestamp.wrapping_neg();
                }
                ts_bytes = long_fits_in(timestamp);
                let minus = diff_ts < 0;
                if minus {
                    diff_ts = diff_ts.wrapping_neg();
                }
                diff_bytes = long_fits_in(diff_ts);
                if diff_bytes < ts_bytes {
                    flag |= ((diff_bytes - 1) as u8) << DIFF_SHIFT_TIMESTAMP_LENGTH;
                    flag |= DIFF_TIMESTAMP_IS_DIFF;
                    if minus {
                        flag |= DIFF_TIMESTAMP_SIGN;
                    }
                } else {
                    flag |= ((ts_bytes - 1) as u8) << DIFF_SHIFT_TIMESTAMP_LENGTH;
                    if negative {
                        flag |= DIFF_TIMESTAMP_SIGN;
                    }
                }
            }
        }
        self.buf.push(flag);
        if flag & DIFF_SAME_KEY_LENGTH == 0 {
            put_cint(&mut self.buf, key.len());
        }
        if flag & DIFF_SAME_VALUE_LENGTH == 0 {
            put_cint(&mut self.buf, vlen);
        }
        put_cint(&mut self.buf, common);
        self.write_row_qual(cell, common);
        if flag & DIFF_TIMESTAMP_IS_DIFF == 0 {
            put_long_le(&mut self.buf, timestamp, ts_bytes);
        } else {
            put_long_le(&mut self.buf, diff_ts, diff_bytes);
        }
        if flag & DIFF_SAME_TYPE == 0 {
            self.buf.push(cell.key.type_code());
        }
        self.buf.extend_from_slice(cell.value);
    }

    /// FAST_DIFF one cell; returns where the buffer now holds this cell's value.
    fn write_fast_diff(
        &mut self,
        cell: &Cell<'_>,
        prev: Option<&Prev<'_>>,
    ) -> std::ops::Range<usize> {
        let key = cell.key.raw();
        let vlen = cell.value.len();
        let Some(p) = prev else {
            self.buf.push(0);
            put_cint(&mut self.buf, key.len());
            put_cint(&mut self.buf, vlen);
            put_cint(&mut self.buf, 0);
            self.buf.extend_from_slice(key);
            let at = self.buf.len();
            self.buf.extend_from_slice(cell.value);
            return at..at + vlen;
        };
        let common = flat_key_common(cell, p, false);
        let n = key.len();
        let mut flag: u8 = 0;
        if n == p.key.len() {
            flag |= FAST_SAME_KEY_LENGTH;
        }
        if vlen == p.value_len {
            flag |= FAST_SAME_VALUE_LENGTH;
        }
        let type_code = cell.key.type_code();
        if type_code == p.type_code() {
            flag |= FAST_SAME_TYPE;
        }
        let ts = cell.key.timestamp() as u64;
        let ts_common = ((ts ^ p.timestamp() as u64).leading_zeros() / 8).min(7) as usize;
        flag |= ts_common as u8;
        let prev_value = p.value_at.clone();
        let same_value = vlen == p.value_len
            && (vlen == 0 || cell.value.first() == self.buf.get(prev_value.start))
            && self.buf.get(prev_value.clone()) == Some(cell.value);
        if same_value {
            flag |= FAST_SAME_VALUE;
        }
        self.buf.reserve(n + vlen + 24);
        self.buf.push(flag);
        if flag & FAST_SAME_KEY_LENGTH == 0 {
            put_cint(&mut self.buf, n);
        }
        if flag & FAST_SAME_VALUE_LENGTH == 0 {
            put_cint(&mut self.buf, vlen);
        }
        put_cint(&mut self.buf, common);
        self.write_row_qual(cell, common);
        self.buf
            .extend_from_slice(ts.to_be_bytes().get(ts_common..).unwrap_or(&[]));
        if flag & FAST_SAME_TYPE == 0 {
            self.buf.push(type_code);
        }
        if same_value {
            return prev_value;
        }
        let at = self.buf.len();
        self.buf.extend_from_slice(cell.value);
        at..at + vlen
    }

    /// Finish the block: fill the unencoded size (delta encodings) or append the row index
    /// (ROW_INDEX_V1). Returns the block type and the uncompressed payload.
    pub fn finish(&mut self) -> (BlockType, &[u8]) {
        let t = self.seal();
        (t, self.buf.get(ROOM..).unwrap_or_default())
    }

    /// Like [`Self::finish`], but returns the payload behind [`ROOM`] bytes of room for the
    /// block header, so an uncompressed block is framed and checksummed in place.
    pub fn finish_framed(&mut self) -> (BlockType, &mut [u8]) {
        let t = self.seal();
        (t, &mut self.buf)
    }

    fn seal(&mut self) -> BlockType {
        match self.encoding {
            Encoding::None | Encoding::PrefixTree => return BlockType::Data,
            Encoding::RowIndexV1 => {
                let data = self
                    .cells_start
                    .map_or(0, |s| self.buf.len().saturating_sub(s));
                self.buf
                    .extend_from_slice(&(self.rows as u32).to_be_bytes());
                let offs = std::mem::take(&mut self.row_offsets);
                self.buf.extend_from_slice(&offs);
                self.row_offsets = offs;
                self.buf.extend_from_slice(&(data as u32).to_be_bytes());
            }
            _ => {
                let size = (self.unencoded as u32).to_be_bytes();
                if let Some(slot) = self.buf.get_mut(ROOM + 2..ROOM + 6) {
                    slot.copy_from_slice(&size);
                }
            }
        }
        BlockType::EncodedData
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, Key};

    /// The one-scan common prefix equals HBase's field-by-field one: rows, families (equal or
    /// not, family check bypassed), qualifiers sharing prefixes or equal, timestamps, types.
    #[test]
    fn flat_key_common_one_scan_equals_by_parts() {
        let mut x = 5u64;
        let mut pick = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 33) % n
        };
        let mut keys = Vec::new();
        for _ in 0..4000 {
            let row = [b'r', b'a' + pick(2) as u8, b'a' + pick(2) as u8];
            let fam = [b"f".as_slice(), b"g", b"fg"][pick(3) as usize];
            let qual = &b"abc"[..pick(4) as usize];
            keys.push(make_key(
                &row,
                fam,
                qual,
                pick(3) as i64,
                [4u8, 8][pick(2) as usize],
            ));
        }
        for w in keys.windows(2) {
            let (pk, ck) = (Key::parse(&w[0]).unwrap(), Key::parse(&w[1]).unwrap());
            let cell = Cell {
                key: ck,
                value: b"",
                tags: &[],
                seq_id: 0,
            };
            let prev = Prev {
                key: &w[0],
                common: common_prefix(&w[0], &w[1]),
                value_len: 0,
                value_at: 0..0,
                row_len: pk.row().len(),
            };
            for ts_type in [false, true] {
                assert_eq!(
                    flat_key_common(&cell, &prev, ts_type),
                    flat_key_common_by_parts(&cell, &prev, ts_type),
                    "{:?} after {:?}",
                    w[1],
                    w[0]
                );
            }
        }
    }

    #[test]
    fn fits_in() {
        assert_eq!(long_fits_in(0), 1);
        assert_eq!(long_fits_in(255), 1);
        assert_eq!(long_fits_in(256), 2);
        assert_eq!(long_fits_in(-1), 8);
        assert_eq!(long_fits_in(i64::MAX), 8);
    }
}
