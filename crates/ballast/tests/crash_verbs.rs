//! Crash safety of the lifecycle verbs: `bot create`, `bot invest`, `bot edit`,
//! `bot stop --to-usdt` and `bot stop --return-coins` are killed with SIGKILL at random
//! moments (aimed, with jitter, at the end of each verb, where it writes and trades:
//! earlier after a run that finished first, later after one killed before it did
//! anything), the data directory is opened
//! again by a short `ballast run`, and then:
//! - every verb has happened whole or not at all (`--return-coins` is tried on a paused
//!   bot): every bot has its state and its
//!   creation record; an investment is a cash flow with its event, or neither; a stop
//!   that began is finished by the restart (the bot is stopped, its coins returned),
//!   and one that did not begin left the bot active;
//! - a stopped bot never trades again;
//! - no order was sent twice, every venue fill is recorded once, nothing is left
//!   unresolved, and the ledgers equal the venue: for each coin, the bots' holdings
//!   plus what stopped bots returned equal the venue's balance (quote: at least the
//!   bots' holdings, since returned quote funds later bots and a kill after a paper
//!   deposit and before the verb leaves the deposit unowned).
//!
//! Iterations per verb: `BALLAST_VERB_CRASH_ITERATIONS` (default 6; the full profile
//! uses 100: `BALLAST_VERB_CRASH_ITERATIONS=100 cargo test --release -p ballast --test
//! crash_verbs -- --nocapture`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ballast_store::sqlite::SqliteStore;
use ballast_store::{BotStatus, Store};
use rust_decimal::Decimal;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("ballast")
}

fn config(name: &str, threshold: &str) -> String {
    format!(
        "name = \"{name}\"\namount = \"500\"\nassets = [\"BTC\", \"ETH\", \"XRP\", \"BNB\"]\n[rebalance]\nmode = \"threshold\"\nthreshold = {threshold}\n"
    )
}

