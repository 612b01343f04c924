//! Renderings of WAL entries: the text shapes of HBase's `hbase wal` (WALPrettyPrinter) and
//! one-line JSON objects (NDJSON).

use std::io::Write;

use crate::bytes::push_string_binary;
use crate::cell::{type_name, Cell};
use crate::json::{self, push_binary as json_binary, push_str as json_str_bytes};

use super::marker;
use super::{Entry, WRITER_CLS_NAMES};

/// What to print of each cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Show {
    /// Values (`-p`).
    pub values: bool,
    /// Only row keys (`-k`).
    pub keys_only: bool,
}

/// `Writer Classes: ...` / `Cell Codec Class: ...` lines WALPrettyPrinter prints per file.
pub fn file_header_text(codec: Option<&str>) -> String {
    let mut s = format!("Writer Classes: {}\n", WRITER_CLS_NAMES.join(" "));
    if let Some(c) = codec {
        s.push_str("Cell Codec Class: ");
        s.push_str(c);
        s.push('\n');
    }
    s
}

/// `java.util.Date.toString()` in UTC: `Tue Nov 14 22:13:20 UTC 2023`.
pub fn java_date(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    const WD: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let wd = WD.get(days.rem_euclid(7) as usize).copied().unwrap_or("?");
    let mon = MON
        .get((m as usize).saturating_sub(1))
        .copied()
        .unwrap_or("?");
    format!(
        "{wd} {mon} {d:02} {:02}:{:02}:{:02} UTC {y}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn align8(n: u64) -> u64 {
    (n + 7) & !7
}

/// `KeyValue.heapSize()` on a 64-bit JVM with compressed oops (approximate, as HBase's own
/// number depends on the JVM).
pub fn cell_heap_size(c: &Cell<'_>) -> u64 {
    let len = 8
        + c.key.raw().len() as u64
        + c.value.len() as u64
        + if c.tags.is_empty() {
            0
        } else {
            2 + c.tags.len() as u64
        };
    32 + align8(16 + len)
}

/// `WALEdit.heapSize()` (approximate).
pub fn edit_heap_size(e: &Entry) -> u64 {
    40 + e.cells().map(|c| cell_heap_size(&c)).sum::<u64>()
}

fn push_tags_list(out: &mut Vec<u8>, c: &Cell<'_>) {
    out.push(b'[');
    for (i, t) in c.tags().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        match t {
            Ok((ty, v)) => {
                out.extend_from_slice(ty.to_string().as_bytes());
                out.push(b':');
                push_string_binary(out, v);
            }
            Err(_) => out.extend_from_slice(b"<bad tag>"),
        }
    }
    out.push(b']');
}

