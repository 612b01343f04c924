//! The HFile v3 *writer*: produces what HBase 2.6's `StoreFileWriter` (or, with
//! `store_file_metadata = false`, the bare `HFile.Writer`) produces for the same cells and
//! options — data block boundaries, shortened index keys, the multi-level block index with
//! HBase's chunking, inline leaf-index and bloom chunks, load-on-open section, FileInfo
//! and the protobuf trailer (v3, minor 3).
//!
//! Files are written to a hidden temporary file beside the target
//! (`.<name>.hbkit-tmp-<pid>`), fsynced and renamed into place by [`HFileWriter::finish`];
//! any error, or dropping the writer unfinished, removes the temporary file, so nothing ever
//! appears under the final name unless the whole file was written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::bytes::{vlong_size, write_pbvar, write_vlong};
use crate::cell::{first_on_row, make_key, Cell, Key, KeyType, Order, LATEST_TIMESTAMP};
use crate::codec::{self, ChecksumType, Compression};
use crate::error::{Error, ErrorKind, Result};
use crate::hfile::block::{BlockType, HEADER_SIZE};
use crate::hfile::bloom::{rowcol_key_into, BloomType};
use crate::hfile::bloom_writer::BloomWriter;
use crate::hfile::encode::BlockEncoder;
use crate::hfile::encoding::{CellFlags, Encoding};
use crate::hfile::fileinfo::keys;
use crate::hfile::trailer::{TRAILER_MAGIC, TRAILER_SIZE_V3};
use crate::pb::{put_bytes, put_varint};

/// Comparator class name HBase 2.x records for user tables.
pub const COMPARATOR_CLASS: &str = "org.apache.hadoop.hbase.KeyValue$KVComparator";
/// Comparator class name HBase 2.x records in ROWCOL bloom metas.
pub const ROWCOL_BLOOM_COMPARATOR: &str = "org.apache.hadoop.hbase.CellComparatorImpl";

/// Writer options. `Default` gives HBase's column-family / store defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct WriterOptions {
    /// Target data block size (`BLOCKSIZE`, 65536).
    pub block_size: usize,
    /// Block codec.
    pub compression: Compression,
    /// Data block encoding.
    pub encoding: Encoding,
    /// Block checksum type (CRC32C).
    pub checksum: ChecksumType,
    /// Bytes per checksum chunk (16384; at least 33).
    pub bytes_per_checksum: u32,
    /// `hfile.index.block.max.size` (131072).
    pub index_max_chunk: usize,
    /// `hfile.index.block.min.entries` (16).
    pub index_min_entries: usize,
    /// General bloom type (family default ROW).
    pub bloom: BloomType,
    /// `io.storefile.bloom.block.size` (131072).
    pub bloom_chunk_bytes: usize,
    /// `io.storefile.bloom.error.rate` (0.01; HBase holds it as a float).
    pub bloom_error_rate: f64,
    /// Prefix length for ROWPREFIX_FIXED_LENGTH (`RowPrefixBloomFilter.prefix_length`).
    pub bloom_prefix_len: usize,
    /// Cells carry a tags length (v3 tags).
    pub include_tags: bool,
    /// Cells carry a vlong memstoreTS (their sequence id).
    pub include_mvcc: bool,
    /// Family `COMPRESS_TAGS` (true): dictionary-compress tags in PREFIX/DIFF/FAST_DIFF.
    pub compress_tags: bool,
    /// `hfile.CREATE_TIME_TS` in ms.
    pub create_time: i64,
    /// When set, cells of any other family are rejected.
    pub family: Option<Vec<u8>>,
    /// Write what `StoreFileWriter` adds (TIMERANGE, EARLIEST_PUT_TS, DELETE_FAMILY_COUNT,
    /// MAX_SEQ_ID_KEY, MAJOR_COMPACTION_KEY, COMPACTION_EVENT_KEY, HISTORICAL, blooms and the
    /// delete-family bloom). False = the bare `HFile.Writer` (no blooms at all).
    pub store_file_metadata: bool,
    /// Extra FileInfo entries (keys must not start with `hfile.`).
    pub file_info: Vec<(Vec<u8>, Vec<u8>)>,
    /// Threads that compress and checksum finished data blocks (0 or 1: inline, on the
    /// appending thread). With more, finished data blocks are handed to a rayon pool of
    /// that many threads while the appending thread encodes the next ones; blocks are
    /// still written in order, so the file is byte-identical to the inline writer's.
    /// Ignored for `Compression::None`.
    pub compress_threads: usize,
    /// Write what `StoreFileWriter.appendMetadata` adds (`MAX_SEQ_ID_KEY`,
    /// `COMPACTION_EVENT_KEY`), as flushes and compactions do (true). False gives
    /// `HFileOutputFormat2`'s bulk-load output, which never calls `appendMetadata`: no
    /// `MAX_SEQ_ID_KEY` and no `COMPACTION_EVENT_KEY` (`MAJOR_COMPACTION_KEY` is still
    /// written from [`StoreMeta::major_compaction`]).
    pub append_metadata: bool,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            block_size: 65536,
            compression: Compression::None,
            encoding: Encoding::None,
            checksum: ChecksumType::Crc32c,
            bytes_per_checksum: 16384,
            index_max_chunk: 131072,
            index_min_entries: 16,
            bloom: BloomType::Row,
            bloom_chunk_bytes: 131072,
            bloom_error_rate: 0.01,
            bloom_prefix_len: 0,
            include_tags: false,
            include_mvcc: true,
            compress_tags: true,
            create_time: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as i64),
            family: None,
            store_file_metadata: true,
            file_info: Vec::new(),
            compress_threads: 1,
            append_metadata: true,
        }
    }
}

impl WriterOptions {
    fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::usage(m));
        if self.block_size == 0 {
            return bad("block_size must be positive".into());
        }
        if (self.bytes_per_checksum as usize) < HEADER_SIZE {
            return bad(format!(
                "bytes_per_checksum {} is below HBase's minimum of {HEADER_SIZE}",
                self.bytes_per_checksum
            ));
        }
        if self.index_max_chunk == 0 {
            return bad("index_max_chunk must be positive".into());
        }
        if self.index_min_entries < 2 {
            return bad(format!(
                "index_min_entries {} must be at least 2",
                self.index_min_entries
            ));
        }
        if self.encoding == Encoding::PrefixTree {
            return bad("PREFIX_TREE encoding cannot be written (removed in HBase 2.0)".into());
        }
        if !matches!(
            self.compression,
            Compression::None
                | Compression::Gz
                | Compression::Snappy
                | Compression::Lz4
                | Compression::Zstd
        ) {
            return bad(format!(
                "compression {} cannot be written (supported: NONE, GZ, SNAPPY, LZ4, ZSTD)",
                self.compression.name()
            ));
        }
        if self.bloom != BloomType::None {
            if !(self.bloom_error_rate > 0.0 && self.bloom_error_rate < 1.0) {
                return bad(format!(
                    "bloom_error_rate {} must be in (0, 1)",
                    self.bloom_error_rate
                ));
            }
            if self.bloom_chunk_bytes == 0 {
                return bad("bloom_chunk_bytes must be positive".into());
            }
        }
        if self.bloom == BloomType::RowPrefixFixedLength
            && !(1..=i16::MAX as usize).contains(&self.bloom_prefix_len)
        {
            return bad(format!(
                "bloom_prefix_len {} must be in 1..=32767 for ROWPREFIX_FIXED_LENGTH",
                self.bloom_prefix_len
            ));
        }
        if let Some(f) = &self.family {
            if f.len() > i8::MAX as usize {
                return bad(format!("family of {} bytes exceeds 127", f.len()));
            }
        }
        if self.compress_threads > 256 {
            return bad(format!(
                "compress_threads {} is more than 256",
                self.compress_threads
            ));
        }
        for (k, _) in &self.file_info {
            if k.starts_with(b"hfile.") {
                return bad(format!(
                    "FileInfo key {} is reserved for the HFile layer",
                    crate::bytes::to_string_binary(k)
                ));
            }
        }
        Ok(())
    }
}

