//! The real transport over `ureq` (blocking, rustls).

use std::fmt;
use std::time::Duration;

use crate::{HttpRequest, HttpResponse, Method, Transport, TransportError};

/// HTTPS with `ureq`: no redirects, no retries, statuses returned as responses.
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
            .max_redirects(0)
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

impl fmt::Debug for UreqTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UreqTransport")
    }
}

/// The crate's one rule (see the crate documentation): a short list of failures that
/// provably precede sending is `NotSent`; everything else is `MaybeSent`.
fn classify(e: ureq::Error) -> TransportError {
    use ureq::Timeout as T;
    let text = e.to_string();
    let before_sending = match &e {
        ureq::Error::Timeout(T::Resolve | T::Connect) => true,
        ureq::Error::HostNotFound
        | ureq::Error::ConnectionFailed
        | ureq::Error::BadUri(_)
        | ureq::Error::Http(_)
        | ureq::Error::InvalidProxyUrl
        | ureq::Error::ConnectProxyFailed(_)
        | ureq::Error::RequireHttpsOnly(_)
        | ureq::Error::TlsRequired => true,
        // Refused: the TCP connection was never set up.
        ureq::Error::Io(io) => io.kind() == std::io::ErrorKind::ConnectionRefused,
        _ => false,
    };
    if before_sending { TransportError::NotSent(text) } else { TransportError::MaybeSent(text) }
}

impl Transport for UreqTransport {
    fn send(&self, req: HttpRequest) -> Result<HttpResponse, TransportError> {
        let result = match req.method {
            Method::Get | Method::Delete => {
                let mut b =
                    if req.method == Method::Get { self.agent.get(&req.url) } else { self.agent.delete(&req.url) };
                for (k, v) in &req.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                b.call()
            }
            Method::Post => {
                let mut b = self.agent.post(&req.url);
                for (k, v) in &req.headers {
                    b = b.header(k.as_str(), v.as_str());
                }
                b.send(req.body.as_bytes())
            }
        };
        let mut resp = result.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        // The status line arrived, so the request was received: a broken body is
        // "may have been sent" whatever the error.
        let body = resp.body_mut().read_to_string().map_err(|e| TransportError::MaybeSent(e.to_string()))?;
        Ok(HttpResponse { status, headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A one-connection server: reads the request, then does `reply` with the socket.
    fn server(reply: impl FnOnce(&mut std::net::TcpStream) + Send + 'static) -> (u16, std::thread::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let h = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let req = read_request(&mut s);
            reply(&mut s);
            req
        });
        (port, h)
    }

    /// Reads one whole request: the head, then `Content-Length` bytes of body (the
    /// client may send them in separate segments).
    fn read_request(s: &mut std::net::TcpStream) -> String {
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let len = text[..end]
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                if data.len() >= end + 4 + len {
                    return text;
                }
            }
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return String::from_utf8_lossy(&data).to_string();
            }
            data.extend_from_slice(&buf[..n]);
        }
    }

    fn post(port: u16) -> HttpRequest {
        HttpRequest {
            method: Method::Post,
            url: format!("http://127.0.0.1:{port}/api/v3/order"),
            headers: vec![("X-MBX-APIKEY".into(), "k".into())],
            body: "symbol=BTCUSDT".into(),
        }
    }

    #[test]
    fn reads_status_headers_and_body_from_a_local_server() {
        let (port, h) = server(|s| {
            let body = r#"{"code":-2010,"msg":"Duplicate order sent."}"#;
            let reply = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nX-MBX-USED-WEIGHT-1M: 7\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            s.write_all(reply.as_bytes()).unwrap();
        });
        let t = UreqTransport::new(Duration::from_secs(5));
        let resp = t.send(post(port)).unwrap();
        assert_eq!(resp.status, 400);
        assert_eq!(resp.header("x-mbx-used-weight-1m"), Some("7"));
        assert!(resp.body.contains("-2010"));
        let req = h.join().unwrap();
        assert!(req.starts_with("POST /api/v3/order HTTP/1.1"), "{req}");
        assert!(req.to_ascii_lowercase().contains("x-mbx-apikey: k"), "{req}");
    }

    #[test]
    fn a_refused_connection_is_not_sent() {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let r = UreqTransport::new(Duration::from_secs(5)).send(post(port));
        assert!(matches!(r, Err(TransportError::NotSent(_))), "{r:?}");
    }

    #[test]
    fn a_connection_closed_after_the_request_may_have_been_sent() {
        // The server read the whole request, then hung up without a word.
        let (port, h) = server(|s| s.shutdown(std::net::Shutdown::Both).unwrap());
        let r = UreqTransport::new(Duration::from_secs(5)).send(post(port));
        assert!(h.join().unwrap().contains("symbol=BTCUSDT"));
        assert!(matches!(r, Err(TransportError::MaybeSent(_))), "{r:?}");
    }

    #[test]
    fn a_garbled_status_line_may_have_been_sent() {
        // A protocol error after the request left: ureq reports it as an error this
        // layer does not list, which must count as "may have been sent".
        let (port, h) = server(|s| s.write_all(b"NOT HTTP AT ALL\r\n\r\n").unwrap());
        let r = UreqTransport::new(Duration::from_secs(5)).send(post(port));
        h.join().unwrap();
        assert!(matches!(r, Err(TransportError::MaybeSent(_))), "{r:?}");
    }

    #[test]
    fn a_body_cut_after_the_status_line_may_have_been_sent() {
        let (port, h) = server(|s| {
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"orderId\":").unwrap();
        });
        let r = UreqTransport::new(Duration::from_secs(5)).send(post(port));
        h.join().unwrap();
        assert!(matches!(r, Err(TransportError::MaybeSent(_))), "{r:?}");
    }

    #[test]
    fn no_answer_in_time_may_have_been_sent() {
        let (port, h) = server(|_| std::thread::sleep(Duration::from_millis(1500)));
        let r = UreqTransport::new(Duration::from_millis(300)).send(post(port));
        assert!(matches!(r, Err(TransportError::MaybeSent(_))), "{r:?}");
        h.join().unwrap();
    }
}
