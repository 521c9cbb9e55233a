//! Issue 14: what a user decides on, through the router without sockets: the
//! rebalance history keeps each rebalance with its own orders and skipped legs, the
//! charts cover a bot's whole life thinned on the server, a stopped bot shows what it
//! returned, and answers are compressed.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ballast_core::guards::Guards;
use ballast_core::planner::{RebalanceTo, RulesBook};
use ballast_core::rules::SymbolRules;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Notional, Price, Qty, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_server::{AppState, Auth, router, totp};
use ballast_store::sqlite::SqliteStore;
use ballast_store::{Snapshot, Store};
use http_body_util::BodyExt;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";
const T0: i64 = 1_700_000_000_000;

struct Rig {
    app: Router,
    state: Arc<AppState>,
    clock: Arc<ManualClock>,
    bot: i64,
    /// `cookie` and `x-csrf-token`.
    auth: Vec<(String, String)>,
    _dir: tempfile::TempDir,
}

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

/// A paper venue whose orders must be worth 5 USDT, and an equal BTC/ETH bot with 1,000.
async fn rig() -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(3000)));
    let rules = RulesBook {
        default: SymbolRules { tick: dec!(0.01), step: dec!(0.00001), min_qty: dec!(0.00001), min_notional: dec!(5) },
        per_asset: BTreeMap::new(),
    };
    let cfg = PaperConfig { rules, ..PaperConfig::default() };
    let paper = Arc::new(PaperExchange::in_memory(cfg, prices, clock.clone()).unwrap());
    paper.deposit(&a("USDT"), Qty(dec!(10000))).unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let engine = Arc::new(Engine::new(store.clone(), paper, clock.clone()));
    let assets = vec![a("BTC"), a("ETH")];
    let spec = BotSpec {
        quote: a("USDT"),
        weights: weighting::equal(&assets).unwrap(),
        assets,
        method: Method::Equal,
        trigger: Trigger::threshold(Threshold::new(dec!(3), DriftKind::Absolute).unwrap(), None).unwrap(),
        to: RebalanceTo::Target,
        guards: Guards::default(),
        fee: Bps(dec!(10)),
        reestimate: None,
        execution: Default::default(),
    };
    let bot = engine.create("demo", spec, "", dec!(1000)).unwrap();
    engine.step(bot).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(&dir.path().join("admin.json")).unwrap().with_hash_cost(1024, 1);
    let mut engines = BTreeMap::new();
    engines.insert("paper".to_string(), engine);
    let state = Arc::new(
        AppState::new(store, engines, auth, clock.clone() as Arc<dyn Clock>).with_data_dir(dir.path().to_path_buf()),
    );
    let app = router(state.clone());
    let token = state.auth.setup_token().unwrap();
    let s = send(&app, "POST", "/api/setup", &[], Some(json!({ "password": PASSWORD, "setup_token": token }))).await;
    let uri = s.body["otpauth_uri"].as_str().unwrap();
    let secret = totp::base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap()).unwrap();
    let code = totp::code_at(&secret, (clock.now().0 / 1000) as u64);
    // Confirming the enrolment logs in.
    let l = send(&app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": token, "code": code }))).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    let cookie = l.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = l.body["csrf_token"].as_str().unwrap().to_owned();
    let auth = vec![("cookie".to_string(), cookie), ("x-csrf-token".to_string(), csrf)];
    Rig { app, state, clock, bot, auth, _dir: dir }
}

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
    text: String,
    len: usize,
}

async fn send(app: &Router, method: &str, path: &str, headers: &[(&str, &str)], body: Option<Value>) -> Reply {
    let mut b = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let req = match body {
        Some(v) => b.header(header::CONTENT_TYPE, "application/json").body(Body::from(v.to_string())).unwrap(),
        None => b.body(Body::empty()).unwrap(),
    };
    let resp = app.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let len = bytes.len();
    let text = if headers.get(header::CONTENT_ENCODING).is_some_and(|v| v == "gzip") {
        let mut out = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut out).unwrap();
        out
    } else {
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text, len }
}

impl Rig {
    async fn get(&self, path: &str) -> Reply {
        let h: Vec<(&str, &str)> = self.auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        send(&self.app, "GET", path, &h, None).await
    }

    async fn post(&self, path: &str, body: Value) -> Reply {
        let h: Vec<(&str, &str)> = self.auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        send(&self.app, "POST", path, &h, Some(body)).await
    }

    fn later(&self, ms: i64) {
        self.clock.set(Timestamp(self.clock.now().0 + ms));
    }
}

