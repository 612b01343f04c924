//! Opening an HFile: map it, read the trailer and the load-on-open section (data and meta
//! index roots, FILE_INFO, bloom metas), and scan or seek its cells.

use std::path::{Path, PathBuf};

use crate::cell::{Cell, Key, Order};
use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::hfile::block::{BlockHeader, BlockType, RawBlock};
use crate::hfile::bloom::{BloomMeta, BloomType};
use crate::hfile::encoding::{BlockDecoder, CellFlags, Encoding, Payload};
use crate::hfile::fileinfo::{keys, FileInfo};
use crate::hfile::index::{self, IndexEntry, MidKeyMeta, NonRoot};
use crate::hfile::trailer::Trailer;

/// The file's bytes: memory-mapped (the normal case: HFiles are immutable once closed), or
/// read into memory when mapping is impossible (empty files, special filesystems).
enum Source {
    /// The mapping, and the file kept open for reading block headers without touching the
    /// mapping ([`HFile::header_at`]).
    Mapped(memmap2::Mmap, std::fs::File),
    Owned(Vec<u8>),
}

/// A bloom filter found in the load-on-open section.
#[derive(Debug, Clone)]
pub struct Bloom {
    /// Offset of its meta block.
    pub meta_offset: u64,
    /// Parsed meta.
    pub meta: BloomMeta,
}

/// An open HFile. All parsing of the fixed parts happens in [`HFile::open`]; cells are read
/// lazily by scanners.
pub struct HFile {
    path: PathBuf,
    source: Source,
    /// The trailer.
    pub trailer: Trailer,
    /// FileInfo map.
    pub file_info: FileInfo,
    /// Codec of every block.
    pub compression: Compression,
    /// Data block encoding declared in FileInfo.
    pub encoding: Encoding,
    /// Cell layout flags.
    pub flags: CellFlags,
    /// Cell order.
    pub order: Order,
    /// Data index root entries.
    pub root_index: Vec<IndexEntry>,
    /// Mid-key metadata of a multi-level index.
    pub mid_key_meta: Option<MidKeyMeta>,
    /// Meta block index.
    pub meta_index: Vec<IndexEntry>,
    /// General bloom type from FileInfo.
    pub bloom_type: BloomType,
    /// General bloom (ROW/ROWCOL/ROWPREFIX_FIXED_LENGTH).
    pub general_bloom: Option<Bloom>,
    /// Delete-family bloom.
    pub delete_family_bloom: Option<Bloom>,
    /// Headers of the load-on-open blocks in file order.
    pub load_on_open: Vec<BlockHeader>,
}

impl std::fmt::Debug for HFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HFile")
            .field("path", &self.path)
            .field("trailer", &self.trailer)
            .finish_non_exhaustive()
    }
}

impl HFile {
    /// Open and map `path` read-only, then parse the trailer and load-on-open section.
    pub fn open(path: impl AsRef<Path>) -> Result<HFile> {
        Self::open_with(path, true)
    }

    /// As [`HFile::open`]; `check_sums` false skips checksum verification of the load-on-open
    /// blocks (used by `verify` to keep going after reporting a bad checksum there).
    pub fn open_with(path: impl AsRef<Path>, check_sums: bool) -> Result<HFile> {
        let path = path.as_ref().to_path_buf();
        let f = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
        let len = f.metadata().map_err(|e| Error::io(&path, e))?.len();
        if len == 0 {
            return Err(
                Error::corrupt("file", "the file is empty (0 bytes): not an HFile")
                    .in_file(&path)
                    .at(0),
            );
        }
        // SAFETY: the map is read-only and HFiles are immutable once written; a file changed
        // underneath us could show inconsistent bytes, which every parser tolerates as
        // corruption (all reads are bounds-checked).
        #[allow(unsafe_code)]
        let source = match unsafe { memmap2::Mmap::map(&f) } {
            Ok(m) => Source::Mapped(m, f),
            Err(_) => Source::Owned(std::fs::read(&path).map_err(|e| Error::io(&path, e))?),
        };
        Self::from_source(path, source, check_sums)
    }

