//! What the engine concludes about one of its orders from what the venue says: the
//! order-state decisions in one place. The states and the moves between them are one
//! table, [`OrderState::can_become`], which the store enforces; this module decides
//! which move an answer calls for.
//!
//! - A report is taken for an intent only if it *is* that intent's order: same pair,
//!   side and quantity, created within the intent's acceptance window (see
//!   [`foreign`]). Another order under the same client id (another installation on the
//!   account, an old data directory) is never taken for ours.
//! - "The venue does not know it" proves an order was never placed only once the
//!   venue can no longer accept its request: after its deadline
//!   ([`Intent::expires_at`], sent to the venue as Binance's `recvWindow` or Gate's
//!   `X-Gate-Exptime`) plus the venue's clock allowance (see [`when_missing`]). Before
//!   that the order stays `pending`/`unknown` and is asked about again.

use ballast_core::Timestamp;
use ballast_exchange::{OrderReport, OrderRequest};
use ballast_store::{Intent, OrderState};

/// The request an intent stands for.
pub(crate) fn request_of(intent: &Intent) -> OrderRequest {
    OrderRequest {
        client_id: intent.client_id.clone(),
        base: intent.base.clone(),
        quote: intent.quote.clone(),
        side: intent.side,
        qty: intent.qty,
        kind: intent.kind,
        expires_at: intent.expires_at,
    }
}

/// Why `r`, found under the intent's client id, is not the intent's order; `None`
/// when it is. `allowance_ms` is the venue's clock allowance.
pub(crate) fn foreign(intent: &Intent, r: &OrderReport, allowance_ms: i64) -> Option<String> {
    if r.base != intent.base || r.quote != intent.quote {
        return Some(format!("it trades {}/{}, ours {}/{}", r.base, r.quote, intent.base, intent.quote));
    }
    if r.side != intent.side {
        return Some(format!("it is a {}, ours a {}", r.side, intent.side));
    }
    if r.qty.0 != intent.qty.0 {
        return Some(format!("its quantity is {}, ours {}", r.qty, intent.qty));
    }
    if let Some(created) = r.created {
        let earliest = intent.created_at.0.saturating_sub(allowance_ms);
        let latest = deadline(intent).0.saturating_add(allowance_ms);
        if created.0 < earliest || created.0 > latest {
            return Some(format!("it was created at {} ms, outside our window {earliest}..={latest}", created.0));
        }
    }
    None
}

/// The last moment the venue may accept the intent's request. Orders written before
/// deadlines existed count from their creation.
fn deadline(intent: &Intent) -> Timestamp {
    intent.expires_at.unwrap_or(intent.created_at)
}

/// What to do with an order the venue does not know (or knows only as another's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    /// It was never placed and never will be: final.
    NotSent,
    /// The venue may still accept it: ask again later.
    Wait,
    /// The venue acknowledged it once and no longer knows it: tell the user.
    Vanished,
}

