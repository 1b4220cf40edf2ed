//! Retries of transient AWS errors inside a step: throttling, an AWS
//! outage, and ids not yet visible right after they were made (EC2 is
//! eventually consistent). Anything else is returned at once.

use std::future::Future;
use std::time::Duration;

use crate::error::{AwsError, ErrorClass};

/// How a step retries a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub attempts: u32,
    /// The first wait; it doubles after every try.
    pub first_delay: Duration,
    /// The longest wait.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The wait before try `attempt + 1` (`attempt` counts from 1), with up
    /// to a quarter of it added as jitter so many jobs do not retry in step.
    pub fn delay(&self, attempt: u32) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let base = self
            .first_delay
            .saturating_mul(2_u32.pow(exponent))
            .min(self.max_delay);
        let jitter_range = u64::try_from(base.as_millis() / 4).unwrap_or(0);
        let jitter = if jitter_range == 0 {
            0
        } else {
            // The random low bits of a UUIDv7 are randomness enough for jitter.
            u64::try_from(uuid::Uuid::now_v7().as_u128() & u128::from(u32::MAX)).unwrap_or(0)
                % jitter_range
        };
        base + Duration::from_millis(jitter)
    }

    /// Runs `call` until it succeeds, fails for good, or the tries run
    /// out. `not_found_is_transient` says whether a `*.NotFound` is about an
    /// id this job made or found (retry) or one the customer gave (report).
    pub async fn run<T, F, Fut>(
        &self,
        not_found_is_transient: bool,
        mut call: F,
    ) -> Result<T, AwsError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, AwsError>>,
    {
        assert!(self.attempts >= 1, "a retry policy makes at least one try");
        let mut attempt = 1;
        loop {
            match call().await {
                Ok(value) => return Ok(value),
                Err(error) => {
                    let transient = match error.class {
                        ErrorClass::NotFound => not_found_is_transient,
                        class => class.is_transient(),
                    };
                    if !transient || attempt >= self.attempts {
                        return Err(error);
                    }
                    let delay = self.delay(attempt);
                    tracing::info!(
                        operation = error.operation,
                        code = error.code.as_deref().unwrap_or("none"),
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        "transient aws error; retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 4,
            first_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    fn failure(code: &str) -> AwsError {
        AwsError::new("CreateVpc", code, "test", ErrorClass::of_code(code))
    }

    #[test]
    fn delays_double_and_stay_under_the_cap() {
        let policy = RetryPolicy::default();
        assert!(policy.delay(1) >= Duration::from_millis(200));
        assert!(policy.delay(1) < Duration::from_millis(251));
        assert!(policy.delay(2) >= Duration::from_millis(400));
        assert!(policy.delay(30) <= Duration::from_millis(6250));
    }

    #[tokio::test]
    async fn throttling_is_retried_until_it_passes() {
        let calls = &AtomicU32::new(0);
        let result = quick()
            .run(false, || async move {
                if calls.fetch_add(1, Ordering::SeqCst) < 2 {
                    Err(failure("RequestLimitExceeded"))
                } else {
                    Ok("vpc-1")
                }
            })
            .await;
        assert_eq!(result, Ok("vpc-1"));
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn access_denied_and_limits_are_not_retried() {
        for code in ["UnauthorizedOperation", "VpcLimitExceeded"] {
            let calls = &AtomicU32::new(0);
            let result: Result<(), _> = quick()
                .run(true, || async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    Err(failure(code))
                })
                .await;
            assert_eq!(result.err().and_then(|e| e.code), Some(code.to_owned()));
            assert_eq!(calls.load(Ordering::SeqCst), 1, "{code} was retried");
        }
    }

    #[tokio::test]
    async fn not_found_is_retried_only_for_our_own_ids() {
        let calls = &AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .run(false, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(failure("InvalidVpcID.NotFound"))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let calls = &AtomicU32::new(0);
        let result: Result<(), _> = quick()
            .run(true, || async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(failure("InvalidVpcID.NotFound"))
            })
            .await;
        assert!(result.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 4, "gives up after its tries");
    }
}
