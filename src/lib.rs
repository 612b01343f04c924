//! # hbkit
//!
//! Read, verify and write Apache HBase's on-disk files offline, without a cluster.
//!
//! * [`hfile`]: HFile v2/v3 — trailer, FileInfo, block indexes, data block encodings
//!   (NONE, PREFIX, DIFF, FAST_DIFF, ROW_INDEX_V1), compound bloom filters, every codec
//!   HBase ships in Hadoop's on-disk framing, and a verifier that checks every byte.
//! * [`cell`]: zero-copy KeyValue views, HBase's comparator and text forms.
//! * [`bytes`]: vint/vlong, varints, `Bytes.toStringBinary` and its inverse.
//!
//! Every parser checks each length against the bytes present and reports failures as
//! [`Error`] values carrying the file, the byte offset and what was expected.
#![deny(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]
#![warn(missing_docs)]

pub mod bulk;
pub mod bytes;
pub mod cell;
pub mod codec;
pub mod dict;
pub mod error;
pub mod hashtable;
pub mod hfile;
pub mod json;
pub mod layout;
pub mod pb;
pub mod seqfile;
pub mod store;
pub mod wal;
pub mod walk;

pub use error::{Error, ErrorKind, Result};
