//! The WAL reader against every WAL in the fixture folders: HBase 2.6 `hbase-written`
//! (entries and cells equal the `.entries.tsv` sidecars; ending offsets and counts equal
//! HBase's reader report in `.options.json`), HBase 0.98 WALs and HBase 0.98's own split
//! output, the real-world PWAL and SequenceFile HLogs, and the unpublished `hbase-blind`
//! WALs (which must read without a panic, ending cleanly or with a damage report).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hbkit::bytes::to_string_binary;
use hbkit::wal::{DamageKind, Ending, Entry, Marker, WalReader};

/// One cell in the sidecar's string form (fields kept as escaped strings).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Row {
    entry: usize,
    region: String,
    table: String,
    seq: u64,
    write_time: u64,
    nonce_group: Option<u64>,
    nonce: Option<u64>,
    cluster_ids: Option<String>,
    cell: [String; 7], // row family qualifier ts type value tags
}

fn tags_string(c: &hbkit::cell::Cell<'_>) -> String {
    c.tags()
        .map(|t| {
            let (ty, v) = t.expect("tag");
            format!("{ty}:{}", to_string_binary(v))
        })
        .collect::<Vec<_>>()
        .join(";")
}

fn our_rows(e: &Entry, idx: usize, with_key_extras: bool) -> Vec<Row> {
    e.cells()
        .map(|c| Row {
            entry: idx,
            region: to_string_binary(&e.key.encoded_region),
            table: to_string_binary(&e.key.table),
            seq: e.key.sequence_id,
            write_time: e.key.write_time,
            nonce_group: with_key_extras.then_some(e.key.nonce_group),
            nonce: with_key_extras.then_some(e.key.nonce),
            cluster_ids: with_key_extras.then(|| {
                e.key
                    .cluster_ids
                    .iter()
                    .map(|u| u.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            }),
            cell: [
                to_string_binary(c.key.row()),
                to_string_binary(c.key.family()),
                to_string_binary(c.key.qualifier()),
                c.key.timestamp().to_string(),
                hbkit::cell::type_name(c.key.type_code()).into_owned(),
                to_string_binary(c.value),
                tags_string(&c),
            ],
        })
        .collect()
}

/// Normalise a sidecar field through decode + re-encode (sidecar escaping may differ
/// from toStringBinary for a few printable characters).
fn norm(s: &str) -> String {
    to_string_binary(&common::unescape(s))
}

/// Tags: values may contain `;`, so re-render each `type:value` piece only when safe;
/// otherwise compare the raw string after normalising escapes of the whole string.
fn norm_tags(s: &str) -> String {
    norm(s)
}

fn read_tsv(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.split('\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// hbase-written `.entries.tsv`: entry region table seq wt nonce_group nonce cluster_ids
/// row family qualifier ts type cell_seq value tags
fn written_rows(path: &Path) -> Vec<Row> {
    read_tsv(path)
        .into_iter()
        .map(|f| {
            assert!(f.len() >= 15, "{}: short line {f:?}", path.display());
            let g = |i: usize| f.get(i).cloned().unwrap_or_default();
            Row {
                entry: g(0).parse().unwrap(),
                region: norm(&g(1)),
                table: norm(&g(2)),
                seq: g(3).parse().unwrap(),
                write_time: g(4).parse().unwrap(),
                nonce_group: Some(g(5).parse().unwrap()),
                nonce: Some(g(6).parse().unwrap()),
                cluster_ids: Some(g(7)),
                cell: [
                    norm(&g(8)),
                    norm(&g(9)),
                    norm(&g(10)),
                    g(11),
                    g(12),
                    norm(&g(14)),
                    norm_tags(&g(15)),
                ],
            }
        })
        .collect()
}

/// hbase098 `.entries.tsv`: entry table region seqid write_time row family qualifier ts type
/// value tags
fn rows_098(path: &Path) -> Vec<Row> {
    read_tsv(path)
        .into_iter()
        .map(|f| {
            let g = |i: usize| f.get(i).cloned().unwrap_or_default();
            Row {
                entry: g(0).parse().unwrap(),
                table: norm(&g(1)),
                region: norm(&g(2)),
                seq: g(3).parse().unwrap(),
                write_time: g(4).parse().unwrap(),
                nonce_group: None,
                nonce: None,
                cluster_ids: None,
                cell: [
                    norm(&g(5)),
                    norm(&g(6)),
                    norm(&g(7)),
                    g(8),
                    g(9),
                    norm(&g(10)),
                    norm_tags(&g(11)),
                ],
            }
        })
        .collect()
}

struct Read {
    rows: Vec<Row>,
    end_offsets: Vec<u64>,
    summary: hbkit::wal::Summary,
    markers: Vec<Marker>,
}

fn read_all(path: &Path, extras: bool, entry_base: usize) -> Read {
    let mut r = WalReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rows = Vec::new();
    let mut end_offsets = Vec::new();
    let mut markers = Vec::new();
    let mut i = entry_base;
    while let Some(e) = r.next_entry().expect("io") {
        rows.extend(our_rows(e, i, extras));
        end_offsets.push(e.end_offset);
        for m in e.markers() {
            markers.push(m.unwrap_or_else(|err| panic!("{}: marker: {err}", path.display())));
        }
        i += 1;
    }
    Read {
        rows,
        end_offsets,
        summary: r.summary(),
        markers,
    }
}

fn assert_rows_eq(path: &Path, ours: &[Row], want: &[Row]) {
    for (i, (a, b)) in ours.iter().zip(want).enumerate() {
        assert_eq!(a, b, "{}: cell #{i} differs", path.display());
    }
    assert_eq!(ours.len(), want.len(), "{}: cell count", path.display());
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn hbase_written_wals() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("hbase-written");
    let mut cases = 0;
    for case in std::fs::read_dir(&dir).unwrap().flatten() {
        let name = case.file_name().to_string_lossy().into_owned();
        if !name.starts_with("wal_") {
            continue;
        }
        cases += 1;
        let base = case.path();
        let opts = json(&base.join(format!("{name}.options.json")));
        let want = written_rows(&base.join(format!("{name}.entries.tsv")));
        let hr = &opts["hbase_reader"];
        let ends: Vec<u64> = opts["entry_end_offsets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        let before_trailer = opts["length_before_trailer"].as_u64().unwrap();

        // The closed file.
        let p = base.join(format!("{name}.wal"));
        let got = read_all(&p, true, 0);
        assert_rows_eq(&p, &got.rows, &want);
        assert_eq!(
            got.summary.entries,
            hr["entries_read"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(
            got.summary.cells,
            hr["cells_read"].as_u64().unwrap(),
            "{name}"
        );
        assert_eq!(got.end_offsets, ends, "{name}: entry end offsets");
        assert_eq!(got.summary.ending, Ending::Trailer, "{name}");
        assert_eq!(got.summary.trailer_offset, Some(before_trailer), "{name}");
        assert_eq!(
            got.summary.last_good_offset,
            hr["end_position"].as_u64().unwrap()
        );
        // Entry #60 is a START_FLUSH marker.
        assert!(
            got.markers
                .iter()
                .any(|m| matches!(m, Marker::Flush(f) if f.action == "START_FLUSH")),
            "{name}: flush marker"
        );

        // The damaged copies.
        for t in opts["truncated_copies"].as_array().unwrap() {
            let file = t["file"].as_str().unwrap();
            let p = base.join(file);
            let expected = t["expected_complete_entries"].as_u64().unwrap();
            let thr = &t["hbase_reader"];
            let got = read_all(&p, true, 0);
            assert_eq!(got.summary.entries, expected, "{file}");
            assert_eq!(
                got.summary.entries,
                thr["entries_read"].as_u64().unwrap(),
                "{file}"
            );
            assert_eq!(
                got.summary.cells,
                thr["cells_read"].as_u64().unwrap(),
                "{file}"
            );
            let n = got.rows.len();
            assert_rows_eq(&p, &got.rows, &want[..n]);
            let last_good = if expected == 0 {
                0
            } else {
                ends[expected as usize - 1]
            };
            assert_eq!(got.summary.last_good_offset, last_good, "{file}");
            if file.contains("no_trailer") {
                assert_eq!(got.summary.ending, Ending::NoTrailer, "{file}");
            } else {
                match &got.summary.ending {
                    Ending::Damaged(d) => {
                        assert_eq!(d.kind, DamageKind::TruncatedEntry, "{file}: {d}");
                        assert_eq!(d.offset, last_good, "{file}");
                    }
                    other => panic!("{file}: expected damage, got {other:?}"),
                }
            }
        }
    }
    assert_eq!(cases, 7, "hbase-written WAL cases");
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    v
}

#[test]
fn hbase098_wals() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("hbase098/wal");
    let c1 = rows_098(&dir.join("c1_plain.entries.tsv"));
    for variant in [
        "c1_plain",
        "c2_compressed",
        "c3_tags",
        "c3_tags_compressed",
        "c4_rolled",
    ] {
        let want = rows_098(&dir.join(format!("{variant}.entries.tsv")));
        let mut rows = Vec::new();
        let mut entries = Vec::new();
        let mut base = 0;
        for f in files_in(&dir.join(variant)) {
            let got = read_all(&f, false, base);
            assert_eq!(got.summary.ending, Ending::Trailer, "{}", f.display());
            base += got.summary.entries as usize;
            entries.push(got.summary.entries);
            rows.extend(got.rows);
        }
        assert_rows_eq(&dir.join(variant), &rows, &want);
        assert_eq!(base, 240, "{variant}");
        if variant == "c4_rolled" {
            assert_eq!(entries, [70, 70, 70, 30]);
        }
    }
    // No trailer: all 240 entries, a clean (non-damage) ending.
    let f = files_in(&dir.join("c5_no_trailer"));
    let got = read_all(&f[0], false, 0);
    assert_eq!(got.summary.ending, Ending::NoTrailer);
    assert_eq!(got.summary.entries, 240);
    assert_eq!(got.summary.last_good_offset, 115071);
    assert_rows_eq(&f[0], &got.rows, &c1);
    // Cut mid-entry 144.
    let f = files_in(&dir.join("c5_truncated_mid_entry"));
    let got = read_all(&f[0], false, 0);
    assert_eq!(got.summary.entries, 144);
    assert!(got.summary.ending.is_damage(), "{:?}", got.summary.ending);
    let n = got.rows.len();
    assert_rows_eq(&f[0], &got.rows, &c1[..n]);
    assert!(c1.get(n).is_some_and(|r| r.entry == 144));
    // Empty (header + trailer) and header-only.
    let f = files_in(&dir.join("c6_empty"));
    let got = read_all(&f[0], false, 0);
    assert_eq!(
        (got.summary.entries, got.summary.ending.clone()),
        (0, Ending::Trailer)
    );
    assert_eq!(got.summary.trailer_offset, Some(83));
    let f = files_in(&dir.join("c6_header_only"));
    let got = read_all(&f[0], false, 0);
    assert_eq!(
        (got.summary.entries, got.summary.ending.clone()),
        (0, Ending::NoTrailer)
    );
    assert_eq!(got.summary.last_good_offset, 83);
}

/// HBase 0.98's own split output: per region, the files (in name order) hold exactly the
/// input's entries for that region, in order; compressed ones decode with the
/// recovered.edits dictionary rule; each file's name is its highest sequence id.
#[test]
fn hbase098_split_output() {
    let Some(fx) = common::fixtures() else { return };
    let wal = fx.join("hbase098/wal");
    let split = fx.join("hbase098/wal-split");
    let c1 = rows_098(&wal.join("c1_plain.entries.tsv"));
    let mut checked = 0;
    for v in std::fs::read_dir(&split).unwrap().flatten() {
        let variant = v.file_name().to_string_lossy().into_owned();
        let want: Vec<Row> = match variant.as_str() {
            "c5_no_trailer" => c1.clone(),
            "c5_truncated_mid_entry" => c1.iter().filter(|r| r.entry < 144).cloned().collect(),
            _ => rows_098(&wal.join(format!("{variant}.entries.tsv"))),
        };
        let mut per_region: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
        for f in common::walk(&v.path()) {
            let region = f
                .parent()
                .and_then(|p| p.parent())
                .and_then(|p| p.file_name())
                .unwrap()
                .to_string_lossy()
                .into_owned();
            per_region.entry(region).or_default().push(f);
        }
        for (region, mut files) in per_region {
            files.sort();
            let mut rows = Vec::new();
            for f in &files {
                let got = read_all(f, false, 0);
                assert_eq!(got.summary.ending, Ending::Trailer, "{}", f.display());
                let max_seq = got.rows.iter().map(|r| r.seq).max().unwrap();
                let name: u64 = f.file_name().unwrap().to_string_lossy().parse().unwrap();
                assert_eq!(name, max_seq, "{}", f.display());
                rows.extend(got.rows);
                checked += 1;
            }
            let strip = |r: &Row| (r.region.clone(), r.seq, r.cell.clone());
            let ours: Vec<_> = rows.iter().map(strip).collect();
            let want: Vec<_> = want
                .iter()
                .filter(|r| r.region == region)
                .map(strip)
                .collect();
            assert_eq!(ours, want, "{variant}/{region}");
        }
    }
    assert!(checked >= 30, "{checked} split files checked");
}

#[test]
fn real_wals() {
    let Some(fx) = common::fixtures() else { return };
    let real = fx.join("real");
    let inv = std::fs::read_to_string(real.join("INVENTORY.md")).unwrap();
    let mut n = 0;
    for line in inv.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() < 7 {
            continue;
        }
        let (path, kind, details) = (cols[1].trim_matches('`'), cols[4], cols[5]);
        let pwal = kind.starts_with("WAL(protobuf");
        let hlog = kind == "SequenceFile" && details.contains("HLogKey");
        if !pwal && !hlog {
            continue;
        }
        let p = real.join(path);
        let got = read_all(&p, false, 0);
        assert!(
            !got.summary.ending.is_damage(),
            "{path}: {:?}",
            got.summary.ending
        );
        let field = |k: &str| {
            cols[6]
                .split_whitespace()
                .find_map(|w| w.strip_prefix(k))
                .and_then(|v| v.parse::<u64>().ok())
        };
        if pwal {
            assert_eq!(Some(got.summary.entries), field("entries="), "{path}");
            assert_eq!(Some(got.summary.cells), field("cells="), "{path}");
        } else {
            // The inventory counts what HBase 0.98 returns, which drops -ROOT- edits.
            let not_root = |r: &&Row| r.table != "-ROOT-";
            let entries: std::collections::BTreeSet<usize> =
                got.rows.iter().filter(not_root).map(|r| r.entry).collect();
            assert_eq!(Some(entries.len() as u64), field("entries="), "{path}");
            assert_eq!(
                Some(got.rows.iter().filter(not_root).count() as u64),
                field("cells="),
                "{path}"
            );
        }
        n += 1;
    }
    assert_eq!(n, 11, "real WAL files checked");
}

#[test]
fn blind_wals_read() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("hbase-blind");
    let mut n = 0;
    for f in files_in(&dir) {
        if f.extension().is_none_or(|e| e != "wal") {
            continue;
        }
        let got = read_all(&f, true, 0);
        let s = &got.summary;
        eprintln!(
            "{}: {} entries, {} cells, last good {}, {:?}",
            f.display(),
            s.entries,
            s.cells,
            s.last_good_offset,
            s.ending
        );
        assert!(s.entries > 0, "{}", f.display());
        if let Ending::Damaged(d) = &s.ending {
            assert_eq!(d.offset, s.last_good_offset);
        }
        n += 1;
    }
    assert_eq!(n, 12);
}

/// Every prefix of a WAL reads without a panic; prefixes that end on an entry boundary
/// read as NoTrailer, others as a truncated entry with the last boundary as offset.
#[test]
fn every_prefix_of_a_compressed_wal() {
    let Some(fx) = common::fixtures() else { return };
    let p = fx.join("hbase-written/wal_dict_value_snappy/wal_dict_value_snappy.wal");
    let data = std::fs::read(&p).unwrap();
    let opts = json(&p.with_file_name("wal_dict_value_snappy.options.json"));
    let ends: Vec<u64> = opts["entry_end_offsets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let header_end = WalReader::from_bytes(&data, false)
        .unwrap()
        .header()
        .end_offset;
    assert!(header_end > 4 && header_end < ends[0]);
    for cut in (0..=data.len()).step_by(5) {
        let prefix = &data[..cut];
        let mut r =
            WalReader::from_bytes(prefix, false).unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        let s = r.drain().unwrap();
        let cut = cut as u64;
        let complete = ends.iter().filter(|&&e| e <= cut).count() as u64;
        assert_eq!(s.entries, complete, "cut {cut}: {:?}", s.ending);
        if cut == 0 {
            assert_eq!(s.ending, Ending::Empty);
        } else if cut < header_end {
            assert!(
                matches!(&s.ending, Ending::Damaged(d) if d.kind == DamageKind::TruncatedHeader),
                "cut {cut}: {:?}",
                s.ending
            );
        } else if cut == header_end || ends.contains(&cut) {
            assert_eq!(s.ending, Ending::NoTrailer, "cut {cut}");
        } else if cut == data.len() as u64 {
            assert_eq!(s.ending, Ending::Trailer);
        } else if cut > *ends.last().unwrap() {
            assert_eq!(s.ending, Ending::PartialTrailer, "cut {cut}");
        } else {
            match &s.ending {
                Ending::Damaged(d) => {
                    assert_eq!(d.kind, DamageKind::TruncatedEntry, "cut {cut}: {d}");
                    assert_eq!(d.offset, s.last_good_offset);
                }
                other => panic!("cut {cut}: {other:?}"),
            }
        }
    }
}

/// A garbage tail after complete entries is damage at the last entry boundary.
#[test]
fn garbage_tail_is_damage() {
    let Some(fx) = common::fixtures() else { return };
    let p = fx.join("hbase-written/wal_plain/wal_plain.no_trailer.wal");
    let mut data = std::fs::read(&p).unwrap();
    let good = data.len() as u64;
    data.extend_from_slice(&[0x7a; 300]);
    let mut r = WalReader::from_bytes(&data, false).unwrap();
    let s = r.drain().unwrap();
    assert_eq!(s.entries, 120);
    match s.ending {
        Ending::Damaged(d) => assert_eq!(d.offset, good),
        other => panic!("{other:?}"),
    }
    // Zeros too (a preallocated tail).
    let mut data = std::fs::read(&p).unwrap();
    data.extend_from_slice(&[0; 64]);
    let s = WalReader::from_bytes(&data, false)
        .unwrap()
        .drain()
        .unwrap();
    assert_eq!(s.entries, 120);
    assert!(s.ending.is_damage());
}

/// Start offsets: uncompressed WALs skip; compressed ones replay the dictionaries.
#[test]
fn start_offset() {
    let Some(fx) = common::fixtures() else { return };
    for name in ["wal_plain", "wal_dict_tags"] {
        let p = fx.join(format!("hbase-written/{name}/{name}.wal"));
        let all = read_all(&p, true, 0);
        let off = all.end_offsets[9];
        let mut r = WalReader::open(&p).unwrap();
        r.seek_to_entry(off).unwrap();
        let e = r.next_entry().unwrap().unwrap();
        assert_eq!(e.offset, off);
        let rows = our_rows(e, 10, true);
        let want: Vec<Row> = all.rows.iter().filter(|r| r.entry == 10).cloned().collect();
        assert_eq!(rows, want, "{name}");
        let mut r = WalReader::open(&p).unwrap();
        assert!(r.seek_to_entry(off + 1).is_err() || name == "wal_plain");
    }
}

/// Single-byte corruptions anywhere in compressed, value-compressed and plain WALs never
/// panic, and any damage is reported at the end of the last good entry.
#[test]
fn byte_flips_never_panic() {
    let Some(fx) = common::fixtures() else { return };
    for name in [
        "wal_dict_value_gz",
        "wal_dict_value_snappy",
        "wal_plain_tags",
        "wal_dict_tags",
    ] {
        let p = fx.join(format!("hbase-written/{name}/{name}.wal"));
        let data = std::fs::read(&p).unwrap();
        for i in (0..data.len()).step_by(29) {
            let mut d = data.clone();
            d[i] ^= 0x55;
            if let Ok(mut r) = WalReader::from_bytes(&d, false) {
                let s = r.drain().unwrap();
                assert_ne!(s.ending, Ending::Open);
                if let Ending::Damaged(dm) = &s.ending {
                    assert_eq!(dm.offset, s.last_good_offset, "{name} flip at {i}");
                }
            }
        }
    }
}
