//! Block compression exactly as Hadoop's codec streams frame it on disk, and HBase's
//! chunked block checksums.
//!
//! * GZ: one gzip member per block payload.
//! * SNAPPY, LZ4, LZO and HBase's zstd-jni ZSTD: Hadoop block framing,
//!   `rawLen:i32 (compLen:i32 chunk)+` groups.
//! * ZSTD from Hadoop's `ZStandardCodec`: a bare zstd frame (told apart by its magic).

use std::io::Read;

use crate::bytes::be_i32;
use crate::error::{Error, Result};

/// `Compression.Algorithm`, by trailer ordinal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Compression {
    /// 0: LZO (not supported: no maintained pure crate; refused clearly).
    Lzo,
    /// 1: gzip member per block.
    Gz,
    /// 2: none.
    None,
    /// 3: Snappy in Hadoop block framing.
    Snappy,
    /// 4: LZ4 in Hadoop block framing.
    Lz4,
    /// 5: BZIP2 (refused).
    Bzip2,
    /// 6: ZSTD (block framing or bare frame).
    Zstd,
    /// 7: LZMA (refused).
    Lzma,
    /// 8: BROTLI (refused).
    Brotli,
}

impl Compression {
    /// Codec for a trailer ordinal.
    pub fn from_ordinal(n: u32) -> Option<Compression> {
        use Compression::*;
        Some(match n {
            0 => Lzo,
            1 => Gz,
            2 => None,
            3 => Snappy,
            4 => Lz4,
            5 => Bzip2,
            6 => Zstd,
            7 => Lzma,
            8 => Brotli,
            _ => return Option::None,
        })
    }
    /// Trailer ordinal.
    pub fn ordinal(self) -> u32 {
        use Compression::*;
        match self {
            Lzo => 0,
            Gz => 1,
            None => 2,
            Snappy => 3,
            Lz4 => 4,
            Bzip2 => 5,
            Zstd => 6,
            Lzma => 7,
            Brotli => 8,
        }
    }
    /// HBase's enum name (`NONE`, `GZ`, ...), as in a table's `describe`.
    pub fn name(self) -> &'static str {
        use Compression::*;
        match self {
            Lzo => "LZO",
            Gz => "GZ",
            None => "NONE",
            Snappy => "SNAPPY",
            Lz4 => "LZ4",
            Bzip2 => "BZIP2",
            Zstd => "ZSTD",
            Lzma => "LZMA",
            Brotli => "BROTLI",
        }
    }
    /// Parse an HBase name, case-insensitive.
    pub fn from_name(s: &str) -> Option<Compression> {
        (0..=8)
            .filter_map(Compression::from_ordinal)
            .find(|c| c.name().eq_ignore_ascii_case(s))
    }
    /// True when this build can decompress it.
    pub fn is_supported(self) -> bool {
        matches!(
            self,
            Compression::Gz
                | Compression::None
                | Compression::Snappy
                | Compression::Lz4
                | Compression::Zstd
        )
    }
}

const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// Largest uncompressed block hbkit accepts (HBase's own cell size limits are 10 MB by
/// default; a block is one cell at most past its target size). Guards against headers that
/// declare gigabytes.
pub const MAX_BLOCK_SIZE: usize = 512 << 20;

/// Decompress one block payload into `out`, which must end up exactly `expected` bytes.
/// Offsets in errors are relative to the start of `input`.
pub fn decompress(
    codec: Compression,
    input: &[u8],
    expected: usize,
    out: &mut Vec<u8>,
) -> Result<()> {
    if expected > MAX_BLOCK_SIZE {
        return Err(Error::corrupt(
            "block payload",
            format!("declared uncompressed size {expected} exceeds the {MAX_BLOCK_SIZE}-byte limit for one block"),
        ));
    }
    // Every byte is written or the sizes disagree (an error): a buffer reused from an
    // earlier block needs no zeroing.
    if out.len() < expected {
        out.resize(expected, 0);
    } else {
        out.truncate(expected);
    }
    let produced = match codec {
        Compression::None => {
            if input.len() != expected {
                return Err(size_err(expected, input.len()));
            }
            out.copy_from_slice(input);
            expected
        }
        Compression::Gz => gunzip(input, out)?,
        Compression::Snappy => unframe(input, out, |c, o| {
            snap::raw::Decoder::new()
                .decompress(c, o)
                .map_err(|e| e.to_string())
        })?,
        Compression::Lz4 => unframe(input, out, |c, o| {
            lz4_flex::block::decompress_into(c, o).map_err(|e| e.to_string())
        })?,
        Compression::Zstd => {
            if input.starts_with(&ZSTD_MAGIC) {
                unzstd(input, out)?
            } else {
                unframe(input, out, |c, o| {
                    zstd::bulk::Decompressor::new()
                        .and_then(|mut d| d.decompress_to_buffer(c, o))
                        .map_err(|e| e.to_string())
                })?
            }
        }
        other => {
            return Err(Error::unsupported(
                "compression",
                format!(
                    "codec {} (ordinal {}) is not supported by hbkit",
                    other.name(),
                    other.ordinal()
                ),
            ))
        }
    };
    if produced != expected {
        return Err(size_err(expected, produced));
    }
    Ok(())
}

