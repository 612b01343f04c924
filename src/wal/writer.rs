//! Protobuf WAL writer: the format HBase's `ProtobufLogWriter` writes and its WAL readers and
//! recovered-edits replay read back.
//!
//! ```text
//! "PWAL" pbvar(len) WALHeader   ( pbvar(len) WALKey  CELL{following_kv_count} )*   00000000 "LAWP"
//! ```
//!
//! Cells go out in the codec the options name: plain `KeyValueCodecWithTags` framing, or
//! `WALCellCodec` dictionary compression (with tag compression and the 2.5+ value compression)
//! with one set of [`LruDict`]s for the whole file, used in exactly the order HBase's encoder
//! uses them (region, table, scope families, attribute values, then per cell row, family,
//! qualifier, tag bodies) so HBase's reader rebuilds the same dictionaries. The REGION and
//! TABLE dictionaries hold one entry when the file is a `recovered.edits` file, as HBase
//! decides from the path.
//!
//! [`WalWriter`] writes to any [`Write`]; [`WalFile`] writes a file under a temporary name,
//! and [`ClosedWal`] fsyncs and renames it into place.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::bytes::write_pbvar;
use crate::cell::Cell;
use crate::codec::{compress, Compression, BLOCK_FRAMING_MAX_INPUT, ZSTD_FRAMING_MAX_INPUT};
use crate::dict::LruDict;
use crate::error::{Error, ErrorKind, Result};
use crate::pb::{put_bytes, put_varint};

use super::reader::{Dicts, Entry};
use super::{Uuid, WalHeader, WalKey, PB_WAL_COMPLETE_MAGIC, PB_WAL_MAGIC, WAL_CELL_CODEC};

/// The writer class name HBase writes (2.x writes it even from the async writer).
pub const WRITER_CLS_NAME: &str = "ProtobufLogWriter";

/// How a WAL is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Dictionary compression of keys and cells (`hbase.regionserver.wal.enablecompression`).
    pub compression: bool,
    /// Tag compression (only with `compression`).
    pub tag_compression: bool,
    /// Value compression (HBase 2.5+, only with `compression`): GZ, SNAPPY, LZ4, ZSTD or NONE.
    pub value_compression: Option<Compression>,
    /// REGION/TABLE dictionary capacity 1 (`recovered.edits` files). [`WalFile::create`] sets
    /// this from the path, as HBase does.
    pub recovered_edits: bool,
    /// WALHeader `writer_cls_name`.
    pub writer_cls_name: String,
    /// WALHeader `cell_codec_cls_name` (None: not written).
    pub cell_codec_cls_name: Option<String>,
    /// Write `has_value_compression` (field 6) even when false, as HBase 2.5+ does; false
    /// gives the header of HBase 0.96-2.4 (fields 1, 3, 4, 5).
    pub value_compression_field: bool,
}

impl Default for WriteOptions {
    /// A plain (uncompressed) WAL with HBase 2.6's header.
    fn default() -> Self {
        WriteOptions {
            compression: false,
            tag_compression: false,
            value_compression: None,
            recovered_edits: false,
            writer_cls_name: WRITER_CLS_NAME.into(),
            cell_codec_cls_name: Some(WAL_CELL_CODEC.into()),
            value_compression_field: true,
        }
    }
}

impl WriteOptions {
    /// Options that write what `header` describes: the same compression, tag and value
    /// compression and header field set (what HBase's splitter produces when its
    /// configuration matches the writer's). Writer and codec class names are HBase's
    /// standard ones.
    pub fn like(header: &WalHeader) -> Result<WriteOptions> {
        let value = match header.value_codec() {
            None => None,
            Some(n) => Some(Compression::from_ordinal(n).ok_or_else(|| {
                Error::unsupported("WAL writer", format!("value compression ordinal {n}"))
            })?),
        };
        Ok(WriteOptions {
            compression: header.compressed(),
            tag_compression: header.tag_compression(),
            value_compression: value,
            recovered_edits: false,
            writer_cls_name: WRITER_CLS_NAME.into(),
            cell_codec_cls_name: Some(WAL_CELL_CODEC.into()),
            value_compression_field: header.value_compression_field,
        })
    }

