//! The layout model over every root dir in `fixtures/real`, checked against what
//! `PROVENANCE.md` and `INVENTORY.md` say (not against hbkit's own output):
//!
//! * every store file INVENTORY lists is found by `layout` in the table, region and family
//!   its path names, and nothing else is; its cell count equals INVENTORY's `entries=`
//!   (HFile v1 files give a clear "unsupported" error instead);
//! * the tables, region counts, live regions (split parents told apart), row counts and key
//!   ranges match the upstream tests quoted in PROVENANCE.md;
//! * the 0.94 Writable reference whose parent is not in the fixtures reads as the bottom half
//!   at row `0001049952`, and a store holding it reports the missing parent instead of
//!   guessing.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use hbkit::layout::{self, Context, FamilySchema, Problem, Region, Table};
use hbkit::store::{for_each_kept, Input, Matcher, Mode, Params};

/// INVENTORY.md rows: path (relative to fixtures/real) -> (kind, entries).
fn inventory(real: &Path) -> BTreeMap<String, (String, Option<u64>)> {
    let text = std::fs::read_to_string(real.join("INVENTORY.md")).unwrap();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `") else {
            continue;
        };
        let f: Vec<&str> = rest.split(" | ").collect();
        let path = f[0].trim_end_matches('`').to_string();
        let kind = f[3].trim().to_string();
        let entries = f[4]
            .split_whitespace()
            .find_map(|w| w.strip_prefix("entries="))
            .map(|n| n.parse().unwrap());
        out.insert(path, (kind, entries));
    }
    out
}

/// Store files INVENTORY lists under `root` (relative to fixtures/real), skipping dirs
/// that hold no live store files (archive, snapshots, WALs).
fn inventory_store_files(
    inv: &BTreeMap<String, (String, Option<u64>)>,
    root: &str,
    archive: bool,
) -> BTreeMap<String, (String, u64)> {
    inv.iter()
        .filter(|(p, (kind, _))| {
            p.starts_with(&format!("{root}/"))
                && kind.starts_with("HFile")
                && (p.contains("/archive/") == archive)
                && !p.contains("/.archive/")
        })
        .map(|(p, (k, n))| (p.clone(), (k.clone(), n.unwrap())))
        .collect()
}

fn count_cells(p: &Path) -> hbkit::Result<u64> {
    let f = hbkit::hfile::HFile::open(p)?;
    let mut s = f.scanner();
    let mut n = 0;
    while s.next_cell()?.is_some() {
        n += 1;
    }
    Ok(n)
}

/// Every store file the layout finds, relative to fixtures/real, with its cell count.
fn check_files(real: &Path, found: &[PathBuf], want: &BTreeMap<String, (String, u64)>) {
    let rel: BTreeSet<String> = found
        .iter()
        .map(|p| p.strip_prefix(real).unwrap().display().to_string())
        .collect();
    let want_set: BTreeSet<String> = want.keys().cloned().collect();
    assert_eq!(rel, want_set, "store files found vs INVENTORY");
    for (p, (kind, entries)) in want {
        let got = count_cells(&real.join(p));
        if kind.starts_with("HFile v1") {
            let e = got.unwrap_err();
            assert_eq!(e.kind, hbkit::ErrorKind::Unsupported, "{p}: {e}");
            assert!(e.to_string().contains("v1"), "{p}: {e}");
        } else {
            assert_eq!(got.unwrap(), *entries, "{p}");
        }
    }
}

fn read_root(root: &Path) -> (Vec<Table>, Vec<Problem>) {
    let ctx = Context::for_path(root);
    assert_eq!(ctx.root.as_deref(), Some(root));
    let mut problems = Vec::new();
    let tables = layout::find_tables(root)
        .unwrap()
        .iter()
        .map(|t| layout::read_table(t, &ctx, &mut problems).unwrap())
        .collect();
    (tables, problems)
}

fn all_files(tables: &[Table]) -> Vec<PathBuf> {
    tables
        .iter()
        .flat_map(|t| &t.regions)
        .flat_map(|r| &r.stores)
        .flat_map(|s| &s.files)
        .map(|f| f.path.clone())
        .collect()
}

fn table<'a>(tables: &'a [Table], name: &str) -> &'a Table {
    tables.iter().find(|t| t.name == name).unwrap()
}

