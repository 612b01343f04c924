//! k-way merge of a store's files in HBase's scan order (§12.1): cell comparator, then
//! sequence id descending, then the store file with the higher sequence id first.
//!
//! Streaming: one owned cell per input is held at a time, with buffers reused.

use std::cmp::Ordering;
use std::path::PathBuf;

use crate::cell::{Cell, Key, Order};
use crate::error::{Error, Result};
use crate::hfile::fileinfo::keys;
use crate::hfile::{HFile, Scanner};
use crate::layout::{Reference, StoreFile};

use super::edits::EditsStream;

/// An opened store file with the facts the merge needs.
#[derive(Debug)]
pub struct Input {
    /// Where the store file is listed (the reference or link name, or the file itself).
    pub path: PathBuf,
    /// The opened HFile (for references: the parent file).
    pub hfile: HFile,
    /// Store-file sequence id: `MAX_SEQ_ID_KEY` (+1 for top references) or the bulk
    /// `_SeqId_N_` (§10.1).
    pub seq_id: u64,
    /// When set, every cell read from this file gets this sequence id (bulk-loaded file).
    pub force_seq_id: Option<u64>,
    /// Half of the file to read (references).
    pub half: Option<Reference>,
    /// `EARLIEST_PUT_TS` (i64::MIN when absent).
    pub earliest_put_ts: i64,
}

impl Input {
    /// Open a store file resolved by [`crate::layout`].
    pub fn open(sf: &StoreFile) -> Result<Input> {
        let hfile = HFile::open(&sf.data_path)?;
        Ok(Self::from_hfile(
            sf.path.clone(),
            hfile,
            sf.bulk_seq_id(),
            sf.reference.clone(),
        ))
    }

    /// Wrap an opened HFile: `name_bulk_seq` is the `_SeqId_N_` of its name, if any.
    pub fn from_hfile(
        path: PathBuf,
        hfile: HFile,
        name_bulk_seq: Option<u64>,
        half: Option<Reference>,
    ) -> Input {
        let fi = &hfile.file_info;
        let top = half.as_ref().is_some_and(|r| r.top);
        let mut seq = fi
            .get_i64(keys::MAX_SEQ_ID_KEY)
            .map_or(0, |v| v.max(0) as u64);
        if top {
            seq = seq.saturating_add(1);
        }
        let bulk = name_bulk_seq.is_some() || fi.get(keys::BULKLOAD_TIMESTAMP).is_some();
        let mut force = None;
        if bulk {
            if let Some(n) = name_bulk_seq {
                seq = if top { n.saturating_add(1) } else { n };
            }
            let skip_reset = fi
                .get("SKIP_RESET_SEQ_ID")
                .is_some_and(|v| v.first().is_some_and(|b| *b != 0));
            if !skip_reset {
                force = Some(seq);
            }
        }
        let earliest_put_ts = fi.get_i64(keys::EARLIEST_PUT_TS).unwrap_or(i64::MIN);
        Input {
            path,
            hfile,
            seq_id: seq,
            force_seq_id: force,
            half,
            earliest_put_ts,
        }
    }

    /// `MAX_MEMSTORE_TS_KEY`, or for bulk files their sequence id.
    pub fn max_memstore_ts(&self) -> u64 {
        if let Some(s) = self.force_seq_id {
            return s;
        }
        self.hfile
            .file_info
            .get_i64(keys::MAX_MEMSTORE_TS_KEY)
            .map_or(0, |v| v.max(0) as u64)
    }

    /// `hfile.MAX_TAGS_LEN` > 0.
    pub fn has_tags(&self) -> bool {
        self.hfile
            .file_info
            .get_i32(keys::MAX_TAGS_LEN)
            .is_some_and(|n| n > 0)
    }
}

/// A cell with owned bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OwnedCell {
    /// KEY bytes.
    pub key: Vec<u8>,
    /// Value.
    pub value: Vec<u8>,
    /// Serialized tags.
    pub tags: Vec<u8>,
    /// Sequence id.
    pub seq_id: u64,
}

impl OwnedCell {
    /// Copy a borrowed cell.
    pub fn from_cell(c: &Cell<'_>) -> OwnedCell {
        let mut o = OwnedCell::default();
        o.set(c, None);
        o
    }
    fn set(&mut self, c: &Cell<'_>, force_seq: Option<u64>) {
        self.key.clear();
        self.key.extend_from_slice(c.key.raw());
        self.value.clear();
        self.value.extend_from_slice(c.value);
        self.tags.clear();
        self.tags.extend_from_slice(c.tags);
        self.seq_id = force_seq.unwrap_or(c.seq_id);
    }
    /// A borrowed view.
    pub fn cell(&self) -> Result<Cell<'_>> {
        Ok(Cell {
            key: Key::parse(&self.key)?,
            value: &self.value,
            tags: &self.tags,
            seq_id: self.seq_id,
        })
    }
}

#[allow(clippy::large_enum_variant)] // one per input, not moved around
enum Feed<'a> {
    File {
        scanner: Scanner<'a>,
        input: &'a Input,
    },
    Edits(Box<EditsStream>),
}