    fn validate(&self) -> Result<()> {
        if let Some(c) = self.value_compression {
            if !self.compression {
                return Err(Error::usage(
                    "WAL value compression needs dictionary compression (HBase ignores it otherwise)",
                ));
            }
            if !matches!(
                c,
                Compression::None
                    | Compression::Gz
                    | Compression::Snappy
                    | Compression::Lz4
                    | Compression::Zstd
            ) {
                return Err(Error::unsupported(
                    "WAL writer",
                    format!("cannot write {} value compression", c.name()),
                ));
            }
        }
        Ok(())
    }

    /// The serialized WALHeader (fields in number order, as protobuf writes them).
    pub fn header_bytes(&self) -> Vec<u8> {
        let mut h = Vec::with_capacity(96);
        put_varint(&mut h, 1, u64::from(self.compression));
        put_varint(
            &mut h,
            3,
            u64::from(self.compression && self.tag_compression),
        );
        put_bytes(&mut h, 4, self.writer_cls_name.as_bytes());
        if let Some(c) = &self.cell_codec_cls_name {
            put_bytes(&mut h, 5, c.as_bytes());
        }
        let vc = self.compression && self.value_compression.is_some();
        if self.value_compression_field || vc {
            put_varint(&mut h, 6, u64::from(vc));
        }
        if let (true, Some(c)) = (vc, self.value_compression) {
            put_varint(&mut h, 7, u64::from(c.ordinal()));
        }
        h
    }
}

/// Totals of a written WAL.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteStats {
    /// Entries written.
    pub entries: u64,
    /// Cells written.
    pub cells: u64,
    /// Bytes written (header, entries and, once finished, the trailer).
    pub bytes: u64,
    /// Sequence id of the first entry.
    pub first_seq: Option<u64>,
    /// Smallest entry sequence id.
    pub min_seq: Option<u64>,
    /// Largest entry sequence id.
    pub max_seq: Option<u64>,
}

/// Streaming WAL writer over any [`Write`]. The header is written by [`WalWriter::new`],
/// the trailer by [`WalWriter::finish`]. After an error the writer refuses further use (its
/// dictionaries may no longer match the bytes written).
pub struct WalWriter<W: Write> {
    out: W,
    opts: WriteOptions,
    dicts: Option<Dicts>,
    buf: Vec<u8>,
    key: Vec<u8>,
    seg: Vec<u8>,
    stats: WriteStats,
    failed: bool,
}

impl<W: Write> std::fmt::Debug for WalWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalWriter")
            .field("opts", &self.opts)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

fn io_err(e: std::io::Error) -> Error {
    Error::new(ErrorKind::Io, "WAL write", e.to_string())
}

fn bad_cell(msg: impl Into<String>) -> Error {
    Error::usage(format!("WAL writer: {}", msg.into()))
}

/// `dictWrite`: a 2-byte index when `data` is in the dictionary, else `FF pbvar(len) data`
/// (and `data` joins the dictionary unless empty).
fn dict_write(out: &mut Vec<u8>, dict: &mut LruDict, data: &[u8]) {
    match dict.find(data) {
        Some(i) => out.extend_from_slice(&i.to_be_bytes()),
        None => {
            dict.add(data);
            out.push(0xff);
            write_pbvar(out, data.len() as u64);
            out.extend_from_slice(data);
        }
    }
}

fn put_uuid(out: &mut Vec<u8>, field: u32, u: &Uuid, scratch: &mut Vec<u8>) {
    scratch.clear();
    put_varint(scratch, 1, u.lsb);
    put_varint(scratch, 2, u.msb);
    put_bytes(out, field, scratch);
}

