//! `ballast bot ...`: the lifecycle of a bot, and `ballast run`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, Result, anyhow, bail};
use ballast_core::trigger::Trigger;
use ballast_core::{Asset, DriftKind, Qty};
use ballast_engine::{BotView, Preview, StepOutcome, StopMode};
use ballast_store::{BotId, BotStatus};
use base64::Engine as _;
use rust_decimal::Decimal;

use crate::app::{App, data_dir, fmt_time};
use crate::config::BotConfig;

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
    /// List the bots.
    List,
    /// A bot's holdings, weights and PnL.
    Status {
        /// Bot id.
        id: BotId,
    },
    /// A bot's rebalances (with skipped legs and why), orders and events.
    History {
        /// Bot id.
        id: BotId,
        /// How many events.
        #[arg(long, default_value = "30")]
        limit: usize,
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
    },
    /// Change coins, weights or parameters of a running bot from a new configuration file.
    Edit {
        /// Bot id.
        id: BotId,
        /// The new configuration (its amount is ignored: use invest).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
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
    },
    /// Print a bot's profile (no amount, no secrets): one line to paste, or --file for the TOML form.
    Export {
        /// Bot id.
        id: BotId,
        /// Write the TOML form here.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
}

const PROFILE_PREFIX: &str = "ballast-profile:1:";

/// The profile of a configuration: its TOML without amount.
pub fn profile_toml(config_toml: &str) -> Result<String> {
    let mut t: toml::Table = config_toml.parse().context("stored configuration")?;
    t.remove("amount");
    Ok(toml::to_string(&t)?)
}

