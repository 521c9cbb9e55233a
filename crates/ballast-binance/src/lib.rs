//! A Binance spot adapter for ballast: [`Binance`] implements
//! [`ballast_exchange::Exchange`] over the REST API (`/api/v3`).
//!
//! - HTTP goes through the [`Transport`] seam ([`UreqTransport`] for real, a fake in
//!   tests), so no test opens a socket.
//! - Signed requests carry `timestamp` (local clock plus the offset measured by
//!   [`Binance::sync_time`]), `recvWindow`, and an HMAC-SHA256 signature ([`sign()`]).
//! - Errors map onto [`ballast_exchange::ExchangeError`] by what the caller must do:
//!   an order whose fate is unknown is never re-sent by the adapter.
//! - A per-minute request weight budget (from `X-MBX-USED-WEIGHT-1M`) refuses calls
//!   with `RateLimited` instead of sleeping.
#![deny(missing_docs)]

mod client;
pub mod klines;
pub mod parse;
pub mod sign;
pub mod transport;

pub use client::{Binance, BinanceConfig, KeyPermissions, symbol};
pub use klines::{FetchReport, Kline, fetch_to_csv};
pub use sign::sign;
pub use transport::{HttpRequest, HttpResponse, Method, Transport, TransportError, UreqTransport};
