//! The `hbase.rootdir` layout (FORMATS.md §10.1): tables, regions and stores, the table
//! descriptor (`.tabledesc/.tableinfo.*`), `.regioninfo`, split reference files and
//! HFileLinks.
//!
//! Both layouts are understood: `data/<namespace>/<table>/` (0.96+) and the pre-namespace
//! layout of 0.94 and older (`<table>/` directly under the root). Protobuf (`PBUF`) descriptors
//! are parsed, and so are the Writable `.regioninfo` files of 0.90–0.94; Writable table
//! descriptors are reported as unsupported. Nothing is guessed:
//! missing or inconsistent things are returned as [`Problem`]s or errors.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::codec::Compression;
use crate::error::{Error, ErrorKind, Result};
use crate::hfile::bloom::BloomType;
use crate::hfile::encoding::Encoding;
use crate::pb::{self, Value};

pub mod snapshot;

const PBUF: &[u8] = b"PBUF";

/// `KEEP_DELETED_CELLS` of a family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub enum KeepDeletedCells {
    /// Deleted cells are dropped (default).
    #[default]
    False,
    /// Deleted cells and markers are kept (subject to versions and TTL).
    True,
    /// Kept until the TTL expires.
    Ttl,
}

impl KeepDeletedCells {
    /// Parse HBase's text (case-insensitive, as HBase upper-cases it).
    pub fn parse(s: &str) -> Option<KeepDeletedCells> {
        match s.trim().to_ascii_uppercase().as_str() {
            "FALSE" => Some(KeepDeletedCells::False),
            "TRUE" => Some(KeepDeletedCells::True),
            "TTL" => Some(KeepDeletedCells::Ttl),
            _ => None,
        }
    }
}

/// `HConstants.FOREVER`.
pub const FOREVER: i64 = i32::MAX as i64;

/// One column family of a table descriptor (`ColumnFamilySchema`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FamilySchema {
    /// Family name (the store directory name).
    pub name: Vec<u8>,
    /// Attributes (text keys and values, e.g. `VERSIONS` = `3`).
    pub attributes: BTreeMap<String, String>,
    /// Configuration overrides.
    pub configuration: BTreeMap<String, String>,
}

impl FamilySchema {
    fn attr(&self, k: &str) -> Option<&str> {
        self.attributes.get(k).map(String::as_str)
    }
    fn num(&self, k: &str, default: i64) -> Result<i64> {
        match self.attr(k) {
            None => Ok(default),
            Some(v) => v.trim().parse().map_err(|_| {
                Error::corrupt(
                    "table descriptor",
                    format!(
                        "family {}: {k} = {v:?} is not a number",
                        crate::bytes::to_string_binary(&self.name)
                    ),
                )
            }),
        }
    }
    /// `VERSIONS` (default 1).
    pub fn max_versions(&self) -> Result<i64> {
        self.num("VERSIONS", 1)
    }
    /// `MIN_VERSIONS` (default 0).
    pub fn min_versions(&self) -> Result<i64> {
        self.num("MIN_VERSIONS", 0)
    }
    /// `TTL` in seconds (default FOREVER = 2147483647).
    pub fn ttl_seconds(&self) -> Result<i64> {
        self.num("TTL", FOREVER)
    }
    /// TTL in ms as the store uses it (`HStore.determineTTLFromFamily`): FOREVER or -1 give
    /// `i64::MAX`.
    pub fn ttl_ms(&self) -> Result<i64> {
        let t = self.ttl_seconds()?;
        Ok(if t == FOREVER || t == -1 {
            i64::MAX
        } else {
            t.saturating_mul(1000)
        })
    }
    /// `KEEP_DELETED_CELLS` (default FALSE).
    pub fn keep_deleted_cells(&self) -> Result<KeepDeletedCells> {
        match self.attr("KEEP_DELETED_CELLS") {
            None => Ok(KeepDeletedCells::False),
            Some(v) => KeepDeletedCells::parse(v).ok_or_else(|| {
                Error::corrupt(
                    "table descriptor",
                    format!("KEEP_DELETED_CELLS = {v:?} is not FALSE, TRUE or TTL"),
                )
            }),
        }
    }
    /// `BLOOMFILTER` (default ROW).
    pub fn bloom(&self) -> Result<BloomType> {
        match self.attr("BLOOMFILTER") {
            None => Ok(BloomType::Row),
            Some(v) => BloomType::from_name(v.trim()).ok_or_else(|| {
                Error::unsupported("table descriptor", format!("BLOOMFILTER = {v:?}"))
            }),
        }
    }
    /// `DATA_BLOCK_ENCODING` (default NONE).
    pub fn encoding(&self) -> Result<Encoding> {
        match self.attr("DATA_BLOCK_ENCODING") {
            None => Ok(Encoding::None),
            Some(v) => Encoding::from_name(v.trim()).ok_or_else(|| {
                Error::unsupported("table descriptor", format!("DATA_BLOCK_ENCODING = {v:?}"))
            }),
        }
    }
    fn compression_attr(&self, k: &str) -> Result<Option<Compression>> {
        match self.attr(k) {
            None => Ok(None),
            Some(v) => Compression::from_name(v.trim())
                .map(Some)
                .ok_or_else(|| Error::unsupported("table descriptor", format!("{k} = {v:?}"))),
        }
    }
    /// `COMPRESSION` (default NONE).
    pub fn compression(&self) -> Result<Compression> {
        Ok(self
            .compression_attr("COMPRESSION")?
            .unwrap_or(Compression::None))
    }
    /// The codec a compaction writes with (§12.3): `COMPRESSION_COMPACT_MAJOR`/`_MINOR`,
    /// then `COMPRESSION_COMPACT`, then `COMPRESSION`.
    pub fn compaction_compression(&self, major: bool) -> Result<Compression> {
        let specific = if major {
            "COMPRESSION_COMPACT_MAJOR"
        } else {
            "COMPRESSION_COMPACT_MINOR"
        };
        for k in [specific, "COMPRESSION_COMPACT"] {
            if let Some(c) = self.compression_attr(k)? {
                return Ok(c);
            }
        }
        self.compression()
    }
    /// `BLOCKSIZE` (default 65536).
    pub fn block_size(&self) -> Result<i64> {
        self.num("BLOCKSIZE", 65536)
    }
}

