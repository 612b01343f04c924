//! Streaming WAL reader: header, entries (WALKey + cells in every codec HBase writes) and a
//! tolerant end that classifies a clean close, a trailer-less file and damage.
//!
//! Reads go through a [`BufReader`] over any [`Read`]; nothing is mapped, so a WAL that is
//! still being written or was cut short reads the same way as a closed one. Every length
//! found in the file is checked against the bytes that can still be present before any
//! buffer is sized from it.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::bytes::{be_i32, be_u16};
use crate::cell::{Cell, Key, KEY_INFRASTRUCTURE};
use crate::codec::{decompress, Compression};
use crate::dict::LruDict;
use crate::error::{Error, ErrorKind, Result};
use crate::pb::{fields, Value};

use super::marker::{self, Marker};
use super::seqfile;
use super::{
    Damage, DamageKind, Ending, Format, Summary, Uuid, WalHeader, WalKey, METAFAMILY,
    PB_WAL_COMPLETE_MAGIC, PB_WAL_MAGIC, WAL_CELL_CODEC,
};

/// Largest WALKey / header accepted when the file length is unknown (protobuf's own default
/// message size limit).
const MAX_MESSAGE: u64 = 64 << 20;
/// Cell codec class names read as the plain KeyValue framing.
const KV_CODECS: [&str; 2] = [
    "org.apache.hadoop.hbase.codec.KeyValueCodec",
    "org.apache.hadoop.hbase.codec.KeyValueCodecWithTags",
];

/// Where the bytes come from and what the reader may assume about them.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// Use dictionary capacity 1 for the REGION and TABLE dictionaries, as HBase does for
    /// any path containing `recovered.edits`.
    pub recovered_edits: bool,
    /// Total length of the file, when known: lengths are checked against it before reading.
    pub file_length: Option<u64>,
    /// Offset where a trailer starts (found by [`probe_trailer`]); entries end there.
    pub trailer_offset: Option<u64>,
    /// The file, for error messages.
    pub path: Option<PathBuf>,
}

/// Why reading an entry stopped early.
pub(crate) enum Stop {
    /// Ran out of bytes.
    Eof(u64),
    /// Bytes present but malformed (error carries the absolute offset).
    Bad(Error),
    /// Operating-system failure.
    Io(Error),
}

pub(crate) type Step<T> = std::result::Result<T, Stop>;

fn bad(at: u64, msg: impl Into<String>) -> Stop {
    Stop::Bad(Error::corrupt("WAL entry", msg).at(at))
}

/// A counting buffered source with an optional hard end.
struct Src<R> {
    inner: BufReader<R>,
    pos: u64,
    /// No read may go past this offset.
    limit: u64,
    /// The limit is the trailer (reading past it is corruption, not truncation).
    limit_is_trailer: bool,
}

impl<R: Read> Src<R> {
    fn past(&self, need: u64) -> Stop {
        if self.limit_is_trailer {
            bad(
                self.pos,
                format!(
                    "{need} more byte(s) needed but the entry area ends at the trailer (byte {})",
                    self.limit
                ),
            )
        } else {
            Stop::Eof(self.pos)
        }
    }
    fn io(&self, e: std::io::Error) -> Stop {
        Stop::Io(Error::new(ErrorKind::Io, "WAL read", e.to_string()).at(self.pos))
    }
    fn check(&self, n: u64) -> Step<()> {
        if self.pos.saturating_add(n) > self.limit {
            Err(self.past(n))
        } else {
            Ok(())
        }
    }
    /// Next byte, or None at the end of data.
    fn byte_opt(&mut self) -> Step<Option<u8>> {
        if self.pos >= self.limit {
            return if self.limit_is_trailer {
                Err(self.past(1))
            } else {
                Ok(None)
            };
        }
        if let Some(&b) = self.inner.buffer().first() {
            self.inner.consume(1);
            self.pos += 1;
            return Ok(Some(b));
        }
        let b = loop {
            match self.inner.fill_buf() {
                Ok(buf) => break buf.first().copied(),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.io(e)),
            }
        };
        if b.is_some() {
            self.inner.consume(1);
            self.pos += 1;
        }
        Ok(b)
    }
    fn byte(&mut self) -> Step<u8> {
        match self.byte_opt()? {
            Some(b) => Ok(b),
            None => Err(Stop::Eof(self.pos)),
        }
    }
    /// Append exactly `n` bytes to `out`.
    fn read_into(&mut self, n: u64, out: &mut Vec<u8>) -> Step<()> {
        self.check(n)?;
        let mut left = n;
        while left > 0 {
            let buf = loop {
                match self.inner.fill_buf() {
                    Ok(b) => break b,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io(e)),
                }
            };
            if buf.is_empty() {
                return Err(Stop::Eof(self.pos));
            }
            let k = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            out.extend_from_slice(buf.get(..k).unwrap_or(&[]));
            self.inner.consume(k);
            self.pos += k as u64;
            left -= k as u64;
        }
        Ok(())
    }
    fn skip(&mut self, n: u64) -> Step<()> {
        self.check(n)?;
        let mut left = n;
        while left > 0 {
            let avail = loop {
                match self.inner.fill_buf() {
                    Ok(b) => break b.len(),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(self.io(e)),
                }
            };
            if avail == 0 {
                return Err(Stop::Eof(self.pos));
            }
            let k = avail.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.inner.consume(k);
            self.pos += k as u64;
            left -= k as u64;
        }
        Ok(())
    }
    fn array<const N: usize>(&mut self) -> Step<[u8; N]> {
        self.check(N as u64)?;
        if let Some(Ok(a)) = self.inner.buffer().get(..N).map(<[u8; N]>::try_from) {
            self.inner.consume(N);
            self.pos += N as u64;
            return Ok(a);
        }
        let mut a = [0u8; N];
        for slot in a.iter_mut() {
            *slot = self.byte()?;
        }
        Ok(a)
    }
    fn i32(&mut self) -> Step<i32> {
        Ok(i32::from_be_bytes(self.array()?))
    }
    /// Protobuf varint whose first byte has been read.
    fn pbvar_from(&mut self, first: u8) -> Step<u64> {
        let at = self.pos.saturating_sub(1);
        let mut v = u64::from(first & 0x7f);
        let mut b = first;
        let mut shift = 7;
        while b & 0x80 != 0 {
            if shift >= 70 {
                return Err(bad(at, "varint longer than 10 bytes"));
            }
            b = self.byte()?;
            if shift < 64 {
                v |= u64::from(b & 0x7f) << shift;
            }
            shift += 7;
        }
        Ok(v)
    }
    fn pbvar(&mut self) -> Step<u64> {
        let b = self.byte()?;
        self.pbvar_from(b)
    }
    /// `StreamUtils.readRawVarint32` used as a length: must be a non-negative int.
    fn len32(&mut self, what: &str) -> Step<u64> {
        let at = self.pos;
        let v = self.pbvar()? as u32;
        if v > i32::MAX as u32 {
            return Err(bad(at, format!("{what}: negative length {}", v as i32)));
        }
        Ok(u64::from(v))
    }
}