/// Store-level metadata given at [`HFileWriter::finish`] (`StoreFileWriter.appendMetadata`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreMeta {
    /// `MAX_SEQ_ID_KEY`.
    pub max_seq_id: i64,
    /// `MAJOR_COMPACTION_KEY`.
    pub major_compaction: bool,
    /// `BULKLOAD_TIMESTAMP`, when the file is bulk-load output.
    pub bulkload_time: Option<i64>,
    /// `EXCLUDE_FROM_MINOR_COMPACTION`, when set.
    pub exclude_from_minor_compaction: Option<bool>,
    /// File names listed in `COMPACTION_EVENT_KEY` (empty for flushes).
    pub compacted_store_files: Vec<String>,
}

/// What [`HFileWriter::finish`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Final path (None for in-memory writers).
    pub path: Option<PathBuf>,
    /// Total bytes.
    pub file_size: u64,
    /// Cells written.
    pub entries: u64,
    /// Data blocks written.
    pub data_blocks: u64,
    /// Data index levels.
    pub index_levels: u32,
    /// First cell's KEY.
    pub first_key: Option<Vec<u8>>,
    /// Last cell's KEY.
    pub last_key: Option<Vec<u8>>,
    /// Keys in the general bloom (0 if none).
    pub general_bloom_keys: i64,
    /// Keys in the delete-family bloom (0 if none).
    pub delete_family_bloom_keys: i64,
}

/// A finished, fsynced HFile still under its temporary name, from
/// [`HFileWriter::finish_unrenamed`]. [`Unrenamed::commit`] renames it into place; dropping
/// it uncommitted removes the temporary file.
#[derive(Debug)]
pub struct Unrenamed {
    tmp: PathBuf,
    target: PathBuf,
    summary: Summary,
    done: bool,
}

impl Unrenamed {
    /// Where the finished file is now (a hidden name beside the target).
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// The final name.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// What was written.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// Rename the file into place and fsync the folder.
    pub fn commit(mut self) -> Result<Summary> {
        if let Err(e) = std::fs::rename(&self.tmp, &self.target) {
            return Err(Error::io(&self.tmp, e));
        }
        self.done = true;
        if let Some(dir) = self.target.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = File::open(dir) {
                d.sync_all().map_err(|e| Error::io(dir, e))?;
            }
        }
        let mut summary = self.summary.clone();
        summary.path = Some(self.target.clone());
        Ok(summary)
    }
}

impl Drop for Unrenamed {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

enum Sink {
    File {
        out: BufWriter<File>,
        tmp: PathBuf,
        target: PathBuf,
    },
    Mem(Vec<u8>),
}

/// Block framing: header, compression, checksums and the per-type prevBlockOffset chains.
struct Out {
    sink: Option<Sink>,
    pos: u64,
    prev: [i64; 12],
    compression: Compression,
    checksum: ChecksumType,
    bpc: u32,
    buf: Vec<u8>,
    /// Reused checksum buffer.
    sums: Vec<u8>,
    /// `HFileWriterImpl.totalUncompressedBytes` (without the trailer).
    total_uncompressed: u64,
}

fn slot(t: BlockType) -> usize {
    match t {
        BlockType::Data | BlockType::EncodedData => 0,
        BlockType::LeafIndex => 1,
        BlockType::BloomChunk => 2,
        BlockType::Meta => 3,
        BlockType::IntermediateIndex => 4,
        BlockType::RootIndex => 5,
        BlockType::FileInfo => 6,
        BlockType::GeneralBloomMeta => 7,
        BlockType::DeleteFamilyBloomMeta => 8,
        BlockType::Trailer => 9,
        BlockType::IndexV1 => 10,
    }
}

impl Out {
    fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        match &mut self.sink {
            Some(Sink::File { out, tmp, .. }) => out
                .write_all(bytes)
                .map_err(|e| Error::io(tmp.clone(), e))?,
            Some(Sink::Mem(v)) => v.extend_from_slice(bytes),
            None => {
                return Err(Error::new(
                    ErrorKind::Usage,
                    "HFile writer",
                    "the writer is closed",
                ))
            }
        }
        self.pos += bytes.len() as u64;
        Ok(())
    }

    /// Write one block; returns (offset, onDiskSizeWithHeader). `counted` adds
    /// 33 + payload length to the trailer's total_uncompressed_bytes.
    fn block(&mut self, t: BlockType, payload: &[u8], counted: bool) -> Result<(u64, u32)> {
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        buf.resize(HEADER_SIZE, 0);
        let r = codec::compress(self.compression, payload, &mut buf)
            .and_then(|()| self.emit(t, payload.len(), &mut buf, None, counted));
        self.buf = buf;
        r
    }

