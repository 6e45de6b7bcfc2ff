//! The failure threshold: a member is reported unhealthy only once every probe has failed for
//! the threshold, so one lost answer or a slow restart does not fail a cluster over.

use std::time::{Duration, Instant};

/// How soon a member that just failed a probe is probed again, so that the threshold, not the
/// status period, decides how long detection takes.
pub const RETRY_WHILE_FAILING: Duration = Duration::from_secs(1);

/// What to do with one probe's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Report what was observed.
    Report,
    /// The member has been failing for less than the threshold: leave the reported status as
    /// it is and probe again after the given wait.
    Hold(Duration),
}

/// Tracks since when a member has failed every probe.
#[derive(Clone, Debug)]
pub struct FailureWindow {
    threshold: Duration,
    failing_since: Option<Instant>,
}

impl FailureWindow {
    pub fn new(threshold: Duration) -> Self {
        FailureWindow {
            threshold,
            failing_since: None,
        }
    }

    /// Judges a probe sent at `sent` and answered (or timed out) at `now`: a healthy answer
    /// closes the window at once (recovery is not delayed); a failure is held back until
    /// failures have lasted `threshold`, counted from when the first failing probe was sent
    /// (so a probe's own timeout does not add to detection).
    pub fn judge(&mut self, healthy: bool, sent: Instant, now: Instant) -> Verdict {
        if healthy {
            self.failing_since = None;
            return Verdict::Report;
        }
        let since = *self.failing_since.get_or_insert(sent);
        let failing = now.saturating_duration_since(since);
        if failing >= self.threshold {
            Verdict::Report
        } else {
            Verdict::Hold(RETRY_WHILE_FAILING.min(self.threshold - failing))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_reported_only_after_the_threshold() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut window = FailureWindow::new(Duration::from_secs(10));
        // (healthy, seconds since start, verdict)
        let steps = [
            (true, 0, Verdict::Report),
            (false, 1, Verdict::Hold(RETRY_WHILE_FAILING)),
            (false, 5, Verdict::Hold(RETRY_WHILE_FAILING)),
            (false, 11, Verdict::Report),
            (false, 12, Verdict::Report),
            // Recovery is reported at once and starts a fresh window.
            (true, 13, Verdict::Report),
            (false, 14, Verdict::Hold(RETRY_WHILE_FAILING)),
            (true, 15, Verdict::Report),
            (false, 20, Verdict::Hold(RETRY_WHILE_FAILING)),
            (false, 30, Verdict::Report),
        ];
        for (healthy, secs, want) in steps {
            assert_eq!(
                window.judge(healthy, at(secs), at(secs)),
                want,
                "at {secs}s"
            );
        }
    }

    #[test]
    fn the_last_wait_ends_at_the_threshold_and_zero_reports_at_once() {
        let start = Instant::now();
        let mut window = FailureWindow::new(Duration::from_millis(1500));
        assert_eq!(
            window.judge(false, start, start),
            Verdict::Hold(RETRY_WHILE_FAILING)
        );
        let later = start + Duration::from_secs(1);
        assert_eq!(
            window.judge(false, later, later),
            Verdict::Hold(Duration::from_millis(500))
        );
        let mut eager = FailureWindow::new(Duration::ZERO);
        assert_eq!(eager.judge(false, start, start), Verdict::Report);
    }

    #[test]
    fn the_window_opens_when_the_first_failing_probe_was_sent() {
        let start = Instant::now();
        let at = |secs: u64| start + Duration::from_secs(secs);
        let mut window = FailureWindow::new(Duration::from_secs(10));
        // Each probe hangs for its 5 s timeout.
        assert_eq!(
            window.judge(false, at(0), at(5)),
            Verdict::Hold(RETRY_WHILE_FAILING)
        );
        assert_eq!(window.judge(false, at(6), at(11)), Verdict::Report);
    }
}
