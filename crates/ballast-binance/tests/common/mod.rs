//! A scripted fake transport and fixture helpers (no sockets).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;

use ballast_binance::{Binance, BinanceConfig, HttpRequest, HttpResponse};
use ballast_core::Timestamp;
use ballast_exchange::ManualClock;
use ballast_http::FakeTransport;
use serde_json::Value;

/// The one scripted fake of ballast's HTTP layer: `push`ed replies answer in order.
pub type Fake = FakeTransport;

/// Shorthands for scripting Binance replies.
pub trait Replies {
    /// A 200 with this body.
    fn ok(&self, body: &str);
    /// A 200 with this JSON.
    fn reply(&self, v: &Value);
}

impl Replies for FakeTransport {
    fn ok(&self, body: &str) {
        self.push(Ok(resp(200, body, &[])));
    }
    fn reply(&self, v: &Value) {
        self.ok(&v.to_string());
    }
}

pub fn resp(status: u16, body: &str, headers: &[(&str, &str)]) -> HttpResponse {
    HttpResponse {
        status,
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        body: body.to_string(),
    }
}

pub const T0: i64 = 1_700_000_000_000;

pub fn setup() -> (Binance, Arc<Fake>, Arc<ManualClock>) {
    setup_with(BinanceConfig {
        base_url: "http://fake.invalid".into(),
        api_key: "test-key-not-real".into(),
        secret: "test-secret-not-real".into(),
        ..BinanceConfig::default()
    })
}

pub fn setup_with(config: BinanceConfig) -> (Binance, Arc<Fake>, Arc<ManualClock>) {
    let fake = Arc::new(Fake::new("http://fake.invalid"));
    let clock = Arc::new(ManualClock::new(Timestamp(T0)));
    (Binance::new(config, fake.clone(), clock.clone()), fake, clock)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else if b[i] == b'+' {
            out.push(b' ');
            i += 1;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// `a=1&b=2` into a map (decoded).
pub fn parse_qs(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// (method, path, every parameter of query and body).
pub fn split(req_method: &str, url: &str, body: Option<&str>) -> (String, String, BTreeMap<String, String>) {
    let no_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path_q = &no_scheme[no_scheme.find('/').unwrap_or(no_scheme.len())..];
    let (path, q) = path_q.split_once('?').unwrap_or((path_q, ""));
    let mut params = parse_qs(q);
    if let Some(b) = body {
        params.extend(parse_qs(b));
    }
    (req_method.to_string(), path.to_string(), params)
}

pub fn split_req(r: &HttpRequest) -> (String, String, BTreeMap<String, String>) {
    split(&r.method.to_string(), &r.url, Some(&r.body))
}

pub fn fixture(kind: &str) -> Value {
    let path = format!("{}/tests/fixtures/ccxt/{kind}/binance.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))).unwrap()
}

/// The entry of `methods.<method>` with this description.
pub fn entry<'a>(file: &'a Value, method: &str, description: &str) -> &'a Value {
    file["methods"][method]
        .as_array()
        .unwrap_or_else(|| panic!("no method {method}"))
        .iter()
        .find(|e| e["description"] == description)
        .unwrap_or_else(|| panic!("no entry {method} / {description}"))
}
