//! The dashboard's workshop: the server's [`Workshop`] over the paper world and the
//! live engines (configurations, presets, profiles and backtests), so the browser does
//! exactly what the CLI does with the same validation and messages.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::anyhow;
use axum::http::StatusCode;
use ballast_backtest::backtest::{self, SimMode};
use ballast_backtest::{Interval, format_timestamp};
use ballast_core::{Asset, Qty};
use ballast_engine::Engine;
use ballast_exchange::Exchange as _;
use ballast_server::{ApiError, Workshop};
use ballast_store::{BotId, BotStatus};
use rust_decimal::Decimal;
use serde_json::{Value, json};

use crate::app::App;
use crate::cmd::backtest::{DataArgs, describe, exchange_options, prepare, report_html, strategy_from_config};
use crate::cmd::bot::{profile_line, profile_toml};
use crate::cmd::presets::PRESETS;
use crate::config::BotConfig;
use ballast_app::verbs::{self, VerbError};

const PROFILE_PREFIX: &str = "ballast-profile:1:";

/// The workshop of `ballast serve`.
pub struct Desk {
    app: Arc<Mutex<App>>,
    /// Engines of live venues (by name) that this server runs.
    live: BTreeMap<String, Arc<Engine>>,
}

/// The server's mapping: 404 no bot, 409 refused or a name taken, 502 venue, 500 else.
fn engine_err(e: ballast_engine::EngineError) -> ApiError {
    ApiError::from(e)
}

/// A JSON configuration as TOML (null members are left out: "not given").
pub fn json_to_toml(v: &Value, key: &str) -> Result<Option<toml::Value>, ApiError> {
    Ok(Some(match v {
        Value::Null => return Ok(None),
        Value::Bool(b) => toml::Value::Boolean(*b),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => toml::Value::Integer(i),
            (None, Some(f)) => toml::Value::Float(f),
            _ => return Err(ApiError::bad_request(format!("config: {key}: {n} is out of range"))),
        },
        Value::String(s) => toml::Value::String(s.clone()),
        Value::Array(a) => {
            let mut out = Vec::new();
            for (i, x) in a.iter().enumerate() {
                if let Some(t) = json_to_toml(x, &format!("{key}[{i}]"))? {
                    out.push(t);
                }
            }
            toml::Value::Array(out)
        }
        Value::Object(m) => toml::Value::Table(object_to_table(m, key)?),
    }))
}

fn object_to_table(m: &serde_json::Map<String, Value>, prefix: &str) -> Result<toml::Table, ApiError> {
    let mut t = toml::Table::new();
    for (k, x) in m {
        let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
        if let Some(v) = json_to_toml(x, &key)? {
            t.insert(k.clone(), v);
        }
    }
    Ok(t)
}

/// The TOML text of a JSON configuration object.
pub fn config_text(config: &Value) -> Result<String, ApiError> {
    let Value::Object(m) = config else {
        return Err(ApiError::bad_request("config: expected an object with the keys of a bot's configuration file"));
    };
    toml::to_string(&object_to_table(m, "")?).map_err(|e| ApiError::bad_request(format!("config: {e}")))
}

/// Parses a JSON configuration with the CLI's validation (errors name the key).
pub fn parse_config(config: &Value) -> Result<(BotConfig, String), ApiError> {
    let text = config_text(config)?;
    let cfg = BotConfig::parse_text(Path::new("config"), &text).map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
    Ok((cfg, text))
}

fn table_json(text: &str) -> Result<Value, ApiError> {
    let t: toml::Table = text.parse().map_err(ApiError::internal)?;
    serde_json::to_value(t).map_err(ApiError::internal)
}

/// A profile from the browser: a one-line profile, a preset name, or profile TOML.
/// Never a path: the server does not read files named by a client.
pub fn resolve_profile(s: &str) -> Result<(String, String), ApiError> {
    let t = s.trim();
    if t.starts_with(PROFILE_PREFIX) {
        return crate::cmd::bot::read_profile(t).map_err(|e| ApiError::bad_request(format!("profile: {e:#}")));
    }
    if let Some((_, text)) = PRESETS.iter().find(|(n, _)| *n == t) {
        return Ok((format!("preset {t}"), (*text).to_string()));
    }
    if t.contains('=') {
        return Ok(("profile".into(), t.to_string()));
    }
    let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
    Err(ApiError::bad_request(format!(
        "profile: {t:?} is not a ballast-profile:1: line, profile TOML, or a preset ({})",
        names.join(", ")
    )))
}

