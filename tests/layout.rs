//! The layout model over real rootdirs and the hbase098 region.

mod common;

use hbkit::layout::{self, Context, FileName, KeepDeletedCells, Reference, RegionInfo};
use hbkit::store::{Input, Merge};

#[test]
fn hbase098_region_layout() {
    let Some(fx) = common::fixtures() else { return };
    let root = fx.join("hbase098/region-precompact");
    let tables = layout::find_tables(&root).unwrap();
    assert_eq!(tables, vec![root.join("data/default/cmp")]);
    let ctx = Context::for_path(&tables[0]);
    assert_eq!(ctx.root.as_deref(), Some(root.as_path()));
    let mut problems = Vec::new();
    let t = layout::read_table(&tables[0], &ctx, &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(t.namespace, "default");
    let d = t.descriptor.as_ref().unwrap();
    assert_eq!(d.display_name(), "cmp");
    let v3 = d.family(b"v3ttl").unwrap();
    assert_eq!(v3.max_versions().unwrap(), 3);
    assert_eq!(v3.ttl_seconds().unwrap(), 86400);
    assert_eq!(v3.ttl_ms().unwrap(), 86_400_000);
    assert_eq!(v3.min_versions().unwrap(), 0);
    assert_eq!(v3.keep_deleted_cells().unwrap(), KeepDeletedCells::False);
    assert_eq!(v3.bloom().unwrap().name(), "ROW");
    assert_eq!(v3.block_size().unwrap(), 2048);
    let kd = d.family(b"kd").unwrap();
    assert_eq!(kd.max_versions().unwrap(), 1);
    assert_eq!(kd.ttl_ms().unwrap(), i64::MAX);
    assert_eq!(kd.bloom().unwrap().name(), "ROWCOL");
    assert_eq!(kd.encoding().unwrap().name(), "FAST_DIFF");
    assert_eq!(kd.compression().unwrap(), hbkit::codec::Compression::None);
    assert_eq!(t.regions.len(), 1);
    let r = &t.regions[0];
    assert_eq!(r.encoded_name, "fb5d22902cb67d7fe966b4e2bc575fbe");
    let info = r.info.as_ref().unwrap();
    assert_eq!(info.region_id, 1700000000000);
    assert_eq!(
        (info.namespace.as_slice(), info.table.as_slice()),
        (&b"default"[..], &b"cmp"[..])
    );
    assert!(info.start_key.is_empty() && info.end_key.is_empty());
    assert!(!info.offline && !info.split);
    assert_eq!(info.replica_id, 0);
    let fams: Vec<_> = r.stores.iter().map(|s| s.family.clone()).collect();
    assert_eq!(fams, vec![b"kd".to_vec(), b"v3ttl".to_vec()]);
    assert!(r.stores.iter().all(|s| s.files.len() == 6));
}

#[test]
fn real_rootdirs() {
    let Some(fx) = common::fixtures() else { return };
    // 0.98 namespaced rootdir: hbase:meta, hbase:namespace, default:test.
    let root = fx.join("real/hbase-0.98.12-rootdir-uniquehwb/hbase");
    let tables = layout::find_tables(&root).unwrap();
    let names: Vec<String> = tables
        .iter()
        .map(|t| {
            t.strip_prefix(root.join("data"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    assert_eq!(names, vec!["default/test", "hbase/meta", "hbase/namespace"]);
    let ctx = Context::for_path(&root);
    let mut problems = Vec::new();
    let ns = layout::read_table(&root.join("data/hbase/namespace"), &ctx, &mut problems).unwrap();
    assert_eq!(ns.namespace, "hbase");
    assert_eq!(
        ns.descriptor.as_ref().unwrap().display_name(),
        "hbase:namespace"
    );
    assert_eq!(ns.regions.len(), 1);
    assert_eq!(ns.regions[0].stores.len(), 1);
    assert_eq!(ns.regions[0].stores[0].files.len(), 1);
    let test = layout::read_table(&root.join("data/default/test"), &ctx, &mut problems).unwrap();
    assert_eq!(test.regions.len(), 1);
    assert!(test.regions[0].info.is_ok());

    // 0.94 pre-namespace rootdir: Writable descriptors are reported, regions and stores found.
    let root = fx.join("real/hbase-testdata-chenxu14/TestNamespaceUpgrade/hbase");
    let tables = layout::find_tables(&root).unwrap();
    let names: Vec<String> = tables
        .iter()
        .map(|t| t.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "-ROOT-",
            ".META.",
            "_acl_",
            "data",
            "foo",
            "ns.two.foo",
            "ns1.foo"
        ]
    );
    let mut problems = Vec::new();
    let foo =
        layout::read_table(&root.join("foo"), &Context::for_path(&root), &mut problems).unwrap();
    let e = foo.descriptor.as_ref().unwrap_err();
    assert_eq!(e.kind, hbkit::ErrorKind::Unsupported);
    assert_eq!(foo.regions.len(), 1);
    // The 0.94 Writable .regioninfo is read.
    assert_eq!(foo.regions[0].info.as_ref().unwrap().table, b"foo");
    assert_eq!(foo.regions[0].stores[0].files.len(), 1);
    assert!(!problems.is_empty());
}

#[test]
fn writable_reference_parses() {
    let Some(fx) = common::fixtures() else { return };
    let p = fx.join("real/hbase-testdata-chenxu14/a6a6562b777440fd9c34885428f5cb61.21e75333ada3d5bafb34bb918f29576c");
    let r = Reference::parse(&std::fs::read(&p).unwrap()).unwrap();
    assert!(!r.top);
    assert_eq!(r.split_row().unwrap(), b"0001049952");
    match layout::classify_name(&p.file_name().unwrap().to_string_lossy()) {
        Some(FileName::Reference {
            hfile,
            parent_region,
        }) => {
            assert_eq!(hfile, "a6a6562b777440fd9c34885428f5cb61");
            assert_eq!(parent_region, "21e75333ada3d5bafb34bb918f29576c");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn names() {
    assert_eq!(
        layout::classify_name("0123abcd_SeqId_42_"),
        Some(FileName::HFile {
            bulk_seq_id: Some(42)
        })
    );
    assert_eq!(
        layout::classify_name("0123abcd"),
        Some(FileName::HFile { bulk_seq_id: None })
    );
    assert_eq!(
        layout::classify_name("ns=t1=0123abcdef-0a1b2c"),
        Some(FileName::Link {
            namespace: "ns".into(),
            table: "t1".into(),
            region: "0123abcdef".into(),
            hfile: "0a1b2c".into()
        })
    );
    assert_eq!(layout::classify_name("notes.txt"), None);
    assert_eq!(layout::classify_name("XYZ"), None);
}

/// Split daughters of the hbase098 region: a PBUF top and bottom reference to each parent
/// file, and an HFileLink into archive/. Each half reads exactly its side of the split.
#[test]
fn references_and_links_resolve_and_read_halves() {
    let Some(fx) = common::fixtures() else { return };
    let src = fx.join("hbase098/region-precompact");
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let table = root.join("data/default/cmp");
    let parent = "fb5d22902cb67d7fe966b4e2bc575fbe";
    let pfam = table.join(parent).join("v3ttl");
    std::fs::create_dir_all(&pfam).unwrap();
    std::fs::create_dir_all(table.join(".tabledesc")).unwrap();
    std::fs::copy(
        src.join("data/default/cmp/.tabledesc/.tableinfo.0000000001"),
        table.join(".tabledesc/.tableinfo.0000000001"),
    )
    .unwrap();
    let name = "c2408acaf5f44eb0a7933596f636f5ef";
    std::fs::copy(
        src.join("data/default/cmp")
            .join(parent)
            .join("v3ttl")
            .join(name),
        pfam.join(name),
    )
    .unwrap();
    std::fs::write(root.join("hbase.version"), b"").unwrap();
    let split_row = b"r010".to_vec();
    let split_key = hbkit::cell::first_on_row(&split_row);
    let mut halves = Vec::new();
    for (d, top) in [
        ("aaaa0000aaaa0000aaaa0000aaaa0000", false),
        ("bbbb0000bbbb0000bbbb0000bbbb0000", true),
    ] {
        let fam = table.join(d).join("v3ttl");
        std::fs::create_dir_all(&fam).unwrap();
        let mut body = b"PBUF".to_vec();
        hbkit::pb::put_bytes(&mut body, 1, &split_key);
        hbkit::pb::put_varint(&mut body, 2, if top { 0 } else { 1 });
        std::fs::write(fam.join(format!("{name}.{parent}")), body).unwrap();
        let mut regioninfo = b"PBUF".to_vec();
        let mut ri = Vec::new();
        hbkit::pb::put_varint(&mut ri, 1, 1);
        let mut tn = Vec::new();
        hbkit::pb::put_bytes(&mut tn, 1, b"default");
        hbkit::pb::put_bytes(&mut tn, 2, b"cmp");
        hbkit::pb::put_bytes(&mut ri, 2, &tn);
        hbkit::bytes::write_pbvar(&mut regioninfo, ri.len() as u64);
        regioninfo.extend_from_slice(&ri);
        std::fs::write(table.join(d).join(".regioninfo"), regioninfo).unwrap();
        let ctx = Context::for_path(&table);
        let mut problems = Vec::new();
        let store = layout::read_store(&fam, &ctx, &mut problems).unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(store.files.len(), 1);
        assert_eq!(store.files[0].data_path, pfam.join(name));
        let input = Input::open(&store.files[0]).unwrap();
        let base = input.hfile.file_info.get_i64("MAX_SEQ_ID_KEY").unwrap() as u64;
        assert_eq!(input.seq_id, base + u64::from(top));
        let inputs = vec![input];
        let mut m = Merge::new(&inputs).unwrap();
        let mut cells = Vec::new();
        while let Some(c) = m.next().unwrap() {
            cells.push((c.key.clone(), c.value.clone(), c.tags.clone()));
        }
        assert!(!cells.is_empty());
        assert!(cells.iter().all(|(k, _, _)| {
            let row = hbkit::cell::Key::parse(k).unwrap().row().to_vec();
            (row.as_slice() >= split_row.as_slice()) == top
        }));
        halves.push(cells);
    }
    // Bottom then top is the parent file, cell for cell.
    let whole = HFileCount::cells(&pfam.join(name));
    assert_eq!(halves.concat(), whole);

    // An HFileLink whose target has been archived.
    let arch = root
        .join("archive/data/default/cmp")
        .join(parent)
        .join("v3ttl");
    std::fs::create_dir_all(&arch).unwrap();
    std::fs::rename(pfam.join(name), arch.join(name)).unwrap();
    let lfam = root.join("data/default/cmp2/cccc0000cccc0000cccc0000cccc0000/v3ttl");
    std::fs::create_dir_all(&lfam).unwrap();
    std::fs::write(lfam.join(format!("cmp={parent}-{name}")), b"").unwrap();
    let mut problems = Vec::new();
    let store = layout::read_store(&lfam, &Context::for_path(&lfam), &mut problems).unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(store.files[0].data_path, arch.join(name));
    // The references now point at nothing in data/, and are found in archive/.
    let mut problems = Vec::new();
    let fam = table.join("aaaa0000aaaa0000aaaa0000aaaa0000/v3ttl");
    let store = layout::read_store(&fam, &Context::for_path(&fam), &mut problems).unwrap();
    assert_eq!(store.files[0].data_path, arch.join(name));
    // A dangling link is reported, not guessed.
    std::fs::write(lfam.join(format!("cmp={parent}-0000aaaa")), b"").unwrap();
    let mut problems = Vec::new();
    let store = layout::read_store(&lfam, &Context::for_path(&lfam), &mut problems).unwrap();
    assert_eq!(store.files.len(), 1);
    assert_eq!(problems.len(), 1);
    let _ = RegionInfo::default();
}

type RawCell = (Vec<u8>, Vec<u8>, Vec<u8>);

struct HFileCount;
impl HFileCount {
    fn cells(p: &std::path::Path) -> Vec<RawCell> {
        let f = hbkit::hfile::HFile::open(p).unwrap();
        let mut s = f.scanner();
        let mut out = Vec::new();
        while let Some(c) = s.next_cell().unwrap() {
            out.push((c.key.raw().to_vec(), c.value.to_vec(), c.tags.to_vec()));
        }
        out
    }
}

fn region(name: &str, start: &str, end: &str, id: u64) -> layout::Region {
    layout::Region {
        dir: std::path::PathBuf::from(name),
        encoded_name: name.to_string(),
        info: Ok(RegionInfo {
            region_id: id,
            table: b"t".to_vec(),
            start_key: start.as_bytes().to_vec(),
            end_key: end.as_bytes().to_vec(),
            ..RegionInfo::default()
        }),
        stores: Vec::new(),
        superseded: false,
    }
}

/// Split parents (tiled by newer daughters, also after a second split) and merge parents
/// (inside one newer region) are marked; a region with a gap in its daughters, or without a
/// readable .regioninfo, is not.
#[test]
fn split_and_merge_parents_are_marked() {
    let mark = |mut v: Vec<layout::Region>| -> Vec<bool> {
        layout::mark_superseded(&mut v);
        v.iter().map(|r| r.superseded).collect()
    };
    // P split into D1, D2; D2 split into E1, E2.
    assert_eq!(
        mark(vec![
            region("P", "", "", 1),
            region("D1", "", "m", 2),
            region("D2", "m", "", 2),
            region("E1", "m", "t", 3),
            region("E2", "t", "", 3),
        ]),
        [true, false, true, false, false]
    );
    // M1 + M2 merged into N.
    assert_eq!(
        mark(vec![
            region("M1", "a", "b", 5),
            region("M2", "b", "c", 5),
            region("N", "a", "c", 6),
        ]),
        [true, true, false]
    );
    // Only one daughter present: the parent still serves the rest.
    assert_eq!(
        mark(vec![region("X", "", "", 1), region("D1", "", "m", 2)]),
        [false, false]
    );
    // Older regions never supersede a newer one (here Y merged D1 and D2).
    assert_eq!(
        mark(vec![
            region("Y", "", "", 9),
            region("D1", "", "m", 2),
            region("D2", "m", "", 2)
        ]),
        [false, true, true]
    );
    let mut bad = region("B", "", "", 1);
    bad.info = Err(hbkit::Error::corrupt("regioninfo", "x"));
    assert_eq!(mark(vec![bad, region("N", "", "", 6)]), [false, false]);
}
