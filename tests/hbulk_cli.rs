//! End-to-end tests of the `hbulk` binary.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use hbkit::hfile::fileinfo::keys;
use hbkit::hfile::HFile;

fn hbulk(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hbulk"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run hbulk")
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "hbulk failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// (row, family, qualifier, ts) -> value, per file; plus file list.
type Cells = BTreeMap<(Vec<u8>, Vec<u8>, Vec<u8>, i64), Vec<u8>>;

fn files(out: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for fam in std::fs::read_dir(out).unwrap().flatten() {
        let n = fam.file_name().to_string_lossy().into_owned();
        if n.starts_with('_') || !fam.path().is_dir() {
            continue;
        }
        for f in std::fs::read_dir(fam.path()).unwrap().flatten() {
            v.push(f.path());
        }
    }
    v.sort();
    v
}

/// (row, family, qualifier, timestamp, value).
type Row5 = (Vec<u8>, Vec<u8>, Vec<u8>, i64, Vec<u8>);
/// ((row, family, qualifier, timestamp), value).
type Keyed = ((Vec<u8>, Vec<u8>, Vec<u8>, i64), Vec<u8>);

fn read_file(p: &Path) -> Vec<Row5> {
    let f = HFile::open(p).unwrap();
    let mut s = f.scanner();
    let mut out = Vec::new();
    while let Some(c) = s.next_cell().unwrap() {
        out.push((
            c.key.row().to_vec(),
            c.key.family().to_vec(),
            c.key.qualifier().to_vec(),
            c.key.timestamp(),
            c.value.to_vec(),
        ));
    }
    out
}

fn read_all(out: &Path) -> Cells {
    let mut m = Cells::new();
    for p in files(out) {
        for (r, f, q, ts, v) in read_file(&p) {
            assert!(m.insert((r, f, q, ts), v).is_none(), "cell in two files");
        }
    }
    m
}

fn cell(r: &str, f: &str, q: &str, ts: i64, v: &str) -> Keyed {
    ((r.into(), f.into(), q.into(), ts), v.as_bytes().to_vec())
}

#[test]
fn quoting_newlines_and_file_info() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("in.csv"),
        "r1,\"a, b\",\"line1\nline2\"\nr2,\"say \"\"hi\"\"\",x\n",
    )
    .unwrap();
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            "HBASE_ROW_KEY,cf:a,cf:b",
            "--out",
            "out",
            "--timestamp",
            "7",
        ],
        d.path(),
    ));
    let got = read_all(&d.path().join("out"));
    let want: Cells = [
        cell("r1", "cf", "a", 7, "a, b"),
        cell("r1", "cf", "b", 7, "line1\nline2"),
        cell("r2", "cf", "a", 7, "say \"hi\""),
        cell("r2", "cf", "b", 7, "x"),
    ]
    .into_iter()
    .collect();
    assert_eq!(got, want);
    let fs = files(&d.path().join("out"));
    assert_eq!(fs.len(), 1);
    let name = fs[0].file_name().unwrap().to_string_lossy().into_owned();
    assert_eq!(name.len(), 32);
    assert!(name
        .bytes()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
    let f = HFile::open(&fs[0]).unwrap();
    let fi = &f.file_info;
    assert!(fi.get(keys::MAX_SEQ_ID_KEY).is_none());
    assert!(fi.get("COMPACTION_EVENT_KEY").is_none());
    assert_eq!(fi.get_bool(keys::MAJOR_COMPACTION_KEY), Some(true));
    assert!(fi.get_i64(keys::BULKLOAD_TIMESTAMP).is_some());
    assert!(fi.get(keys::BULKLOAD_SOURCE_TASK).is_some());
    assert_eq!(
        fi.get_bool(keys::EXCLUDE_FROM_MINOR_COMPACTION),
        Some(false)
    );
    assert!(fi.includes_tags());
    assert!(fi.includes_mvcc());
}

