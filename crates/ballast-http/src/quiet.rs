//! A venue's "quiet until".

use std::path::PathBuf;
use std::sync::Mutex;

/// The time (ms since the Unix epoch, on the adapter's clock) before which no request
/// may go to a venue, set when the venue answers 429 or 418 with a wait (or reports an
/// exhausted window). One value per venue, shared by every bot that trades through the
/// adapter, so that a ban is waited out by all of them instead of being escalated by
/// the next one (Binance turns repeated 429s into 418 bans of growing length).
///
/// [`Quiet::shared`] also keeps the value in a file, so that every process of a data
/// directory (the runner, a `ballast bot stop` beside it) honours the same ban.
#[derive(Debug, Default)]
pub struct Quiet {
    until_ms: Mutex<i64>,
    file: Option<PathBuf>,
}

impl Quiet {
    /// No quiet period, kept in memory only.
    pub fn new() -> Self {
        Self::default()
    }

    /// A quiet period shared through `file` (created on the first ban, private; an
    /// unreadable file counts as no ban, a file that cannot be written is ignored:
    /// the in-memory value still holds for this process).
    pub fn shared(file: PathBuf) -> Self {
        Self { until_ms: Mutex::new(0), file: Some(file) }
    }

    fn in_file(&self) -> i64 {
        self.file
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f).ok())
            .and_then(|s| s.trim().parse::<i64>().ok())
            .unwrap_or(0)
    }

    /// Keeps the venue quiet until `until_ms` (a later time already set is kept).
    pub fn hold_until(&self, until_ms: i64) {
        let mut u = self.until_ms.lock().unwrap_or_else(|p| p.into_inner());
        let end = (*u).max(self.in_file()).max(until_ms);
        *u = end;
        if let Some(f) = &self.file {
            let _ = ballast_fs::write_private(f, end.to_string().as_bytes());
        }
    }

    /// How long (ms) to stay quiet from `now_ms`, or `None` when requests may go.
    pub fn wait_ms(&self, now_ms: i64) -> Option<u64> {
        let u = self.until_ms();
        (u > now_ms).then(|| (u - now_ms) as u64)
    }

    /// The end of the quiet period (0 when there never was one).
    pub fn until_ms(&self) -> i64 {
        let mine = *self.until_ms.lock().unwrap_or_else(|p| p.into_inner());
        mine.max(self.in_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_keeps_the_latest_end_and_counts_down() {
        let q = Quiet::new();
        assert_eq!(q.wait_ms(1_000), None);
        q.hold_until(5_000);
        q.hold_until(3_000);
        assert_eq!(q.until_ms(), 5_000);
        assert_eq!(q.wait_ms(1_000), Some(4_000));
        assert_eq!(q.wait_ms(4_999), Some(1));
        assert_eq!(q.wait_ms(5_000), None);
    }

    #[test]
    fn a_shared_quiet_is_seen_by_another_holder_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("quiet-binance");
        let a = Quiet::shared(file.clone());
        let b = Quiet::shared(file.clone());
        assert_eq!(b.wait_ms(0), None);
        a.hold_until(60_000);
        assert_eq!(b.wait_ms(10_000), Some(50_000), "the other process sees the ban");
        b.hold_until(20_000);
        assert_eq!(a.until_ms(), 60_000, "an earlier end never shortens a ban");
        std::fs::write(&file, "garbage").unwrap();
        assert_eq!(Quiet::shared(file).wait_ms(0), None);
    }
}