fn size_err(expected: usize, found: usize) -> Error {
    Error::corrupt(
        "block payload",
        format!("decompressed size {found} differs from the header's uncompressedSizeWithoutHeader {expected}"),
    )
}

fn gunzip(input: &[u8], out: &mut [u8]) -> Result<usize> {
    read_stream(flate2::bufread::GzDecoder::new(input), out, "gzip payload")
}

fn unzstd(input: &[u8], out: &mut [u8]) -> Result<usize> {
    let d = zstd::stream::read::Decoder::with_buffer(input)
        .map_err(|e| Error::corrupt("zstd payload", e.to_string()))?;
    read_stream(d, out, "zstd payload")
}

/// Fill `out` from a decompressing reader, then insist the stream ends there: producing
/// more than the header declares is corruption too.
fn read_stream(mut d: impl Read, out: &mut [u8], context: &'static str) -> Result<usize> {
    let corrupt = |e: std::io::Error| Error::corrupt(context, format!("stream is corrupt: {e}"));
    let mut n = 0;
    while let Some(slot) = out.get_mut(n..).filter(|s| !s.is_empty()) {
        match d.read(slot).map_err(corrupt)? {
            0 => break,
            k => n += k,
        }
    }
    let mut probe = [0u8; 1];
    match d.read(&mut probe).map_err(corrupt)? {
        0 => Ok(n),
        _ => Err(Error::corrupt(
            context,
            "stream holds more bytes than the header declares",
        )),
    }
}

/// Decode Hadoop block framing: groups of `rawLen` followed by `compLen`+chunk until the
/// group's raw length is produced. Every length is checked against what is present.
fn unframe(
    input: &[u8],
    out: &mut [u8],
    mut chunk: impl FnMut(&[u8], &mut [u8]) -> std::result::Result<usize, String>,
) -> Result<usize> {
    let mut pos = 0usize;
    let mut produced = 0usize;
    let bad = |at: usize, m: String| Error::corrupt("block framing", m).at(at as u64);
    while pos < input.len() {
        let raw = be_i32(input, pos).ok_or_else(|| bad(pos, "truncated group length".into()))?;
        let raw =
            usize::try_from(raw).map_err(|_| bad(pos, format!("negative group length {raw}")))?;
        pos += 4;
        let group_end = produced
            .checked_add(raw)
            .filter(|&e| e <= out.len())
            .ok_or_else(|| {
                bad(
                    pos - 4,
                    format!(
                        "group of {raw} bytes overflows the declared block size {}",
                        out.len()
                    ),
                )
            })?;
        while produced < group_end {
            let clen =
                be_i32(input, pos).ok_or_else(|| bad(pos, "truncated chunk length".into()))?;
            let clen = usize::try_from(clen)
                .map_err(|_| bad(pos, format!("negative chunk length {clen}")))?;
            pos += 4;
            let c = input.get(pos..pos.saturating_add(clen)).ok_or_else(|| {
                bad(
                    pos,
                    format!("chunk of {clen} bytes runs past the payload end"),
                )
            })?;
            let dst = out.get_mut(produced..group_end).unwrap_or(&mut []);
            let n =
                chunk(c, dst).map_err(|e| bad(pos, format!("chunk does not decompress: {e}")))?;
            if n == 0 && clen > 0 && dst.is_empty() {
                return Err(bad(pos, "chunk produced nothing".into()));
            }
            produced += n;
            pos += clen;
            if n == 0 {
                break;
            }
        }
        if produced != group_end {
            return Err(bad(
                pos,
                format!("group declared {raw} bytes but its chunks produced fewer"),
            ));
        }
    }
    Ok(produced)
}

