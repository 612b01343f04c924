//! Corruption tests: damage COPIES of HBase-written fixtures in a temp dir (one flipped byte
//! per block type, broken trailers and magics, truncations, lying length fields) and check
//! that `verify` reports the damaged block by offset, never panics, and that the `hfile`
//! binary maps the outcomes to exit codes 0 / 1 / 2.
//!
//! Fixtures are never modified: every test works on a copy.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use hbkit::hfile::block::{BlockHeader, BlockType, HEADER_SIZE};
use hbkit::hfile::verify::{verify_file, Report, Status};
use hbkit::hfile::HFile;

/// Fixtures the per-block-type flips run on: NONE and FAST_DIFF encodings, NONE/GZ/LZ4
/// codecs, CRC32C / CRC32 / NULL checksums, 3-level indexes, ROW bloom + delete-family bloom.
const FLIP_FIXTURES: &[&str] = &[
    "hbase-written/v3_bloom_row/v3_bloom_row.hfile",
    "hbase-written/v3_comp_gz_enc_fast_diff/v3_comp_gz_enc_fast_diff.hfile",
    "hbase-written/v3_everything_lz4_fastdiff_row/v3_everything_lz4_fastdiff_row.hfile",
    "hbase-written/v3_ck_null/v3_ck_null.hfile",
    "hbase098/hfile/a1_none_3level.hfile",
];

const CK_NULL: &str = "hbase-written/v3_ck_null/v3_ck_null.hfile";
const BLOOM_ROW: &str = "hbase-written/v3_bloom_row/v3_bloom_row.hfile";
const GZ_FAST_DIFF: &str = "hbase-written/v3_comp_gz_enc_fast_diff/v3_comp_gz_enc_fast_diff.hfile";

/// A private copy of a fixture in its own temp dir.
struct Copy {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    path: PathBuf,
    /// The pristine bytes.
    orig: Vec<u8>,
    /// Every block of the pristine file, in file order.
    blocks: Vec<BlockHeader>,
}

impl Copy {
    fn new(fx: &Path, rel: &str) -> Copy {
        let src = fx.join(rel);
        let orig = std::fs::read(&src).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
        let dir = tempfile::tempdir().expect("tempdir");
        let name = src.file_name().expect("file name");
        let path = dir.path().join(name);
        std::fs::write(&path, &orig).expect("write copy");
        let blocks = all_blocks(&path);
        Copy {
            dir: dir.path().to_path_buf(),
            _dir: dir,
            path,
            orig,
            blocks,
        }
    }
    /// Replace the copy's content.
    fn write(&self, bytes: &[u8]) {
        std::fs::write(&self.path, bytes).expect("write copy");
    }
    /// Blocks of one type, in file order.
    fn of_type(&self, t: BlockType) -> Vec<BlockHeader> {
        self.blocks
            .iter()
            .filter(|h| h.block_type == t)
            .copied()
            .collect()
    }
    /// The first block of a type.
    fn first(&self, t: BlockType) -> BlockHeader {
        *self
            .blocks
            .iter()
            .find(|h| h.block_type == t)
            .unwrap_or_else(|| panic!("{}: no {} block", self.path.display(), t.name()))
    }
    fn trailer_start(&self) -> usize {
        let f = HFile::open(&self.path).expect("pristine copy opens");
        self.orig.len() - f.trailer.trailer_size
    }
}

/// Every block of `path`: headers walked from 0 to the load-on-open offset with
/// `HFile::block`, then the load-on-open headers the reader collected.
fn all_blocks(path: &Path) -> Vec<BlockHeader> {
    let f = HFile::open(path).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let mut off = 0u64;
    while off < f.trailer.load_on_open_data_offset {
        let raw = f.block(off).unwrap_or_else(|e| panic!("{e}"));
        out.push(raw.header);
        off += raw.header.on_disk_size_with_header();
    }
    assert_eq!(
        off,
        f.trailer.load_on_open_data_offset,
        "{}",
        path.display()
    );
    out.extend(f.load_on_open.iter().copied());
    out
}

