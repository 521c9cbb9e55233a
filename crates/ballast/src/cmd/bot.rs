//! `ballast bot ...`: the lifecycle of a bot, and `ballast run`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use ballast_core::{Asset, Qty};
use ballast_engine::{BotView, Preview, StepOutcome, StopMode};
use ballast_store::{BotId, BotStatus};
use rust_decimal::Decimal;

use crate::app::{App, data_dir, fmt_time};
use crate::cmd::tomlx::Format;
use crate::config::BotConfig;
use ballast_app::verbs;

/// Where the data lives (shared by every bot command).
#[derive(Debug, Clone, clap::Args)]
pub struct DirArgs {
    /// Data directory (default: $BALLAST_DATA_DIR or ./ballast-data).
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
}

/// `ballast bot`.
#[derive(Debug, clap::Args)]
pub struct BotArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    #[command(subcommand)]
    pub verb: Verb,
}

/// The verbs.
#[derive(Debug, clap::Subcommand)]
pub enum Verb {
    /// Create a bot from a configuration file or a profile; shows a summary to confirm.
    Create {
        /// The bot's configuration (TOML; docs/CONFIG.md).
        #[arg(long, value_name = "FILE", required_unless_present = "profile")]
        config: Option<PathBuf>,
        /// A profile: a preset name, a profile file, or the one-line form from `bot export`.
        #[arg(long, conflicts_with = "config")]
        profile: Option<String>,
        /// Amount to invest (quote), required with --profile; overrides the file's `amount`.
        #[arg(long, value_parser = super::amount_arg)]
        amount: Option<Decimal>,
        /// The bot's name (default: the file's; a profile copy gets a free variant).
        #[arg(long)]
        name: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Create many paper bots from one file of `[[bot]]` entries (profile, amount,
    /// optional name and count): every bot checked, all created in one transaction;
    /// their first buys happen at the next step (`ballast run`).
    CreateMany {
        /// The fleet file (TOML; see docs/CONFIG.md "Many bots at once").
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// List the bots.
    List {
        /// Text for people, or JSON (the dashboard API's `GET /api/bots`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// A bot's holdings, weights, PnL and returns over 24 h, 7, 30, 90 days and its life.
    Status {
        /// Bot id.
        id: BotId,
        /// Also the return and profit over this last period (e.g. 7d, 12h, 2w).
        #[arg(long, value_name = "SPAN")]
        period: Option<ballast_core::Span>,
        /// Text for people, or JSON (the dashboard API's `GET /api/bots/{id}`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// A bot's rebalances (with skipped legs and why), orders and events.
    History {
        /// Bot id.
        id: BotId,
        /// How many events (text) or rebalances (JSON).
        #[arg(long, default_value = "30")]
        limit: usize,
        /// Text for people, or JSON (the dashboard API's `GET /api/bots/{id}/history`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Pause a bot.
    Pause {
        /// Bot id.
        id: BotId,
    },
    /// Resume a paused bot.
    Resume {
        /// Bot id.
        id: BotId,
    },
    /// Add money: quote (--usdt) or coins (--coins BTC=0.01,ETH=0.2); rebalanced in at the next step.
    Invest {
        /// Bot id.
        id: BotId,
        /// Quote to add.
        #[arg(long, value_parser = super::amount_arg)]
        usdt: Option<Decimal>,
        /// Coins to add, ASSET=QTY,...
        #[arg(long)]
        coins: Option<String>,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Change coins, weights or parameters of a running bot from a new configuration file.
    Edit {
        /// Bot id.
        id: BotId,
        /// The new configuration (its amount is ignored: use invest).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Stop a bot for good.
    Stop {
        /// Bot id.
        id: BotId,
        /// Leave the coins in the account as they are.
        #[arg(long, conflicts_with = "to_usdt", required_unless_present = "to_usdt")]
        return_coins: bool,
        /// Sell every coin for USDT first.
        #[arg(long)]
        to_usdt: bool,
        /// First convert the coins too small to sell with the venue's small-balance
        /// conversion (see `bot dust --sweep`).
        #[arg(long)]
        sweep_dust: bool,
    },
    /// List the coins a bot holds too little of to sell (below the venue's minimum
    /// quantity or order value), with their value.
    Dust {
        /// Bot id.
        id: BotId,
        /// Convert it with the venue's small-balance conversion (Binance: into BNB,
        /// Gate: into GT, paper: into the quote, less 2 %).
        #[arg(long)]
        sweep: bool,
        /// Text (default) or JSON.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print a bot's profile (no amount, no secrets): one line to paste, or --file for the TOML form;
    /// or, with --format koinly|cointracking, every fill and cash flow as a CSV file a tax tool imports.
    Export {
        /// Bot id.
        id: BotId,
        /// Write the TOML form (or the CSV file) here.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// What to export: the profile, or the fills and cash flows as Koinly's Universal
        /// CSV or CoinTracking's CSV import.
        #[arg(long, value_enum, default_value_t = ExportFormat::Profile)]
        format: ExportFormat,
    },
    /// A bot's orders, newest first, filtered and paged (--before the last row shown).
    Orders {
        /// Bot id.
        id: BotId,
        /// Only orders in this state (filled, canceled, rejected, not_sent, new, ...).
        #[arg(long)]
        state: Option<String>,
        /// Only buy or only sell.
        #[arg(long)]
        side: Option<String>,
        /// Only orders of this coin.
        #[arg(long)]
        asset: Option<String>,
        /// At most this many (1 ..= 10,000).
        #[arg(long, default_value = "50")]
        limit: usize,
        /// Only orders older than this row (the next page).
        #[arg(long, value_name = "ROW")]
        before: Option<i64>,
        /// Text for people, JSON or CSV.
        #[arg(long, value_enum, default_value_t = OrdersFormat::Text)]
        format: OrdersFormat,
    },
    /// Profit per calendar day, ISO week or month (UTC), deposits and withdrawals taken
    /// out: the dashboard's profit bars.
    Profit {
        /// Bot id.
        id: BotId,
        /// The calendar period of each bucket.
        #[arg(long, value_enum, default_value_t = By::Day)]
        by: By,
        /// The newest this many buckets (1 ..= 1000).
        #[arg(long, default_value = "30")]
        limit: usize,
        /// Text for people, or JSON (the dashboard API's `GET /api/bots/{id}/profit`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Profit and loss by coin: held, cost basis (average cost or FIFO), realised and
    /// unrealised, fees by coin, valued at the last snapshot's prices.
    Pnl {
        /// Bot id.
        id: BotId,
        /// How a coin that leaves takes its cost: the average of what is held, or the oldest lots first.
        #[arg(long, value_enum, default_value_t = Method::Average)]
        method: Method,
        /// Text for people, or JSON (the dashboard API's `GET /api/bots/{id}/pnl`).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

/// The output of `bot orders`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OrdersFormat {
    /// A table for people.
    Text,
    /// JSON (the dashboard API's `GET /api/bots/{id}/orders`).
    Json,
    /// CSV (the API's `format=csv`).
    Csv,
}

/// What `bot export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// The bot's profile (its configuration without amount or secrets).
    Profile,
    /// Koinly's "Universal" CSV template.
    Koinly,
    /// CoinTracking's CSV import.
    Cointracking,
}

/// The cost method of `bot pnl`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The average cost of everything held.
    Average,
    /// First in, first out.
    Fifo,
}

impl From<Method> for ballast_engine::costbasis::CostMethod {
    fn from(m: Method) -> Self {
        match m {
            Method::Average => Self::Average,
            Method::Fifo => Self::Fifo,
        }
    }
}

/// The buckets of `bot profit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum By {
    /// Calendar days, UTC.
    Day,
    /// ISO weeks, Monday to Sunday, UTC.
    Week,
    /// Calendar months, UTC.
    Month,
}

impl From<By> for ballast_engine::ledger::Bucket {
    fn from(b: By) -> Self {
        match b {
            By::Day => Self::Day,
            By::Week => Self::Week,
            By::Month => Self::Month,
        }
    }
}

pub use ballast_app::profile::{profile_line, profile_toml, read_profile};

fn confirm(prompt: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not confirmed: standard input is not a terminal; add --yes to confirm in scripts");
    }
    print!("{prompt} [y/N] ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    Ok(matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes"))
}

/// An amount for people: rounded to the cent (half away from zero), not truncated.
fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero))
}

pub use ballast_engine::spec::describe_trigger;

fn print_summary(cfg: &BotConfig, amount: Decimal, p: &Preview, venue: &str, now: ballast_core::Timestamp) {
    let q = &cfg.quote;
    println!("Bot \"{}\" on {venue} (clock {})", cfg.name, fmt_time(now));
    println!();
    println!("{:<8} {:>8} {:>14} {:>14}", "coin", "weight", "amount", "price");
    for (a, w) in p.targets.iter() {
        println!(
            "{:<8} {:>7.2}% {:>14} {:>14}",
            a.as_str(),
            w.percent(),
            money(amount * w.0),
            p.prices.get(a).map(|x| x.to_string()).unwrap_or_default()
        );
    }
    println!();
    println!("Amount:            {} {q}", money(amount));
    println!(
        "Minimum:           {} {q} (set by {}: its first buy must clear the venue's minimum order, with a 10% margin)",
        money(p.minimum.amount.0),
        p.minimum.binding
    );
    println!("Weights:           {}", cfg.weights.method);
    println!("Rebalance:         {}", describe_trigger(&cfg.rebalance.trigger));
    if let Some(sl) = cfg.guards.stop_loss_percent {
        println!("Stop-loss:         sell all if the value falls {}% below the amount invested", sl.normalize());
    }
    if let Some(tp) = cfg.guards.take_profit_percent {
        println!("Take-profit:       sell all if the value rises {}% above the amount invested", tp.normalize());
    }
    for (a, e) in &cfg.guards.entry_prices {
        println!("Entry price:       buy {a} only at or below {e}");
    }
    println!();
    println!("First orders (fee {}):", cfg.fee);
    for l in &p.plan.legs {
        println!(
            "  {} {} {} @ {} = {} {q}, fee {}",
            l.side,
            l.quantity,
            l.asset,
            l.price,
            money(l.notional.0),
            l.fee.0.round_dp(4)
        );
    }
    for s in &p.plan.skipped {
        println!("  skipped: {s}");
    }
}

fn print_view(v: &BotView) {
    let s = &v.state.spec;
    let q = &s.quote;
    let reason =
        if v.record.status_reason.is_empty() { String::new() } else { format!(" ({})", v.record.status_reason) };
    println!("Bot {} \"{}\" on {}: {}{reason}", v.record.id, v.record.name, v.record.venue, v.record.status);
    if let Some(sum) = &v.state.summary {
        println!();
        println!("Returned to the account:");
        print_summary_of_stop(sum, q);
        if let Some(p) = &v.pnl {
            println!("HODL             {} {q} (same cash flows, never rebalanced)", money(p.hodl_value.0));
            println!("Rebalances       {}", p.rebalances);
        }
        return;
    }
    println!("Rebalance {}; weights {}", describe_trigger(&s.trigger), s.method);
    if let Some(t) = v.state.last_step {
        println!("Last step {}", fmt_time(t));
    }
    println!();
    println!("{:<8} {:>16} {:>14} {:>9} {:>9}", "asset", "held", "price", "weight", "target");
    let mut assets: Vec<&Asset> = v.holdings.keys().chain(s.assets.iter()).collect();
    assets.sort();
    assets.dedup();
    for a in assets {
        let held = v.holdings.get(a).copied().unwrap_or_default();
        let w = v.weights.get(a).copied().unwrap_or_default();
        // The fee reserve has no target weight: it is kept between its min and target.
        let target = match &s.execution.fee_reserve {
            Some(r) if &r.asset == a => "reserve".to_string(),
            _ => format!("{:.2}%", s.weights.get(a).copied().unwrap_or_default() * Decimal::ONE_HUNDRED),
        };
        let price = if a == q { String::new() } else { v.prices.get(a).map(|p| p.to_string()).unwrap_or_default() };
        println!(
            "{:<8} {:>16} {:>14} {:>8.2}% {:>9}",
            a.as_str(),
            held.0.round_dp(8).normalize(),
            price,
            w * Decimal::ONE_HUNDRED,
            target
        );
    }
    if let Some(p) = &v.pnl {
        println!();
        println!("Value            {} {q}", money(p.value.0));
        println!("Net invested     {} {q}", money(p.net_invested.0));
        println!("Profit           {} {q} ({:+.2}%)", money(p.profit.0), p.profit_percent);
        println!("HODL             {} {q} (same cash flows, never rebalanced)", money(p.hodl_value.0));
        println!("vs HODL          {:+.2}%", p.excess_vs_hodl_percent);
        println!("Time-weighted    {:+.2}%", p.time_weighted_return_percent);
        println!("Fees paid        {} {q}", p.fees_paid.0.round_dp(4));
        println!("Rebalances       {}", p.rebalances);
        println!("Running          {}", running(p.running_ms));
        match p.apr_percent {
            Some(a) => println!("APR              {a:+.2}% (time-weighted return x 365 days / running time)"),
            None => println!("APR              - (under a day)"),
        }
        println!();
        println!("{:<8} {:>10} {:>16}  from", "period", "return", "profit");
        for r in &p.returns {
            print_period_row(r, q);
        }
    }
}

/// `bot pnl` for people, from the JSON the API answers (so the two cannot differ).
fn print_profit(j: &serde_json::Value) {
    let d = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Decimal>().ok()).unwrap_or_default();
    let q = j["quote"].as_str().unwrap_or("");
    let buckets = j["buckets"].as_array().map(Vec::as_slice).unwrap_or_default();
    println!(
        "Profit of bot {} by {} (UTC; deposits and withdrawals taken out), in {q}: the newest {} of {}",
        j["bot"],
        j["by"].as_str().unwrap_or(""),
        buckets.len(),
        j["total"]
    );
    if buckets.is_empty() {
        println!("Nothing yet: a bot needs two snapshots.");
        return;
    }
    println!();
    println!(
        "{:<12} {:>14} {:>10} {:>14} {:>14} {:>14}",
        "starting", "profit", "return", "invested", "withdrawn", "value"
    );
    for b in buckets {
        let start = b["start"].as_i64().map(|t| fmt_time(ballast_core::Timestamp(t))).unwrap_or_default();
        println!(
            "{:<12} {:>14} {:>9}% {:>14} {:>14} {:>14}",
            start.get(..10).unwrap_or(&start),
            money(d(&b["profit"])),
            d(&b["return_percent"]).round_dp(2),
            money(d(&b["invested"])),
            money(d(&b["withdrawn"])),
            money(d(&b["value"])),
        );
    }
    println!();
    println!("Total            {} {q} (the buckets shown)", money(buckets.iter().map(|b| d(&b["profit"])).sum()));
}

fn print_pnl(j: &serde_json::Value) {
    let d = |v: &serde_json::Value| v.as_str().and_then(|s| s.parse::<Decimal>().ok()).unwrap_or_default();
    let q = j["quote"].as_str().unwrap_or("");
    let at = j["at"].as_i64().map(|t| fmt_time(ballast_core::Timestamp(t))).unwrap_or_else(|| "no snapshot yet".into());
    println!(
        "Profit and loss of bot {} by coin ({} cost; prices of {at}), in {q}",
        j["bot"],
        j["method"].as_str().unwrap_or("")
    );
    println!();
    println!(
        "{:<8} {:>16} {:>14} {:>14} {:>14} {:>12} {:>12} {:>10} {:>12}",
        "coin", "held", "avg cost", "cost basis", "value", "realised", "unrealised", "fees", "net"
    );
    for c in j["coins"].as_array().into_iter().flatten() {
        println!(
            "{:<8} {:>16} {:>14} {:>14} {:>14} {:>12} {:>12} {:>10} {:>12}",
            c["asset"].as_str().unwrap_or(""),
            d(&c["held"]).round_dp(8).normalize(),
            c["average_cost"]
                .as_str()
                .map(|s| s.parse::<Decimal>().map(|x| x.round_dp(4).normalize().to_string()).unwrap_or_default())
                .unwrap_or_else(|| "-".into()),
            money(d(&c["cost_basis"])),
            money(d(&c["value"])),
            money(d(&c["realised"])),
            money(d(&c["unrealised"])),
            d(&c["fees"]).round_dp(4),
            money(d(&c["net"])),
        );
    }
    println!();
    println!("{q:<8} {:>16}", d(&j["quote_held"]).round_dp(8).normalize());
    println!();
    println!("Realised         {} {q}", money(d(&j["realised"])));
    println!("Unrealised       {} {q}", money(d(&j["unrealised"])));
    println!("Fees             {} {q}", d(&j["fees"]).round_dp(4));
    println!(
        "Net              {} {q} (= value {} - net invested {})",
        money(d(&j["net"])),
        money(d(&j["value"])),
        money(d(&j["net_invested"]))
    );
    if let Some(f) = j["fees_charged"].as_object().filter(|f| !f.is_empty()) {
        let parts: Vec<String> = f.iter().map(|(a, q)| format!("{} {a}", d(q).normalize())).collect();
        println!("Fees charged     {}", parts.join(", "));
    }
}

/// A span of the bot's clock for people: "1y 12d 4h", "3d 2h", "45m".
fn running(ms: i64) -> String {
    let mins = ms / 60_000;
    let (d, h, m) = (mins / 1440, (mins / 60) % 24, mins % 60);
    match (d / 365, d % 365) {
        (0, 0) if h == 0 => format!("{m}m"),
        (0, 0) => format!("{h}h {m}m"),
        (0, d) => format!("{d}d {h}h"),
        (y, d) => format!("{y}y {d}d {h}h"),
    }
}

fn print_period_row(r: &ballast_engine::ledger::PeriodReturn, q: &Asset) {
    println!(
        "{:<8} {:>10} {:>12} {q}  {}{}",
        r.period,
        format!("{:+.2}%", r.return_percent),
        money(r.profit.0),
        fmt_time(r.from),
        if r.complete { "" } else { " (younger than the period: its whole life)" }
    );
}

fn print_period(r: &ballast_engine::ledger::PeriodReturn, q: &Asset) {
    println!("Over the last {} (from {} to {}):", r.period, fmt_time(r.from), fmt_time(r.to));
    println!("  return {:+.2}% (time-weighted: deposits and withdrawals removed)", r.return_percent);
    println!("  profit {} {q}", money(r.profit.0));
    if !r.complete {
        println!("  the bot is younger than the period: these cover its whole life");
    }
}

/// What a stopped bot returned and how it did.
fn print_summary_of_stop(sum: &ballast_engine::StopSummary, q: &Asset) {
    for (a, qty) in &sum.returned {
        println!("  {} {a}", qty.0.round_dp(8).normalize());
    }
    if sum.returned.is_empty() {
        println!("  nothing");
    }
    println!("Worth            {} {q} at {}", money(sum.value.0), fmt_time(sum.at));
    println!("Net invested     {} {q}", money(sum.net_invested.0));
    let pct =
        if sum.net_invested.0 > Decimal::ZERO { format!(" ({:+.2}%)", sum.profit_percent()) } else { String::new() };
    println!("Profit           {} {q}{pct}", money(sum.profit.0));
    println!("Fees paid        {} {q}", sum.fees.0.round_dp(4));
}

fn parse_coins(s: &str) -> Result<BTreeMap<Asset, Qty>> {
    let mut out = BTreeMap::new();
    for part in s.split(',').filter(|p| !p.trim().is_empty()) {
        let (a, q) = part.split_once('=').ok_or_else(|| anyhow!("--coins {part:?}: write ASSET=QTY"))?;
        let a = Asset::new(a).with_context(|| "--coins")?;
        let q = ballast_core::money::parse_decimal(q)
            .and_then(|q| ballast_core::money::check_amount("the quantity", q))
            .with_context(|| format!("--coins {a}"))?;
        if out.insert(a.clone(), Qty(q)).is_some() {
            bail!("--coins: {a} is listed twice");
        }
    }
    Ok(out)
}

/// Creates a bot (shared with `ballast demo`): the summary, the confirmation, then
/// [`verbs::create`] (which funds a paper account when needed and makes the first buy).
pub fn create(app: &App, cfg: &BotConfig, config_toml: &str, yes: bool) -> Result<BotId> {
    let live;
    let (engine, paper, now) = if cfg.venue == "paper" {
        (&app.engine, Some(&*app.paper), app.now())
    } else {
        live = crate::live::engine(&app.dir, &cfg.venue, cfg.base_url.as_deref())?;
        (&live, None, ballast_exchange::Clock::now(&ballast_exchange::SystemClock))
    };
    let spec = verbs::spec_of(app, cfg)?;
    let preview = verbs::preview(engine, cfg, &spec).map_err(|e| anyhow!("refused: {e}"))?;
    print_summary(cfg, cfg.amount, &preview, &cfg.venue, now);
    if paper.is_some() {
        for note in app.daily_notes(&cfg.assets) {
            println!("Note: {note}");
        }
    }
    let question =
        if paper.is_some() { "Create this bot?" } else { "Create this bot? It will trade real funds on the venue." };
    if !yes && !confirm(question)? {
        bail!("not created");
    }
    let created = verbs::create(engine, paper, cfg, config_toml, spec)?;
    if let Some(need) = created.deposit {
        println!("Paper account funded with {} {}", need.normalize(), cfg.quote);
    }
    let venue = if paper.is_some() { String::new() } else { format!(" on {}", cfg.venue) };
    println!("Created bot {}{venue}; first buy: {}", created.id, outcome_text(&created.first_buy));
    let working = engine.view(created.id).map(|v| v.state.working.is_some()).unwrap_or(false);
    let resting = engine.store().unresolved(created.id)?.len();
    if working && resting > 0 {
        println!(
            "{resting} of its orders rest at the venue (maker-first): `ballast run` works them until they fill, \
             re-pricing them, and sends what is left at market after the deadline."
        );
    }
    Ok(created.id)
}

/// The base URL a stored configuration names, if any.
fn base_url_of(config_toml: &str) -> Option<String> {
    config_toml.parse::<toml::Table>().ok()?.get("base_url")?.as_str().map(str::to_string)
}

/// A step's outcome in words.
pub fn outcome_text(o: &StepOutcome) -> String {
    match o {
        StepOutcome::Inactive => "inactive".into(),
        StepOutcome::Held => "nothing to trade".into(),
        StepOutcome::Rebalanced { orders } => format!("{orders} order(s) filled"),
        StepOutcome::Stopped(why) => format!("stopped ({why})"),
    }
}

/// Runs `ballast bot`.
pub fn run(args: &BotArgs) -> Result<()> {
    let app = App::open(&data_dir(args.dir.data_dir.as_deref()))?;
    let engine_err = |err: ballast_engine::EngineError| anyhow!("{err}");
    // A verb about one bot runs on that bot's venue.
    let id = match &args.verb {
        Verb::Status { id, .. }
        | Verb::History { id, .. }
        | Verb::Pause { id }
        | Verb::Resume { id }
        | Verb::Invest { id, .. }
        | Verb::Edit { id, .. }
        | Verb::Stop { id, .. }
        | Verb::Export { id, .. }
        | Verb::Dust { id, .. }
        | Verb::Pnl { id, .. }
        | Verb::Profit { id, .. }
        | Verb::Orders { id, .. } => Some(*id),
        Verb::Create { .. } | Verb::CreateMany { .. } | Verb::List { .. } => None,
    };
    let live_engine;
    let e = match id.map(|id| app.engine.store().bot(id)).transpose()?.flatten() {
        Some(rec) if rec.venue != "paper" => {
            live_engine = crate::live::engine(&app.dir, &rec.venue, base_url_of(&rec.config_toml).as_deref())?;
            &live_engine
        }
        _ => &app.engine,
    };
    match &args.verb {
        Verb::Create { config, profile, amount, name, yes } => {
            let (origin, text) = match (config, profile) {
                (Some(p), _) => (
                    p.display().to_string(),
                    std::fs::read_to_string(p).with_context(|| format!("{}: cannot read", p.display()))?,
                ),
                (None, Some(s)) => read_profile(s)?,
                (None, None) => bail!("--config FILE or --profile is required"),
            };
            let mut table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| anyhow!("{origin}: invalid TOML: {e}"))?;
            table.remove("preset");
            if let Some(a) = amount {
                table.insert("amount".into(), toml::Value::String(a.to_string()));
            } else if profile.is_some() {
                bail!("--amount is required with --profile (a profile carries no amount)");
            }
            let taken: Vec<String> =
                e.store().bots()?.into_iter().filter(|b| b.status != BotStatus::Stopped).map(|b| b.name).collect();
            let wanted = match name {
                Some(n) => n.clone(),
                None => table.get("name").and_then(|v| v.as_str()).unwrap_or("ballast").to_string(),
            };
            let chosen = if taken.contains(&wanted) {
                if name.is_some() || profile.is_none() {
                    bail!("a bot named {wanted:?} exists already; choose another name with --name");
                }
                (2..).map(|i| format!("{wanted}-{i}")).find(|n| !taken.contains(n)).expect("a free name")
            } else {
                wanted
            };
            table.insert("name".into(), toml::Value::String(chosen));
            let text = toml::to_string(&table)?;
            let cfg = BotConfig::parse_text(Path::new(&origin), &text)?;
            create(&app, &cfg, &text, *yes)?;
        }
        Verb::CreateMany { file, yes } => {
            let text = std::fs::read_to_string(file).with_context(|| format!("{}: cannot read", file.display()))?;
            let bots = ballast_app::fleet::parse_fleet(file, &text)?;
            let mut groups: std::collections::BTreeMap<(String, String), (usize, Decimal)> = Default::default();
            for b in &bots {
                let key = (
                    b.config.quote.to_string(),
                    b.config.assets.iter().map(|a| a.as_str()).collect::<Vec<_>>().join(" "),
                );
                let g = groups.entry(key).or_default();
                g.0 += 1;
                g.1 += b.config.amount;
            }
            println!("{} paper bot(s) from {}:", bots.len(), file.display());
            for ((quote, assets), (n, total)) in &groups {
                println!("  {n:>6} x {assets}: {} {quote} in all", total.normalize());
            }
            if !yes && !confirm("Create these bots?")? {
                bail!("not created");
            }
            let started = std::time::Instant::now();
            let ids = verbs::create_all(&app, &bots)?;
            println!(
                "Created {} bot(s), ids {} .. {}, in {:.1} s; their first buys happen at the next step (`ballast run`)",
                ids.len(),
                ids.first().copied().unwrap_or_default(),
                ids.last().copied().unwrap_or_default(),
                started.elapsed().as_secs_f64()
            );
        }
        Verb::List { format: Format::Json } => {
            let mut rows = Vec::new();
            for b in e.store().bots()? {
                let v = e.view(b.id).map_err(|err| err.to_string());
                rows.push(ballast_server::api::bot_row_json(&b, v.as_ref().map_err(Clone::clone)));
            }
            println!("{}", serde_json::to_string_pretty(&rows)?);
        }
        Verb::List { format: Format::Text } => {
            let bots = e.store().bots()?;
            if bots.is_empty() {
                println!("No bots. Create one with `ballast bot create --config FILE` or try `ballast demo`.");
            }
            println!(
                "{:>4} {:<20} {:<8} {:<8} {:>14} {:>10} {:>9}",
                "id", "name", "venue", "status", "value", "profit", "vs HODL"
            );
            let mut views = Vec::new();
            for b in bots {
                let v = e.view(b.id).map_err(engine_err)?;
                let (value, profit, excess) = match &v.pnl {
                    Some(p) => (
                        money(p.value.0),
                        format!("{:+.2}%", p.profit_percent),
                        format!("{:+.2}%", p.excess_vs_hodl_percent),
                    ),
                    None => (String::new(), String::new(), String::new()),
                };
                println!(
                    "{:>4} {:<20} {:<8} {:<8} {:>14} {:>10} {:>9}",
                    b.id,
                    b.name,
                    b.venue,
                    b.status.to_string(),
                    value,
                    profit,
                    excess
                );
                views.push(v);
            }
            // The dashboard's combined view adds them up the same way.
            for t in ballast_engine::ledger::fleet(views.iter().map(|v| ballast_server::api::fleet_bot(Ok(v)))) {
                let q = t.quote.as_ref().map_or("?", |q| q.as_str());
                println!(
                    "all {q}: {} running of {} bot(s), value {} {q}, profit {} ({:+.2}%), vs HODL {:+.2}%, fees {}",
                    t.running,
                    t.bots,
                    money(t.value.0),
                    money(t.profit.0),
                    t.profit_percent,
                    t.excess_vs_hodl_percent,
                    money(t.fees.0)
                );
                if t.stopped > 0 {
                    println!(
                        "all {q}: {} finished bot(s) made {} and paid {} in fees",
                        t.stopped,
                        money(t.stopped_profit.0),
                        money(t.stopped_fees.0)
                    );
                }
            }
        }
        Verb::Status { id, period, format } => {
            let v = e.view(*id).map_err(engine_err)?;
            let over = match period {
                Some(span) => {
                    let snaps = e.store().snapshots(*id, usize::MAX)?;
                    ballast_engine::ledger::period_return(&snaps, &span.to_string(), Some(span.secs() * 1000))
                }
                None => None,
            };
            match format {
                Format::Json => {
                    let mut j = ballast_server::api::bot_json(&v);
                    if let Some(p) = &over {
                        j["period"] = serde_json::to_value(p)?;
                    }
                    println!("{}", serde_json::to_string_pretty(&j)?);
                }
                Format::Text => {
                    print_view(&v);
                    if let Some(p) = &over {
                        println!();
                        print_period(p, &v.state.spec.quote);
                    } else if period.is_some() {
                        println!("No snapshot yet: no return over a period.");
                    }
                }
            }
        }
        Verb::History { id, limit, format: Format::Json } => {
            e.view(*id).map_err(engine_err)?;
            let h = ballast_server::api::history_json(e.store().as_ref(), *id, None, (*limit).clamp(1, 500))
                .map_err(|err| anyhow!("{}", err.1))?;
            println!("{}", serde_json::to_string_pretty(&h)?);
        }
        Verb::History { id, limit, format: Format::Text } => {
            let quote = e.view(*id).map_err(engine_err)?.state.spec.quote;
            let events = e.store().events(*id, *limit)?;
            for ev in events.iter().rev() {
                println!("{}  {:<10} {}", fmt_time(ev.time), ev.kind, ev.message);
                if let Some(skipped) = ev.data.get("skipped").and_then(|s| s.as_array()) {
                    for s in skipped {
                        println!(
                            "{:>31} skipped {} {} ({}): {}",
                            "",
                            s["side"].as_str().unwrap_or(""),
                            s["asset"].as_str().unwrap_or(""),
                            s["notional"].as_str().unwrap_or(""),
                            s["reason"].as_str().unwrap_or("")
                        );
                    }
                }
                // A leg traded on a direct pair, or topping up the fee reserve, says so
                // and why.
                if let Some(legs) = ev.data.get("legs").and_then(|s| s.as_array()) {
                    for l in legs.iter().filter(|l| l.get("quote").is_some() || l.get("why").is_some()) {
                        let symbol = match l["quote"].as_str() {
                            Some(q) => format!("{}/{q}", l["asset"].as_str().unwrap_or("")),
                            None => l["asset"].as_str().unwrap_or("").to_string(),
                        };
                        println!(
                            "{:>31} {} {} {} @ {}: {}",
                            "",
                            l["side"].as_str().unwrap_or(""),
                            l["quantity"].as_str().unwrap_or(""),
                            symbol,
                            l["price"].as_str().unwrap_or(""),
                            l["why"].as_str().unwrap_or("")
                        );
                    }
                }
            }
            let orders = e.orders(*id, *limit).map_err(engine_err)?;
            println!();
            println!("Orders (newest first):");
            for o in orders {
                let i = &o.intent;
                println!(
                    "  {:<14} {} {:<4} {:>14} {:<6} {:<16} filled {}",
                    i.client_id.as_str(),
                    fmt_time(i.created_at),
                    i.side.to_string(),
                    i.qty.to_string(),
                    if i.quote == quote { i.base.to_string() } else { format!("{}/{}", i.base, i.quote) },
                    o.state.as_str(),
                    o.filled
                );
            }
        }
        Verb::Pause { id } => {
            e.set_paused(*id, true).map_err(engine_err)?;
            println!("Bot {id} paused");
        }
        Verb::Resume { id } => {
            e.set_paused(*id, false).map_err(engine_err)?;
            println!("Bot {id} resumed");
        }
        Verb::Invest { id, usdt, coins, yes } => {
            let mut add = match coins {
                Some(c) => parse_coins(c)?,
                None => BTreeMap::new(),
            };
            let v = e.view(*id).map_err(engine_err)?;
            let quote = v.state.spec.quote.clone();
            if let Some(u) = usdt
                && add.insert(quote.clone(), Qty(*u)).is_some()
            {
                bail!("give {quote} either with --usdt or in --coins, not both");
            }
            if add.is_empty() {
                bail!("nothing to invest: use --usdt AMOUNT or --coins ASSET=QTY,...");
            }
            let paper = (v.record.venue == "paper").then_some(&*app.paper);
            let what: Vec<String> = add.iter().map(|(a, q)| format!("{} {a}", q.0.normalize())).collect();
            let plan = verbs::preview_invest(e, *id, &add)?;
            println!("Invest {} in bot {id} \"{}\"; the rebalance would:", what.join(", "), v.record.name);
            for line in verbs::change_lines(&plan) {
                println!("  {line}");
            }
            let question = if paper.is_some() { "Invest?" } else { "Invest? It will trade real funds on the venue." };
            if !yes && !confirm(question)? {
                bail!("not invested");
            }
            let out = verbs::invest(e, paper, *id, &add)?;
            println!("Invested {}; {}", what.join(", "), outcome_text(&out));
        }
        Verb::Edit { id, config, yes } => {
            let text = std::fs::read_to_string(config).with_context(|| format!("{}: cannot read", config.display()))?;
            let mut table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| anyhow!("{}: invalid TOML: {e}", config.display()))?;
            if !table.contains_key("amount") {
                table.insert("amount".into(), toml::Value::String("1".into()));
            }
            let cfg = BotConfig::parse_text(config, &toml::to_string(&table)?)?;
            let spec = verbs::spec_of(&app, &cfg)?;
            let plan = verbs::preview_edit(e, *id, &spec)?;
            println!("Edit bot {id} from {}; the rebalance to the new parameters would:", config.display());
            for line in verbs::change_lines(&plan) {
                println!("  {line}");
            }
            let live = e.store().bot(*id)?.is_some_and(|r| r.venue != "paper");
            let question = if live { "Edit? It will trade real funds on the venue." } else { "Edit?" };
            if !yes && !confirm(question)? {
                bail!("not edited");
            }
            let out = verbs::edit(e, *id, spec, &text)?;
            println!("Bot {id} edited; {}", outcome_text(&out));
        }
        Verb::Stop { id, return_coins: _, to_usdt, sweep_dust } => {
            let mode = if *to_usdt { StopMode::ToQuote } else { StopMode::ReturnCoins };
            if *sweep_dust {
                // Not part of the stop's unit of work: a refused conversion leaves the
                // dust with the coins the stop returns.
                match e.sweep_dust(*id) {
                    Ok((Some(c), _)) => {
                        let got: Decimal = c.converted.iter().map(|(_, _, g)| g.0).sum();
                        println!("Dust converted into {} {}.", got.normalize(), c.into);
                    }
                    Ok((None, _)) => println!("No dust to convert."),
                    Err(err) => println!("Dust not converted: {}", engine_err(err)),
                }
            }
            let sum = e.stop(*id, mode).map_err(engine_err)?;
            println!("Bot {id} stopped. Returned to the account:");
            print_summary_of_stop(&sum, &e.view(*id).map_err(engine_err)?.state.spec.quote);
        }
        Verb::Dust { id, sweep: true, .. } => {
            let (conv, left_out) = e.sweep_dust(*id).map_err(engine_err)?;
            match conv {
                None => println!("Bot {id}: no dust to convert."),
                Some(c) => {
                    let what: Vec<String> =
                        c.converted.iter().map(|(a, q, _)| format!("{} {a}", q.0.normalize())).collect();
                    let got: Decimal = c.converted.iter().map(|(_, _, g)| g.0).sum();
                    println!(
                        "Bot {id}: converted {} into {} {} (the venue's charge: {} {}).",
                        what.join(", "),
                        got.normalize(),
                        c.into,
                        c.charge.0.normalize(),
                        c.into
                    );
                }
            }
            for l in left_out {
                println!("Left out: {l}");
            }
        }
        Verb::Dust { id, format, .. } => {
            let dust = e.dust(*id).map_err(engine_err)?;
            let quote = e.view(*id).map_err(engine_err)?.state.spec.quote;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&dust)?),
                Format::Text if dust.is_empty() => println!("Bot {id} holds no dust."),
                Format::Text => {
                    println!("Bot {id} holds too little of these to sell:");
                    println!("{:<8} {:>20} {:>16} {:>14}  why", "coin", "amount", "price", "value");
                    for d in &dust {
                        println!(
                            "{:<8} {:>20} {:>16} {:>14}  {}",
                            d.asset.as_str(),
                            d.qty.0.normalize(),
                            d.price.0.normalize(),
                            format!("{} {quote}", d.value.0.round_dp(4)),
                            d.rule
                        );
                    }
                    let total: Decimal = dust.iter().map(|d| d.value.0).sum();
                    println!("Total {} {quote}", total.round_dp(4));
                }
            }
        }
        Verb::Export { id, file, format: ExportFormat::Koinly | ExportFormat::Cointracking } => {
            let f = match &args.verb {
                Verb::Export { format: ExportFormat::Koinly, .. } => ballast_engine::export::CsvFormat::Koinly,
                _ => ballast_engine::export::CsvFormat::CoinTracking,
            };
            let (_, csv) = ballast_server::api::transactions_csv(e.store().as_ref(), *id, f)
                .map_err(|err| anyhow!("{}", err.1))?;
            match file {
                Some(p) => {
                    std::fs::write(p, &csv).with_context(|| format!("{}: cannot write", p.display()))?;
                    eprintln!("{} rows ({f} CSV) written to {}", csv.lines().count().saturating_sub(1), p.display());
                }
                None => print!("{csv}"),
            }
        }
        Verb::Orders { id, state, side, asset, limit, before, format } => {
            let q = ballast_server::api::OrderQuery {
                limit: Some(*limit),
                before: *before,
                state: state.clone(),
                side: side.clone(),
                asset: asset.clone(),
                format: None,
            };
            let (rows, next) =
                ballast_server::api::orders_page(e.store().as_ref(), *id, &q).map_err(|err| anyhow!("{}", err.1))?;
            match format {
                OrdersFormat::Csv => print!("{}", ballast_server::api::orders_csv(&rows)),
                OrdersFormat::Json => {
                    let list: Vec<serde_json::Value> = rows
                        .iter()
                        .map(|(r, o)| {
                            let mut v = serde_json::to_value(&o.intent).unwrap_or_default();
                            v["row"] = serde_json::json!(r);
                            v["state"] = serde_json::json!(o.state.as_str());
                            v["filled"] = serde_json::json!(o.filled);
                            v
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&serde_json::json!({ "orders": list, "next_before": next }))?
                    );
                }
                OrdersFormat::Text => {
                    println!(
                        "{:>6}  {:<16} {:<4} {:>14} {:<6} {:>14} {:<16} {:>14}",
                        "row", "created", "side", "qty", "coin", "planned price", "state", "filled"
                    );
                    for (r, o) in &rows {
                        let i = &o.intent;
                        println!(
                            "{:>6}  {:<16} {:<4} {:>14} {:<6} {:>14} {:<16} {:>14}",
                            r,
                            fmt_time(i.created_at),
                            i.side.to_string(),
                            i.qty.0.normalize().to_string(),
                            i.base.as_str(),
                            i.planned_price.0.normalize().to_string(),
                            o.state.as_str(),
                            o.filled.0.normalize().to_string()
                        );
                    }
                    match next {
                        Some(n) => println!("More: --before {n}"),
                        None if rows.is_empty() => println!("No orders."),
                        None => {}
                    }
                }
            }
        }
        Verb::Pnl { id, method, format } => {
            let j = ballast_server::api::pnl_json(e.store().as_ref(), *id, (*method).into())
                .map_err(|err| anyhow!("{}", err.1))?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&j)?),
                Format::Text => print_pnl(&j),
            }
        }
        Verb::Profit { id, by, limit, format } => {
            let j = ballast_server::api::profit_json(e.store().as_ref(), *id, (*by).into(), *limit)
                .map_err(|err| anyhow!("{}", err.1))?;
            match format {
                Format::Json => println!("{}", serde_json::to_string_pretty(&j)?),
                Format::Text => print_profit(&j),
            }
        }
        Verb::Export { id, file, format: ExportFormat::Profile } => {
            let rec = e.store().bot(*id)?.ok_or_else(|| anyhow!("no bot with id {id}"))?;
            let profile = profile_toml(&rec.config_toml)?;
            if let Some(f) = file {
                std::fs::write(f, &profile).with_context(|| format!("{}: cannot write", f.display()))?;
                println!("Profile written to {}", f.display());
            }
            // stdout holds the line alone, so `P=$(ballast bot export 1)` captures just it.
            println!("{}", profile_line(&profile));
            eprintln!();
            eprintln!("Start a bot from it: ballast bot create --profile '<the line above>' --amount 1000");
        }
    }
    Ok(())
}

