//! Data block encodings: cells inside DATA (`NONE`) and ENCODED_DATA blocks (PREFIX, DIFF,
//! FAST_DIFF, ROW_INDEX_V1). A [`BlockDecoder`] walks one uncompressed block payload and
//! yields cells; NONE and ROW_INDEX_V1 keys are zero-copy slices of the block, the
//! delta encodings rebuild keys in a reused buffer.

use crate::bytes::{be_i32, read_cint, read_vlong};
use crate::cell::{Cell, Key};
use crate::dict::LruDict;
use crate::error::{Error, Result};

/// `DataBlockEncoding` with its on-disk id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Encoding {
    /// 0: plain cells.
    None,
    /// 2: shared key prefix.
    Prefix,
    /// 3: DIFF.
    Diff,
    /// 4: FAST_DIFF.
    FastDiff,
    /// 6: PREFIX_TREE (HBase 1.x only; refused).
    PrefixTree,
    /// 7: ROW_INDEX_V1.
    RowIndexV1,
}

impl Encoding {
    /// From the id stored in encoded blocks.
    pub fn from_id(id: i16) -> Option<Encoding> {
        Some(match id {
            0 => Encoding::None,
            2 => Encoding::Prefix,
            3 => Encoding::Diff,
            4 => Encoding::FastDiff,
            6 => Encoding::PrefixTree,
            7 => Encoding::RowIndexV1,
            _ => return Option::None,
        })
    }
    /// On-disk id.
    pub fn id(self) -> i16 {
        match self {
            Encoding::None => 0,
            Encoding::Prefix => 2,
            Encoding::Diff => 3,
            Encoding::FastDiff => 4,
            Encoding::PrefixTree => 6,
            Encoding::RowIndexV1 => 7,
        }
    }
    /// HBase's name.
    pub fn name(self) -> &'static str {
        match self {
            Encoding::None => "NONE",
            Encoding::Prefix => "PREFIX",
            Encoding::Diff => "DIFF",
            Encoding::FastDiff => "FAST_DIFF",
            Encoding::PrefixTree => "PREFIX_TREE",
            Encoding::RowIndexV1 => "ROW_INDEX_V1",
        }
    }
    /// Parse an HBase name, case-insensitive.
    pub fn from_name(s: &str) -> Option<Encoding> {
        [
            Encoding::None,
            Encoding::Prefix,
            Encoding::Diff,
            Encoding::FastDiff,
            Encoding::PrefixTree,
            Encoding::RowIndexV1,
        ]
        .into_iter()
        .find(|e| e.name().eq_ignore_ascii_case(s))
    }
}

/// Per-file cell layout flags (from FileInfo, §5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct CellFlags {
    /// Cells carry a tags length.
    pub tags: bool,
    /// Cells carry a vlong memstoreTS.
    pub mvcc: bool,
    /// Tags are dictionary-compressed (PREFIX/DIFF/FAST_DIFF only).
    pub tags_compressed: bool,
}

/// Tag dictionary capacity inside encoded blocks.
const TAG_DICT_CAPACITY: usize = 127;

/// A block payload: borrowed from the mapped file (uncompressed files) or owned after
/// decompression.
#[derive(Debug)]
pub enum Payload<'a> {
    /// Bytes of the mapped file.
    Borrowed(&'a [u8]),
    /// A decompressed buffer.
    Owned(Vec<u8>),
}

impl Payload<'_> {
    /// The bytes.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Borrowed(b) => b,
            Payload::Owned(v) => v,
        }
    }
}

#[inline]
fn sl<'s>(p: &'s Payload<'_>, r: (usize, usize)) -> &'s [u8] {
    p.bytes().get(r.0..r.1).unwrap_or(&[])
}

/// A byte range of the payload: (start, end).
type Range = (usize, usize);

/// What follows an encoded cell: the tags range in the payload (None when rebuilt into the
/// tag buffer), the bytes the suffix adds to the unencoded size, and the memstoreTS.
type Suffix = (Option<(usize, usize)>, usize, u64);