/// Look for a trailer given the file's last 8 bytes (`trailerSize:i32 "LAWP"`) and its
/// length: returns where the trailer starts (= where entries end), as HBase's reader
/// decides it (a negative size or a size reaching before the file start means no trailer).
pub fn trailer_offset_from_tail(tail: &[u8], len: u64) -> Option<u64> {
    if len <= 8 || tail.len() != 8 || tail.get(4..8)? != PB_WAL_COMPLETE_MAGIC {
        return None;
    }
    let size = be_i32(tail, 0)?;
    let size = u64::try_from(size).ok()?;
    (len - 8).checked_sub(size)
}

/// Read the last 8 bytes of a seekable source to find a trailer, leaving the position at 0.
pub fn probe_trailer<F: Read + Seek>(f: &mut F, len: u64) -> std::io::Result<Option<u64>> {
    let mut r = None;
    if len > 8 {
        let mut tail = [0u8; 8];
        f.seek(SeekFrom::Start(len - 8))?;
        f.read_exact(&mut tail)?;
        r = trailer_offset_from_tail(&tail, len);
    }
    f.seek(SeekFrom::Start(0))?;
    Ok(r)
}

/// The dictionaries of a compressed WAL (`CompressionContext`), alive for the whole file.
#[derive(Debug)]
pub(crate) struct Dicts {
    pub(crate) region: LruDict,
    pub(crate) table: LruDict,
    pub(crate) family: LruDict,
    pub(crate) qualifier: LruDict,
    pub(crate) row: LruDict,
    pub(crate) tags: Option<LruDict>,
}

impl Dicts {
    pub(crate) fn new(recovered_edits: bool, tag_compression: bool) -> Self {
        let rt = if recovered_edits {
            1
        } else {
            i16::MAX as usize
        };
        Dicts {
            region: LruDict::new(rt),
            table: LruDict::new(rt),
            family: LruDict::new(i8::MAX as usize),
            qualifier: LruDict::new(i8::MAX as usize),
            row: LruDict::new(i16::MAX as usize),
            tags: tag_compression.then(|| LruDict::new(i16::MAX as usize)),
        }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Span {
    key: (usize, usize),
    value: (usize, usize),
    tags: (usize, usize),
}

/// One WAL entry: its key and its cells. Owned by the reader and reused for the next entry.
#[derive(Debug, Default)]
pub struct Entry {
    /// The WALKey.
    pub key: WalKey,
    /// Byte offset where the entry starts.
    pub offset: u64,
    /// Byte offset just after the entry (HBase's reader position after it).
    pub end_offset: u64,
    data: Vec<u8>,
    spans: Vec<Span>,
}

impl Entry {
    /// Number of cells.
    pub fn cell_count(&self) -> usize {
        self.spans.len()
    }
    fn make(&self, s: &Span) -> Option<Cell<'_>> {
        let key = Key::parse(self.data.get(s.key.0..s.key.1)?).ok()?;
        Some(Cell {
            key,
            value: self.data.get(s.value.0..s.value.1)?,
            tags: self.data.get(s.tags.0..s.tags.1)?,
            seq_id: self.key.sequence_id,
        })
    }
    /// Cell `i`; every cell's sequence id is the entry's log sequence number.
    pub fn cell(&self, i: usize) -> Option<Cell<'_>> {
        self.make(self.spans.get(i)?)
    }
    /// The cells, in file order (borrowed, no allocation).
    pub fn cells(&self) -> impl Iterator<Item = Cell<'_>> + '_ {
        self.spans.iter().filter_map(|s| self.make(s))
    }
    /// True when the entry has cells and all of them are METAFAMILY markers ("meta edit").
    pub fn is_meta_edit(&self) -> bool {
        !self.spans.is_empty() && self.cells().all(|c| c.key.family() == METAFAMILY)
    }
    /// The decoded marker of every METAFAMILY cell.
    pub fn markers(&self) -> impl Iterator<Item = Result<Marker>> + '_ {
        self.cells().filter_map(|c| marker::decode(&c))
    }
    fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
    }
    /// Record a cell whose bytes were appended to the data buffer (used by the
    /// SequenceFile reader too).
    pub(crate) fn push_kv(&mut self, base: usize, klen: usize, vlen: usize, tlen: usize) {
        let k = (base, base + klen);
        let v = (k.1, k.1 + vlen);
        let t = (v.1, v.1 + tlen);
        self.spans.push(Span {
            key: k,
            value: v,
            tags: t,
        });
    }
    pub(crate) fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }
}

