//! Leader election decisions over a `coordination.k8s.io/v1` Lease, without
//! I/O (the elector in `elector.rs` reads and writes the Lease).
//!
//! The algorithm and its timing argument are in `docs/operator.md`
//! ("Leader election"). In short:
//! - a candidate never compares the holder's `renewTime` with its own wall
//!   clock; it measures, on its own monotonic clock, how long the Lease has
//!   stayed unchanged since it first saw its current `resourceVersion`, and
//!   takes it only once that exceeds the holder's `leaseDurationSeconds`;
//! - every write carries the `resourceVersion` it read (optimistic
//!   concurrency), so of two writers racing, one gets 409 Conflict;
//! - the leader counts its term from the instant *before* it sent the write
//!   that succeeded, and stops acting once `renew_deadline` (shorter than the
//!   lease duration) has passed without another successful renewal.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use crate::error::{Error, Result};

/// Where the Lease lives, who we are, and the election's timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseConfig {
    /// Name of the Lease object.
    pub name: String,
    /// Namespace of the Lease object.
    pub namespace: String,
    /// This replica's `holderIdentity`; unique per process.
    pub identity: String,
    /// `leaseDurationSeconds` written into the Lease: how long others wait
    /// after its last change before taking it.
    pub lease_duration: Duration,
    /// How long the leader may go without a successful renewal before it
    /// stops acting. Shorter than `lease_duration`; the difference covers
    /// stopping the controllers and clock-rate differences.
    pub renew_deadline: Duration,
    /// How often the leader renews and a candidate retries.
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// Client-go's timing (15 s lease, 10 s renew deadline, 2 s retry).
    pub fn new(name: &str, namespace: &str, identity: &str) -> Self {
        Self {
            name: name.to_owned(),
            namespace: namespace.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// Checks `0 < retry_period < renew_deadline < lease_duration`, whole
    /// seconds for the lease duration (the Lease stores seconds), and names.
    pub fn validate(&self) -> Result<()> {
        let invalid = |setting, reason: &str| {
            Err(Error::InvalidConfig {
                setting,
                reason: reason.to_owned(),
            })
        };
        if self.name.is_empty() {
            return invalid("lease name", "must not be empty");
        }
        if self.namespace.is_empty() {
            return invalid("lease namespace", "must not be empty");
        }
        if self.identity.is_empty() {
            return invalid("identity", "must not be empty");
        }
        if self.retry_period.is_zero() {
            return invalid("retry period", "must be above zero");
        }
        if self.retry_period >= self.renew_deadline {
            return invalid("renew deadline", "must be longer than the retry period");
        }
        if self.renew_deadline >= self.lease_duration {
            return invalid("lease duration", "must be longer than the renew deadline");
        }
        if self.lease_duration.subsec_nanos() != 0 || self.lease_seconds().is_none() {
            return invalid("lease duration", "must be whole seconds that fit an i32");
        }
        Ok(())
    }

    fn lease_seconds(&self) -> Option<i32> {
        i32::try_from(self.lease_duration.as_secs()).ok()
    }
}

/// Remembers since when the Lease has looked the same to this replica.
#[derive(Debug, Default)]
pub struct Observer {
    last: Option<(String, Instant)>,
}

impl Observer {
    /// Records a read of the Lease with `resource_version` made at `now`;
    /// returns the instant this replica first saw that version.
    pub fn observe(&mut self, resource_version: &str, now: Instant) -> Instant {
        match &self.last {
            Some((seen, since)) if seen == resource_version => *since,
            _ => {
                self.last = Some((resource_version.to_owned(), now));
                now
            }
        }
    }
}

/// What a candidate does after reading the Lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// No Lease exists: create it, holding it.
    Create,
    /// The Lease names us already (we restarted with the same identity, or
    /// our write's answer was lost): renew it.
    Renew,
    /// Nobody holds it, or the holder let it expire: take it over.
    Take,
    /// Someone else holds it; look again later (it expires at the instant).
    Wait { expires: Instant },
}

/// Decides from the Lease as read, the instant it was first seen unchanged
/// (see [`Observer`]) and now.
pub(crate) fn decide(
    identity: &str,
    lease: Option<&Lease>,
    unchanged_since: Instant,
    now: Instant,
) -> Decision {
    let Some(lease) = lease else {
        return Decision::Create;
    };
    let spec = lease.spec.as_ref();
    let holder = spec
        .and_then(|spec| spec.holder_identity.as_deref())
        .filter(|holder| !holder.is_empty());
    let Some(holder) = holder else {
        return Decision::Take;
    };
    if holder == identity {
        return Decision::Renew;
    }
    // A holder that claims no (or a nonsensical) duration claims nothing.
    let seconds = spec
        .and_then(|spec| spec.lease_duration_seconds)
        .and_then(|seconds| u64::try_from(seconds).ok())
        .unwrap_or(0);
    let expires = unchanged_since + Duration::from_secs(seconds);
    if now >= expires {
        Decision::Take
    } else {
        Decision::Wait { expires }
    }
}

fn micro_time(now: Timestamp) -> MicroTime {
    MicroTime(now)
}

/// The Lease to write for `decision` (not [`Decision::Wait`]), holding it as
/// `config.identity` at wall time `now`. `current` carries the
/// `resourceVersion` the write is conditional on.
pub(crate) fn holding(
    config: &LeaseConfig,
    current: Option<&Lease>,
    decision: Decision,
    now: Timestamp,
) -> Lease {
    assert!(
        !matches!(decision, Decision::Wait { .. }),
        "a Lease is written only to hold it"
    );
    let previous = current
        .and_then(|lease| lease.spec.clone())
        .unwrap_or_default();
    let transitions = previous.lease_transitions.unwrap_or(0);
    let (acquire_time, transitions) = match decision {
        Decision::Renew => (
            previous.acquire_time.clone().unwrap_or(micro_time(now)),
            transitions,
        ),
        Decision::Create => (micro_time(now), 0),
        Decision::Take | Decision::Wait { .. } => (micro_time(now), transitions.saturating_add(1)),
    };
    let metadata = match current {
        Some(lease) => lease.metadata.clone(),
        None => ObjectMeta {
            name: Some(config.name.clone()),
            namespace: Some(config.namespace.clone()),
            ..ObjectMeta::default()
        },
    };
    Lease {
        metadata,
        spec: Some(LeaseSpec {
            holder_identity: Some(config.identity.clone()),
            lease_duration_seconds: config.lease_seconds(),
            acquire_time: Some(acquire_time),
            renew_time: Some(micro_time(now)),
            lease_transitions: Some(transitions),
            ..previous
        }),
    }
}

/// The Lease to write when the leader steps down on shutdown: no holder, so
/// a standby takes it at once (the controllers have stopped by then).
pub(crate) fn released(held: &Lease, now: Timestamp) -> Lease {
    let mut lease = held.clone();
    let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
    spec.holder_identity = None;
    spec.lease_duration_seconds = Some(1);
    spec.renew_time = Some(micro_time(now));
    lease
}

/// The holder a Lease names, if any.
pub(crate) fn holder(lease: &Lease) -> Option<&str> {
    lease
        .spec
        .as_ref()
        .and_then(|spec| spec.holder_identity.as_deref())
        .filter(|holder| !holder.is_empty())
}
