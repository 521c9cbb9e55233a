//! The client libraries people use, against the real binary: `ballast sim` on a free
//! loopback port, and one Python script per client (`scripts/clients/`) that runs the
//! ordinary calls with the client's default options and only its base URL pointed at
//! the sim (markets, ticker, book, candles, balance, market orders by amount and by
//! cost, limit and post-only orders, fetch/cancel by id and client id, open and closed
//! orders, trades since a recent time, cancel all, and the error cases mapped to the
//! client's exception classes).
//!
//! The clients are pinned in `scripts/clients/requirements.txt`; `.ci/run` installs
//! them. Without them (or without python3) a test says so and passes, except under
//! `CI=true`, where it fails.

use std::path::PathBuf;
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

/// Whether `python3` can import `module`; `None` with the reason when it cannot.
fn missing(module: &str) -> Option<String> {
    match Command::new("python3").args(["-c", &format!("import {module}")]).output() {
        Err(e) => Some(format!("python3 cannot run: {e}")),
        Ok(o) if !o.status.success() => Some(format!(
            "python3 cannot import {module} ({}); pip install -r scripts/clients/requirements.txt",
            String::from_utf8_lossy(&o.stderr).lines().rfind(|l| !l.trim().is_empty()).unwrap_or("").trim()
        )),
        Ok(_) => None,
    }
}

/// Runs `scripts/clients/{script}` against a fresh `ballast sim`; fails with the
/// script's output.
fn client(script: &str, module: &str) {
    client_with(script, module, &[]);
}

/// [`client`] against a `ballast sim` started with `flags` too.
fn client_with(script: &str, module: &str, flags: &[&str]) {
    if let Some(why) = missing(module) {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{script}: {why}");
        eprintln!("SKIPPED {script}: {why}");
        return;
    }
    let port = free_port();
    let _sim = Sim(Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["sim", "--port", &port.to_string(), "--fund", "10000"])
        .args(flags)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast sim did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = Command::new("python3")
        .current_dir(root().join("scripts/clients"))
        .arg(script)
        .env("SIM_URL", format!("http://127.0.0.1:{port}"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    let text = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} against ballast sim:\n{text}");
    assert!(text.contains(" passed, 0 failed"), "{script}: no summary:\n{text}");
}

#[test]
fn ccxt_binance_works_against_the_sim_with_default_options() {
    client("ccxt_binance.py", "ccxt");
}

#[test]
fn ccxt_gate_works_against_the_sim_with_default_options() {
    client("ccxt_gate.py", "ccxt");
}

#[test]
fn python_binance_works_against_the_sim_with_default_options() {
    client("python_binance.py", "binance.client");
}

#[test]
fn gate_api_sdk_works_against_the_sim_with_default_options() {
    client("gate_api_sdk.py", "gate_api");
}

#[test]
fn rate_limits_are_enforced_and_map_to_each_clients_exception() {
    client_with(
        "rate_limits.py",
        "ccxt, binance.client, gate_api",
        &["--weight-per-minute", "40", "--orders-per-day", "3", "--ban-after", "2", "--gate-requests-per-10s", "5"],
    );
}