/// Streaming WAL reader.
pub struct WalReader<R: Read> {
    src: Src<R>,
    opts: ReadOptions,
    format: Format,
    header: WalHeader,
    dicts: Option<Dicts>,
    value_codec: Option<Compression>,
    entry: Entry,
    keybuf: Vec<u8>,
    seg: Vec<u8>,
    valbuf: Vec<u8>,
    entries: u64,
    cells: u64,
    last_good: u64,
    ending: Ending,
    trailer_offset: Option<u64>,
    seq: Option<seqfile::State>,
}

impl WalReader<File> {
    /// Open a WAL file: probes the trailer, applies the `recovered.edits` dictionary rule
    /// from the path, and reads the header. Errors only when the file cannot be read at all
    /// or is not a WAL HBkit reads; damage is reported through [`WalReader::ending`].
    pub fn open(path: &Path) -> Result<Self> {
        let mut f = File::open(path).map_err(|e| Error::io(path, e))?;
        let len = f.metadata().map_err(|e| Error::io(path, e))?.len();
        let trailer = probe_trailer(&mut f, len).map_err(|e| Error::io(path, e))?;
        let opts = ReadOptions {
            recovered_edits: path.to_string_lossy().contains("recovered.edits"),
            file_length: Some(len),
            trailer_offset: trailer,
            path: Some(path.to_path_buf()),
        };
        WalReader::new(f, opts)
    }
}

impl<'a> WalReader<&'a [u8]> {
    /// Read a WAL held in memory.
    pub fn from_bytes(data: &'a [u8], recovered_edits: bool) -> Result<Self> {
        let len = data.len() as u64;
        let tail = data.get(data.len().saturating_sub(8)..).unwrap_or(&[]);
        let opts = ReadOptions {
            recovered_edits,
            file_length: Some(len),
            trailer_offset: trailer_offset_from_tail(tail, len),
            path: None,
        };
        WalReader::new(data, opts)
    }
}

impl<R: Read> WalReader<R> {
    /// Start reading `r` (positioned at the file start) and read the header.
    pub fn new(r: R, opts: ReadOptions) -> Result<Self> {
        let limit = opts.file_length.unwrap_or(u64::MAX);
        let mut w = WalReader {
            src: Src {
                inner: BufReader::with_capacity(64 << 10, r),
                pos: 0,
                limit,
                limit_is_trailer: false,
            },
            opts,
            format: Format::Protobuf,
            header: WalHeader::default(),
            dicts: None,
            value_codec: None,
            entry: Entry::default(),
            keybuf: Vec::new(),
            seg: Vec::new(),
            valbuf: Vec::new(),
            entries: 0,
            cells: 0,
            last_good: 0,
            ending: Ending::Open,
            trailer_offset: None,
            seq: None,
        };
        w.read_header().map_err(|e| w.locate(e))?;
        Ok(w)
    }

    fn locate(&self, e: Error) -> Error {
        match &self.opts.path {
            Some(p) => e.in_file(p),
            None => e,
        }
    }

    fn damage(&mut self, kind: DamageKind, offset: u64, detected_at: u64, message: String) {
        self.ending = Ending::Damaged(Damage {
            kind,
            offset,
            detected_at,
            message,
        });
    }

    fn read_header(&mut self) -> Result<()> {
        let mut magic = Vec::with_capacity(4);
        while magic.len() < 4 {
            match self.src.byte_opt() {
                Ok(Some(b)) => magic.push(b),
                Ok(None) => break,
                Err(Stop::Io(e)) => return Err(e),
                Err(_) => break,
            }
        }
        if magic.is_empty() {
            self.ending = Ending::Empty;
            return Ok(());
        }
        if magic.starts_with(b"SEQ") {
            self.format = Format::SequenceFile;
            let st = seqfile::read_header(self)?;
            self.seq = st;
            return Ok(());
        }
        if magic.len() < 4 {
            if PB_WAL_MAGIC.starts_with(&magic) || b"SEQ".starts_with(&magic) {
                self.damage(
                    DamageKind::TruncatedHeader,
                    0,
                    magic.len() as u64,
                    format!("file of {} byte(s) ends inside the WAL magic", magic.len()),
                );
                return Ok(());
            }
            return Err(not_a_wal(&magic));
        }
        if magic != PB_WAL_MAGIC {
            return Err(not_a_wal(&magic));
        }
        let r = self.read_pb_header();
        match r {
            Ok(h) => {
                self.header = h;
            }
            Err(Stop::Eof(at)) => {
                self.damage(
                    DamageKind::TruncatedHeader,
                    0,
                    at,
                    "the file ends inside the WALHeader".into(),
                );
                return Ok(());
            }
            Err(Stop::Bad(e)) => {
                let at = e.offset.unwrap_or(4);
                self.damage(DamageKind::CorruptHeader, 0, at, e.message);
                return Ok(());
            }
            Err(Stop::Io(e)) => return Err(e),
        }
        self.header.end_offset = self.src.pos;
        self.last_good = self.src.pos;
        self.check_supported()?;
        if self.header.compressed() {
            self.dicts = Some(Dicts::new(
                self.opts.recovered_edits,
                self.header.tag_compression(),
            ));
        }
        if let Some(t) = self.opts.trailer_offset {
            if t >= self.src.pos {
                self.trailer_offset = Some(t);
                self.src.limit = t;
                self.src.limit_is_trailer = true;
            }
        }
        Ok(())
    }

