//! Maker-first execution ([`ballast_core::execution::OrderStyle::MakerFirst`]): the "work the resting orders"
//! phase of a step.
//!
//! A rebalance whose bot executes maker-first is written as a [`Working`] in the bot's
//! state (with the rebalance event and the next sequence number, one unit of work)
//! instead of as market intents. Every step then works its legs, sells first:
//!
//! - a leg without an order, or whose current attempt is final (filled in part,
//!   cancelled, refused, not sent), gets its next attempt for what is left of it: a
//!   post-only limit order at the touch (a buy at the best bid rounded down to the
//!   tick, a sell at the best ask rounded up), or a market order once the deadline
//!   has passed (or when the venue publishes no book). Its intent (client id
//!   `ClientOrderId::for_attempt`) is written durably with the new state before it is
//!   sent, exactly like a taker intent;
//! - an attempt resting (`new`, `partially_filled`) for `reprice` or more, or past the
//!   deadline, is cancelled; the cancel's report (its fills) is recorded, and the next
//!   attempt follows in the same step;
//! - an attempt whose outcome is unknown (`pending`, `unknown`) is left to the
//!   reconciliation at the start of every step: it is queried, never resent, and the
//!   leg waits;
//! - a leg is done when what is left of it floors below the venue's minimums (the
//!   remainder is named in the closing event), or when its market order is final.
//!
//! When every leg is done the working is cleared and a `rebalance_done` event gives
//! what was traded as maker and as taker. Buys wait until every sell is done, so their
//! quote exists. A crash anywhere leaves either the previous state (the attempt was
//! never written, so it is computed again with the same id) or a written attempt that
//! the next step resolves by query.

use std::collections::BTreeMap;

use ballast_core::execution::LegStyle;
use ballast_core::planner::{Plan, Side};
use ballast_core::rules::PriceRounding;
use ballast_core::{Asset, Qty, Span, Timestamp};
use ballast_exchange::{ClientOrderId, ExchangeError, OrderKind};
use ballast_store::{Change, Intent, OrderRow, OrderState};
use rust_decimal::Decimal;
use serde_json::json;

use super::{Engine, EngineError, Loaded, event, rebalance_event};
use crate::spec::{WorkLeg, Working};

impl Engine {
    /// Begins a maker-first rebalance of `plan`: the working, the rebalance event and
    /// the next sequence number in one unit of work, then its first round. Returns the
    /// orders placed.
    pub(super) fn begin_working(
        &self,
        b: &mut Loaded,
        plan: &Plan,
        why: &str,
        now: Timestamp,
        reprice: Span,
        deadline: Span,
    ) -> Result<usize, EngineError> {
        let id = b.rec.id;
        let seq = b.state.next_seq;
        let legs: Vec<WorkLeg> = plan
            .legs
            .iter()
            .enumerate()
            .map(|(i, l)| WorkLeg {
                leg: i,
                base: l.asset.clone(),
                quote: l.quote.clone(),
                side: l.side,
                qty: l.quantity,
                planned_price: l.price,
                attempt: 0,
                placed_at: None,
                // The planner chose a market order for it (a direct pair whose resting
                // is expected to cost more than two resting quote legs).
                market: l.style == Some(LegStyle::Taker),
                done: false,
            })
            .collect();
        b.state.working = Some(Working {
            seq,
            started: now,
            reprice_ms: reprice.millis(),
            deadline: Timestamp(now.0.saturating_add(deadline.millis())),
            legs,
        });
        b.state.next_seq += 1;
        let mut ev = rebalance_event(id, seq, plan, "rebalance", why, plan.legs.len(), now);
        ev.message.push_str(&format!(" worked as makers (re-priced every {reprice}, market after {deadline})"));
        ev.data["execution"] = json!("maker_first");
        // The rates the venue says it charges this account (maker, taker, discounts),
        // for each coin traded: what the legs will really pay (best effort: a venue
        // that cannot say is left out).
        let mut rates = serde_json::Map::new();
        for l in &plan.legs {
            if let Some(r) = self.venue_fee_rates(&l.asset, &b.state.spec.quote) {
                rates.insert(l.asset.to_string(), json!(r));
            }
        }
        ev.data["fee_rates"] = serde_json::Value::Object(rates);
        self.commit(b, Change { events: vec![ev], now, ..Change::default() })?;
        self.work(b, now)
    }

