//! What the benchmarks share: a fast deterministic RNG, the ~140-byte bench cell and rayon
//! pools of a given size.
#![allow(dead_code)]

use hbkit::cell::{make_key, KeyType};

/// xorshift64: deterministic, so every run builds the same bytes.
pub struct Rng(pub u64);

impl Rng {
    /// The seed every bench starts from.
    pub fn new() -> Rng {
        Rng(0x9E37_79B9_7F4A_7C15)
    }

    /// The next value.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const WORDS: [&str; 12] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima",
];

/// Cell `i` of the HFile benches (~140 bytes as a KeyValue): row `row-%010d` with 4
/// qualifiers each, a timestamp cycling over 1000 ms, and into `value` ~100 bytes of mixed
/// words and numbers (compressible the way real values are, not trivially). Returns the key.
pub fn bench_cell(i: u64, rng: &mut Rng, value: &mut Vec<u8>) -> Vec<u8> {
    let row = format!("row-{:010}", i / 4);
    let q = format!("q{}", i % 4);
    value.clear();
    while value.len() < 92 {
        let r = rng.next();
        value.extend_from_slice(WORDS[(r % WORDS.len() as u64) as usize].as_bytes());
        value.push(b' ');
        value.extend_from_slice(format!("{}", (r >> 20) % 100_000).as_bytes());
    }
    make_key(
        row.as_bytes(),
        b"cf",
        q.as_bytes(),
        1_700_000_000_000 + (i % 1000) as i64,
        KeyType::Put as u8,
    )
}

/// A rayon pool of `n` threads.
pub fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("pool")
}