impl<W: Write> WalWriter<W> {
    /// Start a WAL on `out`: writes `PWAL` and the WALHeader.
    pub fn new(mut out: W, opts: WriteOptions) -> Result<Self> {
        opts.validate()?;
        let h = opts.header_bytes();
        let mut head = Vec::with_capacity(h.len() + 8);
        head.extend_from_slice(&PB_WAL_MAGIC);
        write_pbvar(&mut head, h.len() as u64);
        head.extend_from_slice(&h);
        out.write_all(&head).map_err(io_err)?;
        let dicts = opts
            .compression
            .then(|| Dicts::new(opts.recovered_edits, opts.tag_compression));
        Ok(WalWriter {
            out,
            dicts,
            buf: Vec::with_capacity(64 << 10),
            key: Vec::with_capacity(256),
            seg: Vec::new(),
            stats: WriteStats {
                bytes: head.len() as u64,
                ..WriteStats::default()
            },
            failed: false,
            opts,
        })
    }

    /// The options in use.
    pub fn options(&self) -> &WriteOptions {
        &self.opts
    }

    /// Totals so far.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }

    /// Append an entry read by [`super::WalReader`]: its key and cells unchanged.
    pub fn append_entry(&mut self, e: &Entry) -> Result<()> {
        self.append_iter(&e.key, e.cell_count(), e.cells())
    }

    /// Append one entry: `key` (its `following_kv_count` is ignored; the number of `cells` is
    /// written) and `cells` (their `seq_id` is ignored: a WAL cell's sequence id is the
    /// key's).
    pub fn append(&mut self, key: &WalKey, cells: &[Cell<'_>]) -> Result<()> {
        self.append_iter(key, cells.len(), cells.iter().copied())
    }

    fn append_iter<'c>(
        &mut self,
        key: &WalKey,
        n: usize,
        cells: impl Iterator<Item = Cell<'c>>,
    ) -> Result<()> {
        if self.failed {
            return Err(Error::usage(
                "WAL writer: an earlier write failed; the file is unusable",
            ));
        }
        self.failed = true;
        let count = u32::try_from(n).map_err(|_| bad_cell(format!("{n} cells in one entry")))?;
        self.buf.clear();
        self.encode_key(key, count);
        let mut written = 0usize;
        for c in cells {
            self.encode_cell(&c)?;
            written += 1;
        }
        if written != n {
            return Err(bad_cell(format!(
                "entry announced {n} cells but {written} were given"
            )));
        }
        self.out.write_all(&self.buf).map_err(io_err)?;
        let s = &mut self.stats;
        s.bytes += self.buf.len() as u64;
        s.entries += 1;
        s.cells += n as u64;
        let q = key.sequence_id;
        s.first_seq.get_or_insert(q);
        s.min_seq = Some(s.min_seq.map_or(q, |m| m.min(q)));
        s.max_seq = Some(s.max_seq.map_or(q, |m| m.max(q)));
        self.failed = false;
        Ok(())
    }

