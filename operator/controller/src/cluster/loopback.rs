//! Brokers on a loopback stack: how the operator reaches brokers that kube-sim's
//! process kubelet runs on this machine (`fjord-operator run --pod-addresses
//! kube-sim`, what `cargo xtask dev` passes).
//!
//! On Kubernetes a broker Pod is reached through its DNS name under the
//! headless Service, and clients bootstrap through the client Service. The
//! process kubelet has no cluster DNS that processes could use: it gives each
//! Pod its own loopback address, a pure function of the Pod's namespace and
//! name (operator/kube-sim/README.md, "Address"):
//!
//! 1. `h` = FNV-1a (64 bit) of the bytes of `namespace/name`;
//! 2. `slot` = `h mod (254 * 256 * 254)`;
//! 3. the address is `127.(slot / (254 * 256) + 1).((slot / 254) mod 256).(slot mod 254 + 1)`.
//!
//! (The kubelet moves a Pod to the next slot when its address is taken;
//! with a handful of Pods among 16 million slots that does not happen here,
//! and `tests/loopback.rs` checks this function against the kubelet's own.)
//! The operator computes the same addresses, so the broker files name their
//! peers before the Pods exist, and it publishes the Pods' own addresses as
//! the bootstrap address, which `kcat` on this machine can use.
//!
//! This is a development mode: the operator does not depend on kube-sim,
//! and with the default (`dns`) none of this code runs.

use std::sync::Arc;

use fjord_crd::StreamCluster;
use fjord_metadata::BrokerId;

use super::config::Config;
use super::render::{Desired, PodAddresses, pod_dns_names, pod_name};
use crate::{Error, Result};

/// How broker Pods are reached (`--pod-addresses`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PodAddressMode {
    /// Pod DNS names under the headless Service; clients bootstrap through
    /// the client Service (a real Kubernetes cluster).
    #[default]
    Dns,
    /// kube-sim's loopback Pod addresses, also as the bootstrap address.
    KubeSim,
}

impl PodAddressMode {
    /// Parses the flag's value: `dns` or `kube-sim`.
    pub fn parse(value: &str) -> Result<Self> {
        match value {
            "dns" => Ok(Self::Dns),
            "kube-sim" => Ok(Self::KubeSim),
            other => Err(Error::InvalidConfig {
                setting: "pod addresses",
                reason: format!("{other:?} is neither \"dns\" nor \"kube-sim\""),
            }),
        }
    }

    /// The [`PodAddresses`] of this mode.
    pub fn pod_addresses(self) -> PodAddresses {
        match self {
            Self::Dns => pod_dns_names(),
            Self::KubeSim => Arc::new(|namespace: &str, pod: &str| {
                kube_sim_pod_address(namespace, pod).to_string()
            }),
        }
    }
}

/// The loopback address kube-sim's kubelet gives Pod `namespace/name`.
pub fn kube_sim_pod_address(namespace: &str, name: &str) -> std::net::Ipv4Addr {
    const SECOND: u64 = 254;
    const THIRD: u64 = 256;
    const FOURTH: u64 = 254;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in format!("{namespace}/{name}").bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    let slot = hash % (SECOND * THIRD * FOURTH);
    let octet = |value: u64| u8::try_from(value).expect("each octet is bounded by its modulus");
    std::net::Ipv4Addr::new(
        127,
        octet(slot / (FOURTH * THIRD) + 1),
        octet((slot / FOURTH) % THIRD),
        octet(slot % FOURTH + 1),
    )
}

/// The desired state of `cluster` with the bootstrap address `config`'s
/// mode gives.
pub(super) fn desired(
    cluster: &StreamCluster,
    config: &Config,
    voters: &[BrokerId],
) -> Result<Desired> {
    let mut desired = Desired::new(
        cluster,
        &config.image_repository,
        voters,
        &config.pod_addresses,
        &config.pods,
    )?;
    if config.pod_address_mode == PodAddressMode::KubeSim {
        desired.bootstrap = pod_bootstrap(&desired, &config.pod_addresses);
    }
    Ok(desired)
}

/// `address:port` of every broker Pod, comma-separated.
fn pod_bootstrap(desired: &Desired, addresses: &PodAddresses) -> String {
    desired
        .broker_ids()
        .map(|id| {
            let address = addresses(&desired.namespace, &pod_name(&desired.name, id));
            format!("{address}:{}", desired.kafka_port)
        })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_takes_dns_or_kube_sim_only() {
        assert_eq!(PodAddressMode::parse("dns").ok(), Some(PodAddressMode::Dns));
        assert_eq!(
            PodAddressMode::parse("kube-sim").ok(),
            Some(PodAddressMode::KubeSim)
        );
        let error = PodAddressMode::parse("ip").err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("\"ip\"")));
    }

    #[test]
    fn loopback_addresses_stay_outside_127_0_and_differ_per_pod() {
        let first = kube_sim_pod_address("fjord-system", "orders-1");
        let second = kube_sim_pod_address("fjord-system", "orders-2");
        assert_ne!(first, second);
        for address in [first, second] {
            let [a, b, _, d] = address.octets();
            assert_eq!(a, 127);
            assert!(
                (1..=254).contains(&b) && (1..=254).contains(&d),
                "{address}"
            );
        }
    }
}
