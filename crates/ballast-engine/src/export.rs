//! Every fill and cash flow of a bot as a CSV file that a tax tool imports, in one of
//! two documented formats ([`CsvFormat`]). Rows are in the order of
//! [`crate::costbasis`] (by time; at one instant money in, fills, money out), so the
//! tool replays what ballast replays.
//!
//! **Koinly, "Universal" template** (Koinly's help centre, "How to create a custom CSV
//! file with your data": one file for deposits, withdrawals and trades; dates in UTC;
//! a withdrawal is what was sent): the columns `Date, Sent Amount, Sent Currency,
//! Received Amount, Received Currency, Fee Amount, Fee Currency, Net Worth Amount, Net
//! Worth Currency, Label, Description, TxHash`. A buy sends the notional in the quote
//! and receives the quantity; a sell the reverse; a deposit only receives, a withdrawal
//! only sends; the fee is its own column in the asset it was charged in (not taken out
//! of the amounts); the net worth is the notional (a cash flow: its recorded value);
//! the date is `YYYY-MM-DD HH:MM UTC`; the label is empty (a plain trade, deposit or
//! withdrawal); `TxHash` is unique per row (a fill: `client id:trade id`; a cash flow:
//! `ballast-{bot}-flow-{n}`), so importing the file twice adds nothing.
//!
//! **CoinTracking, CSV import** (CoinTracking's import template): the columns `Type,
//! Buy Amount, Buy Currency, Sell Amount, Sell Currency, Fee, Fee Currency, Exchange,
//! Trade-Group, Comment, Date`; `Type` is `Trade`, `Deposit` or `Withdrawal`; "buy" is
//! what came in, "sell" what left (the same amounts as Koinly's received and sent);
//! the fee in its own columns; `Exchange` the bot's venue; `Trade-Group` `ballast bot
//! {id}`; the comment carries the row's id; the date `YYYY-MM-DD HH:MM:SS` in UTC.
//!
//! Sources (looked up 2026-12-03): Koinly's template article
//! <https://support.koinly.io/en/articles/9489976-how-to-create-a-custom-csv-file-with-your-data>
//! (the Simple, Trades and Universal templates; dates in UTC as `YYYY-MM-DD HH:MM UTC`;
//! optional Net Worth, Label, Description and TxHash columns); the Universal header as
//! converters to it write it (e.g. adastry.io's "Koinly format" export); CoinTracking's
//! import columns as the brief gives them and as CoinTracking import writers name them
//! (`Type`, `Buy Amount`, `Buy Currency`, `Sell Amount`, `Sell Currency`, ...; Hackage's
//! `cointracking-imports`). The files have not been imported into either service from
//! here (no account); the tests check the header and that each file reads back to the
//! ledger.
//!
//! In both, an asset's balance is the sum of what it received less what it sent less
//! the fees charged in it: exactly the bot's ledger (`ballast_engine::ledger::holdings`),
//! which the tests check by reading the file back.

use std::fmt;
use std::str::FromStr;

use ballast_core::planner::Side;
use ballast_core::{Asset, Timestamp};
use ballast_store::{BotId, CashFlow, FillRow};
use rust_decimal::Decimal;

/// A file format of [`transactions_csv`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvFormat {
    /// Koinly's "Universal" template.
    Koinly,
    /// CoinTracking's CSV import.
    CoinTracking,
}

impl CsvFormat {
    /// Every format.
    pub const ALL: [CsvFormat; 2] = [CsvFormat::Koinly, CsvFormat::CoinTracking];

    /// Its name (`koinly`, `cointracking`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Koinly => "koinly",
            Self::CoinTracking => "cointracking",
        }
    }

    /// The header row's columns.
    pub fn header(self) -> &'static [&'static str] {
        match self {
            Self::Koinly => &[
                "Date",
                "Sent Amount",
                "Sent Currency",
                "Received Amount",
                "Received Currency",
                "Fee Amount",
                "Fee Currency",
                "Net Worth Amount",
                "Net Worth Currency",
                "Label",
                "Description",
                "TxHash",
            ],
            Self::CoinTracking => &[
                "Type",
                "Buy Amount",
                "Buy Currency",
                "Sell Amount",
                "Sell Currency",
                "Fee",
                "Fee Currency",
                "Exchange",
                "Trade-Group",
                "Comment",
                "Date",
            ],
        }
    }
}

