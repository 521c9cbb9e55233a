//! The fee reserve (`[execution] fee_reserve`) through the real binary: a live bot on
//! `ballast sim --fee-discount bnb` (Binance's "pay fees with BNB") buys its BNB
//! reserve with its first buy, `bot history` says "fee reserve top-up", every fill at
//! the venue pays its fee in BNB, the ledger equals the venue's account, and a stop to
//! USDT sells the reserve too; and a paper bot whose paper account pays fees in BNB
//! (`"bnb_fees": true` in `paper.json`) does the same through `ballast run`, its running
//! ledger agreeing with its fills (`ballast doctor`).

mod common;

use common::process::{Sim, ballast_ok, check_against_venue, create_live_bot_with};
use rust_decimal_macros::dec;

const RESERVE: &str = "[execution]\nfee_reserve = { asset = \"BNB\", min = \"10\", target = \"25\" }\n";

/// `(side, base, fee_asset)` of every fill in a paper venue's database.
fn venue_fills(db: &std::path::Path) -> Vec<(String, String, String)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut q = c
        .prepare("SELECT o.side, o.base, f.fee_asset FROM fills f JOIN orders o USING (venue_id) ORDER BY f.trade_id")
        .unwrap();
    q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn a_live_bot_keeps_a_bnb_reserve_against_ballast_sim_and_a_stop_sells_it() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let db = d.join("venue.sqlite");
    let sim = Sim::start(&db, &["--speed", "0.01", "--fee-discount", "bnb"]);
    create_live_bot_with(d, &sim, "reserve", "binance", &["BTC", "ETH", "XRP"], "3", RESERVE);
    let history = ballast_ok(d, &["bot", "history", "1"]);
    assert!(history.contains("BNB") && history.contains("fee reserve top-up"), "{history}");
    let fills = venue_fills(&db);
    assert_eq!(fills.len(), 4, "{fills:?}");
    assert_eq!(fills[0].1, "BNB", "the reserve is bought first: {fills:?}");
    assert!(fills.iter().all(|(_, _, fee)| fee == "BNB"), "every fee in BNB: {fills:?}");
    let checked = check_against_venue(d, &db, dec!(10000));
    assert_eq!((checked.bots, checked.fills), (1, 4), "{checked:?}");
    // A stop to USDT sells the reserve with the coins (what is below a step stays at
    // the venue as dust, withdrawn from the stopped bot's books).
    let stop = ballast_ok(d, &["bot", "stop", "1", "--to-usdt"]);
    assert!(stop.contains("stop"), "{stop}");
    let fills = venue_fills(&db);
    assert!(fills.iter().any(|(side, base, _)| side == "sell" && base == "BNB"), "the reserve was sold: {fills:?}");
    sim.stop();
}

#[test]
fn a_paper_bot_keeps_a_bnb_reserve_when_the_paper_account_pays_fees_in_bnb() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    ballast_ok(d, &["bot", "list"]);
    let path = d.join("paper.json");
    let mut world: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    world["bnb_fees"] = serde_json::json!(true);
    std::fs::write(&path, serde_json::to_string_pretty(&world).unwrap()).unwrap();
    let cfg = d.join("bot.toml");
    std::fs::write(
        &cfg,
        format!("name = \"reserve\"\nvenue = \"paper\"\namount = \"1000\"\nassets = [\"BTC\", \"ETH\", \"XRP\"]\n[rebalance]\nthreshold = 3\n{RESERVE}"),
    )
    .unwrap();
    ballast_ok(d, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    ballast_ok(d, &["run", "--bars", "60", "--quiet"]);
    let fills = venue_fills(&d.join("paper.sqlite"));
    assert!(fills.len() > 4, "it rebalanced: {fills:?}");
    assert_eq!(fills[0].1, "BNB", "{fills:?}");
    assert!(fills.iter().all(|(_, _, fee)| fee == "BNB"), "every fee in BNB: {fills:?}");
    assert!(fills.iter().all(|(side, base, _)| !(side == "sell" && base == "BNB")), "never sold: {fills:?}");
    let doctor = ballast_ok(d, &["doctor"]);
    assert!(!doctor.contains("differ"), "{doctor}");
    let history = ballast_ok(d, &["bot", "history", "1"]);
    assert!(history.contains("fee reserve top-up"), "{history}");
    // The reserve is shown as such, not as a coin at a 0 % target.
    let status = ballast_ok(d, &["bot", "status", "1"]);
    let line = status.lines().find(|l| l.starts_with("BNB ")).unwrap_or_else(|| panic!("{status}"));
    assert!(line.trim_end().ends_with("reserve"), "{status}");
    // So does the API's view (`bot_json`, which the dashboard's holdings table reads).
    let json: serde_json::Value =
        serde_json::from_str(&ballast_ok(d, &["bot", "status", "1", "--format", "json"])).unwrap();
    let weights = json["weights"].as_array().unwrap();
    let bnb = weights.iter().find(|w| w["asset"] == "BNB").unwrap_or_else(|| panic!("{json}"));
    assert_eq!(bnb["reserve"], true, "{bnb}");
    assert!(weights.iter().filter(|w| w["asset"] != "BNB").all(|w| w.get("reserve").is_none()), "{json}");
}
