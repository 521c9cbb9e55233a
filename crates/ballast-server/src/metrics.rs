//! `GET /metrics` in the Prometheus text format (from the store only: no venue call).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ballast_store::BotStatus;

use crate::{ApiError, AppState};

/// The upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// Requests by (method, route, status class).
type Counts = BTreeMap<(String, String, String), u64>;
/// Latency histograms by (method, route).
type Latencies = BTreeMap<(String, String), Histogram>;

#[derive(Clone, Debug, Default)]
struct Histogram {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

/// Requests by (method, route pattern, status class) and latency histograms by
/// (method, route pattern). Route patterns (`/api/bots/{id}`), never raw paths, so the
/// label set stays bounded.
#[derive(Debug, Default)]
pub struct HttpStats {
    inner: Mutex<(Counts, Latencies)>,
}

impl HttpStats {
    /// Records one request.
    pub fn record(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let class = format!("{}xx", status / 100);
        *g.0.entry((method.to_owned(), route.to_owned(), class)).or_default() += 1;
        let h = g.1.entry((method.to_owned(), route.to_owned())).or_default();
        if h.buckets.is_empty() {
            h.buckets = vec![0; LATENCY_BUCKETS.len()];
        }
        for (i, le) in LATENCY_BUCKETS.iter().enumerate() {
            if seconds <= *le {
                h.buckets[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    fn render(&self, s: &mut String) {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        s.push_str("# HELP ballast_http_requests_total HTTP requests by route and status class.\n");
        s.push_str("# TYPE ballast_http_requests_total counter\n");
        for ((m, r, c), n) in &g.0 {
            let _ =
                writeln!(s, "ballast_http_requests_total{{method=\"{m}\",route=\"{}\",status=\"{c}\"}} {n}", escape(r));
        }
        s.push_str("# HELP ballast_http_request_duration_seconds HTTP request latency by route.\n");
        s.push_str("# TYPE ballast_http_request_duration_seconds histogram\n");
        for ((m, r), h) in &g.1 {
            let l = format!("method=\"{m}\",route=\"{}\"", escape(r));
            for (le, n) in LATENCY_BUCKETS.iter().zip(&h.buckets) {
                let _ = writeln!(s, "ballast_http_request_duration_seconds_bucket{{{l},le=\"{le}\"}} {n}");
            }
            let _ = writeln!(s, "ballast_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {}", h.count);
            let _ = writeln!(s, "ballast_http_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(s, "ballast_http_request_duration_seconds_count{{{l}}} {}", h.count);
        }
    }
}

/// The middleware that times every request (by its route pattern; unmatched paths
/// count as `unmatched`).
pub async fn observe(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let method = req.method().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or("unmatched".into());
    let t0 = Instant::now();
    let res = next.run(req).await;
    st.http.record(&method, &route, res.status().as_u16(), t0.elapsed().as_secs_f64());
    res
}

/// Escapes a label value.
pub fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The metrics text.
pub fn render(st: &AppState) -> Result<String, ApiError> {
    let bots = st.store.bots()?;
    let mut s = String::new();
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for status in [BotStatus::Active, BotStatus::Paused, BotStatus::Stopped] {
        by_status.insert(status.to_string(), 0);
    }
    for b in &bots {
        *by_status.entry(b.status.to_string()).or_default() += 1;
    }
    s.push_str("# HELP ballast_bots Bots by status.\n# TYPE ballast_bots gauge\n");
    for (k, n) in &by_status {
        let _ = writeln!(s, "ballast_bots{{status=\"{k}\"}} {n}");
    }
    let mut value = String::from(
        "# HELP ballast_bot_value Value of a bot in its quote currency at its last snapshot.\n# TYPE ballast_bot_value gauge\n",
    );
    let mut rebal = String::from(
        "# HELP ballast_rebalances_total Rebalances done by a bot.\n# TYPE ballast_rebalances_total counter\n",
    );
    let mut orders =
        String::from("# HELP ballast_orders_total Orders of a bot by state.\n# TYPE ballast_orders_total counter\n");
    let mut errors = String::from(
        "# HELP ballast_bot_errors_total Errors of a bot by kind (venue errors, refused keys), from its events.\n# TYPE ballast_bot_errors_total counter\n",
    );
    for b in &bots {
        let labels = format!("bot=\"{}\",name=\"{}\"", b.id, escape(&b.name));
        if let Some(snap) = st.store.snapshots(b.id, 1)?.last() {
            let _ = writeln!(value, "ballast_bot_value{{{labels}}} {}", snap.value.0.normalize());
        }
        let n = crate::api::bot_state(st, b.id)?.map(|x| x.rebalances).unwrap_or(0);
        let _ = writeln!(rebal, "ballast_rebalances_total{{{labels}}} {n}");
        // Counts kept on write (`Store::order_counts`, `event_counts`): a few rows per
        // bot, never a scan of its orders or events.
        for (state, n) in st.store.order_counts(b.id)? {
            let _ = writeln!(orders, "ballast_orders_total{{{labels},state=\"{state}\"}} {n}");
        }
        let counted = st.store.event_counts(b.id)?;
        for kind in ["error", "key_revoked"] {
            let n = counted.get(kind).copied().unwrap_or(0);
            let _ = writeln!(errors, "ballast_bot_errors_total{{{labels},kind=\"{kind}\"}} {n}");
        }
    }
    s.push_str(&value);
    s.push_str(&rebal);
    s.push_str(&orders);
    s.push_str(&errors);
    st.http.render(&mut s);
    Ok(s)
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let text = tokio::task::spawn_blocking(move || render(&st))
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