    /// Frame and write a compressed block: `buf` holds 33 bytes of room for the header and
    /// then the on-disk payload. `later_sums`, when given, are the checksums of every chunk
    /// but the first (computed off-thread; the first chunk covers the header).
    fn emit(
        &mut self,
        t: BlockType,
        payload_len: usize,
        buf: &mut [u8],
        later_sums: Option<&[u8]>,
        counted: bool,
    ) -> Result<(u64, u32)> {
        let offset = self.pos;
        let data_len = buf.len();
        let bpc = self.bpc as usize;
        let sums = 4 * codec::checksum_chunks(data_len, bpc);
        let on_disk_without_header = data_len.saturating_sub(HEADER_SIZE) + sums;
        let too_big = |what: usize| {
            Error::usage(format!(
                "{} block of {what} bytes exceeds the 2 GiB block limit",
                t.name()
            ))
        };
        let odswh = i32::try_from(on_disk_without_header).map_err(|_| too_big(data_len))?;
        let ucs = i32::try_from(payload_len).map_err(|_| too_big(payload_len))?;
        let prev = self.prev.get(slot(t)).copied().unwrap_or(-1);
        let mut h = [0u8; HEADER_SIZE];
        let fields: [&[u8]; 7] = [
            t.magic(),
            &odswh.to_be_bytes(),
            &ucs.to_be_bytes(),
            &prev.to_be_bytes(),
            &[self.checksum.code()],
            &self.bpc.to_be_bytes(),
            &(data_len as u32).to_be_bytes(),
        ];
        let mut at = 0;
        for f in fields {
            if let Some(dst) = h.get_mut(at..at + f.len()) {
                dst.copy_from_slice(f);
            }
            at += f.len();
        }
        if let Some(dst) = buf.get_mut(..HEADER_SIZE) {
            dst.copy_from_slice(&h);
        }
        let mut tail = std::mem::take(&mut self.sums);
        tail.clear();
        match later_sums {
            Some(rest) => {
                let first = buf.get(..bpc.min(data_len)).unwrap_or_default();
                codec::compute_checksums(self.checksum, bpc, first, &mut tail);
                tail.extend_from_slice(rest);
            }
            None => codec::compute_checksums(self.checksum, bpc, buf, &mut tail),
        }
        if tail.len() != sums {
            return Err(Error::corrupt(
                "HFile writer",
                format!("{} checksum bytes computed, {sums} expected", tail.len()),
            ));
        }
        let r = self.write_raw(buf).and_then(|()| self.write_raw(&tail));
        self.sums = tail;
        r?;
        let total = (data_len + sums) as u32;
        if let Some(p) = self.prev.get_mut(slot(t)) {
            *p = offset as i64;
        }
        if counted {
            self.total_uncompressed += (HEADER_SIZE + payload_len) as u64;
        }
        Ok((offset, total))
    }
}

/// A data block handed to the compression pool: its type, uncompressed size, index slot
/// and where its (framed buffer, checksums of chunks 2..) arrive.
struct InFlight {
    t: BlockType,
    payload_len: usize,
    index_slot: usize,
    rx: std::sync::mpsc::Receiver<Result<(Vec<u8>, Vec<u8>)>>,
}

/// Off-thread half of [`Out::block`]: compress `payload` behind 33 bytes of header room and
/// checksum every chunk but the first.
fn compress_off_thread(
    compression: Compression,
    checksum: ChecksumType,
    bpc: usize,
    payload: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::with_capacity(HEADER_SIZE + payload.len() / 2 + 64);
    buf.resize(HEADER_SIZE, 0);
    codec::compress(compression, payload, &mut buf)?;
    let mut sums = Vec::new();
    if let Some(rest) = buf.get(bpc..) {
        codec::compute_checksums(checksum, bpc, rest, &mut sums);
    }
    Ok((buf, sums))
}

/// `HFileBlockIndex.BlockIndexChunkImpl`.
#[derive(Debug, Default, Clone)]
struct IndexChunk {
    keys: Vec<Vec<u8>>,
    offsets: Vec<u64>,
    sizes: Vec<u32>,
    sub_entries: Vec<i64>,
    non_root_entries: usize,
    root_size: usize,
}

impl IndexChunk {
    fn add(&mut self, key: Vec<u8>, offset: u64, size: u32, sub: Option<i64>) {
        self.non_root_entries += 12 + key.len();
        self.root_size += 12 + vlong_size(key.len() as i64) + key.len();
        self.keys.push(key);
        self.offsets.push(offset);
        self.sizes.push(size);
        if let Some(s) = sub {
            self.sub_entries.push(s);
        }
    }
    fn len(&self) -> usize {
        self.keys.len()
    }
    fn non_root_size(&self) -> usize {
        4 + 4 * (self.keys.len() + 1) + self.non_root_entries
    }
    fn non_root(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.non_root_size());
        out.extend_from_slice(&(self.keys.len() as u32).to_be_bytes());
        let mut mark = 0usize;
        for k in &self.keys {
            out.extend_from_slice(&(mark as u32).to_be_bytes());
            mark += 12 + k.len();
        }
        out.extend_from_slice(&(mark as u32).to_be_bytes());
        for ((k, o), s) in self.keys.iter().zip(&self.offsets).zip(&self.sizes) {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&s.to_be_bytes());
            out.extend_from_slice(k);
        }
        out
    }
    fn root(&self, out: &mut Vec<u8>) {
        for ((k, o), s) in self.keys.iter().zip(&self.offsets).zip(&self.sizes) {
            out.extend_from_slice(&o.to_be_bytes());
            out.extend_from_slice(&s.to_be_bytes());
            write_vlong(out, k.len() as i64);
            out.extend_from_slice(k);
        }
    }
    /// `getMidKeyMetadata`.
    fn mid_key_metadata(&self) -> Option<[u8; 16]> {
        let total = *self.sub_entries.last()?;
        if total == 0 {
            return None;
        }
        let mid = (total - 1) / 2;
        let entry = match self.sub_entries.binary_search(&mid) {
            Ok(i) => i + 1,
            Err(i) => i,
        };
        let before = if entry > 0 {
            self.sub_entries.get(entry - 1).copied().unwrap_or(0)
        } else {
            0
        };
        let mut m = [0u8; 16];
        let o = self.offsets.get(entry)?.to_be_bytes();
        let s = self.sizes.get(entry)?.to_be_bytes();
        let w = ((mid - before) as u32).to_be_bytes();
        for (d, b) in m.iter_mut().zip(o.iter().chain(&s).chain(&w)) {
            *d = *b;
        }
        Some(m)
    }
}

/// `HFileBlockIndex.BlockIndexWriter` for the data index.
#[derive(Debug)]
struct IndexWriter {
    root: IndexChunk,
    inline: IndexChunk,
    inline_closed: bool,
    levels: u32,
    total_entries: i64,
    uncompressed: u64,
    max_chunk: usize,
    min_entries: usize,
}

impl IndexWriter {
    fn should_write(&mut self, closing: bool) -> bool {
        if self.inline_closed || self.inline.len() == 0 {
            return false;
        }
        if closing {
            if self.root.len() == 0 {
                self.root = std::mem::take(&mut self.inline);
                self.inline_closed = true;
                return false;
            }
            return true;
        }
        self.inline.non_root_size() >= self.max_chunk
    }
}

struct GeneralBloom {
    kind: BloomType,
    w: BloomWriter,
}

