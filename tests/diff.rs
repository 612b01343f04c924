//! `hfile diff`: equal for a snapshot against itself and against HBase's own HashTable
//! output; different where timestamps differ (equal with --ignore-timestamps); and
//! exactly the cells a test changed in a copy.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hbkit::hfile::{HFile, HFileWriter, StoreMeta, WriterOptions};
use hbkit::layout::snapshot::read_snapshot;
use hbkit::store::OwnedCell;

fn jbh() -> Option<PathBuf> {
    Some(common::fixtures()?.join("real/java-bigtable-hbase"))
}

fn diff(args: &[&str], a: &Path, b: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hfile"))
        .arg("diff")
        .args(args)
        .arg(a)
        .arg(b)
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn diff_of_fixture_sets() {
    let Some(f) = jbh() else { return };
    let e2e = f.join("EndToEndIT-snapshot_2022-05/data/.hbase-snapshot/test-snapshot");
    let it = f.join("integration-test_2022-04/data/.hbase-snapshot/test-snapshot");
    let td = f.join("test-data_2020-12/.hbase-snapshot/test-snapshot");
    // A snapshot against itself.
    let o = diff(&[], &e2e, &e2e);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Same cells, other timestamps (integration-test_2022-04 vs test-data_2020-12).
    let o = diff(&[], &it, &td);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("changed ")).count(),
        100
    );
    assert!(out.contains(
        "changed  K: 1/cf:a/1609291279317/Put V: value1 -> K: 1/cf:a/1607574567345/Put V: value1"
    ));
    let o = diff(&["--ignore-timestamps"], &it, &td);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // EndToEndIT has other rows ('00'..'99' vs '1'..'100'): different even without timestamps.
    let o = diff(&["--ignore-timestamps", "--json"], &e2e, &td);
    assert_eq!(o.status.code(), Some(1));
    let last: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(last["kind"], "summary");
    assert_eq!(last["missing"], 10); // rows 00..09
    assert_eq!(last["extra"], 10); // rows 1..9 and 100
                                   // HBase's own HashTable output against the snapshot it was made from: equal; against
                                   // the other timestamps: every range but the empty first region differs.
    let ht = f.join("integration-test_2022-04/hashtable");
    let o = diff(&[], &ht, &it);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("101 ranges, 101 matched"));
    let o = diff(&[], &ht, &td);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        stdout(&o)
            .lines()
            .filter(|l| l.starts_with("range "))
            .count(),
        100
    );
    let o = diff(&[], &f.join("EndToEndIT-snapshot_2022-05/hashtable"), &e2e);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Two HashTable outputs with the same batch keys compare range by range.
    let tmp = tempfile::tempdir().unwrap();
    let ht_td = tmp.path().join("ht");
    let o = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .args(["hashtable", "--batch-size", "10", "--num-hash-files", "10"])
        .arg(&td)
        .arg("--out")
        .arg(&ht_td)
        .output()
        .unwrap();
    assert!(o.status.success());
    let o = diff(&[], &ht, &ht_td);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stdout(&o).contains("101 ranges, 1 matched, 100 differ"),
        "{}",
        stdout(&o)
    );
    let o = diff(&["--ignore-timestamps"], &ht_td, &td);
    assert_eq!(
        o.status.code(),
        Some(1),
        "ignore-timestamps is not in the manifest"
    );
    // Different batch keys cannot be compared without the data.
    let o = diff(&[], &ht, &f.join("EndToEndIT-snapshot_2022-05/hashtable"));
    assert_eq!(o.status.code(), Some(2));
    // A usage problem exits 2.
    let o = diff(&["--families", "cf"], &ht, &it);
    assert_eq!(o.status.code(), Some(2));
}

fn cells(path: &Path) -> Vec<OwnedCell> {
    let h = HFile::open(path).unwrap();
    let mut s = h.scanner();
    let mut out = Vec::new();
    while let Some(c) = s.next_cell().unwrap() {
        out.push(OwnedCell::from_cell(&c));
    }
    out
}

fn write_hfile(path: &Path, cells: &[OwnedCell]) {
    let mut w = HFileWriter::create(path, WriterOptions::default()).unwrap();
    for c in cells {
        w.append(&c.cell().unwrap()).unwrap();
    }
    w.finish(StoreMeta {
        max_seq_id: 100,
        ..StoreMeta::default()
    })
    .unwrap();
}