#[test]
fn multi_byte_separator_header_mapping_and_gzip() {
    let d = tempfile::tempdir().unwrap();
    let text = "name||id||ts||other\n\"x||y\"||k1||5||o1\nplain||k2||6||\"q\nr\"\n";
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(text.as_bytes()).unwrap();
    std::fs::write(d.path().join("in.csv.gz"), gz.finish().unwrap()).unwrap();
    ok(&hbulk(
        &[
            "build",
            "in.csv.gz",
            "--header",
            "--separator",
            "||",
            "--columns",
            "HBASE_ROW_KEY=id,HBASE_TS_KEY=ts,f:*",
            "--out",
            "out",
        ],
        d.path(),
    ));
    let want: Cells = [
        cell("k1", "f", "name", 5, "x||y"),
        cell("k1", "f", "other", 5, "o1"),
        cell("k2", "f", "name", 6, "plain"),
        cell("k2", "f", "other", 6, "q\nr"),
    ]
    .into_iter()
    .collect();
    assert_eq!(read_all(&d.path().join("out")), want);
}

#[test]
fn composite_keys() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("in.csv"), "u1,258,abc,v\n").unwrap();
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            "-,-,-,cf:v",
            "--row-key",
            "$0,long($1),reverse($2)",
            "--row-key-separator",
            "#",
            "--out",
            "out",
            "--timestamp",
            "1",
        ],
        d.path(),
    ));
    let mut row = b"u1#".to_vec();
    row.extend_from_slice(&258i64.to_be_bytes());
    row.extend_from_slice(b"#cba");
    let got = read_all(&d.path().join("out"));
    assert_eq!(got.keys().next().unwrap().0, row);
}

#[test]
fn bad_lines_reject_file_and_limit() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(
        d.path().join("in.csv"),
        "r1,1,a\nr2,notanumber,b\n,3,c\nr4,4,d,extra\nr5,5,e\n",
    )
    .unwrap();
    let spec = "HBASE_ROW_KEY,HBASE_TS_KEY,cf:a";
    let out = ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "out",
            "--reject",
            "rej.txt",
            "--json",
        ],
        d.path(),
    ));
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(j["bad_lines"], 3);
    assert_eq!(j["bad_by_reason"]["bad_timestamp"], 1);
    assert_eq!(j["bad_by_reason"]["empty_row_key"], 1);
    assert_eq!(j["bad_by_reason"]["wrong_column_count"], 1);
    assert_eq!(j["cells_written"], 2);
    let rej = std::fs::read_to_string(d.path().join("rej.txt")).unwrap();
    assert_eq!(
        rej,
        "in.csv:2\tbad_timestamp\tr2,notanumber,b\nin.csv:3\tempty_row_key\t,3,c\nin.csv:4\twrong_column_count\tr4,4,d,extra\n"
    );
    let o = hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "out2",
            "--max-bad-lines",
            "2",
        ],
        d.path(),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("max-bad-lines"));
    assert!(files(&d.path().join("out2")).is_empty());
}

#[test]
fn region_boundaries_duplicates_and_check() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("splits"), "b\nd\\x00\n").unwrap();
    std::fs::write(
        d.path().join("in.csv"),
        "a,1\nb,2\nc,3\nd,4\nd\\x00,5\ne,6\nb,7\n",
    )
    .unwrap();
    // The literal text "d\x00" in CSV is not the escaped key; use a real zero byte.
    let mut data = std::fs::read(d.path().join("in.csv")).unwrap();
    let pos = data.windows(4).position(|w| w == b"d\\x0").unwrap();
    data.splice(pos..pos + 5, [b'd', 0u8]);
    std::fs::write(d.path().join("in.csv"), data).unwrap();
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            "HBASE_ROW_KEY,cf:v",
            "--out",
            "out",
            "--split-file",
            "splits",
            "--timestamp",
            "9",
        ],
        d.path(),
    ));
    let mut regions: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for p in files(&d.path().join("out")) {
        let cells = read_file(&p);
        regions.push((cells[0].0.clone(), cells.last().unwrap().0.clone()));
    }
    regions.sort();
    // a | b c d | d\0 e
    assert_eq!(
        regions,
        vec![
            (b"a".to_vec(), b"a".to_vec()),
            (b"b".to_vec(), b"d".to_vec()),
            (b"d\0".to_vec(), b"e".to_vec())
        ]
    );
    let got = read_all(&d.path().join("out"));
    assert_eq!(
        got[&(b"b".to_vec(), b"cf".to_vec(), b"v".to_vec(), 9)],
        b"7"
    );
    assert_eq!(got.len(), 6);
    let c = hbulk(&["check", "out", "--split-file", "splits"], d.path());
    assert!(c.status.success(), "{}", String::from_utf8_lossy(&c.stdout));

    // A file straddling a boundary fails the check; split cuts it; then the check passes.
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            "HBASE_ROW_KEY,cf:v",
            "--out",
            "one",
            "--timestamp",
            "9",
        ],
        d.path(),
    ));
    let c = hbulk(&["check", "one", "--split-file", "splits"], d.path());
    assert_eq!(c.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&c.stdout).contains("straddle"));
    ok(&hbulk(
        &["split", "one", "--split-file", "splits"],
        d.path(),
    ));
    ok(&hbulk(
        &["check", "one", "--split-file", "splits"],
        d.path(),
    ));
    assert_eq!(files(&d.path().join("one")).len(), 3);
    assert_eq!(read_all(&d.path().join("one")), got);
}

