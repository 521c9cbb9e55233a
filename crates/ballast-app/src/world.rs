//! The composition root of the bot: a data directory holding the bot store, the
//! paper venue's own database, and the paper world's replay clock.
//!
//! ```text
//! ballast-data/
//!   ballast.sqlite   bots, intents, orders, fills, cash flows, snapshots, events
//!   paper.sqlite     the paper venue's account, orders and fills (its own ledger)
//!   paper.json       the replay's settings: interval, period, fee, slippage, and the
//!                    time it started at (written once, when the directory is made)
//! ```
//!
//! The replay's clock itself lives in `ballast.sqlite` ([`ballast_store::Store::replay_time`]),
//! in the same log as the steps it times: moving it costs no file rename and no disk
//! sync of its own, and no step is durable without the time it ran at.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, anyhow, bail};
use ballast_backtest::{Interval, load_file, load_snapshots, parse_date, parse_end_date};
use ballast_core::weighting::{self, Method, ReturnMatrix, RiskOptions};
use ballast_core::{Asset, Price, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{FeeDiscount, PaperConfig, PaperExchange, ReplayPrices};
use ballast_exchange::{Clock, ManualClock};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};

use crate::config::{BotConfig, load_pairs, load_rules};

/// The environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "BALLAST_DATA_DIR";
/// The default data directory.
pub const DEFAULT_DATA_DIR: &str = "ballast-data";

/// The environment variable naming the bundled data's folder (for an installed binary
/// whose data is elsewhere).
pub const BUNDLE_ENV: &str = "BALLAST_BUNDLE_DIR";

/// Where the bundled data lives, from any working directory: `$BALLAST_BUNDLE_DIR`,
/// else `./data`, else `data` beside the executable or in `../share/ballast/data`
/// (an installed binary), else the repository the binary was built in.
pub fn bundle_dir() -> PathBuf {
    let holds = |p: &Path| p.join("binance-spot").is_dir();
    if let Some(p) = std::env::var_os(BUNDLE_ENV).map(PathBuf::from) {
        return p;
    }
    let local = PathBuf::from("data");
    if holds(&local) {
        return local;
    }
    if let Some(exe_dir) = std::env::current_exe().ok().and_then(|e| e.parent().map(Path::to_path_buf)) {
        for p in [exe_dir.join("data"), exe_dir.join("../share/ballast/data")] {
            if holds(&p) {
                return p;
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../data")
}

/// The data directory: the flag, else the environment variable, else `./ballast-data`.
pub fn data_dir(flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(p) => p.to_path_buf(),
        None => std::env::var_os(DATA_DIR_ENV).map(PathBuf::from).unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR)),
    }
}

/// The paper world's settings and position, persisted as `paper.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PaperWorld {
    /// Candle interval of the replay.
    pub interval: Interval,
    /// First bar's close time.
    pub start: Timestamp,
    /// The replay ends here.
    pub end: Timestamp,
    /// The paper clock.
    pub now: Timestamp,
    /// Taker fee of the paper venue, bps.
    pub fee_bps: Decimal,
    /// Slippage on market orders, bps.
    pub slippage_bps: Decimal,
    /// The paper account pays its fees in BNB at 0.75 of the fee when it holds enough
    /// BNB (Binance's "pay fees with BNB"; [`FeeDiscount::binance_bnb`]), for bots with
    /// a BNB fee reserve (`[execution] fee_reserve`). Off unless `paper.json` says
    /// `"bnb_fees": true`: the account is shared by every paper bot, and a bot holding
    /// BNB as a coin would pay its fees from it.
    #[serde(default)]
    pub bnb_fees: bool,
}

impl PaperWorld {
    /// Refuses times no replay can have (a negative clock would rewind the replay
    /// under bots whose history is later).
    pub fn validate(&self) -> Result<()> {
        for (key, t) in [("start", self.start), ("end", self.end), ("now", self.now)] {
            if t.0 < 0 {
                bail!("{key} = {}: a time before 1970 is not a replay time", t.0);
            }
        }
        if self.end < self.start {
            bail!("end = {} is before start = {}", self.end.0, self.start.0);
        }
        Ok(())
    }
}

