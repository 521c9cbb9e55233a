//! When to rebalance: on drift past a threshold, or on a calendar.
//!
//! [`decide`] is a pure function of the trigger, the bot's trigger state, the current
//! drift and `now`; the caller (backtester or engine) owns the clock and stores the
//! state.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::asset::Asset;
use crate::error::CoreError;
use crate::portfolio::{Drift, DriftKind};
use crate::time::{Span, Timestamp};

/// Smallest threshold accepted, in percent.
pub const MIN_THRESHOLD_PERCENT: Decimal = Decimal::from_parts(5, 0, 0, false, 1);
/// Largest threshold accepted, in percent.
pub const MAX_THRESHOLD_PERCENT: Decimal = Decimal::from_parts(50, 0, 0, false, 0);
/// Shortest calendar interval.
pub const MIN_CALENDAR: Span = Span::minutes(30);
/// Longest calendar interval.
pub const MAX_CALENDAR: Span = Span::days(28);

/// A drift limit: `percent` of the given kind (3 % absolute is 3 percentage points).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Threshold {
    percent: Decimal,
    kind: DriftKind,
}

impl Threshold {
    /// A threshold within 0.5 ..= 50 %.
    pub fn new(percent: Decimal, kind: DriftKind) -> Result<Self, CoreError> {
        if percent < MIN_THRESHOLD_PERCENT || percent > MAX_THRESHOLD_PERCENT {
            return Err(CoreError::OutOfRange {
                what: "threshold".into(),
                value: format!("{}%", percent.normalize()),
                range: format!("{}% ..= {}%", MIN_THRESHOLD_PERCENT, MAX_THRESHOLD_PERCENT),
            });
        }
        Ok(Self { percent, kind })
    }

    /// The threshold in percent.
    pub fn percent(self) -> Decimal {
        self.percent
    }

    /// The threshold as a fraction (3 % -> 0.03).
    pub fn fraction(self) -> Decimal {
        self.percent / Decimal::ONE_HUNDRED
    }

    /// Absolute or relative.
    pub fn kind(self) -> DriftKind {
        self.kind
    }

    /// True when some asset drifts strictly more than this threshold.
    pub fn exceeded_by(self, drift: &Drift) -> bool {
        drift.exceeds(self.kind, self.fraction())
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            DriftKind::Absolute => write!(f, "{} percentage points", self.percent.normalize()),
            DriftKind::Relative => write!(f, "{}% of target", self.percent.normalize()),
        }
    }
}

/// When a bot rebalances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Trigger {
    /// When any asset drifts past the threshold, but not within `cooldown` of the last
    /// rebalance.
    Threshold {
        /// The drift limit.
        threshold: Threshold,
        /// Minimum time between two rebalances.
        cooldown: Option<Span>,
    },
    /// Every `every` from the bot's start; when `min_drift` is set, a scheduled
    /// rebalance happens only if some asset drifts past it, otherwise that slot is
    /// skipped.
    Calendar {
        /// The interval, 30 minutes ..= 28 days.
        every: Span,
        /// Optional gate.
        min_drift: Option<Threshold>,
    },
}

impl Trigger {
    /// A threshold trigger. The cooldown, when given, must not be negative.
    pub fn threshold(threshold: Threshold, cooldown: Option<Span>) -> Result<Self, CoreError> {
        if let Some(c) = cooldown
            && c.secs() < 0
        {
            return Err(CoreError::Trigger(format!("cooldown {c} is negative")));
        }
        Ok(Self::Threshold { threshold, cooldown })
    }

    /// A calendar trigger; `every` must be within 30 minutes ..= 28 days.
    pub fn calendar(every: Span, min_drift: Option<Threshold>) -> Result<Self, CoreError> {
        if every < MIN_CALENDAR || every > MAX_CALENDAR {
            return Err(CoreError::OutOfRange {
                what: "every".into(),
                value: every.to_string(),
                range: format!("{MIN_CALENDAR} ..= {MAX_CALENDAR}"),
            });
        }
        Ok(Self::Calendar { every, min_drift })
    }
}

/// What a bot remembers between decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriggerState {
    /// When the bot started (its first buy): the calendar's anchor.
    pub started: Timestamp,
    /// The last rebalance, if any.
    pub last_rebalance: Option<Timestamp>,
    /// The last calendar slot that was acted on (rebalanced or skipped by the gate).
    pub last_slot: Option<Timestamp>,
}

