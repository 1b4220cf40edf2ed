//! A StatefulSet's Pods and claims, as objects (pure): what the controller
//! creates for ordinal `i`, and how it reads back a Pod it made.
//!
//! Pod `<set>-<i>`: the template's labels plus `controller-revision-hash`
//! (the revision name), `statefulset.kubernetes.io/pod-name` and
//! `apps.kubernetes.io/pod-index`; an owner reference to the set
//! (controller); `spec.hostname` `<set>-<i>` and `spec.subdomain` the set's
//! `serviceName`, so the Pod resolves as `<set>-<i>.<service>.<ns>.svc…`;
//! and for each volume claim template a volume of that name backed by claim
//! `<template>-<set>-<i>`. Claims carry the template's labels plus the set's
//! selector labels and no owner reference (`Retain`, Kubernetes' default
//! retention policy), so they outlive every Pod that mounts them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimVolumeSource, Pod, PodTemplateSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::jiff::Timestamp;

use super::plan::{PodManagement, PodState, SetState, UpdateStrategy};
use crate::error::{Error, Result};

pub const REVISION_LABEL: &str = "controller-revision-hash";
pub const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";
pub const POD_INDEX_LABEL: &str = "apps.kubernetes.io/pod-index";

fn name_of(set: &StatefulSet) -> &str {
    set.metadata.name.as_deref().unwrap_or_default()
}

/// `<set>-<ordinal>`.
pub fn pod_name(set_name: &str, ordinal: i32) -> String {
    format!("{set_name}-{ordinal}")
}

/// The ordinal of `pod_name` if it is a Pod name of set `set_name`.
pub fn ordinal_of(set_name: &str, pod_name: &str) -> Option<i32> {
    let ordinal = pod_name.strip_prefix(set_name)?.strip_prefix('-')?;
    if ordinal.starts_with('+') || (ordinal.len() > 1 && ordinal.starts_with('0')) {
        return None;
    }
    ordinal.parse().ok().filter(|ordinal| *ordinal >= 0)
}

/// `<template>-<set>-<ordinal>`.
pub fn claim_name(template: &str, set_name: &str, ordinal: i32) -> String {
    format!("{template}-{set_name}-{ordinal}")
}

