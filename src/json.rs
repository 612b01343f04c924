//! Small, allocation-free JSON writers for the NDJSON renderings (`hfile dump --json`,
//! `hwal dump --json`): bytes go out as JSON strings holding their `Bytes.toStringBinary`
//! form, so any byte string round-trips through `from_string_binary`.

use crate::bytes::{push_string_binary, word_printable};

/// Append a JSON string holding `toStringBinary(b)`: printable ASCII as itself (`"`
/// escaped), every other byte as `\\xHH` (the JSON escape of toStringBinary's backslash).
/// Bytes that need no escaping (the common case) are copied in one go.
#[inline]
pub fn push_binary(out: &mut Vec<u8>, b: &[u8]) {
    out.push(b'"');
    if json_safe(b) {
        out.extend_from_slice(b);
    } else {
        let start = out.len();
        push_string_binary(out, b);
        // Escape the `"` and the backslashes of `\xHH` in what was appended.
        let n = out.get(start..).map_or(0, |s| {
            s.iter().filter(|&&c| c == b'"' || c == b'\\').count()
        });
        if n > 0 {
            let tail = out.split_off(start);
            out.reserve(tail.len() + n);
            for c in tail {
                if c == b'"' || c == b'\\' {
                    out.push(b'\\');
                }
                out.push(c);
            }
        }
    }
    out.push(b'"');
}

/// True when every byte of `b` goes into a JSON string as itself: toStringBinary keeps it
/// and it is not `"`. Whole words first, then the tail padded with spaces.
#[inline]
fn json_safe(b: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let safe = |w: u64| {
        let x = w ^ (LO * u64::from(b'"'));
        word_printable(w) && x.wrapping_sub(LO) & !x & HI == 0
    };
    let mut chunks = b.chunks_exact(8);
    let mut ok = true;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        ok &= safe(u64::from_le_bytes(w));
    }
    let mut w = u64::from_le_bytes([b' '; 8]);
    for (i, &c) in chunks.remainder().iter().enumerate() {
        let sh = 8 * i as u32;
        w = (w & !(0xff << sh)) | (u64::from(c) << sh);
    }
    ok && safe(w)
}

/// Append `s` as a JSON string (UTF-8 text; quotes, backslashes and control characters
/// escaped as JSON requires).
pub fn push_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(s.as_bytes().get(start..i).unwrap_or(&[]));
        if esc.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(hex(c >> 4));
            out.push(hex(c & 15));
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(s.as_bytes().get(start..).unwrap_or(&[]));
    out.push(b'"');
}

fn hex(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + n - 10
    }
}

/// Append an integer in decimal without going through `fmt`.
#[inline]
pub fn push_int(out: &mut Vec<u8>, n: impl itoa::Integer) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary(b: &[u8]) -> String {
        let mut v = Vec::new();
        push_binary(&mut v, b);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn binary_strings_are_json_of_to_string_binary() {
        assert_eq!(binary(b"row-1"), "\"row-1\"");
        assert_eq!(binary(b"a\"b"), "\"a\\\"b\"");
        assert_eq!(binary(b"\x00\\\xff"), "\"\\\\x00\\\\x5C\\\\xFF\"");
        // Every byte value, alone and in long runs, decodes back through serde_json and
        // from_string_binary to the same bytes.
        let all: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for b in [
            &all[..],
            &all[30..120],
            b"plain text of some length, no escapes",
        ] {
            let s: String = serde_json::from_str(&binary(b)).unwrap();
            assert_eq!(crate::bytes::from_string_binary(&s).unwrap(), b);
        }
    }

    #[test]
    fn every_byte_at_every_word_position() {
        for len in [1usize, 7, 8, 9, 17] {
            for pos in 0..len {
                for c in 0..=255u8 {
                    let mut b = vec![b'a'; len];
                    b[pos] = c;
                    let mut naive = String::from("\"");
                    for &x in &b {
                        match x {
                            b'"' => naive.push_str("\\\""),
                            0x20..=0x7e if x != b'\\' => naive.push(x as char),
                            _ => naive.push_str(&format!("\\\\x{x:02X}")),
                        }
                    }
                    naive.push('"');
                    assert_eq!(binary(&b), naive, "{b:?}");
                }
            }
        }
    }

    #[test]
    fn text_strings_match_serde_json() {
        for s in [
            "",
            "plain",
            "q\"uote",
            "back\\slash",
            "ctl\x01\x1f\n\t\r",
            "ünï",
        ] {
            let mut v = Vec::new();
            push_str(&mut v, s);
            assert_eq!(
                String::from_utf8(v).unwrap(),
                serde_json::to_string(s).unwrap()
            );
        }
        let mut v = Vec::new();
        push_int(&mut v, -42i64);
        push_int(&mut v, u64::MAX);
        assert_eq!(v, b"-4218446744073709551615");
    }
}
