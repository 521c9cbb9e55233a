//! `ballast weights`: target weights from price history or market caps.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use ballast_backtest::{Interval, align, format_timestamp, load_dir, load_snapshots, parse_date, parse_end_date};
use ballast_core::Asset;
use ballast_core::weighting::{self, Covariance, Method, ReturnMatrix, RiskOptions, Shrinkage};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::json;

use super::tomlx::Format;

/// The bundled candles (found from any working directory: see [`crate::app::bundle_dir`]).
pub fn default_data_dir() -> PathBuf {
    crate::app::bundle_dir().join("binance-spot")
}

/// The bundled market-cap snapshots.
pub fn default_caps_file() -> PathBuf {
    crate::app::bundle_dir().join("cmc-monthly/coinmarketcap_monthly_all_snapshots.csv.gz")
}

/// Arguments of `ballast weights`.
#[derive(Debug, clap::Args)]
pub struct WeightsArgs {
    /// equal, market-cap, inverse-vol, min-variance, risk-parity or hrp.
    #[arg(long)]
    pub method: String,
    /// Folder of candle files `<ASSET>USDT_<interval>.csv[.gz]`.
    #[arg(long, value_name = "DIR", default_value_os_t = default_data_dir())]
    pub data: PathBuf,
    /// Candle interval: 1d, 4h or 1h.
    #[arg(long, default_value = "1d")]
    pub interval: String,
    /// Comma-separated assets, e.g. BTC,ETH,XRP.
    #[arg(long, value_delimiter = ',', required = true)]
    pub assets: Vec<String>,
    /// First day of the window (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub start: Option<String>,
    /// Last day of the window, inclusive (YYYY-MM-DD, UTC).
    #[arg(long)]
    pub end: Option<String>,
    /// Covariance estimator for min-variance, risk-parity and hrp: none or ledoit-wolf.
    #[arg(long, default_value = "none")]
    pub shrinkage: String,
    /// Market cap only: the largest weight one asset may take, in percent; the excess
    /// goes to the others in proportion to their caps.
    #[arg(long, value_name = "PERCENT")]
    pub max_weight: Option<Decimal>,
    /// Market cap only: the snapshot file (CoinMarketCap monthly CSV, plain or gzip).
    #[arg(long, value_name = "FILE", default_value_os_t = default_caps_file())]
    pub caps: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// Parses a comma-separated asset list, refusing duplicates.
pub fn parse_assets(list: &[String]) -> Result<Vec<Asset>> {
    let mut out: Vec<Asset> = Vec::new();
    for s in list.iter().filter(|s| !s.trim().is_empty()) {
        let a = Asset::new(s).with_context(|| "--assets")?;
        if out.contains(&a) {
            bail!("--assets: {a} is listed twice");
        }
        out.push(a);
    }
    if out.is_empty() {
        bail!("--assets: no asset given");
    }
    Ok(out)
}

/// Runs `ballast weights`.
pub fn run(args: &WeightsArgs) -> Result<()> {
    let method: Method = args.method.parse().context("--method")?;
    let assets = parse_assets(&args.assets)?;
    let start = args.start.as_deref().map(parse_date).transpose().context("--start")?;
    let end = args.end.as_deref().map(parse_end_date).transpose().context("--end")?;
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        bail!("--start {} is after --end {}", args.start.as_deref().unwrap_or(""), args.end.as_deref().unwrap_or(""));
    }
    let shrinkage = match args.shrinkage.as_str() {
        "none" => Shrinkage::None,
        "ledoit-wolf" => Shrinkage::LedoitWolf,
        other => bail!("--shrinkage {other:?}: use none or ledoit-wolf"),
    };
    if args.max_weight.is_some() && method != Method::MarketCap {
        bail!("--max-weight applies to --method market-cap only");
    }

