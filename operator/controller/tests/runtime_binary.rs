//! The `fjord-operator run` binary against `fjord-kube-sim --listen` over
//! HTTP, found through a kubeconfig as on any cluster: it answers /healthz,
//! /readyz and /metrics, takes the Lease, a second replica stands by, and
//! on SIGTERM the leader stops and releases the Lease to the standby.
//!
//! Needs `fjord-kube-sim` built beside this test binary (`cargo build -p
//! fjord-kube-sim`; `cargo xtask test` builds the workspace) or
//! `FJORD_KUBE_SIM_BIN`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::PostParams;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn sibling_binary(name: &str, variable: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(variable) {
        return PathBuf::from(path);
    }
    let test = std::env::current_exe().unwrap();
    let profile = test.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile.join(name);
    assert!(
        binary.exists(),
        "no {}: build it (cargo build -p {name}) or set {variable}",
        binary.display()
    );
    binary
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A child process, killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting: {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `GET path` over plain HTTP/1.1: the status code and body, or `None`
/// when nothing answers yet.
async fn get(address: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await.ok()?;
    let code = response.split_whitespace().nth(1)?.parse().ok()?;
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())?;
    Some((code, body))
}

fn operator(kubeconfig: &Path, listen: SocketAddr, identity: &str) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_fjord-operator"))
        .args(["run", "--listen", &listen.to_string()])
        .args(["--lease-namespace", "default", "--identity", identity])
        .args(["--retry-period-seconds", "1"])
        .env("KUBECONFIG", kubeconfig)
        .env_remove("POD_NAMESPACE")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Process(child)
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(name)?
            .strip_prefix(' ')?
            .trim()
            .parse()
            .ok()
    })
}

async fn holder(leases: &Api<Lease>) -> Option<String> {
    let lease = leases.get_opt("fjord-operator").await.ok()??;
    lease
        .spec?
        .holder_identity
        .filter(|holder| !holder.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_health_and_metrics_takes_the_lease_and_hands_it_over_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let api = free_address();
    let _server = Process(
        Command::new(sibling_binary("fjord-kube-sim", "FJORD_KUBE_SIM_BIN"))
            .args(["--listen", &api.to_string()])
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    eventually("the API server answers", || async {
        get(api, "/healthz").await.filter(|(code, _)| *code == 200)
    })
    .await;
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    for crd in fjord_crd::crds() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let leases: Api<Lease> = Api::namespaced(client, "default");

    let first_address = free_address();
    let mut first = operator(&kubeconfig, first_address, "operator-a");
    let (code, body) = eventually("/healthz answers", || async {
        get(first_address, "/healthz").await
    })
    .await;
    assert_eq!((code, body.as_str()), (200, "{\"status\":\"ok\"}"));
    let (code, body) = eventually("/readyz is ready", || async {
        get(first_address, "/readyz")
            .await
            .filter(|(code, _)| *code == 200)
    })
    .await;
    assert!(body.contains("\"kubernetes-api\":\"ok\""), "{code} {body}");
    eventually("operator-a holds the lease", || async {
        (holder(&leases).await.as_deref() == Some("operator-a")).then_some(())
    })
    .await;
    let metrics = eventually("operator-a reports itself leader", || async {
        let (_, text) = get(first_address, "/metrics").await?;
        (metric(&text, "fjord_operator_leader") == Some(1.0)).then_some(text)
    })
    .await;
    assert_eq!(
        metric(&metrics, "fjord_operator_leader_transitions_total"),
        Some(1.0)
    );
    assert!(
        metrics.contains("fjord_operator_controller_running{controller=\"topic\"} 1"),
        "{metrics}"
    );

    let second_address = free_address();
    let mut second = operator(&kubeconfig, second_address, "operator-b");
    let standby = eventually("operator-b answers", || async {
        get(second_address, "/metrics").await.map(|(_, text)| text)
    })
    .await;
    assert_eq!(metric(&standby, "fjord_operator_leader"), Some(0.0));

    // SIGTERM: controllers stop, the lease is released, the standby leads.
    let pid = first.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::task::spawn_blocking(move || first.0.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "operator-a exited with {status}");
    eventually("operator-b takes over", || async {
        (holder(&leases).await.as_deref() == Some("operator-b")).then_some(())
    })
    .await;
    eventually("operator-b reports itself leader", || async {
        let (_, text) = get(second_address, "/metrics").await?;
        (metric(&text, "fjord_operator_leader") == Some(1.0)).then_some(())
    })
    .await;
    let _ = second.0.kill();
}
