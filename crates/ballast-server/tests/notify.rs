//! Notifications against a local fake receiver: the webhook's and Telegram's requests
//! for real engine events (rebalance, stop-loss, error, revoked key), the durable
//! cursor across a restart, retries, a receiver that recovers, an unreachable one.

mod receiver;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Qty, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_server::notify::{CURSOR_FILE, Notifier, NotifyConfig, NotifyError};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{BotStatus, Event, NewBot, Store};
use receiver::Receiver;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;

const TOKEN: &str = "123456:SECRET-token";

/// What Binance answers for a revoked key (-2015).
const REFUSED: &str = "Invalid API-key, IP, or permissions for action";

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn spec(stop_loss: Option<Decimal>) -> BotSpec {
    let assets = vec![a("BTC"), a("ETH")];
    BotSpec {
        quote: a("USDT"),
        weights: weighting::equal(&assets).unwrap(),
        assets,
        method: Method::Equal,
        trigger: Trigger::threshold(Threshold::new(dec!(3), DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards: Guards { stop_loss_percent: stop_loss, ..Guards::default() },
        fee: Bps(dec!(10)),
        reestimate: None,
        execution: Default::default(),
    }
}

struct Rig {
    prices: Arc<FixedPrices>,
    venue: Arc<PaperExchange>,
    store: Arc<SqliteStore>,
    engine: Engine,
}

fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(1_735_689_600_000)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    let paper =
        PaperExchange::in_memory(PaperConfig::default(), prices.clone(), clock.clone() as Arc<dyn Clock>).unwrap();
    paper.deposit(&a("USDT"), Qty(dec!(5000))).unwrap();
    let venue = Arc::new(paper);
    let store = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Engine::new(store.clone(), venue.clone(), clock);
    Rig { prices, venue, store, engine }
}

fn configure(dir: &Path, text: &str) -> Notifier {
    std::fs::write(dir.join("notify.toml"), text).unwrap();
    let mut n = Notifier::open(dir).unwrap().expect("configured");
    n.set_backoff(vec![Duration::from_millis(10), Duration::from_millis(20)]);
    n.set_hold_off(Duration::ZERO);
    n
}

fn both(rx: &Receiver) -> String {
    format!(
        "[webhook]\nurl = \"{}\"\nheaders = {{ Authorization = \"Bearer hook-secret\" }}\n\
         [telegram]\ntoken = \"{TOKEN}\"\nchat_id = -100777\nbase_url = \"{}\"\n",
        rx.url("/hook"),
        rx.url("/tg")
    )
}

fn webhook_only(rx: &Receiver) -> String {
    format!("[webhook]\nurl = \"{}\"\n", rx.url("/hook"))
}

fn kinds(requests: &[receiver::Request]) -> Vec<String> {
    requests.iter().map(|r| r.json()["kind"].as_str().unwrap().to_string()).collect()
}

#[test]
fn rebalance_stop_loss_error_and_revoked_key_reach_the_webhook_and_telegram() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let r = rig();
    let guarded = r.engine.create("guarded", spec(Some(dec!(20))), "", dec!(1000)).unwrap();
    let plain = r.engine.create("plain", spec(None), "", dec!(1000)).unwrap();
    let mut n = configure(dir.path(), &both(&rx));
    // First use: both targets start at the newest event; nothing is sent.
    assert_eq!(n.pump(&*r.store).unwrap(), 0);
    assert!(rx.requests().is_empty());
    assert_eq!(n.cursor().len(), 2);

    // The first buys.
    r.engine.step(guarded).unwrap();
    r.engine.step(plain).unwrap();
    assert_eq!(n.pump(&*r.store).unwrap(), 4);
    // An error: a price is missing.
    r.prices.remove(&a("ETH"), &a("USDT"));
    r.engine.step_all().unwrap();
    r.prices.set(&a("ETH"), &a("USDT"), Price(dec!(2500)));
    assert_eq!(n.pump(&*r.store).unwrap(), 4);
    // A stop-loss: BTC falls 80 %.
    r.prices.set(&a("BTC"), &a("USDT"), Price(dec!(10000)));
    r.engine.step(guarded).unwrap();
    assert_eq!(r.store.bot(guarded).unwrap().unwrap().status, BotStatus::Stopped);
    // The key is revoked.
    r.venue.set_key_refused(Some(REFUSED));
    // (The rebalance's event is recorded with its intents, before the first order is
    // refused.)
    assert!(r.engine.step(plain).is_err());
    // guard (the liquidation), stop (what it returned), rebalance, key_revoked: twice.
    assert_eq!(n.pump(&*r.store).unwrap(), 8);
    assert_eq!(n.pump(&*r.store).unwrap(), 0, "nothing new");

    let hooks = rx.accepted("/hook");
    assert_eq!(
        kinds(&hooks),
        ["rebalance", "rebalance", "error", "error", "guard", "stop", "rebalance", "key_revoked"]
    );
    let mut ids = Vec::new();
    for h in &hooks {
        assert_eq!(h.method, "POST");
        assert_eq!(h.path, "/hook");
        assert!(h.header("content-type").unwrap().starts_with("application/json"));
        assert_eq!(h.header("authorization"), Some("Bearer hook-secret"));
        ids.push(h.header("x-ballast-event").unwrap().parse::<i64>().unwrap());
        let body = h.json();
        let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["bot", "bot_name", "data", "kind", "message", "time"]);
        assert_eq!(body["time"], 1_735_689_600_000i64);
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "in order, each once: {ids:?}");
    let body = |i: usize| hooks[i].json();
    assert_eq!((body(0)["bot"].as_i64(), body(0)["bot_name"].as_str()), (Some(guarded), Some("guarded")));
    assert!(body(0)["message"].as_str().unwrap().starts_with("first buy: 2 order(s)"), "{}", body(0));
    assert_eq!(body(0)["data"]["legs"].as_array().unwrap().len(), 2);
    assert_eq!(body(1)["bot_name"], "plain");
    assert!(body(2)["message"].as_str().unwrap().contains("no price for ETH/USDT"), "{}", body(2));
    assert_eq!(body(4)["bot_name"], "guarded");
    assert!(body(4)["message"].as_str().unwrap().starts_with("stop-loss: value"), "{}", body(4));
    assert_eq!(body(5)["bot_name"], "guarded");
    assert!(body(5)["message"].as_str().unwrap().contains("returned"), "{}", body(5));
    assert_eq!(body(7)["bot_name"], "plain");
    assert!(body(7)["message"].as_str().unwrap().starts_with("the venue refused the API key"), "{}", body(7));
    assert_eq!(body(7)["data"]["venue"], "paper");

    let tg = rx.accepted("/tg");
    assert_eq!(tg.len(), 8);
    for (t, h) in tg.iter().zip(&hooks) {
        assert_eq!(t.method, "POST");
        assert_eq!(t.path, format!("/tg/bot{TOKEN}/sendMessage"));
        let b = t.json();
        assert_eq!(b["chat_id"], -100777);
        let want =
            format!("ballast · {}: {}", h.json()["bot_name"].as_str().unwrap(), h.json()["message"].as_str().unwrap());
        assert_eq!(b["text"], want);
        assert_eq!(b.as_object().unwrap().len(), 2, "{b}");
    }
    // Kinds not configured (created) were passed over, not sent.
    assert_eq!(rx.requests().len(), 16);
}

