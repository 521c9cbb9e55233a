//! The real binary as processes: `ballast sim` with its account in a SQLite file, the
//! bot commands with the simulator's keys, and the checks of the bots' store against
//! the simulated venue's own records.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ballast_store::sqlite::SqliteStore;
use ballast_store::{BotStatus, OrderState, Store};
use rust_decimal::Decimal;

use super::root;

pub fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("ballast")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `ballast sim` process, killed on drop.
pub struct Sim {
    child: Child,
    pub port: u16,
    pub base: String,
    pub db: PathBuf,
}

impl Sim {
    /// Starts `ballast sim` on a free port with its account in `db`, plus `args`.
    pub fn start(db: &Path, args: &[&str]) -> Sim {
        let port = free_port();
        let child = Command::new(bin())
            .current_dir(root())
            .args(["sim", "--port", &port.to_string(), "--db"])
            .arg(db)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "ballast sim did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Sim { child, port, base: format!("http://127.0.0.1:{port}"), db: db.to_path_buf() }
    }

    /// One plain HTTP/1.1 request to the sim; the body of the answer.
    pub fn http(&self, method: &str, path: &str) -> String {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        assert!(head.starts_with("HTTP/1.1 200"), "{method} {path}: {head}");
        body.to_string()
    }

    /// The faults injected so far, by kind.
    pub fn faults(&self) -> BTreeMap<String, u64> {
        serde_json::from_str(&self.http("GET", "/sim/faults")).unwrap()
    }

    /// Turns faults off; the faults injected until then, by kind.
    pub fn faults_off(&self) -> BTreeMap<String, u64> {
        serde_json::from_str(&self.http("DELETE", "/sim/faults")).unwrap()
    }

    /// Turns the faults given on the command line on again.
    pub fn faults_on(&self) {
        self.http("POST", "/sim/faults");
    }

    /// Turns on these faults and no others (`POST /sim/faults` with a JSON object such
    /// as `{"partial_fill_rate": 1}`).
    pub fn faults_set(&self, json: &str) {
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(
            s,
            "POST /sim/faults HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200"), "POST /sim/faults {json}: {out}");
    }

    /// The sim's clock (ms), from `GET /sim/clock` (no faults there).
    pub fn now_ms(&self) -> i64 {
        let v: serde_json::Value = serde_json::from_str(&self.http("GET", "/sim/clock")).unwrap();
        v["now"].as_i64().unwrap()
    }

    /// Stops the sim (its file stays).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `ballast ARGS` on the data directory `dir`, with the sim's keys for both venues.
pub fn ballast_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(bin());
    c.current_dir(root())
        .env("BALLAST_BINANCE_API_KEY", "sim-key")
        .env("BALLAST_BINANCE_SECRET", "sim-secret")
        .env("BALLAST_GATE_API_KEY", "sim-key")
        .env("BALLAST_GATE_SECRET", "sim-secret")
        .env("BALLAST_DATA_DIR", dir)
        .args(args);
    c
}

