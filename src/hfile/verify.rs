//! Full verification of an HFile: every block's header, prevBlockOffset chain, checksums
//! and decompressed size; every cell decoded and in order within and across blocks; every
//! index entry pointing at a real block whose first key it bounds; the trailer and FileInfo
//! agreeing with the contents; every key present in the blooms.
//!
//! Problems are collected (not raised) so one bad block does not hide the rest. Data blocks
//! are checked in parallel with rayon; memory stays bounded by the number of blocks, not
//! the number of cells.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::cell::{Key, KeyType, Order};
use crate::codec::Compression;
use crate::error::{Error, ErrorKind};
use crate::hfile::block::{BlockHeader, BlockType, RawBlock};
use crate::hfile::bloom::{self, BloomType};
use crate::hfile::encoding::{Encoding, Payload};
use crate::hfile::fileinfo::keys;
use crate::hfile::index::NonRoot;
use crate::hfile::HFile;

/// Most problems recorded per file; the rest are only counted.
pub const MAX_PROBLEMS: usize = 1000;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// Short name of the check that failed (`checksum`, `order`, `index`, ...).
    pub check: &'static str,
    /// Absolute file offset of the block (or structure) concerned.
    pub offset: Option<u64>,
    /// Block type concerned, when a block.
    pub block_type: Option<&'static str>,
    /// What was expected and what was found.
    pub message: String,
}

/// Outcome of verifying one file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every check passed.
    Clean,
    /// Problems were found (exit 1).
    Problems,
    /// The file could not be read at all (exit 2).
    Unreadable,
}

/// What verification found for one file.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The file.
    pub path: PathBuf,
    /// Overall status.
    pub status: Status,
    /// HFile version `major.minor`, when the trailer was readable.
    pub version: Option<String>,
    /// Cells decoded.
    pub cells: u64,
    /// Entry count the trailer declares.
    pub trailer_entries: Option<u64>,
    /// Blocks seen by type name.
    pub blocks: BTreeMap<&'static str, u64>,
    /// Bloom keys checked (general + delete-family).
    pub bloom_keys_checked: u64,
    /// Problems (at most [`MAX_PROBLEMS`]).
    pub problems: Vec<Problem>,
    /// Problems beyond the recorded ones.
    pub problems_not_shown: u64,
    /// Uncompressed bytes of data blocks decoded (for throughput reports).
    pub data_bytes: u64,
}

impl Report {
    fn new(path: &Path) -> Self {
        Report {
            path: path.to_path_buf(),
            status: Status::Clean,
            version: None,
            cells: 0,
            trailer_entries: None,
            blocks: BTreeMap::new(),
            bloom_keys_checked: 0,
            problems: Vec::new(),
            problems_not_shown: 0,
            data_bytes: 0,
        }
    }
    fn add(&mut self, p: Problem) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else {
            self.problems_not_shown += 1;
        }
        if self.status == Status::Clean {
            self.status = Status::Problems;
        }
    }
    fn add_err(&mut self, check: &'static str, bt: Option<BlockType>, e: &Error) {
        self.add(Problem {
            check,
            offset: e.offset,
            block_type: bt.map(BlockType::name),
            message: format!("{}: {}", e.context, e.message),
        });
    }
    fn problem(
        &mut self,
        check: &'static str,
        offset: Option<u64>,
        bt: Option<BlockType>,
        message: String,
    ) {
        self.add(Problem {
            check,
            offset,
            block_type: bt.map(BlockType::name),
            message,
        });
    }
}

/// Per-block results of the parallel pass.
#[derive(Debug, Default, PartialEq)]
struct BlockResult {
    cells: u64,
    first_key: Option<Vec<u8>>,
    last_key: Option<Vec<u8>>,
    key_len_sum: u64,
    value_len_sum: u64,
    max_seq: u64,
    max_tags_len: usize,
    min_ts: i64,
    max_ts: i64,
    earliest_put: i64,
    delete_family: u64,
    bloom_checked: u64,
    data_bytes: u64,
    problems: Vec<Problem>,
}

impl BlockResult {
    /// An empty result: no cells yet, time bounds at their neutral values.
    fn new() -> Self {
        BlockResult {
            min_ts: i64::MAX,
            max_ts: i64::MIN,
            earliest_put: i64::MAX,
            ..Default::default()
        }
    }

    /// Note a problem in block type `bt` (at most 100 per block).
    fn problem(
        &mut self,
        bt: Option<&'static str>,
        check: &'static str,
        offset: Option<u64>,
        message: String,
    ) {
        if self.problems.len() < 100 {
            self.problems.push(Problem {
                check,
                offset,
                block_type: bt,
                message,
            });
        }
    }
}

/// The general and delete-family bloom chunks, loaded once.
struct Blooms {
    /// Meta and the indices of chunks that could not be read (already reported).
    general: Option<(bloom::BloomMeta, Vec<usize>)>,
    delete_family: Option<(bloom::BloomMeta, Vec<usize>)>,
    bloom_type: BloomType,
    prefix_len: usize,
}

/// The bloom chunk a worker last used: rows arrive in order, so one chunk serves many
/// blocks, and memory stays one chunk per worker whatever the file size.
#[derive(Default)]
struct ChunkCache {
    idx: Option<usize>,
    bits: Vec<u8>,
    probe: Option<bloom::Probe>,
    /// The current block's keys for this bloom, in order, probed together when the block
    /// ends ([`Blooms::contains_pending`]): key bytes end to end, each key's end, its hashes.
    pending: Vec<u8>,
    ends: Vec<usize>,
    hashes: Vec<(i32, i32)>,
}

impl ChunkCache {
    /// Queue `key` for [`Blooms::contains_pending`].
    #[inline]
    fn push(&mut self, key: &[u8]) {
        self.pending.extend_from_slice(key);
        self.ends.push(self.pending.len());
    }
    /// The last key queued.
    fn last_pending(&self) -> Option<&[u8]> {
        nth_key(&self.pending, &self.ends, self.ends.len().checked_sub(1)?)
    }
    fn clear_pending(&mut self) {
        self.pending.clear();
        self.ends.clear();
    }
}

/// Key `j` of keys stored end to end in `bytes`, key `i` ending at `ends[i]`.
fn nth_key<'k>(bytes: &'k [u8], ends: &[usize], j: usize) -> Option<&'k [u8]> {
    let start = match j.checked_sub(1) {
        Some(p) => *ends.get(p)?,
        None => 0,
    };
    bytes.get(start..*ends.get(j)?)
}

impl Blooms {
    /// Some(true/false) for a key in a readable chunk; None when the key sorts before every
    /// chunk (a miss) is Some(false); None means "cannot tell" (chunk unreadable).
    fn contains(
        f: &HFile,
        bloom: &(bloom::BloomMeta, Vec<usize>),
        cache: &mut ChunkCache,
        key: &[u8],
    ) -> Option<bool> {
        let (meta, bad) = bloom;
        if let (Some(i), Some(probe)) = (cache.idx, cache.probe) {
            if meta.chunk_holds(i, key) {
                return probe.contains(&cache.bits, key);
            }
        }
        let Some(i) = meta.chunk_for(key) else {
            return Some(false);
        };
        if bad.contains(&i) {
            return None;
        }
        Self::load_chunk(f, meta, cache, i)?.contains(&cache.bits, key)
    }

    /// Make chunk `i` the cached one; its probe.
    fn load_chunk(
        f: &HFile,
        meta: &bloom::BloomMeta,
        cache: &mut ChunkCache,
        i: usize,
    ) -> Option<bloom::Probe> {
        let off = meta.chunks.get(i)?.offset;
        let (_, p) = f.block_payload(off).ok()?;
        cache.bits.clear();
        cache.bits.extend_from_slice(p.bytes());
        cache.idx = Some(i);
        let probe = bloom::Probe::new(meta.hash_type, meta.hash_count, cache.bits.len());
        cache.probe = Some(probe);
        Some(probe)
    }

