//! Legacy HLogs of HBase 0.92/0.94: a Hadoop SequenceFile (version 6, uncompressed) of
//! `HLogKey` → `WALEdit` Writables. Dictionary-compressed HLogs (metadata
//! `compression.type=dictionary`) and compressed SequenceFiles are refused.
//!
//! ```text
//! file   := "SEQ" 6 Text(keyClass) Text(valueClass) bool(compressed) bool(blockCompressed)
//!           i32(metaCount) (Text Text){metaCount} sync[16]  record*
//! record := i32(-1) sync[16]                         -- sync marker
//!         | i32(recordLen) i32(keyLen) key[keyLen] value[recordLen-keyLen]
//! HLogKey := [vint(version<0)] vint(len) region Bytes(table) i64(seq) i64(writeTime)
//!            (version<=-1: bool(hasClusterId) [i64 msb i64 lsb] | else: byte)
//! WALEdit := i32(-1) i32(n) (i32(len) KV){n} i32(nScopes) (Bytes(family) i32(scope)){nScopes}
//!          | i32(len) KV                             -- very old single-KV form
//! ```

use std::io::Read;

use crate::bytes::{be_i32, read_vlong};
use crate::cell::{Key, KEY_INFRASTRUCTURE};
use crate::error::{Error, Result};

use super::reader::{Stop as SeqStop, WalReader};
use super::{DamageKind, Ending, Uuid, WalHeader};

const HLOG_KEY: &str = "org.apache.hadoop.hbase.regionserver.wal.HLogKey";
const WAL_EDIT: &str = "org.apache.hadoop.hbase.regionserver.wal.WALEdit";
/// Records larger than this are treated as corrupt when the file length is unknown.
const MAX_RECORD: u64 = 1 << 30;

/// Per-file state: the sync marker.
#[derive(Debug, Clone)]
pub(crate) struct State {
    sync: [u8; 16],
}

fn corrupt(at: u64, m: impl Into<String>) -> SeqStop {
    SeqStop::Bad(Error::corrupt("HLog record", m).at(at))
}

struct In<'a, R: Read> {
    w: &'a mut WalReader<R>,
    buf: Vec<u8>,
}

impl<R: Read> In<'_, R> {
    fn pos(&mut self) -> u64 {
        self.w.seq_src_parts().pos()
    }
    fn take(&mut self, n: u64) -> std::result::Result<Vec<u8>, SeqStop> {
        self.buf.clear();
        let mut out = std::mem::take(&mut self.buf);
        let r = self.w.seq_src_parts().read_into(n, &mut out);
        match r {
            Ok(()) => Ok(out),
            Err(e) => Err(e),
        }
    }
    fn byte(&mut self) -> std::result::Result<u8, SeqStop> {
        let at = self.pos();
        match self.w.seq_src_parts().byte_opt()? {
            Some(b) => Ok(b),
            None => Err(SeqStop::Eof(at)),
        }
    }
    fn i32(&mut self) -> std::result::Result<i32, SeqStop> {
        let mut a = [0u8; 4];
        for s in a.iter_mut() {
            *s = self.byte()?;
        }
        Ok(i32::from_be_bytes(a))
    }
    fn vlong(&mut self) -> std::result::Result<i64, SeqStop> {
        let at = self.pos();
        let b0 = self.byte()?;
        let mut v = vec![b0];
        let n = match b0 as i8 {
            x if x >= -112 => 0,
            x if x < -120 => (-120 - i32::from(x)) as usize,
            x => (-112 - i32::from(x)) as usize,
        };
        for _ in 0..n {
            v.push(self.byte()?);
        }
        read_vlong(&v)
            .map(|(x, _)| x)
            .ok_or_else(|| corrupt(at, "bad vlong"))
    }
    fn text(&mut self) -> std::result::Result<String, SeqStop> {
        let at = self.pos();
        let n = self.vlong()?;
        if !(0..=65536).contains(&n) {
            return Err(corrupt(at, format!("bad Text length {n}")));
        }
        let b = self.take(n as u64)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }
}