/// `ballast run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// Paper replay speed: bars per second, or 0 for as fast as possible.
    #[arg(long, default_value = "0")]
    pub speed: f64,
    /// Stop after this many bars (default: until the replay ends or a signal).
    #[arg(long)]
    pub bars: Option<usize>,
    /// Run the bots on live venues (Binance, or `ballast sim`) instead of the paper replay.
    #[arg(long)]
    pub live: bool,
    /// Live: how often every bot is checked.
    #[arg(long, default_value = "10s")]
    pub poll: ballast_core::Span,
    /// Print only the last line (not a line per trade, guard and event as they happen).
    #[arg(long)]
    pub quiet: bool,
}

/// What `ballast run` prints as it goes: a line per event of every bot (rebalances,
/// guards, stops, refusals, weights, ...) and under a rebalance or a liquidation a line
/// per order it sent; errors are printed (to stderr) as the steps return them. Read
/// from the store's events in recording order after a cursor, so nothing is printed
/// twice or missed, whichever bot it was.
struct Feed {
    cursor: i64,
    quiet: bool,
}

impl Feed {
    /// A feed from the newest event now (what happened before this run is not repeated).
    fn new(store: &dyn ballast_store::Store, quiet: bool) -> Result<Self> {
        Ok(Self { cursor: ballast_server::runlog::newest_id(store)?, quiet })
    }

