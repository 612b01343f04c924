//! HBase's `HashTable` computed offline from store files, and its output written byte for
//! byte as HBase writes it (FORMATS.md §16): `partitions`, `manifest`,
//! `hashes/part-r-NNNNN/{data,index}` MapFiles and `hashes/_SUCCESS`.
//!
//! Each region is read with the merged, matcher-applied scan ([`crate::store::scan`]),
//! which is what HashTable's client Scan sees. Rows are cut into batches of about
//! `batch_size` bytes; each batch is (start row, MD5 over row, family, qualifier,
//! timestamp little-endian, value of every cell). [`diff`] compares two tables as
//! SyncTable does.

pub mod diff;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use md5::Digest;
use rayon::prelude::*;

use crate::bytes::{from_hex, to_hex};
use crate::cell::Cell;
use crate::error::{Error, ErrorKind, Result};
use crate::layout::snapshot::Source;
use crate::layout::Region;
use crate::seqfile::{self, Compression, MapFileWriter, SeqWriter, IBW, NULL_WRITABLE};
use crate::store::{scan_region, ScanOptions, ScanSpec};

/// HashTable's default `--batchsize`.
pub const DEFAULT_BATCH_SIZE: u64 = 8000;

/// HashTable's options (the subset that shapes the output).
#[derive(Debug, Clone)]
pub struct HashOptions {
    /// Target batch size in bytes (`--batchsize`).
    pub batch_size: u64,
    /// Number of hash files (`--numhashfiles`); 0 = regions / 100, at least 1.
    pub num_hash_files: u32,
    /// Families, as typed (`--families`, comma list); None = all.
    pub families: Option<String>,
    /// First row (empty = table start).
    pub start_row: Vec<u8>,
    /// Row to stop before (empty = table end).
    pub stop_row: Vec<u8>,
    /// `--starttime` (0 = unset).
    pub start_time: i64,
    /// `--endtime` (0 = unset, i.e. no upper bound).
    pub end_time: i64,
    /// `--versions` (-1 = the Scan default, one version).
    pub versions: i32,
    /// `--rawScan`.
    pub raw: bool,
    /// `--ignoreTimestamps`: timestamps left out of the digest (not recorded in the manifest).
    pub ignore_timestamps: bool,
    /// Clock (ms) for TTL expiry.
    pub now: i64,
}

