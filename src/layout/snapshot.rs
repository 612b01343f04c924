//! Snapshots (`<root>/.hbase-snapshot/<name>/`, §10) and a common way to open any input
//! directory — a table, a region or a snapshot — as a table descriptor plus regions.
//!
//! A snapshot lists its store files in its manifest; nothing is found by listing folders.
//! Three manifest forms are read:
//! * format 2 with `data.manifest` (`SnapshotDataManifest`: table schema + region manifests);
//! * format 2 while being taken: one `region-manifest.<encoded>` file per region, the
//!   schema in the snapshot's `.tabledesc/`;
//! * format 0 ("v1"): a region dir per region inside the snapshot dir (`.regioninfo` and
//!   family dirs of empty placeholder files named after the HFiles).
//!
//! Each store file is resolved as HBase resolves the implied HFileLink: under
//! `<root>/data/...`, then `<root>/.tmp/data/...`, then `<root>/archive/data/...`.
//! Files that cannot be found are reported together in one error.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::layout::{
    classify_name, dir_kind, read_region, read_table, resolve_link, Context, DirKind, FileName,
    Problem, Reference, Region, RegionInfo, Store, StoreFile, TableDescriptor,
};
use crate::pb::{self, Value};

/// `SnapshotDescription` (the `.snapshotinfo` file).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize)]
pub struct SnapshotInfo {
    /// Snapshot name.
    pub name: String,
    /// Table, `ns:table` or `table`.
    pub table: String,
    /// Creation time (ms).
    pub creation_time: i64,
    /// Format version: 0 (v1 layout) or 2 (manifest layout).
    pub version: i32,
    /// Owner, if recorded.
    pub owner: Option<String>,
}

impl SnapshotInfo {
    /// Parse `.snapshotinfo` bytes (a bare `SnapshotDescription` message).
    pub fn parse(bytes: &[u8]) -> Result<SnapshotInfo> {
        let mut s = SnapshotInfo::default();
        let mut named = false;
        for f in pb::fields(bytes, "snapshotinfo") {
            match f? {
                (1, Value::Bytes(b)) => {
                    s.name = String::from_utf8_lossy(b).into_owned();
                    named = true;
                }
                (2, Value::Bytes(b)) => s.table = String::from_utf8_lossy(b).into_owned(),
                (3, Value::Varint(v)) => s.creation_time = v as i64,
                (5, Value::Varint(v)) => s.version = v as i32,
                (6, Value::Bytes(b)) => s.owner = Some(String::from_utf8_lossy(b).into_owned()),
                _ => {}
            }
        }
        if !named {
            return Err(Error::corrupt(
                "snapshotinfo",
                "SnapshotDescription without the required name",
            ));
        }
        Ok(s)
    }
}

/// One store file as a snapshot region manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestFile {
    /// File name (an HFile, a reference `<hfile>.<parent>` or a link name).
    pub name: String,
    /// The split reference, for reference files.
    pub reference: Option<Reference>,
    /// The size recorded in the manifest, if any.
    pub size: Option<u64>,
}

/// One region of a snapshot manifest (`SnapshotRegionManifest`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionManifest {
    /// The region's info.
    pub info: RegionInfo,
    /// (family, files) in manifest order.
    pub families: Vec<(Vec<u8>, Vec<ManifestFile>)>,
}

fn parse_store_file(b: &[u8]) -> Result<ManifestFile> {
    let mut f = ManifestFile {
        name: String::new(),
        reference: None,
        size: None,
    };
    for x in pb::fields(b, "snapshot store file") {
        match x? {
            (1, Value::Bytes(n)) => f.name = String::from_utf8_lossy(n).into_owned(),
            (2, Value::Bytes(r)) => f.reference = Some(Reference::from_message(r)?),
            (3, Value::Varint(v)) => f.size = Some(v),
            _ => {}
        }
    }
    if f.name.is_empty() {
        return Err(Error::corrupt(
            "snapshot store file",
            "StoreFile without a name",
        ));
    }
    Ok(f)
}

