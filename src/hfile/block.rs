//! HFile blocks: the 8-byte magic, the 33-byte header (24 bytes in v2 minor 0 files),
//! the payload and the checksum tail.

use crate::bytes::{be_i32, be_i64};
use crate::codec::{self, ChecksumType, Compression};
use crate::error::{Error, Result};

/// Header size with HBase checksums (every file HBase 1.x/2.x writes).
pub const HEADER_SIZE: usize = 33;
/// Header size without checksums (HFile v2 minor 0, HBase 0.92/0.94).
pub const HEADER_SIZE_NO_CHECKSUM: usize = 24;

/// Block types by their 8-byte magic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BlockType {
    /// `DATABLK*`
    Data,
    /// `DATABLKE`
    EncodedData,
    /// `IDXLEAF2`
    LeafIndex,
    /// `BLMFBLK2`
    BloomChunk,
    /// `METABLKc`
    Meta,
    /// `IDXINTE2`
    IntermediateIndex,
    /// `IDXROOT2`
    RootIndex,
    /// `FILEINF2`
    FileInfo,
    /// `BLMFMET2`
    GeneralBloomMeta,
    /// `DFBLMET2`
    DeleteFamilyBloomMeta,
    /// `TRABLK"$`
    Trailer,
    /// `IDXBLK)+` (HFile v1)
    IndexV1,
}

const MAGICS: [(BlockType, &[u8; 8]); 12] = [
    (BlockType::Data, b"DATABLK*"),
    (BlockType::EncodedData, b"DATABLKE"),
    (BlockType::LeafIndex, b"IDXLEAF2"),
    (BlockType::BloomChunk, b"BLMFBLK2"),
    (BlockType::Meta, b"METABLKc"),
    (BlockType::IntermediateIndex, b"IDXINTE2"),
    (BlockType::RootIndex, b"IDXROOT2"),
    (BlockType::FileInfo, b"FILEINF2"),
    (BlockType::GeneralBloomMeta, b"BLMFMET2"),
    (BlockType::DeleteFamilyBloomMeta, b"DFBLMET2"),
    (BlockType::Trailer, b"TRABLK\"$"),
    (BlockType::IndexV1, b"IDXBLK)+"),
];

impl BlockType {
    /// Type for a magic.
    pub fn from_magic(m: &[u8]) -> Option<BlockType> {
        MAGICS
            .iter()
            .find(|(_, mm)| mm.as_slice() == m)
            .map(|(t, _)| *t)
    }
    /// The magic.
    pub fn magic(self) -> &'static [u8; 8] {
        MAGICS
            .iter()
            .find(|(t, _)| *t == self)
            .map(|(_, m)| *m)
            .unwrap_or(b"????????")
    }
    /// HBase's `BlockType` enum name.
    pub fn name(self) -> &'static str {
        match self {
            BlockType::Data => "DATA",
            BlockType::EncodedData => "ENCODED_DATA",
            BlockType::LeafIndex => "LEAF_INDEX",
            BlockType::BloomChunk => "BLOOM_CHUNK",
            BlockType::Meta => "META",
            BlockType::IntermediateIndex => "INTERMEDIATE_INDEX",
            BlockType::RootIndex => "ROOT_INDEX",
            BlockType::FileInfo => "FILE_INFO",
            BlockType::GeneralBloomMeta => "GENERAL_BLOOM_META",
            BlockType::DeleteFamilyBloomMeta => "DELETE_FAMILY_BLOOM_META",
            BlockType::Trailer => "TRAILER",
            BlockType::IndexV1 => "INDEX_V1",
        }
    }
    /// DATA or ENCODED_DATA.
    pub fn is_data(self) -> bool {
        matches!(self, BlockType::Data | BlockType::EncodedData)
    }
}

/// A parsed block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct BlockHeader {
    /// Absolute file offset of the block.
    pub offset: u64,
    /// Block type from the magic.
    pub block_type: BlockType,
    /// Bytes after the header on disk (payload + checksums).
    pub on_disk_size_without_header: u32,
    /// Payload size after decompression, before data-block decoding.
    pub uncompressed_size_without_header: u32,
    /// Offset of the previous block of the same type, or -1.
    pub prev_block_offset: i64,
    /// Checksum type (None for 24-byte headers).
    pub checksum_type: Option<ChecksumType>,
    /// Raw checksum type byte (for reporting unknown values).
    pub checksum_type_code: u8,
    /// Bytes per checksum chunk (0 for 24-byte headers).
    pub bytes_per_checksum: u32,
    /// Header + on-disk payload, excluding the checksum tail.
    pub on_disk_data_size_with_header: u32,
    /// 33 or 24.
    pub header_size: u8,
}