#[test]
fn spilling_gives_the_same_cells_and_rolls() {
    let d = tempfile::tempdir().unwrap();
    let mut s = String::new();
    for i in 0..20000u32 {
        let k = (i.wrapping_mul(2654435761)) % 5000; // duplicates: later lines win
        s.push_str(&format!("row{k:06},{i},val{i}\n"));
    }
    std::fs::write(d.path().join("in.csv"), s).unwrap();
    let spec = "HBASE_ROW_KEY,cf:a,cf:b";
    let small = ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "small",
            "--memory",
            "64K",
            "--json",
            "--timestamp",
            "1",
        ],
        d.path(),
    ));
    let j: serde_json::Value = serde_json::from_str(&small).unwrap();
    assert!(j["spilled_runs"].as_u64().unwrap() >= 2, "{small}");
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "big",
            "--timestamp",
            "1",
            "--compression",
            "GZ",
            "--encoding",
            "FAST_DIFF",
        ],
        d.path(),
    ));
    let a = read_all(&d.path().join("small"));
    let b = read_all(&d.path().join("big"));
    assert_eq!(a, b);
    assert_eq!(a.len(), 10000);
    // Last wins: the value of each row is from its last line.
    let mut want: BTreeMap<String, u32> = BTreeMap::new();
    for i in 0..20000u32 {
        want.insert(format!("row{:06}", (i.wrapping_mul(2654435761)) % 5000), i);
    }
    for (r, i) in &want {
        let k = (r.as_bytes().to_vec(), b"cf".to_vec(), b"a".to_vec(), 1);
        assert_eq!(a[&k], i.to_string().as_bytes());
    }
    // Rolling at --max-file-size, never inside a row; the file limit is enforced up front.
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "rolled",
            "--max-file-size",
            "64K",
            "--timestamp",
            "1",
        ],
        d.path(),
    ));
    let fs = files(&d.path().join("rolled"));
    assert!(fs.len() > 3);
    let mut last_rows = Vec::new();
    for p in &fs {
        let c = read_file(p);
        last_rows.push((c[0].0.clone(), c.last().unwrap().0.clone()));
    }
    last_rows.sort();
    for w in last_rows.windows(2) {
        assert!(w[0].1 < w[1].0, "a row is split across files");
    }
    assert_eq!(read_all(&d.path().join("rolled")), a);
    let o = hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "limited",
            "--max-file-size",
            "64K",
            "--max-files-per-region",
            "2",
        ],
        d.path(),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("max-files-per-region"));
}

#[test]
fn sampled_regions_and_shards() {
    let d = tempfile::tempdir().unwrap();
    let mut s = String::new();
    for i in 0..3000u32 {
        s.push_str(&format!("k{:05},{i}\n", (i * 7919) % 3000));
    }
    std::fs::write(d.path().join("in.csv"), &s).unwrap();
    let spec = "HBASE_ROW_KEY,cf:v";
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            "out",
            "--regions",
            "4",
            "--timestamp",
            "1",
        ],
        d.path(),
    ));
    let splits = std::fs::read_to_string(d.path().join("out/_hbulk_splits")).unwrap();
    assert_eq!(splits.lines().count(), 3);
    assert_eq!(files(&d.path().join("out")).len(), 4);
    ok(&hbulk(
        &["check", "out", "--split-file", "out/_hbulk_splits"],
        d.path(),
    ));
    let all = read_all(&d.path().join("out"));
    // Shards 0/2 and 1/2 together give the same cells.
    std::fs::copy(d.path().join("out/_hbulk_splits"), d.path().join("splits")).unwrap();
    let mut union = Cells::new();
    for sh in ["0/2", "1/2"] {
        let o = format!("sh{}", &sh[..1]);
        ok(&hbulk(
            &[
                "build",
                "in.csv",
                "--columns",
                spec,
                "--out",
                &o,
                "--split-file",
                "splits",
                "--shard",
                sh,
                "--timestamp",
                "1",
            ],
            d.path(),
        ));
        assert_eq!(files(&d.path().join(&o)).len(), 2);
        union.extend(read_all(&d.path().join(&o)));
    }
    assert_eq!(union, all);
}

