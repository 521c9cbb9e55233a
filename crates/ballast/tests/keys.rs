//! The encrypted key file through the real binary: `ballast sim` plays the venue with a
//! fresh random (fake) key and secret; `keys add --stdin` stores them; a live bot is
//! created, run and stopped with them; then every output of every command, the
//! simulator's own output, and the raw bytes of every file under the data directory
//! (SQLite databases with their WAL and SHM files, scanned also while the bot runs,
//! `keys.enc`, the bot's configuration) are searched for the secret.
//!
//! The secret must appear nowhere. The API key must not appear in clear either: it is
//! stored only inside the ciphertext of `keys.enc`, and commands show it redacted
//! (`abcd…wxyz`); it legitimately travels only to the venue, in request headers. The
//! passphrase must appear nowhere.

use std::collections::BTreeSet;
use std::hash::{BuildHasher, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// 64 random hex characters (std's per-process random hasher keys; no real key is
/// ever used).
fn random_hex() -> String {
    (0..4)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos());
            format!("{:016x}", h.finish())
        })
        .collect()
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

/// `ballast` with no key of any kind in its environment but what the test gives.
fn ballast() -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("ballast"));
    c.current_dir(root());
    for var in [
        "BALLAST_BINANCE_API_KEY",
        "BALLAST_BINANCE_SECRET",
        "BALLAST_GATE_API_KEY",
        "BALLAST_GATE_SECRET",
        "BALLAST_PASSPHRASE",
        "BALLAST_DATA_DIR",
        "BALLAST_SIM_API_KEY",
        "BALLAST_SIM_SECRET",
    ] {
        c.env_remove(var);
    }
    c
}

/// Every output seen, to search at the end.
#[derive(Default)]
struct Transcript(Vec<(String, Vec<u8>)>);

impl Transcript {
    /// Runs `ballast ARGS --data-dir DIR` with `passphrase` and `stdin`, keeping its output.
    fn run(&mut self, dir: &Path, passphrase: Option<&str>, stdin: Option<&str>, args: &[&str]) -> Output {
        let mut c = ballast();
        c.args(args).arg("--data-dir").arg(dir).stdout(Stdio::piped()).stderr(Stdio::piped());
        if let Some(p) = passphrase {
            c.env("BALLAST_PASSPHRASE", p);
        }
        c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
        let mut child = c.spawn().unwrap();
        if let Some(input) = stdin {
            // A command that refuses its arguments exits without reading its input: a
            // broken pipe here is that, not a failure (its exit status is checked).
            match child.stdin.take().unwrap().write_all(input.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                r => r.unwrap(),
            }
        }
        let out = child.wait_with_output().unwrap();
        self.0.push((format!("stdout of {args:?}"), out.stdout.clone()));
        self.0.push((format!("stderr of {args:?}"), out.stderr.clone()));
        out
    }

    fn ok(&mut self, dir: &Path, passphrase: &str, stdin: Option<&str>, args: &[&str]) -> String {
        let out = self.run(dir, Some(passphrase), stdin, args);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a command that must fail cleanly; returns its stderr.
    fn fails(&mut self, dir: &Path, passphrase: Option<&str>, args: &[&str]) -> String {
        let out = self.run(dir, passphrase, None, args);
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(1), "{args:?} should fail: {stderr}");
        let last = stderr.lines().last().unwrap_or_default();
        assert!(last.starts_with("error: ") && !stderr.contains("panicked"), "{args:?}: {stderr}");
        stderr
    }
}

/// Every file under `dir`, recursively, with its raw bytes (files that vanish while
/// read, such as a WAL being checkpointed, are skipped).
fn files_under(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p, bytes));
            }
        }
    }
    out
}

