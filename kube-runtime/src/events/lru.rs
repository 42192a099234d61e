//! A small least-recently-used map, so that the recorder's caches stay bounded (client-go keeps
//! 4096 entries in each of its event caches).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

/// A map that forgets its least recently used entry when it grows past `capacity`.
///
/// Every lookup through [`get_mut`](Lru::get_mut) and every insert counts as a use. Operations
/// are `O(log n)`.
#[derive(Debug)]
pub(crate) struct Lru<K, V> {
    capacity: usize,
    tick: u64,
    entries: HashMap<K, (V, u64)>,
    /// Last use → key, oldest first.
    order: BTreeMap<u64, K>,
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    /// An empty map holding at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            tick: 0,
            entries: HashMap::new(),
            order: BTreeMap::new(),
        }
    }

    fn next_tick(&mut self) -> u64 {
        self.tick += 1;
        self.tick
    }

    /// The value for `key`, marked as just used.
    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        let tick = self.next_tick();
        let (_, used) = self.entries.get_mut(key)?;
        let old = std::mem::replace(used, tick);
        let k = self.order.remove(&old).expect("order tracks every entry");
        self.order.insert(tick, k);
        self.entries.get_mut(key).map(|(v, _)| v)
    }

    /// The value for `key`, created with `make` when absent (which may evict the oldest entry).
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        if !self.entries.contains_key(&key) {
            self.insert(key.clone(), make());
        }
        self.get_mut(&key).expect("just inserted")
    }

    /// Insert or replace the value for `key`, evicting the least recently used entry when full.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        let tick = self.next_tick();
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, tick)) {
            self.order.remove(&old);
        }
        self.order.insert(tick, key);
        while self.entries.len() > self.capacity {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            self.entries.remove(&oldest);
        }
    }

    /// Forget `key`.
    pub(crate) fn remove(&mut self, key: &K) -> Option<V> {
        let (value, used) = self.entries.remove(key)?;
        self.order.remove(&used);
        Some(value)
    }

    /// The number of entries.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut lru = Lru::new(3);
        lru.insert("a", 1);
        lru.insert("b", 2);
        lru.insert("c", 3);
        // Using `a` makes `b` the oldest.
        assert_eq!(lru.get_mut(&"a"), Some(&mut 1));
        lru.insert("d", 4);
        assert_eq!(lru.len(), 3);
        assert!(lru.get_mut(&"b").is_none());
        assert!(lru.get_mut(&"a").is_some());
        // Replacing a value is a use too, and does not grow the map.
        lru.insert("c", 30);
        lru.insert("e", 5);
        assert_eq!(lru.len(), 3);
        assert!(lru.get_mut(&"d").is_none());
        assert_eq!(lru.get_mut(&"c"), Some(&mut 30));
        assert_eq!(lru.remove(&"c"), Some(30));
        assert_eq!(lru.len(), 2);
        *lru.get_or_insert_with("f", || 6) += 1;
        assert_eq!(lru.get_mut(&"f"), Some(&mut 7));
    }

    #[test]
    fn stays_bounded_under_many_keys() {
        let mut lru = Lru::new(4096);
        for i in 0..10_000 {
            lru.insert(i, i);
        }
        assert_eq!(lru.len(), 4096);
        assert!(lru.get_mut(&(10_000 - 4096)).is_some());
        assert!(lru.get_mut(&(10_000 - 4097)).is_none());
    }
}