struct Source<'a> {
    feed: Feed<'a>,
    /// Store-file sequence id for tie-breaks (u64::MAX for edits: HBase replays them into
    /// the memstore, whose scanner counts as newer than every file).
    file_seq: u64,
    order: Order,
    cur: OwnedCell,
    has: bool,
    started: bool,
}

impl<'a> Source<'a> {
    fn advance(&mut self) -> Result<()> {
        let (scanner, input) = match &mut self.feed {
            Feed::File { scanner, input } => (scanner, *input),
            Feed::Edits(e) => {
                match e.next()? {
                    Some(c) => {
                        self.cur.key.clear();
                        self.cur.key.extend_from_slice(&c.key);
                        self.cur.value.clear();
                        self.cur.value.extend_from_slice(&c.value);
                        self.cur.tags.clear();
                        self.cur.tags.extend_from_slice(&c.tags);
                        self.cur.seq_id = c.seq_id;
                        self.has = true;
                    }
                    None => self.has = false,
                }
                return Ok(());
            }
        };
        loop {
            let Some(c) = scanner.next_cell()? else {
                self.has = false;
                return Ok(());
            };
            if let Some(r) = &input.half {
                let split = Key::parse(&r.split_key)?;
                let ord = self.order.compare(&c.key, &split);
                if r.top {
                    if ord == Ordering::Less {
                        continue;
                    }
                } else if ord != Ordering::Less {
                    self.has = false;
                    return Ok(());
                }
            }
            self.cur.set(&c, input.force_seq_id);
            self.has = true;
            return Ok(());
        }
    }
}

/// The merged stream of a set of inputs.
pub struct Merge<'a> {
    sources: Vec<Source<'a>>,
    order: Order,
    last: Option<usize>,
}

impl<'a> Merge<'a> {
    /// Merge `inputs` (any order; ties are broken by store-file sequence id, then by
    /// position: a later input counts as newer).
    pub fn new(inputs: &'a [Input]) -> Result<Merge<'a>> {
        Self::new_at(inputs, &[])
    }

    /// Like [`Merge::new`], but each file is positioned (through its block index) at the
    /// first block that can hold `start_row`; earlier cells may still be returned, so
    /// callers keep their own row check. An empty `start_row` reads from the start.
    pub fn new_at(inputs: &'a [Input], start_row: &[u8]) -> Result<Merge<'a>> {
        Self::with_edits(inputs, Vec::new(), start_row)
    }

    /// Like [`Merge::new_at`], plus sorted recovered-edits streams
    /// ([`super::edits`]) as further inputs that count as newer than every file. Edits are
    /// read from their start whatever `start_row` is.
    pub fn with_edits(
        inputs: &'a [Input],
        edits: Vec<EditsStream>,
        start_row: &[u8],
    ) -> Result<Merge<'a>> {
        let order = inputs.first().map_or_else(
            || edits.first().map_or(Order::Normal, EditsStream::order),
            |i| i.hfile.order,
        );
        let mut sources = Vec::with_capacity(inputs.len());
        for input in inputs {
            if input.hfile.order != order {
                return Err(Error::usage(format!(
                    "{}: its cell order differs from the other store files'",
                    input.path.display()
                )));
            }
            let mut from = start_row.to_vec();
            if let Some(r) = input.half.as_ref().filter(|r| r.top) {
                let split = r.split_row()?;
                if split > from {
                    from = split;
                }
            }
            let scanner = if from.is_empty() {
                input.hfile.scanner()
            } else {
                input.hfile.scanner_at_row(&from)?
            };
            sources.push(Source {
                feed: Feed::File { scanner, input },
                file_seq: input.seq_id,
                order,
                cur: OwnedCell::default(),
                has: false,
                started: false,
            });
        }
        for e in edits {
            if e.order() != order {
                return Err(Error::usage(
                    "recovered edits: their cell order differs from the store files'",
                ));
            }
            sources.push(Source {
                feed: Feed::Edits(Box::new(e)),
                file_seq: u64::MAX,
                order,
                cur: OwnedCell::default(),
                has: false,
                started: false,
            });
        }
        Ok(Merge {
            sources,
            order,
            last: None,
        })
    }

    fn cmp(&self, a: usize, b: usize) -> Result<Ordering> {
        let (Some(x), Some(y)) = (self.sources.get(a), self.sources.get(b)) else {
            return Ok(Ordering::Equal);
        };
        let kx = Key::parse(&x.cur.key)?;
        let ky = Key::parse(&y.cur.key)?;
        Ok(self
            .order
            .compare(&kx, &ky)
            .then_with(|| y.cur.seq_id.cmp(&x.cur.seq_id))
            .then_with(|| y.file_seq.cmp(&x.file_seq))
            .then_with(|| b.cmp(&a)))
    }

    /// The next cell in merged order, or None at the end.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<&OwnedCell>> {
        if let Some(i) = self.last.take() {
            if let Some(s) = self.sources.get_mut(i) {
                s.advance()?;
            }
        }
        for s in &mut self.sources {
            if !s.started {
                s.started = true;
                s.advance()?;
            }
        }
        let mut best: Option<usize> = None;
        for i in 0..self.sources.len() {
            if !self.sources.get(i).is_some_and(|s| s.has) {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    if self.cmp(i, b)? == Ordering::Less {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        self.last = best;
        Ok(best.and_then(|i| self.sources.get(i)).map(|s| &s.cur))
    }
}