/// Lay a snapshot out as a table dir: `.tabledesc`, and per region `.regioninfo` plus a
/// copy of its store files.
fn table_copy(snapshot: &Path, root: &Path) -> PathBuf {
    let s = read_snapshot(snapshot).unwrap();
    let tdir = root.join("data/default").join(s.descriptor.display_name());
    std::fs::create_dir_all(tdir.join(".tabledesc")).unwrap();
    std::fs::write(
        tdir.join(".tabledesc/.tableinfo.0000000001"),
        s.descriptor.to_file_bytes(),
    )
    .unwrap();
    for r in &s.regions {
        let info = r.info.as_ref().unwrap();
        let rdir = tdir.join(&r.encoded_name);
        std::fs::create_dir_all(&rdir).unwrap();
        std::fs::write(rdir.join(".regioninfo"), info.to_file_bytes()).unwrap();
        for st in &r.stores {
            let fdir = rdir.join(String::from_utf8_lossy(&st.family).as_ref());
            std::fs::create_dir_all(&fdir).unwrap();
            for sf in &st.files {
                std::fs::copy(&sf.data_path, fdir.join(sf.path.file_name().unwrap())).unwrap();
            }
        }
    }
    tdir
}

fn region_file(tdir: &Path, start: &[u8]) -> PathBuf {
    let t = hbkit::layout::read_table(
        tdir,
        &hbkit::layout::Context::for_path(tdir),
        &mut Vec::new(),
    )
    .unwrap();
    let r = t
        .regions
        .iter()
        .find(|r| r.info.as_ref().unwrap().start_key == start)
        .unwrap();
    r.stores[0].files[0].path.clone()
}

#[test]
fn diff_finds_exactly_the_altered_cells() {
    let Some(f) = jbh() else { return };
    let snap = f.join("EndToEndIT-snapshot_2022-05/data/.hbase-snapshot/test-snapshot");
    let tmp = tempfile::tempdir().unwrap();
    let tdir = table_copy(&snap, tmp.path());
    // An unaltered copy is equal.
    let o = diff(&[], &snap, &tdir);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // HashTable of the table dir = HBase's HashTable of the snapshot.
    let ht = tmp.path().join("ht");
    let o = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .args([
            "hashtable",
            "--batch-size",
            "10",
            "--num-hash-files",
            "10",
            "--json",
        ])
        .arg(&tdir)
        .arg("--out")
        .arg(&ht)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    assert_eq!(j["stats"]["cells"], 100);
    assert_eq!(
        hbkit::hashtable::read_output(&ht).unwrap().batches,
        hbkit::hashtable::read_output(&f.join("EndToEndIT-snapshot_2022-05/hashtable"))
            .unwrap()
            .batches
    );

    // Region [30, 40): add row 35x, delete row 33, change the value of row 37.
    let file = region_file(&tdir, b"30");
    let mut cs = cells(&file);
    assert_eq!(cs.len(), 10);
    let k33 = cs
        .iter()
        .position(|c| c.cell().unwrap().key.row() == b"33")
        .unwrap();
    cs.remove(k33);
    for c in cs.iter_mut() {
        if c.cell().unwrap().key.row() == b"37" {
            c.value = b"CHANGED".to_vec();
        }
    }
    let added = OwnedCell {
        key: hbkit::cell::make_key(b"35x", b"cf", b"a", 1617828990, 4),
        value: b"new".to_vec(),
        tags: Vec::new(),
        seq_id: 0,
    };
    let at = cs
        .iter()
        .position(|c| c.cell().unwrap().key.row() > b"35x".as_slice())
        .unwrap();
    cs.insert(at, added);
    std::fs::remove_file(&file).unwrap();
    write_hfile(&file, &cs);
    // Region [60, 70): its files deleted.
    std::fs::remove_file(region_file(&tdir, b"60")).unwrap();

    let o = diff(&["--batch-size", "30"], &snap, &tdir);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    let mut expect = vec![
        "missing  K: 33/cf:a/1617828990/Put V: value33".to_string(),
        "extra    K: 35x/cf:a/1617828990/Put V: new".to_string(),
        "changed  K: 37/cf:a/1617828990/Put V: value37 -> K: 37/cf:a/1617828990/Put V: CHANGED"
            .to_string(),
    ];
    for i in 60..70 {
        expect.push(format!("missing  K: {i}/cf:a/1617828990/Put V: value{i}"));
    }
    assert_eq!(&lines[..lines.len() - 1], &expect[..], "{out}");
    assert!(lines
        .last()
        .unwrap()
        .contains("11 missing, 1 extra, 1 changed"));
    // The other direction swaps missing and extra.
    let o = diff(&["--json"], &tdir, &snap);
    assert_eq!(o.status.code(), Some(1));
    let sum: serde_json::Value = serde_json::from_str(stdout(&o).lines().last().unwrap()).unwrap();
    assert_eq!(
        (sum["missing"].as_u64(), sum["extra"].as_u64()),
        (Some(1), Some(11))
    );
    assert_eq!(sum["changed"], 1);
}
