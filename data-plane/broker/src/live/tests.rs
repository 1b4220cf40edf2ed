//! Live settings: validation all or nothing, sources, and the admin routes
//! over HTTP.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::Arc;

use clap::Parser;
use serde_json::{Value, json};

use super::http::{LiveApi, router};
use super::{LiveConfig, LiveConfigError, LiveKey, Source};
use crate::BrokerConfig;
use crate::config::BrokerArgs;
use crate::disk::DataDisk;
use crate::topic_config::TopicDefaults;
use crate::topics::Topics;

fn config(extra: &[&str]) -> BrokerConfig {
    let mut argv = vec!["fjord-broker", "--data-dir", "/tmp/x"];
    argv.extend_from_slice(extra);
    BrokerConfig::from_args(&BrokerArgs::try_parse_from(argv).unwrap()).unwrap()
}

#[test]
fn a_change_applies_every_key_and_marks_them_dynamic() {
    let live = LiveConfig::new(&config(&["--default-partitions", "3"]));
    let watcher = live.subscribe();
    live.apply(&json!({ "message-bytes-max": 4096, "auto-create-topics": false }))
        .unwrap();
    let state = live.state();
    assert_eq!(state.current.message_bytes_max, 4096);
    assert!(!state.current.auto_create_topics);
    assert_eq!(state.current.default_partitions, 3);
    assert_eq!(state.source(LiveKey::MessageBytesMax), Source::Dynamic);
    assert_eq!(state.source(LiveKey::DefaultPartitions), Source::Static);
    assert_eq!(state.startup.message_bytes_max, 1_048_588);
    assert_eq!(state.defaults.default_partitions, 1, "the built-in default");
    assert!(watcher.has_changed().unwrap(), "readers see the change");
}

#[test]
fn one_bad_key_refuses_the_whole_change() {
    let live = LiveConfig::new(&config(&[]));
    let before = live.state();
    let cases: [(Value, LiveConfigError); 6] = [
        (
            json!({ "message-bytes-max": 4096, "frame-bytes-max": 2048 }),
            LiveConfigError::RestartOnly("frame-bytes-max".into()),
        ),
        (
            json!({ "message-bytes-max": 4096, "log.retention.ms": 1 }),
            LiveConfigError::Unknown("log.retention.ms".into()),
        ),
        (
            json!({ "message-bytes-max": "4096" }),
            LiveConfigError::WrongType {
                key: "message-bytes-max",
                expected: "an integer",
                got: "\"4096\"".into(),
            },
        ),
        (
            json!({ "auto-create-topics": 1 }),
            LiveConfigError::WrongType {
                key: "auto-create-topics",
                expected: "true or false",
                got: "1".into(),
            },
        ),
        (
            json!({ "message-bytes-max": 4096, "default-partitions": 0 }),
            LiveConfigError::OutOfRange {
                key: "default-partitions",
                problem: "invalid partition count: 0 is not between 1 and 10000".into(),
            },
        ),
        (json!([1, 2]), LiveConfigError::NotAnObject),
    ];
    for (change, expected) in cases {
        assert_eq!(live.apply(&change).unwrap_err(), expected, "{change}");
        assert_eq!(live.state(), before, "nothing of {change} applied");
    }
}

#[test]
fn a_replication_factor_above_the_brokers_or_a_huge_limit_is_out_of_range() {
    let single = LiveConfig::new(&config(&[]));
    let refused = single
        .apply(&json!({ "default-replication-factor": 2 }))
        .unwrap_err();
    assert!(
        matches!(
            refused,
            LiveConfigError::OutOfRange {
                key: "default-replication-factor",
                ..
            }
        ),
        "{refused}"
    );
    let refused = single
        .apply(&json!({ "message-bytes-max": 3_000_000_000_u64 }))
        .unwrap_err();
    assert!(
        matches!(
            refused,
            LiveConfigError::OutOfRange {
                key: "message-bytes-max",
                ..
            }
        ),
        "{refused}"
    );
    let refused = single
        .apply(&json!({ "message-bytes-max": -1 }))
        .unwrap_err();
    assert!(
        refused.to_string().contains("message-bytes-max"),
        "{refused}"
    );
}

#[test]
fn null_goes_back_to_the_start_up_value() {
    let live = LiveConfig::new(&config(&["--message-bytes-max", "2048"]));
    live.apply(&json!({ "message-bytes-max": 8192 })).unwrap();
    live.apply(&json!({ "message-bytes-max": null })).unwrap();
    let state = live.state();
    assert_eq!(state.current.message_bytes_max, 2048);
    assert_eq!(state.source(LiveKey::MessageBytesMax), Source::Static);
}

async fn serve(api: LiveApi) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router(api)).await });
    format!("http://{address}/v1/config")
}

#[tokio::test]
async fn the_admin_routes_describe_apply_and_refuse_changes() {
    let directory = tempfile::tempdir().unwrap();
    let config = config(&[]);
    let topics = Arc::new(
        Topics::open(
            directory.path(),
            DataDisk::new(),
            TopicDefaults {
                message_bytes_max: config.message_bytes_max,
            },
        )
        .unwrap(),
    );
    let live = LiveConfig::new(&config);
    let url = serve(LiveApi {
        live: live.clone(),
        topics: Arc::clone(&topics),
        metrics: super::LiveMetrics::default(),
    })
    .await;
    let client = reqwest::Client::new();

    let described: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        described["settings"]["message-bytes-max"],
        json!({ "value": 1_048_588, "source": "static", "startup": 1_048_588, "default": 1_048_588 })
    );

    let applied = client
        .patch(&url)
        .body(r#"{"message-bytes-max": 2097152}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(applied.status(), 200);
    let applied: Value = applied.json().await.unwrap();
    assert_eq!(applied["settings"]["message-bytes-max"]["value"], 2_097_152);
    assert_eq!(
        applied["settings"]["message-bytes-max"]["source"],
        "dynamic"
    );
    assert_eq!(
        topics.defaults().message_bytes_max,
        2_097_152,
        "topics default to the new limit"
    );

    for body in [r#"{"frame-bytes-max": 2048}"#, "not json", r#"{"nope": 1}"#] {
        let refused = client.patch(&url).body(body).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{body}");
        assert_eq!(
            refused.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = refused.json().await.unwrap();
        assert!(problem["detail"].as_str().unwrap().len() > 10, "{problem}");
    }
    assert_eq!(live.current().message_bytes_max, 2_097_152);
}
