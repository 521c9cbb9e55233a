//! Regressions of issue 11 through the real binary: each lifecycle verb that the
//! product names, tried as a user would, and two processes on one data directory.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ballast(dir: &Path, args: &[&str]) -> Output {
    Command::cargo_bin("ballast").unwrap().current_dir(root()).args(args).arg("--data-dir").arg(dir).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{args:?}: {err}");
    String::from_utf8(out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str], needle: &str) -> String {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("ballast.sqlite")).unwrap()
}

fn count(dir: &Path, sql: &str) -> i64 {
    db(dir).query_row(sql, [], |r| r.get(0)).unwrap()
}

const FOUR: &str = r#"name = "four"
amount = "1000"
assets = ["BTC", "ETH", "XRP", "BNB"]
[weights]
method = "equal"
[rebalance]
mode = "threshold"
threshold = 3
"#;

/// A row of `bot status`: (held, weight %, target %).
fn row(status: &str, asset: &str) -> Option<(String, f64, f64)> {
    let line = status.lines().find(|l| l.split_whitespace().next() == Some(asset))?;
    let cols: Vec<&str> = line.split_whitespace().collect();
    let pct = |s: &str| s.trim_end_matches('%').parse::<f64>().unwrap();
    Some((cols[1].to_string(), pct(cols[cols.len() - 2]), pct(cols[cols.len() - 1])))
}

/// Defect 1: removing a coin sold it, then every step failed "no price for XRP" and
/// the bot froze while `list` said active.
#[test]
fn removing_a_coin_keeps_the_bot_running() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    ok(d, &["run", "--bars", "20"]);
    let edited = write(d, "edit.toml", &FOUR.replace(r#""XRP", "#, ""));
    assert!(ok(d, &["bot", "edit", "1", "--yes", "--config", &edited]).contains("edited"));
    let out = ballast(d, &["run", "--bars", "200"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("no price"), "every step after the edit must work: {err}");
    let status = ok(d, &["bot", "status", "1"]);
    assert!(status.contains(": active"), "{status}");
    assert!(row(&status, "XRP").is_none(), "XRP is sold whole and no longer shown:\n{status}");
    for a in ["BTC", "ETH", "BNB"] {
        let (_, w, t) = row(&status, a).unwrap();
        assert_eq!(t, 33.33, "{status}");
        assert!((w - t).abs() <= 3.5, "{a} rebalanced to its new target:\n{status}");
    }
    // The clock moved on and every bar was stepped: a snapshot per bar after the edit.
    assert!(count(d, "SELECT COUNT(*) FROM snapshots WHERE bot_id = 1") >= 200);
    assert_eq!(count(d, "SELECT COUNT(*) FROM events WHERE kind = 'error'"), 0);
}

/// Defect 2: an entry price blocked buying forever (10 % held against 25 %) and the
/// waiting leg fired the trigger on every bar.
#[test]
fn an_entry_price_applies_until_the_bot_buys_in() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = format!("{FOUR}[guards.entry_prices]\nETH = \"2200\"\n");
    let out = ok(d, &["bot", "create", "--config", &write(d, "bot.toml", &cfg), "--yes"]);
    assert!(out.contains("skipped: buy ETH"), "ETH (2281.87 on 2024-01-01) waits for 2200:\n{out}");
    ok(d, &["run", "--bars", "1200"]);
    let history = ok(d, &["bot", "history", "1", "--limit", "1000"]);
    assert!(history.contains("entry price reached for ETH"), "{history}");
    // Once bought into, ETH is rebalanced like any other coin, above 2200 too.
    let status = ok(d, &["bot", "status", "1"]);
    let (_, w, t) = row(&status, "ETH").unwrap();
    assert!((w - t).abs() <= 3.5, "ETH kept near its target:\n{status}");
    // No churn: a rebalance that sends nothing is rare, and the same bot without an
    // entry price rebalances about as often.
    let idle = count(d, "SELECT COUNT(*) FROM events WHERE message LIKE '%no order sent%'");
    assert!(idle <= 2, "{idle} rebalances sent nothing:\n{history}");
    let with = count(d, "SELECT COUNT(*) FROM events WHERE kind = 'rebalance'");
    let plain = tempfile::tempdir().unwrap();
    let p = plain.path();
    ok(p, &["bot", "create", "--config", &write(p, "bot.toml", FOUR), "--yes"]);
    ok(p, &["run", "--bars", "1200"]);
    let without = count(p, "SELECT COUNT(*) FROM events WHERE kind = 'rebalance'");
    assert!(with <= without + 2, "{with} rebalances with the entry price, {without} without");
}

/// Defect 3: a large top-up left a coin unbought (its buy refused for want of 0.47 USDT:
/// LINK's price rounded up to the tick cost more than planned) and exited 0.
#[test]
fn a_large_top_up_buys_every_coin() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = r#"name = "cal"
amount = "1000"
assets = ["BTC", "ETH", "SOL", "LINK"]
[weights]
method = "equal"
[rebalance]
mode = "calendar"
every = "28d"
"#;
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", cfg), "--yes"]);
    ok(d, &["run", "--bars", "30"]);
    let out = ok(d, &["bot", "invest", "1", "--yes", "--usdt", "5000"]);
    assert!(out.contains("4 order(s) filled"), "{out}");
    let status = ok(d, &["bot", "status", "1"]);
    for a in ["BTC", "ETH", "SOL", "LINK"] {
        let (_, w, _) = row(&status, a).unwrap();
        assert!((w - 25.0).abs() < 0.5, "{a} at {w}%:\n{status}");
    }
    assert!(status.contains("every 28d"), "28d is shown as written:\n{status}");
    assert_eq!(count(d, "SELECT COUNT(*) FROM orders WHERE state = 'rejected'"), 0);
}