impl Default for HashOptions {
    fn default() -> Self {
        HashOptions {
            batch_size: DEFAULT_BATCH_SIZE,
            num_hash_files: 0,
            families: None,
            start_row: Vec::new(),
            stop_row: Vec::new(),
            start_time: 0,
            end_time: 0,
            versions: -1,
            raw: false,
            ignore_timestamps: false,
            now: now_ms(),
        }
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl HashOptions {
    /// The scan HashTable issues (§16.9), as a [`ScanSpec`] for `desc`.
    pub fn scan_spec(&self, desc: &crate::layout::TableDescriptor) -> Result<ScanSpec> {
        if self.end_time != 0 && self.start_time >= self.end_time {
            return Err(Error::usage(format!(
                "time range: start {} must be before end {}",
                self.start_time, self.end_time
            )));
        }
        let columns = match &self.families {
            None => Vec::new(),
            Some(f) => f
                .split(',')
                .map(|x| (x.as_bytes().to_vec(), None))
                .collect(),
        };
        let opts = ScanOptions {
            now: self.now,
            versions: if self.versions >= 0 {
                i64::from(self.versions)
            } else {
                1
            },
            raw: self.raw,
            time_range: if self.start_time != 0 || self.end_time != 0 {
                (
                    self.start_time,
                    if self.end_time == 0 {
                        i64::MAX
                    } else {
                        self.end_time
                    },
                )
            } else {
                (i64::MIN, i64::MAX)
            },
            columns,
        };
        let mut spec = ScanSpec::new(desc, &opts)?;
        spec.start_row = self.start_row.clone();
        spec.stop_row = (!self.stop_row.is_empty()).then(|| self.stop_row.clone());
        Ok(spec)
    }
}

/// One batch: its start row and digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// Batch start row.
    pub key: Vec<u8>,
    /// MD5 digest.
    pub hash: [u8; 16],
}

/// Feeds cells into a digest as HashTable's `ResultHasher` does.
#[derive(Clone)]
pub struct Hasher {
    md5: md5::Md5,
    /// Bytes counted toward the batch size.
    pub size: u64,
    ignore_timestamps: bool,
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(ignore_timestamps: bool) -> Hasher {
        Hasher {
            md5: md5::Md5::new(),
            size: 0,
            ignore_timestamps,
        }
    }
    /// Add one cell.
    pub fn cell(&mut self, c: &Cell<'_>) {
        let (r, f, q) = (c.key.row(), c.key.family(), c.key.qualifier());
        self.md5.update(r);
        self.md5.update(f);
        self.md5.update(q);
        if !self.ignore_timestamps {
            self.md5.update(c.key.timestamp().to_le_bytes());
        }
        self.md5.update(c.value);
        self.size += (r.len() + f.len() + q.len() + 8 + c.value.len()) as u64;
    }
    /// Finish: the digest; the hasher is reset.
    pub fn finish(&mut self) -> [u8; 16] {
        self.size = 0;
        self.md5.finalize_reset().into()
    }
}

/// Counts from hashing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct HashStats {
    /// Regions (map tasks) hashed.
    pub regions: u64,
    /// Batches written.
    pub batches: u64,
    /// Rows hashed.
    pub rows: u64,
    /// Cells hashed.
    pub cells: u64,
}

/// Hash one region as one HashTable map task: batches keyed by `split_start` and then by
/// the rows that open new batches; the open batch is emitted at the end even if empty.
pub fn hash_region(
    region: &Region,
    spec: &ScanSpec,
    split_start: &[u8],
    opts: &HashOptions,
) -> Result<(Vec<Batch>, HashStats)> {
    let mut out = Vec::new();
    let mut h = Hasher::new(opts.ignore_timestamps);
    let mut key = split_start.to_vec();
    let mut cur_row: Option<Vec<u8>> = None;
    let mut st = HashStats {
        regions: 1,
        ..HashStats::default()
    };
    scan_region(region, spec, &mut |c| {
        let row = c.key.row();
        if cur_row.as_deref() != Some(row) {
            if h.size >= opts.batch_size {
                out.push(Batch {
                    key: std::mem::take(&mut key),
                    hash: h.finish(),
                });
                key = row.to_vec();
            }
            cur_row = Some(row.to_vec());
            st.rows += 1;
        }
        h.cell(c);
        st.cells += 1;
        Ok(true)
    })
    .map_err(|e| {
        if e.path.is_none() {
            e.in_file(&region.dir)
        } else {
            e
        }
    })?;
    out.push(Batch {
        key,
        hash: h.finish(),
    });
    st.batches = out.len() as u64;
    Ok((out, st))
}

/// The regions of `src` that a scan over `[start, stop)` reads, with each one's split
/// start (the region start key, or the scan start row inside the first region).
pub fn splits<'a>(
    src: &'a Source,
    start: &[u8],
    stop: &[u8],
) -> Result<Vec<(&'a Region, Vec<u8>)>> {
    let mut out = Vec::new();
    for r in src.serving_regions() {
        let info = r.info.as_ref().map_err(|e| e.clone())?;
        let (rs, re) = (&info.start_key, &info.end_key);
        let begins_before_end = start.is_empty() || re.is_empty() || start < re.as_slice();
        let ends_after_start = stop.is_empty() || rs.is_empty() || stop > rs.as_slice();
        if begins_before_end && ends_after_start {
            let s = if start.is_empty() || rs.as_slice() >= start {
                rs.clone()
            } else {
                start.to_vec()
            };
            out.push((r, s));
        }
    }
    Ok(out)
}

