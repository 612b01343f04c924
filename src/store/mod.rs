//! Reading a store as HBase does: every store file merged in scan order
//! ([`merge`]), HBase's delete/version/TTL rules ([`matcher`]), and offline compaction
//! ([`compact`]).

pub mod compact;
pub mod edits;
pub mod filter;
pub mod matcher;
pub mod merge;
pub mod scan;

pub use filter::Filter;
pub use matcher::{Filtered, Matcher, Mode, Params};
pub use merge::{Input, Merge, OwnedCell};
pub use scan::{scan_region, scan_regions, ScanOptions, ScanSpec};

use crate::error::Result;
use crate::layout::Store;

/// Open every file of a store.
pub fn open_inputs(store: &Store) -> Result<Vec<Input>> {
    store.files.iter().map(Input::open).collect()
}

/// Merge `inputs`, apply `matcher`, and call `f` with every kept cell. Streaming.
pub fn for_each_kept(
    inputs: &[Input],
    matcher: &mut Matcher,
    mut f: impl FnMut(&crate::cell::Cell<'_>) -> Result<bool>,
) -> Result<()> {
    let mut m = Merge::new(inputs)?;
    while let Some(c) = m.next()? {
        let cell = c.cell()?;
        if matcher.check(&cell) && !f(&cell)? {
            break;
        }
    }
    Ok(())
}