/// Defect 2: invest 1 USDT (every leg under the minimum: nothing sent), then 100 USDT
/// (two buys). Both rebalance events carry the same sequence number; each entry of the
/// history keeps its own message, orders and skipped legs.
#[tokio::test]
async fn history_keeps_each_rebalance_with_its_own_orders_and_skipped_legs() {
    let r = rig().await;
    let path = format!("/api/bots/{}", r.bot);
    r.later(60_000);
    let one = r.post(&format!("{path}/invest"), json!({ "usdt": "1" })).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    r.later(60_000);
    let hundred = r.post(&format!("{path}/invest"), json!({ "usdt": "100" })).await;
    assert_eq!(hundred.status, StatusCode::OK, "{}", hundred.text);

    let h = r.get(&format!("{path}/history")).await;
    assert_eq!(h.status, StatusCode::OK, "{}", h.text);
    let entries = h.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "first buy, 1 USDT, 100 USDT: {}", h.text);
    let (newest, small, first) = (&entries[0], &entries[1], &entries[2]);
    // Both investments' events carry the same sequence number (nothing was sent by the
    // first), and are yet two entries.
    assert_eq!(newest["seq"], small["seq"], "{}", h.text);
    assert_ne!(newest["id"], small["id"]);
    assert!(small["message"].as_str().unwrap().contains("no order sent (2 leg(s) skipped)"), "{}", h.text);
    assert!(small["orders"].as_array().unwrap().is_empty(), "{}", h.text);
    assert_eq!(small["skipped"].as_array().unwrap().len(), 2, "{}", h.text);
    let reason = small["skipped"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("minimum") || reason.contains("rounds to zero"), "{}", h.text);
    assert!(newest["message"].as_str().unwrap().contains("2 order(s)"), "{}", h.text);
    let orders = newest["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "{}", h.text);
    assert!(orders.iter().all(|o| o["side"] == "buy" && o["state"] == "filled"), "{}", h.text);
    assert!(newest["skipped"].as_array().unwrap().is_empty());
    assert_eq!(first["orders"].as_array().unwrap().len(), 2);

    // Paged: one at a time, each page naming the next.
    let p1 = r.get(&format!("{path}/history?limit=1")).await;
    assert_eq!(p1.body["entries"][0]["id"], newest["id"]);
    let next = p1.body["next_before"].as_i64().unwrap();
    let p2 = r.get(&format!("{path}/history?limit=1&before={next}")).await;
    assert_eq!(p2.body["entries"][0]["id"], small["id"]);
    let p3 = r.get(&format!("{path}/history?limit=5&before={}", p2.body["next_before"])).await;
    assert_eq!(p3.body["entries"].as_array().unwrap().len(), 1);
    assert!(p3.body["next_before"].is_null());

    // Events page the same way, and answer only what is new after an id.
    let ev = r.get(&format!("{path}/events?limit=2")).await;
    let evs = ev.body.as_array().unwrap();
    assert_eq!(evs.len(), 2);
    assert!(evs[0]["id"].as_i64().unwrap() > evs[1]["id"].as_i64().unwrap());
    let newer = r.get(&format!("{path}/events?after={}", evs[1]["id"])).await;
    assert_eq!(newer.body.as_array().unwrap().len(), 1, "{}", newer.text);
    let none = r.get(&format!("{path}/events?after={}", evs[0]["id"])).await;
    assert!(none.body.as_array().unwrap().is_empty());
    let bad = r.get(&format!("{path}/history?before=x")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["error"].as_str().unwrap().contains("before"), "{}", bad.text);
    let missing = r.get("/api/bots/999/history").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

fn snapshot(bot: i64, t: i64, i: i64) -> Snapshot {
    let value = dec!(1000) + rust_decimal::Decimal::from(i);
    Snapshot {
        bot,
        time: Timestamp(t),
        value: Notional(value),
        holdings: BTreeMap::from([(a("BTC"), Qty(dec!(0.01))), (a("USDT"), Qty(value - dec!(500)))]),
        prices: BTreeMap::from([(a("BTC"), Price(dec!(50000)))]),
        net_invested: Notional(dec!(1000)),
        hodl_value: Notional(dec!(1000)),
        fees_paid: Notional(dec!(1)),
    }
}

/// Defect 1: a bot with 4,346 snapshots: the chart covers its whole life from the first
/// snapshot, thinned on the server; a range ends at the last snapshot; `after` answers
/// only what is new.
#[tokio::test]
async fn chart_covers_the_whole_life_thinned_on_the_server() {
    let r = rig().await;
    // A fresh bot whose whole life is in 4,346 four-hourly snapshots.
    let store = r.state.store.clone();
    let bot = r.bot;
    let first = store.snapshot_span(bot).unwrap().unwrap().0.0;
    let four_h = 4 * 3_600_000;
    for i in 1..4346 {
        store.record_snapshot(&snapshot(bot, first + i * four_h, i)).unwrap();
    }
    let last = first + 4345 * four_h;
    let path = format!("/api/bots/{bot}/chart");
    let c = r.get(&path).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert_eq!(c.body["range"], "all");
    assert_eq!(c.body["total"], 4346);
    assert_eq!((c.body["first"].as_i64(), c.body["last"].as_i64()), (Some(first), Some(last)));
    let pts = c.body["points"].as_array().unwrap();
    assert_eq!(pts.len(), 600, "thinned to the default");
    assert_eq!(pts[0]["time"].as_i64(), Some(first), "from the bot's first snapshot");
    assert_eq!(pts[599]["time"].as_i64(), Some(last), "to its last");
    assert_eq!(pts[599]["value"], "5345", "{}", pts[599]);
    assert!(pts[10]["weights"]["BTC"].is_string(), "{}", pts[10]);

    let w = r.get(&format!("{path}?range=7d&points=5000")).await;
    assert_eq!(w.body["total"], 43, "7 days of 4h snapshots, both ends: {}", w.body["total"]);
    assert_eq!(w.body["from"].as_i64(), Some(last - 7 * 86_400_000));
    assert_eq!(w.body["points"].as_array().unwrap().len(), 43);

    let since = r.get(&format!("{path}?after={}", last - four_h - 1)).await;
    assert_eq!(since.body["points"].as_array().unwrap().len(), 2, "{}", since.text);
    let nothing = r.get(&format!("{path}?after={last}")).await;
    assert!(nothing.body["points"].as_array().unwrap().is_empty());

    for (q, culprit) in [("range=2w", "range"), ("points=1", "points"), ("points=999999", "points")] {
        let bad = r.get(&format!("{path}?{q}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{q}: {}", bad.text);
        assert!(bad.body["error"].as_str().unwrap().contains(culprit), "{q}: {}", bad.text);
    }
    assert_eq!(r.get("/api/bots/999/chart").await.status, StatusCode::NOT_FOUND);
}

/// Defect 5: a bot stopped to USDT shows what it returned, its final PnL, fees and date
/// (in the list and on its page), not holdings at zero.
#[tokio::test]
async fn a_stopped_bot_shows_what_it_returned() {
    let r = rig().await;
    let path = format!("/api/bots/{}", r.bot);
    r.later(60_000);
    let stop = r.post(&format!("{path}/stop"), json!({ "mode": "to-usdt" })).await;
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.text);
    let one = r.get(&path).await;
    assert_eq!(one.body["status"], "stopped");
    let sum = &one.body["summary"];
    assert_eq!(sum["at"].as_i64(), Some(T0 + 60_000), "{}", one.text);
    let returned: f64 = sum["returned"]["USDT"].as_str().unwrap().parse().unwrap();
    assert!(returned > 990.0 && returned < 1000.0, "{}", one.text);
    assert!(sum["returned"].get("BTC").is_none(), "{}", one.text);
    let (value, net, profit, fees): (f64, f64, f64, f64) = (
        sum["value"].as_str().unwrap().parse().unwrap(),
        sum["net_invested"].as_str().unwrap().parse().unwrap(),
        sum["profit"].as_str().unwrap().parse().unwrap(),
        sum["fees"].as_str().unwrap().parse().unwrap(),
    );
    assert_eq!(net, 1000.0);
    assert!((value - net - profit).abs() < 1e-9);
    assert!(fees > 1.9 && fees < 2.1, "two buys and two sells at 10 bps: {fees}");
    let pct: f64 = sum["profit_percent"].as_str().unwrap().parse().unwrap();
    assert!((pct - profit / 10.0).abs() < 1e-4, "{pct} {profit}");
    let list = r.get("/api/bots").await;
    assert_eq!(list.body[0]["summary"], *sum);
    assert_eq!(list.body[0]["value"], sum["value"]);
    assert_eq!(list.body[0]["profit_percent"], sum["profit_percent"]);
    assert!(list.body[0]["excess_vs_hodl_percent"].is_null());
}

/// Defect 6: JSON answers are gzip-compressed for a client that accepts it.
#[tokio::test]
async fn answers_are_compressed() {
    let r = rig().await;
    let mut h: Vec<(&str, &str)> = r.auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    h.push(("accept-encoding", "gzip"));
    let plain = r.get(&format!("/api/bots/{}/chart", r.bot)).await;
    for _ in 0..200 {
        r.later(60_000);
        r.state.engines["paper"].step(r.bot).unwrap();
    }
    let plain_big = r.get(&format!("/api/bots/{}/chart", r.bot)).await;
    assert!(plain_big.len > plain.len);
    let gz = send(&r.app, "GET", &format!("/api/bots/{}/chart", r.bot), &h, None).await;
    assert_eq!(gz.status, StatusCode::OK);
    assert_eq!(gz.headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap()), Some("gzip"));
    assert_eq!(gz.body, plain_big.body);
    assert!(gz.len * 4 < plain_big.len, "{} gzip bytes for {} plain", gz.len, plain_big.len);
    for page in ["/app.js", "/"] {
        let p = send(&r.app, "GET", page, &[("accept-encoding", "gzip")], None).await;
        assert_eq!(p.headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().unwrap()), Some("gzip"), "{page}");
    }
}

