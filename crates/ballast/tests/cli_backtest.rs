//! `ballast backtest`, `sweep`, `optimize` and `presets`, through the real binary.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ballast(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("ballast").unwrap().current_dir(root()).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = ballast(args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn fails(args: &[&str], needle: &str) {
    let out = ballast(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const BASE: &[&str] = &["backtest", "--assets", "BTC,ETH,XRP", "--start", "2020-01-01", "--end", "2022-12-31"];

fn with(extra: &[&str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = BASE.to_vec();
    for e in extra {
        v.push(Box::leak(e.to_string().into_boxed_str()));
    }
    v
}

#[test]
fn json_has_every_field_and_hodl() {
    let v: Value =
        serde_json::from_str(&ok(&with(&["--mode", "calendar", "--every", "7d", "--format", "json"]))).unwrap();
    for k in [
        "final_value",
        "cagr",
        "volatility",
        "sharpe",
        "max_drawdown",
        "rebalances",
        "fees_paid",
        "turnover",
        "bars",
        "start",
        "end",
    ] {
        assert!(!v[k].is_null(), "missing {k}");
        assert!(!v["hodl"][k].is_null(), "missing hodl.{k}");
    }
    assert_eq!(v["start"], "2020-01-01");
    assert_eq!(v["end"], "2022-12-31");
    assert_eq!(v["bars"], 1096);
    // 1,096 daily bars, a rebalance every 7 bars after the first: 156
    assert_eq!(v["rebalances"], 156);
    assert_eq!(v["hodl"]["rebalances"], 0);
    let excess = v["final_value"].as_f64().unwrap() / v["hodl"]["final_value"].as_f64().unwrap() - 1.0;
    assert!((v["excess_vs_hodl"].as_f64().unwrap() - excess).abs() < 1e-12);
}

#[test]
fn report_and_trades_files() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.html");
    let trades = dir.path().join("t.csv");
    let (r, t) = (report.to_str().unwrap(), trades.to_str().unwrap());
    ok(&with(&["--threshold", "5", "--report", r, "--trades", t, "--sim", "exchange"]));
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") || html.starts_with("<!doctype html>"));
    assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("<script src"), "self-contained");
    for s in ["HODL", "max drawdown", "threshold 5% absolute", "BTC", "<svg"] {
        assert!(html.contains(s), "report shows {s}");
    }
    let csv = std::fs::read_to_string(&trades).unwrap();
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some("time,asset,side,quantity,price,notional,fee"));
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 3);
    assert!(
        rows[..3].iter().all(|r| r.starts_with("2020-01-01,") && r.contains(",buy,")),
        "initial buys: {:?}",
        &rows[..3]
    );
}

