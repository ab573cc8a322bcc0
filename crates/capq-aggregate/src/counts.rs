//! [`Counts`]: exact counts of integer values for one cell of the merged aggregate.
//!
//! A year has tens of thousands of cells (a stop cell is route × direction × day type × stop),
//! each receiving one sorted run of `(value, count)` pairs per day. A dense array per cell
//! would take hundreds of megabytes; sorting appended runs would take seconds. So a cell keeps
//! packed 32-bit entries (value offset in the high bits, count in the low bits), appended as
//! they come, and compacts them with a dense scratch array shared by all cells whenever they
//! double: that costs the entries plus the cell's value range, with no sort. A cell whose
//! distinct values exceed a quarter of its range switches to a dense array, which is then
//! smaller. Values outside the dense range (rare: observed headways of hours) are kept aside.
//!
//! Counts in a dense array are `u32`; the aggregator refuses more than `u32::MAX` rows, so no
//! bin can overflow.

/// Exact counts of integer values (see the module documentation).
#[derive(Debug)]
pub(crate) struct Counts {
    /// The dense range is `lo .. lo + width`.
    lo: i64,
    width: u32,
    /// Low bits of an entry that hold its count; the high bits hold `value − lo`.
    count_bits: u32,
    entries: Vec<u32>,
    /// Entries right after the last compaction (compaction runs when they double).
    compacted: usize,
    dense: Option<Box<[u32]>>,
    /// Values outside the dense range, unsorted.
    outside: Vec<(i64, u64)>,
}

/// Entries a cell may hold before its first compaction.
const FIRST_COMPACTION: usize = 64;

impl Counts {
    /// Empty counts with a dense range of `lo .. lo + width` (`width` below 2^24).
    pub fn new(lo: i64, width: u32) -> Counts {
        let index_bits = u32::BITS - (width.max(2) - 1).leading_zeros();
        Counts {
            lo,
            width,
            count_bits: u32::BITS - index_bits,
            entries: Vec::new(),
            compacted: 0,
            dense: None,
            outside: Vec::new(),
        }
    }

    /// Adds `count` occurrences of `value`. `scratch` must hold at least `width` zeros (it is
    /// left zeroed).
    pub fn add(&mut self, value: i64, count: u64, scratch: &mut [u64]) {
        let index = value.wrapping_sub(self.lo);
        if index < 0 || index >= i64::from(self.width) {
            self.outside.push((value, count));
            return;
        }
        let index = index as u32;
        if let Some(dense) = &mut self.dense {
            // Bounded by the aggregator's row limit, so this cannot wrap.
            dense[index as usize] = dense[index as usize].wrapping_add(count as u32);
            return;
        }
        self.push_entry(index, count);
        if self.entries.len() >= (2 * self.compacted).max(FIRST_COMPACTION) {
            self.compact(scratch);
        }
    }

    fn push_entry(&mut self, index: u32, mut count: u64) {
        let max = (1u64 << self.count_bits) - 1;
        while count > 0 {
            let part = count.min(max);
            self.entries.push((index << self.count_bits) | part as u32);
            count -= part;
        }
    }

    /// Folds the entries into one per value (in ascending order), or into a dense array when
    /// that is smaller.
    fn compact(&mut self, scratch: &mut [u64]) {
        let mask = (1u32 << self.count_bits) - 1;
        let (mut min, mut max) = (u32::MAX, 0u32);
        for &entry in &self.entries {
            let index = entry >> self.count_bits;
            scratch[index as usize] += u64::from(entry & mask);
            min = min.min(index);
            max = max.max(index);
        }
        if self.entries.is_empty() {
            return;
        }
        let range = &mut scratch[min as usize..=max as usize];
        let distinct = range.iter().filter(|&&c| c > 0).count();
        if distinct > self.width as usize / 4 {
            let mut dense = vec![0u32; self.width as usize].into_boxed_slice();
            for (offset, count) in range.iter_mut().enumerate() {
                dense[min as usize + offset] = *count as u32;
                *count = 0;
            }
            self.dense = Some(dense);
            self.entries = Vec::new();
            return;
        }
        self.entries.clear();
        for offset in 0..range.len() {
            let count = std::mem::take(&mut scratch[min as usize + offset]);
            if count > 0 {
                self.push_entry(min + offset as u32, count);
            }
        }
        self.compacted = self.entries.len();
    }

    /// The counts as sorted `(value, count)` pairs with distinct values, written into `out`
    /// (cleared first).
    pub fn bins(&mut self, scratch: &mut [u64], out: &mut Vec<(i64, u64)>) {
        out.clear();
        let mut outside = std::mem::take(&mut self.outside);
        outside.sort_unstable();
        let below = outside.partition_point(|&(v, _)| v < self.lo);
        let push = |out: &mut Vec<(i64, u64)>, value: i64, count: u64| match out.last_mut() {
            Some((last, total)) if *last == value => *total += count,
            _ => out.push((value, count)),
        };
        for &(value, count) in &outside[..below] {
            push(out, value, count);
        }
        if let Some(dense) = &self.dense {
            for (index, &count) in dense.iter().enumerate() {
                if count > 0 {
                    push(out, self.lo + index as i64, u64::from(count));
                }
            }
        } else {
            self.compact(scratch);
            let mask = (1u32 << self.count_bits) - 1;
            for &entry in &self.entries {
                push(
                    out,
                    self.lo + i64::from(entry >> self.count_bits),
                    u64::from(entry & mask),
                );
            }
        }
        for &(value, count) in &outside[below..] {
            push(out, value, count);
        }
        self.outside = outside;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adds pseudo-random values and checks the bins against a plain map, across compactions,
    /// the switch to dense, out-of-range values and counts larger than an entry holds.
    #[test]
    fn counts_are_exact_through_every_representation() {
        for (lo, width, spread) in [
            (-1800, 3601u32, 100i64),
            (-1800, 3601, 3601),
            (-3600, 18001, 30000),
        ] {
            let mut counts = Counts::new(lo, width);
            let mut expected = std::collections::BTreeMap::new();
            let mut scratch = vec![0u64; width as usize];
            let mut state = 12345u64;
            for i in 0..20_000u64 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let value = lo + ((state >> 33) as i64).rem_euclid(spread) - spread / 10;
                let count = if i % 1000 == 0 {
                    5_000_000
                } else {
                    1 + (state & 3)
                };
                counts.add(value, count, &mut scratch);
                *expected.entry(value).or_insert(0u64) += count;
            }
            let mut bins = Vec::new();
            counts.bins(&mut scratch, &mut bins);
            let expected: Vec<(i64, u64)> = expected.into_iter().collect();
            assert_eq!(bins, expected, "lo {lo} width {width} spread {spread}");
            assert!(scratch.iter().all(|&c| c == 0), "scratch left zeroed");
            // Reading twice gives the same bins.
            let mut again = Vec::new();
            counts.bins(&mut scratch, &mut again);
            assert_eq!(again, bins);
        }
    }
}
