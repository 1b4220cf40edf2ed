//! Golden tests: each rendered object, as YAML, equals its file in
//! `golden/`. Run with `FJORD_UPDATE_GOLDEN=1` to rewrite the files after an
//! intended change, and review the diff.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::path::PathBuf;

use fjord_crd::{
    BrokerResources, Listener, ListenerExposure, ResourceAmounts, StorageSpec, StreamCluster,
    StreamClusterSpec,
};
use fjord_metadata::BrokerId;
use k8s_openapi::api::apps::v1::StatefulSet;
use serde::Serialize;

use super::*;

/// The addresses `fjord-operator run` renders on Kubernetes: Pod DNS names.
pub(super) fn addresses() -> PodAddresses {
    pod_dns_names()
}

pub(super) fn demo(brokers: u16) -> StreamCluster {
    let mut cluster = StreamCluster::new(
        "demo",
        StreamClusterSpec {
            version: "0.2.0".into(),
            brokers,
            resources: BrokerResources {
                requests: ResourceAmounts {
                    cpu: Some("1".into()),
                    memory: Some("2Gi".into()),
                },
                limits: ResourceAmounts {
                    cpu: None,
                    memory: Some("2Gi".into()),
                },
            },
            storage: StorageSpec {
                size: "10Gi".into(),
                storage_class_name: Some("standard".into()),
            },
            config: BTreeMap::from([
                ("log.retention.ms".to_owned(), "604800000".to_owned()),
                ("num.partitions".to_owned(), "3".to_owned()),
            ]),
            listeners: vec![Listener {
                name: "plain".into(),
                port: 9092,
                exposure: ListenerExposure::LoadBalancer,
            }],
            ..StreamClusterSpec::default()
        },
    );
    cluster.metadata.namespace = Some("streaming".into());
    cluster.metadata.uid = Some("6f1c1a52-0000-4000-8000-000000000001".into());
    cluster
}

pub(super) fn desired(cluster: &StreamCluster) -> Desired {
    let voters = initial_voters(cluster.spec.brokers);
    Desired::new(
        cluster,
        "fjord/broker",
        &voters,
        &addresses(),
        &PodSettings::default(),
    )
    .unwrap()
}

pub(super) fn golden(name: &str, object: &impl Serialize) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("src/cluster/render/golden")
        .join(format!("{name}.yaml"));
    let rendered = serde_yaml::to_string(object).unwrap();
    if std::env::var_os("FJORD_UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error} (FJORD_UPDATE_GOLDEN=1 writes it)",
            path.display()
        )
    });
    assert!(
        rendered == expected,
        "{} differs from the rendered object (FJORD_UPDATE_GOLDEN=1 rewrites it):\n{rendered}",
        path.display()
    );
}

#[test]
fn rendered_objects_match_their_golden_files() {
    let desired = desired(&demo(3));
    golden("statefulset", &statefulset(&desired).unwrap());
    golden("headless-service", &headless_service(&desired).unwrap());
    golden("client-service", &client_service(&desired).unwrap());
    golden("config-map", &config_map(&desired));
    golden(
        "pod-disruption-budget",
        &pod_disruption_budget(&desired).unwrap(),
    );
}

#[test]
fn the_statefulset_restarts_nothing_by_itself_and_starts_brokers_together() {
    let set: StatefulSet = statefulset(&desired(&demo(3))).unwrap();
    let spec = set.spec.unwrap();
    assert_eq!(
        spec.update_strategy.unwrap().type_.as_deref(),
        Some("OnDelete")
    );
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.ordinals.unwrap().start, Some(1));
    assert_eq!(spec.replicas, Some(3));
    let owners = set.metadata.owner_references.unwrap();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].kind, "StreamCluster");
    assert_eq!(owners[0].controller, Some(true));
}

#[test]
fn each_broker_gets_its_own_file_naming_the_others_as_peers() {
    let desired = desired(&demo(3));
    assert_eq!(
        desired.files.keys().collect::<Vec<_>>(),
        ["demo-1.toml", "demo-2.toml", "demo-3.toml"]
    );
    let file = &desired.files["demo-3.toml"];
    assert!(file.contains("node-id = 3\n"), "{file}");
    assert!(
        file.contains(
            "peers = \"1=demo-1.demo-brokers.streaming.svc.cluster.local:9093,\
             2=demo-2.demo-brokers.streaming.svc.cluster.local:9093\"\n"
        ),
        "{file}"
    );
    assert!(file.contains("default-partitions = 3\n"), "{file}");
    assert!(!file.contains("retention"), "{file}");
    assert_eq!(
        desired.unsupported_config,
        vec!["log.retention.ms".to_owned()]
    );
}