/// Defect 4: an investment shows its orders, fees and skipped legs before it is made,
/// recording nothing; its answer says what it did.
#[tokio::test]
async fn an_investment_is_previewed_before_it_trades() {
    let r = rig().await;
    let path = format!("/api/bots/{}", r.bot);
    r.later(60_000);
    let before = r.get(&format!("{path}/events")).await.body.as_array().unwrap().len();
    let small = r.post(&format!("{path}/invest/preview"), json!({ "usdt": "1" })).await;
    assert_eq!(small.status, StatusCode::OK, "{}", small.text);
    assert!(small.body["orders"].as_array().unwrap().is_empty(), "{}", small.text);
    let skipped = small.body["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 2, "{}", small.text);
    assert!(
        // Spent cash first: half a USDT per coin, below the minimum or below one step.
        skipped.iter().all(|s| s["side"] == "buy"
            && ["minimum", "rounds to zero"].iter().any(|r| s["reason"].as_str().unwrap().contains(r))),
        "{}",
        small.text
    );
    let big = r.post(&format!("{path}/invest/preview"), json!({ "usdt": "100" })).await;
    let orders = big.body["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 2, "{}", big.text);
    let fees: f64 = big.body["fees"].as_str().unwrap().parse().unwrap();
    assert!((fees - 0.1).abs() < 0.01, "10 bps of about 100: {fees}");
    assert_eq!(r.get(&format!("{path}/events")).await.body.as_array().unwrap().len(), before, "nothing recorded");
    for (body, culprit) in [
        (json!({}), "nothing to invest"),
        (json!({ "usdt": "-1" }), "usdt"),
        (json!({ "coins": { "DOGE": "1" } }), "DOGE"),
    ] {
        let bad = r.post(&format!("{path}/invest/preview"), body.clone()).await;
        assert!(bad.status.is_client_error(), "{body}: {}", bad.text);
        assert!(bad.body["error"].as_str().unwrap().contains(culprit), "{body}: {}", bad.text);
    }
    let done = r.post(&format!("{path}/invest"), json!({ "usdt": "1" })).await;
    assert_eq!(done.body["outcome"], "no order sent", "{}", done.text);
    let done = r.post(&format!("{path}/invest"), json!({ "usdt": "100" })).await;
    assert_eq!(done.body["outcome"], "2 order(s) sent", "{}", done.text);
    assert_eq!(r.post("/api/bots/999/invest/preview", json!({ "usdt": "1" })).await.status, StatusCode::NOT_FOUND);
}

/// Defect 10: the report's own inline script (its hover read-outs) is allowed by its
/// hash; nothing else is.
#[tokio::test]
async fn a_report_may_run_its_own_script_only() {
    use base64::Engine as _;
    use sha2::Digest as _;
    let r = rig().await;
    let script = "\n(function () { document.body.dataset.ok = '1'; })();\n";
    let html = format!(
        "<html><body><script type=\"application/json\" id=\"d\">{{}}</script><script>{script}</script></body></html>"
    );
    r.state.backtests.lock().unwrap().push((7, html.clone()));
    let rep = r.get("/api/backtests/7/report").await;
    assert_eq!(rep.status, StatusCode::OK);
    assert_eq!(rep.text, html);
    let csp = rep.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(script.as_bytes()));
    assert!(csp.contains(&format!("script-src 'sha256-{hash}';")), "{csp}");
    assert!(csp.starts_with("default-src 'none';"), "{csp}");
    assert!(!csp.contains("script-src 'unsafe-inline'") && !csp.contains("script-src 'self'"), "{csp}");
    assert!(ballast_server::dash::report_csp("<p>no script</p>").contains("script-src 'none'"));
}

fn code(secret: &[u8], clock: &ManualClock) -> String {
    totp::code_at(secret, (clock.now().0 / 1000) as u64)
}

fn secret_of(v: &Value) -> Vec<u8> {
    let uri = v["otpauth_uri"].as_str().unwrap();
    totp::base32_decode(uri.split("secret=").nth(1).unwrap().split('&').next().unwrap()).unwrap()
}

/// Defect 12: setup is finished only once a code checks (a bad scan can set up again),
/// and a logged-in admin can change the password and enrol a new authenticator, the
/// old one in force until a code of the new one checks.
#[tokio::test]
async fn setup_checks_a_code_and_the_admin_can_reenrol_and_change_the_password() {
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(&dir.path().join("admin.json")).unwrap().with_hash_cost(1024, 1);
    let state = Arc::new(AppState::new(store, BTreeMap::new(), auth, clock.clone() as Arc<dyn Clock>));
    let app = router(state.clone());
    let token = state.auth.setup_token().unwrap();
    let setup = |pw: &'static str| {
        let app = app.clone();
        let token = token.clone();
        async move { send(&app, "POST", "/api/setup", &[], Some(json!({ "password": pw, "setup_token": token }))).await }
    };
    let first = setup(PASSWORD).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let s1 = secret_of(&first.body);
    // A wrong code (a bad scan): refused, setup not finished, and it can be done again.
    let bad =
        send(&app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": token, "code": "000000" }))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.body["error"].as_str().unwrap().contains("does not match"), "{}", bad.text);
    assert_eq!(send(&app, "GET", "/api/health", &[], None).await.body["setup_done"], false);
    let no_token = send(&app, "POST", "/api/setup/confirm", &[], Some(json!({ "code": code(&s1, &clock) }))).await;
    assert_eq!(no_token.status, StatusCode::UNAUTHORIZED, "{}", no_token.text);
    let second = setup(PASSWORD).await;
    assert_eq!(second.status, StatusCode::OK, "setup again before it is finished: {}", second.text);
    let s2 = secret_of(&second.body);
    assert_ne!(s1, s2);
    let old =
        send(&app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": token, "code": code(&s1, &clock) })))
            .await;
    assert_eq!(old.status, StatusCode::BAD_REQUEST, "the first secret is gone: {}", old.text);
    let ok =
        send(&app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": token, "code": code(&s2, &clock) })))
            .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(send(&app, "GET", "/api/health", &[], None).await.body["setup_done"], true);
    assert_eq!(setup(PASSWORD).await.status, StatusCode::CONFLICT);
    assert!(state.auth.setup_token().is_none());
    let cookie = ok.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();
    let csrf = ok.body["csrf_token"].as_str().unwrap().to_owned();
    let me = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];

    // Another session, to see a password change end it.
    clock.set(Timestamp(T0 + 30_000));
    let other =
        send(&app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code(&s2, &clock) }))).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
    let other_cookie =
        other.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().split(';').next().unwrap().to_owned();

    // The password.
    const NEW: &str = "another long password";
    for (body, status, culprit) in [
        (json!({ "current": "wrong password", "new": NEW }), StatusCode::BAD_REQUEST, "current password"),
        (json!({ "current": PASSWORD, "new": "short" }), StatusCode::BAD_REQUEST, "at least"),
    ] {
        let r = send(&app, "POST", "/api/account/password", &me, Some(body)).await;
        assert_eq!(r.status, status, "{}", r.text);
        assert!(r.body["error"].as_str().unwrap().contains(culprit), "{}", r.text);
    }
    let changed =
        send(&app, "POST", "/api/account/password", &me, Some(json!({ "current": PASSWORD, "new": NEW }))).await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(
        send(&app, "GET", "/api/bots", &[("cookie", other_cookie.as_str())], None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(send(&app, "GET", "/api/bots", &me, None).await.status, StatusCode::OK, "the caller's session stays");
    clock.set(Timestamp(T0 + 60_000));
    let old_pw =
        send(&app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code(&s2, &clock) }))).await;
    assert_eq!(old_pw.status, StatusCode::UNAUTHORIZED);

    // A new authenticator: the old one stays in force until a code of the new one checks.
    let wrong = send(&app, "POST", "/api/account/totp", &me, Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST, "{}", wrong.text);
    let re = send(&app, "POST", "/api/account/totp", &me, Some(json!({ "password": NEW }))).await;
    assert_eq!(re.status, StatusCode::OK, "{}", re.text);
    assert!(re.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let s3 = secret_of(&re.body);
    let bad = send(&app, "POST", "/api/account/totp/confirm", &me, Some(json!({ "code": code(&s2, &clock) }))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.body["error"].as_str().unwrap().contains("old one stays in force"), "{}", bad.text);
    clock.set(Timestamp(T0 + 90_000));
    let good = send(&app, "POST", "/api/account/totp/confirm", &me, Some(json!({ "code": code(&s3, &clock) }))).await;
    assert_eq!(good.status, StatusCode::OK, "{}", good.text);
    clock.set(Timestamp(T0 + 120_000));
    let with_old =
        send(&app, "POST", "/api/login", &[], Some(json!({ "password": NEW, "code": code(&s2, &clock) }))).await;
    assert_eq!(with_old.status, StatusCode::UNAUTHORIZED);
    let with_new =
        send(&app, "POST", "/api/login", &[], Some(json!({ "password": NEW, "code": code(&s3, &clock) }))).await;
    assert_eq!(with_new.status, StatusCode::OK, "{}", with_new.text);
    // The routes of a session need one.
    assert_eq!(
        send(&app, "POST", "/api/account/totp", &[], Some(json!({ "password": NEW }))).await.status,
        StatusCode::UNAUTHORIZED
    );
}

