//! The committed `fixtures/sample.hfile` (the README's first command dumps it) is exactly
//! what `examples/make_sample.rs` generates now, and it verifies clean.

#[path = "../examples/make_sample.rs"]
mod make_sample;

use std::path::Path;

use hbkit::cell::KeyType;
use hbkit::hfile::verify::{verify_file, Status};
use hbkit::hfile::HFile;

fn sample_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/sample.hfile")
}

#[test]
fn committed_sample_matches_the_generator() {
    let committed = std::fs::read(sample_path()).expect("fixtures/sample.hfile");
    let now = make_sample::sample_bytes().expect("generate");
    assert!(
        committed == now,
        "fixtures/sample.hfile differs from what examples/make_sample.rs writes now; \
         regenerate it with `cargo run --example make_sample`"
    );
}

#[test]
fn sample_verifies_clean_and_has_what_the_readme_promises() {
    let r = verify_file(&sample_path());
    assert_eq!(r.status, Status::Clean, "{:?}", r.problems);
    let f = HFile::open(sample_path()).expect("open");
    let cells = make_sample::sample_cells();
    assert_eq!(f.trailer.entry_count, cells.len() as u64);
    assert!(f.trailer.num_data_index_levels >= 2, "2-level index");
    assert!(f.trailer.data_index_count >= 2);
    assert_eq!(f.encoding.name(), "FAST_DIFF");
    assert_eq!(f.compression, hbkit::codec::Compression::Snappy);
    assert_eq!(f.bloom_type, hbkit::hfile::bloom::BloomType::Row);
    assert!(f.general_bloom.is_some());
    assert_eq!(
        f.file_info.get_i64("hfile.CREATE_TIME_TS"),
        Some(1_700_000_000_000)
    );
    let mut s = f.scanner();
    let (mut n, mut tagged, mut deletes, mut blocks, mut last_block) = (0, 0, 0, 0, None);
    while let Some(c) = s.next_cell().expect("cell") {
        assert_eq!(c.key.family(), b"cf");
        let (k, v, t, seq) = &cells[n];
        assert_eq!(
            (c.key.raw(), c.value, c.tags, c.seq_id),
            (&k[..], &v[..], &t[..], *seq)
        );
        tagged += usize::from(!c.tags.is_empty());
        deletes += usize::from(c.key.key_type() != Some(KeyType::Put));
        if last_block != Some(s.block_offset()) {
            blocks += 1;
            last_block = Some(s.block_offset());
        }
        n += 1;
    }
    assert_eq!(n, cells.len());
    assert_eq!(tagged, 2);
    assert_eq!(deletes, 3);
    assert!(blocks >= 8, "{blocks} data blocks");
}