    /// [`Blooms::contains`] for every key queued in `cache` (in key order), which it then
    /// clears: false at the first key the bloom lacks. All keys are hashed first, in a loop
    /// of nothing else, so the CPU overlaps one key's hash chain with the next's; the chunk
    /// is found by comparing the first and last key with the cached chunk's bounds, or key
    /// by key when the keys cross a chunk boundary.
    fn contains_pending(
        f: &HFile,
        bloom: &(bloom::BloomMeta, Vec<usize>),
        cache: &mut ChunkCache,
    ) -> bool {
        let (meta, bad) = bloom;
        let (pending, ends) = (
            std::mem::take(&mut cache.pending),
            std::mem::take(&mut cache.ends),
        );
        let key_at = |j: usize| nth_key(&pending, &ends, j);
        // A hash type hbkit does not implement cannot tell (the bloom load reported it).
        let unknown_hash = bloom::hash_pair(meta.hash_type, b"").is_none();
        let ok = unknown_hash || {
            let mut hashes = std::mem::take(&mut cache.hashes);
            hashes.clear();
            hashes.extend((0..ends.len()).map(|j| {
                bloom::hash_pair(meta.hash_type, key_at(j).unwrap_or_default()).unwrap_or_default()
            }));
            // Keys are in order: when the first and last fall in the cached chunk, all do.
            let (first, last) = (key_at(0), ends.len().checked_sub(1).and_then(key_at));
            let all_cached = match (cache.idx, cache.probe, first, last) {
                (Some(i), Some(_), Some(a), Some(z)) => {
                    meta.starts_by(i, a) && !meta.starts_by(i + 1, z)
                }
                _ => false,
            };
            let mut ok = true;
            let (mut idx, mut probe) = (cache.idx, cache.probe);
            for (n, &h) in hashes.iter().enumerate() {
                let keep = all_cached
                    || idx.is_some_and(|i| {
                        // After the first key one comparison keeps the chunk.
                        key_at(n).is_some_and(|key| {
                            (n > 0 || meta.starts_by(i, key)) && !meta.starts_by(i + 1, key)
                        })
                    });
                if !keep {
                    match meta.chunk_for(key_at(n).unwrap_or_default()) {
                        None => {
                            ok = false;
                            break;
                        }
                        Some(i) if bad.contains(&i) => (idx, probe) = (Some(i), None),
                        Some(i) => {
                            (idx, probe) = (Some(i), Self::load_chunk(f, meta, cache, i));
                        }
                    }
                }
                // No probe: the chunk is unreadable, which was reported once already.
                if probe.is_some_and(|p| !p.contains_hashed(&cache.bits, h)) {
                    ok = false;
                    break;
                }
            }
            cache.hashes = hashes;
            ok
        };
        (cache.pending, cache.ends) = (pending, ends);
        cache.clear_pending();
        ok
    }
}

/// Verify `path`. `threads` = 0 uses rayon's global pool.
pub fn verify_file(path: &Path) -> Report {
    verify_opened(path, |check_sums| HFile::open_with(path, check_sums))
}

/// As [`verify_file`] for a file held in memory (tests, fuzzing); `path` only names it.
pub fn verify_bytes(path: &Path, bytes: Vec<u8>) -> Report {
    let mut bytes = Some(bytes);
    verify_opened(path, |check_sums| {
        // A checksum failure is retried without checksums: keep the bytes for that.
        let b = if check_sums {
            bytes.clone()
        } else {
            bytes.take()
        };
        HFile::from_bytes_with(path, b.unwrap_or_default(), check_sums)
    })
}

/// Open with `open(check_sums)` (retrying without checksums after a load-on-open checksum
/// failure) and verify.
fn verify_opened(path: &Path, mut open: impl FnMut(bool) -> crate::Result<HFile>) -> Report {
    let mut r = Report::new(path);
    let f = match open(true) {
        Ok(f) => f,
        Err(e) if e.kind == ErrorKind::Checksum => {
            // Report the bad load-on-open checksum, then keep going without it.
            r.add_err("checksum", None, &e);
            match open(false) {
                Ok(f) => f,
                Err(e2) => {
                    r.add_err("open", None, &e2);
                    r.status = Status::Unreadable;
                    return r;
                }
            }
        }
        Err(e) => {
            r.add_err(
                if e.kind == ErrorKind::Unsupported {
                    "unsupported"
                } else {
                    "open"
                },
                None,
                &e,
            );
            r.status = Status::Unreadable;
            return r;
        }
    };
    verify_open(&f, &mut r);
    r
}

/// Verify an already opened file into `r`.
pub fn verify_open(f: &HFile, r: &mut Report) {
    let t = &f.trailer;
    r.version = Some(format!("{}.{}", t.major_version, t.minor_version));
    r.trailer_entries = Some(t.entry_count);
    for h in &f.load_on_open {
        *r.blocks.entry(h.block_type.name()).or_default() += 1;
    }
    let load_on_open = t.load_on_open_data_offset;

    // Pass 1: walk every header of the scanned and non-scanned sections.
    let mut headers: Vec<BlockHeader> = Vec::new();
    let mut prev_by_type: HashMap<u8, i64> = HashMap::new();
    let mut off = 0u64;
    while off < load_on_open {
        match f.header_at(off) {
            Ok(h) => {
                let chain = match h.block_type {
                    BlockType::Data | BlockType::EncodedData => 0u8,
                    other => other as u8 + 1,
                };
                let expect = prev_by_type.get(&chain).copied().unwrap_or(-1);
                if h.prev_block_offset != expect {
                    r.problem(
                        "prev_block_offset",
                        Some(off),
                        Some(h.block_type),
                        format!(
                            "prevBlockOffset is {} but the previous {} block is at {expect}",
                            h.prev_block_offset,
                            h.block_type.name()
                        ),
                    );
                }
                prev_by_type.insert(chain, off as i64);
                *r.blocks.entry(h.block_type.name()).or_default() += 1;
                if matches!(
                    h.block_type,
                    BlockType::RootIndex
                        | BlockType::FileInfo
                        | BlockType::Trailer
                        | BlockType::IndexV1
                ) {
                    r.problem(
                        "layout",
                        Some(off),
                        Some(h.block_type),
                        format!(
                            "{} block before the load-on-open section",
                            h.block_type.name()
                        ),
                    );
                }
                headers.push(h);
                off += h.on_disk_size_with_header();
            }
            Err(e) => {
                r.add_err("block_header", None, &e);
                // Resynchronise at the next block the index knows about.
                match next_known_offset(f, off) {
                    Some(n) => off = n,
                    None => break,
                }
            }
        }
    }
    if off > load_on_open {
        r.problem(
            "layout",
            Some(off),
            None,
            format!("blocks run past the load-on-open section at {load_on_open}"),
        );
    }
    // The load-on-open blocks continue the same per-type chains.
    for h in &f.load_on_open {
        let chain = h.block_type as u8 + 1;
        let expect = prev_by_type.get(&chain).copied().unwrap_or(-1);
        if h.prev_block_offset != expect {
            r.problem(
                "prev_block_offset",
                Some(h.offset),
                Some(h.block_type),
                format!(
                    "prevBlockOffset is {} but the previous {} block is at {expect}",
                    h.prev_block_offset,
                    h.block_type.name()
                ),
            );
        }
        prev_by_type.insert(chain, h.offset as i64);
    }

    // Load bloom chunks.
    let blooms = load_blooms(f, r);

    // Pass 2: data blocks in parallel.
    let data: Vec<&BlockHeader> = headers.iter().filter(|h| h.block_type.is_data()).collect();
    let results: Vec<BlockResult> = data
        .par_iter()
        .map_init(
            || {
                let (g, d) = (ChunkCache::default(), ChunkCache::default());
                (g, d, Vec::new(), Vec::new())
            },
            |(g, d, buf, rbuf), h| check_data_block(f, h, &blooms, g, d, buf, rbuf),
        )
        .collect();

    // Non-data blocks: checksums and decompression (index blocks are read again below).
    for h in headers.iter().filter(|h| !h.block_type.is_data()) {
        if let Err(e) = f.block_payload(h.offset) {
            r.add_err(
                if e.kind == ErrorKind::Checksum {
                    "checksum"
                } else {
                    "block"
                },
                Some(h.block_type),
                &e,
            );
        }
        f.done_with(h.offset, h.offset + h.on_disk_size_with_header());
    }

    // Reduce in file order.
    let mut prev_last: Option<(u64, Vec<u8>)> = None;
    let (mut cells, mut key_sum, mut val_sum, mut max_seq, mut max_tags) =
        (0u64, 0u64, 0u64, 0u64, 0usize);
    let (mut min_ts, mut max_ts, mut earliest_put, mut del_fam) =
        (i64::MAX, i64::MIN, i64::MAX, 0u64);
    let mut last_key: Option<Vec<u8>> = None;
    let mut firsts: Vec<(u64, Option<Vec<u8>>)> = Vec::with_capacity(results.len());
    for (h, b) in data.iter().zip(results) {
        for p in b.problems {
            r.add(p);
        }
        if let (Some((po, pk)), Some(fk)) = (&prev_last, &b.first_key) {
            if f.compare_keys(pk, fk) == std::cmp::Ordering::Greater {
                r.problem(
                    "order",
                    Some(h.offset),
                    Some(h.block_type),
                    format!(
                        "first cell {} sorts before the last cell {} of the block at {po}",
                        key_text(fk),
                        key_text(pk)
                    ),
                );
            }
        }
        if let Some(lk) = &b.last_key {
            prev_last = Some((h.offset, lk.clone()));
            last_key = Some(lk.clone());
        }
        firsts.push((h.offset, b.first_key));
        cells += b.cells;
        key_sum += b.key_len_sum;
        val_sum += b.value_len_sum;
        max_seq = max_seq.max(b.max_seq);
        max_tags = max_tags.max(b.max_tags_len);
        min_ts = min_ts.min(b.min_ts);
        max_ts = max_ts.max(b.max_ts);
        earliest_put = earliest_put.min(b.earliest_put);
        del_fam += b.delete_family;
        r.bloom_keys_checked += b.bloom_checked;
        r.data_bytes += b.data_bytes;
    }
    r.cells = cells;

    check_trailer(f, r, &data, cells);
    check_index(f, r, &headers, &firsts);
    check_file_info(
        f,
        r,
        FileStats {
            cells,
            key_sum,
            val_sum,
            max_seq,
            max_tags,
            min_ts,
            max_ts,
            earliest_put,
            del_fam,
            last_key,
        },
    );
}

