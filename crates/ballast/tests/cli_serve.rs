//! `ballast serve` through the real binary: loopback by default, public health,
//! everything else behind the login; non-loopback binds refused without TLS.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn serve_answers_health_and_guards_the_rest() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let _server = Server(
        Command::new(assert_cmd::cargo::cargo_bin("ballast"))
            .current_dir(root())
            .args(["serve", "--port", &port.to_string(), "--data-dir"])
            .arg(tmp.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast serve did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let url = |p: &str| format!("http://127.0.0.1:{port}{p}");
    assert_eq!(agent.get(&url("/api/health")).call().unwrap().status().as_u16(), 200);
    for p in ["/api/bots", "/metrics", "/api/openapi.json"] {
        assert_eq!(agent.get(&url(p)).call().unwrap().status().as_u16(), 401, "{p}");
    }
    let mut r = agent
        .post(&url("/api/setup"))
        .header("Content-Type", "application/json")
        .send(r#"{"password":"a long enough password"}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let body = r.body_mut().read_to_string().unwrap();
    assert!(body.contains("otpauth://totp/"), "{body}");
    assert!(tmp.path().join("admin.json").exists());
}

#[test]
fn a_public_bind_without_tls_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(assert_cmd::cargo::cargo_bin("ballast"))
        .current_dir(root())
        .args(["serve", "--bind", "0.0.0.0", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("without TLS"));
}
