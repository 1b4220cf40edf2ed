//! The committed CRDs, the sample resources and the install manifests through
//! kubectl against the in-memory API server over HTTP, as a user would apply
//! them. kubectl must be on PATH (`cargo xtask test` installs one where it is
//! missing); `KUBECTL` overrides it.
//!
//! The CEL rules (`x-kubernetes-validations`: storage size, partitions,
//! replication factor) are not exercised here: fjord-kube-sim stores them but
//! does not evaluate CEL. crd_test.rs checks that the rules are in the schema.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::time::Duration;

use fjord_kube_sim::{ApiServer, kubeconfig_yaml, serve};
use tokio::process::Command;

/// A served API server and a kubeconfig for it; stops the server when dropped.
struct Served {
    _dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start() -> Served {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(ApiServer::default(), listener, async move {
        let _ = stopped.await;
    }));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig_yaml(&url)).unwrap();
    Served {
        _dir: dir,
        kubeconfig,
        stop: Some(stop),
    }
}

fn kubectl_program() -> String {
    std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned())
}

/// kubectl's client minor version (32 for the base image's, 20 for Debian's).
fn kubectl_minor() -> u32 {
    let output = std::process::Command::new(kubectl_program())
        .args(["version", "--client", "-o", "json"])
        .output()
        .expect("kubectl is installed: run `cargo xtask test` or put it on PATH (or set KUBECTL)");
    let version: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let minor = version["clientVersion"]["minor"].as_str().unwrap_or("0");
    minor.trim_end_matches('+').parse().unwrap_or(0)
}

/// Runs kubectl; returns stdout and stderr, failing the test with both if it fails.
async fn run(kubeconfig: &Path, args: &[&str]) -> (String, String) {
    let mut args = args.to_vec();
    // Before server-side field validation (1.25) kubectl validates against OpenAPI
    // v2, which the simulator does not serve (see operator/kube-sim/README.md).
    if args.first() == Some(&"apply") && kubectl_minor() < 25 {
        args.push("--validate=false");
    }
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        Command::new(kubectl_program())
            .env("KUBECONFIG", kubeconfig)
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .kill_on_drop(true)
            .args(&args)
            .output(),
    )
    .await
    .expect("kubectl finishes within 30 s")
    .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {stderr}{stdout}"
    );
    (stdout, stderr)
}

/// A file of operator/deploy.
fn deploy(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
        .to_str()
        .unwrap()
        .to_owned()
}

/// Words of each output line, so column widths do not matter.
fn rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn kubectl_applies_the_crds_and_samples_without_warnings_prints_their_columns_and_explains_fields()
 {
    let served = start().await;
    let config = &served.kubeconfig;
    let (out, warnings) = run(config, &["apply", "-f", &deploy("crds.yaml")]).await;
    assert_eq!(
        out.lines().collect::<Vec<_>>(),
        [
            "customresourcedefinition.apiextensions.k8s.io/streamclusters.fjord.dev created",
            "customresourcedefinition.apiextensions.k8s.io/topics.fjord.dev created",
        ]
    );
    assert_eq!(warnings, "", "applying the CRDs warns");

    let (out, warnings) = run(
        config,
        &["apply", "-f", &deploy("samples/stream-cluster.yaml")],
    )
    .await;
    assert_eq!(out.trim(), "streamcluster.fjord.dev/demo created");
    assert_eq!(
        warnings, "",
        "the sample cluster has fields the schema lacks"
    );
    let (out, warnings) = run(config, &["apply", "-f", &deploy("samples/topic.yaml")]).await;
    assert_eq!(out.trim(), "topic.fjord.dev/orders created");
    assert_eq!(warnings, "", "the sample topic has fields the schema lacks");

    // Every field of the sample survived (nothing was pruned as unknown).
    let (rack, _) = run(
        config,
        &["get", "fsc", "demo", "-o", "jsonpath={.spec.rackAwareness.topologyKey} {.spec.rollout.pauseSeconds} {.spec.resources.requests.memory} {.spec.listeners[0].port}"],
    )
    .await;
    assert_eq!(rack, "topology.kubernetes.io/zone 10 2Gi 9092");

    let clusters = rows(&run(config, &["get", "fsc"]).await.0);
    assert_eq!(
        clusters[0],
        ["NAME", "VERSION", "BROKERS", "READY", "PHASE", "AGE"]
    );
    assert_eq!(clusters[1][..3], ["demo", "0.1.0", "3"]);
    let wide = rows(
        &run(config, &["get", "streamclusters", "-o", "wide"])
            .await
            .0,
    );
    assert_eq!(
        wide[0],
        [
            "NAME",
            "VERSION",
            "BROKERS",
            "READY",
            "PHASE",
            "BOOTSTRAP",
            "AGE"
        ]
    );

    let topics = rows(&run(config, &["get", "ftopic"]).await.0);
    assert_eq!(
        topics[0],
        ["NAME", "CLUSTER", "PARTITIONS", "REPLICAS", "READY", "AGE"]
    );
    assert_eq!(topics[1][..4], ["orders", "demo", "6", "3"]);

    // The `fjord` category lists both kinds.
    let (all, _) = run(config, &["get", "fjord", "-o", "name"]).await;
    assert_eq!(
        all.lines().collect::<Vec<_>>(),
        ["streamcluster.fjord.dev/demo", "topic.fjord.dev/orders"]
    );

    // kubectl explain reads the doc comments (from OpenAPI v3, which kubectl
    // uses for explain from 1.27; older ones ask for v2, not served).
    if kubectl_minor() >= 27 {
        let (explained, _) = run(
            config,
            &[
                "explain",
                "streamclusters.spec.rollout.healthTimeoutSeconds",
            ],
        )
        .await;
        assert!(
            explained.contains("before the roll pauses with a `Degraded` condition"),
            "{explained}"
        );
        let (explained, _) = run(config, &["explain", "topics.spec.partitions"]).await;
        assert!(
            explained.contains("Kafka can add partitions but never remove them"),
            "{explained}"
        );
    }
}

#[tokio::test]
async fn kubectl_apply_k_installs_the_operator_from_operator_deploy() {
    let served = start().await;
    let config = &served.kubeconfig;
    let (out, warnings) = run(config, &["apply", "-k", &deploy("")]).await;
    let mut created: Vec<&str> = out.lines().collect();
    created.sort_unstable();
    assert_eq!(
        created,
        [
            "clusterrole.rbac.authorization.k8s.io/fjord-agent created",
            "clusterrole.rbac.authorization.k8s.io/fjord-broker-rack created",
            "clusterrole.rbac.authorization.k8s.io/fjord-operator created",
            "clusterrolebinding.rbac.authorization.k8s.io/fjord-agent created",
            "clusterrolebinding.rbac.authorization.k8s.io/fjord-operator created",
            "customresourcedefinition.apiextensions.k8s.io/streamclusters.fjord.dev created",
            "customresourcedefinition.apiextensions.k8s.io/topics.fjord.dev created",
            "deployment.apps/fjord-operator created",
            "namespace/fjord-system created",
            "role.rbac.authorization.k8s.io/fjord-operator created",
            "rolebinding.rbac.authorization.k8s.io/fjord-operator created",
            "serviceaccount/fjord-operator created",
        ]
    );
    assert_eq!(warnings, "");
    let (account, _) = run(
        config,
        &[
            "get",
            "deployment",
            "fjord-operator",
            "-n",
            "fjord-system",
            "-o",
            "jsonpath={.spec.template.spec.serviceAccountName} {.spec.template.spec.containers[0].args[0]}",
        ],
    )
    .await;
    assert_eq!(account, "fjord-operator run");
}
