//! `docs/EXECUTION.md`: what execution costs, taker-only against maker-first, direct
//! pairs and new cash first, on the bundled 4h candles (the exchange mode with its cost
//! model, [`crate::costs`]). Every figure of the document comes from [`render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ballast_core::execution::{Execution, OrderStyle};
use ballast_core::planner::{PairBook, RulesBook};
use ballast_core::{Asset, DriftKind, Span, Timestamp};
use rust_decimal::Decimal;

use crate::backtest::{self, Change, ExchangeOptions, Prepared, Rebalance, SimMode, Strategy, WeightSpec};
use crate::costs::{CostModel, CostReport};
use crate::data::{Interval, align, load_dir};

/// One bot of the report.
#[derive(Clone, Debug)]
pub struct Bot {
    /// Its name in the report.
    pub name: String,
    /// Its coins (equal weights).
    pub assets: Vec<Asset>,
    /// Threshold, absolute percentage points.
    pub threshold: Decimal,
    /// First investment, USDT.
    pub initial: Decimal,
    /// Added every `top_up_every` bars, USDT.
    pub top_up: Decimal,
}

/// The report's settings.
#[derive(Clone, Debug)]
pub struct Setup {
    /// The bots.
    pub bots: Vec<Bot>,
    /// First bar (inclusive).
    pub start: Timestamp,
    /// Last bar (inclusive).
    pub end: Timestamp,
    /// Taker fee, bps.
    pub taker_fee_bps: Decimal,
    /// The cost model (maker fee, spread).
    pub model: CostModel,
    /// Maker-first: re-price interval and deadline.
    pub reprice: Span,
    /// Maker-first deadline.
    pub deadline: Span,
    /// Bars between two top-ups.
    pub top_up_every: usize,
}

/// One row: a bot under one execution.
#[derive(Clone, Debug)]
pub struct Row {
    /// The execution's name.
    pub label: String,
    /// Its settings.
    pub execution: Execution,
    /// Costs.
    pub costs: CostReport,
    /// Final value, USDT.
    pub final_value: f64,
    /// Rebalances after the first buy.
    pub rebalances: usize,
}

/// The executions compared, in order.
pub fn executions(setup: &Setup) -> Vec<(String, Execution)> {
    let maker = OrderStyle::MakerFirst { reprice: setup.reprice, deadline: setup.deadline };
    vec![
        (
            "taker-only (two quote legs)".into(),
            Execution { style: OrderStyle::Taker, direct_pairs: false, new_cash_first: false, fee_reserve: None },
        ),
        (
            "maker-first".into(),
            Execution { style: maker, direct_pairs: false, new_cash_first: false, fee_reserve: None },
        ),
        (
            "taker + direct pairs + new cash first".into(),
            Execution { style: OrderStyle::Taker, direct_pairs: true, new_cash_first: true, fee_reserve: None },
        ),
        (
            "maker-first + new cash first".into(),
            Execution { style: maker, direct_pairs: false, new_cash_first: true, fee_reserve: None },
        ),
        (
            "maker-first + direct pairs".into(),
            Execution { style: maker, direct_pairs: true, new_cash_first: false, fee_reserve: None },
        ),
        (
            "maker-first + direct pairs + new cash first".into(),
            Execution { style: maker, direct_pairs: true, new_cash_first: true, fee_reserve: None },
        ),
    ]
}