    let mut details = serde_json::Map::new();
    let mut rows: Vec<(Asset, f64, Option<f64>, Option<f64>)> = Vec::new(); // weight, vol, risk share
    let header: String;
    match method {
        Method::Equal => {
            let w = weighting::equal(&assets)?;
            rows = w.iter().map(|(a, w)| (a.clone(), w.to_f64().unwrap_or(0.0), None, None)).collect();
            header = format!("Equal weights over {} assets", assets.len());
        }
        Method::Custom => {
            bail!("--method custom: custom weights are given, not computed; write them in the bot's config")
        }
        Method::MarketCap => {
            let caps = load_snapshots(&args.caps)?;
            let at = end.unwrap_or(ballast_core::Timestamp(i64::MAX));
            let (date, by_asset) = caps.at(at, &assets)?;
            let max = args.max_weight.map(|p| p / Decimal::ONE_HUNDRED);
            let w = weighting::market_cap(&by_asset, max)?;
            details.insert("snapshot".into(), json!(format_timestamp(date)[..10].to_string()));
            details.insert(
                "market_caps".into(),
                by_asset.iter().map(|(a, c)| (a.to_string(), json!(c.round_dp(0).to_string()))).collect(),
            );
            rows = w.iter().map(|(a, w)| (a.clone(), w.to_f64().unwrap_or(0.0), None, None)).collect();
            header = format!("Market-cap weights from the snapshot of {}", &format_timestamp(date)[..10]);
        }
        m => {
            let interval: Interval = args.interval.parse().context("--interval")?;
            let series = load_dir(&args.data, &assets, interval)?;
            let aligned = align(&series, start, end)?;
            let returns = ReturnMatrix::from_closes(aligned.assets.clone(), &aligned.closes)?;
            let opts = RiskOptions { shrinkage, ..RiskOptions::default() };
            let w = weighting::risk_based(m, &returns, &opts)?;
            let cov = Covariance::estimate(&returns, shrinkage)?;
            let wv: Vec<f64> = cov.assets().iter().map(|a| w[a]).collect();
            let rc = cov.risk_contributions(&wv);
            let total_rc: f64 = rc.iter().sum();
            let ppy = interval.periods_per_year();
            for (i, a) in cov.assets().iter().enumerate() {
                let share = if total_rc > 0.0 { rc[i] / total_rc } else { 0.0 };
                rows.push((a.clone(), w[a], Some(cov.volatility(i) * ppy.sqrt()), Some(share)));
            }
            let first = aligned.times.first().map(|t| format_timestamp(*t)).unwrap_or_default();
            let last = aligned.times.last().map(|t| format_timestamp(*t)).unwrap_or_default();
            details.insert("observations".into(), json!(returns.len()));
            details.insert("start".into(), json!(first));
            details.insert("end".into(), json!(last));
            details.insert("shrinkage".into(), json!(shrinkage.name()));
            details.insert("annual_volatility".into(), rows.iter().map(|r| (r.0.to_string(), json!(r.2))).collect());
            details.insert("risk_share".into(), rows.iter().map(|r| (r.0.to_string(), json!(r.3))).collect());
            if let Some(i) = cov.shrinkage_intensity() {
                details.insert("shrinkage_intensity".into(), json!(i));
            }
            header = format!(
                "{m} weights from {} {} returns, {first} .. {last}{}",
                returns.len(),
                interval,
                if shrinkage == Shrinkage::LedoitWolf { " (Ledoit-Wolf covariance)" } else { "" }
            );
        }
    }
    // Present assets in the order the user gave them.
    let order: BTreeMap<&Asset, usize> = assets.iter().enumerate().map(|(i, a)| (a, i)).collect();
    rows.sort_by_key(|r| order.get(&r.0).copied().unwrap_or(usize::MAX));

    match args.format {
        Format::Json => {
            let mut out = serde_json::Map::new();
            out.insert("method".into(), json!(method.name()));
            out.insert("weights".into(), rows.iter().map(|r| (r.0.to_string(), json!(r.1))).collect());
            out.extend(details);
            println!("{}", serde_json::to_string_pretty(&out)?);
        }
        Format::Text => {
            println!("{header}");
            println!();
            let risk = rows.iter().any(|r| r.2.is_some());
            if risk {
                println!("{:<8} {:>9} {:>16} {:>12}", "asset", "weight", "volatility/yr", "risk share");
            } else {
                println!("{:<8} {:>9}", "asset", "weight");
            }
            for (a, w, vol, share) in &rows {
                match (vol, share) {
                    (Some(v), Some(s)) => {
                        println!("{:<8} {:>8.2}% {:>15.1}% {:>11.2}%", a.as_str(), w * 100.0, v * 100.0, s * 100.0)
                    }
                    _ => println!("{:<8} {:>8.2}%", a.as_str(), w * 100.0),
                }
            }
        }
    }
    Ok(())
}
