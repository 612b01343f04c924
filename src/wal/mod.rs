//! HBase write-ahead logs: the protobuf WAL (`PWAL`, HBase 0.96+; also the format of
//! `recovered.edits` files) and the legacy SequenceFile HLog of HBase 0.92/0.94.
//!
//! [`WalReader`] streams entries from any [`std::io::Read`] in constant memory (one entry is
//! held at a time, its cells in one reused buffer). Damaged files are not errors: a read
//! ends with an [`Ending`] that says whether the file was closed cleanly, is a normal
//! trailer-less WAL of a live or crashed writer, or is damaged — and where, so every complete
//! entry before the damage is still delivered.
//!
//! ```text
//! WAL     := "PWAL" pbvar(len) WALHeader  ENTRY*  [ WALTrailer i32(size) "LAWP" ]
//! ENTRY   := pbvar(len) WALKey  CELL{following_kv_count}
//! ```

pub mod marker;
pub mod pretty;
pub mod reader;
pub mod replay;
mod seqfile;
pub mod split;
pub mod writer;

pub use marker::Marker;
pub use reader::{Entry, ReadOptions, WalReader};
pub use writer::{WalFile, WalWriter, WriteOptions};

use std::fmt;

/// `PWAL`: the first four bytes of every protobuf WAL.
pub const PB_WAL_MAGIC: [u8; 4] = *b"PWAL";
/// `LAWP`: the last four bytes of a cleanly closed protobuf WAL.
pub const PB_WAL_COMPLETE_MAGIC: [u8; 4] = *b"LAWP";
/// The family of marker cells (`WALEdit.METAFAMILY`).
pub const METAFAMILY: &[u8] = b"METAFAMILY";
/// Writer class names HBase 2.x readers accept (`AbstractProtobufWALReader.WRITER_CLS_NAMES`).
pub const WRITER_CLS_NAMES: [&str; 4] = [
    "ProtobufLogWriter",
    "AsyncProtobufLogWriter",
    "SecureProtobufLogWriter",
    "SecureAsyncProtobufLogWriter",
];
/// The default cell codec class.
pub const WAL_CELL_CODEC: &str = "org.apache.hadoop.hbase.regionserver.wal.WALCellCodec";

/// Container format of a WAL file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Protobuf WAL (`PWAL`), HBase 0.96 and later.
    Protobuf,
    /// Hadoop SequenceFile of `HLogKey`/`WALEdit`, HBase 0.92/0.94.
    SequenceFile,
}

/// The file header: the protobuf `WALHeader`, or what the SequenceFile header says.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WalHeader {
    /// Dictionary compression of keys and cells (field 1).
    pub has_compression: bool,
    /// Tag compression (field 3, only meaningful with compression).
    pub has_tag_compression: bool,
    /// Value compression (field 6, HBase 2.5+, only meaningful with compression).
    pub has_value_compression: bool,
    /// `Compression.Algorithm` ordinal of value compression (field 7).
    pub value_compression_algorithm: Option<u32>,
    /// Writer class (field 4).
    pub writer_cls_name: Option<String>,
    /// Cell codec class (field 5).
    pub cell_codec_cls_name: Option<String>,
    /// An encryption key is present (field 2): the WAL is encrypted.
    pub encrypted: bool,
    /// Byte offset where the first entry starts.
    pub end_offset: u64,
    /// Field 6 was present (HBase 2.5+ writes it even when false; 0.96-2.4 never do).
    #[serde(skip)]
    pub value_compression_field: bool,
}

impl WalHeader {
    /// True when cells use the dictionary-compressed codec.
    pub fn compressed(&self) -> bool {
        self.has_compression
    }
    /// True when tags are dictionary-compressed.
    pub fn tag_compression(&self) -> bool {
        self.has_compression && self.has_tag_compression
    }
    /// The value codec, when values are compressed (HBase rule: fields 1 and 6 true and
    /// field 7 present).
    pub fn value_codec(&self) -> Option<u32> {
        if self.has_compression && self.has_value_compression {
            self.value_compression_algorithm
        } else {
            None
        }
    }
}

/// A Java `UUID` as protobuf `UUID` carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Uuid {
    /// `most_sig_bits`.
    pub msb: u64,
    /// `least_sig_bits`.
    pub lsb: u64,
}

impl fmt::Display for Uuid {
    /// `java.util.UUID.toString`: `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            self.msb >> 32,
            (self.msb >> 16) & 0xffff,
            self.msb & 0xffff,
            self.lsb >> 48,
            self.lsb & 0xffff_ffff_ffff
        )
    }
}