    /// WALKey in field-number order; dictionaries used in HBase's order (region, table,
    /// scope families, attribute values).
    fn encode_key(&mut self, k: &WalKey, count: u32) {
        let key = &mut self.key;
        key.clear();
        let mut scratch = Vec::new();
        let mut coded =
            |out: &mut Vec<u8>, field: u32, data: &[u8], dict: Option<&mut LruDict>| match dict {
                Some(d) => {
                    scratch.clear();
                    dict_write(&mut scratch, d, data);
                    put_bytes(out, field, &scratch);
                }
                None => put_bytes(out, field, data),
            };
        let mut d = self.dicts.as_mut();
        coded(
            key,
            1,
            &k.encoded_region,
            d.as_deref_mut().map(|d| &mut d.region),
        );
        coded(key, 2, &k.table, d.as_deref_mut().map(|d| &mut d.table));
        put_varint(key, 3, k.sequence_id);
        put_varint(key, 4, k.write_time);
        let mut msg = Vec::new();
        let mut inner = Vec::new();
        for (fam, ty) in &k.scopes {
            msg.clear();
            coded(&mut msg, 1, fam, d.as_deref_mut().map(|d| &mut d.family));
            put_varint(&mut msg, 2, u64::from(*ty));
            put_bytes(key, 6, &msg);
        }
        put_varint(key, 7, u64::from(count));
        // HBase reads the deprecated single cluster_id into cluster_ids and writes it there.
        if let Some(c) = &k.cluster_id {
            if !k.cluster_ids.contains(c) {
                put_uuid(key, 8, c, &mut inner);
            }
        }
        for c in &k.cluster_ids {
            put_uuid(key, 8, c, &mut inner);
        }
        if k.nonce_group != 0 {
            put_varint(key, 9, k.nonce_group);
        }
        if k.nonce != 0 {
            put_varint(key, 10, k.nonce);
        }
        if let Some(o) = k.orig_sequence_number.filter(|&o| o > 0) {
            put_varint(key, 11, o);
        }
        for (name, val) in &k.extended_attributes {
            msg.clear();
            put_bytes(&mut msg, 1, name.as_bytes());
            coded(&mut msg, 2, val, d.as_deref_mut().map(|d| &mut d.table));
            put_bytes(key, 12, &msg);
        }
        write_pbvar(&mut self.buf, key.len() as u64);
        self.buf.extend_from_slice(key);
    }

    fn encode_cell(&mut self, c: &Cell<'_>) -> Result<()> {
        let key = c.key.raw();
        let (k, v, t) = (key.len(), c.value.len(), c.tags.len());
        if t > usize::from(u16::MAX) {
            return Err(bad_cell(format!("tags of {t} bytes exceed 65535")));
        }
        let buf = &mut self.buf;
        let Some(d) = self.dicts.as_mut() else {
            // KeyValueCodecWithTags: totalLen klen vlen KEY VALUE [tagsLen TAGS]
            let total = 8 + k + v + if t > 0 { 2 + t } else { 0 };
            let total = i32::try_from(total)
                .map_err(|_| bad_cell(format!("cell of {total} bytes is too large")))?;
            buf.extend_from_slice(&total.to_be_bytes());
            buf.extend_from_slice(&(k as i32).to_be_bytes());
            buf.extend_from_slice(&(v as i32).to_be_bytes());
            buf.extend_from_slice(key);
            buf.extend_from_slice(c.value);
            if t > 0 {
                buf.extend_from_slice(&(t as u16).to_be_bytes());
                buf.extend_from_slice(c.tags);
            }
            return Ok(());
        };
        let vlen = u32::try_from(v).map_err(|_| bad_cell(format!("value of {v} bytes")))?;
        write_pbvar(buf, k as u64);
        write_pbvar(buf, u64::from(vlen));
        write_pbvar(buf, t as u64);
        dict_write(buf, &mut d.row, c.key.row());
        dict_write(buf, &mut d.family, c.key.family());
        dict_write(buf, &mut d.qualifier, c.key.qualifier());
        buf.extend_from_slice(&c.key.timestamp().to_be_bytes());
        buf.push(c.key.type_code());
        match self.opts.value_compression {
            None => buf.extend_from_slice(c.value),
            Some(codec) => {
                let seg = &mut self.seg;
                seg.clear();
                compress(codec, c.value, seg)?;
                let max = if codec == Compression::Zstd {
                    ZSTD_FRAMING_MAX_INPUT
                } else {
                    BLOCK_FRAMING_MAX_INPUT
                };
                if matches!(
                    codec,
                    Compression::Snappy | Compression::Lz4 | Compression::Zstd
                ) && v > max
                {
                    // HBASE-28390: a value larger than the codec's input buffer is followed
                    // by an empty block group.
                    seg.extend_from_slice(&[0, 0, 0, 0]);
                }
                write_pbvar(buf, seg.len() as u64);
                buf.extend_from_slice(seg);
            }
        }
        if t > 0 {
            match d.tags.as_mut() {
                None => buf.extend_from_slice(c.tags),
                Some(td) => {
                    let mut rest = c.tags;
                    while !rest.is_empty() {
                        let (Some(&a), Some(&b)) = (rest.first(), rest.get(1)) else {
                            return Err(bad_cell("tags end inside a tag length"));
                        };
                        let l = usize::from(u16::from_be_bytes([a, b]));
                        let body = rest
                            .get(2..2 + l)
                            .ok_or_else(|| bad_cell("a tag runs past the cell's tags"))?;
                        dict_write(buf, td, body);
                        rest = rest.get(2 + l..).unwrap_or(&[]);
                    }
                }
            }
        }
        Ok(())
    }

