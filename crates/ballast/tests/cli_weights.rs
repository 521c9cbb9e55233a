//! `ballast weights`, driven through the real binary on the bundled data.

use std::path::PathBuf;

use assert_cmd::Command;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn weights(args: &[&str]) -> std::process::Output {
    let mut cmd = Command::cargo_bin("ballast").unwrap();
    cmd.current_dir(root()).arg("weights").args(args);
    cmd.output().unwrap()
}

fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = weights(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const WINDOW: [&str; 6] = ["--assets", "BTC,ETH,XRP,BNB", "--start", "2024-01-01", "--end", "2024-12-31"];

fn weight_map(v: &Value) -> Vec<(String, f64)> {
    v["weights"].as_object().unwrap().iter().map(|(k, w)| (k.clone(), w.as_f64().unwrap())).collect()
}

#[test]
fn every_method_gives_weights_summing_to_one() {
    for m in ["equal", "inverse-vol", "min-variance", "risk-parity", "hrp", "market-cap"] {
        let mut args = vec!["--method", m];
        args.extend(WINDOW);
        let v = json(&args);
        assert_eq!(v["method"], m);
        let w = weight_map(&v);
        assert_eq!(w.len(), 4, "{m}");
        let sum: f64 = w.iter().map(|x| x.1).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{m}: {sum}");
        assert!(w.iter().all(|x| x.1 >= 0.0 && x.1.is_finite()), "{m}: {w:?}");
    }
}

#[test]
fn risk_parity_equalises_risk_shares() {
    let mut args = vec!["--method", "risk-parity"];
    args.extend(WINDOW);
    let v = json(&args);
    assert_eq!(v["observations"], 365);
    for (a, s) in v["risk_share"].as_object().unwrap() {
        assert!((s.as_f64().unwrap() - 0.25).abs() < 1e-6, "{a}: {s}");
    }
}

#[test]
fn inverse_vol_weights_are_inverse_to_volatility() {
    let mut args = vec!["--method", "inverse-vol"];
    args.extend(WINDOW);
    let v = json(&args);
    let w = &v["weights"];
    let vol = &v["annual_volatility"];
    let k = |a: &str| w[a].as_f64().unwrap() * vol[a].as_f64().unwrap();
    for a in ["ETH", "XRP", "BNB"] {
        assert!((k(a) - k("BTC")).abs() < 1e-9, "w * vol is constant");
    }
}

#[test]
fn market_cap_uses_the_latest_snapshot_not_after_end() {
    let v = json(&["--method", "market-cap", "--assets", "BTC,ETH", "--end", "2021-06-15"]);
    assert_eq!(v["snapshot"], "2021-06-01");
    let w = weight_map(&v);
    assert!(w[0].1 > w[1].1, "BTC outweighs ETH: {w:?}");
    let capped =
        json(&["--method", "market-cap", "--assets", "BTC,ETH,XRP", "--end", "2021-06-15", "--max-weight", "50"]);
    assert!((capped["weights"]["BTC"].as_f64().unwrap() - 0.5).abs() < 1e-9);
}

#[test]
fn weights_use_only_the_window() {
    // The window decides: one month more of data changes the weights, and the count
    // of returns is exactly the window's (181 closes, 180 returns).
    let a = json(&["--method", "inverse-vol", "--assets", "BTC,ETH", "--start", "2022-01-01", "--end", "2022-06-30"]);
    let b = json(&["--method", "inverse-vol", "--assets", "BTC,ETH", "--start", "2022-01-01", "--end", "2022-07-31"]);
    assert_eq!(a["observations"], 180);
    assert_ne!(a["weights"], b["weights"]);
}

#[test]
fn bad_input_is_a_clear_error() {
    let cases: &[(&[&str], &str)] = &[
        (&["--method", "magic", "--assets", "BTC,ETH"], "unknown weighting method"),
        (&["--method", "hrp", "--assets", "BTC,NOPE"], "NOPE"),
        (&["--method", "hrp", "--assets", "BTC,ETH", "--start", "2024-02-30"], "--start"),
        (&["--method", "hrp", "--assets", "BTC,ETH", "--start", "2024-01-01", "--end", "2024-01-10"], "observations"),
        (&["--method", "hrp", "--assets", "BTC,BTC"], "twice"),
        (&["--method", "hrp", "--assets", "BTC,ETH", "--data", "/nonexistent"], "/nonexistent"),
        (&["--method", "inverse-vol", "--assets", "BTC,ETH", "--max-weight", "40"], "market-cap only"),
        (&["--method", "market-cap", "--assets", "BTC,ETH", "--end", "2019-01-01"], "2020-01-01"),
    ];
    for (args, needle) in cases {
        let out = weights(args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} should fail");
        assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
