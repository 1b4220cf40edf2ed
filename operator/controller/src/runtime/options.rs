//! `fjord-operator run` settings: flags with environment variables,
//! validated once into [`RunConfig`].

use std::net::SocketAddr;
use std::time::Duration;

use crate::cluster::loopback::PodAddressMode;
use crate::error::{Error, Result};
use crate::runtime::lease::LeaseConfig;

/// Flags of `fjord-operator run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// Namespace whose resources the controllers act on; every namespace
    /// when absent.
    #[arg(long, env = "FJORD_OPERATOR_NAMESPACE")]
    pub namespace: Option<String>,

    /// What brokers give Kafka clients as their host: `pod-dns-name` (the
    /// Pod's name under the cluster's headless Service, stable across
    /// restarts) or `pod-ip` (the Pod's IP, from the downward API).
    #[arg(
        long,
        env = "FJORD_OPERATOR_BROKER_ADVERTISED_HOST",
        value_enum,
        default_value = "pod-dns-name"
    )]
    pub broker_advertised_host: crate::cluster::render::AdvertisedHost,

    /// This operator's image; brokers of rack-aware clusters run its
    /// `fjord-operator broker-rack` as an init container.
    #[arg(
        long,
        env = "FJORD_OPERATOR_IMAGE",
        default_value = crate::cluster::render::OPERATOR_IMAGE_DEFAULT
    )]
    pub operator_image: String,

    /// Address of the HTTP server that answers /metrics, /healthz and /readyz.
    #[arg(long, env = "FJORD_OPERATOR_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,

    /// Name of the coordination.k8s.io/v1 Lease the replicas elect a leader with.
    #[arg(
        long,
        env = "FJORD_OPERATOR_LEASE_NAME",
        default_value = "fjord-operator"
    )]
    pub lease_name: String,

    /// Namespace of the Lease [default: $POD_NAMESPACE, else fjord-system].
    #[arg(long, env = "FJORD_OPERATOR_LEASE_NAMESPACE")]
    pub lease_namespace: Option<String>,

    /// This replica's identity in the Lease, unique per process
    /// [default: $POD_NAME or the host name, plus a random suffix].
    #[arg(long, env = "FJORD_OPERATOR_IDENTITY")]
    pub identity: Option<String>,

    /// How long the Lease protects its holder after its last renewal.
    #[arg(
        long,
        env = "FJORD_OPERATOR_LEASE_DURATION_SECONDS",
        default_value_t = 15
    )]
    pub lease_duration_seconds: u32,

    /// How long the leader keeps acting without a successful renewal; must be
    /// shorter than the lease duration.
    #[arg(
        long,
        env = "FJORD_OPERATOR_RENEW_DEADLINE_SECONDS",
        default_value_t = 10
    )]
    pub renew_deadline_seconds: u32,

    /// How often the leader renews and a standby looks at the Lease; must be
    /// shorter than the renew deadline.
    #[arg(long, env = "FJORD_OPERATOR_RETRY_PERIOD_SECONDS", default_value_t = 2)]
    pub retry_period_seconds: u32,

    /// Controllers to run, comma-separated [default: every one built in].
    #[arg(long, env = "FJORD_OPERATOR_CONTROLLERS", value_delimiter = ',')]
    pub controllers: Vec<String>,

    /// How often the Topic controller checks each topic on the brokers for
    /// drift when nothing changed.
    #[arg(
        long,
        env = "FJORD_OPERATOR_TOPIC_RESYNC_SECONDS",
        default_value_t = 60
    )]
    pub topic_resync_seconds: u32,

    /// How broker Pods are reached: `dns` (their names under the headless
    /// Service; real Kubernetes) or `kube-sim` (the loopback addresses of
    /// kube-sim's process kubelet, also published as the bootstrap address;
    /// the local stack).
    #[arg(long, env = "FJORD_OPERATOR_POD_ADDRESSES", default_value = "dns")]
    pub pod_addresses: String,

    /// Cap on every cluster's pause between broker restarts
    /// (`spec.rollout.pauseSeconds`); for the local stack and tests.
    #[arg(long, env = "FJORD_OPERATOR_ROLL_PAUSE_SECONDS_MAX")]
    pub roll_pause_seconds_max: Option<u32>,

    /// Cap on every cluster's roll health timeout
    /// (`spec.rollout.healthTimeoutSeconds`); for the local stack and tests.
    #[arg(long, env = "FJORD_OPERATOR_ROLL_HEALTH_TIMEOUT_SECONDS_MAX")]
    pub roll_health_timeout_seconds_max: Option<u32>,
}

/// Validated settings of `fjord-operator run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunConfig {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    /// Broker Pod settings: the advertised host, the rack init image.
    pub pods: crate::cluster::render::PodSettings,
    pub listen: SocketAddr,
    pub lease: LeaseConfig,
    /// `None`: every registered controller.
    pub controllers: Option<Vec<String>>,
    pub topic_resync: Duration,
    pub pod_addresses: PodAddressMode,
    pub roll_pause_max: Option<Duration>,
    pub roll_health_timeout_max: Option<Duration>,
}

/// The namespace the Lease lives in when none is given.
pub const DEFAULT_LEASE_NAMESPACE: &str = "fjord-system";

