//! Model test: a small BTreeMap-based reference implementation of HBase's delete /
//! version / TTL / KEEP_DELETED_CELLS rules (FORMATS.md §12.2), written independently of
//! `hbkit::store::matcher`, must agree with the merged read + matcher on thousands of random
//! stores of puts and deletes spread over several HFiles written with our writer.

use std::collections::{BTreeMap, BTreeSet};

use hbkit::cell::{make_key, Cell, Key};
use hbkit::hfile::{HFile, HFileWriter, StoreMeta, WriterOptions};
use hbkit::layout::KeepDeletedCells;
use hbkit::store::{Input, Matcher, Merge, Mode, Params};
use proptest::prelude::*;

const PUT: u8 = 4;
const DEL: u8 = 8;
const DFV: u8 = 10;
const DC: u8 = 12;
const DF: u8 = 14;
const NOW: i64 = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
struct T {
    row: u8,
    qual: Vec<u8>,
    ts: i64,
    typ: u8,
    seq: u64,
    file_seq: u64,
    value: Vec<u8>,
}

fn op() -> impl Strategy<Value = (u8, u8, i64, u8)> {
    (
        0u8..3,
        0u8..3,
        1i64..12,
        prop_oneof![6 => Just(PUT), 1 => Just(DEL), 1 => Just(DC), 1 => Just(DF), 1 => Just(DFV)],
    )
}

fn write_file(cells: &mut [T], file_seq: u64) -> HFile {
    cells.sort_by(|a, b| {
        (
            a.row,
            &a.qual,
            std::cmp::Reverse(a.ts),
            std::cmp::Reverse(a.typ),
            std::cmp::Reverse(a.seq),
        )
            .cmp(&(
                b.row,
                &b.qual,
                std::cmp::Reverse(b.ts),
                std::cmp::Reverse(b.typ),
                std::cmp::Reverse(b.seq),
            ))
    });
    let opts = WriterOptions {
        block_size: 256,
        family: Some(b"f".to_vec()),
        include_mvcc: true,
        bloom: hbkit::hfile::bloom::BloomType::None,
        ..WriterOptions::default()
    };
    let mut w = HFileWriter::in_memory(opts).unwrap();
    for c in cells.iter() {
        let key = make_key(&[b'r', c.row], b"f", &c.qual, c.ts, c.typ);
        w.append(&Cell {
            key: Key::parse(&key).unwrap(),
            value: &c.value,
            tags: &[],
            seq_id: c.seq,
        })
        .unwrap();
    }
    let meta = StoreMeta {
        max_seq_id: file_seq as i64,
        ..StoreMeta::default()
    };
    let (bytes, _) = w.finish_to_vec(meta).unwrap();
    HFile::from_bytes(format!("mem-{file_seq}"), bytes).unwrap()
}

struct P {
    max: i64,
    min: i64,
    ttl: i64,
    kdc: bool,
    earliest_put: i64,
}

