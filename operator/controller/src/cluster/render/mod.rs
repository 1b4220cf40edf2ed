//! What a `StreamCluster` becomes in Kubernetes, as pure functions of the
//! resource (docs/operator.md, "What a StreamCluster becomes"): the spec is
//! validated once into a [`Desired`], and each object is rendered from it.
//! Golden tests (`render_test.rs`, `golden/`) pin every rendered object.

mod broker_config;
mod disruption;
mod rack;
mod services;
mod statefulset;

#[cfg(test)]
mod pods_test;
#[cfg(test)]
mod render_test;

use std::collections::BTreeMap;
use std::sync::Arc;

use fjord_crd::{BrokerResources, ListenerExposure, StreamCluster};
use fjord_metadata::BrokerId;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use sha2::{Digest as _, Sha256};

pub use broker_config::{SettingValue, SharedSettings, broker_file, live_keys};
pub use disruption::pod_disruption_budget;
pub use rack::{
    RACK_CLUSTER_ROLE, RACK_DIR, RACK_FILE, broker_service_account, rack_binding, rack_binding_name,
};
pub use services::{client_service, headless_service};
pub use statefulset::statefulset;

use crate::{Error, Result};

/// Port of the brokers' replication traffic (`--peer-listen`).
pub const PEER_PORT: u16 = 9093;
/// Port of the brokers' admin HTTP API (`--admin-listen`).
pub const ADMIN_PORT: u16 = 9644;
/// Kafka port when `spec.listeners` is empty.
pub const KAFKA_PORT_DEFAULT: u16 = 9092;
/// Pod template annotation naming the configuration revision a Pod runs.
pub const REVISION_ANNOTATION: &str = "fjord.dev/revision";
/// Label naming the `StreamCluster` an object belongs to.
pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// Where the ConfigMap is mounted in the broker container.
pub const CONFIG_DIR: &str = "/etc/fjord";
/// Where the broker's volume claim is mounted.
pub const DATA_MOUNT: &str = "/var/lib/fjord";

/// Where a broker Pod is reached, from its namespace and name: an IP address
/// or a host name (see docs/operator.md, "Addresses").
pub type PodAddresses = Arc<dyn Fn(&str, &str) -> String + Send + Sync>;

/// The default [`PodAddresses`]: the Pod's DNS name under the headless Service.
pub fn pod_dns_names() -> PodAddresses {
    Arc::new(|namespace: &str, pod: &str| {
        let cluster = pod.rsplit_once('-').map_or(pod, |(cluster, _)| cluster);
        format!("{pod}.{cluster}-brokers.{namespace}.svc.cluster.local")
    })
}

/// What a broker gives Kafka clients as its host in Metadata
/// (`fjord-operator run --broker-advertised-host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum AdvertisedHost {
    /// The Pod's address as its peers know it ([`PodAddresses`]: its DNS
    /// name under the headless Service on Kubernetes), stable across
    /// restarts; clients must resolve cluster DNS names.
    #[default]
    PodDnsName,
    /// The Pod's IP address (downward API `status.podIP`), for clients that
    /// reach Pod IPs but not the cluster's DNS; it changes on restart.
    PodIp,
}

/// How broker Pods are set up beyond the `StreamCluster` itself (from the
/// operator's flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodSettings {
    pub advertised_host: AdvertisedHost,
    /// The operator's own image: the brokers' rack init container runs
    /// `fjord-operator broker-rack` from it.
    pub operator_image: String,
}

/// The operator image of this release (operator/deploy/deployment.yaml).
pub const OPERATOR_IMAGE_DEFAULT: &str =
    concat!("fjord/fjord-operator:", env!("CARGO_PKG_VERSION"));

impl Default for PodSettings {
    fn default() -> Self {
        Self {
            advertised_host: AdvertisedHost::default(),
            operator_image: OPERATOR_IMAGE_DEFAULT.to_owned(),
        }
    }
}

/// The controller voters of a new cluster of `brokers` brokers:
/// `1 ..= min(3, brokers)`.
pub fn initial_voters(brokers: u16) -> Vec<BrokerId> {
    (1..=u32::from(brokers.min(3))).map(BrokerId).collect()
}

