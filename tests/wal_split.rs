//! `hwal split` / `replay` / `edits-needed` end to end: HBase 0.98's own splitter output is
//! the reference (file names, entries, bytes); round trip split → replay → HFiles; hostile
//! names never escape `--out`; reruns are idempotent.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hbkit::cell::{make_key, Key};
use hbkit::wal::{WalKey, WalReader, WalWriter, WriteOptions};

fn hwal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwal"))
        .args(args)
        .output()
        .expect("run hwal")
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn rel_files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = common::walk(dir)
        .into_iter()
        .map(|p| s(p.strip_prefix(dir).unwrap()))
        .collect();
    v.sort();
    v
}

type Ent = (WalKey, Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>);

fn entries(p: &Path) -> (Vec<Ent>, bool) {
    let mut r = WalReader::open(p).unwrap();
    let mut v = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        v.push((
            e.key.clone(),
            e.cells()
                .map(|c| (c.key.raw().to_vec(), c.value.to_vec(), c.tags.to_vec()))
                .collect(),
        ));
    }
    (v, r.ending().is_damage())
}

const VARIANTS: [&str; 9] = [
    "c1_plain",
    "c2_compressed",
    "c3_tags",
    "c3_tags_compressed",
    "c4_rolled",
    "c5_no_trailer",
    "c5_truncated_mid_entry",
    "c6_empty",
    "c6_header_only",
];

#[test]
fn split_matches_hbase_splitter() {
    let Some(fx) = common::fixtures() else { return };
    let base = fx.join("hbase098");
    let tmp = tempfile::tempdir().unwrap();
    let mut identical = 0;
    let mut total = 0;
    for v in VARIANTS {
        let out = tmp.path().join(v);
        let o = hwal(&["split", &s(&base.join("wal").join(v)), "--out", &s(&out)]);
        let want_code = if v == "c5_truncated_mid_entry" { 1 } else { 0 };
        assert_eq!(
            o.status.code(),
            Some(want_code),
            "{v}: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        let theirs_dir = base.join("wal-split").join(v);
        let theirs = if theirs_dir.is_dir() {
            rel_files(&theirs_dir)
        } else {
            Vec::new()
        };
        let ours = if out.is_dir() {
            rel_files(&out)
        } else {
            Vec::new()
        };
        assert_eq!(ours, theirs, "{v}: file names");
        if v.starts_with("c6") {
            assert!(ours.is_empty());
        }
        for f in &theirs {
            let (a, b) = (theirs_dir.join(f), out.join(f));
            let (ea, da) = entries(&a);
            let (eb, db) = entries(&b);
            assert!(!da && !db, "{v}/{f}: damage");
            assert_eq!(ea.len(), eb.len(), "{v}/{f}: entry count");
            for (i, (x, y)) in ea.iter().zip(&eb).enumerate() {
                assert_eq!(x, y, "{v}/{f}: entry {i}");
            }
            total += 1;
            if std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap() {
                identical += 1;
            } else {
                eprintln!("{v}/{f}: same entries, different bytes");
            }
        }
    }
    eprintln!("{identical}/{total} recovered.edits files byte-identical to HBase 0.98's");
    // Observed: every file, including the dictionary-compressed ones, is byte-identical.
    assert_eq!(identical, total);
    assert_eq!(total, 3 * 6 + 12);
}

#[test]
fn split_is_idempotent_and_parallel() {
    let Some(fx) = common::fixtures() else { return };
    let wal = fx.join("hbase098/wal/c4_rolled");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("root");
    let o = hwal(&["split", "-j", "2", &s(&wal), "--out", &s(&out)]);
    assert_eq!(o.status.code(), Some(0));
    let first: BTreeMap<String, Vec<u8>> = rel_files(&out)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(out.join(&f)).unwrap()))
        .collect();
    assert_eq!(first.len(), 12);
    let o = hwal(&["split", &s(&wal), "--out", &s(&out), "--json"]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    assert_eq!(text.lines().count(), 4);
    assert!(text.contains("kept_existing"));
    let second: BTreeMap<String, Vec<u8>> = rel_files(&out)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(out.join(&f)).unwrap()))
        .collect();
    assert_eq!(
        first, second,
        "a rerun leaves the same files (no .temp left over)"
    );
}

