//! A minimal protobuf (proto2) wire-format reader and writer for the few small messages
//! HBase stores in its files (trailer, FileInfo, WAL headers). Fields are visited in order;
//! unknown fields are skipped as the protobuf rules say.

use crate::bytes::{read_pbvar, write_pbvar};
use crate::error::{Error, Result};

/// One field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// Wire type 0.
    Varint(u64),
    /// Wire type 1.
    Fixed64(u64),
    /// Wire type 2.
    Bytes(&'a [u8]),
    /// Wire type 5.
    Fixed32(u32),
}

/// Iterate the fields of `msg` as (field number, value), failing on malformed input.
pub fn fields<'a>(
    msg: &'a [u8],
    context: &'static str,
) -> impl Iterator<Item = Result<(u32, Value<'a>)>> + 'a {
    let mut pos = 0usize;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || pos >= msg.len() {
            return None;
        }
        let r = next_field(msg, &mut pos, context);
        failed = r.is_err();
        Some(r)
    })
}

fn next_field<'a>(
    msg: &'a [u8],
    pos: &mut usize,
    context: &'static str,
) -> Result<(u32, Value<'a>)> {
    let at = *pos;
    let bad = |m: &str| Error::corrupt(context, format!("protobuf: {m}")).at(at as u64);
    let rest = msg.get(*pos..).unwrap_or(&[]);
    let (tag, n) = read_pbvar(rest).ok_or_else(|| bad("truncated field tag"))?;
    *pos += n;
    let field = u32::try_from(tag >> 3).map_err(|_| bad("field number out of range"))?;
    if field == 0 {
        return Err(bad("field number 0"));
    }
    let rest = msg.get(*pos..).unwrap_or(&[]);
    let v = match tag & 7 {
        0 => {
            let (v, n) = read_pbvar(rest).ok_or_else(|| bad("truncated varint"))?;
            *pos += n;
            Value::Varint(v)
        }
        1 => {
            let b: [u8; 8] = rest
                .get(..8)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| bad("truncated fixed64"))?;
            *pos += 8;
            Value::Fixed64(u64::from_le_bytes(b))
        }
        2 => {
            let (len, n) = read_pbvar(rest).ok_or_else(|| bad("truncated length"))?;
            let len = usize::try_from(len).map_err(|_| bad("length out of range"))?;
            let body = rest.get(n..n.saturating_add(len)).ok_or_else(|| {
                bad(&format!(
                    "field {field} length {len} runs past the message end"
                ))
            })?;
            *pos += n + len;
            Value::Bytes(body)
        }
        5 => {
            let b: [u8; 4] = rest
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or_else(|| bad("truncated fixed32"))?;
            *pos += 4;
            Value::Fixed32(u32::from_le_bytes(b))
        }
        w => return Err(bad(&format!("unsupported wire type {w} in field {field}"))),
    };
    Ok((field, v))
}

/// Read a varint-delimited message at the start of `b`: (message, total bytes used).
pub fn delimited<'a>(b: &'a [u8], context: &'static str) -> Result<(&'a [u8], usize)> {
    let (len, n) =
        read_pbvar(b).ok_or_else(|| Error::corrupt(context, "truncated message length"))?;
    let len =
        usize::try_from(len).map_err(|_| Error::corrupt(context, "message length out of range"))?;
    let body = b.get(n..n.saturating_add(len)).ok_or_else(|| {
        Error::corrupt(
            context,
            format!(
                "message of {len} bytes runs past the {} bytes present",
                b.len().saturating_sub(n)
            ),
        )
    })?;
    Ok((body, n + len))
}

/// Append a varint field.
pub fn put_varint(out: &mut Vec<u8>, field: u32, v: u64) {
    write_pbvar(out, (field as u64) << 3); // wire type 0
    write_pbvar(out, v);
}

/// Append a length-delimited field.
pub fn put_bytes(out: &mut Vec<u8>, field: u32, v: &[u8]) {
    write_pbvar(out, ((field as u64) << 3) | 2);
    write_pbvar(out, v.len() as u64);
    out.extend_from_slice(v);
}
