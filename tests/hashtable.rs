//! `HashTable` recomputed from the snapshots' HFiles reproduces HBase's own output byte
//! for byte (with each file's sync marker taken from HBase's file), and the CLI writes
//! the same hashes.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hbkit::hashtable::{self, HashOptions, Manifest};
use hbkit::layout::snapshot::open_source;
use hbkit::seqfile;

fn sets() -> Option<Vec<(PathBuf, PathBuf)>> {
    let f = common::fixtures()?.join("real/java-bigtable-hbase");
    Some(
        ["EndToEndIT-snapshot_2022-05", "integration-test_2022-04"]
            .iter()
            .map(|s| {
                (
                    f.join(s).join("data/.hbase-snapshot/test-snapshot"),
                    f.join(s).join("hashtable"),
                )
            })
            .collect(),
    )
}

fn rel_files(dir: &Path) -> Vec<String> {
    common::walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().to_string_lossy().into_owned())
        .collect()
}

fn assert_same_output(ours: &Path, hbase: &Path) {
    assert_eq!(rel_files(ours), rel_files(hbase));
    for rel in rel_files(hbase) {
        let a = std::fs::read(ours.join(&rel)).unwrap();
        let b = std::fs::read(hbase.join(&rel)).unwrap();
        if rel == "manifest" {
            let ma = Manifest::parse(std::str::from_utf8(&a).unwrap()).unwrap();
            let mb = Manifest::parse(std::str::from_utf8(&b).unwrap()).unwrap();
            assert_eq!(ma, mb, "manifest fields");
            // Same lines apart from the date comment.
            let body = |t: &[u8]| {
                String::from_utf8_lossy(t)
                    .lines()
                    .skip(1)
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            };
            assert_eq!(body(&a), body(&b));
        } else {
            assert!(a == b, "{rel} differs ({} vs {} bytes)", a.len(), b.len());
        }
    }
}

fn marker_of(file: &Path) -> [u8; 16] {
    seqfile::read_file(file).unwrap().0.sync
}

#[test]
fn hashtable_output_is_byte_identical_to_hbase() {
    let Some(sets) = sets() else { return };
    for (snap, hbase) in sets {
        let src = open_source(&snap).unwrap();
        let opts = HashOptions {
            batch_size: 10,
            num_hash_files: 10,
            ..HashOptions::default()
        };
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let hb = hbase.clone();
        let markers = move |rel: &str| marker_of(&hb.join(rel));
        let t = std::time::Instant::now();
        let w = hashtable::write_output(
            &src,
            &opts,
            &out,
            &hashtable::OutputOptions {
                markers: Some(&markers),
                ..Default::default()
            },
        )
        .unwrap();
        eprintln!(
            "{}: {} regions, {} batches, {} cells in {:?}",
            snap.display(),
            w.stats.regions,
            w.stats.batches,
            w.stats.cells,
            t.elapsed()
        );
        assert_eq!(w.num_hash_files, 10);
        assert_same_output(&out, &hbase);
        // Reading it back gives HBase's batches.
        let a = hashtable::read_output(&out).unwrap();
        let b = hashtable::read_output(&hbase).unwrap();
        assert_eq!(a.batches, b.batches);
        assert_eq!(a.partitions, b.partitions);
    }
}

#[test]
fn cli_hashtable_matches_hbase_hashes_and_refuses_nonempty_out() {
    let Some(sets) = sets() else { return };
    let (snap, hbase) = &sets[1];
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ht");
    let run = |out: &Path| {
        Command::new(env!("CARGO_BIN_EXE_hfile"))
            .args(["hashtable", "--batch-size", "10", "--num-hash-files", "10"])
            .arg(snap)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    let o = run(&out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let a = hashtable::read_output(&out).unwrap();
    let b = hashtable::read_output(hbase).unwrap();
    assert_eq!(a.batches.len(), 101);
    assert_eq!(a.batches, b.batches);
    assert!(out.join("hashes/_SUCCESS").is_file());
    // Byte for byte once HBase's sync marker is put in place of ours, file by file.
    for rel in rel_files(hbase) {
        let ours = std::fs::read(out.join(&rel)).unwrap();
        let theirs = std::fs::read(hbase.join(&rel)).unwrap();
        if rel == "manifest" || rel.ends_with("_SUCCESS") {
            continue;
        }
        let (our_sync, their_sync) = (marker_of(&out.join(&rel)), marker_of(&hbase.join(&rel)));
        let mut fixed = Vec::with_capacity(ours.len());
        let mut i = 0;
        while i < ours.len() {
            if ours[i..].starts_with(&our_sync) {
                fixed.extend_from_slice(&their_sync);
                i += 16;
            } else {
                fixed.push(ours[i]);
                i += 1;
            }
        }
        assert!(
            fixed == theirs,
            "{rel} differs after substituting the sync marker"
        );
    }
    // No temp dir left behind.
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 1);
    // A second run into the same (now non-empty) dir is refused.
    let o = run(&out);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not empty"));
}