    /// Parse an HFile held in memory (tests, fuzzing).
    pub fn from_bytes(path: impl Into<PathBuf>, bytes: Vec<u8>) -> Result<HFile> {
        Self::from_source(path.into(), Source::Owned(bytes), true)
    }

    /// As [`HFile::from_bytes`]; `check_sums` as in [`HFile::open_with`].
    pub fn from_bytes_with(
        path: impl Into<PathBuf>,
        bytes: Vec<u8>,
        check_sums: bool,
    ) -> Result<HFile> {
        Self::from_source(path.into(), Source::Owned(bytes), check_sums)
    }

    fn from_source(path: PathBuf, source: Source, check_sums: bool) -> Result<HFile> {
        let p = path.clone();
        Self::parse(path, source, check_sums).map_err(|e| e.in_file(p))
    }

    fn parse(path: PathBuf, source: Source, check_sums: bool) -> Result<HFile> {
        let bytes: &[u8] = match &source {
            Source::Mapped(m, _) => m,
            Source::Owned(v) => v,
        };
        let trailer = Trailer::parse(bytes)?;
        let compression = trailer.compression().unwrap_or(Compression::None);
        let checksums = trailer.has_checksums();
        let trailer_start = bytes.len() as u64 - trailer.trailer_size as u64;

        // Walk the load-on-open section.
        let mut load_on_open = Vec::new();
        let mut off = trailer.load_on_open_data_offset;
        let mut buf = Vec::new();
        let (mut root_payload, mut meta_payload, mut fi_payload) = (None, None, None);
        let (mut gbloom, mut dbloom) = (None, None);
        while off < trailer_start {
            let raw = RawBlock::at(bytes, off, checksums)?;
            if check_sums {
                raw.verify_checksums()?;
            }
            let payload = raw.payload(compression, &mut buf)?.to_vec();
            let h = raw.header;
            match h.block_type {
                BlockType::RootIndex if root_payload.is_none() => {
                    root_payload = Some((off, payload))
                }
                BlockType::RootIndex if meta_payload.is_none() => {
                    meta_payload = Some((off, payload))
                }
                BlockType::FileInfo if fi_payload.is_none() => fi_payload = Some((off, payload)),
                BlockType::GeneralBloomMeta if gbloom.is_none() => gbloom = Some((off, payload)),
                BlockType::DeleteFamilyBloomMeta if dbloom.is_none() => {
                    dbloom = Some((off, payload))
                }
                other => {
                    return Err(Error::corrupt(
                        "load-on-open section",
                        format!(
                            "unexpected {} block (expected ROOT_INDEX x2, FILE_INFO, bloom metas)",
                            other.name()
                        ),
                    )
                    .at(off))
                }
            }
            load_on_open.push(h);
            off += h.on_disk_size_with_header();
        }
        if off != trailer_start {
            return Err(Error::corrupt(
                "load-on-open section",
                format!("blocks end at {off}, not at the trailer start {trailer_start}"),
            )
            .at(off));
        }
        let (fi_off, fi_payload) = fi_payload.ok_or_else(|| {
            Error::corrupt("load-on-open section", "no FILE_INFO block")
                .at(trailer.load_on_open_data_offset)
        })?;
        if fi_off != trailer.file_info_offset {
            return Err(Error::corrupt(
                "FILE_INFO",
                format!(
                    "FILE_INFO block is at {fi_off} but the trailer says {}",
                    trailer.file_info_offset
                ),
            )
            .at(fi_off));
        }
        let file_info = FileInfo::parse(&fi_payload).map_err(|e| e.rebase(fi_off + 33))?;

        let (root_off, root_payload) = root_payload.ok_or_else(|| {
            Error::corrupt("load-on-open section", "no data index ROOT_INDEX block")
                .at(trailer.load_on_open_data_offset)
        })?;
        if root_off != trailer.load_on_open_data_offset {
            return Err(Error::corrupt(
                "data index",
                "first load-on-open block is not the data index root",
            )
            .at(root_off));
        }
        let (root_index, mid_key_meta) = index::parse_root(
            &root_payload,
            trailer.data_index_count,
            trailer.num_data_index_levels > 1,
        )
        .map_err(|e| e.rebase(root_off + 33))?;
        let meta_index = match meta_payload {
            Some((o, p)) => {
                index::parse_root(&p, trailer.meta_index_count, false)
                    .map_err(|e| e.rebase(o + 33))?
                    .0
            }
            None => Vec::new(),
        };

        let encoding = match file_info.get_str(keys::DATA_BLOCK_ENCODING) {
            None => Encoding::None,
            Some(name) => Encoding::from_name(&name).ok_or_else(|| {
                Error::unsupported("FILE_INFO", format!("unknown DATA_BLOCK_ENCODING {name:?}"))
                    .at(fi_off)
            })?,
        };
        if encoding == Encoding::PrefixTree {
            return Err(Error::unsupported(
                "FILE_INFO",
                "PREFIX_TREE data block encoding (HBase 1.x only, removed in 2.0) is not supported; major-compact the table with another encoding under HBase 1.x first",
            )
            .at(fi_off));
        }
        let flags = CellFlags {
            tags: file_info.includes_tags(),
            mvcc: file_info.includes_mvcc(),
            tags_compressed: file_info.tags_compressed(),
        };
        let bloom_type = match file_info.get_str(keys::BLOOM_FILTER_TYPE) {
            None => BloomType::None,
            Some(n) => BloomType::from_name(&n).ok_or_else(|| {
                Error::unsupported("FILE_INFO", format!("unknown BLOOM_FILTER_TYPE {n:?}"))
                    .at(fi_off)
            })?,
        };
        let bloom = |x: Option<(u64, Vec<u8>)>| -> Result<Option<Bloom>> {
            x.map(|(o, p)| {
                BloomMeta::parse(&p)
                    .map(|meta| Bloom {
                        meta_offset: o,
                        meta,
                    })
                    .map_err(|e| e.rebase(o + 33))
            })
            .transpose()
        };
        let general_bloom = bloom(gbloom)?;
        let delete_family_bloom = bloom(dbloom)?;
        let order = trailer.order();
        Ok(HFile {
            path,
            source,
            trailer,
            file_info,
            compression,
            encoding,
            flags,
            order,
            root_index,
            mid_key_meta,
            meta_index,
            bloom_type,
            general_bloom,
            delete_family_bloom,
            load_on_open,
        })
    }