/// Returns over 24 h, 7, 30, 90 days and the whole life, APR and running time: the
/// API's figures equal a recomputation from the stored snapshots (time-weighted, the
/// investment removed).
#[tokio::test]
async fn returns_by_period_equal_a_recomputation_from_the_snapshots() {
    let r = rig().await;
    let engine = r.state.engines["paper"].clone();
    // Ten days outlive the session: a token.
    let t = r.post("/api/tokens", json!({ "label": "test" })).await;
    let bearer = format!("Bearer {}", t.body["token"].as_str().unwrap());
    let get = |path: String| {
        let (app, bearer) = (r.app.clone(), bearer.clone());
        async move { send(&app, "GET", &path, &[("authorization", bearer.as_str())], None).await }
    };
    // Ten daily steps, and an investment midway that the returns must take out.
    for day in 0..10 {
        r.clock.set(Timestamp(T0 + (day + 1) * 86_400_000));
        if day == 4 {
            let add = BTreeMap::from([(a("USDT"), Qty(dec!(500)))]);
            engine.invest(r.bot, &add).unwrap();
        }
        engine.step(r.bot).unwrap();
        // A view every day: the engine's read model of the snapshots grows a day at a
        // time, and the figures below must still equal a recomputation from all of them.
        engine.view(r.bot).unwrap();
    }
    let b = get(format!("/api/bots/{}", r.bot)).await;
    let pnl = &b.body["pnl"];
    let returns = pnl["returns"].as_array().unwrap();
    let names: Vec<&str> = returns.iter().map(|x| x["period"].as_str().unwrap()).collect();
    assert_eq!(names, ["24h", "7d", "30d", "90d", "all"]);
    let snaps = r.state.store.snapshots(r.bot, usize::MAX).unwrap();
    let last = snaps.last().unwrap();
    let dec = |v: &Value| v.as_str().unwrap().parse::<rust_decimal::Decimal>().unwrap();
    for x in returns {
        let span = match x["period"].as_str().unwrap() {
            "24h" => Some(86_400_000),
            "7d" => Some(7 * 86_400_000),
            "30d" => Some(30 * 86_400_000),
            "90d" => Some(90 * 86_400_000),
            _ => None,
        };
        let start = span.and_then(|s| snaps.iter().rposition(|z| z.time.0 <= last.time.0 - s)).unwrap_or(0);
        let mut growth = rust_decimal::Decimal::ONE;
        for w in snaps[start..].windows(2) {
            let flow = w[1].net_invested.0 - w[0].net_invested.0;
            growth *= w[1].value.0 / (w[0].value.0 + flow);
        }
        let twr = ((growth - rust_decimal::Decimal::ONE) * rust_decimal::Decimal::ONE_HUNDRED).round_dp(4);
        assert_eq!(dec(&x["return_percent"]), twr, "{x}");
        assert_eq!(x["from"].as_i64(), Some(snaps[start].time.0), "{x}");
        assert_eq!(
            x["complete"],
            json!(span.is_none() || start > 0 || snaps[0].time.0 <= last.time.0 - span.unwrap()),
            "{x}"
        );
    }
    let running = last.time.0 - snaps[0].time.0;
    assert_eq!(pnl["running_ms"].as_i64(), Some(running));
    let all = dec(&returns[4]["return_percent"]);
    let apr =
        (all * rust_decimal::Decimal::from(365 * 86_400_000i64) / rust_decimal::Decimal::from(running)).round_dp(4);
    assert_eq!(dec(&pnl["apr_percent"]), apr);
    assert_eq!(get("/api/bots".into()).await.body[0]["apr_percent"], pnl["apr_percent"]);
}

