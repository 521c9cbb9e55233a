//! The router without sockets (tower `oneshot`).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use ballast_core::Timestamp;
use ballast_exchange::ManualClock;
use ballast_exchange::paper::{FixedPrices, PaperConfig, PaperExchange};
use ballast_sim::{SimConfig, SimState, router};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn state() -> Arc<SimState> {
    let clock = Arc::new(ManualClock::new(Timestamp(1_234_567)));
    let ex = PaperExchange::in_memory(PaperConfig::default(), Arc::new(FixedPrices::new()), clock.clone()).unwrap();
    Arc::new(SimState::new(Arc::new(ex), clock, SimConfig::default(), vec![]))
}

async fn get(uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = router(state()).oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = resp.status();
    assert!(resp.headers().contains_key("x-mbx-used-weight-1m"));
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn time_without_sockets() {
    let (status, body) = get("/api/v3/time").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["serverTime"], 1_234_567);
}

#[tokio::test]
async fn signed_route_without_key_is_401() {
    let (status, body) = get("/api/v3/account?timestamp=1234567&signature=00").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], -2014);
}

#[tokio::test]
async fn unknown_route_is_404() {
    let (status, _) = get("/api/v3/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
