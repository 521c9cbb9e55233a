//! The exchange mode's cost model: spreads from the candles, maker fills only when a
//! later bar trades through, taker finish at the deadline, new cash first on a top-up,
//! and clear errors for bad settings.

use ballast_backtest::backtest::{
    self, Change, ExchangeOptions, Outcome, Prepared, Rebalance, SimMode, Strategy, WeightSpec,
};
use ballast_backtest::costs::CostModel;
use ballast_backtest::{Candle, Interval, Series, align};
use ballast_core::execution::{Execution, OrderStyle};
use ballast_core::planner::Side;
use ballast_core::{Asset, DriftKind, Span, Timestamp};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const H4: i64 = 4 * 3_600_000;

/// Two coins; bar `t` of each is `(close, low, high)`.
fn series(asset: &str, bars: &[(Decimal, Decimal, Decimal)]) -> Series {
    Series {
        asset: Asset::new(asset).unwrap(),
        interval: Interval::H4,
        candles: bars
            .iter()
            .enumerate()
            .map(|(t, &(close, low, high))| Candle {
                open_time: Timestamp(1_600_000_000_000 + t as i64 * H4),
                open: close,
                high,
                low,
                close,
                volume: Decimal::ONE,
            })
            .collect(),
    }
}

fn flat(close: Decimal, n: usize) -> Vec<(Decimal, Decimal, Decimal)> {
    vec![(close, close, close); n]
}

fn run(
    btc: Vec<(Decimal, Decimal, Decimal)>,
    eth: Vec<(Decimal, Decimal, Decimal)>,
    opts: ExchangeOptions,
) -> Result<Outcome, String> {
    let data = align(&[series("BTC", &btc), series("ETH", &eth)], None, None).unwrap();
    let prep = Prepared::new(data, None).unwrap();
    let strategy = Strategy {
        weights: WeightSpec::Equal,
        rebalance: Rebalance::Threshold { percent: dec!(5), kind: DriftKind::Absolute },
        fee_bps: dec!(10),
        initial: dec!(10000),
        mode: SimMode::Exchange(Box::new(opts)),
    };
    backtest::run(&prep, &strategy, true)
}

fn model() -> CostModel {
    CostModel { maker_fee_bps: dec!(2), range_fraction: dec!(0.1), min_half_spread_bps: dec!(1) }
}

fn maker(reprice_bars: i64, deadline_bars: i64) -> Execution {
    Execution {
        style: OrderStyle::MakerFirst {
            reprice: Span::hours(4 * reprice_bars),
            deadline: Span::hours(4 * deadline_bars),
        },
        ..Execution::default()
    }
}

#[test]
fn a_taker_pays_the_fee_and_half_the_modelled_spread() {
    // Range 2 % of the close: half-spread 0.1 * 2 % = 20 bps.
    let bars = vec![(dec!(100), dec!(99), dec!(101)); 3];
    let out = run(bars.clone(), bars, ExchangeOptions { costs: Some(model()), ..ExchangeOptions::default() }).unwrap();
    let c = out.costs.unwrap();
    assert_eq!((c.legs, c.taker_legs), (2, 2));
    assert!((c.fees / c.traded - 0.001).abs() < 1e-9, "10 bps taker fee");
    assert!((c.spread / c.traded - 0.002).abs() < 1e-4, "20 bps: {}", c.spread / c.traded);
    // Bought at the ask: 100.2.
    assert!(out.trades.iter().all(|t| (t.price - 100.2).abs() < 1e-9), "{:?}", out.trades);
}

#[test]
fn a_maker_leg_fills_only_when_a_later_bar_trades_through_it() {
    // Bar 0 decides (bid 99.8); bar 1 trades down to 99.5: both buys fill as makers.
    let mut btc = vec![(dec!(100), dec!(99), dec!(101))];
    btc.extend(vec![(dec!(100), dec!(99.5), dec!(100.5)); 3]);
    let out = run(
        btc.clone(),
        btc,
        ExchangeOptions { costs: Some(model()), execution: maker(1, 2), ..ExchangeOptions::default() },
    )
    .unwrap();
    let c = out.costs.unwrap();
    assert_eq!((c.legs, c.taker_legs), (2, 0));
    assert!(c.spread < 0.0, "a maker earns the half-spread: {}", c.spread);
    assert!((c.fees / c.traded - 0.0002).abs() < 1e-9, "2 bps maker fee");
    assert!(out.trades.iter().all(|t| t.time.0 == 1_600_000_000_000 + H4 && (t.price - 99.8).abs() < 1e-9));
}

