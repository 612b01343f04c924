//! Cells: the KeyValue KEY layout as a zero-copy view, key types, HBase's cell comparator,
//! and the text forms HBase's tools print.
//!
//! ```text
//! KEY := rowLen:i16 row famLen:u8 family qualifier timestamp:i64 type:u8
//! ```

use std::cmp::Ordering;

use crate::bytes::{be_i64, be_u16, push_string_binary};
use crate::error::{Error, Result};

/// Bytes of a KEY that are not row, family or qualifier.
pub const KEY_INFRASTRUCTURE: usize = 2 + 1 + 8 + 1;
/// `HConstants.LATEST_TIMESTAMP`.
pub const LATEST_TIMESTAMP: i64 = i64::MAX;
/// `HConstants.OLDEST_TIMESTAMP`.
pub const OLDEST_TIMESTAMP: i64 = i64::MIN;

/// `KeyValue.Type`: the type byte of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum KeyType {
    /// Only in synthetic search keys ("last on row").
    Minimum = 0,
    /// A value.
    Put = 4,
    /// Deletes one exact version.
    Delete = 8,
    /// Deletes all columns of the family at exactly this timestamp.
    DeleteFamilyVersion = 10,
    /// Deletes all versions of the column at or before this timestamp.
    DeleteColumn = 12,
    /// Deletes all columns of the family at or before this timestamp.
    DeleteFamily = 14,
    /// Only in synthetic keys (index and bloom keys, "first on row").
    Maximum = 255,
}

impl KeyType {
    /// The type for a code byte, or None for a code HBase rejects.
    pub fn from_code(c: u8) -> Option<KeyType> {
        Some(match c {
            0 => KeyType::Minimum,
            4 => KeyType::Put,
            8 => KeyType::Delete,
            10 => KeyType::DeleteFamilyVersion,
            12 => KeyType::DeleteColumn,
            14 => KeyType::DeleteFamily,
            255 => KeyType::Maximum,
            _ => return None,
        })
    }
    /// HBase's enum name, as printed by its tools.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Minimum => "Minimum",
            KeyType::Put => "Put",
            KeyType::Delete => "Delete",
            KeyType::DeleteFamilyVersion => "DeleteFamilyVersion",
            KeyType::DeleteColumn => "DeleteColumn",
            KeyType::DeleteFamily => "DeleteFamily",
            KeyType::Maximum => "Maximum",
        }
    }
    /// Parse an HBase type name (case-insensitive).
    pub fn from_name(s: &str) -> Option<KeyType> {
        [
            KeyType::Minimum,
            KeyType::Put,
            KeyType::Delete,
            KeyType::DeleteFamilyVersion,
            KeyType::DeleteColumn,
            KeyType::DeleteFamily,
            KeyType::Maximum,
        ]
        .into_iter()
        .find(|t| t.name().eq_ignore_ascii_case(s))
    }
    /// True for the four delete marker types.
    pub fn is_delete(self) -> bool {
        matches!(
            self,
            KeyType::Delete
                | KeyType::DeleteFamilyVersion
                | KeyType::DeleteColumn
                | KeyType::DeleteFamily
        )
    }
}

/// Name for a raw type code, including invalid ones (printed as `Unknown(N)`).
pub fn type_name(code: u8) -> std::borrow::Cow<'static, str> {
    match KeyType::from_code(code) {
        Some(t) => t.name().into(),
        None => format!("Unknown({code})").into(),
    }
}

/// A zero-copy view of a serialized KEY, validated on construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key<'a> {
    raw: &'a [u8],
    row_len: usize,
    fam_len: usize,
}

