//! HTTP as a seam: the adapter talks to a [`Transport`], so tests need no sockets.

use std::collections::VecDeque;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// An HTTP method used by the adapter.
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

/// A request, fully built and signed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Full URL including the query string.
    pub url: String,
    /// Headers (name, value).
    pub headers: Vec<(String, String)>,
    /// Body (JSON), if any.
    pub body: Option<String>,
}

/// A response of any status.
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

    /// The first header of this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The request got no response.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No response in time. `after_send` is true when the request may have reached
    /// the venue (then a POST or DELETE has an unknown outcome).
    #[error("timeout (after sending: {after_send})")]
    Timeout {
        /// Whether the request may have been sent.
        after_send: bool,
    },
    /// Could not connect (DNS, TCP, TLS): nothing was sent.
    #[error("connect: {0}")]
    Connect(String),
}

/// Sends one HTTP request. Implementations must not retry by themselves.
pub trait Transport: Send + Sync {
    /// Sends `req` and returns the response, whatever its status.
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The real transport: blocking HTTPS with `ureq`.
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport whose every request gives up after `timeout`.
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build();
        Self { agent: config.into() }
    }
}

impl Default for UreqTransport {
    /// A 10 s timeout.
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UreqTransport")
    }
}

fn map_ureq_error(e: ureq::Error) -> TransportError {
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(T::Resolve | T::Connect) => TransportError::Timeout { after_send: false },
        ureq::Error::Timeout(_) => TransportError::Timeout { after_send: true },
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => TransportError::Connect(e.to_string()),
        ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused => {
            TransportError::Connect(io.to_string())
        }
        // An I/O error mid-exchange: the request may have been sent.
        ureq::Error::Io(_) => TransportError::Timeout { after_send: true },
        other => TransportError::Connect(other.to_string()),
    }
}

impl Transport for UreqTransport {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let result = match req.method {
            Method::Get | Method::Delete => {
                let mut b =
                    if req.method == Method::Get { self.agent.get(&req.url) } else { self.agent.delete(&req.url) };
                for (n, v) in &req.headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.call()
            }
            Method::Post => {
                let mut b = self.agent.post(&req.url);
                for (n, v) in &req.headers {
                    b = b.header(n.as_str(), v.as_str());
                }
                b.send(req.body.unwrap_or_default().as_bytes())
            }
        };
        let mut resp = result.map_err(map_ureq_error)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        let body = resp.body_mut().read_to_string().map_err(map_ureq_error)?;
        Ok(HttpResponse { status, headers, body })
    }
}

type Route = (Method, String, VecDeque<Result<HttpResponse, TransportError>>);

/// A scripted transport for tests: answers by method and path (the URL after the
/// configured base, without the query string) and records every request.
///
/// Each route holds a queue of answers; the last one is repeated. A request with no
/// route gets a 404 `{"label":"NO_ROUTE"}`.
#[derive(Default)]
pub struct FakeTransport {
    base: String,
    routes: Mutex<Vec<Route>>,
    log: Mutex<Vec<HttpRequest>>,
}

impl FakeTransport {
    /// A fake serving URLs under `base` (e.g. `http://gate.test/api/v4`).
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_string(), ..Self::default() }
    }

    /// Queues an answer for `method path`.
    pub fn on(&self, method: Method, path: &str, answer: Result<HttpResponse, TransportError>) -> &Self {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        match routes.iter_mut().find(|(m, p, _)| *m == method && p == path) {
            Some((_, _, q)) => q.push_back(answer),
            None => routes.push((method, path.to_string(), VecDeque::from([answer]))),
        }
        self
    }

    /// Queues a response with this status and JSON body.
    pub fn json(&self, method: Method, path: &str, status: u16, body: &str) -> &Self {
        self.on(method, path, Ok(HttpResponse::new(status, body)))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The path of `url` after the base, without the query string.
    pub fn path_of(&self, url: &str) -> String {
        let rest = url.strip_prefix(&self.base).unwrap_or(url);
        rest.split('?').next().unwrap_or_default().to_string()
    }
}

impl Transport for FakeTransport {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let path = self.path_of(&req.url);
        let method = req.method;
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(req);
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        match routes.iter_mut().find(|(m, p, _)| *m == method && *p == path) {
            Some((_, _, q)) if q.len() > 1 => q.pop_front().expect("non-empty"),
            Some((_, _, q)) => q.front().cloned().expect("routes are never empty"),
            None => Ok(HttpResponse::new(404, r#"{"label":"NO_ROUTE","message":"no fake route"}"#)),
        }
    }
}