impl fmt::Display for CsvFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CsvFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s.trim().to_ascii_lowercase())
            .ok_or_else(|| format!("export format {s:?}: expected \"koinly\" or \"cointracking\""))
    }
}

/// One row before formatting: what came in, what left, the fee.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    /// When.
    pub time: Timestamp,
    /// `Trade`, `Deposit` or `Withdrawal`.
    pub kind: &'static str,
    /// What left the bot.
    pub sent: Option<(Decimal, Asset)>,
    /// What came in.
    pub received: Option<(Decimal, Asset)>,
    /// The fee, in the asset it was charged in.
    pub fee: Option<(Decimal, Asset)>,
    /// Its value in quote (a fill's notional, a cash flow's recorded value).
    pub worth: Decimal,
    /// A sentence for people.
    pub description: String,
    /// Unique per row.
    pub id: String,
}

/// Every fill and cash flow of a bot as transactions, in replay order.
pub fn transactions(bot: BotId, quote: &Asset, flows: &[CashFlow], fills: &[FillRow]) -> Vec<Transaction> {
    let mut rows: Vec<(Timestamp, u8, usize, Transaction)> = Vec::with_capacity(flows.len() + fills.len());
    for (i, f) in flows.iter().enumerate() {
        let qty = f.qty.0.abs().normalize();
        let (kind, rank, sent, received) = if f.qty.0 >= Decimal::ZERO {
            ("Deposit", 0, None, Some((qty, f.asset.clone())))
        } else {
            ("Withdrawal", 2, Some((qty, f.asset.clone())), None)
        };
        rows.push((
            f.time,
            rank,
            i,
            Transaction {
                time: f.time,
                kind,
                sent,
                received,
                fee: None,
                worth: f.value.0.abs().normalize(),
                description: format!("ballast bot {bot}: {} ({})", kind.to_lowercase(), f.note),
                id: format!("ballast-{bot}-flow-{i}"),
            },
        ));
    }
    for (i, r) in fills.iter().enumerate() {
        let f = &r.fill;
        let notional = (f.qty.0 * f.price.0).normalize();
        let base = (f.qty.0.normalize(), r.base.clone());
        let quote_leg = (notional, r.quote.clone());
        let (sent, received) = match r.side {
            Side::Buy => (quote_leg, base),
            Side::Sell => (base, quote_leg),
        };
        rows.push((
            f.time,
            1,
            i,
            Transaction {
                time: f.time,
                kind: "Trade",
                sent: Some(sent),
                received: Some(received),
                fee: (!f.fee.0.is_zero()).then(|| (f.fee.0.normalize(), f.fee_asset.clone())),
                worth: notional,
                description: format!(
                    "ballast bot {bot}: {} {} {} at {} {quote}",
                    r.side,
                    f.qty.0.normalize(),
                    r.base,
                    f.price.0.normalize()
                ),
                id: format!("{}:{}", r.client_id.as_str(), f.trade_id),
            },
        ));
    }
    rows.sort_by_key(|(t, rank, i, _)| (*t, *rank, *i));
    rows.into_iter().map(|(_, _, _, t)| t).collect()
}

