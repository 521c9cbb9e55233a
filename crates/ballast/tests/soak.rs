//! Soak: four bots (two through the Binance adapter, two through the Gate adapter)
//! run by one `ballast run --live` process against one `ballast sim` that replays the
//! bundled 4h candles at 2 bars a second (12 market hours a wall second... 2 bars, so
//! a market day takes 3 s) with a mix of random faults: 429, 418, 5xx, replies lost
//! after execution, replies held past the client's timeout, partial fills and
//! rejections. The runner's memory (VmRSS) and open files (/proc/PID/fd) are sampled
//! every second. Afterwards:
//! - memory and file descriptors are flat: the second half's maximum stays within the
//!   first half's (RSS x 1.2 + 8 MB, fds + 4);
//! - no error is left unexplained: every error line of the runner and every error,
//!   rejection or pause event of the bots is classified against a fault the sim
//!   actually injected, or the test fails;
//! - the promises hold (no order twice, every fill once, ledgers = venue, every bot
//!   active or saying why): [`common::process::check_against_venue`].
//!
//! Market days: `BALLAST_SOAK_DAYS` (default 8 here; the full soak uses 90:
//! `BALLAST_SOAK_DAYS=90 cargo test -p ballast --test soak -- --nocapture`).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use common::process::*;
use rust_decimal_macros::dec;

const DAY_MS: i64 = 86_400_000;

/// VmRSS in kB and the number of open file descriptors of a process.
fn sample(pid: u32) -> Option<(u64, usize)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.split_whitespace().next()?.parse().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some((rss, fds))
}

/// Which injected fault explains an error message; `None` leaves it unexplained.
/// Each pattern names the sim's fault counter that must be non-zero for it to count.
fn classify(message: &str) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    const RULES: &[(&str, &str)] = &[
        // Not a fault: the runner's warning at start that Gate keys cannot be checked
        // for withdrawal rights (explained by the venue, allowed once per start).
        ("warning: gate does not report key permissions", "gate_key_warning"),
        // 429 and 418: both adapters map them to RateLimited with the Retry-After.
        ("rate limited; retry after", "rate_limit"),
        // 5xx refused before doing anything (Binance 503 -1001, Gate 500 SERVER_ERROR).
        ("unavailable: binance -1001:", "rate_5xx"),
        ("unavailable: http 500 server_error", "rate_5xx"),
        // Rejections drawn by the sim (Binance -2010, Gate ORDER_REJECTED).
        ("rejected: binance -2010: new order rejected", "reject_rate"),
        ("order_rejected", "reject_rate"),
        // A reply lost after execution or held past the client's timeout.
        ("outcome unknown", "lost_reply"),
        // The legs after a reply held past the client's 10 s timeout: their 5 s
        // acceptance window ended while it was awaited, so they were not sent (safe;
        // the next step plans them again). Nothing else here waits that long.
        ("acceptance window ended before it could be sent", "timeout_after_execution"),
    ];
    RULES.iter().find(|(p, _)| m.contains(p)).map(|(_, k)| *k)
}

