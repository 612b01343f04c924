//! Column mapping: ImportTsv's `importtsv.columns` syntax, header-name mapping and
//! composite row keys.
//!
//! `--columns` entries (comma separated, trimmed):
//! * positional, as ImportTsv: entry *i* describes field *i* of every record —
//!   `HBASE_ROW_KEY`, `HBASE_TS_KEY`, `HBASE_ATTRIBUTES_KEY` (ignored, as by ImportTsv's
//!   default mapper), `family` (empty qualifier), `family:qualifier` (split at the first
//!   `:`), or `-` (ignore the field; an hbkit extension);
//! * by header name (needs `--header`): `TARGET=name` takes the field whose header is
//!   `name`; `family:*` maps every header column not used otherwise to `family:<header>`.
//!
//! With `--header` and no `--columns`, the header names themselves are the entries.
//! `HBASE_CELL_VISIBILITY` and `HBASE_CELL_TTL` need tags HBase derives from cluster
//! state (visibility label ordinals) or raw 8-byte fields; they are refused.
//!
//! `--row-key` builds the row key from several fields (see [`RowKeySpec`]).

use crate::bytes::from_string_binary;
use crate::error::{Error, Result};

/// Where a field comes from: its header name or its 0-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldRef {
    /// `$N`: 0-based field position.
    Index(usize),
    /// A header name.
    Name(String),
}

impl FieldRef {
    fn parse(s: &str) -> FieldRef {
        match s.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()) {
            Some(i) => FieldRef::Index(i),
            None => FieldRef::Name(s.to_string()),
        }
    }
    fn resolve(&self, header: Option<&[Vec<u8>]>) -> Result<usize> {
        match self {
            FieldRef::Index(i) => Ok(*i),
            FieldRef::Name(n) => {
                let h = header.ok_or_else(|| {
                    Error::usage(format!(
                        "field {n:?} is referred to by name, which needs --header (or write $N for field N, 0-based)"
                    ))
                })?;
                h.iter()
                    .position(|x| x.as_slice() == n.as_bytes())
                    .ok_or_else(|| Error::usage(format!("the header has no column named {n:?}")))
            }
        }
    }
}

/// What a `--columns` entry maps its field to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `HBASE_ROW_KEY`.
    RowKey,
    /// `HBASE_TS_KEY`.
    Timestamp,
    /// `HBASE_ATTRIBUTES_KEY` or `-`: the field is read but produces no cell.
    Ignore,
    /// A cell column.
    Column {
        /// Family.
        family: Vec<u8>,
        /// Qualifier (may be empty).
        qualifier: Vec<u8>,
    },
    /// `family:*`: every otherwise unused header column, qualifier = header name.
    FamilyWildcard(Vec<u8>),
}

fn parse_target(s: &str) -> Result<Target> {
    match s {
        "HBASE_ROW_KEY" => return Ok(Target::RowKey),
        "HBASE_TS_KEY" => return Ok(Target::Timestamp),
        "HBASE_ATTRIBUTES_KEY" | "-" => return Ok(Target::Ignore),
        "HBASE_CELL_VISIBILITY" | "HBASE_CELL_TTL" => {
            return Err(Error::unsupported(
                "column spec",
                format!("{s} is not supported (its tags need cluster state or raw 8-byte fields)"),
            ))
        }
        "" => return Err(Error::usage("empty entry in the column spec")),
        _ => {}
    }
    let (family, qualifier) = match s.split_once(':') {
        Some((f, q)) => (f, q),
        None => (s, ""),
    };
    if family.is_empty() {
        return Err(Error::usage(format!("column {s:?} has an empty family")));
    }
    let family = from_string_binary(family)?;
    if family.len() > i8::MAX as usize {
        return Err(Error::usage(format!(
            "family in {s:?} is longer than 127 bytes"
        )));
    }
    if qualifier == "*" {
        return Ok(Target::FamilyWildcard(family));
    }
    Ok(Target::Column {
        family,
        qualifier: from_string_binary(qualifier)?,
    })
}