    fn read_pb_header(&mut self) -> Step<WalHeader> {
        let at = self.src.pos;
        let len = self.src.pbvar()?;
        if self.opts.file_length.is_none() && len > MAX_MESSAGE {
            return Err(bad(at, format!("WALHeader length {len} is implausible")));
        }
        let mut buf = Vec::new();
        self.src.read_into(len, &mut buf)?;
        let body_at = at + (self.src.pos - at - len);
        parse_header(&buf).map_err(|e| Stop::Bad(e.rebase(body_at)))
    }

    fn check_supported(&mut self) -> Result<()> {
        let h = &self.header;
        if h.encrypted {
            return Err(Error::unsupported(
                "WALHeader",
                "encrypted WAL (encryption_key present; SecureWALCellCodec) is not supported",
            ));
        }
        if let Some(c) = &h.cell_codec_cls_name {
            if c != WAL_CELL_CODEC && !KV_CODECS.contains(&c.as_str()) {
                return Err(Error::unsupported(
                    "WALHeader",
                    format!("cell codec {c} is not supported (only {WAL_CELL_CODEC}, KeyValueCodec, KeyValueCodecWithTags)"),
                ));
            }
            if KV_CODECS.contains(&c.as_str()) && h.has_compression {
                return Err(Error::unsupported(
                    "WALHeader",
                    format!("dictionary compression with cell codec {c}"),
                ));
            }
        }
        if let Some(n) = h.value_codec() {
            let c = Compression::from_ordinal(n).ok_or_else(|| {
                Error::corrupt(
                    "WALHeader",
                    format!("invalid value compression algorithm ordinal {n}"),
                )
            })?;
            if !c.is_supported() {
                return Err(Error::unsupported(
                    "WALHeader",
                    format!("value compression {} is not supported", c.name()),
                ));
            }
            self.value_codec = Some(c);
        }
        Ok(())
    }

    /// The header (default values if it could not be read).
    pub fn header(&self) -> &WalHeader {
        &self.header
    }
    /// Container format.
    pub fn format(&self) -> Format {
        self.format
    }
    /// The options in force (path, length, trailer).
    pub fn options(&self) -> &ReadOptions {
        &self.opts
    }
    /// How reading ended so far ([`Ending::Open`] until the end is reached).
    pub fn ending(&self) -> &Ending {
        &self.ending
    }
    /// Current byte position.
    pub fn position(&self) -> u64 {
        self.src.pos
    }
    /// Where the trailer starts, when the file has one.
    pub fn trailer_offset(&self) -> Option<u64> {
        self.trailer_offset
    }
    /// Totals so far.
    pub fn summary(&self) -> Summary {
        Summary {
            entries: self.entries,
            cells: self.cells,
            last_good_offset: self.last_good,
            file_length: self.opts.file_length,
            trailer_offset: self.trailer_offset,
            ending: self.ending.clone(),
        }
    }

    /// Read the next complete entry into `into`, swapping buffers with the reader (no copy),
    /// so that another thread can render it while this one reads on. `Ok(false)` at the end,
    /// as [`WalReader::next_entry`] returns `Ok(None)`.
    pub fn next_entry_into(&mut self, into: &mut Entry) -> Result<bool> {
        if self.next_entry()?.is_none() {
            return Ok(false);
        }
        std::mem::swap(&mut self.entry, into);
        Ok(true)
    }

    /// Read the next complete entry. `Ok(None)` at the end — clean or not, see
    /// [`WalReader::ending`]. `Err` only for operating-system read failures.
    pub fn next_entry(&mut self) -> Result<Option<&Entry>> {
        if self.ending != Ending::Open {
            return Ok(None);
        }
        let start = self.src.pos;
        self.entry.clear();
        let r = match self.format {
            Format::Protobuf => self.read_pb_entry(start),
            Format::SequenceFile => seqfile::read_entry(self, start),
        };
        match r {
            Ok(true) => {
                self.entries += 1;
                self.cells += self.entry.spans.len() as u64;
                self.last_good = self.src.pos;
                self.entry.offset = start;
                self.entry.end_offset = self.src.pos;
                Ok(Some(&self.entry))
            }
            Ok(false) => Ok(None),
            Err(Stop::Eof(at)) => {
                self.damage(
                    DamageKind::TruncatedEntry,
                    start,
                    at,
                    format!(
                        "the file ends inside entry #{} (started at byte {start})",
                        self.entries
                    ),
                );
                self.entry.clear();
                Ok(None)
            }
            Err(Stop::Bad(e)) => {
                let at = e.offset.unwrap_or(start);
                self.damage(
                    DamageKind::CorruptEntry,
                    start,
                    at,
                    format!("entry #{}: {}: {}", self.entries, e.context, e.message),
                );
                self.entry.clear();
                Ok(None)
            }
            Err(Stop::Io(e)) => {
                self.ending = Ending::Open;
                Err(self.locate(e))
            }
        }
    }

