//! The FILE_INFO block: a sorted map of byte keys to byte values (`PBUF` + FileInfoProto, or
//! the legacy Writable map), with typed accessors and HBase's rendering of the standard keys.

use std::collections::BTreeMap;

use crate::bytes::{be_i32, be_i64, to_string_binary, Cursor};
use crate::cell::Key;
use crate::error::{Error, Result};
use crate::pb::{self, Value};

/// Standard key names, as stored on disk.
pub mod keys {
    /// Last cell's KEY.
    pub const LASTKEY: &str = "hfile.LASTKEY";
    /// Average key length (i32).
    pub const AVG_KEY_LEN: &str = "hfile.AVG_KEY_LEN";
    /// Average value length (i32).
    pub const AVG_VALUE_LEN: &str = "hfile.AVG_VALUE_LEN";
    /// Creation time (i64 ms).
    pub const CREATE_TIME_TS: &str = "hfile.CREATE_TIME_TS";
    /// Max tags length (i32); its presence means cells carry a tags length.
    pub const MAX_TAGS_LEN: &str = "hfile.MAX_TAGS_LEN";
    /// Tags dictionary-compressed in encoded blocks (bool).
    pub const TAGS_COMPRESSED: &str = "hfile.TAGS_COMPRESSED";
    /// Max memstoreTS (i64).
    pub const MAX_MEMSTORE_TS_KEY: &str = "MAX_MEMSTORE_TS_KEY";
    /// 1 = every cell is followed by a vlong memstoreTS.
    pub const KEY_VALUE_VERSION: &str = "KEY_VALUE_VERSION";
    /// Data block encoding name.
    pub const DATA_BLOCK_ENCODING: &str = "DATA_BLOCK_ENCODING";
    /// Bloom type name.
    pub const BLOOM_FILTER_TYPE: &str = "BLOOM_FILTER_TYPE";
    /// Prefix length for ROWPREFIX_FIXED_LENGTH.
    pub const BLOOM_FILTER_PARAM: &str = "BLOOM_FILTER_PARAM";
    /// Last bloom key.
    pub const LAST_BLOOM_KEY: &str = "LAST_BLOOM_KEY";
    /// Count of DeleteFamily(+Version) cells.
    pub const DELETE_FAMILY_COUNT: &str = "DELETE_FAMILY_COUNT";
    /// Time range (min, max).
    pub const TIMERANGE: &str = "TIMERANGE";
    /// Earliest put timestamp.
    pub const EARLIEST_PUT_TS: &str = "EARLIEST_PUT_TS";
    /// Max sequence id.
    pub const MAX_SEQ_ID_KEY: &str = "MAX_SEQ_ID_KEY";
    /// Major compaction output flag.
    pub const MAJOR_COMPACTION_KEY: &str = "MAJOR_COMPACTION_KEY";
    /// Bulk load time.
    pub const BULKLOAD_TIMESTAMP: &str = "BULKLOAD_TIMESTAMP";
    /// Bulk load task id.
    pub const BULKLOAD_SOURCE_TASK: &str = "BULKLOAD_SOURCE_TASK";
    /// Exclude from minor compaction flag.
    pub const EXCLUDE_FROM_MINOR_COMPACTION: &str = "EXCLUDE_FROM_MINOR_COMPACTION";
    /// Historical file flag (2.5+).
    pub const HISTORICAL: &str = "HISTORICAL";
    /// Key of the biggest cell (2.6+).
    pub const KEY_OF_BIGGEST_CELL: &str = "hfile.KEY_OF_BIGGEST_CELL";
    /// Length of the biggest cell (2.6+).
    pub const LEN_OF_BIGGEST_CELL: &str = "hfile.LEN_OF_BIGGEST_CELL";
}

/// The FileInfo map.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileInfo {
    /// Entries sorted by key bytes.
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
    /// True when stored as protobuf (`PBUF`), false for the legacy Writable form.
    pub protobuf: bool,
}

