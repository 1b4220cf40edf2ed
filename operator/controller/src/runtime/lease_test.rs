//! The election's decisions, without an API server.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use super::lease::{Decision, LeaseConfig, Observer, decide, holder, holding, released};

fn held_by(holder: &str, seconds: i32, version: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some("fjord-operator".into()),
            namespace: Some("fjord-system".into()),
            resource_version: Some(version.into()),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(seconds),
            lease_transitions: Some(4),
            ..LeaseSpec::default()
        }),
    }
}

#[test]
fn a_lease_held_by_another_is_taken_only_after_it_stays_unchanged_for_its_duration() {
    let start = Instant::now();
    let lease = held_by("a", 15, "7");
    let mut observer = Observer::default();
    let since = observer.observe("7", start);
    assert_eq!(
        decide("b", Some(&lease), since, start + Duration::from_secs(14)),
        Decision::Wait {
            expires: start + Duration::from_secs(15)
        }
    );
    // Still the same version much later: the clock started at the first read.
    let since = observer.observe("7", start + Duration::from_secs(15));
    assert_eq!(since, start);
    assert_eq!(
        decide("b", Some(&lease), since, start + Duration::from_secs(15)),
        Decision::Take
    );
}

#[test]
fn a_renewal_restarts_the_candidates_wait() {
    let start = Instant::now();
    let mut observer = Observer::default();
    observer.observe("7", start);
    // The holder renewed: a new resource version, seen 10 s later.
    let since = observer.observe("8", start + Duration::from_secs(10));
    let lease = held_by("a", 15, "8");
    assert_eq!(
        decide("b", Some(&lease), since, start + Duration::from_secs(20)),
        Decision::Wait {
            expires: start + Duration::from_secs(25)
        }
    );
}

#[test]
fn missing_empty_and_own_leases_are_created_taken_and_renewed() {
    let now = Instant::now();
    assert_eq!(decide("b", None, now, now), Decision::Create);
    let empty = held_by("", 15, "3");
    assert_eq!(decide("b", Some(&empty), now, now), Decision::Take);
    let own = held_by("b", 15, "3");
    assert_eq!(decide("b", Some(&own), now, now), Decision::Renew);
    let no_duration = Lease {
        spec: Some(LeaseSpec {
            holder_identity: Some("a".into()),
            ..LeaseSpec::default()
        }),
        ..Lease::default()
    };
    assert_eq!(decide("b", Some(&no_duration), now, now), Decision::Take);
}

#[test]
fn taking_over_counts_a_transition_and_renewing_keeps_the_acquire_time() {
    let config = LeaseConfig::new("fjord-operator", "fjord-system", "b");
    let first = Timestamp::from_second(1_000).unwrap();
    let later = Timestamp::from_second(1_010).unwrap();
    let current = held_by("a", 15, "7");
    let taken = holding(&config, Some(&current), Decision::Take, first);
    let spec = taken.spec.clone().unwrap();
    assert_eq!(spec.holder_identity.as_deref(), Some("b"));
    assert_eq!(spec.lease_transitions, Some(5));
    assert_eq!(spec.lease_duration_seconds, Some(15));
    assert_eq!(spec.acquire_time.as_ref().unwrap().0, first);
    // The write is conditional on the version read.
    assert_eq!(taken.metadata.resource_version.as_deref(), Some("7"));

    let renewed = holding(&config, Some(&taken), Decision::Renew, later);
    let spec = renewed.spec.unwrap();
    assert_eq!(spec.lease_transitions, Some(5));
    assert_eq!(spec.acquire_time.unwrap().0, first);
    assert_eq!(spec.renew_time.unwrap().0, later);

    let created = holding(&config, None, Decision::Create, first);
    assert_eq!(created.spec.unwrap().lease_transitions, Some(0));
    assert_eq!(created.metadata.namespace.as_deref(), Some("fjord-system"));
}

#[test]
fn a_released_lease_names_no_holder() {
    let lease = held_by("b", 15, "9");
    let released = released(&lease, Timestamp::from_second(2_000).unwrap());
    assert_eq!(holder(&released), None);
    assert_eq!(released.spec.unwrap().lease_duration_seconds, Some(1));
}

#[test]
fn timings_must_leave_the_leader_time_to_stop() {
    let mut config = LeaseConfig::new("l", "ns", "me");
    assert!(config.validate().is_ok());
    config.renew_deadline = Duration::from_secs(15);
    assert!(
        config.validate().is_err(),
        "renew deadline = lease duration"
    );
    config.renew_deadline = Duration::from_secs(10);
    config.retry_period = Duration::from_secs(10);
    assert!(config.validate().is_err(), "retry period = renew deadline");
    config.retry_period = Duration::from_secs(2);
    config.lease_duration = Duration::from_millis(15_500);
    assert!(config.validate().is_err(), "fractional lease seconds");
    config.lease_duration = Duration::from_secs(15);
    config.identity = String::new();
    assert!(config.validate().is_err(), "empty identity");
}