/// The CSV file (header and rows, CRLF line ends as RFC 4180) of a bot's fills and cash
/// flows in `format`; `venue` names the exchange column of CoinTracking.
pub fn transactions_csv(
    format: CsvFormat,
    bot: BotId,
    venue: &str,
    quote: &Asset,
    flows: &[CashFlow],
    fills: &[FillRow],
) -> String {
    let mut out = String::new();
    line(&mut out, format.header().iter().map(|s| s.to_string()));
    let amount = |x: &Option<(Decimal, Asset)>| x.as_ref().map(|(q, _)| q.to_string()).unwrap_or_default();
    let asset = |x: &Option<(Decimal, Asset)>| x.as_ref().map(|(_, a)| a.to_string()).unwrap_or_default();
    for t in transactions(bot, quote, flows, fills) {
        let cells: Vec<String> = match format {
            CsvFormat::Koinly => vec![
                date(t.time, false),
                amount(&t.sent),
                asset(&t.sent),
                amount(&t.received),
                asset(&t.received),
                amount(&t.fee),
                asset(&t.fee),
                t.worth.to_string(),
                quote.to_string(),
                String::new(),
                t.description,
                t.id,
            ],
            CsvFormat::CoinTracking => vec![
                t.kind.to_string(),
                amount(&t.received),
                asset(&t.received),
                amount(&t.sent),
                asset(&t.sent),
                amount(&t.fee),
                asset(&t.fee),
                venue.to_string(),
                format!("ballast bot {bot}"),
                format!("{} [{}]", t.description, t.id),
                date(t.time, true),
            ],
        };
        line(&mut out, cells.into_iter());
    }
    out
}

fn line(out: &mut String, cells: impl Iterator<Item = String>) {
    let cells: Vec<String> = cells.map(|c| quoted(&c)).collect();
    out.push_str(&cells.join(","));
    out.push_str("\r\n");
}

/// A CSV cell: quoted (inner quotes doubled) when it holds a comma, a quote or a line end.
fn quoted(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// `YYYY-MM-DD HH:MM UTC` (Koinly) or `YYYY-MM-DD HH:MM:SS` (CoinTracking), in UTC.
pub fn date(t: Timestamp, seconds: bool) -> String {
    let secs = t.0.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil(days);
    let (hh, mm, ss) = (rem / 3600, rem % 3600 / 60, rem % 60);
    if seconds {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02}")
    } else {
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02} UTC")
    }
}