    /// Position the reader so that the next entry is the one starting at `offset`.
    /// Uncompressed protobuf WALs skip the bytes; compressed ones (and SequenceFiles) must
    /// decode every entry before it to rebuild their dictionaries, as HBase's reader does.
    /// `offset` must be an entry boundary (a `position:` HBase printed).
    pub fn seek_to_entry(&mut self, offset: u64) -> Result<()> {
        let here = self.src.pos;
        if offset < here {
            return Err(Error::usage(format!(
                "start offset {offset} is before the current position {here} (the header ends at byte {})",
                self.header.end_offset
            )));
        }
        if offset == here || self.ending != Ending::Open {
            return Ok(());
        }
        if self.format == Format::Protobuf && self.dicts.is_none() {
            match self.src.skip(offset - here) {
                Ok(()) => {
                    self.last_good = offset;
                    return Ok(());
                }
                Err(Stop::Io(e)) => return Err(self.locate(e)),
                Err(_) => {
                    return Err(Error::usage(format!(
                        "start offset {offset} is beyond the end of the entries"
                    )))
                }
            }
        }
        loop {
            let end = match self.next_entry()? {
                Some(e) => e.end_offset,
                None => {
                    return Err(Error::usage(format!(
                        "start offset {offset} is beyond the last readable entry"
                    )))
                }
            };
            if end == offset {
                return Ok(());
            }
            if end > offset {
                return Err(Error::usage(format!(
                    "start offset {offset} is not an entry boundary (an entry ends at byte {end})"
                )));
            }
        }
    }

    /// Read every remaining entry, discarding them, and return the summary.
    pub fn drain(&mut self) -> Result<Summary> {
        while self.next_entry()?.is_some() {}
        Ok(self.summary())
    }

    fn read_pb_entry(&mut self, start: u64) -> Step<bool> {
        if self.trailer_offset == Some(start) {
            self.ending = Ending::Trailer;
            return Ok(false);
        }
        let Some(b0) = self.src.byte_opt()? else {
            self.ending = Ending::NoTrailer;
            return Ok(false);
        };
        let klen = self.src.pbvar_from(b0)?;
        if klen == 0 {
            return self.zero_key(start);
        }
        if self.opts.file_length.is_none() && klen > MAX_MESSAGE {
            return Err(bad(start, format!("WALKey length {klen} is implausible")));
        }
        self.keybuf.clear();
        self.src.read_into(klen, &mut self.keybuf)?;
        let key_at = self.src.pos - klen;
        parse_key(&self.keybuf, &mut self.entry.key, self.dicts.as_mut())
            .map_err(|e| Stop::Bad(e.rebase(key_at)))?;
        let n = self.entry.key.following_kv_count;
        for _ in 0..n {
            if self.dicts.is_some() {
                self.read_compressed_cell()?;
            } else {
                self.read_plain_cell()?;
            }
        }
        Ok(true)
    }

    /// A zero key length: the start of an (empty) trailer when no trailer was probed, a cut
    /// trailer, or garbage.
    fn zero_key(&mut self, start: u64) -> Step<bool> {
        let mut seen = vec![0u8];
        while seen.len() < 8 {
            match self.src.byte_opt()? {
                Some(b) => seen.push(b),
                None => break,
            }
        }
        let trailer: [u8; 8] = [0, 0, 0, 0, b'L', b'A', b'W', b'P'];
        if trailer.starts_with(&seen) {
            if seen.len() < 8 {
                self.ending = Ending::PartialTrailer;
                return Ok(false);
            }
            if self.src.byte_opt()?.is_none() {
                self.trailer_offset = Some(start);
                self.ending = Ending::Trailer;
                return Ok(false);
            }
        }
        Err(bad(
            start,
            "zero-length WALKey (a WALKey has required fields): not an entry",
        ))
    }

    fn read_plain_cell(&mut self) -> Step<()> {
        let at = self.src.pos;
        let total = self.src.i32()?;
        let total = u64::try_from(total)
            .ok()
            .filter(|&t| t >= 8 + KEY_INFRASTRUCTURE as u64)
            .ok_or_else(|| bad(at, format!("cell length {total} is too small")))?;
        let data = &mut self.entry.data;
        let base = data.len();
        self.src.read_into(total, data)?;
        let kv = data.get(base..).unwrap_or(&[]);
        let klen = be_i32(kv, 0).unwrap_or(-1);
        let vlen = be_i32(kv, 4).unwrap_or(-1);
        let (Ok(k), Ok(v)) = (usize::try_from(klen), usize::try_from(vlen)) else {
            return Err(bad(
                at,
                format!("negative key or value length ({klen}, {vlen})"),
            ));
        };
        let total = kv.len();
        let rest = total
            .checked_sub(8)
            .and_then(|r| r.checked_sub(k))
            .and_then(|r| r.checked_sub(v))
            .ok_or_else(|| {
                bad(
                    at,
                    format!("key length {k} + value length {v} exceed the cell length {total}"),
                )
            })?;
        let tlen = if rest == 0 {
            0
        } else {
            let tl = be_u16(kv, 8 + k + v).map(usize::from);
            match tl {
                Some(tl) if rest >= 2 && tl == rest - 2 => tl,
                _ => {
                    return Err(bad(
                        at,
                        format!(
                            "{rest} byte(s) after the value do not hold a tags length matching them"
                        ),
                    ))
                }
            }
        };
        let key = kv.get(8..8 + k).unwrap_or(&[]);
        Key::parse(key).map_err(|e| Stop::Bad(e.at(at + 8)))?;
        // Layout in the buffer: klen vlen KEY VALUE [tagsLen TAGS]
        let k0 = base + 8;
        let v0 = k0 + k;
        let t0 = v0 + v + if tlen > 0 { 2 } else { 0 };
        self.entry.spans.push(Span {
            key: (k0, v0),
            value: (v0, v0 + v),
            tags: (t0, t0 + tlen),
        });
        Ok(())
    }

