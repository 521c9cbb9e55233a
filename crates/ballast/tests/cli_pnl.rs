//! Per-coin PnL with a cost basis and the tax tools' CSV exports through the real
//! binary: `bot pnl` equals a recomputation from the exported fills and cash flows,
//! equals what `ballast serve` answers, and the CSV the CLI writes is the dashboard's
//! download byte for byte (issue 14).

#[path = "common/serve.rs"]
mod serve;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use rust_decimal::Decimal;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ballast(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("ballast").unwrap().current_dir(root()).args(args).arg("--data-dir").arg(dir).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ballast(dir, args);
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

const CONFIG: &str = r#"name = "pnl"
amount = "1000"
assets = ["BTC", "ETH", "SOL"]
[weights]
method = "equal"
[rebalance]
mode = "threshold"
threshold = 2
"#;

fn d(v: &Value) -> Decimal {
    v.as_str().unwrap_or_else(|| panic!("a decimal string, not {v}")).parse().unwrap()
}

/// Realised profit by coin, FIFO, replayed from a Koinly file by the test's own
/// bookkeeping (lots of quantity and unit cost; fees in the quote, as the paper venue
/// charges them; a deposit of a coin at its net worth).
fn fifo_from_koinly(csv: &str, quote: &str) -> (BTreeMap<String, Decimal>, BTreeMap<String, Decimal>) {
    let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let mut lots: BTreeMap<String, VecDeque<(Decimal, Decimal)>> = BTreeMap::new();
    let mut realised: BTreeMap<String, Decimal> = BTreeMap::new();
    let mut fees: BTreeMap<String, Decimal> = BTreeMap::new();
    for l in lines {
        let c: Vec<&str> = l.split(',').collect();
        let num = |n: &str| c[col(n)].parse::<Decimal>().ok();
        let (sent, sent_cur) = (num("Sent Amount"), c[col("Sent Currency")]);
        let (recv, recv_cur) = (num("Received Amount"), c[col("Received Currency")]);
        let worth = num("Net Worth Amount").unwrap();
        if let (Some(r), true) = (recv, recv_cur != quote) {
            // A coin in: a lot at its worth.
            lots.entry(recv_cur.to_string()).or_default().push_back((r, worth / r));
            realised.entry(recv_cur.to_string()).or_default();
        }
        if let (Some(mut s), true) = (sent, sent_cur != quote) {
            let q = lots.entry(sent_cur.to_string()).or_default();
            let mut cost = Decimal::ZERO;
            while s > Decimal::ZERO {
                let lot = q.front_mut().expect("never sells more than bought");
                let take = lot.0.min(s);
                cost += take * lot.1;
                lot.0 -= take;
                s -= take;
                if lot.0.is_zero() {
                    q.pop_front();
                }
            }
            *realised.entry(sent_cur.to_string()).or_default() += worth - cost;
        }
        if let Some(f) = num("Fee Amount") {
            assert_eq!(c[col("Fee Currency")], quote, "the paper venue charges fees in the quote");
            let coin = if recv_cur != quote { recv_cur } else { sent_cur };
            *fees.entry(coin.to_string()).or_default() += f;
        }
    }
    (realised, fees)
}

#[test]
fn pnl_by_coin_equals_a_recomputation_and_the_api_and_the_export_is_the_download() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = dir.join("bot.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(dir, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    let run = ok(dir, &["run", "--bars", "300"]);
    // `ballast run` prints a line per order as it goes (issue 14, item 6): every order
    // of the rebalances it made (the first buy was `bot create`'s), nothing before.
    let h: Value =
        serde_json::from_str(&ok(dir, &["bot", "history", "1", "--format", "json", "--limit", "500"])).unwrap();
    let entries = h["entries"].as_array().unwrap();
    let sent: usize = entries[..entries.len() - 1].iter().map(|e| e["orders"].as_array().unwrap().len()).sum();
    let trades: Vec<&str> = run.lines().filter(|l| l.contains(" trade ")).collect();
    assert!(sent > 0, "{h}");
    assert_eq!(trades.len(), sent, "one line per order:\n{run}");
    assert!(trades.iter().all(|l| l.contains("bot 1") && l.contains("filled")), "{run}");
    assert_eq!(run.lines().filter(|l| l.contains(" rebalance ")).count(), entries.len() - 1, "{run}");
    assert!(!run.contains("first buy"), "what happened before the run is not repeated:\n{run}");
    let quiet = ok(dir, &["run", "--bars", "1", "--quiet"]);
    assert_eq!(quiet.lines().count(), 1, "{quiet}");
    // Coins deposited as well as quote: a lot that is no buy.
    ok(dir, &["bot", "invest", "1", "--yes", "--coins", "ETH=0.05"]);
    ok(dir, &["run", "--bars", "300"]);

    let status: Value = serde_json::from_str(&ok(dir, &["bot", "status", "1", "--format", "json"])).unwrap();
    assert!(status["rebalances"].as_u64().unwrap() >= 2, "the bot traded: {status}");
    let mut by_method = BTreeMap::new();
    for m in ["average", "fifo"] {
        let j: Value = serde_json::from_str(&ok(dir, &["bot", "pnl", "1", "--method", m, "--format", "json"])).unwrap();
        assert_eq!(j["method"], m);
        // The identity of the cost basis: realised + unrealised - fees = value - net invested.
        assert_eq!(d(&j["realised"]) + d(&j["unrealised"]) - d(&j["fees"]), d(&j["net"]), "{m}");
        assert_eq!(d(&j["net"]), d(&j["value"]) - d(&j["net_invested"]), "{m}");
        // The coins and quote held are the bot's holdings; the net invested and value are
        // those of its last snapshot.
        for c in j["coins"].as_array().unwrap() {
            let a = c["asset"].as_str().unwrap();
            assert_eq!(d(&c["held"]), d(&status["holdings"][a]), "{m} {a}");
        }
        assert_eq!(d(&j["quote_held"]), d(&status["holdings"]["USDT"]), "{m}");
        assert_eq!(d(&j["net_invested"]), d(&status["pnl"]["net_invested"]), "{m}");
        assert_eq!(d(&j["value"]).round_dp(6), d(&status["pnl"]["value"]).round_dp(6), "{m}");
        by_method.insert(m, j);
    }
    // The methods split realised and unrealised differently, never the total.
    assert_eq!(d(&by_method["average"]["net"]), d(&by_method["fifo"]["net"]));

    // FIFO recomputed from the Koinly file the CLI writes.
    let koinly = ok(dir, &["bot", "export", "1", "--format", "koinly"]);
    let (realised, fees) = fifo_from_koinly(&koinly, "USDT");
    let fifo = &by_method["fifo"];
    for c in fifo["coins"].as_array().unwrap() {
        let a = c["asset"].as_str().unwrap();
        // The store's figures keep a partial lot's cost to 12 decimals; the test's lots
        // their unit cost: equal well below a cent.
        let diff = (d(&c["realised"]) - realised[a]).abs();
        assert!(diff < Decimal::new(1, 9), "realised {a}: {} against {}", c["realised"], realised[a]);
        assert_eq!(d(&c["fees"]), fees.get(a).copied().unwrap_or_default(), "fees {a}");
    }
    assert!(realised.values().any(|r| !r.is_zero()), "some coin was sold: {realised:?}");
    let text = ok(dir, &["bot", "pnl", "1", "--method", "fifo"]);
    for s in ["BTC", "ETH", "SOL", "realised", "unrealised", "avg cost", "Net ", "fifo cost"] {
        assert!(text.contains(s), "{s} in\n{text}");
    }
    let cointracking = ok(dir, &["bot", "export", "1", "--format", "cointracking"]);
    assert!(cointracking.starts_with(
        "Type,Buy Amount,Buy Currency,Sell Amount,Sell Currency,Fee,Fee Currency,Exchange,Trade-Group,Comment,Date\r\n"
    ));
    assert_eq!(koinly.lines().count(), cointracking.lines().count(), "one row per fill and cash flow in both");
    let out = ballast(dir, &["bot", "pnl", "1", "--method", "lifo"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("lifo"));
    let out = ballast(dir, &["bot", "pnl", "9"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no bot with id 9"));

    // Orders: filtered, paged back, as CSV; bad filters named.
    let page = |args: &[&str]| -> Value {
        let mut all = vec!["bot", "orders", "1", "--format", "json"];
        all.extend_from_slice(args);
        serde_json::from_str(&ok(dir, &all)).unwrap()
    };
    let first = page(&["--side", "sell", "--limit", "2"]);
    let rows = first["orders"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{first}");
    assert!(rows.iter().all(|o| o["side"] == "sell"), "{first}");
    let before = first["next_before"].as_i64().unwrap().to_string();
    let second = page(&["--side", "sell", "--limit", "2", "--before", &before]);
    let r2 = second["orders"].as_array().unwrap();
    assert!(r2.iter().all(|o| o["row"].as_i64().unwrap() < rows[1]["row"].as_i64().unwrap()), "{second}");
    let eth = page(&["--asset", "ETH", "--state", "filled", "--limit", "500"]);
    assert!(eth["orders"].as_array().unwrap().iter().all(|o| o["base"] == "ETH" && o["state"] == "filled"));
    let csv = ok(dir, &["bot", "orders", "1", "--side", "buy", "--format", "csv", "--limit", "3"]);
    assert!(csv.starts_with("row,created_at,client_id,seq,leg,side,asset,"), "{csv}");
    assert_eq!(csv.lines().count(), 4, "{csv}");
    for (flag, bad) in [("--state", "done"), ("--side", "short"), ("--asset", "b!d")] {
        let out = ballast(dir, &["bot", "orders", "1", flag, bad]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(&flag[2..]), "{flag} {bad}: {err}");
    }

    // The dashboard's API answers the same figures and serves the same file.
    let (_server, port, token) = serve::start(dir, &[]);
    let c = serve::log_in(port, &token);
    for m in ["average", "fifo"] {
        let (s, v, text) = c.call("GET", &format!("/api/bots/1/pnl?method={m}"), None);
        assert_eq!(s, 200, "{text}");
        assert_eq!(v, by_method[m], "API and CLI agree ({m})");
    }
    let (s, _, text) = c.call("GET", "/api/bots/1/pnl?method=lifo", None);
    assert_eq!(s, 400, "{text}");
    assert!(text.contains("lifo"), "{text}");
    let mut r = c
        .agent
        .get(&format!("{}/api/bots/1/transactions.csv?format=koinly", c.base))
        .header("Cookie", &c.cookie)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(r.headers().get("content-type").unwrap().to_str().unwrap().starts_with("text/csv"));
    assert!(r.headers().get("content-disposition").unwrap().to_str().unwrap().contains("ballast-bot-1-koinly.csv"));
    assert_eq!(r.body_mut().read_to_string().unwrap(), koinly, "the download is the CLI's file");
    let (s, v, text) = c.call("GET", "/api/bots/1/orders?side=sell&limit=2", None);
    assert_eq!(s, 200, "{text}");
    assert_eq!(
        v.as_array().unwrap().iter().map(|o| o["row"].clone()).collect::<Vec<_>>(),
        rows.iter().map(|o| o["row"].clone()).collect::<Vec<_>>(),
        "API and CLI page alike"
    );
    let (s, v, text) = c.call("GET", "/api/bots/1/orders?state=done", None);
    assert_eq!(s, 400, "{text}");
    assert!(v["error"].as_str().unwrap().contains("state \"done\""), "{text}");
    let (s, _, text) = c.call("GET", "/api/bots/1/transactions.csv?format=excel", None);
    assert_eq!(s, 400, "{text}");
    assert!(text.contains("excel"), "{text}");
}

/// `bot profit`: per ISO week (Mondays, UTC) the investment made midway is counted as
/// invested, not as profit; the text shows the JSON's figures; a bot with one snapshot
/// has nothing yet; a bad limit or bucket is refused by name.
#[test]
fn profit_by_period_takes_the_investment_out() {
    const DAY: i64 = 86_400_000;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let cfg = dir.join("bot.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(dir, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    let young: Value = serde_json::from_str(&ok(dir, &["bot", "profit", "1", "--format", "json"])).unwrap();
    assert_eq!(young["buckets"], serde_json::json!([]), "{young}");
    assert!(ok(dir, &["bot", "profit", "1"]).contains("Nothing yet"));
    ok(dir, &["run", "--bars", "200", "--quiet"]);
    ok(dir, &["bot", "invest", "1", "--yes", "--usdt", "250"]);
    ok(dir, &["run", "--bars", "200", "--quiet"]);
    let j: Value =
        serde_json::from_str(&ok(dir, &["bot", "profit", "1", "--by", "week", "--limit", "1000", "--format", "json"]))
            .unwrap();
    let buckets = j["buckets"].as_array().unwrap();
    assert!(buckets.len() >= 9, "400 4h bars: ten weeks or so: {j}");
    assert_eq!(j["total"].as_u64(), Some(buckets.len() as u64));
    for b in buckets {
        assert_eq!((b["start"].as_i64().unwrap() / DAY + 3).rem_euclid(7), 0, "a Monday: {b}");
    }
    let invested: Decimal = buckets.iter().map(|b| d(&b["invested"])).sum();
    assert_eq!(invested, Decimal::from(250), "{j}");
    let week = buckets.iter().find(|b| d(&b["invested"]) > Decimal::ZERO).unwrap();
    assert!(d(&week["profit"]).abs() < Decimal::from(100), "the 250 are not profit: {week}");
    let text = ok(dir, &["bot", "profit", "1", "--by", "week", "--limit", "1000"]);
    assert!(text.starts_with("Profit of bot 1 by week"), "{text}");
    let total: Decimal = buckets.iter().map(|b| d(&b["profit"])).sum();
    assert!(
        text.contains(&format!(
            "Total            {:.2} USDT",
            total.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero)
        )),
        "{text}"
    );
    let last = ok(dir, &["bot", "profit", "1", "--by", "month", "--limit", "1", "--format", "json"]);
    let last: Value = serde_json::from_str(&last).unwrap();
    assert_eq!(last["buckets"].as_array().map(Vec::len), Some(1), "{last}");
    let bad = ballast(dir, &["bot", "profit", "1", "--limit", "0"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("limit 0: expected 1 ..= 1000"), "{bad:?}");
    let bad = ballast(dir, &["bot", "profit", "1", "--by", "hour"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("hour"), "{bad:?}");
}