/// One `--columns` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// What the field becomes.
    pub target: Target,
    /// `Some` for `TARGET=name` entries, `None` for positional ones.
    pub source: Option<FieldRef>,
}

/// A parsed `--columns` value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ColumnSpec {
    /// Entries in order.
    pub entries: Vec<Entry>,
}

impl ColumnSpec {
    /// Parse the comma-separated spec. An entry containing `=` maps by field name or `$N`.
    pub fn parse(s: &str) -> Result<ColumnSpec> {
        let mut entries = Vec::new();
        for raw in s.split(',') {
            let e = raw.trim();
            let entry = match e.split_once('=') {
                Some((t, src)) => Entry {
                    target: parse_target(t.trim())?,
                    source: Some(FieldRef::parse(src.trim())),
                },
                None => Entry {
                    target: parse_target(e)?,
                    source: None,
                },
            };
            entries.push(entry);
        }
        Ok(ColumnSpec { entries })
    }

    /// The header names used as the spec (`--header` without `--columns`).
    pub fn from_header(header: &[Vec<u8>]) -> Result<ColumnSpec> {
        let mut entries = Vec::new();
        for h in header {
            let s = String::from_utf8_lossy(h);
            entries.push(Entry {
                target: parse_target(s.trim())?,
                source: None,
            });
        }
        Ok(ColumnSpec { entries })
    }
}

/// One piece of a composite row key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPart {
    /// The field's bytes.
    Field(FieldRef),
    /// Decimal text → 4-byte big-endian two's complement (`Bytes.toBytes(int)`).
    Int(Box<KeyPart>),
    /// Decimal text → 8-byte big-endian two's complement (`Bytes.toBytes(long)`).
    Long(Box<KeyPart>),
    /// Decimal text v → 8-byte big-endian `Long.MAX_VALUE - v` (newest first).
    DescLong(Box<KeyPart>),
    /// The inner bytes reversed.
    Reverse(Box<KeyPart>),
    /// A literal (`'text'`, `toStringBinary` escapes allowed).
    Literal(Vec<u8>),
}

/// `--row-key`: parts joined by `--row-key-separator`, optionally salted.
///
/// Syntax: comma-separated parts, each `FIELD` (header name or `$N`), `int(P)`, `long(P)`,
/// `desc_long(P)`, `reverse(P)` or `'literal'`, where `P` is again a part; optionally a
/// first part `salt(N)` (1 ≤ N ≤ 65536) which prefixes the key with
/// `floorMod(Arrays.hashCode(rest), N)` as 1 byte (N ≤ 256) or 2 bytes big-endian, `rest`
/// being the key built from the other parts (Java's `Arrays.hashCode(byte[])`, so a
/// reader can recompute the bucket).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowKeySpec {
    /// Salt buckets (0 = none).
    pub salt: u32,
    /// Parts in order.
    pub parts: Vec<KeyPart>,
    /// Bytes between consecutive parts.
    pub separator: Vec<u8>,
}

fn split_top_level(s: &str) -> Result<Vec<&str>> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0usize);
    for (i, c) in s.char_indices() {
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(s.get(start..i).unwrap_or("").trim());
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(Error::usage(format!(
                "unbalanced ')' in row key spec {s:?}"
            )));
        }
    }
    if depth != 0 || quoted {
        return Err(Error::usage(format!(
            "unbalanced parentheses or quotes in row key spec {s:?}"
        )));
    }
    out.push(s.get(start..).unwrap_or("").trim());
    Ok(out)
}