fn key_text(k: &[u8]) -> String {
    Key::parse(k)
        .map(|k| k.key_string())
        .unwrap_or_else(|_| crate::bytes::to_string_binary(k))
}

fn next_known_offset(f: &HFile, after: u64) -> Option<u64> {
    let mut known: Vec<u64> = f.root_index.iter().map(|e| e.offset).collect();
    if f.trailer.num_data_index_levels > 1 {
        // Walk one level down for finer resync points; errors are reported elsewhere.
        for e in &f.root_index {
            if let Ok((_, p)) = f.block_payload(e.offset) {
                if let Ok(nr) = NonRoot::parse(p.bytes()) {
                    known.extend((0..nr.len()).filter_map(|i| nr.entry(i).map(|x| x.0)));
                }
            }
        }
    }
    for b in [&f.general_bloom, &f.delete_family_bloom]
        .into_iter()
        .flatten()
    {
        known.extend(b.meta.chunks.iter().map(|c| c.offset));
    }
    known
        .into_iter()
        .filter(|&o| o > after && o < f.trailer.load_on_open_data_offset)
        .min()
}

fn load_blooms(f: &HFile, r: &mut Report) -> Blooms {
    let mut load = |b: &Option<crate::hfile::reader::Bloom>,
                    name: &str|
     -> Option<(bloom::BloomMeta, Vec<usize>)> {
        let b = b.as_ref()?;
        let m = &b.meta;
        if bloom::hash(m.hash_type, b"", 0).is_none() {
            r.problem(
                "bloom",
                Some(b.meta_offset),
                None,
                format!(
                    "{name} bloom uses hash type {} which hbkit cannot evaluate; keys not checked",
                    m.hash_type
                ),
            );
            return None;
        }
        if m.num_chunks as usize != m.chunks.len() {
            r.problem(
                "bloom",
                Some(b.meta_offset),
                None,
                format!(
                    "{name} bloom declares {} chunks, index has {}",
                    m.num_chunks,
                    m.chunks.len()
                ),
            );
        }
        let mut bad = Vec::new();
        let mut total = 0i64;
        for (i, c) in m.chunks.iter().enumerate() {
            match f.block_payload(c.offset) {
                Ok((h, p)) => {
                    if h.block_type != BlockType::BloomChunk {
                        r.problem(
                            "bloom",
                            Some(c.offset),
                            Some(h.block_type),
                            format!(
                                "{name} bloom chunk index points at a {} block",
                                h.block_type.name()
                            ),
                        );
                    }
                    if h.on_disk_size_with_header() != c.on_disk_size as u64 {
                        r.problem(
                            "bloom",
                            Some(c.offset),
                            Some(h.block_type),
                            format!(
                                "chunk index says {} bytes, block is {}",
                                c.on_disk_size,
                                h.on_disk_size_with_header()
                            ),
                        );
                    }
                    total += p.bytes().len() as i64;
                }
                Err(e) => {
                    r.add_err("bloom", Some(BlockType::BloomChunk), &e);
                    bad.push(i);
                }
            }
        }
        if total != m.total_byte_size {
            r.problem(
                "bloom",
                Some(b.meta_offset),
                None,
                format!(
                    "{name} bloom totalByteSize {} but chunks hold {total} bytes",
                    m.total_byte_size
                ),
            );
        }
        Some((m.clone(), bad))
    };
    let general = load(&f.general_bloom, "general");
    let delete_family = load(&f.delete_family_bloom, "delete-family");
    if f.bloom_type != BloomType::None && f.general_bloom.is_none() && f.trailer.entry_count > 0 {
        r.problem(
            "bloom",
            None,
            None,
            format!(
                "FileInfo declares a {} bloom but the file has no bloom meta block",
                f.bloom_type.name()
            ),
        );
    }
    let prefix_len = f
        .file_info
        .get_i32(keys::BLOOM_FILTER_PARAM)
        .unwrap_or(0)
        .max(0) as usize;
    Blooms {
        general,
        delete_family,
        bloom_type: f.bloom_type,
        prefix_len,
    }
}

fn check_data_block(
    f: &HFile,
    h: &BlockHeader,
    blooms: &Blooms,
    gcache: &mut ChunkCache,
    dcache: &mut ChunkCache,
    buf: &mut Vec<u8>,
    rbuf: &mut Vec<u8>,
) -> BlockResult {
    let mut b = BlockResult::new();
    let bt = Some(h.block_type.name());
    let problem = |b: &mut BlockResult, check: &'static str, offset: Option<u64>, message| {
        b.problem(bt, check, offset, message)
    };
    let raw = match f.read_block(h, rbuf) {
        Ok(r) => r,
        Err(e) => {
            problem(&mut b, "block", e.offset, e.message);
            return b;
        }
    };
    if let Err(e) = raw.verify_checksums() {
        problem(&mut b, "checksum", e.offset, e.message);
    }
    let payload = match payload_of(&raw, f.compression, buf) {
        Ok(p) => p,
        Err(e) => {
            problem(&mut b, "decompress", e.offset, e.message);
            return b;
        }
    };
    b.data_bytes = h.uncompressed_size_without_header as u64;
    // The one-pass readers cover the common forms; anything else, or anything they find
    // wrong, takes the general path below.
    let one_pass = match (h.block_type, f.encoding) {
        _ if f.order != Order::Normal => None,
        (BlockType::Data, _) => {
            plain_block(payload.bytes(), OnePass::new(f, blooms, gcache, dcache))
        }
        (BlockType::EncodedData, Encoding::FastDiff) => {
            fast_diff_block(payload.bytes(), OnePass::new(f, blooms, gcache, dcache))
        }
        _ => None,
    };
    if let Some(fast) = one_pass {
        if let Payload::Owned(v) = payload {
            *buf = v; // the decompression buffer serves the next block
        }
        return BlockResult {
            data_bytes: b.data_bytes,
            problems: b.problems,
            ..fast
        };
    }
    general_block(f, h, payload, blooms, gcache, dcache, b)
}

