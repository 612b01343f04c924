//! HashTable options over a synthetic table (source-read semantics, §16.9): versions,
//! deletes, time range, families, ignore-timestamps, row range and partitions. Digests
//! are checked against an MD5 computed here from the expected cells.

mod common;

use std::path::{Path, PathBuf};

use hbkit::hashtable::{self, HashOptions};
use hbkit::hfile::{HFileWriter, StoreMeta, WriterOptions};
use hbkit::layout::snapshot::open_source;
use hbkit::layout::{FamilySchema, RegionInfo, TableDescriptor};
use hbkit::store::OwnedCell;
use md5::Digest;

const PUT: u8 = 4;
const DELETE: u8 = 8;

fn cell(row: &str, fam: &str, ts: i64, t: u8, v: &str) -> OwnedCell {
    OwnedCell {
        key: hbkit::cell::make_key(row.as_bytes(), fam.as_bytes(), b"q", ts, t),
        value: v.as_bytes().to_vec(),
        tags: Vec::new(),
        seq_id: 1,
    }
}

/// Table `t`: regions ["", "m") and ["m", ""), families f1 (VERSIONS 5) and f2.
fn make_table(root: &Path) -> PathBuf {
    let mut d = TableDescriptor {
        namespace: b"default".to_vec(),
        name: b"t".to_vec(),
        ..Default::default()
    };
    for f in ["f1", "f2"] {
        let mut fs = FamilySchema {
            name: f.as_bytes().to_vec(),
            ..Default::default()
        };
        fs.attributes.insert("VERSIONS".into(), "5".into());
        d.families.push(fs);
    }
    let tdir = root.join("data/default/t");
    std::fs::create_dir_all(tdir.join(".tabledesc")).unwrap();
    std::fs::write(
        tdir.join(".tabledesc/.tableinfo.0000000001"),
        d.to_file_bytes(),
    )
    .unwrap();
    let regions: [(&str, &str, Vec<OwnedCell>, Vec<OwnedCell>); 2] = [
        (
            "",
            "m",
            vec![
                cell("a", "f1", 3, PUT, "a3"),
                cell("a", "f1", 2, PUT, "a2"),
                cell("a", "f1", 1, PUT, "a1"),
                cell("b", "f1", 5, DELETE, ""),
                cell("b", "f1", 5, PUT, "gone"),
                cell("b", "f1", 4, PUT, "b4"),
            ],
            vec![cell("a", "f2", 7, PUT, "x7")],
        ),
        ("m", "", vec![cell("n", "f1", 9, PUT, "n9")], vec![]),
    ];
    for (s, e, c1, c2) in regions {
        let info = RegionInfo {
            region_id: 1,
            namespace: b"default".to_vec(),
            table: b"t".to_vec(),
            start_key: s.as_bytes().to_vec(),
            end_key: e.as_bytes().to_vec(),
            ..Default::default()
        };
        let rdir = tdir.join(info.encoded_name());
        std::fs::create_dir_all(&rdir).unwrap();
        std::fs::write(rdir.join(".regioninfo"), info.to_file_bytes()).unwrap();
        for (fam, cells) in [("f1", c1), ("f2", c2)] {
            std::fs::create_dir_all(rdir.join(fam)).unwrap();
            if cells.is_empty() {
                continue;
            }
            let mut w = HFileWriter::create(
                rdir.join(fam).join("0123456789abcdef0123456789abcdef"),
                WriterOptions::default(),
            )
            .unwrap();
            for c in &cells {
                w.append(&c.cell().unwrap()).unwrap();
            }
            w.finish(StoreMeta {
                max_seq_id: 1,
                ..Default::default()
            })
            .unwrap();
        }
    }
    tdir
}

/// MD5 of (row, family, qualifier, ts LE, value) for the cells given.
fn md5_of(cells: &[(&str, &str, i64, &str)], ignore_ts: bool) -> [u8; 16] {
    let mut h = md5::Md5::new();
    for (r, f, ts, v) in cells {
        h.update(r.as_bytes());
        h.update(f.as_bytes());
        h.update(b"q");
        if !ignore_ts {
            h.update(ts.to_le_bytes());
        }
        h.update(v.as_bytes());
    }
    h.finalize().into()
}