fn amount_of(v: Option<&Value>) -> Result<Decimal, ApiError> {
    let s = match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(ApiError::bad_request("amount: expected a decimal number (quote to invest)")),
    };
    let d = ballast_core::money::parse_decimal(s.trim()).map_err(|e| ApiError::bad_request(format!("amount: {e}")))?;
    if d <= Decimal::ZERO {
        return Err(ApiError::bad_request(format!("amount: {d} must be greater than zero")));
    }
    Ok(d)
}

impl Desk {
    /// A workshop over the paper world and the live engines.
    pub fn new(app: Arc<Mutex<App>>, live: BTreeMap<String, Arc<Engine>>) -> Self {
        Self { app, live }
    }

    fn app(&self) -> MutexGuard<'_, App> {
        self.app.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn live_engine(&self, venue: &str) -> Result<Arc<Engine>, ApiError> {
        self.live.get(venue).cloned().ok_or_else(|| {
            ApiError(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("venue {venue}: this server runs no engine for it (its API key was not available at start)"),
            )
        })
    }

    fn create_from(&self, cfg: &BotConfig, text: &str) -> Result<BotId, ApiError> {
        let app = self.app();
        let live;
        let (engine, paper): (&Engine, _) = if cfg.venue == "paper" {
            (&app.engine, Some(&*app.paper))
        } else {
            live = self.live_engine(&cfg.venue)?;
            (&live, None)
        };
        let spec = verbs::spec_of(&app, cfg).map_err(verb_err)?;
        verbs::preview(engine, cfg, &spec).map_err(verb_err)?;
        Ok(verbs::create(engine, paper, cfg, text, spec).map_err(verb_err)?.id)
    }
}

/// The server's mapping of a verb's failure: 400 bad input, the engine's mapping, and
/// 502 for a verb recorded whose rebalance did not (all) happen (its message says so).
impl Desk {
    /// An edit of a running bot, checked as the CLI checks it (the amount and the
    /// venue cannot change here), handed to `f` with the bot's engine, the new spec and
    /// the configuration text.
    fn with_edit<T>(
        &self,
        bot: BotId,
        config: &Value,
        f: impl FnOnce(&Engine, ballast_engine::BotSpec, &str) -> Result<T, VerbError>,
    ) -> Result<T, ApiError> {
        let rec = {
            let app = self.app();
            app.engine
                .store()
                .bot(bot)
                .map_err(ApiError::internal)?
                .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {bot}")))?
        };
        if rec.status == BotStatus::Stopped {
            return Err(ApiError(StatusCode::CONFLICT, format!("bot {bot} is stopped")));
        }
        let mut config = config.clone();
        if let Value::Object(m) = &mut config {
            // The amount is not edited here (invest adds money); the venue cannot change.
            let old = table_json(&rec.config_toml)?;
            m.insert("amount".into(), old.get("amount").cloned().unwrap_or(json!("1")));
            if m.get("venue").and_then(Value::as_str).is_some_and(|v| v != rec.venue) {
                return Err(ApiError::bad_request(format!(
                    "venue: a bot cannot move from {} to another venue",
                    rec.venue
                )));
            }
            m.insert("venue".into(), json!(rec.venue));
        }
        let (cfg, text) = parse_config(&config)?;
        let app = self.app();
        let live;
        let engine: &Engine = if cfg.venue == "paper" {
            &app.engine
        } else {
            live = self.live_engine(&cfg.venue)?;
            &live
        };
        let spec = verbs::spec_of(&app, &cfg).map_err(verb_err)?;
        f(engine, spec, &text).map_err(verb_err)
    }
}