/// Read the SequenceFile header after the 4 bytes `SEQ` + version already consumed.
pub(crate) fn read_header<R: Read>(w: &mut WalReader<R>) -> Result<Option<State>> {
    let mut i = In { w, buf: Vec::new() };
    let r = (|| -> std::result::Result<std::result::Result<State, Error>, SeqStop> {
        let kc = i.text()?;
        let vc = i.text()?;
        let compressed = i.byte()? != 0;
        let block = i.byte()? != 0;
        if kc != HLOG_KEY || vc != WAL_EDIT {
            return Ok(Err(Error::unsupported(
                "SequenceFile",
                format!("a SequenceFile of {kc} -> {vc}, not an HLog (HLogKey -> WALEdit)"),
            )));
        }
        if compressed || block {
            return Ok(Err(Error::unsupported(
                "SequenceFile",
                "compressed SequenceFile HLogs are not supported",
            )));
        }
        let n = i.i32()?;
        if !(0..=1024).contains(&n) {
            let at = i.pos();
            return Err(corrupt(at, format!("bad metadata count {n}")));
        }
        for _ in 0..n {
            let k = i.text()?;
            let v = i.text()?;
            if k == "compression.type" && v == "dictionary" {
                return Ok(Err(Error::unsupported(
                    "SequenceFile",
                    "dictionary-compressed 0.94 HLogs (compression.type=dictionary) are not supported",
                )));
            }
        }
        let s = i.take(16)?;
        let mut sync = [0u8; 16];
        sync.copy_from_slice(s.get(..16).unwrap_or(&[0u8; 16]));
        Ok(Ok(State { sync }))
    })();
    let pos = i.pos();
    match r {
        Ok(Ok(st)) => {
            w.set_header(WalHeader {
                writer_cls_name: Some("SequenceFileLogWriter".into()),
                end_offset: pos,
                ..Default::default()
            });
            Ok(Some(st))
        }
        Ok(Err(e)) => Err(e),
        Err(SeqStop::Eof(at)) => {
            w.set_damage(
                DamageKind::TruncatedHeader,
                0,
                at,
                "the file ends inside the SequenceFile header".into(),
            );
            Ok(None)
        }
        Err(SeqStop::Bad(e)) => {
            let at = e.offset.unwrap_or(pos);
            w.set_damage(DamageKind::CorruptHeader, 0, at, e.message);
            Ok(None)
        }
        Err(SeqStop::Io(e)) => Err(e),
    }
}

/// Read one record (skipping sync markers) into the reader's entry.
pub(crate) fn read_entry<R: Read>(
    w: &mut WalReader<R>,
    _start: u64,
) -> std::result::Result<bool, SeqStop> {
    let Some(sync) = w.seq_state().map(|s| s.sync) else {
        w.set_ending(Ending::NoTrailer);
        return Ok(false);
    };
    let len = w.file_length();
    let mut i = In { w, buf: Vec::new() };
    // Record length, or a sync escape; EOF exactly here is the normal end.
    let rec_len = loop {
        let at = i.pos();
        let Some(b0) = i.w.seq_src_parts().byte_opt()? else {
            i.w.set_ending(Ending::NoTrailer);
            return Ok(false);
        };
        let mut a = [b0, 0, 0, 0];
        for s in a.iter_mut().skip(1) {
            *s = i.byte()?;
        }
        let n = i32::from_be_bytes(a);
        if n == -1 {
            let s = i.take(16)?;
            if s.as_slice() != sync {
                return Err(corrupt(at, "sync marker does not match the header's"));
            }
            continue;
        }
        break (at, n);
    };
    let (at, rec_len) = rec_len;
    let key_len = i.i32()?;
    let (Ok(rl), Ok(kl)) = (u64::try_from(rec_len), u64::try_from(key_len)) else {
        return Err(corrupt(
            at,
            format!("negative record ({rec_len}) or key ({key_len}) length"),
        ));
    };
    if kl > rl || (len.is_none() && rl > MAX_RECORD) {
        return Err(corrupt(
            at,
            format!("key length {kl} / record length {rl} are inconsistent"),
        ));
    }
    let key = i.take(kl)?;
    let kat = at + 8;
    parse_hlog_key(&key, i.w).map_err(|e| SeqStop::Bad(e.rebase(kat)))?;
    let value = i.take(rl - kl)?;
    let vat = kat + kl;
    parse_wal_edit(&value, i.w).map_err(|e| SeqStop::Bad(e.rebase(vat)))?;
    Ok(true)
}

