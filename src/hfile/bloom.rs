//! Compound bloom filters (meta version 3): the meta block, the chunk index, HBase's
//! hash functions and membership tests. The general bloom (ROW, ROWCOL,
//! ROWPREFIX_FIXED_LENGTH) and the delete-family bloom share this format.

use crate::bytes::Cursor;
use crate::cell::{make_key, Key, Order, LATEST_TIMESTAMP};
use crate::error::{Error, Result};
use crate::hfile::index::{self, IndexEntry};

/// `BloomType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum BloomType {
    /// No bloom.
    None,
    /// Row bloom.
    Row,
    /// Row + column bloom.
    RowCol,
    /// Fixed-length row prefix bloom.
    RowPrefixFixedLength,
}

impl BloomType {
    /// HBase's name.
    pub fn name(self) -> &'static str {
        match self {
            BloomType::None => "NONE",
            BloomType::Row => "ROW",
            BloomType::RowCol => "ROWCOL",
            BloomType::RowPrefixFixedLength => "ROWPREFIX_FIXED_LENGTH",
        }
    }
    /// Parse an HBase name, case-insensitive.
    pub fn from_name(s: &str) -> Option<BloomType> {
        [
            BloomType::None,
            BloomType::Row,
            BloomType::RowCol,
            BloomType::RowPrefixFixedLength,
        ]
        .into_iter()
        .find(|b| b.name().eq_ignore_ascii_case(s))
    }
}

/// Hash function ids (`Hash.JENKINS_HASH` etc.).
pub const MURMUR_HASH: i32 = 1;
/// MurmurHash3 x86_32.
pub const MURMUR_HASH3: i32 = 2;
/// Jenkins lookup3 (not implemented: blooms using it are reported, not checked).
pub const JENKINS_HASH: i32 = 0;

/// Parsed bloom meta block.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BloomMeta {
    /// Format version (3).
    pub version: i32,
    /// Σ chunk sizes in bytes.
    pub total_byte_size: i64,
    /// Hash functions per key.
    pub hash_count: i32,
    /// Hash type id.
    pub hash_type: i32,
    /// Keys added.
    pub total_key_count: i64,
    /// Σ folded chunk capacities.
    pub total_max_keys: i64,
    /// Number of chunks.
    pub num_chunks: i32,
    /// Comparator class name (empty for raw-byte keys in 2.x).
    pub comparator: String,
    /// Chunk index.
    #[serde(skip)]
    pub chunks: Vec<IndexEntry>,
    /// What [`BloomMeta::keys_are_cells`] answers, decided once from the comparator name
    /// (chunk lookups ask it for every key).
    #[serde(skip)]
    cell_keys: bool,
}

