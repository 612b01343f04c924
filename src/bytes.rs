//! Byte-level primitives: a bounds-checked cursor over `&[u8]`, Hadoop vint/vlong,
//! protobuf varints, HBase's compressed int, and `Bytes.toStringBinary` with its inverse.
//!
//! Every read checks the length against the bytes present and returns a `Corrupt` error
//! carrying the offset inside the buffer; callers rebase it to a file offset.

use crate::error::{Error, Result};

/// A forward-only reader over a byte slice. Offsets in its errors are relative to the slice.
#[derive(Debug, Clone)]
pub struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    context: &'static str,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`; `context` names the structure in errors.
    pub fn new(buf: &'a [u8], context: &'static str) -> Self {
        Cursor {
            buf,
            pos: 0,
            context,
        }
    }
    /// Current position.
    pub fn pos(&self) -> usize {
        self.pos
    }
    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }
    /// The unread tail.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }
    fn err(&self, what: &str, need: usize) -> Error {
        Error::corrupt(
            self.context,
            format!(
                "{what}: need {need} byte(s), only {} left",
                self.remaining()
            ),
        )
        .at(self.pos as u64)
    }
    /// Take the next `n` bytes.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.err(what, n))?;
        let s = self
            .buf
            .get(self.pos..end)
            .ok_or_else(|| self.err(what, n))?;
        self.pos = end;
        Ok(s)
    }
    /// Skip `n` bytes.
    pub fn skip(&mut self, n: usize, what: &str) -> Result<()> {
        self.take(n, what).map(|_| ())
    }
    /// Take exactly `N` bytes as an array.
    pub fn array<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        let s = self.take(N, what)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }
    /// One byte.
    pub fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.array::<1>(what)?[0])
    }
    /// Big-endian u16.
    pub fn u16(&mut self, what: &str) -> Result<u16> {
        Ok(u16::from_be_bytes(self.array(what)?))
    }
    /// Big-endian i32.
    pub fn i32(&mut self, what: &str) -> Result<i32> {
        Ok(i32::from_be_bytes(self.array(what)?))
    }
    /// Big-endian i64.
    pub fn i64(&mut self, what: &str) -> Result<i64> {
        Ok(i64::from_be_bytes(self.array(what)?))
    }
    /// Big-endian i32 that must be a non-negative length.
    pub fn len32(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let v = self.i32(what)?;
        usize::try_from(v).map_err(|_| {
            Error::corrupt(self.context, format!("{what}: negative length {v}")).at(at as u64)
        })
    }
    /// Hadoop `WritableUtils` vlong.
    pub fn vlong(&mut self, what: &str) -> Result<i64> {
        let at = self.pos;
        let (v, n) = read_vlong(self.rest()).ok_or_else(|| self.err(what, 1))?;
        self.pos = at + n;
        Ok(v)
    }
    /// Hadoop vint, which must be a non-negative length that fits in the buffer's size range.
    pub fn vint_len(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let v = self.vlong(what)?;
        if !(0..=i32::MAX as i64).contains(&v) {
            return Err(
                Error::corrupt(self.context, format!("{what}: bad length {v}")).at(at as u64),
            );
        }
        Ok(v as usize)
    }
    /// Protobuf base-128 varint (up to 10 bytes).
    pub fn pbvar(&mut self, what: &str) -> Result<u64> {
        let at = self.pos;
        let (v, n) = read_pbvar(self.rest()).ok_or_else(|| {
            Error::corrupt(self.context, format!("{what}: bad or truncated varint")).at(at as u64)
        })?;
        self.pos = at + n;
        Ok(v)
    }
    /// HBase compressed int (`ByteBufferUtils.readCompressedInt`): 7-bit groups, LSB first.
    pub fn cint(&mut self, what: &str) -> Result<usize> {
        let at = self.pos;
        let (v, n) = read_cint(self.rest()).ok_or_else(|| {
            Error::corrupt(
                self.context,
                format!("{what}: bad or truncated compressed int"),
            )
            .at(at as u64)
        })?;
        self.pos = at + n;
        Ok(v as usize)
    }
}

