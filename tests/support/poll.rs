//! Waiting for a condition with a deadline, so no test asserts after a bare sleep.

use std::time::{Duration, Instant};

use anyhow::bail;

/// How long to rest between two checks; the deadline, not this interval, is what a test relies on.
const INTERVAL: Duration = Duration::from_millis(100);

/// Calls `check` until it returns `Ok`, or fails after `timeout` naming `what` and the last state
/// `check` reported through `Err`.
pub fn until<T>(
    what: &str,
    timeout: Duration,
    mut check: impl FnMut() -> Result<T, String>,
) -> anyhow::Result<T> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match check() {
            Ok(value) => return Ok(value),
            Err(state) => state,
        };
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}; last seen:\n{last}");
        }
        std::thread::sleep(INTERVAL);
    }
}