/// In a data directory already in use (its `paper.json` exists), the bots' store and
/// the paper account are one whole: a missing or empty `ballast.sqlite` beside a
/// `paper.sqlite` (or the reverse) is a lost file, not a fresh start. Refused, naming
/// the file, rather than starting a new empty store over the account's funds.
fn check_stores_belong(dir: &Path) -> Result<()> {
    for name in ["ballast.sqlite", "paper.sqlite"] {
        let path = dir.join(name);
        let len = std::fs::metadata(&path).map(|m| m.len()).ok();
        let what = match len {
            None => "is missing",
            Some(0) => "is empty (0 bytes)",
            Some(_) => continue,
        };
        bail!(
            "{}: the file {what}, but this data directory is in use (it has paper.json); refusing to start a new \
             store beside the other files: restore {name} from a backup, or move the directory away to start afresh",
            path.display()
        );
    }
    Ok(())
}

impl Default for PaperWorld {
    fn default() -> Self {
        Self {
            interval: Interval::H4,
            start: parse_date("2024-01-01").expect("valid"),
            end: parse_end_date("2025-12-31").expect("valid"),
            now: parse_date("2024-01-01").expect("valid"),
            fee_bps: Decimal::from(10),
            slippage_bps: Decimal::ZERO,
            bnb_fees: false,
        }
    }
}

/// Everything a bot command needs.
pub struct App {
    /// The data directory.
    pub dir: PathBuf,
    /// The paper world.
    pub world: PaperWorld,
    /// The paper clock.
    pub clock: Arc<ManualClock>,
    /// The paper venue.
    pub paper: Arc<PaperExchange>,
    /// The engine.
    pub engine: Engine,
    /// Bar close times of the replay, ascending.
    pub bars: Vec<Timestamp>,
    /// Coins with only daily candles in the bundle: on a finer replay their price moves
    /// once a day.
    pub daily_only: std::collections::BTreeSet<Asset>,
    /// Daily closes of every bundled coin, for weights that need history.
    history: Arc<BTreeMap<Asset, Vec<(Timestamp, f64)>>>,
    /// When the replay's records were last synced to disk.
    synced: std::time::Instant,
}

/// How often a replay running faster than real time syncs its records to disk (what
/// its bots send is durable before it is sent regardless; see [`App::replay_bar`]).
pub const REPLAY_SYNC_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Drop for App {
    fn drop(&mut self) {
        // The replay's last records, made durable on the way out (best effort: a
        // failure here is met again, and reported, by the next command).
        let _ = self.engine.store().sync();
    }
}

/// Close prices per coin of the bundled candles at `interval`, keyed by close time.
pub fn load_series(bundle: &Path, interval: Interval) -> Result<BTreeMap<Asset, Vec<(Timestamp, Price)>>> {
    let dir = bundle.join("binance-spot");
    let mut out = BTreeMap::new();
    let suffix = format!("USDT_{interval}.csv.gz");
    let entries = std::fs::read_dir(&dir).with_context(|| format!("bundled data {}", dir.display()))?;
    for e in entries {
        let name = e?.file_name().to_string_lossy().to_string();
        let Some(sym) = name.strip_suffix(&suffix) else { continue };
        let asset = Asset::new(sym)?;
        let s = load_file(dir.join(&name), asset.clone(), interval)?;
        let close = interval.millis();
        out.insert(asset, s.candles.iter().map(|c| (Timestamp(c.open_time.0 + close), Price(c.close))).collect());
    }
    Ok(out)
}

impl App {
    /// Opens (or creates) the data directory.
    pub fn open(dir: &Path) -> Result<Self> {
        Self::open_with(dir, None)
    }

    /// Makes a new data directory whose replay has the settings of `world` (refused
    /// when `dir` is already in use).
    pub fn create(dir: &Path, world: PaperWorld) -> Result<Self> {
        let path = dir.join("paper.json");
        if path.exists() {
            bail!("{}: this data directory is already in use", path.display());
        }
        world.validate()?;
        Self::open_with(dir, Some(world))
    }

