//! Bulk loading: CSV to region-partitioned HFiles in HBase's bulk-load layout
//! (`<out>/<family>/<32 hex>`), ready for `completebulkload`; plus the pre-flight check of a
//! staging directory and the offline cutting of HFiles at region boundaries.
//!
//! * [`spec`]: ImportTsv column specs, header mapping, composite row keys.
//! * [`input`]: RFC-4180 records with single- or multi-byte separators, gzip/zstd inputs.
//! * [`regions`]: split points (split file, `.regioninfo`, sampling).
//! * [`sort`]: the external merge sort (duplicates: last wins).
//! * [`build`]: the whole build.
//! * [`check`]: `hbulk check` and `hbulk split`.

pub mod build;
pub mod check;
pub mod input;
pub mod regions;
pub mod sort;
pub mod spec;

use std::hash::{BuildHasher, Hasher};

use crate::error::{Error, Result};

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A new store file name: 32 random lowercase hex digits (like HBase's dash-less UUIDs).
pub fn new_file_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = String::with_capacity(32);
    for _ in 0..2 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
        );
        h.write_u32(std::process::id());
        out.push_str(&format!("{:016x}", h.finish()));
    }
    out
}

/// Remove a directory tree, ignoring errors.
pub fn remove_dir_quietly(p: &std::path::Path) {
    let _ = std::fs::remove_dir_all(p);
}

/// Parse a size: `1048576`, `256K`, `256M`, `10G`, `1T` (binary units; optional `B`/`iB`).
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let u = t.to_ascii_uppercase();
    let u = u.trim_end_matches("IB").trim_end_matches('B');
    let (num, mult) = [
        ('K', 1u64 << 10),
        ('M', 1 << 20),
        ('G', 1 << 30),
        ('T', 1 << 40),
    ]
    .into_iter()
    .find_map(|(c, m)| u.strip_suffix(c).map(|n| (n, m)))
    .unwrap_or((u, 1));
    let bad = || Error::usage(format!("{s:?} is not a size (e.g. 256M, 10G)"));
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    if !(v.is_finite() && v >= 0.0) {
        return Err(bad());
    }
    Ok((v * mult as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(parse_size("256M").unwrap(), 256 << 20);
        assert_eq!(parse_size("1.5k").unwrap(), 1536);
        assert_eq!(parse_size("10GiB").unwrap(), 10 << 30);
        assert_eq!(parse_size("123").unwrap(), 123);
        assert!(parse_size("x").is_err());
        let a = new_file_name();
        assert_eq!(a.len(), 32);
        assert!(a
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        assert_ne!(a, new_file_name());
    }
}