/// Checks a data block's cells through the block decoder, naming every problem: the path
/// for every form, and for blocks the one-pass readers turned down.
fn general_block(
    f: &HFile,
    h: &BlockHeader,
    payload: Payload<'_>,
    blooms: &Blooms,
    gcache: &mut ChunkCache,
    dcache: &mut ChunkCache,
    mut b: BlockResult,
) -> BlockResult {
    let bt = Some(h.block_type.name());
    let problem = |b: &mut BlockResult, check: &'static str, offset: Option<u64>, message| {
        b.problem(bt, check, offset, message)
    };
    let mut dec = match f.decoder(h, payload) {
        Ok(d) => d,
        Err(e) => {
            let check = if e.kind == ErrorKind::Unsupported {
                "unsupported"
            } else {
                "decode"
            };
            problem(&mut b, check, e.offset, e.message);
            return b;
        }
    };
    let order = f.order;
    let mut last_prefix: Option<Vec<u8>> = None;
    let mut last_df_row: Option<Vec<u8>> = None;
    let mut scratch = Vec::new();
    let mut row_starts: Vec<usize> = Vec::new();
    let base = h.offset + h.header_size as u64;
    let is_row_index = dec.encoding() == Encoding::RowIndexV1;
    loop {
        let pos = dec.position();
        let (cell, prev_key) = match dec.next_with_prev() {
            Ok(Some(c)) => c,
            Ok(None) => break,
            Err(e) => {
                problem(
                    &mut b,
                    "decode",
                    Some(base + e.offset.unwrap_or(pos as u64)),
                    e.message,
                );
                break;
            }
        };
        let k = cell.key;
        let at = Some(base + pos as u64);
        b.cells += 1;
        b.key_len_sum += k.raw().len() as u64;
        b.value_len_sum += cell.value.len() as u64;
        b.max_seq = b.max_seq.max(cell.seq_id);
        b.max_tags_len = b.max_tags_len.max(cell.tags.len());
        let ts = k.timestamp();
        b.min_ts = b.min_ts.min(ts);
        b.max_ts = b.max_ts.max(ts);
        let kt = k.key_type();
        match kt {
            Some(KeyType::Put) => b.earliest_put = b.earliest_put.min(ts),
            Some(KeyType::DeleteFamily) | Some(KeyType::DeleteFamilyVersion) => {
                b.delete_family += 1
            }
            Some(KeyType::Minimum) | Some(KeyType::Maximum) => problem(
                &mut b,
                "cell",
                at,
                format!("cell {} has a synthetic key type", k.key_string()),
            ),
            None => problem(
                &mut b,
                "cell",
                at,
                format!(
                    "cell {} has invalid type code {}",
                    k.key_string(),
                    k.type_code()
                ),
            ),
            _ => {}
        }
        if !cell.tags.is_empty() && cell.tags().any(|t| t.is_err()) {
            problem(
                &mut b,
                "cell",
                at,
                format!("cell {} has malformed tags", k.key_string()),
            );
        }
        // Order against the previous cell; tells whether the row / column changed.
        let (row_changed, col_changed) = match prev_key.map(Key::parse) {
            None => {
                b.first_key = Some(k.raw().to_vec());
                (true, true)
            }
            Some(Err(_)) => (true, true),
            Some(Ok(pk)) => {
                let rows = order.compare_rows(pk.row(), k.row());
                let ord = match (order, rows) {
                    (crate::cell::Order::RawBytes, _) => order.compare(&pk, &k),
                    (_, std::cmp::Ordering::Equal) => crate::cell::compare_after_row(&pk, &k),
                    (_, r) => r,
                };
                if ord == std::cmp::Ordering::Greater {
                    problem(
                        &mut b,
                        "order",
                        at,
                        format!(
                            "cell {} sorts before the previous cell {}",
                            k.key_string(),
                            pk.key_string()
                        ),
                    );
                }
                let row_changed = rows != std::cmp::Ordering::Equal;
                (
                    row_changed,
                    row_changed || crate::bytes::compare(pk.qualifier(), k.qualifier()).is_ne(),
                )
            }
        };
        if is_row_index && row_changed {
            row_starts.push(pos - 2);
        }
        // Blooms: each distinct bloom key is probed once per block.
        if let Some(gb) = &blooms.general {
            let key: Option<&[u8]> = match blooms.bloom_type {
                BloomType::Row if row_changed => Some(k.row()),
                BloomType::RowCol if col_changed => {
                    bloom::rowcol_key_into(&mut scratch, k.row(), k.qualifier());
                    Some(&scratch)
                }
                BloomType::RowPrefixFixedLength if row_changed => {
                    let p = k
                        .row()
                        .get(..blooms.prefix_len.min(k.row().len()))
                        .unwrap_or(&[]);
                    if last_prefix.as_deref() == Some(p) {
                        None
                    } else {
                        last_prefix = Some(p.to_vec());
                        Some(p)
                    }
                }
                _ => None,
            };
            if let Some(key) = key {
                b.bloom_checked += 1;
                if Blooms::contains(f, gb, gcache, key) == Some(false) {
                    problem(
                        &mut b,
                        "bloom",
                        at,
                        format!(
                            "{} bloom does not contain the key {} of cell {}",
                            blooms.bloom_type.name(),
                            crate::bytes::to_string_binary(key),
                            k.key_string()
                        ),
                    );
                }
            }
        }
        if let Some(db) = &blooms.delete_family {
            if matches!(
                kt,
                Some(KeyType::DeleteFamily) | Some(KeyType::DeleteFamilyVersion)
            ) && last_df_row.as_deref() != Some(k.row())
            {
                b.bloom_checked += 1;
                if Blooms::contains(f, db, dcache, k.row()) == Some(false) {
                    problem(
                        &mut b,
                        "bloom",
                        at,
                        format!(
                            "delete-family bloom does not contain the row of {}",
                            k.key_string()
                        ),
                    );
                }
                last_df_row = Some(k.row().to_vec());
            }
        }
    }
    let last = dec.last_key().map(<[u8]>::to_vec);
    if let Err((declared, computed)) = dec.check_unencoded_size() {
        problem(
            &mut b,
            "decode",
            Some(h.offset),
            format!("block declares unencoded size {declared}, cells add up to {computed}"),
        );
    }
    if let Some((n, offs)) = dec.row_index() {
        let stored: Vec<usize> = (0..n)
            .filter_map(|i| crate::bytes::be_i32(offs, i * 4).map(|v| v as usize))
            .collect();
        if stored != row_starts {
            problem(&mut b, "decode", Some(h.offset), format!("ROW_INDEX_V1 row offsets {stored:?} differ from the rows found at {row_starts:?}"));
        }
    }
    b.last_key = last;
    b
}

/// Order of two cells of the same row whose family or family length differ (rare: one
/// family per file is the rule), as [`crate::cell::compare_after_row`] orders them.
#[cold]
fn order_other_family(prev: &[u8], cur: &[u8]) -> Option<std::cmp::Ordering> {
    Some(crate::cell::compare_after_row(
        &Key::parse(prev).ok()?,
        &Key::parse(cur).ok()?,
    ))
}