    fn open_with(dir: &Path, new_world: Option<PaperWorld>) -> Result<Self> {
        ballast_fs::create_private_dir(dir).with_context(|| format!("data directory {}", dir.display()))?;
        let world_path = dir.join("paper.json");
        let made = !world_path.exists();
        let mut world: PaperWorld = if let Some(w) = new_world {
            w
        } else if !made {
            let text = std::fs::read_to_string(&world_path)?;
            let world: PaperWorld =
                serde_json::from_str(&text).with_context(|| format!("{}: unreadable", world_path.display()))?;
            world.validate().with_context(|| format!("{}", world_path.display()))?;
            check_stores_belong(dir)?;
            world
        } else {
            PaperWorld::default()
        };
        let bundle = bundle_dir();
        // Coins with candles at the replay interval trade on them; the others on daily bars.
        let mut series = load_series(&bundle, Interval::D1)?;
        let fine = load_series(&bundle, world.interval)?;
        let daily = series.clone();
        let daily_only = series.keys().filter(|a| !fine.contains_key(*a)).cloned().collect();
        series.extend(fine);
        let bars: Vec<Timestamp> = {
            let reference = series.get(&Asset::new("BTC")?).ok_or_else(|| anyhow!("no BTC candles in the bundle"))?;
            // A bar belongs to the replay when it opens within [start, end], as the
            // backtester selects its bars: the first step is the close of the first bar
            // that opens on the start day, where `backtest --start` buys too.
            let span = world.interval.millis();
            reference
                .iter()
                .map(|(t, _)| *t)
                .filter(|t| t.0 - span >= world.start.0 && t.0 - span <= world.end.0)
                .collect()
        };
        let history: Arc<BTreeMap<Asset, Vec<(Timestamp, f64)>>> = Arc::new(
            daily
                .iter()
                .map(|(a, s)| (a.clone(), s.iter().map(|(t, p)| (*t, p.0.to_f64().unwrap_or(f64::NAN))).collect()))
                .collect(),
        );
        let prices = Arc::new(ReplayPrices::new(series, Asset::new("USDT")?));
        let store = Arc::new(SqliteStore::open(&dir.join("ballast.sqlite")).map_err(|e| anyhow!("store: {e}"))?);
        if made {
            // The settings, once; the clock moves in the store from now on.
            let text = serde_json::to_string_pretty(&world)?;
            ballast_fs::write_private(&world_path, text.as_bytes())
                .with_context(|| format!("{}: cannot write", world_path.display()))?;
        } else if let Some(t) = store.replay_time().map_err(|e| anyhow!("store: {e}"))? {
            world.now = t;
        }
        let clock = Arc::new(ManualClock::new(world.now));
        let rules = load_rules(&bundle.join("rules/binance-spot.toml"))?;
        // The bundled cross pairs (ETH/BTC, ...): direct pairs on the paper venue.
        let pairs = load_pairs(&bundle.join("rules/binance-spot.toml"))?;
        let paper = Arc::new(
            PaperExchange::open(
                &dir.join("paper.sqlite"),
                PaperConfig { name: "paper".into(), fee_bps: world.fee_bps, slippage_bps: world.slippage_bps, rules },
                prices,
                clock.clone() as Arc<dyn Clock>,
            )
            .and_then(|p| p.with_pairs(pairs))
            .map(|p| if world.bnb_fees { p.with_fee_discount(FeeDiscount::binance_bnb()) } else { p })
            .map_err(|e| anyhow!("paper venue: {e}"))?,
        );
        // Paper bots re-estimate weights from data with the bundled history.
        let known = history.clone();
        let weigher: ballast_engine::Weigher = Arc::new(move |rec, _spec, now| {
            let cfg = BotConfig::parse_stored(&rec.config_toml).map_err(|e| format!("{e:#}"))?;
            weights_at(&known, &cfg, now).map_err(|e| format!("{e:#}"))
        });
        let engine = Engine::new(store, paper.clone(), clock.clone()).with_weigher(weigher);
        let mut app = Self {
            dir: dir.to_path_buf(),
            world,
            clock,
            paper,
            engine,
            bars,
            daily_only,
            history,
            synced: std::time::Instant::now(),
        };
        let first = app.bars.first().copied().unwrap_or(app.world.now);
        if app.world.now < first || made {
            app.advance_to(first.max(app.world.now))?;
        }
        Ok(app)
    }

