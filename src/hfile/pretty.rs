//! Text renderings in the shapes of HBase's `hbase hfile` (HFilePrettyPrinter), so
//! runbooks that grep its output keep working: `-m` meta, `-b` block index, `-h` block
//! headers and `-s` statistics (computed exactly here, where HBase samples).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::bytes::to_string_binary;
use crate::cell::{Cell, Key};
use crate::hfile::block::{BlockHeader, HEADER_SIZE};
use crate::hfile::bloom::BloomMeta;
use crate::hfile::fileinfo::FileInfo;
use crate::hfile::HFile;

/// HBase's `asSeparateLines`: every `, word=` starts a new line indented by four spaces.
pub fn as_separate_lines(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 64);
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b.get(i..i + 2) == Some(b", ") {
            let rest = b.get(i + 2..).unwrap_or(&[]);
            let letters = rest.iter().take_while(|c| c.is_ascii_alphabetic()).count();
            if letters > 0 && rest.get(letters) == Some(&b'=') {
                out.push_str(",\n    ");
                i += 2;
                continue;
            }
        }
        let ch_len = s
            .get(i..)
            .and_then(|t| t.chars().next())
            .map_or(1, char::len_utf8);
        out.push_str(s.get(i..i + ch_len).unwrap_or(""));
        i += ch_len;
    }
    out
}

fn key_opt(k: Option<&[u8]>) -> String {
    match k.and_then(|k| Key::parse(k).ok()) {
        Some(k) => format!("Optional[{}]", k.key_string()),
        None => "Optional.empty".to_string(),
    }
}

fn align8(x: u64) -> u64 {
    x.div_ceil(8) * 8
}

/// HBase's "Block index size as per heapsize" for a 64-bit JVM with compressed oops.
pub fn index_heap_size(f: &HFile) -> u64 {
    let n = f.root_index.len() as u64;
    let keys: u64 = f
        .root_index
        .iter()
        .map(|e| 32 + align8(16 + e.key.len() as u64) + 8)
        .sum();
    let seeker = align8(
        16 + 16 + align8(16 + 8 * n) + align8(16 + 4 * n) + 4 + align8(16 + 4 * n) + keys + 8 + 8,
    );
    let data = align8(60 + seeker);
    let m = f.meta_index.len() as u64;
    let mkeys: u64 = f
        .meta_index
        .iter()
        .map(|e| align8(16 + e.key.len() as u64))
        .sum();
    let meta =
        align8(48 + 4 + align8(16 + 4 * m) + mkeys + align8(16 + 8 * m) + align8(16 + 4 * m));
    data + meta
}

const CACHE_CONF: &str = "cacheDataOnRead=false, cacheDataOnWrite=false, cacheIndexesOnWrite=false, cacheBloomsOnWrite=false, cacheEvictOnClose=false, cacheEvictOnSplit=false, cacheDataCompressed=false, prefetchOnOpen=false, cacheCompactedDataOnWrite=false, cacheCompactedDataOnWriteThreshold=9223372036854775807, dropBehindCompaction=false";

/// The `-m` block: reader summary, trailer, FileInfo, mid-key and bloom sections.
pub fn meta_text(f: &HFile) -> String {
    let t = &f.trailer;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Block index size as per heapsize: {}",
        index_heap_size(f)
    );
    let reader = format!(
        "reader={}, compression={}, cacheConf={CACHE_CONF}, firstKey={}, lastKey={}, avgKeyLen={}, avgValueLen={}, entries={}, length={}",
        f.path().display(),
        f.compression.name().to_ascii_lowercase(),
        key_opt(f.first_key()),
        key_opt(f.last_key().filter(|_| f.first_key().is_some())),
        f.avg_key_len(),
        f.avg_value_len(),
        t.entry_count,
        f.len()
    );
    let _ = writeln!(s, "{}", as_separate_lines(&reader));
    let mut trailer = format!(
        "fileinfoOffset={}, loadOnOpenDataOffset={}, dataIndexCount={}, metaIndexCount={}, totalUncomressedBytes={}, entryCount={}, compressionCodec={}, uncompressedDataIndexSize={}, numDataIndexLevels={}, firstDataBlockOffset={}, lastDataBlockOffset={}, comparatorClassName={}",
        t.file_info_offset,
        t.load_on_open_data_offset,
        t.data_index_count,
        t.meta_index_count,
        t.total_uncompressed_bytes,
        t.entry_count,
        f.compression.name(),
        t.uncompressed_data_index_size,
        t.num_data_index_levels,
        t.first_data_block_offset,
        t.last_data_block_offset,
        t.resolved_comparator()
    );
    if t.major_version >= 3 {
        trailer.push_str(if t.encrypted {
            ", encryptionKey=PRESENT"
        } else {
            ", encryptionKey=NONE"
        });
    }
    let _ = write!(
        trailer,
        ", majorVersion={}, minorVersion={}",
        t.major_version, t.minor_version
    );
    let _ = writeln!(s, "Trailer:\n    {}", as_separate_lines(&trailer));
    let _ = writeln!(s, "Fileinfo:");
    let mut map = f.file_info.map.clone();
    // HBase 2.6.6+ shows two in-memory entries that are not stored in the file.
    map.entry(b"hfile.FILE_PATH".to_vec())
        .or_insert_with(|| f.path().display().to_string().into_bytes());
    map.entry(b"hfile.FILE_SIZE".to_vec())
        .or_insert_with(|| f.len().to_be_bytes().to_vec());
    for (k, v) in &map {
        let _ = writeln!(
            s,
            "    {} = {}",
            String::from_utf8_lossy(k),
            FileInfo::render(k, v)
        );
    }
    match f.mid_key() {
        Ok(Some(k)) => {
            let _ = writeln!(s, "Mid-key: {}", key_opt(Some(&k)));
        }
        _ => {
            let _ = writeln!(s, "Unable to retrieve the midkey");
        }
    }
    let _ = writeln!(s, "Bloom filter:");
    s.push_str(&bloom_text(f.general_bloom.as_ref().map(|b| &b.meta)));
    let _ = writeln!(s, "Delete Family Bloom filter:");
    s.push_str(&bloom_text(f.delete_family_bloom.as_ref().map(|b| &b.meta)));
    s
}

