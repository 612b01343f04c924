//! WAL benchmark (not a timed test): generates a WAL set with hbkit's WAL writer
//! (`HBKIT_BENCH_GB`, default 1.0; ~1 KB entries of 3 cells, 2 tables × 16 regions, files of
//! ~128 MiB), then times, end to end through the release binary, `hwal dump --json` to
//! /dev/null, `hwal verify` and `hwal split`, each against the floor of plainly reading the
//! same bytes in the same run.
//!
//! `HBKIT_BENCH_GB=0.05 cargo bench --bench wal`; `HBKIT_BENCH_DIR=<dir>` keeps the generated
//! WALs there (and reuses them on the next run with the same size) for timing the binary by hand.

use std::fs::File;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use hbkit::cell::{make_key, Cell, Key};
use hbkit::wal::{WalKey, WalWriter, WriteOptions};

const FILE_BYTES: u64 = 128 << 20;

fn generate(dir: &Path, total: u64) -> (Vec<PathBuf>, u64, u64) {
    std::fs::create_dir_all(dir).unwrap();
    let regions: Vec<(Vec<u8>, Vec<u8>)> = (0..32)
        .map(|i| {
            let table = if i % 2 == 0 {
                b"t1".to_vec()
            } else {
                b"ns1:t2".to_vec()
            };
            (
                table,
                format!("{:032x}", 0x9e37_79b9_7f4a_7c15u128 * (i + 1)).into_bytes(),
            )
        })
        .collect();
    let mut files = Vec::new();
    let (mut written, mut entries, mut seq) = (0u64, 0u64, 0u64);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut value = vec![0u8; 250];
    while written < total {
        let p = dir.join(format!(
            "rs1.example.com%2C16020%2C1700000000000.{}",
            1_700_000_000_000u64 + files.len() as u64
        ));
        let f = BufWriter::with_capacity(1 << 20, File::create(&p).unwrap());
        let mut w = WalWriter::new(f, WriteOptions::default()).unwrap();
        while w.stats().bytes < FILE_BYTES && written + w.stats().bytes < total {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            seq += 1;
            let (table, region) = &regions[(x % regions.len() as u64) as usize];
            let row = format!("row-{:012}", x % 10_000_000);
            let keys: Vec<Vec<u8>> = (0..3)
                .map(|q| {
                    make_key(
                        row.as_bytes(),
                        b"cf",
                        format!("q{q}").as_bytes(),
                        1_700_000_000_000 + seq as i64,
                        4,
                    )
                })
                .collect();
            for (i, b) in value.iter_mut().enumerate() {
                *b = (x >> (i % 56)) as u8 | 0x20;
            }
            let cells: Vec<Cell> = keys
                .iter()
                .map(|k| Cell {
                    key: Key::parse(k).unwrap(),
                    value: &value,
                    tags: &[],
                    seq_id: 0,
                })
                .collect();
            let key = WalKey {
                encoded_region: region.clone(),
                table: table.clone(),
                sequence_id: seq,
                write_time: 1_700_000_000_000 + seq,
                ..WalKey::default()
            };
            w.append(&key, &cells).unwrap();
            entries += 1;
        }
        let (_, st) = w.finish().unwrap();
        written += st.bytes;
        files.push(p);
    }
    (files, written, entries)
}

fn floor(files: &[PathBuf]) -> f64 {
    let t = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    for f in files {
        let mut h = File::open(f).unwrap();
        loop {
            let k = h.read(&mut buf).unwrap();
            if k == 0 {
                break;
            }
            n += k as u64;
        }
    }
    assert!(n > 0);
    t.elapsed().as_secs_f64()
}

fn run(args: &[&str]) -> (f64, Option<i32>) {
    let t = Instant::now();
    let st = Command::new(env!("CARGO_BIN_EXE_hwal"))
        .args(args)
        .stdout(Stdio::from(File::create("/dev/null").unwrap()))
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    (t.elapsed().as_secs_f64(), st.code())
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let gb: f64 = std::env::var("HBKIT_BENCH_GB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let total = (gb * 1e9) as u64;
    let keep = std::env::var_os("HBKIT_BENCH_DIR").map(PathBuf::from);
    let base = match &keep {
        Some(d) => d.join(format!("gb{gb}")),
        None => std::env::temp_dir().join(format!("hbkit-bench-wal-{}", std::process::id())),
    };
    let waldir = base.join("WALs");
    let t = Instant::now();
    let (files, bytes, entries) = match keep.is_some() && base.join("done").exists() {
        true => reuse(&base, &waldir),
        false => {
            let _ = std::fs::remove_dir_all(&waldir);
            let _ = std::fs::remove_file(base.join("done"));
            let g = generate(&waldir, total);
            if keep.is_some() {
                std::fs::write(base.join("done"), format!("{} {}", g.1, g.2)).unwrap();
            }
            g
        }
    };
    let gen = t.elapsed().as_secs_f64();
    let mb = bytes as f64 / 1e6;
    println!(
        "generated {} WAL file(s), {:.1} MB, {} entries ({} cells) in {:.2}s ({:.0} MB/s write)",
        files.len(),
        mb,
        entries,
        entries * 3,
        gen,
        mb / gen
    );
    let w = waldir.to_string_lossy().into_owned();
    let out = base.join("split-out");
    let o = out.to_string_lossy().into_owned();
    let _ = floor(&files); // warm the page cache
    let report = |name: &str, secs: f64, fl: f64, code: Option<i32>| {
        println!(
            "{name:<22} {secs:>7.3}s {:>8.0} MB/s   floor {fl:>6.3}s {:>8.0} MB/s   ratio {:>5.1}x   exit {:?}",
            mb / secs,
            mb / fl,
            secs / fl,
            code
        );
    };
    let fl = floor(&files);
    let (s, c) = run(&["dump", "--json", &w]);
    report("hwal dump --json", s, fl, c);
    let fl = floor(&files);
    let (s, c) = run(&["verify", "-q", &w]);
    report("hwal verify", s, fl, c);
    let fl = floor(&files);
    let _ = std::fs::remove_dir_all(&out);
    let (s, c) = run(&["split", "-q", &w, "--out", &o]);
    report("hwal split", s, fl, c);
    let _ = std::fs::remove_dir_all(&out);
    if keep.is_none() {
        let _ = std::fs::remove_dir_all(&base);
    }
}

/// A set generated by an earlier run with `HBKIT_BENCH_DIR` (its `done` file holds the
/// bytes and entries).
fn reuse(base: &Path, dir: &Path) -> (Vec<PathBuf>, u64, u64) {
    let done = std::fs::read_to_string(base.join("done")).unwrap();
    let mut it = done.split(' ').map(|x| x.parse::<u64>().unwrap());
    let (bytes, entries) = (it.next().unwrap(), it.next().unwrap());
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (files, bytes, entries)
}
