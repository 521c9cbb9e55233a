//! Several series on one clock: the intersection of their timestamps (BACKTEST.md).

use ballast_core::{Asset, Price, Prices, Timestamp};
use rust_decimal::Decimal;

use super::{Candle, Interval, Series, to_f64};
use crate::error::{AlignProblem, DataError};

/// Closes of several assets on a common clock.
///
/// `closes[i][t]` is the close of `assets[i]` in the bar opening at `times[t]`: one
/// column per asset, all as long as `times`. `closes_exact` holds the same prices as
/// exact decimals (for code that sizes money).
#[derive(Clone, Debug, PartialEq)]
pub struct Aligned {
    /// The bar length.
    pub interval: Interval,
    /// The assets, in the order the series were given.
    pub assets: Vec<Asset>,
    /// The clock: the open times where every asset has a candle, increasing.
    pub times: Vec<Timestamp>,
    /// `closes[i][t]`: close of asset `i` at `times[t]`, as `f64`.
    pub closes: Vec<Vec<f64>>,
    /// `closes_exact[i][t]`: the same closes, exact.
    pub closes_exact: Vec<Vec<Decimal>>,
    /// `highs[i][t]` and `lows[i][t]`: the bar's high and low, exact (the cost model
    /// of the exchange mode: spreads and resting orders).
    pub highs: Vec<Vec<Decimal>>,
    /// The bar's low, exact.
    pub lows: Vec<Vec<Decimal>>,
    /// For each asset, how many of its candles inside `[start, end]` are left out
    /// because another asset has no candle at that time (outages, later listings).
    pub dropped: Vec<usize>,
}

impl Aligned {
    /// The number of bars.
    pub fn len(&self) -> usize {
        self.times.len()
    }

    /// True when there is no bar (never the case for a value returned by [`align`]).
    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// The position of `asset` in [`Aligned::assets`].
    pub fn index_of(&self, asset: &Asset) -> Option<usize> {
        self.assets.iter().position(|a| a == asset)
    }

    /// The closes of every asset at bar `t`, as `f64` (one row of the matrix).
    /// Panics if `t >= self.len()`.
    pub fn row(&self, t: usize) -> Vec<f64> {
        self.closes.iter().map(|c| c[t]).collect()
    }

    /// The exact closes at bar `t`, as the core's price map. Panics if
    /// `t >= self.len()`.
    pub fn prices_at(&self, t: usize) -> Prices {
        self.assets.iter().zip(&self.closes_exact).map(|(a, c)| (a.clone(), Price(c[t]))).collect()
    }
}

