//! `ballast sim`: a local server that speaks the Binance spot REST dialect on the
//! paper venue, with prices replayed from the bundled candles and faults on demand,
//! to rehearse a live setup without money.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Result, anyhow, bail};
use ballast_backtest::{Interval, parse_date};
use ballast_core::{Asset, Price, Qty, Timestamp};
use ballast_exchange::paper::{PaperConfig, PaperExchange, PriceSource, ReplayPrices};
use ballast_exchange::{Clock, ManualClock};
use ballast_sim::{FaultConfig, RateLimits, SimConfig, SimState};
use rust_decimal::Decimal;

use crate::app::{bundle_dir, fmt_time, load_series};
use crate::config::{load_pairs, load_rules};

/// The environment variable that replaces the simulator's API key (`sim-key`).
pub const SIM_KEY_ENV: &str = "BALLAST_SIM_API_KEY";
/// The environment variable that replaces the simulator's secret (`sim-secret`).
pub const SIM_SECRET_ENV: &str = "BALLAST_SIM_SECRET";

/// The replay's prices at the replay clock's time, whatever time the paper venue asks
/// for (the paper venue runs on wall time).
/// `fixed`: coins the bundle has no candles of, at a fixed price in the quote
/// (`--gt-price`).
struct ReplayAt {
    prices: ReplayPrices,
    clock: Arc<ManualClock>,
    fixed: Vec<(Asset, Price)>,
}

impl PriceSource for ReplayAt {
    fn price(&self, base: &Asset, quote: &Asset, _now: Timestamp) -> Option<Price> {
        if quote == self.prices.quote()
            && let Some((_, p)) = self.fixed.iter().find(|(a, _)| a == base)
        {
            return Some(*p);
        }
        self.prices.price(base, quote, self.clock.now())
    }

    fn cross(&self, base: &Asset, quote: &Asset, _now: Timestamp) -> Option<Price> {
        self.prices.cross(base, quote, self.clock.now())
    }
}

/// Arguments of `ballast sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Port on 127.0.0.1.
    #[arg(long, default_value = "9000")]
    pub port: u16,
    /// USDT in the simulated account at start.
    #[arg(long, default_value = "10000", value_parser = super::amount_arg)]
    pub fund: Decimal,
    /// First replayed day (YYYY-MM-DD).
    #[arg(long, default_value = "2024-01-01")]
    pub start: String,
    /// Replay speed: 4h bars per second of wall time.
    #[arg(long, default_value = "1")]
    pub speed: f64,
    /// Taker fee, bps.
    #[arg(long, default_value = "10")]
    pub fee_bps: Decimal,
    /// Added latency per request, ms.
    #[arg(long, default_value = "0")]
    pub latency_ms: u64,
    /// Share of requests answered 429 with Retry-After (0..1).
    #[arg(long, default_value = "0")]
    pub rate_429: f64,
    /// Share of requests answered 5xx without doing anything (0..1).
    #[arg(long, default_value = "0")]
    pub rate_5xx: f64,
    /// Share of orders executed whose reply is then lost (0..1).
    #[arg(long, default_value = "0")]
    pub drop_after_execution: f64,
    /// Share of orders rejected (0..1).
    #[arg(long, default_value = "0")]
    pub reject_rate: f64,
    /// Seed of the fault draws.
    #[arg(long, default_value = "1")]
    pub seed: u64,
    /// Share of orders that fill only in part and expire (0..1).
    #[arg(long, default_value = "0")]
    pub partial_fill_rate: f64,
    /// The part that fills, 0..1.
    #[arg(long, default_value = "0.5")]
    pub partial_fill_fraction: f64,
    /// A resting order (a maker) that the replayed price trades through fills only
    /// half the first time, the rest the next time.
    #[arg(long)]
    pub resting_partial_fills: bool,
    /// Share of Binance requests answered 418 (IP ban) with Retry-After (0..1).
    #[arg(long, default_value = "0")]
    pub rate_418: f64,
    /// Share of orders executed whose reply comes only after the client gave up (0..1).
    #[arg(long, default_value = "0")]
    pub timeout_after_execution: f64,
    /// How long such a reply is held back, ms.
    #[arg(long, default_value = "30000")]
    pub timeout_sleep_ms: u64,
    /// Binance request weight allowed per minute (over it: 429, then 418 bans).
    #[arg(long, default_value = "6000")]
    pub weight_per_minute: u64,
    /// Binance unfilled orders allowed per 10 seconds (over it: 429 -1015).
    #[arg(long, default_value = "100")]
    pub orders_per_10s: u64,
    /// Binance unfilled orders allowed per day (over it: 429 -1015).
    #[arg(long, default_value = "200000")]
    pub orders_per_day: u64,
    /// Request-weight 429s tolerated in a minute before the IP is banned (418).
    #[arg(long, default_value = "5")]
    pub ban_after: u64,
    /// Length of the first ban, seconds (each further ban doubles it, up to 3 days).
    #[arg(long, default_value = "120")]
    pub ban_secs: u64,
    /// Gate spot order placements and amendments allowed per currency pair per second.
    #[arg(long, default_value = "10")]
    pub gate_orders_per_sec: u64,
    /// Gate requests allowed per endpoint per 10 seconds (other than orders).
    #[arg(long, default_value = "200")]
    pub gate_requests_per_10s: u64,
    /// Keep the simulated account (balances, orders, fills) in this SQLite file
    /// instead of memory, to inspect it afterwards.
    #[arg(long)]
    pub db: Option<std::path::PathBuf>,
    /// Charge fees in this asset (`bnb`: Binance's "pay fees with BNB"; `gt`: Gate's
    /// GT deduction) at `--fee-discount-multiplier` of the fee when the account holds
    /// enough of it; the commission endpoints then report the discount.
    #[arg(long, value_parser = ["bnb", "gt"])]
    pub fee_discount: Option<String>,
    /// The share of the fee charged when paid in the discount asset (Binance: 0.75).
    #[arg(long, default_value = "0.75")]
    pub fee_discount_multiplier: Decimal,
    /// Serve GTUSDT at this fixed price (the bundled data has no GT candles): needed
    /// for Gate's GT fee deduction and small-balance conversion into GT.
    #[arg(long)]
    pub gt_price: Option<Decimal>,
}

