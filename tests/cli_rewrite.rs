//! `hfile rewrite IN OUT`: the binary re-encodes HBase-written HFiles across option
//! combinations; the output verifies clean, holds exactly the input's cells and keeps the
//! store-file metadata that still holds. Failures leave neither OUT nor a temporary file,
//! and IN is never touched.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;
use hbkit::codec::{ChecksumType, Compression};
use hbkit::hfile::bloom::BloomType;
use hbkit::hfile::encoding::Encoding;
use hbkit::hfile::fileinfo::keys;
use hbkit::hfile::verify::{verify_file, Status};
use hbkit::hfile::HFile;

fn hfile(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hfile"))
        .args(args)
        .output()
        .expect("run hfile")
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

type OwnedCell = (Vec<u8>, Vec<u8>, Vec<u8>, u64);

fn cells(f: &HFile) -> Vec<OwnedCell> {
    let mut out = Vec::new();
    let mut sc = f.scanner();
    while let Some(c) = sc.next_cell().unwrap_or_else(|e| panic!("{e}")) {
        out.push((
            c.key.raw().to_vec(),
            c.value.to_vec(),
            c.tags.to_vec(),
            c.seq_id,
        ));
    }
    out
}

/// Names of every entry in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Inputs: HBase 2.6 files with tags, mvcc, every bloom kind, a bare `HFile.Writer` file,
/// and HBase 0.98 files (v3 edge cells, v2 with a 3-level index).
fn inputs(fx: &Path) -> Vec<PathBuf> {
    let w = |n: &str| fx.join("hbase-written").join(n).join(format!("{n}.hfile"));
    vec![
        w("v3_tags_fast_diff_compresstags"),
        w("v3_mvcc_prefix_zstd_rowcol"),
        w("v3_bloom_rowprefix6"),
        w("v3_rawwriter_plain"),
        w("v3_everything_lz4_fastdiff_row"),
        fx.join("hbase098/hfile/a5_edge_diff_none.hfile"),
        fx.join("hbase098/hfile/a6_v2_none.hfile"),
    ]
}

/// Option sets, with what each should produce (None = keep the input's).
struct Combo {
    args: &'static [&'static str],
    compression: Option<Compression>,
    encoding: Option<Encoding>,
    bloom: Option<BloomType>,
    checksum: Option<(ChecksumType, u32)>,
}

const COMBOS: &[Combo] = &[
    Combo {
        args: &[],
        compression: None,
        encoding: None,
        bloom: None,
        checksum: None,
    },
    Combo {
        args: &[
            "--compression",
            "snappy",
            "--encoding",
            "FAST_DIFF",
            "--bloom",
            "row",
            "--verify",
        ],
        compression: Some(Compression::Snappy),
        encoding: Some(Encoding::FastDiff),
        bloom: Some(BloomType::Row),
        checksum: None,
    },
    Combo {
        args: &[
            "--compression",
            "GZ",
            "--encoding",
            "row_index_v1",
            "--bloom",
            "ROWCOL",
            "--checksum",
            "crc32",
            "--bytes-per-checksum",
            "512",
            "--block-size",
            "1k",
            "--verify",
        ],
        compression: Some(Compression::Gz),
        encoding: Some(Encoding::RowIndexV1),
        bloom: Some(BloomType::RowCol),
        checksum: Some((ChecksumType::Crc32, 512)),
    },
    Combo {
        args: &[
            "--compression",
            "Lz4",
            "--encoding",
            "diff",
            "--bloom",
            "rowprefix_fixed_length",
            "--bloom-prefix-len",
            "3",
            "--checksum",
            "NULL",
            "--block-size",
            "2048",
        ],
        compression: Some(Compression::Lz4),
        encoding: Some(Encoding::Diff),
        bloom: Some(BloomType::RowPrefixFixedLength),
        checksum: Some((ChecksumType::Null, 16384)),
    },
    Combo {
        args: &[
            "--compression",
            "zstd",
            "--encoding",
            "prefix",
            "--bloom",
            "none",
            "--checksum",
            "CRC32C",
            "--block-size",
            "4096",
            "--threads",
            "2",
            "--verify",
        ],
        compression: Some(Compression::Zstd),
        encoding: Some(Encoding::Prefix),
        bloom: Some(BloomType::None),
        checksum: Some((ChecksumType::Crc32c, 16384)),
    },
    Combo {
        args: &[
            "--compression",
            "none",
            "--encoding",
            "none",
            "--threads",
            "3",
        ],
        compression: Some(Compression::None),
        encoding: Some(Encoding::None),
        bloom: None,
        checksum: None,
    },
];

