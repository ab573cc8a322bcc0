//! The arithmetic of AGGREGATE.md §1, written once so that every table computes it the same
//! way: ratios, the Wilson score interval, nearest-rank percentiles in exact integer arithmetic,
//! and the decimal text of a ratio (the shortest text that reads back to the same double,
//! always in positional notation).

use std::fmt::Write as _;
use std::str::FromStr;

use crate::Error;

/// The z of a two-sided 95 % interval, as AGGREGATE.md gives it.
pub const Z95: f64 = 1.959963984540054;

/// `k / n` as a double, or `None` when `n = 0` (an undefined value, printed as an empty field).
pub fn ratio(k: u64, n: u64) -> Option<f64> {
    (n > 0).then(|| k as f64 / n as f64)
}

/// The Wilson score interval of `k` successes in `n` trials, clamped to [0, 1]; `None` when
/// `n = 0`.
///
/// The operations and their order are part of the definition (docs/aggregate.md), so that an
/// independent implementation gets the same doubles: `p = k/n`, `d = 1 + z²/n`,
/// `c = (p + z²/(2n)) / d`, `h = z·sqrt(p(1−p)/n + z²/(4n·n)) / d`.
pub fn wilson(k: u64, n: u64, z: f64) -> Option<(f64, f64)> {
    if n == 0 {
        return None;
    }
    let n = n as f64;
    let p = k as f64 / n;
    let z2 = z * z;
    let d = 1.0 + z2 / n;
    let c = (p + z2 / (2.0 * n)) / d;
    let h = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / d;
    Some(((c - h).clamp(0.0, 1.0), (c + h).clamp(0.0, 1.0)))
}

/// A percentile `q` (0 ≤ q ≤ 100) held as the exact fraction `num / den` of its decimal text,
/// so ranks never suffer floating-point rounding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantile {
    num: u64,
    den: u64,
}

impl Quantile {
    pub const P2_5: Quantile = Quantile { num: 25, den: 10 };
    pub const P10: Quantile = Quantile { num: 10, den: 1 };
    pub const P50: Quantile = Quantile { num: 50, den: 1 };
    pub const P90: Quantile = Quantile { num: 90, den: 1 };
    pub const P95: Quantile = Quantile { num: 95, den: 1 };
    pub const P97_5: Quantile = Quantile { num: 975, den: 10 };

    /// The 1-based nearest rank among `n` sorted values: `max(1, ceil(q/100 · n))`, computed
    /// as `ceil(num·n / (den·100))` in integers.
    pub fn rank(self, n: u64) -> u64 {
        let numerator = u128::from(self.num) * u128::from(n);
        let denominator = u128::from(self.den) * 100;
        let rank = numerator.div_ceil(denominator);
        // rank ≤ n because q ≤ 100.
        u64::try_from(rank).unwrap_or(n).max(1)
    }
}

impl FromStr for Quantile {
    type Err = Error;

    /// Parses `50`, `2.5`, `97.5`, `99.95`: digits with at most one decimal point.
    fn from_str(text: &str) -> Result<Quantile, Error> {
        let invalid = || Error::Quantile(text.to_owned());
        let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty()
            || !digits_only(whole)
            || !digits_only(fraction)
            || fraction.len() > 9
            || (text.contains('.') && fraction.is_empty())
        {
            return Err(invalid());
        }
        let den = 10u64.pow(fraction.len() as u32);
        let whole: u64 = whole.parse().map_err(|_| invalid())?;
        let fraction: u64 = if fraction.is_empty() {
            0
        } else {
            fraction.parse().map_err(|_| invalid())?
        };
        let num = whole
            .checked_mul(den)
            .and_then(|n| n.checked_add(fraction))
            .ok_or_else(invalid)?;
        if num > 100 * den {
            return Err(invalid());
        }
        Ok(Quantile { num, den })
    }
}

/// The values at the given ranks (ascending, 1-based) of the multiset described by `bins`,
/// sorted `(value, count)` pairs. Ranks beyond the total give `None`.
pub fn values_at_ranks<const N: usize>(
    bins: impl IntoIterator<Item = (i64, u64)>,
    ranks: [u64; N],
) -> [Option<i64>; N] {
    let mut out = [None; N];
    let mut next = 0;
    let mut seen = 0u64;
    for (value, count) in bins {
        seen += count;
        while next < N && ranks[next] <= seen {
            out[next] = Some(value);
            next += 1;
        }
        if next == N {
            break;
        }
    }
    out
}

/// Appends `x` as the shortest decimal text that reads back to the same double, in positional
/// notation (never `1e-7`), with at least one digit after the point (`1.0`, `0.0`). Negative
/// zero prints as `0.0`.
pub fn push_decimal(out: &mut String, x: f64) {
    if x == 0.0 {
        out.push_str("0.0");
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format(x);
    let Some((mantissa, exponent)) = text.split_once('e') else {
        out.push_str(text);
        if !text.contains('.') {
            out.push_str(".0");
        }
        return;
    };
    // Scientific form from ryu: `-1.5e-7`, `1e16`. Rewrite its digits positionally.
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let (negative, mantissa) = match mantissa.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, mantissa),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: String = format!("{int_part}{frac_part}");
    // The decimal point sits after `point` digits of `digits`.
    let point = int_part.len() as i32 + exponent;
    if negative {
        out.push('-');
    }
    if point <= 0 {
        out.push_str("0.");
        for _ in 0..-point {
            out.push('0');
        }
        out.push_str(&digits);
    } else if point as usize >= digits.len() {
        out.push_str(&digits);
        for _ in 0..(point as usize - digits.len()) {
            out.push('0');
        }
        out.push_str(".0");
    } else {
        let (a, b) = digits.split_at(point as usize);
        let _ = write!(out, "{a}.{b}");
    }
}

