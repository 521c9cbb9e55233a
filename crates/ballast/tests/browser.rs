//! The dashboard in a real browser: headless Chromium driven over WebDriver against the
//! real `ballast serve` (paper venue, replay advancing every 300 ms). Sets the admin up
//! through the page, logs in with a TOTP code computed here, creates a bot with the
//! wizard, waits for its charts, adds investment and stops it. Screenshots of every step
//! go to `target/browser/`.
//!
//! Needs `chromium` and `chromium-driver` (Debian); without chromedriver the test fails
//! unless `BALLAST_SKIP_BROWSER=1` is set.

mod webdriver;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use webdriver::{Driver, find_chromedriver, find_chromium, free_port};

const PASSWORD: &str = "correct horse battery staple";
/// Generous: every wait polls up to this long (a loaded 2-core machine is slow).
const WAIT: u64 = 90;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root().join("target"));
    target.join("browser")
}

struct Server(Child);
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn totp_now(uri: &str) -> String {
    let secret = uri
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("secret="))
        .unwrap_or_else(|| panic!("no secret in the otpauth URI {uri:?}"));
    let key = ballast_server::totp::base32_decode(secret).expect("a base32 secret");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    ballast_server::totp::code_at(&key, now)
}

/// The number in a formatted figure ("1,234.56" → 1234.56).
fn figure(s: &str) -> Option<f64> {
    s.chars().filter(|c| c.is_ascii_digit() || *c == '.' || *c == '-').collect::<String>().parse().ok()
}