/// The candles of the symbols' quote-USDT pairs in `dir` (`<ASSET>USDT_<interval>.csv`,
/// gzipped or not) at every interval that has a file: `1d`, `4h`, `1h`. The sim serves
/// those and what it can make from them.
fn bundle_candles(dir: &std::path::Path, symbols: &[(Asset, Asset)]) -> Result<ballast_sim::MemoryCandles> {
    let mut candles = ballast_sim::MemoryCandles::new();
    for interval in Interval::ALL {
        for (asset, _) in symbols.iter().filter(|(_, q)| q.as_str() == "USDT") {
            let Some(file) =
                ballast_backtest::data::file_names(asset, interval).iter().map(|n| dir.join(n)).find(|f| f.exists())
            else {
                continue;
            };
            let s = ballast_backtest::load_file(&file, asset.clone(), interval)?;
            let rows = s
                .candles
                .iter()
                .map(|c| {
                    [
                        c.open_time.0.to_string(),
                        c.open.to_string(),
                        c.high.to_string(),
                        c.low.to_string(),
                        c.close.to_string(),
                        c.volume.to_string(),
                    ]
                })
                .collect();
            candles.insert(&format!("{asset}USDT"), interval.as_str(), rows);
        }
    }
    Ok(candles)
}

/// Runs `ballast sim` until interrupted.
pub fn run(args: &SimArgs) -> Result<()> {
    for (name, p) in [
        ("--rate-429", args.rate_429),
        ("--rate-5xx", args.rate_5xx),
        ("--drop-after-execution", args.drop_after_execution),
        ("--reject-rate", args.reject_rate),
        ("--partial-fill-rate", args.partial_fill_rate),
        ("--partial-fill-fraction", args.partial_fill_fraction),
        ("--rate-418", args.rate_418),
        ("--timeout-after-execution", args.timeout_after_execution),
    ] {
        if !(0.0..=1.0).contains(&p) {
            bail!("{name} {p} must be between 0 and 1");
        }
    }
    if args.speed <= 0.0 || !args.speed.is_finite() {
        bail!("--speed must be positive");
    }
    let bundle = bundle_dir();
    let mut series = load_series(&bundle, Interval::D1)?;
    series.extend(load_series(&bundle, Interval::H4)?);
    let start = parse_date(&args.start).map_err(|e| anyhow!("--start: {e}"))?;
    let btc = Asset::new("BTC")?;
    let bars: Vec<_> =
        series.get(&btc).map(|s| s.iter().map(|(t, _)| *t).filter(|t| *t >= start).collect()).unwrap_or_default();
    let Some(first) = bars.first().copied() else { bail!("--start {}: no candles from then on", args.start) };
    let quote = Asset::new("USDT")?;
    let mut symbols: Vec<(Asset, Asset)> = series.keys().map(|a| (a.clone(), quote.clone())).collect();
    // The cross pairs of the bundled rules (ETH/BTC, ...) between two replayed coins,
    // at the cross price of their replayed prices, under their own rules.
    let rules_file = bundle.join("rules/binance-spot.toml");
    let mut pairs = load_pairs(&rules_file)?;
    pairs.rules.retain(|name, _| {
        name.split_once('/').is_some_and(|(b, q)| {
            [b, q].iter().all(|c| Asset::new(c).is_ok_and(|a| series.contains_key(&a) && a != quote))
        })
    });
    for name in pairs.rules.keys() {
        if let Some((b, q)) = name.split_once('/') {
            symbols.push((Asset::new(b)?, Asset::new(q)?));
        }
    }
    // Two clocks, one of which clients see: the replay's (which bar's prices are
    // served) and wall time (every time in the API: serverTime, orders, fills,
    // candles shifted onto it).
    let clock = Arc::new(ManualClock::new(first));
    let wall: Arc<dyn Clock> = Arc::new(ballast_exchange::SystemClock);
    let rules = load_rules(&rules_file)?;
    let paper_config = PaperConfig { name: "sim".into(), fee_bps: args.fee_bps, slippage_bps: Decimal::ZERO, rules };
    let mut fixed = Vec::new();
    if let Some(p) = args.gt_price {
        if p <= Decimal::ZERO {
            bail!("--gt-price {p} must be positive");
        }
        let gt = Asset::new("GT")?;
        symbols.push((gt.clone(), quote.clone()));
        fixed.push((gt, Price(p)));
    }
    if !(Decimal::ZERO < args.fee_discount_multiplier && args.fee_discount_multiplier <= Decimal::ONE) {
        bail!("--fee-discount-multiplier {} must be above 0 and at most 1", args.fee_discount_multiplier);
    }
    if args.fee_discount.as_deref() == Some("gt") && args.gt_price.is_none() {
        bail!("--fee-discount gt needs --gt-price: the bundled data has no GT price to value a fee in GT");
    }
    let prices = Arc::new(ReplayAt { prices: ReplayPrices::new(series, quote.clone()), clock: clock.clone(), fixed });
    let paper = match &args.db {
        Some(path) => PaperExchange::open(path, paper_config, prices, wall.clone()),
        None => PaperExchange::in_memory(paper_config, prices, wall.clone()),
    }
    .map_err(|e| anyhow!("{e}"))?
    // Commissions at Binance's 8 decimals: balances keep the venue's precision.
    .with_fee_decimals(8)
    .with_pairs(pairs)
    .map_err(|e| anyhow!("{}: {e}", rules_file.display()))?;
    let paper = if args.resting_partial_fills { paper.with_resting_partial_fills() } else { paper };
    let paper = match &args.fee_discount {
        Some(asset) => paper.with_fee_discount(ballast_exchange::paper::FeeDiscount {
            asset: Asset::new(&asset.to_uppercase())?,
            multiplier: args.fee_discount_multiplier,
        }),
        None => paper,
    };
    let paper = Arc::new(paper);
    paper.deposit(&quote, Qty(args.fund)).map_err(|e| anyhow!("{e}"))?;
    let config = SimConfig {
        faults: FaultConfig {
            latency_ms: args.latency_ms,
            rate_429: args.rate_429,
            rate_5xx: args.rate_5xx,
            drop_after_execution: args.drop_after_execution,
            reject_rate: args.reject_rate,
            seed: args.seed,
            partial_fill_rate: args.partial_fill_rate,
            partial_fill_fraction: args.partial_fill_fraction,
            rate_418: args.rate_418,
            timeout_after_execution: args.timeout_after_execution,
            timeout_sleep_ms: args.timeout_sleep_ms,
        },
        limits: RateLimits {
            weight_per_minute: args.weight_per_minute,
            orders_per_10s: args.orders_per_10s,
            orders_per_day: args.orders_per_day,
            ban_after_429s: args.ban_after,
            ban_secs: args.ban_secs,
            gate_orders_per_sec: args.gate_orders_per_sec,
            gate_requests_per_10s: args.gate_requests_per_10s,
        },
        ..SimConfig::default()
    };
    // A rehearsal of `ballast keys add` needs keys of its own: from the environment,
    // never printed.
    let custom = std::env::var(SIM_KEY_ENV).is_ok() || std::env::var(SIM_SECRET_ENV).is_ok();
    let config = SimConfig {
        api_key: std::env::var(SIM_KEY_ENV).unwrap_or(config.api_key),
        secret: std::env::var(SIM_SECRET_ENV).unwrap_or(config.secret),
        ..config
    };
    let (key, secret) = (config.api_key.clone(), config.secret.clone());
    // Candles for /api/v3/klines (so `ballast data fetch --base-url` works against it).
    let candles = bundle_candles(&bundle.join("binance-spot"), &symbols)?;
    let state = Arc::new(
        SimState::new(paper.clone(), wall, config, symbols)
            .with_candles(Arc::new(candles))
            .with_replay_clock(clock.clone() as Arc<dyn Clock>),
    );
    // The replay: one bar every 1/speed seconds.
    let ticker = {
        let (clock, paper) = (clock.clone(), paper.clone());
        let period = std::time::Duration::from_secs_f64(1.0 / args.speed);
        std::thread::spawn(move || {
            for t in bars {
                std::thread::sleep(period);
                clock.set(t);
                let _ = paper.match_resting();
            }
        })
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    println!(
        "ballast sim: the Binance spot dialect on http://{addr} and Gate v4 on http://{addr}/api/v4, replay at {} (served on wall time)",
        fmt_time(clock.now())
    );
    if custom {
        println!("  account funded with {} USDT; API key and secret from {SIM_KEY_ENV}/{SIM_SECRET_ENV}", args.fund);
    } else {
        println!("  account funded with {} USDT; API key {key:?}, secret {secret:?} (simulator only)", args.fund);
    }
    println!("  store its key: ballast keys add --venue binance (or gate); then point a bot at it:");
    println!(
        "  venue = \"binance\" and base_url = \"http://{addr}\" in its config, and ballast bot create --config bot.toml"
    );
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(ballast_sim::serve(addr, state)).map_err(|e| anyhow!("serving on {addr}: {e}"))?;
    drop(ticker);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_sim::CandleSource;

    #[test]
    fn every_bundled_interval_of_a_symbol_is_loaded_1h_included() {
        let dir = tempfile::tempdir().unwrap();
        let rows = "timestamp,open,high,low,close,volume\n";
        std::fs::write(
            dir.path().join("BTCUSDT_1h.csv"),
            format!("{rows}2024-01-01 00:00:00,1,2,0.5,1.5,10\n2024-01-01 01:00:00,1.5,2,1,1.8,11\n"),
        )
        .unwrap();
        std::fs::write(dir.path().join("BTCUSDT_1d.csv"), format!("{rows}2024-01-01,1,3,0.5,2,100\n")).unwrap();
        std::fs::write(dir.path().join("ETHUSDT_4h.csv"), format!("{rows}2024-01-01 00:00:00,1,3,0.5,2,100\n"))
            .unwrap();
        let usdt = Asset::new("USDT").unwrap();
        let symbols = vec![(Asset::new("BTC").unwrap(), usdt.clone()), (Asset::new("ETH").unwrap(), usdt)];
        let c = bundle_candles(dir.path(), &symbols).unwrap();
        let mut btc = c.intervals("BTCUSDT");
        btc.sort();
        assert_eq!(btc, ["1d", "1h"]);
        assert_eq!(c.intervals("ETHUSDT"), ["4h"]);
        let hours = c.candles("BTCUSDT", "1h", i64::MIN, i64::MAX, 10);
        assert_eq!(hours.len(), 2);
        assert_eq!(hours[1][0], "1704070800000");
        assert_eq!(hours[1][4], "1.8");
    }
}
