//! Hadoop SequenceFile (version 6) and MapFile, written and read as Hadoop does
//! (FORMATS.md §16.4, §16.6): uncompressed, RECORD- and BLOCK-compressed with
//! `DefaultCodec` (zlib, level 6).
//!
//! ```text
//! file   := "SEQ" 06 Text(keyClass) Text(valueClass) bool(compressed) bool(block)
//!           [Text(codecClass)] i32(metaCount) (Text Text)* sync[16] body
//! NONE/RECORD body := ( i32(-1) sync[16] | i32(recordLen) i32(keyLen) key value )*
//! BLOCK body       := ( i32(-1) sync[16] vint(n) 4 × (vint(len) zlib) )*
//! ```
//! Keys and values are passed already serialized (e.g. an `ImmutableBytesWritable` is
//! `i32 length` + bytes, see [`ibw`]).

use std::io::{Read, Write};

use crate::bytes::{read_vlong, write_vlong};
use crate::error::{Error, Result};

/// `org.apache.hadoop.hbase.io.ImmutableBytesWritable`.
pub const IBW: &str = "org.apache.hadoop.hbase.io.ImmutableBytesWritable";
/// `org.apache.hadoop.io.NullWritable`.
pub const NULL_WRITABLE: &str = "org.apache.hadoop.io.NullWritable";
/// `org.apache.hadoop.io.LongWritable`.
pub const LONG_WRITABLE: &str = "org.apache.hadoop.io.LongWritable";
/// `org.apache.hadoop.io.compress.DefaultCodec` (zlib).
pub const DEFAULT_CODEC: &str = "org.apache.hadoop.io.compress.DefaultCodec";

/// Bytes between sync escapes in NONE/RECORD files: Hadoop 3's `SYNC_INTERVAL`
/// (5 KiB × 20 = 102,400, as in release 3.2.0); Hadoop 1/2 used 100 × 20 = 2,000.
pub const SYNC_INTERVAL: u64 = 102_400;
/// `io.seqfile.compress.blocksize` default.
pub const BLOCK_SIZE: usize = 1_000_000;
/// `io.map.index.interval` default.
pub const INDEX_INTERVAL: u64 = 128;

/// A serialized `ImmutableBytesWritable`: `i32` length + bytes.
pub fn ibw(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 4);
    v.extend_from_slice(&(b.len() as i32).to_be_bytes());
    v.extend_from_slice(b);
    v
}

/// The payload of a serialized `ImmutableBytesWritable`.
pub fn ibw_payload(b: &[u8]) -> Result<&[u8]> {
    let n = b
        .get(..4)
        .and_then(|x| <[u8; 4]>::try_from(x).ok())
        .map(i32::from_be_bytes)
        .ok_or_else(|| Error::corrupt("ImmutableBytesWritable", "shorter than 4 bytes"))?;
    let rest = b.get(4..).unwrap_or(&[]);
    if n < 0 || n as usize != rest.len() {
        return Err(Error::corrupt(
            "ImmutableBytesWritable",
            format!("length {n} but {} bytes follow", rest.len()),
        ));
    }
    Ok(rest)
}

/// How records are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compression {
    /// Plain records.
    None,
    /// Each value is its own zlib stream; keys plain.
    Record,
    /// Blocks of records, four zlib buffers each.
    Block,
}

/// A fresh random-looking sync marker: MD5 of the time, process id and a counter, as
/// Hadoop takes an MD5 of a UID and the time.
pub fn new_sync_marker() -> [u8; 16] {
    use md5::Digest;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut h = md5::Md5::new();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    h.update(now.to_be_bytes());
    h.update(std::process::id().to_be_bytes());
    h.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    h.finalize().into()
}

fn zlib(data: &[u8]) -> Result<Vec<u8>> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data)
        .and_then(|_| e.finish())
        .map_err(|err| Error::new(crate::ErrorKind::Io, "zlib", err.to_string()))
}

fn unzlib(data: &[u8], what: &'static str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .read_to_end(&mut out)
        .map_err(|e| Error::corrupt(what, format!("zlib stream: {e}")))?;
    Ok(out)
}

fn write_text(out: &mut Vec<u8>, s: &str) {
    write_vlong(out, s.len() as i64);
    out.extend_from_slice(s.as_bytes());
}