fn dec_of(v: &Value) -> rust_decimal::Decimal {
    v.as_str().unwrap_or_else(|| panic!("not a decimal string: {v}")).parse().unwrap()
}

/// The combined view of all bots: its totals are the sums of each bot's own figures
/// (`GET /api/bots/{id}`), a stopped bot's kept apart; a row per bot as the list shows it.
#[tokio::test]
async fn the_combined_view_adds_up_every_bot() {
    let r = rig().await;
    let engine = r.state.engines["paper"].clone();
    let spec = engine.view(r.bot).unwrap().state.spec.clone();
    let two = engine.create("second", spec.clone(), "", dec!(2000)).unwrap();
    engine.step(two).unwrap();
    let three = engine.create("third", spec, "", dec!(500)).unwrap();
    engine.step(three).unwrap();
    r.later(60_000);
    let stop = r.post(&format!("/api/bots/{three}/stop"), json!({ "mode": "to-usdt" })).await;
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.text);

    let ov = r.get("/api/overview").await;
    assert_eq!(ov.status, StatusCode::OK, "{}", ov.text);
    let list = r.get("/api/bots").await;
    assert_eq!(ov.body["bots"], list.body, "a row per bot, as the list shows it");
    let totals = ov.body["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "one quote: {}", ov.text);
    let t = &totals[0];
    assert_eq!(t["quote"], "USDT");
    assert_eq!((t["bots"].as_u64(), t["running"].as_u64(), t["stopped"].as_u64()), (Some(3), Some(2), Some(1)));

    let mut sums = [rust_decimal::Decimal::ZERO; 4];
    for id in [r.bot, two] {
        let b = r.get(&format!("/api/bots/{id}")).await;
        let p = &b.body["pnl"];
        for (s, k) in sums.iter_mut().zip(["value", "net_invested", "hodl_value", "fees_paid"]) {
            *s += dec_of(&p[k]);
        }
    }
    let [value, net, hodl, fees] = sums;
    assert_eq!(dec_of(&t["value"]), value);
    assert_eq!(dec_of(&t["net_invested"]), net);
    assert_eq!(net, dec!(3000));
    assert_eq!(dec_of(&t["hodl_value"]), hodl);
    assert_eq!(dec_of(&t["fees"]), fees);
    assert!(fees > dec!(0), "the first buys paid fees");
    assert_eq!(dec_of(&t["profit"]), value - net);
    assert_eq!(dec_of(&t["profit_percent"]), ((value - net) / net * dec!(100)).round_dp(4));
    assert_eq!(dec_of(&t["excess_vs_hodl_percent"]), ((value - hodl) / hodl * dec!(100)).round_dp(4));
    let s = r.get(&format!("/api/bots/{three}")).await;
    assert_eq!(dec_of(&t["stopped_profit"]), dec_of(&s.body["summary"]["profit"]));
    assert_eq!(dec_of(&t["stopped_fees"]), dec_of(&s.body["summary"]["fees"]));
    // Each row carries the figures the totals add.
    let row = ov.body["bots"].as_array().unwrap().iter().find(|b| b["id"] == two).unwrap().clone();
    let b = r.get(&format!("/api/bots/{two}")).await;
    assert_eq!(row["fees"], b.body["pnl"]["fees_paid"]);
    assert_eq!(row["profit"], b.body["pnl"]["profit"]);
}

