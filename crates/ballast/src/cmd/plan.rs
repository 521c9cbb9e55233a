//! `ballast plan`: the orders that bring a portfolio file back to its targets.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ballast_core::planner::{Plan, PlanInput, RebalanceTo, RulesBook, plan_rebalance};
use ballast_core::sizing::{DEFAULT_MARGIN, min_investment};
use ballast_core::trigger::Threshold;
use ballast_core::{
    Asset, Bps, DriftKind, Holdings, Price, Prices, Qty, SymbolRules, TargetLimits, TargetWeights, Valuation,
};
use rust_decimal::Decimal;
use serde_json::json;

use super::tomlx::{Doc, Format};

/// Arguments of `ballast plan`.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// Portfolio file (TOML): quote, fee_bps, `[holdings]`, `[prices]`, `[targets]`, optional
    /// `[rules.ASSET]`, `[entry_prices]`, rebalance_to, band, band_kind, max_assets.
    #[arg(long, value_name = "FILE")]
    pub portfolio: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// A portfolio file, parsed and validated.
#[derive(Debug)]
pub struct PortfolioFile {
    /// Quote currency.
    pub quote: Asset,
    /// Taker fee.
    pub fee: Bps,
    /// Holdings, the quote included.
    pub holdings: Holdings,
    /// Prices.
    pub prices: Prices,
    /// Targets.
    pub targets: TargetWeights,
    /// Rules.
    pub rules: RulesBook,
    /// Entry prices.
    pub entry_prices: BTreeMap<Asset, Price>,
    /// Target or band edge.
    pub to: RebalanceTo,
}

const KEYS: &[&str] = &[
    "quote",
    "fee_bps",
    "holdings",
    "prices",
    "targets",
    "rules",
    "entry_prices",
    "rebalance_to",
    "band",
    "band_kind",
    "max_assets",
];