impl<'a> Key<'a> {
    /// Validate `raw` as a KEY: lengths must fit exactly.
    #[inline]
    pub fn parse(raw: &'a [u8]) -> Result<Key<'a>> {
        if let Some(k) = Key::try_parse(raw) {
            return Ok(k);
        }
        let bad = |m: String| Error::corrupt("cell key", m);
        if raw.len() < KEY_INFRASTRUCTURE {
            return Err(bad(format!(
                "key of {} bytes is shorter than the 12-byte minimum",
                raw.len()
            )));
        }
        let row_len = be_u16(raw, 0).unwrap_or(0) as usize;
        if row_len > i16::MAX as usize {
            return Err(bad(format!("row length {row_len} exceeds 32767")));
        }
        let fam_len = raw.get(2 + row_len).copied().map(usize::from);
        match fam_len {
            Some(f) if 2 + row_len + 1 + f + 9 <= raw.len() => Ok(Key {
                raw,
                row_len,
                fam_len: f,
            }),
            _ => Err(bad(format!(
                "row length {row_len} and family length {} do not fit in a {}-byte key",
                fam_len.map_or("?".to_string(), |f| f.to_string()),
                raw.len()
            ))),
        }
    }
    /// [`Key::parse`] without the error: the same checks, for hot paths that take a
    /// careful path (and name the problem) when this says None.
    #[inline]
    pub fn try_parse(raw: &'a [u8]) -> Option<Key<'a>> {
        let row_len = usize::from(be_u16(raw, 0)?);
        let fam_len = usize::from(*raw.get(2 + row_len)?);
        (row_len <= i16::MAX as usize && 2 + row_len + 1 + fam_len + 9 <= raw.len()).then_some(
            Key {
                raw,
                row_len,
                fam_len,
            },
        )
    }
    /// The serialized KEY bytes.
    #[inline]
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }
    /// Row bytes.
    #[inline]
    pub fn row(&self) -> &'a [u8] {
        self.raw.get(2..2 + self.row_len).unwrap_or(&[])
    }
    /// Family bytes.
    #[inline]
    pub fn family(&self) -> &'a [u8] {
        let s = 3 + self.row_len;
        self.raw.get(s..s + self.fam_len).unwrap_or(&[])
    }
    /// Qualifier bytes.
    #[inline]
    pub fn qualifier(&self) -> &'a [u8] {
        let s = 3 + self.row_len + self.fam_len;
        self.raw.get(s..self.raw.len() - 9).unwrap_or(&[])
    }
    /// Family bytes followed by qualifier bytes.
    #[inline]
    pub fn family_qualifier(&self) -> &'a [u8] {
        self.raw
            .get(3 + self.row_len..self.raw.len() - 9)
            .unwrap_or(&[])
    }
    /// Timestamp.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        be_i64(self.raw, self.raw.len() - 9).unwrap_or(0)
    }
    /// Raw type code.
    #[inline]
    pub fn type_code(&self) -> u8 {
        self.raw.last().copied().unwrap_or(0)
    }
    /// Type, if the code is valid.
    #[inline]
    pub fn key_type(&self) -> Option<KeyType> {
        KeyType::from_code(self.type_code())
    }
    /// Row-length + row + family-length + family + qualifier: the part shared-prefix
    /// encodings compare.
    #[inline]
    pub fn column_part(&self) -> &'a [u8] {
        self.raw.get(..self.raw.len() - 9).unwrap_or(&[])
    }
    /// Append the key-only text form `row/family:qualifier/ts/Type` (no vlen/seqid suffix).
    pub fn push_text(&self, out: &mut Vec<u8>) {
        push_string_binary(out, self.row());
        out.push(b'/');
        push_string_binary(out, self.family());
        if !self.family().is_empty() {
            out.push(b':');
        }
        push_string_binary(out, self.qualifier());
        out.push(b'/');
        push_timestamp(out, self.timestamp());
        out.push(b'/');
        out.extend_from_slice(type_name(self.type_code()).as_bytes());
    }
    /// `CellUtil.getCellKeyAsString` of a key-only cell: `row/fam:qual/ts/Type/seqid=0`.
    pub fn key_string(&self) -> String {
        let mut v = Vec::new();
        self.push_text(&mut v);
        v.extend_from_slice(b"/seqid=0");
        String::from_utf8_lossy(&v).into_owned()
    }
    /// `KeyValue.KeyOnlyKeyValue.toString`: `row/fam:qual/ts/Type/vlen=0/mvcc=0`.
    pub fn key_only_string(&self) -> String {
        let mut v = Vec::new();
        self.push_text(&mut v);
        v.extend_from_slice(b"/vlen=0/mvcc=0");
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// Append a timestamp as HBase prints it.
#[inline]
pub fn push_timestamp(out: &mut Vec<u8>, ts: i64) {
    match ts {
        LATEST_TIMESTAMP => out.extend_from_slice(b"LATEST_TIMESTAMP"),
        OLDEST_TIMESTAMP => out.extend_from_slice(b"OLDEST_TIMESTAMP"),
        _ => out.extend_from_slice(itoa::Buffer::new().format(ts).as_bytes()),
    }
}

/// Build the KEY of a synthetic key (used for seeks and index keys).
pub fn make_key(row: &[u8], family: &[u8], qualifier: &[u8], ts: i64, t: u8) -> Vec<u8> {
    let mut k = Vec::with_capacity(KEY_INFRASTRUCTURE + row.len() + family.len() + qualifier.len());
    k.extend_from_slice(&(row.len() as u16).to_be_bytes());
    k.extend_from_slice(row);
    k.push(family.len() as u8);
    k.extend_from_slice(family);
    k.extend_from_slice(qualifier);
    k.extend_from_slice(&ts.to_be_bytes());
    k.push(t);
    k
}

/// `PrivateCellUtil.createFirstOnRow(row)`: sorts before every real cell of `row`.
pub fn first_on_row(row: &[u8]) -> Vec<u8> {
    make_key(row, &[], &[], LATEST_TIMESTAMP, KeyType::Maximum as u8)
}

/// One cell as stored: KEY, value, tags block and sequence id (memstoreTS), all borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Cell<'a> {
    /// Parsed KEY.
    pub key: Key<'a>,
    /// Value bytes.
    pub value: &'a [u8],
    /// Serialized tags (`tagLen:u16 type:u8 value` repeated), empty when none.
    pub tags: &'a [u8],
    /// Sequence id / memstoreTS (0 when the file carries none).
    pub seq_id: u64,
}