/// The one-line form of a profile.
pub fn profile_line(profile: &str) -> String {
    format!("{PROFILE_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(profile.as_bytes()))
}

/// Reads a profile given as a preset name, a file, or a one-line form.
pub fn read_profile(s: &str) -> Result<(String, String)> {
    if let Some(b) = s.trim().strip_prefix(PROFILE_PREFIX) {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(b.trim())
            .map_err(|e| anyhow!("--profile: the one-line profile is damaged ({e})"))?;
        let text =
            String::from_utf8(bytes).map_err(|_| anyhow!("--profile: the one-line profile is damaged (not UTF-8)"))?;
        return Ok(("profile line".into(), text));
    }
    if let Ok(t) = super::presets::find(s) {
        return Ok((format!("preset {s}"), t.to_string()));
    }
    let p = Path::new(s);
    // Only a regular file: a device (/dev/zero) or a fifo would be read without end.
    if p.is_file() {
        return Ok((p.display().to_string(), std::fs::read_to_string(p).with_context(|| format!("--profile {s}"))?));
    }
    bail!("--profile {s:?}: not a preset, a file or a one-line profile (`ballast presets` lists the presets)")
}

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

fn money(d: Decimal) -> String {
    format!("{:.2}", d)
}

pub fn describe_trigger(t: &Trigger) -> String {
    match t {
        Trigger::Threshold { threshold, cooldown } => format!(
            "when an asset drifts more than {}{}",
            match threshold.kind() {
                DriftKind::Absolute => format!("{} percentage points", threshold.percent().normalize()),
                DriftKind::Relative => format!("{}% of its target", threshold.percent().normalize()),
            },
            cooldown.map(|c| format!(", at most once per {c}")).unwrap_or_default()
        ),
        Trigger::Calendar { every, min_drift } => {
            format!(
                "every {every}{}",
                min_drift.map(|g| format!(" if some asset drifts more than {g}")).unwrap_or_default()
            )
        }
    }
}

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
    println!(
        "Bot {} \"{}\" on {}: {} ({})",
        v.record.id, v.record.name, v.record.venue, v.record.status, v.record.status_reason
    );
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
        let t = s.weights.get(a).copied().unwrap_or_default();
        let price = if a == q { String::new() } else { v.prices.get(a).map(|p| p.to_string()).unwrap_or_default() };
        println!(
            "{:<8} {:>16} {:>14} {:>8.2}% {:>8.2}%",
            a.as_str(),
            held.0.round_dp(8).normalize(),
            price,
            w * Decimal::ONE_HUNDRED,
            t * Decimal::ONE_HUNDRED
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
    }
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

/// Creates a bot (shared with `ballast demo`). Funds the paper account when needed.
pub fn create(app: &App, cfg: &BotConfig, config_toml: &str, yes: bool) -> Result<BotId> {
    if cfg.venue != "paper" {
        return create_live(app, cfg, config_toml, yes);
    }
    let spec = app.spec(cfg)?;
    let preview = app.engine.preview(&spec, cfg.amount).map_err(|e| anyhow!("{e}"))?;
    print_summary(cfg, cfg.amount, &preview, "paper", app.now());
    if cfg.amount < preview.minimum.amount.0 {
        bail!(
            "refused: {} {q} is too little; these coins need at least {} {q} (set by {})",
            cfg.amount,
            money(preview.minimum.amount.0),
            preview.minimum.binding,
            q = cfg.quote
        );
    }
    if !yes && !confirm("Create this bot?")? {
        bail!("not created");
    }
    if let Some(need) = fund_paper(app, &cfg.quote, cfg.amount)? {
        println!("Paper account funded with {} {}", need.normalize(), cfg.quote);
    }
    let id = app.engine.create(&cfg.name, spec, config_toml, cfg.amount).map_err(|e| anyhow!("{e}"))?;
    let out = app.engine.step(id).map_err(|e| anyhow!("first buy: {e}"))?;
    println!("Created bot {id}; first buy: {}", outcome_text(&out));
    Ok(id)
}

/// The paper account is a simulation: funds it so that `amount` of `quote` is free
/// beyond what the bots already hold. Returns the deposit, if one was needed.
pub fn fund_paper(app: &App, quote: &Asset, amount: Decimal) -> Result<Option<Decimal>> {
    use ballast_exchange::Exchange as _;
    let free = app.paper.balances().map_err(|e| anyhow!("{e}"))?.get(quote).map(|b| b.free).unwrap_or_default();
    let committed: Decimal = Decimal::ZERO.max(committed_quote(app, quote)?);
    if free.0 - committed >= amount {
        return Ok(None);
    }
    let need = amount - (free.0 - committed);
    app.paper.deposit(quote, Qty(need)).map_err(|e| anyhow!("{e}"))?;
    Ok(Some(need))
}

/// The spec of a bot on a live venue: weights that need no history (equal, custom).
pub fn live_spec(cfg: &BotConfig) -> Result<ballast_engine::BotSpec> {
    use ballast_core::weighting::{self, Method};
    let weights = match cfg.weights.method {
        Method::Equal => weighting::equal(&cfg.assets)?,
        Method::Custom => cfg.weights.custom.iter().map(|(a, w)| (a.clone(), *w / Decimal::ONE_HUNDRED)).collect(),
        m => bail!(
            "weights.method {m}: live bots take equal or custom weights in this build (computed weights need the live data feed)"
        ),
    };
    Ok(ballast_engine::BotSpec {
        quote: cfg.quote.clone(),
        assets: cfg.assets.clone(),
        method: cfg.weights.method,
        weights,
        trigger: cfg.rebalance.trigger,
        to: cfg.rebalance.to,
        guards: cfg.guards.clone(),
        fee: cfg.fee,
    })
}

/// Creates a bot on a live venue (its key must not be able to withdraw).
fn create_live(app: &App, cfg: &BotConfig, config_toml: &str, yes: bool) -> Result<BotId> {
    let engine = crate::live::engine(&app.dir, &cfg.venue, cfg.base_url.as_deref())?;
    let spec = live_spec(cfg)?;
    let preview = engine.preview(&spec, cfg.amount).map_err(|e| anyhow!("{e}"))?;
    print_summary(cfg, cfg.amount, &preview, &cfg.venue, ballast_exchange::Clock::now(&ballast_exchange::SystemClock));
    if !yes && !confirm("Create this bot? It will trade real funds on the venue.")? {
        bail!("not created");
    }
    let id = engine.create(&cfg.name, spec, config_toml, cfg.amount).map_err(|e| anyhow!("{e}"))?;
    let out = engine.step(id).map_err(|e| anyhow!("first buy: {e}"))?;
    println!("Created bot {id} on {}; first buy: {}", cfg.venue, outcome_text(&out));
    Ok(id)
}

/// The base URL a stored configuration names, if any.
fn base_url_of(config_toml: &str) -> Option<String> {
    config_toml.parse::<toml::Table>().ok()?.get("base_url")?.as_str().map(str::to_string)
}

fn committed_quote(app: &App, quote: &Asset) -> Result<Decimal> {
    let mut total = Decimal::ZERO;
    for b in app.engine.store().bots()? {
        if b.status != BotStatus::Stopped {
            total += app
                .engine
                .holdings(b.id)
                .map_err(|e| anyhow!("{e}"))?
                .get(quote)
                .map(|q| q.0)
                .unwrap_or_default()
                .max(Decimal::ZERO);
        }
    }
    Ok(total)
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
        Verb::Status { id }
        | Verb::History { id, .. }
        | Verb::Pause { id }
        | Verb::Resume { id }
        | Verb::Invest { id, .. }
        | Verb::Edit { id, .. }
        | Verb::Stop { id, .. }
        | Verb::Export { id, .. } => Some(*id),
        Verb::Create { .. } | Verb::List => None,
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
        Verb::List => {
            let bots = e.store().bots()?;
            if bots.is_empty() {
                println!("No bots. Create one with `ballast bot create --config FILE` or try `ballast demo`.");
            }
            println!(
                "{:>4} {:<20} {:<8} {:<8} {:>14} {:>10} {:>9}",
                "id", "name", "venue", "status", "value", "profit", "vs HODL"
            );
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
            }
        }
        Verb::Status { id } => print_view(&e.view(*id).map_err(engine_err)?),
        Verb::History { id, limit } => {
            e.view(*id).map_err(engine_err)?;
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
                    i.base.as_str(),
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
        Verb::Invest { id, usdt, coins } => {
            let mut add = match coins {
                Some(c) => parse_coins(c)?,
                None => BTreeMap::new(),
            };
            let v = e.view(*id).map_err(engine_err)?;
            let quote = v.state.spec.quote.clone();
            if let Some(u) = usdt {
                if add.insert(quote.clone(), Qty(*u)).is_some() {
                    bail!("give {quote} either with --usdt or in --coins, not both");
                }
            }
            if add.is_empty() {
                bail!("nothing to invest: use --usdt AMOUNT or --coins ASSET=QTY,...");
            }
            if v.record.venue == "paper" {
                // A simulation: the money arrives in the paper account first.
                for (a, q) in &add {
                    if q.0 > Decimal::ZERO {
                        app.paper.deposit(a, *q).map_err(|e| anyhow!("{e}"))?;
                    }
                }
            }
            e.invest(*id, &add).map_err(engine_err)?;
            let out = e.step(*id).map_err(engine_err)?;
            println!("Invested; {}", outcome_text(&out));
        }
        Verb::Edit { id, config } => {
            let text = std::fs::read_to_string(config).with_context(|| format!("{}: cannot read", config.display()))?;
            let mut table: toml::Table =
                text.parse().map_err(|e: toml::de::Error| anyhow!("{}: invalid TOML: {e}", config.display()))?;
            if !table.contains_key("amount") {
                table.insert("amount".into(), toml::Value::String("1".into()));
            }
            let cfg = BotConfig::parse_text(config, &toml::to_string(&table)?)?;
            let spec = if cfg.venue == "paper" { app.spec(&cfg)? } else { live_spec(&cfg)? };
            e.edit(*id, spec, &text).map_err(engine_err)?;
            let out = e.step(*id).map_err(engine_err)?;
            println!("Bot {id} edited; {}", outcome_text(&out));
        }
        Verb::Stop { id, return_coins: _, to_usdt } => {
            let mode = if *to_usdt { StopMode::ToQuote } else { StopMode::ReturnCoins };
            let left = e.stop(*id, mode).map_err(engine_err)?;
            println!("Bot {id} stopped. Returned to the account:");
            for (a, q) in left {
                if !q.is_zero() {
                    println!("  {} {a}", q.0.round_dp(8).normalize());
                }
            }
        }
        Verb::Export { id, file } => {
            let rec = e.store().bot(*id)?.ok_or_else(|| anyhow!("no bot with id {id}"))?;
            let profile = profile_toml(&rec.config_toml)?;
            if let Some(f) = file {
                std::fs::write(f, &profile).with_context(|| format!("{}: cannot write", f.display()))?;
                println!("Profile written to {}", f.display());
            }
            println!("{}", profile_line(&profile));
            println!();
            println!("Start a bot from it: ballast bot create --profile '<the line above>' --amount 1000");
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
    // Notifications: what an earlier run recorded and did not deliver goes first.
    let mut notifier = super::notify::open_for_run(&app.dir);
    super::notify::pump(&mut notifier, &**app.engine.store());
    if args.live {
        return run_live(&app, args, &stop, &mut notifier);
    }
    // Finish what an interrupted run left: reconcile and step at the current time.
    let first = app.engine.step_all().map_err(|e| anyhow!("{e}"))?;
    report_errors(&first);
    super::notify::pump(&mut notifier, &**app.engine.store());
    let bars = app.remaining_bars();
    let limit = args.bars.unwrap_or(usize::MAX);
    let mut done = 0usize;
    for t in bars.into_iter().take(limit) {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        app.advance_to(t)?;
        app.paper.match_resting().map_err(|e| anyhow!("{e}"))?;
        let results = app.engine.step_all().map_err(|e| anyhow!("{e}"))?;
        report_errors(&results);
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
    let mut rounds = 0usize;
    while !stop.load(Ordering::Relaxed) && args.bars.is_none_or(|n| rounds < n) {
        for e in &engines {
            report_errors(&e.step_all().map_err(|e| anyhow!("{e}"))?);
        }
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
