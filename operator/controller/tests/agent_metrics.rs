//! The agent's status reports carry broker throughput: it scrapes each
//! broker Pod's admin `/metrics` (here a stub that counts like a broker)
//! and reports bytes per second from the counters' growth between scrapes.
//! Postgres from `DATABASE_URL`, default the local server.

#![allow(clippy::unwrap_used)]

mod agent_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use agent_support::setup::{NAMESPACE, setup};
use agent_support::{PATIENCE, RunningAgent, agent_config, eventually};
use k8s_openapi::api::core::v1::Pod;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use reqwest::Method;
use serde_json::json;

/// A broker's `/metrics`: produced bytes grow by 4096 per scrape, fetched
/// bytes stay put, 123456 bytes on disk.
async fn stub_broker() -> u16 {
    let scrapes = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let scrapes = Arc::clone(&scrapes);
            async move {
                let n = scrapes.fetch_add(1, Ordering::SeqCst) + 1;
                format!(
                    "# TYPE fjord_broker_produced_bytes counter\n\
                     fjord_broker_produced_bytes_total {}\n\
                     # TYPE fjord_broker_fetched_bytes counter\n\
                     fjord_broker_fetched_bytes_total 777\n\
                     # TYPE fjord_broker_disk_used_bytes gauge\n\
                     fjord_broker_disk_used_bytes 123456\n# EOF\n",
                    n * 4096
                )
            }
        }),
    );
    let socket = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = socket.local_addr().unwrap().port();
    tokio::spawn(async move {
        let _ = axum::serve(socket, app).await;
    });
    port
}

#[tokio::test]
async fn status_reports_carry_the_brokers_throughput() {
    let setup = setup().await;
    let port = stub_broker().await;
    let mut config = agent_config(&setup.control.agent_replica.url(), NAMESPACE);
    config.broker_metrics_port = port;
    let _agent = RunningAgent::start(setup.kube.client.clone(), config);
    setup.topic_with_partitions(6).await;

    // A broker Pod of `orders`, as the cluster controller would run it.
    let pods: Api<Pod> = Api::namespaced(setup.kube.client.clone(), NAMESPACE);
    let pod: Pod = serde_json::from_value(json!({
        "metadata": {"name": "orders-0", "labels": {"app.kubernetes.io/instance": "orders"}},
        "spec": {"containers": [{"name": "broker", "image": "fjord-broker:0.1.0"}]}
    }))
    .unwrap();
    pods.create(&PostParams::default(), &pod).await.unwrap();
    pods.patch_status(
        "orders-0",
        &PatchParams::default(),
        &Patch::Merge(json!({"status": {"phase": "Running", "podIP": "127.0.0.1"}})),
    )
    .await
    .unwrap();

    let path = format!("/v1/clusters/{}/status-history?limit=1", setup.cluster_id);
    let (user, path) = (&setup.user, &path);
    let metrics = eventually("a report with throughput", PATIENCE, || async move {
        let history = user.expect(Method::GET, path, None, 200).await.unwrap();
        let metrics = history["items"][0]["metrics"].clone();
        metrics
            .get("produce_bytes_per_second")
            .is_some()
            .then_some(metrics)
    })
    .await;
    let produce = metrics["produce_bytes_per_second"].as_f64().unwrap();
    assert!(produce > 0.0, "{metrics}");
    assert_eq!(metrics["fetch_bytes_per_second"], 0.0, "{metrics}");
    assert_eq!(metrics["brokers_declared"], 3.0, "{metrics}");
    assert_eq!(metrics["disk_used_bytes"], 123456.0, "{metrics}");
    // No key the brokers do not give.
    assert!(metrics.get("consumer_lag_records").is_none(), "{metrics}");
}