fn key(table: &[u8], region: &[u8], seq: u64) -> WalKey {
    WalKey {
        encoded_region: region.to_vec(),
        table: table.to_vec(),
        sequence_id: seq,
        write_time: 1_700_000_000_000 + seq,
        ..WalKey::default()
    }
}

#[test]
fn hostile_names_never_escape_out() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = tmp.path().join("rs%2C1%2C1.1700000000000");
    let good = b"43ae7364b4a555b93267937f9bc49ec1";
    let k = make_key(b"r", b"f", b"q", 1, 4);
    let cell = hbkit::cell::Cell {
        key: Key::parse(&k).unwrap(),
        value: b"v",
        tags: &[],
        seq_id: 0,
    };
    let mut w = WalWriter::new(Vec::new(), WriteOptions::default()).unwrap();
    for (i, (t, r)) in [
        (&b"../../evil"[..], &good[..]),
        (b"ns:..", good),
        (b"t1", b"../../../tmp/x"),
        (b"t1", b".."),
        (b"a/b", good),
        (b"t1", good),
    ]
    .iter()
    .enumerate()
    {
        w.append(&key(t, r, i as u64 + 1), &[cell]).unwrap();
    }
    let (bytes, _) = w.finish().unwrap();
    std::fs::write(&wal, bytes).unwrap();
    let out = tmp.path().join("a/out");
    let o = hwal(&["split", &s(&wal), "--out", &s(&out)]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.matches("REJECTED").count(), 5, "{stdout}");
    assert!(stdout.contains("1 written to 1 file"), "{stdout}");
    // Only the legal entry was written, and only under --out.
    let all = rel_files(tmp.path());
    assert_eq!(
        all,
        vec![
            "a/out/data/default/t1/43ae7364b4a555b93267937f9bc49ec1/recovered.edits/0000000000000000006".to_string(),
            "rs%2C1%2C1.1700000000000".to_string()
        ]
    );
}

/// Cells of an input per (table, region, family): (key, value, tags, seq), after HBase's
/// memstore rule that an equal key with an equal seq id replaces the earlier cell.
type Cells = BTreeMap<(String, String, String), Vec<(Vec<u8>, Vec<u8>, Vec<u8>, u64)>>;

fn wal_cells(files: &[PathBuf]) -> Cells {
    type ByKey = BTreeMap<(Vec<u8>, u64), (Vec<u8>, Vec<u8>)>;
    let mut m: BTreeMap<(String, String, String), ByKey> = BTreeMap::new();
    for f in files {
        let mut r = WalReader::open(f).unwrap();
        while let Some(e) = r.next_entry().unwrap() {
            for c in e.cells() {
                if c.key.family() == b"METAFAMILY" {
                    continue;
                }
                m.entry((
                    e.key.table_str(),
                    e.key.region_str(),
                    String::from_utf8_lossy(c.key.family()).into_owned(),
                ))
                .or_default()
                .insert(
                    (c.key.raw().to_vec(), e.key.sequence_id),
                    (c.value.to_vec(), c.tags.to_vec()),
                );
            }
        }
    }
    m.into_iter()
        .map(|(k, v)| {
            let mut cells: Vec<_> = v.into_iter().map(|((k, s), (v, t))| (k, v, t, s)).collect();
            cells.sort();
            (k, cells)
        })
        .collect()
}

fn hfile_cells(out: &Path) -> (Cells, usize) {
    let mut m: Cells = BTreeMap::new();
    let files = common::walk(out);
    for p in &files {
        let rel: Vec<String> = p
            .strip_prefix(out)
            .unwrap()
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let (table, region, family) = (rel[0].clone(), rel[1].clone(), rel[2].clone());
        let h = hbkit::hfile::HFile::open(p).unwrap();
        let mut sc = h.scanner();
        let mut prev: Option<(Vec<u8>, u64)> = None;
        let v = m.entry((table, region, family)).or_default();
        while let Some(c) = sc.next_cell().unwrap() {
            // Sorted: key order, then newest (largest seq id) first.
            if let Some((pk, ps)) = &prev {
                let o = hbkit::cell::Order::Normal.compare(&Key::parse(pk).unwrap(), &c.key);
                assert!(
                    o.is_lt() || (o.is_eq() && *ps > c.seq_id),
                    "order in {}",
                    p.display()
                );
            }
            prev = Some((c.key.raw().to_vec(), c.seq_id));
            v.push((
                c.key.raw().to_vec(),
                c.value.to_vec(),
                c.tags.to_vec(),
                c.seq_id,
            ));
        }
    }
    for v in m.values_mut() {
        v.sort();
    }
    (m, files.len())
}

