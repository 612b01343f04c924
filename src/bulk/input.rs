//! Reading records: RFC-4180 CSV with any single-byte separator (the `csv` crate) or a
//! multi-byte separator (a quote-aware splitter here), from files or stdin, plain, gzip or
//! zstd (detected by magic bytes).

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

/// Newline offsets seen by the `csv` reader but not yet passed by a record start.
#[derive(Debug, Default)]
pub struct Lines {
    /// (offset of a `\n`, preceded by `\r`)
    pending: std::collections::VecDeque<(u64, bool)>,
    passed: u64,
    pos: u64,
    last: u8,
}

/// Feeds the `csv` reader and notes where the newlines are, so that records get their
/// physical line number (the `csv` crate counts records, not lines).
pub struct LineNoter {
    inner: Box<dyn BufRead + Send>,
    lines: Arc<std::sync::Mutex<Lines>>,
}

impl Read for LineNoter {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut l) = self.lines.lock() {
            let base = l.pos;
            let got = buf.get(..n).unwrap_or(&[]);
            for i in memchr::memchr_iter(b'\n', got) {
                let cr = match i.checked_sub(1) {
                    Some(j) => got.get(j) == Some(&b'\r'),
                    None => l.last == b'\r',
                };
                l.pending.push_back((base + i as u64, cr));
            }
            if let Some(&c) = got.last() {
                l.last = c;
            }
            l.pos += n as u64;
        }
        Ok(n)
    }
}

/// The line of the record the `csv` reader says starts at `byte`. That offset may point at
/// the blank lines (or the `\n` of a `\r\n`) the reader skipped before the record.
fn line_at(lines: &std::sync::Mutex<Lines>, mut byte: u64) -> u64 {
    match lines.lock() {
        Ok(mut l) => {
            while let Some(&(p, cr)) = l.pending.front() {
                if p <= byte || (cr && p == byte + 1) {
                    byte = byte.max(p + 1);
                    l.pending.pop_front();
                    l.passed += 1;
                } else {
                    break;
                }
            }
            l.passed + 1
        }
        Err(_) => 0,
    }
}

/// A record source: yields records with the line number they start on (1-based).
pub enum Records {
    /// Single-byte separator: the `csv` crate.
    Csv(Box<csv::Reader<LineNoter>>, Arc<std::sync::Mutex<Lines>>),
    /// Multi-byte separator.
    Multi(MultiSplitter),
}

impl Records {
    /// Records from `input` separated by `sep`; `quoting` false reads quotes literally
    /// (ImportTsv's behaviour).
    pub fn new(input: Box<dyn BufRead + Send>, sep: &[u8], quoting: bool) -> Records {
        match sep {
            [b] => {
                let lines = Arc::new(std::sync::Mutex::new(Lines::default()));
                let r = csv::ReaderBuilder::new()
                    .delimiter(*b)
                    .has_headers(false)
                    .flexible(true)
                    .quoting(quoting)
                    .buffer_capacity(1 << 16)
                    .from_reader(LineNoter {
                        inner: input,
                        lines: lines.clone(),
                    });
                Records::Csv(Box::new(r), lines)
            }
            _ => Records::Multi(MultiSplitter {
                input,
                sep: sep.to_vec(),
                quoting,
                line: 0,
                buf: Vec::new(),
            }),
        }
    }

    /// Read the next record into `rec`: Ok(Some(line)) or Ok(None) at the end. An error
    /// with a line number is a malformed record (the reader continues after it).
    pub fn read(
        &mut self,
        rec: &mut csv::ByteRecord,
    ) -> std::result::Result<Option<u64>, (u64, String)> {
        match self {
            Records::Csv(r, lines) => match r.read_byte_record(rec) {
                Ok(true) => Ok(Some(line_at(
                    lines,
                    rec.position().map_or(0, csv::Position::byte),
                ))),
                Ok(false) => Ok(None),
                Err(e) => {
                    let line = line_at(lines, e.position().map_or(0, csv::Position::byte));
                    Err((line, e.to_string()))
                }
            },
            Records::Multi(m) => m.read(rec),
        }
    }
}

/// RFC-4180 splitting with a multi-byte separator: fields may be quoted with `"`, a quote
/// inside a quoted field is doubled, separators and line breaks inside quotes are data.
/// Records end at `\n` or `\r\n` outside quotes; empty lines are skipped.
pub struct MultiSplitter {
    input: Box<dyn BufRead + Send>,
    sep: Vec<u8>,
    quoting: bool,
    line: u64,
    buf: Vec<u8>,
}

impl MultiSplitter {
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

    fn all(text: &str, sep: &str) -> Vec<(u64, Vec<String>)> {
        let input: Box<dyn BufRead + Send> =
            Box::new(std::io::Cursor::new(text.as_bytes().to_vec()));
        let mut r = Records::new(input, &parse_separator(sep).unwrap(), true);
        let mut rec = csv::ByteRecord::new();
        let mut out = Vec::new();
        while let Some(line) = r.read(&mut rec).unwrap() {
            out.push((
                line,
                rec.iter()
                    .map(|f| String::from_utf8_lossy(f).into_owned())
                    .collect(),
            ));
        }
        out
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
