//! kubectl against the HTTP server: apply a CRD and an object, see the printer
//! columns, watch, annotate and delete. kubectl must be on PATH (`cargo xtask test`
//! installs Debian's `kubernetes-client` where it is missing); `KUBECTL` overrides it.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use fjord_kube_sim::{ApiServer, kubeconfig_yaml, serve};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

/// A served API server and a kubeconfig for it.
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
    let program = std::env::var("KUBECTL").unwrap_or_else(|_| "kubectl".to_owned());
    let found = std::process::Command::new(&program)
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        found,
        "kubectl is not installed: run `cargo xtask test` (it installs Debian's kubernetes-client) \
         or put kubectl on PATH (or set KUBECTL)"
    );
    program
}

fn kubectl(kubeconfig: &Path) -> Command {
    let mut command = Command::new(kubectl_program());
    command
        .env("KUBECONFIG", kubeconfig)
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .kill_on_drop(true);
    command
}

/// kubectl's client minor version (32 for the base image's, 20 for Debian's).
fn kubectl_minor() -> u32 {
    let output = std::process::Command::new(kubectl_program())
        .args(["version", "--client", "-o", "json"])
        .output()
        .unwrap();
    let version: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let minor = version["clientVersion"]["minor"].as_str().unwrap_or("0");
    minor.trim_end_matches('+').parse().unwrap_or(0)
}

/// Runs kubectl; returns stdout, failing the test with stderr if it fails.
async fn run(kubeconfig: &Path, args: &[&str]) -> String {
    let mut args = args.to_vec();
    // Before server-side field validation (1.25), `apply` validates against OpenAPI v2,
    // which it fetches as protobuf; the simulator serves no OpenAPI v2 (see README).
    if args.first() == Some(&"apply") && kubectl_minor() < 25 {
        args.push("--validate=false");
    }
    let args = args.as_slice();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        kubectl(kubeconfig).args(args).output(),
    )
    .await
    .expect("kubectl finishes within 30 s")
    .expect("kubectl runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?} failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

const CLUSTER: &str = "apiVersion: fjord.dev/v1alpha1
kind: StreamCluster
metadata:
  name: demo
spec:
  version: 0.1.0
  brokers: BROKERS
  storage:
    size: 10Gi
";

fn write_cluster(dir: &Path, brokers: u16) -> PathBuf {
    let path = dir.join("cluster.yaml");
    std::fs::write(&path, CLUSTER.replace("BROKERS", &brokers.to_string())).unwrap();
    path
}

/// Words of each output line, so column widths do not matter.
fn rows(output: &str) -> Vec<Vec<String>> {
    output
        .lines()
        .map(|line| line.split_whitespace().map(str::to_owned).collect())
        .collect()
}

async fn install_crd(served: &Served) -> PathBuf {
    let dir = served.kubeconfig.parent().unwrap().to_owned();
    let crd = dir.join("crd.yaml");
    std::fs::write(&crd, fjord_crd::crd_yaml().unwrap()).unwrap();
    let out = run(&served.kubeconfig, &["apply", "-f", crd.to_str().unwrap()]).await;
    assert_eq!(
        out.trim(),
        "customresourcedefinition.apiextensions.k8s.io/streamclusters.fjord.dev created\n\
         customresourcedefinition.apiextensions.k8s.io/topics.fjord.dev created"
    );
    dir
}

#[tokio::test]
async fn kubectl_applies_a_crd_and_an_object_prints_its_columns_annotates_and_deletes_it() {
    let served = start().await;
    let config = &served.kubeconfig;
    let dir = install_crd(&served).await;
    let cluster = write_cluster(&dir, 3);
    let out = run(config, &["apply", "-f", cluster.to_str().unwrap()]).await;
    assert_eq!(out.trim(), "streamcluster.fjord.dev/demo created");

    let table = rows(&run(config, &["get", "streamclusters"]).await);
    assert_eq!(
        table[0],
        ["NAME", "VERSION", "BROKERS", "READY", "PHASE", "AGE"]
    );
    assert_eq!(table[1][..3], ["demo", "0.1.0", "3"]);
    assert!(
        table[1][3].ends_with('s'),
        "the age column reads like 3s: {:?}",
        table[1]
    );

    // Re-applying a change goes through kubectl's client-side apply (a patch).
    let cluster = write_cluster(&dir, 5);
    let out = run(config, &["apply", "-f", cluster.to_str().unwrap()]).await;
    assert_eq!(out.trim(), "streamcluster.fjord.dev/demo configured");
    let generation = run(
        config,
        &[
            "get",
            "fsc",
            "demo",
            "-o",
            "jsonpath={.metadata.generation} {.spec.brokers}",
        ],
    )
    .await;
    assert_eq!(generation, "2 5");

    let out = run(
        config,
        &["annotate", "fsc", "demo", "fjord.dev/owner=data-team"],
    )
    .await;
    assert_eq!(out.trim(), "streamcluster.fjord.dev/demo annotated");
    let owner = run(
        config,
        &[
            "get",
            "fsc",
            "demo",
            "-o",
            "jsonpath={.metadata.annotations.fjord\\.dev/owner}",
        ],
    )
    .await;
    assert_eq!(owner, "data-team");
    let described = run(config, &["describe", "fsc", "demo"]).await;
    assert!(
        described.contains("fjord.dev/owner: data-team"),
        "{described}"
    );

    let out = run(config, &["delete", "fsc", "demo"]).await;
    assert_eq!(out.trim(), "streamcluster.fjord.dev \"demo\" deleted");
    let output = kubectl(config)
        .args(["get", "fsc", "demo"])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr)
            .contains("streamclusters.fjord.dev \"demo\" not found")
    );
}

#[tokio::test]
async fn kubectl_get_watch_prints_a_row_for_each_change() {
    let served = start().await;
    let config = &served.kubeconfig;
    let dir = install_crd(&served).await;
    run(
        config,
        &["apply", "-f", write_cluster(&dir, 3).to_str().unwrap()],
    )
    .await;
    let mut watching = kubectl(config)
        .args(["get", "fsc", "-w"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watching.stdout.take().unwrap()).lines();
    let mut next = async || {
        tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("kubectl prints within 20 s")
            .unwrap()
            .expect("kubectl keeps watching")
    };
    assert!(next().await.starts_with("NAME"));
    assert!(
        next()
            .await
            .split_whitespace()
            .take(3)
            .eq(["demo", "0.1.0", "3"])
    );
    run(
        config,
        &["apply", "-f", write_cluster(&dir, 4).to_str().unwrap()],
    )
    .await;
    assert!(
        next()
            .await
            .split_whitespace()
            .take(3)
            .eq(["demo", "0.1.0", "4"])
    );
    watching.kill().await.unwrap();
}
