//! The brokers' StatefulSet: `OnDelete` (the operator picks which Pod
//! restarts), `Parallel` (brokers of a new cluster must start together: a
//! cluster broker serves only once a controller quorum exists), ordinals
//! from 1 so a Pod's ordinal is its broker id.

use k8s_openapi::api::apps::v1::StatefulSet;
use serde_json::{Map, Value, json};

use super::rack::RACK_DIR;
use super::{
    ADMIN_PORT, AdvertisedHost, CONFIG_DIR, DATA_MOUNT, Desired, PEER_PORT, RACK_FILE,
    REVISION_ANNOTATION,
};
use crate::{Error, Result};

/// Seconds a broker has to stop after SIGTERM (it hands over leadership and
/// flushes; the default 30 s of Kubernetes is tight for a busy broker).
const TERMINATION_GRACE_SECONDS: i64 = 60;

/// The StatefulSet of the cluster's brokers.
/// How long the kubelet waits for a probe's answer (Kubernetes' default is
/// 1 s, which a broker briefly starved of CPU misses; 5 s as other Kafka
/// operators use). Readiness still drops after three failed probes.
pub(super) const PROBE_TIMEOUT_SECONDS: u32 = 5;

pub fn statefulset(desired: &Desired) -> Result<StatefulSet> {
    let metadata = desired.metadata(desired.name.clone());
    let kafka_port = desired.kafka_port;
    let mut args = vec![
        "--config".to_owned(),
        format!("{CONFIG_DIR}/$(POD_NAME).toml"),
        "--data-dir".to_owned(),
        format!("{DATA_MOUNT}/data"),
        "--listen".to_owned(),
        format!("$(POD_IP):{kafka_port}"),
        "--admin-listen".to_owned(),
        format!("$(POD_IP):{ADMIN_PORT}"),
        "--peer-listen".to_owned(),
        format!("$(POD_IP):{PEER_PORT}"),
    ];
    if desired.rack_key.is_some() {
        // A path in the rack volume, as an argument (not in the broker
        // file) like the data directory: the container's own view of it.
        args.extend(["--rack-file".to_owned(), RACK_FILE.to_owned()]);
    }
    let mut claim_spec = json!({
        "accessModes": ["ReadWriteOnce"],
        "resources": { "requests": { "storage": desired.storage_size } },
    });
    if let Some(class) = &desired.storage_class {
        claim_spec["storageClassName"] = json!(class);
    }
    let value = json!({
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata,
        "spec": {
            "replicas": desired.brokers,
            "ordinals": { "start": 1 },
            "serviceName": desired.headless_service_name(),
            "podManagementPolicy": "Parallel",
            "updateStrategy": { "type": "OnDelete" },
            "selector": { "matchLabels": desired.selector() },
            "template": {
                "metadata": {
                    "labels": desired.labels(),
                    "annotations": { REVISION_ANNOTATION: desired.revision },
                },
                "spec": {
                    "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
                    "containers": [{
                        "name": "broker",
                        "image": desired.image,
                        "args": args,
                        "env": [
                            { "name": "POD_NAME", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } },
                            { "name": "POD_IP", "valueFrom": { "fieldRef": { "fieldPath": "status.podIP" } } },
                        ],
                        "ports": [
                            { "name": "kafka", "containerPort": kafka_port },
                            { "name": "peer", "containerPort": PEER_PORT },
                            { "name": "admin", "containerPort": ADMIN_PORT },
                        ],
                        "resources": resources(desired),
                        // Probes wait up to PROBE_TIMEOUT_SECONDS for an
                        // answer: a broker starved of CPU for a moment
                        // answers late, and is neither unready nor dead.
                        "readinessProbe": {
                            "httpGet": { "path": "/readyz", "port": "admin" },
                            "periodSeconds": 2,
                            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
                            "failureThreshold": 3,
                        },
                        "livenessProbe": {
                            "httpGet": { "path": "/healthz", "port": "admin" },
                            "periodSeconds": 10,
                            "timeoutSeconds": PROBE_TIMEOUT_SECONDS,
                            "failureThreshold": 6,
                        },
                        "volumeMounts": [
                            { "name": "data", "mountPath": DATA_MOUNT },
                            { "name": "config", "mountPath": CONFIG_DIR, "readOnly": true },
                        ],
                    }],
                    "volumes": [{
                        "name": "config",
                        "configMap": { "name": desired.config_map_name() },
                    }],
                },
            },
            "volumeClaimTemplates": [{
                "metadata": { "name": "data", "labels": desired.selector() },
                "spec": claim_spec,
            }],
        },
    });
    let mut value = value;
    let pod = &mut value["spec"]["template"]["spec"];
    if desired.pods.advertised_host == AdvertisedHost::PodIp {
        // Expanded by the kubelet from POD_IP, defined before it.
        pod["containers"][0]["env"]
            .as_array_mut()
            .expect("rendered above as an array")
            .push(json!({ "name": "FJORD_ADVERTISED_LISTENER", "value": format!("$(POD_IP):{kafka_port}") }));
    }
    if let Some(key) = &desired.rack_key {
        add_rack_init(pod, desired, key);
    }
    serde_json::from_value(value).map_err(|source| Error::Render {
        kind: "StatefulSet",
        cluster: desired.name.clone(),
        source,
    })
}

/// The init container that writes the broker's rack (its node's value of
/// `key`) to the file the broker reads, and what it needs: the shared
/// `emptyDir`, the node's name, the ServiceAccount allowed to read nodes.
fn add_rack_init(pod: &mut Value, desired: &Desired, key: &str) {
    pod["serviceAccountName"] = json!(desired.broker_service_account_name());
    pod["initContainers"] = json!([{
        "name": "rack",
        "image": desired.pods.operator_image,
        "args": ["broker-rack", "--node", "$(NODE_NAME)", "--label", key, "--output", RACK_FILE],
        "env": [
            { "name": "NODE_NAME", "valueFrom": { "fieldRef": { "fieldPath": "spec.nodeName" } } },
        ],
        "volumeMounts": [{ "name": "rack", "mountPath": RACK_DIR }],
    }]);
    pod["volumes"]
        .as_array_mut()
        .expect("rendered above as an array")
        .push(json!({ "name": "rack", "emptyDir": {} }));
    pod["containers"][0]["volumeMounts"]
        .as_array_mut()
        .expect("rendered above as an array")
        .push(json!({ "name": "rack", "mountPath": RACK_DIR, "readOnly": true }));
}

/// Container requests and limits from the spec (only what is set).
fn resources(desired: &Desired) -> Value {
    let mut resources = Map::new();
    for (key, amounts) in [
        ("requests", &desired.resources.requests),
        ("limits", &desired.resources.limits),
    ] {
        let mut map = Map::new();
        if let Some(cpu) = &amounts.cpu {
            map.insert("cpu".into(), json!(cpu));
        }
        if let Some(memory) = &amounts.memory {
            map.insert("memory".into(), json!(memory));
        }
        if !map.is_empty() {
            resources.insert(key.into(), Value::Object(map));
        }
    }
    Value::Object(resources)
}