    /// Write the trailer (`00 00 00 00 LAWP`), flush, and return the sink and the totals.
    pub fn finish(mut self) -> Result<(W, WriteStats)> {
        if self.failed {
            return Err(Error::usage(
                "WAL writer: an earlier write failed; the file is unusable",
            ));
        }
        let mut t = [0u8; 8];
        if let Some(s) = t.get_mut(4..) {
            s.copy_from_slice(&PB_WAL_COMPLETE_MAGIC);
        }
        self.out.write_all(&t).map_err(io_err)?;
        self.out.flush().map_err(io_err)?;
        self.stats.bytes += 8;
        Ok((self.out, self.stats))
    }
}

/// A WAL being written to a file under a temporary name.
#[derive(Debug)]
pub struct WalFile {
    w: Option<WalWriter<BufWriter<File>>>,
    tmp: PathBuf,
}

impl WalFile {
    /// Create (or truncate) `tmp` and write the header. `opts.recovered_edits` is set from
    /// the path (`recovered.edits` anywhere in it), as HBase decides it on write and read.
    pub fn create(tmp: &Path, mut opts: WriteOptions) -> Result<WalFile> {
        opts.recovered_edits = is_recovered_edits_path(tmp);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(tmp)
            .map_err(|e| Error::io(tmp, e))?;
        let w = match WalWriter::new(BufWriter::with_capacity(256 << 10, f), opts) {
            Ok(w) => w,
            Err(e) => {
                let _ = std::fs::remove_file(tmp);
                return Err(e.in_file(tmp));
            }
        };
        Ok(WalFile {
            w: Some(w),
            tmp: tmp.to_path_buf(),
        })
    }

    /// See [`WalWriter::append_entry`].
    pub fn append_entry(&mut self, e: &Entry) -> Result<()> {
        let Some(w) = self.w.as_mut() else {
            return Err(Error::usage("WAL file already closed"));
        };
        w.append_entry(e).map_err(|x| x.in_file(&self.tmp))
    }

