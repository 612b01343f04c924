//! A region's recovered.edits as a merge input (`store::edits`), checked against HBase's own
//! WAL split output (hbase098 `wal-split/`) and the `.entries.tsv` sidecar of the WAL that
//! was split: the cells applied per store are exactly the sidecar cells of that region and
//! family whose sequence id is above the store's max sequence id.

mod common;

use std::path::{Path, PathBuf};

use hbkit::cell::{Cell, Key, Order};
use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};
use hbkit::layout::{self, Context};
use hbkit::store::compact::{self, Options};
use hbkit::store::edits::{self, EditsOptions};
use hbkit::store::{Input, Merge};

const REGION: &str = "43ae7364b4a555b93267937f9bc49ec1";

/// (row, family, qualifier, timestamp, type, value, seq id) as the sidecar lists it.
type Tuple = (Vec<u8>, Vec<u8>, Vec<u8>, i64, String, Vec<u8>, u64);

/// Sidecar cells of `region`, `family`, with entry sequence id > `above`.
fn expected(fx: &Path, region: &str, family: &[u8], above: u64) -> Vec<Tuple> {
    let text = std::fs::read_to_string(fx.join("hbase098/wal/c1_plain.entries.tsv")).unwrap();
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        if line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let seq: u64 = f[3].parse().unwrap();
        let fam = common::unescape(f[6]);
        if f[2] != region || fam != family || seq <= above {
            continue;
        }
        out.push((
            common::unescape(f[5]),
            fam,
            common::unescape(f[7]),
            f[8].parse().unwrap(),
            f[9].to_string(),
            common::unescape(f[10]),
            seq,
        ));
    }
    out.sort();
    out
}

fn tuple(c: &Cell<'_>) -> Tuple {
    (
        c.key.row().to_vec(),
        c.key.family().to_vec(),
        c.key.qualifier().to_vec(),
        c.key.timestamp(),
        hbkit::cell::type_name(c.key.type_code()).into_owned(),
        c.value.to_vec(),
        c.seq_id,
    )
}

fn pb_pair(out: &mut Vec<u8>, field: u32, k: &str, v: &str) {
    let mut p = Vec::new();
    hbkit::pb::put_bytes(&mut p, 1, k.as_bytes());
    hbkit::pb::put_bytes(&mut p, 2, v.as_bytes());
    hbkit::pb::put_bytes(out, field, &p);
}

/// A root dir with table t1 (families a, b; VERSIONS 1000 so that nothing is version-capped),
/// region REGION [,m) and its recovered.edits copied from HBase's split of `variant`.
fn build_root(fx: &Path, variant: &str) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    std::fs::write(root.join("hbase.version"), b"").unwrap();
    let table = root.join("data/default/t1");
    std::fs::create_dir_all(table.join(".tabledesc")).unwrap();
    let mut td = b"PBUF".to_vec();
    let mut tn = Vec::new();
    hbkit::pb::put_bytes(&mut tn, 1, b"default");
    hbkit::pb::put_bytes(&mut tn, 2, b"t1");
    hbkit::pb::put_bytes(&mut td, 1, &tn);
    for fam in ["a", "b"] {
        let mut f = Vec::new();
        hbkit::pb::put_bytes(&mut f, 1, fam.as_bytes());
        pb_pair(&mut f, 2, "VERSIONS", "1000");
        pb_pair(&mut f, 2, "BLOOMFILTER", "NONE");
        hbkit::pb::put_bytes(&mut td, 3, &f);
    }
    std::fs::write(table.join(".tabledesc/.tableinfo.0000000001"), td).unwrap();
    let region = table.join(REGION);
    for fam in ["a", "b"] {
        std::fs::create_dir_all(region.join(fam)).unwrap();
    }
    let mut ri = Vec::new();
    hbkit::pb::put_varint(&mut ri, 1, 1700000000000);
    hbkit::pb::put_bytes(&mut ri, 2, &tn);
    hbkit::pb::put_bytes(&mut ri, 3, b"");
    hbkit::pb::put_bytes(&mut ri, 4, b"m");
    let mut regioninfo = b"PBUF".to_vec();
    hbkit::bytes::write_pbvar(&mut regioninfo, ri.len() as u64);
    regioninfo.extend_from_slice(&ri);
    std::fs::write(region.join(".regioninfo"), regioninfo).unwrap();
    let src = fx
        .join("hbase098/wal-split")
        .join(variant)
        .join("data/default/t1")
        .join(REGION)
        .join("recovered.edits");
    std::fs::create_dir_all(region.join("recovered.edits")).unwrap();
    for e in std::fs::read_dir(&src).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), region.join("recovered.edits").join(e.file_name())).unwrap();
    }
    (tmp, region)
}

