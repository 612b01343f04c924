//! Reading records: RFC-4180 CSV with any single-byte separator (the `csv` crate) or a
//! multi-byte separator (a quote-aware splitter here), from files or stdin, plain, gzip or
//! zstd (detected by magic bytes). One thread cuts the input into [`Blocks`] at record
//! boundaries (a scan for quotes and newlines only); the blocks then parse on every core
//! ([`BlockRecords`]).

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::bytes::from_string_binary;
use crate::error::{Error, Result};

/// Parse a separator: `tab`, `\t`, `comma`, `pipe`, or any text with `\xHH` escapes.
pub fn parse_separator(s: &str) -> Result<Vec<u8>> {
    let v = match s {
        "tab" | "\\t" | "TAB" => vec![b'\t'],
        "comma" => vec![b','],
        "pipe" => vec![b'|'],
        "semicolon" => vec![b';'],
        _ => from_string_binary(s)?,
    };
    if v.is_empty() {
        return Err(Error::usage("the separator is empty"));
    }
    if v.contains(&b'"') || v.contains(&b'\n') || v.contains(&b'\r') {
        return Err(Error::usage(
            "the separator must not contain a quote or a line break",
        ));
    }
    Ok(v)
}

/// A reader that counts the (compressed) bytes read through it.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Open `path` (`-` = stdin), decompressing gzip or zstd by magic. `count` receives the
/// raw bytes read.
pub fn open_input(path: &Path, count: Arc<AtomicU64>) -> Result<Box<dyn BufRead + Send>> {
    let raw: Box<dyn Read + Send> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| Error::io(path, e))?)
    };
    let mut r = BufReader::with_capacity(1 << 20, Counting { inner: raw, count });
    let head = r.fill_buf().map_err(|e| Error::io(path, e))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(BufReader::with_capacity(
            1 << 20,
            flate2::read::MultiGzDecoder::new(r),
        )))
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        let d = zstd::stream::read::Decoder::with_buffer(r).map_err(|e| Error::io(path, e))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, d)))
    } else {
        Ok(Box::new(r))
    }
}

/// Finds record boundaries — a `\n` outside quotes — exactly where the record parsers
/// ([`BlockRecords`]) end records, so input cut there parses block by block, in parallel.
///
/// Fed a growing buffer that starts at a boundary; remembers its place between calls.
#[derive(Debug)]
struct Boundaries {
    sep: Vec<u8>,
    quoting: bool,
    state: Quote,
    /// Bytes of the buffer scanned.
    pos: usize,
    /// `\n` bytes in the scanned part.
    newlines: u64,
    /// The last boundary (offset just past its `\n`) and the `\n` bytes before it.
    last: Option<(usize, u64)>,
    /// Where the current unquoted stretch began (a record start or just past a closing
    /// quote): separators are matched from here.
    resume: usize,
}

/// Where the scanner is relative to quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quote {
    /// Outside a quoted field.
    Outside,
    /// Inside a quoted field.
    Inside,
    /// Inside, just after a quote that either closes the field or starts a `""` escape.
    Closing,
}

impl Boundaries {
    /// A scanner for records separated by `sep`; `quoting` as in [`BlockRecords::new`].
    fn new(sep: &[u8], quoting: bool) -> Boundaries {
        Boundaries {
            sep: sep.to_vec(),
            quoting,
            state: Quote::Outside,
            pos: 0,
            newlines: 0,
            last: None,
            resume: 0,
        }
    }

    /// True when a quote at `p` (outside quotes) starts a quoted field: it opens a field, as
    /// each parser decides (the `csv` crate also ends records at a lone `\r`; the multi-byte
    /// splitter matches separators greedily, left to right).
    fn opens_field(&self, buf: &[u8], p: usize) -> bool {
        let before = buf.get(..p).unwrap_or(&[]);
        match self.sep.as_slice() {
            [b] => matches!(before.last(), None | Some(b'\n' | b'\r')) || before.last() == Some(b),
            sep => {
                let mut i = self.resume;
                let mut field = i;
                while i < p {
                    if before.get(i..).is_some_and(|r| r.starts_with(sep)) {
                        i += sep.len();
                        field = i;
                    } else {
                        i += 1;
                    }
                }
                field == p
            }
        }
    }

