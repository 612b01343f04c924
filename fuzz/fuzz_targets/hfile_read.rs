//! Fuzz the HFile reader: open arbitrary bytes as an HFile and, when that succeeds, exercise
//! everything a reader does with it — a full scan touching every part of every cell, the
//! mid-key, seeks, the pretty-printer renderings and the full verifier. Nothing may panic,
//! hang or allocate without bound, whatever the bytes.
#![no_main]

use std::path::Path;

use hbkit::cell::Key;
use hbkit::hfile::{pretty, verify, HFile, Scanner};
use hbkit::ErrorKind;
use libfuzzer_sys::fuzz_target;

/// Cells read from each seek scanner (the full scan reads all of them).
const SEEK_CELLS: usize = 16;

fuzz_target!(
    init: {
        // Verification checks data blocks with rayon: one worker keeps the fuzzer on one core.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(1).build_global();
    },
    |data: &[u8]| {
        let path = Path::new("fuzz.hfile");
        let f = match HFile::from_bytes(path, data.to_vec()) {
            Ok(f) => f,
            // Mutations nearly always break a checksum: keep going without them, as
            // `verify` does, so the fuzzer reaches the parsers behind the load-on-open blocks.
            Err(e) if e.kind == ErrorKind::Checksum => {
                match HFile::from_bytes_with(path, data.to_vec(), false) {
                    Ok(f) => f,
                    Err(_) => return,
                }
            }
            Err(_) => return,
        };
        exercise(&f);
        let report = verify::verify_bytes(path, data.to_vec());
        let mut n = report.cells ^ report.bloom_keys_checked ^ report.data_bytes;
        for p in &report.problems {
            n ^= p.message.len() as u64 ^ p.offset.unwrap_or(0);
        }
        std::hint::black_box((n, report.status, report.blocks.len()));
    }
);

fn exercise(f: &HFile) {
    let mut n = 0u64;
    // Fixed parts and renderings.
    n ^= pretty::meta_text(f).len() as u64;
    n ^= pretty::block_index_text(f).len() as u64;
    n ^= pretty::index_heap_size(f);
    for h in &f.load_on_open {
        let start = usize::try_from(h.offset).unwrap_or(usize::MAX);
        let payload = f.bytes().get(start.saturating_add(h.header_size as usize)..).unwrap_or(&[]);
        n ^= pretty::block_header_line(h, payload).len() as u64;
    }
    n ^= f.avg_key_len() as u64 ^ f.avg_value_len() as u64 ^ f.len();
    if let (Some(a), Some(b)) = (f.first_key(), f.last_key()) {
        n ^= f.compare_keys(a, b) as u64;
    }

    // Full scan.
    let mut stats = pretty::Stats::default();
    let mut rows: Vec<Vec<u8>> = Vec::new();
    let mut s = f.scanner();
    let mut last_row: Option<Vec<u8>> = None;
    let mut i = 0u64;
    loop {
        let c = match s.next_cell() {
            Ok(Some(c)) => c,
            Ok(None) | Err(_) => break,
        };
        n ^= touch_cell(&c);
        // The other key renderings on every 64th cell: on each they only cost throughput.
        if i % 64 == 0 {
            n ^= c.key.key_string().len() as u64 ^ c.key.key_only_string().len() as u64;
        }
        i += 1;
        stats.add(&c);
        let row = c.key.row();
        if rows.is_empty() {
            rows.push(row.to_vec());
        }
        if last_row.as_deref() != Some(row) {
            last_row = Some(row.to_vec());
        }
        n ^= s.block_offset();
    }
    rows.extend(last_row);
    n ^= stats.text(true).len() as u64;
    n ^= stats.json().to_string().len() as u64;

    // Mid-key and seeks: the first and last rows scanned, the mid-key's row, an empty row
    // and the first key's row.
    if let Ok(Some(mid)) = f.mid_key() {
        if let Ok(k) = Key::parse(&mid) {
            rows.push(k.row().to_vec());
        }
    }
    if let Some(k) = f.first_key().and_then(|k| Key::parse(k).ok()) {
        rows.push(k.row().to_vec());
    }
    rows.push(Vec::new());
    for row in &rows {
        n ^= f.seek_block(&hbkit::cell::first_on_row(row)).ok().flatten().unwrap_or(0);
        if let Ok(mut s) = f.scanner_at_row(row) {
            n ^= drain(&mut s, SEEK_CELLS);
        }
    }
    std::hint::black_box(n);
}

fn drain(s: &mut Scanner<'_>, max: usize) -> u64 {
    let mut n = 0;
    for _ in 0..max {
        match s.next_cell() {
            Ok(Some(c)) => n ^= touch_cell(&c),
            Ok(None) | Err(_) => break,
        }
    }
    n
}

fn touch_cell(c: &hbkit::cell::Cell<'_>) -> u64 {
    let k = c.key;
    let mut n = (k.row().len() + k.family().len() + k.qualifier().len()) as u64;
    n ^= k.column_part().len() as u64 ^ k.raw().len() as u64;
    n ^= k.timestamp() as u64 ^ u64::from(k.type_code());
    n ^= k.key_type().map_or(0xff, |t| t.name().len() as u64);
    n ^= c.value.len() as u64 ^ c.seq_id;
    for t in c.tags() {
        match t {
            Ok((ty, v)) => n ^= u64::from(ty) ^ v.len() as u64,
            Err(_) => n ^= 1,
        }
    }
    n ^= c.text().len() as u64;
    if let Ok(k2) = Key::parse(k.raw()) {
        n ^= k2.row().len() as u64;
    }
    n
}
