//! Faults for tests: failing requests with 500 or 429, dropping watches, delaying
//! watch events. Driven in process through [`Faults`] or over HTTP through the admin
//! endpoints (see the crate README).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::status::ApiStatus;

#[derive(Debug)]
struct FaultState {
    /// Answer requests with this status code until the deadline or for this many requests.
    failure: Option<Failure>,
    /// Watches opened before this end at once; new ones end immediately until then.
    watches_dropped_until: Option<Instant>,
    event_delay: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Failure {
    code: u16,
    until: Option<Instant>,
    remaining: Option<u32>,
}

/// Shared fault switches of one server.
#[derive(Debug, Clone)]
pub struct Faults {
    state: Arc<Mutex<FaultState>>,
    /// Bumped whenever open watches must end.
    drops: Arc<watch::Sender<u64>>,
}

impl Default for Faults {
    fn default() -> Self {
        let (drops, _) = watch::channel(0);
        Self {
            state: Arc::new(Mutex::new(FaultState {
                failure: None,
                watches_dropped_until: None,
                event_delay: Duration::ZERO,
            })),
            drops: Arc::new(drops),
        }
    }
}

impl Faults {
    fn lock(&self) -> MutexGuard<'_, FaultState> {
        match self.state.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Answers every API request with `code` (500 or 429) for `duration`.
    pub fn fail_requests_for(&self, code: u16, duration: Duration) {
        assert!(
            matches!(code, 429 | 500 | 503),
            "only 429, 500 and 503 are injected"
        );
        self.lock().failure = Some(Failure {
            code,
            until: Some(Instant::now() + duration),
            remaining: None,
        });
    }

    /// Answers the next `count` API requests with `code`.
    pub fn fail_next_requests(&self, code: u16, count: u32) {
        assert!(
            matches!(code, 429 | 500 | 503),
            "only 429, 500 and 503 are injected"
        );
        self.lock().failure = Some(Failure {
            code,
            until: None,
            remaining: Some(count),
        });
    }

    /// Ends every open watch now; new ones get no events for `duration` and then end.
    pub fn drop_watches_for(&self, duration: Duration) {
        self.lock().watches_dropped_until = Some(Instant::now() + duration);
        self.drops.send_modify(|epoch| *epoch += 1);
    }

    /// Holds every watch event back by `delay` before sending it.
    pub fn delay_events(&self, delay: Duration) {
        self.lock().event_delay = delay;
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        let mut state = self.lock();
        state.failure = None;
        state.watches_dropped_until = None;
        state.event_delay = Duration::ZERO;
    }

    /// The failure to answer the current request with, if one is injected.
    pub fn request_failure(&self) -> Option<ApiStatus> {
        let mut state = self.lock();
        let failure = state.failure.as_mut()?;
        if failure.until.is_some_and(|until| Instant::now() >= until)
            || failure.remaining == Some(0)
        {
            state.failure = None;
            return None;
        }
        if let Some(remaining) = failure.remaining.as_mut() {
            *remaining -= 1;
        }
        Some(match failure.code {
            429 => ApiStatus::too_many_requests(),
            code => {
                let mut status =
                    ApiStatus::internal("injected fault: the server is failing requests");
                status.code = code;
                status
            }
        })
    }

    /// Until when new watches are held and then ended without events, if they are now.
    pub fn watches_dropped_until(&self) -> Option<Instant> {
        self.lock()
            .watches_dropped_until
            .filter(|until| Instant::now() < *until)
    }

    /// Whether new watches end without events right now.
    pub fn watches_dropped(&self) -> bool {
        self.watches_dropped_until().is_some()
    }

    /// The current event delay.
    pub fn event_delay(&self) -> Duration {
        self.lock().event_delay
    }

    /// A receiver that changes when open watches must end.
    pub fn watch_drops(&self) -> watch::Receiver<u64> {
        self.drops.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_failure_answers_that_many_requests_then_stops() {
        let faults = Faults::default();
        faults.fail_next_requests(429, 2);
        assert_eq!(faults.request_failure().unwrap().code, 429);
        assert_eq!(faults.request_failure().unwrap().code, 429);
        assert!(faults.request_failure().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_timed_failure_ends_after_its_duration() {
        let faults = Faults::default();
        faults.fail_requests_for(500, Duration::from_secs(1));
        assert_eq!(faults.request_failure().unwrap().code, 500);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(faults.request_failure().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn dropping_watches_signals_open_watches_and_refuses_new_ones_for_a_while() {
        let faults = Faults::default();
        let mut drops = faults.watch_drops();
        faults.drop_watches_for(Duration::from_secs(1));
        assert!(drops.has_changed().unwrap());
        drops.mark_unchanged();
        assert!(faults.watches_dropped());
        tokio::time::advance(Duration::from_secs(2)).await;
        assert!(!faults.watches_dropped());
    }
}