    /// The path it was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }
    /// All bytes of the file.
    pub fn bytes(&self) -> &[u8] {
        match &self.source {
            Source::Mapped(m, _) => m,
            Source::Owned(v) => v,
        }
    }
    /// File length.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }
    /// True for a zero-length file (never: open refuses those).
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }
    /// Called after reading the bytes `[start, end)` of a forward pass: releases every
    /// 2 MiB window of the mapping that the range finished, so scans and verification keep a
    /// flat resident size instead of accumulating every page read. (Windows rather than exact
    /// ranges: the kernel maps pages around each fault, and releasing partial pages next to
    /// the ones still in use only makes it map them again.)
    pub fn done_with(&self, start: u64, end: u64) {
        const WINDOW: u64 = 2 << 20;
        let (a, b) = (start / WINDOW * WINDOW, end / WINDOW * WINDOW);
        if b > a {
            self.release(a, b - a);
        }
    }

    /// Tell the kernel this process is done with a byte range of the mapping (`MADV_DONTNEED`).
    /// Reading the range again simply refaults the same bytes from the page cache.
    pub fn release(&self, offset: u64, len: u64) {
        if let Source::Mapped(m, _) = &self.source {
            let (Ok(o), Ok(l)) = (usize::try_from(offset), usize::try_from(len)) else {
                return;
            };
            if o.checked_add(l).is_none_or(|end| end > m.len()) {
                return;
            }
            // SAFETY: the mapping is read-only and file-backed (shared). DONTNEED drops only
            // this process's page-table entries; every reference into the range stays valid
            // and later reads see the same file bytes again. Failure is harmless.
            #[allow(unsafe_code)]
            let _ = unsafe { m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, o, l) };
        }
    }

    /// The header of the block at `offset`, read from the file rather than the mapping
    /// (a header walk then maps no pages: the kernel would map the whole block around each
    /// header, only for the data pass to map it again).
    pub fn header_at(&self, offset: u64) -> Result<BlockHeader> {
        let checksums = self.trailer.has_checksums();
        let r = match &self.source {
            Source::Mapped(m, file) => {
                use std::os::unix::fs::FileExt;
                let mut h = [0u8; crate::hfile::block::HEADER_SIZE];
                let want = h.len().min(m.len().saturating_sub(offset as usize));
                let mut got = 0;
                while got < want {
                    match file.read_at(
                        h.get_mut(got..want).unwrap_or_default(),
                        offset + got as u64,
                    ) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(Error::io(&self.path, e)),
                    }
                }
                BlockHeader::parse_start(
                    h.get(..got).unwrap_or_default(),
                    offset,
                    checksums,
                    m.len() as u64,
                )
            }
            Source::Owned(v) => BlockHeader::parse(v, offset, checksums),
        };
        r.map_err(|e| e.in_file(&self.path))
    }

    /// The block whose header `h` was read ([`HFile::header_at`]), read into `buf` with one
    /// pread when the file is mapped (so a pass over every block maps no pages and keeps a
    /// flat resident size), or borrowed from memory as [`HFile::block`] otherwise. Its header
    /// is parsed and checked again from the bytes read.
    pub fn read_block<'a>(&'a self, h: &BlockHeader, buf: &'a mut Vec<u8>) -> Result<RawBlock<'a>> {
        let Source::Mapped(m, file) = &self.source else {
            return self.block(h.offset);
        };
        buf.resize(h.on_disk_size_with_header() as usize, 0);
        {
            use std::os::unix::fs::FileExt;
            file.read_exact_at(buf, h.offset)
                .map_err(|e| Error::io(&self.path, e).at(h.offset))?;
        }
        let checksums = self.trailer.has_checksums();
        let h = BlockHeader::parse_start(buf, h.offset, checksums, m.len() as u64)
            .map_err(|e| e.in_file(&self.path))?;
        Ok(RawBlock::with_header(h, buf))
    }

    /// Locate the block at `offset`.
    pub fn block(&self, offset: u64) -> Result<RawBlock<'_>> {
        RawBlock::at(self.bytes(), offset, self.trailer.has_checksums())
            .map_err(|e| e.in_file(&self.path))
    }
    /// Uncompressed payload of a block (checksums verified).
    pub fn block_payload(&self, offset: u64) -> Result<(BlockHeader, Payload<'_>)> {
        let raw = self.block(offset)?;
        raw.verify_checksums().map_err(|e| e.in_file(&self.path))?;
        let mut buf = Vec::new();
        let borrowed = raw
            .payload(self.compression, &mut buf)
            .map_err(|e| e.in_file(&self.path))?;
        let p = if self.compression == Compression::None {
            Payload::Borrowed(raw.on_disk_payload())
        } else {
            let _ = borrowed;
            Payload::Owned(buf)
        };
        Ok((raw.header, p))
    }

    /// Decoder over the cells of the data block whose uncompressed payload is `payload`.
    pub fn decoder<'p>(
        &self,
        header: &BlockHeader,
        payload: Payload<'p>,
    ) -> Result<BlockDecoder<'p>> {
        let encoded = match header.block_type {
            BlockType::Data => false,
            BlockType::EncodedData => true,
            other => {
                return Err(Error::corrupt(
                    "data block",
                    format!("expected a data block, found {}", other.name()),
                )
                .at(header.offset)
                .in_file(&self.path))
            }
        };
        BlockDecoder::new(payload, encoded, self.encoding, self.flags).map_err(|e| {
            e.rebase(header.offset + header.header_size as u64)
                .in_file(&self.path)
        })
    }

    /// The first key (data index root entry 0), if the file has cells.
    pub fn first_key(&self) -> Option<&[u8]> {
        self.root_index.first().map(|e| e.key.as_slice())
    }
    /// The last key (`hfile.LASTKEY`).
    pub fn last_key(&self) -> Option<&[u8]> {
        self.file_info.get(keys::LASTKEY)
    }
    /// `hfile.AVG_KEY_LEN`.
    pub fn avg_key_len(&self) -> i32 {
        self.file_info.get_i32(keys::AVG_KEY_LEN).unwrap_or(0)
    }
    /// `hfile.AVG_VALUE_LEN`.
    pub fn avg_value_len(&self) -> i32 {
        self.file_info.get_i32(keys::AVG_VALUE_LEN).unwrap_or(0)
    }

    /// The mid-key as HBase's reader computes it.
    pub fn mid_key(&self) -> Result<Option<Vec<u8>>> {
        if self.root_index.is_empty() {
            return Ok(None);
        }
        match (self.trailer.num_data_index_levels, self.mid_key_meta) {
            (1, _) => Ok(self
                .root_index
                .get(self.root_index.len() / 2)
                .map(|e| e.key.clone())),
            (_, Some(m)) => {
                let (_, p) = self.block_payload(m.leaf_offset)?;
                let nr = NonRoot::parse(p.bytes())
                    .map_err(|e| e.rebase(m.leaf_offset + 33).in_file(&self.path))?;
                Ok(nr.entry(m.entry as usize).map(|(_, _, k)| k.to_vec()))
            }
            _ => Ok(None),
        }
    }

    /// Compare two KEYs under this file's order (malformed keys compare as raw bytes).
    pub fn compare_keys(&self, a: &[u8], b: &[u8]) -> std::cmp::Ordering {
        match (Key::parse(a), Key::parse(b)) {
            (Ok(x), Ok(y)) => self.order.compare(&x, &y),
            _ => a.cmp(b),
        }
    }

    /// Offset of the data block that may hold `key` (the last block whose index key is <= it),
    /// following the index down from the root. Falls back to the first data block.
    pub fn seek_block(&self, key: &[u8]) -> Result<Option<u64>> {
        if self.root_index.is_empty() {
            return Ok(None);
        }
        let cmp = |a: &[u8], b: &[u8]| self.compare_keys(a, b);
        let i = index::search(
            &self
                .root_index
                .iter()
                .map(|e| e.key.as_slice())
                .collect::<Vec<_>>(),
            key,
            cmp,
        )
        .unwrap_or(0);
        let mut entry = self.root_index.get(i).map(|e| e.offset);
        for _ in 1..self.trailer.num_data_index_levels {
            let Some(off) = entry else { break };
            let (h, p) = self.block_payload(off)?;
            if !matches!(
                h.block_type,
                BlockType::LeafIndex | BlockType::IntermediateIndex
            ) {
                return Err(Error::corrupt(
                    "data index",
                    format!("index entry points at a {} block", h.block_type.name()),
                )
                .at(off)
                .in_file(&self.path));
            }
            let nr =
                NonRoot::parse(p.bytes()).map_err(|e| e.rebase(off + 33).in_file(&self.path))?;
            let keys: Vec<&[u8]> = (0..nr.len())
                .filter_map(|j| nr.entry(j).map(|e| e.2))
                .collect();
            let j = index::search(&keys, key, cmp).unwrap_or(0);
            entry = nr.entry(j).map(|e| e.0);
        }
        Ok(entry)
    }

    /// A scanner over every cell from the first data block.
    pub fn scanner(&self) -> Scanner<'_> {
        Scanner {
            file: self,
            next_block: self.first_data_block(),
            dec: None,
            block_offset: 0,
        }
    }

    /// A scanner positioned at the block that may hold the first cell of `row`. Cells before
    /// `row` in that block are still returned: callers filter.
    pub fn scanner_at_row(&self, row: &[u8]) -> Result<Scanner<'_>> {
        let key = crate::cell::first_on_row(row);
        let mut s = self.scanner();
        if let Some(off) = self.seek_block(&key)? {
            s.next_block = Some(off);
        }
        Ok(s)
    }

    /// Offset of the first data block (None when the file has none).
    pub fn first_data_block(&self) -> Option<u64> {
        (self.trailer.entry_count > 0 || self.trailer.first_data_block_offset >= 0)
            .then_some(self.trailer.first_data_block_offset)
            .filter(|&o| o >= 0)
            .map(|o| o as u64)
    }

    /// A decoder over data block `raw`: checksums verified, the payload decompressed into
    /// `buf` (reused) or, when uncompressed, read in place from the mapping.
    pub fn open_data_block<'a>(
        &'a self,
        raw: &RawBlock<'a>,
        mut buf: Vec<u8>,
    ) -> Result<BlockDecoder<'a>> {
        raw.verify_checksums().map_err(|e| e.in_file(&self.path))?;
        let payload = if self.compression == Compression::None {
            raw.payload(self.compression, &mut buf)?;
            Payload::Borrowed(raw.on_disk_payload())
        } else {
            raw.payload(self.compression, &mut buf)
                .map_err(|e| e.in_file(&self.path))?;
            Payload::Owned(buf)
        };
        self.decoder(&raw.header, payload)
    }

    /// Offsets of the data blocks from the block at `from` to the last one, found by walking
    /// block headers (no payload is read). For handing blocks to several threads.
    pub fn data_block_offsets(&self, from: u64) -> Result<Vec<u64>> {
        let last = self.trailer.last_data_block_offset;
        let mut out = Vec::new();
        let mut off = from;
        while last >= 0 && off <= last as u64 {
            let raw = self.block(off)?;
            if raw.header.block_type.is_data() {
                out.push(off);
            }
            let next = off + raw.header.on_disk_size_with_header();
            self.done_with(off, next);
            off = next;
        }
        Ok(out)
    }

    /// The offset of the first data block, or of the block that can hold `row`.
    pub fn first_block_for(&self, row: Option<&[u8]>) -> Result<Option<u64>> {
        match row {
            Some(r) => match self.seek_block(&crate::cell::first_on_row(r))? {
                Some(o) => Ok(Some(o)),
                None => Ok(self.first_data_block()),
            },
            None => Ok(self.first_data_block()),
        }
    }
}

