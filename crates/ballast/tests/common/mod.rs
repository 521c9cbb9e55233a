//! Helpers shared by the integration tests: the bundled candles as a replay, the
//! shipped rules, and a bot spec.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use ballast_backtest::{Interval, align, load_dir, parse_date, parse_end_date};
use ballast_core::guards::Guards;
use ballast_core::planner::{RebalanceTo, RulesBook};
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Timestamp};
use ballast_engine::BotSpec;
use ballast_exchange::paper::ReplayPrices;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn assets() -> Vec<Asset> {
    ["BTC", "ETH", "XRP", "BNB"].iter().map(|s| Asset::new(s).unwrap()).collect()
}

pub fn usdt() -> Asset {
    Asset::new("USDT").unwrap()
}

/// Shipped rules (the same file the backtester's exchange mode reads).
pub fn rules() -> RulesBook {
    let text = std::fs::read_to_string(root().join("data/rules/binance-spot.toml")).unwrap();
    let t: toml::Table = text.parse().unwrap();
    let mut book = RulesBook::default();
    for (name, v) in t["rules"].as_table().unwrap() {
        let get = |k: &str| v[k].as_str().unwrap().parse::<Decimal>().unwrap();
        book.per_asset.insert(
            Asset::new(name).unwrap(),
            ballast_core::SymbolRules {
                tick: get("tick"),
                step: get("step"),
                min_qty: get("min_qty"),
                min_notional: get("min_notional"),
            },
        );
    }
    book
}

pub struct World {
    pub data: ballast_backtest::Aligned,
    pub first: usize,
}

pub fn world(start: &str, end: &str) -> World {
    let series = load_dir(root().join("data/binance-spot"), &assets(), Interval::H4).unwrap();
    let data = align(&series, None, Some(parse_end_date(end).unwrap())).unwrap();
    let s = parse_date(start).unwrap();
    let first = data.times.iter().position(|t| *t >= s).unwrap();
    World { data, first }
}

/// The paper venue replaying these candles: the price at a bar's close time is its close.
pub fn replay(w: &World) -> Arc<ReplayPrices> {
    let mut series = BTreeMap::new();
    for (i, a) in w.data.assets.iter().enumerate() {
        let s: Vec<(Timestamp, Price)> = w
            .data
            .times
            .iter()
            .zip(&w.data.closes_exact[i])
            .map(|(t, p)| (Timestamp(t.0 + Interval::H4.millis()), Price(*p)))
            .collect();
        series.insert(a.clone(), s);
    }
    Arc::new(ReplayPrices::new(series, usdt()))
}

pub fn spec(threshold: Decimal, guards: Guards) -> BotSpec {
    BotSpec {
        quote: usdt(),
        assets: assets(),
        method: Method::Equal,
        weights: weighting::equal(&assets()).unwrap(),
        trigger: Trigger::threshold(Threshold::new(threshold, DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards,
        fee: Bps(dec!(10)),
    }
}