/// Running checks and statistics over the cells of one data block in normal cell order,
/// fed one cell at a time by the one-pass block readers ([`plain_block`],
/// [`fast_diff_block`]). Every method returns None at the first thing not plainly right (the
/// order, a key type, tags, a bloom miss): the caller then checks the block again on the
/// general path, which names each problem. The order check reads where the key differs from
/// the previous one instead of parsing and comparing both keys field by field.
struct OnePass<'b> {
    f: &'b HFile,
    blooms: &'b Blooms,
    gcache: &'b mut ChunkCache,
    dcache: &'b mut ChunkCache,
    r: BlockResult,
    /// The previous cell's qualifier start and end, timestamp and type.
    prev_qs: usize,
    prev_qe: usize,
    prev_ts: i64,
    prev_typ: u8,
    last_df_row: Option<Vec<u8>>,
    scratch: Vec<u8>,
}

impl<'b> OnePass<'b> {
    fn new(
        f: &'b HFile,
        blooms: &'b Blooms,
        gcache: &'b mut ChunkCache,
        dcache: &'b mut ChunkCache,
    ) -> Self {
        gcache.clear_pending();
        OnePass {
            f,
            blooms,
            gcache,
            dcache,
            r: BlockResult::new(),
            prev_qs: 0,
            prev_qe: 0,
            prev_ts: 0,
            prev_typ: 0,
            last_df_row: None,
            scratch: Vec::new(),
        }
    }

    /// Check cell `key` (with a value of `vl` bytes, sequence id `seq` and `tags_len` bytes of
    /// tags) after the block's previous cell `prev` (ignored for the first cell), whose first
    /// `equal` bytes the caller knows to be the same as `key`'s.
    #[inline(always)]
    fn cell(
        &mut self,
        prev: &[u8],
        key: &[u8],
        equal: usize,
        vl: usize,
        seq: u64,
        tags_len: usize,
    ) -> Option<()> {
        use crate::bytes::be_u16;
        use std::cmp::Ordering;
        let kl = key.len();
        // Key layout: rowlen(2) row famlen(1) family qualifier timestamp(8) type(1).
        let rl = usize::from(be_u16(key, 0)?);
        let qs = 3 + rl + usize::from(*key.get(2 + rl)?);
        let qe = kl.checked_sub(9).filter(|&e| e >= qs)?;
        let tail: [u8; 9] = key.get(qe..)?.try_into().ok()?;
        let ts = i64::from_be_bytes(tail.get(..8)?.try_into().ok()?);
        let typ = tail[8];
        let b = &mut self.r;
        match typ {
            4 => b.earliest_put = b.earliest_put.min(ts),
            8 | 12 => {}
            10 | 14 => b.delete_family += 1,
            _ => return None,
        }
        b.key_len_sum += kl as u64;
        b.value_len_sum += vl as u64;
        b.max_seq = b.max_seq.max(seq);
        b.max_tags_len = b.max_tags_len.max(tags_len);
        b.min_ts = b.min_ts.min(ts);
        b.max_ts = b.max_ts.max(ts);

        // Order against the previous cell, read at the first byte where the keys differ.
        let (row_changed, col_changed) = if b.cells == 0 {
            b.first_key = Some(key.to_vec());
            (true, true)
        } else {
            let (prev_qs, prev_qe, prev_ts, prev_typ) =
                (self.prev_qs, self.prev_qe, self.prev_ts, self.prev_typ);
            let cp = equal + crate::bytes::common_prefix(prev.get(equal..)?, key.get(equal..)?);
            let at = |k: &[u8]| k.get(cp).copied();
            if cp < 2 {
                // Row lengths differ: compare the rows themselves.
                let prow = prev.get(2..2 + usize::from(be_u16(prev, 0)?))?;
                let row = key.get(2..2 + rl)?;
                if crate::bytes::compare(prow, row) != Ordering::Less {
                    return None;
                }
                (true, true)
            } else if cp < 2 + rl {
                // Same row length, rows differ at `cp`.
                if at(prev)? > at(key)? {
                    return None;
                }
                (true, true)
            } else if cp < qs {
                // Same row; family length or family differs.
                if order_other_family(prev, key)? == Ordering::Greater {
                    return None;
                }
                (false, prev.get(prev_qs..prev_qe) != key.get(qs..qe))
            } else if cp < prev_qe.min(qe) {
                // Same row and family; qualifiers differ at `cp`.
                if at(prev)? > at(key)? {
                    return None;
                }
                (false, true)
            } else if prev_qe != qe {
                // One qualifier is a prefix of the other: the shorter sorts first.
                if prev_qe > qe {
                    return None;
                }
                (false, true)
            } else {
                // Same column: newer timestamps first, then higher type codes.
                if ts.cmp(&prev_ts).then(typ.cmp(&prev_typ)) == Ordering::Greater {
                    return None;
                }
                (false, false)
            }
        };
        b.cells += 1;
        (self.prev_qs, self.prev_qe, self.prev_ts, self.prev_typ) = (qs, qe, ts, typ);

        let row = key.get(2..2 + rl)?;
        let blooms = self.blooms;
        if blooms.general.is_some() {
            let bk: Option<&[u8]> = match blooms.bloom_type {
                BloomType::Row if row_changed => Some(row),
                BloomType::RowCol if col_changed => {
                    bloom::rowcol_key_into(&mut self.scratch, row, key.get(qs..qe)?);
                    Some(&self.scratch)
                }
                BloomType::RowPrefixFixedLength if row_changed => {
                    let p = row.get(..blooms.prefix_len.min(rl))?;
                    (self.gcache.last_pending() != Some(p)).then_some(p)
                }
                _ => None,
            };
            if let Some(bk) = bk {
                self.r.bloom_checked += 1;
                self.gcache.push(bk);
            }
        }
        if typ == 10 || typ == 14 {
            if let Some(db) = &blooms.delete_family {
                if self.last_df_row.as_deref() != Some(row) {
                    self.r.bloom_checked += 1;
                    if Blooms::contains(self.f, db, self.dcache, row) == Some(false) {
                        return None;
                    }
                    self.last_df_row = Some(row.to_vec());
                }
            }
        }
        Some(())
    }

    /// The block's result, its last cell's key being `last`, once its queued bloom keys are
    /// found in the bloom (None if one is not).
    fn finish(self, last: &[u8]) -> Option<BlockResult> {
        if let Some(gb) = &self.blooms.general {
            if !Blooms::contains_pending(self.f, gb, self.gcache) {
                return None;
            }
        }
        let cells = self.r.cells;
        Some(BlockResult {
            last_key: (cells > 0).then(|| last.to_vec()),
            ..self.r
        })
    }
}

/// The sequence id (vlong memstoreTS) at `p` when cells carry one: (id, bytes).
#[inline]
fn seq_at(payload: &[u8], p: usize, mvcc: bool) -> Option<(u64, usize)> {
    if !mvcc {
        return Some((0, 0));
    }
    let (v, m) = crate::bytes::read_vlong(payload.get(p..)?)?;
    Some((v as u64, m))
}

/// Checks the cells of an unencoded DATA block in normal cell order in one pass over the
/// payload, with the same checks as the general path ([`OnePass`]); None sends the block to
/// the general path.
fn plain_block(payload: &[u8], mut one: OnePass<'_>) -> Option<BlockResult> {
    use crate::bytes::be_u16;
    let flags = one.f.flags;
    let mut prev: &[u8] = &[];
    let mut pos = 0usize;
    while pos < payload.len() {
        let lens = payload.get(pos..pos + 8)?;
        let kl = u32::from_be_bytes(lens.get(..4)?.try_into().ok()?) as usize;
        let vl = u32::from_be_bytes(lens.get(4..)?.try_into().ok()?) as usize;
        // Lengths are Java ints: a negative one reads as more than 2^31 and fails here.
        let key = payload.get(pos + 8..pos + 8 + kl)?;
        let mut p = pos + 8 + kl + vl;
        let mut tags_len = 0;
        if flags.tags {
            tags_len = usize::from(be_u16(payload, p)?);
            if tags_len != 0
                && !crate::cell::tags_well_formed(payload.get(p + 2..p + 2 + tags_len)?)
            {
                return None;
            }
            p += 2 + tags_len;
        }
        let (seq, m) = seq_at(payload, p, flags.mvcc)?;
        p += m;
        if p > payload.len() {
            return None;
        }
        pos = p;
        one.cell(prev, key, 0, vl, seq, tags_len)?;
        prev = key;
    }
    one.finish(prev)
}

