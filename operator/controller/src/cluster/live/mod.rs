//! Live settings (docs/operator.md, "Live versus restart"): once the
//! ConfigMap holds them (for the brokers' next start), each serving broker
//! whose effective value differs is told through its admin API
//! (`PATCH /v1/config`). No restart, so they are outside the revision.
//!
//! [`plan`] is pure: from what `spec.config` wants and what one broker
//! reports, the change to send it. [`apply_live`] asks every serving broker,
//! sends the changes, and reports: an Event `ConfigApplied` when something
//! was set, a Warning `ConfigApplyFailed` when a broker could not be asked
//! or refused, after which the step backs off per cluster (doubling from
//! 2 s to 5 min) without holding up the rest of the reconcile.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use fjord_crd::StreamCluster;
use fjord_metadata::BrokerId;
use serde_json::{Map, Value};
use tracing::{debug, warn};

use super::admin::LiveSettings;
use super::executor::Notice;
use super::observe::Observed;
use super::reconcile::{Context, notice};
use super::render::{Desired, SettingValue, live_keys};

/// First wait after a failed live step, doubled per failure up to
/// [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_secs(2);
const RETRY_MAX: Duration = Duration::from_secs(300);

/// The change to send a broker reporting `reported` so that every live key
/// has its desired value: the one `spec.config` gives, else the broker's
/// own default (a key removed from `spec.config` goes back to it, as it
/// would at the next start). Keys the broker does not report are left out.
pub fn plan(
    desired: &BTreeMap<&'static str, SettingValue>,
    reported: &LiveSettings,
) -> Map<String, Value> {
    let mut change = Map::new();
    for key in live_keys() {
        let Some(now) = reported.settings.get(key) else {
            continue;
        };
        let wanted = match desired.get(key) {
            Some(SettingValue::Bool(value)) => Value::from(*value),
            Some(SettingValue::Integer(value)) => Value::from(*value),
            Some(SettingValue::Text(value)) => Value::from(value.clone()),
            None => now.default.clone(),
        };
        if wanted != now.value {
            change.insert(key.to_owned(), wanted);
        }
    }
    change
}

/// Consecutive failures of the live step, per cluster.
#[derive(Debug, Default)]
pub(super) struct LiveBackoff {
    clusters: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LiveBackoff {
    /// When the step may run again, if it must wait.
    fn waiting(&self, cluster: &str, now: Instant) -> Option<Duration> {
        let clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        let (_, next) = clusters.get(cluster)?;
        next.checked_duration_since(now)
            .filter(|wait| !wait.is_zero())
    }

    /// Records a failure; returns the wait before the next try.
    fn failed(&self, cluster: &str, now: Instant) -> Duration {
        let mut clusters = self.clusters.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = clusters.entry(cluster.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        let wait = retry_after(entry.0);
        entry.1 = now + wait;
        wait
    }

    fn succeeded(&self, cluster: &str) {
        self.clusters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(cluster);
    }
}

/// The wait after `failures` consecutive failures.
pub fn retry_after(failures: u32) -> Duration {
    let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(20));
    RETRY_FIRST.saturating_mul(factor).min(RETRY_MAX)
}

/// Brings every serving broker's live settings to `desired.live`. Returns
/// when to try again after a failure (`None`: nothing failed). Never fails
/// the reconcile: a broker that cannot be told now is told later.
pub(super) async fn apply_live(
    context: &Context,
    cluster: &StreamCluster,
    desired: &Desired,
    observed: &Observed,
) -> Option<Duration> {
    let key = format!("{}/{}", desired.namespace, desired.name);
    let now = Instant::now();
    if let Some(wait) = context.live_backoff.waiting(&key, now) {
        debug!(cluster = %key, ?wait, "live settings step backing off");
        return Some(wait);
    }
    let admin = context.config.admin.as_ref();
    let mut applied: Vec<(BrokerId, Map<String, Value>)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    for broker in observed.brokers.iter().filter(|b| b.up() && b.serving) {
        let Some(endpoint) = observed
            .pods
            .get(&broker.id)
            .and_then(|p| p.endpoint.as_deref())
        else {
            continue;
        };
        let reported = match admin.live_settings(endpoint).await {
            Ok(reported) => reported,
            Err(error) => {
                failures.push(format!("broker {}: {error}", broker.id.0));
                continue;
            }
        };
        let change = plan(&desired.live, &reported);
        if change.is_empty() {
            continue;
        }
        match admin.set_live_settings(endpoint, &change).await {
            Ok(()) => applied.push((broker.id, change)),
            Err(error) => failures.push(format!("broker {}: {error}", broker.id.0)),
        }
    }
    if !applied.is_empty() {
        notice(
            context,
            cluster,
            Notice::normal("ConfigApplied", "Configuring", applied_note(&applied)),
        )
        .await;
    }
    if failures.is_empty() {
        context.live_backoff.succeeded(&key);
        return None;
    }
    let wait = context.live_backoff.failed(&key, now);
    let note = format!(
        "cannot set live settings ({}); retrying in {} s",
        failures.join("; "),
        wait.as_secs()
    );
    warn!(cluster = %key, %note, "live settings not applied");
    notice(
        context,
        cluster,
        Notice::warning("ConfigApplyFailed", "Configuring", note),
    )
    .await;
    Some(wait)
}

/// `message-bytes-max=2097152 on brokers 1, 2, 3`, grouped by change.
pub fn applied_note(applied: &[(BrokerId, Map<String, Value>)]) -> String {
    let mut by_change: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (broker, change) in applied {
        let text: Vec<String> = change.iter().map(|(k, v)| format!("{k}={v}")).collect();
        by_change
            .entry(text.join(", "))
            .or_default()
            .push(broker.0.to_string());
    }
    let parts: Vec<String> = by_change
        .into_iter()
        .map(|(change, brokers)| {
            let noun = if brokers.len() == 1 {
                "broker"
            } else {
                "brokers"
            };
            format!("{change} on {noun} {}", brokers.join(", "))
        })
        .collect();
    format!("set live: {}", parts.join("; "))
}

#[cfg(test)]
mod tests;
