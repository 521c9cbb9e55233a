//! The one HTTP layer of ballast's venue adapters (Binance and Gate).
//!
//! An adapter builds and signs an [`HttpRequest`] and hands it to a [`Transport`]; the
//! transport sends it once (never retrying by itself) and returns the response whatever
//! its status. When no response comes back, a [`TransportError`] says the one thing the
//! caller needs for money: whether the request **may have left**. The rule, applied in
//! [`UreqTransport`] and nowhere else:
//!
//! > Only a failure that provably happened before any byte of the request could leave
//! > (no address, no connection, a refused connection, a request that could not be
//! > built) is [`TransportError::NotSent`]. Anything after that, including a timeout
//! > or an I/O error once connected, a broken body after the status line, or any error
//! > this crate does not recognise, is [`TransportError::MaybeSent`]: for an order or a
//! > cancel its outcome is unknown and must be queried, never retried blindly.
//!
//! [`Quiet`] is a venue's "quiet until": after a 429 or a 418 with `Retry-After`, no
//! request goes to that venue from any bot of the process until the time has passed.
//!
//! With the `fake` feature, `FakeTransport` scripts answers for tests without sockets.
#![deny(missing_docs)]

mod quiet;
mod ureq_transport;

#[cfg(feature = "fake")]
mod fake;

use std::fmt;

#[cfg(feature = "fake")]
pub use fake::FakeTransport;
pub use quiet::Quiet;
pub use ureq_transport::UreqTransport;

/// An HTTP method the adapters use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// GET (reads; never changes anything at the venue).
    Get,
    /// POST (places an order).
    Post,
    /// DELETE (cancels an order).
    Delete,
}

impl Method {
    /// The method as sent and signed: `GET`, `POST`, `DELETE`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One request, fully built and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Base URL + path + `?query` (if any).
    pub url: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body (empty when there is none; then none is sent).
    pub body: String,
}

impl HttpRequest {
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response, whatever its status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// HTTP status.
    pub status: u16,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl HttpResponse {
    /// A response with no headers.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        Self { status, headers: Vec::new(), body: body.into() }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why no response came back, phrased as the one fact that matters: could the venue
/// have received the request? (See the crate documentation for the rule.)
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// Nothing can have reached the venue: the connection was never set up.
    #[error("not sent: {0}")]
    NotSent(String),
    /// The request may have reached the venue (timeout or failure once connected,
    /// or a failure this layer cannot place).
    #[error("no answer after the request may have left: {0}")]
    MaybeSent(String),
}

impl TransportError {
    /// True unless the request provably never left.
    pub fn may_have_been_sent(&self) -> bool {
        matches!(self, Self::MaybeSent(_))
    }
}

/// Sends requests.
pub trait Transport: Send + Sync {
    /// Sends one request once and returns the response, whatever its HTTP status.
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError>;
}