/// Decode a Hadoop vlong at the start of `b`: (value, bytes used), or None if truncated.
#[inline]
pub fn read_vlong(b: &[u8]) -> Option<(i64, usize)> {
    let b0 = *b.first()? as i8;
    if b0 >= -112 {
        return Some((b0 as i64, 1));
    }
    read_vlong_9(b).or_else(|| read_vlong_long(b))
}

/// [`read_vlong`]'s common case: inline, branch-light, and only when nine bytes are present
/// (None otherwise).
#[inline(always)]
fn read_vlong_9(b: &[u8]) -> Option<(i64, usize)> {
    let [b0, w @ ..]: [u8; 9] = b.get(..9)?.try_into().ok()?;
    let b0 = b0 as i8;
    if b0 >= -112 {
        return Some((i64::from(b0), 1));
    }
    let neg = b0 < -120;
    // n in 1..=8 magnitude bytes follow, big-endian.
    let n = if neg {
        -120 - i32::from(b0)
    } else {
        -112 - i32::from(b0)
    } as u32;
    let v = (u64::from_be_bytes(w) >> (8 * (8 - n))) as i64;
    Some((if neg { !v } else { v }, 1 + n as usize))
}

/// [`read_vlong`] out of line, for the last bytes of a buffer.
#[inline(never)]
fn read_vlong_long(b: &[u8]) -> Option<(i64, usize)> {
    let b0 = *b.first()? as i8;
    if b0 >= -112 {
        return Some((b0 as i64, 1));
    }
    let (neg, n) = if b0 < -120 {
        (true, (-120 - b0 as i32) as usize)
    } else {
        (false, (-112 - b0 as i32) as usize)
    };
    let i = match b.get(1..9) {
        // Eight bytes present: one big-endian load, shifted down to the n that count.
        Some(w) if n <= 8 => {
            let w = u64::from_be_bytes(w.try_into().ok()?);
            (w >> (8 * (8 - n))) as i64
        }
        _ => {
            let mut i: i64 = 0;
            for &x in b.get(1..1 + n)? {
                i = (i << 8) | x as i64;
            }
            i
        }
    };
    if b.len() < 1 + n {
        return None;
    }
    Some((if neg { !i } else { i }, 1 + n))
}

/// Encode a Hadoop vlong.
#[inline]
pub fn write_vlong(out: &mut Vec<u8>, v: i64) {
    if (-112..=127).contains(&v) {
        out.push(v as u8);
        return;
    }
    let (v2, base) = if v < 0 { (!v, -120i32) } else { (v, -112i32) };
    // Bytes needed for v2 (non-zero here), big-endian after the length byte.
    let n = 8 - (v2.leading_zeros() / 8) as usize;
    out.reserve(n + 1);
    out.push((base - n as i32) as i8 as u8);
    for i in (0..n).rev() {
        out.push((v2 >> (8 * i)) as u8);
    }
}

/// Encoded size of a Hadoop vlong.
pub fn vlong_size(v: i64) -> usize {
    if (-112..=127).contains(&v) {
        return 1;
    }
    let v2 = if v < 0 { !v } else { v };
    1 + (8 - (v2.leading_zeros() as usize) / 8)
}