#[test]
fn the_cursor_survives_a_restart_without_resending_or_missing() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let bot = store
        .create_bot(&NewBot {
            name: "b".into(),
            venue: "paper".into(),
            config_toml: String::new(),
            created_at: Timestamp(1),
        })
        .unwrap();
    let ev = |t: i64, kind: &str| Event {
        bot,
        time: Timestamp(t),
        kind: kind.into(),
        message: format!("{kind} {t}"),
        data: serde_json::json!({"t": t}),
    };
    store.record_event(&ev(1, "rebalance")).unwrap();
    {
        let mut n = configure(dir.path(), &webhook_only(&rx));
        assert_eq!(n.pump(&store).unwrap(), 0, "first use starts at the newest event");
        store.record_event(&ev(2, "rebalance")).unwrap();
        store.record_event(&ev(3, "created")).unwrap();
        store.record_event(&ev(4, "stop")).unwrap();
        assert_eq!(n.pump(&store).unwrap(), 2);
    }
    // Down for a while: events recorded meanwhile are sent after the restart, the
    // ones sent before are not sent again.
    store.record_event(&ev(5, "guard")).unwrap();
    store.record_event(&ev(6, "error")).unwrap();
    let mut n = Notifier::open(dir.path()).unwrap().unwrap();
    assert_eq!(n.pump(&store).unwrap(), 2);
    let messages: Vec<String> =
        rx.accepted("/hook").iter().map(|r| r.json()["message"].as_str().unwrap().to_string()).collect();
    assert_eq!(messages, ["rebalance 2", "stop 4", "guard 5", "error 6"]);
    let cursor: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(CURSOR_FILE)).unwrap()).unwrap();
    let last = store.events_after(0, 100).unwrap().last().unwrap().0;
    assert_eq!(cursor["webhook"], last);
    assert!(!dir.path().join("notify-cursor.tmp").exists());
}