/// Runs one bot under every execution.
pub fn run_bot(
    data_dir: &Path,
    setup: &Setup,
    bot: &Bot,
    rules: &RulesBook,
    pairs: &PairBook,
) -> Result<(Prepared, Vec<Row>), String> {
    let series = load_dir(data_dir, &bot.assets, Interval::H4).map_err(|e| e.to_string())?;
    let aligned = align(&series, Some(setup.start), Some(setup.end)).map_err(|e| e.to_string())?;
    let prep = Prepared::new(aligned, None)?;
    let changes: Vec<(usize, Change)> = (1..prep.bars())
        .filter(|b| setup.top_up_every > 0 && b % setup.top_up_every == 0)
        .map(|b| (b, Change::Invest(bot.top_up)))
        .collect();
    // Only the pairs between this bot's coins.
    let mut own = PairBook::default();
    for (symbol, r) in &pairs.rules {
        if let Some((b, q)) = symbol.split_once('/')
            && bot.assets.iter().any(|a| a.as_str() == b)
            && bot.assets.iter().any(|a| a.as_str() == q)
        {
            own.rules.insert(symbol.clone(), *r);
        }
    }
    let mut rows = Vec::new();
    for (label, execution) in executions(setup) {
        let strategy = Strategy {
            weights: WeightSpec::Equal,
            rebalance: Rebalance::Threshold { percent: bot.threshold, kind: DriftKind::Absolute },
            fee_bps: setup.taker_fee_bps,
            initial: bot.initial,
            mode: SimMode::Exchange(Box::new(ExchangeOptions {
                rules: rules.clone(),
                pairs: own.clone(),
                execution: execution.clone(),
                costs: Some(setup.model.clone()),
                changes: changes.clone(),
                ..ExchangeOptions::default()
            })),
        };
        let out = backtest::run(&prep, &strategy, false)?;
        let costs = out.costs.ok_or("the exchange mode measured no costs")?;
        rows.push(Row {
            label,
            execution,
            costs,
            final_value: out.metrics.final_value,
            rebalances: out.metrics.rebalances,
        });
    }
    Ok((prep, rows))
}

fn usd(x: f64) -> String {
    format!("{x:.2}")
}

/// What the report says of the fee reserve (`[execution] fee_reserve`), which it does
/// not model.
const FEE_RESERVE_NOTE: &str = r#"**Fee reserve** (`[execution] fee_reserve`, not part of this report: the backtester does not model it and charges every fee in the quote). A bot can keep a small reserve of the venue's fee asset, BNB on Binance or GT on Gate, so that the venue charges its fees in that asset at its discounted rate (Binance: 0.75 of the standard commission). When a rebalance trades and the reserve is worth less than its `min`, one buy leg ("fee reserve top-up") brings it back to its `target`, before the other buys so that they already pay the discounted fee; the reserve is never sold by a rebalance and has no target weight. With the discount, the fee column above would be 25 % lower on Binance, less the spread and fee of the top-up buys themselves. The paper venue and `ballast sim` charge it (`paper.json` `bnb_fees`, `ballast sim --fee-discount`)."#;

