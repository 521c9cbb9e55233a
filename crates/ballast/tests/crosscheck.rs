//! `ballast backtest --sim ideal` against an independent implementation of BACKTEST.md:
//! `scripts/crosscheck/reference_backtest.py` (standard-library Python, written from the
//! conventions document, not from the Rust sources). Every metric, the strategy's and
//! HODL's, must agree to 1e-9 relative; counts and dates exactly.
//!
//! Skipped (with a note) when `python3` is not on PATH, unless `CI` is set: CI has it, so
//! there a missing interpreter is a failure, not a skip.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use serde_json::Value;

const TOLERANCE: f64 = 1e-9;
const SCRIPT: &str = "scripts/crosscheck/reference_backtest.py";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const ALL11_4H: &str = "BTC,ETH,XRP,BNB,SOL,ADA,DOGE,LTC,TRX,DOT,LINK";
const LONG8: &str = "BTC,ETH,XRP,BNB,ADA,LTC,TRX,LINK";
const CUSTOM11: &str = "custom:BTC=30,ETH=20,XRP=10,BNB=10,ADA=5,LTC=5,TRX=5,LINK=5,XLM=4,ETC=3,DOGE=3";

/// (name, arguments after `backtest`). Each covers one or more of: mode, interval, fee,
/// weights, number of assets, an outage gap, a long window.
fn cases() -> Vec<(&'static str, Vec<&'static str>)> {
    let d = |a: &'static str, s: &'static str, e: &'static str| vec!["--assets", a, "--start", s, "--end", e];
    let mut out: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
    let mut add = |name, mut base: Vec<&'static str>, rest: &[&'static str]| {
        base.extend_from_slice(rest);
        out.push((name, base));
    };
    let w3 = || d("BTC,ETH,XRP", "2019-01-01", "2025-12-31");
    add("hodl 3 assets 1d fee 0", w3(), &["--mode", "hodl", "--fee-bps", "0"]);
    // (HODL at fees 10 and 25 is the `hodl` object of every other case.)
    add("calendar 7d 1d fee 0", w3(), &["--mode", "calendar", "--every", "7d", "--fee-bps", "0"]);
    add("calendar 7d 1d fee 10", w3(), &["--mode", "calendar", "--every", "7d", "--fee-bps", "10"]);
    // 30d is outside ballast's allowed range (30m ..= 4w); 4w = 28 bars is the longest.
    add("calendar 4w 1d fee 0", w3(), &["--mode", "calendar", "--every", "4w", "--fee-bps", "0"]);
    add(
        "calendar 7d 1d custom fee 25",
        w3(),
        &["--weights", "custom:BTC=50,ETH=30,XRP=20", "--mode", "calendar", "--every", "7d", "--fee-bps", "25"],
    );
    add(
        "threshold abs 5 1d fee 0",
        w3(),
        &["--mode", "threshold", "--threshold", "5", "--threshold-kind", "absolute", "--fee-bps", "0"],
    );
    add(
        "threshold rel 20 1d custom fee 25",
        w3(),
        &[
            "--weights",
            "custom:BTC=50,ETH=30,XRP=20",
            "--mode",
            "threshold",
            "--threshold",
            "20",
            "--threshold-kind",
            "relative",
            "--fee-bps",
            "25",
        ],
    );
    add(
        "threshold rel 20 11 assets 1d fee 10",
        d(ALL11_4H, "2021-01-01", "2025-12-31"),
        &["--mode", "threshold", "--threshold", "20", "--threshold-kind", "relative", "--fee-bps", "10"],
    );
    add(
        "threshold abs 2 11 assets custom 1d long fee 10",
        d("BTC,ETH,XRP,BNB,ADA,LTC,TRX,LINK,XLM,ETC,DOGE", "2018-07-01", "2025-12-31"),
        &["--weights", CUSTOM11, "--mode", "threshold", "--threshold", "2", "--fee-bps", "10"],
    );
    add(
        "threshold rel 10 with SHIB (scientific notation) fee 10",
        d("BTC,ETH,SHIB", "2021-06-01", "2025-12-31"),
        &["--mode", "threshold", "--threshold", "10", "--threshold-kind", "relative", "--fee-bps", "10"],
    );
    // 4h, 2018: BTC/ETH outage gaps (2179 common bars instead of 2190).
    let gap = || {
        let mut v = d("BTC,ETH", "2018-01-01", "2018-12-31");
        v.extend(["--interval", "4h"]);
        v
    };
    add("calendar 1d on 4h (6 bars) gap fee 0", gap(), &["--mode", "calendar", "--every", "1d", "--fee-bps", "0"]);
    add("calendar 1d on 4h (6 bars) gap fee 10", gap(), &["--mode", "calendar", "--every", "1d", "--fee-bps", "10"]);
    add("threshold abs 1 4h gap fee 25", gap(), &["--mode", "threshold", "--threshold", "1", "--fee-bps", "25"]);
    add(
        "calendar 1d on 4h 11 assets fee 25",
        {
            let mut v = d(ALL11_4H, "2024-01-01", "2025-12-31");
            v.extend(["--interval", "4h"]);
            v
        },
        &["--mode", "calendar", "--every", "1d", "--fee-bps", "25"],
    );
    // The long window on 4h: about 14 000 common bars of 8 assets (~1 s of Python).
    add(
        "threshold abs 5 4h long window 8 assets fee 10",
        {
            let mut v = d(LONG8, "2018-07-01", "2025-12-31");
            v.extend(["--interval", "4h"]);
            v
        },
        &["--mode", "threshold", "--threshold", "5", "--fee-bps", "10"],
    );
    out
}