impl<'a> Cell<'a> {
    /// Iterate the tags as (type, value).
    pub fn tags(&self) -> TagIter<'a> {
        TagIter { rest: self.tags }
    }
    /// Append `KeyValue.toString`: `row/family:qualifier/ts/Type/vlen=N/seqid=N`.
    pub fn push_text(&self, out: &mut Vec<u8>) {
        self.key.push_text(out);
        let mut n = itoa::Buffer::new();
        out.extend_from_slice(b"/vlen=");
        out.extend_from_slice(n.format(self.value.len()).as_bytes());
        out.extend_from_slice(b"/seqid=");
        out.extend_from_slice(n.format(self.seq_id).as_bytes());
    }
    /// The `KeyValue.toString` text as a String.
    pub fn text(&self) -> String {
        let mut v = Vec::new();
        self.push_text(&mut v);
        String::from_utf8_lossy(&v).into_owned()
    }
}

/// True when serialized `tags` split into whole tags (what [`Cell::tags`] yields without error).
pub fn tags_well_formed(tags: &[u8]) -> bool {
    TagIter { rest: tags }.all(|t| t.is_ok())
}

/// Iterator over serialized tags; stops (yielding an error once) on a malformed tag.
#[derive(Debug, Clone)]
pub struct TagIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for TagIter<'a> {
    type Item = Result<(u8, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let len = be_u16(self.rest, 0).map(usize::from);
        match len.and_then(|l| {
            if l >= 1 {
                self.rest.get(2..2 + l)
            } else {
                None
            }
        }) {
            Some(body) => {
                let l = body.len();
                self.rest = self.rest.get(2 + l..).unwrap_or(&[]);
                let (&t, v) = body.split_first()?;
                Some(Ok((t, v)))
            }
            None => {
                self.rest = &[];
                Some(Err(Error::corrupt(
                    "cell tags",
                    "tag length runs past the end of the tags",
                )))
            }
        }
    }
}

