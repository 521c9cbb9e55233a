//! Time as a seam: the engine never reads the system clock directly.

use std::sync::atomic::{AtomicI64, Ordering};

use ballast_core::{Span, Timestamp};

/// A source of "now".
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> Timestamp;
}

/// The system clock (UTC milliseconds).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that moves only when told to: tests, and replays faster than real time.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock showing `t`.
    pub fn new(t: Timestamp) -> Self {
        Self(AtomicI64::new(t.0))
    }

    /// Sets the time (it may go forward only; an earlier time is ignored).
    pub fn set(&self, t: Timestamp) {
        self.0.fetch_max(t.0, Ordering::SeqCst);
    }

    /// Moves the time forward.
    pub fn advance(&self, by: Span) {
        self.0.fetch_add(by.millis(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_only_moves_forward() {
        let c = ManualClock::new(Timestamp(100));
        c.advance(Span::from_secs(1));
        assert_eq!(c.now(), Timestamp(1100));
        c.set(Timestamp(50));
        assert_eq!(c.now(), Timestamp(1100));
        c.set(Timestamp(5000));
        assert_eq!(c.now(), Timestamp(5000));
        assert!(SystemClock.now().0 > 1_700_000_000_000);
    }
}