fn input_of(api_key: &str, secret: &str) -> String {
    format!("{api_key}\n{secret}\n")
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The forms of a value a leak could take: itself, upper-cased, its halves (a
/// truncated log line), its base64.
fn leak_forms(value: &str) -> Vec<String> {
    use base64::Engine as _;
    let half = value.len() / 2;
    vec![
        value.to_string(),
        value.to_uppercase(),
        value[..half].to_string(),
        value[half..].to_string(),
        base64::engine::general_purpose::STANDARD.encode(value),
    ]
}

#[test]
fn stored_keys_trade_and_leak_nowhere() {
    let (api_key, secret, passphrase) = (random_hex(), random_hex(), format!("pass-{}", &random_hex()[..24]));
    assert!(api_key != secret && api_key.len() == 64);
    let logs = tempfile::tempdir().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path().join("data");
    let mut t = Transcript::default();

    // The simulated venue knows the key pair (as a real one would); its output is searched too.
    let port = free_port();
    let sim = Sim(ballast()
        .env("BALLAST_SIM_API_KEY", &api_key)
        .env("BALLAST_SIM_SECRET", &secret)
        .args(["sim", "--port", &port.to_string(), "--speed", "20", "--fund", "5000"])
        .stdout(std::fs::File::create(logs.path().join("sim.out")).unwrap())
        .stderr(std::fs::File::create(logs.path().join("sim.err")).unwrap())
        .spawn()
        .unwrap());
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast sim did not start");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Bad input is refused before anything is written, without repeating it.
    let e = t.fails(&d, Some(&passphrase), &["keys", "add", "--venue", "binance"]);
    assert!(e.contains("no terminal") && e.contains("--stdin"), "{e}");
    let out =
        t.run(&d, Some(&passphrase), Some(&format!("{api_key}\n")), &["keys", "add", "--venue", "binance", "--stdin"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("expected two lines") && !out.status.success());
    let bad = format!("{api_key} extra\n{secret}\n");
    let out = t.run(&d, Some(&passphrase), Some(&bad), &["keys", "add", "--venue", "binance", "--stdin"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid API key") && !out.status.success());
    let out = t.run(
        &d,
        Some(&passphrase),
        Some(&input_of(&api_key, &secret)),
        &["keys", "add", "--venue", "kraken", "--stdin"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid value 'kraken'") && !out.status.success());
    assert!(!d.join("keys.enc").exists());

    // Store the keys; the file is the owner's only.
    let shown = format!("{}…{}", &api_key[..4], &api_key[60..]);
    let input = input_of(&api_key, &secret);
    let out = t.ok(&d, &passphrase, Some(&input), &["keys", "add", "--venue", "binance", "--stdin"]);
    assert!(out.contains("Stored the binance key") && out.contains(&shown), "{out}");
    let key_file = d.join("keys.enc");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let list = t.ok(&d, &passphrase, None, &["keys", "list"]);
    assert!(list.contains("binance") && list.contains(&shown), "{list}");
    let check = t.ok(&d, &passphrase, None, &["keys", "check", "--venue", "binance", "--base-url", &base]);
    assert!(check.contains("from the key file") && check.contains("fit for ballast"), "{check}");

    // A live bot trades with them.
    let cfg = d.join("bot.toml");
    std::fs::write(
        &cfg,
        format!("name = \"live\"\nvenue = \"binance\"\nbase_url = \"{base}\"\namount = \"1000\"\nassets = [\"BTC\", \"ETH\", \"XRP\", \"BNB\"]\n[rebalance]\nthreshold = 1\n"),
    )
    .unwrap();
    let out = t.ok(&d, &passphrase, None, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
    assert!(out.contains("Created bot 1 on binance") && out.contains("4 order(s) filled"), "{out}");

    // `run --live`, with the data directory scanned while it runs (WAL and SHM files).
    let mut run = ballast();
    run.env("BALLAST_PASSPHRASE", &passphrase)
        .args(["run", "--live", "--poll", "1s", "--bars", "4", "--data-dir"])
        .arg(&d)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = run.spawn().unwrap();
    let scanner = {
        let d = d.clone();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut seen = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                seen.extend(files_under(&d));
                std::thread::sleep(Duration::from_millis(250));
            }
            seen
        });
        (stop, handle)
    };
    let out = child.wait_with_output().unwrap();
    scanner.0.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut scanned = scanner.1.join().unwrap();
    t.0.push(("stdout of run --live".into(), out.stdout.clone()));
    t.0.push(("stderr of run --live".into(), out.stderr.clone()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("Stopped cleanly after 4 round(s)"), "{stdout}");
    let status = t.ok(&d, &passphrase, None, &["bot", "status", "1"]);
    assert!(status.contains("on binance") && status.contains("Value"), "{status}");

    // A wrong passphrase, or none, fails cleanly and names the file; the file is unchanged.
    let before = std::fs::read(&key_file).unwrap();
    let culprit = format!("wrong passphrase or corrupted key file {}", key_file.display());
    for args in [&["keys", "list"][..], &["run", "--live", "--poll", "1s", "--bars", "1"], &["bot", "status", "1"]] {
        let e = t.fails(&d, Some("not-the-passphrase"), args);
        assert!(e.contains(&culprit), "{args:?}: {e}");
    }
    let e = t.fails(&d, None, &["keys", "list"]);
    assert!(e.contains("BALLAST_PASSPHRASE") && e.contains(&key_file.display().to_string()), "{e}");
    let out = t.run(&d, Some("not-the-passphrase"), Some(&input), &["keys", "add", "--venue", "gate", "--stdin"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains(&culprit));
    assert_eq!(std::fs::read(&key_file).unwrap(), before, "a failed add must not touch the file");
    let stop = t.ok(&d, &passphrase, None, &["bot", "stop", "1", "--to-usdt"]);
    assert!(stop.contains("stopped"), "{stop}");

    // A tampered copy fails authentication.
    let other = tmp.path().join("tampered");
    std::fs::create_dir_all(&other).unwrap();
    let mut v: serde_json::Value = serde_json::from_slice(&before).unwrap();
    let ct = v["ciphertext"].as_str().unwrap().to_string();
    let flipped = if ct.starts_with('A') { "B" } else { "A" };
    v["ciphertext"] = format!("{flipped}{}", &ct[1..]).into();
    std::fs::write(other.join("keys.enc"), serde_json::to_vec(&v).unwrap()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(other.join("keys.enc"), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let e = t.fails(&other, Some(&passphrase), &["keys", "list"]);
    assert!(e.contains("wrong passphrase or corrupted key file") && e.contains("tampered"), "{e}");
    #[cfg(unix)]
    assert!(e.contains("has mode 644; only its owner should read it"), "{e}");

    // Add and remove a second venue.
    let out = t.ok(&d, &passphrase, Some(&input), &["keys", "add", "--venue", "gate", "--stdin"]);
    assert!(out.contains("Stored the gate key"), "{out}");
    assert!(t.ok(&d, &passphrase, None, &["keys", "list"]).contains("gate"));
    let out = t.ok(&d, &passphrase, None, &["keys", "remove", "--venue", "gate"]);
    assert!(out.contains("Removed the gate key"), "{out}");
    let list = t.ok(&d, &passphrase, None, &["keys", "list"]);
    assert!(list.contains("binance") && !list.contains("gate"), "{list}");
    let e = t.fails(&d, Some(&passphrase), &["keys", "remove", "--venue", "gate"]);
    assert!(e.contains("no gate key"), "{e}");

    drop(sim);
    for name in ["sim.out", "sim.err"] {
        t.0.push((name.into(), std::fs::read(logs.path().join(name)).unwrap()));
    }
    scanned.extend(files_under(&d));
    let names: BTreeSet<String> =
        scanned.iter().map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    for must in ["keys.enc", "ballast.sqlite", "ballast.sqlite-wal", "bot.toml"] {
        assert!(names.contains(must), "{must} was never scanned; saw {names:?}");
    }

    // The search.
    let mut needles: Vec<(&str, String)> = Vec::new();
    for (what, value) in [("secret", &secret), ("API key", &api_key), ("passphrase", &passphrase)] {
        needles.extend(leak_forms(value).into_iter().map(|f| (what, f)));
    }
    let sources =
        t.0.iter().map(|(n, b)| (n.clone(), b)).chain(scanned.iter().map(|(p, b)| (p.display().to_string(), b)));
    let mut searched = 0;
    for (source, bytes) in sources {
        searched += 1;
        for (what, needle) in &needles {
            assert!(!contains(bytes, needle), "the {what} (as {needle:?}) leaked into {source}");
        }
    }
    assert!(searched > 40, "only {searched} sources searched");
}

/// Two `keys add` at once (one per venue) keep both keys: each reads, changes and
/// writes the file under its lock, so neither write loses the other's key.
#[test]
fn two_key_adds_at_once_keep_both_keys() {
    let dir = tempfile::tempdir().unwrap();
    let pass = "correct horse battery staple, twice";
    let add = |venue: &str| {
        let mut c = ballast();
        c.args(["keys", "add", "--venue", venue, "--stdin", "--data-dir"])
            .arg(dir.path())
            .env("BALLAST_PASSPHRASE", pass)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let key = random_hex();
        writeln!(child.stdin.take().unwrap(), "{}\n{}", &key[..32], &key[32..]).unwrap();
        child
    };
    // A first key, so that both later adds read an existing file.
    let first = add("binance").wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    for round in 0..3 {
        let (a, b) = (add("gate"), add("binance"));
        for out in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
            assert!(out.status.success(), "round {round}: {}", String::from_utf8_lossy(&out.stderr));
        }
        let list = ballast()
            .args(["keys", "list", "--data-dir"])
            .arg(dir.path())
            .env("BALLAST_PASSPHRASE", pass)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&list.stdout);
        assert!(text.contains("binance") && text.contains("gate"), "round {round}: a key was lost:\n{text}");
        // Remove gate again so that the next round adds it anew.
        let rm = ballast()
            .args(["keys", "remove", "--venue", "gate", "--data-dir"])
            .arg(dir.path())
            .env("BALLAST_PASSPHRASE", pass)
            .output()
            .unwrap();
        assert!(rm.status.success(), "{}", String::from_utf8_lossy(&rm.stderr));
    }
}