fn parse_part(s: &str) -> Result<KeyPart> {
    if let Some(lit) = s.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')) {
        return Ok(KeyPart::Literal(from_string_binary(lit)?));
    }
    if let Some(open) = s.find('(') {
        let name = s.get(..open).unwrap_or("").trim();
        let inner = s
            .get(open + 1..)
            .and_then(|x| x.strip_suffix(')'))
            .ok_or_else(|| Error::usage(format!("row key part {s:?} lacks its closing ')'")))?;
        let p = Box::new(parse_part(inner.trim())?);
        return match name {
            "int" => Ok(KeyPart::Int(p)),
            "long" => Ok(KeyPart::Long(p)),
            "desc_long" => Ok(KeyPart::DescLong(p)),
            "reverse" => Ok(KeyPart::Reverse(p)),
            _ => Err(Error::usage(format!(
                "unknown row key function {name:?} (int, long, desc_long, reverse; salt(N) first)"
            ))),
        };
    }
    if s.is_empty() {
        return Err(Error::usage("empty part in the row key spec"));
    }
    Ok(KeyPart::Field(FieldRef::parse(s)))
}

impl RowKeySpec {
    /// Parse `--row-key` with the separator given separately (already unescaped).
    pub fn parse(s: &str, separator: Vec<u8>) -> Result<RowKeySpec> {
        let mut salt = 0;
        let mut parts = Vec::new();
        for (i, p) in split_top_level(s)?.into_iter().enumerate() {
            if let Some(n) = p.strip_prefix("salt(").and_then(|x| x.strip_suffix(')')) {
                if i != 0 {
                    return Err(Error::usage("salt(N) must be the first row key part"));
                }
                salt = n
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=65536).contains(n))
                    .ok_or_else(|| Error::usage(format!("salt({n}): N must be 1..=65536")))?;
                continue;
            }
            parts.push(parse_part(p)?);
        }
        if parts.is_empty() {
            return Err(Error::usage("the row key spec has no parts"));
        }
        Ok(RowKeySpec {
            salt,
            parts,
            separator,
        })
    }
}

/// A row key part with its field resolved to a position.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Field(usize),
    Int(Box<Part>),
    Long(Box<Part>),
    DescLong(Box<Part>),
    Reverse(Box<Part>),
    Literal(Vec<u8>),
}

fn resolve_part(p: &KeyPart, header: Option<&[Vec<u8>]>) -> Result<Part> {
    Ok(match p {
        KeyPart::Field(f) => Part::Field(f.resolve(header)?),
        KeyPart::Int(x) => Part::Int(Box::new(resolve_part(x, header)?)),
        KeyPart::Long(x) => Part::Long(Box::new(resolve_part(x, header)?)),
        KeyPart::DescLong(x) => Part::DescLong(Box::new(resolve_part(x, header)?)),
        KeyPart::Reverse(x) => Part::Reverse(Box::new(resolve_part(x, header)?)),
        KeyPart::Literal(b) => Part::Literal(b.clone()),
    })
}

fn max_field(p: &Part) -> Option<usize> {
    match p {
        Part::Field(i) => Some(*i),
        Part::Int(x) | Part::Long(x) | Part::DescLong(x) | Part::Reverse(x) => max_field(x),
        Part::Literal(_) => None,
    }
}

/// Why a record was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BadReason {
    /// More fields than the spec describes, or too few to reach the row key / timestamp
    /// (with a header: a field count different from the header's).
    WrongColumnCount,
    /// The HBASE_TS_KEY field is not a decimal i64.
    BadTimestamp,
    /// The row key is empty.
    EmptyRowKey,
    /// An `int(...)`/`long(...)` row key part is not a decimal number.
    BadNumber,
    /// The row key is longer than 32767 bytes.
    RowKeyTooLong,
    /// The CSV reader could not parse the record.
    Malformed,
}

impl BadReason {
    /// Short name used in reports and the reject file.
    pub fn name(self) -> &'static str {
        match self {
            BadReason::WrongColumnCount => "wrong_column_count",
            BadReason::BadTimestamp => "bad_timestamp",
            BadReason::EmptyRowKey => "empty_row_key",
            BadReason::BadNumber => "bad_number",
            BadReason::RowKeyTooLong => "row_key_too_long",
            BadReason::Malformed => "malformed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RowSource {
    Field(usize),
    Composite {
        salt: u32,
        parts: Vec<Part>,
        separator: Vec<u8>,
    },
}

/// A cell column fed by one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnOut {
    /// Field position.
    pub field: usize,
    /// Family.
    pub family: Vec<u8>,
    /// Qualifier.
    pub qualifier: Vec<u8>,
}

