//! `GET /metrics` in the Prometheus text format (from the store only: no venue call).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use ballast_store::BotStatus;

use crate::{ApiError, AppState};

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
    for b in &bots {
        let labels = format!("bot=\"{}\",name=\"{}\"", b.id, escape(&b.name));
        if let Some(snap) = st.store.snapshots(b.id, 1)?.last() {
            let _ = writeln!(value, "ballast_bot_value{{{labels}}} {}", snap.value.0.normalize());
        }
        let n = crate::api::bot_state(st, b.id)?.map(|x| x.rebalances).unwrap_or(0);
        let _ = writeln!(rebal, "ballast_rebalances_total{{{labels}}} {n}");
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        for o in st.store.orders(b.id, 1_000_000)? {
            *counts.entry(o.state.as_str()).or_default() += 1;
        }
        for (state, n) in counts {
            let _ = writeln!(orders, "ballast_orders_total{{{labels},state=\"{state}\"}} {n}");
        }
    }
    s.push_str(&value);
    s.push_str(&rebal);
    s.push_str(&orders);
    Ok(s)
}

/// `GET /metrics`.
pub async fn metrics(State(st): State<Arc<AppState>>) -> Result<Response, ApiError> {
    let text = tokio::task::spawn_blocking(move || render(&st))
        .await
        .map_err(|e| ApiError(axum::http::StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))??;
    Ok(([(CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response())
}
