//! `hwal` end to end: NDJSON validity, exit codes on clean, trailer-less, damaged and
//! unreadable files, and the dump filters.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn hwal(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hwal"))
        .args(args)
        .output()
        .expect("run hwal")
}

fn case(fx: &Path, name: &str, file: &str) -> String {
    fx.join("hbase-written")
        .join(name)
        .join(file)
        .to_string_lossy()
        .into_owned()
}

fn ndjson(o: &Output) -> Vec<serde_json::Value> {
    let s = String::from_utf8(o.stdout.clone()).expect("utf8 stdout");
    s.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {e}: {l}")))
        .collect()
}

#[test]
fn json_is_ndjson_and_matches_sidecar() {
    let Some(fx) = common::fixtures() else { return };
    let f = case(&fx, "wal_dict_tags", "wal_dict_tags.wal");
    let o = hwal(&["dump", "--json", "-p", &f]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lines = ndjson(&o);
    assert_eq!(lines.len(), 120);
    let cells: usize = lines
        .iter()
        .map(|l| l["cells"].as_array().unwrap().len())
        .sum();
    assert_eq!(cells, 354);
    // First cell against the sidecar (values printed in toStringBinary form).
    let tsv =
        std::fs::read_to_string(case(&fx, "wal_dict_tags", "wal_dict_tags.entries.tsv")).unwrap();
    let first: Vec<&str> = tsv.lines().nth(1).unwrap().split('\t').collect();
    let c = &lines[0]["cells"][0];
    assert_eq!(lines[0]["region"], first[1]);
    assert_eq!(lines[0]["table"], first[2]);
    assert_eq!(lines[0]["sequence"].as_u64().unwrap().to_string(), first[3]);
    assert_eq!(
        hbkit::bytes::from_string_binary(c["value"].as_str().unwrap()).unwrap(),
        common::unescape(first[14])
    );
}

#[test]
fn text_shape() {
    let Some(fx) = common::fixtures() else { return };
    let f = case(&fx, "wal_plain", "wal_plain.wal");
    let o = hwal(&["dump", "-p", &f]);
    assert_eq!(o.status.code(), Some(0));
    let s = String::from_utf8(o.stdout).unwrap();
    let mut lines = s.lines();
    assert!(lines
        .next()
        .unwrap()
        .starts_with("Writer Classes: ProtobufLogWriter"));
    assert_eq!(
        lines.next().unwrap(),
        "Cell Codec Class: org.apache.hadoop.hbase.regionserver.wal.WALCellCodec"
    );
    assert!(lines
        .next()
        .unwrap()
        .starts_with("Sequence=103, table=ns1:other_table, region=9e107d9d372bb6826bd81d3542a419d6, at write timestamp="));
    assert_eq!(s.matches("\nposition: ").count(), 120);
    assert!(s.contains("position: 33244\n"), "last entry position");
    assert!(s.contains("column=METAFAMILY:HBASE::FLUSH"));
    assert!(s.contains("    marker: FLUSH "));
    // -k: only rows.
    let o = hwal(&["dump", "-k", &f]);
    let s = String::from_utf8(o.stdout).unwrap();
    assert!(s.lines().skip(2).all(|l| l.starts_with("row=")), "{s}");
    assert_eq!(s.lines().count() - 2, 346);
}

#[test]
fn exit_codes() {
    let Some(fx) = common::fixtures() else { return };
    let clean = case(&fx, "wal_dict_value_gz", "wal_dict_value_gz.wal");
    let no_trailer = case(&fx, "wal_dict_value_gz", "wal_dict_value_gz.no_trailer.wal");
    let cut = case(
        &fx,
        "wal_dict_value_gz",
        "wal_dict_value_gz.truncated_mid_entry.wal",
    );
    for cmd in ["dump", "verify"] {
        assert_eq!(hwal(&[cmd, &clean]).status.code(), Some(0), "{cmd} clean");
        let o = hwal(&[cmd, &no_trailer]);
        assert_eq!(o.status.code(), Some(0), "{cmd} no trailer");
        let o = hwal(&[cmd, "--json", &cut]);
        assert_eq!(o.status.code(), Some(1), "{cmd} cut");
        let lines = ndjson(&o);
        if cmd == "dump" {
            // Every complete entry before the damage is printed.
            assert_eq!(lines.len(), 60);
        } else {
            assert_eq!(lines.len(), 1);
            assert_eq!(lines[0]["status"], "damaged");
            assert_eq!(lines[0]["entries"], 60);
            assert_eq!(lines[0]["ending"]["state"], "damaged");
            assert_eq!(lines[0]["ending"]["kind"], "truncated_entry");
            assert_eq!(lines[0]["ending"]["offset"], lines[0]["last_good_offset"]);
        }
        // Missing file and a non-WAL file: could not run; the other files still read.
        let o = hwal(&[cmd, "--json", "/nonexistent/wal", &clean]);
        assert_eq!(o.status.code(), Some(2), "{cmd} missing");
        let hfile = fx.join("hbase-written/v3_none_plain/v3_none_plain.hfile");
        let o = hwal(&[cmd, hfile.to_str().unwrap(), &cut]);
        assert_eq!(o.status.code(), Some(2), "{cmd} not a WAL");
    }
    // Damage in a directory of files: 1; empty file: clean.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("host%2C1%2C2.1700000000000"), b"").unwrap();
    let o = hwal(&["verify", dir.path().to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    std::fs::copy(&cut, dir.path().join("host%2C1%2C2.1700000000001")).unwrap();
    let o = hwal(&["verify", "--json", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(ndjson(&o).len(), 2);
    // Bad arguments.
    assert_eq!(
        hwal(&["dump", "--seq-range", "x..y", &clean]).status.code(),
        Some(2)
    );
    assert_eq!(hwal(&["dump"]).status.code(), Some(2));
}

fn dump_json(args: &[&str], f: &str) -> Vec<serde_json::Value> {
    let mut a = vec!["dump", "--json"];
    a.extend_from_slice(args);
    a.push(f);
    let o = hwal(&a);
    assert!(
        o.status.code().is_some_and(|c| c <= 1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    ndjson(&o)
}

#[test]
fn filters() {
    let Some(fx) = common::fixtures() else { return };
    let f = case(&fx, "wal_plain_tags", "wal_plain_tags.wal");
    let all = dump_json(&[], &f);
    assert_eq!(all.len(), 120);

    let t = dump_json(&["--table", "oracle_table"], &f);
    assert!(!t.is_empty() && t.iter().all(|e| e["table"] == "oracle_table"));
    let t2 = dump_json(&["--table", "oracle_table", "--table", "hbase:meta"], &f);
    let want = all
        .iter()
        .filter(|e| e["table"] == "oracle_table" || e["table"] == "hbase:meta")
        .count();
    assert_eq!(t2.len(), want);
    assert!(t2.len() > t.len());

    let r = dump_json(&["--region", "1588230740"], &f);
    assert!(!r.is_empty() && r.iter().all(|e| e["region"] == "1588230740"));

    let row = all[5]["cells"][0]["row"].as_str().unwrap().to_string();
    let w = dump_json(&["--row", &row], &f);
    assert!(!w.is_empty());
    assert!(w.iter().all(|e| e["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["row"] == row.as_str())));

    let p = dump_json(&["--row-prefix", "wrow-01"], &f);
    assert!(!p.is_empty());
    assert!(p.iter().all(|e| e["cells"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["row"].as_str().unwrap().starts_with("wrow-01"))));

    let seqs: Vec<u64> = all
        .iter()
        .map(|e| e["sequence"].as_u64().unwrap())
        .collect();
    let (lo, hi) = (seqs[10], seqs[20]);
    let s = dump_json(&["--seq-range", &format!("{lo}..{hi}")], &f);
    assert_eq!(
        s.len(),
        seqs.iter().filter(|&&x| x >= lo && x <= hi).count()
    );
    let one = dump_json(&["--seq-range", &lo.to_string()], &f);
    assert_eq!(one.len(), 1);

    let times: Vec<u64> = all
        .iter()
        .map(|e| e["write_time"].as_u64().unwrap())
        .collect();
    let from = times[50];
    let tr = dump_json(&["--time-range", &format!("{from}..")], &f);
    assert_eq!(tr.len(), times.iter().filter(|&&x| x >= from).count());

    let k = dump_json(&["--keys-only"], &f);
    assert_eq!(k.len(), 120);
    assert!(k[0]["cells"][0].get("family").is_none());

    // --start-offset: the entries from that position on.
    let off = all[30]["offset"].as_u64().unwrap();
    let so = dump_json(&["--start-offset", &off.to_string()], &f);
    assert_eq!(so.len(), 90);
    assert_eq!(so[0]["sequence"], all[30]["sequence"]);
    // Compressed WAL: replays dictionaries up to the offset.
    let fc = case(&fx, "wal_dict_tags", "wal_dict_tags.wal");
    let allc = dump_json(&["-p"], &fc);
    let off = allc[70]["offset"].as_u64().unwrap();
    let soc = dump_json(&["-p", "--start-offset", &off.to_string()], &fc);
    assert_eq!(soc.as_slice(), &allc[70..]);
    // Not an entry boundary on a compressed WAL: could not run.
    let o = hwal(&["dump", "--start-offset", &(off + 1).to_string(), &fc]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn dirs_and_recovered_edits() {
    let Some(fx) = common::fixtures() else { return };
    let dir: PathBuf = fx.join("hbase098/wal-split/c2_compressed");
    let o = hwal(&["verify", "--json", dir.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let lines = ndjson(&o);
    assert_eq!(lines.len(), 3);
    let entries: u64 = lines.iter().map(|l| l["entries"].as_u64().unwrap()).sum();
    assert_eq!(entries, 240);
    for l in &lines {
        assert_eq!(l["regions"].as_object().unwrap().len(), 1);
    }
}

/// `hwal dump` reads on one thread and renders on another, in batches: over a WAL of many
/// batches, and a copy cut mid-entry, the output must be exactly what rendering each entry
/// in order on one thread gives, for both the text and the JSON form.
#[test]
fn threaded_dump_equals_in_order_rendering() {
    use hbkit::cell::{make_key, Cell, Key};
    use hbkit::wal::pretty::{entry_json, entry_text, file_header_text, Show};
    use hbkit::wal::{WalKey, WalReader, WalWriter, WriteOptions};

    let tmp = tempfile::tempdir().unwrap();
    let mut w = WalWriter::new(Vec::new(), WriteOptions::default()).unwrap();
    for i in 0..2000u64 {
        let key = WalKey {
            encoded_region: format!("{:032x}", i % 7).into_bytes(),
            table: if i % 3 == 0 {
                b"ns:t".to_vec()
            } else {
                b"t".to_vec()
            },
            sequence_id: 10 + i,
            write_time: 1_700_000_000_000 + i,
            ..WalKey::default()
        };
        let keys: Vec<Vec<u8>> = (0..3)
            .map(|q| {
                make_key(
                    format!("row\"{i}\x01").as_bytes(),
                    b"f",
                    &[b'q', q],
                    i as i64,
                    4,
                )
            })
            .collect();
        let values: Vec<Vec<u8>> = (0..3).map(|q| vec![q as u8; (i % 50) as usize]).collect();
        let cells: Vec<Cell<'_>> = keys
            .iter()
            .zip(&values)
            .map(|(k, v)| Cell {
                key: Key::parse(k).unwrap(),
                value: v,
                tags: &[],
                seq_id: 0,
            })
            .collect();
        w.append(&key, &cells).unwrap();
    }
    let (bytes, _) = w.finish().unwrap();
    let whole = tmp.path().join("whole");
    let cut = tmp.path().join("cut");
    std::fs::write(&whole, &bytes).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    for (path, code) in [(&whole, 0), (&cut, 1)] {
        let p = path.to_str().unwrap();
        let mut name_json = Vec::new();
        hbkit::json::push_str(&mut name_json, p);
        let show = Show {
            values: true,
            keys_only: false,
        };
        let (mut text, mut json) = (Vec::new(), Vec::new());
        let mut r = WalReader::open(path).unwrap();
        text.extend_from_slice(
            file_header_text(r.header().cell_codec_cls_name.as_deref()).as_bytes(),
        );
        let mut n = 0;
        while let Some(e) = r.next_entry().unwrap() {
            entry_text(&mut text, e, show, |_| true);
            assert!(entry_json(&mut json, &name_json, e, show, |_| true));
            json.push(b'\n');
            n += 1;
        }
        assert!(n > 3 * 256, "{n} entries: more than a few batches");
        let o = hwal(&["dump", "-p", p]);
        assert_eq!(o.status.code(), Some(code));
        assert!(o.stdout == text, "text dump of {p} differs");
        let o = hwal(&["dump", "-p", "--json", p]);
        assert_eq!(o.status.code(), Some(code));
        assert!(o.stdout == json, "JSON dump of {p} differs");
        assert_eq!(ndjson(&o).len(), n);
    }
}
