//! Fuzz the WAL reader: read arbitrary bytes as a WAL (as a WAL and as a recovered.edits
//! file, whose dictionaries differ), touching every part of every entry and cell, the
//! marker decoders and both renderings. Nothing may panic, hang or allocate without
//! bound, whatever the bytes; every read must end with an `Ending`.
#![no_main]

use hbkit::wal::pretty::{self, Show};
use hbkit::wal::{Ending, WalReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for recovered_edits in [false, true] {
        let Ok(mut r) = WalReader::from_bytes(data, recovered_edits) else {
            continue;
        };
        let mut n = 0u64;
        let mut out = Vec::new();
        let show = Show {
            values: true,
            keys_only: false,
        };
        loop {
            let e = match r.next_entry() {
                Ok(Some(e)) => e,
                Ok(None) | Err(_) => break,
            };
            n ^= e.key.sequence_id ^ e.key.write_time ^ e.end_offset;
            for c in e.cells() {
                n ^= (c.key.row().len() + c.key.family().len() + c.key.qualifier().len()) as u64;
                n ^= c.key.timestamp() as u64 ^ c.value.len() as u64;
                for t in c.tags() {
                    n ^= t.map_or(1, |(ty, v)| u64::from(ty) ^ v.len() as u64);
                }
            }
            for m in e.markers() {
                n ^= m.map_or(3, |m| m.name().len() as u64);
            }
            out.clear();
            pretty::entry_text(&mut out, e, show, |_| true);
            pretty::entry_json(&mut out, b"\"fuzz\"", e, show, |_| true);
            n ^= out.len() as u64;
        }
        let s = r.summary();
        assert!(s.ending != Ending::Open, "a read must end");
        if let Ending::Damaged(d) = &s.ending {
            assert_eq!(d.offset, s.last_good_offset);
        }
        std::hint::black_box((n, s));
    }
});
