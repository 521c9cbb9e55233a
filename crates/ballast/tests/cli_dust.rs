//! `ballast bot dust --sweep` through the real binary and the Binance adapter against
//! `ballast sim`: the dust a removed coin left (its last sell filled only in part) is
//! listed, converted into BNB by `POST /sapi/v1/asset/dust`, the bot's ledger equals
//! the sim's account afterwards, and a second sweep converts nothing.

mod common;

use common::process::{Sim, ballast_cmd, ballast_ok, check_against_venue, create_live_bot};
use rust_decimal_macros::dec;

#[test]
fn the_dust_of_a_removed_coin_is_swept_into_bnb_through_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("venue.sqlite");
    // A slow replay: the prices do not move between the edit and the sweep.
    let sim = Sim::start(&db, &["--speed", "0.01"]);
    create_live_bot(d, &sim, "dusty", "binance", &["BTC", "ETH", "XRP", "BNB"], "3");
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
    let swept = ballast_ok(d, &["bot", "dust", "1", "--sweep"]);
    assert!(swept.contains("converted") && swept.contains("ETH") && swept.contains("BNB"), "{swept}");
    let none = ballast_ok(d, &["bot", "dust", "1"]);
    assert!(none.contains("holds no dust"), "{none}");
    let again = ballast_ok(d, &["bot", "dust", "1", "--sweep"]);
    assert!(again.contains("no dust to convert"), "{again}");
    sim.stop();
    let checked = check_against_venue(d, &db, dec!(10000));
    assert_eq!(checked.bots, 1, "{checked:?}");
}