/// Runs `ballast ARGS`, asserting success; its stdout.
pub fn ballast_ok(dir: &Path, args: &[&str]) -> String {
    let out = ballast_cmd(dir, args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Creates a live bot on `venue` (binance or gate) pointed at the sim.
pub fn create_live_bot(dir: &Path, sim: &Sim, name: &str, venue: &str, assets: &[&str], threshold: &str) {
    create_live_bot_with(dir, sim, name, venue, assets, threshold, "")
}

/// [`create_live_bot`] with more TOML appended (tables such as `[execution]`).
pub fn create_live_bot_with(
    dir: &Path,
    sim: &Sim,
    name: &str,
    venue: &str,
    assets: &[&str],
    threshold: &str,
    extra: &str,
) {
    let cfg = dir.join(format!("{name}.toml"));
    let list: Vec<String> = assets.iter().map(|a| format!("\"{a}\"")).collect();
    std::fs::write(
        &cfg,
        format!(
            "name = \"{name}\"\nvenue = \"{venue}\"\nbase_url = \"{}\"\namount = \"1000\"\nassets = [{}]\n[rebalance]\nthreshold = {threshold}\n{extra}",
            sim.base,
            list.join(", ")
        ),
    )
    .unwrap();
    let out = ballast_ok(dir, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    assert!(out.contains(&format!("on {venue}")), "{out}");
}

/// What [`check_against_venue`] found.
#[derive(Debug, Default)]
pub struct Checked {
    pub bots: usize,
    pub intents: usize,
    pub venue_orders: usize,
    pub fills: usize,
    pub statuses: Vec<(i64, BotStatus, String)>,
}

/// The promises, checked between the bots' store in `dir` and the sim's account file:
/// - every venue order belongs to exactly one intent (client ids are unique at the
///   venue, and no order exists that no intent planned): no order sent twice;
/// - nothing is left unresolved, and each order's state and executed quantity are the
///   venue's;
/// - every venue fill is recorded exactly once (same client id and trade id);
/// - the bots' ledgers plus the money no bot holds equal the venue's balances;
/// - every bot is active, or says why not.
pub fn check_against_venue(dir: &Path, venue_db: &Path, fund: Decimal) -> Checked {
    let store = SqliteStore::open(&dir.join("ballast.sqlite")).unwrap();
    let venue = rusqlite::Connection::open(venue_db).unwrap();
    let bots = store.bots().unwrap();
    let mut out = Checked { bots: bots.len(), ..Checked::default() };
    let mut intents = BTreeMap::new();
    let mut fills = BTreeSet::new();
    let mut ledger: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut invested = Decimal::ZERO;
    for b in &bots {
        assert!(
            b.status == BotStatus::Active || !b.status_reason.trim().is_empty(),
            "bot {} is {:?} without saying why",
            b.id,
            b.status
        );
        out.statuses.push((b.id, b.status, b.status_reason.clone()));
        let unresolved = store.unresolved(b.id).unwrap();
        assert!(unresolved.is_empty(), "bot {}: unresolved orders {unresolved:?}", b.id);
        for o in store.orders(b.id, 10_000_000).unwrap() {
            assert!(intents.insert(o.intent.client_id.to_string(), o).is_none(), "a client id used twice");
        }
        let bot_fills = store.fills(b.id).unwrap();
        for f in &bot_fills {
            assert!(fills.insert((f.client_id.to_string(), f.fill.trade_id.clone())), "fill recorded twice: {f:?}");
        }
        let flows = store.cash_flows(b.id).unwrap();
        invested += flows.iter().filter(|f| f.asset.as_str() == "USDT").map(|f| f.qty.0).sum::<Decimal>();
        let h = ballast_engine::ledger::holdings(&flows, &bot_fills);
        for (a, q) in h {
            *ledger.entry(a.to_string()).or_default() += q.0;
        }
    }
    out.intents = intents.len();
    out.fills = fills.len();
    // The venue's orders.
    let mut q = venue.prepare("SELECT client_id, status, filled, qty, limit_price IS NOT NULL FROM orders").unwrap();
    let rows: Vec<(String, String, String, String, bool)> = q
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    out.venue_orders = rows.len();
    for (cid, status, filled, qty, limit) in &rows {
        let o = intents.get(cid).unwrap_or_else(|| panic!("venue order {cid} ({status}) has no intent: sent twice?"));
        let filled: Decimal = filled.parse().unwrap();
        let qty: Decimal = qty.parse().unwrap();
        assert_eq!(o.filled.0.normalize(), filled.normalize(), "{cid}: executed quantity, venue says {status}");
        assert!(qty <= o.intent.qty.0, "{cid}: the venue order is larger than its intent");
        // Gate's market buys are limit IOC orders capped near the last price: when the
        // price moved past the cap, the sim cancels the rest at once and reports it as
        // finished "ioc", which the adapter reads as expired.
        let ok = matches!(
            (o.state, status.as_str(), limit),
            (OrderState::Filled, "filled", _)
                | (OrderState::Expired, "expired", _)
                | (OrderState::Canceled, "canceled", _)
                | (OrderState::Expired, "canceled", true)
        );
        assert!(ok, "{cid}: store says {:?}, venue says {status}", o.state);
    }
    // Every intent that is not at the venue was never sent (or refused before it existed).
    let at_venue: BTreeSet<&String> = rows.iter().map(|r| &r.0).collect();
    for (cid, o) in &intents {
        if !at_venue.contains(cid) {
            assert!(
                matches!(o.state, OrderState::NotSent | OrderState::Rejected),
                "{cid} is {:?} in the store but unknown to the venue",
                o.state
            );
        }
    }
    // The venue's fills, each recorded once.
    let mut q = venue.prepare("SELECT o.client_id, f.trade_id FROM fills f JOIN orders o USING (venue_id)").unwrap();
    let venue_fills: BTreeSet<(String, String)> = q
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.to_string())))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(venue_fills.len(), fills.len(), "as many fills recorded as the venue made");
    assert_eq!(venue_fills, fills, "the same fills (client id, trade id)");
    // Ledger = venue.
    let mut q = venue.prepare("SELECT asset, free, locked FROM balances").unwrap();
    let balances: Vec<(String, String, String)> =
        q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(|r| r.unwrap()).collect();
    let mut seen = BTreeSet::new();
    for (asset, free, locked) in balances {
        let total: Decimal = free.parse::<Decimal>().unwrap() + locked.parse::<Decimal>().unwrap();
        let unallocated = if asset == "USDT" { fund - invested } else { Decimal::ZERO };
        let mine = ledger.get(&asset).copied().unwrap_or_default();
        assert_eq!((mine + unallocated).normalize(), total.normalize(), "{asset}: bots' ledgers {mine}, venue {total}");
        seen.insert(asset);
    }
    for (a, q) in &ledger {
        assert!(q.is_zero() || seen.contains(a), "{a}: {q} in the ledgers but not at the venue");
    }
    out
}