impl BloomMeta {
    /// Parse a bloom meta payload. Offsets in errors are relative to it.
    pub fn parse(payload: &[u8]) -> Result<BloomMeta> {
        let mut c = Cursor::new(payload, "bloom meta");
        let version = c.i32("version")?;
        if version != 3 {
            return Err(Error::unsupported(
                "bloom meta",
                format!("bloom meta version {version} (only 3 exists)"),
            ));
        }
        let total_byte_size = c.i64("totalByteSize")?;
        let hash_count = c.i32("hashCount")?;
        let hash_type = c.i32("hashType")?;
        let total_key_count = c.i64("totalKeyCount")?;
        let total_max_keys = c.i64("totalMaxKeys")?;
        let num_chunks = c.i32("numChunks")?;
        let cl = c.vint_len("comparator name length")?;
        let comparator = String::from_utf8_lossy(c.take(cl, "comparator name")?).into_owned();
        if num_chunks < 0 || !(1..=1000).contains(&hash_count) {
            return Err(Error::corrupt(
                "bloom meta",
                format!("numChunks {num_chunks}, hashCount {hash_count} out of range"),
            ));
        }
        let at = c.pos();
        let (chunks, _) = index::parse_root(c.rest(), num_chunks as u32, false)
            .map_err(|e| e.rebase(at as u64))?;
        let cell_keys = !(comparator.is_empty()
            || comparator.contains("RawBytes")
            || comparator.contains("ByteArray"));
        Ok(BloomMeta {
            version,
            total_byte_size,
            hash_count,
            hash_type,
            total_key_count,
            total_max_keys,
            num_chunks,
            comparator,
            chunks,
            cell_keys,
        })
    }
    /// True when chunk keys are KEYs compared with the cell comparator (ROWCOL), false for
    /// raw bytes.
    pub fn keys_are_cells(&self) -> bool {
        self.cell_keys
    }
    /// Chunk that would hold `key`, or None when it sorts before every chunk.
    pub fn chunk_for(&self, key: &[u8]) -> Option<usize> {
        let n = self
            .chunks
            .partition_point(|e| self.order(&e.key, key) != std::cmp::Ordering::Greater);
        n.checked_sub(1)
    }
    /// True when chunk `i` is the one [`Self::chunk_for`] picks for `key`: two comparisons
    /// instead of a search, for keys that arrive in order.
    pub fn chunk_holds(&self, i: usize, key: &[u8]) -> bool {
        self.starts_by(i, key) && !self.starts_by(i + 1, key)
    }
    /// True when chunk `i` exists and its first key sorts at or before `key`.
    pub fn starts_by(&self, i: usize, key: &[u8]) -> bool {
        self.chunks
            .get(i)
            .is_some_and(|e| self.order(&e.key, key) != std::cmp::Ordering::Greater)
    }
    /// A chunk's first key against `key` in this bloom's comparator.
    fn order(&self, chunk_key: &[u8], key: &[u8]) -> std::cmp::Ordering {
        if self.cell_keys {
            match (Key::parse(chunk_key), Key::parse(key)) {
                (Ok(x), Ok(y)) => Order::Normal.compare(&x, &y),
                _ => chunk_key.cmp(key),
            }
        } else {
            crate::bytes::compare(chunk_key, key)
        }
    }
    /// The simple class name HBase prints (`RawBytesComparator` for an empty name).
    pub fn comparator_simple_name(&self) -> &str {
        if self.comparator.is_empty() {
            return "RawBytesComparator";
        }
        self.comparator
            .rsplit(['.', '$'])
            .next()
            .unwrap_or(&self.comparator)
    }
}

/// HBase's MurmurHash (a MurmurHash2 variant whose tail bytes are sign-extended).
#[inline]
pub fn murmur_hash(data: &[u8], seed: i32) -> i32 {
    let m: i32 = 0x5bd1_e995;
    let r = 24;
    let mut h: i32 = seed ^ (data.len() as i32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = i32::from_le_bytes(<[u8; 4]>::try_from(c).unwrap_or_default());
        k = k.wrapping_mul(m);
        k ^= ((k as u32) >> r) as i32;
        k = k.wrapping_mul(m);
        h = h.wrapping_mul(m);
        h ^= k;
    }
    let t = chunks.remainder();
    if !t.is_empty() {
        let b = |i: usize| t.get(i).map_or(0, |&x| x as i8 as i32);
        if t.len() >= 3 {
            h ^= b(2) << 16;
        }
        if t.len() >= 2 {
            h ^= b(1) << 8;
        }
        h ^= b(0);
        h = h.wrapping_mul(m);
    }
    h ^= ((h as u32) >> 13) as i32;
    h = h.wrapping_mul(m);
    h ^= ((h as u32) >> 15) as i32;
    h
}

/// MurmurHash3 x86_32 as HBase's `MurmurHash3.hash`.
#[inline]
pub fn murmur3_hash(data: &[u8], seed: i32) -> i32 {
    let (c1, c2) = (0xcc9e_2d51u32, 0x1b87_3593u32);
    let mut h = seed as u32;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes(<[u8; 4]>::try_from(c).unwrap_or_default());
        k = k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
        h ^= k;
        h = h.rotate_left(13).wrapping_mul(5).wrapping_add(0xe654_6b64);
    }
    let t = chunks.remainder();
    let mut k: u32 = 0;
    for (i, &b) in t.iter().enumerate() {
        k |= (b as u32) << (8 * i);
    }
    if !t.is_empty() {
        k = k.wrapping_mul(c1).rotate_left(15).wrapping_mul(c2);
        h ^= k;
    }
    h ^= data.len() as u32;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h as i32
}

/// Hash `key` with the given type; None for hash types hbkit does not implement.
#[inline]
pub fn hash(hash_type: i32, key: &[u8], seed: i32) -> Option<i32> {
    match hash_type {
        MURMUR_HASH => Some(murmur_hash(key, seed)),
        MURMUR_HASH3 => Some(murmur3_hash(key, seed)),
        _ => None,
    }
}

