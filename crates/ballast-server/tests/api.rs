//! The router end to end over the paper venue and an in-memory store, without sockets.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ballast_core::guards::Guards;
use ballast_core::planner::RebalanceTo;
use ballast_core::trigger::{Threshold, Trigger};
use ballast_core::weighting::{self, Method};
use ballast_core::{Asset, Bps, DriftKind, Price, Qty, Timestamp};
use ballast_engine::{BotSpec, Engine};
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_exchange::{Clock, ManualClock};
use ballast_server::{AppState, Auth, PUBLIC, ROUTES, router, totp};
use ballast_store::Store;
use ballast_store::sqlite::SqliteStore;
use http_body_util::BodyExt;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tower::ServiceExt;

const PASSWORD: &str = "correct horse battery";

struct Rig {
    app: Router,
    state: Arc<AppState>,
    /// The one-time setup token.
    token: String,
    clock: Arc<ManualClock>,
    bot: i64,
    secure: bool,
    _dir: tempfile::TempDir,
}

fn a(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

fn rig() -> Rig {
    rig_with(false)
}

fn rig_with(secure: bool) -> Rig {
    rig_opts(secure, Vec::new(), 1024)
}

/// `m_cost`: argon2's memory cost in KiB (the tests of concurrent logins use a
/// realistic one, so that a check takes long enough for attempts to overlap).
fn rig_opts(secure: bool, proxies: Vec<std::net::IpAddr>, m_cost: u32) -> Rig {
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let prices = Arc::new(FixedPrices::new());
    prices.set(&a("BTC"), &a("USDT"), Price(dec!(50000)));
    prices.set(&a("ETH"), &a("USDT"), Price(dec!(3000)));
    let paper = Arc::new(PaperExchange::in_memory(PaperConfig::default(), prices, clock.clone()).unwrap());
    paper.deposit(&a("USDT"), Qty(dec!(1000))).unwrap();
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
    let auth = Auth::open(&dir.path().join("admin.json"))
        .unwrap()
        .with_hash_cost(m_cost, 1)
        .with_secure_cookies(secure)
        .with_trusted_proxies(proxies);
    let mut engines = BTreeMap::new();
    engines.insert("paper".to_string(), engine);
    let state = Arc::new(AppState::new(store, engines, auth, clock.clone() as Arc<dyn Clock>));
    let token = state.auth.setup_token().unwrap();
    Rig { app: router(state.clone()), state, token, clock, bot, secure, _dir: dir }
}

struct Reply {
    status: StatusCode,
    headers: header::HeaderMap,
    body: Value,
    text: String,
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
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, headers, body, text }
}

fn secret_of(uri: &str) -> Vec<u8> {
    let s = uri.split("secret=").nth(1).unwrap().split('&').next().unwrap();
    totp::base32_decode(s).unwrap()
}

/// Setup, then login; returns (secret, cookie header value, csrf token).
async fn login(r: &Rig) -> (Vec<u8>, String, String) {
    let s =
        send(&r.app, "POST", "/api/setup", &[], Some(json!({ "password": PASSWORD, "setup_token": r.token }))).await;
    assert_eq!(s.status, StatusCode::OK, "{}", s.text);
    let uri = s.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/ballast:admin?secret="));
    assert!(uri.ends_with("&issuer=ballast"));
    let secret = secret_of(uri);
    let code = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    // Setup is finished only once a code of the authenticator checks (issue 14).
    let early = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    let prev = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64 - 30);
    let c =
        send(&r.app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": r.token, "code": prev }))).await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text);
    assert!(c.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().starts_with("ballast_session="));
    assert!(c.body["csrf_token"].is_string());
    let l = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(l.status, StatusCode::OK, "{}", l.text);
    let set_cookie = l.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict") && set_cookie.contains("Path=/"));
    assert_eq!(set_cookie.contains("; Secure"), r.secure);
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let csrf = l.body["csrf_token"].as_str().unwrap().to_owned();
    (secret, cookie, csrf)
}