    /// Works the legs of the bot's maker-first rebalance (see the module
    /// documentation). Returns the orders placed.
    pub(super) fn work(&self, b: &mut Loaded, now: Timestamp) -> Result<usize, EngineError> {
        let id = b.rec.id;
        let Some(mut w) = b.state.working.clone() else { return Ok(0) };
        let bot_quote = b.state.spec.quote.clone();
        let tag = self.store.order_tag()?;
        let past_deadline = now >= w.deadline;
        let expires_at = Some(Timestamp(now.0.saturating_add(self.venue.order_window_ms().max(0))));
        let mut intents: Vec<Intent> = Vec::new();
        let mut finished: Vec<String> = Vec::new();
        let mut dirty = false;
        let fee = b.state.spec.fee.fraction();
        for phase in [Side::Sell, Side::Buy] {
            if phase == Side::Buy && w.legs.iter().any(|l| l.side == Side::Sell && !l.done) {
                break;
            }
            for leg in w.legs.iter_mut().filter(|l| l.side == phase && !l.done) {
                let cid = |attempt: u32| {
                    ClientOrderId::for_attempt(&tag, id, w.seq, leg.leg, attempt).map_err(EngineError::Refused)
                };
                if let Some(at) = leg.placed_at {
                    let current = cid(leg.attempt)?;
                    let row = self.order_row(id, w.seq, &current)?;
                    let Some(row) = row else {
                        return Err(EngineError::Corrupt(
                            id,
                            format!("attempt {current} of the working is not stored"),
                        ));
                    };
                    match row.state {
                        // Not known yet: the reconciliation asks the venue again.
                        OrderState::Pending | OrderState::Unknown => continue,
                        OrderState::New | OrderState::PartiallyFilled => {
                            let due = past_deadline || now.0.saturating_sub(at.0) >= w.reprice_ms;
                            if !due || !self.cancel_attempt(id, &row)? {
                                continue;
                            }
                        }
                        _ => {}
                    }
                }
                // The current attempt is final (or there is none yet): what is left?
                // A direct pair's leg trades on its own symbol (ETH/BTC).
                let quote = leg.quote.clone().unwrap_or_else(|| bot_quote.clone());
                let rules = self.venue.rules(&leg.base, &quote)?;
                let filled = self.leg_filled(id, w.seq, leg.leg)?;
                let left = rules.floor_qty(Qty((leg.qty.0 - filled).max(Decimal::ZERO)));
                let touch = if past_deadline || leg.market {
                    None
                } else {
                    match self.venue.best_bid_ask(&leg.base, &quote) {
                        Ok(t) => Some(t),
                        Err(ExchangeError::NotFound(_)) => None,
                        Err(e) => return Err(e.into()),
                    }
                };
                let price = match (touch, leg.side) {
                    (Some(t), Side::Buy) => rules.round_price(t.bid, PriceRounding::Down),
                    (Some(t), Side::Sell) => rules.round_price(t.ask, PriceRounding::Up),
                    (None, _) => self.last_price(&leg.base, &quote).unwrap_or(leg.planned_price),
                };
                // A buy spends no more than the bot's quote not yet held by its other
                // buys: the quantities were planned at the prices of the decision, and
                // re-pricing after the market rose (or a taker's price) costs more.
                // A market buy keeps a 1 % margin for the price it will get.
                let mut left = left;
                let mut short = false;
                if leg.side == Side::Buy && !left.is_zero() {
                    let margin = if touch.is_some() { Decimal::ONE } else { Decimal::new(101, 2) };
                    let unit = price.0 * margin * (Decimal::ONE + fee);
                    let available = self.quote_available(id, w.seq, &quote, fee, &intents)?;
                    if unit > Decimal::ZERO {
                        let cap = rules.floor_qty(Qty((available / unit).max(Decimal::ZERO)));
                        if cap.0 < left.0 {
                            left = cap;
                            short = true;
                        }
                    }
                }
                if leg.market && leg.placed_at.is_some() {
                    leg.done = true;
                    dirty = true;
                    if !left.is_zero() {
                        finished.push(format!("{} {} {} left after its market order", leg.side, left, leg.base));
                    }
                    continue;
                }
                if let Some(why) = rules.check(left, price) {
                    leg.done = true;
                    dirty = true;
                    let rest = rules.floor_qty(Qty((leg.qty.0 - filled).max(Decimal::ZERO)));
                    if !rest.is_zero() {
                        let why = if short { "the bot's quote does not cover it".to_string() } else { why.to_string() };
                        finished.push(format!("{} {} {} left ({why})", leg.side, rest, leg.base));
                    }
                    continue;
                }
                let attempt = if leg.placed_at.is_some() { leg.attempt + 1 } else { 0 };
                let kind = match touch {
                    Some(_) => OrderKind::PostOnly { price },
                    None => OrderKind::Market,
                };
                intents.push(Intent {
                    bot: id,
                    client_id: cid(attempt)?,
                    seq: w.seq,
                    leg: leg.leg as i64,
                    base: leg.base.clone(),
                    quote: quote.clone(),
                    side: leg.side,
                    qty: left,
                    kind,
                    planned_price: price,
                    created_at: now,
                    expires_at,
                });
                leg.attempt = attempt;
                leg.placed_at = Some(now);
                leg.market = touch.is_none();
            }
        }
        let all_done = w.legs.iter().all(|l| l.done);
        let mut events = Vec::new();
        if all_done {
            // Every leg's last order is final: the work is over (the same step goes on
            // to its snapshot; the next one decides again).
            events.push(self.done_event(id, &w, &b.state.spec.quote, &finished, now)?);
            b.state.working = None;
        } else {
            b.state.working = Some(w.clone());
        }
        if intents.is_empty() && !dirty {
            return Ok(0);
        }
        // One unit of work: each attempt's intent with the state that names it, before
        // it can be sent.
        self.commit(b, Change { intents: intents.clone(), events, now, ..Change::default() })?;
        let mut placed = 0;
        for intent in &intents {
            if self.send(id, intent)? {
                placed += 1;
            }
        }
        Ok(placed)
    }

