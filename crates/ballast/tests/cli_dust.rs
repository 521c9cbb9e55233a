//! `ballast bot dust --sweep` through the real binary and the Binance adapter against
//! `ballast sim`: the dust a removed coin left (its last sell filled only in part) is
//! listed, converted into BNB by `POST /sapi/v1/asset/dust`, the bot's ledger equals
//! the sim's account afterwards, and a second sweep converts nothing. Through the Gate
//! adapter the sim converts into GT, which `ballast sim` cannot price (the bundle has no
//! GT candles): the sweep is refused naming GT, nothing changes, the bot carries on.

mod common;

use common::process::{Sim, ballast_cmd, ballast_ok, check_against_venue, create_live_bot};
use rust_decimal_macros::dec;

/// A bot on `venue` whose removed ETH left dust; the sim's account file.
fn dusty_bot(d: &std::path::Path, venue: &str) -> Sim {
    let db = d.join("venue.sqlite");
    // A slow replay: the prices do not move between the edit and the sweep.
    let sim = Sim::start(&db, &["--speed", "0.01"]);
    create_live_bot(d, &sim, "dusty", venue, &["BTC", "ETH", "XRP", "BNB"], "3");
    // ETH is removed; its sell fills 99 % (the 1 % left is below the 5 USDT minimum).
    let cfg = d.join("edited.toml");
    let text = std::fs::read_to_string(d.join("dusty.toml")).unwrap().replace("\"ETH\", ", "");
    std::fs::write(&cfg, text).unwrap();
    sim.faults_set(r#"{"partial_fill_rate": 1, "partial_fill_fraction": 0.99}"#);
    // The edit's rebalance is left off target by the partial fills: it says so.
    let _ = ballast_cmd(d, &["bot", "edit", "1", "--yes", "--config", cfg.to_str().unwrap()]).output().unwrap();
    sim.faults_off();
    let listed = ballast_ok(d, &["bot", "dust", "1"]);
    assert!(listed.contains("ETH"), "{listed}");
    sim
}

#[test]
fn the_dust_of_a_removed_coin_is_swept_into_bnb_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = dusty_bot(d, "binance");
    let swept = ballast_ok(d, &["bot", "dust", "1", "--sweep"]);
    assert!(swept.contains("converted") && swept.contains("ETH") && swept.contains("BNB"), "{swept}");
    let none = ballast_ok(d, &["bot", "dust", "1"]);
    assert!(none.contains("holds no dust"), "{none}");
    let again = ballast_ok(d, &["bot", "dust", "1", "--sweep"]);
    assert!(again.contains("no dust to convert"), "{again}");
    sim.stop();
    let checked = check_against_venue(d, &d.join("venue.sqlite"), dec!(10000));
    assert_eq!(checked.bots, 1, "{checked:?}");
}

#[test]
fn a_gate_sweep_the_sim_cannot_price_is_refused_naming_gt_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sim = dusty_bot(d, "gate");
    for _ in 0..2 {
        let out = ballast_cmd(d, &["bot", "dust", "1", "--sweep"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains("no GT market"), "{err}");
    }
    let still = ballast_ok(d, &["bot", "dust", "1"]);
    assert!(still.contains("ETH"), "{still}");
    sim.stop();
    let checked = check_against_venue(d, &d.join("venue.sqlite"), dec!(10000));
    assert_eq!(checked.statuses.len(), 1, "{checked:?}");
    assert_eq!(checked.statuses[0].1, ballast_store::BotStatus::Active, "{checked:?}");
}
