//! METAFAMILY marker edits: flush, compaction, region open/close and bulk-load events that
//! HBase writes into the WAL as cells of family `METAFAMILY` whose value is a serialized
//! (not delimited) protobuf descriptor, told apart by the qualifier.

use crate::bytes::to_string_binary;
use crate::cell::Cell;
use crate::error::{Error, Result};
use crate::pb::{fields, Value};

use super::METAFAMILY;

/// Qualifier of compaction markers.
pub const COMPACTION: &[u8] = b"HBASE::COMPACTION";
/// Qualifier of flush markers.
pub const FLUSH: &[u8] = b"HBASE::FLUSH";
/// Qualifier prefix of region open/close markers.
pub const REGION_EVENT: &[u8] = b"HBASE::REGION_EVENT";
/// Qualifier of bulk-load markers.
pub const BULK_LOAD: &[u8] = b"HBASE::BULK_LOAD";
/// Qualifier of replication markers (2.5+; value empty in the file).
pub const REPLICATION_MARKER: &[u8] = b"HBASE::REPLICATION_MARKER";

/// A decoded marker cell.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "marker")]
pub enum Marker {
    /// `HBASE::FLUSH`.
    Flush(FlushDescriptor),
    /// `HBASE::COMPACTION`.
    Compaction(CompactionDescriptor),
    /// `HBASE::REGION_EVENT[::REGION_OPEN|::REGION_CLOSE]`.
    RegionEvent(RegionEventDescriptor),
    /// `HBASE::BULK_LOAD`.
    BulkLoad(BulkLoadDescriptor),
    /// `HBASE::REPLICATION_MARKER` (no payload in the file).
    Replication,
    /// Another METAFAMILY qualifier.
    Other {
        /// The qualifier, in toStringBinary form.
        qualifier: String,
    },
}

impl Marker {
    /// Short name: `FLUSH`, `COMPACTION`, ...
    pub fn name(&self) -> &'static str {
        match self {
            Marker::Flush(_) => "FLUSH",
            Marker::Compaction(_) => "COMPACTION",
            Marker::RegionEvent(_) => "REGION_EVENT",
            Marker::BulkLoad(_) => "BULK_LOAD",
            Marker::Replication => "REPLICATION_MARKER",
            Marker::Other { .. } => "OTHER",
        }
    }
}

/// True when the cell is a METAFAMILY marker cell.
pub fn is_marker_cell(c: &Cell<'_>) -> bool {
    c.key.family() == METAFAMILY
}

/// Decode a METAFAMILY cell; None for ordinary cells.
pub fn decode(c: &Cell<'_>) -> Option<Result<Marker>> {
    if !is_marker_cell(c) {
        return None;
    }
    let q = c.key.qualifier();
    let v = c.value;
    Some(if q == FLUSH {
        FlushDescriptor::parse(v).map(Marker::Flush)
    } else if q == COMPACTION {
        CompactionDescriptor::parse(v).map(Marker::Compaction)
    } else if q.starts_with(REGION_EVENT) {
        RegionEventDescriptor::parse(v).map(Marker::RegionEvent)
    } else if q == BULK_LOAD {
        BulkLoadDescriptor::parse(v).map(Marker::BulkLoad)
    } else if q == REPLICATION_MARKER {
        Ok(Marker::Replication)
    } else {
        Ok(Marker::Other {
            qualifier: to_string_binary(q),
        })
    })
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn bytes<'a>(v: Value<'a>, ctx: &'static str, field: u32) -> Result<&'a [u8]> {
    match v {
        Value::Bytes(b) => Ok(b),
        _ => Err(Error::corrupt(
            ctx,
            format!("field {field} has the wrong wire type"),
        )),
    }
}

fn varint(v: Value<'_>, ctx: &'static str, field: u32) -> Result<u64> {
    match v {
        Value::Varint(n) => Ok(n),
        _ => Err(Error::corrupt(
            ctx,
            format!("field {field} has the wrong wire type"),
        )),
    }
}

fn require(ok: bool, ctx: &'static str, what: &str) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::corrupt(
            ctx,
            format!("required field {what} missing"),
        ))
    }
}

/// `FlushDescriptor.FlushAction` name.
fn flush_action(n: u64) -> String {
    match n {
        0 => "START_FLUSH".into(),
        1 => "COMMIT_FLUSH".into(),
        2 => "ABORT_FLUSH".into(),
        3 => "CANNOT_FLUSH".into(),
        n => format!("UNKNOWN({n})"),
    }
}