/// Found by hand (2026-12-03): while a maker-first bot's first buy rested, `bot invest`
/// previewed the whole first buy again as if nothing rested, then said "nothing to
/// trade"; now the preview says the change waits and shows only its own orders, and
/// the coins invested are rebalanced in, once the work is done, as cash would be.
#[test]
fn a_change_while_maker_orders_rest_says_it_waits_and_coins_are_rebalanced_in() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = format!("{FOUR}\n[execution]\nstyle = \"maker-first\"\nreprice = \"1h\"\ndeadline = \"12h\"\n");
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", &cfg), "--yes"]);
    ok(d, &["run", "--bars", "1"]);
    let preview = ballast(d, &["bot", "invest", "1", "--usdt", "40"]);
    let out = String::from_utf8_lossy(&preview.stdout);
    assert!(out.contains("note: rebalance 1 is still being worked as makers"), "{out}");
    let buys: f64 = out
        .lines()
        .filter(|l| l.trim_start().starts_with("buy "))
        .map(|l| l.split(" = ").nth(1).unwrap().split(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert!(buys > 30.0 && buys < 41.0, "only the 40 USDT invested is planned: {out}");
    ok(d, &["bot", "invest", "1", "--yes", "--coins", "BTC=0.002"]);
    ok(d, &["run", "--bars", "6"]);
    let status = ok(d, &["bot", "status", "1"]);
    let (_, w, _) = row(&status, "BTC").unwrap();
    assert!((w - 25.0).abs() < 1.5, "the BTC invested is spread over the coins: BTC at {w}%\n{status}");
    let history = ok(d, &["bot", "history", "1"]);
    assert!(history.contains("investment added"), "{history}");
    assert!(!history.contains("skipped buy"), "no dust legs planned from the quote alone:\n{history}");
}

/// Defect 4: `stop --to-usdt` said one figure, status and list another, and the fees
/// missed the liquidation's.
#[test]
fn a_stopped_bot_shows_what_it_returned() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    ok(d, &["run", "--bars", "100"]);
    let stop = ok(d, &["bot", "stop", "1", "--to-usdt"]);
    let worth = |text: &str| -> String {
        text.lines().find(|l| l.starts_with("Worth")).and_then(|l| l.split_whitespace().nth(1)).unwrap().to_string()
    };
    let returned = worth(&stop);
    let status = ok(d, &["bot", "status", "1"]);
    assert_eq!(worth(&status), returned, "stop said {returned}:\n{status}");
    assert!(status.contains("stopped"), "{status}");
    let list = ok(d, &["bot", "list"]);
    assert!(list.contains(&returned), "list shows the returned {returned}:\n{list}");
    // Every fee of every fill, the liquidation's included.
    let fills: f64 =
        db(d).query_row("SELECT SUM(CAST(fee AS REAL)) FROM fills WHERE fee_asset = 'USDT'", [], |r| r.get(0)).unwrap();
    let fees = status.lines().find(|l| l.starts_with("Fees paid")).unwrap();
    let shown: f64 = fees.split_whitespace().nth(2).unwrap().parse().unwrap();
    assert!((shown - fills).abs() < 0.001, "fees {shown} against the fills' {fills}");
    // The returned USDT is what the stop's withdrawal says.
    let out: f64 = db(d)
        .query_row("SELECT -SUM(CAST(value AS REAL)) FROM cash_flows WHERE note = 'stop'", [], |r| r.get(0))
        .unwrap();
    assert!((out - returned.parse::<f64>().unwrap()).abs() < 0.01, "{out} against {returned}");
    // A stopped bot never trades again.
    let orders = count(d, "SELECT COUNT(*) FROM orders");
    ok(d, &["run", "--bars", "20"]);
    assert_eq!(count(d, "SELECT COUNT(*) FROM orders"), orders);
}