/// A table descriptor (`TableSchema`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableDescriptor {
    /// Namespace (`default` for user tables).
    pub namespace: Vec<u8>,
    /// Table qualifier.
    pub name: Vec<u8>,
    /// Table attributes.
    pub attributes: BTreeMap<String, String>,
    /// Column families, in file order.
    pub families: Vec<FamilySchema>,
    /// Table configuration.
    pub configuration: BTreeMap<String, String>,
}

impl TableDescriptor {
    /// Parse a `.tableinfo` file's bytes: `PBUF` + TableSchema (to end of file).
    pub fn parse(bytes: &[u8]) -> Result<TableDescriptor> {
        let Some(msg) = bytes.strip_prefix(PBUF) else {
            return Err(Error::unsupported(
                "table descriptor",
                "no PBUF magic: a pre-0.96 Writable HTableDescriptor, which is not read",
            ));
        };
        TableDescriptor::from_message(msg)
    }

    /// Parse a bare `TableSchema` message (as embedded in a snapshot manifest).
    pub fn from_message(msg: &[u8]) -> Result<TableDescriptor> {
        let mut t = TableDescriptor::default();
        for f in pb::fields(msg, "table descriptor") {
            match f? {
                (1, Value::Bytes(b)) => {
                    let (ns, q) = parse_table_name(b)?;
                    t.namespace = ns;
                    t.name = q;
                }
                (2, Value::Bytes(b)) => {
                    let (k, v) = parse_pair(b, "table attribute")?;
                    t.attributes.insert(k, v);
                }
                (3, Value::Bytes(b)) => t.families.push(parse_family(b)?),
                (4, Value::Bytes(b)) => {
                    let (k, v) = parse_pair(b, "table configuration")?;
                    t.configuration.insert(k, v);
                }
                _ => {}
            }
        }
        Ok(t)
    }

    /// Read the newest `.tableinfo.*` of a table dir (`.tabledesc/` or, pre-0.96, the table
    /// dir itself).
    pub fn read_table_dir(table_dir: &Path) -> Result<(PathBuf, TableDescriptor)> {
        let path = find_tableinfo(table_dir)?;
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let t = TableDescriptor::parse(&bytes).map_err(|e| e.in_file(&path))?;
        Ok((path, t))
    }

    /// The family named `name`.
    pub fn family(&self, name: &[u8]) -> Option<&FamilySchema> {
        self.families.iter().find(|f| f.name == name)
    }

    /// `ns:qualifier`, or just the qualifier for namespace `default`.
    pub fn display_name(&self) -> String {
        table_display(&self.namespace, &self.name)
    }
}

fn table_display(ns: &[u8], q: &[u8]) -> String {
    let q = crate::bytes::to_string_binary(q);
    if ns.is_empty() || ns == b"default" {
        q
    } else {
        format!("{}:{q}", crate::bytes::to_string_binary(ns))
    }
}

fn parse_table_name(b: &[u8]) -> Result<(Vec<u8>, Vec<u8>)> {
    let (mut ns, mut q) = (Vec::new(), Vec::new());
    for f in pb::fields(b, "TableName") {
        match f? {
            (1, Value::Bytes(x)) => ns = x.to_vec(),
            (2, Value::Bytes(x)) => q = x.to_vec(),
            _ => {}
        }
    }
    Ok((ns, q))
}

fn parse_pair(b: &[u8], ctx: &'static str) -> Result<(String, String)> {
    let (mut k, mut v) = (None, None);
    for f in pb::fields(b, ctx) {
        match f? {
            (1, Value::Bytes(x)) => k = Some(String::from_utf8_lossy(x).into_owned()),
            (2, Value::Bytes(x)) => v = Some(String::from_utf8_lossy(x).into_owned()),
            _ => {}
        }
    }
    match (k, v) {
        (Some(k), Some(v)) => Ok((k, v)),
        _ => Err(Error::corrupt(ctx, "pair without a name or a value")),
    }
}

fn parse_family(b: &[u8]) -> Result<FamilySchema> {
    let mut fam = FamilySchema::default();
    let mut named = false;
    for f in pb::fields(b, "ColumnFamilySchema") {
        match f? {
            (1, Value::Bytes(x)) => {
                fam.name = x.to_vec();
                named = true;
            }
            (2, Value::Bytes(x)) => {
                let (k, v) = parse_pair(x, "family attribute")?;
                fam.attributes.insert(k, v);
            }
            (3, Value::Bytes(x)) => {
                let (k, v) = parse_pair(x, "family configuration")?;
                fam.configuration.insert(k, v);
            }
            _ => {}
        }
    }
    if !named {
        return Err(Error::corrupt(
            "ColumnFamilySchema",
            "family without a name",
        ));
    }
    Ok(fam)
}