/// The spec resolved against the header: ready to turn records into cells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapping {
    row: RowSource,
    ts: Option<usize>,
    /// Cell columns.
    pub columns: Vec<ColumnOut>,
    /// Exact field count required (header mode), if any.
    exact_fields: Option<usize>,
    /// Most fields a record may have (positional mode).
    max_fields: usize,
    /// Fields a record needs to reach the row key and timestamp.
    min_fields: usize,
}

impl Mapping {
    /// Resolve `spec` (and `row_key`, if given) against the header (if any).
    pub fn new(
        spec: &ColumnSpec,
        row_key: Option<&RowKeySpec>,
        header: Option<&[Vec<u8>]>,
    ) -> Result<Mapping> {
        let mut row_field = None;
        let mut ts = None;
        let mut columns = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        let mut wildcard = None;
        for (i, e) in spec.entries.iter().enumerate() {
            let field = match &e.source {
                Some(f) => f.resolve(header)?,
                None => i,
            };
            match &e.target {
                Target::RowKey => {
                    if row_field.replace(field).is_some() {
                        return Err(Error::usage("HBASE_ROW_KEY appears more than once"));
                    }
                }
                Target::Timestamp => {
                    if ts.replace(field).is_some() {
                        return Err(Error::usage("HBASE_TS_KEY appears more than once"));
                    }
                }
                Target::Ignore => {}
                Target::Column { family, qualifier } => columns.push(ColumnOut {
                    field,
                    family: family.clone(),
                    qualifier: qualifier.clone(),
                }),
                Target::FamilyWildcard(f) => {
                    if header.is_none() {
                        return Err(Error::usage("family:* needs --header"));
                    }
                    if wildcard.replace(f.clone()).is_some() {
                        return Err(Error::usage("only one family:* entry is allowed"));
                    }
                    continue;
                }
            }
            used.insert(field);
        }
        let row = match (row_key, row_field) {
            (Some(_), Some(_)) => return Err(Error::usage(
                "give the row key either as HBASE_ROW_KEY in --columns or with --row-key, not both",
            )),
            (None, None) => return Err(Error::usage(
                "no row key: the column spec needs exactly one HBASE_ROW_KEY (or use --row-key)",
            )),
            (None, Some(f)) => RowSource::Field(f),
            (Some(rk), None) => {
                let mut parts = Vec::new();
                for p in &rk.parts {
                    let p = resolve_part(p, header)?;
                    if let Some(f) = max_field(&p) {
                        used.insert(f);
                    }
                    parts.push(p);
                }
                RowSource::Composite {
                    salt: rk.salt,
                    parts,
                    separator: rk.separator.clone(),
                }
            }
        };
        if let (Some(f), Some(h)) = (wildcard, header) {
            for (i, name) in h.iter().enumerate() {
                if !used.contains(&i) {
                    columns.push(ColumnOut {
                        field: i,
                        family: f.clone(),
                        qualifier: name.clone(),
                    });
                }
            }
        }
        if columns.is_empty() {
            return Err(Error::usage(
                "the column spec maps no field to a column (at least one family or family:qualifier is needed)",
            ));
        }
        let mut needed = row_field.into_iter().chain(ts).collect::<Vec<_>>();
        if let RowSource::Composite { parts, .. } = &row {
            needed.extend(parts.iter().filter_map(max_field));
        }
        let min_fields = needed.iter().max().map_or(0, |m| m + 1);
        let positional_max = spec.entries.len();
        let exact_fields = header.map(<[Vec<u8>]>::len);
        let max_fields = exact_fields.unwrap_or(positional_max);
        if let Some(n) = exact_fields {
            if let Some(c) = columns.iter().find(|c| c.field >= n) {
                return Err(Error::usage(format!(
                    "field ${} is beyond the {n} header columns",
                    c.field
                )));
            }
            if min_fields > n {
                return Err(Error::usage(format!(
                    "the row key or timestamp uses field ${} beyond the {n} header columns",
                    min_fields - 1
                )));
            }
        }
        Ok(Mapping {
            row,
            ts,
            columns,
            exact_fields,
            max_fields,
            min_fields,
        })
    }

