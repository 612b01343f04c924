//! `hfile scan` of HBase's region before and after its own major compaction returns the
//! same cells (default scan and all-versions scan), as HBase's scanner does.

mod common;

use std::process::Command;

fn scan(args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .arg("scan")
        .args(["--now", "1700100000000"])
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn scan_before_and_after_compaction_agree() {
    let Some(fx) = common::fixtures() else { return };
    let pre = fx.join("hbase098/region-precompact/data/default/cmp");
    let post = fx.join("hbase098/region-postcompact/data/default/cmp");
    let a = scan(&[], &pre);
    assert_eq!(a, scan(&[], &post));
    assert_eq!(a.lines().count(), 486);
    assert!(a
        .lines()
        .all(|l| l.starts_with("K: ") && l.contains("/Put/") && l.contains(" V: ")));
    let all = scan(&["--versions", "2147483647"], &pre);
    assert_eq!(all, scan(&["--versions", "2147483647"], &post));
    assert_eq!(all.lines().count(), 612);
    // A get of one row and one column.
    let g = scan(&["--row", "r003", "--columns", "kd:q1"], &pre);
    assert_eq!(g.lines().count(), 1, "{g}");
    assert!(g.starts_with("K: r003/kd:q1/"));
    // Raw mode shows delete markers; --limit counts rows.
    let raw = scan(&["--raw", "--versions", "100"], &pre);
    assert!(raw.contains("/Delete"));
    let lim = scan(&["--limit", "2", "--json"], &pre);
    let rows: std::collections::BTreeSet<String> = lim
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["row"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(rows.len(), 2);
}

// ---------------------------------------------------------------------------------------
// --filter and --shell on the hbase098 pre-compaction region (families `kd` VERSIONS=1 and
// `v3ttl` VERSIONS=3, TTL 1 day). Expected results are computed here from unfiltered scans.

fn region() -> Option<std::path::PathBuf> {
    common::fixtures().map(|fx| fx.join("hbase098/region-precompact/data/default/cmp"))
}

/// One `K: row/fam:qual/ts/Type/vlen=N/seqid=N V: value` line.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    text: String,
    row: String,
    fam: String,
    qual: String,
    ts: i64,
    value: String,
}

fn lines(out: &str) -> Vec<Line> {
    out.lines()
        .map(|l| {
            let (k, v) = l
                .strip_prefix("K: ")
                .and_then(|x| x.split_once(" V: "))
                .unwrap_or_else(|| panic!("not a cell line: {l}"));
            let f: Vec<&str> = k.split('/').collect();
            let (fam, qual) = f[1].split_once(':').unwrap();
            Line {
                text: l.to_string(),
                row: f[0].to_string(),
                fam: fam.to_string(),
                qual: qual.to_string(),
                ts: f[2].parse().unwrap(),
                value: v.to_string(),
            }
        })
        .collect()
}

fn text(ls: &[Line]) -> String {
    ls.iter().map(|l| format!("{}\n", l.text)).collect()
}

fn rows_of(ls: &[Line]) -> Vec<String> {
    let mut v: Vec<String> = ls.iter().map(|l| l.row.clone()).collect();
    v.dedup();
    v
}

/// Every version the column tracker passes with a filter set: up to each family's VERSIONS
/// (what an unfiltered scan with unlimited --versions returns).
fn tracked(dir: &std::path::Path) -> Vec<Line> {
    lines(&scan(&["--versions", "2147483647"], dir))
}

/// Group lines by (row, family, qualifier), newest first, in scan order.
fn columns(all: &[Line]) -> Vec<Vec<Line>> {
    let mut out: Vec<Vec<Line>> = Vec::new();
    for l in all {
        match out.last_mut() {
            Some(g) if g[0].row == l.row && g[0].fam == l.fam && g[0].qual == l.qual => {
                g.push(l.clone())
            }
            _ => out.push(vec![l.clone()]),
        }
    }
    out
}

/// A stateless per-cell filter under HBase's rule: the filter is asked about each version
/// the tracker passes, and at most `versions` included ones per column are returned.
fn per_column(all: &[Line], versions: usize, keep: impl Fn(&Line) -> bool) -> Vec<Line> {
    columns(all)
        .into_iter()
        .flat_map(|g| g.into_iter().filter(|l| keep(l)).take(versions))
        .collect()
}

fn scan_f(filter: &str, extra: &[&str], dir: &std::path::Path) -> String {
    let mut a = vec!["--filter", filter];
    a.extend_from_slice(extra);
    scan(&a, dir)
}

fn scan_err(args: &[&str], dir: &std::path::Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hfile"))
        .arg("scan")
        .args(["--now", "1700100000000"])
        .args(args)
        .arg(dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn filter_row_key_filters() {
    let Some(d) = region() else { return };
    let all = lines(&scan(&[], &d));
    let expect =
        |p: &dyn Fn(&Line) -> bool| text(&all.iter().filter(|l| p(l)).cloned().collect::<Vec<_>>());
    let got = scan_f("PrefixFilter('r01')", &[], &d);
    assert_eq!(got, expect(&|l| l.row.starts_with("r01")));
    assert_eq!(rows_of(&lines(&got)).len(), 10);
    assert_eq!(
        scan_f("RowFilter(<, 'binary:r005')", &[], &d),
        expect(&|l| l.row.as_str() < "r005")
    );
    assert_eq!(
        scan_f("RowFilter(>=, 'binary:r065')", &[], &d),
        expect(&|l| l.row.as_str() >= "r065")
    );
    assert_eq!(
        scan_f("RowFilter(=, 'binaryprefix:r02')", &[], &d),
        expect(&|l| l.row.starts_with("r02"))
    );
    // regexstring uses find(): a match anywhere in the row.
    assert_eq!(
        scan_f("RowFilter(!=, 'regexstring:[13579]$')", &[], &d),
        expect(&|l| l.row.ends_with(['0', '2', '4', '6', '8']))
    );
    assert_eq!(
        scan_f("RowFilter(=, 'regexstring:3')", &[], &d),
        expect(&|l| l.row.contains('3'))
    );
    // WHILE ends the scan at the first rejected row.
    assert_eq!(
        scan_f("WHILE RowFilter(<, 'binary:r005')", &[], &d),
        expect(&|l| l.row.as_str() < "r005")
    );
    // A prefix with no rows.
    assert_eq!(scan_f("PrefixFilter('zz')", &[], &d), "");
}

#[test]
fn filter_column_filters() {
    let Some(d) = region() else { return };
    let all = lines(&scan(&[], &d));
    let expect =
        |p: &dyn Fn(&Line) -> bool| text(&all.iter().filter(|l| p(l)).cloned().collect::<Vec<_>>());
    assert_eq!(
        scan_f("FamilyFilter(=, 'binary:kd')", &[], &d),
        expect(&|l| l.fam == "kd")
    );
    assert_eq!(
        scan_f("FamilyFilter(!=, 'binary:kd')", &[], &d),
        expect(&|l| l.fam == "v3ttl")
    );
    assert_eq!(
        scan_f("FamilyFilter(>, 'binaryprefix:k')", &[], &d),
        expect(&|l| l.fam == "v3ttl")
    );
    assert_eq!(
        scan_f("QualifierFilter(>=, 'binary:q2')", &[], &d),
        expect(&|l| l.qual.as_str() >= "q2")
    );
    // substring is case-insensitive.
    assert_eq!(
        scan_f("QualifierFilter(=, 'substring:Q1')", &[], &d),
        expect(&|l| l.qual == "q1")
    );
    assert_eq!(
        scan_f("ColumnPrefixFilter('q1')", &[], &d),
        expect(&|l| l.qual.starts_with("q1"))
    );
    assert_eq!(
        scan_f("ColumnPrefixFilter('q')", &[], &d),
        expect(&|_| true)
    );
    assert_eq!(scan_f("ColumnPrefixFilter('q9')", &[], &d), "");
    assert_eq!(
        scan_f("MultipleColumnPrefixFilter('q3', 'q0')", &[], &d),
        expect(&|l| l.qual == "q0" || l.qual == "q3")
    );
    assert_eq!(
        scan_f("ColumnRangeFilter('q1', false, 'q3', true)", &[], &d),
        expect(&|l| l.qual.as_str() > "q1" && l.qual.as_str() <= "q3")
    );
    assert_eq!(
        scan_f("InclusiveStopFilter('r005')", &[], &d),
        expect(&|l| l.row.as_str() <= "r005")
    );
    // ColumnPaginationFilter(limit, offset): per row, columns offset..offset+limit in
    // scan order (families in order, then qualifiers).
    let mut want = Vec::new();
    for r in rows_of(&all) {
        let cols: Vec<&Line> = all.iter().filter(|l| l.row == r).collect();
        want.extend(cols.into_iter().skip(2).take(3).cloned());
    }
    assert_eq!(scan_f("ColumnPaginationFilter(3, 2)", &[], &d), text(&want));
    // ColumnCountGetFilter(n) (meant for gets): n columns of the first row, then every
    // store that reads a cell past the limit ends the scan of the region.
    assert_eq!(scan_f("ColumnCountGetFilter(2)", &[], &d), text(&all[..2]));
    assert_eq!(
        scan_f("ColumnCountGetFilter(2)", &["--row", "r003"], &d),
        text(
            &all.iter()
                .filter(|l| l.row == "r003")
                .take(2)
                .cloned()
                .collect::<Vec<_>>()
        )
    );
}

#[test]
fn value_filters_see_the_versions_the_family_keeps() {
    let Some(d) = region() else { return };
    let all = tracked(&d);
    let newest = lines(&scan(&[], &d));
    // With a filter HBase's column tracker counts up to the family's VERSIONS, the filter
    // is asked about each of those versions, and --versions caps what is returned after
    // it: an older matching version shows when the newest does not match.
    let got = lines(&scan_f("ValueFilter(=, 'substring:r3-')", &[], &d));
    let want = per_column(&all, 1, |l| l.value.to_lowercase().contains("r3-"));
    assert_eq!(text(&got), text(&want));
    let naive: Vec<Line> = newest
        .iter()
        .filter(|l| l.value.to_lowercase().contains("r3-"))
        .cloned()
        .collect();
    assert!(got.len() > naive.len(), "{} vs {}", got.len(), naive.len());
    assert!(naive.iter().all(|l| got.contains(l)));
    // kd has VERSIONS=1: only its newest cell can match.
    assert!(got
        .iter()
        .filter(|l| l.fam == "kd")
        .all(|l| newest.contains(l)));

    let re = "ValueFilter(=, 'regexstring:@F\\+[1-4]00$')";
    let m = |l: &Line| {
        let t = l.value.rsplit_once("@F+").map_or("", |x| x.1);
        ["100", "200", "300", "400"].contains(&t)
    };
    assert_eq!(scan_f(re, &[], &d), text(&per_column(&all, 1, m)));
    assert_eq!(
        scan_f(re, &["--versions", "2"], &d),
        text(&per_column(&all, 2, m))
    );
    assert_eq!(
        scan_f("ValueFilter(<, 'binary:R3')", &["--versions", "3"], &d),
        text(&per_column(&all, 3, |l| l.value.as_str() < "R3"))
    );
    assert_eq!(
        scan_f("ValueFilter(=, 'regexstringnocase:-KD:Q2@')", &[], &d),
        text(&per_column(&all, 1, |l| l.value.contains("-kd:q2@")))
    );
}

#[test]
fn timestamps_filter_and_versions() {
    let Some(d) = region() else { return };
    let all = tracked(&d);
    let newest = lines(&scan(&[], &d));
    let set = [1700015400100i64, 1700015400400];
    let f = "TimestampsFilter(1700015400400, 1700015400100)";
    let got = lines(&scan_f(f, &[], &d));
    assert_eq!(
        text(&got),
        text(&per_column(&all, 1, |l| set.contains(&l.ts)))
    );
    assert!(got.iter().all(|l| set.contains(&l.ts)));
    // Some returned versions are not the newest of their column.
    assert!(got.iter().any(|l| !newest.contains(l)));
    assert_eq!(
        scan_f(f, &["--versions", "3"], &d),
        text(&per_column(&all, 3, |l| set.contains(&l.ts)))
    );
    // And with --time-range: the range applies before the filter.
    assert_eq!(
        scan_f(
            f,
            &["--versions", "3", "--time-range", "1700015400200.."],
            &d
        ),
        text(&per_column(&all, 3, |l| l.ts == 1700015400400))
    );
    assert_eq!(scan_f("TimestampsFilter(5)", &[], &d), "");
}

#[test]
fn single_column_value_filter_drops_whole_rows() {
    let Some(d) = region() else { return };
    let all = tracked(&d);
    let newest = lines(&scan(&[], &d));
    let q0 = |row: &str| -> Vec<Line> {
        all.iter()
            .filter(|l| l.row == row && l.fam == "v3ttl" && l.qual == "q0")
            .cloned()
            .collect()
    };
    let keep_rows = |keep: &dyn Fn(&[Line]) -> bool| -> String {
        text(
            &newest
                .iter()
                .filter(|l| keep(&q0(&l.row)))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    let r5 = |l: &Line| l.value.starts_with("R5-");
    // Default: the newest version decides; rows without the column stay.
    let got = scan_f(
        "SingleColumnValueFilter('v3ttl', 'q0', =, 'regexstring:^R5-')",
        &[],
        &d,
    );
    let want = keep_rows(&|v| v.first().is_none_or(r5));
    assert_eq!(got, want);
    let n = rows_of(&lines(&got)).len();
    assert!(n > 0 && n < rows_of(&newest).len());
    // Every returned row is returned whole (all its columns).
    for r in rows_of(&lines(&got)) {
        assert_eq!(
            lines(&got).iter().filter(|l| l.row == r).count(),
            newest.iter().filter(|l| l.row == r).count()
        );
    }
    // filterIfMissing = true drops rows without v3ttl:q0 as well.
    assert_eq!(
        scan_f(
            "SingleColumnValueFilter('v3ttl','q0',=,'regexstring:^R5-',true,true)",
            &[],
            &d
        ),
        keep_rows(&|v| v.first().is_some_and(r5))
    );
    // latestVersionOnly = false: any version the filter is asked about may match. Every
    // version is INCLUDEd by this filter, so with --versions N it sees the first N+1
    // versions of the column (the N+1th is where the version cap stops the column).
    let f = "SingleColumnValueFilter('v3ttl','q0',=,'regexstring:^R3-',true,false)";
    let r3 = |l: &Line| l.value.starts_with("R3-");
    assert_eq!(scan_f(f, &[], &d), keep_rows(&|v| v.iter().take(2).any(r3)));
    let newest2 = lines(&scan(&["--versions", "2"], &d));
    let want2: Vec<Line> = newest2
        .iter()
        .filter(|l| q0(&l.row).iter().take(3).any(r3))
        .cloned()
        .collect();
    assert_eq!(scan_f(f, &["--versions", "2"], &d), text(&want2));
    // The fixture makes the difference visible: r000's R3 version is its third.
    assert!(q0("r000").iter().position(r3) == Some(2));
    assert!(!scan_f(f, &[], &d).contains("K: r000/"));
    assert!(scan_f(f, &["--versions", "2"], &d).contains("K: r000/"));
}

#[test]
fn page_key_only_and_first_key_only_filters() {
    let Some(d) = region() else { return };
    let newest = lines(&scan(&[], &d));
    let rows = rows_of(&newest);
    let first_rows = |n: usize| -> String {
        text(
            &newest
                .iter()
                .filter(|l| rows[..n].contains(&l.row))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(scan_f("PageFilter(2)", &[], &d), first_rows(2));
    assert_eq!(rows_of(&lines(&scan_f("PageFilter(2)", &[], &d))).len(), 2);
    assert_eq!(scan_f("PageFilter(0)", &[], &d), "");
    // --json keeps working with filters.
    let js = scan_f("PageFilter(1)", &["--json"], &d);
    assert_eq!(
        js.lines().count(),
        newest.iter().filter(|l| l.row == rows[0]).count()
    );
    for l in js.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        assert_eq!(v["row"], rows[0].as_str());
    }
    // PageFilter counts rows that reach the end of the row with cells; inside an AND it
    // counts only rows the members before it kept.
    let scv = "SingleColumnValueFilter('v3ttl', 'q0', =, 'regexstring:^R5-')";
    let scv_lines = lines(&scan_f(scv, &[], &d));
    let scv_rows = rows_of(&scv_lines);
    assert!(scv_rows.len() > 3);
    let take_rows = |ls: &[Line], rs: &[String]| {
        text(
            &ls.iter()
                .filter(|l| rs.contains(&l.row))
                .cloned()
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(
        scan_f(&format!("{scv} AND PageFilter(3)"), &[], &d),
        take_rows(&scv_lines, &scv_rows[..3])
    );
    // PageFilter first: it counts each non-empty row before the SCVF drops it. (Each of
    // the first rows has kd cells, which come before v3ttl and are kept when the row ends.)
    for r in &rows[..3] {
        assert!(newest.iter().any(|l| &l.row == r && l.fam == "kd"));
    }
    let in_first3: Vec<String> = scv_rows
        .iter()
        .filter(|r| rows[..3].contains(r))
        .cloned()
        .collect();
    assert!(in_first3.len() < 3);
    assert_eq!(
        scan_f(&format!("PageFilter(3) AND {scv}"), &[], &d),
        take_rows(&scv_lines, &in_first3)
    );

    // KeyOnlyFilter: same keys, empty values (lenAsVal: the 4-byte value length).
    let ko = lines(&scan_f("KeyOnlyFilter()", &[], &d));
    assert_eq!(ko.len(), newest.len());
    for (k, n) in ko.iter().zip(&newest) {
        assert_eq!(
            (&k.row, &k.fam, &k.qual, k.ts),
            (&n.row, &n.fam, &n.qual, n.ts)
        );
        assert_eq!(k.value, "");
        assert!(k.text.contains("/vlen=0/"), "{}", k.text);
    }
    let kl = lines(&scan_f("KeyOnlyFilter(true)", &[], &d));
    for (k, n) in kl.iter().zip(&newest) {
        assert!(k.text.contains("/vlen=4/"), "{}", k.text);
        assert_eq!(k.value, format!("\\x00\\x00\\x00\\x{:02X}", n.value.len()));
    }
    // FirstKeyOnlyFilter: the first cell of every row.
    let fk = lines(&scan_f("FirstKeyOnlyFilter()", &[], &d));
    let want: Vec<Line> = rows
        .iter()
        .map(|r| newest.iter().find(|l| &l.row == r).unwrap().clone())
        .collect();
    assert_eq!(text(&fk), text(&want));
    let both = lines(&scan_f("FirstKeyOnlyFilter() AND KeyOnlyFilter()", &[], &d));
    assert_eq!(both.len(), rows.len());
    assert!(both.iter().all(|l| l.value.is_empty()));
}

#[test]
fn filter_and_or_skip_combinations() {
    let Some(d) = region() else { return };
    let all = tracked(&d);
    let newest = lines(&scan(&[], &d));
    let expect = |p: &dyn Fn(&Line) -> bool| {
        text(&newest.iter().filter(|l| p(l)).cloned().collect::<Vec<_>>())
    };
    // AND binds tighter than OR.
    assert_eq!(
        scan_f(
            "PrefixFilter('r00') AND QualifierFilter(=, 'binary:q2') OR FamilyFilter(=, 'binary:kd') AND RowFilter(=, 'binary:r010')",
            &[],
            &d
        ),
        expect(&|l| (l.row.starts_with("r00") && l.qual == "q2") || (l.fam == "kd" && l.row == "r010"))
    );
    assert_eq!(
        scan_f(
            "PrefixFilter('r00') AND (QualifierFilter(=, 'binary:q2') OR FamilyFilter(=, 'binary:kd'))",
            &[],
            &d
        ),
        expect(&|l| l.row.starts_with("r00") && (l.qual == "q2" || l.fam == "kd"))
    );
    assert_eq!(
        scan_f(
            "(RowFilter(<, 'binary:r003') OR RowFilter(>, 'binary:r066')) AND ColumnPrefixFilter('q3')",
            &[],
            &d
        ),
        expect(&|l| (l.row.as_str() < "r003" || l.row.as_str() > "r066") && l.qual == "q3")
    );
    // OR of value conditions: per column, the newest version either accepts.
    let got = scan_f(
        "ValueFilter(=, 'substring:@f+100') OR ValueFilter(=, 'substring:@F+200')",
        &[],
        &d,
    );
    assert_eq!(
        got,
        text(&per_column(&all, 1, |l| l.value.ends_with("@F+100")
            || l.value.ends_with("@F+200")))
    );
    // SKIP: a row goes only if the wrapped filter included every cell it was asked about
    // (per column: versions until the one past the --versions cap).
    let ok = |l: &Line| l.value.ends_with("@F+100");
    let skip_rows: Vec<String> = rows_of(&all)
        .into_iter()
        .filter(|r| {
            columns(&all).iter().filter(|g| &g[0].row == r).all(|g| {
                let mut included = 0;
                for l in g {
                    if !ok(l) {
                        return false;
                    }
                    included += 1;
                    if included > 1 {
                        break;
                    }
                }
                true
            })
        })
        .collect();
    assert!(!skip_rows.is_empty());
    let want: Vec<Line> = per_column(&all, 1, ok)
        .into_iter()
        .filter(|l| skip_rows.contains(&l.row))
        .collect();
    assert_eq!(
        scan_f(
            "SKIP ValueFilter(=, 'binary:xx') OR SKIP ValueFilter(=, 'regexstring:@F\\+100$')",
            &[],
            &d
        ),
        text(&want)
    );
}

#[test]
fn filter_errors_are_usage_errors_with_position() {
    let Some(d) = region() else { return };
    let (code, err) = scan_err(
        &[
            "--filter",
            "PrefixFilter('r0') AND ValueFilter(<, 'substring:x')",
        ],
        &d,
    );
    assert_eq!(code, 2, "{err}");
    let l: Vec<&str> = err.lines().collect();
    assert!(
        l[0].contains("--filter") && l[0].contains("= and !="),
        "{err}"
    );
    assert_eq!(
        l[1],
        "  PrefixFilter('r0') AND ValueFilter(<, 'substring:x')"
    );
    assert_eq!(l[2], format!("  {}^", " ".repeat(38)));
    let (code, err) = scan_err(&["--filter", "PrefixFilter('r0'"], &d);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing ')'"), "{err}");
    let (code, err) = scan_err(&["--filter", "NoSuchFilter()"], &d);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown filter \"NoSuchFilter\""), "{err}");
}

/// `yyyy-MM-ddTHH:mm[:ss[.SSS]]` (UTC) of the fixture's fresh cells: 1700015400000 is
/// 2023-11-15T02:30:00Z (MANIFEST: NOW = 1700100000000 = 2023-11-16T02:00:00Z, minus 23.5 h).
fn shell_ts(ts: i64) -> String {
    let off = ts - 1_700_015_400_000;
    assert!((0..60_000).contains(&off), "{ts}");
    let (s, ms) = (off / 1000, off % 1000);
    match (s, ms) {
        (0, 0) => "2023-11-15T02:30".to_string(),
        (s, 0) => format!("2023-11-15T02:30:{s:02}"),
        (s, ms) => format!("2023-11-15T02:30:{s:02}.{ms:03}"),
    }
}

#[test]
fn shell_layout_for_scan_and_get() {
    let Some(d) = region() else { return };
    let newest = lines(&scan(&["--filter", "PrefixFilter('r00')"], &d));
    let got = scan(&["--shell", "--filter", "PrefixFilter('r00')"], &d);
    let mut want = String::from("ROW  COLUMN+CELL\n");
    for l in &newest {
        want.push_str(&format!(
            " {} column={}:{}, timestamp={}, value={}\n",
            l.row,
            l.fam,
            l.qual,
            shell_ts(l.ts),
            l.value
        ));
    }
    want.push_str(&format!("{} row(s)\n", rows_of(&newest).len()));
    assert_eq!(got, want);
    assert!(got.ends_with("\n10 row(s)\n"));
    // get layout with --row.
    let g = lines(&scan(&["--row", "r003"], &d));
    let got = scan(&["--row", "r003", "--shell"], &d);
    let mut want = String::from("COLUMN  CELL\n");
    for l in &g {
        want.push_str(&format!(
            " {}:{} timestamp={}, value={}\n",
            l.fam,
            l.qual,
            shell_ts(l.ts),
            l.value
        ));
    }
    want.push_str("1 row(s)\n");
    assert_eq!(got, want);
    assert_eq!(
        scan(&["--row", "nosuchrow", "--shell"], &d),
        "COLUMN  CELL\n0 row(s)\n"
    );
    // Empty scan; raw scans show delete markers as type=.
    assert_eq!(
        scan(&["--shell", "--filter", "PrefixFilter('zz')"], &d),
        "ROW  COLUMN+CELL\n0 row(s)\n"
    );
    let raw = scan(&["--shell", "--raw", "--versions", "10"], &d);
    assert!(
        raw.lines().any(|l| l.contains(", type=DeleteColumn")),
        "{raw}"
    );
    assert!(!raw
        .lines()
        .any(|l| l.contains("type=") && l.contains("value=")));
}

#[test]
fn column_value_exclude_and_dependent_column_filters() {
    let Some(d) = region() else { return };
    let all = tracked(&d);
    let newest = lines(&scan(&[], &d));
    let is_q0 = |l: &Line| l.fam == "v3ttl" && l.qual == "q0";
    let r5 = |l: &Line| l.value.starts_with("R5-");
    // ColumnValueFilter: only the column's matching versions.
    assert_eq!(
        scan_f(
            "ColumnValueFilter('v3ttl', 'q0', =, 'regexstring:^R5-')",
            &[],
            &d
        ),
        text(&per_column(&all, 1, |l| is_q0(l) && r5(l)))
    );
    assert_eq!(
        scan_f(
            "ColumnValueFilter('v3ttl', 'q0', =, 'regexstring:^R5-')",
            &["--versions", "3"],
            &d
        ),
        text(&per_column(&all, 3, |l| is_q0(l) && r5(l)))
    );
    // SingleColumnValueExcludeFilter: the rows of SingleColumnValueFilter without the column.
    let scv: Vec<Line> = lines(&scan_f(
        "SingleColumnValueFilter('v3ttl', 'q0', =, 'regexstring:^R5-')",
        &[],
        &d,
    ));
    let want: Vec<Line> = scv.iter().filter(|l| !is_q0(l)).cloned().collect();
    assert_eq!(
        scan_f(
            "SingleColumnValueExcludeFilter('v3ttl', 'q0', =, 'regexstring:^R5-')",
            &[],
            &d
        ),
        text(&want)
    );
    // DependentColumnFilter: cells whose timestamp is that of a reference-column version the
    // filter saw. Kept (INCLUDEd) reference versions count against --versions, so with
    // --versions 1 it sees two of them; dropped ones (dropDependentColumn) do not count, so
    // it sees all the versions the family keeps.
    let q0_ts = |row: &str, n: usize| -> Vec<i64> {
        all.iter()
            .filter(|l| l.row == row && is_q0(l))
            .take(n)
            .map(|l| l.ts)
            .collect()
    };
    let want: Vec<Line> = newest
        .iter()
        .filter(|l| q0_ts(&l.row, 2).contains(&l.ts))
        .cloned()
        .collect();
    let got = scan_f("DependentColumnFilter('v3ttl', 'q0')", &[], &d);
    assert_eq!(got, text(&want));
    assert!(lines(&got).iter().any(|l| !is_q0(l)));
    let want: Vec<Line> = newest
        .iter()
        .filter(|l| !is_q0(l) && q0_ts(&l.row, 3).contains(&l.ts))
        .cloned()
        .collect();
    assert_eq!(
        scan_f("DependentColumnFilter('v3ttl', 'q0', true)", &[], &d),
        text(&want)
    );
}
