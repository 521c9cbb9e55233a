//! Shared test helpers: a Gate over a fake transport and a manual clock.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_core::{Asset, Timestamp};
use ballast_exchange::ManualClock;
use ballast_gate::{Gate, GateConfig, HttpRequest, Method};
use ballast_http::FakeTransport;
use serde_json::{Value, json};

pub const BASE: &str = "http://gate.test/api/v4";
pub const T0: i64 = 1_731_448_079_000;

pub struct Env {
    pub fake: Arc<FakeTransport>,
    pub clock: Arc<ManualClock>,
    pub gate: Gate,
}

pub fn env_with(f: impl FnOnce(&mut GateConfig)) -> Env {
    let fake = Arc::new(FakeTransport::new(BASE));
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    fake.json(Method::Get, "/spot/time", 200, &json!({ "server_time": T0 }).to_string());
    let mut config = GateConfig::new("test-key", "test-secret");
    config.base_url = BASE.to_string();
    f(&mut config);
    let gate = Gate::new(config, fake.clone(), clock.clone());
    Env { fake, clock, gate }
}

pub fn env() -> Env {
    env_with(|_| {})
}

pub fn asset(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

pub fn fixture(kind: &str) -> Value {
    let path = format!("{}/tests/fixtures/ccxt/{kind}/gate.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The entry of `method` with this description.
pub fn entry(file: &Value, method: &str, description: &str) -> Value {
    file["methods"][method]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["description"] == description)
        .unwrap_or_else(|| panic!("no {method} / {description}"))
        .clone()
}

/// The query parameters of a URL.
pub fn params(url: &str) -> BTreeMap<String, String> {
    url.split_once('?')
        .map(|(_, q)| q)
        .unwrap_or("")
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

pub fn path(url: &str) -> String {
    let no_query = url.split('?').next().unwrap();
    no_query.split_once("/api/v4").map(|(_, p)| p.to_string()).unwrap_or_default()
}

/// The requests other than `/spot/time`.
pub fn sent(fake: &FakeTransport) -> Vec<HttpRequest> {
    fake.requests().into_iter().filter(|r| !r.url.contains("/spot/time")).collect()
}

pub fn header<'a>(r: &'a HttpRequest, name: &str) -> Option<&'a str> {
    r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// A Gate spot order object.
#[allow(clippy::too_many_arguments)]
pub fn order_json(
    id: &str,
    text: &str,
    pair: &str,
    side: &str,
    kind: &str,
    amount: &str,
    price: &str,
    left: &str,
    status: &str,
    finish_as: &str,
) -> Value {
    let amount_d: f64 = amount.parse().unwrap();
    let left_d: f64 = left.parse().unwrap();
    json!({
        "id": id, "text": text, "currency_pair": pair, "side": side, "type": kind, "account": "spot",
        "amount": amount, "price": price, "left": left, "status": status, "finish_as": finish_as,
        "filled_total": if left_d < amount_d { "1" } else { "0" }, "time_in_force": "gtc",
    })
}

/// Routes for "this client id is unknown to Gate".
pub fn unknown_order(fake: &FakeTransport, text: &str) {
    fake.json(
        Method::Get,
        &format!("/spot/orders/{text}"),
        404,
        r#"{"label":"ORDER_NOT_FOUND","message":"Order not found"}"#,
    );
    fake.json(Method::Get, "/spot/orders", 200, "[]");
}