    /// Families the mapping writes, sorted and deduplicated.
    pub fn families(&self) -> Vec<Vec<u8>> {
        let mut f: Vec<Vec<u8>> = self.columns.iter().map(|c| c.family.clone()).collect();
        f.sort();
        f.dedup();
        f
    }

    /// Check the field count of a record.
    pub fn check_count(&self, n: usize) -> std::result::Result<(), BadReason> {
        let ok = match self.exact_fields {
            Some(e) => n == e,
            None => n <= self.max_fields && n >= self.min_fields,
        };
        if ok {
            Ok(())
        } else {
            Err(BadReason::WrongColumnCount)
        }
    }

    /// The record's timestamp: from HBASE_TS_KEY if mapped, else `default`.
    pub fn timestamp(
        &self,
        rec: &csv::ByteRecord,
        default: i64,
    ) -> std::result::Result<i64, BadReason> {
        match self.ts {
            None => Ok(default),
            Some(i) => {
                let f = rec.get(i).unwrap_or(b"");
                // Plain digits (the usual epoch milliseconds) are read directly.
                if !f.is_empty() && f.len() < 19 && f.iter().all(u8::is_ascii_digit) {
                    return Ok(f.iter().fold(0i64, |v, d| v * 10 + i64::from(d - b'0')));
                }
                std::str::from_utf8(f)
                    .ok()
                    .and_then(|s| s.trim().parse::<i64>().ok())
                    .ok_or(BadReason::BadTimestamp)
            }
        }
    }