/// The HFile writer. See the module docs.
pub struct HFileWriter {
    opts: WriterOptions,
    out: Out,
    encoder: BlockEncoder,
    block_open: bool,
    failed: bool,
    last_key: Option<Vec<u8>>,
    first_key: Option<Vec<u8>>,
    first_key_in_block: Option<Vec<u8>>,
    last_key_prev_block: Option<Vec<u8>>,
    first_data_block_offset: i64,
    last_data_block_offset: i64,
    data_blocks: u64,
    index: IndexWriter,
    general: Option<GeneralBloom>,
    delete_family: Option<BloomWriter>,
    delete_family_count: i64,
    entry_count: u64,
    total_key_len: u64,
    total_value_len: u64,
    len_of_biggest: i64,
    key_of_biggest: Option<Vec<u8>>,
    max_memstore_ts: i64,
    max_tags_len: usize,
    ts_min: i64,
    ts_max: i64,
    earliest_put: i64,
    meta_blocks: Vec<(Vec<u8>, Vec<u8>)>,
    scratch: Vec<u8>,
    /// Compression pool (`compress_threads` > 1) and the data blocks handed to it, oldest
    /// first.
    pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    inflight: std::collections::VecDeque<InFlight>,
}

impl std::fmt::Debug for HFileWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HFileWriter")
            .field("pos", &self.out.pos)
            .field("entries", &self.entry_count)
            .finish_non_exhaustive()
    }
}