    /// Prints what was recorded since the last call, worded by `ballast_server::runlog`
    /// (the dashboard's log shows the same lines).
    fn print(&mut self, store: &dyn ballast_store::Store) -> Result<()> {
        const PAGE: usize = 500;
        loop {
            let entries = ballast_server::runlog::after(store, self.cursor, PAGE)?;
            for e in &entries {
                self.cursor = e.id;
                // Errors went to stderr when the step returned them.
                if self.quiet || e.event.kind == "error" {
                    continue;
                }
                println!("{}  {}", fmt_time(e.time()), e.line());
                for line in e.order_lines() {
                    println!("{:>16}  {line}", "");
                }
            }
            if entries.len() < PAGE {
                return Ok(());
            }
        }
    }
}

/// Runs every active bot until SIGINT/SIGTERM or the end of the replay; resumes where
/// it stopped.
pub fn run_bots(args: &RunArgs) -> Result<()> {
    // The handler first: a signal while the data directory opens stops the run cleanly.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).context("installing the signal handler")?;
    }
    let mut app = App::open(&data_dir(args.dir.data_dir.as_deref()))?;
    let _runner = app.lock_runner(if args.live { "ballast run --live" } else { "ballast run" })?;
    // Notifications: what an earlier run recorded and did not deliver goes first.
    let mut notifier = super::notify::open_for_run(&app.dir);
    super::notify::pump(&mut notifier, &**app.engine.store());
    if args.live {
        return run_live(&app, args, &stop, &mut notifier);
    }
    let mut feed = Feed::new(app.engine.store().as_ref(), args.quiet)?;
    // Finish what an interrupted run left: reconcile and step at the current time.
    let first = app.engine.step_all().map_err(|e| anyhow!("{e}"))?;
    report_errors(&first);
    feed.print(app.engine.store().as_ref())?;
    super::notify::pump(&mut notifier, &**app.engine.store());
    let bars = app.remaining_bars();
    let limit = args.bars.unwrap_or(usize::MAX);
    let mut done = 0usize;
    for t in bars.into_iter().take(limit) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let results = app.replay_bar(t)?;
        report_errors(&results);
        feed.print(app.engine.store().as_ref())?;
        super::notify::pump(&mut notifier, &**app.engine.store());
        done += 1;
        if args.speed > 0.0 {
            std::thread::sleep(std::time::Duration::from_secs_f64(1.0 / args.speed));
        }
    }
    let why = if stop.load(Ordering::Relaxed) {
        "signal received"
    } else if args.bars.is_some_and(|n| done >= n) {
        "bar limit reached"
    } else {
        "end of the replay"
    };
    app.sync()?;
    println!("Stopped cleanly after {done} bar(s) ({why}); paper clock at {}", fmt_time(app.now()));
    Ok(())
}