/// The newest `.tableinfo.<seq>[.<len>]` of a table dir.
pub fn find_tableinfo(table_dir: &Path) -> Result<PathBuf> {
    let mut best: Option<(u64, PathBuf)> = None;
    for dir in [table_dir.join(".tabledesc"), table_dir.to_path_buf()] {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let Some(rest) = name.strip_prefix(".tableinfo.") else {
                continue;
            };
            let seq = rest.split('.').next().and_then(|s| s.parse::<u64>().ok());
            if let Some(seq) = seq {
                if best.as_ref().is_none_or(|(b, _)| seq > *b) {
                    best = Some((seq, e.path()));
                }
            }
        }
        if best.is_some() {
            break;
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        Error::new(
            ErrorKind::Corrupt,
            "table descriptor",
            "no .tabledesc/.tableinfo.* found",
        )
        .in_file(table_dir)
    })
}

/// `.regioninfo` contents (`RegionInfo` proto).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RegionInfo {
    /// Region id (creation time in ms).
    pub region_id: u64,
    /// Table namespace.
    pub namespace: Vec<u8>,
    /// Table qualifier.
    pub table: Vec<u8>,
    /// Start key (empty = first region).
    pub start_key: Vec<u8>,
    /// End key (empty = last region).
    pub end_key: Vec<u8>,
    /// Offline flag.
    pub offline: bool,
    /// Split-parent flag.
    pub split: bool,
    /// Replica id (0 when absent).
    pub replica_id: i32,
}

impl RegionInfo {
    /// Parse `.regioninfo` bytes: `PBUF` + varint-delimited RegionInfo (0.96+), else the
    /// Writable `HRegionInfo` of 0.90–0.94 ([`RegionInfo::parse_writable`]).
    pub fn parse(bytes: &[u8]) -> Result<RegionInfo> {
        let Some(rest) = bytes.strip_prefix(PBUF) else {
            return RegionInfo::parse_writable(bytes);
        };
        let (msg, _) = pb::delimited(rest, "regioninfo")?;
        RegionInfo::from_message(msg)
    }

    /// Parse a bare `RegionInfo` message (as embedded in a snapshot region manifest).
    pub fn from_message(msg: &[u8]) -> Result<RegionInfo> {
        let mut r = RegionInfo::default();
        let (mut has_id, mut has_table) = (false, false);
        for f in pb::fields(msg, "regioninfo") {
            match f? {
                (1, Value::Varint(v)) => {
                    r.region_id = v;
                    has_id = true;
                }
                (2, Value::Bytes(b)) => {
                    let (ns, q) = parse_table_name(b)?;
                    r.namespace = ns;
                    r.table = q;
                    has_table = true;
                }
                (3, Value::Bytes(b)) => r.start_key = b.to_vec(),
                (4, Value::Bytes(b)) => r.end_key = b.to_vec(),
                (5, Value::Varint(v)) => r.offline = v != 0,
                (6, Value::Varint(v)) => r.split = v != 0,
                (7, Value::Varint(v)) => r.replica_id = v as i32,
                _ => {}
            }
        }
        if !has_id || !has_table {
            return Err(Error::corrupt(
                "regioninfo",
                "RegionInfo lacks the required region_id or table_name",
            ));
        }
        Ok(r)
    }

    /// Parse a Writable `HRegionInfo` (0.90–0.94 `.regioninfo`): version byte (0 = 0.90,
    /// which embeds the table descriptor; 1 = 0.92/0.94), endKey, offline, regionId,
    /// regionName, split, startKey, then (v1) the table name or (v0) the descriptor.
    /// Anything after (0.92+ append `"\n\n"` and a text rendering) is ignored. The table of
    /// a v0 record is taken from the region name (up to its first comma); the namespace is
    /// `default`.
    pub fn parse_writable(bytes: &[u8]) -> Result<RegionInfo> {
        let mut c = crate::bytes::Cursor::new(bytes, "regioninfo");
        let version = c.u8("HRegionInfo version")?;
        if version > 1 {
            return Err(Error::corrupt(
                "regioninfo",
                format!("neither PBUF nor a Writable HRegionInfo (version byte {version})"),
            ));
        }
        let bytes_field = |c: &mut crate::bytes::Cursor<'_>, what: &str| -> Result<Vec<u8>> {
            let n = c.vint_len(what)?;
            Ok(c.take(n, what)?.to_vec())
        };
        let bool_field = |c: &mut crate::bytes::Cursor<'_>, what: &str| -> Result<bool> {
            match c.u8(what)? {
                0 => Ok(false),
                1 => Ok(true),
                v => Err(Error::corrupt(
                    "regioninfo",
                    format!("{what}: {v} is not a Writable boolean"),
                )),
            }
        };
        let end_key = bytes_field(&mut c, "end key")?;
        let offline = bool_field(&mut c, "offline flag")?;
        let region_id = c.i64("region id")?;
        let region_name = bytes_field(&mut c, "region name")?;
        let split = bool_field(&mut c, "split flag")?;
        let start_key = bytes_field(&mut c, "start key")?;
        let table = if version == 1 {
            bytes_field(&mut c, "table name")?
        } else {
            region_name
                .iter()
                .position(|&b| b == b',')
                .and_then(|i| region_name.get(..i))
                .map(<[u8]>::to_vec)
                .ok_or_else(|| {
                    Error::corrupt("regioninfo", "region name without a comma (no table)")
                })?
        };
        Ok(RegionInfo {
            region_id: u64::try_from(region_id).map_err(|_| {
                Error::corrupt("regioninfo", format!("negative region id {region_id}"))
            })?,
            namespace: b"default".to_vec(),
            table,
            start_key,
            end_key,
            offline,
            split,
            replica_id: 0,
        })
    }

    /// Read `<region_dir>/.regioninfo`.
    pub fn read(region_dir: &Path) -> Result<RegionInfo> {
        let p = region_dir.join(".regioninfo");
        let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        RegionInfo::parse(&b).map_err(|e| e.in_file(&p))
    }

    /// True when `row` falls in [start_key, end_key).
    pub fn contains_row(&self, row: &[u8]) -> bool {
        row >= self.start_key.as_slice()
            && (self.end_key.is_empty() || row < self.end_key.as_slice())
    }

    /// `ns:table` (or `table` for namespace default).
    pub fn table_display(&self) -> String {
        table_display(&self.namespace, &self.table)
    }
}

