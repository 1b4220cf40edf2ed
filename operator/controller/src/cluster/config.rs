//! The cluster controller's settings (`fjord-operator run` fills them in).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::admin::{BrokerAdmin, HttpBrokerAdmin};
use super::loopback::PodAddressMode;
use super::render::{PodAddresses, PodSettings, pod_dns_names};

/// How the cluster controller runs.
#[derive(Clone)]
pub struct Config {
    /// Watch `StreamCluster`s of this namespace only; `None`: every namespace.
    pub namespace: Option<String>,
    /// Image repository of the brokers; the tag is `spec.version`.
    pub image_repository: String,
    /// How a broker Pod is reached (docs/operator.md, "Addresses").
    pub pod_addresses: PodAddresses,
    /// What brokers advertise, the rack init container's image.
    pub pods: PodSettings,
    /// Which addressing `pod_addresses` follows; `KubeSim` also publishes the
    /// Pods' addresses as the bootstrap address (`loopback.rs`).
    pub pod_address_mode: PodAddressMode,
    /// The brokers' admin API.
    pub admin: Arc<dyn BrokerAdmin>,
    /// How often a cluster is looked at while it rolls, scales or starts.
    pub busy_interval: Duration,
    /// How often a settled cluster is looked at (changes of it or its
    /// children trigger a reconcile at once anyway).
    pub resync_interval: Duration,
    /// First delay after a failed reconcile; it doubles up to `error_backoff_max`.
    pub error_backoff: Duration,
    pub error_backoff_max: Duration,
    /// `reportingController` of the Events.
    pub reporter: String,
    /// Caps on every cluster's `spec.rollout.pauseSeconds` and
    /// `healthTimeoutSeconds` (`--roll-pause-seconds-max`,
    /// `--roll-health-timeout-seconds-max`): the local stack and tests roll
    /// in seconds what production paces over minutes.
    pub roll_pause_max: Option<Duration>,
    pub roll_health_timeout_max: Option<Duration>,
}

impl Config {
    /// The pause between restarts and the health timeout of a roll:
    /// `rollout`'s, within this operator's caps.
    pub fn roll_timing(&self, rollout: &fjord_crd::RolloutPolicy) -> (Duration, Duration) {
        let pause = Duration::from_secs(u64::from(rollout.pause_seconds));
        let timeout = Duration::from_secs(u64::from(rollout.health_timeout_seconds));
        (
            self.roll_pause_max.map_or(pause, |max| pause.min(max)),
            self.roll_health_timeout_max
                .map_or(timeout, |max| timeout.min(max)),
        )
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            namespace: None,
            image_repository: "fjord/broker".to_owned(),
            pod_addresses: pod_dns_names(),
            pods: PodSettings::default(),
            pod_address_mode: PodAddressMode::Dns,
            admin: Arc::new(HttpBrokerAdmin::default()),
            busy_interval: Duration::from_secs(2),
            resync_interval: Duration::from_secs(300),
            error_backoff: Duration::from_secs(1),
            error_backoff_max: Duration::from_secs(300),
            reporter: super::FIELD_MANAGER.to_owned(),
            roll_pause_max: None,
            roll_health_timeout_max: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("namespace", &self.namespace)
            .field("image_repository", &self.image_repository)
            .field("pods", &self.pods)
            .field("pod_address_mode", &self.pod_address_mode)
            .field("busy_interval", &self.busy_interval)
            .field("resync_interval", &self.resync_interval)
            .field("error_backoff", &self.error_backoff)
            .field("error_backoff_max", &self.error_backoff_max)
            .field("reporter", &self.reporter)
            .field("roll_pause_max", &self.roll_pause_max)
            .field("roll_health_timeout_max", &self.roll_health_timeout_max)
            .finish_non_exhaustive()
    }
}