/// As [`plain_block`] for a FAST_DIFF block (tags uncompressed, or none): each key is rebuilt from
/// the previous one into one of two buffers, the checks are [`OnePass`]'s, and the block's
/// declared unencoded size is checked at the end. None sends the block to the general
/// path, which decodes it with [`crate::hfile::encoding::BlockDecoder`] and names problems.
fn fast_diff_block(payload: &[u8], mut one: OnePass<'_>) -> Option<BlockResult> {
    use crate::bytes::{be_u16, read_cint};
    let flags = one.f.flags;
    if i16::from_be_bytes(payload.get(..2)?.try_into().ok()?) != Encoding::FastDiff.id() {
        return None;
    }
    let declared = u32::from_be_bytes(payload.get(2..6)?.try_into().ok()?) as usize;
    let (mut prev, mut cur): (Vec<u8>, Vec<u8>) = (Vec::new(), Vec::new());
    let (mut prev_vl, mut prev_value, mut prev_ts, mut prev_typ) =
        (0usize, (0usize, 0usize), 0i64, 0u8);
    let mut unencoded = 0usize;
    let mut pos = 6usize;
    let cint = |pos: &mut usize| -> Option<usize> {
        let (v, n) = read_cint(payload.get(*pos..)?)?;
        *pos += n;
        Some(v as usize)
    };
    let take = |pos: &mut usize, n: usize| -> Option<&[u8]> {
        let b = payload.get(*pos..pos.checked_add(n)?)?;
        *pos += n;
        Some(b)
    };
    let mut first = true;
    // Leading bytes `cur` (the key two cells back) already shares with `prev`: the bytes the
    // last key took from the one before it. Only the rest of a shared prefix is copied.
    let mut known = 0usize;
    while pos < payload.len() {
        let flag = *payload.get(pos)?;
        pos += 1;
        let (same_kl, same_vl, same_type, same_value) = (
            flag & 0x08 != 0,
            flag & 0x10 != 0,
            flag & 0x20 != 0,
            flag & 0x40 != 0,
        );
        let kl = if same_kl { prev.len() } else { cint(&mut pos)? };
        let vl = if same_vl { prev_vl } else { cint(&mut pos)? };
        let common = cint(&mut pos)?;
        if kl < crate::cell::KEY_INFRASTRUCTURE {
            return None;
        }
        // Bytes of the new key copied from `prev`, so equal to it.
        let copied;
        if first {
            if flag & 0x78 != 0 || common != 0 {
                return None;
            }
            cur.clear();
            cur.extend_from_slice(take(&mut pos, kl - 9)?);
            copied = 0;
        } else {
            let prl = usize::from(be_u16(&prev, 0)?);
            let pfl = usize::from(*prev.get(2 + prl)?);
            if common > prev.len().checked_sub(9)? {
                return None;
            }
            if common < 2 + prl {
                // Row differs: row length and row, the family from the previous cell.
                let keep = known.min(common);
                cur.truncate(keep);
                crate::bytes::extend_from(&mut cur, &prev, keep, common - keep)?;
                copied = common;
                if common < 2 {
                    cur.extend_from_slice(take(&mut pos, 2 - common)?);
                }
                let rl = usize::from(be_u16(&cur, 0)?);
                let need = (2 + rl).checked_sub(cur.len())?;
                crate::bytes::extend_from(&mut cur, payload, pos, need)?;
                pos += need;
                crate::bytes::extend_from(&mut cur, &prev, 2 + prl, 1 + pfl)?;
                let ql = kl.checked_sub(cur.len() + 9)?;
                crate::bytes::extend_from(&mut cur, payload, pos, ql)?;
                pos += ql;
            } else {
                // Row and family shared; part of the qualifier may be shared too.
                let shared = common.max(3 + prl + pfl);
                let keep = known.min(shared);
                cur.truncate(keep);
                crate::bytes::extend_from(&mut cur, &prev, keep, shared.checked_sub(keep)?)?;
                copied = shared;
                let rest = kl.checked_sub(shared + 9)?;
                crate::bytes::extend_from(&mut cur, payload, pos, rest)?;
                pos += rest;
            }
        }
        // Timestamp: the bytes after the `flag & 7` it shares with the previous one.
        let n = 8 - usize::from(flag & 0x07);
        let ts = crate::bytes::be_suffix_over(prev_ts as u64, payload, pos + n, n)? as i64;
        pos += n;
        cur.extend_from_slice(&ts.to_be_bytes());
        let typ = if same_type {
            prev_typ
        } else {
            *take(&mut pos, 1)?.first()?
        };
        cur.push(typ);
        if cur.len() != kl {
            return None;
        }
        let value = if same_value {
            if vl != prev_vl {
                return None;
            }
            prev_value
        } else {
            take(&mut pos, vl)?;
            (pos - vl, pos)
        };
        let mut tags_len = 0;
        let mut extra = 0;
        if flags.tags {
            tags_len = cint(&mut pos)?;
            if tags_len != 0 {
                // Dictionary-compressed tags are rebuilt on the general path only.
                if flags.tags_compressed
                    || !crate::cell::tags_well_formed(take(&mut pos, tags_len)?)
                {
                    return None;
                }
            }
            extra = 2 + tags_len;
        }
        let (seq, m) = seq_at(payload, pos, flags.mvcc)?;
        pos += m;
        unencoded += 8 + kl + vl + extra + m;
        one.cell(&prev, &cur, copied, vl, seq, tags_len)?;
        std::mem::swap(&mut prev, &mut cur);
        (prev_vl, prev_value, prev_ts, prev_typ) = (vl, value, ts, typ);
        known = copied;
        first = false;
    }
    if pos != payload.len() || unencoded != declared {
        return None;
    }
    one.finish(&prev)
}

fn payload_of<'a>(
    raw: &RawBlock<'a>,
    c: Compression,
    buf: &mut Vec<u8>,
) -> crate::Result<Payload<'a>> {
    if c == Compression::None {
        raw.payload(c, buf)?;
        Ok(Payload::Borrowed(raw.on_disk_payload()))
    } else {
        raw.payload(c, buf)?;
        Ok(Payload::Owned(std::mem::take(buf)))
    }
}

fn check_trailer(f: &HFile, r: &mut Report, data: &[&BlockHeader], cells: u64) {
    let t = &f.trailer;
    let at = Some(trailer_offset(f));
    if cells != t.entry_count {
        r.problem(
            "trailer",
            at,
            None,
            format!(
                "trailer entryCount is {} but {cells} cells were read",
                t.entry_count
            ),
        );
    }
    let first = data.first().map_or(-1, |h| h.offset as i64);
    let last = data.last().map_or(-1, |h| h.offset as i64);
    if !data.is_empty() && (first != t.first_data_block_offset || last != t.last_data_block_offset)
    {
        r.problem(
            "trailer",
            at,
            None,
            format!(
                "trailer data block offsets first={} last={} but the blocks are at first={first} last={last}",
                t.first_data_block_offset, t.last_data_block_offset
            ),
        );
    }
    if t.data_index_count as usize != f.root_index.len() {
        r.problem(
            "trailer",
            at,
            None,
            format!(
                "dataIndexCount {} but the root has {} entries",
                t.data_index_count,
                f.root_index.len()
            ),
        );
    }
    if t.meta_index_count as usize != f.meta_index.len() {
        r.problem(
            "trailer",
            at,
            None,
            format!(
                "metaIndexCount {} but the meta index has {} entries",
                t.meta_index_count,
                f.meta_index.len()
            ),
        );
    }
}