/// A split reference (`Reference` proto or the 0.94 Writable form).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The split KEY (a "first on row" key of the split row).
    pub split_key: Vec<u8>,
    /// True for the top half (cells >= split key), false for the bottom half.
    pub top: bool,
}

impl Reference {
    /// Parse a reference file's bytes.
    pub fn parse(bytes: &[u8]) -> Result<Reference> {
        if let Some(msg) = bytes.strip_prefix(PBUF) {
            return Reference::from_message(msg);
        }
        Reference::parse_writable(bytes)
    }

    /// Parse a bare `Reference` message (as embedded in a snapshot region manifest).
    pub fn from_message(msg: &[u8]) -> Result<Reference> {
        {
            let (mut key, mut range) = (None, None);
            for f in pb::fields(msg, "reference") {
                match f? {
                    (1, Value::Bytes(b)) => key = Some(b.to_vec()),
                    (2, Value::Varint(v)) => range = Some(v),
                    _ => {}
                }
            }
            let split_key =
                key.ok_or_else(|| Error::corrupt("reference", "Reference without splitkey"))?;
            let top = match range {
                Some(0) => true,
                Some(1) => false,
                Some(v) => {
                    return Err(Error::corrupt("reference", format!("unknown range {v}")));
                }
                None => return Err(Error::corrupt("reference", "Reference without range")),
            };
            Ok(Reference { split_key, top })
        }
    }

    fn parse_writable(bytes: &[u8]) -> Result<Reference> {
        // 0.94 Writable: boolean top, then Bytes.writeByteArray(splitkey).
        let mut c = crate::bytes::Cursor::new(bytes, "reference");
        let top = match c.u8("top flag")? {
            0 => false,
            1 => true,
            v => {
                return Err(Error::corrupt(
                    "reference",
                    format!("neither PBUF nor a Writable boolean (first byte {v})"),
                ))
            }
        };
        let n = c.vint_len("split key length")?;
        let split_key = c.take(n, "split key")?.to_vec();
        if !c.is_empty() {
            return Err(Error::corrupt(
                "reference",
                format!("{} bytes after the split key", c.remaining()),
            ));
        }
        crate::cell::Key::parse(&split_key)?;
        Ok(Reference { split_key, top })
    }

    /// The split row.
    pub fn split_row(&self) -> Result<Vec<u8>> {
        Ok(crate::cell::Key::parse(&self.split_key)?.row().to_vec())
    }
}

/// What a store-file name is (§10.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileName {
    /// A plain HFile: `<hex>[_SeqId_<n>_|_del]`; `bulk_seq_id` from `_SeqId_<n>_`.
    HFile {
        /// The bulk-load sequence id in the name.
        bulk_seq_id: Option<u64>,
    },
    /// `<hfile>.<parentEncodedRegion>`.
    Reference {
        /// The referenced HFile's name.
        hfile: String,
        /// Parent region's encoded name.
        parent_region: String,
    },
    /// `[<ns>=]<table>=<region>-<hfile>`.
    Link {
        /// Namespace (`default` when absent).
        namespace: String,
        /// Table.
        table: String,
        /// Encoded region.
        region: String,
        /// HFile name.
        hfile: String,
    },
}

