//! Market-cap snapshot files: parsing, duplicates, and errors naming file and line.

use std::io::Write;

use ballast_backtest::{DataError, load_snapshots, parse_date};
use ballast_core::Asset;
use flate2::Compression;
use flate2::write::GzEncoder;
use rust_decimal_macros::dec;
use tempfile::TempDir;

const HEADER: &str =
    "Rank,Name,Symbol,Market Cap,Price,Circulating Supply,Volume (24h),% 1h,% 24h,% 7d,snapshot_date\n";

fn rows() -> String {
    format!(
        "{HEADER}1,Bitcoin,BTC,100.5,10,10.05,1,0,0,0,20210101
2,\"Ether, the coin\",ETH,50,5,10,1,0,0,0,20210101
3,Small,DUP,1,1,1,1,0,0,0,20210101
4,Big,DUP,2,1,2,1,0,0,0,20210101
5,Baby Doge Coin,BabyDoge,1,9.3e-05,1.4378879957330947e+17,1,0,0,0,20210101
1,Bitcoin,BTC,200,20,10,1,0,0,0,20210201
"
    )
}

fn asset(s: &str) -> Asset {
    Asset::new(s).unwrap()
}

#[test]
fn parses_plain_and_gzip_and_keeps_the_bigger_duplicate() {
    let dir = TempDir::new().unwrap();
    let plain = dir.path().join("caps.csv");
    std::fs::write(&plain, rows()).unwrap();
    let gz = dir.path().join("caps.bin");
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(rows().as_bytes()).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();

    for p in [plain, gz] {
        let caps = load_snapshots(&p).unwrap();
        assert_eq!(caps.len(), 2);
        let (d, m) = caps
            .at(parse_date("2021-01-31 23:59").unwrap(), &[asset("BTC"), asset("ETH"), asset("DUP"), asset("babydoge")])
            .unwrap();
        assert_eq!(d, parse_date("2021-01-01").unwrap());
        assert_eq!(m[&asset("BTC")], dec!(100.5));
        assert_eq!(m[&asset("ETH")], dec!(50));
        assert_eq!(m[&asset("DUP")], dec!(2));
        assert_eq!(m[&asset("BABYDOGE")], dec!(1));
        let snap = caps.snapshot_at(d).unwrap();
        assert_eq!(snap.get(&asset("ETH")).unwrap().name, "Ether, the coin");
        assert_eq!(snap.get(&asset("BABYDOGE")).unwrap().circulating_supply, dec!(143788799573309470));
        assert_eq!(snap.get(&asset("BABYDOGE")).unwrap().price, dec!(0.000093));
        assert_eq!(snap.get(&asset("BTC")).unwrap().line, 2);
        assert_eq!(caps.duplicates().len(), 1);
        assert_eq!((caps.duplicates()[0].kept.line, caps.duplicates()[0].dropped.line), (5, 4));
        let (d, m) = caps.at(parse_date("2030-01-01").unwrap(), &[asset("BTC")]).unwrap();
        assert_eq!((d, m[&asset("BTC")]), (parse_date("2021-02-01").unwrap(), dec!(200)));
        let msg = caps.at(parse_date("2021-03-01").unwrap(), &[asset("ETH")]).unwrap_err().to_string();
        assert!(
            msg.contains("ETH is not in the market-cap snapshot of 2021-02-01 (the latest on or before 2021-03-01)"),
            "{msg}"
        );
    }
}

#[test]
fn errors_name_file_and_line() {
    let dir = TempDir::new().unwrap();
    let check = |name: &str, text: String, line: usize, want: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        let e = load_snapshots(&p).unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with(&format!("{}, line {line}: ", p.display())), "{msg}");
        assert!(msg.contains(want), "{msg}");
    };
    let base = rows();
    check("cap.csv", base.replace("100.5", "lots"), 2, "Market Cap is not a number: \"lots\"");
    check("neg.csv", base.replace(",50,5,", ",-50,5,"), 3, "Market Cap must be zero or more, found -50");
    check("date.csv", base.replace("20210201", "20210230"), 7, "invalid timestamp \"20210230\"");
    check("rank.csv", base.replace("\n4,Big", "\nfour,Big"), 5, "Rank is not a number: \"four\"");
    check("short.csv", base.replace(",1,0,0,0,20210201", ""), 7, "missing column snapshot_date");
    check("hdr.csv", base.replace("Market Cap", "Cap"), 1, "missing column Market Cap");
    check("quote.csv", format!("{HEADER}1,\"Bitcoin,BTC,1,1,1,1,0,0,0,20210101\n"), 2, "missing column");
    check("symbol.csv", base.replace(",Small,DUP,", ",Small,,"), 4, "Symbol is empty");
    check("empty.csv", String::new(), 1, "empty file");
    check("header_only.csv", HEADER.to_string(), 2, "empty file");
    let p = dir.path().join("missing.csv");
    assert!(matches!(load_snapshots(&p), Err(DataError::Io { .. })));
}

/// Deterministic garbage: mutations of a valid file never make the loader panic.
#[test]
fn never_panics_on_mutated_input() {
    let dir = TempDir::new().unwrap();
    let p = dir.path().join("fuzz.csv");
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed as usize
    };
    let alphabet = b"0123456789,.-\"eE \n\r\xffBTC";
    let base = rows().into_bytes();
    let mut ok = 0;
    for _ in 0..1500 {
        let mut bytes = base.clone();
        for _ in 0..next() % 4 + 1 {
            let i = next() % bytes.len();
            match next() % 3 {
                0 => bytes[i] = alphabet[next() % alphabet.len()],
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, alphabet[next() % alphabet.len()]),
            }
        }
        std::fs::write(&p, &bytes).unwrap();
        if let Ok(caps) = load_snapshots(&p) {
            ok += 1;
            let _ = caps.at(parse_date("2021-01-15").unwrap(), &[asset("BTC")]);
        }
    }
    assert!(ok > 0);
}
