//! [`Counts`]: exact counts of integer values for one cell of the merged aggregate.
//!
//! A year has tens of thousands of cells (a stop cell is route × direction × day type × stop),
//! each receiving one sorted run of `(value, count)` pairs per day. A dense array per cell
//! would take hundreds of megabytes, and adding a day's values at scattered places of
//! thousands of arrays is one cache miss per value; sorting appended runs would take seconds.
//! So a cell keeps packed 32-bit entries (the value's offset in the high bits, a count in the
//! low bits), appended in order as they come, and compacts them to one entry per value with a
//! scratch array shared by all cells (hot in the cache) once they have doubled since the last
//! compaction and outnumber the cell's range: a few operations per entry, no sort, and about
//! twice the memory of a dense array at most. Values outside the range (rare: observed
//! headways of hours) are kept aside.

/// Exact counts of integer values (see the module documentation).
#[derive(Debug)]
pub(crate) struct Counts {
    /// The packed range is `lo .. lo + width`.
    lo: i64,
    width: u32,
    /// Low bits of an entry that hold its count; the high bits hold `value − lo`.
    count_bits: u32,
    entries: Vec<u32>,
    /// Entries right after the last compaction.
    compacted: usize,
    /// Values outside the packed range, unsorted.
    outside: Vec<(i64, u64)>,
}

impl Counts {
    /// Empty counts with a packed range of `lo .. lo + width` (`width` below 2^24).
    pub fn new(lo: i64, width: u32) -> Counts {
        let index_bits = u32::BITS - (width.max(2) - 1).leading_zeros();
        Counts {
            lo,
            width,
            count_bits: u32::BITS - index_bits,
            entries: Vec::new(),
            compacted: 0,
            outside: Vec::new(),
        }
    }

    /// Adds a run of `(value, count)` pairs (a day's histogram of the cell). `scratch` must
    /// hold at least `width` zeros (it is left zeroed).
    pub fn add_bins(&mut self, bins: &[(i64, u64)], scratch: &mut [u64]) {
        let (lo, width) = (self.lo, u64::from(self.width));
        let max = (1u64 << self.count_bits) - 1;
        self.entries.reserve(bins.len());
        for &(value, count) in bins {
            let index = value.wrapping_sub(lo) as u64;
            if index >= width {
                self.outside.push((value, count));
            } else if count <= max {
                self.entries
                    .push(((index as u32) << self.count_bits) | count as u32);
            } else {
                self.push_entry(index as u32, count);
            }
        }
        if self.entries.len() >= (2 * self.compacted).max(self.width as usize) {
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

    /// Folds the entries into one per value, in ascending order (a value whose count exceeds
    /// an entry's takes several). Few entries over a wide range are sorted instead.
    fn compact(&mut self, scratch: &mut [u64]) {
        if self.entries.is_empty() {
            return;
        }
        let mask = (1u32 << self.count_bits) - 1;
        let entries = std::mem::take(&mut self.entries);
        let mut compacted = Vec::with_capacity(entries.len());
        std::mem::swap(&mut self.entries, &mut compacted);
        if entries.len() < 256 {
            let mut sorted = entries;
            sorted.sort_unstable();
            let mut run: Option<(u32, u64)> = None;
            for entry in sorted {
                let (index, count) = (entry >> self.count_bits, u64::from(entry & mask));
                match &mut run {
                    Some((i, c)) if *i == index => *c += count,
                    _ => {
                        if let Some((i, c)) = run.take() {
                            self.push_entry(i, c);
                        }
                        run = Some((index, count));
                    }
                }
            }
            if let Some((i, c)) = run {
                self.push_entry(i, c);
            }
        } else {
            let (mut min, mut max) = (u32::MAX, 0u32);
            for &entry in &entries {
                let index = entry >> self.count_bits;
                scratch[index as usize] += u64::from(entry & mask);
                min = min.min(index);
                max = max.max(index);
            }
            // Most of the range is zeros: skip them eight at a time.
            let range = &mut scratch[min as usize..=max as usize];
            let mut base = min;
            for chunk in range.chunks_mut(8) {
                if chunk.iter().any(|&c| c > 0) {
                    for (offset, count) in chunk.iter_mut().enumerate() {
                        if *count > 0 {
                            let count = std::mem::take(count);
                            self.push_entry(base + offset as u32, count);
                        }
                    }
                }
                base += 8;
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
        self.compact(scratch);
        let mask = (1u32 << self.count_bits) - 1;
        for &entry in &self.entries {
            push(
                out,
                self.lo + i64::from(entry >> self.count_bits),
                u64::from(entry & mask),
            );
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

    /// Adds pseudo-random runs and checks the bins against a plain map, across compactions
    /// (sorted and scattered), out-of-range values and counts larger than an entry holds.
    #[test]
    fn counts_are_exact_through_every_path() {
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
                let run = [(value, count), (value + 1, 1)];
                let run = &run[..1 + (i % 2) as usize];
                counts.add_bins(run, &mut scratch);
                for &(v, c) in run {
                    *expected.entry(v).or_insert(0u64) += c;
                }
            }
            let mut bins = Vec::new();
            counts.bins(&mut scratch, &mut bins);
            let expected: Vec<(i64, u64)> = expected.into_iter().collect();
            assert_eq!(bins, expected, "lo {lo} width {width} spread {spread}");
            assert!(scratch.iter().all(|&c| c == 0), "scratch left zeroed");
            let mut again = Vec::new();
            counts.bins(&mut scratch, &mut again);
            assert_eq!(again, bins);
        }
    }
}
