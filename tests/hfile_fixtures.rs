//! Every HFile written by real HBase under ../shared/fixtures: readable ones yield exactly
//! their trailer's entry count and their sidecar's cells, byte for byte.

mod common;

use common::*;
use hbkit::hfile::HFile;

fn read_all(f: &HFile) -> Vec<SideCell> {
    let mut s = f.scanner();
    let mut out = Vec::new();
    while let Some(c) = s.next_cell().unwrap_or_else(|e| panic!("{e}")) {
        out.push(side_cell(&c));
    }
    out
}

#[test]
fn sidecar_cells_match() {
    let Some(fx) = fixtures() else { return };
    let mut checked = 0;
    for p in walk(&fx) {
        let name = p.to_string_lossy().to_string();
        let sidecar = if name.ends_with(".hfile") {
            let a = p.with_extension("cells.tsv");
            let b = std::path::PathBuf::from(format!("{name}.cells.tsv"));
            if a.exists() {
                a
            } else if b.exists() {
                b
            } else {
                continue;
            }
        } else {
            continue;
        };
        if name.contains("prefix_tree") {
            continue;
        }
        let f = HFile::open(&p).unwrap_or_else(|e| panic!("{e}"));
        let want = read_cells_tsv(&sidecar);
        let mut got = read_all(&f);
        if !f.flags.mvcc {
            // Sidecars list the seqid fed to the writer; it is not stored without mvcc.
            for c in &mut got {
                c.seq_id = 0;
            }
        }
        let want: Vec<SideCell> = want
            .into_iter()
            .map(|mut c| {
                if !f.flags.mvcc {
                    c.seq_id = 0
                }
                c
            })
            .collect();
        assert_eq!(got.len(), want.len(), "{name}: cell count");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{name}: cell {i}");
        }
        assert_eq!(
            got.len() as u64,
            f.trailer.entry_count,
            "{name}: trailer entry count"
        );
        checked += 1;
    }
    eprintln!("checked {checked} files against their sidecars");
    assert_eq!(
        checked, 47,
        "28 hbase-written and 19 readable hbase098 sidecar cases"
    );
}

/// What the fixture folders say about each HFile: its path and, if readable, the entry
/// count; unreadable forms name the error they must get.
#[derive(Debug)]
enum Expect {
    Entries(u64),
    Refused(&'static str),
}

/// Every HFile listed in real/INVENTORY.md, the hbase098 and hbase-written cases and the
/// blind files, with what reading it must give.
fn expectations(fx: &std::path::Path) -> Vec<(std::path::PathBuf, Expect)> {
    let mut out = Vec::new();
    let inv = std::fs::read_to_string(fx.join("real/INVENTORY.md")).expect("real/INVENTORY.md");
    for line in inv.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        let (Some(path), Some(kind), Some(details)) = (cols.get(1), cols.get(4), cols.get(5))
        else {
            continue;
        };
        if !kind.starts_with("HFile v") {
            continue;
        }
        let p = fx.join("real").join(path.trim_matches('`'));
        if kind.starts_with("HFile v1") {
            out.push((p, Expect::Refused("HFile v1")));
            continue;
        }
        let n = details
            .split_whitespace()
            .find_map(|w| w.strip_prefix("entries="))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no entries= in {line}"));
        out.push((p, Expect::Entries(n)));
    }
    for p in walk(&fx.join("hbase-written"))
        .into_iter()
        .chain(walk(&fx.join("hbase098/hfile")))
    {
        if p.extension().is_some_and(|e| e == "hfile") {
            let e = if p.to_string_lossy().contains("prefix_tree") {
                Expect::Refused("PREFIX_TREE")
            } else {
                Expect::Entries(u64::MAX)
            };
            out.push((p, e));
        }
    }
    for p in walk(&fx.join("hbase098/region-precompact"))
        .into_iter()
        .chain(walk(&fx.join("hbase098/region-postcompact")))
    {
        let parent = p
            .parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if parent == "kd" || parent == "v3ttl" {
            out.push((p, Expect::Entries(u64::MAX)));
        }
    }
    for p in walk(&fx.join("hbase-blind")) {
        if p.extension().is_some_and(|e| e == "hfile") {
            out.push((p, Expect::Entries(u64::MAX)));
        }
    }
    out
}

#[test]
fn every_fixture_hfile_reads_or_is_refused_clearly() {
    let Some(fx) = fixtures() else { return };
    let exp = expectations(&fx);
    assert!(exp.len() > 200, "only {} HFiles found", exp.len());
    for (p, e) in &exp {
        match (HFile::open(p), e) {
            (Ok(f), Expect::Entries(n)) => {
                let got = read_all(&f).len() as u64;
                assert_eq!(
                    got,
                    f.trailer.entry_count,
                    "{}: cells read vs trailer",
                    p.display()
                );
                if *n != u64::MAX {
                    assert_eq!(got, *n, "{}: cells read vs INVENTORY.md", p.display());
                }
            }
            (Err(err), Expect::Refused(what)) => {
                let msg = err.to_string();
                assert_eq!(err.kind, hbkit::ErrorKind::Unsupported, "{msg}");
                assert!(
                    msg.contains(what),
                    "{}: error {msg:?} should name {what}",
                    p.display()
                );
                assert!(
                    msg.contains(&p.display().to_string()),
                    "error names the file: {msg}"
                );
            }
            (Ok(f), Expect::Refused(what)) => {
                // PREFIX_TREE is refused when the first encoded block is decoded.
                let mut s = f.scanner();
                let err = loop {
                    match s.next_cell() {
                        Ok(Some(_)) => continue,
                        Ok(None) => panic!("{}: expected {what} to be refused", p.display()),
                        Err(e) => break e,
                    }
                };
                assert!(err.to_string().contains(what), "{err}");
            }
            (Err(err), Expect::Entries(_)) => panic!("{err}"),
        }
    }
}

/// Guard: every file under the fixture folders that looks like an HFile (has a trailer magic
/// near its end or the v1 trailer) is covered by `expectations`.
#[test]
fn guard_every_hfile_is_covered() {
    let Some(fx) = fixtures() else { return };
    let covered: std::collections::HashSet<_> =
        expectations(&fx).into_iter().map(|(p, _)| p).collect();
    for p in walk(&fx) {
        let Ok(b) = std::fs::read(&p) else { continue };
        let looks = [212usize, 4096, 60]
            .iter()
            .any(|&t| b.len() >= t && b[b.len() - t..].starts_with(b"TRABLK\"$"));
        if looks {
            assert!(
                covered.contains(&p),
                "{} looks like an HFile but no test covers it",
                p.display()
            );
        }
    }
}

#[test]
fn every_readable_fixture_verifies_clean() {
    let Some(fx) = fixtures() else { return };
    let mut n = 0;
    for (p, e) in expectations(&fx) {
        let r = hbkit::hfile::verify::verify_file(&p);
        match e {
            Expect::Entries(_) => {
                assert_eq!(
                    r.status,
                    hbkit::hfile::verify::Status::Clean,
                    "{}: {:#?}",
                    p.display(),
                    r.problems
                );
                assert_eq!(Some(r.cells), r.trailer_entries, "{}", p.display());
                n += 1;
            }
            Expect::Refused(_) => assert_ne!(
                r.status,
                hbkit::hfile::verify::Status::Clean,
                "{}",
                p.display()
            ),
        }
    }
    eprintln!("{n} files verified clean");
    assert!(
        n >= 190,
        "expected at least 190 readable HFiles, verified {n}"
    );
}