#[test]
fn split_then_replay_round_trip() {
    let Some(fx) = common::fixtures() else { return };
    for v in ["c3_tags", "c4_rolled", "c3_tags_compressed"] {
        let tmp = tempfile::tempdir().unwrap();
        let input = fx.join("hbase098/wal").join(v);
        let root = tmp.path().join("root");
        assert_eq!(
            hwal(&["split", &s(&input), "--out", &s(&root)])
                .status
                .code(),
            Some(0)
        );
        let out = tmp.path().join("hfiles");
        // A small memory bound forces several HFiles per store for the rolled set.
        let o = hwal(&["replay", &s(&root), "--out", &s(&out), "--memory-mb", "0"]);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let want = wal_cells(&common::walk(&input));
        let (got, nfiles) = hfile_cells(&out);
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{v}"
        );
        for (k, w) in &want {
            assert_eq!(got.get(k), Some(w), "{v}: {k:?}");
        }
        assert!(nfiles >= 7, "{v}: {nfiles}");
    }
}

#[test]
fn replay_one_region_table_dir_and_edits_needed() {
    let Some(fx) = common::fixtures() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    let input = fx.join("hbase098/wal/c1_plain");
    assert_eq!(
        hwal(&["split", &s(&input), "--out", &s(&root)])
            .status
            .code(),
        Some(0)
    );
    let region = root.join("data/default/t1/43ae7364b4a555b93267937f9bc49ec1");
    // One region: DIR/<family>/<hfile>.
    let out = tmp.path().join("one");
    let o = hwal(&[
        "replay",
        &s(&region),
        "--out",
        &s(&out),
        "--table-map",
        "t1:ns9:t9",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let fams: Vec<String> = rel_files(&out)
        .into_iter()
        .map(|f| f.split('/').next().unwrap().to_string())
        .collect();
    assert_eq!(fams, vec!["a", "b"]);
    // Store files that hold everything: replay with --table-dir skips all of it, and
    // edits-needed calls the file skippable.
    for f in rel_files(&out) {
        let to = region.join(&f);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(out.join(&f), &to).unwrap();
    }
    let again = tmp.path().join("again");
    let o = hwal(&[
        "replay",
        &s(&root.join("data/default/t1")),
        "--out",
        &s(&again),
        "--table-dir",
        &s(&root.join("data/default/t1")),
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8(o.stdout).unwrap();
    let summary: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(summary["skipped_already_in_store"], 86, "{text}");
    assert!(!again.join("t1/43ae7364b4a555b93267937f9bc49ec1").exists());
    let o = hwal(&["edits-needed", "--json", "--read", &s(&region)]);
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["min_store_seq_id"], 167);
    // The file is named 168 > 167, so region open reads it, but applies nothing.
    assert_eq!(j["files"][0]["verdict"], "needed");
    assert_eq!(j["files"][0]["cells_to_apply"], 0);
    // A time range that excludes everything.
    let tr = tmp.path().join("tr");
    let o = hwal(&[
        "replay",
        &s(&region),
        "--out",
        &s(&tr),
        "--time-range",
        "..5",
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(!tr.exists() || rel_files(&tr).is_empty());
}

/// A WAL of `regions` regions (two tables) in interleaved entries, with a meta edit first
/// for one region and a replication marker, plain or dictionary-compressed.
fn many_regions_wal(path: &Path, regions: usize, compressed: bool) {
    let opts = WriteOptions {
        compression: compressed,
        tag_compression: compressed,
        ..WriteOptions::default()
    };
    let mut w = WalWriter::new(Vec::new(), opts).unwrap();
    let region = |i: usize| format!("{:032x}", 0x9e37_79b9_7f4a_7c15u128 * (i as u128 + 1));
    let table = |i: usize| if i % 2 == 0 { &b"t1"[..] } else { b"ns1:t2" };
    let meta = make_key(b"r", b"METAFAMILY", b"HBASE::FLUSH", 1, 4);
    let marker = make_key(b"r", b"METAFAMILY", b"HBASE::REPLICATION_MARKER", 1, 4);
    for (k, i) in [(&meta, 7usize), (&marker, 3)] {
        let c = hbkit::cell::Cell {
            key: Key::parse(k).unwrap(),
            value: b"m",
            tags: &[],
            seq_id: 0,
        };
        w.append(&key(table(i), region(i).as_bytes(), 1), &[c])
            .unwrap();
    }
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for seq in 2..(regions as u64 * 12) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let i = (x % regions as u64) as usize;
        let keys: Vec<Vec<u8>> = (0..3)
            .map(|q| {
                make_key(
                    format!("row{}", x % 1000).as_bytes(),
                    b"cf",
                    format!("q{q}").as_bytes(),
                    seq as i64,
                    4,
                )
            })
            .collect();
        let val = format!("value-{x}");
        let cells: Vec<_> = keys
            .iter()
            .map(|k| hbkit::cell::Cell {
                key: Key::parse(k).unwrap(),
                value: val.as_bytes(),
                tags: if seq % 5 == 0 {
                    &[0, 3, 7, b'x', b'y'][..]
                } else {
                    &[]
                },
                seq_id: 0,
            })
            .collect();
        w.append(&key(table(i), region(i).as_bytes(), seq), &cells)
            .unwrap();
    }
    std::fs::write(path, w.finish().unwrap().0).unwrap();
}

fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    rel_files(dir)
        .into_iter()
        .map(|f| (f.clone(), std::fs::read(dir.join(&f)).unwrap()))
        .collect()
}

#[test]
fn open_file_cap_gives_identical_output() {
    let tmp = tempfile::tempdir().unwrap();
    for compressed in [false, true] {
        let wal = tmp
            .path()
            .join(format!("rs%2C1%2C1.17000000000{}", u8::from(compressed)));
        many_regions_wal(&wal, 50, compressed);
        let mut trees = Vec::new();
        let mut reports = Vec::new();
        for cap in ["0", "8", "50"] {
            let out = tmp.path().join(format!("out-{compressed}-{cap}"));
            let o = hwal(&[
                "split",
                &s(&wal),
                "--out",
                &s(&out),
                "--json",
                "--max-open-files",
                cap,
            ]);
            assert_eq!(o.status.code(), Some(0), "{o:?}");
            let mut rep: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
            let passes = rep["passes"].as_u64().unwrap();
            let peak = rep["peak_open_files"].as_u64().unwrap();
            match cap {
                "8" => assert_eq!((passes, peak), (7, 8), "50 regions in groups of 8"),
                _ => assert_eq!((passes, peak), (1, 50)),
            }
            assert_eq!(rep["skipped_meta_edits"], 1);
            assert_eq!(rep["skipped_replication_markers"], 1);
            let o = rep.as_object_mut().unwrap();
            o.remove("passes");
            o.remove("peak_open_files");
            // Paths differ by --out only.
            let text = rep.to_string().replace(&s(&out), "OUT");
            reports.push(text);
            trees.push(tree(&out));
        }
        assert_eq!(trees[0].len(), 50);
        assert!(trees[0].keys().all(|k| !k.ends_with(".temp")));
        assert_eq!(trees[0], trees[1], "cap 8 writes the same files as no cap");
        assert_eq!(trees[0], trees[2]);
        assert_eq!(
            reports[0], reports[1],
            "same report, outputs in the same order"
        );
        assert_eq!(reports[0], reports[2]);
    }
}

/// The cap holds against the operating system's own limit: with 40 file descriptors a
/// 100-region WAL splits under a cap of 16 and fails without one.
#[test]
fn open_file_cap_fits_a_low_fd_limit() {
    let tmp = tempfile::tempdir().unwrap();
    let wal = tmp.path().join("rs%2C1%2C1.1700000000000");
    many_regions_wal(&wal, 100, false);
    let run = |cap: &str, out: &str| {
        Command::new("sh")
            .arg("-c")
            .arg("ulimit -n 40 && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_hwal"))
            .args(["split", "-j", "1", "-q", "--max-open-files", cap])
            .arg(&wal)
            .arg("--out")
            .arg(tmp.path().join(out))
            .output()
            .unwrap()
    };
    let o = run("16", "capped");
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(rel_files(&tmp.path().join("capped")).len(), 100);
    let o = run("0", "uncapped");
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("open files"),
        "{o:?}"
    );
    assert!(
        rel_files(&tmp.path().join("uncapped"))
            .iter()
            .all(|f| !f.ends_with(".temp")),
        "a failed split leaves no temporary files"
    );
}