    /// Scan `buf` (the same buffer as before, possibly longer) from where the last call
    /// stopped.
    fn scan(&mut self, buf: &[u8]) {
        let mut i = self.pos;
        while i < buf.len() {
            let rest = buf.get(i..).unwrap_or(&[]);
            match self.state {
                Quote::Outside if !self.quoting => {
                    for k in memchr::memchr_iter(b'\n', rest) {
                        self.newlines += 1;
                        self.last = Some((i + k + 1, self.newlines));
                    }
                    i = buf.len();
                }
                Quote::Outside => match memchr::memchr2(b'\n', b'"', rest) {
                    None => i = buf.len(),
                    Some(k) => {
                        let p = i + k;
                        if buf.get(p) == Some(&b'\n') {
                            self.newlines += 1;
                            self.last = Some((p + 1, self.newlines));
                            self.resume = p + 1;
                        } else if self.opens_field(buf, p) {
                            self.state = Quote::Inside;
                        }
                        i = p + 1;
                    }
                },
                Quote::Inside => {
                    let end = memchr::memchr(b'"', rest).map_or(buf.len(), |k| i + k);
                    let span = buf.get(i..end).unwrap_or(&[]);
                    self.newlines += memchr::memchr_iter(b'\n', span).count() as u64;
                    if end < buf.len() {
                        self.state = Quote::Closing;
                    }
                    i = (end + 1).min(buf.len());
                }
                Quote::Closing => {
                    if buf.get(i) == Some(&b'"') {
                        self.state = Quote::Inside;
                        i += 1;
                    } else {
                        self.state = Quote::Outside;
                        self.resume = i;
                    }
                }
            }
        }
        self.pos = i;
    }

    /// The last boundary found: (offset past its `\n`, `\n` bytes before that offset).
    fn last(&self) -> Option<(usize, u64)> {
        self.last
    }

    /// The buffer lost its first `cut` bytes (`cut` the last boundary, holding `lines`
    /// newlines): continue on the rest.
    fn cut(&mut self, cut: usize, lines: u64) {
        self.pos -= cut.min(self.pos);
        self.resume -= cut.min(self.resume);
        self.newlines -= lines.min(self.newlines);
        self.last = None;
    }
}

/// Cuts an input into blocks of whole records: about `block` bytes each, at the last record
/// boundary in them ([`Boundaries`]); a record longer than a block makes its block longer.
pub struct Blocks<R> {
    input: R,
    scan: Boundaries,
    buf: Vec<u8>,
    block: usize,
    /// Newlines of the input before `buf`.
    lines: u64,
    eof: bool,
}

impl<R: Read> Blocks<R> {
    /// Blocks of about `block` bytes of `input`, records separated by `sep`.
    pub fn new(input: R, sep: &[u8], quoting: bool, block: usize) -> Blocks<R> {
        Blocks {
            input,
            scan: Boundaries::new(sep, quoting),
            buf: Vec::with_capacity(2 * block),
            block: block.max(1),
            lines: 0,
            eof: false,
        }
    }

    /// The next block and the newlines of the input before it; None at the end. `spare`
    /// is an empty buffer to hold what follows the block (reused to spare allocations).
    pub fn next_block(&mut self, mut spare: Vec<u8>) -> std::io::Result<Option<(Vec<u8>, u64)>> {
        loop {
            if !self.eof {
                let at = self.buf.len();
                self.buf.resize(at + self.block, 0);
                let mut got = at;
                while got < self.buf.len() {
                    match self.input.read(self.buf.get_mut(got..).unwrap_or(&mut [])) {
                        Ok(0) => {
                            self.eof = true;
                            break;
                        }
                        Ok(n) => got += n,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.buf.truncate(got);
                            return Err(e);
                        }
                    }
                }
                self.buf.truncate(got);
                self.scan.scan(&self.buf);
            }
            let (cut, lines) = match (self.eof, self.scan.last()) {
                (true, _) => (self.buf.len(), 0),
                (false, Some(b)) => b,
                (false, None) => continue,
            };
            if cut == 0 {
                return Ok(None);
            }
            spare.clear();
            spare.extend_from_slice(self.buf.get(cut..).unwrap_or(&[]));
            self.buf.truncate(cut);
            let data = std::mem::replace(&mut self.buf, spare);
            self.scan.cut(cut, lines);
            let before = self.lines;
            self.lines += lines;
            return Ok(Some((data, before)));
        }
    }
}

/// Reads the records of one block of input (whole records, cut by [`Boundaries`]) and says
/// which line each starts on.
pub struct BlockRecords<'a> {
    source: Source<'a>,
    data: &'a [u8],
    /// Newlines before `counted`, from the start of the input.
    lines: u64,
    /// Bytes of the block whose newlines `lines` holds.
    counted: usize,
    /// Where the last record read starts: a byte offset (csv) or its line (multi-byte).
    last: u64,
}

