//! Kubernetes API behaviours, one per test, checked through a real `kube::Client`
//! against the in-process server. Each test is named after the behaviour:
//! `apply` (server-side apply and patches), `objects` (versions, conflicts,
//! generation, status, finalizers, garbage collection, lists, schemas), `watch`
//! (watches, bookmarks, 410 and relists, metadata-only watches, faults).

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod apply;
mod objects;
mod watch;

use fjord_crd::{StorageSpec, StreamCluster, StreamClusterSpec};
use fjord_kube_sim::ApiServer;
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client, CustomResourceExt};
use serde_json::json;

pub(crate) fn config_map(name: &str, data: &[(&str, &str)]) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..ConfigMap::default()
    }
}

pub(crate) fn cluster(name: &str, brokers: u16) -> StreamCluster {
    StreamCluster::new(
        name,
        StreamClusterSpec {
            version: "0.1.0".into(),
            brokers,
            storage: StorageSpec {
                size: "1Gi".into(),
                storage_class_name: None,
            },
            ..Default::default()
        },
    )
}

pub(crate) async fn with_crd() -> (ApiServer, Client, Api<StreamCluster>) {
    let server = ApiServer::default();
    let client = server.client();
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    crds.create(&PostParams::default(), &StreamCluster::crd())
        .await
        .unwrap();
    let clusters = Api::namespaced(client.clone(), "default");
    (server, client, clusters)
}

pub(crate) fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

pub(crate) fn deployment(manager_image: &str, container: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": container, "image": manager_image}]}}}
    })
}