impl HFileWriter {
    /// Start writing `path`: the bytes go to `.<name>.hbkit-tmp-<pid>` in the same folder
    /// until [`HFileWriter::finish`] renames it into place.
    pub fn create(path: impl AsRef<Path>, opts: WriterOptions) -> Result<HFileWriter> {
        opts.validate()?;
        let target = path.as_ref().to_path_buf();
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::usage(format!("{} does not name a file", target.display())))?;
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
        let tmp = dir.join(format!(".{name}.hbkit-tmp-{}", std::process::id()));
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| Error::io(&tmp, e))?;
        let sink = Sink::File {
            // Blocks of at least this size bypass the buffer (no copy); small ones gather.
            out: BufWriter::with_capacity(64 << 10, f),
            tmp: tmp.clone(),
            target,
        };
        let pool = match Self::make_pool(&opts) {
            Ok(p) => p,
            Err(e) => {
                drop(sink);
                let _ = std::fs::remove_file(&tmp);
                return Err(e);
            }
        };
        Ok(Self::with_sink(sink, opts, pool))
    }

    /// A writer that builds the file in memory; finish it with
    /// [`HFileWriter::finish_to_vec`].
    pub fn in_memory(opts: WriterOptions) -> Result<HFileWriter> {
        Self::in_memory_with_capacity(opts, 0)
    }

    /// [`HFileWriter::in_memory`] with room reserved for `bytes` of output up front.
    pub fn in_memory_with_capacity(opts: WriterOptions, bytes: usize) -> Result<HFileWriter> {
        opts.validate()?;
        let pool = Self::make_pool(&opts)?;
        Ok(Self::with_sink(
            Sink::Mem(Vec::with_capacity(bytes)),
            opts,
            pool,
        ))
    }

    /// [`HFileWriter::in_memory`] writing into `buf` (cleared first): reusing one buffer for
    /// many files skips the page faults of fresh memory.
    pub fn in_memory_into(opts: WriterOptions, mut buf: Vec<u8>) -> Result<HFileWriter> {
        opts.validate()?;
        buf.clear();
        let pool = Self::make_pool(&opts)?;
        Ok(Self::with_sink(Sink::Mem(buf), opts, pool))
    }

    fn make_pool(opts: &WriterOptions) -> Result<Option<std::sync::Arc<rayon::ThreadPool>>> {
        // Without compression there is nothing worth handing off (checksums run at
        // several GB/s; the hand-off copy costs as much).
        if opts.compress_threads <= 1 || opts.compression == Compression::None {
            return Ok(None);
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(opts.compress_threads)
            .thread_name(|i| format!("hfile-compress-{i}"))
            .build()
            .map(|p| Some(std::sync::Arc::new(p)))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Io,
                    "HFile writer",
                    format!("cannot start the compression threads: {e}"),
                )
            })
    }

    fn with_sink(
        sink: Sink,
        opts: WriterOptions,
        pool: Option<std::sync::Arc<rayon::ThreadPool>>,
    ) -> HFileWriter {
        let flags = CellFlags {
            tags: opts.include_tags,
            mvcc: opts.include_mvcc,
            tags_compressed: opts.include_tags && opts.compress_tags,
        };
        let general = if opts.bloom != BloomType::None && opts.store_file_metadata {
            let err = opts.bloom_error_rate as f32;
            let (err, cmp) = if opts.bloom == BloomType::RowCol {
                (
                    (1.0 - (1.0 - f64::from(err)).sqrt()) as f32,
                    Some(ROWCOL_BLOOM_COMPARATOR),
                )
            } else {
                (err, None)
            };
            Some(GeneralBloom {
                kind: opts.bloom,
                w: BloomWriter::new(opts.bloom_chunk_bytes, err, cmp),
            })
        } else {
            None
        };
        let delete_family = if opts.store_file_metadata && opts.bloom != BloomType::RowCol {
            Some(BloomWriter::new(
                opts.bloom_chunk_bytes,
                opts.bloom_error_rate as f32,
                None,
            ))
        } else {
            None
        };
        HFileWriter {
            out: Out {
                sink: Some(sink),
                pos: 0,
                prev: [-1; 12],
                compression: opts.compression,
                checksum: opts.checksum,
                bpc: opts.bytes_per_checksum,
                buf: Vec::new(),
                sums: Vec::new(),
                total_uncompressed: 0,
            },
            encoder: BlockEncoder::new(opts.encoding, flags),
            block_open: false,
            failed: false,
            last_key: None,
            first_key: None,
            first_key_in_block: None,
            last_key_prev_block: None,
            first_data_block_offset: -1,
            last_data_block_offset: -1,
            data_blocks: 0,
            index: IndexWriter {
                root: IndexChunk::default(),
                inline: IndexChunk::default(),
                inline_closed: false,
                levels: 1,
                total_entries: 0,
                uncompressed: 0,
                max_chunk: opts.index_max_chunk,
                min_entries: opts.index_min_entries,
            },
            general,
            delete_family,
            delete_family_count: 0,
            entry_count: 0,
            total_key_len: 0,
            total_value_len: 0,
            len_of_biggest: 0,
            key_of_biggest: None,
            max_memstore_ts: 0,
            max_tags_len: 0,
            ts_min: i64::MAX,
            ts_max: -1,
            earliest_put: LATEST_TIMESTAMP,
            meta_blocks: Vec::new(),
            scratch: Vec::new(),
            pool,
            inflight: std::collections::VecDeque::new(),
            opts,
        }
    }

    /// Bytes written so far.
    pub fn position(&self) -> u64 {
        self.out.pos
    }

    /// Cells appended so far.
    pub fn entries(&self) -> u64 {
        self.entry_count
    }

    fn check_usable(&self) -> Result<()> {
        if self.failed {
            return Err(Error::new(
                ErrorKind::Usage,
                "HFile writer",
                "an earlier error aborted this writer; its temporary file was removed",
            ));
        }
        Ok(())
    }

    /// Remove the temporary file and poison the writer.
    fn abort(&mut self) {
        self.failed = true;
        if let Some(Sink::File { out, tmp, .. }) = self.out.sink.take() {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
        }
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.abort();
        }
        r
    }

    /// Check a cell before it is appended; gives its order against the previous cell and how
    /// many leading bytes their keys share (0 for the first cell).
    fn validate_cell(&self, cell: &Cell<'_>) -> Result<(std::cmp::Ordering, usize)> {
        let key = &cell.key;
        let bad = |m: String| Err(Error::usage(format!("cell {}: {m}", cell.text())));
        if KeyType::from_code(key.type_code()).is_none() {
            return bad(format!("invalid key type code {}", key.type_code()));
        }
        if key.family().len() > i8::MAX as usize {
            return bad(format!(
                "family of {} bytes exceeds 127",
                key.family().len()
            ));
        }
        if let Some(f) = &self.opts.family {
            if key.family() != f.as_slice() {
                return bad(format!(
                    "family {} differs from the writer's family {}",
                    crate::bytes::to_string_binary(key.family()),
                    crate::bytes::to_string_binary(f)
                ));
            }
        }
        if i32::try_from(key.raw().len()).is_err() || i32::try_from(cell.value.len()).is_err() {
            return bad("key or value larger than 2 GiB".into());
        }
        if !cell.tags.is_empty() {
            if !self.opts.include_tags {
                return bad(
                    "the cell has tags but the writer was created with include_tags = false".into(),
                );
            }
            if cell.tags.len() > u16::MAX as usize {
                return bad(format!("tags of {} bytes exceed 65535", cell.tags.len()));
            }
            for t in cell.tags() {
                if let Err(e) = t {
                    return bad(e.message);
                }
            }
        }
        let (ord, common) = match &self.last_key {
            None => (std::cmp::Ordering::Less, 0),
            Some(prev) => {
                let cp = crate::bytes::common_prefix(prev, key.raw());
                let row_len = key.row().len();
                let ord = match crate::cell::order_by_first_difference(
                    prev,
                    key.raw(),
                    cp,
                    row_len,
                    key.family().len(),
                ) {
                    Some(o) => o,
                    None => Order::Normal.compare(&Key::parse(prev)?, key),
                };
                (ord, cp)
            }
        };
        if ord == std::cmp::Ordering::Greater {
            let prev = self
                .last_key
                .as_deref()
                .and_then(|k| Key::parse(k).ok())
                .map(|k| k.key_string())
                .unwrap_or_default();
            return bad(format!(
                "out of order: it sorts before the previous cell {prev} (cells must be appended in HBase's cell order)"
            ));
        }
        Ok((ord, common))
    }

    /// Append one cell. Cells must come in HBase's cell order (row, family, qualifier,
    /// timestamp descending, type descending); equal keys are allowed and stay in one block.
    pub fn append(&mut self, cell: &Cell<'_>) -> Result<()> {
        self.check_usable()?;
        let r = self.append_inner(cell);
        self.guard(r)
    }

    fn append_inner(&mut self, cell: &Cell<'_>) -> Result<()> {
        let (ord, common) = self.validate_cell(cell)?;
        let key = cell.key.raw();
        // StoreFileWriter: blooms see the cell before the HFile writer does.
        if let Some(g) = &mut self.general {
            let row = cell.key.row();
            let bk: &[u8] = match g.kind {
                BloomType::RowCol => {
                    rowcol_key_into(&mut self.scratch, row, cell.key.qualifier());
                    &self.scratch
                }
                BloomType::RowPrefixFixedLength => row
                    .get(..self.opts.bloom_prefix_len.min(row.len()))
                    .unwrap_or(row),
                _ => row,
            };
            // A ROW bloom's last key is the previous cell's row: the order check's common
            // prefix already says whether the row changed.
            let new = match g.kind {
                BloomType::Row => self.last_key.is_none() || common < 2 + row.len(),
                _ => g.w.is_new_key(bk),
            };
            debug_assert_eq!(new, g.w.is_new_key(bk));
            if new {
                g.w.add(bk);
            }
        }
        let tc = cell.key.type_code();
        let put = tc == KeyType::Put as u8;
        if !put
            && (tc == KeyType::DeleteFamily as u8 || tc == KeyType::DeleteFamilyVersion as u8)
            && self.opts.store_file_metadata
        {
            self.delete_family_count += 1;
            if let Some(d) = &mut self.delete_family {
                if d.is_new_key(cell.key.row()) {
                    d.add(cell.key.row());
                }
            }
        }
        // HFileWriterImpl.append
        if ord != std::cmp::Ordering::Equal {
            self.check_block_boundary()?;
        }
        if !self.block_open {
            self.new_block();
        }
        self.encoder.write(cell, self.last_key.as_deref(), common);
        self.total_key_len += key.len() as u64;
        self.total_value_len += cell.value.len() as u64;
        let mut size = 4 + 8 + key.len() + cell.value.len();
        if !cell.tags.is_empty() {
            size += 2 + cell.tags.len();
        }
        if self.len_of_biggest < size as i64 {
            self.len_of_biggest = size as i64;
            self.key_of_biggest = Some(key.to_vec());
        }
        if self.first_key_in_block.is_none() {
            self.first_key_in_block = Some(key.to_vec());
        }
        if self.first_key.is_none() {
            self.first_key = Some(key.to_vec());
        }
        match &mut self.last_key {
            Some(k) => {
                k.clear();
                k.extend_from_slice(key);
            }
            None => self.last_key = Some(key.to_vec()),
        }
        self.entry_count += 1;
        self.max_memstore_ts = self.max_memstore_ts.max(cell.seq_id as i64);
        self.max_tags_len = self.max_tags_len.max(cell.tags.len());
        let ts = cell.key.timestamp();
        self.include_ts(ts);
        if put {
            self.earliest_put = self.earliest_put.min(ts);
        } else if tc == KeyType::DeleteColumn as u8 || tc == KeyType::DeleteFamily as u8 {
            self.include_ts(0);
        }
        Ok(())
    }

    fn include_ts(&mut self, ts: i64) {
        self.ts_min = self.ts_min.min(ts);
        self.ts_max = self.ts_max.max(ts);
    }

    fn new_block(&mut self) {
        self.encoder.start();
        self.block_open = true;
        self.first_key_in_block = None;
        if let Some(k) = &self.last_key {
            self.last_key_prev_block = Some(k.clone());
        }
    }

    fn check_block_boundary(&mut self) -> Result<()> {
        if !self.block_open {
            return Ok(());
        }
        let bs = self.opts.block_size;
        if self.encoder.encoded_size() >= bs || self.encoder.unencoded_size() >= bs {
            self.finish_block()?;
            self.write_inline_blocks(false)?;
            self.new_block();
        }
        Ok(())
    }

    fn finish_block(&mut self) -> Result<()> {
        if !self.block_open || self.encoder.unencoded_size() == 0 {
            return Ok(());
        }
        self.block_open = false;
        let right = self.first_key_in_block.take().unwrap_or_default();
        let key = midpoint(self.last_key_prev_block.as_deref(), &right);
        self.data_blocks += 1;
        self.index.total_entries += 1;
        if let Some(pool) = self
            .pool
            .as_ref()
            .filter(|_| self.out.compression != Compression::None)
        {
            // Hand the block to the pool; its offset and size are filled into the index
            // entry when it is written (in order) by `drain_one`.
            let (t, payload) = self.encoder.finish();
            let payload = payload.to_vec();
            let payload_len = payload.len();
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let (c, k, bpc) = (self.out.compression, self.out.checksum, self.out.bpc);
            pool.spawn(move || {
                let r = compress_off_thread(c, k, bpc as usize, &payload);
                let _ = tx.send(r);
            });
            self.inflight.push_back(InFlight {
                t,
                payload_len,
                index_slot: self.index.inline.len(),
                rx,
            });
            self.index.inline.add(key, 0, 0, None);
            let cap = 4 * self.opts.compress_threads + 4;
            while self.inflight.len() > cap {
                self.drain_one()?;
            }
            return Ok(());
        }
        let offset = self.out.pos;
        let size = if self.out.compression == Compression::None {
            // Framed in place: no copy of the payload.
            let (t, framed) = self.encoder.finish_framed();
            let payload_len = framed.len().saturating_sub(HEADER_SIZE);
            self.out.emit(t, payload_len, framed, None, true)?.1
        } else {
            let (t, payload) = self.encoder.finish();
            self.out.block(t, payload, true)?.1
        };
        self.note_data_block(offset);
        self.index.inline.add(key, offset, size, None);
        Ok(())
    }

    fn note_data_block(&mut self, offset: u64) {
        if self.first_data_block_offset < 0 {
            self.first_data_block_offset = offset as i64;
        }
        self.last_data_block_offset = offset as i64;
    }

    /// Write the oldest block in flight and fill in its index entry.
    fn drain_one(&mut self) -> Result<()> {
        let Some(f) = self.inflight.pop_front() else {
            return Ok(());
        };
        let (mut buf, sums) = f.rx.recv().map_err(|_| {
            Error::new(
                ErrorKind::Io,
                "HFile writer",
                "a compression thread stopped without a result",
            )
        })??;
        let (offset, size) = self
            .out
            .emit(f.t, f.payload_len, &mut buf, Some(&sums), true)?;
        self.note_data_block(offset);
        if let (Some(o), Some(s)) = (
            self.index.inline.offsets.get_mut(f.index_slot),
            self.index.inline.sizes.get_mut(f.index_slot),
        ) {
            *o = offset;
            *s = size;
        }
        Ok(())
    }

    /// Write every block in flight (before any other block is written).
    fn drain_all(&mut self) -> Result<()> {
        while !self.inflight.is_empty() {
            self.drain_one()?;
        }
        Ok(())
    }

    fn write_inline_blocks(&mut self, closing: bool) -> Result<()> {
        if closing {
            self.drain_all()?;
        }
        while self.index.should_write(closing) {
            self.drain_all()?;
            let payload = self.index.inline.non_root();
            let first = self.index.inline.keys.first().cloned().unwrap_or_default();
            self.index.inline = IndexChunk::default();
            let (offset, size) = self.out.block(BlockType::LeafIndex, &payload, true)?;
            self.index.uncompressed += payload.len() as u64;
            if self.index.root.len() == 0 {
                self.index.levels = 2;
            }
            let total = self.index.total_entries;
            self.index.root.add(first, offset, size, Some(total));
        }
        for general in [true, false] {
            while let Some(bits) = self
                .bloom_writer(general)
                .and_then(|w| w.next_ready(closing))
            {
                self.drain_all()?;
                let (offset, size) = self.out.block(BlockType::BloomChunk, &bits, true)?;
                if let Some(w) = self.bloom_writer(general) {
                    w.written(offset, size);
                }
            }
        }
        Ok(())
    }

    fn bloom_writer(&mut self, general: bool) -> Option<&mut BloomWriter> {
        if general {
            self.general.as_mut().map(|g| &mut g.w)
        } else {
            self.delete_family.as_mut()
        }
    }

    /// Add a META block (written before the index at close, sorted by name).
    pub fn append_meta_block(&mut self, name: &[u8], bytes: &[u8]) -> Result<()> {
        self.check_usable()?;
        let i = self
            .meta_blocks
            .iter()
            .position(|(n, _)| n.as_slice() > name)
            .unwrap_or(self.meta_blocks.len());
        self.meta_blocks.insert(i, (name.to_vec(), bytes.to_vec()));
        Ok(())
    }

    /// Finish the file: last data block, inline blocks, meta blocks, index, FileInfo, bloom
    /// metas and trailer; then fsync, rename into place and fsync the folder. For an
    /// in-memory writer the bytes are discarded (use [`HFileWriter::finish_to_vec`]).
    pub fn finish(mut self, meta: StoreMeta) -> Result<Summary> {
        self.check_usable()?;
        let r = self.close(&meta);
        let summary = self.guard(r)?;
        let r = self.commit(summary);
        self.guard(r)
    }

    /// Finish an in-memory writer and return the file bytes.
    pub fn finish_to_vec(mut self, meta: StoreMeta) -> Result<(Vec<u8>, Summary)> {
        self.check_usable()?;
        if !matches!(self.out.sink, Some(Sink::Mem(_))) {
            return Err(Error::usage(
                "finish_to_vec needs a writer made by HFileWriter::in_memory",
            ));
        }
        let r = self.close(&meta);
        let summary = self.guard(r)?;
        match self.out.sink.take() {
            Some(Sink::Mem(v)) => Ok((v, summary)),
            _ => Err(Error::usage("the writer has no in-memory buffer")),
        }
    }

    /// Finish the file as [`HFileWriter::finish`] does, fsynced, but leave it under its
    /// temporary name: the caller can read it back (e.g. verify it) at
    /// [`Unrenamed::temp_path`], then [`Unrenamed::commit`] it into place. Dropping the
    /// handle uncommitted removes the temporary file.
    pub fn finish_unrenamed(mut self, meta: StoreMeta) -> Result<Unrenamed> {
        self.check_usable()?;
        if !matches!(self.out.sink, Some(Sink::File { .. })) {
            return Err(Error::usage(
                "finish_unrenamed needs a writer made by HFileWriter::create",
            ));
        }
        let r = self.close(&meta);
        let summary = self.guard(r)?;
        let r = self.seal(summary);
        self.guard(r)
    }

    /// Flush and fsync the temporary file; hand it over as an [`Unrenamed`].
    fn seal(&mut self, summary: Summary) -> Result<Unrenamed> {
        match self.out.sink.take() {
            Some(Sink::File { out, tmp, target }) => {
                // From here on the handle owns (and cleans up) the temporary file.
                let pending = Unrenamed {
                    tmp,
                    target,
                    summary,
                    done: false,
                };
                let f = out
                    .into_inner()
                    .map_err(|e| Error::io(&pending.tmp, e.into_error()))?;
                f.sync_all().map_err(|e| Error::io(&pending.tmp, e))?;
                Ok(pending)
            }
            Some(Sink::Mem(_)) | None => Err(Error::usage("the writer has no file to commit")),
        }
    }

    fn commit(&mut self, summary: Summary) -> Result<Summary> {
        if matches!(self.out.sink, Some(Sink::Mem(_)) | None) {
            return Ok(summary);
        }
        self.seal(summary)?.commit()
    }

    fn close(&mut self, meta: &StoreMeta) -> Result<Summary> {
        let mut fi: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        let mut put = |k: &str, v: Vec<u8>| {
            fi.insert(k.as_bytes().to_vec(), v);
        };
        // StoreFileWriter: appendMetadata + close.
        if self.opts.store_file_metadata {
            if self.opts.append_metadata {
                put(keys::MAX_SEQ_ID_KEY, meta.max_seq_id.to_be_bytes().to_vec());
            }
            put(
                keys::MAJOR_COMPACTION_KEY,
                bool_bytes(meta.major_compaction),
            );
            if self.opts.append_metadata {
                let mut ev = b"PBUF".to_vec();
                for f in &meta.compacted_store_files {
                    put_bytes(&mut ev, 1, f.as_bytes());
                }
                put("COMPACTION_EVENT_KEY", ev);
            }
            let mut tr = self.ts_min.to_be_bytes().to_vec();
            tr.extend_from_slice(&self.ts_max.to_be_bytes());
            put(keys::TIMERANGE, tr);
            put(
                keys::EARLIEST_PUT_TS,
                self.earliest_put.to_be_bytes().to_vec(),
            );
            put(keys::HISTORICAL, bool_bytes(false));
            if let Some(g) = &self.general {
                if g.w.key_count() > 0 {
                    put(keys::BLOOM_FILTER_TYPE, g.kind.name().as_bytes().to_vec());
                    if g.kind == BloomType::RowPrefixFixedLength {
                        put(
                            keys::BLOOM_FILTER_PARAM,
                            (self.opts.bloom_prefix_len as i32).to_be_bytes().to_vec(),
                        );
                    }
                    if let Some(k) = g.w.last_key() {
                        put(keys::LAST_BLOOM_KEY, k.to_vec());
                    }
                }
            }
            put(
                keys::DELETE_FAMILY_COUNT,
                self.delete_family_count.to_be_bytes().to_vec(),
            );
            if let Some(t) = meta.bulkload_time {
                put(keys::BULKLOAD_TIMESTAMP, t.to_be_bytes().to_vec());
            }
            if let Some(x) = meta.exclude_from_minor_compaction {
                put(keys::EXCLUDE_FROM_MINOR_COMPACTION, bool_bytes(x));
            }
        }
        for (k, v) in &self.opts.file_info {
            fi.insert(k.clone(), v.clone());
        }
        if self.opts.encoding != Encoding::None {
            fi.insert(
                keys::DATA_BLOCK_ENCODING.as_bytes().to_vec(),
                self.opts.encoding.name().as_bytes().to_vec(),
            );
        }

        // HFileWriterImpl.close
        self.finish_block()?;
        self.write_inline_blocks(true)?;
        let mut meta_index = IndexChunk::default();
        for (name, bytes) in std::mem::take(&mut self.meta_blocks) {
            let (offset, size) = self.out.block(BlockType::Meta, &bytes, true)?;
            meta_index.add(name, offset, size, None);
        }
        let meta_count = meta_index.len();
        let load_on_open = self.write_index_blocks()?;
        let mut payload = Vec::new();
        meta_index.root(&mut payload);
        self.out.block(BlockType::RootIndex, &payload, true)?;

        if self.opts.include_mvcc {
            fi.insert(
                keys::MAX_MEMSTORE_TS_KEY.as_bytes().to_vec(),
                self.max_memstore_ts.to_be_bytes().to_vec(),
            );
            fi.insert(
                keys::KEY_VALUE_VERSION.as_bytes().to_vec(),
                1i32.to_be_bytes().to_vec(),
            );
        }
        let n = self.entry_count;
        let avg = |t: u64| t.checked_div(n).map_or(0, |x| x as i32);
        let mut put = |k: &str, v: Vec<u8>| {
            fi.insert(k.as_bytes().to_vec(), v);
        };
        if let Some(k) = &self.last_key {
            put(keys::LASTKEY, k.clone());
        }
        put(
            keys::AVG_KEY_LEN,
            avg(self.total_key_len).to_be_bytes().to_vec(),
        );
        put(
            keys::CREATE_TIME_TS,
            self.opts.create_time.to_be_bytes().to_vec(),
        );
        put(
            keys::AVG_VALUE_LEN,
            avg(self.total_value_len).to_be_bytes().to_vec(),
        );
        if let Some(k) = &self.key_of_biggest {
            put(keys::KEY_OF_BIGGEST_CELL, k.clone());
            put(
                keys::LEN_OF_BIGGEST_CELL,
                self.len_of_biggest.to_be_bytes().to_vec(),
            );
        }
        if self.opts.include_tags {
            put(
                keys::MAX_TAGS_LEN,
                (self.max_tags_len as i32).to_be_bytes().to_vec(),
            );
            let compressed = self.opts.encoding != Encoding::None && self.opts.compress_tags;
            put(keys::TAGS_COMPRESSED, bool_bytes(compressed));
        }
        let file_info_offset = self.out.pos;
        let mut msg = Vec::new();
        for (k, v) in &fi {
            let mut pair = Vec::with_capacity(k.len() + v.len() + 8);
            put_bytes(&mut pair, 1, k);
            put_bytes(&mut pair, 2, v);
            put_bytes(&mut msg, 1, &pair);
        }
        let mut payload = b"PBUF".to_vec();
        write_pbvar(&mut payload, msg.len() as u64);
        payload.extend_from_slice(&msg);
        self.out.block(BlockType::FileInfo, &payload, true)?;

        let mut general_keys = 0;
        if let Some(g) = &self.general {
            general_keys = g.w.key_count();
            if general_keys > 0 {
                let m = g.w.meta();
                self.out.block(BlockType::GeneralBloomMeta, &m, true)?;
            }
        }
        let mut df_keys = 0;
        if let Some(d) = &self.delete_family {
            df_keys = d.key_count();
            if df_keys > 0 {
                let m = d.meta();
                self.out.block(BlockType::DeleteFamilyBloomMeta, &m, true)?;
            }
        }

        // Trailer.
        let mut t = Vec::new();
        put_varint(&mut t, 1, file_info_offset);
        put_varint(&mut t, 2, load_on_open);
        put_varint(&mut t, 3, self.index.uncompressed);
        put_varint(
            &mut t,
            4,
            self.out.total_uncompressed + TRAILER_SIZE_V3 as u64,
        );
        put_varint(&mut t, 5, self.index.root.len() as u64);
        put_varint(&mut t, 6, meta_count as u64);
        put_varint(&mut t, 7, self.entry_count);
        put_varint(&mut t, 8, u64::from(self.index.levels));
        put_varint(&mut t, 9, self.first_data_block_offset as u64);
        put_varint(&mut t, 10, self.last_data_block_offset as u64);
        put_bytes(&mut t, 11, COMPARATOR_CLASS.as_bytes());
        put_varint(&mut t, 12, u64::from(self.opts.compression.ordinal()));
        let mut trailer = Vec::with_capacity(TRAILER_SIZE_V3);
        trailer.extend_from_slice(TRAILER_MAGIC);
        write_pbvar(&mut trailer, t.len() as u64);
        trailer.extend_from_slice(&t);
        if trailer.len() > TRAILER_SIZE_V3 - 4 {
            return Err(Error::corrupt(
                "trailer",
                "protobuf trailer exceeds the fixed 4096-byte trailer",
            ));
        }
        trailer.resize(TRAILER_SIZE_V3 - 4, 0);
        trailer.extend_from_slice(&((3u32 << 24) | 3).to_be_bytes());
        self.out.write_raw(&trailer)?;
        if let Some(Sink::File { out, tmp, .. }) = &mut self.out.sink {
            out.flush().map_err(|e| Error::io(tmp.clone(), e))?;
        }
        Ok(Summary {
            path: None,
            file_size: self.out.pos,
            entries: self.entry_count,
            data_blocks: self.data_blocks,
            index_levels: self.index.levels,
            first_key: self.first_key.clone(),
            last_key: self.last_key.clone(),
            general_bloom_keys: general_keys,
            delete_family_bloom_keys: df_keys,
        })
    }

    /// `BlockIndexWriter.writeIndexBlocks`: intermediate levels, then the root (with the
    /// mid-key metadata of a multi-level index). Returns the root's offset.
    fn write_index_blocks(&mut self) -> Result<u64> {
        let mid = if self.index.levels > 1 {
            self.index.root.mid_key_metadata()
        } else {
            None
        };
        if !self.index.inline_closed {
            while self.index.root.root_size > self.index.max_chunk
                && self.index.root.len() > self.index.min_entries
                && self.index.levels < 16
            {
                let level = std::mem::take(&mut self.index.root);
                self.index.root = self.write_intermediate_level(&level)?;
                self.index.levels += 1;
            }
        }
        let mut payload = Vec::new();
        self.index.root.root(&mut payload);
        if let Some(m) = mid {
            payload.extend_from_slice(&m);
        }
        let (offset, _) = self.out.block(BlockType::RootIndex, &payload, false)?;
        self.index.uncompressed += payload.len() as u64;
        Ok(offset)
    }

    fn write_intermediate_level(&mut self, level: &IndexChunk) -> Result<IndexChunk> {
        let mut parent = IndexChunk::default();
        let mut cur = IndexChunk::default();
        for (i, ((k, o), s)) in level
            .keys
            .iter()
            .zip(&level.offsets)
            .zip(&level.sizes)
            .enumerate()
        {
            cur.add(k.clone(), *o, *s, None);
            if i >= self.index.min_entries && cur.root_size >= self.index.max_chunk {
                self.write_intermediate_block(&mut parent, &mut cur)?;
            }
        }
        if cur.len() > 0 {
            self.write_intermediate_block(&mut parent, &mut cur)?;
        }
        Ok(parent)
    }

    fn write_intermediate_block(
        &mut self,
        parent: &mut IndexChunk,
        cur: &mut IndexChunk,
    ) -> Result<()> {
        let payload = cur.non_root();
        let (offset, size) = self
            .out
            .block(BlockType::IntermediateIndex, &payload, false)?;
        self.index.uncompressed += payload.len() as u64;
        let first = cur.keys.first().cloned().unwrap_or_default();
        parent.add(first, offset, size, None);
        *cur = IndexChunk::default();
        Ok(())
    }
}