fn is_hfile_name(s: &str) -> Option<Option<u64>> {
    let hex_end = s
        .bytes()
        .position(|b| !(b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .unwrap_or(s.len());
    if hex_end == 0 {
        return None;
    }
    let rest = s.get(hex_end..)?;
    if rest.is_empty() || rest == "_del" {
        return Some(None);
    }
    let n = rest.strip_prefix("_SeqId_")?.strip_suffix('_')?;
    if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    n.parse().ok().map(Some)
}

/// Classify a store-file name, or None when HBase would not open it.
pub fn classify_name(name: &str) -> Option<FileName> {
    if let Some(bulk) = is_hfile_name(name) {
        return Some(FileName::HFile { bulk_seq_id: bulk });
    }
    // HFileLink: table=region-hfile (table may carry ns=).
    if name.contains('=') {
        let (tbl, rest) = name.rsplit_once('=')?;
        let (region, hfile) = rest.split_once('-')?;
        is_hfile_name(hfile)?;
        if region.is_empty() || !region.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let (ns, table) = match tbl.split_once('=') {
            Some((n, t)) => (n.to_string(), t.to_string()),
            None => ("default".to_string(), tbl.to_string()),
        };
        return Some(FileName::Link {
            namespace: ns,
            table,
            region: region.to_string(),
            hfile: hfile.to_string(),
        });
    }
    let (hfile, parent) = name.rsplit_once('.')?;
    if parent.is_empty() || !parent.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    // The referenced file may itself be a link name.
    if is_hfile_name(hfile).is_some() || classify_name(hfile).is_some() {
        return Some(FileName::Reference {
            hfile: hfile.to_string(),
            parent_region: parent.to_string(),
        });
    }
    None
}

/// A problem found while walking a layout (reported, never papered over).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Problem {
    /// The path concerned.
    pub path: PathBuf,
    /// What is wrong.
    pub message: String,
}

/// A store file as found in a family dir, resolved to the bytes to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreFile {
    /// The entry in the family dir.
    pub path: PathBuf,
    /// Its name's kind.
    pub kind: FileName,
    /// The HFile whose bytes are read (the file itself, the referenced parent file or the
    /// link target).
    pub data_path: PathBuf,
    /// For references: which half.
    pub reference: Option<Reference>,
}

impl StoreFile {
    /// The `_SeqId_<n>_` of the data file name, if any.
    pub fn bulk_seq_id(&self) -> Option<u64> {
        let name = self.data_path.file_name()?.to_str()?;
        match classify_name(name)? {
            FileName::HFile { bulk_seq_id } => bulk_seq_id,
            _ => None,
        }
    }
}

/// One store (family dir) of a region.
#[derive(Debug, Clone)]
pub struct Store {
    /// The family dir.
    pub dir: PathBuf,
    /// Family name (the dir name).
    pub family: Vec<u8>,
    /// Store files, sorted by name.
    pub files: Vec<StoreFile>,
}

/// One region dir.
#[derive(Debug, Clone)]
pub struct Region {
    /// The region dir.
    pub dir: PathBuf,
    /// Its encoded name (the dir name).
    pub encoded_name: String,
    /// Parsed `.regioninfo`, or why it could not be read.
    pub info: std::result::Result<RegionInfo, Error>,
    /// Stores, sorted by family.
    pub stores: Vec<Store>,
    /// A split or merge parent: its row range is covered by newer regions of the same table
    /// dir (see [`mark_superseded`]). HBase leaves a parent's dir in place (with its
    /// `.regioninfo` still saying online) until the CatalogJanitor removes it, so this is
    /// only known from the other regions; [`read_region`] alone leaves it false.
    pub superseded: bool,
}

/// One table dir.
#[derive(Debug, Clone)]
pub struct Table {
    /// The table dir.
    pub dir: PathBuf,
    /// Namespace (`default` for the pre-namespace layout).
    pub namespace: String,
    /// Table name (the dir name).
    pub name: String,
    /// Descriptor, or why it could not be read.
    pub descriptor: std::result::Result<TableDescriptor, Error>,
    /// Regions, sorted by start key when known, else by name.
    pub regions: Vec<Region>,
}

/// Locations used to resolve references and links: the root dir, if known.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// `hbase.rootdir`.
    pub root: Option<PathBuf>,
}

impl Context {
    /// Find the root dir above `p` (a dir holding `data/` or `hbase.version`), if any.
    pub fn for_path(p: &Path) -> Context {
        let mut cur = Some(p);
        while let Some(d) = cur {
            if d.join("hbase.version").is_file()
                || d.join("data").is_dir() && d.join("data").join("default").is_dir()
            {
                return Context {
                    root: Some(d.to_path_buf()),
                };
            }
            cur = d.parent();
        }
        Context::default()
    }
}

fn sorted_entries(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
        .collect();
    v.sort();
    Ok(v)
}

/// Names in a region dir that are never family dirs.
/// (`oldWALs` is `HREGION_OLDLOGDIR_NAME` of 0.96+, where a region with its own WAL — the
/// 0.96–0.98 meta region — keeps its old logs; `.oldlogs` is the 0.94 name.)
const REGION_NON_FAMILY: &[&str] = &[
    "recovered.edits",
    ".tmp",
    ".splits",
    ".merges",
    ".oldlogs",
    "oldWALs",
];

/// True for the names in a region dir that are never family dirs (`recovered.edits`,
/// `oldWALs`, `.tmp`, ...).
pub fn is_region_non_family(name: &str) -> bool {
    REGION_NON_FAMILY.contains(&name)
}

/// Read a family dir: classify and resolve every store file. Unresolvable files are
/// reported as problems (and left out).
pub fn read_store(family_dir: &Path, ctx: &Context, problems: &mut Vec<Problem>) -> Result<Store> {
    let family = family_dir
        .file_name()
        .map(|n| n.to_string_lossy().as_bytes().to_vec())
        .unwrap_or_default();
    let mut files = Vec::new();
    for (name, path) in sorted_entries(family_dir)? {
        if name.starts_with('.') || name.ends_with(".crc") {
            continue;
        }
        let Ok(md) = std::fs::metadata(&path) else {
            continue;
        };
        if md.is_dir() {
            continue;
        }
        let Some(kind) = classify_name(&name) else {
            problems.push(Problem {
                path,
                message: "not a store-file name HBase would open; ignored".into(),
            });
            continue;
        };
        match resolve(&path, &kind, ctx) {
            Ok(Some(sf)) => files.push(sf),
            Ok(None) => problems.push(Problem {
                path,
                message: "zero-length file; skipped as HBase does".into(),
            }),
            Err(e) => problems.push(Problem {
                path,
                message: e.to_string(),
            }),
        }
    }
    Ok(Store {
        dir: family_dir.to_path_buf(),
        family,
        files,
    })
}