/// The runner's log: the lines `ballast run` prints (the same `runlog` words them),
/// every bot's events in recording order with the orders of each rebalance; `after`
/// answers only what is newer; a bad limit is refused by name.
#[tokio::test]
async fn the_runners_log_serves_what_ballast_run_prints() {
    let r = rig().await;
    let log = r.get("/api/log").await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    let entries = log.body["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"created"), "{}", log.text);
    let reb = entries.iter().find(|e| e["kind"] == "rebalance").unwrap_or_else(|| panic!("{}", log.text));
    assert_eq!(reb["line"], format!("bot {:<3} {:<10} {}", r.bot, "rebalance", reb["message"].as_str().unwrap()));
    let orders: Vec<&str> = reb["orders"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    assert_eq!(orders.len(), 2, "{}", log.text);
    for (o, coin) in orders.iter().zip(["BTC", "ETH"]) {
        assert!(o.starts_with(&format!("bot {:<3} trade      buy ", r.bot)), "{o}");
        assert!(o.contains(&format!(" {coin} at ~")) && o.contains("USDT: filled, filled "), "{o}");
    }
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "oldest first: {ids:?}");
    let cursor = log.body["cursor"].as_i64().unwrap();
    assert_eq!(Some(&cursor), ids.last());

    // Paged back: the newest one, then the one before it.
    let one = r.get("/api/log?limit=1").await;
    assert_eq!(one.body["entries"][0]["id"].as_i64(), Some(cursor), "{}", one.text);
    let older = r.get(&format!("/api/log?limit=1&before={cursor}")).await;
    assert_eq!(older.body["entries"][0]["id"].as_i64(), ids.iter().rev().nth(1).copied(), "{}", older.text);
    let none = r.get(&format!("/api/log?after={cursor}")).await;
    assert_eq!(none.body["entries"], json!([]));
    assert_eq!(none.body["cursor"].as_i64(), Some(cursor));
    let p = r.post(&format!("/api/bots/{}/pause", r.bot), json!({})).await;
    assert_eq!(p.status, StatusCode::OK, "{}", p.text);
    let new = r.get(&format!("/api/log?after={cursor}")).await;
    let new_entries = new.body["entries"].as_array().unwrap();
    assert_eq!(new_entries.len(), 1, "{}", new.text);
    assert_eq!(new_entries[0]["kind"], "pause");
    assert!(new_entries[0]["orders"].as_array().unwrap().is_empty());

    let bad = r.get("/api/log?limit=0").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["error"].as_str().unwrap().contains("limit 0"), "{}", bad.text);
}

/// The live chart's extras: each point's drawdown from the peak before it (an
/// investment is not a rise), the range's largest, and a marker per rebalance that sent
/// orders (not one that sent nothing); `after` answers only the new markers.
#[tokio::test]
async fn chart_carries_drawdowns_and_rebalance_markers() {
    let r = rig().await;
    let store = r.state.store.clone();
    let bot = r.bot;
    let first = store.snapshot_span(bot).unwrap().unwrap().0.0;
    let step = 3_600_000;
    // The value rises to 1,200, falls to 900 (-25 %), then 1,000 arrive (no rise).
    let at = |i: i64, v: rust_decimal::Decimal, net: rust_decimal::Decimal| Snapshot {
        value: Notional(v),
        net_invested: Notional(net),
        ..snapshot(bot, first + i * step, 0)
    };
    // A second snapshot of the last time falls 10 % more: each keeps its own drawdown.
    for s in [
        at(1, dec!(1200), dec!(1000)),
        at(2, dec!(900), dec!(1000)),
        at(3, dec!(1900), dec!(2000)),
        at(3, dec!(1710), dec!(2000)),
    ] {
        store.record_snapshot(&s).unwrap();
    }
    r.clock.set(Timestamp(first + 4 * step));
    // One investment that trades (a marker), one that sends nothing (none).
    let i = r.post(&format!("/api/bots/{bot}/invest"), json!({ "usdt": "1" })).await;
    assert_eq!(i.status, StatusCode::OK, "{}", i.text);
    r.later(step);
    let i = r.post(&format!("/api/bots/{bot}/invest"), json!({ "usdt": "100" })).await;
    assert_eq!(i.status, StatusCode::OK, "{}", i.text);
    let path = format!("/api/bots/{bot}/chart");
    let c = r.get(&path).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let dd: Vec<Option<f64>> = c.body["points"].as_array().unwrap().iter().map(|p| p["drawdown"].as_f64()).collect();
    assert_eq!(&dd[..5], &[Some(0.0), Some(0.0), Some(-0.25), Some(-0.25), Some(-0.325)], "{}", c.text);
    assert!(dd.iter().all(|d| d.is_some_and(|d| d <= 0.0)), "{dd:?}");
    assert!(c.body["max_drawdown"].as_f64().is_some_and(|m| m <= -0.25), "{}", c.text);
    let marks = c.body["rebalances"].as_array().unwrap();
    let times: Vec<i64> = marks.iter().map(|m| m["time"].as_i64().unwrap()).collect();
    assert_eq!(times, vec![first, first + 5 * step], "the first buy and the 100 USDT: {}", c.text);
    let since = r.get(&format!("{path}?after={}", first + 4 * step)).await;
    let new: Vec<i64> =
        since.body["rebalances"].as_array().unwrap().iter().map(|m| m["time"].as_i64().unwrap()).collect();
    assert_eq!(new, vec![first + 5 * step], "{}", since.text);
}

async fn put(r: &Rig, path: &str, body: Value) -> Reply {
    let h: Vec<(&str, &str)> = r.auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    send(&r.app, "PUT", path, &h, Some(body)).await
}

async fn delete(r: &Rig, path: &str, body: Value) -> Reply {
    let h: Vec<(&str, &str)> = r.auth.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    send(&r.app, "DELETE", path, &h, Some(body)).await
}