    /// The last price of `base`, if the venue has one.
    fn last_price(&self, base: &Asset, quote: &Asset) -> Option<ballast_core::Price> {
        self.venue.prices(std::slice::from_ref(base), quote).ok()?.get(base).copied()
    }

    /// The bot's quote that its buys of rebalance `seq` do not hold yet: its ledger's
    /// quote, less what its open buy attempts (resting or unknown) and the buy intents
    /// about to be written (`pending`) would spend, fee included.
    fn quote_available(
        &self,
        id: i64,
        seq: i64,
        quote: &Asset,
        fee: Decimal,
        pending: &[Intent],
    ) -> Result<Decimal, EngineError> {
        let held = self.holdings(id)?.get(quote).map(|q| q.0).unwrap_or_default();
        let cost = |qty: Decimal, price: Decimal| qty * price * (Decimal::ONE + fee);
        let open: Decimal = self
            .store
            .orders_of_seqs(id, &[seq])?
            .iter()
            .filter(|o| o.intent.side == Side::Buy && o.intent.quote == *quote && !o.state.is_final())
            .map(|o| cost(o.intent.qty.0 - o.filled.0, o.intent.kind.limit_price().unwrap_or(o.intent.planned_price).0))
            .sum();
        let new: Decimal = pending
            .iter()
            .filter(|i| i.side == Side::Buy && i.quote == *quote)
            .map(|i| cost(i.qty.0, i.planned_price.0))
            .sum();
        Ok(held - open - new)
    }

    /// Cancels a resting attempt and records what the venue says. True when the
    /// attempt is final afterwards (so the next one may follow).
    fn cancel_attempt(&self, id: i64, row: &OrderRow) -> Result<bool, EngineError> {
        let i = &row.intent;
        match self.venue.cancel(&i.client_id, &i.base, &i.quote) {
            Ok(report) => {
                self.apply(&report)?;
                Ok(report.status.is_final())
            }
            // Final already (filled meanwhile) or unknown: ask, never guess.
            Err(ExchangeError::Rejected(_)) | Err(ExchangeError::NotFound(_)) => match self.lookup(id, i)? {
                Some(report) => {
                    self.apply(&report)?;
                    Ok(report.status.is_final())
                }
                None => Ok(false),
            },
            Err(e @ ExchangeError::Auth(_)) => Err(e.into()),
            Err(e) => {
                self.event(
                    id,
                    self.clock.now(),
                    "error",
                    &format!("cancel of {} not done: {e}; tried again at the next step", i.client_id),
                    json!({"client_id": i.client_id}),
                )?;
                Ok(false)
            }
        }
    }

    /// The stored order of attempt `client_id` of rebalance `seq`.
    fn order_row(&self, id: i64, seq: i64, client_id: &ClientOrderId) -> Result<Option<OrderRow>, EngineError> {
        Ok(self.store.orders_of_seqs(id, &[seq])?.into_iter().find(|o| &o.intent.client_id == client_id))
    }

