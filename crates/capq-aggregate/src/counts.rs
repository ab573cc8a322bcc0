//! [`Counts`]: exact counts of integer values for one cell of the merged aggregate, and the
//! [`Packing`] of a count into 32 bits that day partials store and the merge copies.
//!
//! A year has tens of thousands of cells (a stop cell is route × direction × day type × stop),
//! each receiving one short sorted run of values per day. A dense array per cell would take
//! hundreds of megabytes, and adding a day's values at scattered places of thousands of arrays
//! is one cache miss per value. So a cell keeps packed 32-bit entries (the value's offset in the
//! high bits, a count in the low bits), one per value, ascending; new runs are merged in
//! batches ([`Counts::merge_runs`]): every entry is added into a scratch array shared by all
//! cells (hot in the cache) and marked in a bitmap, and the marked indices are read back in
//! order. A few operations per entry, no sort, no buffer growing per day. Values outside the
//! range (rare: observed headways of hours) are kept aside.
//!
//! A day partial holds its cells' runs in the same packing (`partial::codec`), so merging a
//! day into a cell needs no decoding per value.

/// How a value and its count share 32 bits: `(value − lo) << count_bits | count`, for values
/// in `lo .. lo + width`. A count above what the low bits hold takes several entries of the
/// same value, all full but the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Packing {
    pub lo: i64,
    pub width: u32,
    pub count_bits: u32,
}

impl Packing {
    /// The packing of `lo .. lo + width` (`width` from 2 to 2^15, what [`Scratch`] holds).
    pub const fn new(lo: i64, width: u32) -> Packing {
        assert!(width >= 2 && width as usize <= SCRATCH_LEN);
        let index_bits = u32::BITS - (width - 1).leading_zeros();
        Packing {
            lo,
            width,
            count_bits: u32::BITS - index_bits,
        }
    }

    /// The low bits of an entry: its count. Also the largest count one entry holds.
    pub const fn mask(self) -> u32 {
        (1u32 << self.count_bits) - 1
    }

    /// The index (`value − lo`) of `value`, when it lies in the range.
    #[inline]
    pub fn index(self, value: i64) -> Option<u32> {
        let index = value.wrapping_sub(self.lo) as u64;
        (index < u64::from(self.width)).then_some(index as u32)
    }

    #[inline]
    pub fn value(self, entry: u32) -> i64 {
        self.lo + i64::from(entry >> self.count_bits)
    }

    #[inline]
    pub fn count(self, entry: u32) -> u64 {
        u64::from(entry & self.mask())
    }

    /// Appends `count` (at least 1) of the value at `index` (below `width`).
    #[inline]
    pub fn push(self, out: &mut Vec<u32>, index: u32, mut count: u64) {
        let max = u64::from(self.mask());
        let high = index << self.count_bits;
        while count > max {
            out.push(high | self.mask());
            count -= max;
        }
        out.push(high | count as u32);
    }

    /// Checks a block of entries: every count at least 1 and every index in the range.
    /// Returns the sum of the counts. (Order does not matter to [`Counts`], which sums
    /// whatever it is given; writers still write ascending runs, so equal days give equal
    /// bytes.) Written as reductions, which the compiler vectorizes.
    pub fn check(self, entries: &[u32]) -> Result<u64, &'static str> {
        let mask = self.mask();
        // The largest valid entry (the range can end at 2^32).
        let last = ((u64::from(self.width) << self.count_bits) - 1).min(u64::from(u32::MAX)) as u32;
        let mut bad = false;
        let mut total = 0u64;
        for &entry in entries {
            bad |= (entry & mask == 0) | (entry > last);
            total += u64::from(entry & mask);
        }
        if bad {
            return Err("a packed count that is zero or out of range");
        }
        Ok(total)
    }

    /// The entries as `(value, count)` pairs, a value's split entries summed.
    pub fn bins(self, entries: &[u32], out: &mut Vec<(i64, u64)>) {
        for &entry in entries {
            let (value, count) = (self.value(entry), self.count(entry));
            match out.last_mut() {
                Some((last, total)) if *last == value => *total += count,
                _ => out.push((value, count)),
            }
        }
    }
}