/// Defect 10: an investment refused left its paper deposit behind (and a reported
/// failure could still be recorded, so a retry invested twice).
#[test]
fn a_refused_investment_leaves_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    let paper = |d: &Path| -> String {
        rusqlite::Connection::open(d.join("paper.sqlite"))
            .unwrap()
            .query_row("SELECT group_concat(asset || '=' || free, ',') FROM balances", [], |r| r.get(0))
            .unwrap()
    };
    let before = (paper(d), count(d, "SELECT COUNT(*) FROM cash_flows"));
    fails(d, &["bot", "invest", "1", "--yes", "--coins", "DOGE=10"], "not one of this bot's coins");
    fails(d, &["bot", "invest", "1", "--yes", "--usdt", "10", "--coins", "SOL=1"], "not one of this bot's coins");
    ok(d, &["bot", "pause", "1"]);
    ok(d, &["bot", "stop", "1", "--return-coins"]);
    fails(d, &["bot", "invest", "1", "--yes", "--usdt", "100"], "stopped");
    assert_eq!(paper(d), before.0, "no deposit is left behind");
    // Only the stop's withdrawals were added.
    assert_eq!(count(d, "SELECT COUNT(*) FROM cash_flows WHERE note <> 'stop'"), before.1);
}

/// Defects 5 and 9: two runners on one data directory (the second is refused, naming
/// the first), and verbs beside a runner never conflict or wedge a bot.
#[test]
fn one_runner_per_data_directory_and_verbs_beside_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    let bin = assert_cmd::cargo::cargo_bin("ballast");
    let runner = std::process::Command::new(&bin)
        .current_dir(root())
        .args(["run", "--speed", "20", "--bars", "400", "--data-dir"])
        .arg(d)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until it holds the lock and has stepped.
    let lock = d.join("runner.lock");
    for _ in 0..600 {
        if std::fs::read_to_string(&lock).is_ok_and(|s| s.contains("pid")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let err = fails(d, &["run", "--bars", "5"], "another process steps the bots");
    assert!(err.contains(&format!("pid {}", runner.id())), "{err}");
    // Verbs beside it: each succeeds whole.
    let edited = write(d, "edit.toml", &FOUR.replace("threshold = 3", "threshold = 2"));
    for i in 0..6 {
        ok(d, &["bot", "invest", "1", "--yes", "--usdt", "50"]);
        if i % 2 == 0 {
            ok(d, &["bot", "edit", "1", "--yes", "--config", &edited]);
        }
    }
    let out = runner.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(!err.contains("conflict") && !err.contains("exists"), "{err}");
    let status = ok(d, &["bot", "status", "1"]);
    assert!(status.contains(": active"), "{status}");
    assert_eq!(count(d, "SELECT COUNT(*) FROM cash_flows WHERE note = 'invest'"), 6);
    assert_eq!(count(d, "SELECT COUNT(*) FROM events WHERE kind = 'error'"), 0);
    // The sequence never went back: each rebalance's ids are new.
    assert_eq!(count(d, "SELECT COUNT(DISTINCT client_id) FROM orders"), count(d, "SELECT COUNT(*) FROM orders"));
    // And the bot still trades and stops.
    ok(d, &["run", "--bars", "10"]);
    ok(d, &["bot", "stop", "1", "--to-usdt"]);
}

/// Defect 11, the smaller ones.
#[test]
fn small_things_a_user_meets() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // max_assets cannot lift the product's cap of 12.
    fails(
        d,
        &["bot", "create", "--config", &write(d, "b.toml", &format!("max_assets = 13\n{FOUR}")), "--yes"],
        "max_assets",
    );
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    let status = ok(d, &["bot", "status", "1"]);
    assert!(!status.contains("()"), "{status}");
    assert!(status.contains("3 percentage points"), "{status}");
    let one = ok(d, &["bot", "status", "1"]);
    assert!(!one.contains("1 percentage points"));
    // export: stdout is the line alone, so a shell variable gets just it.
    let line = ok(d, &["bot", "export", "1"]);
    assert_eq!(line.trim().lines().count(), 1, "{line}");
    assert!(line.starts_with("ballast-profile:1:"), "{line}");
    // Output into a closed pipe ends quietly (no panic, no exit 101).
    let sh = format!(
        "{} bot history 1 --data-dir {} | head -c 1 >/dev/null; echo ${{PIPESTATUS[0]}}",
        assert_cmd::cargo::cargo_bin("ballast").display(),
        d.display()
    );
    ok(d, &["run", "--bars", "300"]);
    let out = std::process::Command::new("bash").arg("-c").arg(&sh).current_dir(root()).output().unwrap();
    let code = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(code == "0" || code == "141", "exit {code}: {}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("panicked"));
}

/// Defect 6: "AI Balance" kept its creation day's weights forever. Weights from data
/// are estimated again at rebalances and on the configured schedule, each estimate an
/// event with the old and new targets.
#[test]
fn ai_balance_weights_adapt() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = r#"name = "rp"
amount = "1000"
assets = ["BTC", "ETH", "BNB", "XRP"]
[weights]
method = "risk-parity"
lookback = "90d"
reestimate = "7d"
[rebalance]
mode = "threshold"
threshold = 2
"#;
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", cfg), "--yes"]);
    let before = ok(d, &["bot", "status", "1"]);
    ok(d, &["run", "--bars", "400"]);
    let after = ok(d, &["bot", "status", "1"]);
    let targets = |s: &str| -> Vec<f64> { ["BTC", "ETH", "BNB", "XRP"].iter().map(|a| row(s, a).unwrap().2).collect() };
    assert_ne!(targets(&before), targets(&after), "the targets moved:\n{before}\n{after}");
    let weekly = count(d, "SELECT COUNT(*) FROM events WHERE kind = 'weights' AND message LIKE '%(every 7d)%'");
    assert!((8..=10).contains(&weekly), "{weekly} weekly estimates in 400 bars (~66 days)");
    let at_rebalance =
        count(d, "SELECT COUNT(*) FROM events WHERE kind = 'weights' AND message LIKE '%(at a rebalance)%'");
    assert!(at_rebalance >= 1, "estimated again when the trigger rebalanced");
    let data: String = db(d)
        .query_row("SELECT data FROM events WHERE kind = 'weights' ORDER BY id LIMIT 1", [], |r| r.get(0))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert!(v["old"]["BTC"].is_string() && v["new"]["BTC"].is_string(), "{v}");
}