impl RegionManifest {
    /// Parse a bare `SnapshotRegionManifest` message.
    pub fn from_message(msg: &[u8]) -> Result<RegionManifest> {
        let mut info = None;
        let mut families = Vec::new();
        for f in pb::fields(msg, "region manifest") {
            match f? {
                (2, Value::Bytes(b)) => info = Some(RegionInfo::from_message(b)?),
                (3, Value::Bytes(b)) => {
                    let mut fam = Vec::new();
                    let mut files = Vec::new();
                    for x in pb::fields(b, "snapshot family files") {
                        match x? {
                            (1, Value::Bytes(n)) => fam = n.to_vec(),
                            (2, Value::Bytes(sf)) => files.push(parse_store_file(sf)?),
                            _ => {}
                        }
                    }
                    families.push((fam, files));
                }
                _ => {}
            }
        }
        let info = info.ok_or_else(|| {
            Error::corrupt(
                "region manifest",
                "SnapshotRegionManifest without region_info",
            )
        })?;
        Ok(RegionManifest { info, families })
    }
}

/// A parsed `SnapshotDataManifest`.
#[derive(Debug, Clone)]
pub struct DataManifest {
    /// The table schema.
    pub descriptor: TableDescriptor,
    /// One entry per region.
    pub regions: Vec<RegionManifest>,
}

impl DataManifest {
    /// Parse `data.manifest` bytes.
    pub fn parse(bytes: &[u8]) -> Result<DataManifest> {
        let mut descriptor = None;
        let mut regions = Vec::new();
        for f in pb::fields(bytes, "data.manifest") {
            match f? {
                (1, Value::Bytes(b)) => descriptor = Some(TableDescriptor::from_message(b)?),
                (2, Value::Bytes(b)) => regions.push(RegionManifest::from_message(b)?),
                _ => {}
            }
        }
        let descriptor = descriptor.ok_or_else(|| {
            Error::corrupt("data.manifest", "SnapshotDataManifest without table_schema")
        })?;
        Ok(DataManifest {
            descriptor,
            regions,
        })
    }
}

/// A snapshot read and resolved: the same shape as [`crate::layout::Table`]'s regions.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The snapshot dir.
    pub dir: PathBuf,
    /// The root dir it belongs to (the parent of `.hbase-snapshot`).
    pub root: PathBuf,
    /// `.snapshotinfo`.
    pub info: SnapshotInfo,
    /// The table schema recorded in the snapshot.
    pub descriptor: TableDescriptor,
    /// Regions sorted by start key; `dir` is where the region lives under `data/`
    /// (it need not exist), each store file resolved to its bytes.
    pub regions: Vec<Region>,
}

/// True when `dir` looks like a snapshot dir (holds `.snapshotinfo`).
pub fn is_snapshot_dir(dir: &Path) -> bool {
    dir.join(".snapshotinfo").is_file()
}

fn read_file(p: &Path) -> Result<Vec<u8>> {
    std::fs::read(p).map_err(|e| Error::io(p, e))
}

/// Read the region manifests of a snapshot, whatever its format.
fn load_manifests(
    dir: &Path,
    info: &SnapshotInfo,
) -> Result<(TableDescriptor, Vec<RegionManifest>)> {
    let data = dir.join("data.manifest");
    if data.is_file() {
        let b = read_file(&data)?;
        let m = DataManifest::parse(&b).map_err(|e| e.in_file(&data))?;
        return Ok((m.descriptor, m.regions));
    }
    let (_, descriptor) = TableDescriptor::read_table_dir(dir).map_err(|e| {
        Error::corrupt(
            "snapshot",
            format!(
                "no data.manifest and no table descriptor in the snapshot (format {}): {e}",
                info.version
            ),
        )
        .in_file(dir)
    })?;
    let mut regions = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with("region-manifest.") && p.is_file() {
            let b = read_file(&p)?;
            regions.push(RegionManifest::from_message(&b).map_err(|e| e.in_file(&p))?);
        } else if p.is_dir() && p.join(".regioninfo").is_file() {
            // Format 0: a region dir of placeholder files.
            let rinfo = RegionInfo::read(&p)?;
            let mut families = Vec::new();
            let mut fams: Vec<PathBuf> = std::fs::read_dir(&p)
                .map_err(|e| Error::io(&p, e))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_dir())
                .collect();
            fams.sort();
            for fd in fams {
                let fname = fd
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if fname.starts_with('.') || fname == "recovered.edits" {
                    continue;
                }
                let mut files = Vec::new();
                let mut names: Vec<String> = std::fs::read_dir(&fd)
                    .map_err(|e| Error::io(&fd, e))?
                    .filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.starts_with('.') && !n.ends_with(".crc"))
                    .collect();
                names.sort();
                for n in names {
                    let reference = match classify_name(&n) {
                        Some(FileName::Reference { .. }) => {
                            let rp = fd.join(&n);
                            let b = read_file(&rp)?;
                            Some(Reference::parse(&b).map_err(|e| e.in_file(&rp))?)
                        }
                        _ => None,
                    };
                    files.push(ManifestFile {
                        name: n,
                        reference,
                        size: None,
                    });
                }
                families.push((fname.into_bytes(), files));
            }
            regions.push(RegionManifest {
                info: rinfo,
                families,
            });
        }
    }
    Ok((descriptor, regions))
}