/// Java's `NumberFormat.getPercentInstance()` (`#,##0%`, HALF_EVEN).
fn percent(x: f64) -> String {
    let v = x * 100.0;
    let fl = v.floor();
    let diff = v - fl;
    let r = if (diff - 0.5).abs() < 1e-12 {
        if (fl as i64) % 2 == 0 {
            fl
        } else {
            fl + 1.0
        }
    } else {
        v.round()
    };
    let n = r as i64;
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}{grouped}%", if n < 0 { "-" } else { "" })
}

fn bloom_text(m: Option<&BloomMeta>) -> String {
    let Some(m) = m else {
        return "    Not present\n".to_string();
    };
    let cmp = match m.comparator.as_str() {
        "" => "ByteArrayComparator",
        c if c.contains("RawBytes") || c.contains("ByteArray") => "ByteArrayComparator",
        c if c.contains("KVComparator") || c.contains("KeyComparator") => {
            "InnerStoreCellComparator"
        }
        c if c.contains("Meta") => "MetaCellComparator",
        _ => m.comparator_simple_name(),
    };
    let mut s = format!(
        "    BloomSize: {}\n    No of Keys in bloom: {}\n    Max Keys for bloom: {}\n",
        m.total_byte_size, m.total_key_count, m.total_max_keys
    );
    if m.total_max_keys > 0 {
        let _ = writeln!(
            s,
            "    Percentage filled: {}",
            percent(m.total_key_count as f64 / m.total_max_keys as f64)
        );
    }
    let _ = writeln!(
        s,
        "    Number of chunks: {}\n    Comparator: {cmp}",
        m.num_chunks
    );
    s
}

/// The `-b` block: root index entries.
pub fn block_index_text(f: &HFile) -> String {
    let mut s = format!("Block Index:\nsize={}\n", f.root_index.len());
    for e in &f.root_index {
        let k = Key::parse(&e.key)
            .map(|k| k.key_only_string())
            .unwrap_or_else(|_| to_string_binary(&e.key));
        let _ = writeln!(
            s,
            "key={k}\n  offset={}, dataSize={}",
            e.offset, e.on_disk_size
        );
    }
    s.push('\n');
    s
}

/// One `-h` line in the shape of `HFileBlock.toString`, with the on-disk header values.
pub fn block_header_line(h: &BlockHeader, payload_start: &[u8]) -> String {
    let hs = h.header_size as usize;
    let mut s = format!(
        "[blockType={}, fileOffset={}, headerSize={hs}, onDiskSizeWithoutHeader={}, uncompressedSizeWithoutHeader={}, prevBlockOffset={}, isUseHBaseChecksum={}",
        h.block_type.name(),
        h.offset,
        h.on_disk_size_without_header,
        h.uncompressed_size_without_header,
        h.prev_block_offset,
        hs == HEADER_SIZE
    );
    if hs == HEADER_SIZE {
        let _ = write!(
            s,
            ", checksumType={}, bytesPerChecksum={}, onDiskDataSizeWithHeader={}",
            h.checksum_type.map_or("UNKNOWN", |c| c.name()),
            h.bytes_per_checksum,
            h.on_disk_data_size_with_header
        );
    } else {
        let _ = write!(
            s,
            ", onDiskDataSizeWithHeader={}({}+{hs})",
            h.on_disk_data_size_with_header, h.on_disk_size_without_header
        );
    }
    let checksum_bytes = h.on_disk_size_with_header() - h.on_disk_data_size_with_header as u64;
    let begins = payload_start
        .get(..payload_start.len().min(32))
        .unwrap_or(&[]);
    let _ = write!(
        s,
        ", getOnDiskSizeWithHeader={}, totalChecksumBytes={checksum_bytes}, dataBeginsWith={}]",
        h.on_disk_size_with_header(),
        to_string_binary(begins)
    );
    s
}

