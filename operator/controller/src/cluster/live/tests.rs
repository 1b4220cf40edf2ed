//! What the live step sends each broker, and its backoff.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use fjord_metadata::BrokerId;
use serde_json::{Value, json};

use super::*;
use crate::cluster::admin::{LiveSetting, LiveSettings};

/// A broker reporting `(key, value, default)`.
fn reported(settings: &[(&str, Value, Value)]) -> LiveSettings {
    LiveSettings {
        settings: settings
            .iter()
            .map(|(key, value, default)| {
                let setting = LiveSetting {
                    value: value.clone(),
                    source: "static".into(),
                    default: default.clone(),
                };
                ((*key).to_owned(), setting)
            })
            .collect(),
    }
}

fn broker() -> LiveSettings {
    reported(&[
        ("auto-create-topics", json!(true), json!(true)),
        ("default-partitions", json!(1), json!(1)),
        ("default-replication-factor", json!(3), json!(1)),
        ("message-bytes-max", json!(1_048_588), json!(1_048_588)),
    ])
}

/// A broker's reported settings, by name.
type Settings = Vec<(&'static str, SettingValue)>;

#[test]
fn only_the_settings_that_differ_are_sent() {
    let rf = ("default-replication-factor", SettingValue::Integer(3));
    let cases: Vec<(&str, Settings, Value)> = vec![
        ("nothing differs", vec![rf.clone()], json!({})),
        (
            "a new limit",
            vec![
                rf.clone(),
                ("message-bytes-max", SettingValue::Integer(2_097_152)),
            ],
            json!({ "message-bytes-max": 2_097_152 }),
        ),
        (
            "a bool and an integer",
            vec![
                rf.clone(),
                ("auto-create-topics", SettingValue::Bool(false)),
                ("default-partitions", SettingValue::Integer(6)),
            ],
            json!({ "auto-create-topics": false, "default-partitions": 6 }),
        ),
        (
            "a key dropped from spec.config goes back to the broker's default",
            vec![],
            json!({ "default-replication-factor": 1 }),
        ),
        (
            "a restart-only key is never sent",
            vec![rf.clone(), ("frame-bytes-max", SettingValue::Integer(4096))],
            json!({}),
        ),
    ];
    for (case, desired, expected) in cases {
        let desired: BTreeMap<&'static str, SettingValue> = desired.into_iter().collect();
        let change = plan(&desired, &broker());
        assert_eq!(Value::Object(change), expected, "{case}");
    }
}

#[test]
fn a_key_the_broker_does_not_report_is_left_alone() {
    let desired: BTreeMap<&'static str, SettingValue> =
        [("message-bytes-max", SettingValue::Integer(2_097_152))].into();
    let older = reported(&[("auto-create-topics", json!(true), json!(true))]);
    assert!(plan(&desired, &older).is_empty());
}

#[test]
fn failures_back_off_doubling_to_five_minutes_and_success_resets() {
    let waits: Vec<u64> = (1..=10).map(|n| retry_after(n).as_secs()).collect();
    assert_eq!(waits, [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
    let backoff = LiveBackoff::default();
    let now = Instant::now();
    assert_eq!(backoff.waiting("ns/demo", now), None);
    assert_eq!(backoff.failed("ns/demo", now), Duration::from_secs(2));
    assert_eq!(backoff.failed("ns/demo", now), Duration::from_secs(4));
    assert_eq!(
        backoff.waiting("ns/demo", now),
        Some(Duration::from_secs(4))
    );
    assert_eq!(backoff.waiting("ns/other", now), None, "per cluster");
    assert_eq!(
        backoff.waiting("ns/demo", now + Duration::from_secs(5)),
        None
    );
    backoff.succeeded("ns/demo");
    assert_eq!(backoff.failed("ns/demo", now), Duration::from_secs(2));
}

#[test]
fn the_event_groups_brokers_by_the_change_they_got() {
    let change = |pairs: Value| match pairs {
        Value::Object(map) => map,
        _ => unreachable!(),
    };
    let applied = vec![
        (
            BrokerId(1),
            change(json!({ "message-bytes-max": 2_097_152 })),
        ),
        (
            BrokerId(3),
            change(json!({ "message-bytes-max": 2_097_152 })),
        ),
        (
            BrokerId(2),
            change(json!({ "auto-create-topics": false, "message-bytes-max": 2_097_152 })),
        ),
    ];
    assert_eq!(
        applied_note(&applied),
        "set live: auto-create-topics=false, message-bytes-max=2097152 on broker 2; \
         message-bytes-max=2097152 on brokers 1, 3"
    );
}