/// A cell and the KEY of the cell before it in the block.
pub type WithPrev<'s> = (Cell<'s>, Option<&'s [u8]>);

/// Decodes the cells of one uncompressed data block payload.
#[derive(Debug)]
pub struct BlockDecoder<'a> {
    data: Payload<'a>,
    pos: usize,
    end: usize,
    enc: Encoding,
    flags: CellFlags,
    /// Declared unencoded size (PREFIX/DIFF/FAST_DIFF), for verification.
    declared_unencoded: Option<usize>,
    unencoded: usize,
    cur: Vec<u8>,
    prev: Vec<u8>,
    first: bool,
    prev_value_len: usize,
    prev_value: (usize, usize),
    prev_type: u8,
    prev_ts: i64,
    block_family: (usize, usize),
    tag_buf: Vec<u8>,
    tag_dict: Option<LruDict>,
    row_index: Option<(usize, usize)>,
    prev_plain: Option<(usize, usize)>,
}

#[cold]
#[inline(never)]
fn bad(at: usize, m: impl Into<String>) -> Error {
    Error::corrupt("data block", m).at(at as u64)
}

/// Why `raw`, the key of the cell at `at`, does not parse.
#[cold]
#[inline(never)]
fn key_error(raw: &[u8], at: usize) -> Error {
    match Key::parse(raw) {
        Err(e) => e.at(at as u64),
        Ok(_) => bad(at, "cell key failed a check it then passed"),
    }
}

impl<'a> BlockDecoder<'a> {
    /// Start decoding `payload`. `encoded` is true for ENCODED_DATA blocks, whose first two
    /// bytes name the encoding; `file_encoding` is what FileInfo declares.
    pub fn new(
        data: Payload<'a>,
        encoded: bool,
        file_encoding: Encoding,
        flags: CellFlags,
    ) -> Result<Self> {
        let payload = data.bytes();
        let n = payload.len();
        let (mut enc, mut pos, mut end) = (Encoding::None, 0usize, n);
        let (mut declared, mut family, mut row_index) = (None, (0, 0), None);
        if encoded {
            let id = crate::bytes::be_u16(payload, 0)
                .ok_or_else(|| bad(0, "encoded block shorter than its 2-byte encoding id"))?
                as i16;
            enc = Encoding::from_id(id).ok_or_else(|| {
                Error::unsupported("data block", format!("unknown data block encoding id {id}"))
                    .at(0)
            })?;
            if enc == Encoding::PrefixTree {
                return Err(Error::unsupported(
                    "data block",
                    "PREFIX_TREE encoding (HBase 1.x only, removed in 2.0) is not supported; major-compact the table with another encoding under HBase 1.x first",
                )
                .at(0));
            }
            if enc != file_encoding && file_encoding != Encoding::None {
                return Err(bad(
                    0,
                    format!(
                        "block is {} but FileInfo declares {}",
                        enc.name(),
                        file_encoding.name()
                    ),
                ));
            }
            pos = 2;
            if enc == Encoding::RowIndexV1 {
                let cells_size = n
                    .checked_sub(4)
                    .and_then(|p| be_i32(payload, p))
                    .and_then(|v| usize::try_from(v).ok())
                    .ok_or_else(|| bad(0, "ROW_INDEX_V1 block too short for its cells size"))?;
                let rc_at = 2usize
                    .checked_add(cells_size)
                    .filter(|&x| x + 8 <= n)
                    .ok_or_else(|| {
                        bad(
                            n.saturating_sub(4),
                            format!(
                                "ROW_INDEX_V1 cells size {cells_size} exceeds the {n}-byte block"
                            ),
                        )
                    })?;
                let rows = be_i32(payload, rc_at)
                    .and_then(|v| usize::try_from(v).ok())
                    .unwrap_or(usize::MAX);
                if rows.checked_mul(4).and_then(|x| x.checked_add(rc_at + 8)) != Some(n) {
                    return Err(bad(
                        rc_at,
                        format!("ROW_INDEX_V1 row count {rows} does not match the block size {n}"),
                    ));
                }
                end = rc_at;
                row_index = Some((rows, rc_at + 4));
            } else {
                let u = be_i32(payload, 2)
                    .ok_or_else(|| bad(2, "encoded block shorter than its unencoded-size field"))?;
                declared = Some(
                    usize::try_from(u)
                        .map_err(|_| bad(2, format!("negative unencoded size {u}")))?,
                );
                pos = 6;
                if enc == Encoding::Diff {
                    let fl = *payload
                        .get(6)
                        .ok_or_else(|| bad(6, "DIFF block lacks its family"))?
                        as usize;
                    if 7 + fl > n {
                        return Err(bad(
                            6,
                            format!("DIFF block family of {fl} bytes runs past the block"),
                        ));
                    }
                    family = (7, fl);
                    pos = 7 + fl;
                }
            }
        }
        let tag_dict = (enc != Encoding::None
            && enc != Encoding::RowIndexV1
            && flags.tags
            && flags.tags_compressed)
            .then(|| LruDict::new(TAG_DICT_CAPACITY));
        Ok(BlockDecoder {
            data,
            pos,
            end,
            enc,
            flags,
            declared_unencoded: declared,
            unencoded: 0,
            cur: Vec::new(),
            prev: Vec::new(),
            first: true,
            prev_value_len: 0,
            prev_value: (0, 0),
            prev_type: 0,
            prev_ts: 0,
            block_family: family,
            tag_buf: Vec::new(),
            tag_dict,
            row_index,
            prev_plain: None,
        })
    }

