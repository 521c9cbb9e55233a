//! A scripted transport for tests (feature `fake`).

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::{HttpRequest, HttpResponse, Method, Transport, TransportError};

type Answer = Result<HttpResponse, TransportError>;
type Route = (Method, String, VecDeque<Answer>);

/// Answers requests from a script and records every request.
///
/// Two kinds of script, usable together: **routes** answer by method and path (the URL
/// after the configured base, without the query string), each holding a queue whose
/// last answer repeats; the **sequence** ([`FakeTransport::push`]) answers requests
/// that match no route, in order, once each. A request matched by neither gets a 404
/// whose body names it.
#[derive(Default)]
pub struct FakeTransport {
    base: String,
    routes: Mutex<Vec<Route>>,
    sequence: Mutex<VecDeque<Answer>>,
    log: Mutex<Vec<HttpRequest>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeTransport {
    /// A fake serving URLs under `base` (e.g. `http://gate.test/api/v4`).
    pub fn new(base: &str) -> Self {
        Self { base: base.trim_end_matches('/').to_string(), ..Self::default() }
    }

    /// Queues an answer for `method path`.
    pub fn on(&self, method: Method, path: &str, answer: Answer) -> &Self {
        let mut routes = lock(&self.routes);
        match routes.iter_mut().find(|(m, p, _)| *m == method && p == path) {
            Some((_, _, q)) => q.push_back(answer),
            None => routes.push((method, path.to_string(), VecDeque::from([answer]))),
        }
        self
    }

    /// Queues a response with this status and JSON body for `method path`.
    pub fn json(&self, method: Method, path: &str, status: u16, body: &str) -> &Self {
        self.on(method, path, Ok(HttpResponse::new(status, body)))
    }

    /// Appends an answer to the sequence.
    pub fn push(&self, answer: Answer) -> &Self {
        lock(&self.sequence).push_back(answer);
        self
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<HttpRequest> {
        lock(&self.log).clone()
    }

    /// How many requests so far.
    pub fn count(&self) -> usize {
        lock(&self.log).len()
    }

    /// The path of `url` after the base, without the query string.
    pub fn path_of(&self, url: &str) -> String {
        let rest = url.strip_prefix(&self.base).unwrap_or(url);
        let rest = if self.base.is_empty() {
            // No base: drop `scheme://host`.
            rest.find("://").map_or(rest, |i| rest[i + 3..].find('/').map_or("", |j| &rest[i + 3 + j..]))
        } else {
            rest
        };
        rest.split('?').next().unwrap_or_default().to_string()
    }
}

impl Transport for FakeTransport {
    fn send(&self, req: HttpRequest) -> Answer {
        let path = self.path_of(&req.url);
        let method = req.method;
        let what = format!("{method} {path}");
        lock(&self.log).push(req);
        let mut routes = lock(&self.routes);
        match routes.iter_mut().find(|(m, p, _)| *m == method && *p == path) {
            Some((_, _, q)) if q.len() > 1 => q.pop_front().expect("non-empty"),
            Some((_, _, q)) => q.front().cloned().expect("routes are never empty"),
            None => lock(&self.sequence).pop_front().unwrap_or_else(|| {
                Ok(HttpResponse::new(
                    404,
                    format!(r#"{{"label":"NO_ROUTE","code":-1,"message":"no fake answer for {what}"}}"#),
                ))
            }),
        }
    }
}