/// Which ordering a file's cells follow, from the trailer's comparator class name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// `CellComparatorImpl` / `KVComparator` / `KeyComparator`: user tables.
    Normal,
    /// `MetaCellComparator` family: hbase:meta (and 0.94's -ROOT-).
    Meta,
    /// Raw byte order of the whole key.
    RawBytes,
}

impl Order {
    /// Classify a comparator class name. Unknown names (e.g. Hudi's comparator, which
    /// extends KVComparator) get normal order; callers report the name.
    pub fn from_class_name(name: &str) -> Order {
        let n = name.trim();
        if n.contains("Meta") || n.contains("RootKeyComparator") {
            Order::Meta
        } else if n.contains("RawBytesComparator") || n.contains("ByteArrayComparator") {
            Order::RawBytes
        } else {
            Order::Normal
        }
    }
    /// Compare two KEYs (§2.5 steps 1-6; seqId is not part of the key).
    #[inline]
    pub fn compare(self, a: &Key<'_>, b: &Key<'_>) -> Ordering {
        match self {
            Order::Normal => match compare_same_shape(a, b) {
                Some(o) => o,
                None => compare_keys(a, b, crate::bytes::compare),
            },
            Order::Meta => compare_keys(a, b, compare_meta_rows),
            Order::RawBytes => a.raw().cmp(b.raw()),
        }
    }
    /// Compare two rows.
    #[inline]
    pub fn compare_rows(self, a: &[u8], b: &[u8]) -> Ordering {
        match self {
            Order::Meta => compare_meta_rows(a, b),
            _ => crate::bytes::compare(a, b),
        }
    }
}

#[inline]
fn compare_keys(a: &Key<'_>, b: &Key<'_>, rows: fn(&[u8], &[u8]) -> Ordering) -> Ordering {
    let r = rows(a.row(), b.row());
    if r != Ordering::Equal {
        return r;
    }
    compare_after_row(a, b)
}

/// Fast path of the normal order for keys whose rows and families have the same lengths
/// (the common case between neighbours): then row, family and qualifier compare as one
/// byte string. None when the shapes differ or a "last on row" key (type 0) is involved.
#[inline]
fn compare_same_shape(a: &Key<'_>, b: &Key<'_>) -> Option<Ordering> {
    if a.row_len != b.row_len || a.fam_len != b.fam_len || a.type_code() == 0 || b.type_code() == 0
    {
        return None;
    }
    let (ra, rb) = (a.raw(), b.raw());
    let ca = ra.get(2..ra.len().checked_sub(TS_TYPE_LEN)?)?;
    let cb = rb.get(2..rb.len().checked_sub(TS_TYPE_LEN)?)?;
    Some(
        crate::bytes::compare(ca, cb)
            .then_with(|| b.timestamp().cmp(&a.timestamp()))
            .then_with(|| b.type_code().cmp(&a.type_code())),
    )
}

/// Normal order of a raw KEY `prev` against `key` (whose row and family lengths are given)
/// when the first byte where they differ decides it: inside equally long rows, or inside
/// both qualifiers of the same row and family. This is most neighbouring cells, and it needs
/// no parse of `prev`. `cp` is the length of the keys' common prefix
/// ([`crate::bytes::common_prefix`]). None leaves the case to [`Order::compare`].
#[inline]
pub fn order_by_first_difference(
    prev: &[u8],
    key: &[u8],
    cp: usize,
    row_len: usize,
    fam_len: usize,
) -> Option<Ordering> {
    let qs = 3 + row_len + fam_len;
    let in_row = cp >= 2 && cp < 2 + row_len;
    let in_qualifiers = cp >= qs && cp + TS_TYPE_LEN < prev.len().min(key.len());
    if !(in_row || in_qualifiers) {
        return None;
    }
    Some(prev.get(cp)?.cmp(key.get(cp)?))
}