/// `FlushDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct FlushDescriptor {
    /// START_FLUSH, COMMIT_FLUSH, ABORT_FLUSH, CANNOT_FLUSH.
    pub action: String,
    /// Table name.
    pub table_name: String,
    /// Encoded region name.
    pub encoded_region_name: String,
    /// Flush sequence number.
    pub flush_sequence_number: Option<u64>,
    /// Per-store outputs.
    pub store_flushes: Vec<StoreFlushDescriptor>,
    /// Full region name (toStringBinary).
    pub region_name: Option<String>,
}

/// `StoreFlushDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreFlushDescriptor {
    /// Family.
    pub family_name: String,
    /// Store dir relative to the region dir.
    pub store_home_dir: String,
    /// Flushed files.
    pub flush_output: Vec<String>,
}

impl FlushDescriptor {
    /// Parse the marker value.
    pub fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "FlushDescriptor";
        let mut d = FlushDescriptor::default();
        let (mut has_action, mut has_table, mut has_region) = (false, false, false);
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => {
                    d.action = flush_action(varint(v, C, n)?);
                    has_action = true;
                }
                2 => {
                    d.table_name = text(bytes(v, C, n)?);
                    has_table = true;
                }
                3 => {
                    d.encoded_region_name = text(bytes(v, C, n)?);
                    has_region = true;
                }
                4 => d.flush_sequence_number = Some(varint(v, C, n)?),
                5 => d
                    .store_flushes
                    .push(StoreFlushDescriptor::parse(bytes(v, C, n)?)?),
                6 => d.region_name = Some(to_string_binary(bytes(v, C, n)?)),
                _ => {}
            }
        }
        require(has_action, C, "action")?;
        require(has_table, C, "table_name")?;
        require(has_region, C, "encoded_region_name")?;
        Ok(d)
    }
}

impl StoreFlushDescriptor {
    fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "StoreFlushDescriptor";
        let mut d = StoreFlushDescriptor::default();
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => d.family_name = to_string_binary(bytes(v, C, n)?),
                2 => d.store_home_dir = text(bytes(v, C, n)?),
                3 => d.flush_output.push(text(bytes(v, C, n)?)),
                _ => {}
            }
        }
        Ok(d)
    }
}

/// `CompactionDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CompactionDescriptor {
    /// Table name.
    pub table_name: String,
    /// Encoded region name.
    pub encoded_region_name: String,
    /// Family.
    pub family_name: String,
    /// Input store files (names relative to the store dir).
    pub compaction_input: Vec<String>,
    /// Output store files.
    pub compaction_output: Vec<String>,
    /// Store dir relative to the region dir.
    pub store_home_dir: String,
    /// Full region name (toStringBinary).
    pub region_name: Option<String>,
}

impl CompactionDescriptor {
    /// Parse the marker value.
    pub fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "CompactionDescriptor";
        let mut d = CompactionDescriptor::default();
        let mut seen = [false; 3];
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => {
                    d.table_name = text(bytes(v, C, n)?);
                    seen[0] = true;
                }
                2 => {
                    d.encoded_region_name = text(bytes(v, C, n)?);
                    seen[1] = true;
                }
                3 => {
                    d.family_name = to_string_binary(bytes(v, C, n)?);
                    seen[2] = true;
                }
                4 => d.compaction_input.push(text(bytes(v, C, n)?)),
                5 => d.compaction_output.push(text(bytes(v, C, n)?)),
                6 => d.store_home_dir = text(bytes(v, C, n)?),
                7 => d.region_name = Some(to_string_binary(bytes(v, C, n)?)),
                _ => {}
            }
        }
        require(
            seen == [true; 3],
            C,
            "table_name/encoded_region_name/family_name",
        )?;
        Ok(d)
    }
}

/// `StoreDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct StoreDescriptor {
    /// Family.
    pub family_name: String,
    /// Store dir relative to the region dir.
    pub store_home_dir: String,
    /// Store files.
    pub store_file: Vec<String>,
    /// Total size of the store files.
    pub store_file_size_bytes: Option<u64>,
}

impl StoreDescriptor {
    fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "StoreDescriptor";
        let mut d = StoreDescriptor::default();
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => d.family_name = to_string_binary(bytes(v, C, n)?),
                2 => d.store_home_dir = text(bytes(v, C, n)?),
                3 => d.store_file.push(text(bytes(v, C, n)?)),
                4 => d.store_file_size_bytes = Some(varint(v, C, n)?),
                _ => {}
            }
        }
        Ok(d)
    }
}