enum Source<'a> {
    /// Single-byte separator: the `csv` crate.
    Csv(Box<csv::Reader<&'a [u8]>>),
    /// Multi-byte separator.
    Multi(MultiSplitter<&'a [u8]>),
}

impl<'a> BlockRecords<'a> {
    /// Records of `data`, a block that starts after `lines` newlines of its input,
    /// separated by `sep`; `quoting` false reads quotes literally (ImportTsv's behaviour).
    pub fn new(data: &'a [u8], lines: u64, sep: &[u8], quoting: bool) -> BlockRecords<'a> {
        let source = match sep {
            [b] => Source::Csv(Box::new(
                csv::ReaderBuilder::new()
                    .delimiter(*b)
                    .has_headers(false)
                    .flexible(true)
                    .quoting(quoting)
                    .buffer_capacity(1 << 16)
                    .from_reader(data),
            )),
            _ => Source::Multi(MultiSplitter {
                input: data,
                sep: sep.to_vec(),
                quoting,
                line: 0,
                buf: Vec::new(),
            }),
        };
        BlockRecords {
            source,
            data,
            lines,
            counted: 0,
            last: 0,
        }
    }

    /// Read the next record into `rec`: Ok(false) at the end. An error with a line number
    /// is a malformed record (reading continues after it).
    pub fn read(&mut self, rec: &mut csv::ByteRecord) -> std::result::Result<bool, (u64, String)> {
        match &mut self.source {
            Source::Csv(reader) => match reader.read_byte_record(rec) {
                Ok(more) => {
                    self.last = rec.position().map_or(0, csv::Position::byte);
                    Ok(more)
                }
                Err(e) => {
                    self.last = e.position().map_or(0, csv::Position::byte);
                    Err((self.line(), e.to_string()))
                }
            },
            Source::Multi(m) => match m.read(rec) {
                Ok(Some(l)) => {
                    self.last = l;
                    Ok(true)
                }
                Ok(None) => Ok(false),
                Err((l, e)) => Err((l + self.lines, e)),
            },
        }
    }

    /// The 1-based input line the last record read starts on. Counted on demand: most
    /// records never need it.
    pub fn line(&mut self) -> u64 {
        if let Source::Multi(_) = self.source {
            return self.last + self.lines;
        }
        // The offset may point at blank lines (or the `\n` of a `\r\n`) the reader skipped
        // before the record.
        let mut at = self.last as usize;
        while matches!(self.data.get(at), Some(b'\n' | b'\r')) {
            at += 1;
        }
        if at > self.counted {
            let span = self.data.get(self.counted..at).unwrap_or(&[]);
            self.lines += memchr::memchr_iter(b'\n', span).count() as u64;
            self.counted = at;
        }
        self.lines + 1
    }
}

/// RFC-4180 splitting with a multi-byte separator: fields may be quoted with `"`, a quote
/// inside a quoted field is doubled, separators and line breaks inside quotes are data.
/// Records end at `\n` or `\r\n` outside quotes; empty lines are skipped.
pub struct MultiSplitter<R> {
    input: R,
    sep: Vec<u8>,
    quoting: bool,
    line: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> MultiSplitter<R> {
    fn read_line(&mut self) -> std::result::Result<bool, (u64, String)> {
        let n = self
            .input
            .read_until(b'\n', &mut self.buf)
            .map_err(|e| (self.line + 1, e.to_string()))?;
        if n > 0 {
            self.line += 1;
        }
        Ok(n > 0)
    }

    fn read(
        &mut self,
        rec: &mut csv::ByteRecord,
    ) -> std::result::Result<Option<u64>, (u64, String)> {
        loop {
            self.buf.clear();
            if !self.read_line()? {
                return Ok(None);
            }
            let start_line = self.line;
            if self.buf == b"\n" || self.buf == b"\r\n" {
                continue;
            }
            rec.clear();
            let mut field = Vec::new();
            let mut i = 0usize;
            // 0 = field start, 1 = unquoted, 2 = in quotes, 3 = quote seen inside quotes
            let mut state = 0u8;
            loop {
                let Some(&c) = self.buf.get(i) else {
                    if state == 2 {
                        // A line break inside quotes: the record continues.
                        if !self.read_line()? {
                            rec.push_field(&field);
                            return Ok(Some(start_line));
                        }
                        continue;
                    }
                    // The end of input without a newline.
                    rec.push_field(&field);
                    return Ok(Some(start_line));
                };
                if state != 2 {
                    if c == b'\n' || (c == b'\r' && self.buf.get(i + 1) == Some(&b'\n')) {
                        rec.push_field(&field);
                        return Ok(Some(start_line));
                    }
                    if self.buf.get(i..).is_some_and(|r| r.starts_with(&self.sep)) {
                        rec.push_field(&field);
                        field.clear();
                        state = 0;
                        i += self.sep.len();
                        continue;
                    }
                }
                match (state, c) {
                    (0, b'"') if self.quoting => state = 2,
                    (2, b'"') => state = 3,
                    (3, b'"') => {
                        field.push(b'"');
                        state = 2;
                    }
                    (2, _) => field.push(c),
                    // After a closing quote (or in an unquoted field) bytes are taken literally.
                    _ => {
                        field.push(c);
                        state = 1;
                    }
                }
                i += 1;
            }
        }
    }
}

/// Encode fields as one CSV line with `sep`, quoting fields that need it.
pub fn encode_record(fields: &csv::ByteRecord, sep: &[u8], out: &mut Vec<u8>) {
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        let needs = f.contains(&b'"')
            || f.contains(&b'\n')
            || f.contains(&b'\r')
            || (!sep.is_empty() && f.windows(sep.len()).any(|w| w == sep));
        if needs {
            out.push(b'"');
            for &c in f {
                if c == b'"' {
                    out.push(b'"');
                }
                out.push(c);
            }
            out.push(b'"');
        } else {
            out.extend_from_slice(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of `text` with their lines, read in blocks of about `block` bytes.
    fn blocks(text: &str, sep: &str, quoting: bool, block: usize) -> Vec<(u64, Vec<String>)> {
        let sep = parse_separator(sep).unwrap();
        let mut b = Blocks::new(text.as_bytes(), &sep, quoting, block);
        let mut out = Vec::new();
        while let Some((data, lines)) = b.next_block(Vec::new()).unwrap() {
            let mut r = BlockRecords::new(&data, lines, &sep, quoting);
            let mut rec = csv::ByteRecord::new();
            while r.read(&mut rec).unwrap() {
                out.push((
                    r.line(),
                    rec.iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect(),
                ));
            }
        }
        out
    }

    fn all(text: &str, sep: &str) -> Vec<(u64, Vec<String>)> {
        let whole = blocks(text, sep, true, 1 << 20);
        // Cut anywhere, the records and their lines are the same.
        for block in 1..text.len().min(40) {
            assert_eq!(blocks(text, sep, true, block), whole, "blocks of {block}");
        }
        whole
    }

    /// Blocks cut only where the parsers end records: quotes opening a field or not, escaped
    /// quotes, separators and line breaks inside quotes, lone `\r`, CRLF, blank lines, a
    /// quote after a closing quote, self-overlapping multi-byte separators; with quoting off
    /// every newline ends a record.
    #[test]
    fn blocks_cut_where_records_end() {
        let texts = [
            "a,b\n\"x\ny\",\"q\"\"\n\"\n\nz\r\"k\nl\",m\r\n\n\"\"\"\"\n",
            "u\"v,\"w\nx\"\n\"a\"b\"\nc\",d\n\"e\"\"\n\"\n",
            "\"\"\n\"\n\",\"\r\n\",x\n",
        ];
        for t in texts {
            let want: Vec<Vec<String>> = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .from_reader(t.as_bytes())
                .byte_records()
                .map(|r| {
                    r.unwrap()
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect()
                })
                .collect();
            let got: Vec<Vec<String>> = all(t, ",").into_iter().map(|(_, r)| r).collect();
            assert_eq!(got, want, "{t:?}");
            let m = t.replace(',', "||");
            let whole = all(&m, "||");
            assert!(!whole.is_empty());
            let unquoted = blocks(t, ",", false, 1 << 20);
            for block in 1..t.len() {
                assert_eq!(blocks(t, ",", false, block), unquoted, "{t:?} unquoted");
            }
        }
        // "|||" with separator "||": the greedy split leaves a '|' that starts the field, so
        // the quote after it is data and the newline after it ends the record.
        let v = all("a|||\"x\nb||c\n", "||");
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].1, vec!["a", "|\"x"]);
        assert_eq!(v[1], (2, vec!["b".into(), "c".into()]));
    }

    #[test]
    fn multi_byte_quotes_and_newlines() {
        let t = "a||b||c\n\"x||y\"||\"he said \"\"hi\"\"\"||\"l1\nl2\"\r\n\nlast||\n";
        let v = all(t, "||");
        assert_eq!(v[0], (1, vec!["a".into(), "b".into(), "c".into()]));
        assert_eq!(
            v[1],
            (
                2,
                vec!["x||y".into(), "he said \"hi\"".into(), "l1\nl2".into()]
            )
        );
        assert_eq!(v[2], (5, vec!["last".into(), "".into()]));
        assert_eq!(v.len(), 3);
        // The same through the csv crate with a single-byte separator.
        let t1 = t.replace("||", ";");
        let w = all(&t1, ";");
        assert_eq!(w[1].1, vec!["x;y", "he said \"hi\"", "l1\nl2"]);
        assert_eq!(w[2].0, 5);
    }

    #[test]
    fn encode_roundtrip() {
        let r = csv::ByteRecord::from(vec!["a", "b::c", "q\"", "n\nl"]);
        let mut out = Vec::new();
        encode_record(&r, b"::", &mut out);
        assert_eq!(out, b"a::\"b::c\"::\"q\"\"\"::\"n\nl\"");
    }
}
