//! HBase's `LRUDictionary`: entries get indices in insertion order; once full, a new entry
//! replaces the least recently used one and takes its index. Used for tag compression in
//! encoded HFile blocks and for WAL dictionary compression. Every operation is O(1): the
//! recency order is a doubly linked list over entry indices, and lookups by content go
//! through a hash map.

use std::collections::HashMap;

const NIL: usize = usize::MAX;

/// A bounded LRU dictionary of byte strings.
#[derive(Debug, Clone)]
pub struct LruDict {
    capacity: usize,
    entries: Vec<Vec<u8>>,
    prev: Vec<usize>,
    next: Vec<usize>,
    /// Most recently used.
    head: usize,
    /// Least recently used.
    tail: usize,
    index: HashMap<Vec<u8>, u16>,
}

impl LruDict {
    /// An empty dictionary holding at most `capacity` entries (HBase's are at most 32767).
    pub fn new(capacity: usize) -> Self {
        LruDict {
            capacity: capacity.clamp(1, i16::MAX as usize),
            entries: Vec::new(),
            prev: Vec::new(),
            next: Vec::new(),
            head: NIL,
            tail: NIL,
            index: HashMap::new(),
        }
    }
    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
    /// Forget every entry.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.prev.clear();
        self.next.clear();
        self.head = NIL;
        self.tail = NIL;
        self.index.clear();
    }
    fn unlink(&mut self, i: usize) {
        let (p, n) = (
            self.prev.get(i).copied().unwrap_or(NIL),
            self.next.get(i).copied().unwrap_or(NIL),
        );
        match self.next.get_mut(p) {
            Some(x) => *x = n,
            None => self.head = n,
        }
        match self.prev.get_mut(n) {
            Some(x) => *x = p,
            None => self.tail = p,
        }
    }
    fn push_front(&mut self, i: usize) {
        if let Some(x) = self.prev.get_mut(i) {
            *x = NIL;
        }
        if let Some(x) = self.next.get_mut(i) {
            *x = self.head;
        }
        match self.prev.get_mut(self.head) {
            Some(x) => *x = i,
            None => self.tail = i,
        }
        self.head = i;
    }
    fn touch(&mut self, i: usize) {
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
    }
    /// Add a literal (as a decoder does on reading one); returns its index.
    /// Empty entries are never added (returns None), as in HBase.
    pub fn add(&mut self, data: &[u8]) -> Option<u16> {
        if data.is_empty() {
            return None;
        }
        let i = if self.entries.len() < self.capacity {
            self.entries.push(data.to_vec());
            self.prev.push(NIL);
            self.next.push(NIL);
            let i = self.entries.len() - 1;
            self.push_front(i);
            i
        } else {
            let i = self.tail;
            let old = self.entries.get_mut(i)?;
            let old = std::mem::replace(old, data.to_vec());
            if self.index.get(&old) == Some(&(i as u16)) {
                self.index.remove(&old);
            }
            self.touch(i);
            i
        };
        self.index.insert(data.to_vec(), i as u16);
        Some(i as u16)
    }
    /// Look up an index and mark it most recently used.
    pub fn get(&mut self, idx: u16) -> Option<&[u8]> {
        let i = idx as usize;
        if i >= self.entries.len() {
            return None;
        }
        self.touch(i);
        self.entries.get(i).map(Vec::as_slice)
    }
    /// Find an entry (as an encoder does); marks it used when found.
    pub fn find(&mut self, data: &[u8]) -> Option<u16> {
        let i = *self.index.get(data)?;
        self.touch(i as usize);
        Some(i)
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
        assert_eq!(d.find(b"b"), None);
        assert_eq!(d.find(b"a"), Some(0));
        assert_eq!(d.add(b""), None);
        assert_eq!(d.get(7), None);
    }

    /// Against a naive model (a recency counter per slot) on a long random sequence.
    #[test]
    fn matches_naive_model() {
        let cap = 5;
        let mut d = LruDict::new(cap);
        let mut entries: Vec<Vec<u8>> = Vec::new();
        let mut used: Vec<u64> = Vec::new();
        let mut clock = 0u64;
        let mut x = 12345u64;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            clock += 1;
            if x % 3 == 0 && !entries.is_empty() {
                let i = (x / 3) as usize % entries.len();
                used[i] = clock;
                assert_eq!(d.get(i as u16), Some(entries[i].as_slice()));
            } else {
                let v = vec![(x % 11) as u8 + 1];
                let i = if entries.len() < cap {
                    entries.push(v.clone());
                    used.push(clock);
                    entries.len() - 1
                } else {
                    let (i, _) = used.iter().enumerate().min_by_key(|(_, &t)| t).unwrap();
                    entries[i] = v.clone();
                    used[i] = clock;
                    i
                };
                assert_eq!(d.add(&v), Some(i as u16));
            }
        }
    }
}