/// Recompute the checksum tail of block `h` in `bytes` (after editing its header or data),
/// using the header's original onDiskDataSizeWithHeader so only the intended lie is seen.
fn resum(bytes: &mut [u8], h: &BlockHeader) {
    let start = h.offset as usize;
    let data_end = start + h.on_disk_data_size_with_header as usize;
    let bpc = h.bytes_per_checksum as usize;
    let code = h.checksum_type_code;
    if code == 0 || bpc == 0 {
        return;
    }
    let sums: Vec<u32> = bytes[start..data_end]
        .chunks(bpc)
        .map(|c| match code {
            1 => crc32fast::hash(c),
            2 => crc32c::crc32c(c),
            other => panic!("checksum type {other}"),
        })
        .collect();
    for (i, s) in sums.into_iter().enumerate() {
        let at = data_end + 4 * i;
        bytes[at..at + 4].copy_from_slice(&s.to_be_bytes());
    }
}

fn show(r: &Report) -> String {
    let mut s = format!("status {:?}, {} cells\n", r.status, r.cells);
    for p in &r.problems {
        s.push_str(&format!(
            "  [{}] at {:?} {:?}: {}\n",
            p.check, p.offset, p.block_type, p.message
        ));
    }
    s
}

fn inside(h: &BlockHeader, o: u64) -> bool {
    o >= h.offset && o < h.offset + h.on_disk_size_with_header()
}

/// Some problem names block `h`: its offset exactly, or (cell/structure-level problems) a
/// byte inside it. Exception: damaged bloom bits are only seen as a key missing from the
/// bloom, which verify reports at the cell whose key missed (its message does not name the
/// chunk), so for a BLOOM_CHUNK any `bloom` problem counts.
fn assert_names_block(r: &Report, h: &BlockHeader, what: &str) {
    assert_ne!(r.status, Status::Clean, "{what}: not detected\n{}", show(r));
    let named = r.problems.iter().any(|p| {
        p.offset.is_some_and(|o| inside(h, o))
            || (h.block_type == BlockType::BloomChunk && p.check == "bloom")
    });
    assert!(
        named,
        "{what}: no problem names the {} block at {} ({} bytes)\n{}",
        h.block_type.name(),
        h.offset,
        h.on_disk_size_with_header(),
        show(r)
    );
}

fn payload_range(h: &BlockHeader) -> (usize, usize) {
    let s = h.offset as usize + h.header_size as usize;
    (s, s + h.on_disk_payload_size())
}

const TYPES: &[BlockType] = &[
    BlockType::Data,
    BlockType::EncodedData,
    BlockType::LeafIndex,
    BlockType::IntermediateIndex,
    BlockType::BloomChunk,
    BlockType::RootIndex,
    BlockType::FileInfo,
    BlockType::GeneralBloomMeta,
    BlockType::DeleteFamilyBloomMeta,
];

/// The block of type `t` to damage: the middle one among those with a payload (the meta
/// index ROOT_INDEX of these files is empty, so the data index root is the one chosen).
fn pick(c: &Copy, t: BlockType) -> Option<BlockHeader> {
    let v: Vec<BlockHeader> = c
        .of_type(t)
        .into_iter()
        .filter(|h| h.on_disk_payload_size() > 0)
        .collect();
    if t == BlockType::RootIndex {
        return v.first().copied();
    }
    v.get(v.len() / 2).copied()
}

/// With block checksums, one flipped byte anywhere in a block's payload is a `checksum`
/// problem at that block's offset, whatever the block type and codec.
#[test]
fn flipped_payload_byte_is_a_checksum_problem_at_the_block() {
    let Some(fx) = common::fixtures() else { return };
    for rel in FLIP_FIXTURES.iter().filter(|r| **r != CK_NULL) {
        let c = Copy::new(&fx, rel);
        assert_eq!(verify_file(&c.path).status, Status::Clean, "{rel} pristine");
        let mut seen = Vec::new();
        for &t in TYPES {
            let Some(h) = pick(&c, t) else { continue };
            assert_ne!(h.checksum_type_code, 0, "{rel} has checksums");
            seen.push(t.name());
            let (s, e) = payload_range(&h);
            let at = s + (e - s) / 2;
            let mut b = c.orig.clone();
            b[at] ^= 0xFF;
            c.write(&b);
            let r = verify_file(&c.path);
            let what = format!(
                "{rel}: {} block at {} byte {at} flipped",
                t.name(),
                h.offset
            );
            assert_names_block(&r, &h, &what);
            assert!(
                r.problems
                    .iter()
                    .any(|p| p.check == "checksum" && p.offset == Some(h.offset)),
                "{what}: no checksum problem at the block offset\n{}",
                show(&r)
            );
        }
        // Every fixture has data, both index levels below the root, a bloom chunk, the root,
        // FILE_INFO and the delete-family bloom meta.
        assert!(seen.len() >= 7, "{rel}: only {seen:?}");
    }
}

