//! Integration tests of the `hfile` binary, run for real in a temp dir: `dump -m` against what
//! HBase's own reader reported (`.options.json` → `hbase_reader`), `dump -p` and `--json -p`
//! against the `.cells.tsv` sidecars, row/time/limit filters, directory arguments, refused
//! forms and early-closed pipes. On a mismatch the full stdout and stderr are printed.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hbkit::bytes::from_string_binary;
use hbkit::hfile::fileinfo::FileInfo;

// ---------------------------------------------------------------------------------------
// Running the binary.

struct Out {
    args: Vec<String>,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: hfile {}\nexit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// Run `hfile ARGS` with a fresh temp dir as its working directory.
fn hfile<S: AsRef<OsStr>>(args: &[S]) -> Out {
    let dir = tempfile::tempdir().expect("tempdir");
    let o = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .args(args)
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .expect("run hfile");
    Out {
        args: args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect(),
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

/// Assert with the whole run printed on failure.
macro_rules! check {
    ($out:expr, $cond:expr, $($msg:tt)+) => {
        if !$cond {
            panic!("{}\n{}", format!($($msg)+), $out);
        }
    };
}

fn ok(o: &Out) {
    check!(o, o.code == Some(0), "expected exit 0");
    check!(o, !o.stderr.contains("panicked"), "panic on stderr");
}

// ---------------------------------------------------------------------------------------
// Fixture cases.

struct Case {
    name: String,
    hfile: PathBuf,
    tsv: PathBuf,
    options: serde_json::Value,
}

impl Case {
    fn reader(&self) -> &serde_json::Value {
        &self.options["hbase_reader"]
    }
    fn mvcc(&self) -> bool {
        self.options["includes_mvcc"]
            .as_bool()
            .expect("includes_mvcc")
    }
}

/// Every HFile case of hbase-written (WAL cases have no `.hfile`).
fn cases(fx: &Path) -> Vec<Case> {
    let mut out = Vec::new();
    let root = fx.join("hbase-written");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("hbase-written")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for d in dirs {
        let name = d.file_name().expect("name").to_string_lossy().into_owned();
        let hfile = d.join(format!("{name}.hfile"));
        if !hfile.exists() {
            continue;
        }
        let options: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(d.join(format!("{name}.options.json"))).expect("options"),
        )
        .expect("options.json parses");
        out.push(Case {
            tsv: d.join(format!("{name}.cells.tsv")),
            name,
            hfile,
            options,
        });
    }
    out
}

fn case(fx: &Path, name: &str) -> Case {
    cases(fx)
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"))
}

/// One sidecar cell with its fields still in escaped (toStringBinary) form.
#[derive(Debug, Clone)]
struct RawCell {
    row: String,
    family: String,
    qualifier: String,
    ts: i64,
    type_name: String,
    seq: u64,
    value: String,
    /// (type, escaped value)
    tags: Vec<(i32, String)>,
}

impl RawCell {
    fn row_bytes(&self) -> Vec<u8> {
        common::unescape(&self.row)
    }
    /// HBase's `hbase hfile -p` line: `K: <key>/vlen=N/seqid=N V: <value>[ T[i]: [Tag ...]]`.
    fn text(&self) -> String {
        let ts = if self.ts == i64::MAX {
            "LATEST_TIMESTAMP".to_string()
        } else {
            self.ts.to_string()
        };
        let mut s = format!(
            "K: {}/{}:{}/{ts}/{}/vlen={}/seqid={} V: {}",
            self.row,
            self.family,
            self.qualifier,
            self.type_name,
            common::unescape(&self.value).len(),
            self.seq,
            self.value
        );
        for (i, (t, v)) in self.tags.iter().enumerate() {
            s.push_str(&format!(" T[{i}]: [Tag type : {t}, value : {v}]"));
        }
        s
    }
}

/// Split the sidecar tag list `type:value;type:value`: values may hold `;`, so a new tag
/// starts only at a `;` followed by decimal digits and `:`.
fn split_tags(s: &str) -> Vec<(i32, String)> {
    if s.is_empty() {
        return Vec::new();
    }
    let b = s.as_bytes();
    let mut starts = vec![0usize];
    for (i, &c) in b.iter().enumerate() {
        if c == b';' {
            let digits = b[i + 1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits > 0 && b.get(i + 1 + digits) == Some(&b':') {
                starts.push(i + 1);
            }
        }
    }
    starts
        .iter()
        .enumerate()
        .map(|(k, &st)| {
            let end = starts.get(k + 1).map_or(s.len(), |&n| n - 1);
            let (t, v) = s[st..end].split_once(':').expect("type:value");
            (t.parse().expect("tag type"), v.to_string())
        })
        .collect()
}

fn read_raw(c: &Case) -> Vec<RawCell> {
    let text = std::fs::read_to_string(&c.tsv).expect("sidecar");
    let mvcc = c.mvcc();
    text.split('\n')
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            RawCell {
                row: f[0].into(),
                family: f[1].into(),
                qualifier: f[2].into(),
                ts: f[3].parse().expect("ts"),
                type_name: f[4].into(),
                // Without mvcc the sequence id is not stored: the reader shows 0.
                seq: if mvcc { f[5].parse().expect("seq") } else { 0 },
                value: f[6].into(),
                tags: split_tags(f.get(7).copied().unwrap_or("")),
            }
        })
        .collect()
}

/// The cell lines of a text dump (everything else is metadata or the count line).
fn cell_lines(o: &Out) -> Vec<&str> {
    o.stdout.lines().filter(|l| l.starts_with("K: ")).collect()
}

fn assert_lines_eq(o: &Out, got: &[&str], want: &[String], what: &str) {
    if got.len() != want.len() || got.iter().zip(want).any(|(g, w)| g != w) {
        let first = got
            .iter()
            .zip(want)
            .position(|(g, w)| g != w)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: {} lines, expected {}; first difference at line {first}:\n  got:  {:?}\n  want: {:?}\n{o}",
            got.len(),
            want.len(),
            got.get(first),
            want.get(first)
        );
    }
}