/// The two hashes a key's probes are made from (the second seeded with the first); None for
/// hash types hbkit does not implement.
#[inline]
pub fn hash_pair(hash_type: i32, key: &[u8]) -> Option<(i32, i32)> {
    let h1 = hash(hash_type, key, 0)?;
    Some((h1, hash(hash_type, key, h1)?))
}

/// Bit positions probed for `key` in a chunk of `chunk_bytes` bytes.
pub fn probe_positions(
    hash_type: i32,
    hash_count: i32,
    key: &[u8],
    chunk_bytes: usize,
) -> Option<impl Iterator<Item = usize>> {
    Probe::new(hash_type, hash_count, chunk_bytes).positions(key)
}

/// How keys map to bits in chunks of one size: the hash and its count plus the chunk's bit
/// count prepared for division-free modulo. Build one per chunk, not per key: the 64-bit
/// division it saves is the single slowest step of a probe.
#[derive(Debug, Clone, Copy)]
pub struct Probe {
    hash_type: i32,
    hash_count: i32,
    bits: Modulus,
}

impl Probe {
    /// A probe for chunks of `chunk_bytes` bytes.
    pub fn new(hash_type: i32, hash_count: i32, chunk_bytes: usize) -> Probe {
        Probe {
            hash_type,
            hash_count,
            bits: Modulus::new((chunk_bytes as u64).saturating_mul(8)),
        }
    }
    /// Number of bits probed per key.
    pub fn hash_count(&self) -> i32 {
        self.hash_count
    }
    /// Bit positions probed for `key`; None for a hash type hbkit does not implement.
    #[inline]
    pub fn positions(&self, key: &[u8]) -> Option<impl Iterator<Item = usize>> {
        let h1 = hash(self.hash_type, key, 0)?;
        let h2 = hash(self.hash_type, key, h1)?;
        let m = self.bits;
        Some((0..self.hash_count).filter_map(move |i| {
            // Java: abs((long) (h1 + i * h2) % bits); |h| < 2^32 so the sign can go first.
            let combined = h1.wrapping_add(i.wrapping_mul(h2));
            m.of(u64::from(combined.unsigned_abs())).map(|v| v as usize)
        }))
    }
    /// True when every probe bit of `key` is set in `bits` (a chunk of this probe's size).
    #[inline]
    pub fn contains(&self, bits: &[u8], key: &[u8]) -> Option<bool> {
        let mut it = self.positions(key)?;
        Some(it.all(|p| bits.get(p >> 3).is_some_and(|b| b & (1 << (p & 7)) != 0)))
    }
    /// As [`Probe::contains`] for a key already hashed by [`hash_pair`]: callers with many
    /// keys hash them all first, in a loop the CPU can overlap, then probe.
    #[inline]
    pub fn contains_hashed(&self, bits: &[u8], (h1, h2): (i32, i32)) -> bool {
        let m = self.bits;
        let bit = |p: u64| {
            bits.get((p >> 3) as usize)
                .is_some_and(|b| b & (1 << (p & 7)) != 0)
        };
        let mut combined = h1;
        if m.m != 0 {
            // The fast modulo holds for every u32, which is all `unsigned_abs` gives.
            for _ in 0..self.hash_count {
                if !bit(m.of_u32(combined.unsigned_abs())) {
                    return false;
                }
                combined = combined.wrapping_add(h2);
            }
            return true;
        }
        // A zero-size chunk has no bit to probe: like `contains`, it cannot say no.
        for _ in 0..self.hash_count {
            if m.of(u64::from(combined.unsigned_abs()))
                .is_some_and(|p| !bit(p))
            {
                return false;
            }
            combined = combined.wrapping_add(h2);
        }
        true
    }
}

/// `x % d` for a fixed `d` without a division per call when `d` fits in 32 bits (Lemire's
/// fastmod): bloom probes take 2 to 30 modulos per key.
#[derive(Debug, Clone, Copy)]
struct Modulus {
    d: u64,
    /// `u64::MAX / d + 1`, or 0 when the fast path does not apply.
    m: u64,
}