fn resolve(path: &Path, kind: &FileName, ctx: &Context) -> Result<Option<StoreFile>> {
    match kind {
        FileName::HFile { .. } => {
            let len = std::fs::metadata(path)
                .map_err(|e| Error::io(path, e))?
                .len();
            if len == 0 {
                return Ok(None);
            }
            Ok(Some(StoreFile {
                path: path.to_path_buf(),
                kind: kind.clone(),
                data_path: path.to_path_buf(),
                reference: None,
            }))
        }
        FileName::Link {
            namespace,
            table,
            region,
            hfile,
        } => {
            let family = path
                .parent()
                .and_then(Path::file_name)
                .map(|f| f.to_os_string())
                .unwrap_or_default();
            let target = resolve_link(ctx, namespace, table, region, &family, hfile)
                .map_err(|e| e.in_file(path))?;
            Ok(Some(StoreFile {
                path: path.to_path_buf(),
                kind: kind.clone(),
                data_path: target,
                reference: None,
            }))
        }
        FileName::Reference {
            hfile,
            parent_region,
        } => {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            let r = Reference::parse(&bytes).map_err(|e| e.in_file(path))?;
            // The parent region is a sibling of this region, in the same table dir.
            let family_dir = path.parent().unwrap_or(Path::new("."));
            let family = family_dir
                .file_name()
                .map(|f| f.to_os_string())
                .unwrap_or_default();
            let table_dir = family_dir.parent().and_then(Path::parent);
            let mut candidates = Vec::new();
            if let Some(t) = table_dir {
                candidates.push(t.join(parent_region).join(&family).join(hfile));
            }
            if let (Some(root), Some(t)) = (&ctx.root, table_dir) {
                if let (Some(tn), Some(ns)) = (t.file_name(), t.parent().and_then(Path::file_name))
                {
                    candidates.push(
                        root.join("archive/data")
                            .join(ns)
                            .join(tn)
                            .join(parent_region)
                            .join(&family)
                            .join(hfile),
                    );
                }
            }
            let kind2 = classify_name(hfile);
            let target = if let Some(FileName::Link {
                namespace,
                table,
                region,
                hfile: lf,
            }) = kind2
            {
                resolve_link(ctx, &namespace, &table, &region, &family, &lf)?
            } else {
                candidates
                    .iter()
                    .find(|c| c.is_file())
                    .cloned()
                    .ok_or_else(|| {
                        Error::corrupt(
                            "reference",
                            format!(
                                "referenced parent file not found (looked at {})",
                                candidates
                                    .iter()
                                    .map(|c| c.display().to_string())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        )
                        .in_file(path)
                    })?
            };
            Ok(Some(StoreFile {
                path: path.to_path_buf(),
                kind: kind.clone(),
                data_path: target,
                reference: Some(r),
            }))
        }
    }
}

/// Resolve an HFileLink in the order HBase tries: `data/`, `.tmp/`, `archive/`.
pub fn resolve_link(
    ctx: &Context,
    namespace: &str,
    table: &str,
    region: &str,
    family: &std::ffi::OsStr,
    hfile: &str,
) -> Result<PathBuf> {
    let root = ctx.root.as_ref().ok_or_else(|| {
        Error::usage(format!(
            "HFileLink {table}={region}-{hfile}: no root dir found above the store to resolve it"
        ))
    })?;
    let rel = Path::new(namespace)
        .join(table)
        .join(region)
        .join(family)
        .join(hfile);
    let tries = [
        root.join("data").join(&rel),
        root.join(".tmp/data").join(&rel),
        root.join("archive/data").join(&rel),
    ];
    tries.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        Error::corrupt(
            "hfilelink",
            format!(
                "link target {}={region}-{hfile} not found in data/, .tmp/ or archive/",
                if namespace == "default" {
                    table.to_string()
                } else {
                    format!("{namespace}={table}")
                }
            ),
        )
    })
}

/// Read a region dir (its `.regioninfo` and every family dir).
pub fn read_region(
    region_dir: &Path,
    ctx: &Context,
    problems: &mut Vec<Problem>,
) -> Result<Region> {
    let encoded_name = region_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let info = RegionInfo::read(region_dir);
    if let Err(e) = &info {
        problems.push(Problem {
            path: region_dir.join(".regioninfo"),
            message: e.to_string(),
        });
    }
    let mut stores = Vec::new();
    for (name, path) in sorted_entries(region_dir)? {
        if name.starts_with('.') || REGION_NON_FAMILY.contains(&name.as_str()) || !path.is_dir() {
            continue;
        }
        stores.push(read_store(&path, ctx, problems)?);
    }
    Ok(Region {
        dir: region_dir.to_path_buf(),
        encoded_name,
        info,
        stores,
        superseded: false,
    })
}