impl serde::Serialize for Uuid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The key of one WAL entry (`WALKey` / `WALKeyImpl`, or 0.94's `HLogKey`), with
/// dictionary-compressed fields already expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WalKey {
    /// Encoded region name (32 hex chars, or `1588230740` for old-style meta).
    pub encoded_region: Vec<u8>,
    /// Table name as `TableName.getName()`: `ns:qualifier`, or `qualifier` in `default`.
    pub table: Vec<u8>,
    /// `log_sequence_number`: the sequence id of every cell of the entry.
    pub sequence_id: u64,
    /// `write_time`, ms since the epoch.
    pub write_time: u64,
    /// Deprecated single `cluster_id` (field 5, 0.94/0.96).
    pub cluster_id: Option<Uuid>,
    /// `cluster_ids`: replication provenance.
    pub cluster_ids: Vec<Uuid>,
    /// Replication scopes: (family, scope type).
    pub scopes: Vec<(Vec<u8>, u32)>,
    /// `nonceGroup` (0 when absent).
    pub nonce_group: u64,
    /// `nonce` (0 when absent).
    pub nonce: u64,
    /// `orig_sequence_number` (region-replica replay), when present.
    pub orig_sequence_number: Option<u64>,
    /// `following_kv_count`.
    pub following_kv_count: u32,
    /// Extended attributes (2.5+): (key, value).
    pub extended_attributes: Vec<(String, Vec<u8>)>,
}

impl WalKey {
    /// Table name as text (lossy UTF-8; HBase table names are ASCII).
    pub fn table_str(&self) -> String {
        String::from_utf8_lossy(&self.table).into_owned()
    }
    /// Encoded region name as text.
    pub fn region_str(&self) -> String {
        String::from_utf8_lossy(&self.encoded_region).into_owned()
    }
}

/// How a read ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum Ending {
    /// Still reading (no end reached yet).
    Open,
    /// Closed cleanly: every entry up to the `LAWP` trailer was read.
    Trailer,
    /// No trailer, and the entries end exactly at end of file: the normal state of a live or
    /// crashed writer's WAL (or a header-only WAL just rolled). Not damage.
    NoTrailer,
    /// No trailer, and the file ends inside the trailer (fewer than its 8 bytes present):
    /// every entry was read. Not damage.
    PartialTrailer,
    /// Zero-length file (a WAL just created). Not damage.
    Empty,
    /// Damage: the file ends or breaks before a complete entry; everything before
    /// `damage.offset` was read.
    Damaged(Damage),
}

impl Ending {
    /// True for the damaged ending.
    pub fn is_damage(&self) -> bool {
        matches!(self, Ending::Damaged(_))
    }
    /// A one-line note for the operator (None for a clean close).
    pub fn note(&self) -> Option<String> {
        match self {
            Ending::Open => Some("not read to the end".into()),
            Ending::Trailer => None,
            Ending::NoTrailer => Some(
                "no trailer: the writer never closed this WAL (normal for a live or crashed server); every entry was read".into(),
            ),
            Ending::PartialTrailer => Some(
                "the file ends inside the trailer; every entry was read".into(),
            ),
            Ending::Empty => Some("empty file (0 bytes): a WAL just rolled, no entries".into()),
            Ending::Damaged(d) => Some(d.to_string()),
        }
    }
}

/// What kind of damage ended a read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    /// The file ends inside the magic or the header.
    TruncatedHeader,
    /// The header is present but malformed.
    CorruptHeader,
    /// The file ends inside an entry (its key, a cell, a literal or a compressed value).
    TruncatedEntry,
    /// An entry's bytes are present but malformed (a garbage tail, a broken length, a
    /// missing dictionary entry, an undecodable value, an entry running into the trailer).
    CorruptEntry,
}

/// Where and how a file is damaged.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Damage {
    /// Damage class.
    pub kind: DamageKind,
    /// Start of the first unreadable entry = end of the last good entry (or of the header).
    pub offset: u64,
    /// Where the problem was detected.
    pub detected_at: u64,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            DamageKind::TruncatedHeader => "truncated header",
            DamageKind::CorruptHeader => "corrupt header",
            DamageKind::TruncatedEntry => "entry cut short",
            DamageKind::CorruptEntry => "corrupt entry",
        };
        write!(
            f,
            "{what} at byte {} (detected at byte {}): {}",
            self.offset, self.detected_at, self.message
        )
    }
}

/// Per-file totals of a read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Complete entries read.
    pub entries: u64,
    /// Cells in those entries.
    pub cells: u64,
    /// Byte offset just after the last complete entry (or after the header).
    pub last_good_offset: u64,
    /// File length, when known.
    pub file_length: Option<u64>,
    /// Where the trailer starts, when the file has one.
    pub trailer_offset: Option<u64>,
    /// How the read ended.
    pub ending: Ending,
}
