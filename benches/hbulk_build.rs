//! `hbulk build` end to end (SNAPPY + FAST_DIFF) versus `LC_ALL=C sort` of the same CSV,
//! plus peak RSS of a `--memory 256M` build. Size: env `HBKIT_BENCH_GB` (default 1.0).
//! Both builds are then checked (untimed): `hbulk check` and `hfile verify` pass on the
//! output, and its cells equal the CSV's (every line's three cells, a repeated row and
//! timestamp keeping the last line's values): same count and the same order-independent
//! digest of (key, value) over the distinct input keys and the written cells.
//!
//! Run: `HBKIT_BENCH_GB=0.1 cargo bench --bench hbulk_build`

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::io::{BufWriter, Write};
use std::path::Path;

use hbkit::hfile::HFile;
use rayon::prelude::*;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn generate(path: &Path, bytes: u64) -> u64 {
    let mut w = BufWriter::with_capacity(1 << 20, std::fs::File::create(path).expect("create"));
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut written = 0u64;
    let words = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    ];
    let mut line = String::new();
    let mut n = 0u64;
    while written < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        line.clear();
        let w1 = words[(x % 8) as usize];
        let w2 = words[((x >> 8) % 8) as usize];
        line.push_str(&format!(
            "user{:012},{},{} {} {},\"{}, {}\",{}\n",
            x % 50_000_000,
            1_700_000_000_000u64 + (x >> 20) % 1_000_000,
            w1,
            w2,
            n,
            w2,
            w1,
            (x >> 32) % 100_000
        ));
        w.write_all(line.as_bytes()).expect("write");
        written += line.len() as u64;
        n += 1;
    }
    w.flush().expect("flush");
    n
}