/// Partition keys and the effective number of hash files (§16.5).
pub fn select_partitions(src: &Source, opts: &HashOptions) -> Result<(Vec<Vec<u8>>, u32)> {
    let keys: Vec<Vec<u8>> = splits(src, &opts.start_row, &opts.stop_row)?
        .into_iter()
        .filter_map(|(r, _)| r.info.as_ref().ok().map(|i| i.start_key.clone()))
        .collect();
    let n = keys.len() as u64;
    let mut files = u64::from(opts.num_hash_files);
    if files == 0 {
        files = n / 100;
    }
    files = files.max(1);
    if files > n {
        files = n;
    }
    if n == 0 {
        return Err(Error::usage("no region overlaps the requested row range"));
    }
    let mut parts = Vec::new();
    for i in 1..files {
        let idx = usize::try_from(n * i / files).unwrap_or(usize::MAX);
        if let Some(k) = keys.get(idx) {
            parts.push(k.clone());
        }
    }
    Ok((parts, u32::try_from(files).unwrap_or(u32::MAX)))
}

/// Every batch of `src`, in key order, computed in parallel across regions.
pub fn compute(src: &Source, opts: &HashOptions) -> Result<(Vec<Batch>, HashStats)> {
    let spec = opts.scan_spec(&src.descriptor)?;
    let sp = splits(src, &opts.start_row, &opts.stop_row)?;
    let per: Vec<Result<(Vec<Batch>, HashStats)>> = sp
        .par_iter()
        .map(|(r, s)| hash_region(r, &spec, s, opts))
        .collect();
    let mut all = Vec::new();
    let mut st = HashStats::default();
    for r in per {
        let (b, s) = r?;
        all.extend(b);
        st.regions += s.regions;
        st.batches += s.batches;
        st.rows += s.rows;
        st.cells += s.cells;
    }
    Ok((all, st))
}

/// HashTable's `manifest` (a Java properties file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// Every key and value, unescaped.
    pub props: BTreeMap<String, String>,
}

impl Manifest {
    /// The manifest HashTable writes for `opts` on `table` with `num_hash_files`.
    /// `rawScan` and `hashAlgorithm` are written only when not their defaults (false,
    /// MD5), so every SyncTable version reads the file the same way.
    pub fn for_options(table: &str, opts: &HashOptions, num_hash_files: u32) -> Manifest {
        let mut p = BTreeMap::new();
        p.insert("table".into(), table.to_string());
        if let Some(f) = &opts.families {
            p.insert("columnFamilies".into(), f.clone());
        }
        p.insert("targetBatchSize".into(), opts.batch_size.to_string());
        p.insert("numHashFiles".into(), num_hash_files.to_string());
        if !opts.start_row.is_empty() {
            p.insert("startRowHex".into(), to_hex(&opts.start_row));
        }
        if !opts.stop_row.is_empty() {
            p.insert("stopRowHex".into(), to_hex(&opts.stop_row));
        }
        if opts.versions >= 0 {
            p.insert("versions".into(), opts.versions.to_string());
        }
        if opts.start_time != 0 {
            p.insert("startTimestamp".into(), opts.start_time.to_string());
        }
        if opts.end_time != 0 {
            p.insert("endTimestamp".into(), opts.end_time.to_string());
        }
        if opts.raw {
            p.insert("rawScan".into(), "true".into());
        }
        Manifest { props: p }
    }

    /// The file text: a `#<date>` comment line, then `key=value` lines (keys sorted).
    pub fn to_text(&self, now_ms: i64) -> String {
        let mut s = format!("#{}\n", java_date(now_ms));
        for (k, v) in &self.props {
            s.push_str(&escape_prop(k, true));
            s.push('=');
            s.push_str(&escape_prop(v, false));
            s.push('\n');
        }
        s
    }