/// Read a table dir: descriptor and regions. Family dirs not in the descriptor, and
/// descriptor families without a dir, are reported.
pub fn read_table(table_dir: &Path, ctx: &Context, problems: &mut Vec<Problem>) -> Result<Table> {
    let name = table_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let namespace = match (&ctx.root, table_dir.parent()) {
        (Some(root), Some(p)) if p.parent() == Some(root.join("data").as_path()) => p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        _ => "default".to_string(),
    };
    let descriptor = TableDescriptor::read_table_dir(table_dir)
        .map(|(_, t)| t)
        .map_err(|e| {
            // 0.94 and older keep no descriptor on disk for the catalog tables: HBase builds
            // it in. (`-META-` is how some test tarballs spell `.META.`.)
            if matches!(name.as_str(), "-ROOT-" | ".META." | "-META-")
                && find_tableinfo(table_dir).is_err()
            {
                Error::unsupported(
                    "table descriptor",
                    "a pre-0.96 catalog table: HBase builds its descriptor in, none is on disk",
                )
                .in_file(table_dir)
            } else {
                e
            }
        });
    if let Err(e) = &descriptor {
        problems.push(Problem {
            path: table_dir.to_path_buf(),
            message: e.to_string(),
        });
    }
    let mut regions = Vec::new();
    for (n, path) in sorted_entries(table_dir)? {
        if n.starts_with('.') || !path.is_dir() {
            continue;
        }
        if !path.join(".regioninfo").is_file() {
            problems.push(Problem {
                path,
                message: "directory without .regioninfo; not a region, ignored".into(),
            });
            continue;
        }
        let r = read_region(&path, ctx, problems)?;
        if let Ok(t) = &descriptor {
            for s in &r.stores {
                if t.family(&s.family).is_none() {
                    problems.push(Problem {
                        path: s.dir.clone(),
                        message: "family dir not in the table descriptor".into(),
                    });
                }
            }
        }
        regions.push(r);
    }
    regions.sort_by(|a, b| match (&a.info, &b.info) {
        (Ok(x), Ok(y)) => x
            .start_key
            .cmp(&y.start_key)
            .then(a.encoded_name.cmp(&b.encoded_name)),
        _ => a.encoded_name.cmp(&b.encoded_name),
    });
    mark_superseded(&mut regions);
    for r in regions.iter().filter(|r| r.superseded) {
        problems.push(Problem {
            path: r.dir.clone(),
            message: "split or merge parent: newer regions cover its rows; not a live region \
                      (scans skip it, compaction leaves it alone)"
                .into(),
        });
    }
    Ok(Table {
        dir: table_dir.to_path_buf(),
        namespace,
        name,
        descriptor,
        regions,
    })
}

/// A region's (start key, end key, region id).
type Span<'a> = (&'a [u8], &'a [u8], u64);

/// Mark split and merge parents among the regions of one table (§10.1): a region is
/// superseded when a newer region (larger region id) covers its whole row range, or when
/// newer regions tile its range exactly (its daughters, possibly split again). Regions
/// whose `.regioninfo` could not be read are left alone.
pub fn mark_superseded(regions: &mut [Region]) {
    // (start, end, id) of the readable regions; an empty end is +infinity.
    let spans: Vec<Option<Span<'_>>> = regions
        .iter()
        .map(|r| {
            r.info
                .as_ref()
                .ok()
                .map(|i| (i.start_key.as_slice(), i.end_key.as_slice(), i.region_id))
        })
        .collect();
    let ends_before = |a: &[u8], b: &[u8]| -> bool {
        // a <= b with empty = +infinity
        b.is_empty() || (!a.is_empty() && a <= b)
    };
    let mut by_start: BTreeMap<&[u8], Vec<(&[u8], u64)>> = BTreeMap::new();
    for (s, e, id) in spans.iter().flatten() {
        by_start.entry(*s).or_default().push((*e, *id));
    }
    let mut flags = vec![false; regions.len()];
    for (i, sp) in spans.iter().enumerate() {
        let Some((s, e, id)) = *sp else { continue };
        // Covered by one newer region.
        let covered = spans.iter().enumerate().any(|(j, o)| {
            j != i && o.is_some_and(|(os, oe, oid)| oid > id && os <= s && ends_before(e, oe))
        });
        // Tiled by newer regions: walk from the start key through regions ending inside.
        let mut tiled = false;
        if !covered {
            let mut frontier = vec![s];
            let mut seen: Vec<&[u8]> = Vec::new();
            'walk: while let Some(k) = frontier.pop() {
                if seen.contains(&k) {
                    continue;
                }
                seen.push(k);
                for (oe, oid) in by_start.get(k).into_iter().flatten() {
                    if *oid <= id || (k == s && *oe == e) {
                        continue;
                    }
                    if *oe == e {
                        tiled = true;
                        break 'walk;
                    }
                    if !oe.is_empty() && ends_before(oe, e) && *oe > k {
                        frontier.push(oe);
                    }
                }
            }
        }
        if let Some(f) = flags.get_mut(i) {
            *f = covered || tiled;
        }
    }
    for (r, f) in regions.iter_mut().zip(flags) {
        r.superseded = f;
    }
}

/// True when `root` uses the namespaced layout (`data/<ns>/<table>/`).
fn is_namespaced(root: &Path) -> bool {
    let data = root.join("data");
    let Ok(nss) = sorted_entries(&data) else {
        return false;
    };
    // In the 0.94 layout `data` can be a table: its children are regions.
    !nss.iter().any(|(_, p)| p.join(".regioninfo").is_file())
}

/// Directories at the root of a pre-namespace rootdir that are not tables.
const LEGACY_NON_TABLES: &[&str] = &[
    ".logs",
    ".oldlogs",
    ".corrupt",
    ".hbck",
    ".tmp",
    ".archive",
    ".snapshot",
    ".hbase-snapshot",
    "WALs",
    "oldWALs",
    "archive",
    "corrupt",
    "staging",
    "mobdir",
    "MasterData",
];

