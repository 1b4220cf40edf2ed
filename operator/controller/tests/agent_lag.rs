//! The agent's consumer lag against a real `fjord-broker`: records produced
//! with `kcat`, offsets committed by two groups behind the end, and the lag
//! the agent would report (`consumer_lag_records`). See `topic_support` for
//! what it needs.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod agent_support;
mod topic_support;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use agent_support::setup::{NAMESPACE, setup};
use agent_support::{PATIENCE, RunningAgent, agent_config};
use fjord_crd::StreamCluster;
use fjord_operator::agent::lag::consumer_lag;
use kube::Api;
use kube::api::{Patch, PatchParams};
use reqwest::Method;
use serde_json::json;
use topic_support::{Broker, eventually};

/// Produces `count` records to `topic`'s `partition` with `kcat -P`.
fn kcat_produce(broker: &Broker, topic: &str, partition: i32, count: usize) {
    let kcat = std::env::var("KCAT").unwrap_or_else(|_| "kcat".to_owned());
    let mut child = Command::new(kcat)
        .args(["-b", &broker.kafka.to_string(), "-P", "-t", topic])
        .args(["-p", &partition.to_string()])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat runs (Debian package kcat; cargo xtask test installs it)");
    let mut stdin = child.stdin.take().unwrap();
    for n in 0..count {
        writeln!(stdin, "record-{n}").unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success(), "kcat -P failed");
}

#[tokio::test]
async fn the_lag_is_what_the_groups_have_left_to_read() {
    let broker = Broker::start().await;
    let mut admin = broker.admin().await;
    assert!(
        admin
            .create_topic("orders", 2, 1, &BTreeMap::new())
            .await
            .unwrap()
    );
    let bootstrap = broker.kafka.to_string();
    // No groups yet: nothing to read.
    assert_eq!(
        consumer_lag(&bootstrap, Duration::from_secs(10))
            .await
            .unwrap(),
        0
    );
    kcat_produce(&broker, "orders", 0, 10);
    kcat_produce(&broker, "orders", 1, 4);
    // billing read 3 records of partition 0 and never committed on
    // partition 1; audit read 1 record of partition 1.
    admin
        .commit_offset("billing", "orders", 0, 3)
        .await
        .unwrap();
    admin.commit_offset("audit", "orders", 1, 1).await.unwrap();
    // (10 - 3) + (4 - 1); partition 1 counts nothing for billing.
    eventually("the lag of both groups", || {
        let bootstrap = bootstrap.clone();
        async move {
            let lag = consumer_lag(&bootstrap, Duration::from_secs(10))
                .await
                .ok()?;
            (lag == 10).then_some(())
        }
    })
    .await;
    // Caught up: the lag goes to zero, never below.
    admin
        .commit_offset("billing", "orders", 0, 10)
        .await
        .unwrap();
    admin.commit_offset("audit", "orders", 1, 4).await.unwrap();
    assert_eq!(
        consumer_lag(&bootstrap, Duration::from_secs(10))
            .await
            .unwrap(),
        0
    );
}

#[tokio::test]
async fn status_reports_carry_the_consumer_lag() {
    let broker = Broker::start().await;
    let mut admin = broker.admin().await;
    admin
        .create_topic("payments", 1, 1, &BTreeMap::new())
        .await
        .unwrap();
    kcat_produce(&broker, "payments", 0, 5);
    admin
        .commit_offset("ledger", "payments", 0, 2)
        .await
        .unwrap();

    let setup = setup().await;
    let config = agent_config(&setup.control.agent_replica.url(), NAMESPACE);
    let _agent = RunningAgent::start(setup.kube.client.clone(), config);
    // The cluster controller would publish the bootstrap address once the
    // brokers run; here it names the real broker.
    let clusters: Api<StreamCluster> = Api::namespaced(setup.kube.client.clone(), NAMESPACE);
    let bootstrap = broker.kafka.to_string();
    agent_support::eventually("the agent applies orders", PATIENCE, || {
        let clusters = clusters.clone();
        let bootstrap = bootstrap.clone();
        async move {
            clusters.get_opt("orders").await.unwrap()?;
            let status = json!({"status": {"bootstrapAddress": bootstrap}});
            clusters
                .patch_status("orders", &PatchParams::default(), &Patch::Merge(status))
                .await
                .ok()
        }
    })
    .await;

    let path = format!("/v1/clusters/{}/status-history?limit=1", setup.cluster_id);
    let (user, path) = (&setup.user, &path);
    let metrics = agent_support::eventually("a report with the lag", PATIENCE, || async move {
        let history = user.expect(Method::GET, path, None, 200).await.unwrap();
        let metrics = history["items"][0]["metrics"].clone();
        metrics
            .get("consumer_lag_records")
            .is_some()
            .then_some(metrics)
    })
    .await;
    assert_eq!(metrics["consumer_lag_records"], 3.0, "{metrics}");
}