impl Drop for HFileWriter {
    fn drop(&mut self) {
        if let Some(Sink::File { out, tmp, .. }) = self.out.sink.take() {
            drop(out);
            let _ = std::fs::remove_file(&tmp);
        }
    }
}

fn bool_bytes(b: bool) -> Vec<u8> {
    vec![if b { 0xff } else { 0 }]
}

/// `HFileWriterImpl.getMinimumMidpointArray`.
fn min_midpoint(a: &[u8], b: &[u8]) -> Option<Vec<u8>> {
    let min = a.len().min(b.len());
    let d = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    if d == min {
        if a.len() < b.len() {
            let mut m = a.to_vec();
            m.push(0);
            return Some(m);
        }
        return None;
    }
    let mut m = a.get(..=d)?.to_vec();
    if let Some(last) = m.last_mut() {
        *last = last.wrapping_add(1);
    }
    Some(m)
}

/// `HFileWriterImpl.getMidpoint` on serialized KEYs: the shortest fake key K with
/// `left < K <= right` by HBase 2.x's rules (`right` itself when no shorter key exists).
pub fn midpoint(left: Option<&[u8]>, right: &[u8]) -> Vec<u8> {
    let Some(left) = left else {
        return right.to_vec();
    };
    let (Ok(l), Ok(r)) = (Key::parse(left), Key::parse(right)) else {
        return right.to_vec();
    };
    if let Some(m) = min_midpoint(l.row(), r.row()) {
        return first_on_row(&m);
    }
    if let Some(m) = min_midpoint(l.family(), r.family()) {
        return make_key(r.row(), &m, &[], LATEST_TIMESTAMP, KeyType::Maximum as u8);
    }
    if let Some(m) = min_midpoint(l.qualifier(), r.qualifier()) {
        return make_key(
            r.row(),
            r.family(),
            &m,
            LATEST_TIMESTAMP,
            KeyType::Maximum as u8,
        );
    }
    right.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn midpoints() {
        let k = |r: &[u8], q: &[u8]| make_key(r, b"cf", q, 5, 4);
        assert_eq!(
            midpoint(Some(&k(b"abc", b"q")), &k(b"abz", b"q")),
            first_on_row(b"abd")
        );
        assert_eq!(
            midpoint(Some(&k(b"ab", b"q")), &k(b"abc", b"q")),
            first_on_row(b"ab\x00")
        );
        assert_eq!(
            midpoint(Some(&k(b"r", b"q0")), &k(b"r", b"q1")),
            make_key(b"r", b"cf", b"q1", LATEST_TIMESTAMP, 255)
        );
        assert_eq!(
            midpoint(Some(&k(b"r", b"q")), &k(b"r", b"q")),
            k(b"r", b"q")
        );
        assert_eq!(midpoint(None, &k(b"r", b"q")), k(b"r", b"q"));
    }
}