/// Put one flushed-looking store file with MAX_SEQ_ID `max_seq` (and one cell) in `fam`.
fn add_store_file(region: &Path, fam: &str, max_seq: i64) {
    let opts = WriterOptions {
        family: Some(fam.as_bytes().to_vec()),
        ..WriterOptions::default()
    };
    let mut w = HFileWriter::create(
        region.join(fam).join("0123456789abcdef0123456789abcdef"),
        opts,
    )
    .unwrap();
    let key = hbkit::cell::make_key(b"a-row-0000", fam.as_bytes(), b"x", 1, 4);
    w.append(&Cell {
        key: Key::parse(&key).unwrap(),
        value: b"v",
        tags: b"",
        seq_id: 0,
    })
    .unwrap();
    w.finish(StoreMeta {
        max_seq_id: max_seq,
        ..StoreMeta::default()
    })
    .unwrap();
}

fn read_region(region: &Path) -> layout::Region {
    let mut problems = Vec::new();
    let r = layout::read_region(region, &Context::for_path(region), &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    r
}

/// Drain an edits stream, checking HBase's order (key, then sequence id descending).
fn drain(e: edits::StoreEdits) -> Vec<Tuple> {
    let stream = e.stream().unwrap();
    let mut m = Merge::with_edits(&[], vec![stream], &[]).unwrap();
    let mut out = Vec::new();
    let mut prev: Option<(Vec<u8>, u64)> = None;
    while let Some(c) = m.next().unwrap() {
        if let Some((pk, ps)) = &prev {
            let o = Order::Normal
                .compare(&Key::parse(pk).unwrap(), &Key::parse(&c.key).unwrap())
                .then_with(|| c.seq_id.cmp(ps));
            assert_ne!(o, std::cmp::Ordering::Greater, "out of order");
        }
        prev = Some((c.key.clone(), c.seq_id));
        out.push(tuple(&c.cell().unwrap()));
    }
    out
}

#[test]
fn edits_of_empty_stores_are_the_sidecar_cells() {
    let Some(fx) = common::fixtures() else { return };
    for variant in ["c1_plain", "c2_compressed", "c4_rolled"] {
        let (_tmp, region) = build_root(&fx, variant);
        let r = read_region(&region);
        // A tiny memory limit forces spill runs and the k-way merge of them.
        let opts = EditsOptions {
            memory_limit: 2048,
            ..EditsOptions::default()
        };
        let (by_fam, rep) = edits::read_for_region(&r, None, &opts).unwrap();
        assert!(rep.damaged.is_empty());
        let mut total = 0;
        for (fam, e) in by_fam {
            let mut got = drain(e);
            got.sort();
            let want = expected(&fx, REGION, &fam, 0);
            assert!(!want.is_empty());
            total += want.len() as u64;
            assert_eq!(got, want, "{variant} family {fam:?}");
        }
        assert_eq!(rep.cells, total, "{variant}");
        assert_eq!(rep.skipped_flushed, 0);
    }
}

#[test]
fn flushed_edits_and_whole_files_are_skipped() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c4_rolled");
    // Store a has flushed up to 140, store b up to 120: file ...114 is older than every
    // store and skipped whole; per store, edits ≤ its max are skipped.
    add_store_file(&region, "a", 140);
    add_store_file(&region, "b", 120);
    let r = read_region(&region);
    let (by_fam, rep) = edits::read_for_region(&r, None, &EditsOptions::default()).unwrap();
    let skipped: Vec<String> = rep
        .files_skipped
        .iter()
        .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(skipped, vec!["0000000000000000114"]);
    assert_eq!(rep.files.len(), 3);
    assert!(rep.skipped_flushed > 0);
    for (fam, e) in by_fam {
        let above = if fam == b"a" { 140 } else { 120 };
        let mut got = drain(e);
        got.sort();
        assert_eq!(got, expected(&fx, REGION, &fam, above), "family {fam:?}");
    }
}

#[test]
fn compaction_with_edits_covers_them() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c1_plain");
    add_store_file(&region, "a", 130);
    let r = read_region(&region);
    let store = r.stores.iter().find(|s| s.family == b"a").unwrap().clone();
    let fams = [b"a".to_vec()];
    let (mut by_fam, _) =
        edits::read_for_region(&r, Some(&fams), &EditsOptions::default()).unwrap();
    let e = by_fam.remove(b"a".as_slice()).unwrap();
    let want = expected(&fx, REGION, b"a", 130);
    assert_eq!(e.cells, want.len() as u64);
    let max_edit = want.iter().map(|t| t.6).max().unwrap();
    let (_, desc) = layout::TableDescriptor::read_table_dir(region.parent().unwrap()).unwrap();
    let fam = desc.family(b"a").unwrap().clone();
    let opts = Options {
        major: false,
        now: 1700100000000,
        keep: true,
        ..Options::default()
    };
    let rep = compact::compact_store_with_edits(&store, &fam, &opts, Some(e), &|_| {}).unwrap();
    assert_eq!(rep.recovered_edits_cells, want.len() as u64);
    assert_eq!(rep.input_cells, want.len() as u64 + 1);
    // A minor compaction keeps every cell (VERSIONS 1000, no TTL).
    assert_eq!(rep.output_cells, rep.input_cells);
    assert_eq!(rep.max_seq_id, max_edit);
    let out = rep.output.unwrap();
    let h = hbkit::hfile::HFile::open(&out).unwrap();
    assert_eq!(h.file_info.get_i64("MAX_SEQ_ID_KEY"), Some(max_edit as i64));
    // The output holds exactly the edits (with their sequence ids) plus the old cell.
    let input = Input::from_hfile(out.clone(), h, None, None);
    let inputs = vec![input];
    let mut m = Merge::new(&inputs).unwrap();
    let mut got = Vec::new();
    while let Some(c) = m.next().unwrap() {
        got.push(tuple(&c.cell().unwrap()));
    }
    got.retain(|t| t.0 != b"a-row-0000" || t.2 != b"x");
    got.sort();
    assert_eq!(got, want);
    // The edits files are still there, and a replay now skips every edit of store a.
    assert!(region.join("recovered.edits/0000000000000000168").is_file());
    std::fs::remove_file(region.join("a/0123456789abcdef0123456789abcdef")).unwrap();
    let r = read_region(&region);
    let (by_fam, rep) = edits::read_for_region(&r, Some(&fams), &EditsOptions::default()).unwrap();
    assert_eq!(by_fam[&b"a".to_vec()].cells, 0);
    assert_eq!(rep.cells, 0);
}

