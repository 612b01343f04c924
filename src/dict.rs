//! HBase's `LRUDictionary` as the decoders use it: entries get indices in insertion order;
//! once full, a new entry replaces the least recently used one and takes its index.
//! Used for tag compression in encoded HFile blocks and for WAL dictionary compression.

/// A bounded LRU dictionary of byte strings.
#[derive(Debug, Clone)]
pub struct LruDict {
    capacity: usize,
    entries: Vec<Vec<u8>>,
    last_used: Vec<u64>,
    clock: u64,
}

impl LruDict {
    /// An empty dictionary holding at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        LruDict {
            capacity: capacity.max(1),
            entries: Vec::new(),
            last_used: Vec::new(),
            clock: 0,
        }
    }
    /// Forget every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.last_used.clear();
        self.clock = 0;
    }
    /// Add a literal (as a decoder does on reading one); returns its index.
    /// Empty entries are never added (returns None), as in HBase.
    pub fn add(&mut self, data: &[u8]) -> Option<u16> {
        if data.is_empty() {
            return None;
        }
        self.clock += 1;
        if self.entries.len() < self.capacity {
            self.entries.push(data.to_vec());
            self.last_used.push(self.clock);
            return Some((self.entries.len() - 1) as u16);
        }
        let (idx, _) = self.last_used.iter().enumerate().min_by_key(|(_, &t)| t)?;
        if let Some(e) = self.entries.get_mut(idx) {
            e.clear();
            e.extend_from_slice(data);
        }
        if let Some(t) = self.last_used.get_mut(idx) {
            *t = self.clock;
        }
        Some(idx as u16)
    }
    /// Look up an index and mark it most recently used.
    pub fn get(&mut self, idx: u16) -> Option<&[u8]> {
        let i = idx as usize;
        self.clock += 1;
        *self.last_used.get_mut(i)? = self.clock;
        self.entries.get(i).map(Vec::as_slice)
    }
    /// Find an entry (as an encoder does); marks it used when found.
    pub fn find(&mut self, data: &[u8]) -> Option<u16> {
        let i = self.entries.iter().position(|e| e.as_slice() == data)?;
        self.clock += 1;
        if let Some(t) = self.last_used.get_mut(i) {
            *t = self.clock;
        }
        Some(i as u16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn eviction_reuses_lru_index() {
        let mut d = LruDict::new(2);
        assert_eq!(d.add(b"a"), Some(0));
        assert_eq!(d.add(b"b"), Some(1));
        assert_eq!(d.get(0), Some(&b"a"[..]));
        assert_eq!(d.add(b"c"), Some(1), "b was least recently used");
        assert_eq!(d.get(1), Some(&b"c"[..]));
        assert_eq!(d.add(b""), None);
    }
}
