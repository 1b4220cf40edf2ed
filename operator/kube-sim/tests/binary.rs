//! The `fjord-kube-sim` binary: serves on loopback, writes a kubeconfig kube-rs can
//! use, and keeps its objects across a restart through `--state`.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{ObjectMeta, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

/// A running simulator, stopped with SIGTERM when dropped.
struct Simulator(Child);

impl Drop for Simulator {
    fn drop(&mut self) {
        stop(&mut self.0);
    }
}

fn stop(child: &mut Child) {
    // SIGTERM by process id (a graceful stop writes the state file), then reap it.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}

fn start(dir: &Path) -> Simulator {
    let kubeconfig = dir.join("kubeconfig");
    let _ = std::fs::remove_file(&kubeconfig);
    let simulator = Simulator(
        Command::new(env!("CARGO_BIN_EXE_fjord-kube-sim"))
            .args(["--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(&kubeconfig)
            .arg("--state")
            .arg(dir.join("state.json"))
            .spawn()
            .unwrap(),
    );
    for _ in 0..200 {
        if kubeconfig.exists() {
            return simulator;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("fjord-kube-sim wrote no kubeconfig within 5 s");
}

async fn client(dir: &Path) -> Client {
    let kubeconfig = Kubeconfig::read_from(dir.join("kubeconfig")).unwrap();
    let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test]
async fn objects_survive_a_restart_of_the_simulator_through_its_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut first = start(dir.path());
    let maps: Api<ConfigMap> = Api::default_namespaced(client(dir.path()).await);
    let map = ConfigMap {
        metadata: ObjectMeta {
            name: Some("kept".into()),
            ..ObjectMeta::default()
        },
        data: Some([("k".to_owned(), "v".to_owned())].into()),
        ..ConfigMap::default()
    };
    let created = maps.create(&PostParams::default(), &map).await.unwrap();
    stop(&mut first.0);

    let _second = start(dir.path());
    let maps: Api<ConfigMap> = Api::default_namespaced(client(dir.path()).await);
    let kept = maps.get("kept").await.unwrap();
    assert_eq!(kept.data.unwrap()["k"], "v");
    assert_eq!(kept.metadata.uid, created.metadata.uid);
    assert_eq!(
        kept.metadata.resource_version,
        created.metadata.resource_version
    );
    let next = maps
        .create(
            &PostParams::default(),
            &ConfigMap {
                metadata: ObjectMeta {
                    name: Some("after".into()),
                    ..ObjectMeta::default()
                },
                ..ConfigMap::default()
            },
        )
        .await
        .unwrap();
    let version = |v: Option<String>| v.unwrap().parse::<u64>().unwrap();
    assert!(version(next.metadata.resource_version) > version(created.metadata.resource_version));
}