    /// Parse a Java properties file.
    pub fn parse(text: &str) -> Result<Manifest> {
        Ok(Manifest {
            props: parse_properties(text),
        })
    }

    fn get(&self, k: &str) -> Option<&str> {
        self.props.get(k).map(String::as_str)
    }

    fn num<T: std::str::FromStr>(&self, k: &str) -> Result<Option<T>> {
        self.get(k)
            .map(|v| {
                v.trim().parse::<T>().map_err(|_| {
                    Error::corrupt("HashTable manifest", format!("{k}={v:?} is not a number"))
                })
            })
            .transpose()
    }

    /// The options recorded (ignore_timestamps is not recorded: pass it in).
    pub fn options(&self, ignore_timestamps: bool, now: i64) -> Result<HashOptions> {
        if let Some(a) = self.get("hashAlgorithm") {
            if !a.eq_ignore_ascii_case("MD5") {
                return Err(Error::unsupported(
                    "HashTable manifest",
                    format!("hashAlgorithm={a} (only MD5 is supported)"),
                ));
            }
        }
        let hex = |k: &str| -> Result<Vec<u8>> {
            match self.get(k) {
                None => Ok(Vec::new()),
                Some(h) => from_hex(h.trim()).ok_or_else(|| {
                    Error::corrupt("HashTable manifest", format!("{k}={h:?} is not hex"))
                }),
            }
        };
        Ok(HashOptions {
            batch_size: self
                .num("targetBatchSize")?
                .ok_or_else(|| Error::corrupt("HashTable manifest", "no targetBatchSize"))?,
            num_hash_files: self
                .num("numHashFiles")?
                .ok_or_else(|| Error::corrupt("HashTable manifest", "no numHashFiles"))?,
            families: self.get("columnFamilies").map(str::to_string),
            start_row: hex("startRowHex")?,
            stop_row: hex("stopRowHex")?,
            start_time: self.num("startTimestamp")?.unwrap_or(0),
            end_time: self.num("endTimestamp")?.unwrap_or(0),
            versions: self.num("versions")?.unwrap_or(-1),
            raw: self
                .get("rawScan")
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("true")),
            ignore_timestamps,
            now,
        })
    }

    /// The table name recorded.
    pub fn table(&self) -> Option<&str> {
        self.get("table")
    }
}

fn escape_prop(s: &str, key: bool) -> String {
    let mut o = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            ' ' if i == 0 || key => o.push_str("\\ "),
            '\\' => o.push_str("\\\\"),
            '\t' => o.push_str("\\t"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\x0c' => o.push_str("\\f"),
            '=' | ':' | '#' | '!' => {
                o.push('\\');
                o.push(c);
            }
            _ => o.push(c),
        }
    }
    o
}

/// A Java properties parser: comments, `=`/`:`/whitespace separators, escapes,
/// continuation lines.
fn parse_properties(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut logical: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut continuing = false;
    for line in text.split(['\n', '\r']) {
        let l = if continuing {
            line.trim_start()
        } else {
            let t = line.trim_start();
            if t.is_empty() || t.starts_with('#') || t.starts_with('!') {
                continue;
            }
            t
        };
        let trailing = l.chars().rev().take_while(|&c| c == '\\').count();
        if trailing % 2 == 1 {
            cur.push_str(l.get(..l.len() - 1).unwrap_or(""));
            continuing = true;
        } else {
            cur.push_str(l);
            logical.push(std::mem::take(&mut cur));
            continuing = false;
        }
    }
    if !cur.is_empty() {
        logical.push(cur);
    }
    for l in logical {
        let chars: Vec<char> = l.chars().collect();
        let mut i = 0;
        let mut key = String::new();
        while let Some(&c) = chars.get(i) {
            if c == '\\' {
                i += 1;
                if let Some(&n) = chars.get(i) {
                    key.push(unescape_char(n));
                }
                i += 1;
                continue;
            }
            if c == '=' || c == ':' || c.is_whitespace() {
                break;
            }
            key.push(c);
            i += 1;
        }
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        if chars.get(i).is_some_and(|&c| c == '=' || c == ':') {
            i += 1;
        }
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let mut val = String::new();
        while let Some(&c) = chars.get(i) {
            if c == '\\' {
                i += 1;
                if let Some(&n) = chars.get(i) {
                    if n == 'u' {
                        let hex: String = chars.iter().skip(i + 1).take(4).collect();
                        if let Some(ch) =
                            u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                        {
                            val.push(ch);
                        }
                        i += 5;
                        continue;
                    }
                    val.push(unescape_char(n));
                }
                i += 1;
                continue;
            }
            val.push(c);
            i += 1;
        }
        out.insert(key, val);
    }
    out
}

