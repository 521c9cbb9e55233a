//! What the engine's tests share: asset names, the two-coin bot (BTC and ETH at 50 %
//! each against USDT, threshold in absolute points) and its prices.

#![allow(dead_code)]

use std::sync::Arc;

use ballast_core::execution::Execution;
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price};
use ballast_engine::BotSpec;
use ballast_exchange::paper::FixedPrices;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

/// The clock's start in the tests: 2023-11-14.
pub const T0: i64 = 1_700_000_000_000;

pub fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

/// BTC at 50,000 and ETH at 2,500 USDT.
pub fn btc_eth_prices() -> Arc<FixedPrices> {
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    prices
}

/// `coins` in equal parts against USDT, rebalanced past `points` of drift, a 10 bps
/// fee assumed, executed as `execution` says.
pub fn equal_spec(coins: &[&str], points: Decimal, execution: Execution) -> BotSpec {
    let assets: Vec<Asset> = coins.iter().map(|c| a(c)).collect();
    BotSpec {
        quote: a("USDT"),
        weights: weighting::equal(&assets).unwrap(),
        assets,
        method: Method::Equal,
        trigger: Trigger::threshold(Threshold::new(points, DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards: Guards::default(),
        fee: Bps(dec!(10)),
        reestimate: None,
        execution,
    }
}