#[test]
fn config_file_backtests_the_bot() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bot.toml");
    std::fs::write(
        &cfg,
        r#"
name = "test"
amount = "1000"
assets = ["BTC", "ETH", "XRP", "BNB"]
[weights]
method = "equal"
[rebalance]
mode = "threshold"
threshold = 3
cooldown = "1d"
[guards]
stop_loss = 50
"#,
    )
    .unwrap();
    let out = ok(&[
        "backtest",
        "--config",
        cfg.to_str().unwrap(),
        "--start",
        "2024-01-01",
        "--end",
        "2025-12-31",
        "--interval",
        "4h",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert!(v["config"]["sim"].as_str().unwrap().starts_with("exchange"));
    assert_eq!(v["config"]["cooldown"], "1d");
    assert!(v["rebalances"].as_u64().unwrap() > 0);
    // a mistake in the file names the key
    std::fs::write(&cfg, "amount = \"1000\"\nassets = [\"BTC\", \"ETH\"]\n[rebalance]\nthreshold = 99\n").unwrap();
    fails(&["backtest", "--config", cfg.to_str().unwrap()], "rebalance.threshold");
}

#[test]
fn bad_flags_are_clear_errors() {
    fails(&with(&["--mode", "calendar", "--every", "36h"]), "not a whole number of 1d bars");
    fails(&with(&["--mode", "calendar", "--every", "40d"]), "every");
    fails(&with(&["--mode", "calendar"]), "--every");
    fails(&with(&["--threshold", "0.1"]), "threshold");
    fails(&with(&["--weights", "custom:BTC=50,ETH=40,XRP=5"]), "sum to 95%");
    fails(&with(&["--weights", "nope"]), "unknown weighting method");
    fails(&with(&["--fee-bps", "5000"]), "fee");
    fails(&["backtest", "--assets", "BTC,NOPE"], "NOPE");
    fails(&["backtest", "--assets", "BTC,ETH", "--start", "2023-01-01", "--end", "2022-01-01"], "--start");
    fails(&["backtest", "--assets", "BTC,ETH", "--start", "2030-01-01"], "start");
    fails(&["backtest", "--config", "x.toml", "--assets", "BTC,ETH"], "cannot be used with");
    fails(&["backtest", "--preset", "nope"], "no preset named");
}

#[test]
fn sweep_ranks_the_whole_grid() {
    let out = ok(&[
        "sweep",
        "--assets",
        "BTC,ETH,XRP,BNB",
        "--intervals",
        "1d,4h",
        "--start",
        "2021-01-01",
        "--end",
        "2023-12-31",
        "--modes",
        "hodl,calendar,threshold",
        "--every",
        "1d,7d",
        "--thresholds",
        "2:10:2",
        "--threshold-kinds",
        "absolute,relative",
        "--weights",
        "equal,inverse-vol",
        "--fees",
        "0,10",
        "--format",
        "csv",
        "--rank-by",
        "cagr",
    ]);
    let rows: Vec<&str> = out.lines().skip(1).collect();
    // per interval: 2 weights x 2 fees x (1 hodl + 2 calendar + 10 threshold) = 52
    assert_eq!(rows.len(), 104);
    let cagr: Vec<f64> = rows.iter().map(|r| r.split(',').nth(6).unwrap().parse().unwrap()).collect();
    assert!(cagr.windows(2).all(|w| w[0] >= w[1]), "ranked by CAGR");
    let table = ok(&["sweep", "--assets", "BTC,ETH", "--start", "2021-01-01", "--end", "2021-12-31", "--top", "3"]);
    assert!(table.contains("5 configurations"), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains(" 1d ")).count(), 3, "{table}");
    fails(&["sweep", "--assets", "BTC,ETH", "--thresholds", "1:0:1"], "--thresholds");
    fails(&["sweep", "--assets", "BTC,ETH", "--rank-by", "luck"], "sharpe");
}

/// `--stream` writes every row in grid order (no row held back for ranking), the same
/// rows the ranked CSV has; the table's top rows (kept in a bounded heap while the grid
/// streams past) are the ranked CSV's first rows.
#[test]
fn a_streamed_sweep_has_the_rows_of_the_ranked_one() {
    let grid = [
        "sweep",
        "--assets",
        "BTC,ETH,XRP",
        "--intervals",
        "1d,4h",
        "--start",
        "2021-01-01",
        "--end",
        "2022-12-31",
        "--modes",
        "calendar,threshold",
        "--every",
        "1d,7d",
        "--thresholds",
        "1:20:1",
        "--fees",
        "0,10",
    ];
    let ranked = ok(&[&grid[..], &["--format", "csv", "--rank-by", "sharpe"]].concat());
    let streamed = ok(&[&grid[..], &["--format", "csv", "--stream"]].concat());
    let fields = |line: &str| line.split_once(',').unwrap().1.to_string();
    let mut a: Vec<String> = ranked.lines().skip(1).map(fields).collect();
    let b: Vec<String> = streamed.lines().skip(1).map(fields).collect();
    assert!(streamed.starts_with("index,interval,"), "{streamed}");
    let index: Vec<usize> = streamed.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
    assert_eq!(index, (1..=b.len()).collect::<Vec<_>>(), "grid order");
    assert_eq!(a.len(), 2 * 2 * (2 + 20));
    let top: Vec<String> = a.iter().take(5).cloned().collect();
    let mut b_sorted = b.clone();
    a.sort();
    b_sorted.sort();
    assert_eq!(a, b_sorted, "the same rows");
    let table = ok(&[&grid[..], &["--rank-by", "sharpe", "--top", "5"]].concat());
    let sharpe_of = |row: &str| row.split(',').nth(7).unwrap().parse::<f64>().unwrap();
    let shown: Vec<String> = table
        .lines()
        .filter(|l| matches!(l.split_whitespace().nth(1), Some("1d" | "4h")))
        .map(|l| l.to_string())
        .collect();
    assert_eq!(shown.len(), 5, "{table}");
    for (line, row) in shown.iter().zip(&top) {
        assert!(line.contains(&format!("{:.3}", sharpe_of(row))), "{line} vs {row}");
    }
    fails(&[&grid[..], &["--stream"]].concat(), "--format csv");
}