/// The whole document.
pub fn render(data_dir: &Path, setup: &Setup, rules: &RulesBook, pairs: &PairBook) -> Result<String, String> {
    setup.model.validate()?;
    let mut md = String::new();
    let w = &mut md;
    let date = |t: Timestamp| crate::dates::format_timestamp(t);
    let _ = writeln!(w, "# Execution costs\n");
    let _ = writeln!(
        w,
        "Generated by `ballast backtest execution-report --out docs/EXECUTION.md` (every figure below comes \
         from that command; run it again after a change to the planner or the cost model).\n"
    );
    let _ = writeln!(w, "## Setup\n");
    let _ = writeln!(
        w,
        "- Data: the bundled Binance 4h candles, {} to {} (bars at their close).",
        date(setup.start),
        date(setup.end)
    );
    let _ = writeln!(
        w,
        "- Exchange mode of the backtester (the bot's step policy and planner, exchange rules of \
         `data/rules/binance-spot.toml`, cross pairs from its `[pairs]`), with the cost model of \
         docs/BACKTEST.md (\"Execution costs\")."
    );
    let _ = writeln!(
        w,
        "- Fees: taker {} bps, maker {} bps. Half-spread: {} of the bar's high-low range over its close, at least {} bps; \
         a cross pair's is the sum of its two coins'.",
        setup.taker_fee_bps.normalize(),
        setup.model.maker_fee_bps.normalize(),
        setup.model.range_fraction.normalize(),
        setup.model.min_half_spread_bps.normalize()
    );
    let _ = writeln!(
        w,
        "- Maker-first: post-only at the touch, re-priced every {}, finished as taker after {} (the backtest's \
         resolution is the 4h bar: a resting order is checked against each later bar's range).",
        setup.reprice, setup.deadline
    );
    let _ = writeln!(
        w,
        "- Direct pairs: the planner (`ballast_core::planner::direct_pairs`, the engine's decision too) trades a \
         cross pair when its leg is expected to cost less than the two quote legs: each quote leg in the bot's \
         style, the pair's in the cheaper of the styles the bot may send it in (a maker-first bot may send it \
         as a market order). A taker leg is expected to cost the taker fee plus the half-spread; a maker leg \
         the maker fee minus the half-spread plus the expected cost of waiting. That wait is what the legs sent \
         resting on the symbol have cost so far in the run beyond a maker fill at the touch of their decision \
         (the mid's move, and a taker's fee and spread when the deadline finished them), per traded value; \
         before a symbol's first such fill, its half-spread (a resting order gives back what it earns). No \
         parameter: the run's own fills, never later bars."
    );
    let _ = writeln!(
        w,
        "- Every bot is topped up every {} bars ({} days) by the amount below: the investments are where \
         new cash first acts.",
        setup.top_up_every,
        setup.top_up_every / 6
    );
    let _ = writeln!(
        w,
        "- Columns: **fees**; **spread** (paid over the mid the fill was priced at; negative when maker fills \
         earn it); **delay** (how far the mid moved against resting legs between the decision and their \
         fill: the price of waiting, which can eat what a maker earns); **cost** = fees + spread + delay, in \
         USDT and in bps of the traded value; \
         **drift** = the largest absolute distance of a coin's weight from its target, in percentage points, \
         mean and worst over every bar (the tracking error); **taker share** = fills that were takers; \
         **rebalances** = bars with fills after the first (a rebalance whose pair leg fills at once as a taker \
         and whose quote legs rest counts the bar of each).\n"
    );
    let mut verdicts = Vec::new();
    for bot in &setup.bots {
        let (prep, rows) = run_bot(data_dir, setup, bot, rules, pairs)?;
        let names: Vec<&str> = bot.assets.iter().map(|a| a.as_str()).collect();
        let _ = writeln!(
            w,
            "## {}\n\n{} coins ({}), equal weights, threshold {} points absolute, {} USDT then {} USDT every {} \
             bars; {} bars.\n",
            bot.name,
            bot.assets.len(),
            names.join(", "),
            bot.threshold.normalize(),
            bot.initial.normalize(),
            bot.top_up.normalize(),
            setup.top_up_every,
            prep.bars()
        );
        let _ = writeln!(
            w,
            "| execution | fees | spread | delay | cost | cost (bps of traded) | vs taker-only | traded | final value | drift mean / worst (pts) | taker share | pair fills | fills | rebalances |"
        );
        let _ = writeln!(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        let base = rows[0].costs.total();
        for r in &rows {
            let c = &r.costs;
            let cost = c.total();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} | {:.2} | {:+.1} % | {} | {} | {:.2} / {:.2} | {:.1} % | {} | {} | {} |",
                r.label,
                usd(c.fees),
                usd(c.spread),
                usd(c.delay),
                usd(cost),
                c.cost_bps(),
                (cost / base - 1.0) * 100.0,
                usd(c.traded),
                usd(r.final_value),
                c.mean_drift * 100.0,
                c.max_drift * 100.0,
                c.taker_share() * 100.0,
                c.pair_legs,
                c.legs,
                r.rebalances
            );
        }
        let band = bot.threshold.to_string().parse::<f64>().unwrap_or(0.0);
        for r in &rows[1..] {
            let cut = 1.0 - r.costs.total() / base;
            let drift = r.costs.mean_drift * 100.0;
            verdicts.push((bot.name.clone(), r.label.clone(), cut, drift, r.costs.max_drift * 100.0, band));
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w, "## Goal: total cost at least 40 % below taker-only, drift within the band\n");
    let _ = writeln!(
        w,
        "Cost here is fees + spread + delay; the drift compared with the band is the mean over the bars. \
         The goal is for maker-first + direct pairs + new cash first; the other rows show where the \
         saving comes from.\n"
    );
    let _ = writeln!(w, "| bot | execution | cost vs taker-only | drift mean / worst (pts) | band (pts) | goal |");
    let _ = writeln!(w, "|---|---|---:|---:|---:|---|");
    for (bot, label, cut, drift, worst, band) in &verdicts {
        let met = *cut >= 0.40 && *drift <= *band;
        let _ = writeln!(
            w,
            "| {bot} | {label} | {:+.1} % | {drift:.2} / {worst:.2} | {band} | {} |",
            -cut * 100.0,
            if met { "met" } else { "not met" }
        );
    }
    let _ = writeln!(w);
    // The fee reserve is not modelled here (the backtester charges fees in the quote).
    let _ = writeln!(w, "{FEE_RESERVE_NOTE}");
    let _ = writeln!(w);
    let _ = writeln!(
        w,
        "What the model leaves out: queue position (a resting order at the touch fills here as soon as a later \
         bar trades through it, never when the price only touches it), the depth of the book (every fill is \
         complete), and a cross pair's own candles (its fills are judged on the ratio of closes, so a resting \
         cross order fills less often than it would: it waits for the deadline, and a leg that waited is one \
         the market moved away from; the planner learns that from the run's first cross fills and sends \
         later pair legs as takers, so the pair fills of the maker-first rows are mostly takers). Spreads are a model of the candles, not measured quotes; the maker fee equals the taker \
         fee here (Binance's regular rates), so maker-first saves the spread, not the fee. The worst drift of \
         the maker-first rows exceeds the band: while legs rest the bot decides nothing, as the engine does \
         while an order is unresolved."
    );
    Ok(md)
}

