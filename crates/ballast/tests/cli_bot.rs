//! The bot's lifecycle through the real binary: create (summary, refusals), list,
//! status, history, pause, resume, invest, edit, export and profiles, stop, run, demo.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

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

fn fails(dir: &Path, args: &[&str], needle: &str) {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: expected {needle:?} in {err}");
    assert!(!err.contains("panicked"), "{err}");
}

const CONFIG: &str = r#"name = "majors"
amount = "1000"
assets = ["BTC", "ETH", "XRP", "BNB"]
[weights]
method = "equal"
[rebalance]
mode = "threshold"
threshold = 3
[guards]
stop_loss = 40
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn the_whole_lifecycle() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = write(d, "bot.toml", CONFIG);

    // Without --yes and without a terminal, nothing is created.
    fails(d, &["bot", "create", "--config", &cfg], "--yes");
    let out = ok(d, &["bot", "create", "--config", &cfg, "--yes"]);
    for s in ["BTC", "25.00%", "Minimum:", "set by", "First orders", "buy", "Stop-loss", "Created bot 1"] {
        assert!(out.contains(s), "summary shows {s:?}:\n{out}");
    }
    let list = ok(d, &["bot", "list"]);
    assert!(list.contains("majors") && list.contains("active"), "{list}");

    // A few bars of replay.
    let run = ok(d, &["run", "--bars", "60"]);
    assert!(run.contains("Stopped cleanly after 60 bar(s)"), "{run}");
    let status = ok(d, &["bot", "status", "1"]);
    for s in ["Value", "Net invested", "HODL", "vs HODL", "Time-weighted", "Fees paid", "Rebalances"] {
        assert!(status.contains(s), "status shows {s}:\n{status}");
    }
    let history = ok(d, &["bot", "history", "1"]);
    assert!(history.contains("first buy") && history.contains("Orders"), "{history}");
    // Returns by period, APR and running time; --period; --format json (issue 14).
    for s in ["Running", "APR", "24h", "7d", "30d", "90d", "all"] {
        assert!(status.contains(s), "status shows {s}:\n{status}");
    }
    let over = ok(d, &["bot", "status", "1", "--period", "2d"]);
    assert!(over.contains("Over the last 2d") && over.contains("profit"), "{over}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(d, &["bot", "status", "1", "--period", "2d", "--format", "json"])).unwrap();
    assert_eq!(j["id"], 1);
    assert_eq!(j["pnl"]["returns"].as_array().unwrap().len(), 5, "{j}");
    assert_eq!(j["period"]["period"], "2d", "{j}");
    let value: f64 = j["pnl"]["value"].as_str().unwrap().parse().unwrap();
    assert!(status.contains(&format!("{value:.2}")), "the text and the JSON agree: {value} in\n{status}");
    let l: serde_json::Value = serde_json::from_str(&ok(d, &["bot", "list", "--format", "json"])).unwrap();
    assert_eq!(l[0]["name"], "majors");
    assert_eq!(l[0]["value"], j["pnl"]["value"], "list and status agree");
    let h: serde_json::Value = serde_json::from_str(&ok(d, &["bot", "history", "1", "--format", "json"])).unwrap();
    assert!(!h["entries"].as_array().unwrap().is_empty(), "{h}");
    assert!(h["entries"].as_array().unwrap().iter().all(|e| e["message"].is_string()), "{h}");
    fails(d, &["bot", "status", "1", "--period", "7x"], "--period");

    // Pause, resume.
    assert!(ok(d, &["bot", "pause", "1"]).contains("paused"));
    fails(d, &["bot", "pause", "1"], "already paused");
    assert!(ok(d, &["bot", "status", "1"]).contains("paused"));
    ok(d, &["bot", "resume", "1"]);

    // Invest and edit show what they would trade and ask first (issue 14, defect 4):
    // without --yes and without a terminal, nothing happens.
    let flows =
        |d: &Path| ok(d, &["bot", "status", "1"]).lines().find(|l| l.starts_with("Net invested")).unwrap().to_string();
    let before = flows(d);
    let out = ballast(d, &["bot", "invest", "1", "--usdt", "1"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "{stdout}");
    assert!(stderr.contains("add --yes"), "{stderr}");
    assert!(stdout.contains("Invest 1 USDT in bot 1") && stdout.contains("the rebalance would:"), "{stdout}");
    assert!(stdout.contains("nothing would be traded") || stdout.contains("order(s), fees"), "{stdout}");
    assert_eq!(flows(d), before, "nothing invested");
    let out = ballast(d, &["bot", "invest", "1", "--usdt", "500"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(stdout.contains("order(s), fees") && stdout.contains("buy "), "{stdout}");
    assert_eq!(flows(d), before, "nothing invested");

    // Invest in USDT and in coins.
    assert!(ok(d, &["bot", "invest", "1", "--yes", "--usdt", "500"]).contains("Invested"));
    ok(d, &["bot", "invest", "1", "--yes", "--coins", "BTC=0.001"]);
    let status = ok(d, &["bot", "status", "1"]);
    assert!(status.contains("Net invested"), "{status}");
    fails(d, &["bot", "invest", "1", "--yes", "--coins", "DOGE=10"], "not one of this bot's coins");
    fails(d, &["bot", "invest", "1", "--yes", "--usdt=-5"], "greater than 0");
    fails(d, &["bot", "invest", "1"], "nothing to invest");

    // Edit: drop BNB, add SOL. Shown first, refused without --yes.
    let edited = write(d, "edit.toml", &CONFIG.replace("\"BNB\"]", "\"SOL\"]"));
    let out = ballast(d, &["bot", "edit", "1", "--config", &edited]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success());
    assert!(
        stdout.contains("sell ") && stdout.contains("BNB") && stdout.contains("buy ") && stdout.contains("SOL"),
        "{stdout}"
    );
    assert!(!ok(d, &["bot", "status", "1"]).contains("SOL"), "not edited");
    assert!(ok(d, &["bot", "edit", "1", "--yes", "--config", &edited]).contains("edited"));
    let status = ok(d, &["bot", "status", "1"]);
    assert!(status.contains("SOL"), "{status}");
    let history = ok(d, &["bot", "history", "1"]);
    assert!(history.contains("removed [BNB]"), "{history}");

    // Export and start a second bot from the one-line profile.
    let export = ok(d, &["bot", "export", "1", "--file", d.join("profile.toml").to_str().unwrap()]);
    let line = export.lines().find(|l| l.starts_with("ballast-profile:1:")).expect("one-line profile").to_string();
    let profile = std::fs::read_to_string(d.join("profile.toml")).unwrap();
    assert!(!profile.contains("amount"), "no amount in a profile:\n{profile}");
    fails(d, &["bot", "create", "--profile", &line, "--yes"], "--amount");
    let out = ok(d, &["bot", "create", "--profile", &line, "--amount", "300", "--yes"]);
    assert!(out.contains("Created bot 2"), "{out}");
    // and from a preset
    let out = ok(d, &["bot", "create", "--profile", "majors-calendar", "--amount", "400", "--yes"]);
    assert!(out.contains("Created bot 3"), "{out}");

    // Stop: to USDT, and returning coins.
    let stop = ok(d, &["bot", "stop", "1", "--to-usdt"]);
    assert!(stop.contains("USDT"), "{stop}");
    fails(d, &["bot", "stop", "1", "--to-usdt"], "already stopped");
    fails(d, &["bot", "stop", "2"], "--return-coins");
    let stop = ok(d, &["bot", "stop", "2", "--return-coins"]);
    assert!(stop.contains("BTC"), "coins returned as they are: {stop}");
    let list = ok(d, &["bot", "list"]);
    assert_eq!(list.matches("stopped").count(), 2, "{list}");
    // The totals (the dashboard's combined view): the one running bot's value and fees,
    // the stopped ones' apart.
    let status: serde_json::Value = serde_json::from_str(&ok(d, &["bot", "status", "3", "--format", "json"])).unwrap();
    let cents = |k: &str| format!("{:.2}", status["pnl"][k].as_str().unwrap().parse::<f64>().unwrap());
    let total = format!("all USDT: 1 running of 3 bot(s), value {} USDT", cents("value"));
    assert!(list.contains(&total) && list.contains(&format!("fees {}", cents("fees_paid"))), "{total}: {list}");
    assert!(list.contains("all USDT: 2 finished bot(s) made "), "{list}");
}

#[test]
fn refusals_name_the_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let tiny = write(d, "tiny.toml", &CONFIG.replace("amount = \"1000\"", "amount = \"10\""));
    fails(d, &["bot", "create", "--config", &tiny, "--yes"], "too little");
    let coins: Vec<String> =
        ["BTC", "ETH", "XRP", "BNB", "SOL", "ADA", "DOGE", "LTC", "TRX", "DOT", "LINK", "AVAX", "UNI"]
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect();
    let many = write(
        d,
        "many.toml",
        &CONFIG.replace("[\"BTC\", \"ETH\", \"XRP\", \"BNB\"]", &format!("[{}]", coins.join(", "))),
    );
    fails(d, &["bot", "create", "--config", &many, "--yes"], "at most 12");
    let unknown = write(d, "unknown.toml", &CONFIG.replace("\"BNB\"]", "\"NOPE\"]"));
    fails(d, &["bot", "create", "--config", &unknown, "--yes"], "NOPE");
    let typo = write(d, "typo.toml", &CONFIG.replace("[rebalance]", "[rebalance]\nthreshhold = 2"));
    fails(d, &["bot", "create", "--config", &typo, "--yes"], "rebalance.threshhold");
    // A live venue needs its key (the address is a closed local port: never the internet).
    let gate = write(d, "gate.toml", &format!("venue = \"gate\"\nbase_url = \"http://127.0.0.1:9\"\n{CONFIG}"));
    let out = std::process::Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .env_remove("BALLAST_GATE_API_KEY")
        .args(["bot", "create", "--config", &gate, "--yes", "--data-dir"])
        .arg(d)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("BALLAST_GATE_API_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let paper_url = write(d, "url.toml", &format!("base_url = \"http://127.0.0.1:9\"\n{CONFIG}"));
    fails(d, &["bot", "create", "--config", &paper_url, "--yes"], "only for a live venue");
    fails(d, &["bot", "status", "42"], "no bot with id 42");
    fails(d, &["bot", "create", "--profile", "ballast-profile:1:!!!", "--amount", "100", "--yes"], "damaged");
    // A device or a folder is not read as a profile (/dev/zero would never end).
    fails(d, &["bot", "create", "--profile", "/dev/zero", "--amount", "100", "--yes"], "not a preset, a file");
    fails(d, &["bot", "create", "--profile", d.to_str().unwrap(), "--amount", "100", "--yes"], "not a preset, a file");
    let out = ballast(d, &["bot", "list"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("No bots"));
}

#[test]
fn amounts_beyond_the_limit_are_refused_not_panicked() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let max = "79228162514264337593543950335";
    let huge = write(d, "huge.toml", &CONFIG.replace(r#"amount = "1000""#, &format!("amount = \"{max}\"")));
    fails(d, &["bot", "create", "--config", &huge, "--yes"], "amount");
    fails(d, &["bot", "create", "--config", &huge, "--yes"], "above the largest amount accepted");
    fails(d, &["bot", "create", "--profile", "majors-calendar", "--amount", max, "--yes"], "at most 1000000000000000");
    fails(d, &["bot", "create", "--profile", "majors-calendar", "--amount", "-1", "--yes"], "greater than 0");
    let cfg = write(d, "bot.toml", CONFIG);
    ok(d, &["bot", "create", "--config", &cfg, "--yes"]);
    fails(d, &["bot", "invest", "1", "--yes", "--usdt", max], "--usdt");
    fails(d, &["bot", "invest", "1", "--yes", "--usdt", "-5"], "greater than 0");
    fails(d, &["bot", "invest", "1", "--yes", "--coins", &format!("BTC={max}")], "--coins BTC");
    fails(d, &["sim", "--fund", max], "--fund");
}

#[test]
fn bot_names_with_control_characters_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    for name in ["\u{1b}[2Jspoof", "a\u{0}b", "two\nlines", "evil\u{202e}txt"] {
        let cfg = write(
            d,
            "bot.toml",
            &CONFIG.replace(r#"name = "majors""#, &format!("name = {}", serde_json::to_string(name).unwrap())),
        );
        fails(d, &["bot", "create", "--config", &cfg, "--yes"], "control character");
        if !name.contains('\0') {
            // (an argument cannot hold NUL)
            fails(
                d,
                &["bot", "create", "--profile", "majors-calendar", "--amount", "100", "--name", name, "--yes"],
                "name",
            );
        }
    }
    let list = ok(d, &["bot", "list"]);
    assert!(list.contains("No bots"), "{list}");
}

#[test]
fn demo_runs_and_leaves_its_state() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let out = ok(d, &["demo"]);
    for s in ["Created bot 1", "Replaying", "vs HODL", "ballast bot status 1"] {
        assert!(out.contains(s), "demo shows {s}:\n{out}");
    }
    assert!(ok(d, &["bot", "status", "1"]).contains("demo"));
    assert!(ok(d, &["bot", "history", "1"]).contains("rebalance"));
    // Running it again starts over instead of piling up bots.
    ok(d, &["demo", "--until", "2024-01-15"]);
    assert_eq!(ok(d, &["bot", "list"]).matches("demo").count(), 1);
    // A data directory with real bots is never wiped by the demo.
    let other = tempfile::tempdir().unwrap();
    let cfg = write(other.path(), "bot.toml", CONFIG);
    ok(other.path(), &["bot", "create", "--config", &cfg, "--yes"]);
    fails(other.path(), &["demo"], "not a demo");
}

#[test]
fn run_stops_cleanly_on_sigterm_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let cfg = write(d, "bot.toml", CONFIG);
    ok(d, &["bot", "create", "--config", &cfg, "--yes"]);
    // The replay clock, as the store keeps it.
    let clock = |d: &Path| -> i64 {
        let db =
            rusqlite::Connection::open_with_flags(d.join("ballast.sqlite"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .unwrap();
        db.query_row("SELECT now FROM replay_clock WHERE id = 1", [], |r| r.get(0)).unwrap()
    };
    let before = clock(d);
    let child = std::process::Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["run", "--speed", "20", "--data-dir"])
        .arg(d)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Signal once the replay is under way (however slow the machine is).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while clock(d) == before {
        assert!(std::time::Instant::now() < deadline, "the replay did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "exit code 0 after SIGTERM");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Stopped cleanly") && text.contains("signal received"), "{text}");
    let after = clock(d);
    assert_ne!(before, after, "the replay advanced");
    // A new run resumes where the last one stopped.
    let next = ok(d, &["run", "--bars", "1"]);
    assert!(next.contains("after 1 bar(s)"), "{next}");
    assert!(clock(d) > after);
}

/// `bot create-many`: one file of [[bot]] entries makes every bot in one transaction
/// (their first buys at the next step); a file with a name already in use creates none
/// of its bots.
#[test]
fn many_bots_from_one_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let fleet = write(
        d,
        "fleet.toml",
        "[[bot]]\nprofile = \"majors-threshold\"\namount = \"500\"\ncount = 3\n\n\
         [[bot]]\nprofile = \"top10-equal\"\namount = \"1000\"\nname = \"wide\"\n",
    );
    let out = ok(d, &["bot", "create-many", &fleet, "--yes"]);
    assert!(out.contains("4 paper bot(s)") && out.contains("Created 4 bot(s), ids 1 .. 4"), "{out}");
    let list = ok(d, &["bot", "list", "--format", "json"]);
    let rows: serde_json::Value = serde_json::from_str(&list).unwrap();
    let names: Vec<&str> = rows.as_array().unwrap().iter().map(|r| r["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["majors-threshold-1", "majors-threshold-2", "majors-threshold-3", "wide"]);
    // The first buys happen at the next step.
    ok(d, &["run", "--bars", "1"]);
    for id in ["1", "4"] {
        let status = ok(d, &["bot", "status", id, "--format", "json"]);
        let v: serde_json::Value = serde_json::from_str(&status).unwrap();
        let coins = v["holdings"].as_object().unwrap().keys().filter(|a| *a != "USDT").count();
        assert!(coins >= 4, "bot {id} made its first buy: {status}");
    }
    let again = write(d, "again.toml", "[[bot]]\nprofile = \"majors-threshold\"\namount = \"500\"\nname = \"wide\"\n");
    fails(d, &["bot", "create-many", &again, "--yes"], "a bot named wide exists");
    let rows: serde_json::Value = serde_json::from_str(&ok(d, &["bot", "list", "--format", "json"])).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 4, "no bot of the refused file was created");
    fails(
        d,
        &["bot", "create-many", &write(d, "bad.toml", "[[bot]]\namount = \"5\"\n"), "--yes"],
        "bad.toml: bot entry 1: profile: missing",
    );
}
