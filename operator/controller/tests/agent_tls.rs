//! The agent reaches the control plane over HTTPS: a TLS front with a test
//! CA stands before the real control plane (Postgres from `DATABASE_URL`,
//! default the local server). Without the CA the agent refuses the
//! certificate and registers nothing; with `--control-plane-ca-file` it
//! registers, long-polls the intent into resources and reports status.

mod agent_support;

use agent_support::setup::{NAMESPACE, setup};
use agent_support::tls::TlsFront;
use agent_support::{PATIENCE, RunningAgent, agent_config, eventually};
use fjord_operator::agent::names;
use kube::api::{Patch, PatchParams};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn the_agent_registers_polls_and_reports_over_https_with_a_private_ca() {
    let setup = setup().await;
    let front = TlsFront::start(setup.control.agent_replica.address).await;

    // The bundled web PKI roots do not know the test CA: the handshake
    // fails, the agent keeps retrying, and nothing is registered.
    let untrusting = RunningAgent::start(
        setup.kube.client.clone(),
        agent_config(&front.url(), NAMESPACE),
    );
    let front_ref = &front;
    eventually("a refused certificate", PATIENCE, || async move {
        (front_ref.handshakes_failed() >= 2).then_some(())
    })
    .await;
    assert!(
        !untrusting.finished(),
        "the agent retries, it does not stop"
    );
    assert_eq!(front.handshakes_done(), 0);
    assert!(
        setup
            .kube
            .secrets()
            .get_opt(names::CREDENTIAL_SECRET)
            .await
            .unwrap()
            .is_none()
    );
    drop(untrusting);

    // With the CA file it trusts the front.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("control-plane-ca.pem");
    std::fs::write(&ca_file, &front.ca_pem).unwrap();
    let mut config = agent_config(&front.url(), NAMESPACE);
    config.control_plane_ca_file = Some(ca_file);
    let _agent = RunningAgent::start(setup.kube.client.clone(), config);

    let kube = &setup.kube;
    let credential = eventually("the credential Secret", PATIENCE, || async move {
        kube.secrets()
            .get_opt(names::CREDENTIAL_SECRET)
            .await
            .unwrap()
    })
    .await;
    let data = credential.data.unwrap();
    assert_eq!(data["environment-id"].0, setup.environment_id.as_bytes());
    assert!(data["agent-credential"].0.starts_with(b"fja_"));

    // The long-poll brings the intent through TLS.
    setup.topic_with_partitions(6).await;
    let report = setup.intent_report("applied").await;
    assert_eq!(report["generation"], 2);

    // Status reports reach the vendor through TLS too.
    let status =
        json!({"status": {"phase": "Ready", "readyBrokers": 3, "currentVersion": "0.1.0"}});
    setup
        .kube
        .clusters()
        .patch_status("orders", &PatchParams::default(), &Patch::Merge(status))
        .await
        .unwrap();
    let cluster_path = format!("/v1/clusters/{}", setup.cluster_id);
    let (user, cluster_path) = (&setup.user, &cluster_path);
    eventually("the cluster's reported status", PATIENCE, || async move {
        let cluster = user
            .expect(Method::GET, cluster_path, None, 200)
            .await
            .unwrap();
        let status = &cluster["status"];
        (status["phase"] == "ready" && status["brokers_ready"] == 3).then_some(())
    })
    .await;
    setup.connection_state("connected").await;
    assert!(front.handshakes_done() >= 1);
}