/// Where in block `h` to flip a byte that a verifier MUST notice without checksums, and why.
/// Returns None for a block type whose bytes cannot all be checked (none here).
fn structural_flip(c: &Copy, h: &BlockHeader) -> (usize, u8, &'static str) {
    let (s, e) = payload_range(h);
    match h.block_type {
        // The first cell's key length (i32 high byte): the length goes negative.
        BlockType::Data => (s, 0xFF, "first cell key length"),
        // Non-root index: entry count (i32 high byte) goes negative.
        BlockType::LeafIndex | BlockType::IntermediateIndex => (s, 0xFF, "entry count"),
        // Data index root: first entry's offset (i64 high byte) goes negative.
        BlockType::RootIndex => (s, 0xFF, "first entry offset"),
        // `PBUF` magic: the map is read as the legacy form and its count is garbage.
        BlockType::FileInfo => (s, 0xFF, "PBUF magic"),
        // Bloom meta version 3 becomes 0xFC.
        BlockType::GeneralBloomMeta | BlockType::DeleteFamilyBloomMeta => {
            (s + 3, 0xFF, "bloom meta version")
        }
        // A byte with set bits: each set bit was set by a key the writer added, and verify
        // probes every such key (rows of a ROW bloom, DeleteFamily rows of the delete-family
        // bloom), so clearing them makes a present key miss. (Setting clear bits alone would
        // be legitimately undetectable: blooms allow false positives.)
        BlockType::BloomChunk => {
            let at = (s..e)
                .find(|&i| c.orig[i] != 0)
                .expect("bloom chunk has set bits");
            (at, c.orig[at], "bloom bits (set bits cleared)")
        }
        other => panic!("no structural flip for {}", other.name()),
    }
}

/// Without checksums (ChecksumType NULL) the flip must still be caught by the decode,
/// index, FileInfo and bloom checks when it hits a byte whose value is checked. A flipped
/// value byte or a key byte that keeps order is legitimately undetectable (HBase itself
/// would not notice), so the bytes chosen here are lengths, counts, offsets, magics and
/// bloom bits. The same flips with recomputed checksums on checksummed, uncompressed
/// fixtures show the checks behind the checksum work too.
#[test]
fn structural_flips_are_detected_without_checksums() {
    let Some(fx) = common::fixtures() else { return };
    for (rel, recompute) in [
        (CK_NULL, false),
        (BLOOM_ROW, true),
        ("hbase098/hfile/a1_none_3level.hfile", true),
    ] {
        let c = Copy::new(&fx, rel);
        let mut seen = Vec::new();
        for &t in TYPES {
            let Some(h) = pick(&c, t) else { continue };
            if rel == CK_NULL {
                assert_eq!(h.checksum_type_code, 0, "{rel}: NULL checksums");
            }
            seen.push(t.name());
            let (at, mask, why) = structural_flip(&c, &h);
            let mut b = c.orig.clone();
            b[at] ^= mask;
            if recompute {
                resum(&mut b, &h);
            }
            c.write(&b);
            let r = verify_file(&c.path);
            let what = format!(
                "{rel}: {} block at {}: {why} (byte {at})",
                t.name(),
                h.offset
            );
            assert_names_block(&r, &h, &what);
            if recompute {
                assert!(
                    r.problems.iter().all(|p| p.check != "checksum"),
                    "{what}: checksum was recomputed\n{}",
                    show(&r)
                );
            }
        }
        assert!(seen.len() >= 6, "{rel}: only {seen:?}");
    }
}