/// `RegionEventDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RegionEventDescriptor {
    /// REGION_OPEN or REGION_CLOSE.
    pub event_type: String,
    /// Table name.
    pub table_name: String,
    /// Encoded region name.
    pub encoded_region_name: String,
    /// Sequence number.
    pub log_sequence_number: Option<u64>,
    /// Stores and their files.
    pub stores: Vec<StoreDescriptor>,
    /// Server as `host,port,startcode`.
    pub server: Option<String>,
    /// Full region name (toStringBinary).
    pub region_name: Option<String>,
}

impl RegionEventDescriptor {
    /// Parse the marker value.
    pub fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "RegionEventDescriptor";
        let mut d = RegionEventDescriptor::default();
        let mut has_type = false;
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => {
                    d.event_type = match varint(v, C, n)? {
                        0 => "REGION_OPEN".into(),
                        1 => "REGION_CLOSE".into(),
                        x => format!("UNKNOWN({x})"),
                    };
                    has_type = true;
                }
                2 => d.table_name = text(bytes(v, C, n)?),
                3 => d.encoded_region_name = text(bytes(v, C, n)?),
                4 => d.log_sequence_number = Some(varint(v, C, n)?),
                5 => d.stores.push(StoreDescriptor::parse(bytes(v, C, n)?)?),
                6 => d.server = Some(server_name(bytes(v, C, n)?)?),
                7 => d.region_name = Some(to_string_binary(bytes(v, C, n)?)),
                _ => {}
            }
        }
        require(has_type, C, "event_type")?;
        Ok(d)
    }
}

fn server_name(b: &[u8]) -> Result<String> {
    const C: &str = "ServerName";
    let (mut host, mut port, mut start) = (String::new(), None, None);
    for f in fields(b, C) {
        let (n, v) = f?;
        match n {
            1 => host = text(bytes(v, C, n)?),
            2 => port = Some(varint(v, C, n)?),
            3 => start = Some(varint(v, C, n)?),
            _ => {}
        }
    }
    Ok(format!(
        "{host},{},{}",
        port.map_or(String::new(), |p| p.to_string()),
        start.map_or(String::new(), |s| s.to_string())
    ))
}

/// `BulkLoadDescriptor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct BulkLoadDescriptor {
    /// Table as `ns:qualifier` (or `qualifier` in `default`).
    pub table_name: String,
    /// Encoded region name.
    pub encoded_region_name: String,
    /// Stores and their loaded files.
    pub stores: Vec<StoreDescriptor>,
    /// Sequence number assigned to the load.
    pub bulkload_seq_num: i64,
    /// Cluster ids.
    pub cluster_ids: Vec<String>,
    /// Replicate flag (default true).
    pub replicate: bool,
}

impl BulkLoadDescriptor {
    /// Parse the marker value.
    pub fn parse(b: &[u8]) -> Result<Self> {
        const C: &str = "BulkLoadDescriptor";
        let mut d = BulkLoadDescriptor {
            replicate: true,
            ..Default::default()
        };
        for f in fields(b, C) {
            let (n, v) = f?;
            match n {
                1 => d.table_name = table_name(bytes(v, C, n)?)?,
                2 => d.encoded_region_name = text(bytes(v, C, n)?),
                3 => d.stores.push(StoreDescriptor::parse(bytes(v, C, n)?)?),
                4 => d.bulkload_seq_num = varint(v, C, n)? as i64,
                5 => d.cluster_ids.push(text(bytes(v, C, n)?)),
                6 => d.replicate = varint(v, C, n)? != 0,
                _ => {}
            }
        }
        Ok(d)
    }
}

/// `TableName{namespace, qualifier}` as HBase prints it.
fn table_name(b: &[u8]) -> Result<String> {
    const C: &str = "TableName";
    let (mut ns, mut q) = (Vec::new(), Vec::new());
    for f in fields(b, C) {
        let (n, v) = f?;
        match n {
            1 => ns = bytes(v, C, n)?.to_vec(),
            2 => q = bytes(v, C, n)?.to_vec(),
            _ => {}
        }
    }
    Ok(if ns.is_empty() || ns == b"default" {
        text(&q)
    } else {
        format!("{}:{}", text(&ns), text(&q))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flush_from_fixture_bytes() {
        let v = b"\x08\x00\x12\x0Coracle_table\x1A d41d8cd98f00b204e9800998ecf8427e \xE0\x01*\x08\x0A\x02cf\x12\x02cf";
        let d = FlushDescriptor::parse(v).unwrap();
        assert_eq!(d.action, "START_FLUSH");
        assert_eq!(d.table_name, "oracle_table");
        assert_eq!(d.encoded_region_name, "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(d.flush_sequence_number, Some(224));
        assert_eq!(d.store_flushes.len(), 1);
        assert_eq!(d.store_flushes[0].family_name, "cf");
    }
}