    /// Build the row key into `out`.
    pub fn row_key(
        &self,
        rec: &csv::ByteRecord,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), BadReason> {
        out.clear();
        match &self.row {
            RowSource::Field(i) => out.extend_from_slice(rec.get(*i).unwrap_or(b"")),
            RowSource::Composite {
                salt,
                parts,
                separator,
            } => {
                let prefix = match *salt {
                    0 => 0,
                    n if n <= 256 => 1,
                    _ => 2,
                };
                out.resize(prefix, 0);
                for (i, p) in parts.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(separator);
                    }
                    eval_part(p, rec, out)?;
                }
                if *salt > 0 {
                    let rest = out.get(prefix..).unwrap_or(&[]);
                    let h = rest.iter().fold(1i32, |h, &b| {
                        h.wrapping_mul(31).wrapping_add(i32::from(b as i8))
                    });
                    let bucket = i64::from(h).rem_euclid(i64::from(*salt)) as u16;
                    if prefix == 1 {
                        if let Some(b) = out.first_mut() {
                            *b = bucket as u8;
                        }
                    } else if let Some(b) = out.get_mut(..2) {
                        b.copy_from_slice(&bucket.to_be_bytes());
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(BadReason::EmptyRowKey);
        }
        if out.len() > i16::MAX as usize {
            return Err(BadReason::RowKeyTooLong);
        }
        Ok(())
    }
}

fn number(p: &Part, rec: &csv::ByteRecord) -> std::result::Result<i64, BadReason> {
    let mut v = Vec::new();
    eval_part(p, rec, &mut v)?;
    std::str::from_utf8(&v)
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .ok_or(BadReason::BadNumber)
}

fn eval_part(
    p: &Part,
    rec: &csv::ByteRecord,
    out: &mut Vec<u8>,
) -> std::result::Result<(), BadReason> {
    match p {
        Part::Field(i) => out.extend_from_slice(rec.get(*i).unwrap_or(b"")),
        Part::Literal(b) => out.extend_from_slice(b),
        Part::Int(x) => {
            let n = i32::try_from(number(x, rec)?).map_err(|_| BadReason::BadNumber)?;
            out.extend_from_slice(&n.to_be_bytes());
        }
        Part::Long(x) => out.extend_from_slice(&number(x, rec)?.to_be_bytes()),
        Part::DescLong(x) => {
            let n = number(x, rec)?;
            out.extend_from_slice(&(i64::MAX - n.max(0)).to_be_bytes());
        }
        Part::Reverse(x) => {
            let start = out.len();
            eval_part(x, rec, out)?;
            if let Some(s) = out.get_mut(start..) {
                s.reverse();
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(fields: &[&str]) -> csv::ByteRecord {
        csv::ByteRecord::from(fields.to_vec())
    }

    #[test]
    fn positional_spec() {
        let s = ColumnSpec::parse("HBASE_ROW_KEY, cf:a,cf:b:c ,HBASE_TS_KEY,d").unwrap();
        let m = Mapping::new(&s, None, None).unwrap();
        assert_eq!(m.columns.len(), 3);
        assert_eq!(m.columns[1].qualifier, b"b:c");
        assert_eq!(m.columns[2].qualifier, b"");
        let r = rec(&["r1", "x", "y", "17", "z"]);
        assert_eq!(m.timestamp(&r, 5), Ok(17));
        for (text, want) in [
            ("0", Ok(0)),
            ("1700000000000", Ok(1_700_000_000_000)),
            ("999999999999999999", Ok(999_999_999_999_999_999)),
            ("9223372036854775807", Ok(i64::MAX)),
            (" 12 ", Ok(12)),
            ("-5", Ok(-5)),
            ("", Err(BadReason::BadTimestamp)),
            ("12a", Err(BadReason::BadTimestamp)),
            ("9223372036854775808", Err(BadReason::BadTimestamp)),
            ("00000000000000000000017", Ok(17)),
        ] {
            let r = rec(&["r1", "x", "y", text, "z"]);
            assert_eq!(m.timestamp(&r, 5), want, "{text:?}");
        }
        assert_eq!(m.check_count(6), Err(BadReason::WrongColumnCount));
        assert_eq!(m.check_count(4), Ok(()));
        assert_eq!(m.check_count(3), Err(BadReason::WrongColumnCount));
        assert!(ColumnSpec::parse("HBASE_CELL_TTL,cf:a").is_err());
        assert!(Mapping::new(&ColumnSpec::parse("cf:a").unwrap(), None, None).is_err());
    }

    #[test]
    fn composite_keys() {
        let rk = RowKeySpec::parse(
            "salt(16),$0,long($1),reverse($2),desc_long($1)",
            b"|".to_vec(),
        )
        .unwrap();
        let s = ColumnSpec::parse("-,-,-,cf:v").unwrap();
        let m = Mapping::new(&s, Some(&rk), None).unwrap();
        let mut out = Vec::new();
        m.row_key(&rec(&["ab", "258", "xyz", "v"]), &mut out)
            .unwrap();
        let mut rest = b"ab|".to_vec();
        rest.extend_from_slice(&258i64.to_be_bytes());
        rest.extend_from_slice(b"|zyx|");
        rest.extend_from_slice(&(i64::MAX - 258).to_be_bytes());
        assert_eq!(&out[1..], &rest[..]);
        let h = rest.iter().fold(1i32, |h, &b| {
            h.wrapping_mul(31).wrapping_add(b as i8 as i32)
        });
        assert_eq!(out[0] as i64, (h as i64).rem_euclid(16));
        assert_eq!(
            m.row_key(&rec(&["ab", "x", "xyz", "v"]), &mut out),
            Err(BadReason::BadNumber)
        );
    }
}