mod common;

/// `--table-dir` on a real 0.92 table (Writable `.regioninfo` files, split parents beside
/// their daughters): the 9 live regions (PROVENANCE: "REGION_COUNT=9") become the split
/// points, no file straddles one, and `hbulk check` agrees. Its descriptor is the 0.92
/// Writable form, so the codecs must be given, and the error says so when they are not.
#[test]
fn table_dir_regions_from_a_real_0_92_table() {
    let Some(fx) = common::fixtures() else { return };
    let table = fx.join("real/hbase-testdata-chenxu14/TestMetaMigrationConvertToPB/TestTable");
    let t = table.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv: String = (1..=100).map(|i| format!("row#{i},{i}\n")).collect();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let cols = "HBASE_ROW_KEY,f1:c1";
    let o = hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            cols,
            "--out",
            "out",
            "--table-dir",
            t,
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("Writable") && err.contains("--compression"),
        "{err}"
    );

    let o = hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            cols,
            "--out",
            "out",
            "--table-dir",
            t,
            "--compression",
            "snappy",
            "--encoding",
            "fast_diff",
            "--bloom",
            "row",
            "--block-size",
            "64K",
            "--json",
        ],
        dir.path(),
    );
    let rep: serde_json::Value = serde_json::from_str(&ok(&o)).unwrap();
    assert_eq!(rep["regions"], 9, "{rep}");
    let cells = read_all(&dir.path().join("out"));
    assert_eq!(cells.len(), 100);
    // Each file lies inside one live region: its rows never cross a live region's start key.
    // HBase records splits only in hbase:meta, so a parent is found here as a region whose
    // range contains another region's (its daughters').
    let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&table).unwrap().flatten() {
        let ri = e.path().join(".regioninfo");
        if ri.is_file() {
            let info = hbkit::layout::RegionInfo::parse(&std::fs::read(&ri).unwrap()).unwrap();
            ranges.push((info.start_key, info.end_key));
        }
    }
    let ends_before = |a: &[u8], b: &[u8]| b.is_empty() || (!a.is_empty() && a <= b);
    let starts: Vec<Vec<u8>> = ranges
        .iter()
        .filter(|r| {
            !ranges
                .iter()
                .any(|q| q != *r && r.0 <= q.0 && ends_before(&q.1, &r.1))
        })
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(starts.len(), 9, "live regions in the fixture");
    for p in files(&dir.path().join("out")) {
        let rows: Vec<Vec<u8>> = read_file(&p).into_iter().map(|c| c.0).collect();
        let (first, last) = (rows.first().unwrap(), rows.last().unwrap());
        assert!(
            !starts.iter().any(|s| first < s && s <= last),
            "{} straddles a region",
            p.display()
        );
    }
    let out = ok(&hbulk(&["check", "out", "--table-dir", t], dir.path()));
    assert!(out.contains("check passed"), "{out}");
}

