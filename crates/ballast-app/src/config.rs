//! The bot configuration file: one TOML file per bot. `ballast backtest --config`
//! reads the same file, so a backtest is of exactly the bot a user would run.
//! docs/CONFIG.md lists every key.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Result;
use ballast_core::execution::{Execution, FeeReserve, OrderStyle};
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{Method, Shrinkage};
use ballast_core::{Asset, Bps, DriftKind, Price, Span, TargetLimits, TargetWeights};
use rust_decimal::Decimal;
use toml::Table;

use crate::doc::Doc;

/// How the weights of a bot are chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightsConfig {
    /// The method.
    pub method: Method,
    /// Custom weights, percent (method = custom).
    pub custom: BTreeMap<Asset, Decimal>,
    /// Trailing window for risk-based methods.
    pub lookback: Span,
    /// Covariance estimator for risk-based methods.
    pub shrinkage: Shrinkage,
    /// Market cap: largest weight of one asset, percent.
    pub max_weight: Option<Decimal>,
    /// Weights from data are estimated again at every rebalance, and also this often
    /// when set (`reestimate = "7d"`).
    pub reestimate: Option<Span>,
}

/// When a bot rebalances.
#[derive(Clone, Debug, PartialEq)]
pub struct RebalanceConfig {
    /// The trigger (threshold with cooldown, or calendar with a gate).
    pub trigger: Trigger,
    /// To the target or to the band edge.
    pub to: RebalanceTo,
}

/// A bot's configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct BotConfig {
    /// A name for people.
    pub name: String,
    /// What the bot is for (presets carry one).
    pub description: String,
    /// How a preset was chosen (free-form key/values; shown by `ballast presets`).
    pub provenance: BTreeMap<String, String>,
    /// paper, binance or gate.
    pub venue: String,
    /// A live venue's API address, to point a bot at `ballast sim` (or a testnet).
    pub base_url: Option<String>,
    /// The quote currency.
    pub quote: Asset,
    /// Amount to invest, in quote.
    pub amount: Decimal,
    /// Taker fee assumed (paper venue and backtests).
    pub fee: Bps,
    /// The cap on the number of assets.
    pub max_assets: usize,
    /// The assets, in the order given.
    pub assets: Vec<Asset>,
    /// Weighting.
    pub weights: WeightsConfig,
    /// Trigger.
    pub rebalance: RebalanceConfig,
    /// Entry prices, stop-loss, take-profit.
    pub guards: Guards,
    /// How plans are executed (`[execution]`).
    pub execution: Execution,
}

const TOP: &[&str] = &[
    "name",
    "description",
    "preset",
    "venue",
    "base_url",
    "quote",
    "amount",
    "fee_bps",
    "max_assets",
    "assets",
    "weights",
    "rebalance",
    "guards",
    "execution",
];
const EXECUTION: &[&str] = &["style", "reprice", "deadline", "direct_pairs", "new_cash_first", "fee_reserve"];
const FEE_RESERVE: &[&str] = &["asset", "min", "target"];
const WEIGHTS: &[&str] = &["method", "custom", "lookback", "shrinkage", "max_weight", "reestimate"];
const REBALANCE: &[&str] = &["mode", "threshold", "threshold_kind", "cooldown", "every", "min_drift", "to"];
const GUARDS: &[&str] = &["stop_loss", "take_profit", "entry_prices"];
/// The venues ballast knows.
pub const VENUES: &[&str] = &["paper", "binance", "gate"];

