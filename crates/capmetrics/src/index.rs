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
    /// When the keys are small numbers (stop ids are), `slot_of` as a plain array indexed by
    /// key, with `u32::MAX` for absent keys: a lookup is then one load instead of a hash probe.
    dense: Vec<u32>,
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
        // Rows of one key mostly come in runs (a day's positions and a schedule are written
        // trip by trip), so a repeat of the previous key skips the hash lookup.
        let mut previous: Option<(u64, u32)> = None;
        for &key in keys {
            let slot = match previous {
                Some((previous_key, slot)) if previous_key == key => slot,
                _ => *slot_of.entry(key).or_insert_with(|| {
                    group_keys.push(key);
                    counts.push(0);
                    (group_keys.len() - 1) as u32
                }),
            };
            previous = Some((key, slot));
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
        let max_key = group_keys.iter().copied().max().unwrap_or(0);
        let dense = if max_key < 1 << 20 && max_key <= 16 * group_keys.len() as u64 {
            let mut dense = vec![u32::MAX; max_key as usize + 1];
            for (slot, &key) in group_keys.iter().enumerate() {
                dense[key as usize] = slot as u32;
            }
            dense
        } else {
            Vec::new()
        };
        GroupIndex {
            slot_of,
            dense,
            starts,
            rows,
            keys: group_keys,
        }
    }

    /// The rows with this key, in ascending order (empty if the key never occurs).
    pub(crate) fn rows(&self, key: u64) -> &[u32] {
        &self.rows[self.range(key)]
    }

    /// The group of this key.
    fn slot(&self, key: u64) -> Option<usize> {
        let slot = if self.dense.is_empty() {
            self.slot_of.get(&key).copied()
        } else {
            usize::try_from(key)
                .ok()
                .and_then(|k| self.dense.get(k))
                .copied()
                .filter(|&s| s != u32::MAX)
        };
        slot.map(|slot| slot as usize)
    }

    /// Where the rows with this key are in [`order`](Self::order) (empty if the key never
    /// occurs).
    pub(crate) fn range(&self, key: u64) -> std::ops::Range<usize> {
        match self.slot(key) {
            Some(g) => self.starts[g] as usize..self.starts[g + 1] as usize,
            None => 0..0,
        }
    }

    /// Every row number, group after group, each group's rows in ascending order.
    pub(crate) fn order(&self) -> &[u32] {
        &self.rows
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
        assert!(empty.rows(0).is_empty());
        // Large, sparse keys use the hash map.
        let sparse = GroupIndex::build(&[u64::MAX, 5, u64::MAX]);
        assert!(sparse.dense.is_empty());
        assert_eq!(sparse.rows(u64::MAX), [0, 2]);
        assert_eq!(sparse.rows(5), [1]);
        assert!(sparse.rows(6).is_empty());
        assert!(!index.dense.is_empty());
        assert!(index.rows(8).is_empty() && index.rows(1 << 40).is_empty());
        // Runs of one key, and a key that comes back after another.
        let runs = GroupIndex::build(&[7, 7, 3, 3, 3, 7, 9, 9]);
        assert_eq!(runs.rows(7), [0, 1, 5]);
        assert_eq!(runs.rows(3), [2, 3, 4]);
        assert_eq!(runs.rows(9), [6, 7]);
        assert_eq!(
            (runs.len(), runs.key(0), runs.key(1), runs.key(2)),
            (3, 7, 3, 9)
        );
    }
}