#[test]
fn a_maker_leg_the_market_only_touches_finishes_as_a_taker_at_the_deadline() {
    // Bar 0 decides (bid 99.8); the later bars' lows stop exactly at 99.8 (touched, not
    // traded through); no re-pricing before the deadline of 2 bars: a taker fill at bar
    // 2's close.
    let mut btc = vec![(dec!(100), dec!(99), dec!(101))];
    btc.extend(vec![(dec!(100), dec!(99.8), dec!(100.2)); 3]);
    let out = run(
        btc.clone(),
        btc,
        ExchangeOptions { costs: Some(model()), execution: maker(2, 2), ..ExchangeOptions::default() },
    )
    .unwrap();
    let c = out.costs.unwrap();
    assert_eq!((c.legs, c.taker_legs), (2, 2));
    assert!(out.trades.iter().all(|t| t.time.0 == 1_600_000_000_000 + 2 * H4), "{:?}", out.trades);
    // Nothing is held until then: the value is the cash.
    assert_eq!(out.values[1], 10000.0);
}

#[test]
fn a_top_up_is_spent_first_on_the_underweight_coin() {
    // BTC rises 8 % at bar 1 (51.9 %, inside the 5-point band); 200 USDT are added at
    // bar 2: BTC is still above its target, so a plain rebalance sells some.
    let mut btc = flat(dec!(100), 2);
    btc.extend(flat(dec!(108), 3));
    let eth = flat(dec!(100), 5);
    let opts = |first: bool| ExchangeOptions {
        costs: Some(model()),
        execution: Execution { new_cash_first: first, ..Execution::default() },
        changes: vec![(2, Change::Invest(dec!(200)))],
        ..ExchangeOptions::default()
    };
    let bar2 = Timestamp(1_600_000_000_000 + 2 * H4);
    let sells = |o: &Outcome| o.trades.iter().filter(|t| t.time == bar2 && t.side == Side::Sell).count();
    let first = run(btc.clone(), eth.clone(), opts(true)).unwrap();
    let old = run(btc, eth, opts(false)).unwrap();
    assert_eq!(sells(&first), 0, "{:?}", first.trades);
    assert_eq!(sells(&old), 1, "{:?}", old.trades);
    assert!(first.costs.unwrap().fees < old.costs.unwrap().fees);
}

#[test]
fn bad_settings_are_refused_naming_them() {
    let bars = flat(dec!(100), 3);
    let bad = CostModel { range_fraction: dec!(2), ..model() };
    let err = run(bars.clone(), bars.clone(), ExchangeOptions { costs: Some(bad), ..ExchangeOptions::default() })
        .unwrap_err();
    assert!(err.contains("spread range fraction"), "{err}");
    let bad = CostModel { maker_fee_bps: dec!(-1), ..model() };
    let err = run(bars.clone(), bars.clone(), ExchangeOptions { costs: Some(bad), ..ExchangeOptions::default() })
        .unwrap_err();
    assert!(err.contains("maker fee"), "{err}");
    let execution = Execution {
        style: OrderStyle::MakerFirst { reprice: Span::hours(8), deadline: Span::hours(4) },
        ..Execution::default()
    };
    let err = run(bars.clone(), bars, ExchangeOptions { execution, ..ExchangeOptions::default() }).unwrap_err();
    assert!(err.contains("execution.deadline"), "{err}");
}

