//! The brokers' Services: a headless one for their stable names (published
//! before they are ready: brokers must find each other to become ready),
//! and the one clients bootstrap from.

use fjord_crd::ListenerExposure;
use k8s_openapi::api::core::v1::Service;
use serde_json::json;

use super::{ADMIN_PORT, Desired, PEER_PORT};
use crate::{Error, Result};

/// The headless Service `NAME-brokers`.
pub fn headless_service(desired: &Desired) -> Result<Service> {
    let value = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": desired.metadata(desired.headless_service_name()),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": true,
            "selector": desired.selector(),
            "ports": [
                { "name": "kafka", "port": desired.kafka_port, "targetPort": "kafka" },
                { "name": "peer", "port": PEER_PORT, "targetPort": "peer" },
                { "name": "admin", "port": ADMIN_PORT, "targetPort": "admin" },
            ],
        },
    });
    convert("headless Service", desired, value)
}

/// The client Service `NAME`, of the listener's exposure type.
pub fn client_service(desired: &Desired) -> Result<Service> {
    let service_type = match desired.exposure {
        ListenerExposure::ClusterIP => "ClusterIP",
        ListenerExposure::NodePort => "NodePort",
        ListenerExposure::LoadBalancer => "LoadBalancer",
    };
    let value = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": desired.metadata(desired.name.clone()),
        "spec": {
            "type": service_type,
            "selector": desired.selector(),
            "ports": [
                { "name": "kafka", "port": desired.kafka_port, "targetPort": "kafka" },
            ],
        },
    });
    convert("client Service", desired, value)
}

fn convert(kind: &'static str, desired: &Desired, value: serde_json::Value) -> Result<Service> {
    serde_json::from_value(value).map_err(|source| Error::Render {
        kind,
        cluster: desired.name.clone(),
        source,
    })
}