fn verb_err(e: VerbError) -> ApiError {
    match e {
        VerbError::Invalid(m) => ApiError::bad_request(m),
        VerbError::Engine(e) => engine_err(e),
        e @ VerbError::Unsettled { .. } => ApiError(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

impl Workshop for Desk {
    fn catalog(&self) -> Result<Value, ApiError> {
        let app = self.app();
        let quote = Asset::new("USDT").map_err(ApiError::internal)?;
        let assets = app.assets();
        let prices = app.paper.prices(&assets, &quote).map_err(|e| ApiError::internal(anyhow!("{e}")))?;
        let mut list = Vec::new();
        for a in &assets {
            let Some(p) = prices.get(a) else { continue };
            let Ok(r) = app.paper.rules(a, &quote) else { continue };
            list.push(
                json!({ "asset": a, "price": p, "min_notional": r.min_notional, "step": r.step, "tick": r.tick }),
            );
        }
        let mut venues = vec!["paper".to_string()];
        venues.extend(self.live.keys().cloned());
        Ok(json!({
            "quote": quote,
            "max_assets": ballast_core::TargetLimits::default().max_assets,
            "venues": venues,
            "methods": ["equal", "custom", "market-cap", "inverse-vol", "min-variance", "risk-parity", "hrp"],
            "fee_bps": app.world.fee_bps,
            "clock": app.now().0,
            "assets": list,
            "backtest": { "intervals": bundled_ranges() },
        }))
    }

    fn preview(&self, config: &Value) -> Result<Value, ApiError> {
        let (cfg, _) = parse_config(config)?;
        // The summary shows an amount below the minimum ("enough": false) rather than
        // refusing it: the wizard lets the user change it.
        let (spec, preview) = {
            let app = self.app();
            let spec = verbs::spec_of(&app, &cfg).map_err(verb_err)?;
            let p = if cfg.venue == "paper" {
                app.engine.preview(&spec, cfg.amount)
            } else {
                self.live_engine(&cfg.venue)?.preview(&spec, cfg.amount)
            };
            (spec, p.map_err(engine_err)?)
        };
        let targets: BTreeMap<String, Decimal> =
            preview.targets.iter().map(|(a, w)| (a.to_string(), w.0.round_dp(6))).collect();
        let per_asset: BTreeMap<String, Decimal> =
            preview.targets.iter().map(|(a, w)| (a.to_string(), (cfg.amount * w.0).round_dp(2))).collect();
        let orders: Vec<Value> = preview
            .plan
            .legs
            .iter()
            .map(|l| {
                json!({ "asset": l.asset, "side": l.side.to_string(), "qty": l.quantity, "price": l.price,
                        "notional": l.notional.0.round_dp(2), "fee": l.fee.0.round_dp(4) })
            })
            .collect();
        let skipped: Vec<Value> = preview
            .plan
            .skipped
            .iter()
            .map(|s| json!({ "asset": s.asset, "side": s.side.to_string(), "reason": s.to_string() }))
            .collect();
        let fees: Decimal = preview.plan.legs.iter().map(|l| l.fee.0).sum();
        let prices: BTreeMap<String, String> =
            preview.prices.iter().map(|(a, p)| (a.to_string(), p.to_string())).collect();
        Ok(json!({
            "name": cfg.name,
            "venue": cfg.venue,
            "quote": cfg.quote,
            "amount": cfg.amount,
            "method": spec.method.to_string(),
            "targets": targets,
            "per_asset": per_asset,
            "prices": prices,
            "minimum": { "amount": preview.minimum.amount.0.round_dp(2), "binding": preview.minimum.binding },
            "enough": cfg.amount >= preview.minimum.amount.0,
            "orders": orders,
            "skipped": skipped,
            "fees": fees.round_dp(4),
            "fee_bps": cfg.fee.0,
            "rebalance": crate::cmd::bot::describe_trigger(&cfg.rebalance.trigger),
            "guards": {
                "stop_loss": cfg.guards.stop_loss_percent,
                "take_profit": cfg.guards.take_profit_percent,
                "entry_prices": cfg.guards.entry_prices,
            },
        }))
    }

    fn create(&self, body: &Value) -> Result<BotId, ApiError> {
        if let Some(config) = body.get("config") {
            let (cfg, text) = parse_config(config)?;
            return self.create_from(&cfg, &text);
        }
        let Some(profile) = body.get("profile").and_then(Value::as_str) else {
            return Err(ApiError::bad_request("expected {config} or {profile, amount}"));
        };
        let amount = amount_of(body.get("amount"))?;
        let (origin, text) = resolve_profile(profile)?;
        let mut table: toml::Table =
            text.parse().map_err(|e| ApiError::bad_request(format!("{origin}: invalid TOML: {e}")))?;
        if let Some(name) = body.get("name").and_then(Value::as_str) {
            table.insert("name".into(), toml::Value::String(name.to_string()));
        }
        let text = toml::to_string(&table).map_err(ApiError::internal)?;
        let cfg = BotConfig::parse_profile(Path::new(&origin), &text, amount)
            .map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
        table.insert("amount".into(), toml::Value::String(amount.to_string()));
        let stored = toml::to_string(&table).map_err(ApiError::internal)?;
        self.create_from(&cfg, &stored)
    }

    fn config(&self, bot: BotId) -> Result<Value, ApiError> {
        let app = self.app();
        let rec = app
            .engine
            .store()
            .bot(bot)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {bot}")))?;
        Ok(json!({ "config": table_json(&rec.config_toml)?, "toml": rec.config_toml }))
    }

    fn edit(&self, bot: BotId, config: &Value) -> Result<(), ApiError> {
        self.with_edit(bot, config, |engine, spec, text| verbs::edit(engine, bot, spec, text).map(|_| ()))
    }

    fn preview_edit(&self, bot: BotId, config: &Value) -> Result<Value, ApiError> {
        let preview = self.with_edit(bot, config, |engine, spec, _| verbs::preview_edit(engine, bot, &spec))?;
        Ok(ballast_server::api::change_json(&preview))
    }

    fn export(&self, bot: BotId) -> Result<Value, ApiError> {
        let app = self.app();
        let rec = app
            .engine
            .store()
            .bot(bot)
            .map_err(ApiError::internal)?
            .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, format!("no bot with id {bot}")))?;
        let profile = profile_toml(&rec.config_toml).map_err(ApiError::internal)?;
        Ok(json!({ "profile": profile_line(&profile), "toml": profile }))
    }

    fn presets(&self) -> Result<Value, ApiError> {
        let mut out = Vec::new();
        for (name, text) in PRESETS {
            let cfg =
                BotConfig::parse_profile(Path::new(name), text, Decimal::from(1000)).map_err(ApiError::internal)?;
            out.push(json!({
                "name": name,
                "description": cfg.description,
                "assets": cfg.assets,
                "method": cfg.weights.method.to_string(),
                "rebalance": crate::cmd::bot::describe_trigger(&cfg.rebalance.trigger),
                "profile": profile_line(text),
                "provenance": cfg.provenance,
            }));
        }
        Ok(Value::Array(out))
    }

    fn parse_profile(&self, profile: &str, amount: &str) -> Result<Value, ApiError> {
        let amount = amount_of(Some(&json!(amount)))?;
        let (origin, text) = resolve_profile(profile)?;
        BotConfig::parse_profile(Path::new(&origin), &text, amount)
            .map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
        let mut table: toml::Table =
            text.parse().map_err(|e| ApiError::bad_request(format!("{origin}: invalid TOML: {e}")))?;
        table.insert("amount".into(), toml::Value::String(amount.to_string()));
        Ok(json!({ "config": serde_json::to_value(table).map_err(ApiError::internal)? }))
    }

    fn backtest(&self, body: &Value) -> Result<(Value, String), ApiError> {
        let (cfg, from_preset) = if let Some(config) = body.get("config") {
            (parse_config(config)?.0, false)
        } else if let Some(name) = body.get("preset").and_then(Value::as_str) {
            let amount = amount_of(body.get("amount"))?;
            let text = PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
                ApiError::bad_request(format!("preset: no preset named {name:?}; the presets are: {}", preset_names()))
            })?;
            (
                BotConfig::parse_profile(Path::new(name), text, amount)
                    .map_err(|e| ApiError::bad_request(format!("{e:#}")))?,
                true,
            )
        } else {
            return Err(ApiError::bad_request("expected {config} or {preset, amount}"));
        };
        let text = |k: &str| body.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
        let interval: Interval = match text("interval") {
            Some(s) => s.parse().map_err(|e| ApiError::bad_request(format!("interval: {e}")))?,
            None => Interval::D1,
        };
        let ranges = bundled_ranges();
        let Some(range) = ranges.iter().find(|r| r["interval"] == interval.to_string()) else {
            let have: Vec<&str> = ranges.iter().filter_map(|r| r["interval"].as_str()).collect();
            return Err(ApiError::bad_request(format!(
                "interval: the bundled data has no {interval} candles (it has {})",
                have.join(", ")
            )));
        };
        let missing: Vec<String> = cfg
            .assets
            .iter()
            .filter(|a| !range["assets"].as_array().is_some_and(|l| l.iter().any(|x| x == a.as_str())))
            .map(|a| a.to_string())
            .collect();
        if !missing.is_empty() {
            return Err(ApiError::bad_request(format!(
                "interval: the bundled data has no {interval} candles of {}; choose another interval",
                missing.join(", ")
            )));
        }
        for k in ["start", "end"] {
            if let Some(v) = text(k)
                && ballast_backtest::parse_date(&v).is_err()
            {
                return Err(ApiError::bad_request(format!("{k}: {v:?} is not a date (YYYY-MM-DD)")));
            }
        }
        if let (Some(s), Some(e)) = (text("start"), text("end"))
            && s > e
        {
            return Err(ApiError::bad_request(format!("the start ({s}) is after the end ({e})")));
        }
        let bundle = crate::app::bundle_dir();
        let data = DataArgs {
            data: bundle.join("binance-spot"),
            start: text("start"),
            end: text("end"),
            caps: bundle.join("cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz"),
            rules: bundle.join("rules/binance-spot.toml"),
        };
        // Presets are judged as the presets page does (ideal); a configuration as the
        // bot would trade it (exchange rules, guards).
        let (ex, mut notes) = if from_preset {
            (None, vec!["ideal mode (BACKTEST.md), as the presets were chosen".to_string()])
        } else {
            let (o, n) = exchange_options(&data.rules, &cfg.assets, Decimal::ZERO)
                .map_err(|e| ApiError::bad_request(format!("{e:#}")))?;
            (Some(o), n)
        };
        let clean = |e: anyhow::Error| ApiError::bad_request(for_people(&format!("{e:#}"), &bundle));
        let strategy = strategy_from_config(&cfg, &data, interval, ex).map_err(clean)?;
        let prep = prepare(&data, &cfg.assets, interval).map_err(clean)?;
        let o = backtest::run(&prep, &strategy, true)
            .map_err(|e| ApiError::bad_request(for_people(&format!("backtest: {e}"), &bundle)))?;
        notes.extend(o.notes.iter().cloned());
        // Say when the data cut the asked period, and when the window is too short for
        // its annualised figures to mean much.
        let day = |t: ballast_core::Timestamp| format_timestamp(t)[..10].to_string();
        let zero = ballast_core::Timestamp(0);
        let (first, last) = (o.times.first().copied().unwrap_or(zero), o.times.last().copied().unwrap_or(zero));
        if let Some(s) = text("start")
            && day(first) > s
        {
            notes.push(format!("the data starts on {}, after the start asked ({s})", day(first)));
        }
        if let Some(e) = text("end")
            && day(last) < e
        {
            notes.push(format!("the data ends on {}, before the end asked ({e})", day(last)));
        }
        let days = (last.0 - first.0) / 86_400_000;
        let short = days < 365;
        if short {
            notes.push(format!(
                "a short window: {days} days; annualised figures (CAGR) over less than a year are not a forecast"
            ));
        }
        let config = describe(&strategy, &cfg.assets, interval, &prep);
        let html = report_html(&o, &config, &notes);
        let pct = |x: f64| (x * 10_000.0).round() / 100.0;
        let initial = cfg.amount.to_string().parse::<f64>().unwrap_or(f64::NAN);
        let summary = json!({
            "name": cfg.name,
            "assets": cfg.assets,
            "interval": interval.to_string(),
            "sim": if matches!(strategy.mode, SimMode::Ideal) { "ideal" } else { "exchange" },
            "start": o.times.first().map(|t| format_timestamp(*t)[..10].to_string()),
            "end": o.times.last().map(|t| format_timestamp(*t)[..10].to_string()),
            "initial": cfg.amount,
            "final_value": (o.metrics.final_value * 100.0).round() / 100.0,
            "hodl_final_value": (o.hodl.final_value * 100.0).round() / 100.0,
            "total_return_percent": pct(o.metrics.final_value / initial - 1.0),
            "hodl_return_percent": pct(o.hodl.final_value / initial - 1.0),
            "cagr_percent": pct(o.metrics.cagr),
            "hodl_cagr_percent": pct(o.hodl.cagr),
            "max_drawdown_percent": pct(o.metrics.max_drawdown),
            "excess_vs_hodl_percent": pct(o.excess_vs_hodl),
            "rebalances": o.metrics.rebalances,
            "fees": (o.metrics.fees_paid * 100.0).round() / 100.0,
            "skipped_legs": o.skipped.len(),
            "days": days,
            "short_window": short,
            "notes": notes,
        });
        Ok((summary, html))
    }

    fn fund(&self, venue: &str, add: &BTreeMap<Asset, Qty>) -> Result<(), ApiError> {
        if venue != "paper" {
            return Ok(());
        }
        let app = self.app();
        for (a, q) in add {
            if q.0 > Decimal::ZERO {
                app.paper.deposit(a, *q).map_err(|e| ApiError::bad_request(format!("{a} {}: {e}", q.0)))?;
            }
        }
        Ok(())
    }
}