/// Decode a protobuf varint: (value, bytes used).
#[inline]
pub fn read_pbvar(b: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

/// Encode a protobuf varint.
pub fn write_pbvar(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decode an HBase compressed int (at most 5 bytes, value < 2^32).
#[inline]
pub fn read_cint(b: &[u8]) -> Option<(u32, usize)> {
    // One byte is the common case (lengths under 128).
    if let Some(&x) = b.first() {
        if x & 0x80 == 0 {
            return Some((u32::from(x), 1));
        }
    }
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate().take(5) {
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x & 0x80 == 0 {
            return u32::try_from(v).ok().map(|v| (v, i + 1));
        }
    }
    None
}

/// Read a big-endian u16 at `at`, if present.
#[inline]
pub fn be_u16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
/// Read a big-endian i32 at `at`, if present.
#[inline]
pub fn be_i32(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_be_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
/// Read a big-endian i64 at `at`, if present.
#[inline]
pub fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

/// The big-endian u64 made of `prev`'s first `8 - n` bytes and the `n` bytes of `b` that
/// end at `end` (n in 1..=8): a FAST_DIFF timestamp sharing its leading bytes with the
/// previous one. One eight-byte load ending at `end` (no copy through a stack buffer, which
/// would stall the load that reads it back); None when those bytes are not all present.
#[inline(always)]
pub fn be_suffix_over(prev: u64, b: &[u8], end: usize, n: usize) -> Option<u64> {
    if !(1..=8).contains(&n) || end > b.len() || n > end {
        return None;
    }
    let w = match end.checked_sub(8).and_then(|s| b.get(s..end)) {
        Some(w) => u64::from_be_bytes(w.try_into().ok()?),
        None => b
            .get(end - n..end)?
            .iter()
            .fold(0, |v, &x| (v << 8) | u64::from(x)),
    };
    let keep = if n == 8 { 0 } else { u64::MAX << (8 * n) };
    Some((prev & keep) | (w & !keep))
}

/// Append the `n` bytes of `src` at `at` to `out`. A short run (at most 16 bytes, with 16
/// present at `at`) is appended as a fixed 16-byte copy and cut back, two vector moves
/// where a variable-length copy is a call to memcpy: for rebuilding keys a few bytes at a
/// time. None when the bytes are not all there.
#[inline(always)]
pub fn extend_from(out: &mut Vec<u8>, src: &[u8], at: usize, n: usize) -> Option<()> {
    let len = out.len();
    if n <= 16 {
        if let Some(w) = src.get(at..at.checked_add(16)?) {
            let w: &[u8; 16] = w.try_into().ok()?;
            out.extend_from_slice(w);
            out.truncate(len + n);
            return Some(());
        }
    }
    out.extend_from_slice(src.get(at..at.checked_add(n)?)?);
    Some(())
}

/// Length of the common prefix of `a` and `b`, eight bytes at a time (keys of neighbouring
/// cells share most of their bytes).
#[inline]
pub fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let word = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .and_then(|w| <[u8; 8]>::try_from(w).ok())
            .map_or(0, u64::from_le_bytes)
    };
    let mut i = 0;
    while i + 8 <= n {
        let d = word(a, i) ^ word(b, i);
        if d != 0 {
            return i + (d.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a.get(i) == b.get(i) {
        i += 1;
    }
    i
}

/// Unsigned lexicographic comparison (`Bytes.compareTo`), eight bytes at a time: faster than
/// a `memcmp` call for the short rows and qualifiers cells are made of.
#[inline]
pub fn compare(a: &[u8], b: &[u8]) -> std::cmp::Ordering {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let x = a
            .get(i..i + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map_or(0, u64::from_be_bytes);
        let y = b
            .get(i..i + 8)
            .and_then(|s| <[u8; 8]>::try_from(s).ok())
            .map_or(0, u64::from_be_bytes);
        if x != y {
            return x.cmp(&y);
        }
        i += 8;
    }
    if i < n && n >= 8 {
        // The last 8 bytes (overlapping what is already known equal) in one step.
        let word = |s: &[u8]| {
            s.get(n - 8..n)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map_or(0, u64::from_be_bytes)
        };
        let (x, y) = (word(a), word(b));
        if x != y {
            return x.cmp(&y);
        }
        i = n;
    }
    while i < n {
        let (x, y) = (
            a.get(i).copied().unwrap_or(0),
            b.get(i).copied().unwrap_or(0),
        );
        if x != y {
            return x.cmp(&y);
        }
        i += 1;
    }
    a.len().cmp(&b.len())
}

/// Uppercase hex digit of a nibble.
#[inline]
fn hex_digit(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'A' + (n - 10)
    }
}

/// True for bytes `Bytes.toStringBinary` prints as themselves.
#[inline]
fn printable(c: u8) -> bool {
    (0x20..=0x7e).contains(&c) && c != b'\\'
}

/// True when none of the eight bytes of `w` needs escaping (all in 0x20..=0x7E, none `\`).
#[inline]
pub(crate) fn word_printable(w: u64) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    // A byte < 0x20, a byte > 0x7E (incl. >= 0x80), or a byte == 0x5C.
    let below = w.wrapping_sub(LO * 0x20) & !w & HI;
    let above = (w.wrapping_add(LO) | w) & HI; // 0x7F + 1 sets the high bit
    let x = w ^ (LO * 0x5c);
    let backslash = x.wrapping_sub(LO) & !x & HI;
    below | above | backslash == 0
}

/// True when no byte of `b` needs escaping: whole words, then the tail padded with spaces.
#[inline]
fn all_printable(b: &[u8]) -> bool {
    let mut chunks = b.chunks_exact(8);
    let mut ok = true;
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        ok &= word_printable(u64::from_le_bytes(w));
    }
    // The tail (< 8 bytes) over a word of spaces, without a memcpy call.
    let mut w = u64::from_le_bytes([b' '; 8]);
    for (i, &c) in chunks.remainder().iter().enumerate() {
        let sh = 8 * i as u32;
        w = (w & !(0xff << sh)) | (u64::from(c) << sh);
    }
    ok && word_printable(w)
}

/// Append HBase's `Bytes.toStringBinary` form of `b` to `out`: printable ASCII other than
/// backslash as itself, every other byte as `\xHH` (uppercase hex). Runs of printable bytes
/// are found eight at a time.
#[inline]
pub fn push_string_binary(out: &mut Vec<u8>, b: &[u8]) {
    if all_printable(b) {
        out.extend_from_slice(b);
        return;
    }
    out.reserve(b.len());
    let mut i = 0;
    let mut start = 0;
    while i < b.len() {
        if let Some(w) = b.get(i..i + 8).and_then(|s| <[u8; 8]>::try_from(s).ok()) {
            if word_printable(u64::from_le_bytes(w)) {
                i += 8;
                continue;
            }
        }
        let c = b.get(i).copied().unwrap_or(0);
        if !printable(c) {
            out.extend_from_slice(b.get(start..i).unwrap_or(&[]));
            out.extend_from_slice(&[b'\\', b'x', hex_digit(c >> 4), hex_digit(c & 15)]);
            start = i + 1;
        }
        i += 1;
    }
    out.extend_from_slice(b.get(start..).unwrap_or(&[]));
}

/// `Bytes.toStringBinary` as a `String`.
pub fn to_string_binary(b: &[u8]) -> String {
    let mut v = Vec::with_capacity(b.len());
    push_string_binary(&mut v, b);
    // Only ASCII is produced.
    String::from_utf8_lossy(&v).into_owned()
}

/// Inverse of [`to_string_binary`] (HBase's `Bytes.toBytesBinary`): `\xHH` becomes the byte,
/// everything else is taken literally as UTF-8 bytes. Unlike HBase, lowercase hex digits are
/// accepted too; a backslash not followed by `x` and two hex digits is an error.
pub fn from_string_binary(s: &str) -> Result<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        if c == b'\\' {
            let hex = |j: usize| b.get(j).and_then(|&h| (h as char).to_digit(16));
            match (b.get(i + 1), hex(i + 2), hex(i + 3)) {
                (Some(b'x'), Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 4;
                    continue;
                }
                _ => {
                    return Err(Error::usage(format!(
                        "bad escape in {s:?} at character {i}: expected \\xHH (write a backslash as \\x5C)"
                    )))
                }
            }
        }
        out.push(c);
        i += 1;
    }
    Ok(out)
}