/// Resolve one manifest file of region `enc`, family `fam` to the bytes to read.
fn resolve_manifest_file(
    ctx: &Context,
    ns: &str,
    table: &str,
    enc: &str,
    fam: &std::ffi::OsStr,
    f: &ManifestFile,
    location: PathBuf,
) -> Result<StoreFile> {
    let kind = classify_name(&f.name).ok_or_else(|| {
        Error::corrupt(
            "snapshot",
            format!(
                "manifest lists {:?}, which is not a store-file name",
                f.name
            ),
        )
    })?;
    let (data_path, reference) = match &kind {
        FileName::HFile { .. } => (resolve_link(ctx, ns, table, enc, fam, &f.name)?, None),
        FileName::Link {
            namespace,
            table: lt,
            region,
            hfile,
        } => (resolve_link(ctx, namespace, lt, region, fam, hfile)?, None),
        FileName::Reference {
            hfile,
            parent_region,
        } => {
            let target = match classify_name(hfile) {
                Some(FileName::Link {
                    namespace,
                    table: lt,
                    region,
                    hfile: lf,
                }) => resolve_link(ctx, &namespace, &lt, &region, fam, &lf)?,
                _ => resolve_link(ctx, ns, table, parent_region, fam, hfile)?,
            };
            let r = match &f.reference {
                Some(r) => r.clone(),
                None => {
                    // Not recorded in the manifest: read the reference file itself.
                    let b = read_file(&location)?;
                    Reference::parse(&b).map_err(|e| e.in_file(&location))?
                }
            };
            (target, Some(r))
        }
    };
    Ok(StoreFile {
        path: location,
        kind,
        data_path,
        reference,
    })
}

/// Split `ns:table` (or `table`) into (namespace, table).
fn split_table_name(s: &str) -> (String, String) {
    match s.split_once(':') {
        Some((n, t)) => (n.to_string(), t.to_string()),
        None => ("default".to_string(), s.to_string()),
    }
}

/// Read a snapshot dir `<root>/.hbase-snapshot/<name>` and resolve every store file it
/// lists. Missing files are an error naming each one.
pub fn read_snapshot(dir: &Path) -> Result<Snapshot> {
    let info_path = dir.join(".snapshotinfo");
    let info = SnapshotInfo::parse(&read_file(&info_path)?).map_err(|e| e.in_file(&info_path))?;
    if info.version != 0 && info.version != 2 {
        return Err(Error::unsupported(
            "snapshot",
            format!(
                "snapshot format version {} (0 and 2 are read)",
                info.version
            ),
        )
        .in_file(&info_path));
    }
    // <root>/.hbase-snapshot/<name> (also the in-progress <root>/.hbase-snapshot/.tmp/<name>).
    let mut root = dir.parent().map(Path::to_path_buf).unwrap_or_default();
    while root
        .file_name()
        .is_some_and(|n| n == ".tmp" || n == ".hbase-snapshot" || n == ".snapshot")
    {
        root = root.parent().map(Path::to_path_buf).unwrap_or_default();
    }
    let ctx = Context {
        root: Some(root.clone()),
    };
    let (descriptor, manifests) = load_manifests(dir, &info)?;
    let (ns, table) = if descriptor.name.is_empty() {
        split_table_name(&info.table)
    } else {
        (
            String::from_utf8_lossy(if descriptor.namespace.is_empty() {
                b"default"
            } else {
                &descriptor.namespace
            })
            .into_owned(),
            String::from_utf8_lossy(&descriptor.name).into_owned(),
        )
    };
    let table_dir = root.join("data").join(&ns).join(&table);
    let mut missing: Vec<String> = Vec::new();
    let mut regions = Vec::new();
    for m in manifests {
        let enc = m.info.encoded_name();
        let rdir = table_dir.join(&enc);
        let mut stores: Vec<Store> = Vec::new();
        for (fam, files) in &m.families {
            let fam_os = std::ffi::OsString::from(String::from_utf8_lossy(fam).into_owned());
            let sdir = rdir.join(&fam_os);
            let mut out = Vec::new();
            for f in files {
                let loc = sdir.join(&f.name);
                match resolve_manifest_file(&ctx, &ns, &table, &enc, &fam_os, f, loc.clone()) {
                    Ok(sf) => out.push(sf),
                    Err(e) => missing.push(format!(
                        "region {enc} family {}: {}: {}",
                        fam_os.to_string_lossy(),
                        f.name,
                        e.message
                    )),
                }
            }
            out.sort_by(|a, b| a.path.cmp(&b.path));
            match stores.iter_mut().find(|s| s.family == *fam) {
                Some(s) => s.files.extend(out),
                None => stores.push(Store {
                    dir: sdir,
                    family: fam.clone(),
                    files: out,
                }),
            }
        }
        stores.sort_by(|a, b| a.family.cmp(&b.family));
        regions.push(Region {
            dir: rdir,
            encoded_name: enc,
            info: Ok(m.info),
            stores,
            superseded: false,
        });
    }
    if !missing.is_empty() {
        return Err(Error::corrupt(
            "snapshot",
            format!(
                "{} store file(s) listed in the manifest not found under {}/data or {}/archive/data:\n  {}",
                missing.len(),
                root.display(),
                root.display(),
                missing.join("\n  ")
            ),
        )
        .in_file(dir));
    }
    sort_regions(&mut regions);
    crate::layout::mark_superseded(&mut regions);
    Ok(Snapshot {
        dir: dir.to_path_buf(),
        root,
        info,
        descriptor,
        regions,
    })
}