/// What the bundled candles cover, per interval: `[{interval, start, end, assets,
/// ranges: {ASSET: [first day, last day]}}]` (`start`, `end`: the dates common to every
/// coin of that interval; an interval without files is not listed). Read once per
/// process.
pub fn bundled_ranges() -> Vec<Value> {
    static RANGES: std::sync::OnceLock<Vec<Value>> = std::sync::OnceLock::new();
    RANGES
        .get_or_init(|| {
            let dir = crate::app::bundle_dir().join("binance-spot");
            let mut out = Vec::new();
            for iv in [Interval::D1, Interval::H4, Interval::H1] {
                let suffix = format!("USDT_{iv}.csv.gz");
                let mut assets: Vec<Asset> = std::fs::read_dir(&dir)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|n| n.strip_suffix(&suffix)).map(str::to_string))
                    .filter_map(|a| Asset::new(&a).ok())
                    .collect();
                assets.sort();
                let Ok(series) = ballast_backtest::data::load_dir(&dir, &assets, iv) else { continue };
                let day = |t: ballast_core::Timestamp| format_timestamp(t)[..10].to_string();
                let per: BTreeMap<String, Value> = series
                    .iter()
                    .filter_map(|s| {
                        Some((
                            s.asset.to_string(),
                            json!([day(s.candles.first()?.open_time), day(s.candles.last()?.open_time)]),
                        ))
                    })
                    .collect();
                let start = series.iter().filter_map(|s| s.candles.first().map(|c| c.open_time)).max();
                let end = series.iter().filter_map(|s| s.candles.last().map(|c| c.open_time)).min();
                if let (Some(s), Some(e)) = (start, end) {
                    out.push(json!({
                        "interval": iv.to_string(),
                        "start": day(s),
                        "end": day(e),
                        "assets": assets,
                        "ranges": per,
                    }));
                }
            }
            out
        })
        .clone()
}