#[test]
fn four_bots_through_faults_stay_flat_and_explain_every_error() {
    let days: i64 = std::env::var("BALLAST_SOAK_DAYS").ok().and_then(|s| s.parse().ok()).unwrap_or(8);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fund = dec!(10000);
    let faults = [
        ("--rate-429", "0.02"),
        ("--rate-418", "0.003"),
        ("--rate-5xx", "0.02"),
        ("--drop-after-execution", "0.05"),
        ("--timeout-after-execution", "0.01"),
        // Longer than the runner's 10 s client timeout.
        ("--timeout-sleep-ms", "10500"),
        ("--partial-fill-rate", "0.05"),
        ("--reject-rate", "0.03"),
    ];
    let mut args: Vec<&str> = vec!["--speed", "2", "--fund", "10000", "--latency-ms", "5", "--seed", "7"];
    for (k, v) in faults {
        args.extend([k, v]);
    }
    let sim = Sim::start(&d.join("venue.sqlite"), &args);
    // The bots are created without faults, then the faults start.
    sim.faults_off();
    create_live_bot(d, &sim, "bn1", "binance", &["BTC", "ETH", "XRP", "BNB"], "1");
    create_live_bot(d, &sim, "bn2", "binance", &["SOL", "ADA", "DOGE"], "2");
    create_live_bot(d, &sim, "gt1", "gate", &["BTC", "ETH", "LINK", "LTC"], "1");
    create_live_bot(d, &sim, "gt2", "gate", &["SOL", "DOT", "TRX"], "2");
    let from = sim.now_ms();
    let until = from + days * DAY_MS;
    sim.faults_on();

    let log = d.join("runner.stderr");
    // Its stdout (a line per event and order) to a file: a pipe read only at the end
    // would fill and stall the runner.
    let out_log = d.join("runner.stdout");
    let mut runner = ballast_cmd(d, &["run", "--live", "--poll", "1s"])
        .stdout(std::fs::File::create(&out_log).unwrap())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = runner.id();
    let mut samples: Vec<(u64, usize)> = Vec::new();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        assert!(runner.try_wait().unwrap().is_none(), "the runner died: {}", std::fs::read_to_string(&log).unwrap());
        if let Some(s) = sample(pid) {
            samples.push(s);
        }
        if sim.now_ms() >= until {
            break;
        }
    }
    let market_days = (sim.now_ms() - from) as f64 / DAY_MS as f64;
    // A clean stop on SIGTERM.
    let term = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(term.success());
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success(), "the runner stops cleanly on SIGTERM");
    assert!(std::fs::read_to_string(&out_log).unwrap().contains("Stopped cleanly"));
    let wall = started.elapsed().as_secs_f64();

    // Settle without faults: the next rounds resolve what the faults left unknown. An
    // order whose request the SIGTERM cut off may not be at the venue: it is decided
    // not sent only once the venue could no longer accept it (its 5 s window and the
    // clock allowance), so the rounds go on until nothing is unknown, for at most 30 s.
    let injected = sim.faults_off();
    let settle = Instant::now();
    loop {
        ballast_ok(d, &["run", "--live", "--poll", "1s", "--bars", "2"]);
        let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
        let unknown: usize = store.bots().unwrap().iter().map(|b| store.unresolved(b.id).unwrap().len()).sum();
        if unknown == 0 || settle.elapsed() > Duration::from_secs(30) {
            break;
        }
    }

    // Flat memory and file descriptors.
    assert!(samples.len() >= 10, "enough samples: {}", samples.len());
    let half = samples.len() / 2;
    let (first, second) = samples.split_at(half);
    let max_rss = |s: &[(u64, usize)]| s.iter().map(|x| x.0).max().unwrap();
    let max_fd = |s: &[(u64, usize)]| s.iter().map(|x| x.1).max().unwrap();
    let (rss1, rss2) = (max_rss(first), max_rss(second));
    let (fd1, fd2) = (max_fd(first), max_fd(second));
    assert!(rss2 as f64 <= rss1 as f64 * 1.2 + 8192.0, "RSS grows: first half max {rss1} kB, second {rss2} kB");
    assert!(fd2 <= fd1 + 4, "file descriptors grow: first half max {fd1}, second {fd2}");

    // No error left unexplained.
    let count = |k: &str| injected.get(k).copied().unwrap_or(0);
    let happened = |kind: &str| match kind {
        "rate_limit" => {
            count("rate_429") + count("rate_418") + count("weight_429") + count("weight_418") + count("gate_429") > 0
        }
        "lost_reply" => count("drop_after_execution") + count("timeout_after_execution") > 0,
        "gate_key_warning" => true,
        k => count(k) > 0,
    };
    let mut explained: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let stderr = std::fs::read_to_string(&log).unwrap();
    let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
    let mut messages: Vec<String> = stderr.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    let mut events_by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for b in store.bots().unwrap() {
        for e in store.events(b.id, 10_000_000).unwrap() {
            *events_by_kind.entry(e.kind.clone()).or_default() += 1;
            if !matches!(e.kind.as_str(), "created" | "rebalance") {
                messages.push(format!("bot {} event {}: {}", b.id, e.kind, e.message));
            }
        }
    }
    let mut examples: BTreeMap<&'static str, &str> = BTreeMap::new();
    for m in &messages {
        match classify(m) {
            Some(kind) if happened(kind) => {
                *explained.entry(kind).or_default() += 1;
                examples.entry(kind).or_insert(m);
            }
            _ => unexplained.push(m.clone()),
        }
    }
    assert!(unexplained.is_empty(), "{} unexplained error(s):\n{}", unexplained.len(), unexplained.join("\n"));
    assert!(explained.get("gate_key_warning").copied().unwrap_or(0) <= 1, "one runner start, one key warning");

    let db = sim.db.clone();
    sim.stop();
    let c = check_against_venue(d, &db, fund);
    assert_eq!(c.bots, 4);
    assert!(c.venue_orders > 20, "the bots traded: {c:?}");
    let rss_min = samples.iter().map(|x| x.0).min().unwrap();
    let fd_min = samples.iter().map(|x| x.1).min().unwrap();
    println!(
        "soak: {market_days:.1} market days in {wall:.0} s wall, 4 bots, {} samples; RSS kB min {rss_min} / first-half max {rss1} / second-half max {rss2}; fds min {fd_min} / first-half max {fd1} / second-half max {fd2}",
        samples.len()
    );
    println!(
        "soak: {} intents, {} venue orders, {} fills; faults injected {injected:?}; errors explained {explained:?}; events {events_by_kind:?}; statuses {:?}",
        c.intents, c.venue_orders, c.fills, c.statuses
    );
    for (kind, m) in &examples {
        println!("soak: e.g. {kind}: {m}");
    }
}