    fn read_compressed_cell(&mut self) -> Step<()> {
        let at = self.src.pos;
        let klen = self.src.len32("key length")?;
        let vlen = self.src.len32("value length")?;
        let tlen = self.src.len32("tags length")?;
        let Some(d) = self.dicts.as_mut() else {
            return Err(bad(at, "internal: no dictionaries"));
        };
        let src = &mut self.src;
        let data = &mut self.entry.data;
        let base = data.len();
        data.extend_from_slice(&[0, 0]);
        let rl = dict_read(src, &mut d.row, data, "row")?;
        if rl > i16::MAX as usize {
            return Err(bad(at, format!("row length {rl} exceeds 32767")));
        }
        let rlb = (rl as u16).to_be_bytes();
        if let Some(s) = data.get_mut(base..base + 2) {
            s.copy_from_slice(&rlb);
        }
        let fpos = data.len();
        data.push(0);
        let fl = dict_read(src, &mut d.family, data, "family")?;
        if fl > i8::MAX as usize {
            return Err(bad(at, format!("family length {fl} exceeds 127")));
        }
        if let Some(s) = data.get_mut(fpos) {
            *s = fl as u8;
        }
        let ql = dict_read(src, &mut d.qualifier, data, "qualifier")?;
        let built = (KEY_INFRASTRUCTURE + rl + fl + ql) as u64;
        if built != klen {
            return Err(bad(
                at,
                format!("key length {klen} does not match row/family/qualifier lengths ({rl}, {fl}, {ql})"),
            ));
        }
        let ts = src.array::<8>()?;
        data.extend_from_slice(&ts);
        let t = src.byte()?;
        data.push(t);
        let key_end = data.len();
        match self.value_codec {
            Some(codec) => {
                let sat = src.pos;
                let seg_len = src.len32("compressed value length")?;
                self.seg.clear();
                src.read_into(seg_len, &mut self.seg)?;
                if vlen > 0 {
                    let cap = seg_len
                        .saturating_mul(max_ratio(codec))
                        .saturating_add(1024);
                    if vlen > cap {
                        return Err(bad(
                            sat,
                            format!(
                                "value length {vlen} is impossible for a {seg_len}-byte {} segment",
                                codec.name()
                            ),
                        ));
                    }
                    let vl = usize::try_from(vlen).unwrap_or(usize::MAX);
                    decompress(codec, &self.seg, vl, &mut self.valbuf).map_err(|e| {
                        bad(
                            sat,
                            format!("compressed value does not decode: {}", e.message),
                        )
                    })?;
                    data.extend_from_slice(&self.valbuf);
                }
            }
            None => src.read_into(vlen, data)?,
        }
        let val_end = data.len();
        if tlen > 0 {
            if tlen > u64::from(u16::MAX) {
                return Err(bad(at, format!("tags length {tlen} exceeds 65535")));
            }
            match d.tags.as_mut() {
                None => src.read_into(tlen, data)?,
                Some(td) => {
                    let mut produced = 0u64;
                    while produced < tlen {
                        let tat = src.pos;
                        let lpos = data.len();
                        data.extend_from_slice(&[0, 0]);
                        let l = dict_read(src, td, data, "tag")? as u64;
                        if produced + 2 + l > tlen {
                            return Err(bad(
                                tat,
                                format!("tags overrun the cell's tags length {tlen}"),
                            ));
                        }
                        let lb = (l as u16).to_be_bytes();
                        if let Some(s) = data.get_mut(lpos..lpos + 2) {
                            s.copy_from_slice(&lb);
                        }
                        produced += 2 + l;
                    }
                }
            }
        }
        let end = data.len();
        Key::parse(data.get(base..key_end).unwrap_or(&[])).map_err(|e| Stop::Bad(e.at(at)))?;
        self.entry.spans.push(Span {
            key: (base, key_end),
            value: (key_end, val_end),
            tags: (val_end, end),
        });
        Ok(())
    }

    // --- for the SequenceFile reader ---
    pub(crate) fn seq_src_parts(&mut self) -> SeqParts<'_, R> {
        SeqParts { w: self }
    }
}

/// Access for the SequenceFile reader to the shared byte source and entry.
pub(crate) struct SeqParts<'a, R: Read> {
    w: &'a mut WalReader<R>,
}

impl<R: Read> SeqParts<'_, R> {
    pub(crate) fn pos(&self) -> u64 {
        self.w.src.pos
    }
    pub(crate) fn read_into(&mut self, n: u64, out: &mut Vec<u8>) -> Step<()> {
        self.w.src.read_into(n, out)
    }
    pub(crate) fn byte_opt(&mut self) -> Step<Option<u8>> {
        self.w.src.byte_opt()
    }
}

