//! The Topic controller's retry delays: exponential per topic, counting only
//! the failures of the retries it scheduled. A reconcile that an event (such
//! as a StreamCluster status write) started before the retry was due and that
//! failed again keeps the count and the due time: a cluster whose status
//! changes ten times a second must not push its topics' next attempt out to
//! the longest delay within a second.

use std::time::{Duration, Instant};

/// One topic's consecutive failures and when its next retry is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failures {
    pub(crate) count: u32,
    pub(crate) retry_at: Instant,
}

/// How long a topic waits after its `failures`-th consecutive failure.
pub(crate) fn backoff(first: Duration, max: Duration, failures: u32) -> Duration {
    let doubling = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    first.saturating_mul(doubling).min(max)
}

/// The bookkeeping after a failed reconcile that ended at `now`, and the delay
/// until the next attempt.
pub(crate) fn after_failure(
    previous: Option<Failures>,
    now: Instant,
    first: Duration,
    max: Duration,
) -> (Failures, Duration) {
    if let Some(previous) = previous
        && now < previous.retry_at
    {
        // Started by an event before the scheduled retry: not a new step.
        return (previous, previous.retry_at - now);
    }
    let count = previous.map_or(0, |p| p.count).saturating_add(1);
    let delay = backoff(first, max, count);
    (
        Failures {
            count,
            retry_at: now + delay,
        },
        delay,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIRST: Duration = Duration::from_secs(1);
    const MAX: Duration = Duration::from_secs(300);

    #[test]
    fn the_retry_delay_doubles_up_to_its_bound() {
        let delays: Vec<u64> = (1..=10).map(|n| backoff(FIRST, MAX, n).as_secs()).collect();
        assert_eq!(delays, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(backoff(FIRST, MAX, u32::MAX), MAX);
    }

    #[test]
    fn failures_of_scheduled_retries_double_the_delay() {
        let start = Instant::now();
        let (failures, delay) = after_failure(None, start, FIRST, MAX);
        assert_eq!((failures.count, delay), (1, FIRST));
        let (failures, delay) = after_failure(Some(failures), failures.retry_at, FIRST, MAX);
        assert_eq!((failures.count, delay), (2, 2 * FIRST));
        let late = failures.retry_at + Duration::from_millis(300);
        let (failures, delay) = after_failure(Some(failures), late, FIRST, MAX);
        assert_eq!((failures.count, delay), (3, 4 * FIRST));
    }

    #[test]
    fn event_driven_failures_before_the_retry_is_due_do_not_escalate() {
        let start = Instant::now();
        let (mut failures, _) = after_failure(None, start, FIRST, MAX);
        // A hundred cluster status events 5 ms apart, each failing at once.
        for event in 1..=100u32 {
            let now = start + Duration::from_millis(5) * event;
            let (next, delay) = after_failure(Some(failures), now, FIRST, MAX);
            if now < failures.retry_at {
                assert_eq!(next, failures);
                assert_eq!(now + delay, failures.retry_at);
            }
            failures = next;
        }
        // 500 ms in: still the first failure, retried at 1 s.
        assert_eq!(failures.count, 1);
        assert_eq!(failures.retry_at, start + FIRST);
    }
}