/// `--table-dir` with a protobuf descriptor (HBase 0.98's `cmp` table): each family's
/// BLOOMFILTER, DATA_BLOCK_ENCODING and COMPRESSION come from the descriptor unless given on
/// the command line; a column of a family the table lacks is refused before any work.
#[test]
fn table_dir_family_settings_from_the_descriptor() {
    let Some(fx) = common::fixtures() else { return };
    let table = fx.join("hbase098/region-precompact/data/default/cmp");
    let t = table.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let csv: String = (0..50).map(|i| format!("r{i:03},a{i},b{i}\n")).collect();
    std::fs::write(dir.path().join("in.csv"), csv).unwrap();
    let cols = "HBASE_ROW_KEY,kd:a,v3ttl:b";
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            cols,
            "--out",
            "out",
            "--table-dir",
            t,
        ],
        dir.path(),
    ));
    let settings = |fam: &str, out: &str| {
        let fs = files(&dir.path().join(out));
        let p = fs
            .iter()
            .find(|p| p.parent().unwrap().ends_with(fam))
            .unwrap();
        let f = HFile::open(p).unwrap();
        (
            f.bloom_type.name().to_string(),
            f.encoding.name().to_string(),
            f.compression.name().to_string(),
        )
    };
    let s = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(settings("kd", "out"), s("ROWCOL", "FAST_DIFF", "NONE"));
    assert_eq!(settings("v3ttl", "out"), s("ROW", "NONE", "NONE"));
    assert_eq!(read_all(&dir.path().join("out")).len(), 100);

    // Command-line settings win over the descriptor's.
    ok(&hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            cols,
            "--out",
            "out2",
            "--table-dir",
            t,
            "--encoding",
            "PREFIX",
            "--compression",
            "GZ",
        ],
        dir.path(),
    ));
    assert_eq!(settings("kd", "out2"), s("ROWCOL", "PREFIX", "GZ"));
    assert_eq!(settings("v3ttl", "out2"), s("ROW", "PREFIX", "GZ"));

    let o = hbulk(
        &[
            "build",
            "in.csv",
            "--columns",
            "HBASE_ROW_KEY,kd:a,nope:b",
            "--out",
            "out3",
            "--table-dir",
            t,
        ],
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("nope") && err.contains("not in the target table"),
        "{err}"
    );
    assert!(files(&dir.path().join("out3")).is_empty() || !dir.path().join("out3").exists());
}

/// A row's cells are sorted and grouped per family as they are parsed: columns given out of
/// cell order over several families, one cell named by two columns (the later column wins),
/// skipped empty fields, and the same row and timestamp on many lines (the last line wins),
/// in memory and spilled, give exactly the cells of a model, in order (`hbulk check`).
#[test]
fn grouped_rows_match_a_model() {
    let d = tempfile::tempdir().unwrap();
    // Columns: row, f2:b, f1:z, f1:a, ts, f2:a, f1:z again (wins over the first f1:z).
    let spec = "HBASE_ROW_KEY,f2:b,f1:z,f1:a,HBASE_TS_KEY,f2:a,f1:z";
    let cols = [
        ("f2", "b"),
        ("f1", "z"),
        ("f1", "a"),
        ("f2", "a"),
        ("f1", "z"),
    ];
    let mut want: Cells = BTreeMap::new();
    let mut s = String::new();
    let mut x = 7u64;
    for i in 0..6000u64 {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let row = format!("r{:04}", (x >> 33) % 700);
        let ts = 100 + (x >> 45) % 3;
        let v: Vec<String> = (0..5)
            .map(|c| {
                if (x >> (10 + 3 * c)) % 5 == 0 {
                    String::new()
                } else {
                    format!("v{i}.{c}")
                }
            })
            .collect();
        s.push_str(&format!(
            "{row},{},{},{},{ts},{},{}\n",
            v[0], v[1], v[2], v[3], v[4]
        ));
        for (c, &(f, q)) in cols.iter().enumerate() {
            if !v[c].is_empty() {
                want.insert(
                    (row.clone().into(), f.into(), q.into(), ts as i64),
                    v[c].clone().into_bytes(),
                );
            }
        }
    }
    std::fs::write(d.path().join("in.csv"), s).unwrap();
    std::fs::write(d.path().join("splits"), "r0200\nr0500\n").unwrap();
    for (out, memory) in [("mem", None), ("spilled", Some("64K"))] {
        let mut args = vec![
            "build",
            "in.csv",
            "--columns",
            spec,
            "--out",
            out,
            "--split-file",
            "splits",
            "--skip-empty",
            "--encoding",
            "FAST_DIFF",
            "--json",
        ];
        if let Some(m) = memory {
            args.extend(["--memory", m]);
        }
        let j: serde_json::Value = serde_json::from_str(&ok(&hbulk(&args, d.path()))).unwrap();
        if memory.is_some() {
            assert!(j["spilled_runs"].as_u64().unwrap() >= 1, "{j}");
        }
        assert_eq!(read_all(&d.path().join(out)), want, "{out}");
        ok(&hbulk(&["check", out, "--split-file", "splits"], d.path()));
    }
}
