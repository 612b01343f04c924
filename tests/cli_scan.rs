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
