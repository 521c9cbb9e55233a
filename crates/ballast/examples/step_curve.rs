//! The cost of one bot's step over its life: a paper bot with a 0.5 % threshold (it
//! trades often, so its records grow fast) replays 2021-01-01 .. 2025-12-31 on the
//! bundled 4h candles, on disk, and the wall time of every step is measured. Printed:
//! per half year, the median and 90th percentile step time and the fills stored so far,
//! so a cost that grows with the bot's age shows as a rising curve.
//!
//! A step's cost also depends on the market (how often the bot trades, how many
//! records a trade writes), which changes between periods. To separate age from
//! market, at the start of every half year a young bot (the same configuration,
//! created that day, in its own data directory) replays the next 30 days beside the
//! old one, bar by bar, interleaved (each goes first on every other bar). On the bars where neither sent an order, the
//! second table compares their step times: the old bot's over the young one's is
//! the cost of age alone. In the first period both bots are new, so that row shows the
//! measurement's own noise.
//!
//! ```sh
//! cargo run --release -p ballast --example step_curve [-- DATA_DIR]
//! ```

use std::time::Instant;

use anyhow::{Result, anyhow};
use ballast_app::config::BotConfig;
use ballast_app::world::{App, PaperWorld};
use ballast_backtest::{Interval, parse_date, parse_end_date};
use ballast_core::Timestamp;
use rust_decimal::Decimal;

/// How long a young bot runs beside the old one: 30 days of 4h bars.
const YOUNG_BARS: usize = 6 * 30;

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
    let start = parse_date("2021-01-01").map_err(|e| anyhow!("{e}"))?;
    let end = parse_end_date("2025-12-31").map_err(|e| anyhow!("{e}"))?;
    let (mut app, id) = bot(&dir, start, end)?;
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
    // The young bot running beside the old one, and the paired held steps' times.
    let mut young: Option<(App, usize)> = None;
    let mut young_dirs = Vec::new();
    let mut pairs: Vec<(String, Vec<(u128, u128)>)> = Vec::new();
    let started = Instant::now();
    for (n, t) in bars.iter().enumerate() {
        if times.is_empty() {
            first_day = ballast_app::world::fmt_time(*t)[..10].to_string();
            // Born at the previous bar (or with the old bot), so its first step is `t`.
            let born = if n == 0 { start } else { bars[n - 1] };
            let ydir = tempfile::tempdir()?;
            let (yapp, _) =
                bot(&ydir.path().join("data"), born, Timestamp(born.0 + (YOUNG_BARS as i64 + 1) * 4 * 3_600_000))?;
            young_dirs.push(ydir);
            young = Some((yapp, 0));
            pairs.push((first_day.clone(), Vec::new()));
        }
        // The young bot steps first on odd bars, so neither always meets the caches
        // the other left.
        let young_first = n % 2 == 1;
        let mut ystep = None;
        if let (true, Some((yapp, _))) = (young_first, young.as_mut()) {
            ystep = Some(timed_step(yapp, *t)?);
        }
        let (took, sent) = timed_step(&mut app, *t)?;
        times.push(took);
        if !sent {
            held.push(took);
        }
        if let Some((yapp, done)) = young.as_mut() {
            let (ytook, ysent) = match ystep {
                Some(s) => s,
                None => timed_step(yapp, *t)?,
            };
            if !sent && !ysent {
                pairs.last_mut().expect("a period was opened").1.push((took, ytook));
            }
            *done += 1;
            if *done == YOUNG_BARS {
                young = None;
                young_dirs.clear();
            }
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
    println!();
    println!("age alone: the first {YOUNG_BARS} bars of each period, steps where neither bot sent an order");
    println!("{:<10} {:>7} {:>14} {:>16} {:>10}", "from", "pairs", "old median µs", "young median µs", "old/young");
    for (day, mut p) in pairs {
        let n = p.len();
        if n == 0 {
            continue;
        }
        let mut old: Vec<u128> = p.iter().map(|x| x.0).collect();
        p.sort_unstable_by_key(|x| x.1);
        old.sort_unstable();
        let (o, y) = (old[n / 2], p[n / 2].1);
        println!("{day:<10} {n:>7} {o:>14} {y:>16} {:>10.2}", o as f64 / y.max(1) as f64);
    }
    Ok(())
}

/// A paper world replaying `start` .. `end` in `dir`, with the busy bot created in it.
fn bot(dir: &std::path::Path, start: Timestamp, end: Timestamp) -> Result<(App, i64)> {
    std::fs::create_dir_all(dir)?;
    let world = PaperWorld {
        interval: Interval::H4,
        start,
        end,
        now: start,
        fee_bps: Decimal::from(10),
        slippage_bps: Decimal::ZERO,
        bnb_fees: false,
    };
    let app = App::create(dir, world)?;
    let cfg = BotConfig::parse_text(std::path::Path::new("busy"), CONFIG)?;
    let spec = app.spec(&cfg)?;
    let created =
        ballast_app::verbs::create(&app.engine, Some(&app.paper), &cfg, CONFIG, spec).map_err(|e| anyhow!("{e}"))?;
    Ok((app, created.id))
}

/// Replays one bar; its wall time in µs, and whether any order was sent.
fn timed_step(app: &mut App, t: Timestamp) -> Result<(u128, bool)> {
    let s = Instant::now();
    let mut sent = false;
    for (_, r) in app.replay_bar(t)? {
        sent |= !matches!(r.map_err(|e| anyhow!("{e}"))?, ballast_engine::StepOutcome::Held);
    }
    Ok((s.elapsed().as_micros(), sent))
}