/// The trailer protobuf: a broken field tag makes the file unreadable with an error located
/// in the trailer; a changed entry count is a `trailer` problem located at the trailer.
#[test]
fn damaged_trailer() {
    let Some(fx) = common::fixtures() else { return };
    let c = Copy::new(&fx, BLOOM_ROW);
    let ts = c.trailer_start();
    let len = c.orig.len();
    assert_eq!(&c.orig[ts..ts + 8], b"TRABLK\"$");
    // Body: varint length, then the message. Walk it to find field 1's tag and field 7.
    let body = &c.orig[ts + 8..];
    let (msg_len, n) = varint(body);
    let msg = &body[n..n + msg_len as usize];
    let mut fields = Vec::new(); // (field number, tag position, value position)
    let mut i = 0;
    while i < msg.len() {
        let (tag, tn) = varint(&msg[i..]);
        let (num, wt) = (tag >> 3, tag & 7);
        let vpos = i + tn;
        let vlen = match wt {
            0 => varint(&msg[vpos..]).1,
            2 => {
                let (l, ln) = varint(&msg[vpos..]);
                ln + l as usize
            }
            other => panic!("wire type {other}"),
        };
        fields.push((num, i, vpos));
        i = vpos + vlen;
    }
    let abs = |p: usize| ts + 8 + n + p;

    // 1. Field 1's tag 0x08 becomes 0xF7: wire type 7 does not exist.
    let (num, tag_at, _) = fields[0];
    assert_eq!(num, 1);
    let mut b = c.orig.clone();
    b[abs(tag_at)] ^= 0xFF;
    c.write(&b);
    let err = HFile::open(&c.path).expect_err("broken trailer must not open");
    let msg_text = err.to_string();
    assert!(
        msg_text.contains(&c.path.display().to_string()),
        "{msg_text}"
    );
    let o = err.offset.expect("trailer error has an offset");
    assert!(
        (ts as u64..len as u64).contains(&o),
        "offset {o} outside the trailer: {msg_text}"
    );
    assert!(msg_text.contains("trailer"), "{msg_text}");
    let r = verify_file(&c.path);
    assert_eq!(r.status, Status::Unreadable, "{}", show(&r));
    assert!(
        r.problems
            .iter()
            .any(|p| p.offset.is_some_and(|o| o >= ts as u64)),
        "{}",
        show(&r)
    );

    // 2. The magic of the trailer.
    let mut b = c.orig.clone();
    b[ts + 3] ^= 0xFF;
    c.write(&b);
    let r = verify_file(&c.path);
    assert_eq!(r.status, Status::Unreadable, "{}", show(&r));
    assert!(
        r.problems.iter().any(|p| p.offset == Some(ts as u64)),
        "{}",
        show(&r)
    );

    // 3. entryCount (field 7) off by one: still a valid protobuf, so the lie is only seen by
    // counting the cells; the problem names the trailer.
    let (_, _, v7) = *fields.iter().find(|f| f.0 == 7).expect("field 7");
    let mut b = c.orig.clone();
    b[abs(v7)] ^= 0x01;
    c.write(&b);
    let r = verify_file(&c.path);
    assert_eq!(r.status, Status::Problems, "{}", show(&r));
    assert!(
        r.problems.iter().any(|p| p.check == "trailer"
            && p.offset == Some(ts as u64)
            && p.message.contains("entryCount")),
        "entryCount lie must be a trailer problem at {ts}\n{}",
        show(&r)
    );
}

fn varint(b: &[u8]) -> (u64, usize) {
    let mut v = 0u64;
    for (i, &x) in b.iter().enumerate().take(10) {
        v |= ((x & 0x7f) as u64) << (7 * i);
        if x & 0x80 == 0 {
            return (v, i + 1);
        }
    }
    panic!("bad varint");
}

/// A damaged block magic: the header is refused at that offset (scanned section: a
/// `block_header` problem, the walk resumes; load-on-open section: the file is unreadable).
#[test]
fn damaged_block_magic() {
    let Some(fx) = common::fixtures() else { return };
    for rel in [BLOOM_ROW, CK_NULL, GZ_FAST_DIFF] {
        let c = Copy::new(&fx, rel);
        for t in [
            BlockType::Data,
            BlockType::EncodedData,
            BlockType::LeafIndex,
            BlockType::IntermediateIndex,
            BlockType::BloomChunk,
            BlockType::RootIndex,
            BlockType::FileInfo,
            BlockType::DeleteFamilyBloomMeta,
        ] {
            let Some(h) = pick(&c, t) else { continue };
            let mut b = c.orig.clone();
            b[h.offset as usize + 2] ^= 0xFF;
            c.write(&b);
            let r = verify_file(&c.path);
            let what = format!("{rel}: magic of {} at {}", t.name(), h.offset);
            assert!(
                r.problems
                    .iter()
                    .any(|p| p.offset == Some(h.offset) && p.message.contains("magic")),
                "{what}: no magic problem at the block offset\n{}",
                show(&r)
            );
            let in_load_on_open = matches!(
                t,
                BlockType::RootIndex | BlockType::FileInfo | BlockType::DeleteFamilyBloomMeta
            );
            let want = if in_load_on_open {
                Status::Unreadable
            } else {
                Status::Problems
            };
            assert_eq!(r.status, want, "{what}\n{}", show(&r));
            if !in_load_on_open && t.is_data() {
                // The walk resumed after the damaged block: the other blocks were read.
                assert!(r.cells > 0, "{what}\n{}", show(&r));
            }
        }
    }
}