/// Pull-based cell iterator over the data blocks of one file, block by block in file order.
pub struct Scanner<'f> {
    file: &'f HFile,
    next_block: Option<u64>,
    dec: Option<BlockDecoder<'f>>,
    block_offset: u64,
}

impl<'f> Scanner<'f> {
    /// Offset of the data block the last cell came from.
    pub fn block_offset(&self) -> u64 {
        self.block_offset
    }

    #[inline(never)]
    fn load_next_block(&mut self) -> Result<bool> {
        let f = self.file;
        let last = f.trailer.last_data_block_offset;
        loop {
            let Some(off) = self.next_block else {
                return Ok(false);
            };
            if last < 0 || off > last as u64 {
                self.next_block = None;
                return Ok(false);
            }
            let raw = f.block(off)?;
            if self.block_offset < off {
                f.done_with(self.block_offset, off);
            }
            self.next_block = Some(off + raw.header.on_disk_size_with_header());
            if !raw.header.block_type.is_data() {
                continue;
            }
            let buf = match self.dec.take().map(BlockDecoder::into_payload) {
                Some(Payload::Owned(v)) => v,
                _ => Vec::new(),
            };
            self.dec = Some(f.open_data_block(&raw, buf)?);
            self.block_offset = off;
            return Ok(true);
        }
    }

    /// The next cell, or None after the last one.
    pub fn next_cell(&mut self) -> Result<Option<Cell<'_>>> {
        loop {
            if matches!(&self.dec, Some(d) if !d.at_end()) {
                break;
            }
            if !self.load_next_block()? {
                return Ok(None);
            }
        }
        let base = self.block_offset;
        let path = &self.file.path;
        match self.dec.as_mut() {
            Some(d) => d.next_cell().map_err(|e| e.rebase(base + 33).in_file(path)),
            None => Ok(None),
        }
    }
}
