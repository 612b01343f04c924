//! Shared helpers for integration tests: locating the HBase-written fixtures and reading
//! their sidecars.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The shared fixtures folder: `$HBKIT_FIXTURES`, else `../shared/fixtures` beside the repo.
/// When it is missing the test fails under CI (`CI` set) and is skipped with a message
/// otherwise.
pub fn fixtures() -> Option<PathBuf> {
    let dir = std::env::var_os("HBKIT_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures"));
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "fixtures not found at {} (set HBKIT_FIXTURES)",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: fixtures not found at {} (set HBKIT_FIXTURES to run this test)",
        dir.display()
    );
    None
}

/// Every regular file under `dir`, sorted.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                stack.push(p);
            } else if ft.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Decode a sidecar field (`Bytes.toStringBinary` form).
pub fn unescape(s: &str) -> Vec<u8> {
    hbkit::bytes::from_string_binary(s).unwrap_or_else(|e| panic!("bad sidecar field {s:?}: {e}"))
}

/// One cell of a `.cells.tsv` sidecar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideCell {
    pub row: Vec<u8>,
    pub family: Vec<u8>,
    pub qualifier: Vec<u8>,
    pub timestamp: i64,
    pub type_name: String,
    pub seq_id: u64,
    pub value: Vec<u8>,
    /// Tags in the sidecar form `type:escaped(value)` joined by `;` (values may contain
    /// `;`, so the string form is compared rather than split).
    pub tags: String,
}

/// Read a `.cells.tsv` sidecar: the first line is a header; rows may themselves start with `#`.
pub fn read_cells_tsv(path: &Path) -> Vec<SideCell> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        if i == 0 || line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(
            f.len() >= 7,
            "{}:{}: {} fields",
            path.display(),
            i + 1,
            f.len()
        );
        let tags = f.get(7).map(|t| t.to_string()).unwrap_or_default();
        out.push(SideCell {
            row: unescape(f[0]),
            family: unescape(f[1]),
            qualifier: unescape(f[2]),
            timestamp: f[3].parse().unwrap_or_else(|_| panic!("bad ts {:?}", f[3])),
            type_name: f[4].to_string(),
            seq_id: f[5]
                .parse()
                .unwrap_or_else(|_| panic!("bad seqid {:?}", f[5])),
            value: unescape(f[6]),
            tags,
        });
    }
    out
}

/// Convert a decoded cell to the sidecar shape.
pub fn side_cell(c: &hbkit::cell::Cell<'_>) -> SideCell {
    SideCell {
        row: c.key.row().to_vec(),
        family: c.key.family().to_vec(),
        qualifier: c.key.qualifier().to_vec(),
        timestamp: c.key.timestamp(),
        type_name: hbkit::cell::type_name(c.key.type_code()).into_owned(),
        seq_id: c.seq_id,
        value: c.value.to_vec(),
        tags: c
            .tags()
            .map(|t| {
                let (ty, v) = t.expect("tag");
                format!("{ty}:{}", hbkit::bytes::to_string_binary(v))
            })
            .collect::<Vec<_>>()
            .join(";"),
    }
}