/// Notification settings in the browser: written through `notify::change` (the code of
/// `ballast notify set`) into notify.toml; answers never repeat the Telegram token or a
/// header's value; the chat changes without the token; bad input names the setting and
/// no path; a change needs the CSRF token; no target left turns notifications off.
#[tokio::test]
async fn notification_settings_are_changed_without_reading_secrets_back() {
    use ballast_server::notify::NotifyConfig;
    let r = rig().await;
    let dir = r._dir.path().to_path_buf();
    let off = r.get("/api/notify").await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    assert_eq!(off.body["on"], false);

    let hook = "https://hooks.example.com/services/T000/B000/XXXXSECRETXXXX";
    let w = put(
        &r,
        "/api/notify",
        json!({ "webhook_url": hook, "webhook_headers": { "Authorization": "Bearer hdr-s3cret" }, "kinds": ["rebalance", "error"] }),
    )
    .await;
    assert_eq!(w.status, StatusCode::OK, "{}", w.text);
    assert_eq!(w.body["on"], true);
    assert_eq!(w.body["webhook"]["headers"], json!(["Authorization"]));
    assert_eq!(w.body["kinds"], json!(["rebalance", "error"]));
    let token = "123456:AAHsup3rs3cr3tt0k3n";
    let t = put(&r, "/api/notify", json!({ "telegram_token": token, "telegram_chat": "-1001" })).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    assert_eq!(t.body["telegram"]["chat_id"], "-1001");
    let c = put(&r, "/api/notify", json!({ "telegram_chat": "@mychannel" })).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    let got = r.get("/api/notify").await;
    for reply in [&w, &t, &c, &got] {
        for secret in ["XXXXSECRETXXXX", "hdr-s3cret", token] {
            assert!(!reply.text.contains(secret), "an answer repeats a secret: {}", reply.text);
        }
    }
    let file = NotifyConfig::load(&dir).unwrap().unwrap();
    assert_eq!(file.webhook.as_ref().unwrap().url, hook);
    assert_eq!(file.webhook.as_ref().unwrap().headers["Authorization"], "Bearer hdr-s3cret");
    let tg = file.telegram.as_ref().unwrap();
    assert_eq!((tg.token.as_str(), tg.chat_id.as_str()), (token, "@mychannel"), "the token is kept");
    assert_eq!(file.kinds, vec!["rebalance", "error"]);

    let bad = put(&r, "/api/notify", json!({ "webhook_url": "ftp://example.com/x" })).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);
    assert!(bad.body["error"].as_str().unwrap().contains("webhook.url"), "{}", bad.text);
    assert!(!bad.text.contains(dir.to_str().unwrap()), "no path of the server: {}", bad.text);
    let empty = put(&r, "/api/notify", json!({})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    let unknown = put(&r, "/api/notify", json!({ "webhook": "x" })).await;
    assert!(
        unknown.status.is_client_error() && unknown.body["error"].as_str().unwrap().contains("webhook"),
        "{}",
        unknown.text
    );
    let cookie_only = [("cookie", r.auth[0].1.as_str())];
    let no_csrf = send(&r.app, "PUT", "/api/notify", &cookie_only, Some(json!({ "remove_webhook": true }))).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    assert!(NotifyConfig::load(&dir).unwrap().unwrap().webhook.is_some(), "refused: nothing changed");

    let gone = put(&r, "/api/notify", json!({ "remove_webhook": true, "remove_telegram": true })).await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
    assert_eq!(gone.body["on"], false);
    assert!(NotifyConfig::load(&dir).unwrap().is_none(), "no target left: notifications off");
}

/// Exchange keys in the browser are write-only: stored, replaced and deleted through
/// `KeyStore::put` / `forget` (the code of `ballast keys add` / `remove`) in the
/// encrypted key file; no answer ever holds the secret or the whole API key; a wrong
/// passphrase changes nothing; an unknown venue is named; changes need the CSRF token.
#[tokio::test]
async fn exchange_keys_are_write_only() {
    use ballast_keys::{KeyStore, Passphrase};
    let r = rig().await;
    let dir = r._dir.path().to_path_buf();
    let path = KeyStore::path_in(&dir);
    let pass = "correct passphrase";
    let (key, secret) = ("K3yAbCdEfGhIjKlMnOpQrStUv", "s3cr3t-ZyXwVuTsRqPoNmLk");
    let none = r.get("/api/keys").await;
    assert_eq!(none.body, json!({ "file": false, "venues": ["binance", "gate"] }));

    let mut replies = Vec::new();
    let first = put(&r, "/api/keys/binance", json!({ "api_key": key, "secret": secret, "passphrase": pass })).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["replaced"], false);
    assert_eq!(first.body["api_key"], ballast_keys::redact(key));
    let stored = KeyStore::open(&path, &Passphrase::new(pass).unwrap()).unwrap();
    let c = stored.get("binance").unwrap();
    assert_eq!((c.api_key(), c.secret().expose()), (key, secret), "what `ballast keys` reads");
    replies.push(first);

    let (key2, secret2) = ("N3wK3yAbCdEfGhIjKlMnOpQr", "n3w-s3cr3t-QwErTyUiOpAsDf");
    let wrong = put(&r, "/api/keys/binance", json!({ "api_key": key2, "secret": secret2, "passphrase": "nope" })).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN, "{}", wrong.text);
    assert!(wrong.body["error"].as_str().unwrap().contains("passphrase"), "{}", wrong.text);
    let again = KeyStore::open(&path, &Passphrase::new(pass).unwrap()).unwrap();
    assert_eq!(again.get("binance").unwrap().api_key(), key, "a wrong passphrase changes nothing");
    replies.push(wrong);
    let second = put(&r, "/api/keys/binance", json!({ "api_key": key2, "secret": secret2, "passphrase": pass })).await;
    assert_eq!(second.body["replaced"], true, "{}", second.text);
    replies.push(second);
    let gate = put(&r, "/api/keys/gate", json!({ "api_key": key, "secret": secret, "passphrase": pass })).await;
    assert_eq!(gate.status, StatusCode::OK, "{}", gate.text);
    replies.push(gate);
    let list = r.post("/api/keys/list", json!({ "passphrase": pass })).await;
    assert_eq!(
        list.body["keys"],
        json!([{ "venue": "binance", "api_key": ballast_keys::redact(key2) }, { "venue": "gate", "api_key": ballast_keys::redact(key) }]),
        "{}",
        list.text
    );
    replies.push(list);
    replies.push(r.get("/api/keys").await);

    let bad = put(&r, "/api/keys/kraken", json!({ "api_key": key, "secret": secret, "passphrase": pass })).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.body["error"].as_str().unwrap().contains("kraken"), "{}", bad.text);
    let empty = put(&r, "/api/keys/gate", json!({ "api_key": key, "secret": "", "passphrase": pass })).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST, "{}", empty.text);
    assert!(!empty.text.contains(dir.to_str().unwrap()), "no path of the server: {}", empty.text);
    replies.push(empty);
    let cookie_only = [("cookie", r.auth[0].1.as_str())];
    let no_csrf = send(&r.app, "DELETE", "/api/keys/gate", &cookie_only, Some(json!({ "passphrase": pass }))).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);

    let del = delete(&r, "/api/keys/gate", json!({ "passphrase": pass })).await;
    assert_eq!(del.status, StatusCode::OK, "{}", del.text);
    assert_eq!(del.body["keys"].as_array().unwrap().len(), 1);
    replies.push(del);
    let twice = delete(&r, "/api/keys/gate", json!({ "passphrase": pass })).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND, "{}", twice.text);
    let left = KeyStore::open(&path, &Passphrase::new(pass).unwrap()).unwrap();
    assert!(left.get("gate").is_none() && left.get("binance").is_some());
    for reply in &replies {
        for s in [key, secret, key2, secret2, pass] {
            assert!(!reply.text.contains(s), "an answer holds a secret: {}", reply.text);
        }
    }
}