/// An owner reference naming `set` as controller.
pub fn owner_reference(set: &StatefulSet) -> OwnerReference {
    OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: name_of(set).to_owned(),
        uid: set.metadata.uid.clone().unwrap_or_default(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

/// Pod `ordinal` of `set` from `template` at revision `revision`.
pub fn new_pod(set: &StatefulSet, template: &PodTemplateSpec, ordinal: i32, revision: &str) -> Pod {
    let set_name = name_of(set);
    let name = pod_name(set_name, ordinal);
    let template_metadata = template.metadata.clone().unwrap_or_default();
    let mut labels = template_metadata.labels.unwrap_or_default();
    labels.insert(REVISION_LABEL.into(), revision.to_owned());
    labels.insert(POD_NAME_LABEL.into(), name.clone());
    labels.insert(POD_INDEX_LABEL.into(), ordinal.to_string());
    let mut spec = template.spec.clone().unwrap_or_default();
    spec.hostname = Some(name.clone());
    let service_name = set.spec.as_ref().and_then(|spec| spec.service_name.clone());
    spec.subdomain = service_name.filter(|service| !service.is_empty());
    let claim_templates = set
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_claim_templates.as_deref())
        .unwrap_or_default();
    let volumes = spec.volumes.get_or_insert_with(Vec::new);
    for claim in claim_templates {
        let template_name = claim.metadata.name.clone().unwrap_or_default();
        volumes.retain(|volume| volume.name != template_name);
        volumes.push(Volume {
            name: template_name.clone(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim_name(&template_name, set_name, ordinal),
                read_only: None,
            }),
            ..Volume::default()
        });
    }
    Pod {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: set.metadata.namespace.clone(),
            labels: Some(labels),
            annotations: template_metadata.annotations,
            owner_references: Some(vec![owner_reference(set)]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The claims Pod `ordinal` of `set` mounts.
pub fn new_claims(set: &StatefulSet, ordinal: i32) -> Vec<PersistentVolumeClaim> {
    let set_name = name_of(set);
    let Some(spec) = set.spec.as_ref() else {
        return Vec::new();
    };
    let selector_labels = spec.selector.match_labels.clone().unwrap_or_default();
    spec.volume_claim_templates
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|template| {
            let template_name = template.metadata.name.clone().unwrap_or_default();
            let mut labels: BTreeMap<String, String> =
                template.metadata.labels.clone().unwrap_or_default();
            labels.extend(selector_labels.clone());
            PersistentVolumeClaim {
                metadata: ObjectMeta {
                    name: Some(claim_name(&template_name, set_name, ordinal)),
                    namespace: set.metadata.namespace.clone(),
                    labels: Some(labels),
                    annotations: template.metadata.annotations.clone(),
                    ..ObjectMeta::default()
                },
                spec: template.spec.clone(),
                status: None,
            }
        })
        .collect()
}

fn condition_true(pod: &Pod, kind: &str) -> Option<Timestamp> {
    let condition = pod
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|condition| condition.type_ == kind && condition.status == "True")?;
    Some(
        condition
            .last_transition_time
            .as_ref()
            .map_or(Timestamp::UNIX_EPOCH, |time| time.0),
    )
}

/// How planning sees `pod` at `now`, or `None` if it is no Pod of the set.
pub fn pod_state(
    set_name: &str,
    pod: &Pod,
    now: Timestamp,
    min_ready_seconds: i32,
) -> Option<PodState> {
    let ordinal = ordinal_of(set_name, pod.metadata.name.as_deref()?)?;
    let phase = pod
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default();
    let ready_since = condition_true(pod, "Ready");
    let running_and_ready = phase == "Running" && ready_since.is_some();
    let min_ready =
        k8s_openapi::jiff::SignedDuration::from_secs(i64::from(min_ready_seconds.max(0)));
    let available = running_and_ready
        && ready_since.is_some_and(|since| since.checked_add(min_ready).is_ok_and(|at| at <= now));
    Some(PodState {
        ordinal,
        revision: pod
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(REVISION_LABEL))
            .cloned()
            .unwrap_or_default(),
        // A real API server gives every new Pod phase Pending; an object
        // that exists is therefore created.
        created: true,
        running_and_ready,
        available,
        terminating: pod.metadata.deletion_timestamp.is_some(),
        finished: matches!(phase, "Failed" | "Succeeded"),
    })
}

/// How planning sees `set`, given its revisions.
pub fn set_state(
    set: &StatefulSet,
    current_revision: &str,
    update_revision: &str,
) -> Result<SetState> {
    let invalid = |reason: &str| Error::Invalid {
        name: name_of(set).to_owned(),
        reason: reason.to_owned(),
    };
    let spec = set.spec.as_ref().ok_or_else(|| invalid("no spec"))?;
    let replicas = spec.replicas.unwrap_or(1);
    if replicas < 0 {
        return Err(invalid("spec.replicas is negative"));
    }
    let management = match spec.pod_management_policy.as_deref() {
        None | Some("OrderedReady") => PodManagement::OrderedReady,
        Some("Parallel") => PodManagement::Parallel,
        Some(_) => {
            return Err(invalid(
                "spec.podManagementPolicy is neither OrderedReady nor Parallel",
            ));
        }
    };
    let strategy = spec.update_strategy.as_ref();
    let strategy = match strategy.and_then(|strategy| strategy.type_.as_deref()) {
        None | Some("RollingUpdate") => UpdateStrategy::RollingUpdate {
            partition: strategy
                .and_then(|strategy| strategy.rolling_update.as_ref())
                .and_then(|rolling| rolling.partition)
                .unwrap_or(0)
                .max(0),
        },
        Some("OnDelete") => UpdateStrategy::OnDelete,
        Some(_) => {
            return Err(invalid(
                "spec.updateStrategy.type is neither RollingUpdate nor OnDelete",
            ));
        }
    };
    Ok(SetState {
        replicas,
        ordinal_start: spec
            .ordinals
            .as_ref()
            .and_then(|ordinals| ordinals.start)
            .unwrap_or(0)
            .max(0),
        management,
        strategy,
        current_revision: current_revision.to_owned(),
        update_revision: update_revision.to_owned(),
    })
}
