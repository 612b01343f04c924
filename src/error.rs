//! One error type for the whole library: every failure says which file, at which byte
//! offset, in which structure, and what was expected versus what was found.

use std::fmt;
use std::path::PathBuf;

/// Result alias used throughout hbkit.
pub type Result<T> = std::result::Result<T, Error>;

/// What kind of failure this is. Scripts and tests match on it; humans read the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Operating-system I/O failure (open, read, mmap, write).
    Io,
    /// The bytes are not a well-formed structure (bad magic, length out of range, bad varint...).
    Corrupt,
    /// A checksum stored in the file does not match the bytes.
    Checksum,
    /// The file is a legitimate HBase form this tool deliberately does not read
    /// (HFile v1, PREFIX_TREE, encryption, an unknown codec or version).
    Unsupported,
    /// The caller asked for something invalid (bad option value, bad escaped row...).
    Usage,
}

/// A located error: file, byte offset, the structure being read, and a message that
/// states what was expected and what was found.
#[derive(Debug, Clone)]
pub struct Error {
    /// Failure class.
    pub kind: ErrorKind,
    /// File the error is about, when known.
    pub path: Option<PathBuf>,
    /// Absolute byte offset in that file, when known.
    pub offset: Option<u64>,
    /// The structure being read (e.g. "block header", "trailer", "FILE_INFO").
    pub context: &'static str,
    /// Human-readable detail: expected vs found.
    pub message: String,
}

impl Error {
    /// A new error of `kind` about `context`.
    pub fn new(kind: ErrorKind, context: &'static str, message: impl Into<String>) -> Self {
        Error {
            kind,
            path: None,
            offset: None,
            context,
            message: message.into(),
        }
    }
    /// A corrupt-structure error.
    pub fn corrupt(context: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Corrupt, context, message)
    }
    /// An unsupported-form error.
    pub fn unsupported(context: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, context, message)
    }
    /// A usage error (bad argument).
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, "argument", message)
    }
    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, err: std::io::Error) -> Self {
        let mut e = Self::new(ErrorKind::Io, "file", err.to_string());
        e.path = Some(path.into());
        e
    }
    /// Attach an absolute offset if none is set yet.
    pub fn at(mut self, offset: u64) -> Self {
        if self.offset.is_none() {
            self.offset = Some(offset);
        }
        self
    }
    /// Shift a relative offset (inside a buffer that starts at `base`) to an absolute one,
    /// or set `base` if no offset is known.
    pub fn rebase(mut self, base: u64) -> Self {
        self.offset = Some(self.offset.map_or(base, |o| o.saturating_add(base)));
        self
    }
    /// Attach a path if none is set yet.
    pub fn in_file(mut self, path: impl Into<PathBuf>) -> Self {
        if self.path.is_none() {
            self.path = Some(path.into());
        }
        self
    }
    /// Set the context if the current one is generic.
    pub fn context(mut self, context: &'static str) -> Self {
        self.context = context;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        if let Some(o) = self.offset {
            write!(f, "at byte {o}: ")?;
        }
        write!(f, "{}: {}", self.context, self.message)
    }
}

impl std::error::Error for Error {}