/// FileInfo keys that the rewrite recomputes from the cells and options.
const RECOMPUTED: &[&str] = &[
    keys::BLOOM_FILTER_TYPE,
    keys::BLOOM_FILTER_PARAM,
    keys::LAST_BLOOM_KEY,
    keys::DATA_BLOCK_ENCODING,
    keys::TIMERANGE,
    keys::EARLIEST_PUT_TS,
    keys::DELETE_FAMILY_COUNT,
    // Present only in store files: absent from a bare-writer input, added when a bloom is
    // requested for it (the output is then a store file).
    keys::MAX_SEQ_ID_KEY,
    keys::MAJOR_COMPACTION_KEY,
    "COMPACTION_EVENT_KEY",
    keys::HISTORICAL,
];

fn check_output(input: &Path, out: &Path, combo: &Combo) -> Vec<String> {
    let mut problems = Vec::new();
    let r = verify_file(out);
    if r.status != Status::Clean {
        problems.push(format!("verify: {:?}", r.problems));
    }
    let fi = HFile::open(input).expect("input");
    let fo = HFile::open(out).expect("output");
    if cells(&fi) != cells(&fo) {
        problems.push("cells differ".into());
    }
    let want_comp = combo.compression.unwrap_or(fi.compression);
    if fo.compression != want_comp {
        problems.push(format!("compression {:?}", fo.compression));
    }
    let want_enc = combo.encoding.unwrap_or(fi.encoding);
    if fo.encoding != want_enc {
        problems.push(format!("encoding {:?}", fo.encoding));
    }
    let want_bloom = combo.bloom.unwrap_or(fi.bloom_type);
    if fo.bloom_type != want_bloom {
        problems.push(format!("bloom {:?}", fo.bloom_type));
    }
    let hdr = fo.load_on_open.first().expect("a block");
    let in_hdr = fi.load_on_open.first().expect("a block");
    let want_ck = combo.checksum.unwrap_or((
        in_hdr.checksum_type.unwrap_or(ChecksumType::Crc32c),
        if in_hdr.bytes_per_checksum >= 33 {
            in_hdr.bytes_per_checksum
        } else {
            16384
        },
    ));
    if (hdr.checksum_type, hdr.bytes_per_checksum) != (Some(want_ck.0), want_ck.1) {
        problems.push(format!(
            "checksum {:?}/{}",
            hdr.checksum_type, hdr.bytes_per_checksum
        ));
    }
    if fo.flags.tags != fi.flags.tags || fo.flags.mvcc != fi.flags.mvcc {
        problems.push(format!("flags {:?} vs {:?}", fo.flags, fi.flags));
    }
    // Kept: every FileInfo entry outside `hfile.` that is not recomputed (standard ones
    // like BULKLOAD_* and EXCLUDE_FROM_MINOR_COMPACTION and non-standard extras), plus
    // the creation time.
    let store_in = fi.file_info.get(keys::MAX_SEQ_ID_KEY).is_some();
    for (k, v) in &fi.file_info.map {
        let name = String::from_utf8_lossy(k);
        let kept = !name.starts_with("hfile.") && !RECOMPUTED.contains(&name.as_ref());
        let store_kept = store_in
            && [
                keys::MAX_SEQ_ID_KEY,
                keys::MAJOR_COMPACTION_KEY,
                "COMPACTION_EVENT_KEY",
                keys::HISTORICAL,
            ]
            .contains(&name.as_ref());
        if (kept || store_kept || name == keys::CREATE_TIME_TS)
            && fo.file_info.map.get(k) != Some(v)
        {
            problems.push(format!("FileInfo {name} not kept"));
        }
    }
    // Recomputed from the same cells: the time range and delete-family count agree with
    // what the input's writer recorded.
    // (Compared as values: HBase 0.98 stores TIMERANGE as a Writable, 2.x as protobuf.)
    if let Some(tr) = fi.file_info.time_range() {
        if fo.file_info.time_range() != Some(tr) {
            problems.push(format!(
                "TIMERANGE {:?} vs {tr:?}",
                fo.file_info.time_range()
            ));
        }
    }
    if let Some(v) = fi.file_info.get(keys::DELETE_FAMILY_COUNT) {
        if fo.file_info.get(keys::DELETE_FAMILY_COUNT) != Some(v) {
            problems.push("FileInfo DELETE_FAMILY_COUNT differs".into());
        }
    }
    if fo.trailer.entry_count != fi.trailer.entry_count {
        problems.push("entry count".into());
    }
    problems
}

