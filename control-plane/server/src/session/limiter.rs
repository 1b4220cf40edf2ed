//! Failed sign-in attempts, counted per email and per client address in a
//! fixed window; past the limit, sign-in answers 429 until the window ends,
//! even with the right password. Per replica, in memory: with N replicas an
//! attacker gets at most N times the limit, which is still slow.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct SignInLimiter {
    window: Duration,
    failures_per_email: u32,
    failures_per_source: u32,
    entries: Mutex<HashMap<String, Window>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    failures: u32,
}

impl Default for SignInLimiter {
    fn default() -> Self {
        Self::new(Duration::from_secs(15 * 60), 5, 30)
    }
}

impl SignInLimiter {
    /// Most entries kept; beyond it, expired windows are dropped first.
    const ENTRIES_MAX: usize = 100_000;

    pub(crate) fn new(window: Duration, failures_per_email: u32, failures_per_source: u32) -> Self {
        assert!(failures_per_email > 0 && failures_per_source > 0);
        Self {
            window,
            failures_per_email,
            failures_per_source,
            entries: Mutex::default(),
        }
    }

    fn keys(email: &str, source: Option<&str>) -> [(String, bool); 2] {
        [
            (format!("email:{email}"), true),
            (format!("source:{}", source.unwrap_or("unknown")), false),
        ]
    }

    fn limit(&self, is_email: bool) -> u32 {
        if is_email {
            self.failures_per_email
        } else {
            self.failures_per_source
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Window>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// `Err(retry_after)` when this email or source has used up its
    /// failures in the current window.
    pub(crate) fn check(
        &self,
        email: &str,
        source: Option<&str>,
        now: Instant,
    ) -> Result<(), Duration> {
        let entries = self.lock();
        let mut wait = Duration::ZERO;
        for (key, is_email) in Self::keys(email, source) {
            if let Some(window) = entries.get(&key) {
                let ends = window.started + self.window;
                if now < ends && window.failures >= self.limit(is_email) {
                    wait = wait.max(ends - now);
                }
            }
        }
        if wait > Duration::ZERO {
            Err(wait)
        } else {
            Ok(())
        }
    }

    /// Counts a failed attempt.
    pub(crate) fn failed(&self, email: &str, source: Option<&str>, now: Instant) {
        let mut entries = self.lock();
        if entries.len() >= Self::ENTRIES_MAX {
            let window = self.window;
            entries.retain(|_, entry| now < entry.started + window);
            if entries.len() >= Self::ENTRIES_MAX {
                entries.clear();
            }
        }
        for (key, _) in Self::keys(email, source) {
            let entry = entries.entry(key).or_insert(Window {
                started: now,
                failures: 0,
            });
            if now >= entry.started + self.window {
                *entry = Window {
                    started: now,
                    failures: 0,
                };
            }
            entry.failures = entry.failures.saturating_add(1);
        }
    }

    /// Forgets the email's failures after a successful sign-in (the
    /// source's stay: one address guessing many emails is still limited).
    pub(crate) fn succeeded(&self, email: &str) {
        self.lock().remove(&format!("email:{email}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_is_locked_after_its_failures_until_the_window_ends() {
        let limiter = SignInLimiter::new(Duration::from_secs(60), 3, 100);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(limiter.check("a@x.io", Some("1.2.3.4"), start).is_ok());
            limiter.failed("a@x.io", Some("1.2.3.4"), start);
        }
        let wait = limiter.check("a@x.io", Some("5.6.7.8"), start + Duration::from_secs(10));
        assert_eq!(wait, Err(Duration::from_secs(50)));
        // Another email from the same address is not locked.
        assert!(limiter.check("b@x.io", Some("1.2.3.4"), start).is_ok());
        // The window ends.
        assert!(
            limiter
                .check("a@x.io", None, start + Duration::from_secs(60))
                .is_ok()
        );
    }

    #[test]
    fn a_source_is_locked_across_emails_and_success_resets_only_the_email() {
        let limiter = SignInLimiter::new(Duration::from_secs(60), 100, 2);
        let now = Instant::now();
        limiter.failed("a@x.io", Some("9.9.9.9"), now);
        limiter.failed("b@x.io", Some("9.9.9.9"), now);
        assert!(limiter.check("c@x.io", Some("9.9.9.9"), now).is_err());
        assert!(limiter.check("c@x.io", Some("8.8.8.8"), now).is_ok());
        limiter.succeeded("a@x.io");
        assert!(limiter.check("a@x.io", Some("9.9.9.9"), now).is_err());
    }
}