#[test]
fn optimize_writes_a_preset_that_backtests() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("p.toml");
    let out = ok(&[
        "optimize",
        "--assets",
        "BTC,ETH,BNB",
        "--intervals",
        "1d",
        "--start",
        "2019-01-01",
        "--end",
        "2023-12-31",
        "--modes",
        "threshold,calendar",
        "--thresholds",
        "2,5,10",
        "--every",
        "7d,28d",
        "--in-sample",
        "365d",
        "--out-of-sample",
        "180d",
        "--write-preset",
        preset.to_str().unwrap(),
        "--name",
        "t",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let windows = v["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 8, "(5 years - 1 in sample) / 180 days");
    for w in windows.windows(2) {
        assert!(w[0]["out_of_sample_end"].as_str() < w[1]["out_of_sample_start"].as_str(), "windows do not overlap");
    }
    let text = std::fs::read_to_string(&preset).unwrap();
    assert!(text.contains("[preset]") && text.contains("name = \"t\""));
    assert!(!text.contains("amount"), "a preset carries no amount");
}

#[test]
fn presets_list_show_and_run() {
    let list = ok(&["presets"]);
    for name in ["majors-threshold", "majors-calendar", "top10-equal", "majors-risk-parity", "market-cap-capped"] {
        assert!(list.contains(name), "{name} listed");
        let toml = ok(&["presets", name]);
        assert!(toml.contains(&format!("name = \"{name}\"")));
    }
    let v: Value = serde_json::from_str(&ok(&[
        "backtest",
        "--preset",
        "majors-calendar",
        "--interval",
        "4h",
        "--start",
        "2024-01-01",
        "--initial",
        "1000",
        "--format",
        "json",
    ]))
    .unwrap();
    assert_eq!(v["config"]["assets"], "BTC,ETH,BNB,XRP");
    assert_eq!(v["config"]["initial"], "1000");
}

#[test]
fn initial_beyond_the_limit_or_negative_is_refused_not_panicked() {
    let max = "79228162514264337593543950335";
    for sim in ["exchange", "ideal"] {
        fails(&with(&["--sim", sim, "--initial", max]), "--initial");
    }
    fails(&with(&["--sim", "exchange", "--initial", max]), "at most 1000000000000000");
    fails(&with(&["--initial", "-1"]), "greater than 0");
    fails(&["sweep", "--initial", max], "--initial");
}

#[cfg(target_os = "linux")]
#[test]
fn an_unwritable_trades_file_is_named_in_the_error() {
    // Daily rebalancing for three years: far more than one write buffer of trades, so
    // the failure comes from a write in the middle, not only from the final flush.
    fails(&with(&["--mode", "calendar", "--every", "1d", "--trades", "/dev/full"]), "--trades /dev/full: cannot write");
}

/// docs/EXECUTION.md is exactly what `ballast backtest execution-report` prints: every
/// figure in it comes from the command (regenerate it after a change to the planner or
/// the cost model).
#[test]
fn the_execution_report_is_the_commands_output() {
    let printed = ok(&["backtest", "execution-report"]);
    let doc = std::fs::read_to_string(root().join("docs/EXECUTION.md")).unwrap();
    assert!(
        printed == doc,
        "docs/EXECUTION.md is stale: run `ballast backtest execution-report --out docs/EXECUTION.md`"
    );
    assert!(printed.contains("| taker-only (two quote legs) |"));
    fails(&["backtest", "execution-report", "--rules", "no/such/rules.toml"], "no/such/rules.toml");
    fails(&["backtest", "execution-report", "--assets", "BTC"], "--assets");
}
