//! Throughput of offline major compaction (`hcompact`'s library path), as a ratio against a
//! floor measured in the same run.
//!
//! It builds one store of about `HBKIT_BENCH_GB` (default 1.0) GB of cells in 8 overlapping
//! HFiles with hbkit's writer (cached in `target/bench-data`): every file covers the whole
//! row range, the same columns recur across files as extra versions (VERSIONS=3 drops some),
//! and the newest file holds DeleteColumn and DeleteFamily markers. Then it times:
//!   floor   - a plain scan of every cell of every input (pread/mmap + checksum + decompress
//!             + decode) plus writing as many bytes as the compaction output, with fsync
//!   compact - `compact_store` (major): merge, matcher, write one HFile (family settings),
//!             fsync, verify the output, commit
//! and reports MB/s of input file bytes and the ratio compact / floor.
//!
//! Run: `cargo bench --bench compact` (HBKIT_BENCH_GB=0.05 for a quick look).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use hbkit::cell::{make_key, Cell, Key, KeyType};
use hbkit::hfile::bloom::BloomType;
use hbkit::hfile::writer::{HFileWriter, StoreMeta, WriterOptions};
use hbkit::hfile::HFile;
use hbkit::layout::{self, Context, FamilySchema};
use hbkit::store::compact::{self, Options};

const FILES: u64 = 8;
const BASE_TS: i64 = 1_700_000_000_000;
const REGION: &str = "0123456789abcdef0123456789abcdef";

mod common;
use common::Rng;

/// File `f` of the store: for each row, 2 of 4 qualifiers (shifting with the file, so the
/// files overlap in columns), timestamp rising with the file; the newest file also deletes
/// column q0 of every 50th row and the whole of every 101st row.
fn build_file(path: &Path, f: u64, rows: u64) {
    let opts = WriterOptions {
        family: Some(b"cf".to_vec()),
        bloom: BloomType::Row,
        create_time: BASE_TS,
        ..WriterOptions::default()
    };
    let mut w = HFileWriter::create(path, opts).expect("create");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (f + 1));
    let words: [&[u8]; 8] = [
        b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot", b"golf", b"hotel",
    ];
    let mut value = Vec::with_capacity(128);
    let newest = f == FILES - 1;
    for r in 0..rows {
        let row = format!("row-{r:010}");
        // (qualifier, ts, type) sorted as HBase orders them within a row.
        let mut cells: Vec<(Vec<u8>, i64, u8)> = Vec::new();
        if newest && r % 101 == 0 {
            cells.push((Vec::new(), BASE_TS + 500, KeyType::DeleteFamily as u8));
        }
        for k in 0..2 {
            let q = format!("q{}", (r + f + k) % 4).into_bytes();
            cells.push((q, BASE_TS + (f as i64) * 10, KeyType::Put as u8));
        }
        if newest && r % 50 == 0 {
            cells.push((b"q0".to_vec(), BASE_TS + 1000, KeyType::DeleteColumn as u8));
        }
        cells.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)).then(b.2.cmp(&a.2)));
        for (q, ts, t) in cells {
            let key = make_key(row.as_bytes(), b"cf", &q, ts, t);
            value.clear();
            if t == KeyType::Put as u8 {
                while value.len() < 92 {
                    let x = rng.next();
                    value.extend_from_slice(words[(x % 8) as usize]);
                    value.push(b' ');
                    value.extend_from_slice(format!("{}", (x >> 20) % 100_000).as_bytes());
                }
            }
            w.append(&Cell {
                key: Key::parse(&key).expect("key"),
                value: &value,
                tags: &[],
                seq_id: 0,
            })
            .expect("append");
        }
    }
    w.finish(StoreMeta {
        max_seq_id: (f + 1) as i64,
        ..StoreMeta::default()
    })
    .expect("finish");
}

fn family() -> FamilySchema {
    let mut attributes = BTreeMap::new();
    attributes.insert("VERSIONS".to_string(), "3".to_string());
    attributes.insert("BLOOMFILTER".to_string(), "ROW".to_string());
    FamilySchema {
        name: b"cf".to_vec(),
        attributes,
        configuration: BTreeMap::new(),
    }
}

fn time<T>(f: impl FnOnce() -> T) -> (f64, T) {
    let t = Instant::now();
    let r = f();
    (t.elapsed().as_secs_f64(), r)
}