impl TriggerState {
    /// The state of a bot that started at `started`.
    pub fn new(started: Timestamp) -> Self {
        Self { started, last_rebalance: None, last_slot: None }
    }

    /// Records what `decision` says happened at `now`: a rebalance, a calendar slot
    /// consumed, or nothing.
    pub fn record(&mut self, decision: &Decision, now: Timestamp) {
        if let Some(slot) = decision.calendar_slot() {
            self.last_slot = Some(slot);
        }
        if decision.is_rebalance() {
            self.last_rebalance = Some(now);
        }
    }
}

/// Why a rebalance happens.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RebalanceReason {
    /// An asset drifted past the threshold.
    Drift {
        /// The asset that drifted most.
        asset: Asset,
        /// Its drift, as a fraction (0.032 is 3.2 points or 3.2 %).
        drift: Decimal,
        /// The threshold passed.
        threshold: Threshold,
    },
    /// An asset is held whose target weight is zero (for example a coin removed from
    /// the bot): it is sold.
    Untargeted {
        /// The asset.
        asset: Asset,
    },
    /// A calendar slot came due.
    Schedule {
        /// The slot.
        slot: Timestamp,
    },
}

/// Why the bot holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HoldReason {
    /// Every asset is within the band.
    WithinBand {
        /// The largest drift, as a fraction.
        max_drift: Decimal,
        /// The threshold.
        threshold: Threshold,
    },
    /// The drift is past the threshold but the cooldown has not run out.
    CoolingDown {
        /// When the cooldown ends.
        until: Timestamp,
    },
    /// The next calendar slot is in the future.
    NotDue {
        /// The next slot.
        next: Timestamp,
    },
    /// A calendar slot came due but no asset drifted past the gate.
    GateNotMet {
        /// The slot skipped.
        slot: Timestamp,
        /// The largest drift, as a fraction.
        max_drift: Decimal,
        /// The gate.
        gate: Threshold,
    },
}

/// The outcome of [`decide`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Rebalance now.
    Rebalance(RebalanceReason),
    /// Do nothing now.
    Hold(HoldReason),
}

impl Decision {
    /// True for a rebalance.
    pub fn is_rebalance(&self) -> bool {
        matches!(self, Self::Rebalance(_))
    }

    /// The calendar slot this decision consumed, if any.
    pub fn calendar_slot(&self) -> Option<Timestamp> {
        match self {
            Self::Rebalance(RebalanceReason::Schedule { slot }) | Self::Hold(HoldReason::GateNotMet { slot, .. }) => {
                Some(*slot)
            }
            _ => None,
        }
    }
}

fn fmt_drift(d: Decimal, kind: DriftKind) -> String {
    let p = (d * Decimal::ONE_HUNDRED).round_dp(2).normalize();
    match kind {
        DriftKind::Absolute => format!("{p} points"),
        DriftKind::Relative => format!("{p}%"),
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rebalance(RebalanceReason::Drift { asset, drift, threshold }) => {
                write!(f, "rebalance: {asset} drifted {} (threshold {threshold})", fmt_drift(*drift, threshold.kind()))
            }
            Self::Rebalance(RebalanceReason::Untargeted { asset }) => {
                write!(f, "rebalance: {asset} is held but has no target weight")
            }
            Self::Rebalance(RebalanceReason::Schedule { slot }) => write!(f, "rebalance: scheduled at {} ms", slot.0),
            Self::Hold(HoldReason::WithinBand { max_drift, threshold }) => write!(
                f,
                "hold: largest drift {} is within the threshold ({threshold})",
                fmt_drift(*max_drift, threshold.kind())
            ),
            Self::Hold(HoldReason::CoolingDown { until }) => write!(f, "hold: cooling down until {} ms", until.0),
            Self::Hold(HoldReason::NotDue { next }) => write!(f, "hold: next scheduled rebalance at {} ms", next.0),
            Self::Hold(HoldReason::GateNotMet { max_drift, gate, .. }) => write!(
                f,
                "hold: scheduled rebalance skipped, largest drift {} is within the minimum drift ({gate})",
                fmt_drift(*max_drift, gate.kind())
            ),
        }
    }
}

