//! Drawdown from the running peak: one rule for the backtest report's drawdown chart
//! and the live bot's (the dashboard's chart, through the engine's growth index).

/// The drawdown of each point from the highest value before it (itself included), in
/// `[-1, 0]`; NaN where a value is not finite or no positive peak was seen yet.
pub fn from_peak(v: &[f64]) -> Vec<f64> {
    let mut peak = f64::NAN;
    v.iter()
        .map(|&x| {
            if !x.is_finite() {
                return f64::NAN;
            }
            if peak.is_nan() || x > peak {
                peak = x;
            }
            if peak > 0.0 { (x / peak - 1.0).clamp(-1.0, 0.0) } else { f64::NAN }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn falls_from_the_running_peak_and_recovers() {
        let d = from_peak(&[100.0, 120.0, 90.0, f64::NAN, 130.0, 65.0]);
        assert_eq!(d[0], 0.0);
        assert_eq!(d[1], 0.0);
        assert!((d[2] + 0.25).abs() < 1e-12);
        assert!(d[3].is_nan());
        assert_eq!(d[4], 0.0);
        assert!((d[5] + 0.5).abs() < 1e-12);
        assert!(from_peak(&[0.0, 0.0])[1].is_nan(), "no positive peak");
    }
}