/// A `StreamCluster` validated into what to render.
#[derive(Debug, Clone)]
pub struct Desired {
    pub name: String,
    pub namespace: String,
    pub owner: OwnerReference,
    /// Declared broker count; broker ids are `1 ..= brokers`.
    pub brokers: u16,
    /// The broker image, `<repository>:<version>`.
    pub image: String,
    pub version: String,
    pub kafka_port: u16,
    pub exposure: ListenerExposure,
    pub resources: BrokerResources,
    pub storage_size: String,
    pub storage_class: Option<String>,
    pub voters: Vec<BrokerId>,
    pub pods: PodSettings,
    /// The node label naming a broker's rack (`spec.rackAwareness`).
    pub rack_key: Option<String>,
    /// ConfigMap data: `<pod>.toml` for each broker.
    pub files: BTreeMap<String, String>,
    /// `spec.config` keys the broker has no setting for.
    pub unsupported_config: Vec<String>,
    /// The settings running brokers take live (broker config-file key to
    /// value); also in `files`, but not in the revision.
    pub live: BTreeMap<&'static str, SettingValue>,
    /// Hash of everything a running broker cannot change without a restart.
    pub revision: String,
    /// Where clients bootstrap (`status.bootstrapAddress`): the client
    /// Service by default; the Pods' own addresses on a loopback stack
    /// (`cluster::loopback`).
    pub bootstrap: String,
}

impl Desired {
    /// Validates `cluster` (which must be stored: it needs its uid).
    /// `voters` are the recorded controller voters (or [`initial_voters`]
    /// for a new cluster).
    pub fn new(
        cluster: &StreamCluster,
        image_repository: &str,
        voters: &[BrokerId],
        addresses: &PodAddresses,
        pods: &PodSettings,
    ) -> Result<Self> {
        let name = cluster
            .metadata
            .name
            .clone()
            .ok_or(Error::ClusterMetadata("name"))?;
        let namespace = cluster
            .metadata
            .namespace
            .clone()
            .ok_or(Error::ClusterMetadata("namespace"))?;
        let owner = cluster
            .controller_owner_ref(&())
            .ok_or(Error::ClusterMetadata("uid"))?;
        let spec = &cluster.spec;
        let invalid = |field: &str, problem: String| Error::ClusterSpec {
            cluster: name.clone(),
            field: field.to_owned(),
            problem,
        };
        if spec.brokers == 0 {
            return Err(invalid("spec.brokers", "must be at least 1".into()));
        }
        if !is_image_tag(&spec.version) {
            return Err(invalid(
                "spec.version",
                format!(
                    "{:?} is not a release name (letters, digits, '.', '-', '_')",
                    spec.version
                ),
            ));
        }
        let (kafka_port, exposure) = match spec.listeners.as_slice() {
            [] => (KAFKA_PORT_DEFAULT, ListenerExposure::ClusterIP),
            [listener] => (listener.port, listener.exposure),
            _ => {
                return Err(invalid(
                    "spec.listeners",
                    "the broker opens one Kafka listener; declare at most one".into(),
                ));
            }
        };
        if kafka_port == PEER_PORT || kafka_port == ADMIN_PORT || kafka_port == 0 {
            return Err(invalid(
                "spec.listeners[0].port",
                format!("{kafka_port} is taken by the broker's peer or admin port"),
            ));
        }
        if voters.is_empty() || voters.iter().any(|id| id.0 == 0) {
            return Err(invalid(
                "status.controllerVoters",
                format!("{voters:?} is not a set of broker ids"),
            ));
        }
        let shared = SharedSettings::from_spec(&name, spec.brokers, &spec.config)?;
        let ids: Vec<BrokerId> = (1..=u32::from(spec.brokers)).map(BrokerId).collect();
        // Voters are known peers even while the count is below them (a
        // refused scale-down keeps them), so every file names every voter.
        let mut hosts = BTreeMap::new();
        for id in ids.iter().chain(voters) {
            hosts.insert(*id, addresses(&namespace, &pod_name(&name, *id)));
        }
        let rack_key = spec.rack_awareness.as_ref().map(|r| r.topology_key.clone());
        if let Some(key) = &rack_key
            && !is_label_key(key)
        {
            return Err(invalid(
                "spec.rackAwareness.topologyKey",
                format!("{key:?} is not a node label key"),
            ));
        }
        let file_of = |shared: &SharedSettings, id: &BrokerId| {
            let mut file = broker_file(&name, *id, shared, &hosts, voters, PEER_PORT, ADMIN_PORT);
            if pods.advertised_host == AdvertisedHost::PodDnsName {
                let host = &hosts[id];
                let listener = SettingValue::Text(format!("{host}:{kafka_port}"));
                file.push_str(&format!("advertised-listener = {listener}\n"));
            }
            (format!("{}.toml", pod_name(&name, *id)), file)
        };
        let files: BTreeMap<String, String> = ids.iter().map(|id| file_of(&shared, id)).collect();
        // Live settings reach running brokers through their admin API, so a
        // change of only those must not change the revision (and roll).
        let at_start = shared.at_start_only();
        let restart_files: BTreeMap<String, String> =
            ids.iter().map(|id| file_of(&at_start, id)).collect();
        let image = format!("{image_repository}:{}", spec.version);
        let mut revision_input = image.clone();
        if let Some(key) = &rack_key {
            // The rack init container runs the operator's image and reads this key.
            revision_input.push_str(&format!("\0rack:{}:{key}", pods.operator_image));
        }
        if pods.advertised_host == AdvertisedHost::PodIp {
            revision_input.push_str("\0advertise:pod-ip");
        }
        let revision = revision(&revision_input, &restart_files, &spec.resources, kafka_port);
        let bootstrap = format!("{name}.{namespace}.svc:{kafka_port}");
        Ok(Self {
            name,
            namespace,
            owner,
            brokers: spec.brokers,
            image,
            version: spec.version.clone(),
            kafka_port,
            exposure,
            resources: spec.resources.clone(),
            storage_size: spec.storage.size.clone(),
            storage_class: spec.storage.storage_class_name.clone(),
            voters: voters.to_vec(),
            pods: pods.clone(),
            rack_key,
            files,
            live: shared.live(),
            unsupported_config: shared.unsupported,
            revision,
            bootstrap,
        })
    }