#[tokio::test]
async fn full_flow() {
    let r = rig();
    let h = send(&r.app, "GET", "/api/health", &[], None).await;
    assert_eq!(h.status, StatusCode::OK);
    let (secret, cookie, csrf) = login(&r).await;
    let ck = [("cookie", cookie.as_str())];

    // Setup twice is refused.
    let again = send(
        &r.app,
        "POST",
        "/api/setup",
        &[],
        Some(json!({ "password": "another password", "setup_token": r.token })),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // List and view.
    let bots = send(&r.app, "GET", "/api/bots", &ck, None).await;
    assert_eq!(bots.status, StatusCode::OK, "{}", bots.text);
    let list = bots.body.as_array().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "demo");
    assert_eq!(list[0]["venue"], "paper");
    assert_eq!(list[0]["status"], "active");
    assert!(list[0]["value"].is_string(), "{}", bots.text);
    let path = format!("/api/bots/{}", r.bot);
    let one = send(&r.app, "GET", &path, &ck, None).await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.text);
    let targets: Vec<&str> =
        one.body["weights"].as_array().unwrap().iter().filter_map(|w| w["target"].as_str()).collect();
    assert_eq!(targets.iter().filter(|t| t.parse::<f64>().unwrap() == 0.5).count(), 2, "{}", one.text);
    let snaps = send(&r.app, "GET", &format!("{path}/snapshots"), &ck, None).await;
    assert_eq!(snaps.status, StatusCode::OK);
    assert!(!snaps.body.as_array().unwrap().is_empty());
    assert!(snaps.body[0]["weights"]["BTC"].is_string(), "{}", snaps.text);
    let events = send(&r.app, "GET", &format!("{path}/events"), &ck, None).await;
    assert_eq!(events.status, StatusCode::OK);
    assert!(!events.body.as_array().unwrap().is_empty());
    let orders = send(&r.app, "GET", &format!("{path}/orders"), &ck, None).await;
    assert_eq!(orders.status, StatusCode::OK);
    assert_eq!(orders.body.as_array().unwrap().len(), 2, "{}", orders.text);
    assert_eq!(orders.body[0]["state"], "filled");
    let missing = send(&r.app, "GET", "/api/bots/999", &ck, None).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Pause: 403 without the CSRF header, 200 with it.
    let no_csrf = send(&r.app, "POST", &format!("{path}/pause"), &ck, None).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let bad_csrf = send(&r.app, "POST", &format!("{path}/pause"), &[ck[0], ("x-csrf-token", "nope")], None).await;
    assert_eq!(bad_csrf.status, StatusCode::FORBIDDEN);
    let with = [ck[0], ("x-csrf-token", csrf.as_str())];
    let paused = send(&r.app, "POST", &format!("{path}/pause"), &with, None).await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    let twice = send(&r.app, "POST", &format!("{path}/pause"), &with, None).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // A bearer token works without cookies and without CSRF.
    let t = send(&r.app, "POST", "/api/tokens", &with, None).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let token = t.body["token"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let b = [("authorization", bearer.as_str())];
    let resumed = send(&r.app, "POST", &format!("{path}/resume"), &b, None).await;
    assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.text);
    let wrong = send(&r.app, "GET", "/api/bots", &[("authorization", "Bearer blt_nope")], None).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // Invest and stop through the token.
    r.clock.set(Timestamp(r.clock.now().0 + 60_000));
    let bad_invest = send(&r.app, "POST", &format!("{path}/invest"), &b, Some(json!({}))).await;
    assert_eq!(bad_invest.status, StatusCode::BAD_REQUEST);
    let too_much = send(&r.app, "POST", &format!("{path}/invest"), &b, Some(json!({ "usdt": "5000" }))).await;
    assert_eq!(too_much.status, StatusCode::CONFLICT, "{}", too_much.text);

    // Metrics.
    let m = send(&r.app, "GET", "/metrics", &b, None).await;
    assert_eq!(m.status, StatusCode::OK);
    let bot_label = format!("bot=\"{}\",name=\"demo\"", r.bot);
    assert!(m.text.contains("ballast_bots{status=\"active\"} 1"), "{}", m.text);
    assert!(m.text.contains(&format!("ballast_bot_value{{{bot_label}}}")), "{}", m.text);
    assert!(m.text.contains(&format!("ballast_rebalances_total{{{bot_label}}} 0")), "{}", m.text);
    assert!(m.text.contains(&format!("ballast_orders_total{{{bot_label},state=\"filled\"}} 2")), "{}", m.text);

    let stop = send(&r.app, "POST", &format!("{path}/stop"), &b, Some(json!({ "mode": "to-usdt" }))).await;
    assert_eq!(stop.status, StatusCode::OK, "{}", stop.text);
    let after = send(&r.app, "GET", "/api/bots", &b, None).await;
    assert_eq!(after.body[0]["status"], "stopped");

    // Logout ends the session.
    let out = send(&r.app, "POST", "/api/logout", &with, None).await;
    assert_eq!(out.status, StatusCode::OK);
    let gone = send(&r.app, "GET", "/api/bots", &ck, None).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED);
    assert!(gone.body["error"].is_string());

    // A code works once: refused a second time in its step, and refused a step later
    // as "the previous step", which an unused code of that step would still pass.
    r.clock.set(Timestamp(r.clock.now().0 + 30_000));
    let code = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    let ok = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let again = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "the same code twice is refused");
    r.clock.set(Timestamp(r.clock.now().0 + 30_000));
    let late = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(late.status, StatusCode::UNAUTHORIZED, "a used code is refused as the previous step too");
    let next = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    let ok = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": next }))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn previous_step_code_is_accepted_once() {
    let r = rig();
    let s =
        send(&r.app, "POST", "/api/setup", &[], Some(json!({ "password": PASSWORD, "setup_token": r.token }))).await;
    assert!(s.body["qr_svg"].as_str().unwrap().starts_with("<?xml"), "{}", s.text);
    assert!(s.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let secret = secret_of(s.body["otpauth_uri"].as_str().unwrap());
    let prev = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64 - 30);
    let c =
        send(&r.app, "POST", "/api/setup/confirm", &[], Some(json!({ "setup_token": r.token, "code": prev }))).await;
    assert_eq!(c.status, StatusCode::OK, "the previous step's code is accepted: {}", c.text);
    let again = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": prev }))).await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "once: {}", again.text);
    let now = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    let ok = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": now }))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