fn python_available() -> bool {
    StdCommand::new("python3").arg("--version").output().map(|o| o.status.success()).unwrap_or(false)
}

fn run_ballast(args: &[&str]) -> Value {
    let out = Command::cargo_bin("ballast")
        .unwrap()
        .current_dir(root())
        .arg("backtest")
        .args(args)
        .args(["--sim", "ideal", "--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "ballast {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run_reference(args: &[&str]) -> Value {
    let out = StdCommand::new("python3").current_dir(root()).arg(SCRIPT).args(args).output().unwrap();
    assert!(out.status.success(), "{SCRIPT} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Compares every field the reference prints (recursing into `hodl`). Records the largest
/// relative difference per metric in `worst` and returns the mismatches.
fn compare(prefix: &str, ours: &Value, reference: &Value, worst: &mut BTreeMap<String, f64>) -> Vec<String> {
    let mut bad = Vec::new();
    for (key, r) in reference.as_object().expect("reference output is an object") {
        let name = format!("{prefix}{key}");
        let Some(o) = ours.get(key) else {
            bad.push(format!("{name}: missing from ballast's output"));
            continue;
        };
        match (o, r) {
            (Value::Object(_), Value::Object(_)) => bad.extend(compare(&format!("{name}."), o, r, worst)),
            (Value::Number(a), Value::Number(b)) if a.is_f64() || b.is_f64() => {
                let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
                let rel = if a == b { 0.0 } else { (a - b).abs() / a.abs().max(b.abs()) };
                let w = worst.entry(name.clone()).or_insert(0.0);
                *w = w.max(rel);
                if rel.is_nan() || rel > TOLERANCE {
                    bad.push(format!("{name}: ballast {a:e}, reference {b:e}, relative difference {rel:e}"));
                }
            }
            _ => {
                if o != r {
                    bad.push(format!("{name}: ballast {o}, reference {r}"));
                }
            }
        }
    }
    bad
}

#[test]
fn ideal_backtest_agrees_with_the_independent_reference() {
    if !python_available() {
        assert!(std::env::var_os("CI").is_none(), "python3 is not on PATH, and CI is set: the cross-check must run");
        eprintln!("note: python3 not on PATH; skipping the cross-check against {SCRIPT}");
        return;
    }
    let cases = cases();
    // Each case runs both programs; the cases run in parallel to keep the wall time low.
    let results: Vec<(Value, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> =
            cases.iter().map(|(_, args)| s.spawn(move || (run_ballast(args), run_reference(args)))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let mut worst = BTreeMap::new();
    let mut failures = Vec::new();
    for ((name, args), (ours, reference)) in cases.iter().zip(&results) {
        assert_eq!(ours["config"]["sim"], "ideal", "{name}");
        // A strategy case that never rebalances would only compare HODL twice.
        if !args.contains(&"hodl") {
            assert!(reference["rebalances"].as_u64().unwrap() > 0, "{name}: no rebalance in the window");
        }
        for m in compare("", ours, reference, &mut worst) {
            failures.push(format!("[{name}] {m}\n    args: {}", args.join(" ")));
        }
    }
    eprintln!("largest relative difference per metric over {} cases:", cases.len());
    for (metric, rel) in &worst {
        eprintln!("  {metric:<20} {rel:e}");
    }
    assert!(failures.is_empty(), "{} disagreement(s):\n{}", failures.len(), failures.join("\n"));
}