impl Modulus {
    fn new(d: u64) -> Modulus {
        let m = if (2..=u64::from(u32::MAX)).contains(&d) {
            u64::MAX / d + 1
        } else {
            0
        };
        Modulus { d, m }
    }
    /// `x % d` by the fast path, which must apply (`m != 0`).
    #[inline]
    fn of_u32(&self, x: u32) -> u64 {
        let low = self.m.wrapping_mul(u64::from(x));
        ((u128::from(low) * u128::from(self.d)) >> 64) as u64
    }
    /// `x % d` (None when d = 0); exact for every `x < 2^32` on the fast path.
    #[inline]
    fn of(&self, x: u64) -> Option<u64> {
        if self.m != 0 && x <= u64::from(u32::MAX) {
            let low = self.m.wrapping_mul(x);
            return Some(((u128::from(low) * u128::from(self.d)) >> 64) as u64);
        }
        x.checked_rem(self.d)
    }
}

/// True when every probe bit of `key` is set in `bits`.
pub fn chunk_contains(bits: &[u8], hash_type: i32, hash_count: i32, key: &[u8]) -> Option<bool> {
    Probe::new(hash_type, hash_count, bits.len()).contains(bits, key)
}

/// The ROWCOL bloom key of a cell: its row and qualifier with an empty family, LATEST_TIMESTAMP
/// and type Maximum.
pub fn rowcol_key(row: &[u8], qualifier: &[u8]) -> Vec<u8> {
    make_key(row, &[], qualifier, LATEST_TIMESTAMP, 0xff)
}

/// [`rowcol_key`] into a reused buffer.
pub fn rowcol_key_into(out: &mut Vec<u8>, row: &[u8], qualifier: &[u8]) {
    out.clear();
    out.extend_from_slice(&(row.len() as u16).to_be_bytes());
    out.extend_from_slice(row);
    out.push(0);
    out.extend_from_slice(qualifier);
    out.extend_from_slice(&LATEST_TIMESTAMP.to_be_bytes());
    out.push(0xff);
}

#[cfg(test)]
mod tests {
    #[test]
    fn fast_modulus_matches_division() {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for d in [
            1u64,
            2,
            3,
            7,
            8,
            1000,
            1 << 20,
            1_048_583,
            (1 << 31) + 11,
            u32::MAX as u64,
        ] {
            let m = super::Modulus::new(d);
            for v in [0u64, 1, d - 1, d, d + 1, 1 << 31, u32::MAX as u64] {
                assert_eq!(m.of(v), Some(v % d), "{v} % {d}");
            }
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let v = x & u32::MAX as u64;
                assert_eq!(m.of(v), Some(v % d), "{v} % {d}");
            }
        }
        assert_eq!(super::Modulus::new(0).of(5), None);
    }
    use super::*;

    /// Probing with precomputed hashes answers as probing the key: on a chunk half set, on
    /// one fully set, and on an empty (zero-byte) chunk.
    #[test]
    fn hashed_probe_matches_key_probe() {
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        for (size, fill) in [(1000usize, 0x55u8), (4096, 0xff), (131072, 0xa7), (0, 0)] {
            let bits = vec![fill; size];
            for hash_type in [MURMUR_HASH, MURMUR_HASH3] {
                let probe = Probe::new(hash_type, 7, size);
                let mut agree = [0usize; 2];
                for i in 0..2000u32 {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = format!("row-{i:07}-{}", x % 1000);
                    let want = probe.contains(&bits, key.as_bytes()).unwrap();
                    let h = hash_pair(hash_type, key.as_bytes()).unwrap();
                    assert_eq!(probe.contains_hashed(&bits, h), want, "{key} in {size}");
                    agree[usize::from(want)] += 1;
                }
                // A half-set chunk answers both ways; a full one, or one with no bits to
                // probe, always yes.
                match (size, fill) {
                    (0, _) | (_, 0xff) => assert_eq!(agree[0], 0),
                    _ => assert!(agree[0] > 0 && agree[1] > 0, "{agree:?}"),
                }
            }
        }
    }

    #[test]
    fn spec_vectors() {
        assert_eq!(murmur_hash(&[0xff, 0xfe, 0xfd], 0), -484426965);
        let h1 = murmur_hash(b"row1", 0);
        assert_eq!(h1, 155469074);
        assert_eq!(murmur_hash(b"row1", h1), -1581353726);
        let p: Vec<usize> = probe_positions(MURMUR_HASH, 7, b"row1", 131072)
            .unwrap()
            .collect();
        assert_eq!(
            p,
            vec![279826, 869868, 77590, 23528, 124646, 822812, 326882]
        );
    }
}
