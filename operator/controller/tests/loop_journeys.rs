//! The BYOC loop, closed (issue 14; SCENARIOS.md journeys 1, 5 and 6): a
//! REST call becomes a signed intent, the agent applies it, the operator
//! runs real `fjord-broker` processes under kube-sim's kubelet, and their
//! health flows back to the API. `loop_support` wires the pieces; the
//! chaos checker (data-plane/chaos) is the oracle for acknowledged records.
//!
//! Needs Debian's `kcat` and `kubectl` (or `KUBECTL`), Postgres
//! (`DATABASE_URL`), a built `fjord-broker` beside this test binary (or
//! `FJORD_BROKER_BIN`) and `FJORD_TEST_PYTHON` naming a Python with
//! confluent-kafka; `cargo xtask test` provides all of them. Runs in the
//! nextest group `broker-clusters`. `FJORD_LOOP_OUTAGE_SECONDS` sets how
//! long journey 6 keeps the control plane away (default 5; the journey
//! says 60).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod agent_support;
mod cluster;
mod loop_support;

use std::collections::BTreeMap;
use std::time::Duration;

use agent_support::{PATIENCE, eventually};
use cluster::kafka::{
    PARTITIONS, Producer, TOPIC, dump_logs, kcat_brokers, python, read_back, read_back_from,
};
use fjord_chaos::checker::check;
use fjord_operator::agent::names;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::ListParams;
use loop_support::{CLUSTER_PATIENCE, Loop};
use reqwest::Method;
use serde_json::json;