/// An error for the browser: no path of the server's disk (the bundled data is "the
/// bundled data") and no CLI flag (`--start` is "start").
pub fn for_people(msg: &str, bundle: &Path) -> String {
    let mut m = msg.to_string();
    let b = bundle.display().to_string();
    for (from, to) in [
        (format!("{b}/binance-spot/"), String::new()),
        (format!("{b}/binance-spot"), "the bundled data".to_string()),
        (format!("{b}/rules/binance-spot.toml"), "the bundled exchange rules".to_string()),
        (format!("{b}/cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz"), "the bundled market caps".to_string()),
        (b.clone(), "the bundled data".to_string()),
    ] {
        m = m.replace(&from, &to);
    }
    for flag in ["start", "end", "interval", "weights", "max-weight", "data", "caps", "rules", "lookback"] {
        m = m.replace(&format!("--{flag}"), flag);
    }
    // Any other absolute path left: only its file name.
    m.split(' ')
        .map(|w| {
            let t = w.trim_matches(|c: char| c == '"' || c == ':' || c == ',' || c == '(' || c == ')');
            if t.starts_with('/') && t.len() > 1 {
                let name = Path::new(t).file_name().and_then(|n| n.to_str()).unwrap_or("a file");
                w.replace(t, name)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn preset_names() -> String {
    PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
}