    /// See [`WalWriter::append`].
    pub fn append(&mut self, key: &WalKey, cells: &[Cell<'_>]) -> Result<()> {
        let Some(w) = self.w.as_mut() else {
            return Err(Error::usage("WAL file already closed"));
        };
        w.append(key, cells).map_err(|x| x.in_file(&self.tmp))
    }

    /// Totals so far.
    pub fn stats(&self) -> WriteStats {
        self.w
            .as_ref()
            .map(|w| w.stats().clone())
            .unwrap_or_default()
    }

    /// The temporary path.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// Write the trailer and fsync; the file stays under its temporary name.
    pub fn close(self) -> Result<ClosedWal> {
        let mut closed = self.finish()?;
        closed.sync()?;
        Ok(closed)
    }

    /// Write the trailer and hand the bytes to the OS, without fsync: for syncing many files
    /// together ([`ClosedWal::sync`]; [`ClosedWal::rename_to`] syncs first if needed).
    pub fn finish(mut self) -> Result<ClosedWal> {
        let w = self
            .w
            .take()
            .ok_or_else(|| Error::usage("WAL file already closed"))?;
        let tmp = std::mem::take(&mut self.tmp);
        let recovered_edits = w.options().recovered_edits;
        // From here on a failure must still remove the temporary file.
        let mut closed = ClosedWal {
            tmp,
            stats: WriteStats::default(),
            done: false,
            recovered_edits,
            unsynced: None,
        };
        let (bw, stats) = w.finish().map_err(|e| e.in_file(&closed.tmp))?;
        let f = bw
            .into_inner()
            .map_err(|e| Error::io(&closed.tmp, e.into_error()))?;
        closed.stats = stats;
        closed.unsynced = Some(f);
        Ok(closed)
    }
}

impl Drop for WalFile {
    /// An unclosed file is removed.
    fn drop(&mut self) {
        if self.w.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// A finished WAL still under its temporary name (fsynced by [`WalFile::close`], or by
/// [`ClosedWal::sync`] after [`WalFile::finish`]). Dropping it without
/// [`ClosedWal::rename_to`] or [`ClosedWal::keep`] removes the file.
#[derive(Debug)]
pub struct ClosedWal {
    tmp: PathBuf,
    stats: WriteStats,
    done: bool,
    recovered_edits: bool,
    /// The open file until it is fsynced.
    unsynced: Option<File>,
}

impl ClosedWal {
    /// What was written.
    pub fn stats(&self) -> &WriteStats {
        &self.stats
    }
    /// Where the file is.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }
    /// fsync the file (once) and close it.
    pub fn sync(&mut self) -> Result<()> {
        if let Some(f) = &self.unsynced {
            f.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        }
        self.unsynced = None;
        Ok(())
    }
    /// Rename into place (replacing `target`) and fsync the folder. The target must agree
    /// with the temporary path on the `recovered.edits` dictionary rule.
    pub fn rename_to(self, target: &Path) -> Result<()> {
        self.rename_without_dir_sync(target)?;
        sync_dir(target)
    }
    /// [`ClosedWal::rename_to`] without the folder fsync, for renaming many files into one
    /// folder: the caller must [`sync_dir`] the target's folder afterwards. The file itself
    /// is fsynced before the rename if it was not yet.
    pub fn rename_without_dir_sync(mut self, target: &Path) -> Result<()> {
        self.sync()?;
        if is_recovered_edits_path(target) != self.recovered_edits {
            return Err(Error::usage(format!(
                "{} and {} differ in whether they are recovered.edits paths (HBase sizes the dictionaries from the path)",
                self.tmp.display(),
                target.display()
            )));
        }
        std::fs::rename(&self.tmp, target).map_err(|e| Error::io(&self.tmp, e))?;
        self.done = true;
        Ok(())
    }
    /// Leave the file under its temporary name (fsynced).
    pub fn keep(mut self) -> Result<PathBuf> {
        self.sync()?;
        self.done = true;
        Ok(std::mem::take(&mut self.tmp))
    }
    /// Remove the file.
    pub fn discard(mut self) -> Result<()> {
        self.done = true;
        std::fs::remove_file(&self.tmp).map_err(|e| Error::io(&self.tmp, e))
    }
}

impl Drop for ClosedWal {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// fsync the folder holding `path` (makes a rename durable).
pub fn sync_dir(path: &Path) -> Result<()> {
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            d.sync_all().map_err(|e| Error::io(dir, e))?;
        }
    }
    Ok(())
}

/// HBase's rule (`path.toString().contains("recovered.edits")`).
pub fn is_recovered_edits_path(p: &Path) -> bool {
    p.to_string_lossy().contains("recovered.edits")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::{make_key, Key};
    use crate::wal::WalReader;

    fn key(region: &str, seq: u64) -> WalKey {
        WalKey {
            encoded_region: region.as_bytes().to_vec(),
            table: b"ns:t".to_vec(),
            sequence_id: seq,
            write_time: 1_700_000_000_000 + seq,
            cluster_ids: vec![Uuid { msb: 1, lsb: 2 }],
            scopes: vec![(b"cf".to_vec(), 1)],
            nonce_group: 7,
            nonce: 9,
            extended_attributes: vec![("a".into(), b"v".to_vec())],
            ..WalKey::default()
        }
    }

    fn roundtrip(opts: WriteOptions, recovered: bool) {
        let keys: Vec<Vec<u8>> = (0..300)
            .map(|i| {
                make_key(
                    format!("row{}", i % 40).as_bytes(),
                    b"cf",
                    format!("q{}", i % 7).as_bytes(),
                    i,
                    4,
                )
            })
            .collect();
        let tags = [0u8, 4, 8, b'x', b'y', b'z'];
        let mut w = WalWriter::new(
            Vec::new(),
            WriteOptions {
                recovered_edits: recovered,
                ..opts
            },
        )
        .unwrap();
        let mut expect = Vec::new();
        for (e, chunk) in keys.chunks(3).enumerate() {
            let val = vec![b'v'; e * 37 % 300];
            let cells: Vec<Cell> = chunk
                .iter()
                .map(|k| Cell {
                    key: Key::parse(k).unwrap(),
                    value: &val,
                    tags: if e % 2 == 0 { &tags } else { &[] },
                    seq_id: 0,
                })
                .collect();
            let region = if recovered || e % 3 == 0 { "r0" } else { "r1" };
            let k = key(region, e as u64 + 1);
            w.append(&k, &cells).unwrap();
            expect.push((
                k,
                cells
                    .iter()
                    .map(|c| (c.key.raw().to_vec(), c.value.to_vec(), c.tags.to_vec()))
                    .collect::<Vec<_>>(),
            ));
        }
        let (bytes, stats) = w.finish().unwrap();
        assert_eq!(stats.entries, 100);
        assert_eq!(stats.bytes, bytes.len() as u64);
        let mut r = WalReader::from_bytes(&bytes, recovered).unwrap();
        let mut n = 0;
        while let Some(e) = r.next_entry().unwrap() {
            let (k, cells) = &expect[n];
            let mut got = e.key.clone();
            got.following_kv_count = 0;
            assert_eq!(&got, k);
            let gc: Vec<_> = e
                .cells()
                .map(|c| (c.key.raw().to_vec(), c.value.to_vec(), c.tags.to_vec()))
                .collect();
            assert_eq!(&gc, cells);
            n += 1;
        }
        assert_eq!(n, 100);
        assert_eq!(r.ending(), &crate::wal::Ending::Trailer);
    }

    #[test]
    fn roundtrips() {
        roundtrip(WriteOptions::default(), false);
        let c = WriteOptions {
            compression: true,
            tag_compression: true,
            ..WriteOptions::default()
        };
        roundtrip(c.clone(), false);
        roundtrip(c.clone(), true);
        roundtrip(
            WriteOptions {
                tag_compression: false,
                ..c.clone()
            },
            false,
        );
        for v in [
            Compression::Gz,
            Compression::Snappy,
            Compression::Lz4,
            Compression::Zstd,
            Compression::None,
        ] {
            roundtrip(
                WriteOptions {
                    value_compression: Some(v),
                    ..c.clone()
                },
                false,
            );
        }
    }

    #[test]
    fn header_forms() {
        let old = WriteOptions {
            value_compression_field: false,
            ..WriteOptions::default()
        };
        let h = old.header_bytes();
        assert_eq!(&h[..4], &[0x08, 0, 0x18, 0]);
        assert!(!h.contains(&0x30));
        let gz = WriteOptions {
            compression: true,
            tag_compression: true,
            value_compression: Some(Compression::Gz),
            ..WriteOptions::default()
        };
        let h = gz.header_bytes();
        assert!(h.ends_with(&[0x30, 1, 0x38, 1]));
        assert!(WriteOptions {
            compression: false,
            ..gz
        }
        .validate()
        .is_err());
    }
}