    /// Broker ids `1 ..= brokers`.
    pub fn broker_ids(&self) -> impl Iterator<Item = BrokerId> + '_ {
        (1..=u32::from(self.brokers)).map(BrokerId)
    }

    /// Labels every rendered object carries; the first two select the Pods.
    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector();
        labels.insert(
            "app.kubernetes.io/managed-by".into(),
            crate::cluster::FIELD_MANAGER.into(),
        );
        labels
    }

    /// The label selector of the broker Pods.
    pub fn selector(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            (
                "app.kubernetes.io/name".to_owned(),
                "fjord-broker".to_owned(),
            ),
            (INSTANCE_LABEL.to_owned(), self.name.clone()),
        ])
    }

    /// Metadata of a rendered object named `name`.
    pub fn metadata(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.clone()),
            labels: Some(self.labels()),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }

    pub fn headless_service_name(&self) -> String {
        format!("{}-brokers", self.name)
    }

    pub fn config_map_name(&self) -> String {
        format!("{}-config", self.name)
    }

    /// Where clients bootstrap: the client Service's DNS name and the Kafka
    /// port, unless the operator was told otherwise (see [`Self::bootstrap`]).
    pub fn bootstrap_address(&self) -> String {
        self.bootstrap.clone()
    }
}

/// The Pod of broker `id` of cluster `cluster`.
pub fn pod_name(cluster: &str, id: BrokerId) -> String {
    format!("{cluster}-{}", id.0)
}

/// The broker id of a Pod of cluster `cluster`, from its name.
pub fn broker_of_pod(cluster: &str, pod: &str) -> Option<BrokerId> {
    let ordinal = pod.strip_prefix(cluster)?.strip_prefix('-')?;
    ordinal.parse().ok().filter(|id| *id > 0).map(BrokerId)
}

/// The ConfigMap with the brokers' files.
pub fn config_map(desired: &Desired) -> k8s_openapi::api::core::v1::ConfigMap {
    k8s_openapi::api::core::v1::ConfigMap {
        metadata: desired.metadata(desired.config_map_name()),
        data: Some(desired.files.clone()),
        ..Default::default()
    }
}

/// A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a
/// name of at most 63 alphanumerics, `-`, `_`, `.`, starting and ending
/// alphanumeric.
fn is_label_key(key: &str) -> bool {
    let (prefix, name) = key
        .rsplit_once('/')
        .map_or((None, key), |(p, n)| (Some(p), n));
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|prefix| {
        !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            })
    });
    name_ok && prefix_ok
}

fn is_image_tag(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 128
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn revision(
    image: &str,
    files: &BTreeMap<String, String>,
    resources: &BrokerResources,
    kafka_port: u16,
) -> String {
    let mut hash = Sha256::new();
    hash.update(image.as_bytes());
    hash.update([0]);
    for (name, text) in files {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    for amount in [&resources.requests, &resources.limits] {
        for value in [&amount.cpu, &amount.memory] {
            hash.update(value.as_deref().unwrap_or("-").as_bytes());
            hash.update([0]);
        }
    }
    hash.update(kafka_port.to_be_bytes());
    hex::encode(&hash.finalize()[..8])
}