impl BlockHeader {
    /// Total bytes of this block on disk (what index entries record).
    pub fn on_disk_size_with_header(&self) -> u64 {
        self.header_size as u64 + self.on_disk_size_without_header as u64
    }
    /// Bytes of the on-disk (possibly compressed) payload.
    pub fn on_disk_payload_size(&self) -> usize {
        if self.header_size as usize == HEADER_SIZE {
            (self.on_disk_data_size_with_header as usize).saturating_sub(HEADER_SIZE)
        } else {
            self.on_disk_size_without_header as usize
        }
    }

    /// Parse the header at `offset` of `file`, checking every size against the file.
    /// `checksums` says whether this file has 33-byte headers.
    pub fn parse(file: &[u8], offset: u64, checksums: bool) -> Result<BlockHeader> {
        let at = usize::try_from(offset)
            .map_err(|_| Error::corrupt("block header", "offset out of range").at(offset))?;
        let rest = file.get(at..).unwrap_or_default();
        Self::parse_start(rest, offset, checksums, file.len() as u64)
    }

    /// [`BlockHeader::parse`] from `start`, the file's bytes from `offset` on (at least the
    /// header's, when the file has them), in a file of `file_len` bytes.
    pub fn parse_start(
        start: &[u8],
        offset: u64,
        checksums: bool,
        file_len: u64,
    ) -> Result<BlockHeader> {
        let hs = if checksums {
            HEADER_SIZE
        } else {
            HEADER_SIZE_NO_CHECKSUM
        };
        let h = start.get(..hs).ok_or_else(|| {
            Error::corrupt(
                "block header",
                format!(
                    "needs {hs} bytes but the file has {} left",
                    file_len.saturating_sub(offset)
                ),
            )
            .at(offset)
        })?;
        let magic = h.get(..8).unwrap_or(&[]);
        let block_type = BlockType::from_magic(magic).ok_or_else(|| {
            Error::corrupt(
                "block header",
                format!(
                    "unknown block magic {} (expected e.g. DATABLK*)",
                    crate::bytes::to_string_binary(magic)
                ),
            )
            .at(offset)
        })?;
        let bad = |m: String| {
            Error::corrupt("block header", format!("{} block: {m}", block_type.name())).at(offset)
        };
        let odswh = be_i32(h, 8).unwrap_or(-1);
        let usize_ = be_i32(h, 12).unwrap_or(-1);
        let prev = be_i64(h, 16).unwrap_or(-1);
        if odswh < 0 {
            return Err(bad(format!("negative onDiskSizeWithoutHeader {odswh}")));
        }
        if usize_ < 0 {
            return Err(bad(format!(
                "negative uncompressedSizeWithoutHeader {usize_}"
            )));
        }
        let mut hdr = BlockHeader {
            offset,
            block_type,
            on_disk_size_without_header: odswh as u32,
            uncompressed_size_without_header: usize_ as u32,
            prev_block_offset: prev,
            checksum_type: None,
            checksum_type_code: 0,
            bytes_per_checksum: 0,
            on_disk_data_size_with_header: (hs as u32).saturating_add(odswh as u32),
            header_size: hs as u8,
        };
        if checksums {
            let code = h.get(24).copied().unwrap_or(0);
            let bpc = be_i32(h, 25).unwrap_or(0);
            let oddswh = be_i32(h, 29).unwrap_or(0);
            hdr.checksum_type_code = code;
            hdr.checksum_type = Some(ChecksumType::from_code(code).ok_or_else(|| {
                bad(format!("unknown checksum type {code} (expected 0, 1 or 2)"))
            })?);
            if bpc <= 0 {
                return Err(bad(format!("bytesPerChecksum {bpc} must be positive")));
            }
            hdr.bytes_per_checksum = bpc as u32;
            if (oddswh as i64) < HEADER_SIZE as i64
                || oddswh as i64 > HEADER_SIZE as i64 + odswh as i64
            {
                return Err(bad(format!(
                    "onDiskDataSizeWithHeader {oddswh} is outside [33, 33 + onDiskSizeWithoutHeader = {}]",
                    HEADER_SIZE as i64 + odswh as i64
                )));
            }
            hdr.on_disk_data_size_with_header = oddswh as u32;
            let want = 4 * codec::checksum_chunks(oddswh as usize, bpc as usize);
            let have = (HEADER_SIZE as i64 + odswh as i64 - oddswh as i64) as usize;
            if want != have {
                return Err(bad(format!(
                    "checksum area is {have} bytes but {oddswh} bytes at {bpc} per checksum need {want}"
                )));
            }
        }
        let end = offset.saturating_add(hdr.on_disk_size_with_header());
        if end > file_len {
            return Err(bad(format!(
                "block of {} bytes runs past the end of the file ({file_len} bytes)",
                hdr.on_disk_size_with_header(),
            )));
        }
        Ok(hdr)
    }
}