/// Decides whether to rebalance at `now`.
///
/// - Threshold: rebalance when some asset drifts strictly past the threshold and the
///   cooldown since the last rebalance has run out (a cooldown ends exactly at
///   `last + cooldown`).
/// - Calendar: slots fall at `started + k * every` (k >= 1). At the first decision at
///   or after a slot not yet acted on, rebalance (or, with a gate, skip the slot when
///   no asset drifts past it). Several slots missed at once (the bot was down) count
///   as one.
pub fn decide(trigger: &Trigger, state: &TriggerState, drift: &Drift, now: Timestamp) -> Decision {
    match *trigger {
        Trigger::Threshold { threshold, cooldown } => {
            let kind = threshold.kind();
            if !threshold.exceeded_by(drift) {
                return Decision::Hold(HoldReason::WithinBand { max_drift: drift.max(kind), threshold });
            }
            if let (Some(c), Some(last)) = (cooldown, state.last_rebalance) {
                let until = last.plus(c);
                if now < until {
                    return Decision::Hold(HoldReason::CoolingDown { until });
                }
            }
            match drift.worst(kind) {
                Some((asset, d)) if d > threshold.fraction() => {
                    Decision::Rebalance(RebalanceReason::Drift { asset: asset.clone(), drift: d, threshold })
                }
                // Only a held asset without a target (infinite relative drift) exceeds.
                _ => match drift.untargeted() {
                    Some(asset) => Decision::Rebalance(RebalanceReason::Untargeted { asset: asset.clone() }),
                    None => Decision::Hold(HoldReason::WithinBand { max_drift: drift.max(kind), threshold }),
                },
            }
        }
        Trigger::Calendar { every, min_drift } => {
            let step = every.millis().max(1);
            let elapsed = now.0 - state.started.0;
            let k = elapsed.div_euclid(step);
            if k < 1 {
                return Decision::Hold(HoldReason::NotDue { next: Timestamp(state.started.0 + step) });
            }
            let slot = Timestamp(state.started.0 + k * step);
            if state.last_slot.is_some_and(|s| s >= slot) {
                return Decision::Hold(HoldReason::NotDue { next: Timestamp(slot.0 + step) });
            }
            match min_drift {
                Some(gate) if !gate.exceeded_by(drift) => {
                    Decision::Hold(HoldReason::GateNotMet { slot, max_drift: drift.max(gate.kind()), gate })
                }
                _ => Decision::Rebalance(RebalanceReason::Schedule { slot }),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::{Holdings, Prices, Valuation};
    use crate::targets::{TargetLimits, TargetWeights};
    use crate::{Price, Qty};
    use rust_decimal_macros::dec;

    fn a(s: &str) -> Asset {
        Asset::new(s).unwrap()
    }

    /// A two-asset portfolio whose BTC weight is `btc_percent` against a 50/50 target.
    fn drift_at(btc_percent: Decimal) -> Drift {
        let h: Holdings = [(a("BTC"), Qty(btc_percent)), (a("ETH"), Qty(dec!(100) - btc_percent))].into();
        let p: Prices = [(a("BTC"), Price(dec!(1))), (a("ETH"), Price(dec!(1)))].into();
        let t = TargetWeights::from_percent(
            &a("USDT"),
            &[(a("BTC"), dec!(50)), (a("ETH"), dec!(50))],
            TargetLimits::default(),
        )
        .unwrap();
        Drift::new(&Valuation::new(&a("USDT"), &h, &p, Some(&t)).unwrap(), &t)
    }

    const H: i64 = 3_600_000;

    #[test]
    fn threshold_bounds_are_validated() {
        assert!(Threshold::new(dec!(0.5), DriftKind::Absolute).is_ok());
        assert!(Threshold::new(dec!(50), DriftKind::Relative).is_ok());
        let e = Threshold::new(dec!(0.49), DriftKind::Absolute).unwrap_err();
        assert!(e.to_string().contains("threshold") && e.to_string().contains("0.49"), "{e}");
        assert!(Threshold::new(dec!(50.01), DriftKind::Absolute).is_err());
    }

    #[test]
    fn calendar_bounds_are_validated() {
        assert!(Trigger::calendar(Span::minutes(30), None).is_ok());
        assert!(Trigger::calendar(Span::days(28), None).is_ok());
        let e = Trigger::calendar(Span::minutes(29), None).unwrap_err();
        assert!(e.to_string().contains("every") && e.to_string().contains("29m"), "{e}");
        assert!(Trigger::calendar(Span::days(28).max(Span::from_secs(28 * 86_400 + 1)), None).is_err());
    }

    #[test]
    fn threshold_table() {
        // (btc weight %, threshold %, kind, rebalance?)
        let cases = [
            (dec!(53), dec!(3), DriftKind::Absolute, false), // exactly at the threshold: hold
            (dec!(53.0001), dec!(3), DriftKind::Absolute, true),
            (dec!(46.9999), dec!(3), DriftKind::Absolute, true),
            (dec!(51.5), dec!(3), DriftKind::Relative, false), // 3 % of 50 = 1.5 points: at the edge
            (dec!(51.51), dec!(3), DriftKind::Relative, true),
            (dec!(50), dec!(0.5), DriftKind::Absolute, false),
        ];
        let state = TriggerState::new(Timestamp(0));
        for (w, th, kind, expect) in cases {
            let t = Trigger::threshold(Threshold::new(th, kind).unwrap(), None).unwrap();
            let d = decide(&t, &state, &drift_at(w), Timestamp(H));
            assert_eq!(d.is_rebalance(), expect, "weight {w} threshold {th} {kind:?}: {d}");
        }
    }

    #[test]
    fn cooldown_ends_exactly_at_its_end() {
        let t =
            Trigger::threshold(Threshold::new(dec!(3), DriftKind::Absolute).unwrap(), Some(Span::hours(1))).unwrap();
        let state = TriggerState { started: Timestamp(0), last_rebalance: Some(Timestamp(10 * H)), last_slot: None };
        let d = drift_at(dec!(60));
        assert_eq!(
            decide(&t, &state, &d, Timestamp(11 * H - 1)),
            Decision::Hold(HoldReason::CoolingDown { until: Timestamp(11 * H) })
        );
        assert!(decide(&t, &state, &d, Timestamp(11 * H)).is_rebalance());
        // within the band, the cooldown is not even looked at
        assert!(matches!(
            decide(&t, &state, &drift_at(dec!(51)), Timestamp(10 * H)),
            Decision::Hold(HoldReason::WithinBand { .. })
        ));
    }

    #[test]
    fn drift_reason_names_the_asset() {
        let t = Trigger::threshold(Threshold::new(dec!(3), DriftKind::Absolute).unwrap(), None).unwrap();
        let d = decide(&t, &TriggerState::new(Timestamp(0)), &drift_at(dec!(55)), Timestamp(H));
        match &d {
            Decision::Rebalance(RebalanceReason::Drift { drift, .. }) => assert_eq!(*drift, dec!(0.05)),
            other => panic!("{other:?}"),
        }
        assert!(d.to_string().contains("drifted 5 points"), "{d}");
    }

    #[test]
    fn calendar_slots() {
        let t = Trigger::calendar(Span::hours(4), None).unwrap();
        let mut state = TriggerState::new(Timestamp(0));
        let d = drift_at(dec!(50));
        assert_eq!(
            decide(&t, &state, &d, Timestamp(4 * H - 1)),
            Decision::Hold(HoldReason::NotDue { next: Timestamp(4 * H) })
        );
        let first = decide(&t, &state, &d, Timestamp(4 * H));
        assert_eq!(first, Decision::Rebalance(RebalanceReason::Schedule { slot: Timestamp(4 * H) }));
        state.record(&first, Timestamp(4 * H));
        assert_eq!(state.last_rebalance, Some(Timestamp(4 * H)));
        // the same slot is not acted on twice
        assert!(!decide(&t, &state, &d, Timestamp(5 * H)).is_rebalance());
        // a bot down for three slots rebalances once, at the latest slot
        let late = decide(&t, &state, &d, Timestamp(17 * H));
        assert_eq!(late, Decision::Rebalance(RebalanceReason::Schedule { slot: Timestamp(16 * H) }));
    }

    #[test]
    fn calendar_gate_skips_a_slot() {
        let gate = Threshold::new(dec!(2), DriftKind::Absolute).unwrap();
        let t = Trigger::calendar(Span::hours(4), Some(gate)).unwrap();
        let mut state = TriggerState::new(Timestamp(0));
        let calm = decide(&t, &state, &drift_at(dec!(51)), Timestamp(4 * H));
        assert!(matches!(calm, Decision::Hold(HoldReason::GateNotMet { slot: Timestamp(s), .. }) if s == 4 * H));
        state.record(&calm, Timestamp(4 * H));
        assert_eq!(state.last_slot, Some(Timestamp(4 * H)));
        assert_eq!(state.last_rebalance, None);
        // a big move inside the same slot waits for the next one
        assert!(!decide(&t, &state, &drift_at(dec!(60)), Timestamp(5 * H)).is_rebalance());
        assert!(decide(&t, &state, &drift_at(dec!(60)), Timestamp(8 * H)).is_rebalance());
    }
}