/// Lowercase hex of `b` (HBase's `Bytes.toHex`).
pub fn to_hex(b: &[u8]) -> String {
    const D: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &c in b {
        for n in [c >> 4, c & 15] {
            s.push(char::from(D.get(usize::from(n)).copied().unwrap_or(b'0')));
        }
    }
    s
}

/// Parse hex (either case) into bytes; None on odd length or a non-hex digit.
pub fn from_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.len() % 2 != 0 {
        return None;
    }
    let nib = |c: u8| -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    };
    b.chunks(2)
        .map(|p| match p {
            [h, l] => Some((nib(*h)? << 4) | nib(*l)?),
            _ => None,
        })
        .collect()
}

/// Ask the CPU to start loading the cache line holding the start of `b` (a hint: no effect
/// on what any load returns, and nothing on targets without a prefetch instruction).
#[inline]
pub fn prefetch(b: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: PREFETCHT0 only hints the cache; it never faults or changes memory, and the
    // pointer comes from a live slice anyway.
    unsafe {
        core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(
            b.as_ptr().cast::<i8>(),
        );
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = b;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn be_suffix_over_keeps_the_leading_bytes() {
        let prev = 0x0102_0304_0506_0708u64;
        // The suffix at the end of a long buffer, and at the very start of a short one.
        let long = [0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xaa, 0xbb, 0xcc];
        assert_eq!(
            be_suffix_over(prev, &long, 10, 3),
            Some(0x0102_0304_05aa_bbcc)
        );
        assert_eq!(
            be_suffix_over(prev, &long[7..], 3, 3),
            Some(0x0102_0304_05aa_bbcc)
        );
        assert_eq!(
            be_suffix_over(prev, &long, 10, 8),
            Some(0xeeee_eeee_eeaa_bbcc)
        );
        assert_eq!(
            be_suffix_over(prev, &long, 8, 1),
            Some(0x0102_0304_0506_07aa)
        );
        // Not enough bytes, or n out of range: None.
        assert_eq!(be_suffix_over(prev, &long[7..], 3, 4), None);
        assert_eq!(be_suffix_over(prev, &long, 11, 1), None);
        assert_eq!(be_suffix_over(prev, &long, 10, 0), None);
        assert_eq!(be_suffix_over(prev, &long, 10, 9), None);
    }

    #[test]
    fn extend_from_appends_exactly_n_bytes() {
        let src: Vec<u8> = (0..40).collect();
        for at in 0..=40 {
            for n in 0..=40 {
                let mut out = vec![7u8];
                let got = extend_from(&mut out, &src, at, n);
                if at + n <= 40 {
                    assert_eq!(got, Some(()), "{at} {n}");
                    assert_eq!(out.get(1..), src.get(at..at + n), "{at} {n}");
                    assert_eq!(out.first(), Some(&7));
                } else {
                    assert_eq!(got, None, "{at} {n}");
                }
            }
        }
    }

    #[test]
    fn vlong_table_from_spec() {
        let cases: &[(i64, &[u8])] = &[
            (0, &[0x00]),
            (1, &[0x01]),
            (127, &[0x7f]),
            (-1, &[0xff]),
            (-112, &[0x90]),
            (-113, &[0x87, 0x70]),
            (128, &[0x8f, 0x80]),
            (255, &[0x8f, 0xff]),
            (256, &[0x8e, 0x01, 0x00]),
            (65535, &[0x8e, 0xff, 0xff]),
            (1 << 31, &[0x8c, 0x80, 0, 0, 0]),
            (
                1_700_000_000_000,
                &[0x8a, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x00],
            ),
            (
                i64::MAX,
                &[0x88, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (
                i64::MIN,
                &[0x80, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            ),
            (483310, &[0x8d, 0x07, 0x5f, 0xee]),
        ];
        for &(v, enc) in cases {
            let mut out = Vec::new();
            write_vlong(&mut out, v);
            assert_eq!(out, enc, "encode {v}");
            assert_eq!(read_vlong(enc), Some((v, enc.len())), "decode {v}");
            assert_eq!(
                read_vlong_long(enc),
                Some((v, enc.len())),
                "decode {v} out of line"
            );
            // The nine-byte reader: only with nine bytes present, then the same answer
            // whatever follows the vlong.
            let mut padded = enc.to_vec();
            assert_eq!(read_vlong_9(&padded), (enc.len() == 9).then_some((v, 9)));
            padded.resize(12, 0xa5);
            assert_eq!(
                read_vlong_9(&padded),
                Some((v, enc.len())),
                "decode {v} of 9"
            );
            assert_eq!(vlong_size(v), enc.len(), "size {v}");
        }
        // Truncated multi-byte vlongs are None, not a short read.
        assert_eq!(read_vlong_long(&[0x8e, 0x01]), None);
        assert_eq!(read_vlong(&[0x88, 0x7f]), None);
        assert_eq!(read_vlong(&[0x8e, 0x01]), None);
    }

    #[test]
    fn string_binary_every_byte_and_word() {
        for c in 0u8..=255 {
            for pos in 0..9 {
                let mut v = b"abcdefghijklmnop".to_vec();
                v[pos] = c;
                let mut fast = Vec::new();
                push_string_binary(&mut fast, &v);
                let slow: String = v
                    .iter()
                    .map(|&x| {
                        if printable(x) {
                            (x as char).to_string()
                        } else {
                            format!("\\x{x:02X}")
                        }
                    })
                    .collect();
                assert_eq!(
                    String::from_utf8(fast).unwrap(),
                    slow,
                    "byte {c:#x} at {pos}"
                );
            }
        }
    }

    #[test]
    fn string_binary_roundtrip() {
        let b = [0x61, 0x5c, 0x62, 0x00, 0x7f, 0x20, 0xff];
        let s = to_string_binary(&b);
        assert_eq!(s, "a\\x5Cb\\x00\\x7F \\xFF");
        assert_eq!(from_string_binary(&s).ok(), Some(b.to_vec()));
        assert!(from_string_binary("a\\q").is_err());
        assert_eq!(from_string_binary("\\xff").ok(), Some(vec![0xff]));
    }

    #[test]
    fn compare_matches_slice_order() {
        let v: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgi",
            b"\xff",
            b"abcdefgh\x00",
            b"b",
        ];
        for x in &v {
            for y in &v {
                assert_eq!(compare(x, y), x.cmp(y), "{x:?} {y:?}");
            }
        }
        // Random strings of every length up to 26 over a tiny alphabet (many ties and
        // differences in the tail, where the overlapping last word is compared).
        let mut s: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut gen = || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        };
        let mut all = Vec::new();
        for _ in 0..600 {
            let len = (gen() % 27) as usize;
            let fill = gen();
            all.push(
                (0..len)
                    .map(|i| [0u8, 0x61, 0xff][((fill >> (i % 32)) % 3) as usize])
                    .collect::<Vec<u8>>(),
            );
        }
        for x in &all {
            for y in &all {
                assert_eq!(compare(x, y), x.cmp(y), "{x:?} {y:?}");
            }
        }
    }

    #[test]
    fn varints() {
        let mut v = Vec::new();
        write_pbvar(&mut v, u64::MAX);
        assert_eq!(v.len(), 10);
        assert_eq!(read_pbvar(&v), Some((u64::MAX, 10)));
        assert_eq!(read_cint(&[0x80, 0x01]), Some((128, 2)));
        assert_eq!(read_cint(&[0x80]), None);
    }
}