/// Append one entry in WALPrettyPrinter's text form, printing only the cells `keep` says.
/// Returns false (and prints nothing) when no cell is kept.
pub fn entry_text(
    out: &mut Vec<u8>,
    e: &Entry,
    show: Show,
    mut keep: impl FnMut(&Cell<'_>) -> bool,
) -> bool {
    let start = out.len();
    if !show.keys_only {
        out.extend_from_slice(b"Sequence=");
        out.extend_from_slice(e.key.sequence_id.to_string().as_bytes());
        out.extend_from_slice(b", table=");
        out.extend_from_slice(&e.key.table);
        out.extend_from_slice(b", region=");
        push_string_binary(out, &e.key.encoded_region);
        out.extend_from_slice(b", at write timestamp=");
        out.extend_from_slice(java_date(e.key.write_time).as_bytes());
        out.push(b'\n');
    }
    let mut any = false;
    for c in e.cells() {
        if !keep(&c) {
            continue;
        }
        any = true;
        out.extend_from_slice(b"row=");
        push_string_binary(out, c.key.row());
        if show.keys_only {
            out.push(b'\n');
            continue;
        }
        out.extend_from_slice(b", column=");
        push_string_binary(out, c.key.family());
        out.push(b':');
        push_string_binary(out, c.key.qualifier());
        out.extend_from_slice(b", timestamp=");
        out.extend_from_slice(c.key.timestamp().to_string().as_bytes());
        out.extend_from_slice(b", type=");
        out.extend_from_slice(type_name(c.key.type_code()).as_bytes());
        out.push(b'\n');
        if !c.tags.is_empty() {
            out.extend_from_slice(b"    tag: ");
            push_tags_list(out, &c);
            out.push(b'\n');
        }
        if show.values {
            out.extend_from_slice(b"    value: ");
            push_string_binary(out, c.value);
            out.push(b'\n');
        }
        if let Some(m) = marker::decode(&c) {
            out.extend_from_slice(b"    marker: ");
            match m {
                Ok(m) => {
                    out.extend_from_slice(m.name().as_bytes());
                    out.push(b' ');
                    let _ = serde_json::to_writer(&mut *out, &m);
                }
                Err(err) => {
                    out.extend_from_slice(b"undecodable: ");
                    out.extend_from_slice(err.message.as_bytes());
                }
            }
            out.push(b'\n');
        }
        out.extend_from_slice(b"cell total size sum: ");
        out.extend_from_slice(cell_heap_size(&c).to_string().as_bytes());
        out.push(b'\n');
    }
    if !any {
        out.truncate(start);
        return false;
    }
    if !show.keys_only {
        out.extend_from_slice(b"edit heap size: ");
        out.extend_from_slice(edit_heap_size(e).to_string().as_bytes());
        out.extend_from_slice(b"\nposition: ");
        out.extend_from_slice(e.end_offset.to_string().as_bytes());
        out.push(b'\n');
    }
    true
}

/// Append one entry as a single-line JSON object (no newline). `file_json` is the file name
/// already as a JSON string ([`json::push_str`]), made once per file. Returns false (nothing
/// appended) when no cell is kept.
pub fn entry_json(
    out: &mut Vec<u8>,
    file_json: &[u8],
    e: &Entry,
    show: Show,
    mut keep: impl FnMut(&Cell<'_>) -> bool,
) -> bool {
    let start = out.len();
    // One reservation for the whole entry: the appends below then never grow the buffer.
    out.reserve(256 + file_json.len() + e.cell_count() * 160);
    let k = &e.key;
    out.extend_from_slice(b"{\"file\":");
    out.extend_from_slice(file_json);
    out.extend_from_slice(b",\"offset\":");
    json::push_int(out, e.offset);
    out.extend_from_slice(b",\"position\":");
    json::push_int(out, e.end_offset);
    out.extend_from_slice(b",\"sequence\":");
    json::push_int(out, k.sequence_id);
    out.extend_from_slice(b",\"table\":");
    json_binary(out, &k.table);
    out.extend_from_slice(b",\"region\":");
    json_binary(out, &k.encoded_region);
    out.extend_from_slice(b",\"write_time\":");
    json::push_int(out, k.write_time);
    out.extend_from_slice(b",\"nonce_group\":");
    json::push_int(out, k.nonce_group);
    out.extend_from_slice(b",\"nonce\":");
    json::push_int(out, k.nonce);
    if let Some(o) = k.orig_sequence_number {
        let _ = write!(out, ",\"orig_sequence_number\":{o}");
    }
    if let Some(u) = k.cluster_id {
        let _ = write!(out, ",\"cluster_id\":\"{u}\"");
    }
    out.extend_from_slice(b",\"cluster_ids\":[");
    for (i, u) in k.cluster_ids.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let _ = write!(out, "\"{u}\"");
    }
    out.push(b']');
    if !k.scopes.is_empty() {
        out.extend_from_slice(b",\"scopes\":{");
        for (i, (f, s)) in k.scopes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_binary(out, f);
            let _ = write!(out, ":{s}");
        }
        out.push(b'}');
    }
    if !k.extended_attributes.is_empty() {
        out.extend_from_slice(b",\"attributes\":{");
        for (i, (name, v)) in k.extended_attributes.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str_bytes(out, name);
            out.push(b':');
            json_binary(out, v);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b",\"cells\":[");
    let mut n = 0;
    for c in e.cells() {
        if !keep(&c) {
            continue;
        }
        if n > 0 {
            out.push(b',');
        }
        n += 1;
        out.extend_from_slice(b"{\"row\":");
        json_binary(out, c.key.row());
        if show.keys_only {
            out.push(b'}');
            continue;
        }
        out.extend_from_slice(b",\"family\":");
        json_binary(out, c.key.family());
        out.extend_from_slice(b",\"qualifier\":");
        json_binary(out, c.key.qualifier());
        out.extend_from_slice(b",\"timestamp\":");
        json::push_int(out, c.key.timestamp());
        out.extend_from_slice(b",\"type\":\"");
        out.extend_from_slice(type_name(c.key.type_code()).as_bytes());
        out.extend_from_slice(b"\",\"vlen\":");
        json::push_int(out, c.value.len());
        if !c.tags.is_empty() {
            out.extend_from_slice(b",\"tags\":[");
            for (i, t) in c.tags().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match t {
                    Ok((ty, v)) => {
                        let mut s = ty.to_string().into_bytes();
                        s.push(b':');
                        push_string_binary(&mut s, v);
                        json_binary_ascii(out, &s);
                    }
                    Err(_) => out.extend_from_slice(b"null"),
                }
            }
            out.push(b']');
        }
        if show.values {
            out.extend_from_slice(b",\"value\":");
            json_binary(out, c.value);
        }
        if let Some(m) = marker::decode(&c) {
            out.extend_from_slice(b",\"marker\":");
            match m {
                Ok(m) => {
                    let _ = serde_json::to_writer(&mut *out, &m);
                }
                Err(err) => {
                    out.extend_from_slice(b"{\"marker\":\"undecodable\",\"error\":");
                    json_str_bytes(out, &err.message);
                    out.push(b'}');
                }
            }
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    if n == 0 {
        out.truncate(start);
        return false;
    }
    true
}

/// A JSON string of already-escaped (toStringBinary) ASCII text.
fn json_binary_ascii(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_dates() {
        assert_eq!(java_date(0), "Thu Jan 01 00:00:00 UTC 1970");
        assert_eq!(java_date(1_700_000_000_000), "Tue Nov 14 22:13:20 UTC 2023");
        assert_eq!(java_date(951_782_400_000), "Tue Feb 29 00:00:00 UTC 2000");
    }
}
