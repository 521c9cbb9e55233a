//! Notifications through the real binary: `ballast notify set/show/test`, and
//! `ballast run` on the paper replay sending rebalance events to a local fake webhook
//! (nothing missed between the configuration and the run, nothing resent by the next
//! run), and carrying on when the receiver is unreachable.

#[path = "../../ballast-server/tests/receiver/mod.rs"]
mod receiver;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use receiver::Receiver;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn ballast(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("ballast").unwrap().current_dir(root()).args(args).arg("--data-dir").arg(dir).output().unwrap()
}

fn ok(dir: &Path, args: &[&str]) -> (String, String) {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{args:?}: {err}");
    assert!(!err.contains("panicked"), "{err}");
    (String::from_utf8(out.stdout).unwrap(), err)
}

fn fails(dir: &Path, args: &[&str], needle: &str) -> String {
    let out = ballast(dir, args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let all = format!("{}{err}", String::from_utf8_lossy(&out.stdout));
    assert!(!out.status.success(), "{args:?} should fail");
    assert!(all.contains(needle), "{args:?}: expected {needle:?} in {all}");
    assert!(!err.contains("panicked"), "{err}");
    all
}

const CONFIG: &str = r#"name = "majors"
amount = "1000"
assets = ["BTC", "ETH", "XRP", "BNB"]
[weights]
method = "equal"
[rebalance]
mode = "threshold"
threshold = 3
"#;

fn create_bot(d: &Path) {
    let cfg = d.join("bot.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    ok(d, &["bot", "create", "--config", cfg.to_str().unwrap(), "--yes"]);
}

fn event_ids(requests: &[receiver::Request]) -> Vec<i64> {
    requests.iter().map(|r| r.header("x-ballast-event").unwrap().parse().unwrap()).collect()
}

#[test]
fn run_sends_rebalances_to_the_webhook_once_each() {
    let rx = Receiver::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (out, _) = ok(d, &["notify", "set", "--webhook", &rx.url("/hook"), "--header", "X-Token: hook-secret"]);
    assert!(out.contains("/hook"), "{out}");
    assert!(!out.contains("hook-secret"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("notify.toml")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // The bot is created (and makes its first buy) after the configuration and before
    // any run: that event is not missed.
    create_bot(d);
    assert!(rx.requests().is_empty(), "only `ballast run` sends");

    let (out, err) = ok(d, &["run", "--bars", "60"]);
    assert!(out.contains("Stopped cleanly after 60 bar(s)"), "{out}");
    assert!(!err.contains("warning"), "{err}");
    let first = rx.accepted("/hook");
    assert!(!first.is_empty());
    let body = first[0].json();
    assert_eq!(body["kind"], "rebalance");
    assert_eq!(body["bot"], 1);
    assert_eq!(body["bot_name"], "majors");
    assert!(body["message"].as_str().unwrap().starts_with("first buy: 4 order(s)"), "{body}");
    assert_eq!(body["data"]["legs"].as_array().unwrap().len(), 4);
    assert!(body["time"].as_i64().unwrap() > 1_700_000_000_000);
    for r in &first {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/hook"));
        assert_eq!(r.header("x-token"), Some("hook-secret"));
        assert!(["rebalance", "guard", "error", "key_revoked", "stop"].contains(&r.json()["kind"].as_str().unwrap()));
    }

    // The next run sends only what is new.
    ok(d, &["run", "--bars", "60"]);
    let all = rx.accepted("/hook");
    let ids = event_ids(&all);
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "each event once, in order: {ids:?}");
    assert_eq!(
        &all[..first.len()].iter().map(|r| r.body.clone()).collect::<Vec<_>>()[..],
        &first.iter().map(|r| r.body.clone()).collect::<Vec<_>>()[..]
    );
    assert_eq!(all.len(), rx.requests().len(), "nothing refused, nothing retried");
    // Every event of the configured kinds recorded since `notify set` was sent: none missed.
    let db = rusqlite::Connection::open(d.join("ballast.sqlite")).unwrap();
    let mut stmt = db
        .prepare(
            "SELECT id FROM events WHERE kind IN ('rebalance', 'guard', 'error', 'key_revoked', 'stop') ORDER BY id",
        )
        .unwrap();
    let recorded: Vec<i64> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(ids, recorded);

    let cursor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("notify-cursor.json")).unwrap()).unwrap();
    assert!(cursor["webhook"].as_i64().unwrap() >= *ids.last().unwrap());
}

#[test]
fn an_unreachable_receiver_does_not_stop_the_run() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    ok(d, &["notify", "set", "--webhook", &format!("http://127.0.0.1:{port}/hook")]);
    create_bot(d);
    let (out, err) = ok(d, &["run", "--bars", "20"]);
    assert!(out.contains("Stopped cleanly after 20 bar(s)"), "{out}");
    assert!(err.contains("warning: notification not delivered"), "{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    // The events stay to send: once a receiver listens there, the next run sends them.
    let status = ok(d, &["bot", "status", "1"]).0;
    assert!(status.contains("active"), "{status}");
}

#[test]
fn set_show_and_test_telegram_with_the_token_redacted() {
    let rx = Receiver::start();
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let (out, _) = ok(d, &["notify", "show"]);
    assert!(out.contains("off"), "{out}");
    fails(d, &["notify", "test"], "notifications are off");
    fails(d, &["notify", "set"], "nothing to set");
    fails(d, &["notify", "set", "--webhook", "ftp://x"], "webhook.url");
    fails(d, &["notify", "set", "--telegram-token", "1:SECRET"], "--telegram-chat");
    let base = rx.url("/tg");
    let (out, _) = ok(
        d,
        &[
            "notify",
            "set",
            "--telegram-token",
            "42:SECRET-tok",
            "--telegram-chat",
            "-100123",
            "--telegram-base-url",
            &base,
        ],
    );
    assert!(!out.contains("SECRET"), "{out}");
    let (show, _) = ok(d, &["notify", "show"]);
    assert!(show.contains("telegram: chat -100123") && show.contains("<redacted>"), "{show}");
    assert!(!show.contains("SECRET"), "{show}");
    assert!(show.contains("webhook:  (not set)"), "{show}");

    let (out, _) = ok(d, &["notify", "test"]);
    assert!(out.contains("telegram chat -100123: sent"), "{out}");
    let sent = rx.accepted("/tg");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].path, "/tg/bot42:SECRET-tok/sendMessage");
    assert_eq!(sent[0].json()["chat_id"], -100123);
    assert!(sent[0].json()["text"].as_str().unwrap().starts_with("ballast · "));

    // A webhook added later keeps Telegram; a refusal is reported, token unseen.
    ok(d, &["notify", "set", "--webhook", &rx.url("/hook")]);
    rx.script(&[500, 500, 500, 401]);
    let all = fails(d, &["notify", "test"], "did not accept");
    assert!(all.contains("HTTP 500") && all.contains("HTTP 401"), "{all}");
    assert!(!all.contains("SECRET"), "{all}");
    let text = std::fs::read_to_string(d.join("notify.toml")).unwrap();
    assert!(text.contains("[webhook]") && text.contains("[telegram]"), "{text}");
}

