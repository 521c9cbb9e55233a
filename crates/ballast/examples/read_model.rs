//! What the dashboard's reads cost over a bot's life: a paper bot (the demo's: BTC,
//! ETH, XRP, BNB, equal weights, 3 % threshold, 1,000 USDT) replays 2024-01-01 ..
//! 2025-12-31 on the bundled 4h candles, on disk, and at its age of a month, a year
//! and two years the reads behind each view are timed (median of 15 runs, in ms):
//!
//! - the bot page: `GET /api/bots/{id}` (the engine's view), the whole-life chart
//!   (`/chart`, 1,500 points), a page of history and of events, and the PnL by coin;
//! - the bots list (`GET /api/bots`, one view per bot);
//! - `/metrics` (`ballast_server::metrics::render`);
//! - the CSV export of every fill and cash flow;
//! - for comparison, what the view and `/metrics` read before the read model (every
//!   snapshot whole; every order and event).
//!
//! ```sh
//! cargo run --release -p ballast --example read_model [-- DATA_DIR]
//! ```

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Result, anyhow};
use ballast_app::config::BotConfig;
use ballast_app::world::{App, PaperWorld};
use ballast_backtest::{Interval, parse_date, parse_end_date};
use ballast_engine::Engine;
use ballast_engine::costbasis::CostMethod;
use ballast_engine::export::CsvFormat;
use ballast_server::AppState;
use ballast_server::auth::Auth;
use rust_decimal::Decimal;

const CONFIG: &str = r#"name = "two-years"
venue = "paper"
quote = "USDT"
amount = "1000"
fee_bps = 10
assets = ["BTC", "ETH", "XRP", "BNB"]

[weights]
method = "equal"

[rebalance]
mode = "threshold"
threshold = 3
threshold_kind = "absolute"
"#;

/// The median of `runs` timings of `f`, in milliseconds.
fn median_ms(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let s = Instant::now();
        f()?;
        t.push(s.elapsed().as_secs_f64() * 1000.0);
    }
    t.sort_by(|a, b| a.total_cmp(b));
    Ok(t[t.len() / 2])
}