/// Truncations anywhere: unreadable, the error names the file, nothing panics.
#[test]
fn truncated_files_are_unreadable() {
    let Some(fx) = common::fixtures() else { return };
    for rel in [
        BLOOM_ROW,
        GZ_FAST_DIFF,
        "hbase098/hfile/a1_none_3level.hfile",
    ] {
        let c = Copy::new(&fx, rel);
        let len = c.orig.len();
        for cut in [
            0,
            3,
            100,
            len / 2,
            len - 1,
            len - 4096,
            len - 4097,
            len - 4100,
        ] {
            c.write(&c.orig[..cut]);
            let err = HFile::open(&c.path).expect_err("truncated file must not open");
            let text = err.to_string();
            assert!(
                text.contains(&c.path.display().to_string()),
                "{rel} cut at {cut}: error does not name the file: {text}"
            );
            let r = verify_file(&c.path);
            assert_eq!(
                r.status,
                Status::Unreadable,
                "{rel} cut at {cut}\n{}",
                show(&r)
            );
            assert_eq!(r.path, c.path);
            assert!(!r.problems.is_empty(), "{rel} cut at {cut}");
        }
    }
}

/// Length fields that lie, with the checksum recomputed so only the lie is seen.
#[test]
fn lying_length_fields() {
    let Some(fx) = common::fixtures() else { return };
    let c = Copy::new(&fx, BLOOM_ROW);
    let data = c.of_type(BlockType::Data);
    let mid = data[data.len() / 2];
    let leaf = c.of_type(BlockType::LeafIndex)[3];
    let root = c.first(BlockType::RootIndex);
    let fi = c.first(BlockType::FileInfo);

    let run = |h: &BlockHeader, field: usize, value: i32, what: &str| -> Report {
        let mut b = c.orig.clone();
        let at = h.offset as usize + field;
        b[at..at + 4].copy_from_slice(&value.to_be_bytes());
        resum(&mut b, h);
        c.write(&b);
        let r = verify_file(&c.path);
        assert!(
            r.problems.iter().all(|p| p.check != "checksum"),
            "{what}: checksum was recomputed\n{}",
            show(&r)
        );
        assert_names_block(&r, h, what);
        r
    };

    // onDiskSizeWithoutHeader (@8) huge, negative, or merely too large for the checksum area.
    for (v, word) in [
        (i32::MAX, "onDiskSizeWithoutHeader huge"),
        (-5, "onDiskSizeWithoutHeader negative"),
        (
            mid.on_disk_size_without_header as i32 + 16,
            "onDiskSizeWithoutHeader +16",
        ),
    ] {
        for h in [&mid, &leaf] {
            let what = format!(
                "{word} in the {} block at {}",
                h.block_type.name(),
                h.offset
            );
            let r = run(h, 8, v, &what);
            assert_eq!(r.status, Status::Problems, "{what}\n{}", show(&r));
            assert!(
                r.problems
                    .iter()
                    .any(|p| p.offset == Some(h.offset) && p.check == "block_header"),
                "{what}\n{}",
                show(&r)
            );
        }
        for h in [&root, &fi] {
            let what = format!(
                "{word} in the {} block at {}",
                h.block_type.name(),
                h.offset
            );
            let r = run(h, 8, v, &what);
            assert_eq!(r.status, Status::Unreadable, "{what}\n{}", show(&r));
        }
    }

    // uncompressedSizeWithoutHeader (@12) wrong in an uncompressed file.
    for h in [&mid, &leaf, &root, &fi] {
        for delta in [1i32, -1, 1 << 20] {
            let v = h.uncompressed_size_without_header as i32 + delta;
            let what = format!(
                "uncompressedSizeWithoutHeader {v} (+{delta}) in the {} block at {}",
                h.block_type.name(),
                h.offset
            );
            let r = run(h, 12, v, &what);
            assert!(
                r.problems.iter().any(|p| p.offset == Some(h.offset)),
                "{what}\n{}",
                show(&r)
            );
        }
        let what = format!(
            "negative uncompressedSizeWithoutHeader in the {} block",
            h.block_type.name()
        );
        run(h, 12, -1, &what);
    }

    // The first cell's key length (payload @0) bigger than the block.
    let (s, e) = payload_range(&mid);
    for kl in [(e - s) as i32 + 1, i32::MAX, (e - s) as i32 - 8] {
        let what = format!(
            "cell key length {kl} in the DATA block at {} ({} payload bytes)",
            mid.offset,
            e - s
        );
        let r = run(&mid, HEADER_SIZE, kl, &what);
        assert_eq!(r.status, Status::Problems, "{what}\n{}", show(&r));
        assert!(
            r.problems
                .iter()
                .any(|p| p.check == "decode" && p.offset.is_some_and(|o| inside(&mid, o))),
            "{what}\n{}",
            show(&r)
        );
    }
    // The value length of the first cell too.
    let what = format!("cell value length past the DATA block at {}", mid.offset);
    let r = run(&mid, HEADER_SIZE + 4, (e - s) as i32, &what);
    assert!(
        r.problems.iter().any(|p| p.check == "decode"),
        "{what}\n{}",
        show(&r)
    );

    // A root index entry offset (i64 @ payload 0) pointing outside the file: the problem names
    // the ROOT_INDEX block and the bad target offset.
    let len = c.orig.len() as u64;
    for target in [len + 1000, len - 5, (i64::MAX) as u64] {
        let mut b = c.orig.clone();
        let at = root.offset as usize + HEADER_SIZE;
        b[at..at + 8].copy_from_slice(&(target as i64).to_be_bytes());
        resum(&mut b, &root);
        c.write(&b);
        let r = verify_file(&c.path);
        let what = format!("root index entry 0 -> {target}");
        assert_eq!(r.status, Status::Problems, "{what}\n{}", show(&r));
        assert!(
            r.problems.iter().any(|p| p.check == "index"
                && p.offset == Some(root.offset)
                && p.block_type == Some("ROOT_INDEX")
                && p.message.contains(&target.to_string())),
            "{what}: expected an index problem at the ROOT_INDEX block naming {target}\n{}",
            show(&r)
        );
    }
}