fn sort_regions(regions: &mut [Region]) {
    regions.sort_by(|a, b| match (&a.info, &b.info) {
        (Ok(x), Ok(y)) => x
            .start_key
            .cmp(&y.start_key)
            .then(a.encoded_name.cmp(&b.encoded_name)),
        _ => a.encoded_name.cmp(&b.encoded_name),
    });
}

/// What kind of directory an input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// A table dir.
    Table,
    /// A single region dir.
    Region,
    /// A snapshot dir.
    Snapshot,
}

/// A table, region or snapshot opened for reading: its descriptor and its regions.
#[derive(Debug, Clone)]
pub struct Source {
    /// The path given.
    pub path: PathBuf,
    /// What it was.
    pub kind: SourceKind,
    /// The table schema.
    pub descriptor: TableDescriptor,
    /// Regions sorted by start key, split parents included (callers skip them).
    pub regions: Vec<Region>,
    /// Non-fatal findings (ignored files, family dirs not in the schema...).
    pub problems: Vec<Problem>,
}

impl Source {
    /// Regions that serve reads: split parents (offline) are left out, as a cluster does.
    pub fn serving_regions(&self) -> Vec<&Region> {
        self.regions
            .iter()
            .filter(|r| !r.superseded && !r.info.as_ref().is_ok_and(|i| i.offline && i.split))
            .collect()
    }
}

/// Open a table dir, a region dir or a snapshot dir. A region's table descriptor is read
/// from its parent table dir. A region whose `.regioninfo` cannot be read is an error
/// (its row range is needed).
pub fn open_source(path: &Path) -> Result<Source> {
    if is_snapshot_dir(path) {
        let s = read_snapshot(path)?;
        return Ok(Source {
            path: path.to_path_buf(),
            kind: SourceKind::Snapshot,
            descriptor: s.descriptor,
            regions: s.regions,
            problems: Vec::new(),
        });
    }
    let ctx = Context::for_path(path);
    let mut problems = Vec::new();
    let (kind, descriptor, regions) = match dir_kind(path) {
        Some(DirKind::Table) => {
            let t = read_table(path, &ctx, &mut problems)?;
            let d = t.descriptor?;
            (SourceKind::Table, d, t.regions)
        }
        Some(DirKind::Region) => {
            let r = read_region(path, &ctx, &mut problems)?;
            let tdir = path.parent().unwrap_or(Path::new("."));
            let (_, d) = TableDescriptor::read_table_dir(tdir)?;
            (SourceKind::Region, d, vec![r])
        }
        _ => {
            return Err(Error::usage(format!(
                "{}: not a table dir (.tabledesc), a region dir (.regioninfo) or a snapshot dir (.snapshotinfo)",
                path.display()
            )))
        }
    };
    for r in &regions {
        if let Err(e) = &r.info {
            return Err(e.clone().in_file(r.dir.join(".regioninfo")));
        }
    }
    Ok(Source {
        path: path.to_path_buf(),
        kind,
        descriptor,
        regions,
        problems,
    })
}
