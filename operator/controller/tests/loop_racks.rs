//! Rack awareness end to end under kube-sim: a `StreamCluster` with
//! `rackAwareness` on `topology.kubernetes.io/zone`, the cluster controller,
//! kube-sim's StatefulSet controller and process kubelet (whose Node carries
//! the zone label) running the rendered Pods for real: the init container
//! `fjord-operator broker-rack` reads the Node through the API (the kubelet
//! gives it `KUBECONFIG`, its stand-in for a ServiceAccount token) and writes
//! the rack file, then the brokers start, and each broker's rack in the
//! Kafka Metadata (asked with confluent-kafka) is its node's zone.
//!
//! Needs a built `fjord-broker` beside this test binary (or
//! `FJORD_BROKER_BIN`) and `FJORD_TEST_PYTHON` naming a Python with
//! confluent-kafka. Runs in the nextest group `broker-clusters`.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cluster;

use std::sync::Arc;
use std::time::Duration;

use cluster::kafka::{dump_logs, python};
use cluster::real::broker_binary;
use cluster::{condition, eventually, stream_cluster};
use fjord_crd::{ConditionStatus, ConditionType, RackAwareness, StreamCluster};
use fjord_kube_sim::kubelet::KubeletConfig;
use fjord_kube_sim::kubelet::address::pod_address;
use fjord_kube_sim::kubelet::backoff::RestartBackoff;
use fjord_kube_sim::kubelet::image::ImageTable;
use fjord_kube_sim::testbed::Testbed;
use fjord_kube_sim::{kubeconfig_yaml, serve};
use fjord_operator::cluster::Config;
use fjord_operator::cluster::render::OPERATOR_IMAGE_DEFAULT;
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, CustomResourceExt};

const ZONE_KEY: &str = "topology.kubernetes.io/zone";
const BROKERS: usize = 3;

