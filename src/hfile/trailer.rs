//! The fixed file trailer at the end of every HFile: version, section offsets, counts,
//! codec and comparator. v3 (and v2 minor >= 2) store it as a protobuf in a fixed-size
//! area; v2 minor 0/1 use the 212-byte Writable layout.

use crate::bytes::{be_i32, Cursor};
use crate::cell::Order;
use crate::codec::Compression;
use crate::error::{Error, Result};
use crate::pb::{self, Value};

/// Trailer magic `TRABLK"$`.
pub const TRAILER_MAGIC: &[u8; 8] = b"TRABLK\"$";
/// Size of the v2 trailer area.
pub const TRAILER_SIZE_V2: usize = 212;
/// Size of the v3 trailer area.
pub const TRAILER_SIZE_V3: usize = 4096;

/// The decoded trailer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Trailer {
    /// Major version (2 or 3).
    pub major_version: u32,
    /// Minor version.
    pub minor_version: u32,
    /// Bytes the trailer occupies at the end of the file.
    pub trailer_size: usize,
    /// True if stored as protobuf.
    pub protobuf: bool,
    /// Offset of the FILE_INFO block.
    pub file_info_offset: u64,
    /// Offset of the load-on-open section (data index root).
    pub load_on_open_data_offset: u64,
    /// Σ uncompressed size of the data index blocks.
    pub uncompressed_data_index_size: u64,
    /// Informational total of uncompressed bytes.
    pub total_uncompressed_bytes: u64,
    /// Entries in the data index root.
    pub data_index_count: u32,
    /// Number of meta blocks.
    pub meta_index_count: u32,
    /// Number of cells.
    pub entry_count: u64,
    /// Data index levels.
    pub num_data_index_levels: u32,
    /// First data block offset (-1 when empty).
    pub first_data_block_offset: i64,
    /// Last data block offset (-1 when empty).
    pub last_data_block_offset: i64,
    /// Comparator class name as stored.
    pub comparator_class_name: String,
    /// Codec ordinal as stored.
    pub compression_codec: u32,
    /// True when the file carries an encryption key.
    pub encrypted: bool,
}

impl Trailer {
    /// True when blocks have 33-byte headers with checksums.
    pub fn has_checksums(&self) -> bool {
        self.major_version >= 3 || self.minor_version >= 1
    }
    /// Codec, if the ordinal is known.
    pub fn compression(&self) -> Option<Compression> {
        Compression::from_ordinal(self.compression_codec)
    }
    /// Cell order implied by the comparator name.
    pub fn order(&self) -> Order {
        Order::from_class_name(&self.comparator_class_name)
    }
    /// The comparator class HBase 2.x resolves the stored name to (what `hbase hfile -m` shows).
    pub fn resolved_comparator(&self) -> &str {
        match self.comparator_class_name.as_str() {
            "org.apache.hadoop.hbase.KeyValue$KVComparator"
            | "org.apache.hadoop.hbase.KeyValue$KeyComparator"
            | "org.apache.hadoop.hbase.CellComparator"
            | "org.apache.hadoop.hbase.CellComparatorImpl" => {
                "org.apache.hadoop.hbase.InnerStoreCellComparator"
            }
            "org.apache.hadoop.hbase.KeyValue$MetaComparator"
            | "org.apache.hadoop.hbase.KeyValue$MetaKeyComparator"
            | "org.apache.hadoop.hbase.CellComparator$MetaCellComparator"
            | "org.apache.hadoop.hbase.CellComparatorImpl$MetaCellComparator" => {
                "org.apache.hadoop.hbase.MetaCellComparator"
            }
            other => other,
        }
    }

    /// Read the trailer from the end of `file`. Each unreadable form gets its own error.
    pub fn parse(file: &[u8]) -> Result<Trailer> {
        let len = file.len();
        if len < 4 {
            return Err(Error::corrupt(
                "trailer",
                format!("file of {len} bytes is too small to be an HFile"),
            )
            .at(0));
        }
        let v = be_i32(file, len - 4).unwrap_or(0) as u32;
        let (major, minor) = (v & 0x00ff_ffff, v >> 24);
        let size = match major {
            1 => {
                return Err(Error::unsupported(
                    "trailer",
                    "HFile v1 (HBase 0.20-0.90): hbkit reads v2 and v3 only; major-compact the table under HBase 0.92-0.94 to rewrite it as v2",
                )
                .at(len as u64 - 4))
            }
            2 => TRAILER_SIZE_V2,
            3 => TRAILER_SIZE_V3,
            4..=15 => {
                return Err(Error::unsupported(
                    "trailer",
                    format!("HFile major version {major} (minor {minor}) is newer than v3, the newest hbkit reads"),
                )
                .at(len as u64 - 4))
            }
            _ => {
                return Err(Error::corrupt(
                    "trailer",
                    format!("last 4 bytes {v:#010x} are not an HFile version (not an HFile, or truncated)"),
                )
                .at(len as u64 - 4))
            }
        };
        if len < size {
            return Err(Error::corrupt(
                "trailer",
                format!("file of {len} bytes is smaller than the {size}-byte v{major} trailer (truncated?)"),
            )
            .at(0));
        }
        let start = len - size;
        let area = file.get(start..).unwrap_or(&[]);
        if !area.starts_with(TRAILER_MAGIC) {
            return Err(Error::corrupt(
                "trailer",
                format!(
                    "expected trailer magic TRABLK\"$ for v{major}.{minor}, found {}",
                    crate::bytes::to_string_binary(area.get(..8).unwrap_or(&[]))
                ),
            )
            .at(start as u64));
        }
        let body = area.get(8..size - 4).unwrap_or(&[]);
        let mut t = Trailer {
            major_version: major,
            minor_version: minor,
            trailer_size: size,
            protobuf: major == 3 || minor >= 2,
            file_info_offset: 0,
            load_on_open_data_offset: 0,
            uncompressed_data_index_size: 0,
            total_uncompressed_bytes: 0,
            data_index_count: 0,
            meta_index_count: 0,
            entry_count: 0,
            num_data_index_levels: 1,
            first_data_block_offset: -1,
            last_data_block_offset: -1,
            comparator_class_name: String::new(),
            compression_codec: Compression::None.ordinal(),
            encrypted: false,
        };
        let r = if t.protobuf {
            t.parse_pb(body)
        } else {
            t.parse_writable(body)
        };
        r.map_err(|e| e.rebase(start as u64 + 8))?;
        t.validate(len as u64, start as u64)?;
        Ok(t)
    }