fn unescape_char(c: char) -> char {
    match c {
        't' => '\t',
        'n' => '\n',
        'r' => '\r',
        'f' => '\x0c',
        c => c,
    }
}

/// `java.util.Date.toString()` in UTC: `Mon May 09 18:20:17 UTC 2022`.
pub fn java_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86400);
    let sod = secs.rem_euclid(86400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let dow = DAYS
        .get(usize::try_from(days.rem_euclid(7)).unwrap_or(0))
        .copied()
        .unwrap_or("Thu");
    let mon = MONTHS
        .get(usize::try_from(m - 1).unwrap_or(0))
        .copied()
        .unwrap_or("Jan");
    format!(
        "{dow} {mon} {d:02} {:02}:{:02}:{:02} UTC {y}",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

/// Chooses the 16-byte sync marker of each output file, by its path relative to the
/// output dir (`partitions`, `hashes/part-r-00000/data`, ...). Default: random.
pub type SyncMarkers<'a> = &'a (dyn Fn(&str) -> [u8; 16] + Sync);

/// How the output files are written (not part of HashTable's options).
#[derive(Clone, Copy)]
pub struct OutputOptions<'a> {
    /// The sync marker of each file; None = random, as Hadoop does.
    pub markers: Option<SyncMarkers<'a>>,
    /// Bytes between sync escapes in the `data` files: 102,400 as Hadoop 3 writes,
    /// 2,000 for Hadoop 1/2 ([`seqfile::SYNC_INTERVAL`]).
    pub sync_interval: u64,
}

impl Default for OutputOptions<'_> {
    fn default() -> Self {
        OutputOptions {
            markers: None,
            sync_interval: seqfile::SYNC_INTERVAL,
        }
    }
}

/// What [`write_output`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Written {
    /// Counts.
    pub stats: HashStats,
    /// Effective number of hash files.
    pub num_hash_files: u32,
    /// Partition keys.
    pub partitions: u64,
}

fn io_err(p: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(p, e)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(io_err(path))?;
    f.write_all(bytes).map_err(io_err(path))?;
    f.sync_all().map_err(io_err(path))
}

fn sync_dir(p: &Path) -> Result<()> {
    std::fs::File::open(p)
        .and_then(|d| d.sync_all())
        .map_err(io_err(p))
}