fn parse_hlog_key<R: Read>(b: &[u8], w: &mut WalReader<R>) -> Result<()> {
    let mut c = crate::bytes::Cursor::new(b, "HLogKey");
    let mut version = 0i64;
    let mut len = c.vlong("region length")?;
    if len < 0 {
        version = len;
        len = c.vlong("region length")?;
    }
    let len = usize::try_from(len)
        .map_err(|_| Error::corrupt("HLogKey", format!("bad region length {len}")))?;
    let region = c.take(len, "encoded region")?;
    let tl = c.vint_len("table length")?;
    let table = c.take(tl, "table")?;
    let seq = c.i64("sequence number")?;
    let wt = c.i64("write time")?;
    let mut cluster = None;
    if version <= -1 {
        if c.u8("cluster id flag")? != 0 {
            let msb = c.i64("cluster id")? as u64;
            let lsb = c.i64("cluster id")? as u64;
            cluster = Some(Uuid { msb, lsb });
        }
    } else if !c.is_empty() {
        c.u8("former cluster id byte")?;
    }
    let key = &mut w.entry_mut().key;
    *key = Default::default();
    key.encoded_region.extend_from_slice(region);
    key.table.extend_from_slice(table);
    key.sequence_id = seq as u64;
    key.write_time = wt as u64;
    key.cluster_id = cluster;
    Ok(())
}

fn push_kv<R: Read>(kv: &[u8], w: &mut WalReader<R>) -> Result<()> {
    let bad = |m: String| Error::corrupt("HLog KeyValue", m);
    let k = be_i32(kv, 0).ok_or_else(|| bad("truncated key length".into()))?;
    let v = be_i32(kv, 4).ok_or_else(|| bad("truncated value length".into()))?;
    let (Ok(k), Ok(v)) = (usize::try_from(k), usize::try_from(v)) else {
        return Err(bad(format!("negative key or value length ({k}, {v})")));
    };
    if k < KEY_INFRASTRUCTURE || 8usize.saturating_add(k).saturating_add(v) != kv.len() {
        return Err(bad(format!(
            "key length {k} + value length {v} do not fill the {}-byte KeyValue",
            kv.len()
        )));
    }
    Key::parse(kv.get(8..8 + k).unwrap_or(&[]))?;
    let e = w.entry_mut();
    let data = e.data_mut();
    let base = data.len() + 8;
    data.extend_from_slice(kv);
    e.push_kv(base, k, v, 0);
    Ok(())
}

fn parse_wal_edit<R: Read>(b: &[u8], w: &mut WalReader<R>) -> Result<()> {
    let mut c = crate::bytes::Cursor::new(b, "WALEdit");
    let first = c.i32("version or length")?;
    if first == -1 {
        let n = c.i32("cell count")?;
        let n = u32::try_from(n)
            .map_err(|_| Error::corrupt("WALEdit", format!("negative cell count {n}")))?;
        for _ in 0..n {
            let l = c.len32("KeyValue length")?;
            let kv = c.take(l, "KeyValue")?;
            push_kv(kv, w)?;
        }
        if !c.is_empty() {
            let nf = c.i32("scope count")?;
            for _ in 0..nf.max(0) {
                let fl = c.vint_len("scope family length")?;
                let fam = c.take(fl, "scope family")?.to_vec();
                let scope = c.i32("scope")?;
                w.entry_mut().key.scopes.push((fam, scope as u32));
            }
        }
    } else {
        let l = usize::try_from(first)
            .map_err(|_| Error::corrupt("WALEdit", format!("bad version/length {first}")))?;
        let kv = c.take(l, "KeyValue")?;
        push_kv(kv, w)?;
    }
    let n = w.entry_mut().cell_count() as u32;
    w.entry_mut().key.following_kv_count = n;
    Ok(())
}