/// [`push_decimal`] into a new string.
pub fn decimal(x: f64) -> String {
    let mut out = String::new();
    push_decimal(&mut out, x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_is_exact() {
        // The worked example of AGGREGATE.md: 0.025 × 40 is 1 exactly, so the rank is 1.
        assert_eq!(Quantile::P2_5.rank(40), 1);
        assert_eq!(Quantile::P2_5.rank(41), 2);
        assert_eq!(Quantile::P2_5.rank(1), 1);
        assert_eq!(Quantile::P97_5.rank(40), 39);
        assert_eq!(Quantile::P50.rank(1), 1);
        assert_eq!(Quantile::P50.rank(2), 1);
        assert_eq!(Quantile::P50.rank(3), 2);
        assert_eq!(Quantile::P90.rank(10), 9);
        assert_eq!(Quantile::P90.rank(11), 10);
        assert_eq!(Quantile::P10.rank(5), 1);
        assert_eq!(Quantile::P95.rank(20), 19);
        assert_eq!("100".parse::<Quantile>().unwrap().rank(7), 7);
        assert_eq!("0".parse::<Quantile>().unwrap().rank(7), 1);
        // Floating point gets this one wrong: 0.07 × 100 = 7.000000000000001, ceil → 8.
        let q: Quantile = "7".parse().unwrap();
        assert_eq!(q.rank(100), 7);
        assert_eq!((0.07f64 * 100.0).ceil(), 8.0);
        // A value a float cannot hold exactly.
        assert_eq!("33.3".parse::<Quantile>().unwrap().rank(1000), 333);
        assert_eq!("2.5".parse::<Quantile>().unwrap(), Quantile::P2_5);
    }

    #[test]
    fn quantile_text_is_checked() {
        for bad in ["", ".5", "-1", "100.1", "1e2", "5.", "abc", "1.2.3", "200"] {
            assert!(bad.parse::<Quantile>().is_err(), "{bad}");
        }
        assert!("5.0".parse::<Quantile>().is_ok());
    }

    #[test]
    fn percentiles_read_ranks_off_counts() {
        // 1, 2, 2, 2, 5, 9, 9
        let bins = [(1, 1), (2, 3), (5, 1), (9, 2)];
        let n = 7;
        let [p10, p50, p90] = values_at_ranks(
            bins,
            [
                Quantile::P10.rank(n),
                Quantile::P50.rank(n),
                Quantile::P90.rank(n),
            ],
        );
        assert_eq!((p10, p50, p90), (Some(1), Some(2), Some(9)));
        assert_eq!(values_at_ranks([], [1]), [None]);
    }

    #[test]
    fn wilson_matches_worked_examples() {
        // 45 of 100: the textbook interval is [0.3561, 0.5476] (Newcombe 1998, method 3).
        let (lo, hi) = wilson(45, 100, Z95).unwrap();
        assert!((lo - 0.356_1).abs() < 1e-4, "{lo}");
        assert!((hi - 0.547_6).abs() < 1e-4, "{hi}");
        // These exact doubles are what the formula, in its written order, gives (checked
        // with Python's float arithmetic, which is the same IEEE arithmetic).
        assert_eq!(decimal(lo), "0.3561453797951198");
        assert_eq!(decimal(hi), "0.5475539700255787");
        // 0 of 10 and 10 of 10: the interval touches the bound.
        let (lo, hi) = wilson(0, 10, Z95).unwrap();
        assert_eq!(lo, 0.0);
        assert!((hi - 0.277_5).abs() < 1e-4, "{hi}");
        let (lo, hi) = wilson(10, 10, Z95).unwrap();
        assert!((lo - 0.722_5).abs() < 1e-4, "{lo}");
        assert_eq!(decimal(hi), "0.9999999999999999");
        assert_eq!(wilson(0, 0, Z95), None);
        // Clamping: without it, k = n gives c + h slightly above 1 for some n.
        for n in 1..2000 {
            let (lo, hi) = wilson(n, n, Z95).unwrap();
            assert!(hi <= 1.0 && lo >= 0.0, "n = {n}");
            let (lo, hi) = wilson(0, n, Z95).unwrap();
            assert!(hi <= 1.0 && lo >= 0.0, "n = {n}");
        }
    }

    #[test]
    fn decimals_are_shortest_and_positional() {
        for (x, text) in [
            (0.0, "0.0"),
            (-0.0, "0.0"),
            (1.0, "1.0"),
            (0.5, "0.5"),
            (1.0 / 3.0, "0.3333333333333333"),
            (-12.5, "-12.5"),
            (30.29067, "30.29067"),
            (-97.74141, "-97.74141"),
            (1e-7, "0.0000001"),
            (1.5e-7, "0.00000015"),
            (-2.5e-6, "-0.0000025"),
            (1e16, "10000000000000000.0"),
            (1.25e17, "125000000000000000.0"),
            (123456.0, "123456.0"),
        ] {
            assert_eq!(decimal(x), text, "{x:e}");
            assert_eq!(decimal(x).parse::<f64>().unwrap(), x);
        }
    }
}
