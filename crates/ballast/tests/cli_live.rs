//! Rehearsing a live setup through the real binary: `ballast sim` serves the Binance
//! dialect; a bot with `venue = "binance"` and `base_url` pointing at it is checked,
//! created, run and stopped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Sim(Child);
impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn ballast(dir: &Path, base: &str, args: &[&str]) -> std::process::Output {
    Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .env("BALLAST_BINANCE_API_KEY", "sim-key")
        .env("BALLAST_BINANCE_SECRET", "sim-secret")
        .env("BALLAST_GATE_API_KEY", "sim-key")
        .env("BALLAST_GATE_SECRET", "sim-secret")
        .env("BALLAST_DATA_DIR", dir)
        .args(args)
        .env("SIM_BASE", base)
        .output()
        .unwrap()
}

fn ok(dir: &Path, base: &str, args: &[&str]) -> String {
    let out = ballast(dir, base, args);
    assert!(
        out.status.success(),
        "{args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_bot_on_binance_rehearses_against_ballast_sim() {
    let port = free_port();
    let sim = Sim(Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["sim", "--port", &port.to_string(), "--speed", "20", "--fund", "5000"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast sim did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let keys = ok(d, &base, &["keys", "check", "--venue", "binance", "--base-url", &base]);
    assert!(keys.contains("withdraw:          no") && keys.contains("fit for ballast"), "{keys}");

    let cfg = d.join("bot.toml");
    std::fs::write(
        &cfg,
        format!("name = \"live\"\nvenue = \"binance\"\nbase_url = \"{base}\"\namount = \"1000\"\nassets = [\"BTC\", \"ETH\", \"XRP\", \"BNB\"]\n[rebalance]\nthreshold = 1\n"),
    )
    .unwrap();
    let out = ok(d, &base, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    assert!(out.contains("Created bot 1 on binance") && out.contains("4 order(s) filled"), "{out}");
    let run = ok(d, &base, &["run", "--live", "--poll", "1s", "--bars", "3"]);
    assert!(run.contains("Stopped cleanly after 3 round(s)"), "{run}");
    let status = ok(d, &base, &["bot", "status", "1"]);
    assert!(status.contains("on binance") && status.contains("Value"), "{status}");
    // the paper replay leaves live bots alone
    let paper = ok(d, &base, &["run", "--bars", "2"]);
    assert!(paper.contains("after 2 bar(s)"), "{paper}");
    let stop = ok(d, &base, &["bot", "stop", "1", "--to-usdt"]);
    assert!(stop.contains("stopped"), "{stop}");
    // The same rehearsal through the Gate adapter against the same simulator.
    let gate_keys = ok(d, &base, &["keys", "check", "--venue", "gate", "--base-url", &base]);
    assert!(gate_keys.contains("make sure the key cannot withdraw"), "{gate_keys}");
    let gcfg = d.join("gate.toml");
    std::fs::write(
        &gcfg,
        format!("name = \"gate\"\nvenue = \"gate\"\nbase_url = \"{base}\"\namount = \"1000\"\nassets = [\"BTC\", \"ETH\"]\n[rebalance]\nthreshold = 1\n"),
    )
    .unwrap();
    let out = ok(d, &base, &["bot", "create", "--config", gcfg.to_str().unwrap(), "--yes"]);
    assert!(out.contains("Created bot 2 on gate") && out.contains("2 order(s) filled"), "{out}");
    let run = ok(d, &base, &["run", "--live", "--poll", "1s", "--bars", "2"]);
    assert!(run.contains("Stopped cleanly after 2 round(s)"), "{run}");
    assert!(ok(d, &base, &["bot", "status", "2"]).contains("on gate"));
    // a key that is missing is named
    let out = Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .env_remove("BALLAST_BINANCE_API_KEY")
        .args(["keys", "check", "--venue", "binance", "--base-url", &base])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("BALLAST_BINANCE_API_KEY"));
    drop(sim);
}