/// Reads and validates a portfolio file. Every error names the file and the key.
pub fn load(path: &Path) -> Result<PortfolioFile> {
    let doc = Doc::read(path)?;
    doc.deny_unknown(&doc.root, "", KEYS)?;
    let quote = match doc.root.get("quote") {
        Some(v) => doc.asset(v, "quote")?,
        None => Asset::new("USDT")?,
    };
    let fee_bps = match doc.root.get("fee_bps") {
        Some(v) => doc.decimal(v, "fee_bps")?,
        None => Decimal::from(10),
    };
    let fee = Bps::new(fee_bps).map_err(|e| doc.err("fee_bps", e))?;

    let mut holdings = Holdings::new();
    for (asset, v, key) in doc.asset_table("holdings", true)? {
        let q = doc.decimal(v, &key)?;
        if q < Decimal::ZERO {
            return Err(doc.err(&key, format!("{q} is negative; a holding cannot be negative")));
        }
        holdings.insert(asset, Qty(q));
    }
    let mut prices = Prices::new();
    for (asset, v, key) in doc.asset_table("prices", true)? {
        let p = doc.decimal(v, &key)?;
        if p <= Decimal::ZERO {
            return Err(doc.err(&key, format!("{p} is not a valid price: a price must be greater than zero")));
        }
        if asset == quote {
            return Err(doc.err(&key, format!("{asset} is the quote currency; its price is 1 by definition")));
        }
        prices.insert(asset, Price(p));
    }
    let max_assets = match doc.root.get("max_assets") {
        Some(v) => doc.usize(v, "max_assets")?,
        None => TargetLimits::default().max_assets,
    };
    let limits = TargetLimits { max_assets, ..TargetLimits::default() };
    let entries = doc
        .asset_table("targets", true)?
        .into_iter()
        .map(|(a, v, key)| Ok((a, doc.decimal(v, &key)?)))
        .collect::<Result<Vec<_>>>()?;
    let targets = TargetWeights::from_percent(&quote, &entries, limits).map_err(|e| doc.err("targets", e))?;

    let mut rules = RulesBook::default();
    if let Some(t) = doc.root.get("rules") {
        let t = doc.table(t, "rules")?;
        for (name, v) in t {
            let key = format!("rules.{name}");
            let asset = Asset::new(name).map_err(|e| doc.err(&key, e))?;
            let rt = doc.table(v, &key)?;
            doc.deny_unknown(rt, &key, &["tick", "step", "min_qty", "min_notional"])?;
            let get = |k: &str, default: Decimal| -> Result<Decimal> {
                rt.get(k).map(|v| doc.decimal(v, &format!("{key}.{k}"))).unwrap_or(Ok(default))
            };
            let d = SymbolRules::default();
            let r = SymbolRules {
                tick: get("tick", d.tick)?,
                step: get("step", d.step)?,
                min_qty: get("min_qty", d.min_qty)?,
                min_notional: get("min_notional", d.min_notional)?,
            };
            r.validate(&asset).map_err(|e| doc.err(&key, e))?;
            rules.per_asset.insert(asset, r);
        }
    }
    let mut entry_prices = BTreeMap::new();
    for (asset, v, key) in doc.asset_table("entry_prices", false)? {
        let p = doc.decimal(v, &key)?;
        if p <= Decimal::ZERO {
            return Err(doc.err(&key, format!("{p} is not a valid entry price: it must be greater than zero")));
        }
        entry_prices.insert(asset, Price(p));
    }
    let to = match doc.root.get("rebalance_to").map(|v| doc.string(v, "rebalance_to")).transpose()? {
        None | Some("target") => RebalanceTo::Target,
        Some("band-edge") => {
            let band = doc
                .root
                .get("band")
                .ok_or_else(|| doc.err("band", "rebalance_to = \"band-edge\" needs band (percent)"))?;
            let band = doc.decimal(band, "band")?;
            let kind = match doc.root.get("band_kind").map(|v| doc.string(v, "band_kind")).transpose()? {
                None | Some("absolute") => DriftKind::Absolute,
                Some("relative") => DriftKind::Relative,
                Some(other) => return Err(doc.err("band_kind", format!("{other:?}: use \"absolute\" or \"relative\""))),
            };
            RebalanceTo::BandEdge { band: Threshold::new(band, kind).map_err(|e| doc.err("band", e))? }
        }
        Some(other) => return Err(doc.err("rebalance_to", format!("{other:?}: use \"target\" or \"band-edge\""))),
    };
    // Every asset held or targeted needs a price.
    for asset in holdings.keys().chain(targets.assets()) {
        if asset != &quote && !prices.contains_key(asset) {
            return Err(doc.err(
                &format!("prices.{asset}"),
                format!("missing: {asset} is held or targeted, so it needs a price"),
            ));
        }
    }
    Ok(PortfolioFile { quote, fee, holdings, prices, targets, rules, entry_prices, to })
}

/// Runs `ballast plan`.
pub fn run(args: &PlanArgs) -> Result<()> {
    let p = load(&args.portfolio)?;
    let plan = plan_rebalance(&PlanInput {
        holdings: &p.holdings,
        prices: &p.prices,
        targets: &p.targets,
        rules: &p.rules,
        fee: p.fee,
        to: p.to,
        entry_prices: &p.entry_prices,
    })
    .with_context(|| format!("{}", args.portfolio.display()))?;
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&plan_json(&plan))?),
        Format::Text => print!("{}", render_text(&p, &plan)?),
    }
    Ok(())
}

/// The JSON shape of a plan: decimals as strings, weights as fractions.
pub fn plan_json(plan: &Plan) -> serde_json::Value {
    let weights = |w: &BTreeMap<Asset, ballast_core::Weight>| -> serde_json::Value {
        w.iter().map(|(a, w)| (a.to_string(), json!(w.0.round_dp(10).normalize().to_string()))).collect()
    };
    json!({
        "quote": plan.quote.to_string(),
        "legs": plan.legs.iter().map(|l| json!({
            "asset": l.asset.to_string(),
            "side": l.side.to_string(),
            "quantity": l.quantity.to_string(),
            "price": l.price.to_string(),
            "notional": l.notional.0.round_dp(8).normalize().to_string(),
            "fee": l.fee.0.round_dp(8).normalize().to_string(),
        })).collect::<Vec<_>>(),
        "skipped": plan.skipped.iter().map(|s| json!({
            "asset": s.asset.to_string(),
            "side": s.side.to_string(),
            "notional": s.notional.0.round_dp(8).normalize().to_string(),
            "reason": s.reason.to_string(),
        })).collect::<Vec<_>>(),
        "value_before": plan.value_before.0.round_dp(8).normalize().to_string(),
        "value_after": plan.value_after.0.round_dp(8).normalize().to_string(),
        "fees": plan.fees.0.round_dp(8).normalize().to_string(),
        "weights_before": weights(&plan.weights_before),
        "weights_after": weights(&plan.weights_after),
        "max_drift_after": plan.max_drift_after.round_dp(10).normalize().to_string(),
    })
}

