//! HFile v2/v3: blocks, trailer, FileInfo, indexes, data block encodings, blooms, the reader
//! and verification.

pub mod block;
pub mod bloom;
pub mod bloom_writer;
pub mod encode;
pub mod encoding;
pub mod fileinfo;
pub mod index;
pub mod pretty;
pub mod reader;
pub mod trailer;
pub mod verify;
pub mod writer;

pub use reader::{HFile, Scanner};
pub use writer::{HFileWriter, StoreMeta, Summary, Unrenamed, WriterOptions};
