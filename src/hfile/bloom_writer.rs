//! Compound bloom filter *writer* (`CompoundBloomFilterWriter` + `BloomFilterChunk`):
//! HBase's chunk sizing, key-count limits, folding on close, the inline BLOOM_CHUNK
//! queue and the bloom meta block (version 3).

use std::collections::VecDeque;

use crate::bytes::write_vlong;
use crate::hfile::bloom::{Probe, MURMUR_HASH};

/// `io.storefile.bloom.max.fold` default (`MAX_ALLOWED_FOLD_FACTOR`).
pub const MAX_FOLD: u32 = 7;

/// `BloomFilterUtil.computeFoldableByteSize`.
pub fn foldable_byte_size(bit_size: u64, fold: u32) -> u64 {
    let mut b = bit_size.div_ceil(8);
    let mask = (1u64 << fold) - 1;
    if b & mask != 0 {
        b >>= fold;
        b += 1;
        b <<= fold;
    }
    b
}

/// Sizing of a fresh chunk (`BloomFilterUtil.createBySize`): (byteSize, hashCount, maxKeys).
/// `error_rate` is HBase's float error rate widened to double.
pub fn chunk_params(byte_size_hint: usize, error_rate: f64, fold: u32) -> (usize, i32, i64) {
    let byte_size = foldable_byte_size(byte_size_hint as u64 * 8, fold);
    let bit_size = byte_size * 8;
    let ln2 = std::f64::consts::LN_2;
    let log2_squared = ln2 * ln2;
    let ideal = (bit_size as f64 * (log2_squared / -error_rate.ln())) as i64;
    let ideal = (ideal as i32).max(1) as i64;
    let hash_count = (ln2 * (bit_size as i64 / ideal) as f64).ceil() as i32;
    let hash_count = hash_count.max(1);
    let max_keys = (-(bit_size as f64) * 1.0 / hash_count as f64
        * (1.0 - (error_rate.ln() / hash_count as f64).exp()).ln()) as i64;
    (
        byte_size as usize,
        hash_count,
        (max_keys as i32).max(1) as i64,
    )
}

#[derive(Debug)]
struct Chunk {
    bits: Vec<u8>,
    /// Probe for `bits` at its unfolded size (keys are only added before folding).
    probe: Probe,
    key_count: i64,
    max_keys: i64,
}

impl Chunk {
    fn add(&mut self, key: &[u8]) {
        if let Some(it) = self.probe.positions(key) {
            for p in it {
                if let Some(b) = self.bits.get_mut(p >> 3) {
                    *b |= 1 << (p & 7);
                }
            }
        }
        self.key_count += 1;
    }

    /// `BloomFilterChunk.compactBloom`: fold while the size is even and the chunk is at
    /// most half full.
    fn compact(&mut self) {
        if self.key_count == 0 {
            return;
        }
        let mut pieces = 1usize;
        let mut size = self.bits.len();
        let mut max_keys = self.max_keys;
        while size & 1 == 0 && max_keys > (self.key_count << 1) {
            pieces <<= 1;
            size >>= 1;
            max_keys >>= 1;
        }
        if pieces > 1 {
            let (head, tail) = self.bits.split_at_mut(size);
            for piece in tail.chunks(size) {
                for (d, s) in head.iter_mut().zip(piece) {
                    *d |= *s;
                }
            }
            self.bits.truncate(size);
            self.max_keys = max_keys;
        }
    }
}

/// A chunk waiting to be written as an inline BLOOM_CHUNK block.
#[derive(Debug)]
struct Ready {
    first_key: Vec<u8>,
    bits: Vec<u8>,
}

/// One compound bloom filter being written (general or delete-family).
#[derive(Debug)]
pub struct BloomWriter {
    chunk_byte_size: usize,
    error_rate: f64,
    fold: u32,
    comparator: Option<&'static str>,
    chunk: Option<Chunk>,
    /// (byteSize, hashCount, maxKeys) of the previous chunk before folding (`createAnother`).
    template: Option<(usize, i32, i64)>,
    last_hash_count: i32,
    first_key_in_chunk: Option<Vec<u8>>,
    ready: VecDeque<Ready>,
    num_chunks: i32,
    total_key_count: i64,
    total_max_keys: i64,
    total_byte_size: i64,
    /// Chunk index: (first key, offset, on-disk size).
    index: Vec<(Vec<u8>, u64, u32)>,
    last_key: Option<Vec<u8>>,
}