/// Each broker's rack as the Kafka Metadata reports it (id, rack or "").
fn metadata_racks(python: &std::path::Path, bootstrap: &str) -> Option<Vec<(u32, String)>> {
    const SCRIPT: &str = "import sys\n\
        from confluent_kafka.admin import AdminClient\n\
        admin = AdminClient({'bootstrap.servers': sys.argv[1]})\n\
        for node in admin.describe_cluster(request_timeout=10).result().nodes:\n\
        \x20   print(node.id, node.rack or '')\n";
    let output = std::process::Command::new(python)
        .args(["-c", SCRIPT, bootstrap])
        .output()
        .ok()?;
    if !output.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&output.stderr));
        return None;
    }
    let mut racks: Vec<(u32, String)> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (id, rack) = line.split_once(' ')?;
            Some((id.parse().ok()?, rack.trim().to_owned()))
        })
        .collect();
    racks.sort();
    Some(racks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_brokers_rack_is_its_nodes_zone_through_the_init_container() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("fjord_operator=debug,fjord_kube_sim=info")
        .with_test_writer()
        .try_init();
    let state = tempfile::tempdir().unwrap();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let namespace = format!("racks-{}-{nanos}", std::process::id());
    let zone = format!("zone-{nanos}");

    // The API on loopback too, for the init container's own client.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let kubeconfig = state.path().join("kubeconfig");
    std::fs::write(&kubeconfig, kubeconfig_yaml(&url)).unwrap();

    let mut images = ImageTable::default();
    images.insert("fjord/broker", broker_binary());
    let operator_repository = OPERATOR_IMAGE_DEFAULT.split(':').next().unwrap();
    images.insert(operator_repository, env!("CARGO_BIN_EXE_fjord-operator"));
    let mut kubelet_config = KubeletConfig::new(state.path().join("kubelet"), images);
    kubelet_config.backoff = RestartBackoff {
        initial: Duration::from_millis(500),
        max: Duration::from_secs(5),
        reset_after: Duration::from_secs(60),
    };
    kubelet_config.pod_kubeconfig = Some(kubeconfig);
    kubelet_config
        .node_labels
        .insert(ZONE_KEY.to_owned(), zone.clone());
    let testbed = Testbed::start(kubelet_config, &[StreamCluster::crd()], &namespace)
        .await
        .unwrap();
    let served = tokio::spawn(serve(
        testbed.server.clone(),
        listener,
        std::future::pending(),
    ));
    let client = testbed.client.clone();
    let config = Config {
        namespace: Some(namespace.clone()),
        pod_addresses: Arc::new(|namespace: &str, pod: &str| {
            pod_address(namespace, pod, |_| false).to_string()
        }),
        busy_interval: Duration::from_millis(500),
        ..Config::default()
    };
    let operator = tokio::spawn({
        let client = client.clone();
        async move {
            if let Err(error) = fjord_operator::cluster::run(client, config).await {
                panic!("cluster controller failed: {error}");
            }
        }
    });

    let clusters: Api<StreamCluster> = Api::namespaced(client.clone(), &namespace);
    let mut racked = stream_cluster("racked", 3, "0.1.0");
    racked.spec.rack_awareness = Some(RackAwareness {
        topology_key: ZONE_KEY.to_owned(),
    });
    clusters
        .create(&PostParams::default(), &racked)
        .await
        .unwrap();
    let ready = tokio::time::timeout(
        Duration::from_secs(120),
        eventually("the cluster Ready", Duration::from_secs(600), || async {
            let cluster = clusters.get("racked").await.ok()?;
            (condition(&cluster, ConditionType::Ready)? == ConditionStatus::True).then_some(())
        }),
    )
    .await;
    if ready.is_err() {
        dump_logs(state.path());
        let cluster = clusters.get("racked").await.ok();
        eprintln!("cluster status: {:#?}", cluster.and_then(|c| c.status));
        let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
        for pod in pods.list(&ListParams::default()).await.unwrap().items {
            eprintln!("pod {:?}: {:#?}", pod.metadata.name, pod.status);
        }
        let files = std::process::Command::new("find")
            .arg(state.path())
            .output()
            .unwrap();
        eprintln!("{}", String::from_utf8_lossy(&files.stdout));
        panic!("the rack-aware cluster did not become Ready");
    }

    // Every broker Pod ran the rack init container to completion first.
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    let list = pods.list(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), BROKERS);
    for pod in &list.items {
        let status = pod.status.as_ref().unwrap();
        let inits = status.init_container_statuses.clone().unwrap_or_default();
        assert_eq!(inits.len(), 1, "{status:?}");
        let ended = inits[0].state.as_ref().unwrap().terminated.as_ref();
        assert_eq!(ended.map(|t| t.exit_code), Some(0), "{inits:?}");
    }

    let python = python();
    let bootstrap = (1..=BROKERS)
        .map(|id| {
            format!(
                "{}:9092",
                pod_address(&namespace, &format!("racked-{id}"), |_| false)
            )
        })
        .collect::<Vec<_>>()
        .join(",");
    let racks = eventually(
        "the Metadata to list three brokers",
        Duration::from_secs(30),
        || {
            let (python, bootstrap) = (python.clone(), bootstrap.clone());
            async move {
                let racks =
                    tokio::task::spawn_blocking(move || metadata_racks(&python, &bootstrap))
                        .await
                        .ok()??;
                (racks.len() == BROKERS).then_some(racks)
            }
        },
    )
    .await;
    for (id, rack) in &racks {
        assert_eq!(rack, &zone, "broker {id}'s rack: {racks:?}");
    }

    // Rack awareness off: the brokers' permission to read nodes goes (the
    // cluster-scoped binding and the ServiceAccount), before the roll ends.
    let binding = format!("fjord-broker-rack:{namespace}:racked");
    let bindings: Api<ClusterRoleBinding> = Api::all(client.clone());
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &namespace);
    assert!(bindings.get_opt(&binding).await.unwrap().is_some());
    assert!(accounts.get_opt("racked-broker").await.unwrap().is_some());
    clusters
        .patch(
            "racked",
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"rackAwareness": null}})),
        )
        .await
        .unwrap();
    eventually(
        "the rack binding and ServiceAccount deleted",
        Duration::from_secs(30),
        || {
            let (bindings, accounts, binding) =
                (bindings.clone(), accounts.clone(), binding.clone());
            async move {
                let gone = bindings.get_opt(&binding).await.ok()?.is_none()
                    && accounts.get_opt("racked-broker").await.ok()?.is_none();
                gone.then_some(())
            }
        },
    )
    .await;
    operator.abort();
    served.abort();
}