impl BotConfig {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        Self::from_doc(&Doc::read(path)?)
    }

    /// Parses a bot's stored configuration (an edited one carries no amount: the
    /// amount of a running bot is its cash flows).
    pub fn parse_stored(text: &str) -> Result<Self> {
        let mut table: toml::Table =
            text.parse().map_err(|e: toml::de::Error| anyhow::anyhow!("stored configuration: {e}"))?;
        if !table.contains_key("amount") {
            table.insert("amount".into(), toml::Value::String("1".into()));
        }
        Self::parse_text(Path::new("stored configuration"), &toml::to_string(&table)?)
    }

    /// Parses configuration text; `origin` names it in errors.
    pub fn parse_text(origin: &Path, text: &str) -> Result<Self> {
        Self::from_doc(&Doc::parse(origin, text)?)
    }

    /// Parses a profile (a configuration without an amount, such as a preset) and
    /// invests `amount` in it; `origin` names it in errors.
    pub fn parse_profile(origin: &Path, text: &str, amount: Decimal) -> Result<Self> {
        let mut doc = Doc::parse(origin, text)?;
        if doc.root.contains_key("amount") {
            return Err(doc.err("amount", "a profile carries no amount; give it when you use the profile"));
        }
        doc.root.insert("amount".into(), toml::Value::String(amount.to_string()));
        Self::from_doc(&doc)
    }

    fn from_doc(doc: &Doc) -> Result<Self> {
        let root = &doc.root;
        doc.deny_unknown(root, "", TOP)?;
        let text = |key: &str, default: &str| -> Result<String> {
            root.get(key).map(|v| doc.string(v, key).map(str::to_string)).unwrap_or(Ok(default.to_string()))
        };
        let name = text("name", "ballast")?;
        let description = text("description", "")?;
        let mut provenance = BTreeMap::new();
        if let Some(v) = root.get("preset") {
            for (k, v) in doc.table(v, "preset")? {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                provenance.insert(k.clone(), text);
            }
        }
        if name.trim().is_empty() || name.len() > 64 {
            return Err(doc.err("name", "must be 1 to 64 characters"));
        }
        if let Some(c) = name.chars().find(|c| unprintable(*c)) {
            return Err(doc.err(
                "name",
                format!("{name:?} holds the control character U+{:04X}; a name is printable text", c as u32),
            ));
        }
        let venue = text("venue", "paper")?;
        if !VENUES.contains(&venue.as_str()) {
            return Err(doc.err("venue", format!("{venue:?} is not a venue; use one of: {}", VENUES.join(", "))));
        }
        let base_url = root.get("base_url").map(|v| doc.string(v, "base_url").map(str::to_string)).transpose()?;
        if let Some(u) = &base_url {
            if venue == "paper" {
                return Err(doc.err("base_url", "only for a live venue (venue = \"binance\" or \"gate\")"));
            }
            if !(u.starts_with("http://") || u.starts_with("https://")) {
                return Err(doc.err("base_url", format!("{u:?} is not an http(s) URL")));
            }
        }
        let quote = match root.get("quote") {
            Some(v) => doc.asset(v, "quote")?,
            None => Asset::new("USDT")?,
        };
        let amount = match root.get("amount") {
            Some(v) => doc.decimal(v, "amount")?,
            None => return Err(doc.err("amount", "missing: how much quote to invest")),
        };
        if amount <= Decimal::ZERO {
            return Err(doc.err("amount", format!("{amount} must be greater than zero")));
        }
        if amount > ballast_core::money::MAX_AMOUNT {
            return Err(doc.err(
                "amount",
                format!("{amount} is above the largest amount accepted ({})", ballast_core::money::MAX_AMOUNT),
            ));
        }
        let fee = match root.get("fee_bps") {
            Some(v) => Bps::new(doc.decimal(v, "fee_bps")?).map_err(|e| doc.err("fee_bps", e))?,
            None => Bps(Decimal::from(10)),
        };
        // The product's cap is 12 coins: `max_assets` may lower it, never lift it.
        let cap = TargetLimits::default().max_assets;
        let max_assets = match root.get("max_assets") {
            Some(v) => {
                let n = doc.usize(v, "max_assets")?;
                if n < 2 || n > cap {
                    return Err(doc.err("max_assets", format!("{n} is out of range (allowed: 2 ..= {cap})")));
                }
                n
            }
            None => cap,
        };

        // [weights]
        let empty = Table::new();
        let wt = match root.get("weights") {
            Some(v) => doc.table(v, "weights")?,
            None => &empty,
        };
        doc.deny_unknown(wt, "weights", WEIGHTS)?;
        let method: Method = match wt.get("method") {
            Some(v) => doc.string(v, "weights.method")?.parse().map_err(|e| doc.err("weights.method", e))?,
            None => Method::Equal,
        };
        let mut custom = BTreeMap::new();
        if let Some(v) = wt.get("custom") {
            for (k, w) in doc.table(v, "weights.custom")? {
                let key = format!("weights.custom.{k}");
                let a = Asset::new(k).map_err(|e| doc.err(&key, e))?;
                if custom.insert(a.clone(), doc.decimal(w, &key)?).is_some() {
                    return Err(doc.err(&key, format!("{a} is listed twice")));
                }
            }
        }
        let lookback: Span = match wt.get("lookback") {
            Some(v) => doc.string(v, "weights.lookback")?.parse().map_err(|e| doc.err("weights.lookback", e))?,
            None => Span::days(90),
        };
        if lookback < Span::days(7) || lookback > Span::days(3650) {
            return Err(doc.err("weights.lookback", format!("{lookback} is out of range (7d ..= 3650d)")));
        }
        let shrinkage: Shrinkage = match wt.get("shrinkage") {
            Some(v) => doc.string(v, "weights.shrinkage")?.parse().map_err(|e| doc.err("weights.shrinkage", e))?,
            None => Shrinkage::None,
        };
        let max_weight = wt.get("max_weight").map(|v| doc.decimal(v, "weights.max_weight")).transpose()?;
        let reestimate: Option<Span> = match wt.get("reestimate") {
            Some(v) => {
                let span: Span =
                    doc.string(v, "weights.reestimate")?.parse().map_err(|e| doc.err("weights.reestimate", e))?;
                if span < Span::hours(4) || span > Span::days(365) {
                    return Err(doc.err("weights.reestimate", format!("{span} is out of range (4h ..= 365d)")));
                }
                Some(span)
            }
            None => None,
        };
        if let Some(m) = max_weight
            && (m <= Decimal::ZERO || m > Decimal::ONE_HUNDRED)
        {
            return Err(doc.err("weights.max_weight", format!("{m} is out of range (0 < percent <= 100)")));
        }

        // assets
        let assets: Vec<Asset> = match root.get("assets") {
            Some(v) => {
                let arr =
                    v.as_array().ok_or_else(|| doc.err("assets", "expected a list such as [\"BTC\", \"ETH\"]"))?;
                let mut out: Vec<Asset> = Vec::new();
                for (i, a) in arr.iter().enumerate() {
                    let key = format!("assets[{i}]");
                    let a = doc.asset(a, &key)?;
                    if out.contains(&a) {
                        return Err(doc.err(&key, format!("{a} is listed twice")));
                    }
                    out.push(a);
                }
                out
            }
            None if method == Method::Custom => custom.keys().cloned().collect(),
            None => return Err(doc.err("assets", "missing: the coins to hold, e.g. [\"BTC\", \"ETH\"]")),
        };
        let limits = TargetLimits { max_assets, ..TargetLimits::default() };
        if method == Method::Custom {
            if custom.is_empty() {
                return Err(
                    doc.err("weights.custom", "missing: method = \"custom\" needs [weights.custom] ASSET = percent")
                );
            }
            for a in &assets {
                if !custom.contains_key(a) {
                    return Err(doc.err(&format!("weights.custom.{a}"), "missing: every asset needs a weight"));
                }
            }
            for a in custom.keys() {
                if !assets.contains(a) {
                    return Err(doc.err(&format!("weights.custom.{a}"), format!("{a} is not in assets")));
                }
            }
            let entries: Vec<(Asset, Decimal)> = custom.iter().map(|(a, w)| (a.clone(), *w)).collect();
            TargetWeights::from_percent(&quote, &entries, limits).map_err(|e| doc.err("weights.custom", e))?;
        } else {
            if !custom.is_empty() {
                return Err(doc.err("weights.custom", format!("only for method = \"custom\" (method is {method})")));
            }
            // Same count and quote checks as custom targets, on equal weights.
            let entries: Vec<(Asset, Decimal)> = assets.iter().map(|a| (a.clone(), Decimal::ONE)).collect();
            let n = Decimal::from(entries.len().max(1));
            let entries: Vec<_> = entries.into_iter().map(|(a, _)| (a, Decimal::ONE_HUNDRED / n)).collect();
            TargetWeights::from_percent(&quote, &entries, limits).map_err(|e| doc.err("assets", e))?;
        }
        if max_weight.is_some() && method != Method::MarketCap {
            return Err(doc.err("weights.max_weight", "only for method = \"market-cap\""));
        }

        // [rebalance]
        let rt = match root.get("rebalance") {
            Some(v) => doc.table(v, "rebalance")?,
            None => &empty,
        };
        doc.deny_unknown(rt, "rebalance", REBALANCE)?;
        let rstr = |k: &str| rt.get(k).map(|v| doc.string(v, &format!("rebalance.{k}"))).transpose();
        let kind = match rstr("threshold_kind")? {
            None | Some("absolute") => DriftKind::Absolute,
            Some("relative") => DriftKind::Relative,
            Some(o) => {
                return Err(doc.err("rebalance.threshold_kind", format!("{o:?}: use \"absolute\" or \"relative\"")));
            }
        };
        let span = |k: &str| -> Result<Option<Span>> {
            rstr(k)?.map(|s| s.parse::<Span>().map_err(|e| doc.err(&format!("rebalance.{k}"), e))).transpose()
        };
        let threshold = |k: &str| -> Result<Option<Threshold>> {
            rt.get(k)
                .map(|v| {
                    let key = format!("rebalance.{k}");
                    Threshold::new(doc.decimal(v, &key)?, kind).map_err(|e| doc.err(&key, e))
                })
                .transpose()
        };
        let mode = rstr("mode")?.unwrap_or("threshold");
        let trigger = match mode {
            "threshold" => {
                for k in ["every", "min_drift"] {
                    if rt.contains_key(k) {
                        return Err(doc.err(&format!("rebalance.{k}"), "only for mode = \"calendar\""));
                    }
                }
                let th = threshold("threshold")?.unwrap_or(Threshold::new(Decimal::from(3), kind)?);
                Trigger::threshold(th, span("cooldown")?).map_err(|e| doc.err("rebalance.cooldown", e))?
            }
            "calendar" => {
                for k in ["threshold", "cooldown"] {
                    if rt.contains_key(k) {
                        return Err(doc.err(&format!("rebalance.{k}"), "only for mode = \"threshold\""));
                    }
                }
                let every = span("every")?.ok_or_else(|| doc.err("rebalance.every", "missing: e.g. every = \"1d\""))?;
                Trigger::calendar(every, threshold("min_drift")?).map_err(|e| doc.err("rebalance.every", e))?
            }
            other => return Err(doc.err("rebalance.mode", format!("{other:?}: use \"threshold\" or \"calendar\""))),
        };
        let to = match rstr("to")? {
            None | Some("target") => RebalanceTo::Target,
            Some("band-edge") => match trigger {
                Trigger::Threshold { threshold, .. } => RebalanceTo::BandEdge { band: threshold },
                Trigger::Calendar { min_drift: Some(g), .. } => RebalanceTo::BandEdge { band: g },
                Trigger::Calendar { .. } => {
                    return Err(doc.err(
                        "rebalance.to",
                        "\"band-edge\" needs a band: a threshold, or min_drift in calendar mode",
                    ));
                }
            },
            Some(o) => return Err(doc.err("rebalance.to", format!("{o:?}: use \"target\" or \"band-edge\""))),
        };

        // [guards]
        let gt = match root.get("guards") {
            Some(v) => doc.table(v, "guards")?,
            None => &empty,
        };
        doc.deny_unknown(gt, "guards", GUARDS)?;
        let mut guards = Guards {
            stop_loss_percent: gt.get("stop_loss").map(|v| doc.decimal(v, "guards.stop_loss")).transpose()?,
            take_profit_percent: gt.get("take_profit").map(|v| doc.decimal(v, "guards.take_profit")).transpose()?,
            ..Guards::default()
        };
        if let Some(v) = gt.get("entry_prices") {
            for (k, p) in doc.table(v, "guards.entry_prices")? {
                let key = format!("guards.entry_prices.{k}");
                let a = Asset::new(k).map_err(|e| doc.err(&key, e))?;
                if !assets.contains(&a) {
                    return Err(doc.err(&key, format!("{a} is not in assets")));
                }
                guards.entry_prices.insert(a, Price(doc.decimal(p, &key)?));
            }
        }
        guards.validate().map_err(|e| doc.err("guards", e))?;

        // [execution]
        let et = match root.get("execution") {
            Some(v) => doc.table(v, "execution")?,
            None => &empty,
        };
        doc.deny_unknown(et, "execution", EXECUTION)?;
        let estr = |k: &str| et.get(k).map(|v| doc.string(v, &format!("execution.{k}"))).transpose();
        let ebool = |k: &str, default: bool| -> Result<bool> {
            match et.get(k) {
                None => Ok(default),
                Some(toml::Value::Boolean(b)) => Ok(*b),
                Some(_) => Err(doc.err(&format!("execution.{k}"), "expected true or false")),
            }
        };
        let espan = |k: &str, default: Span| -> Result<Span> {
            match estr(k)? {
                None => Ok(default),
                Some(s) => s.parse::<Span>().map_err(|e| doc.err(&format!("execution.{k}"), e)),
            }
        };
        let style = match estr("style")? {
            None | Some("taker") => {
                for k in ["reprice", "deadline"] {
                    if et.contains_key(k) {
                        return Err(doc.err(&format!("execution.{k}"), "only for style = \"maker-first\""));
                    }
                }
                OrderStyle::Taker
            }
            Some("maker-first" | "maker_first") => OrderStyle::MakerFirst {
                reprice: espan("reprice", Span::minutes(1))?,
                deadline: espan("deadline", Span::minutes(30))?,
            },
            Some(o) => {
                return Err(doc.err("execution.style", format!("{o:?}: use \"taker\" or \"maker-first\"")));
            }
        };
        let fee_reserve = match et.get("fee_reserve") {
            None => None,
            Some(v) => {
                let ft = doc.table(v, "execution.fee_reserve")?;
                doc.deny_unknown(ft, "execution.fee_reserve", FEE_RESERVE)?;
                let need = |k: &str| {
                    ft.get(k).ok_or_else(|| doc.err(&format!("execution.fee_reserve.{k}"), "missing (required)"))
                };
                let asset = doc.string(need("asset")?, "execution.fee_reserve.asset")?;
                let asset = Asset::new(&asset.to_uppercase()).map_err(|e| doc.err("execution.fee_reserve.asset", e))?;
                let min = doc.decimal(need("min")?, "execution.fee_reserve.min")?;
                let target = doc.decimal(need("target")?, "execution.fee_reserve.target")?;
                let reserve = FeeReserve { asset, min, target };
                reserve.validate(&quote, &assets).map_err(|e| doc.err("execution", e))?;
                Some(reserve)
            }
        };
        let execution = Execution {
            style,
            direct_pairs: ebool("direct_pairs", false)?,
            new_cash_first: ebool("new_cash_first", true)?,
            fee_reserve,
        };
        execution.validate().map_err(|e| doc.err("execution", e))?;

        Ok(Self {
            name,
            description,
            provenance,
            venue,
            base_url,
            quote,
            amount,
            fee,
            max_assets,
            assets,
            weights: WeightsConfig { method, custom, lookback, shrinkage, max_weight, reestimate },
            rebalance: RebalanceConfig { trigger, to },
            guards,
            execution,
        })
    }
}