fn default_identity() -> String {
    let base = std::env::var("POD_NAME")
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| {
            hostname::get()
                .ok()
                .and_then(|name| name.into_string().ok())
        })
        .unwrap_or_else(|| "fjord-operator".to_owned());
    // Two processes on one host (or a restarted container) must not share
    // an identity, or both would believe they hold the Lease.
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let random = suffix.get(suffix.len() - 8..).unwrap_or(&suffix);
    format!("{base}_{random}")
}

impl RunArgs {
    /// Checks the flags and fills in the defaults that come from the
    /// environment.
    pub fn into_config(self) -> Result<RunConfig> {
        if self.topic_resync_seconds == 0 {
            return Err(Error::InvalidConfig {
                setting: "topic resync",
                reason: "must be at least one second".to_owned(),
            });
        }
        let pod_addresses = PodAddressMode::parse(&self.pod_addresses)?;
        if self.roll_health_timeout_seconds_max == Some(0) {
            return Err(Error::InvalidConfig {
                setting: "roll health timeout cap",
                reason: "must be at least one second".to_owned(),
            });
        }
        let namespace = self.namespace.filter(|namespace| !namespace.is_empty());
        let lease_namespace = self
            .lease_namespace
            .or_else(|| std::env::var("POD_NAMESPACE").ok())
            .filter(|namespace| !namespace.is_empty())
            .unwrap_or_else(|| DEFAULT_LEASE_NAMESPACE.to_owned());
        let identity = self.identity.unwrap_or_else(default_identity);
        let lease = LeaseConfig {
            name: self.lease_name,
            namespace: lease_namespace,
            identity,
            lease_duration: Duration::from_secs(self.lease_duration_seconds.into()),
            renew_deadline: Duration::from_secs(self.renew_deadline_seconds.into()),
            retry_period: Duration::from_secs(self.retry_period_seconds.into()),
        };
        lease.validate()?;
        let controllers = (!self.controllers.is_empty()).then_some(self.controllers);
        if self.operator_image.trim().is_empty() {
            return Err(Error::InvalidConfig {
                setting: "operator image",
                reason: "must name an image".to_owned(),
            });
        }
        let pods = crate::cluster::render::PodSettings {
            advertised_host: self.broker_advertised_host,
            operator_image: self.operator_image,
        };
        Ok(RunConfig {
            namespace,
            pods,
            listen: self.listen,
            lease,
            controllers,
            topic_resync: Duration::from_secs(self.topic_resync_seconds.into()),
            pod_addresses,
            roll_pause_max: self
                .roll_pause_seconds_max
                .map(|seconds| Duration::from_secs(seconds.into())),
            roll_health_timeout_max: self
                .roll_health_timeout_seconds_max
                .map(|seconds| Duration::from_secs(seconds.into())),
        })
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> Result<RunConfig> {
        let mut argv = vec!["fjord-operator"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().run.into_config()
    }

    #[test]
    fn flags_become_a_checked_config() {
        let config = parse(&[
            "--namespace",
            "team-a",
            "--lease-namespace",
            "ops",
            "--identity",
            "replica-1",
            "--controllers",
            "topic,cluster",
        ])
        .unwrap();
        assert_eq!(config.namespace.as_deref(), Some("team-a"));
        assert_eq!(config.lease.namespace, "ops");
        assert_eq!(config.lease.identity, "replica-1");
        assert_eq!(config.lease.lease_duration, Duration::from_secs(15));
        assert_eq!(
            config.controllers,
            Some(vec!["topic".to_owned(), "cluster".to_owned()])
        );
    }

    #[test]
    fn brokers_advertise_pod_dns_names_unless_told_pod_ip() {
        use crate::cluster::render::AdvertisedHost;
        let default = parse(&[]).unwrap();
        assert_eq!(default.pods.advertised_host, AdvertisedHost::PodDnsName);
        assert_eq!(
            default.pods.operator_image,
            crate::cluster::render::OPERATOR_IMAGE_DEFAULT
        );
        let ip = parse(&[
            "--broker-advertised-host",
            "pod-ip",
            "--operator-image",
            "r/op:1",
        ])
        .unwrap();
        assert_eq!(ip.pods.advertised_host, AdvertisedHost::PodIp);
        assert_eq!(ip.pods.operator_image, "r/op:1");
        let argv = ["fjord-operator", "--broker-advertised-host", "node-name"];
        assert!(Cli::try_parse_from(argv).is_err());
    }

    #[test]
    fn default_identities_differ_between_processes_on_one_host() {
        let first = parse(&["--lease-namespace", "ops"]).unwrap().lease.identity;
        let second = parse(&["--lease-namespace", "ops"]).unwrap().lease.identity;
        assert_ne!(first, second);
    }

    #[test]
    fn timings_that_leave_no_margin_are_refused() {
        let error = parse(&[
            "--lease-duration-seconds",
            "10",
            "--renew-deadline-seconds",
            "10",
        ])
        .unwrap_err();
        assert!(error.to_string().contains("lease duration"), "{error}");
        assert!(parse(&["--topic-resync-seconds", "0"]).is_err());
        assert!(parse(&["--pod-addresses", "ip"]).is_err());
        assert_eq!(
            parse(&["--pod-addresses", "kube-sim"])
                .unwrap()
                .pod_addresses,
            PodAddressMode::KubeSim
        );
    }
}