/// Writes a SequenceFile to any `Write`, tracking the byte position.
pub struct SeqWriter<W: Write> {
    out: W,
    pos: u64,
    sync: [u8; 16],
    last_sync: u64,
    sync_interval: u64,
    kind: Compression,
    block_size: usize,
    n: u64,
    key_lens: Vec<u8>,
    keys: Vec<u8>,
    val_lens: Vec<u8>,
    vals: Vec<u8>,
}

impl<W: Write> SeqWriter<W> {
    /// Start a file: write the header (no metadata; DefaultCodec when compressed).
    pub fn new(
        out: W,
        key_class: &str,
        value_class: &str,
        kind: Compression,
        sync: [u8; 16],
    ) -> Result<SeqWriter<W>> {
        let mut h = b"SEQ\x06".to_vec();
        write_text(&mut h, key_class);
        write_text(&mut h, value_class);
        h.push(u8::from(kind != Compression::None));
        h.push(u8::from(kind == Compression::Block));
        if kind != Compression::None {
            write_text(&mut h, DEFAULT_CODEC);
        }
        h.extend_from_slice(&0i32.to_be_bytes());
        h.extend_from_slice(&sync);
        let mut w = SeqWriter {
            out,
            pos: 0,
            sync,
            last_sync: 0,
            sync_interval: SYNC_INTERVAL,
            kind,
            block_size: BLOCK_SIZE,
            n: 0,
            key_lens: Vec::new(),
            keys: Vec::new(),
            val_lens: Vec::new(),
            vals: Vec::new(),
        };
        w.put(&h)?;
        Ok(w)
    }

    /// Use another sync interval (NONE/RECORD files).
    pub fn with_sync_interval(mut self, n: u64) -> Self {
        self.sync_interval = n;
        self
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out
            .write_all(b)
            .map_err(|e| Error::new(crate::ErrorKind::Io, "SequenceFile", e.to_string()))?;
        self.pos += b.len() as u64;
        Ok(())
    }

    fn write_sync(&mut self) -> Result<()> {
        if self.last_sync != self.pos {
            let mut b = (-1i32).to_be_bytes().to_vec();
            b.extend_from_slice(&self.sync);
            self.put(&b)?;
            self.last_sync = self.pos;
        }
        Ok(())
    }

    /// The current length of the file (Hadoop's `getLength()`).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Append one record (key and value already serialized).
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        match self.kind {
            Compression::Block => {
                write_vlong(&mut self.key_lens, key.len() as i64);
                self.keys.extend_from_slice(key);
                write_vlong(&mut self.val_lens, value.len() as i64);
                self.vals.extend_from_slice(value);
                self.n += 1;
                if self.keys.len() + self.vals.len() >= self.block_size {
                    self.flush_block()?;
                }
                Ok(())
            }
            k => {
                let stored;
                let v: &[u8] = if k == Compression::Record {
                    stored = zlib(value)?;
                    &stored
                } else {
                    value
                };
                if self.pos >= self.last_sync + self.sync_interval {
                    self.write_sync()?;
                }
                let mut b = Vec::with_capacity(8 + key.len() + v.len());
                b.extend_from_slice(&((key.len() + v.len()) as i32).to_be_bytes());
                b.extend_from_slice(&(key.len() as i32).to_be_bytes());
                b.extend_from_slice(key);
                b.extend_from_slice(v);
                self.put(&b)
            }
        }
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.n == 0 {
            return Ok(());
        }
        self.write_sync()?;
        let mut b = Vec::new();
        write_vlong(&mut b, self.n as i64);
        for buf in [&self.key_lens, &self.keys, &self.val_lens, &self.vals] {
            let z = zlib(buf)?;
            write_vlong(&mut b, z.len() as i64);
            b.extend_from_slice(&z);
        }
        self.put(&b)?;
        self.n = 0;
        self.key_lens.clear();
        self.keys.clear();
        self.val_lens.clear();
        self.vals.clear();
        Ok(())
    }

    /// Flush the last block and return the output.
    pub fn finish(mut self) -> Result<W> {
        if self.kind == Compression::Block {
            self.flush_block()?;
        }
        self.out
            .flush()
            .map_err(|e| Error::new(crate::ErrorKind::Io, "SequenceFile", e.to_string()))?;
        Ok(self.out)
    }
}