impl<R: Read> WalReader<R> {
    pub(crate) fn entry_mut(&mut self) -> &mut Entry {
        &mut self.entry
    }
    pub(crate) fn set_ending(&mut self, e: Ending) {
        self.ending = e;
    }
    pub(crate) fn set_header(&mut self, h: WalHeader) {
        self.last_good = h.end_offset;
        self.header = h;
    }
    pub(crate) fn set_damage(&mut self, kind: DamageKind, offset: u64, at: u64, msg: String) {
        self.damage(kind, offset, at, msg);
    }
    pub(crate) fn seq_state(&self) -> Option<&seqfile::State> {
        self.seq.as_ref()
    }
    pub(crate) fn file_length(&self) -> Option<u64> {
        self.opts.file_length
    }
}

/// Upper bound of decompressed/compressed size for each codec's format.
fn max_ratio(c: Compression) -> u64 {
    match c {
        Compression::None => 1,
        Compression::Gz => 1100,
        Compression::Snappy => 32,
        Compression::Lz4 => 300,
        _ => 40_000,
    }
}

/// A dictionary-coded field read from the stream into `out`: `0xFF pbvar(len) bytes`
/// (added to the dictionary) or a 2-byte big-endian index. Returns its length.
fn dict_read<R: Read>(
    src: &mut Src<R>,
    dict: &mut LruDict,
    out: &mut Vec<u8>,
    what: &str,
) -> Step<usize> {
    let at = src.pos;
    let status = src.byte()?;
    if status == 0xff {
        let len = src.len32(what)?;
        let start = out.len();
        src.read_into(len, out)?;
        dict.add(out.get(start..).unwrap_or(&[]));
        Ok(out.len() - start)
    } else {
        let lo = src.byte()?;
        if status & 0x80 != 0 {
            return Err(bad(
                at,
                format!("{what}: bad dictionary status byte 0x{status:02X}"),
            ));
        }
        let idx = u16::from_be_bytes([status, lo]);
        let e = dict.get(idx).ok_or_else(|| {
            bad(
                at,
                format!("{what}: missing dictionary entry for index {idx}"),
            )
        })?;
        out.extend_from_slice(e);
        Ok(e.len())
    }
}

/// A dictionary-coded protobuf `bytes` field of a WALKey (`uncompressByteString`).
fn dict_field(raw: &[u8], dict: &mut LruDict, out: &mut Vec<u8>, what: &str) -> Result<()> {
    let bad = |m: String| Error::corrupt("WALKey", format!("{what}: {m}"));
    let (&status, rest) = raw
        .split_first()
        .ok_or_else(|| bad("empty dictionary-coded field".into()))?;
    out.clear();
    if status == 0xff {
        let (len, n) =
            crate::bytes::read_pbvar(rest).ok_or_else(|| bad("truncated literal length".into()))?;
        let len = len as u32;
        if len > i32::MAX as u32 {
            return Err(bad(format!("negative literal length {}", len as i32)));
        }
        let body = rest
            .get(n..n.saturating_add(len as usize))
            .ok_or_else(|| bad(format!("literal of {len} bytes runs past the field")))?;
        out.extend_from_slice(body);
        dict.add(body);
        Ok(())
    } else {
        let lo = rest
            .first()
            .copied()
            .ok_or_else(|| bad("truncated dictionary index".into()))?;
        if status & 0x80 != 0 {
            return Err(bad(format!("bad dictionary status byte 0x{status:02X}")));
        }
        let idx = u16::from_be_bytes([status, lo]);
        let e = dict
            .get(idx)
            .ok_or_else(|| bad(format!("missing dictionary entry for index {idx}")))?;
        out.extend_from_slice(e);
        Ok(())
    }
}

fn not_a_wal(magic: &[u8]) -> Error {
    Error::corrupt(
        "WAL magic",
        format!(
            "not a WAL: the file starts with {:?}, expected \"PWAL\" (protobuf WAL) or \"SEQ\" (0.94 HLog)",
            crate::bytes::to_string_binary(magic)
        ),
    )
    .at(0)
}

fn parse_header(b: &[u8]) -> Result<WalHeader> {
    const C: &str = "WALHeader";
    let mut h = WalHeader::default();
    for f in fields(b, C) {
        let (n, v) = f?;
        match (n, v) {
            (1, Value::Varint(x)) => h.has_compression = x != 0,
            (2, Value::Bytes(_)) => h.encrypted = true,
            (3, Value::Varint(x)) => h.has_tag_compression = x != 0,
            (4, Value::Bytes(s)) => h.writer_cls_name = Some(String::from_utf8_lossy(s).into()),
            (5, Value::Bytes(s)) => h.cell_codec_cls_name = Some(String::from_utf8_lossy(s).into()),
            (6, Value::Varint(x)) => {
                h.has_value_compression = x != 0;
                h.value_compression_field = true;
            }
            (7, Value::Varint(x)) => h.value_compression_algorithm = Some(x as u32),
            (1..=7, _) => {
                return Err(Error::corrupt(
                    C,
                    format!("field {n} has the wrong wire type"),
                ))
            }
            _ => {}
        }
    }
    Ok(h)
}

fn wire(n: u32) -> Error {
    Error::corrupt("WALKey", format!("field {n} has the wrong wire type"))
}

fn parse_uuid(b: &[u8]) -> Result<Uuid> {
    let (mut lsb, mut msb) = (None, None);
    for f in fields(b, "UUID") {
        match f? {
            (1, Value::Varint(x)) => lsb = Some(x),
            (2, Value::Varint(x)) => msb = Some(x),
            (1 | 2, _) => return Err(Error::corrupt("UUID", "wrong wire type")),
            _ => {}
        }
    }
    match (msb, lsb) {
        (Some(msb), Some(lsb)) => Ok(Uuid { msb, lsb }),
        _ => Err(Error::corrupt("UUID", "required field missing")),
    }
}