/// The move for an order in `state` that the venue does not know at `now`.
/// `allowance_ms`: the venue's clock allowance; `window_ms`: its acceptance window,
/// used for orders written before deadlines were stored.
pub(crate) fn when_missing(
    intent: &Intent,
    state: OrderState,
    now: Timestamp,
    allowance_ms: i64,
    window_ms: i64,
) -> Missing {
    let settled = match intent.expires_at {
        Some(t) => t.0,
        None => intent.created_at.0.saturating_add(window_ms),
    }
    .saturating_add(allowance_ms);
    match state {
        OrderState::Pending | OrderState::Unknown if now.0 >= settled => Missing::NotSent,
        OrderState::Pending | OrderState::Unknown => Missing::Wait,
        _ => Missing::Vanished,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ballast_core::planner::Side;
    use ballast_core::{Asset, Price, Qty};
    use ballast_exchange::{ClientOrderId, OrderKind, OrderStatus, OrderTag};
    use rust_decimal_macros::dec;

    fn intent() -> Intent {
        Intent {
            bot: 1,
            client_id: ClientOrderId::for_leg(&OrderTag::legacy(), 1, 2, 0).unwrap(),
            seq: 2,
            leg: 0,
            base: Asset::new("BTC").unwrap(),
            quote: Asset::new("USDT").unwrap(),
            side: Side::Buy,
            qty: Qty(dec!(0.001)),
            kind: OrderKind::Market,
            planned_price: Price(dec!(50000)),
            created_at: Timestamp(1_000_000),
            expires_at: Some(Timestamp(1_030_000)),
        }
    }

    fn report(i: &Intent) -> OrderReport {
        OrderReport {
            client_id: i.client_id.clone(),
            venue_id: "9".into(),
            base: i.base.clone(),
            quote: i.quote.clone(),
            side: i.side,
            qty: Qty(dec!(0.00100000)),
            status: OrderStatus::Filled,
            filled: Qty(dec!(0.001)),
            fills: vec![],
            created: Some(Timestamp(1_000_500)),
        }
    }

    #[test]
    fn a_report_is_ours_only_if_it_matches_the_intent() {
        let i = intent();
        assert_eq!(foreign(&i, &report(&i), 10_000), None, "same order, quantity written with more zeros");
        let mut r = report(&i);
        r.side = Side::Sell;
        assert!(foreign(&i, &r, 10_000).unwrap().contains("a sell"));
        let mut r = report(&i);
        r.qty = Qty(dec!(0.002));
        assert!(foreign(&i, &r, 10_000).unwrap().contains("quantity"));
        let mut r = report(&i);
        r.base = Asset::new("ETH").unwrap();
        assert!(foreign(&i, &r, 10_000).unwrap().contains("ETH/USDT"));
        // An order from before ours (a reset data directory reused the id).
        let mut r = report(&i);
        r.created = Some(Timestamp(1_000_000 - 3_600_000));
        assert!(foreign(&i, &r, 10_000).unwrap().contains("outside"));
        // Within the clock allowance on either side.
        r.created = Some(Timestamp(1_000_000 - 9_000));
        assert_eq!(foreign(&i, &r, 10_000), None);
        r.created = Some(Timestamp(1_030_000 + 9_000));
        assert_eq!(foreign(&i, &r, 10_000), None);
        r.created = Some(Timestamp(1_030_000 + 11_000));
        assert!(foreign(&i, &r, 10_000).is_some());
        // A venue that gives no time is judged on the rest.
        r.created = None;
        assert_eq!(foreign(&i, &r, 10_000), None);
    }

    #[test]
    fn missing_is_not_sent_only_after_the_deadline_and_the_allowance() {
        let i = intent();
        for state in [OrderState::Pending, OrderState::Unknown] {
            assert_eq!(when_missing(&i, state, Timestamp(1_000_001), 10_000, 30_000), Missing::Wait);
            assert_eq!(when_missing(&i, state, Timestamp(1_039_999), 10_000, 30_000), Missing::Wait);
            assert_eq!(when_missing(&i, state, Timestamp(1_040_000), 10_000, 30_000), Missing::NotSent);
        }
        for state in [OrderState::New, OrderState::PartiallyFilled] {
            assert_eq!(when_missing(&i, state, Timestamp(9_999_999), 10_000, 30_000), Missing::Vanished);
        }
        // Written before deadlines: its creation plus the venue's window.
        let mut old = intent();
        old.expires_at = None;
        assert_eq!(when_missing(&old, OrderState::Unknown, Timestamp(1_039_999), 10_000, 30_000), Missing::Wait);
        assert_eq!(when_missing(&old, OrderState::Unknown, Timestamp(1_040_000), 10_000, 30_000), Missing::NotSent);
        // The paper venue: no window, no allowance.
        let mut paper = intent();
        paper.expires_at = Some(paper.created_at);
        assert_eq!(when_missing(&paper, OrderState::Pending, paper.created_at, 0, 0), Missing::NotSent);
    }
}