/// A block located in the file: header plus borrowed on-disk bytes.
#[derive(Debug, Clone, Copy)]
pub struct RawBlock<'a> {
    /// Parsed header.
    pub header: BlockHeader,
    /// Header bytes followed by the on-disk payload (what checksums cover).
    pub data_with_header: &'a [u8],
    /// The checksum tail.
    pub checksums: &'a [u8],
}

impl<'a> RawBlock<'a> {
    /// Locate the block at `offset`.
    pub fn at(file: &'a [u8], offset: u64, checksums: bool) -> Result<RawBlock<'a>> {
        let header = BlockHeader::parse(file, offset, checksums)?;
        let start = offset as usize;
        let data_end = start + header.header_size as usize + header.on_disk_payload_size();
        let end = start + header.on_disk_size_with_header() as usize;
        Ok(RawBlock {
            header,
            data_with_header: file.get(start..data_end).unwrap_or(&[]),
            checksums: file.get(data_end..end).unwrap_or(&[]),
        })
    }
    /// A block whose parsed `header` is known and whose on-disk bytes (header through
    /// checksums) are `bytes`, e.g. read into a buffer.
    pub fn with_header(header: BlockHeader, bytes: &'a [u8]) -> RawBlock<'a> {
        let data_end = header.header_size as usize + header.on_disk_payload_size();
        RawBlock {
            header,
            data_with_header: bytes.get(..data_end).unwrap_or(bytes),
            checksums: bytes.get(data_end..).unwrap_or(&[]),
        }
    }
    /// The on-disk (compressed) payload.
    pub fn on_disk_payload(&self) -> &'a [u8] {
        self.data_with_header
            .get(self.header.header_size as usize..)
            .unwrap_or(&[])
    }
    /// Verify the block checksums (no-op for NULL and 24-byte headers).
    pub fn verify_checksums(&self) -> Result<()> {
        let (Some(kind), bpc) = (
            self.header.checksum_type,
            self.header.bytes_per_checksum as usize,
        ) else {
            return Ok(());
        };
        codec::verify_checksums(kind, bpc, self.data_with_header, self.checksums).map_err(|(i, stored, computed)| {
            Error::new(
                crate::error::ErrorKind::Checksum,
                "block checksum",
                format!(
                    "{} block: {} chunk {i} (bytes {}..{}) stored {stored:#010x}, computed {computed:#010x}",
                    self.header.block_type.name(),
                    kind.name(),
                    i * bpc,
                    ((i + 1) * bpc).min(self.data_with_header.len())
                ),
            )
            .at(self.header.offset)
        })
    }
    /// The uncompressed payload: borrowed when the codec is NONE, else decompressed into `buf`.
    pub fn payload<'b>(&self, codec: Compression, buf: &'b mut Vec<u8>) -> Result<&'b [u8]>
    where
        'a: 'b,
    {
        let expected = self.header.uncompressed_size_without_header as usize;
        let input = self.on_disk_payload();
        let at = self.header.offset + self.header.header_size as u64;
        if codec == Compression::None {
            if input.len() != expected {
                return Err(Error::corrupt(
                    "block payload",
                    format!(
                        "{} block: uncompressed file but on-disk payload is {} bytes and uncompressedSizeWithoutHeader is {expected}",
                        self.header.block_type.name(),
                        input.len()
                    ),
                )
                .at(self.header.offset));
            }
            return Ok(input);
        }
        codec::decompress(codec, input, expected, buf).map_err(|e| {
            let mut e = e.rebase(at);
            e.message = format!(
                "{} block at {}: {}",
                self.header.block_type.name(),
                self.header.offset,
                e.message
            );
            e
        })?;
        Ok(buf.as_slice())
    }
}