fn ballast(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(bin()).current_dir(root()).args(args).arg("--data-dir").arg(dir).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ballast(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Verb {
    Create,
    Invest,
    Edit,
    StopToUsdt,
    StopReturnCoins,
}

/// Runs `args`, killing it after `after` (if still running); whether it was killed.
fn run_killed(dir: &Path, args: &[String], after: Duration) -> bool {
    let mut child = Command::new(bin())
        .current_dir(root())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + after;
    while Instant::now() < deadline {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let killed = child.try_wait().unwrap().is_none();
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

/// Counts of what a bot has recorded, to tell "whole" from "not at all".
fn invests(store: &SqliteStore, bot: i64) -> (usize, usize) {
    let flows = store.cash_flows(bot).unwrap().iter().filter(|f| f.note == "invest").count();
    let events = store.events(bot, 1_000_000).unwrap().iter().filter(|e| e.kind == "invest").count();
    (flows, events)
}

#[test]
fn sigkill_during_every_verb_leaves_it_whole_or_undone() {
    let per_verb: usize = std::env::var("BALLAST_VERB_CRASH_ITERATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let edit_a = d.join("edit-a.toml");
    let edit_b = d.join("edit-b.toml");
    std::fs::write(&edit_a, config("x", "2")).unwrap();
    std::fs::write(&edit_b, config("x", "4").replace(", \"BNB\"", "")).unwrap();
    let mut rng = Lcg(0xc0ffee);
    let mut stats: BTreeMap<Verb, (usize, usize, usize)> = BTreeMap::new(); // (runs, kills, happened)
    let mut n = 0usize;
    // One bot to start with; the replay moves a few bars between verbs.
    std::fs::write(d.join("b0.toml"), config("b0", "1")).unwrap();
    ok(d, &["bot", "create", "--config", d.join("b0.toml").to_str().unwrap(), "--yes"]);
    // Each verb's duration when not killed, measured once on this machine.
    let mut took: BTreeMap<Verb, Duration> = BTreeMap::new();
    let mut aim: BTreeMap<Verb, f64> = BTreeMap::new();
    let verbs = [Verb::Create, Verb::Invest, Verb::Edit, Verb::StopToUsdt, Verb::StopReturnCoins];
    for round in 0..per_verb {
        for &verb in &verbs {
            n += 1;
            let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
            let active: Vec<i64> =
                store.bots().unwrap().iter().filter(|b| b.status == BotStatus::Active).map(|b| b.id).collect();
            drop(store);
            // The bot the verb acts on (a new one when none is active).
            let target = match active.last() {
                Some(id) => *id,
                None => {
                    let f = d.join(format!("c{n}.toml"));
                    std::fs::write(&f, config(&format!("c{n}"), "1")).unwrap();
                    ok(d, &["bot", "create", "--config", f.to_str().unwrap(), "--yes"]);
                    let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
                    store.bots().unwrap().last().unwrap().id
                }
            };
            let name = format!("v{n}");
            let file = d.join(format!("{name}.toml"));
            std::fs::write(&file, config(&name, "1")).unwrap();
            let id = target.to_string();
            let args: Vec<String> = match verb {
                Verb::Create => {
                    vec!["bot".into(), "create".into(), "--config".into(), file.display().to_string(), "--yes".into()]
                }
                Verb::Invest => {
                    vec!["bot".into(), "invest".into(), id.clone(), "--usdt".into(), "100".into(), "--yes".into()]
                }
                Verb::Edit => vec![
                    "bot".into(),
                    "edit".into(),
                    id.clone(),
                    "--config".into(),
                    (if round % 2 == 0 { &edit_a } else { &edit_b }).display().to_string(),
                    "--yes".into(),
                ],
                Verb::StopToUsdt => vec!["bot".into(), "stop".into(), id.clone(), "--to-usdt".into()],
                Verb::StopReturnCoins => vec!["bot".into(), "stop".into(), id.clone(), "--return-coins".into()],
            };
            // A paused bot can be stopped too: a stop interrupted on it must be finished
            // by the runner like any other.
            if verb == Verb::StopReturnCoins {
                ok(d, &["bot", "pause", &id]);
            }
            let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
            let before_invest = invests(&store, target);
            let bots_before = store.bots().unwrap().len();
            drop(store);
            let full = *took.entry(verb).or_insert_with(|| {
                // Measure on a copy of the data directory, so the real one is untouched.
                let copy = tempfile::tempdir().unwrap();
                for e in std::fs::read_dir(d).unwrap() {
                    let e = e.unwrap();
                    if e.file_type().unwrap().is_file() {
                        std::fs::copy(e.path(), copy.path().join(e.file_name())).unwrap();
                    }
                }
                let t = Instant::now();
                let _ = Command::new(bin()).current_dir(root()).args(&args).arg("--data-dir").arg(copy.path()).output();
                let took = t.elapsed();
                println!("{verb:?} takes {} ms when not killed", took.as_millis());
                took
            });
            // The kill time follows the verb's end: earlier after a run that finished,
            // later after one killed before it did anything, with jitter, so the kills
            // gather where the verb writes and trades (its first part is start-up).
            let aimed = *aim.entry(verb).or_insert(full.as_millis() as f64 * 0.8);
            let jitter = 0.8 + (rng.next() % 400) as f64 / 1000.0;
            let at = Duration::from_millis((aimed * jitter) as u64);
            let killed = run_killed(d, &args, at);
            let e = stats.entry(verb).or_default();
            e.0 += 1;
            if killed {
                e.1 += 1;
            }
            // The restart.
            let out = ballast(d, &["run", "--bars", "2"]);
            assert!(out.status.success(), "restart after {verb:?}: {}", String::from_utf8_lossy(&out.stderr));
            let list = ballast(d, &["bot", "list"]);
            assert!(list.status.success(), "bot list after {verb:?}: {}", String::from_utf8_lossy(&list.stderr));

            let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
            let bots = store.bots().unwrap();
            for b in &bots {
                assert!(store.load_versioned(b.id).unwrap().is_some(), "bot {} has no state after {verb:?}", b.id);
                assert!(!store.cash_flows(b.id).unwrap().is_empty(), "bot {} has no creation record", b.id);
                assert!(
                    b.status == BotStatus::Active || !b.status_reason.trim().is_empty(),
                    "bot {} is {} without a reason",
                    b.id,
                    b.status
                );
            }
            let happened = match verb {
                Verb::Create => {
                    assert!(bots.len() == bots_before || bots.len() == bots_before + 1);
                    bots.len() == bots_before + 1
                }
                Verb::Invest => {
                    let after = invests(&store, target);
                    let whole = after == (before_invest.0 + 1, before_invest.1 + 1);
                    assert!(whole || after == before_invest, "invest half done: {before_invest:?} -> {after:?}");
                    whole
                }
                Verb::Edit => true,
                Verb::StopToUsdt | Verb::StopReturnCoins => {
                    let rec = store.bot(target).unwrap().unwrap();
                    let state: serde_json::Value =
                        serde_json::from_str(&store.load_versioned(target).unwrap().unwrap().json).unwrap();
                    assert!(state["stopping"].is_null(), "a begun stop is finished by the restart: {state}");
                    if rec.status == BotStatus::Stopped {
                        assert!(!state["summary"].is_null(), "a stopped bot keeps what it returned");
                        let held = ballast_engine::ledger::holdings(
                            &store.cash_flows(target).unwrap(),
                            &store.fills(target).unwrap(),
                        );
                        assert!(held.values().all(|q| q.is_zero()), "a stopped bot holds nothing: {held:?}");
                    }
                    rec.status == BotStatus::Stopped
                }
            };
            if happened {
                stats.entry(verb).or_default().2 += 1;
            }
            let a = aim.get_mut(&verb).expect("aimed");
            *a = match (killed, happened) {
                (false, _) => *a * 0.85,
                (true, false) => *a * 1.1,
                (true, true) => *a,
            };
        }
    }
    // A stopped bot never trades again, and the whole history is consistent.
    let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
    let stopped: Vec<(i64, usize)> = store
        .bots()
        .unwrap()
        .iter()
        .filter(|b| b.status == BotStatus::Stopped)
        .map(|b| (b.id, store.orders(b.id, 1_000_000).unwrap().len()))
        .collect();
    drop(store);
    ok(d, &["run", "--bars", "30"]);
    let store = SqliteStore::open(&d.join("ballast.sqlite")).unwrap();
    for (id, orders) in &stopped {
        assert_eq!(store.orders(*id, 1_000_000).unwrap().len(), *orders, "stopped bot {id} traded again");
    }
    let venue = rusqlite::Connection::open(d.join("paper.sqlite")).unwrap();
    let mut q = venue.prepare("SELECT client_id FROM orders").unwrap();
    let venue_orders: Vec<String> = q.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect();
    let mut intents = BTreeSet::new();
    let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut owned_usdt = Decimal::ZERO;
    let mut fills = 0usize;
    for b in store.bots().unwrap() {
        assert!(store.unresolved(b.id).unwrap().is_empty(), "bot {}: unresolved orders", b.id);
        for o in store.orders(b.id, 1_000_000).unwrap() {
            assert!(intents.insert(o.intent.client_id.to_string()), "client id used twice");
        }
        let flows = store.cash_flows(b.id).unwrap();
        let bf = store.fills(b.id).unwrap();
        fills += bf.len();
        for (a, q) in ballast_engine::ledger::holdings(&flows, &bf) {
            *ledger.entry(a.to_string()).or_default() += q.0;
            if a.as_str() == "USDT" {
                owned_usdt += q.0;
            }
        }
        // What a stop returned stays in the account.
        for f in flows.iter().filter(|f| f.note == "stop") {
            *ledger.entry(f.asset.to_string()).or_default() -= f.qty.0;
        }
    }
    for cid in &venue_orders {
        assert!(intents.contains(cid), "venue order {cid} has no intent: sent twice or never planned");
    }
    assert_eq!(venue_orders.iter().collect::<BTreeSet<_>>().len(), venue_orders.len(), "a client id sent twice");
    let venue_fills: i64 = venue.query_row("SELECT COUNT(*) FROM fills", [], |r| r.get(0)).unwrap();
    assert_eq!(fills as i64, venue_fills, "every venue fill recorded once");
    let mut q = venue.prepare("SELECT asset, free, locked FROM balances").unwrap();
    let balances: Vec<(String, String, String)> =
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect();
    for (asset, free, locked) in balances {
        let total = free.parse::<Decimal>().unwrap() + locked.parse::<Decimal>().unwrap();
        let mine = ledger.get(&asset).copied().unwrap_or_default();
        if asset == "USDT" {
            // USDT a stop returned may fund a later bot: the venue holds at least what
            // the bots' ledgers hold.
            assert!(total >= owned_usdt, "USDT: venue {total} below the ledgers' {owned_usdt}");
        } else {
            assert_eq!(mine, total, "{asset}: ledgers {mine}, venue {total}");
        }
    }
    for (verb, (runs, kills, happened)) in &stats {
        println!("{verb:?}: {runs} runs, {kills} SIGKILLs, {happened} happened whole, the rest not at all");
    }
    let kills: usize = stats.values().map(|s| s.1).sum();
    assert!(kills >= verbs.len(), "the verbs were killed mid-flight: {stats:?}");
}
