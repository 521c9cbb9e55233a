//! The synthetic order book (`depth`, `bookTicker`, the tickers' bid and ask, Gate's
//! `order_book`): the sim has no other traders, so its book is made from the replayed
//! candles by a fixed model, the same for every route.
//!
//! - Spread: 1 % of the range (high - low) of the replay's last closed bar at the
//!   shortest interval the candle source has, as a fraction of its close, times the
//!   last price; at least one tick each side. Best bid = last - half the spread rounded
//!   down to the tick, best ask = last + half rounded up, so bid < last < ask.
//! - Levels: a gap of half the spread (at least one tick) between levels, on each side.
//! - Sizes: level `i` (0 = best) shows `(i + 1) * q0` of quote value, in base rounded
//!   down to the step, where `q0` is 1/10,000 of that bar's quote volume (volume x
//!   close), at least 1,000 quote; 10,000 quote without candles.
//!
//! Orders still fill at the last price (the paper venue's model), not against these
//! levels: the book is what a client reads, not what it trades with.

use ballast_core::Asset;
use rust_decimal::Decimal;

use crate::SimState;

/// A synthetic book: `(price, base quantity)` levels, best first.
#[derive(Clone, Debug)]
pub(crate) struct Depth {
    pub bids: Vec<(Decimal, Decimal)>,
    pub asks: Vec<(Decimal, Decimal)>,
}

fn floor_to(x: Decimal, unit: Decimal) -> Decimal {
    if unit > Decimal::ZERO { (x / unit).floor() * unit } else { x }
}

fn ceil_to(x: Decimal, unit: Decimal) -> Decimal {
    if unit > Decimal::ZERO { (x / unit).ceil() * unit } else { x }
}

impl SimState {
    /// The book of `base``quote` with `levels` levels a side (fewer bids when prices
    /// would reach zero); `None` without a last price.
    pub(crate) fn depth(&self, base: &Asset, quote: &Asset, levels: usize) -> Option<Depth> {
        let last = self.last_price(base, quote).filter(|p| *p > Decimal::ZERO)?;
        let rules = self.rules_of(base, quote);
        let (tick, step) = (rules.tick, rules.step);
        let bar = self.last_closed_bar(&format!("{base}{quote}"));
        let range =
            bar.filter(|b| b[3] > Decimal::ZERO && b[1] >= b[2]).map_or(Decimal::ZERO, |b| (b[1] - b[2]) / b[3]);
        let half = last * range / Decimal::from(200);
        let one = if tick > Decimal::ZERO { tick } else { Decimal::new(1, 8) };
        let gap = ceil_to(half, tick).max(one);
        let best_bid = floor_to(last - half, tick).min(last - one);
        let best_ask = ceil_to(last + half, tick).max(last + one);
        let q0 = match bar {
            Some(b) => (b[4] * b[3] / Decimal::from(10_000)).max(Decimal::from(1_000)),
            None => Decimal::from(10_000),
        };
        let size = |i: usize, price: Decimal| floor_to(q0 * Decimal::from(i + 1) / price, step);
        let bids = (0..levels)
            .map(|i| best_bid - gap * Decimal::from(i))
            .take_while(|p| *p > Decimal::ZERO)
            .enumerate()
            .map(|(i, p)| (p, size(i, p)))
            .collect();
        let asks = (0..levels)
            .map(|i| {
                let p = best_ask + gap * Decimal::from(i);
                (p, size(i, p))
            })
            .collect();
        Some(Depth { bids, asks })
    }
}