/// Live (not superseded) regions must tile the key space from "" to "" in order.
fn assert_chain(regions: &[&Region]) {
    let mut at: Vec<u8> = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let info = r.info.as_ref().unwrap();
        assert_eq!(
            info.start_key, at,
            "region {} starts where the last ended",
            r.encoded_name
        );
        at = info.end_key.clone();
        if at.is_empty() {
            assert_eq!(i + 1, regions.len(), "only the last region is open-ended");
        }
    }
    assert!(at.is_empty(), "the last region is open-ended");
}

/// Rows a user scan of the region's stores returns (VERSIONS 1, no TTL).
fn user_rows(r: &Region) -> BTreeSet<Vec<u8>> {
    let mut rows = BTreeSet::new();
    for s in &r.stores {
        let inputs: Vec<Input> = s.files.iter().map(|f| Input::open(f).unwrap()).collect();
        let fam = FamilySchema {
            name: s.family.clone(),
            ..FamilySchema::default()
        };
        let mut m = Matcher::new(
            Mode::User,
            Params::from_family(&fam, 1_500_000_000_000).unwrap(),
        );
        for_each_kept(&inputs, &mut m, |c| {
            rows.insert(c.key.row().to_vec());
            Ok(true)
        })
        .unwrap();
    }
    rows
}

#[test]
fn every_inventory_store_file_is_found_with_its_cells() {
    let Some(fx) = common::fixtures() else { return };
    let real = fx.join("real");
    let inv = inventory(&real);
    for root in [
        "hbase-0.98.12-rootdir-uniquehwb/hbase",
        "hbase-testdata-chenxu14/TestNamespaceUpgrade/hbase",
        "hbase-testdata-chenxu14/TestMetaMigrationConvertToPB",
        "stumbleupon-hbase/hbase-4388-root.dir",
    ] {
        let (tables, _) = read_root(&real.join(root));
        let want = inventory_store_files(&inv, root, false);
        assert!(!want.is_empty(), "{root}");
        check_files(&real, &all_files(&tables), &want);
    }
    // Snapshot exports: no live table, the HFiles are in archive/ (region dirs without
    // .regioninfo), read per family dir.
    for root in [
        "java-bigtable-hbase/EndToEndIT-snapshot_2022-05/data",
        "java-bigtable-hbase/integration-test_2022-04/data",
        "java-bigtable-hbase/test-data_2020-12",
    ] {
        let r = real.join(root);
        assert!(layout::find_tables(&r).unwrap().is_empty(), "{root}");
        let mut found = Vec::new();
        for t in common::walk(&r.join("archive/data")) {
            let fam = t.parent().unwrap();
            if found.iter().any(|f: &PathBuf| f.parent() == Some(fam)) {
                continue;
            }
            let mut problems = Vec::new();
            let s = layout::read_store(fam, &Context::for_path(fam), &mut problems).unwrap();
            assert!(problems.is_empty(), "{problems:?}");
            found.extend(s.files.into_iter().map(|f| f.path));
        }
        check_files(&real, &found, &inventory_store_files(&inv, root, true));
    }
}