/// A wrong uncompressedSizeWithoutHeader in a compressed file is a decompression problem at
/// that block.
#[test]
fn lying_uncompressed_size_in_compressed_file() {
    let Some(fx) = common::fixtures() else { return };
    let c = Copy::new(&fx, GZ_FAST_DIFF);
    let data = c.of_type(BlockType::EncodedData);
    let leaf = c.of_type(BlockType::LeafIndex)[2];
    for h in [data[data.len() / 3], leaf] {
        for delta in [1i32, -1, 1000] {
            let mut b = c.orig.clone();
            let at = h.offset as usize + 12;
            let v = h.uncompressed_size_without_header as i32 + delta;
            b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            resum(&mut b, &h);
            c.write(&b);
            let r = verify_file(&c.path);
            let what = format!(
                "{} at {}: uncompressed size {v}",
                h.block_type.name(),
                h.offset
            );
            assert_names_block(&r, &h, &what);
        }
    }
}

/// Single-byte flips over every header field of one block of each type, the first payload
/// bytes of those blocks, a stride through the whole file and the trailer, in a checksum-less
/// file (so the damage reaches the parsers) and a checksummed one: verify never panics, and
/// every flip of a header field or length/count byte is noticed.
#[test]
fn no_panic_on_many_single_byte_flips() {
    let Some(fx) = common::fixtures() else { return };
    for (rel, stride) in [
        (CK_NULL, 2003usize),
        ("hbase098/hfile/a3_delfam_bloom.hfile", 211),
    ] {
        let c = Copy::new(&fx, rel);
        let mut positions: Vec<usize> = Vec::new();
        let mut must_detect: Vec<usize> = Vec::new();
        for &t in TYPES {
            let Some(h) = pick(&c, t) else { continue };
            let o = h.offset as usize;
            // Magic, sizes, prevBlockOffset (scanned and load-on-open chains), checksum type,
            // onDiskDataSizeWithHeader: all cross-checked against each other or the file.
            must_detect.extend([
                o,
                o + 7,
                o + 8,
                o + 11,
                o + 12,
                o + 15,
                o + 16,
                o + 23,
                o + 24,
                o + 25,
                o + 31,
                o + 32,
            ]);
            if h.checksum_type_code != 0 {
                // bytesPerChecksum low bytes: covered by the checksum. Without checksums any
                // value >= the block size still means one (zeroed) 4-byte chunk, so the block
                // reads identically: legitimately undetectable, as it is for HBase.
                must_detect.extend([o + 27, o + 28]);
            }
            let (s, e) = payload_range(&h);
            positions.extend(s..(s + 12).min(e));
        }
        positions.extend(must_detect.iter().copied());
        positions.extend((0..c.orig.len()).step_by(stride));
        let ts = c.trailer_start();
        positions.extend((ts..ts + 48).step_by(3));
        positions.extend(c.orig.len() - 4..c.orig.len());
        positions.sort_unstable();
        positions.dedup();
        let mut panicked = Vec::new();
        let mut missed = Vec::new();
        for &at in &positions {
            let mut b = c.orig.clone();
            b[at] ^= 0xA5;
            c.write(&b);
            let path = c.path.clone();
            match std::panic::catch_unwind(move || verify_file(&path)) {
                Ok(r) => {
                    assert_eq!(r.path, c.path);
                    if r.status == Status::Clean && must_detect.contains(&at) {
                        missed.push(at);
                    }
                }
                Err(_) => panicked.push(at),
            }
        }
        assert!(
            panicked.is_empty(),
            "{rel}: verify panicked for flips at {panicked:?}"
        );
        assert!(
            missed.is_empty(),
            "{rel}: header flips not detected at {missed:?}"
        );
        c.write(&c.orig);
        assert_eq!(verify_file(&c.path).status, Status::Clean, "{rel}");
    }
}