/// Timestamp and type bytes at the end of every KEY.
const TS_TYPE_LEN: usize = 9;

/// Order of two keys whose rows are equal (§2.5 steps 2-6).
#[inline]
pub fn compare_after_row(a: &Key<'_>, b: &Key<'_>) -> Ordering {
    // "Last on row" keys (empty column, type Minimum) sort after every cell of the row.
    let a_last = a.fam_len == 0 && a.qualifier().is_empty() && a.type_code() == 0;
    if a_last {
        return Ordering::Greater;
    }
    let b_last = b.fam_len == 0 && b.qualifier().is_empty() && b.type_code() == 0;
    if b_last {
        return Ordering::Less;
    }
    let col = if a.fam_len == b.fam_len {
        // Equal family lengths: family + qualifier compare as one byte string.
        crate::bytes::compare(a.family_qualifier(), b.family_qualifier())
    } else {
        crate::bytes::compare(a.family(), b.family())
            .then_with(|| crate::bytes::compare(a.qualifier(), b.qualifier()))
    };
    col.then_with(|| b.timestamp().cmp(&a.timestamp()))
        .then_with(|| b.type_code().cmp(&a.type_code()))
}

/// hbase:meta row order: `table,startkey,id` compared part by part.
pub fn compare_meta_rows(a: &[u8], b: &[u8]) -> Ordering {
    let ad = a.iter().position(|&c| c == b',');
    let bd = b.iter().position(|&c| c == b',');
    let ap = a.get(..ad.unwrap_or(a.len())).unwrap_or(a);
    let bp = b.get(..bd.unwrap_or(b.len())).unwrap_or(b);
    let r = ap.cmp(bp);
    if r != Ordering::Equal {
        return r;
    }
    let (ad, bd) = match (ad, bd) {
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (None, None) => return Ordering::Equal,
        (Some(x), Some(y)) => (x + 1, y + 1),
    };
    let at = a.get(ad..).unwrap_or(&[]);
    let bt = b.get(bd..).unwrap_or(&[]);
    let af = at.iter().rposition(|&c| c == b',');
    let bf = bt.iter().rposition(|&c| c == b',');
    let am = at.get(..af.unwrap_or(at.len())).unwrap_or(at);
    let bm = bt.get(..bf.unwrap_or(bt.len())).unwrap_or(bt);
    let r = am.cmp(bm);
    if r != Ordering::Equal {
        return r;
    }
    let (af, bf) = match (af, bf) {
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        (None, None) => return Ordering::Equal,
        (Some(x), Some(y)) => (x + 1, y + 1),
    };
    at.get(af..).unwrap_or(&[]).cmp(bt.get(bf..).unwrap_or(&[]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_by_first_difference_agrees_with_the_comparator() {
        // Short keys over a tiny alphabet so that rows, families and qualifiers collide,
        // share prefixes and differ in length.
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let word = |max: u64, next: &mut dyn FnMut(u64) -> u64| -> Vec<u8> {
            let len = next(max + 1);
            (0..len)
                .map(|_| [0u8, 1, 0x7f, 0x80, 0xff][next(5) as usize])
                .collect()
        };
        let mut keys = Vec::new();
        for _ in 0..400 {
            let (r, f, q) = (word(3, &mut next), word(1, &mut next), word(3, &mut next));
            let (ts, t) = (next(3) as i64 - 1, [0u8, 4, 8, 14][next(4) as usize]);
            keys.push(make_key(&r, &f, &q, ts, t));
        }
        let mut decided = 0;
        for a in &keys {
            for b in &keys {
                let kb = Key::parse(b).unwrap();
                if let Some(o) = order_by_first_difference(
                    a,
                    b,
                    crate::bytes::common_prefix(a, b),
                    kb.row().len(),
                    kb.family().len(),
                ) {
                    decided += 1;
                    let full = Order::Normal.compare(&Key::parse(a).unwrap(), &kb);
                    assert_eq!(o, full, "{a:?} vs {b:?}");
                }
            }
        }
        assert!(decided > 10_000, "only {decided} pairs took the quick path");
    }

    fn k(row: &[u8], q: &[u8], ts: i64, t: u8) -> Vec<u8> {
        make_key(row, b"cf", q, ts, t)
    }

    #[test]
    fn same_shape_fast_path_agrees_with_the_general_order() {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut pick = |n: u64| -> Vec<u8> {
            (0..next(n))
                .map(|_| [0u8, 1, 0x7f, 0x80, 0xff][next(5) as usize])
                .collect()
        };
        let mut keys = Vec::new();
        for _ in 0..400 {
            let (row, fam, q) = (pick(3), pick(2), pick(3));
            let ts = [0i64, 1, -1, i64::MAX, i64::MIN][(row.len() + q.len()) % 5];
            let t = [0u8, 4, 8, 12, 14, 255][(fam.len() + row.len() * 3) % 6];
            keys.push(make_key(&row, &fam, &q, ts, t));
        }
        for a in &keys {
            for b in &keys {
                let (ka, kb) = (Key::parse(a).unwrap(), Key::parse(b).unwrap());
                assert_eq!(
                    Order::Normal.compare(&ka, &kb),
                    compare_keys(&ka, &kb, crate::bytes::compare),
                    "{} vs {}",
                    ka.key_string(),
                    kb.key_string()
                );
            }
        }
    }

    #[test]
    fn comparator_rules() {
        let o = Order::Normal;
        let cmp = |a: &[u8], b: &[u8]| o.compare(&Key::parse(a).unwrap(), &Key::parse(b).unwrap());
        assert_eq!(
            cmp(&k(b"a", b"q", 5, 4), &k(b"b", b"q", 5, 4)),
            Ordering::Less
        );
        assert_eq!(
            cmp(&k(b"a", b"q", 5, 4), &k(b"a", b"q", 4, 4)),
            Ordering::Less,
            "newer first"
        );
        assert_eq!(
            cmp(&k(b"a", b"q", 5, 8), &k(b"a", b"q", 5, 4)),
            Ordering::Less,
            "delete before put"
        );
        assert_eq!(
            cmp(&first_on_row(b"a"), &k(b"a", b"", 5, 14)),
            Ordering::Less
        );
        let last = make_key(b"a", b"", b"", OLDEST_TIMESTAMP, 0);
        assert_eq!(cmp(&last, &k(b"a", b"zz", 5, 4)), Ordering::Greater);
        assert_eq!(cmp(&k(b"a", b"zz", 5, 4), &last), Ordering::Less);
    }

    #[test]
    fn key_text() {
        let raw = make_key(b"r\x00", b"", b"q", LATEST_TIMESTAMP, 255);
        let key = Key::parse(&raw).unwrap();
        assert_eq!(
            key.key_string(),
            "r\\x00/q/LATEST_TIMESTAMP/Maximum/seqid=0"
        );
        assert!(Key::parse(&raw[..5]).is_err());
        let mut bad = raw.clone();
        bad[0] = 0x7f;
        assert!(Key::parse(&bad).is_err());
    }

    #[test]
    fn meta_rows() {
        assert_eq!(compare_meta_rows(b"t,,1", b"t,a,1"), Ordering::Less);
        assert_eq!(compare_meta_rows(b"t1,,1", b"t,,1"), Ordering::Greater);
        assert_eq!(
            compare_meta_rows(b"t,a,b,2", b"t,a,b,10"),
            Ordering::Greater
        );
    }
}