impl FileInfo {
    /// Parse a FILE_INFO block payload. Offsets in errors are relative to the payload.
    pub fn parse(payload: &[u8]) -> Result<FileInfo> {
        let mut fi = FileInfo::default();
        if let Some(rest) = payload.strip_prefix(b"PBUF") {
            fi.protobuf = true;
            let (msg, _) = pb::delimited(rest, "FILE_INFO").map_err(|e| e.rebase(4))?;
            for f in pb::fields(msg, "FILE_INFO") {
                if let (1, Value::Bytes(pair)) = f? {
                    let (mut k, mut v) = (None, None);
                    for g in pb::fields(pair, "FILE_INFO entry") {
                        match g? {
                            (1, Value::Bytes(b)) => k = Some(b),
                            (2, Value::Bytes(b)) => v = Some(b),
                            _ => {}
                        }
                    }
                    match (k, v) {
                        (Some(k), Some(v)) => {
                            fi.map.insert(k.to_vec(), v.to_vec());
                        }
                        _ => {
                            return Err(Error::corrupt(
                                "FILE_INFO",
                                "map entry lacks its key or value",
                            ))
                        }
                    }
                }
            }
        } else {
            let mut c = Cursor::new(payload, "FILE_INFO");
            let n = c.i32("entry count")?;
            if n < 0 || n as usize > payload.len() {
                return Err(Error::corrupt(
                    "FILE_INFO",
                    format!("legacy map claims {n} entries"),
                ));
            }
            for _ in 0..n {
                let kl = c.vint_len("key length")?;
                let k = c.take(kl, "key")?;
                c.u8("value class code")?;
                let vl = c.vint_len("value length")?;
                let v = c.take(vl, "value")?;
                fi.map.insert(k.to_vec(), v.to_vec());
            }
        }
        Ok(fi)
    }
    /// Raw value for a key.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.map.get(key.as_bytes()).map(Vec::as_slice)
    }
    /// i32 value (exactly 4 bytes), if present and well-formed.
    pub fn get_i32(&self, key: &str) -> Option<i32> {
        self.get(key)
            .filter(|v| v.len() == 4)
            .and_then(|v| be_i32(v, 0))
    }
    /// i64 value (exactly 8 bytes).
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.get(key)
            .filter(|v| v.len() == 8)
            .and_then(|v| be_i64(v, 0))
    }
    /// Boolean (one byte, non-zero = true).
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.get(key)
            .filter(|v| v.len() == 1)
            .map(|v| v.first() != Some(&0))
    }
    /// UTF-8 string value.
    pub fn get_str(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }
    /// TIMERANGE as (min, max): the 16-byte Writable form (any length >= 16, as 0.98 writes
    /// 32) or `PBUF` + TimeRangeTracker.
    pub fn time_range(&self) -> Option<(i64, i64)> {
        let v = self.get(keys::TIMERANGE)?;
        if let Some(msg) = v.strip_prefix(b"PBUF") {
            let (mut from, mut to) = (0i64, i64::MAX);
            for f in pb::fields(msg, "TIMERANGE") {
                match f.ok()? {
                    (1, Value::Varint(x)) => from = x as i64,
                    (2, Value::Varint(x)) => to = x as i64,
                    _ => {}
                }
            }
            return Some((from, to));
        }
        Some((be_i64(v, 0)?, be_i64(v, 8)?))
    }
    /// Cells carry a tags length.
    pub fn includes_tags(&self) -> bool {
        self.get(keys::MAX_TAGS_LEN).is_some()
    }
    /// Cells carry a vlong memstoreTS.
    pub fn includes_mvcc(&self) -> bool {
        self.get_i32(keys::KEY_VALUE_VERSION) == Some(1)
    }
    /// Tags are dictionary-compressed in PREFIX/DIFF/FAST_DIFF blocks.
    pub fn tags_compressed(&self) -> bool {
        self.get_bool(keys::TAGS_COMPRESSED).unwrap_or(false)
    }

    /// HBase 2.x's `hfile -m` rendering of a value.
    pub fn render(key: &[u8], value: &[u8]) -> String {
        let k = String::from_utf8_lossy(key);
        let long = || {
            be_i64(value, 0)
                .filter(|_| value.len() == 8)
                .map(|x| x.to_string())
        };
        let int = || {
            be_i32(value, 0)
                .filter(|_| value.len() == 4)
                .map(|x| x.to_string())
        };
        let r = match k.as_ref() {
            keys::MAX_SEQ_ID_KEY
            | keys::DELETE_FAMILY_COUNT
            | keys::EARLIEST_PUT_TS
            | keys::MAX_MEMSTORE_TS_KEY
            | keys::CREATE_TIME_TS
            | keys::BULKLOAD_TIMESTAMP => long(),
            keys::AVG_KEY_LEN
            | keys::AVG_VALUE_LEN
            | keys::KEY_VALUE_VERSION
            | keys::MAX_TAGS_LEN => int(),
            keys::MAJOR_COMPACTION_KEY
            | keys::TAGS_COMPRESSED
            | keys::EXCLUDE_FROM_MINOR_COMPACTION
            | keys::HISTORICAL => value
                .first()
                .filter(|_| value.len() == 1)
                .map(|b| (*b != 0).to_string()),
            keys::TIMERANGE => {
                let fi = FileInfo {
                    map: [(key.to_vec(), value.to_vec())].into_iter().collect(),
                    protobuf: true,
                };
                fi.time_range().map(|(a, b)| format!("{a}....{b}"))
            }
            keys::LASTKEY => Key::parse(value).ok().map(|k| k.key_only_string()),
            _ => None,
        };
        r.unwrap_or_else(|| to_string_binary(value))
    }
}