/// `ChecksumType`: the byte in a block header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum ChecksumType {
    /// 0: tail reserved, all zero, not verified.
    Null,
    /// 1: zlib CRC-32.
    Crc32,
    /// 2: CRC-32C (Castagnoli).
    Crc32c,
}

impl ChecksumType {
    /// From the header byte.
    pub fn from_code(c: u8) -> Option<ChecksumType> {
        match c {
            0 => Some(ChecksumType::Null),
            1 => Some(ChecksumType::Crc32),
            2 => Some(ChecksumType::Crc32c),
            _ => None,
        }
    }
    /// Header byte.
    pub fn code(self) -> u8 {
        match self {
            ChecksumType::Null => 0,
            ChecksumType::Crc32 => 1,
            ChecksumType::Crc32c => 2,
        }
    }
    /// HBase's name.
    pub fn name(self) -> &'static str {
        match self {
            ChecksumType::Null => "NULL",
            ChecksumType::Crc32 => "CRC32",
            ChecksumType::Crc32c => "CRC32C",
        }
    }
    /// Parse an HBase name, case-insensitive.
    pub fn from_name(s: &str) -> Option<ChecksumType> {
        [
            ChecksumType::Null,
            ChecksumType::Crc32,
            ChecksumType::Crc32c,
        ]
        .into_iter()
        .find(|c| c.name().eq_ignore_ascii_case(s))
    }
    /// Checksum of one chunk.
    #[inline]
    pub fn compute(self, data: &[u8]) -> u32 {
        match self {
            ChecksumType::Null => 0,
            ChecksumType::Crc32 => crc32fast::hash(data),
            ChecksumType::Crc32c => crc32c::crc32c(data),
        }
    }
}

/// Number of checksum chunks for `data_len` bytes.
pub fn checksum_chunks(data_len: usize, bytes_per_checksum: usize) -> usize {
    if bytes_per_checksum == 0 {
        return 0;
    }
    data_len.div_ceil(bytes_per_checksum)
}

/// Verify `sums` (4-byte big-endian values, one per chunk) over `data`.
/// Returns the index and (stored, computed) values of the first mismatching chunk.
pub fn verify_checksums(
    kind: ChecksumType,
    bytes_per_checksum: usize,
    data: &[u8],
    sums: &[u8],
) -> std::result::Result<(), (usize, u32, u32)> {
    if kind == ChecksumType::Null || bytes_per_checksum == 0 {
        return Ok(());
    }
    for (i, (chunk, sum)) in data
        .chunks(bytes_per_checksum)
        .zip(sums.chunks(4))
        .enumerate()
    {
        let stored = be_i32(sum, 0).map_or(0, |v| v as u32);
        let computed = kind.compute(chunk);
        if stored != computed {
            return Err((i, stored, computed));
        }
    }
    Ok(())
}

/// Compute the checksum tail for `data`.
pub fn compute_checksums(
    kind: ChecksumType,
    bytes_per_checksum: usize,
    data: &[u8],
    out: &mut Vec<u8>,
) {
    for chunk in data.chunks(bytes_per_checksum.max(1)) {
        out.extend_from_slice(&kind.compute(chunk).to_be_bytes());
    }
}

/// Hadoop `BlockCompressorStream` input limit for HBase's xerial Snappy and lz4-java codecs
/// (256 KiB buffer − (buffer/6 + 32)).
pub const BLOCK_FRAMING_MAX_INPUT: usize = 262_144 - (262_144 / 6 + 32);
/// The same limit for HBase's zstd-jni codec (256 KiB − (compressBound − buffer)).
pub const ZSTD_FRAMING_MAX_INPUT: usize = 262_144 - 1_024;
/// The gzip member header HBase 2.6 writes (`ReusableStreamGzipCodec` without native
/// zlib): MTIME 0, XFL 0, OS 255.
pub const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, 0xff];

thread_local! {
    /// Per-thread compressor state, reused block after block (each costs an allocation and
    /// zeroed tables to make; a zstd context far more).
    static SNAPPY: std::cell::RefCell<snap::raw::Encoder> = std::cell::RefCell::new(snap::raw::Encoder::new());
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> = const { std::cell::RefCell::new(None) };
}