/// Exact statistics over the cells of a scan, in the layout of HBase's `-s` (HBase samples
/// 1028 values per histogram; hbkit keeps exact value counts, so every figure is exact).
#[derive(Debug, Default)]
pub struct Stats {
    key_len: Hist,
    val_len: Hist,
    row_bytes: Hist,
    row_cells: Hist,
    cur_row: Option<Vec<u8>>,
    cur_bytes: u64,
    cur_cells: u64,
    cur_last_key_len: u64,
    biggest: Option<(u64, Vec<u8>)>,
}

#[derive(Debug, Default)]
struct Hist {
    counts: BTreeMap<u64, u64>,
    n: u64,
    sum: f64,
    sumsq: f64,
}

impl Hist {
    fn add(&mut self, v: u64) {
        *self.counts.entry(v).or_default() += 1;
        self.n += 1;
        self.sum += v as f64;
        self.sumsq += (v as f64) * (v as f64);
    }
    /// The value at sorted position `i` (0-based).
    fn at(&self, i: u64) -> f64 {
        let mut seen = 0;
        for (v, c) in &self.counts {
            seen += c;
            if i < seen {
                return *v as f64;
            }
        }
        self.counts.keys().next_back().map_or(0.0, |v| *v as f64)
    }
    fn quantile(&self, q: f64) -> f64 {
        let n = self.n as f64;
        if self.n == 0 {
            return 0.0;
        }
        let pos = q * (n + 1.0);
        if pos < 1.0 {
            return self.at(0);
        }
        if pos >= n {
            return self.at(self.n - 1);
        }
        let lo = self.at(pos as u64 - 1);
        let hi = self.at(pos as u64);
        lo + (pos - pos.floor()) * (hi - lo)
    }
    fn text(&self, name: &str, details: bool, out: &mut String) {
        let mean = if self.n > 0 {
            self.sum / self.n as f64
        } else {
            0.0
        };
        let sd = if self.n > 1 {
            ((self.sumsq - self.sum * self.sum / self.n as f64) / (self.n - 1) as f64)
                .max(0.0)
                .sqrt()
        } else {
            0.0
        };
        let _ = writeln!(out, "   {name}:");
        let _ = writeln!(
            out,
            "               min = {}",
            self.counts.keys().next().copied().unwrap_or(0)
        );
        let _ = writeln!(
            out,
            "               max = {}",
            self.counts.keys().next_back().copied().unwrap_or(0)
        );
        let _ = writeln!(out, "              mean = {}", java_2f(mean));
        let _ = writeln!(out, "            stddev = {}", java_2f(sd));
        for (label, q) in [
            ("median", 0.5),
            ("75% <=", 0.75),
            ("95% <=", 0.95),
            ("98% <=", 0.98),
            ("99% <=", 0.99),
            ("99.9% <=", 0.999),
        ] {
            let l = if label == "median" {
                "            median =".to_string()
            } else {
                format!("{label:>18}")
            };
            let _ = writeln!(out, "{l} {}", java_2f(self.quantile(q)));
        }
        let _ = writeln!(out, "             count = {}", self.n);
        if details {
            const RANGES: [u64; 18] = [
                1, 3, 10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 500000, 750000, 1000000,
                5000000, 10000000, 50000000, 100000000,
            ];
            let _ = writeln!(out, "           (range <= count):");
            let mut buckets = [0u64; 19];
            for (v, c) in &self.counts {
                let i = RANGES.iter().position(|r| v <= r).unwrap_or(18);
                if let Some(b) = buckets.get_mut(i) {
                    *b += c;
                }
            }
            let first = buckets.iter().position(|&c| c > 0);
            for (i, c) in buckets.iter().enumerate() {
                let label = RANGES.get(i).map_or("inf".to_string(), |r| r.to_string());
                if Some(i + 1) == first && i < 18 {
                    let _ = writeln!(out, "{label:>17} <= 0");
                }
                if *c > 0 {
                    let _ = writeln!(out, "{label:>17} <= {c}");
                }
            }
        }
    }
}

