//! Helpers shared by the resources' plans and waits.
//!
//! Plan rules every resource follows (so a plan right after an apply is
//! empty and drift shows):
//! - computed attributes that the change will move are planned unknown;
//!   all others keep their prior value;
//! - optional attributes with a server default are planned to the default
//!   when the configuration omits them, and read back as the server holds
//!   them, so an omitted value never differs from what the server reports;
//! - `Read` writes what the server holds into every attribute the API
//!   returns, so a change made outside Terraform shows as a diff.

use std::future::Future;
use std::time::{Duration, Instant};

use tf_provider::AttributePath;
use tf_provider::value::Value;

use crate::error::{Error, Result};

/// Whether a configured attribute differs from the prior state (an unknown
/// planned value counts as a change).
pub(crate) fn differs<T: PartialEq>(prior: &Value<T>, planned: &Value<T>) -> bool {
    planned.is_unknown() || prior != planned
}

/// Collects the attributes whose change forces a replacement.
pub(crate) fn replace_if<T: PartialEq>(
    replace: &mut Vec<AttributePath>,
    name: &'static str,
    prior: &Value<T>,
    planned: &Value<T>,
) {
    if differs(prior, planned) {
        replace.push(AttributePath::new(name));
    }
}

/// The known string value of an attribute.
pub(crate) fn known(value: &Value<String>) -> Option<&str> {
    match value {
        Value::Value(text) => Some(text.as_str()),
        _ => None,
    }
}

/// A map attribute whose values may be unknown while planning (computed
/// from other resources), as the API's configuration map.
pub(crate) type ConfigValue = Value<std::collections::BTreeMap<String, Value<String>>>;

/// The map when it and every value in it are known.
pub(crate) fn known_map(map: &ConfigValue) -> Option<fjord_api::ConfigMap> {
    let Value::Value(map) = map else {
        return None;
    };
    map.iter()
        .map(|(key, value)| known(value).map(|value| (key.clone(), value.to_owned())))
        .collect()
}

/// The API's configuration map as an attribute.
pub(crate) fn config_value(map: fjord_api::ConfigMap) -> ConfigValue {
    Value::Value(
        map.into_iter()
            .map(|(key, value)| (key, Value::Value(value)))
            .collect(),
    )
}

/// An attribute as a 32-bit integer (the API's integer fields), with a
/// message naming it when it does not fit.
pub(crate) fn int32(name: &str, value: &Value<i64>) -> std::result::Result<i32, String> {
    match value {
        Value::Value(number) => i32::try_from(*number)
            .map_err(|_| format!("{name} must be a 32-bit integer, got {number}")),
        _ => Err(format!("{name} must be set")),
    }
}

/// An id attribute as a UUID, with a message naming it.
pub(crate) fn uuid(name: &str, value: &Value<String>) -> std::result::Result<uuid::Uuid, String> {
    match value {
        Value::Value(text) => text
            .parse()
            .map_err(|_| format!("{name} must be a UUID, got {text:?}")),
        _ => Err(format!("{name} must be set")),
    }
}

/// A fresh `Idempotency-Key`: planned once, sent with every attempt of
/// the create, so a retried apply replays the first answer.
pub(crate) fn idempotency_key() -> String {
    format!("terraform-{}", uuid::Uuid::now_v7())
}

/// What one look at a converging object found.
#[derive(Debug)]
pub(crate) enum Progress<T> {
    Done(T),
    /// Not there yet; says what was seen, for the timeout message.
    Pending(String),
}

/// Polls `look` every `interval` until it is done, fails, or `timeout`
/// passes.
pub(crate) async fn wait_until<T, F, Fut>(
    what: &str,
    timeout: Duration,
    interval: Duration,
    mut look: F,
) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Progress<T>>>,
{
    let started = Instant::now();
    loop {
        let last = match look().await? {
            Progress::Done(value) => return Ok(value),
            Progress::Pending(last) => last,
        };
        if started.elapsed() >= timeout {
            return Err(Error::Timeout {
                what: what.to_owned(),
                seconds: timeout.as_secs(),
                last,
            });
        }
        tracing::debug!(what, last = %last, "waiting");
        tokio::time::sleep(interval.min(timeout.saturating_sub(started.elapsed()))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_wait_returns_once_the_object_is_done() {
        let mut looks = 0;
        let result = wait_until(
            "thing",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                looks += 1;
                let done = looks == 3;
                async move {
                    Ok(if done {
                        Progress::Done(looks)
                    } else {
                        Progress::Pending("not yet".to_owned())
                    })
                }
            },
        )
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[tokio::test]
    async fn a_wait_that_runs_out_of_time_says_what_it_last_saw() {
        let result: Result<()> = wait_until(
            "cluster x to be ready",
            Duration::from_millis(20),
            Duration::from_millis(5),
            || async { Ok(Progress::Pending("phase creating".to_owned())) },
        )
        .await;
        let message = result
            .err()
            .map(|error| error.to_string())
            .unwrap_or_default();
        assert!(message.contains("cluster x to be ready"), "{message}");
        assert!(message.contains("phase creating"), "{message}");
    }

    #[test]
    fn an_unknown_planned_value_is_a_change() {
        assert!(differs(&Value::Value(1), &Value::Unknown));
        assert!(!differs(&Value::Value(1), &Value::Value(1)));
        assert!(differs(&Value::Value(1), &Value::Value(2)));
    }
}
