//! A minimal W3C WebDriver client over HTTP JSON (ureq + serde_json) for the browser
//! test: starts `chromedriver`, opens a headless Chromium session, finds elements by CSS,
//! clicks, types, runs scripts and saves screenshots.

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{Value, json};

/// The W3C key of an element reference.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A free TCP port on the loopback interface.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where chromedriver is: `$BALLAST_CHROMEDRIVER`, else `/usr/bin/chromedriver`, else the PATH.
pub fn find_chromedriver() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("BALLAST_CHROMEDRIVER") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    let default = PathBuf::from("/usr/bin/chromedriver");
    if default.exists() {
        return Some(default);
    }
    std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join("chromedriver")).find(|p| p.exists())
}

/// Where Chromium is: `$BALLAST_CHROMIUM`, else `/usr/bin/chromium`.
pub fn find_chromium() -> Option<PathBuf> {
    let p = std::env::var_os("BALLAST_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| "/usr/bin/chromium".into());
    p.exists().then_some(p)
}

/// An element reference.
#[derive(Clone, Debug)]
pub struct El(pub String);

/// A chromedriver process with one browser session; both end on drop.
pub struct Driver {
    child: Child,
    base: String,
    session: String,
    agent: ureq::Agent,
    _profile: tempfile::TempDir,
    /// Where screenshots go.
    pub shots: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.agent.delete(&format!("{}/session/{}", self.base, self.session)).call();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts `chromedriver` and a headless Chromium session.
    pub fn start(chromedriver: &Path, chromium: &Path, shots: PathBuf) -> Driver {
        let port = free_port();
        let mut child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", chromedriver.display()));
        let base = format!("http://127.0.0.1:{port}");
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = agent
                .get(&format!("{base}/status"))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|b| serde_json::from_str::<Value>(&b).ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                break;
            }
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                panic!("chromedriver on port {port} did not become ready");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless".to_string(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--window-size=1400,1000".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": { "binary": chromium.to_str().unwrap(), "args": args },
                    "goog:loggingPrefs": { "browser": "ALL" },
                }
            }
        });
        let mut d = Driver { child, base, session: String::new(), agent, _profile: profile, shots };
        let v = d.raw("POST", "/session", Some(caps)).unwrap_or_else(|e| panic!("creating a browser session: {e}"));
        d.session = v["sessionId"].as_str().expect("a session id").to_string();
        std::fs::create_dir_all(&d.shots).unwrap();
        d
    }

    fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{}", self.base, path);
        let resp = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
        };
        let mut resp = resp.map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let text = resp.body_mut().read_to_string().map_err(|e| format!("{method} {path}: {e}"))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))?;
        if status >= 400 {
            return Err(format!(
                "{method} {path}: {status} {}: {}",
                v["value"]["error"].as_str().unwrap_or(""),
                v["value"]["message"].as_str().unwrap_or(&text)
            ));
        }
        Ok(v["value"].clone())
    }

    /// The browser console's entries at level SEVERE since the last call (script
    /// errors, CSP violations, failed loads), as `level: message` lines.
    pub fn console_errors(&self) -> Vec<String> {
        let v = self.cmd("POST", "/se/log", Some(json!({ "type": "browser" }))).unwrap_or(Value::Null);
        v.as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["level"] == "SEVERE")
            .map(|e| format!("{}: {}", e["level"].as_str().unwrap_or(""), e["message"].as_str().unwrap_or("")))
            .collect()
    }

    /// A command of this session: `path` is relative to `/session/{id}`.
    pub fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        self.raw(method, &format!("/session/{}{}", self.session, path), body)
    }

    /// Navigates to `url`.
    pub fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url }))).unwrap();
    }

    /// Runs `script` (a function body; `arguments` holds `args`) and returns its value.
    pub fn exec(&self, script: &str, args: Vec<Value>) -> Result<Value, String> {
        self.cmd("POST", "/execute/sync", Some(json!({ "script": script, "args": args })))
    }

    /// The first element matching the CSS selector, if any.
    pub fn find(&self, css: &str) -> Option<El> {
        let v = self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": css }))).ok()?;
        v[ELEMENT_KEY].as_str().map(|s| El(s.to_string()))
    }

    /// Every element matching the CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<El> {
        let v =
            self.cmd("POST", "/elements", Some(json!({ "using": "css selector", "value": css }))).unwrap_or_default();
        v.as_array()
            .map(|a| a.iter().filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| El(s.to_string()))).collect())
            .unwrap_or_default()
    }

    /// Waits up to `secs` for `f` to give a value; on timeout saves a screenshot and
    /// panics with what the page shows as errors.
    pub fn wait<T>(&self, what: &str, secs: u64, mut f: impl FnMut(&Driver) -> Option<T>) -> T {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(v) = f(self) {
                return v;
            }
            if Instant::now() > deadline {
                let shot = format!("timeout-{}", what.replace(|c: char| !c.is_ascii_alphanumeric(), "-"));
                self.screenshot(&shot);
                let errors = self
                    .exec(
                        "return [...document.querySelectorAll('.error')].map(e => e.textContent).filter(t => t.trim()).join(' | ')",
                        vec![],
                    )
                    .unwrap_or_default();
                let url = self.exec("return location.href", vec![]).unwrap_or_default();
                panic!(
                    "timed out after {secs} s waiting for {what} (page {url}; errors on the page: {errors}; screenshot {shot}.png)"
                );
            }
            std::thread::sleep(Duration::from_millis(150));
        }
    }

    /// Waits for an element matching `css` that is displayed.
    pub fn wait_el(&self, css: &str, secs: u64) -> El {
        self.wait(css, secs, |d| d.find(css).filter(|e| d.displayed(e)))
    }

    /// Whether the element is displayed.
    pub fn displayed(&self, el: &El) -> bool {
        self.cmd("GET", &format!("/element/{}/displayed", el.0), None).ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// Whether the element is enabled.
    pub fn enabled(&self, el: &El) -> bool {
        self.cmd("GET", &format!("/element/{}/enabled", el.0), None).ok().and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// Clicks the element, first scrolled to the middle of the viewport (clear of the
    /// page's sticky header).
    pub fn click(&self, el: &El) {
        let _ = self.exec("arguments[0].scrollIntoView({ block: 'center' })", vec![json!({ ELEMENT_KEY: el.0 })]);
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({}))).unwrap();
    }

    /// Waits for `css` to be displayed and enabled, then clicks it.
    pub fn click_css(&self, css: &str, secs: u64) {
        let el = self.wait(&format!("{css} enabled"), secs, |d| d.find(css).filter(|e| d.displayed(e) && d.enabled(e)));
        self.click(&el);
    }

    /// Clears the field and types `text` into it.
    pub fn type_into(&self, el: &El, text: &str) {
        self.cmd("POST", &format!("/element/{}/clear", el.0), Some(json!({}))).unwrap();
        self.cmd("POST", &format!("/element/{}/value", el.0), Some(json!({ "text": text }))).unwrap();
    }

    /// Waits for `css`, then clears it and types `text`.
    pub fn type_css(&self, css: &str, text: &str, secs: u64) {
        let el = self.wait_el(css, secs);
        self.type_into(&el, text);
    }

    /// The element's rendered text.
    pub fn text(&self, el: &El) -> String {
        self.cmd("GET", &format!("/element/{}/text", el.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The text of the first element matching `css`, if any (None too when the element
    /// was replaced between finding and reading it).
    pub fn text_css(&self, css: &str) -> Option<String> {
        let el = self.find(css)?;
        self.cmd("GET", &format!("/element/{}/text", el.0), None).ok().and_then(|v| v.as_str().map(str::to_string))
    }

    /// An attribute of the element.
    pub fn attr(&self, el: &El, name: &str) -> Option<String> {
        self.cmd("GET", &format!("/element/{}/attribute/{name}", el.0), None)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
    }

    /// Saves a screenshot of the viewport as `<shots>/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let path = self.shots.join(format!("{name}.png"));
        if let Ok(v) = self.cmd("GET", "/screenshot", None)
            && let Some(b64) = v.as_str()
        {
            let png = base64::engine::general_purpose::STANDARD.decode(b64).unwrap();
            std::fs::write(&path, png).unwrap();
        }
        path
    }

    /// Saves a screenshot of the whole page: the window grows to the page's height
    /// (up to 4000 px) for the shot, then returns to 1400 x 1000.
    pub fn screenshot_full(&self, name: &str) -> PathBuf {
        let height = self
            .exec("return Math.ceil(document.documentElement.scrollHeight)", vec![])
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(1000.0)
            .clamp(1000.0, 4000.0) as u64;
        let _ = self.cmd("POST", "/window/rect", Some(json!({ "width": 1400, "height": height + 140 })));
        std::thread::sleep(Duration::from_millis(400));
        let path = self.screenshot(name);
        let _ = self.cmd("POST", "/window/rect", Some(json!({ "width": 1400, "height": 1000 })));
        std::thread::sleep(Duration::from_millis(200));
        path
    }
}