/// Slack and Discord keep the webhook's secret in its path (and some services in the
/// query): no command prints it, whatever happens to the delivery.
#[test]
fn the_webhook_secret_is_never_printed() {
    let rx = Receiver::start();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let secret_part = "services/T0PATHSECRET/B0PATHSECRET?token=QUERYSECRET";
    for (base, statuses) in [(rx.url("/hooks"), vec![500u16; 50]), (format!("http://127.0.0.1:{closed}/hooks"), vec![])]
    {
        rx.script(&statuses);
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        let url = format!("{base}/{secret_part}");
        let mut printed = String::new();
        let mut run = |args: &[&str]| {
            let out = ballast(d, args);
            printed.push_str(&String::from_utf8_lossy(&out.stdout));
            printed.push_str(&String::from_utf8_lossy(&out.stderr));
        };
        run(&["notify", "set", "--webhook", &url]);
        run(&["notify", "show"]);
        run(&["notify", "test"]);
        create_bot(d);
        run(&["run", "--bars", "20"]);
        assert!(printed.contains("FAILED") || printed.contains("not delivered"), "the delivery failed: {printed}");
        assert!(printed.contains("<redacted>"), "{printed}");
        for secret in ["PATHSECRET", "QUERYSECRET"] {
            assert!(!printed.contains(secret), "{secret} printed:\n{printed}");
        }
    }
}