#[test]
fn dashboard_end_to_end_in_headless_chromium() {
    let Some(chromedriver) = find_chromedriver() else {
        if std::env::var("BALLAST_SKIP_BROWSER").as_deref() == Ok("1") {
            eprintln!("browser test skipped: chromedriver not found and BALLAST_SKIP_BROWSER=1");
            return;
        }
        panic!(
            "chromedriver not found (looked at $BALLAST_CHROMEDRIVER, /usr/bin/chromedriver and the PATH): \
             install it with `apt-get install chromium chromium-driver`, or set BALLAST_SKIP_BROWSER=1 to skip this test"
        );
    };
    let chromium = find_chromium().unwrap_or_else(|| {
        panic!(
            "chromium not found at /usr/bin/chromium (or $BALLAST_CHROMIUM): install it with `apt-get install chromium`"
        )
    });
    let shots = shots_dir();
    std::fs::create_dir_all(&shots).unwrap();

    // The server.
    let port = free_port();
    let tmp = tempfile::tempdir().unwrap();
    let log = std::fs::File::create(shots.join("server.log")).unwrap();
    let _server = Server(
        Command::new(assert_cmd::cargo::cargo_bin("ballast"))
            .current_dir(root())
            .args(["serve", "--port", &port.to_string(), "--replay-every", "300ms", "--data-dir"])
            .arg(tmp.path())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "ballast serve did not start (see target/browser/server.log)");
        std::thread::sleep(Duration::from_millis(100));
    }
    let base = format!("http://127.0.0.1:{port}");
    // The one-time setup token the server printed at start.
    let token = loop {
        let text = std::fs::read_to_string(shots.join("server.log")).unwrap_or_default();
        if let Some(t) = text.lines().find_map(|l| l.trim().strip_prefix("setup token: ")) {
            break t.split_whitespace().next().unwrap().to_owned();
        }
        assert!(Instant::now() < deadline, "no setup token in target/browser/server.log");
        std::thread::sleep(Duration::from_millis(100));
    };

    let d = Driver::start(&chromedriver, &chromium, shots.clone());
    // The link printed at start carries the token in its fragment: the form is filled.
    d.goto(&format!("{base}/#setup={token}"));

    // 1. First run: the setup token (pre-filled), the admin password, twice.
    d.wait_el("[data-test=setup]", WAIT);
    let filled = d.exec("return document.querySelector('[data-test=setup-token]').value", vec![]).unwrap();
    assert_eq!(filled, json!(token), "the setup token is taken from the link");
    d.type_css("[data-test=setup-password]", PASSWORD, WAIT);
    d.type_css("[data-test=setup-password2]", PASSWORD, WAIT);
    d.screenshot("01-setup");
    d.click_css("[data-test=setup-submit]", WAIT);

    // 2. The QR code and the otpauth URI.
    let uri_el = d.wait_el("[data-test=otpauth-uri]", WAIT);
    let uri = d.text(&uri_el);
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    let qr = d.exec("return document.querySelectorAll('[data-test=qr] svg').length", vec![]).unwrap();
    assert_eq!(qr, json!(1), "the QR code is drawn as SVG");
    // A wrong code: setup is not finished (issue 14, defect 12).
    d.type_css("[data-test=enrol-code]", "000000", WAIT);
    d.click_css("[data-test=enrol-submit]", WAIT);
    let refused = d.wait("the code refused", WAIT, |d| d.text_css("[data-test=enrol-error]").filter(|t| !t.is_empty()));
    assert!(refused.contains("does not match"), "{refused}");
    d.screenshot("02-enrol");

    // 3. The current code finishes setup and logs in.
    d.type_css("[data-test=enrol-code]", &totp_now(&uri), WAIT);
    d.click_css("[data-test=enrol-submit]", WAIT);
    d.wait_el("[data-test=bots-view]", WAIT);
    d.wait("the empty bot list", WAIT, |d| d.text_css("[data-test=bots-rows]").filter(|t| t.contains("No bots")));
    d.screenshot("04-bots-empty");
    // A reload keeps the session: the page asks /api/session for its CSRF token.
    d.goto(&format!("{base}/#/bots"));
    d.wait_el("[data-test=bots-view]", WAIT);
    d.wait("the live stream", WAIT, |d| d.find("[data-test=live][data-mode=on]"));

    // 4. The wizard: coins through the search box.
    d.click_css("[data-test=new-bot]", WAIT);
    d.wait_el("[data-test=coin-search]", WAIT);
    let offered: Vec<String> = d.wait("the catalog's coins", WAIT, |d| {
        let v = d
            .exec(
                "return [...document.querySelectorAll('[data-test=coin-list] [data-test^=coin-]')].map(e => e.dataset.test.slice(5))",
                vec![],
            )
            .ok()?;
        let list: Vec<String> = serde_json::from_value(v).ok()?;
        (list.len() >= 3).then_some(list)
    });
    let mut coins: Vec<String> =
        ["BTC", "ETH", "BNB", "SOL", "XRP"].iter().map(|s| s.to_string()).filter(|c| offered.contains(c)).collect();
    let rest: Vec<String> = offered.iter().filter(|c| !coins.contains(c)).cloned().collect();
    coins.extend(rest);
    coins.truncate(3);
    for c in &coins {
        d.type_css("[data-test=coin-search]", &c.to_lowercase(), WAIT);
        d.click_css(&format!("[data-test=coin-list] [data-test=coin-{c}]"), WAIT);
        d.wait(&format!("the chip of {c}"), WAIT, |d| d.find(&format!("[data-test=chip-{c}]")));
    }
    d.type_css("[data-test=coin-search]", "", WAIT);
    d.screenshot("05-wizard-coins");
    d.click_css("[data-test=wizard-next]", WAIT);

    // 5. The amount, with the live minimum.
    d.type_css("[data-test=amount]", "1000", WAIT);
    let minimum = d.wait("the minimum", WAIT, |d| d.text_css("[data-test=minimum-amount]").and_then(|t| figure(&t)));
    if minimum > 1000.0 {
        d.type_css("[data-test=amount]", &format!("{}", (minimum * 2.0).ceil()), WAIT);
    }
    d.wait("Next enabled above the minimum", WAIT, |d| {
        d.find("[data-test=wizard-next]")
            .filter(|e| d.enabled(e) && d.text_css("[data-test=minimum]").is_some_and(|t| t.contains("enough")))
    });
    d.screenshot("06-wizard-amount");
    d.click_css("[data-test=wizard-next]", WAIT);

    // 6. Threshold mode, 2 % absolute.
    d.click_css("[data-test=mode-threshold]", WAIT);
    // A refused value: the server's message shows next to the step, and the wizard stays.
    d.type_css("[data-test=threshold]", "99", WAIT);
    d.click_css("[data-test=wizard-next]", WAIT);
    let refused =
        d.wait("the server's refusal", WAIT, |d| d.text_css("[data-test=step-error]").filter(|t| !t.is_empty()));
    assert!(refused.contains("threshold"), "{refused}");
    d.screenshot("07-wizard-mode-refused");
    d.type_css("[data-test=threshold]", "2", WAIT);
    d.screenshot("07-wizard-mode");
    d.click_css("[data-test=wizard-next]", WAIT);
    // Entry prices and guards: left empty.
    d.wait_el("[data-test=entry-prices]", WAIT);
    d.click_css("[data-test=wizard-next]", WAIT);
    d.wait_el("[data-test=stop-loss]", WAIT);
    d.click_css("[data-test=wizard-next]", WAIT);

    // 7. Custom weights 50/30/20 with their preview.
    d.click_css("[data-test=method] option[value=custom]", WAIT);
    for (c, pct) in coins.iter().zip(["50", "30", "20"]) {
        d.type_css(&format!("[data-test=custom-{c}]"), pct, WAIT);
    }
    let widths: std::collections::BTreeMap<String, f64> = d.wait("the weights preview", WAIT, |d| {
        let v = d
            .exec(
                "return Object.fromEntries([...document.querySelectorAll('[data-test=weights-preview] [data-test^=weight-bar-]')]
                    .map(e => [e.dataset.test.slice(11), parseFloat(e.style.width)]))",
                vec![],
            )
            .ok()?;
        let w: std::collections::BTreeMap<String, f64> = serde_json::from_value(v).ok()?;
        (w.len() == 3).then_some(w)
    });
    let (a, b, c) = (widths[&coins[0]], widths[&coins[1]], widths[&coins[2]]);
    assert!(a > b && b > c, "bars follow 50/30/20: {widths:?}");
    d.screenshot("08-wizard-weights");
    d.click_css("[data-test=wizard-next]", WAIT);

    // 8. The summary, then confirm.
    let summary =
        d.wait("the summary", WAIT, |d| d.text_css("[data-test=summary]").filter(|t| t.contains("Rebalancing")));
    for c in &coins {
        assert!(summary.contains(c.as_str()), "the summary names {c}: {summary}");
    }
    assert!(summary.contains("50.00%"), "{summary}");
    d.screenshot_full("09-wizard-summary");
    d.click_css("[data-test=wizard-next]", WAIT);
    d.type_css("[data-test=bot-name-input]", "browser test", WAIT);
    d.screenshot("10-wizard-confirm");
    d.click_css("[data-test=wizard-create]", WAIT);

    // 9. The bot's page, with its charts drawn after some replay steps.
    d.wait("the bot's page", WAIT, |d| {
        let hash = d.exec("return location.hash", vec![]).ok()?;
        hash.as_str().filter(|h| h.starts_with("#/bots/")).and_then(|_| d.find("[data-test=bot-view]"))
    });
    let points = d.wait("two points on the value chart", WAIT, |d| {
        let v = d
            .exec(
                "var s = document.querySelector('svg[data-test=chart-value]'); return s ? Number(s.dataset.points) : 0",
                vec![],
            )
            .ok()?;
        v.as_f64().filter(|n| *n >= 2.0)
    });
    assert!(points >= 2.0);
    let paths: Value = d
        .exec(
            "const d = (sel) => [...document.querySelectorAll(sel)].map(p => p.getAttribute('d') || '');
             return { value: d('svg[data-test=chart-value] path[data-series=value]'),
                      hodl: d('svg[data-test=chart-value] path[data-series=hodl]'),
                      weights: d('svg[data-test=chart-weights] path.area'),
                      drift: document.querySelectorAll('svg[data-test=chart-drift] rect.bar').length };",
            vec![],
        )
        .unwrap();
    for key in ["value", "hodl"] {
        let d0 = paths[key][0].as_str().unwrap_or("");
        assert!(d0.starts_with('M') && d0.matches('L').count() >= 1 && d0.len() > 20, "{key} line: {d0:?}");
    }
    let areas = paths["weights"].as_array().unwrap();
    assert!(areas.len() >= 3, "one area per coin: {paths}");
    assert!(areas.iter().all(|a| a.as_str().is_some_and(|s| s.len() > 20 && s.ends_with('Z'))), "{paths}");
    assert!(paths["drift"].as_u64().unwrap() >= 3, "a drift bar per coin: {paths}");
    d.wait("orders in the rebalance history", WAIT, |d| d.find("[data-test=history] [data-test=rebalance]"));
    std::thread::sleep(Duration::from_secs(2));
    d.screenshot_full("11-bot-detail");
    // Hover the value chart: the readout appears.
    let hovered = d
        .exec(
            "const s = document.querySelector('svg[data-test=chart-value]'); const r = s.querySelector('rect[fill=transparent]');
             const b = r.getBoundingClientRect();
             r.dispatchEvent(new MouseEvent('mousemove', { clientX: b.left + b.width * 0.6, clientY: b.top + 20, bubbles: true }));
             const t = s.parentElement.querySelector('.tip'); return t && !t.hidden ? t.textContent : null;",
            vec![],
        )
        .unwrap();
    assert!(hovered.as_str().is_some_and(|t| t.contains("Bot value")), "hover readout: {hovered}");
    d.screenshot("12-bot-hover");

    // 10. Add 250 USDT: net invested grows by 250 and an invest event shows.
    let net_before =
        d.wait("net invested", WAIT, |d| d.text_css("[data-test=pnl-net-invested]").and_then(|t| figure(&t)));
    d.type_css("[data-test=invest-amount]", "250", WAIT);
    d.click_css("[data-test=invest-submit]", WAIT);
    // Its orders and fees first (issue 14, defect 4), then the confirmation.
    let plan =
        d.wait("the investment's plan", WAIT, |d| d.text_css("[data-test=invest-dialog] [data-test=trade-plan]"));
    assert!(plan.contains("fees") || plan.contains("No order would be sent"), "{plan}");
    d.screenshot("13-bot-invest-confirm");
    d.click_css("[data-test=invest-dialog] [data-test=trade-confirm]", WAIT);
    let net_after = d.wait("net invested + 250", WAIT, |d| {
        d.text_css("[data-test=pnl-net-invested]")
            .and_then(|t| figure(&t))
            .filter(|n| (n - net_before - 250.0).abs() < 0.01)
    });
    assert!((net_after - net_before - 250.0).abs() < 0.01);
    d.wait("the invest event", WAIT, |d| d.find("[data-test=events] [data-test=event-invest]"));
    d.screenshot("13-bot-invested");
    // A phone-sized window: the grid collapses to one column and the charts redraw.
    d.cmd("POST", "/window/rect", Some(json!({ "width": 480, "height": 1000 }))).unwrap();
    d.exec("window.scrollTo(0, 0)", vec![]).unwrap();
    std::thread::sleep(Duration::from_millis(800));
    d.screenshot("13-bot-narrow");
    d.cmd("POST", "/window/rect", Some(json!({ "width": 1400, "height": 1000 }))).unwrap();
    std::thread::sleep(Duration::from_millis(400));

    // Pause and resume.
    d.click_css("[data-test=pause]", WAIT);
    d.wait("the paused badge", WAIT, |d| {
        d.text_css("[data-test=bot-state]").filter(|t| t.to_lowercase().contains("paused"))
    });
    d.click_css("[data-test=resume]", WAIT);
    d.wait("the active badge", WAIT, |d| {
        d.text_css("[data-test=bot-state]").filter(|t| t.to_lowercase().contains("active"))
    });

    // Export the profile; edit the threshold through the same form pieces as the wizard.
    d.click_css("[data-test=export]", WAIT);
    let profile = d.wait("the exported profile", WAIT, |d| {
        let v = d
            .exec("var e = document.querySelector('[data-test=export-profile]'); return e ? e.value : null", vec![])
            .ok()?;
        v.as_str().filter(|p| p.starts_with("ballast-profile:1:")).map(str::to_string)
    });
    assert!(!profile.contains("1250"), "a profile holds no amount: {profile}");
    d.click_css("[data-test=edit]", WAIT);
    d.type_css("[data-test=edit-box] [data-test=threshold]", "3", WAIT);
    d.screenshot_full("14-bot-edit");
    d.click_css("[data-test=edit-save]", WAIT);
    d.wait_el("[data-test=edit-dialog] [data-test=trade-plan]", WAIT);
    d.click_css("[data-test=edit-dialog] [data-test=trade-confirm]", WAIT);
    d.wait("the edit form to close", WAIT, |d| {
        let open = d.exec("return document.querySelector('[data-test=edit-box]').childElementCount", vec![]).ok()?;
        (open == json!(0)).then_some(())
    });
    d.wait("the drift legend at 3 pp", WAIT, |d| {
        d.text_css("[data-test=bot-view]").filter(|t| t.contains("threshold (3.00 pp)"))
    });

    // 11. Stop, converting everything to USDT.
    d.click_css("[data-test=stop]", WAIT);
    d.wait_el("[data-test=stop-dialog]", WAIT);
    d.click_css("[data-test=stop-to-usdt]", WAIT);
    d.screenshot("15-stop-dialog");
    d.click_css("[data-test=stop-confirm]", WAIT);
    d.wait("the stopped badge", WAIT, |d| {
        d.text_css("[data-test=bot-state]").filter(|t| t.to_lowercase().contains("stopped"))
    });
    d.wait("the stop event", WAIT, |d| d.find("[data-test=events] [data-test=event-stop]"));
    d.screenshot_full("16-bot-stopped");

    // The overview lists it as stopped.
    d.click_css("[data-test=nav-bots]", WAIT);
    d.wait("the stopped bot in the list", WAIT, |d| {
        d.text_css("[data-test=bots-rows]")
            .filter(|t| t.contains("browser test") && t.to_lowercase().contains("stopped"))
    });
    d.screenshot("17-bots");
    // Settings: an API token, shown once.
    d.click_css("[data-test=nav-settings]", WAIT);
    d.type_css("[data-test=token-label]", "browser", WAIT);
    d.click_css("[data-test=token-create]", WAIT);
    d.wait("the new token", WAIT, |d| d.text_css("[data-test=token-value]").filter(|t| t.len() >= 16));
    d.screenshot("18-settings");

    // A preset prefills the wizard; the backtest runs the wizard's configuration.
    d.click_css("[data-test=nav-new]", WAIT);
    d.click_css("[data-test=presets-toggle]", WAIT);
    d.wait_el("[data-test^=preset-use-]", WAIT);
    d.screenshot("19-wizard-presets");
    d.click_css("[data-test^=preset-use-]", WAIT);
    d.wait("the preset's coins", WAIT, |d| (d.find_all("[data-test=coin-chips] .chip").len() >= 2).then_some(()));
    d.screenshot("19-wizard-preset-loaded");
    d.click_css("[data-test=nav-backtest]", WAIT);
    d.click_css("[data-test=backtest-src-wizard]", WAIT);
    d.exec(
        "const set = (sel, v) => { const e = document.querySelector(sel); e.value = v; e.dispatchEvent(new Event('change')); };
         set('[data-test=backtest-start]', '2024-01-01'); set('[data-test=backtest-end]', '2024-06-30');",
        vec![],
    )
    .unwrap();
    d.click_css("[data-test=backtest-run]", WAIT);
    d.wait("the backtest summary", 300, |d| d.find("[data-test=backtest-summary]"));
    d.wait("the report frame", WAIT, |d| d.find("iframe[data-test=backtest-report]"));
    std::thread::sleep(Duration::from_secs(2));
    d.screenshot_full("20-backtest");

    // At most 12 coins: the 13th is refused with a message.
    d.click_css("[data-test=nav-new]", WAIT);
    d.wait_el("[data-test=coin-search]", WAIT);
    let mut refusal = None;
    for c in &offered {
        if refusal.is_some() {
            break;
        }
        if d.find(&format!("[data-test=chip-{c}]")).is_some() {
            continue;
        }
        d.click_css(&format!("[data-test=coin-list] [data-test=coin-{c}]"), WAIT);
        refusal = d.text_css("[data-test=coin-error]").filter(|t| !t.is_empty());
    }
    let refusal = refusal.expect("a 13th coin is refused");
    assert!(refusal.contains("12"), "{refusal}");
    assert_eq!(d.find_all("[data-test=coin-chips] .chip").len(), 12);
    d.screenshot("21-wizard-13th-coin");

    // Log out: back to the login form.
    d.click_css("[data-test=nav-settings]", WAIT);
    d.click_css("[data-test=logout]", WAIT);
    d.wait_el("[data-test=login-password]", WAIT);
}
