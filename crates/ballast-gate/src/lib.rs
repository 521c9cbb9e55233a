//! Gate (gate.io) API v4 spot adapter: [`Gate`] implements [`ballast_exchange::Exchange`].
//!
//! - HTTP goes through a [`Transport`] ([`UreqTransport`] for real, `ballast_http::FakeTransport`
//!   in tests), so every behaviour is testable without sockets.
//! - Requests are signed with [`sign()`] (HMAC-SHA512, `KEY`/`Timestamp`/`SIGN` headers).
//!   The timestamp is the [`ballast_exchange::Clock`] plus an offset measured with
//!   `/spot/time`, refreshed every [`GateConfig::time_resync_ms`]; a `REQUEST_EXPIRED`
//!   refusal (nothing done) triggers one resync and one retry.
//! - Client ids travel as Gate's `text`: `t-<client id>`.
//! - Idempotency: Gate does not refuse a second order with the same `text`, so
//!   [`Exchange::place`](ballast_exchange::Exchange::place) first looks the client id up
//!   (by known Gate id, by text, then in the last 100 finished orders of the pair) and
//!   returns [`ExchangeError::Duplicate`](ballast_exchange::ExchangeError::Duplicate)
//!   if it exists. A POST is never retried by the adapter (except after
//!   `REQUEST_EXPIRED`, which Gate refuses before doing anything).
//! - Market BUYs: Gate's market buy `amount` is in quote units, which would make the
//!   base quantity inexact. The adapter instead sends an IOC limit buy of exactly the
//!   base quantity at the last price plus [`GateConfig::market_buy_slippage_bps`]
//!   (rounded up to the tick); any unfilled rest expires. Market SELLs are Gate market
//!   orders (amount in base, IOC).
//! - Rate limits: a local budget ([`GateConfig::orders_per_sec`] placements per second,
//!   [`GateConfig::requests_per_10s`] other requests per 10 s) and Gate's
//!   `X-Gate-RateLimit-Requests-Remain` / `X-Gate-RateLimit-Reset-Timestamp` headers;
//!   exceeding either returns `RateLimited` without sending.
#![deny(missing_docs)]

mod gate;
pub mod sign;
pub mod transport;
pub mod wire;

pub use gate::{DEFAULT_BASE_URL, Gate, GateConfig, KeyCheck};
pub use sign::sign;
pub use transport::{HttpRequest, HttpResponse, Method, Transport, TransportError, UreqTransport};