#[tokio::test]
async fn pages_session_tokens_metrics_and_stream() {
    let r = rig();
    // The page shell is public, holds no data and forbids framing and foreign scripts.
    for (p, ct) in [("/", "text/html"), ("/app.js", "text/javascript"), ("/app.css", "text/css")] {
        let page = send(&r.app, "GET", p, &[], None).await;
        assert_eq!(page.status, StatusCode::OK, "{p}");
        assert!(page.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with(ct), "{p}");
        let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{p}: {csp}");
        for remote in ["src=\"http", "href=\"http", "url(http", "fetch(\"http", "import(\"http", "@import"] {
            assert!(!page.text.contains(remote), "{p} loads nothing from elsewhere ({remote})");
        }
    }
    let (_, cookie, csrf) = login(&r).await;
    let ck = [("cookie", cookie.as_str())];
    let with = [ck[0], ("x-csrf-token", csrf.as_str())];

    // A reloaded page gets its CSRF token back.
    let sess = send(&r.app, "GET", "/api/session", &ck, None).await;
    assert_eq!(sess.status, StatusCode::OK);
    assert_eq!(sess.body["csrf_token"], csrf.as_str());

    // Tokens: create with a label, list (never the token), revoke, and it stops working.
    let t = send(&r.app, "POST", "/api/tokens", &with, Some(json!({ "label": "grafana" }))).await;
    assert_eq!(t.status, StatusCode::OK, "{}", t.text);
    let (id, token) = (t.body["id"].as_str().unwrap().to_owned(), t.body["token"].as_str().unwrap().to_owned());
    let list = send(&r.app, "GET", "/api/tokens", &ck, None).await;
    assert_eq!(list.body[0]["label"], "grafana");
    assert_eq!(list.body[0]["id"], id.as_str());
    assert!(!list.text.contains(&token));
    let bearer = format!("Bearer {token}");
    let b = [("authorization", bearer.as_str())];
    assert_eq!(send(&r.app, "GET", "/api/bots", &b, None).await.status, StatusCode::OK);
    let no_csrf = send(&r.app, "DELETE", &format!("/api/tokens/{id}"), &ck, None).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let revoked = send(&r.app, "DELETE", &format!("/api/tokens/{id}"), &with, None).await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(send(&r.app, "GET", "/api/bots", &b, None).await.status, StatusCode::UNAUTHORIZED);
    let twice = send(&r.app, "DELETE", &format!("/api/tokens/{id}"), &with, None).await;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);

    // Without a workshop the configuration routes say so.
    let cat = send(&r.app, "GET", "/api/catalog", &ck, None).await;
    assert_eq!(cat.status, StatusCode::SERVICE_UNAVAILABLE);

    // The live stream receives the change made through the API.
    let req = Request::builder().uri("/api/stream").header("cookie", cookie.as_str()).body(Body::empty()).unwrap();
    let resp = r.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/event-stream"));
    let mut body = resp.into_body();
    let path = format!("/api/bots/{}/pause", r.bot);
    assert_eq!(send(&r.app, "POST", &path, &with, None).await.status, StatusCode::OK);
    let frame = tokio::time::timeout(std::time::Duration::from_secs(30), body.frame()).await.unwrap().unwrap().unwrap();
    let chunk = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(chunk.contains("event: bot"), "{chunk}");
    assert!(chunk.contains(&format!("\"bot\":{}", r.bot)) && chunk.contains("\"kind\":\"pause\""), "{chunk}");

    // Metrics carry request counts and latency by route pattern, and error counts.
    let m = send(&r.app, "GET", "/metrics", &ck, None).await;
    assert!(
        m.text.contains("ballast_http_requests_total{method=\"GET\",route=\"/api/bots\",status=\"2xx\"} 1"),
        "{}",
        m.text
    );
    assert!(m.text.contains("ballast_http_requests_total{method=\"GET\",route=\"/api/bots\",status=\"4xx\"} 1"));
    assert!(m.text.contains("ballast_http_request_duration_seconds_count{method=\"POST\",route=\"/api/login\"} 2"));
    assert!(m.text.contains(&format!("ballast_bot_errors_total{{bot=\"{}\",name=\"demo\",kind=\"error\"}} 0", r.bot)));
}