fn main() -> Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = std::env::args().nth(1).map(std::path::PathBuf::from).unwrap_or_else(|| tmp.path().join("data"));
    std::fs::create_dir_all(&dir)?;
    let world = PaperWorld {
        interval: Interval::H4,
        start: parse_date("2024-01-01").map_err(|e| anyhow!("{e}"))?,
        end: parse_end_date("2025-12-31").map_err(|e| anyhow!("{e}"))?,
        now: parse_date("2024-01-01").map_err(|e| anyhow!("{e}"))?,
        fee_bps: Decimal::from(10),
        slippage_bps: Decimal::ZERO,
        bnb_fees: false,
    };
    drop(App::open(&dir)?);
    std::fs::write(dir.join("paper.json"), serde_json::to_string_pretty(&world)?)?;
    let mut app = App::open(&dir)?;
    let cfg = BotConfig::parse_text(std::path::Path::new("two-years"), CONFIG)?;
    let spec = app.spec(&cfg)?;
    let id =
        ballast_app::verbs::create(&app.engine, Some(&app.paper), &cfg, CONFIG, spec).map_err(|e| anyhow!("{e}"))?.id;
    let store = app.engine.store().clone();
    let engine =
        Arc::new(Engine::new(store.clone(), app.paper.clone(), app.clock.clone() as Arc<dyn ballast_exchange::Clock>));
    let state = AppState::new(
        store.clone(),
        BTreeMap::from([("paper".to_string(), engine.clone())]),
        Auth::open(&dir.join("admin.json")).map_err(|e| anyhow!("{e}"))?,
        app.clock.clone() as Arc<dyn ballast_exchange::Clock>,
    );
    let bars = app.remaining_bars();
    let checkpoints = [6 * 30, 6 * 365, bars.len()];
    println!("read_model: bot {id}, {} bars of 4h, on disk in {}", bars.len(), dir.display());
    println!(
        "{:>10} {:>9} {:>7} | {:>9} {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9} {:>9} {:>9} | {:>9} {:>9}",
        "age",
        "snapshots",
        "fills",
        "view",
        "chart",
        "history",
        "pnl",
        "page",
        "list",
        "metrics",
        "csv",
        "csv rows",
        "old view",
        "old metr."
    );
    for (n, t) in bars.iter().enumerate() {
        app.advance_to(*t)?;
        app.paper.match_resting().map_err(|e| anyhow!("{e}"))?;
        for (_, r) in app.engine.step_all().map_err(|e| anyhow!("{e}"))? {
            r.map_err(|e| anyhow!("{e}"))?;
        }
        if !checkpoints.contains(&(n + 1)) {
            continue;
        }
        let s = store.as_ref();
        let view = median_ms(15, || {
            engine.view(id).map_err(|e| anyhow!("{e}"))?;
            Ok(())
        })?;
        // What `GET /api/bots/{id}/chart?points=1500` does: the thinned points, the
        // drawdown over every snapshot, the rebalance markers, the JSON.
        let quote = ballast_core::Asset::new("USDT").map_err(|e| anyhow!("{e}"))?;
        let chart = median_ms(15, || {
            ballast_server::api::chart_json(s, id, Some(&quote), "all", None, None, 1500)
                .map_err(|e| anyhow!("{}", e.1))?;
            Ok(())
        })?;
        let history = median_ms(15, || {
            ballast_server::api::history_json(s, id, None, 20).map_err(|e| anyhow!("{}", e.1))?;
            s.events_page(id, None, 50)?;
            Ok(())
        })?;
        let pnl = median_ms(15, || {
            ballast_server::api::pnl_json(s, id, CostMethod::Fifo).map_err(|e| anyhow!("{}", e.1))?;
            Ok(())
        })?;
        let list = median_ms(15, || {
            for b in s.bots()? {
                let v = engine.view(b.id).map_err(|e| anyhow!("{e}"))?;
                ballast_server::api::bot_row_json(&b, Ok(&v));
            }
            Ok(())
        })?;
        let metrics = median_ms(15, || {
            ballast_server::metrics::render(&state).map_err(|e| anyhow!("{}", e.1))?;
            Ok(())
        })?;
        // What the view and /metrics read before the read model (for comparison): every
        // snapshot whole for the returns; every order and event of each bot.
        let old_view = median_ms(15, || {
            let snaps = s.snapshots(id, 100_000)?;
            let l = snaps.last().ok_or_else(|| anyhow!("no snapshot"))?;
            ballast_engine::ledger::pnl(l.value, l.net_invested, l.hodl_value, l.fees_paid, 0, &snaps);
            Ok(())
        })?;
        let old_metrics = median_ms(15, || {
            for b in s.bots()? {
                s.orders(b.id, 1_000_000)?;
                s.events(b.id, 100_000)?;
            }
            Ok(())
        })?;
        let mut rows = 0;
        let csv = median_ms(15, || {
            let (_, text) =
                ballast_server::api::transactions_csv(s, id, CsvFormat::Koinly).map_err(|e| anyhow!("{}", e.1))?;
            rows = text.lines().count() - 1;
            Ok(())
        })?;
        let snaps = s.snapshots_range(id, None, None, 2)?.total;
        let fills = s.fills(id)?.len();
        println!(
            "{:>10} {:>9} {:>7} | {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>9.2} | {:>9.2} {:>9.2} {:>9.2} {:>9} | {:>9.2} {:>9.2}",
            format!("{} d", (n + 1) / 6),
            snaps,
            fills,
            view,
            chart,
            history,
            pnl,
            view + chart + history + pnl,
            list,
            metrics,
            csv,
            rows,
            old_view,
            old_metrics
        );
    }
    let bytes: u64 = ["ballast.sqlite", "ballast.sqlite-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok())
        .map(|m| m.len())
        .sum();
    println!("the bot store on disk after two years: {:.1} MB (every snapshot kept)", bytes as f64 / 1e6);
    Ok(())
}