/// Steps the bots of every live venue every `--poll` until a signal.
fn run_live(
    app: &App,
    args: &RunArgs,
    stop: &AtomicBool,
    notifier: &mut Option<ballast_server::notify::Notifier>,
) -> Result<()> {
    let mut venues: Vec<(String, Option<String>)> = Vec::new();
    for b in app.engine.store().bots()? {
        if b.status == BotStatus::Active && b.venue != "paper" {
            let key = (b.venue.clone(), base_url_of(&b.config_toml));
            if !venues.contains(&key) {
                venues.push(key);
            }
        }
    }
    if venues.is_empty() {
        bail!("no active bot on a live venue; `ballast run` without --live runs the paper bots");
    }
    let keys = crate::live::Keyring::new(&app.dir);
    let engines: Vec<ballast_engine::Engine> = venues
        .iter()
        .map(|(v, u)| crate::live::engine_with(&keys, &app.dir, v, u.as_deref()))
        .collect::<Result<_>>()?;
    let mut feed = Feed::new(app.engine.store().as_ref(), args.quiet)?;
    let mut rounds = 0usize;
    while !stop.load(Ordering::Relaxed) && args.bars.is_none_or(|n| rounds < n) {
        for e in &engines {
            report_errors(&e.step_all().map_err(|e| anyhow!("{e}"))?);
        }
        feed.print(app.engine.store().as_ref())?;
        super::notify::pump(notifier, &**app.engine.store());
        rounds += 1;
        let until = std::time::Instant::now() + std::time::Duration::from_secs(args.poll.secs().max(1) as u64);
        while std::time::Instant::now() < until && !stop.load(Ordering::Relaxed) && args.bars.is_none_or(|n| rounds < n)
        {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
    println!("Stopped cleanly after {rounds} round(s) on {} live venue(s)", engines.len());
    Ok(())
}

fn report_errors(results: &[ballast_engine::engine::StepResult]) {
    for (id, r) in results {
        if let Err(e) = r {
            eprintln!("bot {id}: {e}");
        }
    }
}

/// Shows a bot (used by the demo).
pub fn show(app: &App, id: BotId) -> Result<()> {
    print_view(&app.engine.view(id).map_err(|e| anyhow!("{e}"))?);
    Ok(())
}