/// Aligns `series` on the intersection of their timestamps inside `[start, end]` (both
/// inclusive; `None` means unbounded): a bar missing for one asset is skipped for all.
///
/// Errors: no series, an asset twice, mixed intervals, `start > end`, an asset with no
/// candle in the range (naming it and its data range), ranges that do not overlap
/// (naming the asset that ends first and the one that starts last), or overlapping
/// ranges without a common timestamp.
pub fn align(series: &[Series], start: Option<Timestamp>, end: Option<Timestamp>) -> Result<Aligned, DataError> {
    let err = |p| Err(DataError::Align(p));
    let Some(first) = series.first() else {
        return err(AlignProblem::NoSeries);
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return err(AlignProblem::StartAfterEnd { start: s, end: e });
    }
    for (i, s) in series.iter().enumerate() {
        if s.interval != first.interval {
            return err(AlignProblem::MixedIntervals {
                first: first.asset.clone(),
                first_interval: first.interval,
                other: s.asset.clone(),
                other_interval: s.interval,
            });
        }
        if series[..i].iter().any(|o| o.asset == s.asset) {
            return err(AlignProblem::DuplicateAsset(s.asset.clone()));
        }
    }

    let lo = start.unwrap_or(Timestamp(i64::MIN));
    let hi = end.unwrap_or(Timestamp(i64::MAX));
    let slices: Vec<&[Candle]> = series.iter().map(|s| s.slice(lo, hi)).collect();
    for (s, sl) in series.iter().zip(&slices) {
        if sl.is_empty() {
            return err(AlignProblem::NoCandlesInRange { asset: s.asset.clone(), start, end, data: s.range() });
        }
    }

    // Ranges in [start, end]: the one ending first must not end before the one starting last.
    let (late, late_start) = series
        .iter()
        .zip(&slices)
        .map(|(s, sl)| (&s.asset, sl[0].open_time))
        .max_by_key(|&(_, t)| t)
        .expect("at least one series");
    let (early, early_end) = series
        .iter()
        .zip(&slices)
        .map(|(s, sl)| (&s.asset, sl[sl.len() - 1].open_time))
        .min_by_key(|&(_, t)| t)
        .expect("at least one series");
    if early_end < late_start {
        return err(AlignProblem::NoOverlap { early: early.clone(), early_end, late: late.clone(), late_start });
    }

    // Intersect the (sorted, duplicate-free) open times, restricted to the overlap.
    let mut times: Vec<Timestamp> =
        slices[0].iter().map(|c| c.open_time).filter(|&t| t >= late_start && t <= early_end).collect();
    for (s, sl) in series.iter().zip(&slices).skip(1) {
        let mut j = 0;
        times.retain(|&t| {
            while j < sl.len() && sl[j].open_time < t {
                j += 1;
            }
            j < sl.len() && sl[j].open_time == t
        });
        if times.is_empty() {
            return err(AlignProblem::NoCommonTimestamp { from: late_start, to: early_end, asset: s.asset.clone() });
        }
    }

    let mut closes = Vec::with_capacity(series.len());
    let mut closes_exact = Vec::with_capacity(series.len());
    let mut dropped = Vec::with_capacity(series.len());
    let (mut highs, mut lows) = (Vec::with_capacity(series.len()), Vec::with_capacity(series.len()));
    for sl in &slices {
        let mut exact = Vec::with_capacity(times.len());
        let (mut hi, mut lo) = (Vec::with_capacity(times.len()), Vec::with_capacity(times.len()));
        let mut j = 0;
        for &t in &times {
            while sl[j].open_time < t {
                j += 1;
            }
            exact.push(sl[j].close);
            hi.push(sl[j].high);
            lo.push(sl[j].low);
        }
        highs.push(hi);
        lows.push(lo);
        closes.push(exact.iter().map(|&d| to_f64(d)).collect());
        closes_exact.push(exact);
        dropped.push(sl.len() - times.len());
    }
    Ok(Aligned {
        interval: first.interval,
        assets: series.iter().map(|s| s.asset.clone()).collect(),
        times,
        closes,
        closes_exact,
        highs,
        lows,
        dropped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    fn series(asset: &str, hours: &[i64]) -> Series {
        Series {
            asset: Asset::new(asset).unwrap(),
            interval: Interval::H1,
            candles: hours
                .iter()
                .map(|&h| {
                    let p = Decimal::from(h * 10 + 1);
                    Candle { open_time: Timestamp(h * H), open: p, high: p, low: p, close: p, volume: Decimal::ZERO }
                })
                .collect(),
        }
    }

    fn hours(a: &Aligned) -> Vec<i64> {
        a.times.iter().map(|t| t.0 / H).collect()
    }

    #[test]
    fn intersection_skips_a_gap_in_one_asset() {
        // ETH has an outage at hours 3 and 4; BTC starts later.
        let s = [series("BTC", &[1, 2, 3, 4, 5, 6]), series("ETH", &[0, 1, 2, 5, 6, 7])];
        let a = align(&s, None, None).unwrap();
        assert_eq!(hours(&a), [1, 2, 5, 6]);
        assert_eq!(a.closes[0], [11.0, 21.0, 51.0, 61.0]);
        assert_eq!(a.closes[1], [11.0, 21.0, 51.0, 61.0]);
        assert_eq!(a.closes_exact[1][2], Decimal::from(51));
        assert_eq!(a.dropped, [2, 2]);
        assert_eq!(a.row(3), [61.0, 61.0]);
        assert_eq!(a.prices_at(0)[&Asset::new("ETH").unwrap()], Price(Decimal::from(11)));
        assert_eq!(a.index_of(&Asset::new("ETH").unwrap()), Some(1));
    }

    #[test]
    fn start_and_end_are_inclusive() {
        let s = [series("BTC", &[0, 1, 2, 3, 4, 5]), series("ETH", &[0, 1, 2, 3, 4, 5])];
        let a = align(&s, Some(Timestamp(H)), Some(Timestamp(4 * H))).unwrap();
        assert_eq!(hours(&a), [1, 2, 3, 4]);
        let a = align(&s, Some(Timestamp(H + 1)), Some(Timestamp(4 * H - 1))).unwrap();
        assert_eq!(hours(&a), [2, 3]);
        let a = align(&s, Some(Timestamp(3 * H)), Some(Timestamp(3 * H))).unwrap();
        assert_eq!(hours(&a), [3]);
        let a = align(&s, None, Some(Timestamp(H))).unwrap();
        assert_eq!(hours(&a), [0, 1]);
    }

    #[test]
    fn errors_name_the_asset() {
        let e = |s: &[Series], a, b| align(s, a, b).unwrap_err().to_string();
        let btc = series("BTC", &[0, 1, 2]);
        let xmr = series("XMR", &[5, 6]);
        let msg = e(&[btc.clone(), xmr.clone()], None, None);
        assert!(
            msg.contains("BTC ends at 1970-01-01 02:00:00") && msg.contains("XMR starts at 1970-01-01 05:00:00"),
            "{msg}"
        );
        let msg = e(&[btc.clone(), xmr.clone()], Some(Timestamp(3 * H)), None);
        assert!(msg.contains("BTC has no candles between 1970-01-01 03:00:00 and the end"), "{msg}");
        assert!(msg.contains("its data: 1970-01-01 to 1970-01-01 02:00:00"), "{msg}");
        let odd = series("ETH", &[]);
        let msg = e(&[btc.clone(), odd], None, None);
        assert!(msg.contains("ETH has no candles") && msg.contains("its data: none"), "{msg}");
        let msg = e(&[btc.clone(), series("ETH", &[0, 2]), series("SOL", &[1])], None, None);
        assert!(msg.contains("no timestamp is common") && msg.contains("ETH shares none"), "{msg}");
        let msg = e(&[btc.clone(), btc.clone()], None, None);
        assert!(msg.contains("BTC is given twice"), "{msg}");
        let mut daily = xmr.clone();
        daily.interval = Interval::D1;
        let msg = e(&[btc.clone(), daily], None, None);
        assert!(msg.contains("BTC is 1h but XMR is 1d"), "{msg}");
        let msg = e(std::slice::from_ref(&btc), Some(Timestamp(2)), Some(Timestamp(1)));
        assert!(msg.contains("start") && msg.contains("after end"), "{msg}");
        assert!(e(&[], None, None).contains("no series"));
    }
}
