//! Many paper bots in one process: creates N bots (the five presets in equal parts,
//! 1,000 USDT each) from one fleet file, makes their first buys, then steps them
//! through B bars of the 4h replay, on disk. Printed: the creation time, the first
//! round (every first buy), each later bar's wall time, the bytes the process wrote per
//! bot-step (from /proc/self/io) and its peak memory.
//!
//! ```sh
//! cargo run --release -p ballast --example fleet -- [BOTS] [BARS] [DATA_DIR]
//! ```

use std::time::Instant;

use anyhow::{Result, anyhow};
use ballast_app::world::{App, PaperWorld};

fn proc_field(file: &str, key: &str) -> u64 {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l[key.len()..].split_whitespace().next().and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// CPU time of the process (user + system), seconds.
fn cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // After the command name in parentheses: utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn written() -> u64 {
    proc_field("/proc/self/io", "write_bytes:")
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let bots: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let bars: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(3);
    let tmp = tempfile::tempdir_in(".")?;
    let dir = args.next().map(std::path::PathBuf::from).unwrap_or_else(|| tmp.path().join("data"));
    let started = Instant::now();
    let mut app = App::create(&dir, PaperWorld::default())?;
    let opened = started.elapsed();
    let presets = ballast_app::presets::PRESETS;
    let per = bots / presets.len();
    let mut fleet = String::new();
    for (i, (name, _)) in presets.iter().enumerate() {
        let n = if i + 1 == presets.len() { bots - per * (presets.len() - 1) } else { per };
        if n > 0 {
            fleet.push_str(&format!("[[bot]]\nprofile = \"{name}\"\namount = \"1000\"\ncount = {n}\n\n"));
        }
    }
    let t = Instant::now();
    let parsed = ballast_app::fleet::parse_fleet(std::path::Path::new("fleet"), &fleet)?;
    let ids = ballast_app::verbs::create_all(&app, &parsed).map_err(|e| anyhow!("{e}"))?;
    let created = t.elapsed();
    println!(
        "fleet: {} bots ({} presets), data directory opened in {:.2} s, bots created in {:.2} s",
        ids.len(),
        presets.len(),
        opened.as_secs_f64(),
        created.as_secs_f64()
    );
    let t = Instant::now();
    let first = app.engine.step_round().map_err(|e| anyhow!("{e}"))?;
    app.sync()?;
    let failed = first.iter().filter(|(_, r)| r.is_err()).count();
    println!("first round (every first buy): {:.2} s, {failed} failed", t.elapsed().as_secs_f64());
    let upcoming = app.remaining_bars();
    let mut times = Vec::new();
    let before = written();
    let cpu_before = cpu();
    for t in upcoming.iter().take(bars) {
        let s = Instant::now();
        let results = app.replay_bar(*t)?;
        app.sync()?;
        times.push(s.elapsed().as_secs_f64());
        if let Some((id, Err(e))) = results.iter().find(|(_, r)| r.is_err()) {
            println!("bot {id}: {e}");
        }
    }
    let bytes = written() - before;
    let cpu_used = cpu() - cpu_before;
    let steps = (ids.len() * times.len()).max(1);
    for (i, t) in times.iter().enumerate() {
        println!("bar {}: {:.3} s ({:.1} µs a bot-step)", i + 1, t, t * 1e6 / ids.len() as f64);
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    if let Some(median) = sorted.get(sorted.len() / 2) {
        println!(
            "median bar: {median:.3} s wall; CPU {:.1} µs a bot-step (user + system, all bars)",
            cpu_used * 1e6 / steps as f64
        );
    }
    println!(
        "written: {:.1} KB a bot-step over {} bars; peak memory {} MB",
        bytes as f64 / steps as f64 / 1024.0,
        times.len(),
        proc_field("/proc/self/status", "VmHWM:") / 1024
    );
    Ok(())
}
