//! Generates `fixtures/sample.hfile`, the small HFile the README's first command dumps.
//!
//! Deterministic (fixed cells, seq ids and creation time), so running it again reproduces
//! the committed file byte for byte; `tests/sample_fixture.rs` checks exactly that.
//!
//! 300 cells in 25 rows of family `cf`: puts with several versions, a Delete, a
//! DeleteColumn and a DeleteFamily marker, two cells with tags (an ACL-type and a TTL-type
//! tag); FAST_DIFF encoding, SNAPPY compression, ROW bloom; 1 KiB blocks and 256-byte index
//! chunks, so there are many data blocks and a 2-level block index.
//!
//! Run: `cargo run --example make_sample [OUT]` (default `fixtures/sample.hfile`).

use hbkit::cell::{make_key, Cell, Key, KeyType};
use hbkit::codec::Compression;
use hbkit::hfile::bloom::BloomType;
use hbkit::hfile::encoding::Encoding;
use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};

/// The writer options of the sample.
pub fn sample_options() -> WriterOptions {
    WriterOptions {
        block_size: 1024,
        compression: Compression::Snappy,
        encoding: Encoding::FastDiff,
        bloom: BloomType::Row,
        index_max_chunk: 256,
        include_tags: true,
        include_mvcc: true,
        create_time: 1_700_000_000_000,
        family: Some(b"cf".to_vec()),
        ..WriterOptions::default()
    }
}

/// The store metadata of the sample.
pub fn sample_meta() -> StoreMeta {
    StoreMeta {
        max_seq_id: 1000,
        ..StoreMeta::default()
    }
}

/// One cell: (KEY, value, serialized tags, seq id).
pub type SampleCell = (Vec<u8>, Vec<u8>, Vec<u8>, u64);

/// The sample's cells in order.
pub fn sample_cells() -> Vec<SampleCell> {
    let fruits = [
        "apple", "banana", "cherry", "damson", "elder", "fig", "grape", "honeydew",
    ];
    let base = 1_700_000_000_000i64;
    let mut out = Vec::new();
    let mut seq = 1u64;
    let mut push = |row: &str, q: &str, ts: i64, t: KeyType, v: String, tags: Vec<u8>| {
        out.push((
            make_key(row.as_bytes(), b"cf", q.as_bytes(), ts, t as u8),
            v.into_bytes(),
            tags,
            seq,
        ));
        seq += 1;
    };
    for r in 0..25 {
        let row = format!("row-{r:04}");
        if r == 7 {
            // A DeleteFamily marker (empty qualifier, so it sorts first in its row): it
            // masks the row's puts older than it.
            push(
                &row,
                "",
                base + 5_000,
                KeyType::DeleteFamily,
                String::new(),
                Vec::new(),
            );
        }
        for (qi, q) in ["color", "count", "name", "price"].iter().enumerate() {
            if r == 3 && *q == "count" {
                push(
                    &row,
                    q,
                    base + 9_000,
                    KeyType::DeleteColumn,
                    String::new(),
                    Vec::new(),
                );
            }
            for ver in 0..3i64 {
                let ts = base + 3_000 - ver * 1_000 + r as i64;
                if r == 12 && *q == "name" && ver == 1 {
                    push(&row, q, ts, KeyType::Delete, String::new(), Vec::new());
                }
                let fruit = fruits[(r + qi + ver as usize) % fruits.len()];
                let v = match *q {
                    "color" => format!("{fruit}-colour-v{ver}"),
                    "count" => format!("{}", (r * 37 + qi * 11) as i64 * (ver + 1)),
                    "name" => format!("{fruit} from orchard {r}, picked in round {ver}"),
                    _ => format!("{}.{:02}", r + ver as usize, (qi * 13 + r) % 100),
                };
                let mut tags = Vec::new();
                if r == 5 && *q == "price" && ver == 0 {
                    // ACL-type tag (type 1) with a short value.
                    tags.extend_from_slice(&[0, 6, 1]);
                    tags.extend_from_slice(b"alice");
                }
                if r == 20 && *q == "name" && ver == 0 {
                    // TTL-type tag (type 8): an 8-byte big-endian millisecond TTL.
                    tags.extend_from_slice(&[0, 9, 8]);
                    tags.extend_from_slice(&86_400_000i64.to_be_bytes());
                }
                push(&row, q, ts, KeyType::Put, v, tags);
            }
        }
    }
    out
}

/// Write the sample with `w`.
pub fn append_all(w: &mut HFileWriter) -> hbkit::Result<()> {
    for (k, v, t, s) in sample_cells() {
        w.append(&Cell {
            key: Key::parse(&k)?,
            value: &v,
            tags: &t,
            seq_id: s,
        })?;
    }
    Ok(())
}

/// The sample file's bytes.
pub fn sample_bytes() -> hbkit::Result<Vec<u8>> {
    let mut w = HFileWriter::in_memory(sample_options())?;
    append_all(&mut w)?;
    Ok(w.finish_to_vec(sample_meta())?.0)
}

#[allow(dead_code)]
fn main() -> hbkit::Result<()> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fixtures/sample.hfile".to_string());
    let mut w = HFileWriter::create(&out, sample_options())?;
    append_all(&mut w)?;
    let s = w.finish(sample_meta())?;
    println!(
        "{out}: {} cells, {} data blocks, {} index levels, {} bytes",
        s.entries, s.data_blocks, s.index_levels, s.file_size
    );
    Ok(())
}
