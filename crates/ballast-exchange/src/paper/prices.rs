//! Where the paper venue gets its prices: a replay of bar closes, or a settable map.

use std::collections::BTreeMap;
use std::sync::Mutex;

use ballast_core::{Asset, Price, Timestamp};

/// The last traded price of a symbol at a given time, as the paper venue sees it.
pub trait PriceSource: Send + Sync {
    /// The last price of `base` in `quote` at `now`, or `None` when the symbol has no
    /// price at that time (unknown, or not trading yet).
    fn price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price>;

    /// The cross price of `base` in `quote` derived from their prices in a common quote
    /// (ETH/BTC from ETH/USDT and BTC/USDT), when this source has both; `None` by
    /// default. The paper venue fills a listed cross pair at it.
    fn cross(&self, _base: &Asset, _quote: &Asset, _now: Timestamp) -> Option<Price> {
        None
    }

    /// Whether every price is a function of `now` alone (a replay): then the paper
    /// venue matches its resting orders once per time and state of its book, not at
    /// every call. `false` by default (prices that move on their own).
    fn fixed_in_time(&self) -> bool {
        false
    }
}

/// `base / quote` when both are positive.
fn ratio(base: Price, quote: Price) -> Option<Price> {
    (base.0 > rust_decimal::Decimal::ZERO && quote.0 > rust_decimal::Decimal::ZERO)
        .then(|| base.0.checked_div(quote.0).map(Price))
        .flatten()
}

/// Prices replayed from per-asset series of bar closes `(close time, close price)`,
/// all against one quote asset.
///
/// The price at `now` is the close of the latest bar whose close time is `<= now`,
/// and `None` before an asset's first bar, for an asset with no series, and for any
/// other quote asset. The series need not be sorted; of two bars with the same close
/// time the one given later wins.
#[derive(Clone, Debug)]
pub struct ReplayPrices {
    series: BTreeMap<Asset, Vec<(Timestamp, Price)>>,
    quote: Asset,
}

impl ReplayPrices {
    /// Prices of each asset of `series` against `quote`.
    pub fn new(mut series: BTreeMap<Asset, Vec<(Timestamp, Price)>>, quote: Asset) -> Self {
        for bars in series.values_mut() {
            // Stable, so that of equal close times the later given stays later.
            bars.sort_by_key(|(t, _)| *t);
        }
        Self { series, quote }
    }

    /// The quote asset every price is in.
    pub fn quote(&self) -> &Asset {
        &self.quote
    }

    /// Every close time of every series, sorted and without repeats: the instants a
    /// replay driver advances its clock to.
    pub fn close_times(&self) -> Vec<Timestamp> {
        let mut times: Vec<Timestamp> = self.series.values().flat_map(|bars| bars.iter().map(|(t, _)| *t)).collect();
        times.sort_unstable();
        times.dedup();
        times
    }
}

impl PriceSource for ReplayPrices {
    fn fixed_in_time(&self) -> bool {
        true
    }

    fn price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price> {
        if quote != &self.quote || base == quote {
            return None;
        }
        let bars = self.series.get(base)?;
        let closed = bars.partition_point(|(t, _)| *t <= now);
        closed.checked_sub(1).and_then(|i| bars.get(i)).map(|(_, p)| *p)
    }

    fn cross(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price> {
        if base == quote || quote == &self.quote || base == &self.quote {
            return None;
        }
        ratio(self.price(base, &self.quote, now)?, self.price(quote, &self.quote, now)?)
    }
}

/// Prices set by hand, the same at every time: for tests and demos.
#[derive(Debug, Default)]
pub struct FixedPrices(Mutex<BTreeMap<(Asset, Asset), Price>>);

impl FixedPrices {
    /// No prices.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the price of `base` in `quote`.
    pub fn set(&self, base: &Asset, quote: &Asset, price: Price) {
        self.map().insert((base.clone(), quote.clone()), price);
    }

    /// Removes the price of `base` in `quote`: the symbol then has no price.
    pub fn remove(&self, base: &Asset, quote: &Asset) {
        self.map().remove(&(base.clone(), quote.clone()));
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Asset, Asset), Price>> {
        // A map of prices cannot be left half-updated: a poisoned lock is still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl PriceSource for FixedPrices {
    fn price(&self, base: &Asset, quote: &Asset, _now: Timestamp) -> Option<Price> {
        self.map().get(&(base.clone(), quote.clone())).copied()
    }

    fn cross(&self, base: &Asset, quote: &Asset, _now: Timestamp) -> Option<Price> {
        let map = self.map();
        map.iter()
            .filter(|((b, _), _)| b == base)
            .find_map(|((_, common), p)| map.get(&(quote.clone(), common.clone())).and_then(|q| ratio(*p, *q)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    #[test]
    fn a_replay_derives_the_cross_price_from_its_quote() {
        let series = [
            (a("BTC"), vec![(Timestamp(10), Price(dec!(50000))), (Timestamp(20), Price(dec!(40000)))]),
            (a("ETH"), vec![(Timestamp(10), Price(dec!(2500)))]),
        ]
        .into();
        let r = ReplayPrices::new(series, a("USDT"));
        assert_eq!(r.cross(&a("ETH"), &a("BTC"), Timestamp(15)), Some(Price(dec!(0.05))));
        assert_eq!(r.cross(&a("ETH"), &a("BTC"), Timestamp(25)), Some(Price(dec!(0.0625))));
        // Not for the quote itself, nor before a coin's first bar, nor as a direct price.
        assert_eq!(r.cross(&a("ETH"), &a("USDT"), Timestamp(15)), None);
        assert_eq!(r.cross(&a("ETH"), &a("BTC"), Timestamp(5)), None);
        assert_eq!(r.price(&a("ETH"), &a("BTC"), Timestamp(15)), None);
    }
}
