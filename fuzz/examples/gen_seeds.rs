//! Write small seed HFiles for `hfile_read` with hbkit's writer: every codec x every data
//! block encoding, with blooms (ROW, ROWCOL, ROWPREFIX_FIXED_LENGTH, delete-family), tags
//! (plain and dictionary-compressed), with and without memstoreTS, every checksum type,
//! tiny blocks and index chunks so indexes have 1 to 3 levels, and a meta block. Each file
//! is a few KB, so the fuzzer runs hundreds of times faster on them than on full-size
//! fixtures.
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds -- fuzz/corpus/hfile_read`

use std::path::PathBuf;

use hbkit::cell::{make_key, Cell, Key, KeyType};
use hbkit::codec::{ChecksumType, Compression};
use hbkit::hfile::bloom::BloomType;
use hbkit::hfile::encoding::Encoding;
use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};

struct OwnedCell {
    key: Vec<u8>,
    value: Vec<u8>,
    tags: Vec<u8>,
    seq: u64,
}

/// Cells in HBase order: rows of varying length and shared prefixes, DeleteFamily markers,
/// several qualifiers and versions, a Delete, values of varying size, optional tags.
fn cells(rows: usize, tags: bool) -> Vec<OwnedCell> {
    let mut out = Vec::new();
    let mut seq = 1;
    let mut push = |row: &[u8], q: &[u8], ts: i64, t: KeyType, value: Vec<u8>| {
        let tag_bytes = if tags && seq % 3 != 0 {
            // tagLen:u16 type:u8 value, twice (the second repeats so the dictionary hits).
            let mut v = Vec::new();
            for (ty, val) in [(1u8, b"ttl".as_slice()), (8u8, b"acl".as_slice())] {
                v.extend_from_slice(&((1 + val.len()) as u16).to_be_bytes());
                v.push(ty);
                v.extend_from_slice(val);
            }
            v
        } else {
            Vec::new()
        };
        out.push(OwnedCell {
            key: make_key(row, b"f", q, ts, t as u8),
            value,
            tags: tag_bytes,
            seq,
        });
        seq += 1;
    };
    for r in 0..rows {
        let row = if r % 7 == 3 {
            format!("row-{r:04}-with-a-longer-suffix").into_bytes()
        } else {
            format!("row-{r:04}").into_bytes()
        };
        if r % 5 == 0 {
            push(&row, b"", 200, KeyType::DeleteFamily, Vec::new());
        }
        for (qi, q) in [b"a".as_slice(), b"bb", b"col-c"].into_iter().enumerate() {
            if r % 4 == 1 && qi == 1 {
                push(&row, q, 150, KeyType::Delete, Vec::new());
            }
            push(&row, q, 100, KeyType::Put, vec![b'v'; (r * 7 + qi * 3) % 40]);
            if qi == 0 {
                push(&row, q, 90 - r as i64, KeyType::Put, b"older".to_vec());
            }
        }
    }
    out
}

fn main() {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "fuzz/corpus/hfile_read".into()));
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let codecs = [Compression::None, Compression::Gz, Compression::Snappy, Compression::Lz4, Compression::Zstd];
    let encodings = [Encoding::None, Encoding::Prefix, Encoding::Diff, Encoding::FastDiff, Encoding::RowIndexV1];
    let blooms = [BloomType::Row, BloomType::RowCol, BloomType::RowPrefixFixedLength, BloomType::None];
    let checksums = [ChecksumType::Crc32c, ChecksumType::Crc32, ChecksumType::Null];
    let mut n = 0;
    for (ci, &compression) in codecs.iter().enumerate() {
        for (ei, &encoding) in encodings.iter().enumerate() {
            let i = ci * encodings.len() + ei;
            let tags = i % 2 == 0;
            // Rows and block sizes: some files with one block, most with many and a
            // 2- or 3-level index.
            let (rows, block_size, index_chunk) = match i % 4 {
                0 => (3, 65536, 131072),
                1 => (12, 256, 128),
                2 => (20, 512, 96),
                _ => (8, 128, 4096),
            };
            let opts = WriterOptions {
                block_size,
                compression,
                encoding,
                checksum: checksums[i % checksums.len()],
                bytes_per_checksum: [16384, 64, 512][i % 3],
                index_max_chunk: index_chunk,
                index_min_entries: 2,
                bloom: blooms[i % blooms.len()],
                bloom_chunk_bytes: [131072, 16, 64][i % 3],
                bloom_prefix_len: 6,
                include_tags: tags,
                include_mvcc: i % 3 != 1,
                compress_tags: i % 4 == 0,
                create_time: 1_700_000_000_000,
                store_file_metadata: i % 5 != 4,
                ..WriterOptions::default()
            };
            let mut w = HFileWriter::in_memory(opts.clone()).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
            for c in cells(rows, tags) {
                let key = Key::parse(&c.key).unwrap_or_else(|e| panic!("{e}"));
                let cell = Cell { key, value: &c.value, tags: &c.tags, seq_id: c.seq };
                w.append(&cell).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
            }
            if i % 6 == 0 {
                w.append_meta_block(b"fuzzmeta", b"meta block payload")
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            let meta = StoreMeta { max_seq_id: 1000, major_compaction: i % 2 == 1, ..StoreMeta::default() };
            let (bytes, sum) = w.finish_to_vec(meta).unwrap_or_else(|e| panic!("{opts:?}: {e}"));
            let name = format!(
                "gen_{}_{}_{}.hfile",
                compression.name().to_ascii_lowercase(),
                encoding.name().to_ascii_lowercase(),
                i
            );
            std::fs::write(dir.join(&name), &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            println!("{name}: {} bytes, {} cells, {} data blocks, {} index levels", bytes.len(), sum.entries, sum.data_blocks, sum.index_levels);
            n += 1;
        }
    }
    // An empty file (no cells) of each shape that matters: with and without a bloom.
    for bloom in [BloomType::None, BloomType::Row] {
        let opts = WriterOptions { bloom, create_time: 1_700_000_000_000, ..WriterOptions::default() };
        let w = HFileWriter::in_memory(opts).unwrap_or_else(|e| panic!("{e}"));
        let (bytes, _) = w.finish_to_vec(StoreMeta::default()).unwrap_or_else(|e| panic!("{e}"));
        let name = format!("gen_empty_{}.hfile", bloom.name().to_ascii_lowercase());
        std::fs::write(dir.join(&name), &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        n += 1;
    }
    println!("{n} seeds in {}", dir.display());
}
