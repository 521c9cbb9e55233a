//! The HTTP seam: a [`Transport`] sends one request and returns the raw response, so
//! that tests need no sockets. [`UreqTransport`] is the real one.

use std::fmt;
use std::time::Duration;

/// An HTTP method (only those Binance spot needs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// POST (body is `application/x-www-form-urlencoded`).
    Post,
    /// DELETE.
    Delete,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Delete => "DELETE",
        })
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
    /// Body (empty for GET and DELETE).
    pub body: String,
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
    /// The first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Why no response came back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// No answer in time. `after_send` is true when the request may have reached the
    /// venue (anything after the connection was set up).
    #[error("timeout (after send: {after_send})")]
    Timeout {
        /// The request may have been received.
        after_send: bool,
    },
    /// The connection could not be set up (DNS, refused, TLS): nothing was sent.
    #[error("connect: {0}")]
    Connect(String),
    /// Any other I/O failure once connected: the request may have been received.
    #[error("i/o: {0}")]
    Io(String),
}

/// Sends requests.
pub trait Transport: Send + Sync {
    /// Sends one request and returns the response, whatever its HTTP status.
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError>;
}

/// The real transport over `ureq` (blocking, rustls).
#[derive(Debug)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport whose every call gives up after `timeout` (connection setup after
    /// at most 5 s of it).
    pub fn new(timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .timeout_connect(Some(timeout.min(Duration::from_secs(5))))
            .http_status_as_error(false)
            .build();
        Self { agent: ureq::Agent::new_with_config(config) }
    }
}

impl Default for UreqTransport {
    /// A 10 s timeout.
    fn default() -> Self {
        Self::new(Duration::from_secs(10))
    }
}

fn map_ureq(e: ureq::Error) -> TransportError {
    use ureq::Timeout as T;
    match e {
        ureq::Error::Timeout(t) => TransportError::Timeout { after_send: !matches!(t, T::Resolve | T::Connect) },
        ureq::Error::HostNotFound => TransportError::Connect("host not found".into()),
        ureq::Error::ConnectionFailed => TransportError::Connect("connection failed".into()),
        ureq::Error::Tls(m) => TransportError::Connect(format!("tls: {m}")),
        ureq::Error::BadUri(m) => TransportError::Connect(format!("bad uri: {m}")),
        // Refused or unreachable: the connection never opened, nothing was sent.
        ureq::Error::Io(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::HostUnreachable
            ) =>
        {
            TransportError::Connect(e.to_string())
        }
        other => TransportError::Io(other.to_string()),
    }
}

impl Transport for UreqTransport {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let result = match req.method {
            Method::Get => {
                let mut b = self.agent.get(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k, v);
                }
                b.call()
            }
            Method::Delete => {
                let mut b = self.agent.delete(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k, v);
                }
                b.call()
            }
            Method::Post => {
                let mut b = self.agent.post(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k, v);
                }
                b.send(req.body.as_str())
            }
        };
        let resp = result.map_err(map_ureq)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        // The status line arrived: the request was received, so a body failure is
        // "after send".
        let body = resp.into_body().read_to_string().map_err(|e| TransportError::Io(e.to_string()))?;
        Ok(HttpResponse { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    #[test]
    fn ureq_reads_status_headers_and_body_from_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 4096];
            let n = s.read(&mut buf).unwrap();
            let req = String::from_utf8_lossy(&buf[..n]).to_string();
            let body = r#"{"code":-2010,"msg":"Duplicate order sent."}"#;
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-MBX-USED-WEIGHT-1M: 7\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(reply.as_bytes()).unwrap();
            req
        });
        let t = UreqTransport::new(Duration::from_secs(5));
        let resp = t
            .send(HttpRequest {
                method: Method::Get,
                url: format!("http://127.0.0.1:{port}/api/v3/time?x=1"),
                headers: vec![("X-MBX-APIKEY".into(), "k".into())],
                body: String::new(),
            })
            .unwrap();
        assert_eq!(resp.status, 400);
        assert_eq!(resp.header("x-mbx-used-weight-1m"), Some("7"));
        assert!(resp.body.contains("-2010"));
        let req = server.join().unwrap();
        assert!(req.starts_with("GET /api/v3/time?x=1 HTTP/1.1"), "{req}");
        assert!(req.to_ascii_lowercase().contains("x-mbx-apikey: k"), "{req}");
    }

    #[test]
    fn ureq_refused_connection_is_connect() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let t = UreqTransport::new(Duration::from_secs(5));
        let r = t.send(HttpRequest {
            method: Method::Post,
            url: format!("http://127.0.0.1:{port}/api/v3/order"),
            headers: vec![],
            body: "a=1".into(),
        });
        assert!(matches!(r, Err(TransportError::Connect(_))), "{r:?}");
    }
}