/// Write HashTable's output for `batches` into `dir` (which must exist and be empty).
pub fn write_files(
    dir: &Path,
    table: &str,
    opts: &HashOptions,
    partitions: &[Vec<u8>],
    num_hash_files: u32,
    batches: &[Batch],
    out: &OutputOptions<'_>,
) -> Result<()> {
    let marker = |name: &str| {
        out.markers
            .map_or_else(seqfile::new_sync_marker, |f| f(name))
    };
    // 1. partitions: IBW -> NullWritable, RECORD-compressed.
    let mut w = SeqWriter::new(
        Vec::new(),
        IBW,
        NULL_WRITABLE,
        Compression::Record,
        marker("partitions"),
    )?;
    for k in partitions {
        w.append(&seqfile::ibw(k), &[])?;
    }
    write_synced(&dir.join("partitions"), &w.finish()?)?;
    // 2. hashes/part-r-NNNNN: batches routed by the partition keys.
    let hashes = dir.join("hashes");
    std::fs::create_dir(&hashes).map_err(io_err(&hashes))?;
    let mut it = batches.iter().peekable();
    for i in 0..num_hash_files as usize {
        let name = format!("part-r-{i:05}");
        let pdir = hashes.join(&name);
        std::fs::create_dir(&pdir).map_err(io_err(&pdir))?;
        let upper = partitions.get(i);
        let mut m = MapFileWriter::new(
            Vec::new(),
            Vec::new(),
            IBW,
            marker(&format!("hashes/{name}/data")),
            marker(&format!("hashes/{name}/index")),
        )?
        .with_sync_interval(out.sync_interval);
        while let Some(b) = it.peek() {
            if upper.is_some_and(|u| b.key.as_slice() >= u.as_slice()) {
                break;
            }
            m.append(&b.key, &seqfile::ibw(&b.hash))?;
            it.next();
        }
        let (data, index) = m.finish()?;
        write_synced(&pdir.join("data"), &data)?;
        write_synced(&pdir.join("index"), &index)?;
        sync_dir(&pdir)?;
    }
    write_synced(&hashes.join("_SUCCESS"), &[])?;
    sync_dir(&hashes)?;
    // 3. manifest.
    let man = Manifest::for_options(table, opts, num_hash_files);
    write_synced(&dir.join("manifest"), man.to_text(now_ms()).as_bytes())?;
    sync_dir(dir)
}

