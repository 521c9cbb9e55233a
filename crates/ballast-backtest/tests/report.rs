//! The HTML report: self-contained, escaped, small, and robust to bad input.

use ballast_backtest::report::{ReportInput, render};

/// Owned data behind a [`ReportInput`].
struct Data {
    assets: Vec<String>,
    times: Vec<i64>,
    values: Vec<f64>,
    hodl: Vec<f64>,
    weights: Vec<f64>,
    rebalances: Vec<usize>,
    metrics: Vec<(String, String, String)>,
    config: Vec<(String, String)>,
    notes: Vec<String>,
}

impl Data {
    /// `k` random-walk assets over `bars` 4h bars, equal weight, rebalanced every `every` bars.
    fn synthetic(k: usize, bars: usize, every: usize) -> Data {
        let mut seed = 7u64;
        let mut rnd = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        let assets: Vec<String> = (0..k).map(|i| format!("A{i}")).collect();
        let times: Vec<i64> = (0..bars as i64).map(|i| 1_500_000_000_000 + i * 14_400_000).collect();
        let mut prices: Vec<f64> = (0..k).map(|j| 1.0 + j as f64).collect();
        let target = 1.0 / k as f64;
        let mut units: Vec<f64> = prices.iter().map(|p| 1000.0 * target / p).collect();
        let hodl_units = units.clone();
        let (mut values, mut hodl, mut weights, mut rebalances) = (vec![], vec![], vec![], vec![]);
        for i in 0..bars {
            for p in &mut prices {
                *p *= (0.02 * rnd()).exp();
            }
            let v: f64 = units.iter().zip(&prices).map(|(u, p)| u * p).sum();
            if i > 0 && i % every == 0 {
                units = prices.iter().map(|p| v * target / p).collect();
                rebalances.push(i);
            }
            values.push(v);
            hodl.push(hodl_units.iter().zip(&prices).map(|(u, p)| u * p).sum());
            weights.extend(units.iter().zip(&prices).map(|(u, p)| u * p / v));
        }
        let row = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        Data {
            assets,
            times,
            values,
            hodl,
            weights,
            rebalances,
            metrics: vec![
                row("Final value", "14,203 USDT", "11,870 USDT"),
                row("CAGR", "12.1 %", "9.0 %"),
                row("Volatility", "55.0 %", "61.2 %"),
                row("Sharpe", "0.81", "0.66"),
                row("Max drawdown", "-61.0 %", "-70.2 %"),
                row("Rebalances", "50", "0"),
                row("Fees paid", "120.50 USDT", "1.00 USDT"),
                row("Turnover", "3.10x", "1.00x"),
                row("Bars", "2000", "2000"),
            ],
            config: vec![
                ("strategy".into(), "periodic".into()),
                ("weighting_method".into(), "equal".into()),
                ("evil".into(), "<script>alert('x')</script> & \"quotes\"".into()),
            ],
            notes: vec!["Skipped 2 legs below the minimum notional".into()],
        }
    }

    fn input(&self) -> ReportInput<'_> {
        ReportInput {
            title: "Test report",
            assets: &self.assets,
            times: &self.times,
            values: &self.values,
            hodl_values: &self.hodl,
            weights: &self.weights,
            rebalance_bars: &self.rebalances,
            metrics: &self.metrics,
            excess_vs_hodl: 0.197,
            config: &self.config,
            notes: &self.notes,
            quote: "USDT",
        }
    }
}

/// The `d` attributes of every `<path>`.
fn path_data(html: &str) -> Vec<&str> {
    html.split("<path")
        .skip(1)
        .filter_map(|p| p.split_once(" d=\"").map(|(_, rest)| rest.split('"').next().unwrap_or("")))
        .collect()
}

/// Checks what every report must satisfy, whatever the input.
fn check_well_formed(html: &str) {
    assert!(html.starts_with("<!doctype html>"));
    assert!(html.trim_end().ends_with("</html>"));
    let lower = html.to_ascii_lowercase();
    for bad in ["http://", "https://", "<script src", "<link", "<img", "<iframe", "@import", "url("] {
        assert!(!lower.contains(bad), "report contains {bad:?}");
    }
    for d in path_data(html) {
        assert!(
            d.chars().all(|c| c.is_ascii_digit() || " .-MLHVZhv".contains(c)),
            "unexpected path data: {}",
            &d[..d.len().min(200)]
        );
    }
    // Every numeric attribute is finite.
    for bad in ["NaN", "inf"] {
        for attr in ["d=\"", "x=\"", "y=\"", "cx=\"", "cy=\"", "x1=\"", "y1=\"", "width=\"", "height=\""] {
            for part in html.split(attr).skip(1) {
                let value = part.split('"').next().unwrap_or("");
                assert!(!value.contains(bad), "{attr}{value}");
            }
        }
    }
    // Exactly one inline script plus the inert JSON data block.
    assert_eq!(lower.matches("<script").count(), 2, "scripts");
    assert_eq!(lower.matches("</script>").count(), 2, "script ends");
}

