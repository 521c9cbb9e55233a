//! `ballast serve` through the real binary for the tests: start it on a free port,
//! finish the first-run setup and log in.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub struct Server(pub Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A logged-in client of a running server.
pub struct Client {
    pub agent: ureq::Agent,
    pub base: String,
    pub cookie: String,
    pub csrf: String,
}

impl Client {
    pub fn call(&self, method: &str, path: &str, body: Option<serde_json::Value>) -> (u16, serde_json::Value, String) {
        let url = format!("{}{path}", self.base);
        let mut res = match (method, body) {
            ("GET", _) => self.agent.get(&url).header("Cookie", &self.cookie).call(),
            ("DELETE", _) => {
                self.agent.delete(&url).header("Cookie", &self.cookie).header("X-CSRF-Token", &self.csrf).call()
            }
            (_, b) => self
                .agent
                .post(&url)
                .header("Cookie", &self.cookie)
                .header("X-CSRF-Token", &self.csrf)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or(serde_json::json!({})).to_string()),
        }
        .unwrap();
        let status = res.status().as_u16();
        let text = res.body_mut().read_to_string().unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null), text)
    }
}

/// Starts `ballast serve` on a free port; returns it with the one-time setup token
/// the server printed (empty when the admin exists).
pub fn start(dir: &std::path::Path, extra: &[&str]) -> (Server, u16, String) {
    use std::io::BufRead;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["serve", "--port", &port.to_string(), "--data-dir"])
        .arg(dir)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let server = Server(child);
    let mut token = String::new();
    // The banner: the address line, then (first run) the setup lines.
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(t) = line.trim().strip_prefix("setup token: ") {
            token = t.split_whitespace().next().unwrap().to_owned();
            break;
        }
        if line.contains("paper replay") || (line.contains("dashboard on") && dir.join("admin.json").exists()) {
            break;
        }
    }
    // Keep reading, so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    (server, port, token)
}

pub fn log_in(port: u16, token: &str) -> Client {
    use ballast_server::totp;
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let base = format!("http://127.0.0.1:{port}");
    let secret = {
        let mut r = agent
            .post(&format!("{base}/api/setup"))
            .header("Content-Type", "application/json")
            .send(serde_json::json!({ "password": "a long enough password", "setup_token": token }).to_string())
            .unwrap();
        let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
        let uri = v["otpauth_uri"].as_str().unwrap();
        uri.split("secret=").nth(1).unwrap().split('&').next().unwrap().to_owned()
    };
    let key = totp::base32_decode(&secret).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let code = totp::code_at(&key, now);
    // A code of the authenticator finishes setup and logs in.
    let mut r = agent
        .post(&format!("{base}/api/setup/confirm"))
        .header("Content-Type", "application/json")
        .send(serde_json::json!({ "setup_token": token, "code": code }).to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let cookie = r.headers().get("set-cookie").unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let v: serde_json::Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    Client { agent, base, cookie, csrf: v["csrf_token"].as_str().unwrap().to_owned() }
}
