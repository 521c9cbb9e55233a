//! `ballast keys seal`: the dashboard's TOTP secret and the Telegram token move into the
//! encrypted key file, through the real binary. Afterwards no file of the data
//! directory holds either in clear; `ballast serve` refuses to start without the
//! passphrase and, with it, logins work with codes of the sealed secret; `unseal`
//! puts both back.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ballast_server::{Auth, totp};

const PASS: &str = "a passphrase for the sealed secrets";
const PASSWORD: &str = "a long enough password";
const TOKEN: &str = "123456789:AAEsealed-telegram-token-XYZ";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ballast(dir: &Path, pass: Option<&str>, args: &[&str]) -> Command {
    let mut c = Command::new(assert_cmd::cargo::cargo_bin("ballast"));
    c.current_dir(root()).args(args).arg("--data-dir").arg(dir).stdin(Stdio::null());
    c.env_remove("BALLAST_PASSPHRASE");
    if let Some(p) = pass {
        c.env("BALLAST_PASSPHRASE", p);
    }
    c
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every file under `dir`, as bytes.
fn every_file(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(every_file(&p));
        } else {
            out.push((p.clone(), std::fs::read(&p).unwrap()));
        }
    }
    out
}

fn contains(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn sealed_secrets_leave_no_file_in_clear_and_still_log_in() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // An admin (as `ballast serve`'s setup makes it) and a Telegram target.
    let auth = Auth::open(&d.join("admin.json")).unwrap().with_hash_cost(64, 1);
    let token = auth.setup_token().unwrap();
    let uri = auth.setup(PASSWORD, &token).unwrap();
    let secret = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_owned();
    // Setup finishes with a code of the new secret (from 30 s ago, so that the login
    // below can use the current one).
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let earlier = totp::code_at(&totp::base32_decode(&secret).unwrap(), now - 30);
    auth.confirm_setup(&token, &earlier, ((now - 30) * 1000) as i64).unwrap();
    drop(auth);
    ok(ballast(d, None, &["notify", "set", "--telegram-token", TOKEN, "--telegram-chat", "42"]).output().unwrap());

    let out = ok(ballast(d, Some(PASS), &["keys", "seal"]).output().unwrap());
    assert!(out.contains("Sealed the TOTP secret") && out.contains("Sealed the Telegram token"), "{out}");
    for (path, bytes) in every_file(d) {
        assert!(!contains(&bytes, &secret), "{} holds the TOTP secret", path.display());
        assert!(!contains(&bytes, TOKEN), "{} holds the Telegram token", path.display());
    }
    let admin = std::fs::read_to_string(d.join("admin.json")).unwrap();
    assert!(admin.contains("sealed:keys.enc"), "{admin}");
    // A second seal has nothing to do.
    assert!(ok(ballast(d, Some(PASS), &["keys", "seal"]).output().unwrap()).contains("Nothing to seal"));

    // Without the passphrase `serve` cannot log anyone in: it refuses to start, saying why.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let out = ballast(d, None, &["serve", "--port", &port.to_string()]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("BALLAST_PASSPHRASE"), "{err}");

    // With it, a code of the sealed secret logs in.
    let child = ballast(d, Some(PASS), &["serve", "--port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let login = |code: &str| {
        agent
            .post(&format!("http://127.0.0.1:{port}/api/login"))
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "password": PASSWORD, "code": code }).to_string())
            .unwrap()
            .status()
            .as_u16()
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(login("000000"), 401);
    let code = totp::code_at(&totp::base32_decode(&secret).unwrap(), now);
    assert_eq!(login(&code), 200, "a code of the sealed secret logs in");
    drop(_server);

    // Unseal: both back where they were.
    let out = ok(ballast(d, Some(PASS), &["keys", "unseal"]).output().unwrap());
    assert!(out.contains("TOTP secret back") && out.contains("Telegram token back"), "{out}");
    assert!(std::fs::read_to_string(d.join("admin.json")).unwrap().contains(&secret));
    assert!(std::fs::read_to_string(d.join("notify.toml")).unwrap().contains(TOKEN));
}