/// Profit bars: per day, ISO week and month, the API answers what `ballast bot profit`
/// prints (the one function both call), and each bucket equals a recomputation from
/// the stored snapshots: the value's change from the last snapshot before the bucket,
/// less the money moved in or out. Bad `by` and `limit` are refused by name.
#[tokio::test]
async fn profit_bars_equal_the_cli_and_a_recomputation_from_the_snapshots() {
    const DAY: i64 = 86_400_000;
    let r = rig().await;
    let store = r.state.store.clone();
    let bot = r.bot;
    let first = store.snapshot_span(bot).unwrap().unwrap().0.0;
    // Forty days of six-hourly snapshots: the value swings, 500 arrive on the ninth day
    // and 300 leave on the twentieth.
    for i in 1..160i64 {
        let mut s = snapshot(bot, first + i * 6 * 3_600_000, (i * 37) % 101 - 50);
        if i >= 33 {
            s.net_invested = Notional(s.net_invested.0 + dec!(500));
            s.value = Notional(s.value.0 + dec!(500));
        }
        if i >= 77 {
            s.net_invested = Notional(s.net_invested.0 - dec!(300));
            s.value = Notional(s.value.0 - dec!(300));
        }
        store.record_snapshot(&s).unwrap();
    }
    let snaps = store.snapshots(bot, usize::MAX).unwrap();
    let path = format!("/api/bots/{bot}/profit");
    for (by, key) in
        [("day", (|d: i64| d) as fn(i64) -> i64), ("week", |d: i64| (d + 3).div_euclid(7)), ("month", |_| 0)]
    {
        let a = r.get(&format!("{path}?by={by}&limit=1000")).await;
        assert_eq!(a.status, StatusCode::OK, "{}", a.text);
        let cli = ballast_server::api::profit_json(store.as_ref(), bot, by.parse().unwrap(), 1000).unwrap();
        assert_eq!(a.body, cli, "the API answers what the CLI prints");
        assert_eq!((a.body["by"].as_str(), a.body["quote"].as_str()), (Some(by), Some("USDT")));
        let buckets = a.body["buckets"].as_array().unwrap();
        if by == "month" {
            // 2023-11-14 plus forty days: November and December.
            assert_eq!(buckets.len(), 2, "{}", a.text);
            continue;
        }
        // The recomputation: snapshots grouped by day (or ISO week), each group measured
        // from the previous group's last snapshot (the first snapshot for the first).
        let mut groups: Vec<(i64, Vec<&Snapshot>)> = Vec::new();
        for s in &snaps {
            let k = key(s.time.0.div_euclid(DAY));
            match groups.last_mut() {
                Some((g, v)) if *g == k => v.push(s),
                _ => groups.push((k, vec![s])),
            }
        }
        assert_eq!(buckets.len(), groups.len());
        assert_eq!(a.body["total"].as_u64(), Some(groups.len() as u64));
        let mut base = &snaps[0];
        for ((_, g), b) in groups.iter().zip(buckets) {
            let last = *g.last().unwrap();
            let profit = (last.value.0 - base.value.0) - (last.net_invested.0 - base.net_invested.0);
            assert_eq!(dec_of(&b["profit"]), profit, "{b}");
            assert_eq!((b["from"].as_i64(), b["to"].as_i64()), (Some(base.time.0), Some(last.time.0)), "{b}");
            let start = b["start"].as_i64().unwrap();
            assert!(start <= g[0].time.0 && start % DAY == 0, "{b}");
            if by == "week" {
                assert_eq!((start / DAY + 3).rem_euclid(7), 0, "a Monday: {b}");
            }
            base = last;
        }
        let deposit = buckets.iter().find(|b| dec_of(&b["invested"]) == dec!(500)).unwrap();
        assert!(dec_of(&deposit["profit"]).abs() < dec!(500), "the deposit is not profit: {deposit}");
        let total: rust_decimal::Decimal = buckets.iter().map(|b| dec_of(&b["profit"])).sum();
        let (f, l) = (&snaps[0], snaps.last().unwrap());
        assert_eq!(total, (l.value.0 - l.net_invested.0) - (f.value.0 - f.net_invested.0));
    }
    // The newest `limit`, oldest first; thirty days by default.
    let all = r.get(&format!("{path}?limit=1000")).await.body["buckets"].as_array().unwrap().clone();
    let three = r.get(&format!("{path}?by=day&limit=3")).await;
    assert_eq!(three.body["buckets"].as_array().unwrap()[..], all[all.len() - 3..]);
    assert_eq!(r.get(&path).await.body["buckets"].as_array().unwrap().len(), 30);
    for (q, culprit) in [("by=hour", "hour"), ("limit=0", "limit"), ("limit=1001", "limit"), ("limit=x", "limit")] {
        let bad = r.get(&format!("{path}?{q}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{q}");
        assert!(bad.body["error"].as_str().unwrap().contains(culprit), "{q}: {}", bad.text);
    }
    assert_eq!(r.get("/api/bots/999/profit").await.status, StatusCode::NOT_FOUND);
    let anon = send(&r.app, "GET", &path, &[], None).await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    // A bot with one snapshot has nothing to show yet, and says so without failing.
    let engine = r.state.engines["paper"].clone();
    let young = engine.create("young", engine.view(bot).unwrap().state.spec.clone(), "", dec!(100)).unwrap();
    let y = r.get(&format!("/api/bots/{young}/profit")).await;
    assert_eq!(y.status, StatusCode::OK, "{}", y.text);
    assert_eq!((y.body["total"].as_u64(), y.body["buckets"].as_array().map(Vec::len)), (Some(0), Some(0)));
}