    fn parse_pb(&mut self, body: &[u8]) -> Result<()> {
        let (msg, _) = pb::delimited(body, "trailer")?;
        let mut saw_codec = false;
        for f in pb::fields(msg, "trailer") {
            let (n, v) = f?;
            match (n, v) {
                (1, Value::Varint(x)) => self.file_info_offset = x,
                (2, Value::Varint(x)) => self.load_on_open_data_offset = x,
                (3, Value::Varint(x)) => self.uncompressed_data_index_size = x,
                (4, Value::Varint(x)) => self.total_uncompressed_bytes = x,
                (5, Value::Varint(x)) => self.data_index_count = x as u32,
                (6, Value::Varint(x)) => self.meta_index_count = x as u32,
                (7, Value::Varint(x)) => self.entry_count = x,
                (8, Value::Varint(x)) => self.num_data_index_levels = x as u32,
                (9, Value::Varint(x)) => self.first_data_block_offset = x as i64,
                (10, Value::Varint(x)) => self.last_data_block_offset = x as i64,
                (11, Value::Bytes(b)) => {
                    self.comparator_class_name = String::from_utf8_lossy(b).into_owned()
                }
                (12, Value::Varint(x)) => {
                    saw_codec = true;
                    self.compression_codec = x as u32
                }
                (13, Value::Bytes(_)) => self.encrypted = true,
                _ => {}
            }
        }
        if !saw_codec {
            self.compression_codec = Compression::None.ordinal();
        }
        Ok(())
    }

    fn parse_writable(&mut self, body: &[u8]) -> Result<()> {
        let mut c = Cursor::new(body, "trailer");
        let u = |x: i64| x as u64;
        self.file_info_offset = u(c.i64("fileInfoOffset")?);
        self.load_on_open_data_offset = u(c.i64("loadOnOpenDataOffset")?);
        self.data_index_count = c.i32("dataIndexCount")? as u32;
        self.uncompressed_data_index_size = u(c.i64("uncompressedDataIndexSize")?);
        self.meta_index_count = c.i32("metaIndexCount")? as u32;
        self.total_uncompressed_bytes = u(c.i64("totalUncompressedBytes")?);
        self.entry_count = u(c.i64("entryCount")?);
        self.compression_codec = c.i32("compressionCodec")? as u32;
        self.num_data_index_levels = c.i32("numDataIndexLevels")? as u32;
        self.first_data_block_offset = c.i64("firstDataBlockOffset")?;
        self.last_data_block_offset = c.i64("lastDataBlockOffset")?;
        let name = c.take(128, "comparatorClassName")?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        self.comparator_class_name =
            String::from_utf8_lossy(name.get(..end).unwrap_or(&[])).into_owned();
        Ok(())
    }

    fn validate(&self, file_len: u64, trailer_start: u64) -> Result<()> {
        let bad = |m: String| Err(Error::corrupt("trailer", m).at(trailer_start));
        if self.encrypted {
            return Err(Error::unsupported(
                "trailer",
                "the file is encrypted (trailer carries an encryption key); hbkit does not decrypt HFiles",
            )
            .at(trailer_start));
        }
        match self.compression() {
            None => {
                return Err(Error::unsupported(
                    "trailer",
                    format!("unknown compression codec ordinal {} (known: 0-8)", self.compression_codec),
                )
                .at(trailer_start))
            }
            Some(c) if !c.is_supported() => {
                return Err(Error::unsupported(
                    "trailer",
                    format!("compression codec {} is not supported by hbkit (supported: NONE, GZ, SNAPPY, LZ4, ZSTD)", c.name()),
                )
                .at(trailer_start))
            }
            _ => {}
        }
        if self.load_on_open_data_offset >= trailer_start {
            return bad(format!(
                "loadOnOpenDataOffset {} is not before the trailer at {trailer_start}",
                self.load_on_open_data_offset
            ));
        }
        if self.file_info_offset < self.load_on_open_data_offset
            || self.file_info_offset >= trailer_start
        {
            return bad(format!(
                "fileInfoOffset {} is outside the load-on-open section [{}, {trailer_start})",
                self.file_info_offset, self.load_on_open_data_offset
            ));
        }
        if self.num_data_index_levels == 0 || self.num_data_index_levels > 16 {
            return bad(format!(
                "numDataIndexLevels {} is outside 1..16",
                self.num_data_index_levels
            ));
        }
        let _ = file_len;
        if self.entry_count > 0 {
            let (f, l) = (self.first_data_block_offset, self.last_data_block_offset);
            if f < 0 || l < f || l as u64 >= self.load_on_open_data_offset {
                return bad(format!(
                    "data block offsets first={f} last={l} are not inside [0, loadOnOpenDataOffset={})",
                    self.load_on_open_data_offset
                ));
            }
        }
        Ok(())
    }
}
