//! Per-node clocks: each runs at its own rate against simulated real time and
//! may jump forward, as a VM's monotonic clock does after a pause or a steal.

use fjord_replication::Millis;

/// Rates are in permille of real time: 1000 is an exact clock.
pub(crate) const RATE_PERMILLE_MIN: u64 = 500;
pub(crate) const RATE_PERMILLE_MAX: u64 = 2000;

/// `local(t) = base_local + (t - base_global) * rate / 1000`, never backwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NodeClock {
    base_global: Millis,
    base_local: Millis,
    rate_permille: u64,
}

impl NodeClock {
    pub(crate) fn new(offset: Millis, rate_permille: u64) -> NodeClock {
        assert!((RATE_PERMILLE_MIN..=RATE_PERMILLE_MAX).contains(&rate_permille));
        NodeClock {
            base_global: Millis(0),
            base_local: offset,
            rate_permille,
        }
    }

    /// The node's reading of its clock at real time `now`.
    pub(crate) fn local(&self, now: Millis) -> Millis {
        assert!(now >= self.base_global, "real time never goes back");
        let elapsed = (now.0 - self.base_global.0) * self.rate_permille / 1000;
        self.base_local.after(elapsed)
    }

    /// Real time for `local_ms` of this clock to pass (at least 1 ms).
    pub(crate) fn real_delay(&self, local_ms: u64) -> u64 {
        assert!(self.rate_permille > 0);
        (local_ms * 1000).div_ceil(self.rate_permille).max(1)
    }

    /// From real time `now` on, the clock runs at `rate_permille`.
    pub(crate) fn set_rate(&mut self, now: Millis, rate_permille: u64) {
        assert!((RATE_PERMILLE_MIN..=RATE_PERMILLE_MAX).contains(&rate_permille));
        let reading = self.local(now);
        self.base_global = now;
        self.base_local = reading;
        self.rate_permille = rate_permille;
        assert_eq!(self.local(now), reading, "a rate change is not a jump");
    }

    /// The clock jumps forward by `jump_ms` at real time `now`.
    pub(crate) fn jump(&mut self, now: Millis, jump_ms: u64) {
        let before = self.local(now);
        self.set_rate(now, self.rate_permille);
        self.base_local = self.base_local.after(jump_ms);
        assert!(
            self.local(now) >= before,
            "monotonic clocks only jump forward"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fast_clock_runs_ahead_and_jumps_only_forward() {
        let mut clock = NodeClock::new(Millis(7), 2000);
        assert_eq!(clock.local(Millis(100)), Millis(207));
        assert_eq!(clock.real_delay(10), 5);
        clock.set_rate(Millis(100), 500);
        assert_eq!(clock.local(Millis(200)), Millis(257));
        clock.jump(Millis(200), 1000);
        assert_eq!(clock.local(Millis(200)), Millis(1257));
    }
}
