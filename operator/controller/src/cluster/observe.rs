//! What a reconcile sees of a cluster: its broker Pods (revision, readiness,
//! node and rack) from the API server, and the brokers' own health from any
//! serving broker's admin API.

use std::collections::BTreeMap;

use fjord_metadata::BrokerId;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::api::ListParams;
use tracing::debug;

use super::admin::{BrokerAdmin, ClusterHealth};
use super::render::{ADMIN_PORT, Desired, INSTANCE_LABEL, REVISION_ANNOTATION, broker_of_pod};
use super::roll::{BrokerView, HealthView, PodView};
use crate::Result;

/// A broker Pod's facts beyond what the planner needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodFacts {
    pub name: String,
    pub uid: Option<String>,
    /// The image tag it runs.
    pub version: Option<String>,
    /// Its admin API base URL, once it has an address.
    pub endpoint: Option<String>,
}

/// One look at a cluster.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// Every declared broker, by id.
    pub brokers: Vec<BrokerView>,
    pub pods: BTreeMap<BrokerId, PodFacts>,
    /// Pods of brokers above the declared count (left by a scale-down).
    pub extra_pods: Vec<String>,
    pub health: Option<ClusterHealth>,
}

impl Observed {
    /// The planner's view of the health.
    pub fn health_view(&self) -> Option<HealthView> {
        self.health.as_ref().map(|health| HealthView {
            healthy: health.healthy,
            controller: health.controller.map(BrokerId),
        })
    }

    /// Admin endpoints of ready brokers, those outside `avoid` first.
    pub fn endpoints(&self, avoid: &[BrokerId]) -> Vec<String> {
        let mut outside = Vec::new();
        let mut inside = Vec::new();
        for broker in self.brokers.iter().filter(|broker| broker.up()) {
            let Some(endpoint) = self
                .pods
                .get(&broker.id)
                .and_then(|pod| pod.endpoint.clone())
            else {
                continue;
            };
            if avoid.contains(&broker.id) {
                inside.push(endpoint);
            } else {
                outside.push(endpoint);
            }
        }
        outside.extend(inside);
        outside
    }

    /// Brokers whose Pod is ready.
    pub fn ready_count(&self) -> usize {
        self.brokers.iter().filter(|broker| broker.up()).count()
    }
}

/// Looks at the cluster `desired` describes. `rack_key` is the node label
/// naming racks, when rack awareness is on.
pub async fn observe(
    client: &kube::Client,
    admin: &dyn BrokerAdmin,
    desired: &Desired,
    rack_key: Option<&str>,
) -> Result<Observed> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &desired.namespace);
    let selector = format!(
        "app.kubernetes.io/name=fjord-broker,{INSTANCE_LABEL}={}",
        desired.name
    );
    let listed = pods.list(&ListParams::default().labels(&selector)).await?;
    let mut observed = Observed::default();
    let mut views: BTreeMap<BrokerId, BrokerView> =
        desired.broker_ids().map(|id| (id, missing(id))).collect();
    let mut racks: BTreeMap<String, Option<String>> = BTreeMap::new();
    for pod in listed.items {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(id) = broker_of_pod(&desired.name, &name) else {
            continue;
        };
        let Some(view) = views.get_mut(&id) else {
            observed.extra_pods.push(name);
            continue;
        };
        view.pod = pod_view(&pod);
        if let (Some(key), Some(node)) = (
            rack_key,
            pod.spec.as_ref().and_then(|spec| spec.node_name.clone()),
        ) {
            if !racks.contains_key(&node) {
                let rack = node_label(client, &node, key).await;
                racks.insert(node.clone(), rack);
            }
            view.rack = racks.get(&node).cloned().flatten();
        }
        observed.pods.insert(id, pod_facts(&pod, name));
    }
    observed.brokers = views.into_values().collect();
    observed.health = health(admin, &observed).await;
    if let Some(health) = &observed.health {
        for view in &mut observed.brokers {
            if let Some(broker) = health.brokers.iter().find(|b| b.id == view.id.0) {
                view.serving = broker.state == "serving";
                view.maintenance = broker.maintenance;
                view.leaderships = broker.leaderships;
            }
        }
    }
    Ok(observed)
}

fn missing(id: BrokerId) -> BrokerView {
    BrokerView {
        id,
        pod: PodView::Missing,
        serving: false,
        maintenance: false,
        leaderships: 0,
        rack: None,
    }
}

fn pod_view(pod: &Pod) -> PodView {
    if pod.metadata.deletion_timestamp.is_some() {
        return PodView::Terminating;
    }
    let revision = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|annotations| annotations.get(REVISION_ANNOTATION).cloned());
    let status = pod.status.as_ref();
    let running = status.and_then(|s| s.phase.as_deref()) == Some("Running");
    let ready = running
        && status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|conditions| {
                conditions
                    .iter()
                    .any(|c| c.type_ == "Ready" && c.status == "True")
            });
    PodView::Present { revision, ready }
}

fn pod_facts(pod: &Pod, name: String) -> PodFacts {
    let version = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.containers.first())
        .and_then(|container| container.image.as_deref())
        .and_then(image_tag);
    let endpoint = pod
        .status
        .as_ref()
        .and_then(|status| status.pod_ip.as_deref())
        .filter(|ip| !ip.is_empty())
        .map(|ip| format!("http://{ip}:{ADMIN_PORT}"));
    PodFacts {
        name,
        uid: pod.metadata.uid.clone(),
        version,
        endpoint,
    }
}

/// The tag of `registry/repository:tag` (not a registry's port).
pub fn image_tag(image: &str) -> Option<String> {
    let last = image.rsplit('/').next()?;
    let (_, tag) = last.split_once(':')?;
    let tag = tag.split('@').next()?;
    (!tag.is_empty()).then(|| tag.to_owned())
}

async fn node_label(client: &kube::Client, node: &str, key: &str) -> Option<String> {
    let nodes: Api<Node> = Api::all(client.clone());
    match nodes.get(node).await {
        Ok(node) => node.metadata.labels?.get(key).cloned(),
        Err(error) => {
            debug!(node, %error, "cannot read the node's rack label");
            None
        }
    }
}

/// The health as the first ready broker that answers sees it.
async fn health(admin: &dyn BrokerAdmin, observed: &Observed) -> Option<ClusterHealth> {
    for endpoint in observed.endpoints(&[]) {
        match admin.health(&endpoint).await {
            Ok(health) => return Some(health),
            Err(error) => debug!(%error, "broker health not available"),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::image_tag;

    #[test]
    fn the_version_is_the_images_tag_not_a_registry_port() {
        assert_eq!(image_tag("fjord/broker:0.2.0").as_deref(), Some("0.2.0"));
        assert_eq!(
            image_tag("registry.local:5000/fjord/broker:0.3.1").as_deref(),
            Some("0.3.1")
        );
        assert_eq!(image_tag("registry.local:5000/fjord/broker"), None);
        assert_eq!(
            image_tag("fjord/broker:1.0@sha256:ab").as_deref(),
            Some("1.0")
        );
    }
}