#[test]
fn scan_cli_reads_edits() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c1_plain");
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hfile"))
            .args(["scan", "--raw", "--versions", "100000", "--json"])
            .args(extra)
            .arg(&region)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().lines().count()
    };
    assert_eq!(run(&[]), 0);
    let want: usize = [&b"a"[..], b"b"]
        .iter()
        .map(|f| expected(&fx, REGION, f, 0).len())
        .sum();
    assert_eq!(run(&["--recovered-edits"]), want);
}

#[test]
fn damaged_edits_are_an_error_unless_accepted() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c1_plain");
    let f = region.join("recovered.edits/0000000000000000168");
    let bytes = std::fs::read(&f).unwrap();
    std::fs::write(&f, &bytes[..bytes.len() / 2]).unwrap();
    let r = read_region(&region);
    let e = edits::read_for_region(&r, None, &EditsOptions::default()).unwrap_err();
    assert!(e.to_string().contains("recovered.edits"), "{e}");
    let opts = EditsOptions {
        accept_damaged: true,
        ..EditsOptions::default()
    };
    let (by_fam, rep) = edits::read_for_region(&r, None, &opts).unwrap();
    assert_eq!(rep.damaged.len(), 1);
    let got: u64 = by_fam.values().map(|e| e.cells).sum();
    assert!(
        got > 0
            && got
                < (expected(&fx, REGION, b"a", 0).len() + expected(&fx, REGION, b"b", 0).len())
                    as u64
    );
}

#[test]
fn read_for_store_equals_read_for_region() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c4_rolled");
    add_store_file(&region, "a", 140);
    let r = read_region(&region);
    let (mut by_fam, _) = edits::read_for_region(&r, None, &EditsOptions::default()).unwrap();
    for s in &r.stores {
        let (e, rep) = edits::read_for_store(s, &EditsOptions::default()).unwrap();
        assert_eq!(rep.cells, e.cells);
        let want = drain(by_fam.remove(&s.family).unwrap());
        assert_eq!(drain(e), want, "{:?}", s.family);
    }
}

#[test]
fn hcompact_cli_with_edits() {
    let Some(fx) = common::fixtures() else { return };
    let (_tmp, region) = build_root(&fx, "c1_plain");
    add_store_file(&region, "a", 130);
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_hcompact"))
            .args([
                "--recovered-edits",
                "--now",
                "1700100000000",
                "--threads",
                "1",
            ])
            .args(extra)
            .arg(&region)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let na = expected(&fx, REGION, b"a", 130).len();
    let nb = expected(&fx, REGION, b"b", 0).len();
    let dry = run(&["--dry-run"]);
    assert!(
        dry.contains(&format!("{na} cell(s) from recovered.edits")),
        "{dry}"
    );
    assert!(
        dry.contains(&format!("{nb} cell(s) from recovered.edits")),
        "{dry}"
    );
    let out = run(&["--keep"]);
    assert!(out.contains("wrote"), "{out}");
    // Store b had no files: its new file holds its edits; store a's covers its edits too.
    for (fam, above) in [("a", 130), ("b", 0)] {
        let want = expected(&fx, REGION, fam.as_bytes(), above);
        let max = want.iter().map(|t| t.6).max().unwrap() as i64;
        let newest = std::fs::read_dir(region.join(fam))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                !p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("0123456789")
            })
            .collect::<Vec<_>>();
        assert_eq!(newest.len(), 1, "{fam}: {newest:?}");
        let h = hbkit::hfile::HFile::open(&newest[0]).unwrap();
        assert_eq!(h.file_info.get_i64("MAX_SEQ_ID_KEY"), Some(max), "{fam}");
    }
    assert!(region.join("recovered.edits/0000000000000000168").is_file());
}