/// The partition count `kcat -L` shows for the topic, once it shows one.
async fn partitions_on_brokers(bootstrap: &str) -> Option<usize> {
    let output = tokio::process::Command::new("kcat")
        .args(["-L", "-b", bootstrap, "-t", TOPIC, "-m", "5"])
        .output()
        .await
        .ok()?;
    let listing = String::from_utf8_lossy(&output.stdout);
    let line = listing
        .lines()
        .find(|line| line.contains(&format!("topic \"{TOPIC}\" with ")))?;
    line.split("with ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A running loop with a ready 3-broker cluster `orders` and its topic;
/// (loop, cluster id, topic id, bootstrap).
async fn ready_cluster() -> (Loop, String, String, String) {
    let mut run = Loop::start(&[]).await;
    run.start_operator();
    run.connection("connected").await;
    let cluster_id = run.create_cluster("orders", "0.1.0", 3).await;
    let topic_id = run.create_topic(&cluster_id, TOPIC, PARTITIONS).await;
    let bootstrap = run.ready(&cluster_id, 3, "0.1.0").await;
    let expected = usize::try_from(PARTITIONS).unwrap();
    let shown = eventually("the topic on the brokers", CLUSTER_PATIENCE, || {
        partitions_on_brokers(&bootstrap)
    })
    .await;
    assert_eq!(shown, expected);
    (run, cluster_id, topic_id, bootstrap)
}

/// Produces idempotently with `acks=all` while `during` runs; then checks
/// every acknowledged record is read back exactly once, in order.
async fn produce_during<F: std::future::Future<Output = ()>>(
    run: &Loop,
    bootstrap: &str,
    during: F,
) -> u64 {
    let python = python();
    let producer = Producer::start(&python, bootstrap);
    during.await;
    let (acked, failed) = tokio::task::spawn_blocking(move || producer.finish())
        .await
        .unwrap();
    assert!(
        failed.is_empty(),
        "the producer gave up on records: {failed:?}"
    );
    assert!(!acked.is_empty(), "nothing was acknowledged");
    let read = read_back(&python, bootstrap).await;
    let report = check(&acked, &read);
    if !report.is_clean() {
        dump_logs(run.state.path());
    }
    assert!(report.is_clean(), "{:?}", report.total);
    assert_eq!(report.total.acked, acked.len() as u64);
    report.total.acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_1_a_rest_call_becomes_three_brokers_that_keep_acks_all_records() {
    let (run, cluster_id, _topic, bootstrap) = ready_cluster().await;
    let view = run.cluster_view(&cluster_id).await;
    assert_eq!(view["status"]["phase"], "ready");
    assert_eq!(view["status"]["brokers_ready"], 3);
    assert_eq!(
        kcat_brokers(&bootstrap).len(),
        3,
        "kcat -L lists three brokers"
    );
    let acked = produce_during(&run, &bootstrap, tokio::time::sleep(Duration::from_secs(3))).await;
    eprintln!("journey 1: {acked} records acknowledged (acks=all) and read back");
    run.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_5_with_approval_on_a_change_waits_until_kubectl_approves_it() {
    let (run, _cluster, topic_id, bootstrap) = ready_cluster().await;
    run.kubectl(&[
        "annotate",
        "namespace",
        &run.namespace,
        "--overwrite",
        "fjord.dev/agent-approval=required",
    ])
    .await;
    run.user
        .expect(
            Method::PATCH,
            &format!("/v1/topics/{topic_id}"),
            Some(json!({"partitions": 6})),
            200,
        )
        .await
        .unwrap();
    // The API shows the change waiting for approval.
    let report = eventually("the change waiting in the API", PATIENCE, || async {
        let view = run.user.environment_view(&run.environment_id).await.ok()?;
        let report = view["connection"]["last_intent_report"].clone();
        (report["outcome"] == "waiting").then_some(report)
    })
    .await;
    assert_eq!(report["check"], "approval", "{report}");
    let config_maps: Api<ConfigMap> = Api::namespaced(run.testbed.client.clone(), &run.namespace);
    let pending = config_maps.get(names::PENDING_CONFIG_MAP).await.unwrap();
    let data: BTreeMap<String, String> = pending.data.unwrap();
    assert!(
        data["diff"].contains("partitions 3 -> 6"),
        "{}",
        data["diff"]
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        partitions_on_brokers(&bootstrap).await,
        Some(3),
        "nothing applies before approval"
    );

    run.kubectl(&[
        "annotate",
        "namespace",
        &run.namespace,
        "--overwrite",
        &format!("fjord.dev/agent-approved-generation={}", data["generation"]),
    ])
    .await;
    eventually(
        "six partitions on the brokers",
        CLUSTER_PATIENCE,
        || async { (partitions_on_brokers(&bootstrap).await? == 6).then_some(()) },
    )
    .await;
    eventually("the change applied in the API", PATIENCE, || async {
        let view = run.user.environment_view(&run.environment_id).await.ok()?;
        (view["connection"]["last_intent_report"]["outcome"] == "applied").then_some(())
    })
    .await;
    run.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_6_without_the_control_plane_brokers_keep_running_and_lose_nothing() {
    let outage = std::env::var("FJORD_LOOP_OUTAGE_SECONDS")
        .ok()
        .and_then(|seconds| seconds.parse().ok())
        .map_or(Duration::from_secs(5), Duration::from_secs);
    let (mut run, cluster_id, _topic, bootstrap) = ready_cluster().await;
    let pods: Api<Pod> = Api::namespaced(run.testbed.client.clone(), &run.namespace);
    let uids = |list: kube::core::ObjectList<Pod>| -> Vec<String> {
        let mut uids: Vec<String> = list
            .items
            .into_iter()
            .filter_map(|p| p.metadata.uid)
            .collect();
        uids.sort();
        uids
    };
    let before = uids(pods.list(&ListParams::default()).await.unwrap());
    assert_eq!(before.len(), 3);

    let python = python();
    let producer = Producer::start(&python, &bootstrap);
    run.control_mut().cut_agent_off().await;
    run.connection("disconnected").await;
    tokio::time::sleep(outage).await;
    let during = uids(pods.list(&ListParams::default()).await.unwrap());
    assert_eq!(during, before, "nothing was torn down or restarted");
    run.control_mut().reconnect_agent().await.unwrap();
    run.connection("connected").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (acked, failed) = tokio::task::spawn_blocking(move || producer.finish())
        .await
        .unwrap();
    assert!(
        failed.is_empty(),
        "the producer gave up on records: {failed:?}"
    );
    let read = read_back(&python, &bootstrap).await;
    let report = check(&acked, &read);
    assert!(report.is_clean(), "{:?}", report.total);
    assert!(report.total.acked > 0);
    let after = uids(pods.list(&ListParams::default()).await.unwrap());
    assert_eq!(after, before, "the brokers kept running through the outage");
    let view = run.cluster_view(&cluster_id).await;
    assert_eq!(view["status"]["phase"], "ready");
    eprintln!(
        "journey 6: {outage:?} without the control plane, {} records acknowledged and read back",
        report.total.acked
    );
    run.finish().await;
}

/// Journey 4's clusters: two ready 3-broker clusters, each with its own
/// topic (topic names are unique per namespace); (id, topic, bootstrap).
async fn two_clusters(run: &Loop) -> Vec<(String, String, String)> {
    let mut clusters = Vec::new();
    for (name, topic) in [("east", "east-orders"), ("west", "west-orders")] {
        let id = run.create_cluster(name, "0.1.0", 3).await;
        run.create_topic(&id, topic, PARTITIONS).await;
        clusters.push((id, topic.to_owned()));
    }
    let mut ready = Vec::new();
    for (id, topic) in clusters {
        let bootstrap = run.ready(&id, 3, "0.1.0").await;
        let listed = eventually("the topic on the brokers", CLUSTER_PATIENCE, || {
            let (bootstrap, topic) = (bootstrap.clone(), topic.clone());
            async move {
                let output = tokio::process::Command::new("kcat")
                    .args(["-L", "-b", &bootstrap, "-t", &topic, "-m", "5"])
                    .output()
                    .await
                    .ok()?;
                let listing = String::from_utf8_lossy(&output.stdout).into_owned();
                listing
                    .contains(&format!("topic \"{topic}\" with {PARTITIONS} partitions"))
                    .then_some(())
            }
        });
        listed.await;
        ready.push((id, topic, bootstrap));
    }
    ready
}

/// Every broker Pod's uid, by name.
async fn pod_uids(run: &Loop) -> BTreeMap<String, String> {
    let pods: Api<Pod> = Api::namespaced(run.testbed.client.clone(), &run.namespace);
    pods.list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|pod| Some((pod.metadata.name?, pod.metadata.uid?)))
        .collect()
}

/// Starts a rollout to `version` in one wave per cluster; its id.
async fn rollout(run: &Loop, version: &str, clusters: &[String]) -> String {
    let waves: Vec<Vec<&String>> = clusters.iter().map(|id| vec![id]).collect();
    let created = run
        .user
        .expect(
            Method::POST,
            "/v1/rollouts",
            Some(json!({"target_version": version, "waves": waves, "max_in_flight": 1})),
            201,
        )
        .await
        .unwrap();
    created["rollout_id"].as_str().unwrap().to_owned()
}

/// The rollout once it is `state`.
async fn rollout_state(run: &Loop, rollout_id: &str, state: &str) -> serde_json::Value {
    let path = format!("/v1/rollouts/{rollout_id}");
    let deadline = CLUSTER_PATIENCE * 2;
    eventually(&format!("rollout {state}"), deadline, || async {
        let view = run.user.expect(Method::GET, &path, None, 200).await.ok()?;
        (view["state"] == state).then_some(view)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journey_4_a_fleet_rollout_in_two_waves_loses_nothing_and_a_failing_one_halts() {
    // Release 0.3.0 is a broker that cannot start.
    let mut run = Loop::start(&[("fjord/broker:0.3.0", "/bin/false".into())]).await;
    run.start_operator();
    run.connection("connected").await;
    let clusters = two_clusters(&run).await;
    let ids: Vec<String> = clusters.iter().map(|(id, _, _)| id.clone()).collect();
    let before = pod_uids(&run).await;
    assert_eq!(before.len(), 6);

    // At most one broker of a cluster is down at any moment.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let pods: Api<Pod> = Api::namespaced(run.testbed.client.clone(), &run.namespace);
    let watcher = loop_support::unready::watch(pods, &["east", "west"], 3, stop.clone());
    let python = python();
    let producers: Vec<Producer> = clusters
        .iter()
        .map(|(_, topic, bootstrap)| Producer::start_on(&python, bootstrap, topic))
        .collect();
    let started = std::time::Instant::now();
    let first = rollout(&run, "0.2.0", &ids).await;
    let done = rollout_state(&run, &first, "succeeded").await;
    eprintln!(
        "journey 4: rollout of 2 clusters in 2 waves took {:?}",
        started.elapsed()
    );
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let unready = watcher.await.unwrap();
    assert!(
        unready.worst <= 1,
        "{} brokers of a cluster were down at once: {:#?}",
        unready.worst,
        unready.at_worst
    );
    for cluster in done["clusters"].as_array().unwrap() {
        assert_eq!(cluster["state"], "succeeded", "{done}");
    }
    for id in &ids {
        let status = run.cluster_view(id).await["status"].clone();
        assert_eq!(status["observed_version"], "0.2.0", "{status}");
        assert_eq!(status["phase"], "ready", "{status}");
    }
    let after = pod_uids(&run).await;
    for (pod, uid) in &before {
        assert_ne!(after.get(pod), Some(uid), "broker {pod} was not restarted");
    }
    for (producer, (_, topic, bootstrap)) in producers.into_iter().zip(&clusters) {
        let (acked, failed) = tokio::task::spawn_blocking(move || producer.finish())
            .await
            .unwrap();
        assert!(
            failed.is_empty(),
            "the producer gave up on records: {failed:?}"
        );
        let read = read_back_from(&python, bootstrap, topic).await;
        let report = check(&acked, &read);
        eprintln!(
            "journey 4: {topic}: {} acknowledged, {} lost, {} duplicated",
            report.total.acked, report.total.lost, report.total.duplicated
        );
        if !report.is_clean() {
            dump_logs(run.state.path());
        }
        assert!(report.is_clean(), "{:?}", report.total);
        assert!(report.total.acked > 0);
    }

    // A release whose broker cannot start: the first wave fails, the
    // rollout halts and says why, the second cluster stays on 0.2.0.
    let second = rollout(&run, "0.3.0", &ids).await;
    let halted = rollout_state(&run, &second, "halted").await;
    let reason = halted["halted_reason"].as_str().unwrap_or_default();
    assert!(reason.contains("roll paused"), "{halted}");
    assert!(reason.contains(&ids[0]), "{halted}");
    assert_eq!(halted["clusters"][0]["state"], "failed", "{halted}");
    assert_eq!(halted["clusters"][1]["state"], "pending", "{halted}");
    assert_eq!(run.cluster_view(&ids[1]).await["version"], "0.2.0");
    let audit = run
        .user
        .expect(
            Method::GET,
            &format!("/v1/audit-records?action=rollout.halt&object_id={second}"),
            None,
            200,
        )
        .await
        .unwrap();
    let halt = audit["items"][0].clone();
    assert!(
        halt["detail"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("roll paused"),
        "{halt}"
    );
    run.finish().await;
}
