//! `ballast demo`: the product description's example as a paper bot, replayed over
//! 2024-2025 at full speed.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Result, anyhow, bail};

use super::bot::{DirArgs, create, show};
use crate::app::{App, data_dir, fmt_time};
use crate::config::BotConfig;

/// The demo bot: BTC, ETH, XRP and BNB at 25 % each, rebalanced at 3 % drift, 1,000 USDT.
pub const DEMO_CONFIG: &str = r#"name = "demo"
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

const MARKER: &str = "DEMO";

/// Arguments of `ballast demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub dir: DirArgs,
    /// End the replay at this day (YYYY-MM-DD) instead of 2025-12-31.
    #[arg(long)]
    pub until: Option<String>,
    /// Then serve the dashboard over the demo, the paper replay carrying on live
    /// (without --until the fast replay stops 30 days before the data ends; the rest
    /// plays at one bar per --replay-every, default 1s).
    #[arg(long)]
    pub serve: bool,
    #[command(flatten)]
    pub serve_opts: super::serve::ServeOpts,
}

/// Runs `ballast demo`.
pub fn run(args: &DemoArgs) -> Result<()> {
    if args.serve {
        super::serve::check_bind(&args.serve_opts)?;
    }
    let dir: PathBuf = data_dir(args.dir.data_dir.as_deref());
    if dir.join("ballast.sqlite").exists() {
        if !dir.join(MARKER).exists() {
            bail!(
                "{} holds bots that are not a demo; run the demo elsewhere: ballast demo --data-dir ./demo-data",
                dir.display()
            );
        }
        // A previous demo: start it over.
        for f in [
            "ballast.sqlite",
            "ballast.sqlite-wal",
            "ballast.sqlite-shm",
            "paper.sqlite",
            "paper.sqlite-wal",
            "paper.sqlite-shm",
            "paper.json",
        ] {
            let p = dir.join(f);
            if p.exists() {
                std::fs::remove_file(&p).map_err(|e| anyhow!("{}: {e}", p.display()))?;
            }
        }
    }
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join(MARKER),
        "This data directory was made by `ballast demo`; running it again starts over.\n",
    )?;
    let started = std::time::Instant::now();
    let mut app = App::open(&dir)?;
    let runner = app.lock_runner("ballast demo")?;
    let cfg = BotConfig::parse_text(std::path::Path::new("demo"), DEMO_CONFIG)?;
    println!("ballast demo: the product description's example on the paper venue");
    println!();
    let id = create(&app, &cfg, DEMO_CONFIG, true)?;
    let until = match &args.until {
        Some(d) => ballast_backtest::parse_end_date(d).map_err(|e| anyhow!("--until: {e}"))?,
        None if args.serve => {
            let last = app.remaining_bars().last().copied().unwrap_or(app.now());
            ballast_core::Timestamp(last.0 - 30 * 86_400_000)
        }
        None => ballast_core::Timestamp(i64::MAX),
    };
    let bars: Vec<_> = app.remaining_bars().into_iter().filter(|t| *t <= until).collect();
    println!();
    println!(
        "Replaying {} 4h bars, {} .. {}",
        bars.len(),
        fmt_time(app.now()),
        bars.last().map(|t| fmt_time(*t)).unwrap_or_default()
    );
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(bars.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} bars  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
    for t in bars {
        for (bot, r) in app.replay_bar(t)? {
            if let Err(e) = r {
                bar.suspend(|| eprintln!("bot {bot}: {e}"));
            }
        }
        bar.set_message(fmt_time(t)[..10].to_string());
        bar.inc(1);
    }
    bar.finish_and_clear();
    app.sync()?;
    let rebalances = app.engine.store().events(id, 100_000)?.iter().filter(|e| e.kind == "rebalance").count();
    println!("Done in {:.1} s ({rebalances} rebalance events).", started.elapsed().as_secs_f64());
    println!();
    show(&app, id)?;
    println!();
    println!("The bot's state is in {}:", dir.display());
    let flag = if dir == std::path::Path::new(crate::app::DEFAULT_DATA_DIR) {
        String::new()
    } else {
        format!(" --data-dir {}", dir.display())
    };
    println!("  ballast bot status {id}{flag}");
    println!("  ballast bot history {id}{flag}");
    println!("  ballast bot list{flag}");
    if args.serve {
        let mut opts = args.serve_opts.clone();
        opts.replay_every.get_or_insert(std::time::Duration::from_secs(1));
        println!();
        drop(runner); // the server takes it for its replay
        return super::serve::serve_app(app, &opts);
    }
    Ok(())
}
