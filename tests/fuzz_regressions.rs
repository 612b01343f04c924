//! Regressions for inputs `cargo fuzz` found (see fuzz/README.md). Each input is rebuilt
//! here — a small file from the writer plus the damage the fuzzer found — rather than
//! committed as a fixture.

use std::path::Path;

use hbkit::cell::{make_key, Cell, Key, KeyType};
use hbkit::codec::Compression;
use hbkit::hfile::block::BlockType;
use hbkit::hfile::verify::{verify_bytes, Status};
use hbkit::hfile::{HFile, HFileWriter, StoreMeta, WriterOptions};

/// Ten cells, one data block, one-level index.
fn small_file(compression: Compression) -> Vec<u8> {
    let opts = WriterOptions {
        compression,
        create_time: 0,
        ..WriterOptions::default()
    };
    let mut w = HFileWriter::in_memory(opts).expect("writer");
    for i in 0..10u32 {
        let key = make_key(
            format!("row-{i:03}").as_bytes(),
            b"f",
            b"q",
            1,
            KeyType::Put as u8,
        );
        let cell = Cell {
            key: Key::parse(&key).expect("key"),
            value: b"v",
            tags: &[],
            seq_id: 1,
        };
        w.append(&cell).expect("append");
    }
    w.finish_to_vec(StoreMeta::default()).expect("finish").0
}

/// `hfile_read` OOM (115 KB ZSTD file): the data index ROOT_INDEX block's header declared
/// uncompressedSizeWithoutHeader 0x7C000000 (~1.9 GiB). `codec::decompress` zero-filled an
/// output buffer of the declared size before decompressing anything, so any header could
/// make the reader allocate up to 2 GiB. Fixed by the 512 MiB per-block cap
/// (`codec::MAX_BLOCK_SIZE`, commit 34d9e73): the block is refused before allocating.
#[test]
fn huge_declared_uncompressed_size_is_refused_before_allocating() {
    let mut b = small_file(Compression::Zstd);
    let f = HFile::from_bytes("small.hfile", b.clone()).expect("pristine file opens");
    let root = f.load_on_open[0];
    assert_eq!(root.block_type, BlockType::RootIndex);
    let at = root.offset as usize + 12;
    b[at..at + 4].copy_from_slice(&0x7C00_0000i32.to_be_bytes());

    let e = HFile::from_bytes_with("small.hfile", b.clone(), false)
        .expect_err("a 1.9 GiB index block must be refused");
    assert!(e.message.contains("limit"), "{e}");
    // Reported at the block's payload, before any allocation of the declared size.
    assert_eq!(
        e.offset,
        Some(root.offset + u64::from(root.header_size)),
        "{e}"
    );

    let r = verify_bytes(Path::new("small.hfile"), b);
    assert_eq!(r.status, Status::Unreadable, "{:?}", r.problems);
}

/// `hfile_read` panic (a 1 KB HBase 0.98 file with a ROW bloom, one byte changed): the
/// general bloom meta declared totalKeyCount 0xF700000000000002 (negative) and
/// totalMaxKeys 3. `pretty::meta_text`'s "Percentage filled" saturated the percentage to
/// i64::MIN and `i64::abs` overflowed ("attempt to negate with overflow"). Fixed in
/// `pretty::percent` with `unsigned_abs`.
#[test]
fn bloom_percentage_of_a_negative_key_count_renders() {
    let mut b = small_file(Compression::None);
    let f = HFile::from_bytes("small.hfile", b.clone()).expect("pristine file opens");
    let meta = f
        .load_on_open
        .iter()
        .find(|h| h.block_type == BlockType::GeneralBloomMeta)
        .copied()
        .expect("ROW bloom meta");
    // Payload: version:i32 totalByteSize:i64 hashCount:i32 hashType:i32 totalKeyCount:i64
    // totalMaxKeys:i64 ...
    let at = meta.offset as usize + usize::from(meta.header_size) + 20;
    b[at..at + 8].copy_from_slice(&0xF700_0000_0000_0002u64.to_be_bytes());
    b[at + 8..at + 16].copy_from_slice(&3i64.to_be_bytes());

    let f = HFile::from_bytes_with("small.hfile", b, false).expect("opens without checksums");
    let m = &f.general_bloom.as_ref().expect("general bloom").meta;
    assert_eq!(
        (m.total_key_count, m.total_max_keys),
        (0xF700_0000_0000_0002u64 as i64, 3)
    );
    let text = hbkit::hfile::pretty::meta_text(&f);
    assert!(
        text.contains("Percentage filled: -9,223,372,036,854,775,808%"),
        "{text}"
    );
}