// ---------------------------------------------------------------------------------------
// dump -m

/// The `name=value` lines of one `-m` section (HBase's asSeparateLines layout).
fn section_fields(text: &str, header: &str, until: &str) -> BTreeMap<String, String> {
    let start = text.find(header).unwrap_or_else(|| panic!("no {header:?}")) + header.len();
    let rest = &text[start..];
    let end = rest.find(until).unwrap_or(rest.len());
    rest[..end]
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn dump_meta_matches_hbase_reader() {
    let Some(fx) = common::fixtures() else { return };
    let cases = cases(&fx);
    assert_eq!(cases.len(), 28, "hbase-written HFile cases");
    for c in &cases {
        let o = hfile(&[OsStr::new("dump"), OsStr::new("-m"), c.hfile.as_os_str()]);
        ok(&o);
        let hr = c.reader();
        let s = |k: &str| {
            hr[k]
                .as_str()
                .unwrap_or_else(|| panic!("{}: {k}", c.name))
                .to_string()
        };

        for (label, key) in [("firstKey=", "first_key"), ("lastKey=", "last_key")] {
            let want = format!("    {label}Optional[{}],", s(key));
            check!(
                o,
                o.stdout.lines().any(|l| l == want),
                "{}: no line {want:?}",
                c.name
            );
        }
        let want = format!("Mid-key: Optional[{}]", s("mid_key"));
        check!(
            o,
            o.stdout.lines().any(|l| l == want),
            "{}: no line {want:?}",
            c.name
        );
        let want = format!("    entries={},", hr["entries"]);
        check!(
            o,
            o.stdout.lines().any(|l| l == want),
            "{}: no line {want:?}",
            c.name
        );
        let want = format!("    length={}", hr["file_size"]);
        check!(
            o,
            o.stdout.lines().any(|l| l == want),
            "{}: no line {want:?}",
            c.name
        );

        let t = section_fields(&o.stdout, "Trailer:\n", "Fileinfo:");
        let tr = &hr["trailer"];
        for (ours, theirs) in [
            ("fileinfoOffset", "file_info_offset"),
            ("loadOnOpenDataOffset", "load_on_open_data_offset"),
            ("dataIndexCount", "data_index_count"),
            ("metaIndexCount", "meta_index_count"),
            ("totalUncomressedBytes", "total_uncompressed_bytes"),
            ("entryCount", "entry_count"),
            ("uncompressedDataIndexSize", "uncompressed_data_index_size"),
            ("numDataIndexLevels", "num_data_index_levels"),
            ("firstDataBlockOffset", "first_data_block_offset"),
            ("lastDataBlockOffset", "last_data_block_offset"),
            ("majorVersion", "major_version"),
            ("minorVersion", "minor_version"),
        ] {
            let want = tr[theirs].to_string();
            check!(
                o,
                t.get(ours) == Some(&want),
                "{}: trailer {ours} is {:?}, HBase reported {theirs}={want}",
                c.name,
                t.get(ours)
            );
        }
        let want = tr["comparator_class_name"].as_str().expect("comparator");
        check!(
            o,
            t.get("comparatorClassName").map(String::as_str) == Some(want),
            "{}: comparator",
            c.name
        );
        let want = tr["compression_codec"]
            .as_str()
            .expect("codec")
            .to_ascii_uppercase();
        check!(
            o,
            t.get("compressionCodec") == Some(&want),
            "{}: codec {want}",
            c.name
        );

        // Fileinfo: every key HBase's reader listed, rendered from its raw value.
        let start = o.stdout.find("Fileinfo:\n").expect("Fileinfo") + "Fileinfo:\n".len();
        let fi: BTreeMap<&str, &str> = o.stdout[start..]
            .lines()
            .take_while(|l| l.starts_with("    "))
            .filter_map(|l| l.trim_start().split_once(" = "))
            .collect();
        let theirs = hr["file_info"].as_object().expect("file_info");
        assert!(
            theirs.len() >= 8,
            "{}: {} file info keys",
            c.name,
            theirs.len()
        );
        for (k, v) in theirs {
            if k == "hfile.FILE_PATH" {
                continue;
            }
            let raw = from_string_binary(v.as_str().expect("value")).expect("escaped value");
            let want = FileInfo::render(k.as_bytes(), &raw);
            check!(
                o,
                fi.get(k.as_str()) == Some(&want.as_str()),
                "{}: Fileinfo {k} is {:?}, expected {want:?} (raw {v})",
                c.name,
                fi.get(k.as_str())
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// dump -p / --json -p

#[test]
fn dump_cells_match_sidecar_in_hbase_text_form() {
    let Some(fx) = common::fixtures() else { return };
    // Tags + mvcc (DIFF), tags (NONE), mvcc (NONE), compressed tags (FAST_DIFF).
    for name in [
        "v3_mvcc_tags_diff",
        "v3_tags",
        "v3_mvcc",
        "v3_tags_fast_diff_compresstags",
    ] {
        let c = case(&fx, name);
        let want: Vec<String> = read_raw(&c).iter().map(RawCell::text).collect();
        let o = hfile(&[OsStr::new("dump"), OsStr::new("-p"), c.hfile.as_os_str()]);
        ok(&o);
        assert_lines_eq(&o, &cell_lines(&o), &want, name);
        let last = o.stdout.lines().last().unwrap_or("");
        check!(
            o,
            last == format!("Scanned kv count -> {}", want.len()),
            "{name}: last line {last:?}"
        );
        check!(
            o,
            o.stdout.lines().count() == want.len() + 1,
            "{name}: only cell lines and the count are printed"
        );
    }
}

#[test]
fn dump_json_cells_round_trip() {
    let Some(fx) = common::fixtures() else { return };
    for name in ["v3_mvcc_tags_diff", "v3_bloom_row", "v3_enc_row_index_v1"] {
        let c = case(&fx, name);
        let want = read_raw(&c);
        let o = hfile(&[
            OsStr::new("dump"),
            OsStr::new("--json"),
            OsStr::new("-p"),
            c.hfile.as_os_str(),
        ]);
        ok(&o);
        let mut cells = Vec::new();
        for (i, l) in o.stdout.lines().enumerate() {
            let v: serde_json::Value = match serde_json::from_str(l) {
                Ok(v) => v,
                Err(e) => panic!("{name}: line {i} is not JSON ({e}): {l}\n{o}"),
            };
            match v["kind"].as_str() {
                Some("cell") => cells.push(v),
                Some("file") => check!(
                    o,
                    v["path"] == c.hfile.display().to_string(),
                    "{name}: file line"
                ),
                other => panic!("{name}: unexpected kind {other:?}\n{o}"),
            }
        }
        let entries = c.reader()["entries"].as_u64().expect("entries");
        check!(
            o,
            cells.len() as u64 == entries,
            "{name}: {} cells, trailer says {entries}",
            cells.len()
        );
        assert_eq!(want.len(), cells.len(), "{name}: sidecar count");
        let bytes = |v: &serde_json::Value| -> Vec<u8> {
            from_string_binary(v.as_str().expect("string field")).expect("toStringBinary form")
        };
        for (i, (j, w)) in cells.iter().zip(&want).enumerate() {
            let ctx = || format!("{name}: cell {i}: {j}");
            assert_eq!(bytes(&j["row"]), w.row_bytes(), "{}", ctx());
            assert_eq!(j["row"], w.row, "{}", ctx());
            assert_eq!(
                bytes(&j["family"]),
                common::unescape(&w.family),
                "{}",
                ctx()
            );
            assert_eq!(
                bytes(&j["qualifier"]),
                common::unescape(&w.qualifier),
                "{}",
                ctx()
            );
            assert_eq!(bytes(&j["value"]), common::unescape(&w.value), "{}", ctx());
            assert_eq!(j["vlen"], common::unescape(&w.value).len(), "{}", ctx());
            assert_eq!(j["timestamp"], w.ts, "{}", ctx());
            assert_eq!(j["type"], w.type_name, "{}", ctx());
            assert_eq!(j["seqid"], w.seq, "{}", ctx());
            let tags: Vec<(i64, Vec<u8>)> = j["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .map(|t| (t["type"].as_i64().expect("type"), bytes(&t["value"])))
                .collect();
            let wtags: Vec<(i64, Vec<u8>)> = w
                .tags
                .iter()
                .map(|(t, v)| (*t as i64, common::unescape(v)))
                .collect();
            assert_eq!(tags, wtags, "{}", ctx());
        }
    }
}

#[test]
fn dump_json_meta_and_keys_are_json() {
    let Some(fx) = common::fixtures() else { return };
    let c = case(&fx, "v3_mvcc_tags_diff");
    for flags in [&["-m"][..], &["-e"], &["-m", "-b", "-h", "-s"]] {
        let mut args: Vec<&OsStr> = vec![OsStr::new("dump"), OsStr::new("--json")];
        args.extend(flags.iter().map(OsStr::new));
        args.push(c.hfile.as_os_str());
        let o = hfile(&args);
        ok(&o);
        for l in o.stdout.lines() {
            check!(
                o,
                serde_json::from_str::<serde_json::Value>(l).is_ok(),
                "not JSON: {l}"
            );
        }
    }
    let o = hfile(&[
        OsStr::new("dump"),
        OsStr::new("--json"),
        OsStr::new("-m"),
        c.hfile.as_os_str(),
    ]);
    let meta: serde_json::Value =
        serde_json::from_str(o.stdout.lines().nth(1).expect("meta line")).expect("json");
    check!(o, meta["kind"] == "meta", "meta line");
    check!(
        o,
        meta["trailer"]["entry_count"] == c.reader()["entries"],
        "entry count"
    );
    check!(o, meta["first_key"] == c.reader()["first_key"], "first key");
}

// ---------------------------------------------------------------------------------------
// Filters

#[test]
fn dump_filters_select_the_expected_cells() {
    let Some(fx) = common::fixtures() else { return };
    let c = case(&fx, "v3_mvcc_tags_diff");
    let all = read_raw(&c);
    let rows: Vec<String> = {
        let mut v: Vec<String> = all.iter().map(|c| c.row.clone()).collect();
        v.dedup();
        v
    };
    assert!(rows.len() > 300);
    let long193 = rows
        .iter()
        .find(|r| r.starts_with("row-00193-long"))
        .expect("long row")
        .clone();
    let b = |s: &str| from_string_binary(s).expect("escaped");

    type Pred = Box<dyn Fn(&RawCell) -> bool>;
    let range = |lo: Option<&str>, hi: Option<&str>| -> Pred {
        let (lo, hi) = (lo.map(b), hi.map(b));
        Box::new(move |c: &RawCell| {
            let r = c.row_bytes();
            lo.as_ref().is_none_or(|l| r >= *l) && hi.as_ref().is_none_or(|h| r < *h)
        })
    };
    let prefix = |p: &str| -> Pred {
        let p = b(p);
        Box::new(move |c: &RawCell| c.row_bytes().starts_with(&p))
    };
    let exact = |p: &str| -> Pred {
        let p = b(p);
        Box::new(move |c: &RawCell| c.row_bytes() == p)
    };
    let time = |lo: i64, hi: i64| -> Pred { Box::new(move |c: &RawCell| c.ts >= lo && c.ts < hi) };

    let (r100, r250) = (rows[100].clone(), rows[250].clone());
    let mut scenarios: Vec<(Vec<String>, Pred, Option<usize>)> = vec![
        (
            vec!["--start-row".into(), r100.clone()],
            range(Some(&r100), None),
            None,
        ),
        (
            vec!["--stop-row".into(), r100.clone()],
            range(None, Some(&r100)),
            None,
        ),
        (
            vec![
                "--start-row".into(),
                r100.clone(),
                "--stop-row".into(),
                r250.clone(),
            ],
            range(Some(&r100), Some(&r250)),
            None,
        ),
        // Escaped binary rows: between the binary rows at the start of the file.
        (
            vec![
                "--start-row".into(),
                rows[1].clone(),
                "--stop-row".into(),
                rows[3].clone(),
            ],
            range(Some(&rows[1]), Some(&rows[3])),
            None,
        ),
        // A start row that does not exist, between two that do.
        (
            vec!["--start-row".into(), "row-00150x".into()],
            range(Some("row-00150x"), None),
            None,
        ),
        (
            vec!["--prefix".into(), "row-001".into()],
            prefix("row-001"),
            None,
        ),
        (
            vec!["--prefix".into(), "rb\\x00".into()],
            prefix("rb\\x00"),
            None,
        ),
        // Only the long row starts with row-00193.
        (
            vec!["--prefix".into(), "row-00193".into()],
            prefix("row-00193"),
            None,
        ),
        (vec!["--prefix".into(), "zzz".into()], prefix("zzz"), None),
        (vec!["-w".into(), rows[0].clone()], exact(&rows[0]), None),
        (
            vec!["-w".into(), "row-00250".into()],
            exact("row-00250"),
            None,
        ),
        (vec!["-w".into(), long193.clone()], exact(&long193), None),
        // row-00193 itself does not exist (only its long sibling): nothing.
        (
            vec!["-w".into(), "row-00193".into()],
            exact("row-00193"),
            None,
        ),
        (
            vec!["-w".into(), rows[rows.len() - 1].clone()],
            exact(&rows[rows.len() - 1]),
            None,
        ),
        (
            vec!["--time-range".into(), "1100..1200".into()],
            time(1100, 1200),
            None,
        ),
        (
            vec!["--time-range".into(), "..1050".into()],
            time(i64::MIN, 1050),
            None,
        ),
        (
            vec!["--time-range".into(), "2000..".into()],
            time(2000, i64::MAX),
            None,
        ),
        (
            vec!["--limit".into(), "7".into()],
            Box::new(|_: &RawCell| true),
            Some(7),
        ),
        (
            vec!["--limit".into(), "0".into()],
            Box::new(|_: &RawCell| true),
            Some(0),
        ),
        (
            vec![
                "--start-row".into(),
                r250.clone(),
                "--limit".into(),
                "25".into(),
            ],
            range(Some(&r250), None),
            Some(25),
        ),
        (
            vec![
                "--prefix".into(),
                "row-002".into(),
                "--time-range".into(),
                "1500..".into(),
                "--limit".into(),
                "40".into(),
            ],
            {
                let (p, t) = (prefix("row-002"), time(1500, i64::MAX));
                Box::new(move |c: &RawCell| p(c) && t(c))
            },
            Some(40),
        ),
        (
            vec![
                "-w".into(),
                "row-00300".into(),
                "--time-range".into(),
                "1000..1500".into(),
            ],
            {
                let (p, t) = (exact("row-00300"), time(1000, 1500));
                Box::new(move |c: &RawCell| p(c) && t(c))
            },
            None,
        ),
    ];
    for (args, pred, limit) in scenarios.drain(..) {
        let want: Vec<String> = all
            .iter()
            .filter(|c| pred(c))
            .take(limit.unwrap_or(usize::MAX))
            .map(RawCell::text)
            .collect();
        let mut a: Vec<&OsStr> = vec![OsStr::new("dump"), OsStr::new("-p")];
        a.extend(args.iter().map(OsStr::new));
        a.push(c.hfile.as_os_str());
        let o = hfile(&a);
        ok(&o);
        eprintln!("{:>4} cells: {}", want.len(), args.join(" "));
        assert_lines_eq(&o, &cell_lines(&o), &want, &args.join(" "));
        let last = o.stdout.lines().last().unwrap_or("");
        check!(
            o,
            last == format!("Scanned kv count -> {}", want.len()),
            "count line {last:?}"
        );
    }
    // Scenarios that select something must really select something (guards the test).
    let o = hfile(&[
        OsStr::new("dump"),
        OsStr::new("-p"),
        OsStr::new("-w"),
        OsStr::new(long193.as_str()),
        c.hfile.as_os_str(),
    ]);
    check!(o, !cell_lines(&o).is_empty(), "the long row has cells");
}

#[test]
fn dump_filter_usage_errors() {
    let Some(fx) = common::fixtures() else { return };
    let c = case(&fx, "v3_bloom_row");
    for bad in [
        &["--time-range", "100"][..],
        &["--time-range", "a..b"],
        &["--start-row", "bad\\q"],
        &["-w", ""],
    ] {
        let mut a: Vec<&OsStr> = vec![OsStr::new("dump"), OsStr::new("-p")];
        a.extend(bad.iter().map(OsStr::new));
        a.push(c.hfile.as_os_str());
        let o = hfile(&a);
        check!(o, o.code == Some(2), "usage error must exit 2");
        check!(o, o.stdout.is_empty(), "no output on usage error");
        check!(o, o.stderr.starts_with("hfile: "), "message on stderr");
    }
}

// ---------------------------------------------------------------------------------------
// Paths, refused forms, pipes.

#[test]
fn dump_directory_dumps_every_store_file() {
    let Some(fx) = common::fixtures() else { return };
    let dir = fx.join("hbase098/region-precompact");
    // Store files: every file under data/ family directories that is an HFile (the WAL and
    // .tabledesc/.regioninfo are not).
    let mut want: Vec<PathBuf> = common::walk(&dir)
        .into_iter()
        .filter(|p| {
            let below = p.strip_prefix(&dir).expect("under dir");
            let hidden_or_wal = below.components().any(|c| {
                let c = c.as_os_str().to_string_lossy();
                c.starts_with('.') || c == "WALs"
            });
            !hidden_or_wal && hbkit::hfile::HFile::open(p).is_ok()
        })
        .collect();
    want.sort();
    assert_eq!(want.len(), 12, "{want:?}");
    let o = hfile(&[
        OsStr::new("dump"),
        OsStr::new("-v"),
        OsStr::new("-p"),
        dir.as_os_str(),
    ]);
    ok(&o);
    let scanned: Vec<PathBuf> = o
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("Scanning -> "))
        .map(PathBuf::from)
        .collect();
    check!(
        o,
        scanned == want,
        "scanned files {scanned:?}\nexpected {want:?}"
    );
    // The cells are those of each file dumped alone, in the same order.
    let mut expected = Vec::new();
    let mut total = 0u64;
    for p in &want {
        let one = hfile(&[OsStr::new("dump"), OsStr::new("-p"), p.as_os_str()]);
        ok(&one);
        expected.extend(cell_lines(&one).into_iter().map(String::from));
        total += hbkit::hfile::HFile::open(p)
            .expect("open")
            .trailer
            .entry_count;
    }
    assert_eq!(expected.len() as u64, total);
    assert_lines_eq(&o, &cell_lines(&o), &expected, "directory dump");
    let last = o.stdout.lines().last().unwrap_or("");
    check!(
        o,
        last == format!("Scanned kv count -> {total}"),
        "total count"
    );

    // -m over the directory: one meta block per file.
    let o = hfile(&[OsStr::new("dump"), OsStr::new("-m"), dir.as_os_str()]);
    ok(&o);
    check!(
        o,
        o.stdout.matches("\nTrailer:\n").count() == 12,
        "12 trailers"
    );
    for p in &want {
        check!(
            o,
            o.stdout.contains(&format!("reader={},", p.display())),
            "{}",
            p.display()
        );
    }
}

#[test]
fn dump_refuses_v1_prefix_tree_and_missing_files() {
    let Some(fx) = common::fixtures() else { return };
    let v1 = fx.join("real/stumbleupon-hbase/8e8ab58dcf39412da19833fcd8f687ac");
    for flags in [&["-m"][..], &["-p"]] {
        let mut a: Vec<&OsStr> = vec![OsStr::new("dump")];
        a.extend(flags.iter().map(OsStr::new));
        a.push(v1.as_os_str());
        let o = hfile(&a);
        check!(o, o.code == Some(2), "v1 exits 2");
        check!(
            o,
            o.stderr.contains(&v1.display().to_string()),
            "stderr names the file"
        );
        check!(o, o.stderr.contains("HFile v1"), "stderr says HFile v1");
        check!(o, !o.stderr.contains("panicked"), "no panic");
    }

    let pt = fx.join("hbase098/hfile/a7_prefix_tree.hfile");
    let o = hfile(&[OsStr::new("dump"), OsStr::new("-p"), pt.as_os_str()]);
    check!(o, o.code == Some(2), "PREFIX_TREE exits 2");
    check!(
        o,
        o.stderr.contains(&pt.display().to_string()),
        "stderr names the file"
    );
    check!(
        o,
        o.stderr.contains("PREFIX_TREE"),
        "stderr names PREFIX_TREE"
    );
    check!(
        o,
        !o.stdout.contains("Scanned kv count"),
        "no count after a failure"
    );

    let tmp = tempfile::tempdir().expect("tempdir");
    let missing = tmp.path().join("no-such.hfile");
    let o = hfile(&[OsStr::new("dump"), missing.as_os_str()]);
    check!(o, o.code == Some(2), "missing file exits 2");
    check!(
        o,
        o.stderr.contains(&missing.display().to_string()),
        "stderr names the file"
    );
    let o = hfile(&[OsStr::new("verify"), missing.as_os_str()]);
    check!(o, o.code == Some(2), "verify of a missing file exits 2");

    // A good file before a refused one: the good one is still dumped, the exit is 2.
    let good = fx.join("hbase-written/v3_bloom_row/v3_bloom_row.hfile");
    let o = hfile(&[
        OsStr::new("dump"),
        OsStr::new("-p"),
        good.as_os_str(),
        v1.as_os_str(),
    ]);
    check!(o, o.code == Some(2), "exit 2");
    check!(o, cell_lines(&o).len() == 2091, "the good file's cells");

    let o = hfile(&[OsStr::new("dump")]);
    check!(o, o.code == Some(2), "no input exits 2");
}

/// `hfile dump ... | head -1`: the reader goes away after one line.
#[test]
fn dump_into_closed_pipe_does_not_panic() {
    let Some(fx) = common::fixtures() else { return };
    let big = fx.join("hbase-written/v3_mvcc_tags_diff/v3_mvcc_tags_diff.hfile");
    let dir = fx.join("hbase098/region-precompact");
    let cases: Vec<Vec<&OsStr>> = vec![
        vec![OsStr::new("dump"), OsStr::new("-p"), big.as_os_str()],
        vec![
            OsStr::new("dump"),
            OsStr::new("--json"),
            OsStr::new("-p"),
            big.as_os_str(),
        ],
        vec![
            OsStr::new("dump"),
            OsStr::new("-p"),
            OsStr::new("-v"),
            dir.as_os_str(),
            big.as_os_str(),
        ],
        vec![
            OsStr::new("dump"),
            OsStr::new("-m"),
            OsStr::new("-h"),
            OsStr::new("-b"),
            big.as_os_str(),
        ],
    ];
    for args in cases {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut child = Command::new(env!("CARGO_BIN_EXE_hfile"))
            .args(&args)
            .current_dir(tmp.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .expect("read one line");
        // The BufReader and the pipe are dropped here: the next writes fail with EPIPE.
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let desc = format!(
            "{args:?}: status {:?}, first line {first:?}\n--- stderr ---\n{stderr}",
            out.status
        );
        assert!(!first.is_empty(), "{desc}");
        assert!(!stderr.contains("panicked"), "{desc}");
        assert!(stderr.is_empty(), "no message for a closed pipe: {desc}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(
                out.status.code() == Some(0) || out.status.signal() == Some(13),
                "{desc}"
            );
        }
    }
}

/// `dump -p` formats blocks on several threads when it only prints cells; the output must be
/// the one-thread output byte for byte, for every hbase-written file, with a row filter, and
/// on a file with a damaged block in the middle (cells before it, then the error, exit 2).
#[test]
fn parallel_dump_equals_sequential_dump() {
    let Some(fx) = common::fixtures() else { return };
    let run = |threads: &str, args: &[&OsStr]| {
        let o = Command::new(env!("CARGO_BIN_EXE_hfile"))
            .arg("dump")
            .args(args)
            .env("RAYON_NUM_THREADS", threads)
            .stdin(Stdio::null())
            .output()
            .expect("run hfile");
        (
            o.status.code(),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let mut compared = 0;
    for c in cases(&fx) {
        for args in [
            vec![OsStr::new("-p"), c.hfile.as_os_str()],
            vec![OsStr::new("-e"), OsStr::new("--json"), c.hfile.as_os_str()],
            vec![
                OsStr::new("-p"),
                OsStr::new("--start-row"),
                OsStr::new("row-00010"),
                c.hfile.as_os_str(),
            ],
        ] {
            let one = run("1", &args);
            let four = run("4", &args);
            assert_eq!(one.0, Some(0), "{}: {}", c.name, one.2);
            assert!(
                one == four,
                "{}: {:?} differs between 1 and 4 threads",
                c.name,
                args
            );
            compared += 1;
        }
    }
    assert!(compared >= 60, "only {compared} comparisons");

    // A damaged data block in the middle of a multi-block file.
    let big = cases(&fx)
        .into_iter()
        .max_by_key(|c| std::fs::metadata(&c.hfile).map(|m| m.len()).unwrap_or(0))
        .expect("a case");
    let f = hbkit::hfile::HFile::open(&big.hfile).expect("open");
    let offs = f
        .data_block_offsets(f.first_data_block().expect("data"))
        .expect("offsets");
    assert!(offs.len() > 4, "{} has {} blocks", big.name, offs.len());
    let mid = offs[offs.len() / 2] as usize;
    let mut bytes = std::fs::read(&big.hfile).expect("read");
    bytes[mid + 40] ^= 0x55;
    let dir = tempfile::tempdir().expect("tmp");
    let bad = dir.path().join("bad.hfile");
    std::fs::write(&bad, &bytes).expect("write");
    let args = [OsStr::new("-p"), bad.as_os_str()];
    let one = run("1", &args);
    let four = run("4", &args);
    assert_eq!(one.0, Some(2), "{}", one.2);
    assert!(
        one.2.contains(&mid.to_string()),
        "error names the block: {}",
        one.2
    );
    assert!(!one.1.is_empty(), "cells before the damage are printed");
    assert!(
        one == four,
        "damaged file: 1 and 4 threads differ\n{}\n{}",
        one.2,
        four.2
    );
}
