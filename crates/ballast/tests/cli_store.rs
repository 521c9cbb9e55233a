//! The data directory through the real binary: a damaged or lost store is refused at
//! open with the file named and a non-zero exit (never "Stopped cleanly" over it), a
//! clock that cannot be a replay time is refused, and the files holding the account's
//! history are private (directory 0700, files 0600).

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

fn fails(dir: &Path, args: &[&str], needles: &[&str]) {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{args:?} should fail: {stdout}");
    for n in needles {
        assert!(err.contains(n), "{args:?}: expected {n:?} in {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!stdout.contains("Stopped cleanly"), "{stdout}");
}

const CONFIG: &str = r#"name = "majors"
amount = "1000"
assets = ["BTC", "ETH"]
[rebalance]
threshold = 3
"#;

/// A data directory (inside `tmp`) with one bot that traded.
fn with_a_bot(tmp: &Path) -> PathBuf {
    let d = tmp.join("data");
    let cfg = tmp.join("bot.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(&d, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    ok(&d, &["run", "--bars", "3"]);
    d
}

#[test]
fn a_damaged_store_is_refused_at_open_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    let path = d.join("ballast.sqlite");
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "a store of {} bytes", bytes.len());
    // Every page but the first (the header and the schema) overwritten.
    for b in &mut bytes[4096..] {
        *b = 0xA5;
    }
    std::fs::write(&path, bytes).unwrap();
    for args in [&["run", "--bars", "1"][..], &["bot", "list"], &["bot", "status", "1"]] {
        fails(&d, args, &["ballast.sqlite", "damaged", "backup"]);
    }
}

#[test]
fn a_damaged_paper_account_is_refused_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    let path = d.join("paper.sqlite");
    let mut bytes = std::fs::read(&path).unwrap();
    for b in &mut bytes[4096..] {
        *b = 0x5A;
    }
    std::fs::write(&path, bytes).unwrap();
    fails(&d, &["run", "--bars", "1"], &["paper.sqlite", "damaged"]);
}

#[test]
fn an_empty_or_missing_store_beside_the_paper_account_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    let store = d.join("ballast.sqlite");
    let kept = std::fs::read(&store).unwrap();
    std::fs::write(&store, b"").unwrap();
    fails(&d, &["run", "--bars", "1"], &["ballast.sqlite", "empty (0 bytes)", "restore"]);
    fails(&d, &["bot", "list"], &["ballast.sqlite", "empty"]);
    assert_eq!(std::fs::metadata(&store).unwrap().len(), 0, "nothing was written over it");
    std::fs::remove_file(&store).unwrap();
    fails(&d, &["bot", "list"], &["ballast.sqlite", "missing"]);
    std::fs::write(&store, kept).unwrap();
    std::fs::write(d.join("paper.sqlite"), b"").unwrap();
    fails(&d, &["bot", "list"], &["paper.sqlite", "empty"]);
}

#[test]
fn a_negative_clock_in_paper_json_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    let path = d.join("paper.json");
    let mut world: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    world["now"] = serde_json::json!(-86_400_000);
    std::fs::write(&path, world.to_string()).unwrap();
    fails(&d, &["run", "--bars", "1"], &["paper.json", "now = -86400000"]);
}

#[cfg(unix)]
#[test]
fn the_data_directory_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&d), 0o700, "the data directory");
    for f in ["ballast.sqlite", "paper.sqlite", "paper.json"] {
        assert_eq!(mode(&d.join(f)), 0o600, "{f}");
    }
}

/// `ballast doctor`: the running ledger a step reads equals the one the records derive
/// after real trading; a ledger changed behind ballast's back is found, named, and
/// makes it exit non-zero.
#[test]
fn doctor_checks_the_running_ledger_against_the_records() {
    let tmp = tempfile::tempdir().unwrap();
    let d = with_a_bot(tmp.path());
    ok(&d, &["run", "--bars", "60"]);
    let out = ok(&d, &["doctor"]);
    assert!(out.contains("bot 1 (majors): ledger ok"), "{out}");
    assert!(out.contains("every running ledger equals its records"), "{out}");
    {
        let conn = rusqlite::Connection::open(d.join("ballast.sqlite")).unwrap();
        let n = conn.execute("UPDATE ledger SET held = '0.5' WHERE bot_id = 1 AND asset = 'BTC'", []).unwrap();
        assert_eq!(n, 1);
    }
    fails(&d, &["doctor"], &["1 of 1 bot(s) have a running ledger that differs"]);
    let out = ballast(&d, &["doctor"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BTC held 0.5 (running)"), "{stdout}");
}
