//! Snapshots read through their manifests: region lists, store files resolved under
//! `archive/`, leftovers ignored, missing files reported by name.

mod common;

use hbkit::layout::snapshot::{open_source, read_snapshot, SourceKind};
use hbkit::store::{scan_regions, ScanOptions, ScanSpec};

fn jbh() -> Option<std::path::PathBuf> {
    Some(common::fixtures()?.join("real/java-bigtable-hbase"))
}

fn count_cells(path: &std::path::Path) -> usize {
    let src = open_source(path).unwrap();
    let spec = ScanSpec::new(&src.descriptor, &ScanOptions::default()).unwrap();
    let mut n = 0;
    scan_regions(&src.regions, &spec, &mut |_| {
        n += 1;
        Ok(true)
    })
    .unwrap();
    n
}

#[test]
fn snapshots_list_regions_by_manifest() {
    let Some(f) = jbh() else { return };
    let e2e = f.join("EndToEndIT-snapshot_2022-05/data/.hbase-snapshot/test-snapshot");
    let s = read_snapshot(&e2e).unwrap();
    assert_eq!(s.info.name, "test-snapshot");
    assert_eq!(s.info.version, 2);
    assert_eq!(s.descriptor.display_name(), "test-table");
    // 20 region dirs in archive/, 10 in the manifest.
    assert_eq!(s.regions.len(), 10);
    assert!(s.regions[0].info.as_ref().unwrap().start_key.is_empty());
    for r in &s.regions {
        assert_eq!(r.stores.len(), 1);
        assert_eq!(r.stores[0].files.len(), 1);
        assert!(r.stores[0].files[0]
            .data_path
            .to_string_lossy()
            .contains("/archive/data/default/test-table/"));
        // The computed encoded name is the archive dir's name.
        assert!(r.stores[0].files[0]
            .data_path
            .to_string_lossy()
            .contains(&r.encoded_name));
    }
    assert_eq!(count_cells(&e2e), 100);
    let it = f.join("integration-test_2022-04/data/.hbase-snapshot/test-snapshot");
    let s = read_snapshot(&it).unwrap();
    assert_eq!(s.regions.len(), 10);
    assert!(s.regions[0].stores.iter().all(|st| st.files.is_empty()));
    assert_eq!(count_cells(&it), 100);
    let td = f.join("test-data_2020-12/.hbase-snapshot/test-snapshot");
    assert_eq!(open_source(&td).unwrap().kind, SourceKind::Snapshot);
    assert_eq!(count_cells(&td), 100);
}

#[test]
fn missing_store_files_are_named() {
    let Some(f) = jbh() else { return };
    let src = f.join("EndToEndIT-snapshot_2022-05/data/.hbase-snapshot/test-snapshot");
    let tmp = tempfile::tempdir().unwrap();
    let snap = tmp.path().join(".hbase-snapshot/test-snapshot");
    std::fs::create_dir_all(&snap).unwrap();
    for n in [".snapshotinfo", "data.manifest"] {
        std::fs::copy(src.join(n), snap.join(n)).unwrap();
    }
    let e = read_snapshot(&snap).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("10 store file(s)"), "{msg}");
    assert!(msg.contains("2167e8d55deb4d1a919007fbffb13a32"), "{msg}");
}

#[test]
fn region_manifest_files_are_read_like_data_manifest() {
    let Some(f) = jbh() else { return };
    let root = f.join("EndToEndIT-snapshot_2022-05/data");
    let src = root.join(".hbase-snapshot/test-snapshot");
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root.join("archive"), tmp.path().join("archive")).unwrap();
    let snap = tmp.path().join(".hbase-snapshot/test-snapshot");
    std::fs::create_dir_all(snap.join(".tabledesc")).unwrap();
    std::fs::copy(src.join(".snapshotinfo"), snap.join(".snapshotinfo")).unwrap();
    // Split data.manifest into the per-region files of a snapshot being taken.
    let bytes = std::fs::read(src.join("data.manifest")).unwrap();
    for (i, fld) in hbkit::pb::fields(&bytes, "test").enumerate() {
        match fld.unwrap() {
            (1, hbkit::pb::Value::Bytes(b)) => std::fs::write(
                snap.join(".tabledesc/.tableinfo.0000000001"),
                [b"PBUF".as_slice(), b].concat(),
            )
            .unwrap(),
            (2, hbkit::pb::Value::Bytes(b)) => {
                std::fs::write(snap.join(format!("region-manifest.{i}")), b).unwrap()
            }
            _ => {}
        }
    }
    let a = read_snapshot(&src).unwrap();
    let b = read_snapshot(&snap).unwrap();
    assert_eq!(a.descriptor, b.descriptor);
    assert_eq!(a.regions.len(), b.regions.len());
    for (x, y) in a.regions.iter().zip(&b.regions) {
        assert_eq!(x.encoded_name, y.encoded_name);
        assert_eq!(
            x.stores[0].files[0].data_path.file_name(),
            y.stores[0].files[0].data_path.file_name()
        );
    }
    assert_eq!(count_cells(&snap), 100);
}
