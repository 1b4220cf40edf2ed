//! Restart backoff of a crashing container (Kubernetes' CrashLoopBackOff):
//! the n-th restart in a row waits `initial * 2^(n-1)`, capped at `max`; a
//! container that ran for `reset_after` without exiting starts over.

use std::time::Duration;

/// The backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartBackoff {
    pub initial: Duration,
    pub max: Duration,
    pub reset_after: Duration,
}

impl Default for RestartBackoff {
    /// Kubernetes' kubelet: 10 s doubling up to 5 min, reset after 10 min.
    fn default() -> Self {
        Self {
            initial: Duration::from_secs(10),
            max: Duration::from_secs(300),
            reset_after: Duration::from_secs(600),
        }
    }
}

impl RestartBackoff {
    /// The wait before restarting a container that has now crashed
    /// `crashes_in_a_row` times (1 for the first crash).
    pub fn delay(&self, crashes_in_a_row: u32) -> Duration {
        let doublings = crashes_in_a_row.saturating_sub(1).min(31);
        self.initial
            .checked_mul(1_u32 << doublings)
            .map_or(self.max, |delay| delay.min(self.max))
    }

    /// The crash count after a container that ran for `ran` exited.
    pub fn next_crash_count(&self, crashes_in_a_row: u32, ran: Duration) -> u32 {
        if ran >= self.reset_after {
            1
        } else {
            crashes_in_a_row.saturating_add(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delay_doubles_per_crash_up_to_the_cap() {
        let backoff = RestartBackoff::default();
        let delays: Vec<u64> = (1..=7).map(|n| backoff.delay(n).as_secs()).collect();
        assert_eq!(delays, [10, 20, 40, 80, 160, 300, 300]);
        assert_eq!(backoff.delay(u32::MAX).as_secs(), 300);
    }

    #[test]
    fn a_long_run_resets_the_crash_count() {
        let backoff = RestartBackoff::default();
        assert_eq!(backoff.next_crash_count(5, Duration::from_secs(1)), 6);
        assert_eq!(backoff.next_crash_count(5, Duration::from_secs(600)), 1);
    }
}