#[tokio::test]
async fn wrong_credentials_are_401_then_429() {
    let r = rig();
    let (secret, _, _) = login(&r).await;
    let code = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    let old = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64 - 90);
    let wrong_pw =
        send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": "wrong password", "code": code }))).await;
    assert_eq!(wrong_pw.status, StatusCode::UNAUTHORIZED);
    assert!(wrong_pw.body["error"].is_string());
    assert!(wrong_pw.headers.get(header::SET_COOKIE).is_none());
    let wrong_code = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": old }))).await;
    assert_eq!(wrong_code.status, StatusCode::UNAUTHORIZED);
    for _ in 0..3 {
        let f = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": "000000x" }))).await;
        assert_eq!(f.status, StatusCode::UNAUTHORIZED);
    }
    // The 6th attempt within the minute is refused, even with the right credentials.
    let sixth = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(sixth.status, StatusCode::TOO_MANY_REQUESTS);
    // A minute later it is allowed again.
    r.clock.set(Timestamp(r.clock.now().0 + 61_000));
    let code = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64);
    let ok = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
}

/// A login from `peer` (as the server's connect info) with `X-Forwarded-For: xff`.
async fn login_from(app: &Router, peer: &str, xff: Option<&str>, password: &str) -> StatusCode {
    let mut b = Request::builder().method("POST").uri("/api/login").header(header::CONTENT_TYPE, "application/json");
    if let Some(x) = xff {
        b = b.header("x-forwarded-for", x);
    }
    let mut req = b.body(Body::from(json!({ "password": password, "code": "123456" }).to_string())).unwrap();
    let addr: std::net::SocketAddr = format!("{peer}:40000").parse().unwrap();
    req.extensions_mut().insert(axum::extract::ConnectInfo(addr));
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn setup_requires_the_one_time_token() {
    let r = rig();
    let none = send(&r.app, "POST", "/api/setup", &[], Some(json!({ "password": PASSWORD }))).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED, "{}", none.text);
    assert!(none.body["error"].as_str().unwrap().contains("setup token"), "{}", none.text);
    let wrong =
        send(&r.app, "POST", "/api/setup", &[], Some(json!({ "password": PASSWORD, "setup_token": "0".repeat(32) })))
            .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    assert!(!send(&r.app, "GET", "/api/health", &[], None).await.body["setup_done"].as_bool().unwrap());
    assert_eq!(r.state.auth.password_checks(), 0);
    login(&r).await;
    assert!(r.state.auth.setup_token().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn parallel_wrong_logins_check_the_password_at_most_the_limit() {
    let r = rig_opts(false, Vec::new(), 16 * 1024);
    login(&r).await;
    let before = r.state.auth.password_checks();
    let tasks: Vec<_> = (0..60)
        .map(|_| {
            let app = r.app.clone();
            tokio::spawn(async move {
                send(&app, "POST", "/api/login", &[], Some(json!({ "password": "wrong password", "code": "123456" })))
                    .await
                    .status
            })
        })
        .collect();
    let mut denied = 0;
    for t in tasks {
        match t.await.unwrap() {
            StatusCode::UNAUTHORIZED => denied += 1,
            StatusCode::TOO_MANY_REQUESTS => {}
            s => panic!("unexpected {s}"),
        }
    }
    let checks = r.state.auth.password_checks() - before;
    assert!(denied <= ballast_server::auth::MAX_FAILURES, "{denied} refusals after a password check");
    assert!(checks <= ballast_server::auth::MAX_FAILURES as u64, "{checks} password checks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_checks_are_bounded_across_clients() {
    let proxy: std::net::IpAddr = "10.0.0.1".parse().unwrap();
    let r = rig_opts(false, vec![proxy], 16 * 1024);
    login(&r).await;
    // 150 distinct clients behind the proxy, at once.
    let tasks: Vec<_> = (0..150)
        .map(|i| {
            let app = r.app.clone();
            tokio::spawn(async move {
                let xff = format!("203.0.113.{}, 198.51.100.{}", i % 250, i % 200);
                login_from(&app, "10.0.0.1", Some(&xff), "wrong password").await
            })
        })
        .collect();
    for t in tasks {
        let s = t.await.unwrap();
        assert!(s == StatusCode::UNAUTHORIZED || s == StatusCode::TOO_MANY_REQUESTS, "{s}");
    }
    let peak = r.state.auth.peak_verifications();
    assert!((1..=ballast_server::auth::MAX_CONCURRENT_VERIFICATIONS).contains(&peak), "peak {peak}");
}

#[tokio::test]
async fn the_limit_is_keyed_on_the_client_behind_a_trusted_proxy_only() {
    let r = rig_opts(false, vec!["10.0.0.1".parse().unwrap()], 1024);
    login(&r).await;
    let w = "wrong password";
    for _ in 0..5 {
        assert_eq!(login_from(&r.app, "10.0.0.1", Some("198.51.100.7"), w).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&r.app, "10.0.0.1", Some("198.51.100.7"), w).await, StatusCode::TOO_MANY_REQUESTS);
    // What the client wrote left of the proxy's entry is not believed.
    assert_eq!(login_from(&r.app, "10.0.0.1", Some("1.1.1.1, 198.51.100.7"), w).await, StatusCode::TOO_MANY_REQUESTS);
    // Another client behind the same proxy has its own count.
    assert_eq!(login_from(&r.app, "10.0.0.1", Some("198.51.100.8"), w).await, StatusCode::UNAUTHORIZED);
    // An untrusted peer's X-Forwarded-For is ignored: its address is the key.
    for i in 0..5 {
        let xff = format!("192.0.2.{i}");
        assert_eq!(login_from(&r.app, "10.0.0.2", Some(&xff), w).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&r.app, "10.0.0.2", Some("192.0.2.99"), w).await, StatusCode::TOO_MANY_REQUESTS);
    // A trusted proxy whose header names nothing valid is one shared bucket.
    for _ in 0..5 {
        assert_eq!(login_from(&r.app, "10.0.0.1", Some("garbage"), w).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(login_from(&r.app, "10.0.0.1", None, w).await, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn every_private_route_is_401_without_credentials() {
    let r = rig();
    login(&r).await;
    let mut checked = 0;
    for &(m, p) in ROUTES {
        if PUBLIC.contains(&(m, p)) {
            continue;
        }
        let path = p.replace("{id}", &r.bot.to_string());
        let res = send(&r.app, m, &path, &[], Some(json!({}))).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{m} {p}");
        assert!(res.body["error"].is_string(), "{m} {p}");
        let res = send(&r.app, m, &path, &[("cookie", "ballast_session=forged")], None).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{m} {p} with a forged session");
        checked += 1;
    }
    assert_eq!(checked, ROUTES.len() - PUBLIC.len());
    // Public ones answer without credentials.
    let h = send(&r.app, "GET", "/api/health", &[], None).await;
    assert_eq!(h.status, StatusCode::OK);
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let r = rig();
    let doc: Value = serde_json::from_str(ballast_server::OPENAPI_JSON).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    for &(m, p) in ROUTES {
        assert!(doc["paths"][p][m.to_lowercase()].is_object(), "{m} {p} missing from openapi.json");
    }
    let (_, cookie, _) = login(&r).await;
    let served = send(&r.app, "GET", "/api/openapi.json", &[("cookie", cookie.as_str())], None).await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(served.body, doc);
}

#[tokio::test]
async fn secure_flag_short_password_and_persistence() {
    let r = rig_with(true);
    let short =
        send(&r.app, "POST", "/api/setup", &[], Some(json!({ "password": "short", "setup_token": r.token }))).await;
    assert_eq!(short.status, StatusCode::BAD_REQUEST);
    login(&r).await;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("admin.json");
    let auth = Auth::open(&path).unwrap().with_hash_cost(1024, 1);
    assert!(!auth.is_set_up());
    let uri = auth.setup(PASSWORD, &auth.setup_token().unwrap()).unwrap();
    let (id, token) = auth.create_token("ci", 1).unwrap();
    let now = 1_700_000_000_000;
    let code = totp::code_at(&secret_of(&uri), (now / 1000) as u64);
    assert!(auth.login("local", PASSWORD, &code, now).is_err(), "setup is not finished before a code checks");
    let prev = totp::code_at(&secret_of(&uri), (now / 1000) as u64 - 30);
    auth.confirm_setup(&auth.setup_token().unwrap(), &prev, now).unwrap();
    let session = auth.login("local", PASSWORD, &code, now).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(!text.contains(&token), "only a hash of the token is stored");
    assert!(!text.contains(&session.id), "only a hash of the session id is stored");
    assert!(!text.contains(PASSWORD));
    // Written through ballast_fs::write_private: 0600, and no temporary file left.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, vec![std::ffi::OsString::from("admin.json")]);
    // A restart keeps the admin, the tokens and the sessions.
    let again = Auth::open(&path).unwrap();
    assert!(again.is_set_up());
    assert!(again.check_token(&token));
    assert!(!again.check_token("blt_other"));
    assert_eq!(again.session_csrf(&session.id, now + 1000), Some(session.csrf.clone()));
    assert_eq!(again.session_csrf(&session.id, now + ballast_server::auth::SESSION_TTL_MS + 1), None);
    assert!(again.login("local", PASSWORD, &code, now).is_err(), "the code was used before the restart");
    assert!(again.setup_token().is_none(), "no setup token once set up");
    assert!(again.setup(PASSWORD, "").is_err());
    assert!(again.revoke_token(&id).unwrap());
    assert!(!Auth::open(&path).unwrap().check_token(&token));
    again.logout(&session.id).unwrap();
    assert_eq!(Auth::open(&path).unwrap().session_csrf(&session.id, now + 1000), None);
}

#[tokio::test]
async fn malformed_bodies_answer_json_errors() {
    let r = rig();
    let cases: [(&str, Option<&str>, StatusCode, &str); 4] = [
        ("not json", Some("application/json"), StatusCode::BAD_REQUEST, "parse"),
        (r#"{"password": 7}"#, Some("application/json"), StatusCode::UNPROCESSABLE_ENTITY, "password"),
        ("{}", Some("application/json"), StatusCode::UNPROCESSABLE_ENTITY, "missing field `password`"),
        (r#"{"password": "long enough"}"#, None, StatusCode::UNSUPPORTED_MEDIA_TYPE, "Content-Type"),
    ];
    for (body, content_type, status, says) in cases {
        let mut b = Request::builder().method("POST").uri("/api/setup");
        if let Some(ct) = content_type {
            b = b.header(header::CONTENT_TYPE, ct);
        }
        let resp = r.app.clone().oneshot(b.body(Body::from(body)).unwrap()).await.unwrap();
        assert_eq!(resp.status(), status, "{body}");
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{body}: not JSON: {bytes:?}"));
        let error = v["error"].as_str().unwrap_or_else(|| panic!("{body}: no error in {v}"));
        assert!(error.contains(says), "{body}: {error}");
    }
    assert!(!send(&r.app, "GET", "/api/health", &[], None).await.body["setup_done"].as_bool().unwrap());
}

#[tokio::test]
async fn amounts_beyond_the_limit_are_400_naming_the_field() {
    let r = rig();
    let (_, cookie, csrf) = login(&r).await;
    let b = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let path = format!("/api/bots/{}/invest", r.bot);
    let max = "79228162514264337593543950335";
    let cases = [
        (json!({ "usdt": max }), "usdt"),
        (json!({ "usdt": "-1" }), "usdt"),
        (json!({ "usdt": "1e40" }), "usdt"),
        (json!({ "coins": { "BTC": max } }), "coins.BTC"),
    ];
    for (body, field) in cases {
        let reply = send(&r.app, "POST", &path, &b, Some(body.clone())).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}: {}", reply.text);
        let e = reply.body["error"].as_str().unwrap();
        assert!(e.contains(field), "{body}: {e}");
    }
}

/// A workshop whose every method panics, as a bug would.
struct Panicky;

impl ballast_server::Workshop for Panicky {
    fn catalog(&self) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn preview(&self, _: &Value) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn create(&self, _: &Value) -> Result<ballast_store::BotId, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn config(&self, _: ballast_store::BotId) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn edit(&self, _: ballast_store::BotId, _: &Value) -> Result<(), ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn export(&self, _: ballast_store::BotId) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn presets(&self) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn parse_profile(&self, _: &str, _: &str) -> Result<Value, ballast_server::ApiError> {
        panic!("secret detail 42")
    }
    fn backtest(&self, _: &Value) -> Result<(Value, String), ballast_server::ApiError> {
        panic!("secret detail 42")
    }
}

#[tokio::test]
async fn a_panic_answers_a_json_500_without_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let auth = Auth::open(&dir.path().join("admin.json")).unwrap().with_hash_cost(1024, 1);
    auth.setup(PASSWORD, &auth.setup_token().unwrap()).unwrap();
    let bearer = format!("Bearer {}", auth.create_token("t", 0).unwrap().1);
    let clock = Arc::new(ManualClock::new(Timestamp(1_700_000_000_000)));
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    let state = AppState::new(store, BTreeMap::new(), auth, clock as Arc<dyn Clock>).with_workshop(Arc::new(Panicky));
    let app = router(Arc::new(state));
    for (method, path) in [("GET", "/api/catalog"), ("POST", "/api/preview"), ("GET", "/api/presets")] {
        let body = (method == "POST").then(|| json!({ "config": {} }));
        let reply = send(&app, method, path, &[("authorization", bearer.as_str())], body).await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{path}: {}", reply.text);
        assert_eq!(reply.body["error"], ballast_server::INTERNAL_ERROR, "{path}: {}", reply.text);
        assert!(!reply.text.contains("secret detail"), "{path}: {}", reply.text);
    }
}

#[tokio::test]
async fn every_error_is_json_path_query_404_405_413() {
    let r = rig();
    let (_, cookie, csrf) = login(&r).await;
    let ck = [("cookie", cookie.as_str()), ("x-csrf-token", csrf.as_str())];
    let big = "x".repeat(ballast_server::BODY_LIMIT + 10);
    let cases: Vec<(&str, String, Option<String>, StatusCode, &str)> = vec![
        ("GET", "/api/nope".into(), None, StatusCode::NOT_FOUND, "/api/nope"),
        ("GET", "/nope".into(), None, StatusCode::NOT_FOUND, "/nope"),
        ("DELETE", "/api/health".into(), None, StatusCode::METHOD_NOT_ALLOWED, "/api/health"),
        ("GET", "/api/bots/abc".into(), None, StatusCode::BAD_REQUEST, "abc"),
        ("GET", format!("/api/bots/{}/events?limit=-1", r.bot), None, StatusCode::BAD_REQUEST, "limit"),
        ("POST", "/api/tokens".into(), Some(big), StatusCode::PAYLOAD_TOO_LARGE, "too large: at most 262144 bytes"),
    ];
    for (method, path, body, status, says) in cases {
        let mut b = Request::builder().method(method).uri(&path);
        for (k, v) in ck {
            b = b.header(k, v);
        }
        let req = b.body(body.map(Body::from).unwrap_or_else(Body::empty)).unwrap();
        let resp = r.app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), status, "{method} {path}");
        let ct = resp.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(ct.as_deref(), Some("application/json"), "{method} {path}");
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("{method} {path}: {bytes:?}"));
        let e = v["error"].as_str().unwrap_or_else(|| panic!("{method} {path}: {v}"));
        assert!(e.to_lowercase().contains(says), "{method} {path}: {e}");
    }
}

#[tokio::test]
async fn login_and_token_replies_are_not_cached_nor_referred() {
    for secure in [false, true] {
        let r = rig_with(secure);
        let (secret, cookie, csrf) = login(&r).await;
        let code = totp::code_at(&secret, (r.clock.now().0 / 1000) as u64 + 30);
        r.clock.set(Timestamp(r.clock.now().0 + 30_000));
        let l = send(&r.app, "POST", "/api/login", &[], Some(json!({ "password": PASSWORD, "code": code }))).await;
        assert_eq!(l.status, StatusCode::OK, "{}", l.text);
        let t = send(&r.app, "POST", "/api/tokens", &[("cookie", &cookie), ("x-csrf-token", &csrf)], None).await;
        assert_eq!(t.status, StatusCode::OK, "{}", t.text);
        for reply in [&l, &t] {
            assert_eq!(reply.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
            assert_eq!(reply.headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
            assert_eq!(reply.headers.get(header::STRICT_TRANSPORT_SECURITY).is_some(), secure);
        }
    }
}