/// Find every table dir under a root dir, in either layout.
pub fn find_tables(root: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if is_namespaced(root) {
        for (_, ns) in sorted_entries(&root.join("data"))? {
            if !ns.is_dir() {
                continue;
            }
            for (n, t) in sorted_entries(&ns)? {
                if t.is_dir() && !n.starts_with('.') {
                    out.push(t);
                }
            }
        }
    } else {
        for (n, t) in sorted_entries(root)? {
            if !t.is_dir() || LEGACY_NON_TABLES.contains(&n.as_str()) {
                continue;
            }
            let is_table = find_tableinfo(&t).is_ok()
                || sorted_entries(&t)?
                    .iter()
                    .any(|(_, r)| r.join(".regioninfo").is_file());
            if is_table {
                out.push(t);
            }
        }
    }
    Ok(out)
}

/// What a path given on a command line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirKind {
    /// An `hbase.rootdir`.
    Root,
    /// A table dir.
    Table,
    /// A region dir.
    Region,
    /// A family (store) dir.
    Store,
}

/// Classify a directory as CompactionTool does (§12.4), plus root dirs.
pub fn dir_kind(p: &Path) -> Option<DirKind> {
    if !p.is_dir() {
        return None;
    }
    if p.join(".regioninfo").is_file() {
        return Some(DirKind::Region);
    }
    if p.parent().is_some_and(|r| r.join(".regioninfo").is_file()) {
        return Some(DirKind::Store);
    }
    if p.join(".tabledesc").is_dir() || find_tableinfo(p).is_ok() {
        return Some(DirKind::Table);
    }
    if p.join("data").is_dir() || p.join("hbase.version").is_file() {
        return Some(DirKind::Root);
    }
    None
}

/// The table dir holding a region dir.
pub fn table_dir_of_region(region_dir: &Path) -> Option<&Path> {
    region_dir.parent()
}

fn put_table_name(out: &mut Vec<u8>, field: u32, ns: &[u8], q: &[u8]) {
    let mut tn = Vec::new();
    pb::put_bytes(&mut tn, 1, ns);
    pb::put_bytes(&mut tn, 2, q);
    pb::put_bytes(out, field, &tn);
}

fn put_pair(out: &mut Vec<u8>, field: u32, k: &str, v: &str) {
    let mut p = Vec::new();
    pb::put_bytes(&mut p, 1, k.as_bytes());
    pb::put_bytes(&mut p, 2, v.as_bytes());
    pb::put_bytes(out, field, &p);
}

impl TableDescriptor {
    /// The bare `TableSchema` message.
    pub fn to_message(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_table_name(&mut out, 1, &self.namespace, &self.name);
        for (k, v) in &self.attributes {
            put_pair(&mut out, 2, k, v);
        }
        for f in &self.families {
            let mut fm = Vec::new();
            pb::put_bytes(&mut fm, 1, &f.name);
            for (k, v) in &f.attributes {
                put_pair(&mut fm, 2, k, v);
            }
            for (k, v) in &f.configuration {
                put_pair(&mut fm, 3, k, v);
            }
            pb::put_bytes(&mut out, 3, &fm);
        }
        for (k, v) in &self.configuration {
            put_pair(&mut out, 4, k, v);
        }
        out
    }

    /// The bytes of a `.tableinfo` file: `PBUF` + TableSchema.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let mut out = PBUF.to_vec();
        out.extend_from_slice(&self.to_message());
        out
    }
}

impl RegionInfo {
    /// The bare `RegionInfo` message.
    pub fn to_message(&self) -> Vec<u8> {
        let mut out = Vec::new();
        pb::put_varint(&mut out, 1, self.region_id);
        put_table_name(&mut out, 2, &self.namespace, &self.table);
        pb::put_bytes(&mut out, 3, &self.start_key);
        pb::put_bytes(&mut out, 4, &self.end_key);
        pb::put_varint(&mut out, 5, u64::from(self.offline));
        pb::put_varint(&mut out, 6, u64::from(self.split));
        if self.replica_id != 0 {
            pb::put_varint(&mut out, 7, self.replica_id as u64);
        }
        out
    }

    /// The bytes of a `.regioninfo` file: `PBUF` + varint-delimited RegionInfo.
    pub fn to_file_bytes(&self) -> Vec<u8> {
        let msg = self.to_message();
        let mut out = PBUF.to_vec();
        crate::bytes::write_pbvar(&mut out, msg.len() as u64);
        out.extend_from_slice(&msg);
        out
    }

    /// The encoded region name (the region dir name): lowercase hex MD5 of
    /// `<table>,<startKey>,<regionId>[_<replica %04X>]` (§10.1).
    pub fn encoded_name(&self) -> String {
        use md5::Digest;
        let mut name = if !self.namespace.is_empty() && self.namespace != b"default" {
            [self.namespace.as_slice(), b":", self.table.as_slice()].concat()
        } else {
            self.table.clone()
        };
        name.push(b',');
        name.extend_from_slice(&self.start_key);
        name.push(b',');
        name.extend_from_slice(self.region_id.to_string().as_bytes());
        if self.replica_id > 0 {
            name.extend_from_slice(format!("_{:04X}", self.replica_id).as_bytes());
        }
        let d = md5::Md5::digest(&name);
        crate::bytes::to_hex(&d)
    }
}