/// Index entries pointing nowhere: the problem is reported at the index block holding the
/// entry, names the bad target, and does not shift the checks of the other entries.
#[test]
fn bad_index_pointers() {
    let Some(fx) = common::fixtures() else { return };
    // One-level index: root entries point straight at data blocks.
    let c = Copy::new(&fx, "hbase098/hfile/a3_delfam_bloom.hfile");
    let f = HFile::open(&c.path).expect("open");
    assert_eq!(f.trailer.num_data_index_levels, 1);
    let root = c.first(BlockType::RootIndex);
    let data = c.of_type(BlockType::Data);
    let len = c.orig.len() as u64;
    // Entry 3's offset field: root payload is (i64 offset, i32 size, vint keylen, key)*.
    let mut at = root.offset as usize + HEADER_SIZE;
    for e in f.root_index.iter().take(3) {
        at += 12 + 1 + e.key.len();
        assert!(e.key.len() < 128, "one-byte vint");
    }
    for (target, words) in [
        (len + 77, "past the end of the file"),
        (data[3].offset + 1, "where no block starts"),
        (c.first(BlockType::BloomChunk).offset, "not a data block"),
    ] {
        let mut b = c.orig.clone();
        b[at..at + 8].copy_from_slice(&(target as i64).to_be_bytes());
        resum(&mut b, &root);
        c.write(&b);
        let r = verify_file(&c.path);
        let what = format!("one-level root entry 3 -> {target}");
        assert_eq!(
            r.status,
            Status::Problems,
            "{what}
{}",
            show(&r)
        );
        let p = r
            .problems
            .iter()
            .find(|p| p.check == "index" && p.offset == Some(root.offset))
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no index problem at the root
{}",
                    show(&r)
                )
            });
        assert_eq!(p.block_type, Some("ROOT_INDEX"), "{what}");
        assert!(
            p.message.contains("entry 3")
                && p.message.contains(&target.to_string())
                && p.message.contains(words),
            "{what}: {}",
            p.message
        );
        // The orphaned data block is named; the other entries are not blamed.
        assert!(
            r.problems
                .iter()
                .any(|p| p.offset == Some(data[3].offset)
                    && p.message.contains("no data index entry")),
            "{what}
{}",
            show(&r)
        );
        let index_problems = r.problems.iter().filter(|p| p.check == "index").count();
        assert!(
            index_problems <= 3,
            "{what}: cascade of index problems
{}",
            show(&r)
        );
    }

    // Three levels: a LEAF_INDEX entry pointing past the end is reported at that leaf.
    let c = Copy::new(&fx, CK_NULL);
    let leaf = c.of_type(BlockType::LeafIndex)[4];
    let (s, _) = payload_range(&leaf);
    let n = i32::from_be_bytes(c.orig[s..s + 4].try_into().unwrap()) as usize;
    // Non-root layout: count, (n+1) secondary offsets, entries (i64 offset, i32 size, key).
    let entry1 = s
        + 4
        + 4 * (n + 1)
        + u32::from_be_bytes(c.orig[s + 8..s + 12].try_into().unwrap()) as usize;
    let target = c.orig.len() as u64 * 3;
    let mut b = c.orig.clone();
    b[entry1..entry1 + 8].copy_from_slice(&(target as i64).to_be_bytes());
    c.write(&b);
    let r = verify_file(&c.path);
    assert!(
        r.problems.iter().any(|p| p.check == "index"
            && p.offset == Some(leaf.offset)
            && p.block_type == Some("LEAF_INDEX")
            && p.message.contains("entry 1 points at")
            && p.message.contains(&target.to_string())),
        "leaf entry 1 -> {target}
{}",
        show(&r)
    );
    assert!(
        r.problems.iter().filter(|p| p.check == "index").count() <= 3,
        "{}",
        show(&r)
    );
}