/// Where the fixed file trailer starts.
fn trailer_offset(f: &HFile) -> u64 {
    f.len().saturating_sub(f.trailer.trailer_size as u64)
}

fn check_index(
    f: &HFile,
    r: &mut Report,
    headers: &[BlockHeader],
    firsts: &[(u64, Option<Vec<u8>>)],
) {
    let by_offset: HashMap<u64, &BlockHeader> = headers.iter().map(|h| (h.offset, h)).collect();
    let levels = f.trailer.num_data_index_levels;
    // Descend level by level, collecting the data block entries.
    let mut level: Vec<(u64, u32, Vec<u8>)> = f
        .root_index
        .iter()
        .map(|e| (e.offset, e.on_disk_size, e.key.clone()))
        .collect();
    // The index block holding each entry of `level` and the entry's number in it, so a bad
    // pointer is reported at the block that stores it.
    let root = (f.trailer.load_on_open_data_offset, BlockType::RootIndex);
    let mut parents: Vec<(u64, BlockType, usize)> =
        (0..level.len()).map(|i| (root.0, root.1, i)).collect();
    let nowhere = |off: u64| {
        if off >= f.len() {
            format!("past the end of the file ({} bytes)", f.len())
        } else {
            "where no block starts".to_string()
        }
    };
    let mut index_bytes = f
        .load_on_open
        .first()
        .map_or(0, |h| h.uncompressed_size_without_header as u64);
    for depth in 1..levels {
        let want = if depth + 1 == levels {
            BlockType::LeafIndex
        } else {
            BlockType::IntermediateIndex
        };
        let mut next = Vec::new();
        let mut next_parents = Vec::new();
        for ((off, size, key), (po, pt, pe)) in level.iter().zip(&parents) {
            let Some(h) = by_offset.get(off) else {
                r.problem(
                    "index",
                    Some(*po),
                    Some(*pt),
                    format!(
                        "{} entry {pe} points at {off}, {}",
                        pt.name(),
                        nowhere(*off)
                    ),
                );
                continue;
            };
            if h.block_type != want || h.on_disk_size_with_header() != *size as u64 {
                r.problem(
                    "index",
                    Some(*off),
                    Some(h.block_type),
                    format!(
                        "index entry expects a {} block of {size} bytes, found {} of {}",
                        want.name(),
                        h.block_type.name(),
                        h.on_disk_size_with_header()
                    ),
                );
                continue;
            }
            index_bytes += h.uncompressed_size_without_header as u64;
            match f.block_payload(*off).and_then(|(_, p)| {
                NonRoot::parse(p.bytes())
                    .map(|nr| nr.to_entries())
                    .map_err(|e| e.rebase(off + 33))
            }) {
                Ok(entries) => {
                    if let Some(first) = entries.first() {
                        if first.key != *key {
                            r.problem(
                                "index",
                                Some(*off),
                                Some(want),
                                format!(
                                    "parent key {} differs from the block's first key {}",
                                    key_text(key),
                                    key_text(&first.key)
                                ),
                            );
                        }
                    }
                    next_parents.extend((0..entries.len()).map(|i| (*off, want, i)));
                    next.extend(
                        entries
                            .into_iter()
                            .map(|e| (e.offset, e.on_disk_size, e.key)),
                    );
                }
                Err(e) => r.add_err("index", Some(want), &e),
            }
        }
        level = next;
        parents = next_parents;
    }
    if index_bytes != f.trailer.uncompressed_data_index_size
        && levels > 0
        && r.problems.iter().all(|p| p.check != "index")
    {
        r.problem(
            "trailer",
            Some(trailer_offset(f)),
            None,
            format!(
                "uncompressedDataIndexSize is {} but the index blocks hold {index_bytes}",
                f.trailer.uncompressed_data_index_size
            ),
        );
    }
    if level.len() != firsts.len() {
        r.problem(
            "index",
            None,
            None,
            format!(
                "the index lists {} data blocks, the file has {}",
                level.len(),
                firsts.len()
            ),
        );
    }
    // Match entries to data blocks by offset, so one bad entry does not shift every later one.
    let block_no: HashMap<u64, usize> = firsts
        .iter()
        .enumerate()
        .map(|(j, (o, _))| (*o, j))
        .collect();
    let mut listed = vec![false; firsts.len()];
    let mut prev_i: Option<usize> = None;
    for ((off, size, key), (po, pt, pe)) in level.iter().zip(&parents) {
        let Some(&i) = block_no.get(off) else {
            let what = match by_offset.get(off) {
                Some(h) => format!("a {} block, not a data block", h.block_type.name()),
                None => nowhere(*off),
            };
            r.problem(
                "index",
                Some(*po),
                Some(*pt),
                format!("{} entry {pe} points at {off}, {what}", pt.name()),
            );
            continue;
        };
        if prev_i.is_some_and(|p| i <= p) {
            r.problem(
                "index",
                Some(*po),
                Some(*pt),
                format!(
                    "{} entry {pe} points at the data block at {off}, not after the previous entry's block",
                    pt.name()
                ),
            );
        }
        prev_i = Some(i);
        if let Some(l) = listed.get_mut(i) {
            *l = true;
        }
        let bfirst = firsts.get(i).and_then(|b| b.1.as_ref());
        if let Some(h) = by_offset.get(off) {
            if h.on_disk_size_with_header() != *size as u64 {
                r.problem(
                    "index",
                    Some(*off),
                    Some(h.block_type),
                    format!(
                        "index entry size {size} but the block is {}",
                        h.on_disk_size_with_header()
                    ),
                );
            }
        }
        if let Some(fk) = bfirst {
            let c = f.compare_keys(key, fk);
            let bad = if i == 0 {
                key != fk
            } else {
                c == std::cmp::Ordering::Greater
            };
            if bad {
                r.problem(
                    "index",
                    Some(*off),
                    None,
                    format!(
                        "index key {} does not bound the block's first key {}",
                        key_text(key),
                        key_text(fk)
                    ),
                );
            }
        }
        if i > 0 {
            // The key must sort after the previous block's cells.
            if let Some((_, Some(pf))) = firsts.get(i - 1) {
                if f.compare_keys(key, pf) == std::cmp::Ordering::Less {
                    r.problem(
                        "index",
                        Some(*off),
                        None,
                        format!(
                            "index key {} sorts before the previous block",
                            key_text(key)
                        ),
                    );
                }
            }
        }
    }
    for ((boff, _), l) in firsts.iter().zip(&listed) {
        if !l {
            let bt = by_offset.get(boff).map(|h| h.block_type);
            r.problem(
                "index",
                Some(*boff),
                bt,
                format!("no data index entry points at the data block at {boff}"),
            );
        }
    }
}

struct FileStats {
    cells: u64,
    key_sum: u64,
    val_sum: u64,
    max_seq: u64,
    max_tags: usize,
    min_ts: i64,
    max_ts: i64,
    earliest_put: i64,
    del_fam: u64,
    last_key: Option<Vec<u8>>,
}