/// The reference: group cells by row, then by column, in a BTreeMap; mask puts with the
/// set semantics of the markers; then walk each column applying versions and TTL.
fn model(all: &[T], p: &P) -> Vec<T> {
    let oldest = NOW - p.ttl;
    let mut rows: BTreeMap<u8, BTreeMap<Vec<u8>, Vec<T>>> = BTreeMap::new();
    for c in all {
        rows.entry(c.row)
            .or_default()
            .entry(c.qual.clone())
            .or_default()
            .push(c.clone());
    }
    let mut out = Vec::new();
    for (_, cols) in rows {
        // Markers of the row (all of them: expired markers only mask expired puts).
        let fam_stamp = cols
            .values()
            .flatten()
            .filter(|c| c.typ == DF)
            .map(|c| c.ts)
            .max();
        let fam_versions: BTreeSet<i64> = cols
            .values()
            .flatten()
            .filter(|c| c.typ == DFV)
            .map(|c| c.ts)
            .collect();
        for (_, mut col) in cols {
            col.sort_by(|a, b| {
                (
                    std::cmp::Reverse(a.ts),
                    std::cmp::Reverse(a.typ),
                    std::cmp::Reverse(a.seq),
                    std::cmp::Reverse(a.file_seq),
                )
                    .cmp(&(
                        std::cmp::Reverse(b.ts),
                        std::cmp::Reverse(b.typ),
                        std::cmp::Reverse(b.seq),
                        std::cmp::Reverse(b.file_seq),
                    ))
            });
            let dc_max = col.iter().filter(|c| c.typ == DC).map(|c| c.ts).max();
            let d_set: BTreeSet<i64> = col.iter().filter(|c| c.typ == DEL).map(|c| c.ts).collect();
            let deleted = |c: &T| {
                !p.kdc
                    && (fam_stamp.is_some_and(|f| c.ts <= f)
                        || fam_versions.contains(&c.ts)
                        || dc_max.is_some_and(|d| c.ts <= d)
                        || d_set.contains(&c.ts))
            };
            let mut count = 0i64;
            let mut last: Option<(i64, u8)> = None;
            for c in col {
                if p.min <= 0 && c.ts < oldest {
                    break;
                }
                let is_marker = c.typ != PUT;
                if is_marker {
                    if !p.kdc {
                        continue;
                    }
                    if c.ts < p.earliest_put {
                        break;
                    }
                } else if deleted(&c) {
                    continue;
                }
                if last == Some((c.ts, c.typ)) {
                    continue;
                }
                if !is_marker {
                    count += 1;
                }
                if count > p.max {
                    break;
                }
                if count <= p.min || c.ts >= oldest {
                    last = Some((c.ts, c.typ));
                    out.push(c);
                } else {
                    break;
                }
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]
    #[test]
    fn merged_read_agrees_with_model(
        files in prop::collection::vec(prop::collection::vec(op(), 0..14), 1..5),
        max in 1i64..4,
        min in 0i64..2,
        ttl_short in any::<bool>(),
        kdc in any::<bool>(),
        with_mvcc in any::<bool>(),
    ) {
        let min = min.min(max);
        let ttl = if ttl_short { NOW - 5 } else { i64::MAX };
        let mut inputs = Vec::new();
        let mut all = Vec::new();
        let mut earliest_put = i64::MAX;
        let mut seq = 0u64;
        for (i, ops) in files.iter().enumerate() {
            let file_seq = (i as u64 + 1) * 100;
            let mut cells: Vec<T> = Vec::new();
            let mut seen = BTreeSet::new();
            for &(row, q, ts, typ) in ops {
                let qual = if matches!(typ, DF | DFV) { Vec::new() } else { vec![b'q', b'0' + q] };
                // One cell per key per file (a flush never holds two).
                if !seen.insert((row, qual.clone(), ts, typ)) {
                    continue;
                }
                seq += 1;
                cells.push(T {
                    row, qual, ts, typ,
                    seq: if with_mvcc { seq } else { 0 },
                    file_seq,
                    value: format!("v{seq}").into_bytes(),
                });
            }
            if let Some(m) = cells.iter().filter(|c| c.typ == PUT).map(|c| c.ts).min() {
                earliest_put = earliest_put.min(m);
            }
            let f = write_file(&mut cells, file_seq);
            all.extend(cells);
            inputs.push(Input::from_hfile(format!("mem-{file_seq}").into(), f, None, None));
        }
        prop_assert_eq!(inputs.iter().map(|i| i.earliest_put_ts).min().unwrap_or(i64::MAX), earliest_put);
        let params = Params {
            max_versions: max,
            min_versions: min,
            ttl_ms: ttl,
            keep_deleted: if kdc { KeepDeletedCells::True } else { KeepDeletedCells::False },
            now: NOW,
            earliest_put_ts: earliest_put,
            time_to_purge_deletes: 0,
            time_range: (i64::MIN, i64::MAX),
            columns: None,
        };
        let mut matcher = Matcher::new(Mode::Major, params);
        let mut merge = Merge::new(&inputs).unwrap();
        let mut got = Vec::new();
        while let Some(c) = merge.next().unwrap() {
            let cell = c.cell().unwrap();
            if matcher.check(&cell) {
                got.push((cell.key.row()[1], cell.key.qualifier().to_vec(), cell.key.timestamp(), cell.key.type_code(), cell.value.to_vec()));
            }
        }
        let p = P { max, min, ttl, kdc, earliest_put };
        let want: Vec<_> = model(&all, &p)
            .into_iter()
            .map(|c| (c.row, c.qual, c.ts, c.typ, c.value))
            .collect();
        prop_assert_eq!(got, want);
    }
}
