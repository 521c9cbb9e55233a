//! Where the paper venue gets its prices: a replay of bar closes, or a settable map.

use std::collections::BTreeMap;
use std::sync::Mutex;

use ballast_core::{Asset, Price, Timestamp};

/// The last traded price of a symbol at a given time, as the paper venue sees it.
pub trait PriceSource: Send + Sync {
    /// The last price of `base` in `quote` at `now`, or `None` when the symbol has no
    /// price at that time (unknown, or not trading yet).
    fn price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price>;
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
    fn price(&self, base: &Asset, quote: &Asset, now: Timestamp) -> Option<Price> {
        if quote != &self.quote || base == quote {
            return None;
        }
        let bars = self.series.get(base)?;
        let closed = bars.partition_point(|(t, _)| *t <= now);
        closed.checked_sub(1).and_then(|i| bars.get(i)).map(|(_, p)| *p)
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
}