/// Scan every cell of every input (what any compaction must read).
fn read_all(files: &[PathBuf]) -> u64 {
    let mut n = 0u64;
    for p in files {
        let f = HFile::open(p).expect("open");
        let mut s = f.scanner();
        while let Some(c) = s.next_cell().expect("cell") {
            n += c.value.len() as u64 + c.key.raw().len() as u64;
        }
    }
    std::hint::black_box(n)
}

/// Write `bytes` bytes in 1 MiB chunks and fsync.
fn write_bytes(path: &Path, bytes: u64) {
    let mut f =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let chunk = vec![0x5au8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        f.write_all(&chunk[..n]).expect("write");
        left -= n as u64;
    }
    let f = f.into_inner().expect("flush");
    f.sync_all().expect("fsync");
    drop(f);
    std::fs::remove_file(path).expect("remove");
}

fn main() {
    let gb: f64 = std::env::var("HBKIT_BENCH_GB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    // ~150 bytes per cell in the files, 2 cells per row per file.
    let rows = ((gb * 1e9 / 150.0) as u64 / FILES / 2).max(1);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    let root = dir.join(format!("compact-{rows}"));
    let fam_dir = root.join("data/default/bench").join(REGION).join("cf");
    println!(
        "hbkit compaction benchmark: {FILES} overlapping files, {rows} rows, ~{gb} GB of cells, {} cores",
        rayon::current_num_threads()
    );
    let ready = fam_dir.join(".complete");
    if !ready.exists() {
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&fam_dir).expect("bench dir");
        std::fs::write(root.join("hbase.version"), b"").expect("version");
        let (t, ()) = time(|| {
            for f in 0..FILES {
                build_file(&fam_dir.join(format!("{:032x}", f + 1)), f, rows);
            }
        });
        std::fs::write(&ready, b"").expect("marker");
        println!("  built {} in {t:.1}s", fam_dir.display());
    }
    let mut problems = Vec::new();
    let store =
        layout::read_store(&fam_dir, &Context::for_path(&fam_dir), &mut problems).expect("store");
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(store.files.len() as u64, FILES);
    let inputs: Vec<PathBuf> = store.files.iter().map(|f| f.data_path.clone()).collect();
    let input_bytes: u64 = inputs
        .iter()
        .map(|p| std::fs::metadata(p).expect("stat").len())
        .sum();
    let out = dir.join(format!("compact-{rows}-out"));
    let opts = Options {
        major: true,
        now: BASE_TS + 3_600_000,
        out_dir: Some(out.clone()),
        ..Options::default()
    };
    let fam = family();
    read_all(&inputs); // warm the page cache
    let mut best_compact: Option<(f64, compact::Report)> = None;
    for _ in 0..2 {
        let _ = std::fs::remove_dir_all(&out);
        let (t, rep) = time(|| compact::compact_store(&store, &fam, &opts, &|_| {}));
        let rep = rep.expect("compact");
        if best_compact.as_ref().is_none_or(|(b, _)| t < *b) {
            best_compact = Some((t, rep));
        }
    }
    let Some((t_compact, rep)) = best_compact else {
        return;
    };
    let _ = std::fs::remove_dir_all(&out);
    let scratch = dir.join(format!("compact-{rows}-floor.bin"));
    let mut best_floor = f64::MAX;
    let mut t_read_best = 0.0;
    let mut t_write_best = 0.0;
    for _ in 0..2 {
        let (t_read, _) = time(|| read_all(&inputs));
        let (t_write, ()) = time(|| write_bytes(&scratch, rep.output_bytes));
        if t_read + t_write < best_floor {
            best_floor = t_read + t_write;
            t_read_best = t_read;
            t_write_best = t_write;
        }
    }
    let mbs = |t: f64| input_bytes as f64 / t / 1e6;
    println!(
        "\ninputs: {FILES} files, {:.1} MB, {} cells -> output {:.1} MB, {} cells (MAX_SEQ_ID {})",
        input_bytes as f64 / 1e6,
        rep.input_cells,
        rep.output_bytes as f64 / 1e6,
        rep.output_cells,
        rep.max_seq_id
    );
    println!(
        "  floor    {:8.1} MB/s of input   (scan every input {:.2}s + write {:.1} MB + fsync {:.2}s)",
        mbs(best_floor),
        t_read_best,
        rep.output_bytes as f64 / 1e6,
        t_write_best
    );
    println!(
        "  compact  {:8.1} MB/s of input   {:.2}x floor   (major, merge + matcher + write + fsync + verify)",
        mbs(t_compact),
        t_compact / best_floor
    );
}