    /// Encoding of this block.
    pub fn encoding(&self) -> Encoding {
        self.enc
    }
    /// Offset inside the payload of the next cell.
    pub fn position(&self) -> usize {
        self.pos
    }
    /// ROW_INDEX_V1 row count and row offsets (relative to the cells start), if any.
    pub fn row_index(&self) -> Option<(usize, &[u8])> {
        let (n, at) = self.row_index?;
        Some((n, self.data.bytes().get(at..at + 4 * n).unwrap_or(&[])))
    }
    /// KEY of the last cell returned, if any.
    pub fn last_key(&self) -> Option<&[u8]> {
        match self.enc {
            Encoding::None | Encoding::RowIndexV1 => self.prev_plain.map(|r| sl(&self.data, r)),
            _ => (!self.first).then_some(self.prev.as_slice()),
        }
    }
    /// True when every cell has been read.
    #[inline]
    pub fn at_end(&self) -> bool {
        self.pos >= self.end
    }
    /// Give the payload back (to reuse its buffer).
    pub fn into_payload(self) -> Payload<'a> {
        self.data
    }
    /// After the last cell: check the declared unencoded size. Returns (declared, computed)
    /// on mismatch.
    pub fn check_unencoded_size(&self) -> std::result::Result<(), (usize, usize)> {
        match self.declared_unencoded {
            Some(d) if d != self.unencoded => Err((d, self.unencoded)),
            _ => Ok(()),
        }
    }

    fn cint(&mut self, what: &str) -> Result<usize> {
        let (v, n) = read_cint(self.data.bytes().get(self.pos..self.end).unwrap_or(&[]))
            .ok_or_else(|| bad(self.pos, format!("truncated or bad {what}")))?;
        self.pos += n;
        Ok(v as usize)
    }
    fn take(&mut self, n: usize, what: &str) -> Result<(usize, usize)> {
        let s = self.pos;
        let e = s.checked_add(n).filter(|&e| e <= self.end).ok_or_else(|| {
            bad(
                s,
                format!(
                    "{what} of {n} bytes runs past the end of the block ({} bytes left)",
                    self.end.saturating_sub(s)
                ),
            )
        })?;
        self.pos = e;
        Ok((s, e))
    }
    fn u8(&mut self, what: &str) -> Result<u8> {
        let (s, _) = self.take(1, what)?;
        Ok(self.data.bytes().get(s).copied().unwrap_or(0))
    }

    /// The next cell, or None at the end of the block.
    #[inline]
    pub fn next_cell(&mut self) -> Result<Option<Cell<'_>>> {
        if let Some((key, value, seq)) = self.plain_fast() {
            self.prev_plain = Some(key);
            return self.plain_cell(key, value, seq).map(Some);
        }
        Ok(self.next_general()?.map(|(c, _)| c))
    }

    /// The next cell together with the KEY of the cell before it in this block (None for the
    /// first), so order checks need no copy of the previous key.
    #[inline]
    pub fn next_with_prev(&mut self) -> Result<Option<WithPrev<'_>>> {
        if let Some((key, value, seq)) = self.plain_fast() {
            let prev = self.prev_plain.replace(key);
            let cell = self.plain_cell(key, value, seq)?;
            return Ok(Some((cell, prev.map(|r| sl(&self.data, r)))));
        }
        self.next_general()
    }

    /// The cell [`Self::plain_fast`] found.
    #[inline(always)]
    fn plain_cell(&self, key: Range, value: Range, seq: u64) -> Result<Cell<'_>> {
        let d = &self.data;
        match Key::try_parse(sl(d, key)) {
            Some(k) => Ok(Cell {
                key: k,
                value: sl(d, value),
                tags: &[],
                seq_id: seq,
            }),
            None => Err(key_error(sl(d, key), key.0 - 8)),
        }
    }

    /// [`Self::next_with_prev`] for every encoding and every cell, naming what is wrong.
    #[inline(never)]
    fn next_general(&mut self) -> Result<Option<WithPrev<'_>>> {
        if self.pos >= self.end {
            if self.pos > self.end {
                return Err(bad(self.pos, "cell ran past the end of the block"));
            }
            return Ok(None);
        }
        match self.enc {
            Encoding::None | Encoding::RowIndexV1 => self.next_plain().map(Some),
            Encoding::Prefix => self.next_prefix().map(Some),
            Encoding::Diff | Encoding::FastDiff => self.next_diff().map(Some),
            Encoding::PrefixTree => Err(Error::unsupported("data block", "PREFIX_TREE")),
        }
    }

    #[inline]
    fn next_plain(&mut self) -> Result<WithPrev<'_>> {
        let start = self.pos;
        let (kl, vl) = match (
            be_i32(self.data.bytes(), start),
            be_i32(self.data.bytes(), start + 4),
        ) {
            (Some(k), Some(v)) if start + 8 <= self.end => (k, v),
            _ => return Err(bad(start, "truncated cell lengths")),
        };
        let (kl, vl) = match (usize::try_from(kl), usize::try_from(vl)) {
            (Ok(k), Ok(v)) => (k, v),
            _ => {
                return Err(bad(
                    start,
                    format!("negative cell length (key {kl}, value {vl})"),
                ))
            }
        };
        self.pos = start + 8;
        let key = self.take(kl, "cell key")?;
        let value = self.take(vl, "cell value")?;
        let tags = if self.flags.tags {
            let (s, _) = self.take(2, "tags length")?;
            let tl = crate::bytes::be_u16(self.data.bytes(), s).unwrap_or(0) as usize;
            self.take(tl, "cell tags")?
        } else {
            (self.pos, self.pos)
        };
        let seq = self.mvcc()?;
        let prev = self.prev_plain.replace(key);
        let d = &self.data;
        let key = Key::parse(sl(d, key)).map_err(|e| e.at(start as u64))?;
        Ok((
            Cell {
                key,
                value: sl(d, value),
                tags: sl(d, tags),
                seq_id: seq,
            },
            prev.map(|r| sl(d, r)),
        ))
    }

    /// The common plain cell (no tags) read with the
    /// fewest checks that keep every range inside the block: the key and value ranges and
    /// the memstoreTS, the position moved past the cell. None, position unchanged, sends the
    /// cell to the careful path, which names what is wrong.
    #[inline(always)]
    fn plain_fast(&mut self) -> Option<(Range, Range, u64)> {
        if self.flags.tags || !matches!(self.enc, Encoding::None | Encoding::RowIndexV1) {
            return None;
        }
        let d = self.data.bytes();
        let start = self.pos;
        let lens: &[u8; 8] = d.get(start..start.checked_add(8)?)?.try_into().ok()?;
        let [k0, k1, k2, k3, v0, v1, v2, v3] = *lens;
        // Lengths are Java ints: a negative one reads as 2^31 or more and fails the end check.
        let kl = u32::from_be_bytes([k0, k1, k2, k3]) as usize;
        let vl = u32::from_be_bytes([v0, v1, v2, v3]) as usize;
        let ks = start + 8;
        let vs = ks.checked_add(kl)?;
        let mut end = vs.checked_add(vl)?;
        let mut seq = 0;
        if self.flags.mvcc {
            let (v, n) = read_vlong(d.get(end..)?)?;
            seq = v as u64;
            end += n;
        }
        if end > self.end {
            return None;
        }
        self.pos = end;
        Some(((ks, vs), (vs, vs + vl), seq))
    }

    /// Append the payload bytes `r` (a range [`Self::take`] checked) to the key being rebuilt.
    #[inline(always)]
    fn push_cur(&mut self, r: Range) {
        let d = self.data.bytes();
        if crate::bytes::extend_from(&mut self.cur, d, r.0, r.1 - r.0).is_none() {
            self.cur.extend_from_slice(sl(&self.data, r));
        }
    }

    #[inline]
    fn mvcc(&mut self) -> Result<u64> {
        if !self.flags.mvcc {
            return Ok(0);
        }
        let (v, n) = read_vlong(self.data.bytes().get(self.pos..self.end).unwrap_or(&[]))
            .ok_or_else(|| bad(self.pos, "truncated memstoreTS vlong"))?;
        self.pos += n;
        Ok(v as u64)
    }

    /// Tags and memstoreTS after a PREFIX/DIFF/FAST_DIFF cell. Returns the tags range in
    /// `data`, or None when the tags were rebuilt into `tag_buf`.
    fn encoded_suffix(&mut self) -> Result<Suffix> {
        let mut tags = Some((self.pos, self.pos));
        let mut tags_len = 0;
        if self.flags.tags {
            tags_len = self.cint("tags length")?;
            if let Some(dict) = self.tag_dict.as_mut() {
                let data = self.data.bytes();
                self.tag_buf.clear();
                while self.tag_buf.len() < tags_len {
                    let at = self.pos;
                    let status = *data
                        .get(self.pos)
                        .filter(|_| self.pos < self.end)
                        .ok_or_else(|| bad(at, "truncated compressed tag"))?;
                    if status == 0xff {
                        self.pos += 1;
                        let (l, n) =
                            crate::bytes::read_pbvar(data.get(self.pos..self.end).unwrap_or(&[]))
                                .ok_or_else(|| bad(at, "bad compressed tag length"))?;
                        self.pos += n;
                        let l = usize::try_from(l)
                            .ok()
                            .filter(|&l| l <= u16::MAX as usize)
                            .ok_or_else(|| bad(at, "tag too long"))?;
                        let body = data
                            .get(self.pos..self.pos.saturating_add(l))
                            .filter(|_| self.pos + l <= self.end)
                            .ok_or_else(|| bad(at, "compressed tag runs past the block"))?;
                        self.pos += l;
                        dict.add(body);
                        self.tag_buf.extend_from_slice(&(l as u16).to_be_bytes());
                        self.tag_buf.extend_from_slice(body);
                    } else {
                        let idx = crate::bytes::be_u16(data, self.pos)
                            .filter(|_| self.pos + 2 <= self.end)
                            .ok_or_else(|| bad(at, "truncated tag dictionary index"))?;
                        self.pos += 2;
                        let body = dict.get(idx).ok_or_else(|| {
                            bad(at, format!("tag dictionary index {idx} is not defined"))
                        })?;
                        self.tag_buf
                            .extend_from_slice(&(body.len() as u16).to_be_bytes());
                        self.tag_buf.extend_from_slice(body);
                    }
                }
                if self.tag_buf.len() != tags_len {
                    return Err(bad(
                        self.pos,
                        format!(
                            "compressed tags rebuilt to {} bytes, declared {tags_len}",
                            self.tag_buf.len()
                        ),
                    ));
                }
                tags = None;
            } else {
                tags = Some(self.take(tags_len, "cell tags")?);
            }
        }
        let before = self.pos;
        let seq = self.mvcc()?;
        let mvcc_size = self.pos - before;
        let extra = if self.flags.tags { 2 + tags_len } else { 0 } + mvcc_size;
        Ok((tags, extra, seq))
    }

    fn finish_encoded(
        &mut self,
        start: usize,
        value: (usize, usize),
        key_type: u8,
    ) -> Result<WithPrev<'_>> {
        let (tags, extra, seq) = self.encoded_suffix()?;
        std::mem::swap(&mut self.cur, &mut self.prev);
        let had_prev = !self.first;
        self.first = false;
        self.prev_value = value;
        self.prev_value_len = value.1 - value.0;
        self.prev_type = key_type;
        self.unencoded += 8 + self.prev.len() + self.prev_value_len + extra;
        let key = Key::parse(&self.prev).map_err(|e| e.at(start as u64))?;
        self.prev_ts = key.timestamp();
        let tags = match tags {
            Some(r) => sl(&self.data, r),
            None => self.tag_buf.as_slice(),
        };
        Ok((
            Cell {
                key,
                value: sl(&self.data, value),
                tags,
                seq_id: seq,
            },
            had_prev.then_some(self.cur.as_slice()),
        ))
    }

    fn next_prefix(&mut self) -> Result<WithPrev<'_>> {
        let start = self.pos;
        let kl_minus = self.cint("key length")?;
        let vl = self.cint("value length")?;
        let common = self.cint("common prefix")?;
        if common > self.prev.len() {
            return Err(bad(
                start,
                format!(
                    "common prefix {common} is longer than the previous key ({})",
                    self.prev.len()
                ),
            ));
        }
        let suffix = self.take(kl_minus, "key suffix")?;
        self.cur.clear();
        self.cur
            .extend_from_slice(self.prev.get(..common).unwrap_or(&[]));
        self.cur.extend_from_slice(sl(&self.data, suffix));
        let value = self.take(vl, "cell value")?;
        let t = self.cur.last().copied().unwrap_or(0);
        self.finish_encoded(start, value, t)
    }

    fn next_diff(&mut self) -> Result<WithPrev<'_>> {
        let fast = self.enc == Encoding::FastDiff;
        let start = self.pos;
        let flag = self.u8("flag")?;
        let (same_kl, same_vl, same_type) = if fast {
            (flag & 0x08 != 0, flag & 0x10 != 0, flag & 0x20 != 0)
        } else {
            (flag & 0x01 != 0, flag & 0x02 != 0, flag & 0x04 != 0)
        };
        if self.first && (same_kl || same_vl || same_type || (fast && flag & 0x40 != 0)) {
            return Err(bad(
                start,
                format!(
                    "first cell of the block has flag {flag:#04x} referring to a previous cell"
                ),
            ));
        }
        let kl = if same_kl {
            self.prev.len()
        } else {
            self.cint("key length")?
        };
        let vl = if same_vl {
            self.prev_value_len
        } else {
            self.cint("value length")?
        };
        let common = self.cint("common prefix")?;
        if kl < crate::cell::KEY_INFRASTRUCTURE {
            return Err(bad(
                start,
                format!("key length {kl} is shorter than the 12-byte minimum"),
            ));
        }
        self.cur.clear();
        if fast && self.first {
            if common != 0 {
                return Err(bad(start, "first cell of the block has a common prefix"));
            }
            let r = self.take(kl - 9, "first key")?;
            self.cur.extend_from_slice(sl(&self.data, r));
        } else {
            let prev_row_len = crate::bytes::be_u16(&self.prev, 0).map_or(0, usize::from);
            let prev_col_len = self.prev.len().saturating_sub(9);
            if common > prev_col_len {
                return Err(bad(start, format!("common prefix {common} exceeds the previous key's columns ({prev_col_len})")));
            }
            if self.first || common < 2 + prev_row_len {
                // Row differs: rebuild row length and row, family from block or previous cell.
                self.cur
                    .extend_from_slice(self.prev.get(..common).unwrap_or(&[]));
                if common < 2 {
                    let r = self.take(2 - common, "row length")?;
                    self.cur.extend_from_slice(sl(&self.data, r));
                }
                let row_len = crate::bytes::be_u16(&self.cur, 0).map_or(0, usize::from);
                let have = self.cur.len();
                let need = (2 + row_len)
                    .checked_sub(have)
                    .ok_or_else(|| bad(start, "common prefix beyond the row"))?;
                let r = self.take(need, "row")?;
                self.push_cur(r);
                // The family (with its length byte) from the previous cell (FAST_DIFF) or
                // from the block's first cell (DIFF), copied without a temporary.
                let fam_len = if fast {
                    let pfl = self.prev.get(2 + prev_row_len).copied().unwrap_or(0) as usize;
                    let fam = self
                        .prev
                        .get(2 + prev_row_len..3 + prev_row_len + pfl)
                        .unwrap_or(&[]);
                    self.cur.extend_from_slice(fam);
                    fam.len()
                } else {
                    let (s, l) = self.block_family;
                    self.cur.push(l as u8);
                    self.cur.extend_from_slice(sl(&self.data, (s, s + l)));
                    1 + l
                };
                if fam_len == 0 {
                    return Err(bad(start, "no family to copy from the previous cell"));
                }
                let ql = kl.checked_sub(self.cur.len() + 9).ok_or_else(|| {
                    bad(
                        start,
                        format!(
                            "key length {kl} is shorter than row and family ({})",
                            self.cur.len() + 9
                        ),
                    )
                })?;
                let r = self.take(ql, "qualifier")?;
                self.push_cur(r);
            } else {
                // Row and family shared; part of the qualifier may be shared too.
                let pfl = self.prev.get(2 + prev_row_len).copied().unwrap_or(0) as usize;
                let fixed = 3 + prev_row_len + pfl;
                let shared = common.max(fixed);
                self.cur
                    .extend_from_slice(self.prev.get(..shared).unwrap_or(&[]));
                let rest = kl.checked_sub(shared + 9).ok_or_else(|| {
                    bad(
                        start,
                        format!("key length {kl} is shorter than the shared prefix {shared}"),
                    )
                })?;
                let r = self.take(rest, "qualifier")?;
                self.push_cur(r);
            }
        }
        // Timestamp.
        let ts = if fast {
            let n = 8 - (flag & 0x07) as usize;
            let (_, end) = self.take(n, "timestamp")?;
            crate::bytes::be_suffix_over(self.prev_ts as u64, self.data.bytes(), end, n)
                .ok_or_else(|| bad(start, "timestamp runs past the end of the block"))?
                as i64
        } else {
            let n = (((flag >> 4) & 0x07) + 1) as usize;
            let r = self.take(n, "timestamp")?;
            let mut v: u64 = 0;
            for (i, b) in sl(&self.data, r).iter().enumerate() {
                v |= (*b as u64) << (8 * i);
            }
            let mut v = v as i64;
            if flag & 0x80 != 0 {
                v = v.wrapping_neg();
            }
            if flag & 0x08 != 0 {
                self.prev_ts.wrapping_sub(v)
            } else {
                v
            }
        };
        self.cur.extend_from_slice(&ts.to_be_bytes());
        let t = if same_type {
            self.prev_type
        } else {
            self.u8("type")?
        };
        self.cur.push(t);
        if self.cur.len() != kl {
            return Err(bad(
                start,
                format!(
                    "rebuilt key is {} bytes but the cell declares {kl}",
                    self.cur.len()
                ),
            ));
        }
        let value = if fast && flag & 0x40 != 0 {
            if vl != self.prev_value_len {
                return Err(bad(start, "SAME_VALUE flag with a different value length"));
            }
            self.prev_value
        } else {
            self.take(vl, "cell value")?
        };
        self.finish_encoded(start, value, t)
    }
}