/// Java `String.format("%2.2f")`: HALF_UP on the shortest decimal form of the double.
pub fn java_2f(x: f64) -> String {
    let s = format!("{x}");
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r.to_string()),
        None => (false, s),
    };
    if s.contains('e') || s.contains("inf") || s.contains("NaN") {
        return format!("{x:.2}");
    }
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut digits: Vec<u8> = int
        .bytes()
        .chain(frac.bytes().chain(std::iter::repeat(b'0')).take(2))
        .map(|c| c - b'0')
        .collect();
    let round_up = frac.as_bytes().get(2).is_some_and(|&c| c >= b'5');
    if round_up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if let Some(d) = digits.get_mut(i) {
                if *d == 9 {
                    *d = 0;
                } else {
                    *d += 1;
                    break;
                }
            }
        }
    }
    let n = digits.len();
    let int_part: String = digits
        .iter()
        .take(n - 2)
        .map(|d| (b'0' + d) as char)
        .collect();
    let frac_part: String = digits
        .iter()
        .skip(n - 2)
        .map(|d| (b'0' + d) as char)
        .collect();
    let int_part = if int_part.is_empty() {
        "0".to_string()
    } else {
        int_part
    };
    format!("{}{int_part}.{frac_part}", if neg { "-" } else { "" })
}

impl Stats {
    /// Account one cell.
    pub fn add(&mut self, c: &Cell<'_>) {
        let row = c.key.row();
        if self.cur_row.as_deref() != Some(row) {
            self.close_row();
            self.cur_row = Some(row.to_vec());
        }
        let klen = c.key.raw().len() as u64;
        let size = 8
            + klen
            + c.value.len() as u64
            + if c.tags.is_empty() {
                0
            } else {
                2 + c.tags.len() as u64
            };
        self.val_len.add(c.value.len() as u64);
        self.cur_bytes += size;
        self.cur_cells += 1;
        self.cur_last_key_len = klen;
    }
    fn close_row(&mut self) {
        if let Some(row) = self.cur_row.take() {
            self.key_len.add(self.cur_last_key_len);
            self.row_bytes.add(self.cur_bytes);
            self.row_cells.add(self.cur_cells);
            if self
                .biggest
                .as_ref()
                .is_none_or(|(b, _)| self.cur_bytes > *b)
            {
                self.biggest = Some((self.cur_bytes, row));
            }
        }
        self.cur_bytes = 0;
        self.cur_cells = 0;
    }
    /// The `Stats:` block.
    pub fn text(&mut self, details: bool) -> String {
        self.close_row();
        let mut s = String::from("Stats:\n");
        if self.val_len.n == 0 {
            s.push_str("no data available for statistics\n");
            return s;
        }
        self.key_len.text("Key length", details, &mut s);
        self.val_len.text("Val length", details, &mut s);
        self.row_bytes.text("Row size (bytes)", details, &mut s);
        self.row_cells.text("Row size (columns)", details, &mut s);
        let _ = writeln!(
            s,
            "\n\nKey of biggest row: {}",
            self.biggest
                .as_ref()
                .map_or(String::new(), |(_, r)| to_string_binary(r))
        );
        s
    }
    /// Machine-readable summary.
    pub fn json(&mut self) -> serde_json::Value {
        self.close_row();
        let h = |h: &Hist| {
            serde_json::json!({
                "min": h.counts.keys().next(), "max": h.counts.keys().next_back(), "count": h.n,
                "mean": if h.n > 0 { h.sum / h.n as f64 } else { 0.0 },
                "median": h.quantile(0.5), "p75": h.quantile(0.75), "p95": h.quantile(0.95),
                "p99": h.quantile(0.99), "p999": h.quantile(0.999),
            })
        };
        serde_json::json!({
            "key_length": h(&self.key_len), "value_length": h(&self.val_len),
            "row_bytes": h(&self.row_bytes), "row_cells": h(&self.row_cells),
            "biggest_row": self.biggest.as_ref().map(|(_, r)| to_string_binary(r)),
            "biggest_row_bytes": self.biggest.as_ref().map(|(b, _)| *b),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn java_formatting() {
        assert_eq!(java_2f(0.125), "0.13");
        assert_eq!(java_2f(1.005), "1.01");
        assert_eq!(java_2f(2.0), "2.00");
        assert_eq!(java_2f(99.996), "100.00");
        assert_eq!(percent(0.125), "12%");
        assert_eq!(percent(0.5), "50%");
        assert_eq!(percent(12.345), "1,234%");
        assert_eq!(
            as_separate_lines("a=1, b=2, c d, e=3"),
            "a=1,\n    b=2, c d,\n    e=3"
        );
    }
}