/// The report's default setup: the demo's bot and an 11-coin equal-weight bot, 2021 to
/// 2025, Binance's regular fees.
pub fn default_setup() -> Result<Setup, String> {
    let a = |s: &str| Asset::new(s).map_err(|e| e.to_string());
    let list = |l: &[&str]| l.iter().map(|s| a(s)).collect::<Result<Vec<_>, _>>();
    Ok(Setup {
        bots: vec![
            Bot {
                name: "The demo's bot".into(),
                assets: list(&["BTC", "ETH", "XRP", "BNB"])?,
                threshold: Decimal::from(3),
                initial: Decimal::from(1000),
                top_up: Decimal::from(100),
            },
            Bot {
                name: "11 coins, equal weights".into(),
                assets: list(&["ADA", "BNB", "BTC", "DOGE", "DOT", "ETH", "LINK", "LTC", "SOL", "TRX", "XRP"])?,
                threshold: Decimal::from(3),
                initial: Decimal::from(10_000),
                top_up: Decimal::from(500),
            },
        ],
        start: crate::dates::parse_date("2021-01-01").map_err(|e| e.to_string())?,
        end: crate::dates::parse_end_date("2025-12-31").map_err(|e| e.to_string())?,
        taker_fee_bps: Decimal::TEN,
        model: CostModel::default(),
        reprice: Span::hours(4),
        deadline: Span::hours(4),
        top_up_every: 180,
    })
}

/// Names of the figures of a row, for machine-readable output.
pub fn row_map(r: &Row) -> BTreeMap<&'static str, f64> {
    let c = &r.costs;
    [
        ("fees", c.fees),
        ("spread", c.spread),
        ("delay", c.delay),
        ("traded", c.traded),
        ("cost_bps", c.cost_bps()),
        ("final_value", r.final_value),
        ("mean_drift", c.mean_drift),
        ("max_drift", c.max_drift),
        ("taker_share", c.taker_share()),
    ]
    .into()
}
