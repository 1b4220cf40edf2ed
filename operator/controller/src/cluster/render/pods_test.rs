//! How broker Pods reach each other, what they advertise, and rack
//! awareness: golden files and the properties a person would check.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use fjord_crd::RackAwareness;
use k8s_openapi::api::core::v1::PodSpec;

use super::render_test::{addresses, demo, desired, golden};
use super::*;

fn with(cluster: &StreamCluster, pods: &PodSettings) -> Desired {
    let voters = initial_voters(cluster.spec.brokers);
    Desired::new(cluster, "fjord/broker", &voters, &addresses(), pods).unwrap()
}

fn racked() -> StreamCluster {
    let mut cluster = demo(3);
    cluster.spec.rack_awareness = Some(RackAwareness {
        topology_key: "topology.kubernetes.io/zone".into(),
    });
    cluster
}

fn pod_spec(desired: &Desired) -> PodSpec {
    statefulset(desired)
        .unwrap()
        .spec
        .unwrap()
        .template
        .spec
        .unwrap()
}

#[test]
fn peers_voters_and_the_advertised_listener_are_pod_dns_names_by_default() {
    let desired = desired(&demo(3));
    let file = &desired.files["demo-2.toml"];
    assert!(
        file.contains(
            "controller-voters = \"1@demo-1.demo-brokers.streaming.svc.cluster.local:9644,\
             2@demo-2.demo-brokers.streaming.svc.cluster.local:9644,\
             3@demo-3.demo-brokers.streaming.svc.cluster.local:9644\"\n"
        ),
        "{file}"
    );
    assert!(
        file.contains(
            "advertised-listener = \"demo-2.demo-brokers.streaming.svc.cluster.local:9092\"\n"
        ),
        "{file}"
    );
    // The brokers still bind the Pod's IP.
    let container = &pod_spec(&desired).containers[0];
    let args = container.args.as_ref().unwrap();
    assert!(args.contains(&"$(POD_IP):9092".to_owned()), "{args:?}");
    let env = container.env.as_ref().unwrap();
    assert!(env.iter().all(|e| e.name != "FJORD_ADVERTISED_LISTENER"));
}

#[test]
fn pod_ip_mode_advertises_the_pods_ip_from_the_downward_api() {
    let pods = PodSettings {
        advertised_host: AdvertisedHost::PodIp,
        ..PodSettings::default()
    };
    let desired = with(&demo(3), &pods);
    assert!(
        desired
            .files
            .values()
            .all(|file| !file.contains("advertised-listener")),
        "the file names no advertised listener"
    );
    let env = pod_spec(&desired).containers[0].env.clone().unwrap();
    let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
    let ip = names.iter().position(|n| *n == "POD_IP").unwrap();
    let advertised = names
        .iter()
        .position(|n| *n == "FJORD_ADVERTISED_LISTENER")
        .unwrap();
    assert!(ip < advertised, "POD_IP is defined before it is expanded");
    assert_eq!(env[advertised].value.as_deref(), Some("$(POD_IP):9092"));
    assert_ne!(
        desired.revision,
        super::render_test::desired(&demo(3)).revision
    );
}

#[test]
fn rack_awareness_adds_an_init_container_that_reads_the_nodes_label() {
    let desired = with(&racked(), &PodSettings::default());
    golden("statefulset-racks", &statefulset(&desired).unwrap());
    let spec = pod_spec(&desired);
    assert_eq!(spec.service_account_name.as_deref(), Some("demo-broker"));
    let init = &spec.init_containers.as_ref().unwrap()[0];
    assert_eq!(init.image.as_deref(), Some(OPERATOR_IMAGE_DEFAULT));
    let args = init.args.clone().unwrap();
    assert_eq!(
        args,
        [
            "broker-rack",
            "--node",
            "$(NODE_NAME)",
            "--label",
            "topology.kubernetes.io/zone",
            "--output",
            RACK_FILE
        ]
    );
    let node = &init.env.as_ref().unwrap()[0];
    let field = node
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(field.field_path, "spec.nodeName");
    // The broker is told where the rack file is in its own view of the volume.
    let broker_args = spec.containers[0].args.clone().unwrap();
    let at = broker_args
        .iter()
        .position(|arg| arg == "--rack-file")
        .unwrap();
    assert_eq!(broker_args[at + 1], RACK_FILE);
    for file in desired.files.values() {
        assert!(!file.contains("rack-file"), "{file}");
    }
    // Turning rack awareness on restarts the brokers (new init container).
    assert_ne!(
        desired.revision,
        super::render_test::desired(&demo(3)).revision
    );
    // Without it: no init container, no ServiceAccount of its own.
    let plain = pod_spec(&super::render_test::desired(&demo(3)));
    assert!(plain.init_containers.is_none() && plain.service_account_name.is_none());
}

#[test]
fn the_rack_service_account_is_bound_to_the_role_that_only_reads_nodes() {
    let desired = with(&racked(), &PodSettings::default());
    let account = broker_service_account(&desired);
    assert_eq!(account.metadata.name.as_deref(), Some("demo-broker"));
    assert_eq!(account.metadata.namespace.as_deref(), Some("streaming"));
    assert!(account.metadata.owner_references.is_some());
    let binding = rack_binding(&desired);
    golden("rack-binding", &binding);
    assert_eq!(
        binding.metadata.name.as_deref(),
        Some("fjord-broker-rack:streaming:demo")
    );
    assert_eq!(binding.role_ref.name, RACK_CLUSTER_ROLE);
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (subject.name.as_str(), subject.namespace.as_deref()),
        ("demo-broker", Some("streaming"))
    );
}

#[test]
fn a_topology_key_that_is_not_a_label_key_is_refused() {
    for key in [
        "",
        "zone name",
        "-zone",
        "Example.COM/zone",
        "a/b/c",
        "zone/",
    ] {
        let mut cluster = racked();
        cluster.spec.rack_awareness = Some(RackAwareness {
            topology_key: key.into(),
        });
        let voters = initial_voters(3);
        let error = Desired::new(
            &cluster,
            "fjord/broker",
            &voters,
            &addresses(),
            &PodSettings::default(),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("topologyKey"),
            "{key:?}: {error}"
        );
    }
    for key in ["zone", "topology.kubernetes.io/zone", "example.com/rack_1"] {
        let mut cluster = racked();
        cluster.spec.rack_awareness = Some(RackAwareness {
            topology_key: key.into(),
        });
        with(&cluster, &PodSettings::default());
    }
}

#[test]
fn probes_wait_seconds_for_a_busy_broker_before_counting_a_failure() {
    let spec = pod_spec(&desired(&demo(3)));
    let broker = &spec.containers[0];
    let readiness = broker.readiness_probe.as_ref().unwrap();
    assert_eq!(readiness.timeout_seconds, Some(5), "not Kubernetes' 1 s");
    assert_eq!(readiness.failure_threshold, Some(3));
    assert_eq!(
        readiness.period_seconds,
        Some(2),
        "a restarted broker is seen ready soon"
    );
    let liveness = broker.liveness_probe.as_ref().unwrap();
    assert_eq!(liveness.timeout_seconds, Some(5));
}