impl BloomWriter {
    /// A writer with HBase's chunk size hint, float error rate (already adjusted for ROWCOL
    /// by the caller) and comparator class name (None for raw-byte keys).
    pub fn new(chunk_bytes: usize, error_rate: f32, comparator: Option<&'static str>) -> Self {
        let chunk_byte_size = foldable_byte_size(chunk_bytes as u64 * 8, MAX_FOLD) as usize;
        BloomWriter {
            chunk_byte_size,
            error_rate: f64::from(error_rate),
            fold: MAX_FOLD,
            comparator,
            chunk: None,
            template: None,
            last_hash_count: 0,
            first_key_in_chunk: None,
            ready: VecDeque::new(),
            num_chunks: 0,
            total_key_count: 0,
            total_max_keys: 0,
            total_byte_size: 0,
            index: Vec::new(),
            last_key: None,
        }
    }

    /// Keys added so far.
    pub fn key_count(&self) -> i64 {
        self.total_key_count
    }

    /// The last key added (`LAST_BLOOM_KEY`).
    pub fn last_key(&self) -> Option<&[u8]> {
        self.last_key.as_deref()
    }

    /// True when `key` differs from the last key added (the bloom contexts' dedup).
    pub fn is_new_key(&self, key: &[u8]) -> bool {
        self.last_key.as_deref() != Some(key)
    }

    fn enqueue(&mut self, closing: bool) {
        let full = match &self.chunk {
            None => return,
            Some(c) => c.key_count >= c.max_keys,
        };
        if !full && !closing {
            return;
        }
        let Some(mut c) = self.chunk.take() else {
            return;
        };
        c.compact();
        self.total_max_keys += c.max_keys;
        self.total_byte_size += c.bits.len() as i64;
        self.last_hash_count = c.probe.hash_count();
        self.ready.push_back(Ready {
            first_key: self.first_key_in_chunk.take().unwrap_or_default(),
            bits: c.bits,
        });
    }

    /// Add a key (hashed bytes = chunk index key). Callers dedup with [`Self::is_new_key`].
    pub fn add(&mut self, key: &[u8]) {
        self.enqueue(false);
        if self.chunk.is_none() {
            self.first_key_in_chunk = Some(key.to_vec());
            let (byte_size, hash_count, max_keys) = match self.template {
                Some(t) => t,
                None => {
                    let t = chunk_params(self.chunk_byte_size, self.error_rate, self.fold);
                    self.template = Some(t);
                    t
                }
            };
            self.chunk = Some(Chunk {
                bits: vec![0; byte_size],
                probe: Probe::new(MURMUR_HASH, hash_count, byte_size),
                key_count: 0,
                max_keys,
            });
            self.num_chunks += 1;
        }
        if let Some(c) = &mut self.chunk {
            c.add(key);
        }
        self.total_key_count += 1;
        let last = self.last_key.get_or_insert_with(Vec::new);
        last.clear();
        last.extend_from_slice(key);
    }

    /// `shouldWriteBlock` + `writeInlineBlock`: the next chunk payload to write, if any.
    pub fn next_ready(&mut self, closing: bool) -> Option<Vec<u8>> {
        self.enqueue(closing);
        self.ready.front().map(|r| r.bits.clone())
    }

    /// `blockWritten`: record the chunk just written.
    pub fn written(&mut self, offset: u64, on_disk_size: u32) {
        if let Some(r) = self.ready.pop_front() {
            self.index.push((r.first_key, offset, on_disk_size));
        }
    }

    /// The bloom meta block payload (`CompoundBloomFilterWriter.MetaWriter`).
    pub fn meta(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&3i32.to_be_bytes());
        out.extend_from_slice(&self.total_byte_size.to_be_bytes());
        out.extend_from_slice(&self.last_hash_count.to_be_bytes());
        out.extend_from_slice(&MURMUR_HASH.to_be_bytes());
        out.extend_from_slice(&self.total_key_count.to_be_bytes());
        out.extend_from_slice(&self.total_max_keys.to_be_bytes());
        out.extend_from_slice(&self.num_chunks.to_be_bytes());
        let name = self.comparator.unwrap_or("").as_bytes();
        write_vlong(&mut out, name.len() as i64);
        out.extend_from_slice(name);
        for (key, off, size) in &self.index {
            out.extend_from_slice(&off.to_be_bytes());
            out.extend_from_slice(&size.to_be_bytes());
            write_vlong(&mut out, key.len() as i64);
            out.extend_from_slice(key);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_matches_spec() {
        let e = f64::from(0.01f32);
        assert_eq!(chunk_params(131072, e, 7), (131072, 7, 109306));
        let (b, h, m) = chunk_params(512, e, 7);
        assert_eq!((b, h, m), (512, 7, 426));
        let rc = f64::from((1.0 - (1.0 - f64::from(0.01f32)).sqrt()) as f32);
        assert_eq!(chunk_params(512, rc, 7).1, 8);
        assert_eq!(chunk_params(512, rc, 7).2, 371);
    }
}