/// Defect 11: the bundled data is found from any directory; a preset file that
/// `ballast optimize` writes can be backtested; a coin with only daily candles is named.
#[test]
fn bundled_data_from_anywhere_and_profiles_backtest() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let elsewhere = |args: &[&str]| {
        let out = Command::cargo_bin("ballast").unwrap().current_dir(d).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let preset = root().join("presets/majors-calendar.toml");
    let p = preset.to_str().unwrap();
    assert!(elsewhere(&["backtest", "--config", p, "--start", "2024-01-01", "--end", "2024-03-31"]).contains("HODL"));
    assert!(elsewhere(&["backtest", "--preset", p, "--start", "2024-01-01", "--end", "2024-03-31"]).contains("HODL"));
    assert!(elsewhere(&["weights", "--method", "risk-parity", "--assets", "BTC,ETH"]).contains("BTC"));
    assert!(
        elsewhere(&[
            "sweep",
            "--assets",
            "BTC,ETH",
            "--modes",
            "threshold",
            "--thresholds",
            "3,5",
            "--start",
            "2024-01-01",
            "--end",
            "2024-03-31"
        ])
        .contains('3')
    );
    let cfg = FOUR.replace(r#""BNB"]"#, r#""ATOM"]"#);
    let out = ok(d, &["bot", "create", "--config", &write(d, "bot.toml", &cfg), "--yes"]);
    assert!(out.contains("ATOM has only daily candles"), "{out}");
}

/// Defect 9: `serve --replay-every` beside `run` made `run` die and snapshots go back in
/// time; now the second process that would step the bots is refused.
#[test]
fn serve_with_a_replay_is_refused_beside_a_runner() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["bot", "create", "--config", &write(d, "bot.toml", FOUR), "--yes"]);
    let runner = std::process::Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["run", "--speed", "20", "--bars", "400", "--data-dir"])
        .arg(d)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..600 {
        if std::fs::read_to_string(d.join("runner.lock")).is_ok_and(|s| s.contains("pid")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    fails(d, &["serve", "--port", "0", "--replay-every", "1s"], "another process steps the bots");
    let out = runner.wait_with_output().unwrap();
    assert!(out.status.success());
    let times: Vec<i64> = db(d)
        .prepare("SELECT time FROM snapshots WHERE bot_id = 1 ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "snapshots never go back in time");
}

/// Defect 7: `backtest --config bot.toml` was not the bot (its first buy a bar apart,
/// band-edge bots' first buy planned differently, the interval a day): the paper bot and
/// the backtest of its configuration over the same bars end at the same value, to the
/// cent, after the same rebalances.
#[test]
fn the_backtest_of_a_config_is_the_bot() {
    for (name, extra) in [("target", ""), ("band", "to = \"band-edge\"\n")] {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let cfg = write(d, "bot.toml", &format!("{FOUR}{extra}"));
        ok(d, &["bot", "create", "--config", &cfg, "--yes"]);
        // The bars that open from 2024-01-01 to 2024-03-31 (91 days of 4h bars): the
        // first at creation, 545 more.
        ok(d, &["run", "--bars", "545"]);
        let status = ok(d, &["bot", "status", "1"]);
        let value = status.lines().find(|l| l.starts_with("Value")).unwrap().split_whitespace().nth(1).unwrap();
        let rebalances =
            status.lines().find(|l| l.starts_with("Rebalances")).unwrap().split_whitespace().nth(1).unwrap();
        let out = Command::cargo_bin("ballast")
            .unwrap()
            .current_dir(root())
            .args(["backtest", "--config", &cfg, "--start", "2024-01-01", "--end", "2024-03-31", "--format", "json"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let bt = String::from_utf8(out.stdout).unwrap();
        let v: serde_json::Value = serde_json::from_str(&bt).unwrap();
        let bt_value = format!("{:.2}", v["final_value"].as_f64().unwrap());
        assert_eq!(value, bt_value, "{name}: the bot's value against its backtest's");
        assert_eq!(rebalances, v["rebalances"].to_string(), "{name}: rebalances");
    }
}