/// Reads a rules file: `[rules.ASSET]` tables with `step`, `tick`, `min_qty`,
/// `min_notional` (the shape of Binance's LOT_SIZE, PRICE_FILTER and NOTIONAL filters).
/// The file's cross pairs (`[pairs."ETH/BTC"]`) are read by [`load_pairs`].
pub fn load_rules(path: &Path) -> Result<ballast_core::planner::RulesBook> {
    let doc = Doc::read(path)?;
    doc.deny_unknown(&doc.root, "", &["venue", "source", "rules", "pairs"])?;
    let mut book = ballast_core::planner::RulesBook::default();
    let Some(t) = doc.root.get("rules") else {
        return Err(doc.err("rules", "missing table"));
    };
    for (name, v) in doc.table(t, "rules")? {
        let key = format!("rules.{name}");
        let asset = Asset::new(name).map_err(|e| doc.err(&key, e))?;
        let r = symbol_rules(&doc, v, &key)?;
        r.validate(&asset).map_err(|e| doc.err(&key, e))?;
        book.per_asset.insert(asset, r);
    }
    Ok(book)
}

/// Reads the cross pairs of a rules file: `[pairs."BASE/QUOTE"]` tables with the same
/// keys as `[rules.ASSET]` (their minimum order value is in the pair's quote). A file
/// without pairs lists none.
pub fn load_pairs(path: &Path) -> Result<ballast_core::planner::PairBook> {
    let doc = Doc::read(path)?;
    let mut book = ballast_core::planner::PairBook::default();
    let Some(t) = doc.root.get("pairs") else { return Ok(book) };
    for (name, v) in doc.table(t, "pairs")? {
        let key = format!("pairs.\"{name}\"");
        let Some((b, q)) = name.split_once('/') else {
            return Err(doc.err(&key, "a pair is written \"BASE/QUOTE\", e.g. \"ETH/BTC\""));
        };
        let base = Asset::new(b).map_err(|e| doc.err(&key, e))?;
        let quote = Asset::new(q).map_err(|e| doc.err(&key, e))?;
        if base == quote {
            return Err(doc.err(&key, "base and quote are the same"));
        }
        let r = symbol_rules(&doc, v, &key)?;
        r.validate(&base).map_err(|e| doc.err(&key, e))?;
        book.insert(&base, &quote, r);
    }
    Ok(book)
}