fn pct(d: Decimal) -> String {
    format!("{:.2}%", d * Decimal::ONE_HUNDRED)
}

fn money(d: Decimal) -> String {
    format!("{:.2}", d)
}

fn render_text(p: &PortfolioFile, plan: &Plan) -> Result<String> {
    use std::fmt::Write;
    let q = &p.quote;
    let mut out = String::new();
    let v = Valuation::new(q, &p.holdings, &p.prices, Some(&p.targets))?;
    writeln!(
        out,
        "Portfolio value {} {q} (fee {}, {})",
        money(v.total.0),
        p.fee,
        match p.to {
            RebalanceTo::Target => "rebalance to target".to_string(),
            RebalanceTo::BandEdge { band } => format!("rebalance to the band edge, {band}"),
        }
    )?;
    writeln!(out)?;
    writeln!(
        out,
        "{:<8} {:>14} {:>16} {:>12} {:>8} {:>8} {:>9}",
        "asset", "price", "held", "value", "weight", "target", "drift"
    )?;
    for (asset, value) in &v.values {
        let w = v.weight(asset).0;
        let t = p.targets.weight(asset).0;
        writeln!(
            out,
            "{:<8} {:>14} {:>16} {:>12} {:>8} {:>8} {:>+8.2}pp",
            asset.as_str(),
            p.prices[asset].to_string(),
            p.holdings.get(asset).copied().unwrap_or_default().to_string(),
            money(value.0),
            pct(w),
            pct(t),
            (w - t) * Decimal::ONE_HUNDRED
        )?;
    }
    writeln!(out, "{:<8} {:>14} {:>16} {:>12} {:>8}", q.as_str(), "", "", money(v.cash.0), pct(v.cash_weight().0))?;
    writeln!(out)?;
    if plan.legs.is_empty() {
        writeln!(out, "No orders: nothing to trade.")?;
    } else {
        writeln!(out, "Orders ({}; sells first):", plan.legs.len())?;
        for l in &plan.legs {
            writeln!(
                out,
                "  {:<4} {:<6} {:>16} @ {:<12} = {:>12} {q}  fee {}",
                l.side.to_string().to_uppercase(),
                l.asset.as_str(),
                l.quantity.to_string(),
                l.price.to_string(),
                money(l.notional.0),
                l.fee.0.round_dp(4).normalize()
            )?;
        }
    }
    if !plan.skipped.is_empty() {
        writeln!(out, "Skipped:")?;
        for s in &plan.skipped {
            writeln!(out, "  {s}")?;
        }
    }
    writeln!(out)?;
    let after: Vec<String> = plan.weights_after.iter().map(|(a, w)| format!("{a} {}", pct(w.0))).collect();
    writeln!(out, "After: {}", after.join(", "))?;
    writeln!(
        out,
        "Fees {} {q}; value after {} {q}; largest drift left {:.2} percentage points",
        plan.fees.0.round_dp(4).normalize(),
        money(plan.value_after.0),
        plan.max_drift_after * Decimal::ONE_HUNDRED
    )?;
    if let Ok(m) = min_investment(&p.targets, &p.prices, &p.rules, p.fee, DEFAULT_MARGIN) {
        writeln!(out, "Minimum investment for these targets: {} {q} (set by {})", money(m.amount.0), m.binding)?;
    }
    Ok(out)
}