    /// Moves the paper clock (and records it in the store: written at once, made
    /// durable with the round of steps that follows, see [`ballast_store::Store::sync`]).
    pub fn advance_to(&mut self, t: Timestamp) -> Result<()> {
        self.clock.set(t);
        self.world.now = self.clock.now();
        self.engine.store().set_replay_time(self.world.now).map_err(|e| anyhow!("store: {e}"))
    }

    /// One bar of the paper replay: moves the clock to `t`, lets the paper venue match
    /// its resting orders, and steps every paper bot. The steps' own records (a step
    /// that sent nothing) are synced to disk at most once per [`REPLAY_SYNC_EVERY`] of
    /// wall time and when the `App` is dropped, not at every bar: a power cut can cost
    /// the last second of a replay, which the next run replays again; an order's intent
    /// is durable before the order is sent whatever this schedule.
    pub fn replay_bar(&mut self, t: Timestamp) -> Result<Vec<ballast_engine::StepResult>> {
        self.advance_to(t)?;
        self.paper.match_resting().map_err(|e| anyhow!("paper venue: {e}"))?;
        let results = self.engine.step_round().map_err(|e| anyhow!("{e}"))?;
        if self.synced.elapsed() >= REPLAY_SYNC_EVERY {
            self.sync()?;
        }
        Ok(results)
    }

    /// Makes every record so far durable.
    pub fn sync(&mut self) -> Result<()> {
        self.engine.store().sync().map_err(|e| anyhow!("store: {e}"))?;
        self.synced = std::time::Instant::now();
        Ok(())
    }

    /// The coins of the bundle (what the paper venue can trade).
    pub fn assets(&self) -> Vec<Asset> {
        self.history.keys().cloned().collect()
    }

    /// The paper clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// The replay bars after the paper clock.
    pub fn remaining_bars(&self) -> Vec<Timestamp> {
        let now = self.now();
        self.bars.iter().copied().filter(|t| *t > now).collect()
    }

    /// Turns a configuration into the engine's spec, computing weights that need data
    /// (market cap, risk-based) from the bundled history up to the paper clock.
    pub fn spec(&self, cfg: &BotConfig) -> Result<BotSpec> {
        Ok(spec_with(cfg, weights_at(&self.history, cfg, self.now())?))
    }
}

/// The engine's spec of a configuration with these target weights (fractions).
pub fn spec_with(cfg: &BotConfig, weights: BTreeMap<Asset, Decimal>) -> BotSpec {
    BotSpec {
        quote: cfg.quote.clone(),
        assets: cfg.assets.clone(),
        method: cfg.weights.method,
        weights,
        trigger: cfg.rebalance.trigger,
        to: cfg.rebalance.to,
        guards: cfg.guards.clone(),
        fee: cfg.fee,
        reestimate: cfg.weights.reestimate,
        execution: cfg.execution.clone(),
    }
}

/// The bundled CoinMarketCap snapshots, read once per process (creating or
/// re-estimating many market-cap bots reads them from memory).
fn bundled_market_caps() -> Result<std::sync::Arc<ballast_backtest::marketcap::MarketCaps>> {
    static CAPS: std::sync::OnceLock<Result<std::sync::Arc<ballast_backtest::marketcap::MarketCaps>, String>> =
        std::sync::OnceLock::new();
    CAPS.get_or_init(|| {
        load_snapshots(bundle_dir().join("cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz"))
            .map(std::sync::Arc::new)
            .map_err(|e| e.to_string())
    })
    .clone()
    .map_err(|e| anyhow!(e))
}