/// Parse a WALKey message into `key`, expanding dictionary-coded fields in HBase's order:
/// region, table, scope families, attribute values.
fn parse_key(b: &[u8], key: &mut WalKey, mut dicts: Option<&mut Dicts>) -> Result<()> {
    const C: &str = "WALKey";
    key.cluster_id = None;
    key.cluster_ids.clear();
    key.scopes.clear();
    key.extended_attributes.clear();
    key.nonce_group = 0;
    key.nonce = 0;
    key.orig_sequence_number = None;
    key.following_kv_count = 0;
    let (mut region, mut table) = (None, None);
    let (mut seq, mut wt) = (None, None);
    let mut has_scopes = false;
    let mut has_attrs = false;
    for f in fields(b, C) {
        let (n, v) = f?;
        match (n, v) {
            (1, Value::Bytes(x)) => region = Some(x),
            (2, Value::Bytes(x)) => table = Some(x),
            (3, Value::Varint(x)) => seq = Some(x),
            (4, Value::Varint(x)) => wt = Some(x),
            (5, Value::Bytes(x)) => key.cluster_id = Some(parse_uuid(x)?),
            (6, Value::Bytes(_)) => has_scopes = true,
            (7, Value::Varint(x)) => key.following_kv_count = x as u32,
            (8, Value::Bytes(x)) => key.cluster_ids.push(parse_uuid(x)?),
            (9, Value::Varint(x)) => key.nonce_group = x,
            (10, Value::Varint(x)) => key.nonce = x,
            (11, Value::Varint(x)) => key.orig_sequence_number = Some(x),
            (12, Value::Bytes(_)) => has_attrs = true,
            (1..=12, _) => return Err(wire(n)),
            _ => {}
        }
    }
    let (Some(region), Some(table), Some(seq), Some(wt)) = (region, table, seq, wt) else {
        return Err(Error::corrupt(
            C,
            "required field missing (encoded_region_name, table_name, log_sequence_number and write_time are required)",
        ));
    };
    key.sequence_id = seq;
    key.write_time = wt;
    match dicts.as_deref_mut() {
        Some(d) => {
            dict_field(
                region,
                &mut d.region,
                &mut key.encoded_region,
                "encoded_region_name",
            )?;
            dict_field(table, &mut d.table, &mut key.table, "table_name")?;
        }
        None => {
            key.encoded_region.clear();
            key.encoded_region.extend_from_slice(region);
            key.table.clear();
            key.table.extend_from_slice(table);
        }
    }
    if has_scopes {
        for f in fields(b, C) {
            if let (6, Value::Bytes(s)) = f? {
                let (mut fam, mut ty) = (None, None);
                for g in fields(s, "FamilyScope") {
                    match g? {
                        (1, Value::Bytes(x)) => fam = Some(x),
                        (2, Value::Varint(x)) => ty = Some(x as u32),
                        _ => {}
                    }
                }
                let (Some(fam), Some(ty)) = (fam, ty) else {
                    return Err(Error::corrupt("FamilyScope", "required field missing"));
                };
                let mut out = Vec::new();
                match dicts.as_deref_mut() {
                    Some(d) => dict_field(fam, &mut d.family, &mut out, "scope family")?,
                    None => out.extend_from_slice(fam),
                }
                key.scopes.push((out, ty));
            }
        }
    }
    if has_attrs {
        for f in fields(b, C) {
            if let (12, Value::Bytes(s)) = f? {
                let (mut k, mut val) = (None, None);
                for g in fields(s, "Attribute") {
                    match g? {
                        (1, Value::Bytes(x)) => k = Some(x),
                        (2, Value::Bytes(x)) => val = Some(x),
                        _ => {}
                    }
                }
                let (Some(k), Some(val)) = (k, val) else {
                    return Err(Error::corrupt("Attribute", "required field missing"));
                };
                let mut out = Vec::new();
                match dicts.as_deref_mut() {
                    Some(d) => dict_field(val, &mut d.table, &mut out, "attribute value")?,
                    None => out.extend_from_slice(val),
                }
                key.extended_attributes
                    .push((String::from_utf8_lossy(k).into_owned(), out));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailer_probe() {
        let tail = [0, 0, 0, 0, b'L', b'A', b'W', b'P'];
        assert_eq!(trailer_offset_from_tail(&tail, 100), Some(92));
        assert_eq!(trailer_offset_from_tail(&tail, 8), None);
        let neg = [0xff, 0xff, 0xff, 0xff, b'L', b'A', b'W', b'P'];
        assert_eq!(trailer_offset_from_tail(&neg, 100), None);
        let big = [0, 0, 1, 0, b'L', b'A', b'W', b'P'];
        assert_eq!(trailer_offset_from_tail(&big, 100), None);
    }

    #[test]
    fn empty_and_garbage() {
        let r = WalReader::from_bytes(&[], false).unwrap();
        assert_eq!(r.ending(), &Ending::Empty);
        assert!(WalReader::from_bytes(b"HFILE....", false).is_err());
        let mut r = WalReader::from_bytes(b"PW", false).unwrap();
        assert!(r.next_entry().unwrap().is_none());
        assert!(r.ending().is_damage());
    }
}