#[test]
fn rewrites_fixtures_across_options() {
    let Some(fx) = fixtures() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    let mut runs = 0;
    for input in inputs(&fx) {
        let before = std::fs::read(&input).expect("input");
        let mtime = std::fs::metadata(&input).and_then(|m| m.modified()).ok();
        let stem = input
            .file_stem()
            .expect("name")
            .to_string_lossy()
            .to_string();
        for (i, combo) in COMBOS.iter().enumerate() {
            let out = dir.path().join(format!("{stem}-{i}.hfile"));
            let mut args = vec!["rewrite", s(&input), s(&out)];
            args.extend_from_slice(combo.args);
            let o = hfile(&args);
            runs += 1;
            if o.status.code() != Some(0) {
                failures.push(format!(
                    "{stem} {:?}: exit {:?}: {}",
                    combo.args,
                    o.status.code(),
                    String::from_utf8_lossy(&o.stderr)
                ));
                continue;
            }
            let p = check_output(&input, &out, combo);
            if !p.is_empty() {
                failures.push(format!("{stem} {:?}: {}", combo.args, p.join("; ")));
            }
        }
        assert_eq!(std::fs::read(&input).expect("input"), before, "IN changed");
        assert_eq!(
            std::fs::metadata(&input).and_then(|m| m.modified()).ok(),
            mtime
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Only the final files: no temporary files left behind.
    assert_eq!(listing(dir.path()).len(), runs);
}

#[test]
fn bulkload_and_extra_metadata_survive() {
    // A store file with bulk-load metadata, exclude-from-minor, a non-standard key and a
    // meta block, written by our writer, rewritten with other options.
    use hbkit::cell::{make_key, Cell, Key, KeyType};
    use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("in.hfile");
    let opts = WriterOptions {
        include_tags: true,
        create_time: 1_234_567,
        file_info: vec![
            (b"BULKLOAD_SOURCE_TASK".to_vec(), b"task_0001".to_vec()),
            (b"MY_NOTE".to_vec(), b"\x00\x01keep me".to_vec()),
        ],
        ..WriterOptions::default()
    };
    let mut w = HFileWriter::create(&input, opts).expect("create");
    w.append_meta_block(b"MYMETA", b"meta bytes").expect("meta");
    for i in 0..500u32 {
        let k = make_key(
            format!("r{i:05}").as_bytes(),
            b"cf",
            b"q",
            1000 + i64::from(i),
            KeyType::Put as u8,
        );
        let tags: &[u8] = if i % 7 == 0 { b"\x00\x03\x01hi" } else { b"" };
        w.append(&Cell {
            key: Key::parse(&k).expect("key"),
            value: b"some value",
            tags,
            seq_id: u64::from(i),
        })
        .expect("append");
    }
    w.finish(StoreMeta {
        max_seq_id: 1000,
        major_compaction: true,
        bulkload_time: Some(1_700_000_000_123),
        exclude_from_minor_compaction: Some(true),
        compacted_store_files: vec!["abc".into(), "def".into()],
    })
    .expect("finish");
    let out = dir.path().join("out.hfile");
    let o = hfile(&[
        "rewrite",
        s(&input),
        s(&out),
        "--compression",
        "GZ",
        "--encoding",
        "FAST_DIFF",
        "--verify",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let fi = HFile::open(&input).expect("in");
    let fo = HFile::open(&out).expect("out");
    assert_eq!(cells(&fi), cells(&fo));
    for k in [
        keys::MAX_SEQ_ID_KEY,
        keys::MAJOR_COMPACTION_KEY,
        keys::BULKLOAD_TIMESTAMP,
        keys::BULKLOAD_SOURCE_TASK,
        keys::EXCLUDE_FROM_MINOR_COMPACTION,
        keys::CREATE_TIME_TS,
        keys::TIMERANGE,
        keys::EARLIEST_PUT_TS,
        keys::MAX_TAGS_LEN,
        "COMPACTION_EVENT_KEY",
        "MY_NOTE",
    ] {
        assert_eq!(fi.file_info.get(k), fo.file_info.get(k), "{k}");
        assert!(fo.file_info.get(k).is_some(), "{k} missing");
    }
    assert_eq!(fo.file_info.get_i64(keys::CREATE_TIME_TS), Some(1_234_567));
    assert_eq!(fo.meta_index.len(), 1);
    let (_, p) = fo.block_payload(fo.meta_index[0].offset).expect("meta");
    assert_eq!(p.bytes(), b"meta bytes");
}

#[test]
fn failures_leave_nothing_behind() {
    let Some(fx) = fixtures() else { return };
    let good = fx.join("hbase-written/v3_tags/v3_tags.hfile");
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out.hfile");
    let expect_fail = |args: &[&str], what: &str| {
        let o = hfile(args);
        assert_eq!(
            o.status.code(),
            Some(2),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.stderr.is_empty(), "{what}: no message");
        String::from_utf8_lossy(&o.stderr).into_owned()
    };

    // Bad option values.
    for bad in [
        &["--compression", "lzma2"][..],
        &["--encoding", "PREFIX_TREE"],
        &["--bloom", "rows"],
        &["--checksum", "md5"],
        &["--block-size", "0"],
        &["--bytes-per-checksum", "16"],
        &["--bloom", "ROWPREFIX_FIXED_LENGTH"],
        &["--compression", "LZO"],
    ] {
        let mut args = vec!["rewrite", s(&good), s(&out)];
        args.extend_from_slice(bad);
        expect_fail(&args, &format!("{bad:?}"));
        assert!(
            listing(dir.path()).is_empty(),
            "{bad:?}: {:?}",
            listing(dir.path())
        );
    }

    // Unreadable input: missing, and not an HFile.
    let missing = dir.path().join("missing.hfile");
    expect_fail(&["rewrite", s(&missing), s(&out)], "missing input");
    assert!(listing(dir.path()).is_empty());
    let junk = dir.path().join("junk");
    std::fs::write(&junk, vec![7u8; 10_000]).expect("junk");
    expect_fail(&["rewrite", s(&junk), s(&out)], "junk input");
    assert_eq!(listing(dir.path()), ["junk"]);
    std::fs::remove_file(&junk).expect("rm");

    // An input that fails part-way through (a corrupt data block after good ones): the
    // temporary output is removed.
    let src = fx.join("hbase098/hfile/a1_none_3level.hfile");
    let corrupt = dir.path().join("corrupt.hfile");
    let mut bytes = std::fs::read(&src).expect("fixture");
    let f = HFile::open(&src).expect("open");
    let last_data = f.trailer.last_data_block_offset as usize;
    bytes[last_data + 33 + 10] ^= 0x5a;
    std::fs::write(&corrupt, &bytes).expect("write");
    let msg = expect_fail(
        &["rewrite", s(&corrupt), s(&out), "--compression", "gz"],
        "corrupt input",
    );
    assert!(msg.contains("checksum") || msg.contains("corrupt"), "{msg}");
    assert_eq!(listing(dir.path()), ["corrupt.hfile"]);
    assert_eq!(std::fs::read(&corrupt).expect("in"), bytes, "IN changed");
    std::fs::remove_file(&corrupt).expect("rm");

    // OUT exists: refused without --force (OUT untouched), replaced with it.
    std::fs::write(&out, b"precious").expect("out");
    let msg = expect_fail(&["rewrite", s(&good), s(&out)], "existing OUT");
    assert!(msg.contains("--force"), "{msg}");
    assert_eq!(std::fs::read(&out).expect("out"), b"precious");
    assert_eq!(listing(dir.path()), ["out.hfile"]);
    let o = hfile(&["rewrite", s(&good), s(&out), "--force", "--verify"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(verify_file(&out).status, Status::Clean);
    assert_eq!(listing(dir.path()), ["out.hfile"]);

    // OUT is IN: refused even with --force.
    let before = std::fs::read(&out).expect("out");
    let msg = expect_fail(&["rewrite", s(&out), s(&out), "--force"], "OUT is IN");
    assert!(msg.contains("input"), "{msg}");
    assert_eq!(std::fs::read(&out).expect("out"), before);
    assert_eq!(listing(dir.path()), ["out.hfile"]);

    // OUT's folder does not exist.
    let nowhere = dir.path().join("no/such/dir/out.hfile");
    expect_fail(&["rewrite", s(&good), s(&nowhere)], "missing folder");
}
