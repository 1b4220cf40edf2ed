//! Capped exponential backoff with full jitter: the n-th retry waits a
//! uniformly random time in `[0, min(max, initial * 2^n)]`, so agents that
//! lost the control plane together do not return together.

use std::hash::{BuildHasher as _, RandomState};
use std::time::Duration;

use super::config::BackoffPolicy;

/// Retry state: how many failures in a row.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    random: RandomState,
}

impl Backoff {
    pub(crate) fn new(policy: BackoffPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            random: RandomState::new(),
        }
    }

    /// Failures in a row since the last success.
    pub(crate) fn failures(&self) -> u32 {
        self.failures
    }

    /// A call succeeded: the next failure starts from the first delay.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }

    /// A call failed: how long to wait before the next one.
    pub(crate) fn next_delay(&mut self) -> Duration {
        let cap = cap(self.policy, self.failures);
        self.failures = self.failures.saturating_add(1);
        // A fresh random u64 from the std hasher's random keys.
        let fraction = (self.random.hash_one(self.failures) >> 11) as f64 / (1_u64 << 53) as f64;
        let delay = cap.mul_f64(fraction);
        assert!(delay <= self.policy.max, "jitter stays under the cap");
        delay
    }
}

/// The ceiling of the delay after `failures` failures.
fn cap(policy: BackoffPolicy, failures: u32) -> Duration {
    let factor = 1_u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
    policy
        .initial
        .checked_mul(factor)
        .map_or(policy.max, |delay| delay.min(policy.max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ceiling_doubles_up_to_the_cap_and_delays_stay_under_it() {
        let policy = BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        let ceilings: Vec<_> = (0..8).map(|n| cap(policy, n).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1600, 2000, 2000, 2000]);
        assert_eq!(cap(policy, u32::MAX), policy.max);
        let mut backoff = Backoff::new(policy);
        let delays: Vec<_> = (0..50).map(|_| backoff.next_delay()).collect();
        assert!(delays.iter().all(|delay| *delay <= policy.max));
        assert!(delays[..1].iter().all(|d| *d <= Duration::from_millis(100)));
        let distinct: std::collections::BTreeSet<_> = delays.iter().collect();
        assert!(distinct.len() > 40, "jittered, not in step: {delays:?}");
        assert_eq!(backoff.failures(), 50);
        backoff.reset();
        assert!(backoff.next_delay() <= Duration::from_millis(100));
    }
}