/// Hash `src` and write HashTable's output to `out`: into a temporary sibling dir first,
/// renamed into place when complete. `out` must not exist or be an empty dir.
pub fn write_output(
    src: &Source,
    opts: &HashOptions,
    out: &Path,
    output: &OutputOptions<'_>,
) -> Result<Written> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .map_err(io_err(out))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::usage(format!(
                "{}: exists and is not empty; refusing to overwrite",
                out.display()
            )));
        }
    }
    let (parts, nfiles) = select_partitions(src, opts)?;
    let (batches, stats) = compute(src, opts)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let base = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "hashtable".into());
    let tmp = parent.join(format!(".{base}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io_err(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io_err(&tmp))?;
    let table = src.descriptor.display_name();
    let r = write_files(&tmp, &table, opts, &parts, nfiles, &batches, output).and_then(|_| {
        if out.exists() {
            std::fs::remove_dir(out).map_err(io_err(out))?;
        }
        std::fs::rename(&tmp, out).map_err(io_err(out))?;
        sync_dir(&parent)
    });
    if r.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    r?;
    Ok(Written {
        stats,
        num_hash_files: nfiles,
        partitions: parts.len() as u64,
    })
}

/// A HashTable output dir read back.
#[derive(Debug, Clone)]
pub struct HashOutput {
    /// The dir.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    /// Partition keys.
    pub partitions: Vec<Vec<u8>>,
    /// Every batch, in key order.
    pub batches: Vec<Batch>,
}

/// True when `dir` holds a HashTable output (`manifest` + `hashes/`).
pub fn is_hash_output(dir: &Path) -> bool {
    dir.join("hashes").is_dir()
        && (dir.join("manifest").is_file() || dir.join("manifest.tmp").is_file())
}

/// Read a HashTable output dir and check it as SyncTable does.
pub fn read_output(dir: &Path) -> Result<HashOutput> {
    let mp = dir.join("manifest");
    if !mp.is_file() {
        return Err(Error::new(
            ErrorKind::Corrupt,
            "HashTable output",
            "no manifest (only manifest.tmp?): the HashTable run did not finish",
        )
        .in_file(dir));
    }
    let text = std::fs::read_to_string(&mp).map_err(io_err(&mp))?;
    let manifest = Manifest::parse(&text).map_err(|e| e.in_file(&mp))?;
    let pp = dir.join("partitions");
    let (_, recs) = seqfile::read_file(&pp)?;
    let mut partitions = Vec::new();
    for (k, _) in recs {
        partitions.push(
            seqfile::ibw_payload(&k)
                .map_err(|e| e.in_file(&pp))?
                .to_vec(),
        );
    }
    if partitions.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(
            Error::corrupt("HashTable output", "partition keys not ascending").in_file(&pp),
        );
    }
    let opts = manifest.options(false, 0).map_err(|e| e.in_file(&mp))?;
    if opts.num_hash_files as usize != partitions.len() + 1 {
        return Err(Error::corrupt(
            "HashTable output",
            format!(
                "numHashFiles={} but {} partition keys",
                opts.num_hash_files,
                partitions.len()
            ),
        )
        .in_file(dir));
    }
    let mut batches: Vec<Batch> = Vec::new();
    for i in 0..opts.num_hash_files as usize {
        let dp = dir.join(format!("hashes/part-r-{i:05}/data"));
        let (_, recs) = seqfile::read_file(&dp)?;
        for (k, v) in recs {
            let key = seqfile::ibw_payload(&k)
                .map_err(|e| e.in_file(&dp))?
                .to_vec();
            let h = seqfile::ibw_payload(&v).map_err(|e| e.in_file(&dp))?;
            let hash: [u8; 16] = h.try_into().map_err(|_| {
                Error::corrupt(
                    "HashTable output",
                    format!("a {}-byte digest (MD5 is 16)", h.len()),
                )
                .in_file(&dp)
            })?;
            if batches.last().is_some_and(|l| l.key >= key) {
                return Err(
                    Error::corrupt("HashTable output", "batch keys not ascending").in_file(&dp),
                );
            }
            batches.push(Batch { key, hash });
        }
    }
    Ok(HashOutput {
        dir: dir.to_path_buf(),
        manifest,
        partitions,
        batches,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_of_the_spec_example() {
        // FORMATS.md §16.8: row 01, cf:a, ts 1617828990, value1.
        let key = crate::cell::make_key(b"01", b"cf", b"a", 1_617_828_990, 4);
        let c = Cell {
            key: crate::cell::Key::parse(&key).unwrap(),
            value: b"value1",
            tags: &[],
            seq_id: 0,
        };
        let mut h = Hasher::new(false);
        h.cell(&c);
        assert_eq!(h.size, 2 + 2 + 1 + 8 + 6);
        assert_eq!(to_hex(&h.finish()), "70b17060d9bff7f8e1ceb2791b9077f1");
        assert_eq!(h.size, 0);
        let mut h = Hasher::new(true);
        h.cell(&c);
        assert_eq!(h.size, 19);
        assert_eq!(
            h.finish(),
            <[u8; 16]>::from(md5::Md5::digest(b"01cfavalue1"))
        );
    }

    #[test]
    fn java_date_format() {
        // 2022-05-09 18:20:17 UTC
        assert_eq!(java_date(1_652_120_417_000), "Mon May 09 18:20:17 UTC 2022");
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
    }

    #[test]
    fn properties_roundtrip() {
        let mut o = HashOptions {
            batch_size: 10,
            ..HashOptions::default()
        };
        o.families = Some("cf,x".into());
        o.start_row = b"a".to_vec();
        let m = Manifest::for_options("ns:t", &o, 3);
        let text = m.to_text(0);
        assert!(text.contains("table=ns\\:t\n"), "{text}");
        let back = Manifest::parse(&text).unwrap();
        assert_eq!(back, m);
        let opts = back.options(false, 0).unwrap();
        assert_eq!(opts.start_row, b"a");
        assert_eq!(opts.families.as_deref(), Some("cf,x"));
        let p = parse_properties("# c\n! c\n a : b\\\n   c\nk\\=x=v\\u0041\n");
        assert_eq!(p.get("a").unwrap(), "bc");
        assert_eq!(p.get("k=x").unwrap(), "vA");
    }
}