/// Writes a MapFile (`data` + `index`) as `MapFile.Writer` does: keys must ascend
/// strictly (unsigned bytes on the serialized payload), one index entry every
/// [`INDEX_INTERVAL`] records.
pub struct MapFileWriter<W: Write> {
    data: SeqWriter<W>,
    index: SeqWriter<W>,
    size: u64,
    last_index_pos: i64,
    last_index_count: i64,
    last_key: Option<Vec<u8>>,
}

impl<W: Write> MapFileWriter<W> {
    /// A MapFile of IBW → value class, `data` uncompressed, `index` BLOCK-compressed.
    pub fn new(
        data: W,
        index: W,
        value_class: &str,
        data_sync: [u8; 16],
        index_sync: [u8; 16],
    ) -> Result<MapFileWriter<W>> {
        Ok(MapFileWriter {
            data: SeqWriter::new(data, IBW, value_class, Compression::None, data_sync)?,
            index: SeqWriter::new(index, IBW, LONG_WRITABLE, Compression::Block, index_sync)?,
            size: 0,
            last_index_pos: -1,
            last_index_count: i64::MIN,
            last_key: None,
        })
    }

    /// Append a record; `key` is the IBW payload, `value` the serialized value.
    pub fn append(&mut self, key: &[u8], value: &[u8]) -> Result<()> {
        if let Some(k) = &self.last_key {
            if key <= k.as_slice() {
                return Err(Error::usage(format!(
                    "MapFile keys out of order: {} after {}",
                    crate::bytes::to_string_binary(key),
                    crate::bytes::to_string_binary(k)
                )));
            }
        }
        self.last_key = Some(key.to_vec());
        let k = ibw(key);
        let pos = self.data.position() as i64;
        let size = self.size as i64;
        if size >= self.last_index_count.saturating_add(INDEX_INTERVAL as i64)
            && pos > self.last_index_pos
        {
            self.index.append(&k, &pos.to_be_bytes())?;
            self.last_index_pos = pos;
            self.last_index_count = size;
        }
        self.data.append(&k, value)?;
        self.size += 1;
        Ok(())
    }

    /// Use another sync interval for the `data` file.
    pub fn with_sync_interval(mut self, n: u64) -> Self {
        self.data = self.data.with_sync_interval(n);
        self
    }

    /// Finish both files; returns (data, index) outputs.
    pub fn finish(self) -> Result<(W, W)> {
        Ok((self.data.finish()?, self.index.finish()?))
    }
}

/// One record: (serialized key, serialized uncompressed value).
pub type Record = (Vec<u8>, Vec<u8>);

/// A SequenceFile's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Key class name.
    pub key_class: String,
    /// Value class name.
    pub value_class: String,
    /// Compression form.
    pub compression: Compression,
    /// Codec class, when compressed.
    pub codec: Option<String>,
    /// Metadata pairs.
    pub metadata: Vec<(String, String)>,
    /// The sync marker.
    pub sync: [u8; 16],
    /// Header length in bytes.
    pub len: usize,
}

struct Cur<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cur<'a> {
    fn err(&self, m: impl Into<String>) -> Error {
        Error::corrupt("SequenceFile", m).at(self.pos as u64)
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let s = self
            .b
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| self.err(format!("{what}: {n} bytes needed, file ends")))?;
        self.pos += n;
        Ok(s)
    }
    fn i32(&mut self, what: &str) -> Result<i32> {
        let s = self.take(4, what)?;
        Ok(i32::from_be_bytes(
            <[u8; 4]>::try_from(s).map_err(|_| self.err(what))?,
        ))
    }
    fn vlong(&mut self, what: &str) -> Result<i64> {
        let (v, n) = read_vlong(self.b.get(self.pos..).unwrap_or(&[]))
            .ok_or_else(|| self.err(format!("{what}: bad vint")))?;
        self.pos += n;
        Ok(v)
    }
    fn len(&mut self, what: &str) -> Result<usize> {
        let v = self.vlong(what)?;
        usize::try_from(v).map_err(|_| self.err(format!("{what}: negative length {v}")))
    }
    fn text(&mut self, what: &str) -> Result<String> {
        let n = self.len(what)?;
        Ok(String::from_utf8_lossy(self.take(n, what)?).into_owned())
    }
    fn byte(&mut self, what: &str) -> Result<u8> {
        Ok(self.take(1, what)?.first().copied().unwrap_or(0))
    }
}