#[test]
fn hbase_0_98_rootdir() {
    let Some(fx) = common::fixtures() else { return };
    let root = fx.join("real/hbase-0.98.12-rootdir-uniquehwb/hbase");
    let (tables, problems) = read_root(&root);
    assert!(problems.is_empty(), "{problems:?}");
    let names: Vec<(String, String)> = tables
        .iter()
        .map(|t| (t.namespace.clone(), t.name.clone()))
        .collect();
    assert_eq!(
        names,
        [
            ("default", "test"),
            ("hbase", "meta"),
            ("hbase", "namespace")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    for (t, enc, fams) in [
        ("test", "1c36300ce560a054f2aad4ce3b1afcd9", 0),
        ("meta", "1588230740", 1),
        ("namespace", "f633db02a9250f006ed024a0dd01ade9", 1),
    ] {
        let t = table(&tables, t);
        let d = t.descriptor.as_ref().unwrap();
        assert_eq!(d.name, t.name.as_bytes());
        assert_eq!(t.regions.len(), 1);
        let r = &t.regions[0];
        assert_eq!(r.encoded_name, enc);
        assert!(!r.superseded);
        let i = r.info.as_ref().unwrap();
        assert_eq!(i.table, t.name.as_bytes());
        assert_eq!(i.namespace, t.namespace.as_bytes());
        assert!(i.start_key.is_empty() && i.end_key.is_empty());
        // "default:test: table descriptor and region only; no store files".
        assert_eq!(r.stores.len(), fams);
        if fams == 1 {
            assert_eq!(r.stores[0].family, b"info");
        }
    }
    // hbase:namespace holds rows `default` and `hbase`.
    let ns = table(&tables, "namespace");
    assert_eq!(
        user_rows(&ns.regions[0]),
        BTreeSet::from([b"default".to_vec(), b"hbase".to_vec()])
    );
}

#[test]
fn hbase_0_94_namespace_upgrade_rootdir() {
    let Some(fx) = common::fixtures() else { return };
    let root = fx.join("real/hbase-testdata-chenxu14/TestNamespaceUpgrade/hbase");
    let (tables, _) = read_root(&root);
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "-ROOT-",
            ".META.",
            "_acl_",
            "data",
            "foo",
            "ns.two.foo",
            "ns1.foo"
        ]
    );
    for (name, enc, fam) in [
        ("-ROOT-", "70236052", "info"),
        (".META.", "1028785192", "info"),
        ("_acl_", "502f01bf1a0a9ff4c891616edfb982c0", "l"),
        ("data", "58bca296006702c531003762fc8a2411", "f"),
        ("foo", "b882ec3d98ebbbf4851594c8787273ce", "f"),
        ("ns.two.foo", "7112077ccfba8a46c0694ca8c0a4bc2d", "f"),
        ("ns1.foo", "f9f207fe4f14c93b6c9b8a722cb7e437", "f"),
    ] {
        let t = table(&tables, name);
        assert_eq!(t.namespace, "default");
        // 0.94 Writable descriptors: reported as unsupported, never guessed.
        assert_eq!(
            t.descriptor.as_ref().unwrap_err().kind,
            hbkit::ErrorKind::Unsupported
        );
        assert_eq!(t.regions.len(), 1, "{name}");
        let r = &t.regions[0];
        assert_eq!(r.encoded_name, enc);
        let i = r.info.as_ref().unwrap();
        assert_eq!(i.table, name.as_bytes());
        assert!(i.start_key.is_empty() && i.end_key.is_empty(), "{name}");
        let fams: Vec<&[u8]> = r.stores.iter().map(|s| s.family.as_slice()).collect();
        assert_eq!(fams, [fam.as_bytes()]);
    }
    // "every table's current row keys are {"1".."9","A"}"; "the ACL table has 3 rows".
    let want: BTreeSet<Vec<u8>> = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "A"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    for name in ["data", "foo", "ns.two.foo", "ns1.foo"] {
        assert_eq!(user_rows(&table(&tables, name).regions[0]), want, "{name}");
    }
    assert_eq!(user_rows(&table(&tables, "_acl_").regions[0]).len(), 3);
}

#[test]
fn hbase_0_92_meta_migration_rootdir() {
    let Some(fx) = common::fixtures() else { return };
    let real = fx.join("real");
    let root = real.join("hbase-testdata-chenxu14/TestMetaMigrationConvertToPB");
    let (tables, problems) = read_root(&root);
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["-META-", "-ROOT-", "TestTable"]);
    // "hbase:meta was renamed -META- inside the tarball": its .regioninfo still says .META.
    let meta = table(&tables, "-META-");
    assert_eq!(meta.regions[0].encoded_name, "1028785192");
    assert_eq!(meta.regions[0].info.as_ref().unwrap().table, b".META.");
    assert_eq!(table(&tables, "-ROOT-").regions[0].encoded_name, "70236052");
    // "TestTable has 17 region dirs, some of them split parents/daughters; 16 of them hold an
    // HFile, 663 cells in all"; REGION_COUNT=9; ROW_COUNT=100 of `row1`..`row100`.
    let t = table(&tables, "TestTable");
    assert_eq!(t.regions.len(), 17);
    let with_files: Vec<&Region> = t
        .regions
        .iter()
        .filter(|r| r.stores.iter().any(|s| !s.files.is_empty()))
        .collect();
    assert_eq!(with_files.len(), 16);
    let live: Vec<&Region> = t.regions.iter().filter(|r| !r.superseded).collect();
    assert_eq!(live.len(), 9);
    assert_chain(&live);
    let parents = problems
        .iter()
        .filter(|p| p.message.contains("split or merge parent"))
        .count();
    assert_eq!(parents, 8);
    let mut all_cells = 0;
    let mut live_rows = BTreeSet::new();
    let mut live_cells = 0;
    for r in &t.regions {
        let info = r.info.as_ref().unwrap();
        for s in &r.stores {
            assert_eq!(s.family, b"f1");
            for f in &s.files {
                let h = hbkit::hfile::HFile::open(&f.data_path).unwrap();
                let mut sc = h.scanner();
                while let Some(c) = sc.next_cell().unwrap() {
                    let row = c.key.row();
                    assert!(info.contains_row(row), "{} holds {row:?}", r.encoded_name);
                    all_cells += 1;
                    if !r.superseded {
                        live_cells += 1;
                        live_rows.insert(row.to_vec());
                    }
                }
            }
        }
    }
    assert_eq!(all_cells, 663);
    assert_eq!(live_cells, 100);
    let want: BTreeSet<Vec<u8>> = (1..=100).map(|i| format!("row{i}").into_bytes()).collect();
    assert_eq!(live_rows, want);
}