/// Run a command, sampling the child's VmHWM; (elapsed, peak RSS kB).
fn run(cmd: &mut Command) -> (Duration, u64) {
    let t = Instant::now();
    let mut child = cmd.stdout(Stdio::null()).spawn().expect("spawn");
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    loop {
        if let Ok(s) = std::fs::read_to_string(&status_path) {
            if let Some(kb) = s
                .lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
            {
                peak = peak.max(kb);
            }
        }
        if let Some(st) = child.try_wait().expect("wait") {
            assert!(st.success(), "{cmd:?} failed");
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (t.elapsed(), peak)
}

/// A 128-bit hash of a cell's (row, family, qualifier, timestamp).
fn key_hash(row: &[u8], fam: &[u8], qual: &[u8], ts: i64) -> u128 {
    let h = |seed: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (seed, row, fam, qual, ts).hash(&mut h);
        h.finish()
    };
    u128::from(h(1)) << 64 | u128::from(h(2))
}

fn value_hash(v: &[u8]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

/// One (key, value) pair's share of the digest (summed, so order does not matter).
fn mix(k: u128, v: u64) -> u64 {
    let x = (k as u64) ^ ((k >> 64) as u64).rotate_left(17) ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x.wrapping_mul(0xBF58_476D_1CE4_E5B9) ^ (x >> 31)
}

/// (distinct cells, digest) the CSV should build: the last line wins for a repeated key.
fn expected(csv: &Path, lines: u64) -> (u64, u64) {
    let mut map: HashMap<u128, u64> = HashMap::with_capacity(3 * lines as usize);
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_path(csv)
        .expect("csv");
    let mut rec = csv::ByteRecord::new();
    while r.read_byte_record(&mut rec).expect("record") {
        let ts: i64 = std::str::from_utf8(&rec[1]).unwrap().parse().unwrap();
        for (q, i) in [(&b"text"[..], 2), (b"pair", 3), (b"n", 4)] {
            map.insert(key_hash(&rec[0], b"cf", q, ts), value_hash(&rec[i]));
        }
    }
    let sum = map
        .iter()
        .fold(0u64, |s, (k, v)| s.wrapping_add(mix(*k, *v)));
    (map.len() as u64, sum)
}

/// (cells, digest) of every HFile under `out/<family>/`.
fn written(out: &Path) -> (u64, u64) {
    let mut files = Vec::new();
    for fam in std::fs::read_dir(out).expect("out").flatten() {
        if fam.path().is_dir() && !fam.file_name().to_string_lossy().starts_with('_') {
            files.extend(
                std::fs::read_dir(fam.path())
                    .expect("family dir")
                    .flatten()
                    .map(|f| f.path()),
            );
        }
    }
    files
        .par_iter()
        .map(|p| {
            let f = HFile::open(p).expect("open");
            let mut s = f.scanner();
            let (mut n, mut sum) = (0u64, 0u64);
            while let Some(c) = s.next_cell().expect("cell") {
                let k = key_hash(
                    c.key.row(),
                    c.key.family(),
                    c.key.qualifier(),
                    c.key.timestamp(),
                );
                sum = sum.wrapping_add(mix(k, value_hash(c.value)));
                n += 1;
            }
            (n, sum)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1.wrapping_add(b.1)))
}

/// `hbulk check` and `hfile verify` pass on `out`, and its cells equal `want`.
fn check(out: &Path, want: (u64, u64)) {
    let st = Command::new(env!("CARGO_BIN_EXE_hbulk"))
        .arg("check")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("hbulk check");
    assert!(st.success(), "hbulk check failed on {}", out.display());
    let st = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .arg("verify")
        .arg(out)
        .stdout(Stdio::null())
        .status()
        .expect("hfile verify");
    assert!(st.success(), "hfile verify failed on {}", out.display());
    let got = written(out);
    assert_eq!(
        got,
        want,
        "{}: cells differ from the input's",
        out.display()
    );
}

fn main() {
    let gb: f64 = std::env::var("HBKIT_BENCH_GB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1.0);
    let bytes = (gb * 1e9) as u64;
    let dir = tempfile::tempdir().expect("tempdir");
    let csv = dir.path().join("in.csv");
    let t = Instant::now();
    let lines = generate(&csv, bytes);
    let size = std::fs::metadata(&csv).expect("meta").len();
    let mb = size as f64 / 1e6;
    println!(
        "generated {mb:.0} MB, {lines} lines in {:.1}s",
        t.elapsed().as_secs_f64()
    );

    let exe = env!("CARGO_BIN_EXE_hbulk");
    let build = |out: &str, memory: Option<&str>| {
        let mut c = Command::new(exe);
        c.args(["build"])
            .arg(&csv)
            .args([
                "--columns",
                "HBASE_ROW_KEY,HBASE_TS_KEY,cf:text,cf:pair,cf:n",
            ])
            .args([
                "--compression",
                "SNAPPY",
                "--encoding",
                "FAST_DIFF",
                "--regions",
                "8",
            ])
            .arg("--out")
            .arg(dir.path().join(out));
        if let Some(m) = memory {
            c.args(["--memory", m]);
        }
        c
    };
    let (th, rss_h) = run(&mut build("out", None));
    let (ts, rss_s) = run(Command::new("sort")
        .env("LC_ALL", "C")
        .arg("-o")
        .arg(dir.path().join("sorted.csv"))
        .arg(&csv));
    let (tm, rss_m) = run(&mut build("out256", Some("256M")));
    let mbps = |d: Duration| mb / d.as_secs_f64();
    println!(
        "hbulk build (SNAPPY+FAST_DIFF): {:.2}s {:.1} MB/s, peak RSS {} MB",
        th.as_secs_f64(),
        mbps(th),
        rss_h / 1024
    );
    println!(
        "LC_ALL=C sort:                  {:.2}s {:.1} MB/s, peak RSS {} MB",
        ts.as_secs_f64(),
        mbps(ts),
        rss_s / 1024
    );
    println!(
        "hbulk build --memory 256M:      {:.2}s {:.1} MB/s, peak RSS {} MB",
        tm.as_secs_f64(),
        mbps(tm),
        rss_m / 1024
    );
    println!(
        "ratio sort/hbulk: {:.2} (> 1 means hbulk is faster)",
        ts.as_secs_f64() / th.as_secs_f64()
    );
    let t = Instant::now();
    let want = expected(&csv, lines);
    for out in ["out", "out256"] {
        check(&dir.path().join(out), want);
    }
    println!(
        "checked (untimed, {:.0}s): both builds pass hbulk check and hfile verify and hold exactly the input's {} distinct cells",
        t.elapsed().as_secs_f64(),
        want.0
    );
}
