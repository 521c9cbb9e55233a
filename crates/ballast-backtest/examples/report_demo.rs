//! Writes a backtest report from synthetic random-walk data:
//! `cargo run -p ballast-backtest --example report_demo -- [assets] [bars] [rebalance_every] [out.html]`
//! (defaults: 2 assets, 2,000 daily bars, every 40 bars, `/tmp/report.html`).

use ballast_backtest::report::{ReportInput, render};

/// A small deterministic generator (LCG), uniform in `[0, 1)`.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Roughly normal: sum of 12 uniforms minus 6.
    fn normal(&mut self) -> f64 {
        (0..12).map(|_| self.next()).sum::<f64>() - 6.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let k: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let bars: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(2000);
    let every: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(40);
    let out = args.get(4).cloned().unwrap_or_else(|| "/tmp/report.html".into());

    let names = ["BTC", "ETH", "SOL", "BNB", "XRP", "ADA", "DOGE", "DOT", "LINK", "LTC", "TRX", "AVAX", "ATOM"];
    let assets: Vec<String> = (0..k).map(|i| names.get(i).map_or(format!("A{i}"), |s| s.to_string())).collect();
    let day = 86_400_000i64;
    let start = 1_577_836_800_000i64; // 2020-01-01
    let step = if bars > 5000 { day / 6 } else { day };
    let times: Vec<i64> = (0..bars as i64).map(|i| start + i * step).collect();

    let mut rng = Lcg(42);
    let mut prices = vec![vec![0.0; k]; bars];
    for (j, p) in prices[0].iter_mut().enumerate() {
        *p = 10.0 + j as f64;
    }
    let scale = step as f64 / day as f64;
    for i in 1..bars {
        let prev = prices[i - 1].clone();
        for (j, (p, last)) in prices[i].iter_mut().zip(&prev).enumerate() {
            let drift = (0.0004 + 0.0001 * j as f64) * scale;
            let vol = (0.025 + 0.004 * j as f64) * scale.sqrt();
            *p = last * (drift + vol * rng.normal()).exp();
        }
    }

    let target = 1.0 / k as f64;
    let start_value = 10_000.0;
    let hodl_units: Vec<f64> = (0..k).map(|j| start_value * target / prices[0][j]).collect();
    let mut units = hodl_units.clone();
    let (mut values, mut hodl, mut weights, mut rebalances) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, px) in prices.iter().enumerate() {
        let mut v: f64 = units.iter().zip(px).map(|(u, p)| u * p).sum();
        if i > 0 && every > 0 && i % every == 0 {
            v *= 0.999;
            units = px.iter().map(|p| v * target / p).collect();
            rebalances.push(i);
        }
        values.push(v);
        hodl.push(hodl_units.iter().zip(px).map(|(u, p)| u * p).sum());
        weights.extend(units.iter().zip(px).map(|(u, p)| u * p / v));
    }

    let excess = values[bars - 1] / hodl[bars - 1] - 1.0;
    let m = |l: &str, a: String, b: String| (l.to_string(), a, b);
    let metrics = vec![
        m("Final value", format!("{:.0} USDT", values[bars - 1]), format!("{:.0} USDT", hodl[bars - 1])),
        m("CAGR", "41.2 %".into(), "35.0 %".into()),
        m("Volatility (ann.)", "62.1 %".into(), "70.4 %".into()),
        m("Sharpe", "0.91".into(), "0.78".into()),
        m("Max drawdown", "-71.3 %".into(), "-77.9 %".into()),
        m("Rebalances", rebalances.len().to_string(), "0".into()),
        m("Fees paid", "312.40 USDT".into(), "10.00 USDT".into()),
        m("Turnover", "4.21x".into(), "1.00x".into()),
        m("Bars", bars.to_string(), bars.to_string()),
    ];
    let config = vec![
        ("strategy".to_string(), format!("periodic, every {every} bars")),
        ("weighting".to_string(), "equal".to_string()),
        ("fee".to_string(), "0.1 %".to_string()),
        ("note".to_string(), "<script>alert(1)</script> & friends".to_string()),
    ];
    let notes = vec!["Skipped 3 legs below the 10 USDT minimum notional.".to_string()];
    let input = ReportInput {
        title: "Backtest: equal weight, periodic rebalancing",
        assets: &assets,
        times: &times,
        values: &values,
        hodl_values: &hodl,
        weights: &weights,
        rebalance_bars: &rebalances,
        metrics: &metrics,
        excess_vs_hodl: excess,
        config: &config,
        notes: &notes,
        quote: "USDT",
    };
    let html = render(&input);
    std::fs::write(&out, &html).expect("write report");
    println!("wrote {out}: {} bytes", html.len());
}