#[test]
fn hbase_0_90_rootdir() {
    let Some(fx) = common::fixtures() else { return };
    let real = fx.join("real");
    let inv = inventory(&real);
    let root_rel = "stumbleupon-hbase/hbase-4388-root.dir";
    let (tables, _) = read_root(&real.join(root_rel));
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["-ROOT-", ".META.", "TestTable"]);
    assert_eq!(table(&tables, "-ROOT-").regions[0].encoded_name, "70236052");
    assert_eq!(
        table(&tables, ".META.").regions[0].encoded_name,
        "1028785192"
    );
    // "TestTable/: 14 region dirs, each with .regioninfo (a Writable HRegionInfo that embeds
    // its HTableDescriptor) and one store file in info/. The 14 files hold 240 cells";
    // ROWCOUNT=100.
    let t = table(&tables, "TestTable");
    assert_eq!(t.regions.len(), 14);
    let entries = |r: &Region| -> u64 {
        r.stores
            .iter()
            .flat_map(|s| &s.files)
            .map(|f| {
                let rel = f.path.strip_prefix(&real).unwrap().display().to_string();
                inv[&rel].1.unwrap()
            })
            .sum()
    };
    for r in &t.regions {
        assert_eq!(r.info.as_ref().unwrap().table, b"TestTable");
        assert_eq!(r.stores.len(), 1);
        assert_eq!(r.stores[0].family, b"info");
        assert_eq!(r.stores[0].files.len(), 1);
    }
    assert_eq!(t.regions.iter().map(entries).sum::<u64>(), 240);
    let live: Vec<&Region> = t.regions.iter().filter(|r| !r.superseded).collect();
    assert_chain(&live);
    assert_eq!(live.iter().map(|r| entries(r)).sum::<u64>(), 100);
}

/// The 0.94 Writable reference (bottom half at row `0001049952`) whose parent file is not
/// in the fixtures: in a store it is reported, not guessed or dropped silently.
#[test]
fn reference_without_its_parent_is_reported() {
    let Some(fx) = common::fixtures() else { return };
    let name = "a6a6562b777440fd9c34885428f5cb61.21e75333ada3d5bafb34bb918f29576c";
    let src = fx.join("real/hbase-testdata-chenxu14").join(name);
    let r = layout::Reference::parse(&std::fs::read(&src).unwrap()).unwrap();
    assert!(!r.top);
    assert_eq!(r.split_row().unwrap(), b"0001049952");
    let tmp = tempfile::tempdir().unwrap();
    let fam = tmp.path().join("t/daughter0000000000000000000000/f");
    std::fs::create_dir_all(&fam).unwrap();
    std::fs::copy(&src, fam.join(name)).unwrap();
    let mut problems = Vec::new();
    let s = layout::read_store(&fam, &Context::default(), &mut problems).unwrap();
    assert!(s.files.is_empty());
    assert_eq!(problems.len(), 1);
    assert!(
        problems[0]
            .message
            .contains("referenced parent file not found"),
        "{problems:?}"
    );
}