fn batches(tdir: &Path, o: HashOptions) -> Vec<(String, [u8; 16])> {
    let src = open_source(tdir).unwrap();
    let (b, _) = hashtable::compute(&src, &o).unwrap();
    b.into_iter()
        .map(|b| (String::from_utf8(b.key).unwrap(), b.hash))
        .collect()
}

fn opts() -> HashOptions {
    HashOptions {
        batch_size: 1 << 20,
        now: 1_000,
        ..HashOptions::default()
    }
}

#[test]
fn options_shape_the_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let t = make_table(tmp.path());
    let first_region_default = [
        ("a", "f1", 3, "a3"),
        ("a", "f2", 7, "x7"),
        ("b", "f1", 4, "b4"),
    ];
    let n = md5_of(&[("n", "f1", 9, "n9")], false);
    // Default: one version, the delete hides b@5.
    assert_eq!(
        batches(&t, opts()),
        vec![
            ("".into(), md5_of(&first_region_default, false)),
            ("m".into(), n)
        ]
    );
    // --versions 3.
    let b = batches(
        &t,
        HashOptions {
            versions: 3,
            ..opts()
        },
    );
    assert_eq!(
        b[0].1,
        md5_of(
            &[
                ("a", "f1", 3, "a3"),
                ("a", "f1", 2, "a2"),
                ("a", "f1", 1, "a1"),
                ("a", "f2", 7, "x7"),
                ("b", "f1", 4, "b4"),
            ],
            false
        )
    );
    // --ignore-timestamps.
    let b = batches(
        &t,
        HashOptions {
            ignore_timestamps: true,
            ..opts()
        },
    );
    assert_eq!(b[0].1, md5_of(&first_region_default, true));
    // Time range [1, 3): the newest version inside it.
    let b = batches(
        &t,
        HashOptions {
            start_time: 1,
            end_time: 3,
            ..opts()
        },
    );
    assert_eq!(b[0].1, md5_of(&[("a", "f1", 2, "a2")], false));
    // --families f2; the second region then has nothing: the digest of nothing.
    let b = batches(
        &t,
        HashOptions {
            families: Some("f2".into()),
            ..opts()
        },
    );
    assert_eq!(b[0].1, md5_of(&[("a", "f2", 7, "x7")], false));
    assert_eq!(
        hbkit::bytes::to_hex(&b[1].1),
        "d41d8cd98f00b204e9800998ecf8427e"
    );
    // Small batches: a new batch at each row once the size is reached.
    let b = batches(
        &t,
        HashOptions {
            batch_size: 1,
            ..opts()
        },
    );
    let keys: Vec<&str> = b.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["", "b", "m"]);
    // A start row inside the first region keys its first batch.
    let o = HashOptions {
        start_row: b"aa".to_vec(),
        stop_row: b"z".to_vec(),
        ..opts()
    };
    let b = batches(&t, o.clone());
    assert_eq!(b[0], ("aa".into(), md5_of(&[("b", "f1", 4, "b4")], false)));
    assert_eq!(b[1].0, "m");
    // Output: partitions at region start keys, manifest with the row range in hex.
    let out = tmp.path().join("ht");
    let src = open_source(&t).unwrap();
    let w = hashtable::write_output(
        &src,
        &HashOptions {
            num_hash_files: 5,
            ..o
        },
        &out,
        &hashtable::OutputOptions::default(),
    )
    .unwrap();
    assert_eq!(w.num_hash_files, 2);
    let r = hashtable::read_output(&out).unwrap();
    assert_eq!(r.partitions, vec![b"m".to_vec()]);
    let text = std::fs::read_to_string(out.join("manifest")).unwrap();
    assert!(text.contains("startRowHex=6161\n"), "{text}");
    assert!(text.contains("stopRowHex=7a\n"), "{text}");
    assert!(text.contains("numHashFiles=2\n"), "{text}");
    assert!(!text.contains("rawScan"), "{text}");
    // diff against the output uses the manifest's row range.
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_hfile"))
        .args(["diff", "--now", "1000"])
        .arg(&out)
        .arg(&t)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