/// Parse a SequenceFile (v6, NONE/RECORD/BLOCK with DefaultCodec): header and records
/// (serialized key, serialized uncompressed value), in file order.
pub fn read(bytes: &[u8]) -> Result<(Header, Vec<Record>)> {
    let mut c = Cur { b: bytes, pos: 0 };
    let magic = c.take(4, "magic")?;
    if magic != b"SEQ\x06" {
        return Err(Error::unsupported(
            "SequenceFile",
            format!("magic {magic:02x?}: not a version-6 SequenceFile"),
        ));
    }
    let key_class = c.text("key class")?;
    let value_class = c.text("value class")?;
    let compressed = c.byte("compressed flag")? != 0;
    let block = c.byte("block flag")? != 0;
    let compression = match (compressed, block) {
        (false, _) => Compression::None,
        (true, false) => Compression::Record,
        (true, true) => Compression::Block,
    };
    let codec = if compressed {
        let n = c.text("codec")?;
        if n != DEFAULT_CODEC {
            return Err(Error::unsupported(
                "SequenceFile",
                format!("codec {n} (only {DEFAULT_CODEC} is read)"),
            ));
        }
        Some(n)
    } else {
        None
    };
    let m = c.i32("metadata count")?;
    if m < 0 {
        return Err(c.err(format!("negative metadata count {m}")));
    }
    let mut metadata = Vec::new();
    for _ in 0..m {
        metadata.push((c.text("metadata key")?, c.text("metadata value")?));
    }
    let sync: [u8; 16] = <[u8; 16]>::try_from(c.take(16, "sync")?).map_err(|_| c.err("sync"))?;
    let header = Header {
        key_class,
        value_class,
        compression,
        codec,
        metadata,
        sync,
        len: c.pos,
    };
    let mut recs = Vec::new();
    while c.pos < bytes.len() {
        let at = c.pos;
        let n = c.i32("record length")?;
        if n == -1 {
            let s = c.take(16, "sync")?;
            if s != sync {
                return Err(Error::corrupt(
                    "SequenceFile",
                    "sync marker differs from the header's",
                )
                .at(at as u64));
            }
            if compression == Compression::Block {
                let count = c.len("block record count")?;
                let mut bufs = Vec::new();
                for what in ["key lengths", "keys", "value lengths", "values"] {
                    let len = c.len(what)?;
                    let z = c.take(len, what)?;
                    bufs.push(unzlib(z, "SequenceFile block").map_err(|e| e.at(c.pos as u64))?);
                }
                let [kl, ks, vl, vs] =
                    <[Vec<u8>; 4]>::try_from(bufs).map_err(|_| c.err("block buffers"))?;
                let (mut klc, mut ksc, mut vlc, mut vsc) = (
                    Cur { b: &kl, pos: 0 },
                    Cur { b: &ks, pos: 0 },
                    Cur { b: &vl, pos: 0 },
                    Cur { b: &vs, pos: 0 },
                );
                for _ in 0..count {
                    let a = klc.len("key length").map_err(|e| e.at(at as u64))?;
                    let k = ksc.take(a, "key").map_err(|e| e.at(at as u64))?.to_vec();
                    let b = vlc.len("value length").map_err(|e| e.at(at as u64))?;
                    let v = vsc.take(b, "value").map_err(|e| e.at(at as u64))?.to_vec();
                    recs.push((k, v));
                }
            }
            continue;
        }
        if compression == Compression::Block {
            return Err(c.err("block-compressed file: expected a sync escape before a block"));
        }
        let kl = c.i32("key length")?;
        if n < 0 || kl < 0 || kl > n {
            return Err(Error::corrupt(
                "SequenceFile",
                format!("record length {n}, key length {kl}"),
            )
            .at(at as u64));
        }
        let k = c.take(kl as usize, "key")?.to_vec();
        let v = c.take((n - kl) as usize, "value")?;
        let v = if compression == Compression::Record {
            unzlib(v, "SequenceFile record").map_err(|e| e.at(at as u64))?
        } else {
            v.to_vec()
        };
        recs.push((k, v));
    }
    Ok((header, recs))
}