    /// What every attempt of leg `leg` of rebalance `seq` has filled.
    pub(super) fn leg_filled(&self, id: i64, seq: i64, leg: usize) -> Result<Decimal, EngineError> {
        Ok(self
            .store
            .orders_of_seqs(id, &[seq])?
            .iter()
            .filter(|o| o.intent.leg == leg as i64)
            .map(|o| o.filled.0)
            .sum())
    }

    /// The event closing a maker-first rebalance: per leg, what was filled as maker
    /// (post-only attempts) and as taker (the market attempt), in how many attempts,
    /// and what was left below the venue's minimums; the values in the bot's quote
    /// `quote` (a direct pair's order valued at its quote's last price in it).
    fn done_event(
        &self,
        id: i64,
        w: &Working,
        quote: &Asset,
        left: &[String],
        now: Timestamp,
    ) -> Result<ballast_store::Event, EngineError> {
        let rows = self.store.orders_of_seqs(id, &[w.seq])?;
        let mut per_leg: BTreeMap<usize, (Asset, Side, Decimal, Decimal, u32)> = BTreeMap::new();
        for l in &w.legs {
            per_leg.insert(l.leg, (l.base.clone(), l.side, Decimal::ZERO, Decimal::ZERO, 0));
        }
        for o in &rows {
            if let Some(e) = per_leg.get_mut(&(o.intent.leg as usize)) {
                e.4 += 1;
                match o.intent.kind {
                    OrderKind::Market => e.3 += o.filled.0,
                    _ => e.2 += o.filled.0,
                }
            }
        }
        let legs: Vec<serde_json::Value> = per_leg
            .values()
            .map(|(a, side, maker, taker, attempts)| {
                json!({"asset": a, "side": side.to_string(), "maker": maker.normalize().to_string(), "taker": taker.normalize().to_string(), "attempts": attempts})
            })
            .collect();
        // In the bot's quote: a maker fill is at its order's limit; a market order's
        // value is given at the price its intent assumed; a direct pair's (ETH/BTC) at
        // its quote's last price in the bot's quote.
        let mut rates: BTreeMap<Asset, Decimal> = BTreeMap::new();
        for o in rows.iter().filter(|o| &o.intent.quote != quote && !o.filled.is_zero()) {
            if !rates.contains_key(&o.intent.quote) {
                let rate = self.last_price(&o.intent.quote, quote).map_or(Decimal::ZERO, |p| p.0);
                rates.insert(o.intent.quote.clone(), rate);
            }
        }
        let value = |maker: bool| -> Decimal {
            rows.iter()
                .filter(|o| matches!(o.intent.kind, OrderKind::Market) != maker)
                .map(|o| {
                    let rate = if &o.intent.quote == quote {
                        Decimal::ONE
                    } else {
                        rates.get(&o.intent.quote).copied().unwrap_or_default()
                    };
                    o.filled.0 * o.intent.kind.limit_price().unwrap_or(o.intent.planned_price).0 * rate
                })
                .sum()
        };
        let attempts: u32 = per_leg.values().map(|e| e.4).sum();
        let mut message = format!(
            "rebalance {} done: {} leg(s) in {attempts} order(s); {} {quote} traded as maker, about {} {quote} as taker",
            w.seq,
            w.legs.len(),
            value(true).round_dp(2),
            value(false).round_dp(2),
        );
        if !left.is_empty() {
            message.push_str(&format!("; below the minimums: {}", left.join(", ")));
        }
        Ok(event(
            id,
            now,
            "rebalance_done",
            &message,
            json!({"seq": w.seq, "legs": legs, "left": left, "started": w.started.0}),
        ))
    }

    /// Cancels every resting attempt of the working (a stop begins): true when none is
    /// open any more, and the working is then dropped from `b`'s state (the caller
    /// commits it).
    pub(super) fn abandon_working(&self, b: &mut Loaded) -> Result<bool, EngineError> {
        let id = b.rec.id;
        let Some(w) = b.state.working.clone() else { return Ok(true) };
        let mut open = false;
        for o in self.store.orders_of_seqs(id, &[w.seq])? {
            let resting = matches!(o.state, OrderState::New | OrderState::PartiallyFilled);
            let unknown = matches!(o.state, OrderState::Pending | OrderState::Unknown);
            if unknown || (resting && !self.cancel_attempt(id, &o)?) {
                open = true;
            }
        }
        if !open {
            b.state.working = None;
        }
        Ok(!open)
    }
}