#[test]
fn a_receiver_answering_500_gets_the_event_once_it_recovers() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let bot = store
        .create_bot(&NewBot {
            name: "b".into(),
            venue: "paper".into(),
            config_toml: String::new(),
            created_at: Timestamp(1),
        })
        .unwrap();
    let ev = |kind: &str, msg: &str| Event {
        bot,
        time: Timestamp(10),
        kind: kind.into(),
        message: msg.into(),
        data: serde_json::json!({}),
    };
    let mut n = configure(dir.path(), &both(&rx));
    n.pump(&store).unwrap();

    // One 500, then 200: the retry within the same pump delivers it.
    rx.script(&[500]);
    store.record_event(&ev("rebalance", "one")).unwrap();
    assert_eq!(n.pump(&store).unwrap(), 2);
    assert_eq!(rx.requests().iter().filter(|r| r.status == 500).count(), 1);

    // Down for every attempt of the webhook: the pump reports it, the cursor stays,
    // Telegram still gets its message.
    rx.clear();
    rx.script(&[503, 503, 503]);
    store.record_event(&ev("error", "two")).unwrap();
    store.record_event(&ev("stop", "three")).unwrap();
    let before = n.cursor()["webhook"];
    match n.pump(&store) {
        Err(NotifyError::Delivery { target, msg }) => {
            assert!(target.contains("/hook"), "{target}");
            assert!(msg.contains("HTTP 503"), "{msg}");
        }
        other => panic!("expected a delivery failure, got {other:?}"),
    }
    assert_eq!(n.failures(), 1);
    assert_eq!(n.cursor()["webhook"], before);
    assert!(n.cursor()["telegram"] > before);
    assert!(rx.accepted("/hook").is_empty());
    assert_eq!(rx.accepted("/tg").len(), 2);

    // Recovered: each event arrives once, in order; Telegram gets nothing twice.
    assert_eq!(n.pump(&store).unwrap(), 2);
    let hooks = rx.accepted("/hook");
    let messages: Vec<&str> = hooks.iter().map(|r| r.body.as_str()).collect();
    assert_eq!(hooks.len(), 2, "{messages:?}");
    assert_eq!(hooks[0].json()["message"], "two");
    assert_eq!(hooks[1].json()["message"], "three");
    assert_eq!(rx.accepted("/tg").len(), 2);

    // A 4xx is not retried within a pump (it will not pass by itself).
    rx.clear();
    rx.script(&[400]);
    store.record_event(&ev("rebalance", "four")).unwrap();
    let e = n.pump(&store).unwrap_err().to_string();
    assert!(e.contains("HTTP 400") && !e.contains(TOKEN), "{e}");
    assert_eq!(rx.requests().iter().filter(|r| r.status == 400).count(), 1);
}

#[test]
fn telegram_refusals_never_show_the_token() {
    let rx = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let mut n = configure(
        dir.path(),
        &format!("[telegram]\ntoken = \"{TOKEN}\"\nchat_id = \"@chan\"\nbase_url = \"{}\"\n", rx.url("/tg")),
    );
    n.pump(&store).unwrap();
    rx.script(&[401, 200]);
    let results = n.send_test(5);
    assert_eq!(results.len(), 1);
    let (target, result) = &results[0];
    assert_eq!(target, "telegram chat @chan");
    let e = result.as_ref().unwrap_err().to_string();
    assert!(e.contains("HTTP 401") && !e.contains("SECRET"), "{e}");
    assert!(!format!("{n:?}").contains("SECRET"));
    // The test message itself.
    let results = n.send_test(5);
    assert!(results[0].1.is_ok(), "{results:?}");
    let sent = rx.accepted("/tg");
    assert_eq!(sent[0].json()["chat_id"], "@chan");
    assert_eq!(sent[0].json()["text"], "ballast · ballast: test message: notifications work");
    assert!(n.cursor().contains_key("telegram"));
}

#[test]
fn an_unreachable_receiver_is_an_error_not_a_panic() {
    // A port nobody listens on: bind, read the port, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in_memory().unwrap();
    let bot = store
        .create_bot(&NewBot {
            name: "b".into(),
            venue: "paper".into(),
            config_toml: String::new(),
            created_at: Timestamp(1),
        })
        .unwrap();
    let mut n = configure(dir.path(), &format!("[webhook]\nurl = \"http://127.0.0.1:{port}/hook\"\n"));
    n.pump(&store).unwrap();
    store
        .record_event(&Event {
            bot,
            time: Timestamp(2),
            kind: "rebalance".into(),
            message: "m".into(),
            data: serde_json::json!({}),
        })
        .unwrap();
    let e = n.pump(&store).unwrap_err();
    assert!(matches!(e, NotifyError::Delivery { .. }), "{e}");
    assert!(e.to_string().contains(&format!("127.0.0.1:{port}")), "{e}");
    assert_eq!(n.failures(), 1);
    assert_eq!(n.cursor()["webhook"], 0, "the event stays to send");
    // Held off: the next pumps do not try the dead target again (the bots' rounds
    // are not slowed by it) until the hold-off has passed.
    n.set_hold_off(Duration::from_secs(3600));
    assert!(n.pump(&store).is_err());
    assert_eq!(n.failures(), 2);
    assert_eq!(n.pump(&store).unwrap(), 0);
    assert_eq!(n.failures(), 2, "not tried while held off");
}

#[test]
fn set_config_round_trips_through_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let rx = Receiver::start();
    let c = NotifyConfig::parse(&both(&rx)).unwrap();
    c.save(dir.path()).unwrap();
    let n = Notifier::open(dir.path()).unwrap().unwrap();
    assert_eq!(n.config(), &c);
}