/// Compress one block payload as HBase's codec streams frame it on disk, appending to `out`:
/// GZ → one gzip member (HBase's header bytes, deflate level 6); SNAPPY/LZ4/ZSTD → Hadoop
/// block framing (`rawLen:i32` then `compLen:i32 chunk` per input slice of at most the
/// codec's MAX_INPUT; an empty payload is just `00 00 00 00`); ZSTD chunks are zstd frames
/// at level 3 (zstd-jni style); NONE → the bytes unchanged.
pub fn compress(codec: Compression, input: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let fail = |e: String| Error::new(crate::error::ErrorKind::Io, "compression", e);
    match codec {
        Compression::None => out.extend_from_slice(input),
        Compression::Gz => {
            use std::io::Write;
            out.extend_from_slice(&GZIP_HEADER);
            let mut enc = flate2::write::DeflateEncoder::new(
                std::mem::take(out),
                flate2::Compression::new(6),
            );
            enc.write_all(input).map_err(|e| fail(e.to_string()))?;
            *out = enc.finish().map_err(|e| fail(e.to_string()))?;
            out.extend_from_slice(&crc32fast::hash(input).to_le_bytes());
            out.extend_from_slice(&(input.len() as u32).to_le_bytes());
        }
        Compression::Snappy | Compression::Lz4 | Compression::Zstd => {
            let max = if codec == Compression::Zstd {
                ZSTD_FRAMING_MAX_INPUT
            } else {
                BLOCK_FRAMING_MAX_INPUT
            };
            let raw = i32::try_from(input.len())
                .map_err(|_| fail(format!("payload of {} bytes is too large", input.len())))?;
            out.extend_from_slice(&raw.to_be_bytes());
            for piece in input.chunks(max) {
                // Room for the piece's length, then its compressed bytes written in place.
                let at = out.len();
                let bound = match codec {
                    Compression::Snappy => snap::raw::max_compress_len(piece.len()),
                    Compression::Lz4 => lz4_flex::block::get_maximum_output_size(piece.len()),
                    _ => zstd::zstd_safe::compress_bound(piece.len()),
                };
                out.resize(at + 4 + bound, 0);
                let room = out.get_mut(at + 4..).unwrap_or_default();
                let n = match codec {
                    Compression::Snappy => SNAPPY
                        .with(|e| e.borrow_mut().compress(piece, room))
                        .map_err(|e| fail(e.to_string())),
                    Compression::Lz4 => {
                        lz4_flex::block::compress_into(piece, room).map_err(|e| fail(e.to_string()))
                    }
                    _ => ZSTD.with(|z| {
                        let mut z = z.borrow_mut();
                        let c = match z.as_mut() {
                            Some(c) => c,
                            None => z.insert(
                                zstd::bulk::Compressor::new(3).map_err(|e| fail(e.to_string()))?,
                            ),
                        };
                        c.compress_to_buffer(piece, room)
                            .map_err(|e| fail(e.to_string()))
                    }),
                }?;
                out.truncate(at + 4 + n);
                if let Some(len) = out.get_mut(at..at + 4) {
                    len.copy_from_slice(&(n as u32).to_be_bytes());
                }
            }
        }
        other => {
            return Err(Error::unsupported(
                "compression",
                format!("hbkit cannot write codec {}", other.name()),
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framing_roundtrip_and_errors() {
        let data = b"hello hello hello hello".to_vec();
        let c = snap::raw::Encoder::new().compress_vec(&data).unwrap();
        let mut framed = Vec::new();
        framed.extend_from_slice(&(data.len() as i32).to_be_bytes());
        framed.extend_from_slice(&(c.len() as i32).to_be_bytes());
        framed.extend_from_slice(&c);
        let mut out = Vec::new();
        decompress(Compression::Snappy, &framed, data.len(), &mut out).unwrap();
        assert_eq!(out, data);
        assert!(decompress(Compression::Snappy, &framed, data.len() + 1, &mut out).is_err());
        assert!(decompress(
            Compression::Snappy,
            &framed[..framed.len() - 1],
            data.len(),
            &mut out
        )
        .is_err());
        decompress(Compression::Snappy, &[0, 0, 0, 0], 0, &mut out).unwrap();
        assert!(decompress(Compression::Lzo, &framed, data.len(), &mut out).is_err());
    }

    #[test]
    fn crc_values() {
        assert_eq!(ChecksumType::Crc32.compute(b"123456789"), 0xCBF43926);
        assert_eq!(ChecksumType::Crc32c.compute(b"123456789"), 0xE3069283);
    }
}