/// The widest packing's indices fit in this many bits.
const SCRATCH_BITS: u32 = 15;
const SCRATCH_LEN: usize = 1 << SCRATCH_BITS;

/// Work space for merging counts, shared by all cells of an aggregate (so it stays in the
/// cache): a count per index and a bit per index that has one. Fixed sizes, so that the hot
/// loop indexes without bounds checks.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    counts: Box<[u64; SCRATCH_LEN]>,
    touched: Box<[u64; SCRATCH_LEN / 64]>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            counts: Box::new([0; SCRATCH_LEN]),
            touched: Box::new([0; SCRATCH_LEN / 64]),
        }
    }
}

/// Exact counts of integer values (see the module documentation): one entry per value, in
/// ascending order (a value whose count exceeds an entry's takes several), plus the values
/// outside the packed range.
#[derive(Debug, Clone)]
pub(crate) struct Counts {
    packing: Packing,
    entries: Vec<u32>,
    /// Values outside the packed range, unsorted.
    outside: Vec<(i64, u64)>,
}

impl Counts {
    /// Empty counts in `packing`.
    pub fn new(packing: Packing) -> Counts {
        Counts {
            packing,
            entries: Vec::new(),
            outside: Vec::new(),
        }
    }

    /// Adds runs of entries packed in this cell's packing (day partials' runs, in any order):
    /// every entry is added into `scratch` (hot in the cache), then the touched indices are
    /// read back in order. A few operations per entry, and no sort.
    pub fn merge_runs<'a>(
        &mut self,
        runs: impl IntoIterator<Item = &'a [u32]>,
        scratch: &mut Scratch,
    ) {
        let packing = self.packing;
        let bits = packing.count_bits;
        let mask = packing.mask();
        let (counts, touched) = (&mut *scratch.counts, &mut *scratch.touched);
        let mut add = |entries: &[u32]| {
            for &entry in entries {
                // Indices were checked against the width when the entries were read; the
                // mask only tells the compiler they fit.
                let index = (entry >> bits) as usize & (SCRATCH_LEN - 1);
                counts[index] += u64::from(entry & mask);
                touched[index / 64] |= 1 << (index % 64);
            }
        };
        add(&self.entries);
        for run in runs {
            add(run);
        }
        self.entries.clear();
        let words = (packing.width as usize).div_ceil(64);
        for (w, word) in touched.iter_mut().take(words).enumerate() {
            let mut left = std::mem::take(word);
            while left != 0 {
                let index = (w * 64 + left.trailing_zeros() as usize) & (SCRATCH_LEN - 1);
                left &= left - 1;
                let count = std::mem::take(&mut counts[index]);
                packing.push(&mut self.entries, index as u32, count);
            }
        }
    }

    /// The packed entries, one per value (several for a count too large for one), ascending.
    pub fn entries(&self) -> &[u32] {
        &self.entries
    }

    /// Adds values outside the packed range.
    pub fn add_outside(&mut self, bins: &[(i64, u64)]) {
        self.outside.extend_from_slice(bins);
    }

    /// Adds everything `other` holds (of the same packing).
    pub fn absorb(&mut self, other: &Counts, scratch: &mut Scratch) {
        self.outside.extend_from_slice(&other.outside);
        self.merge_runs([other.entries.as_slice()], scratch);
    }

    /// The counts as sorted `(value, count)` pairs with distinct values, written into `out`
    /// (cleared first).
    pub fn bins(&mut self, out: &mut Vec<(i64, u64)>) {
        out.clear();
        self.outside.sort_unstable();
        let below = self.outside.partition_point(|&(v, _)| v < self.packing.lo);
        let push = |out: &mut Vec<(i64, u64)>, value: i64, count: u64| match out.last_mut() {
            Some((last, total)) if *last == value => *total += count,
            _ => out.push((value, count)),
        };
        for &(value, count) in &self.outside[..below] {
            push(out, value, count);
        }
        self.packing.bins(&self.entries, out);
        for &(value, count) in &self.outside[below..] {
            push(out, value, count);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Merges pseudo-random runs and checks the bins against a plain map, with out-of-range
    /// values, counts larger than an entry holds, and runs merged one by one, in batches and
    /// through `absorb`.
    #[test]
    fn counts_are_exact_through_every_path() {
        for (lo, width, spread) in [
            (-1800, 3601u32, 100i64),
            (-1800, 3601, 3601),
            (-3600, 18001, 30000),
        ] {
            let packing = Packing::new(lo, width);
            let mut one_by_one = Counts::new(packing);
            let mut batched = Counts::new(packing);
            let mut batch: Vec<Vec<u32>> = Vec::new();
            let mut expected = std::collections::BTreeMap::new();
            let mut scratch = Scratch::default();
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
                // The run as a partial stores it: packed entries, outside values aside.
                let mut entries = Vec::new();
                let mut outside = Vec::new();
                for &(v, c) in run {
                    match packing.index(v) {
                        Some(index) => packing.push(&mut entries, index, c),
                        None => outside.push((v, c)),
                    }
                    *expected.entry(v).or_insert(0u64) += c;
                }
                let total: u64 = run
                    .iter()
                    .filter(|(v, _)| packing.index(*v).is_some())
                    .map(|(_, c)| c)
                    .sum();
                assert_eq!(packing.check(&entries), Ok(total));
                one_by_one.merge_runs([entries.as_slice()], &mut scratch);
                one_by_one.add_outside(&outside);
                batched.add_outside(&outside);
                batch.push(entries);
                if batch.len() == 64 {
                    batched.merge_runs(batch.iter().map(Vec::as_slice), &mut scratch);
                    batch.clear();
                }
            }
            batched.merge_runs(batch.iter().map(Vec::as_slice), &mut scratch);
            let expected: Vec<(i64, u64)> = expected.into_iter().collect();
            let mut bins = Vec::new();
            one_by_one.bins(&mut bins);
            assert_eq!(bins, expected, "lo {lo} width {width} spread {spread}");
            batched.bins(&mut bins);
            assert_eq!(bins, expected);
            assert!(
                scratch.counts.iter().all(|&c| c == 0),
                "scratch left zeroed"
            );
            assert!(
                scratch.touched.iter().all(|&c| c == 0),
                "scratch left zeroed"
            );
            let mut sum = Counts::new(packing);
            sum.absorb(&one_by_one, &mut scratch);
            sum.absorb(&batched, &mut scratch);
            sum.bins(&mut bins);
            let doubled: Vec<(i64, u64)> = expected.iter().map(|&(v, c)| (v, 2 * c)).collect();
            assert_eq!(bins, doubled);
        }
    }

    #[test]
    fn blocks_are_checked() {
        let p = Packing::new(-1800, 3601);
        let entry = |value: i64, count: u32| (p.index(value).unwrap() << p.count_bits) | count;
        assert_eq!(p.check(&[]), Ok(0));
        assert_eq!(p.check(&[entry(-1800, 1), entry(1800, 3)]), Ok(4));
        let full = p.mask();
        assert_eq!(
            p.check(&[entry(5, full), entry(5, 2), entry(6, 1)]),
            Ok(u64::from(full) + 3)
        );
        for bad in [
            vec![entry(5, 0)],
            vec![entry(5, 1), entry(6, 0)],
            vec![(3601 << p.count_bits) | 1],
            vec![entry(1, 1), u32::MAX],
        ] {
            assert!(p.check(&bad).is_err(), "{bad:?}");
        }
    }
}
