//! A grouping index: for each distinct key, the positions where it occurs, in order.
//!
//! Schedule rows by trip, stops by id and positions by trip are all "rows of one key, in file
//! order". Storing every group's row numbers back to back in one vector (a compressed sparse
//! row layout) costs two allocations instead of one per key, and keeps a group's rows
//! contiguous for the scans that follow.

use rustc_hash::FxHashMap;

/// Row numbers grouped by key, each group in ascending (file) order.
#[derive(Debug, Default, Clone)]
pub(crate) struct GroupIndex {
    slot_of: FxHashMap<u64, u32>,
    /// Group `g` is `rows[starts[g]..starts[g + 1]]`.
    starts: Vec<u32>,
    rows: Vec<u32>,
    /// The key of each group, in order of first appearance.
    keys: Vec<u64>,
}

impl GroupIndex {
    /// Groups row numbers `0..keys.len()` by their key.
    pub(crate) fn build(keys: &[u64]) -> GroupIndex {
        let mut slot_of = FxHashMap::default();
        let mut group_keys = Vec::new();
        let mut counts: Vec<u32> = Vec::new();
        let mut slots = Vec::with_capacity(keys.len());
        for &key in keys {
            let slot = *slot_of.entry(key).or_insert_with(|| {
                group_keys.push(key);
                counts.push(0);
                (group_keys.len() - 1) as u32
            });
            counts[slot as usize] += 1;
            slots.push(slot);
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut total = 0u32;
        starts.push(0);
        for count in &counts {
            total += count;
            starts.push(total);
        }
        // Fill each group from its start; `counts` becomes the next free offset per group.
        let mut next: Vec<u32> = starts[..counts.len()].to_vec();
        let mut rows = vec![0u32; keys.len()];
        for (row, slot) in slots.into_iter().enumerate() {
            let at = &mut next[slot as usize];
            rows[*at as usize] = row as u32;
            *at += 1;
        }
        GroupIndex { slot_of, starts, rows, keys: group_keys }
    }

    /// The rows with this key, in ascending order (empty if the key never occurs).
    pub(crate) fn rows(&self, key: u64) -> &[u32] {
        match self.slot_of.get(&key) {
            Some(&slot) => self.group(slot as usize),
            None => &[],
        }
    }

    /// Number of distinct keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The key and rows of group `g` (groups are numbered in order of first appearance).
    pub(crate) fn key(&self, g: usize) -> u64 {
        self.keys[g]
    }

    pub(crate) fn group(&self, g: usize) -> &[u32] {
        &self.rows[self.starts[g] as usize..self.starts[g + 1] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_keep_file_order() {
        let index = GroupIndex::build(&[7, 3, 7, 9, 3, 7]);
        assert_eq!(index.rows(7), [0, 2, 5]);
        assert_eq!(index.rows(3), [1, 4]);
        assert_eq!(index.rows(9), [3]);
        assert!(index.rows(1).is_empty());
        assert_eq!(index.len(), 3);
        assert_eq!((index.key(0), index.group(0)), (7, &[0u32, 2, 5][..]));
        assert_eq!(index.key(2), 9);
        let empty = GroupIndex::build(&[]);
        assert_eq!(empty.len(), 0);
    }
}
