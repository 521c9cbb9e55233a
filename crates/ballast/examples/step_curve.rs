//! The cost of one bot's step over its life: a paper bot with a 0.5 % threshold (it
//! trades often, so its records grow fast) replays 2021-01-01 .. 2025-12-31 on the
//! bundled 4h candles, on disk, and the wall time of every step is measured. Printed:
//! per half year, the median and 90th percentile step time and the fills stored so far,
//! so a cost that grows with the bot's age shows as a rising curve.
//!
//! ```sh
//! cargo run --release -p ballast --example step_curve [-- DATA_DIR]
//! ```

use std::time::Instant;

use anyhow::{Result, anyhow};
use ballast_app::config::BotConfig;
use ballast_app::world::{App, PaperWorld};
use ballast_backtest::{Interval, parse_date, parse_end_date};
use rust_decimal::Decimal;

const CONFIG: &str = r#"name = "busy"
venue = "paper"
quote = "USDT"
amount = "10000"
fee_bps = 10
assets = ["BTC", "ETH", "XRP", "BNB"]

[weights]
method = "equal"

[rebalance]
mode = "threshold"
threshold = 0.5
threshold_kind = "absolute"
"#;

fn main() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from).unwrap_or_else(|| tmp.path().join("data"));
    std::fs::create_dir_all(&dir)?;
    let world = PaperWorld {
        interval: Interval::H4,
        start: parse_date("2021-01-01").map_err(|e| anyhow!("{e}"))?,
        end: parse_end_date("2025-12-31").map_err(|e| anyhow!("{e}"))?,
        now: parse_date("2021-01-01").map_err(|e| anyhow!("{e}"))?,
        fee_bps: Decimal::from(10),
        slippage_bps: Decimal::ZERO,
        bnb_fees: false,
    };
    let mut app = App::create(&dir, world)?;
    let cfg = BotConfig::parse_text(std::path::Path::new("busy"), CONFIG)?;
    let spec = app.spec(&cfg)?;
    let created =
        ballast_app::verbs::create(&app.engine, Some(&app.paper), &cfg, CONFIG, spec).map_err(|e| anyhow!("{e}"))?;
    let id = created.id;
    let bars = app.remaining_bars();
    println!("step_curve: bot {id}, {} bars of 4h, threshold 0.5 %, on disk in {}", bars.len(), dir.display());
    println!(
        "{:<10} {:>7} {:>12} {:>12} {:>8} {:>7} {:>16}",
        "from", "steps", "median µs", "p90 µs", "fills", "held", "held median µs"
    );
    let per_bucket = 6 * 182; // about half a year of 4h bars
    let mut times: Vec<u128> = Vec::new();
    // The steps that sent nothing: their cost is the one a bot's age could change.
    let mut held: Vec<u128> = Vec::new();
    let mut first_day = String::new();
    let started = Instant::now();
    for (n, t) in bars.iter().enumerate() {
        if times.is_empty() {
            first_day = ballast_app::world::fmt_time(*t)[..10].to_string();
        }
        let s = Instant::now();
        let mut sent = false;
        for (_, r) in app.replay_bar(*t)? {
            sent |= !matches!(r.map_err(|e| anyhow!("{e}"))?, ballast_engine::StepOutcome::Held);
        }
        let took = s.elapsed().as_micros();
        times.push(took);
        if !sent {
            held.push(took);
        }
        if times.len() == per_bucket || n + 1 == bars.len() {
            times.sort_unstable();
            held.sort_unstable();
            let fills = app.engine.store().fills(id).map_err(|e| anyhow!("{e}"))?.len();
            println!(
                "{first_day:<10} {:>7} {:>12} {:>12} {:>8} {:>7} {:>16}",
                times.len(),
                times[times.len() / 2],
                times[times.len() * 9 / 10],
                fills,
                held.len(),
                held.get(held.len() / 2).copied().unwrap_or(0)
            );
            times.clear();
            held.clear();
        }
    }
    println!("total {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