/// Read a SequenceFile from disk; errors name the file.
pub fn read_file(path: &std::path::Path) -> Result<(Header, Vec<Record>)> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    read(&b).map_err(|e| e.in_file(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_forms() {
        for kind in [Compression::None, Compression::Record, Compression::Block] {
            let mut w = SeqWriter::new(Vec::new(), IBW, IBW, kind, [7; 16])
                .unwrap()
                .with_sync_interval(50);
            let recs: Vec<(Vec<u8>, Vec<u8>)> =
                (0..40u8).map(|i| (ibw(&[i]), ibw(&[i, i, i]))).collect();
            for (k, v) in &recs {
                w.append(k, v).unwrap();
            }
            let bytes = w.finish().unwrap();
            let (h, got) = read(&bytes).unwrap();
            assert_eq!(h.compression, kind);
            assert_eq!(got, recs);
        }
    }

    #[test]
    fn mapfile_index_every_128_records() {
        let mut m = MapFileWriter::new(Vec::new(), Vec::new(), IBW, [1; 16], [2; 16]).unwrap();
        let mut offsets = Vec::new();
        for i in 0..300u32 {
            offsets.push(m.data.position() as i64);
            m.append(&i.to_be_bytes(), &ibw(&[0; 16])).unwrap();
        }
        let (data, index) = m.finish().unwrap();
        let (dh, recs) = read(&data).unwrap();
        assert_eq!(dh.len, 126);
        assert_eq!(recs.len(), 300);
        let (ih, idx) = read(&index).unwrap();
        assert_eq!(ih.compression, Compression::Block);
        let got: Vec<(Vec<u8>, i64)> = idx
            .iter()
            .map(|(k, v)| {
                (
                    ibw_payload(k).unwrap().to_vec(),
                    i64::from_be_bytes(v.as_slice().try_into().unwrap()),
                )
            })
            .collect();
        let want: Vec<(Vec<u8>, i64)> = [0usize, 128, 256]
            .iter()
            .map(|&i| ((i as u32).to_be_bytes().to_vec(), offsets[i]))
            .collect();
        assert_eq!(got, want);
        assert_eq!(offsets[0], 126);
    }

    #[test]
    fn hadoop2_sync_interval_in_data() {
        let mut m = MapFileWriter::new(Vec::new(), Vec::new(), IBW, [1; 16], [2; 16])
            .unwrap()
            .with_sync_interval(2000);
        let mut offsets = Vec::new();
        for i in 0..300u32 {
            offsets.push(m.data.position());
            m.append(&i.to_be_bytes(), &ibw(&[0; 16])).unwrap();
        }
        let (data, _) = m.finish().unwrap();
        // 36-byte records after a 126-byte header: the first escape goes before record 53
        // (at 2034, the first position >= 2000), the next 2000 bytes after its end.
        let escape: Vec<u8> = [[0xff; 4].as_slice(), &[1; 16]].concat();
        let at: Vec<usize> = (0..data.len())
            .filter(|&i| data[i..].starts_with(&escape))
            .collect();
        assert_eq!(at[0], 2034);
        assert_eq!(at[1], 2054 + 36 * 56);
        assert_eq!(offsets[53], 2034);
        assert_eq!(read(&data).unwrap().1.len(), 300);
    }

    #[test]
    fn zlib_output_is_zlibs() {
        // zlib 1.2.13 `compress(data, 6)`, as Java's Deflater writes it; miniz_oxide gives
        // other (valid) bytes, so flate2 must use the zlib backend.
        assert_eq!(
            crate::bytes::to_hex(&zlib(&[0x10; 1563]).unwrap()),
            "789c13101805a360148c8251300a5000007f3161b1"
        );
        let s: Vec<u8> = (0..200)
            .flat_map(|i| format!("row-{:08}", i * 7).into_bytes())
            .collect();
        let z = zlib(&s).unwrap();
        assert_eq!(z.len(), 453);
        assert!(crate::bytes::to_hex(&z).starts_with("789c4dd6bb8d18410c04d188040c391f9251"));
        assert!(crate::bytes::to_hex(&z).ends_with(
            "b7e5d2abd8f4eadbb89b5ec5a657df2fc0d2c6ddf42a36bdfa36ee7e724b6ec96db9b3ff033904661c"
        ));
    }

    #[test]
    fn empty_value_record_matches_hadoop() {
        let mut w =
            SeqWriter::new(Vec::new(), IBW, NULL_WRITABLE, Compression::Record, [0; 16]).unwrap();
        let start = w.position() as usize;
        w.append(&ibw(b"10"), &[]).unwrap();
        let b = w.finish().unwrap();
        assert_eq!(
            &b[start..],
            &[0, 0, 0, 14, 0, 0, 0, 6, 0, 0, 0, 2, b'1', b'0', 0x78, 0x9c, 3, 0, 0, 0, 0, 1]
        );
    }
}