#[test]
fn the_revision_changes_with_version_restart_config_and_broker_count_only() {
    let base = desired(&demo(3)).revision;
    assert_eq!(
        desired(&demo(3)).revision,
        base,
        "rendering is deterministic"
    );
    let mut upgraded = demo(3);
    upgraded.spec.version = "0.3.0".into();
    assert_ne!(desired(&upgraded).revision, base);
    // A setting read only at start rolls; one the brokers take live does
    // not, though the files (read at the next start) carry it.
    let mut reconfigured = demo(3);
    reconfigured
        .spec
        .config
        .insert("socket.request.max.bytes".into(), "4194304".into());
    assert_ne!(desired(&reconfigured).revision, base);
    for (key, value) in [
        ("num.partitions", "6"),
        ("message.max.bytes", "2097152"),
        ("auto.create.topics.enable", "false"),
        ("default.replication.factor", "2"),
    ] {
        let mut live = demo(3);
        live.spec.config.insert(key.into(), value.into());
        let rendered = desired(&live);
        assert_eq!(rendered.revision, base, "{key} is live");
        assert_ne!(
            rendered.files,
            desired(&demo(3)).files,
            "{key} is in the files"
        );
        assert!(
            rendered.live.values().any(|v| v.to_string() == value),
            "{key}"
        );
    }
    // Adding a broker changes every existing broker's peers.
    let grown = demo(4);
    let voters = initial_voters(3);
    let grown = Desired::new(
        &grown,
        "fjord/broker",
        &voters,
        &addresses(),
        &PodSettings::default(),
    )
    .unwrap();
    assert_ne!(grown.revision, base);
    assert_eq!(grown.voters, voters, "recorded voters stay");
    // A paused cluster or another rollout policy restarts nothing.
    let mut paused = demo(3);
    paused.spec.paused = true;
    paused.spec.rollout.pause_seconds = 1;
    assert_eq!(desired(&paused).revision, base);
}

#[test]
fn specs_the_broker_cannot_run_are_refused_with_the_field() {
    let mut bad = demo(3);
    bad.spec.version = "0.2.0; rm -rf /".into();
    let error = Desired::new(
        &bad,
        "fjord/broker",
        &initial_voters(3),
        &addresses(),
        &PodSettings::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("spec.version"), "{error}");

    let mut two_listeners = demo(3);
    two_listeners.spec.listeners.push(Listener {
        name: "external".into(),
        port: 9094,
        exposure: ListenerExposure::NodePort,
    });
    let error = Desired::new(
        &two_listeners,
        "fjord/broker",
        &initial_voters(3),
        &addresses(),
        &PodSettings::default(),
    )
    .unwrap_err();
    assert!(error.to_string().contains("spec.listeners"), "{error}");

    let mut admin_port = demo(3);
    admin_port.spec.listeners[0].port = ADMIN_PORT;
    assert!(
        Desired::new(
            &admin_port,
            "fjord/broker",
            &initial_voters(3),
            &addresses(),
            &PodSettings::default(),
        )
        .is_err()
    );

    let mut unstored = demo(3);
    unstored.metadata.uid = None;
    assert!(
        Desired::new(
            &unstored,
            "fjord/broker",
            &initial_voters(3),
            &addresses(),
            &PodSettings::default()
        )
        .is_err()
    );
}

#[test]
fn voters_are_the_first_three_brokers_and_pods_map_back_to_ids() {
    assert_eq!(initial_voters(1), vec![BrokerId(1)]);
    assert_eq!(
        initial_voters(5),
        vec![BrokerId(1), BrokerId(2), BrokerId(3)]
    );
    assert_eq!(pod_name("demo", BrokerId(2)), "demo-2");
    assert_eq!(broker_of_pod("demo", "demo-2"), Some(BrokerId(2)));
    assert_eq!(broker_of_pod("demo", "demo-x-2"), None);
    assert_eq!(broker_of_pod("demo", "demo-0"), None);
    assert_eq!(broker_of_pod("demo", "other-2"), None);
}

#[test]
fn the_default_addresses_are_the_pods_names_under_the_headless_service() {
    let names = pod_dns_names();
    assert_eq!(
        names("streaming", "my-cluster-2"),
        "my-cluster-2.my-cluster-brokers.streaming.svc.cluster.local"
    );
}
