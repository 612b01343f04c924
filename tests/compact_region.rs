//! `hcompact` on a copy of HBase 0.98's region-precompact must give, per family, one file
//! whose cells and store-file metadata equal HBase's own major-compaction output.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hbkit::hfile::fileinfo::keys;
use hbkit::hfile::HFile;

const REGION: &str = "data/default/cmp/fb5d22902cb67d7fe966b4e2bc575fbe";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
            let mut perm = std::fs::metadata(&dest).unwrap().permissions();
            #[allow(clippy::permissions_set_readonly_false)]
            perm.set_readonly(false);
            std::fs::set_permissions(&dest, perm).unwrap();
        }
    }
}

fn store_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .collect();
    v.sort();
    v
}

fn cells(f: &HFile) -> Vec<common::SideCell> {
    let mut s = f.scanner();
    let mut out = Vec::new();
    while let Some(c) = s.next_cell().unwrap() {
        out.push(common::side_cell(&c));
    }
    out
}

#[test]
fn hcompact_matches_hbase_major_compaction() {
    let Some(fx) = common::fixtures() else { return };
    let pre = fx.join("hbase098/region-precompact");
    let post = fx.join("hbase098/region-postcompact");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&pre, &root);
    let region = root.join(REGION);

    let out = Command::new(env!("CARGO_BIN_EXE_hcompact"))
        .args(["--now", "1700100000000"])
        .arg(&region)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "hcompact failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    for (family, want_cells) in [("kd", 252usize), ("v3ttl", 360)] {
        let ours = store_files(&region.join(family));
        assert_eq!(ours.len(), 1, "{family}: {ours:?}");
        let theirs = store_files(&post.join(REGION).join(family));
        assert_eq!(theirs.len(), 1);
        let a = HFile::open(&ours[0]).unwrap();
        let b = HFile::open(&theirs[0]).unwrap();
        let (ca, cb) = (cells(&a), cells(&b));
        assert_eq!(cb.len(), want_cells);
        assert_eq!(ca.len(), cb.len(), "{family}: cell count");
        for (i, (x, y)) in ca.iter().zip(&cb).enumerate() {
            assert_eq!(x, y, "{family}: cell {i}");
        }
        let (fa, fb) = (&a.file_info, &b.file_info);
        assert_eq!(fa.get_bool(keys::MAJOR_COMPACTION_KEY), Some(true));
        for k in [
            keys::MAJOR_COMPACTION_KEY,
            keys::BLOOM_FILTER_TYPE,
            keys::DATA_BLOCK_ENCODING,
        ] {
            assert_eq!(fa.get(k), fb.get(k), "{family}: {k}");
        }
        for k in [
            keys::MAX_SEQ_ID_KEY,
            keys::EARLIEST_PUT_TS,
            keys::DELETE_FAMILY_COUNT,
        ] {
            assert_eq!(fa.get_i64(k), fb.get_i64(k), "{family}: {k}");
            assert!(fa.get_i64(k).is_some(), "{family}: {k} missing");
        }
        assert_eq!(fa.get_i64(keys::MAX_SEQ_ID_KEY), Some(1024));
        assert_eq!(fa.time_range(), fb.time_range(), "{family}: TIMERANGE");
        assert_eq!(a.bloom_type, b.bloom_type);
        assert_eq!(a.encoding, b.encoding);
        assert_eq!(a.compression, b.compression);
        assert_eq!(
            fa.includes_mvcc(),
            fb.includes_mvcc(),
            "{family}: mvcc flag"
        );
        assert_eq!(fa.includes_tags(), fb.includes_tags(), "{family}: tags");
        assert_eq!(
            a.delete_family_bloom.is_some(),
            b.delete_family_bloom.is_some()
        );
        // Originals were moved aside, not deleted.
        let side = region.join(".hcompact-originals").join(family);
        assert_eq!(store_files(&side).len(), 6);
    }
}

#[test]
fn dry_run_and_out_leave_the_store_alone() {
    let Some(fx) = common::fixtures() else { return };
    let pre = fx.join("hbase098/region-precompact");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("root");
    copy_dir(&pre, &root);
    let region = root.join(REGION);
    let out = Command::new(env!("CARGO_BIN_EXE_hcompact"))
        .args(["--now", "1700100000000", "--dry-run"])
        .arg(root.join("data/default/cmp"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("483 cells -> 252 cells"), "{text}");
    assert!(text.contains("566 cells -> 360 cells"), "{text}");
    assert_eq!(store_files(&region.join("kd")).len(), 6);

    let dest = tmp.path().join("out");
    let out = Command::new(env!("CARGO_BIN_EXE_hcompact"))
        .args(["--now", "1700100000000", "--minor", "--out"])
        .arg(&dest)
        .arg(region.join("kd"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(store_files(&region.join("kd")).len(), 6);
    let written = store_files(&dest.join("fb5d22902cb67d7fe966b4e2bc575fbe/kd"));
    assert_eq!(written.len(), 1);
    let f = HFile::open(&written[0]).unwrap();
    assert_eq!(
        f.file_info.get_bool(keys::MAJOR_COMPACTION_KEY),
        Some(false)
    );
    // A minor compaction keeps the delete markers.
    let n_del = cells(&f).iter().filter(|c| c.type_name != "Put").count();
    assert!(n_del > 0);
    assert_eq!(
        hbkit::hfile::verify::verify_file(&written[0]).status,
        hbkit::hfile::verify::Status::Clean
    );
}