fn check_file_info(f: &HFile, r: &mut Report, s: FileStats) {
    let fi = &f.file_info;
    let mut bad = |m: String| {
        r.problem(
            "file_info",
            Some(f.trailer.file_info_offset),
            Some(BlockType::FileInfo),
            m,
        )
    };
    if let Some(lk) = &s.last_key {
        match fi.get(keys::LASTKEY) {
            Some(v) if v == lk.as_slice() => {}
            Some(v) => bad(format!(
                "hfile.LASTKEY is {} but the last cell is {}",
                key_text(v),
                key_text(lk)
            )),
            None => bad("hfile.LASTKEY is missing".into()),
        }
    }
    if let (Some(ak), Some(av)) = (
        s.key_sum.checked_div(s.cells),
        s.val_sum.checked_div(s.cells),
    ) {
        let (ak, av) = (ak as i64, av as i64);
        match fi.get_i32(keys::AVG_KEY_LEN) {
            Some(v) if v as i64 == ak => {}
            v => bad(format!("hfile.AVG_KEY_LEN is {v:?}, cells average {ak}")),
        }
        match fi.get_i32(keys::AVG_VALUE_LEN) {
            Some(v) if v as i64 == av => {}
            v => bad(format!("hfile.AVG_VALUE_LEN is {v:?}, cells average {av}")),
        }
        if let Some((lo, hi)) = fi.time_range() {
            if s.min_ts < lo || s.max_ts > hi {
                bad(format!(
                    "TIMERANGE {lo}....{hi} does not cover the cells' timestamps {}..{}",
                    s.min_ts, s.max_ts
                ));
            }
        }
        if let Some(e) = fi.get_i64(keys::EARLIEST_PUT_TS) {
            if e != s.earliest_put {
                bad(format!(
                    "EARLIEST_PUT_TS is {e} but the earliest Put is at {}",
                    s.earliest_put
                ));
            }
        }
    }
    if f.flags.mvcc && s.cells > 0 {
        match fi.get_i64(keys::MAX_MEMSTORE_TS_KEY) {
            Some(m) if m as u64 == s.max_seq => {}
            Some(m) => bad(format!(
                "MAX_MEMSTORE_TS_KEY is {m} but the largest cell seqid is {}",
                s.max_seq
            )),
            None => bad(
                "KEY_VALUE_VERSION says cells carry seqids but MAX_MEMSTORE_TS_KEY is missing"
                    .into(),
            ),
        }
        if let Some(m) = fi.get_i64(keys::MAX_SEQ_ID_KEY) {
            if (m as u64) < s.max_seq {
                bad(format!(
                    "MAX_SEQ_ID_KEY is {m} but a cell has seqid {}",
                    s.max_seq
                ));
            }
        }
    }
    if let Some(d) = fi.get_i64(keys::DELETE_FAMILY_COUNT) {
        if d as u64 != s.del_fam {
            bad(format!("DELETE_FAMILY_COUNT is {d} but the file holds {} DeleteFamily/DeleteFamilyVersion cells", s.del_fam));
        }
    }
    if let Some(m) = fi.get_i32(keys::MAX_TAGS_LEN) {
        if (m.max(0) as usize) < s.max_tags {
            bad(format!(
                "hfile.MAX_TAGS_LEN is {m} but a cell has {} bytes of tags",
                s.max_tags
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, Cell, Key, KeyType};
    use crate::hfile::{HFileWriter, StoreMeta, WriterOptions};

    /// A file of varied cells: rows sharing prefixes and not, several qualifiers, every
    /// key type, equal timestamps, tags on some cells, sequence ids, empty and repeated values.
    fn file(encoding: Encoding, tags: bool, compress_tags: bool, bloom: BloomType) -> HFile {
        let mut keys = Vec::new();
        let mut x = 7u64;
        for i in 0..3000u64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let row = format!("row{:05}{}", i / 3, "z".repeat(((x >> 40) % 3) as usize));
            let q = format!("q{}", (x >> 20) % 4);
            let t = [
                KeyType::Put,
                KeyType::Delete,
                KeyType::DeleteColumn,
                KeyType::DeleteFamily,
            ][((x >> 50) % 4) as usize];
            keys.push((
                make_key(
                    row.as_bytes(),
                    b"f",
                    q.as_bytes(),
                    ((x >> 30) % 4) as i64,
                    t as u8,
                ),
                i,
            ));
        }
        keys.sort_by(|a, b| {
            let (ka, kb) = (Key::parse(&a.0).unwrap(), Key::parse(&b.0).unwrap());
            crate::cell::Order::Normal.compare(&ka, &kb)
        });
        keys.dedup_by(|a, b| a.0 == b.0);
        let opts = WriterOptions {
            encoding,
            bloom,
            block_size: 4096,
            include_tags: tags,
            include_mvcc: true,
            compress_tags,
            family: Some(b"f".to_vec()),
            // ROWPREFIX_FIXED_LENGTH: ten rows share each 7-byte prefix.
            bloom_prefix_len: 7,
            ..Default::default()
        };
        let mut w = HFileWriter::in_memory(opts).unwrap();
        let tag = [0u8, 4, 7, b'a', b'b', b'c'];
        for (k, i) in &keys {
            let value = if i % 5 == 0 {
                String::new()
            } else {
                format!("v{}", i % 7)
            };
            w.append(&Cell {
                key: Key::parse(k).unwrap(),
                value: value.as_bytes(),
                tags: if tags && i % 3 == 0 { &tag } else { &[] },
                seq_id: i % 11,
            })
            .unwrap();
        }
        let (bytes, _) = w.finish_to_vec(StoreMeta::default()).unwrap();
        HFile::from_bytes("mem", bytes).unwrap()
    }

    /// The one-pass readers give exactly the general path's result on every data block, and
    /// on blocks with a byte changed they either step aside (None) or still agree with a
    /// general path that found nothing wrong.
    #[test]
    fn one_pass_agrees_with_the_general_path() {
        let mut one_pass_blocks = 0;
        for (encoding, tags, compress_tags, bloom) in [
            (Encoding::None, true, false, BloomType::Row),
            (Encoding::None, false, false, BloomType::RowCol),
            (Encoding::FastDiff, true, false, BloomType::Row),
            (Encoding::FastDiff, true, true, BloomType::RowCol),
            (Encoding::FastDiff, false, false, BloomType::None),
            (
                Encoding::None,
                false,
                false,
                BloomType::RowPrefixFixedLength,
            ),
            (
                Encoding::FastDiff,
                true,
                false,
                BloomType::RowPrefixFixedLength,
            ),
        ] {
            let f = file(encoding, tags, compress_tags, bloom);
            let mut report = Report::new(Path::new("mem"));
            let blooms = load_blooms(&f, &mut report);
            let mut off = 0;
            let mut x = 3u64;
            while off < f.trailer.load_on_open_data_offset {
                let raw = f.block(off).unwrap();
                let h = raw.header;
                off += h.on_disk_size_with_header();
                if !matches!(h.block_type, BlockType::Data | BlockType::EncodedData) {
                    continue;
                }
                let mut buf = Vec::new();
                let payload = payload_of(&raw, f.compression, &mut buf)
                    .unwrap()
                    .bytes()
                    .to_vec();
                let one = |p: &[u8]| {
                    let (mut g, mut d) = (ChunkCache::default(), ChunkCache::default());
                    let one = OnePass::new(&f, &blooms, &mut g, &mut d);
                    if h.block_type == BlockType::Data {
                        plain_block(p, one)
                    } else {
                        fast_diff_block(p, one)
                    }
                };
                let general = |p: &[u8]| {
                    let (mut g, mut d) = (ChunkCache::default(), ChunkCache::default());
                    let b = BlockResult::new();
                    general_block(
                        &f,
                        &h,
                        Payload::Owned(p.to_vec()),
                        &blooms,
                        &mut g,
                        &mut d,
                        b,
                    )
                };
                let want = general(&payload);
                assert!(want.problems.is_empty(), "{:?}", want.problems);
                let got = one(&payload);
                if compress_tags && tags {
                    // Blocks holding tags go to the general path.
                    continue;
                }
                assert_eq!(
                    got.as_ref(),
                    Some(&want),
                    "{encoding:?} block at {}",
                    h.offset
                );
                one_pass_blocks += 1;
                for _ in 0..200 {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let mut bad = payload.clone();
                    let i = (x >> 33) as usize % bad.len();
                    bad[i] ^= 1 << ((x >> 20) % 8);
                    if let Some(r) = one(&bad) {
                        let g = general(&bad);
                        assert_eq!(
                            Some(&r),
                            Some(&g),
                            "{encoding:?} byte {i} of block {}",
                            h.offset
                        );
                    }
                }
            }
        }
        assert!(one_pass_blocks > 20, "{one_pass_blocks}");
    }
}