fn symbol_rules(doc: &Doc, v: &toml::Value, key: &str) -> Result<ballast_core::SymbolRules> {
    let rt = doc.table(v, key)?;
    doc.deny_unknown(rt, key, &["tick", "step", "min_qty", "min_notional"])?;
    let get = |k: &str| -> Result<Decimal> {
        match rt.get(k) {
            Some(v) => doc.decimal(v, &format!("{key}.{k}")),
            None => Err(doc.err(&format!("{key}.{k}"), "missing")),
        }
    };
    Ok(ballast_core::SymbolRules {
        tick: get("tick")?,
        step: get("step")?,
        min_qty: get("min_qty")?,
        min_notional: get("min_notional")?,
    })
}

/// Characters a bot name may not hold: control characters (ESC, NUL, line breaks:
/// they would rewrite a terminal's `bot list`) and the bidirectional overrides (they
/// reorder what is shown).
pub fn unprintable(c: char) -> bool {
    c.is_control() || ('\u{202A}'..='\u{202E}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        "name = \"x\"\nvenue = \"paper\"\nquote = \"USDT\"\namount = \"100\"\nassets = [\"BTC\", \"ETH\"]\n";

    fn parse(extra: &str) -> Result<BotConfig> {
        BotConfig::parse_text(Path::new("bot.toml"), &format!("{BASE}{extra}"))
    }

    #[test]
    fn execution_defaults_to_taker_with_new_cash_first() {
        assert_eq!(parse("").unwrap().execution, Execution::default());
    }

    #[test]
    fn execution_settings_are_read_and_checked_naming_the_key() {
        let c = parse("[execution]\nstyle = \"maker-first\"\nreprice = \"2m\"\ndeadline = \"1h\"\ndirect_pairs = true\nnew_cash_first = false\n")
            .unwrap();
        assert_eq!(
            c.execution,
            Execution {
                style: OrderStyle::MakerFirst { reprice: Span::minutes(2), deadline: Span::hours(1) },
                direct_pairs: true,
                new_cash_first: false,
                fee_reserve: None,
            }
        );
        let c = parse("[execution]\nfee_reserve = { asset = \"bnb\", min = \"10\", target = \"25.5\" }\n").unwrap();
        assert_eq!(
            c.execution.fee_reserve,
            Some(FeeReserve { asset: Asset::new("BNB").unwrap(), min: Decimal::TEN, target: Decimal::new(255, 1) })
        );
        for (text, key) in [
            ("[execution]\nstyle = \"fast\"\n", "execution.style"),
            ("[execution]\nreprice = \"1m\"\n", "execution.reprice"),
            ("[execution]\nstyle = \"maker-first\"\nreprice = \"1h\"\ndeadline = \"10m\"\n", "execution.deadline"),
            ("[execution]\nstyle = \"maker-first\"\nreprice = \"1s\"\n", "execution.reprice"),
            ("[execution]\ndirect_pairs = \"yes\"\n", "execution.direct_pairs"),
            ("[execution]\nspeed = 1\n", "speed"),
            (
                "[execution]\nfee_reserve = { asset = \"BNB\", min = \"0\", target = \"25\" }\n",
                "execution.fee_reserve.min",
            ),
            (
                "[execution]\nfee_reserve = { asset = \"BNB\", min = \"10\", target = \"5\" }\n",
                "execution.fee_reserve.target",
            ),
            (
                "[execution]\nfee_reserve = { asset = \"USDT\", min = \"10\", target = \"25\" }\n",
                "execution.fee_reserve.asset",
            ),
            (
                "[execution]\nfee_reserve = { asset = \"BTC\", min = \"10\", target = \"25\" }\n",
                "execution.fee_reserve.asset",
            ),
            ("[execution]\nfee_reserve = { asset = \"BNB\", target = \"25\" }\n", "execution.fee_reserve.min"),
            (
                "[execution]\nfee_reserve = { asset = \"BNB\", min = \"x\", target = \"25\" }\n",
                "execution.fee_reserve.min",
            ),
            (
                "[execution]\nfee_reserve = { asset = \"BNB\", min = 1, target = 2, max = 3 }\n",
                "execution.fee_reserve.max",
            ),
            ("[execution]\nfee_reserve = \"BNB\"\n", "execution.fee_reserve"),
        ] {
            let e = format!("{:#}", parse(text).unwrap_err());
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn a_fee_reserve_survives_a_profile_export_and_import() {
        let text = format!("{BASE}[execution]\nfee_reserve = {{ asset = \"BNB\", min = \"10\", target = \"25\" }}\n");
        let original = BotConfig::parse_text(Path::new("bot.toml"), &text).unwrap();
        let line = crate::profile::profile_line(&crate::profile::profile_toml(&text).unwrap());
        let (_, profile) = crate::profile::read_profile(&line).unwrap();
        assert!(!profile.contains("amount"), "{profile}");
        let copy = BotConfig::parse_text(Path::new("profile"), &format!("amount = \"100\"\n{profile}")).unwrap();
        assert_eq!(copy.execution, original.execution);
        assert_eq!(copy.execution.fee_reserve.unwrap().target, Decimal::from(25));
    }
}