/// The proleptic Gregorian date of a day counted from 1970-01-01, by 400-year eras of
/// 146,097 days (each era's years counted from March, so the leap day ends the year).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468; // days from 0000-03-01
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153; // March = 0
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::{Notional, Price, Qty};
    use ballast_exchange::{ClientOrderId, Fill};
    use rust_decimal_macros::dec;
    use std::collections::BTreeMap;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    #[test]
    fn dates_in_utc() {
        assert_eq!(date(Timestamp(0), true), "1970-01-01 00:00:00");
        // 2024-02-29 23:59:59 UTC, a leap day.
        assert_eq!(date(Timestamp(1_709_251_199_000), true), "2024-02-29 23:59:59");
        assert_eq!(date(Timestamp(1_709_251_200_000), false), "2024-03-01 00:00 UTC");
        assert_eq!(date(Timestamp(951_782_400_000), true), "2000-02-29 00:00:00");
        assert_eq!(date(Timestamp(-1000), true), "1969-12-31 23:59:59");
    }

    #[test]
    fn cells_with_commas_or_quotes_are_quoted() {
        assert_eq!(quoted("a,b"), "\"a,b\"");
        assert_eq!(quoted("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("plain"), "plain");
    }

    /// Reads a file back: the balance of each asset (received - sent - fee).
    fn balances(format: CsvFormat, csv: &str) -> BTreeMap<String, Decimal> {
        let mut lines = csv.split("\r\n").filter(|l| !l.is_empty());
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(header, format.header());
        let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
        let (inc, out, fee) = match format {
            CsvFormat::Koinly => (
                ("Received Amount", "Received Currency"),
                ("Sent Amount", "Sent Currency"),
                ("Fee Amount", "Fee Currency"),
            ),
            CsvFormat::CoinTracking => {
                (("Buy Amount", "Buy Currency"), ("Sell Amount", "Sell Currency"), ("Fee", "Fee Currency"))
            }
        };
        let mut b: BTreeMap<String, Decimal> = BTreeMap::new();
        for l in lines {
            // The test rows hold no quoted cell before the last columns that matter.
            let cells: Vec<&str> = l.split(',').collect();
            for ((amt, cur), sign) in [(inc, Decimal::ONE), (out, -Decimal::ONE), (fee, -Decimal::ONE)] {
                let q = cells[col(amt)];
                if !q.is_empty() {
                    *b.entry(cells[col(cur)].to_string()).or_default() += sign * q.parse::<Decimal>().unwrap();
                }
            }
        }
        b
    }

    #[test]
    fn both_files_read_back_to_the_ledger() {
        let flows = vec![
            CashFlow {
                bot: 7,
                time: Timestamp(0),
                asset: a("USDT"),
                qty: Qty(dec!(1000)),
                value: Notional(dec!(1000)),
                note: "create".into(),
            },
            CashFlow {
                bot: 7,
                time: Timestamp(5000),
                asset: a("USDT"),
                qty: Qty(dec!(-400.5)),
                value: Notional(dec!(-400.5)),
                note: "stop".into(),
            },
        ];
        let fill = |t: i64, side, qty, price, fee, fee_asset: &str| FillRow {
            bot: 7,
            client_id: ClientOrderId::new(&format!("bl7-{t}-0")).unwrap(),
            base: a("BTC"),
            quote: a("USDT"),
            side,
            fill: Fill {
                trade_id: format!("t{t}"),
                qty: Qty(qty),
                price: Price(price),
                fee: Qty(fee),
                fee_asset: a(fee_asset),
                time: Timestamp(t),
            },
        };
        let fills = vec![
            fill(1000, Side::Buy, dec!(0.01), dec!(50000), dec!(0.00001), "BTC"),
            fill(2000, Side::Sell, dec!(0.004), dec!(60000), dec!(0.24), "USDT"),
        ];
        let held = crate::ledger::holdings(&flows, &fills);
        for f in CsvFormat::ALL {
            let csv = transactions_csv(f, 7, "paper", &a("USDT"), &flows, &fills);
            assert_eq!(csv.split("\r\n").filter(|l| !l.is_empty()).count(), 5, "{f}: header and four rows\n{csv}");
            let b = balances(f, &csv);
            for (asset, q) in &held {
                assert_eq!(b.get(asset.as_str()).copied().unwrap_or_default(), q.0, "{f} {asset}\n{csv}");
            }
        }
        let k = transactions_csv(CsvFormat::Koinly, 7, "paper", &a("USDT"), &flows, &fills);
        let rows: Vec<&str> = k.split("\r\n").collect();
        assert_eq!(
            rows[1],
            "1970-01-01 00:00 UTC,,,1000,USDT,,,1000,USDT,,ballast bot 7: deposit (create),ballast-7-flow-0"
        );
        assert_eq!(
            rows[2],
            "1970-01-01 00:00 UTC,500,USDT,0.01,BTC,0.00001,BTC,500,USDT,,ballast bot 7: buy 0.01 BTC at 50000 USDT,bl7-1000-0:t1000"
        );
        assert_eq!(
            rows[4],
            "1970-01-01 00:00 UTC,400.5,USDT,,,,,400.5,USDT,,ballast bot 7: withdrawal (stop),ballast-7-flow-1"
        );
        let c = transactions_csv(CsvFormat::CoinTracking, 7, "paper", &a("USDT"), &flows, &fills);
        let rows: Vec<&str> = c.split("\r\n").collect();
        assert_eq!(
            rows[3],
            "Trade,240,USDT,0.004,BTC,0.24,USDT,paper,ballast bot 7,ballast bot 7: sell 0.004 BTC at 60000 USDT [bl7-2000-0:t2000],1970-01-01 00:00:02"
        );
        assert!(rows[1].starts_with("Deposit,1000,USDT,,,,,paper,"), "{}", rows[1]);
        assert!(rows[4].starts_with("Withdrawal,,,400.5,USDT,,,paper,"), "{}", rows[4]);
    }

    #[test]
    fn a_format_is_named_or_refused() {
        assert_eq!("Koinly".parse::<CsvFormat>(), Ok(CsvFormat::Koinly));
        assert!("csv".parse::<CsvFormat>().unwrap_err().contains("\"csv\""));
    }
}