#[test]
fn report_is_self_contained_and_complete() {
    let data = Data::synthetic(2, 2000, 40);
    let html = render(&data.input());
    check_well_formed(&html);
    for (label, s, h) in &data.metrics {
        assert!(html.contains(label.as_str()), "metric label {label}");
        assert!(html.contains(s.as_str()) && html.contains(h.as_str()), "metric values of {label}");
    }
    for (key, _) in &data.config {
        assert!(html.contains(key.as_str()), "config key {key}");
    }
    assert!(html.contains("Skipped 2 legs below the minimum notional"));
    assert!(html.contains("Excess vs HODL"));
    assert!(html.contains("+19.7 %"));
    assert!(html.contains("Test report"));
    // Both scales are drawn; the toggle is there.
    assert!(html.contains("<g class=\"lin\">") && html.contains("<g class=\"log\">"));
    assert!(html.contains("id=\"sc-log\""));
    // Date axis labels for a 2017-2018 range of 4h bars.
    assert!(html.contains(">2018<") || html.contains("2018</text>"));
    // One legend entry per asset in the weights chart.
    assert!(html.contains(">A0</li>") && html.contains(">A1</li>"));
    // 49 rebalances: drawn as dots on the line too.
    assert_eq!(html.matches("<circle").count(), 2 * data.rebalances.len());
}

#[test]
fn every_string_is_escaped() {
    let mut data = Data::synthetic(2, 50, 10);
    data.assets[0] = "</script><script>alert(1)</script>".into();
    data.metrics.push(("<b>bold</b>".into(), "<i>".into(), "&".into()));
    data.notes.push("<script>alert('note')</script>".into());
    let mut input = data.input();
    input.title = "<script>alert('title')</script>";
    input.quote = "<U>";
    let html = render(&input);
    check_well_formed(&html);
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("<b>bold"));
    assert!(!html.contains("<U>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quotes&quot;"));
    assert!(html.contains("&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;"));
    // In the JSON data block, `<` is escaped so the asset name cannot close the script.
    assert!(html.contains("\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
}

#[test]
fn large_report_stays_small() {
    let data = Data::synthetic(11, 13_000, 6);
    let html = render(&data.input());
    check_well_formed(&html);
    assert!(html.len() < 2_000_000, "{} bytes", html.len());
    // Lines are downsampled: no path has anywhere near 13,000 points.
    for d in path_data(&html) {
        assert!(d.matches('L').count() <= 2 * 1200 + 4, "{} points", d.matches('L').count());
    }
    // Thousands of rebalances: no dots, one compact strip.
    assert!(!html.contains("<circle"));
}

#[test]
fn empty_input_renders() {
    let input = ReportInput {
        title: "",
        assets: &[],
        times: &[],
        values: &[],
        hodl_values: &[],
        weights: &[],
        rebalance_bars: &[],
        metrics: &[],
        excess_vs_hodl: f64::NAN,
        config: &[],
        notes: &[],
        quote: "",
    };
    let html = render(&input);
    check_well_formed(&html);
    assert!(html.contains("No finite"));
    assert!(!html.contains("id=\"notes\""));
    assert!(!html.contains("id=\"config\""));
}

#[test]
fn mismatched_lengths_render() {
    let data = Data::synthetic(3, 300, 25);
    let mut input = data.input();
    input.values = &data.values[..200];
    input.hodl_values = &data.hodl[..250];
    input.weights = &data.weights[..100 * 3 + 2];
    input.rebalance_bars = &[5, 150, 199, 200, 10_000, usize::MAX];
    let html = render(&input);
    check_well_formed(&html);
    // The shortest series wins: 200 bars in the read-out data.
    let t = html.split("\"t\":[").nth(1).unwrap().split(']').next().unwrap();
    assert_eq!(t.split(',').count(), 200);
    // Only the three rebalances inside the 200 bars, each on both scales.
    assert_eq!(html.matches("<circle").count(), 6);
    assert!(html.contains("Rebalance (3)"));

    // More assets than weight columns, fewer times than values.
    let mut input = data.input();
    input.times = &data.times[..1];
    input.weights = &data.weights[..1];
    check_well_formed(&render(&input));
}

#[test]
fn non_finite_and_odd_values_render() {
    let mut data = Data::synthetic(2, 500, 50);
    for i in (0..500).step_by(7) {
        data.values[i] = f64::NAN;
    }
    data.hodl[3] = f64::INFINITY;
    data.hodl[4] = f64::NEG_INFINITY;
    data.hodl[5] = -10.0;
    data.hodl[6] = 0.0;
    data.weights[10] = f64::NAN;
    data.weights[11] = -0.5;
    data.weights[12] = 7.0;
    let html = render(&data.input());
    check_well_formed(&html);
    assert!(!html.contains("NaN"));

    let nan = vec![f64::NAN; 500];
    let mut input = data.input();
    input.values = &nan;
    input.hodl_values = &nan;
    input.weights = &nan;
    input.excess_vs_hodl = f64::INFINITY;
    let html = render(&input);
    check_well_formed(&html);
    assert!(!html.contains("NaN"));

    // All values negative: nothing to draw on a log scale, no panic.
    let neg: Vec<f64> = data.hodl.iter().map(|v| -v.abs() - 1.0).collect();
    let mut input = data.input();
    input.values = &neg;
    input.hodl_values = &neg;
    check_well_formed(&render(&input));
}

#[test]
fn single_bar_and_odd_times_render() {
    let data = Data::synthetic(2, 1, 10);
    let html = render(&data.input());
    check_well_formed(&html);
    assert!(!html.contains("NaN"));

    // Identical, descending and extreme times.
    let data = Data::synthetic(2, 40, 10);
    for times in [vec![0i64; 40], (0..40).rev().map(|i| i * 1000).collect(), {
        let mut t = vec![i64::MIN; 40];
        t[39] = i64::MAX;
        t
    }] {
        let mut input = data.input();
        input.times = &times;
        let html = render(&input);
        check_well_formed(&html);
    }

    // Flat values: the axis still gets a range.
    let flat = vec![100.0; 40];
    let mut input = data.input();
    input.values = &flat;
    input.hodl_values = &flat;
    check_well_formed(&render(&input));
}