// ---------------------------------------------------------------------------------------
// The binary.

fn hfile_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_hfile"))
}

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&std::ffi::OsStr]) -> Out {
    let o = hfile_bin().args(args).output().expect("run hfile");
    Out {
        code: o.status.code(),
        stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

#[test]
fn binary_verify_exit_codes_and_json() {
    let Some(fx) = common::fixtures() else { return };
    let clean = fx.join(BLOOM_ROW);
    let o = run(&["verify".as_ref(), clean.as_os_str()]);
    assert_eq!(o.code, Some(0), "{o}");
    assert!(o.stdout.starts_with("OK "), "{o}");

    // Corrupted: one flipped byte in a data block.
    let c = Copy::new(&fx, BLOOM_ROW);
    let h = c.of_type(BlockType::Data)[5];
    let mut b = c.orig.clone();
    b[h.offset as usize + 40] ^= 0xFF;
    c.write(&b);
    let o = run(&["verify".as_ref(), c.path.as_os_str()]);
    assert_eq!(o.code, Some(1), "{o}");
    assert!(
        o.stdout.contains(&format!("PROBLEMS {}", c.path.display())),
        "{o}"
    );
    assert!(
        o.stdout
            .contains(&format!("at byte {} (DATA block): [checksum]", h.offset)),
        "{o}"
    );

    // Truncated copy: could not run.
    let t = Copy::new(&fx, GZ_FAST_DIFF);
    t.write(&t.orig[..t.orig.len() / 2]);
    let o = run(&["verify".as_ref(), t.path.as_os_str()]);
    assert_eq!(o.code, Some(2), "{o}");
    assert!(
        o.stdout
            .contains(&format!("UNREADABLE {}", t.path.display())),
        "{o}"
    );
    assert!(!o.stderr.contains("panicked"), "{o}");

    // --json over all three: one parseable object per line, in argument order.
    let o = run(&[
        "verify".as_ref(),
        "--json".as_ref(),
        clean.as_os_str(),
        c.path.as_os_str(),
        t.path.as_os_str(),
    ]);
    assert_eq!(o.code, Some(2), "unreadable wins over problems\n{o}");
    let lines: Vec<serde_json::Value> = o
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?}\n{o}")))
        .collect();
    assert_eq!(lines.len(), 3, "{o}");
    let status: Vec<&str> = lines
        .iter()
        .map(|v| v["status"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(status, ["clean", "problems", "unreadable"], "{o}");
    assert_eq!(lines[0]["cells"], 2091, "{o}");
    assert!(
        lines[1]["problems"].as_array().is_some_and(|ps| ps
            .iter()
            .any(|p| p["offset"] == h.offset && p["check"] == "checksum")),
        "{o}"
    );
    assert_eq!(lines[2]["path"], t.path.display().to_string(), "{o}");

    // --json exit 1 without unreadable files; a directory of copies is walked.
    let o = run(&["verify".as_ref(), "--json".as_ref(), c.dir.as_os_str()]);
    assert_eq!(o.code, Some(1), "{o}");
    for l in o.stdout.lines() {
        serde_json::from_str::<serde_json::Value>(l).unwrap_or_else(|e| panic!("{e}: {l:?}"));
    }
}
