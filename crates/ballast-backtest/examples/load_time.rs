//! Times loading the bundled 4h files: `cargo run --release -p ballast-backtest --example load_time`.

use std::path::PathBuf;
use std::time::Instant;

use ballast_backtest::{Interval, load_dir};
use ballast_core::Asset;

fn main() {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/binance-spot"));
    let assets: Vec<Asset> = ["ADA", "BNB", "BTC", "DOGE", "DOT", "ETH", "LINK", "LTC", "SOL", "TRX", "XRP"]
        .iter()
        .map(|s| Asset::new(s).unwrap())
        .collect();
    let mut best = f64::INFINITY;
    for _ in 0..10 {
        let started = Instant::now();
        let series = load_dir(&dir, &assets, Interval::H4).expect("bundled data loads");
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        best = best.min(ms);
        std::hint::black_box(series);
    }
    println!("11 4h files: best of 10 loads {best:.1} ms");
}