/// A bot's target weights (fractions) as its configuration defines them, from the data
/// known at `now`: the bundled daily closes for risk-based methods, the latest
/// CoinMarketCap snapshot a day before `now` for market cap. The one place where a
/// configuration's weights are computed (creation, edits, and re-estimation).
pub fn weights_at(
    history: &BTreeMap<Asset, Vec<(Timestamp, f64)>>,
    cfg: &BotConfig,
    now: Timestamp,
) -> Result<BTreeMap<Asset, Decimal>> {
    let assets = &cfg.assets;
    Ok(match cfg.weights.method {
        Method::Equal => weighting::equal(assets)?,
        Method::Custom => cfg.weights.custom.iter().map(|(a, w)| (a.clone(), *w / Decimal::ONE_HUNDRED)).collect(),
        Method::MarketCap => {
            let caps = bundled_market_caps()?;
            let known = Timestamp(now.0 - 86_400_000);
            let (_, by_asset) = caps.at(known, assets)?;
            weighting::market_cap(&by_asset, cfg.weights.max_weight.map(|m| m / Decimal::ONE_HUNDRED))?
        }
        m => {
            let days = (cfg.weights.lookback.secs() / 86_400).max(2) as usize;
            let mut cols = Vec::new();
            for a in assets {
                let s = history.get(a).ok_or_else(|| anyhow!("no price history for {a} in the bundle"))?;
                let upto: Vec<f64> = s.iter().filter(|(t, _)| *t <= now).map(|(_, p)| *p).collect();
                if upto.len() < days + 1 {
                    bail!(
                        "{m} needs {days} days of history for {a} before {}; there are {}",
                        fmt_time(now),
                        upto.len().saturating_sub(1)
                    );
                }
                cols.push(upto[upto.len() - days - 1..].to_vec());
            }
            let r = ReturnMatrix::from_closes(assets.clone(), &cols)?;
            let w = weighting::risk_based(
                m,
                &r,
                &RiskOptions { shrinkage: cfg.weights.shrinkage, ..RiskOptions::default() },
            )?;
            weighting::to_decimal(&w)?
        }
    })
}

impl App {
    /// A note for each of `assets` that has only daily candles in the bundle, so its
    /// price on the paper replay moves once a day (said at creation and in status).
    pub fn daily_notes(&self, assets: &[Asset]) -> Vec<String> {
        if self.world.interval == Interval::D1 {
            return vec![];
        }
        assets
            .iter()
            .filter(|a| self.daily_only.contains(*a))
            .map(|a| {
                format!(
                    "{a} has only daily candles in the bundled data: on the {} paper replay its price moves once a day",
                    self.world.interval
                )
            })
            .collect()
    }
}

/// The right to step the bots of a data directory (and move its paper replay): one
/// process at a time holds it, released when the process ends however it ends (an
/// `flock` on `runner.lock`). Lifecycle verbs do not need it: they work beside a
/// runner, each bot's changes serialised by the store's bot locks.
pub struct RunnerLock {
    _file: std::fs::File,
}

impl App {
    /// Takes the runner lock of this data directory for `what` (`ballast run`, ...), or
    /// fails naming the process that holds it.
    pub fn lock_runner(&self, what: &str) -> Result<RunnerLock> {
        use std::io::{Read, Seek, Write};
        let path = self.dir.join("runner.lock");
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("{}: cannot open", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                bail!(
                    "another process steps the bots of {}: {}; only one may (stop it first, or use `ballast bot ...` beside it)",
                    self.dir.display(),
                    if holder.is_empty() { "unknown process".to_string() } else { holder.to_string() }
                );
            }
            Err(std::fs::TryLockError::Error(e)) => bail!("{}: cannot lock: {e}", path.display()),
        }
        file.set_len(0)?;
        file.seek(std::io::SeekFrom::Start(0))?;
        write!(file, "`{what}` (pid {})", std::process::id())?;
        file.flush()?;
        Ok(RunnerLock { _file: file })
    }
}

/// A timestamp for people.
pub fn fmt_time(t: Timestamp) -> String {
    ballast_backtest::format_timestamp(t)
}
