use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::plan::{PodManagement, UpdateStrategy};
use super::pod::*;

fn set() -> StatefulSet {
    let labels = BTreeMap::from([("app".to_owned(), "broker".to_owned())]);
    StatefulSet {
        metadata: ObjectMeta {
            name: Some("broker".into()),
            namespace: Some("acme".into()),
            uid: Some("set-uid".into()),
            ..ObjectMeta::default()
        },
        spec: Some(StatefulSetSpec {
            service_name: Some("broker-headless".into()),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(Default::default()),
            },
            volume_claim_templates: Some(vec![PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some("data".into()),
                    ..ObjectMeta::default()
                },
                ..PersistentVolumeClaim::default()
            }]),
            ..StatefulSetSpec::default()
        }),
        status: None,
    }
}

#[test]
fn a_pod_carries_its_identity_revision_and_claim() {
    let set = set();
    let template = set.spec.as_ref().unwrap().template.clone();
    let pod = new_pod(&set, &template, 2, "broker-abc");
    assert_eq!(pod.metadata.name.as_deref(), Some("broker-2"));
    let labels = pod.metadata.labels.as_ref().unwrap();
    assert_eq!(labels[REVISION_LABEL], "broker-abc");
    assert_eq!(labels[POD_NAME_LABEL], "broker-2");
    assert_eq!(labels[POD_INDEX_LABEL], "2");
    assert_eq!(labels["app"], "broker");
    let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
    assert_eq!(
        (owner.kind.as_str(), owner.uid.as_str(), owner.controller),
        ("StatefulSet", "set-uid", Some(true))
    );
    let spec = pod.spec.as_ref().unwrap();
    assert_eq!(spec.hostname.as_deref(), Some("broker-2"));
    assert_eq!(spec.subdomain.as_deref(), Some("broker-headless"));
    let volume = &spec.volumes.as_ref().unwrap()[0];
    assert_eq!(
        volume.persistent_volume_claim.as_ref().unwrap().claim_name,
        "data-broker-2"
    );
}

#[test]
fn claims_are_named_after_template_set_and_ordinal_and_have_no_owner() {
    let claims = new_claims(&set(), 1);
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data-broker-1"));
    assert_eq!(claims[0].metadata.labels.as_ref().unwrap()["app"], "broker");
    assert!(claims[0].metadata.owner_references.is_none());
}

#[test]
fn only_names_of_the_set_have_ordinals() {
    assert_eq!(ordinal_of("broker", "broker-0"), Some(0));
    assert_eq!(ordinal_of("broker", "broker-12"), Some(12));
    assert_eq!(ordinal_of("broker", "broker-x-1"), None);
    assert_eq!(ordinal_of("broker", "broker-01"), None);
    assert_eq!(ordinal_of("broker", "broker--1"), None);
    assert_eq!(ordinal_of("broker", "brokers-1"), None);
}

#[test]
fn defaults_are_ordered_ready_and_rolling_update_with_partition_zero() {
    let state = set_state(&set(), "a", "b").unwrap();
    assert_eq!(state.management, PodManagement::OrderedReady);
    assert_eq!(
        state.strategy,
        UpdateStrategy::RollingUpdate { partition: 0 }
    );
    assert_eq!(state.replicas, 1);
}
