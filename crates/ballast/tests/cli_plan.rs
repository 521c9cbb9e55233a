//! `ballast plan`, driven through the real binary.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/worked-example.toml")
}

fn ballast() -> Command {
    Command::cargo_bin("ballast").unwrap()
}

fn write(dir: &tempfile::TempDir, text: &str) -> PathBuf {
    let p = dir.path().join("portfolio.toml");
    std::fs::write(&p, text).unwrap();
    p
}

const MINIMAL: &str = r#"
quote = "USDT"
fee_bps = 10
[holdings]
BTC = "0.00384615"
ETH = "0.0833333"
USDT = "0"
[prices]
BTC = "84500"
ETH = "2400"
[targets]
BTC = 50
ETH = 50
[rules.BTC]
step = "0.00001"
tick = "0.01"
min_notional = "5"
"#;

#[test]
fn worked_example_json_restores_equal_weights() {
    let out = ballast().args(["plan", "--portfolio"]).arg(example()).args(["--format", "json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let legs = v["legs"].as_array().unwrap();
    assert_eq!(legs[0]["asset"], "BTC");
    assert_eq!(legs[0]["side"], "sell");
    assert!(legs.iter().any(|l| l["asset"] == "ETH" && l["side"] == "buy"));
    for leg in legs {
        for k in ["quantity", "price", "notional", "fee"] {
            assert!(leg[k].is_string(), "{k} is a string: {leg}");
        }
    }
    for asset in ["BTC", "ETH", "XRP", "BNB"] {
        let w: f64 = v["weights_after"][asset].as_str().unwrap().parse().unwrap();
        assert!((w - 0.25).abs() < 0.002, "{asset}: {w}");
    }
    let drift: f64 = v["max_drift_after"].as_str().unwrap().parse().unwrap();
    assert!(drift < 0.002);
    assert!(v["skipped"].as_array().unwrap().is_empty());
}

#[test]
fn text_output_lists_orders_and_minimum() {
    ballast()
        .args(["plan", "--portfolio"])
        .arg(example())
        .assert()
        .success()
        .stdout(predicate::str::contains("SELL BTC"))
        .stdout(predicate::str::contains("BUY  ETH"))
        .stdout(predicate::str::contains("Minimum investment"));
}

#[test]
fn the_issue_example_runs() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, MINIMAL);
    let out = ballast().args(["plan", "--format", "json", "--portfolio"]).arg(&p).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // 325 in BTC and 200 in ETH against 50/50: sell BTC, buy ETH.
    assert_eq!(v["legs"][0]["asset"], "BTC");
    assert_eq!(v["legs"][1]["asset"], "ETH");
}

fn fails_with(text: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, text);
    let out = ballast().args(["plan", "--portfolio"]).arg(&p).output().unwrap();
    assert!(!out.status.success(), "should fail: {text}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("portfolio.toml"), "names the file: {err}");
    for n in needles {
        assert!(err.contains(n), "expected {n:?} in: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_names_file_key_and_problem() {
    fails_with("quote = ", &["invalid TOML"]);
    fails_with(&MINIMAL.replace("ETH = 50", "ETH = 40"), &["targets", "sum to 90"]);
    fails_with(&MINIMAL.replace("ETH = \"2400\"", "ETH = \"0\""), &["prices.ETH", "greater than zero"]);
    fails_with(&MINIMAL.replace("ETH = \"2400\"", "ETH = \"abc\""), &["prices.ETH", "not a number"]);
    fails_with(&MINIMAL.replace("ETH = \"2400\"\n", ""), &["prices.ETH", "missing"]);
    fails_with(&MINIMAL.replace("fee_bps = 10", "fee_bps = 10\nfee = 3"), &["fee", "unknown key"]);
    fails_with(&MINIMAL.replace("fee_bps = 10", "fee_bps = 5000"), &["fee_bps", "out of range"]);
    fails_with(&MINIMAL.replace("BTC = 50\nETH = 50", "BTC = 50\nUSDT = 50"), &["USDT", "quote"]);
    fails_with(&MINIMAL.replace("ETH = \"0.0833333\"", "ETH = \"-1\""), &["holdings.ETH", "negative"]);
    fails_with(&MINIMAL.replace("[targets]", "[targets]\nbtc = 1"), &["BTC", "twice"]);
    fails_with(&MINIMAL.replace("step = \"0.00001\"", "step = \"-1\""), &["rules.BTC", "step"]);
    fails_with(&MINIMAL.replace("[targets]", "[targets]\n\"BTC/X\" = 1"), &["targets.BTC/X", "invalid asset"]);
}

#[test]
fn missing_file_is_named() {
    ballast()
        .args(["plan", "--portfolio", "/nonexistent/p.toml"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("/nonexistent/p.toml").and(predicate::str::contains("cannot read")));
}