#[test]
fn a_listed_pair_replaces_two_quote_legs_in_the_backtest() {
    use ballast_core::SymbolRules;
    use ballast_core::planner::PairBook;
    // BTC rises 30 % at bar 1 (56.5 %, past the 5-point band): sell BTC, buy ETH;
    // ETH/BTC is listed.
    let mut btc = flat(dec!(100), 1);
    btc.extend(flat(dec!(130), 3));
    let eth = flat(dec!(100), 4);
    let mut pairs = PairBook::default();
    pairs.insert(
        &Asset::new("ETH").unwrap(),
        &Asset::new("BTC").unwrap(),
        SymbolRules { tick: dec!(0.00001), step: dec!(0.001), min_qty: dec!(0.001), min_notional: dec!(0.01) },
    );
    let opts = |direct: bool| ExchangeOptions {
        costs: Some(model()),
        execution: Execution { direct_pairs: direct, ..Execution::default() },
        pairs: pairs.clone(),
        ..ExchangeOptions::default()
    };
    let direct = run(btc.clone(), eth.clone(), opts(true)).unwrap();
    let quote = run(btc, eth, opts(false)).unwrap();
    let bar1 = Timestamp(1_600_000_000_000 + H4);
    let pair: Vec<_> = direct.trades.iter().filter(|t| t.time == bar1).collect();
    assert!(pair.iter().any(|t| t.quote == Some(Asset::new("BTC").unwrap()) && t.side == Side::Buy), "{pair:?}");
    let (d, q) = (direct.costs.unwrap(), quote.costs.unwrap());
    assert_eq!(d.pair_legs, 1);
    assert!(d.fees < q.fees, "one fee instead of two: {} vs {}", d.fees, q.fees);
    // Both land on target: the drift after the rebalance is small either way.
    let w = &direct.weights[2 * 2..2 * 2 + 2];
    assert!((w[0] - 0.5).abs() < 0.01 && (w[1] - 0.5).abs() < 0.01, "{w:?}");
}

/// A maker-first bot learns what resting costs on a symbol: its first ETH/BTC leg
/// rests, the market moves away and the deadline finishes it as a taker; at the next
/// rebalance the planner expects resting to cost more than a market order on the pair
/// (and than two resting quote legs), so the pair's leg is sent as a taker and fills
/// at the decision bar, which a resting order never does.
#[test]
fn a_maker_first_bot_sends_a_pair_leg_as_a_taker_once_resting_proved_dear() {
    use ballast_core::SymbolRules;
    use ballast_core::planner::PairBook;
    let btc_asset = Asset::new("BTC").unwrap();
    // Bar 1: BTC +30 %, rebalance; bar 2: ETH +1 % against the resting buys; bar 4:
    // BTC to 170, rebalance again.
    let btc = vec![
        (dec!(100), dec!(100), dec!(100)),
        (dec!(130), dec!(130), dec!(130)),
        (dec!(130), dec!(130), dec!(130)),
        (dec!(130), dec!(130), dec!(130)),
        (dec!(170), dec!(170), dec!(170)),
        (dec!(170), dec!(170), dec!(170)),
        (dec!(170), dec!(170), dec!(170)),
    ];
    let mut eth = flat(dec!(100), 2);
    eth.extend(flat(dec!(101), 5));
    let mut pairs = PairBook::default();
    pairs.insert(
        &Asset::new("ETH").unwrap(),
        &btc_asset,
        SymbolRules { tick: dec!(0.00001), step: dec!(0.001), min_qty: dec!(0.001), min_notional: dec!(0.01) },
    );
    let opts = ExchangeOptions {
        // Maker and taker fees equal (Binance's regular rates): resting saves a spread.
        costs: Some(CostModel { maker_fee_bps: dec!(10), range_fraction: dec!(0.1), min_half_spread_bps: dec!(1) }),
        execution: Execution { direct_pairs: true, ..maker(1, 1) },
        pairs,
        ..ExchangeOptions::default()
    };
    let out = run(btc, eth, opts).unwrap();
    let bar = |n: i64| Timestamp(1_600_000_000_000 + n * H4);
    let on_pair = |t: &&backtest::Trade| t.quote.as_ref() == Some(&btc_asset);
    // The first pair leg rested: nothing on the pair at its decision bar.
    assert!(!out.trades.iter().filter(on_pair).any(|t| t.time == bar(1)), "{:?}", out.trades);
    assert!(out.trades.iter().filter(on_pair).any(|t| t.time == bar(2)), "{:?}", out.trades);
    // The second is a taker at its decision bar.
    assert!(out.trades.iter().filter(on_pair).any(|t| t.time == bar(4)), "{:?}", out.trades);
    let c = out.costs.unwrap();
    assert_eq!(c.pair_legs, 2);
}
