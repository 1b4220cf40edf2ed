//! Cluster DNS names → Pod addresses, as a hosts-format file.
//!
//! Kubernetes' DNS gives every Service `<service>.<ns>.svc.cluster.local`
//! and, for a Pod with `spec.hostname` and `spec.subdomain` naming a Service
//! of its namespace (what a StatefulSet sets up), `<hostname>.<subdomain>.<ns>
//! .svc.cluster.local`. Here a Service name resolves to the addresses of the
//! ready Pods its selector picks (all Pods with an address when it publishes
//! not-ready addresses), which is how a headless Service answers; a
//! `ClusterIP` Service has no virtual IP here and answers the same way. Each
//! name is also written in its shorter forms (`….svc`, `<service>.<ns>`).
//!
//! [`render`] is pure; the kubelet writes its output to `hosts` in its state
//! directory whenever it changes; [`DnsMap`] reads such a file back for a
//! test or a client.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;

use crate::error::{Error, Result};

/// The cluster domain every name ends in.
pub const CLUSTER_DOMAIN: &str = "cluster.local";

/// What DNS needs to know about a Pod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PodRecord {
    pub namespace: String,
    pub hostname: String,
    pub subdomain: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub address: Ipv4Addr,
    pub ready: bool,
}

/// What DNS needs to know about a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRecord {
    pub namespace: String,
    pub name: String,
    /// `None`: no selector (endpoints managed by hand), so no addresses here.
    pub selector: Option<BTreeMap<String, String>>,
    pub publish_not_ready_addresses: bool,
}

/// The name `name` in every form a cluster client may use, longest first.
fn name_forms(name: &str) -> [String; 3] {
    [
        format!("{name}.svc.{CLUSTER_DOMAIN}"),
        format!("{name}.svc"),
        name.to_owned(),
    ]
}

/// Every name → its addresses, sorted.
pub fn records(
    pods: &[PodRecord],
    services: &[ServiceRecord],
) -> BTreeMap<String, BTreeSet<Ipv4Addr>> {
    let mut names: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
    let service_exists: BTreeSet<(&str, &str)> = services
        .iter()
        .map(|service| (service.namespace.as_str(), service.name.as_str()))
        .collect();
    for pod in pods {
        if let Some(subdomain) = &pod.subdomain
            && service_exists.contains(&(pod.namespace.as_str(), subdomain.as_str()))
        {
            for form in name_forms(&format!("{}.{subdomain}.{}", pod.hostname, pod.namespace)) {
                names.entry(form).or_default().insert(pod.address);
            }
        }
    }
    for service in services {
        let Some(selector) = &service.selector else {
            continue;
        };
        let addresses: BTreeSet<Ipv4Addr> = pods
            .iter()
            .filter(|pod| pod.namespace == service.namespace)
            .filter(|pod| pod.ready || service.publish_not_ready_addresses)
            .filter(|pod| selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v)))
            .map(|pod| pod.address)
            .collect();
        if addresses.is_empty() {
            continue;
        }
        for form in name_forms(&format!("{}.{}", service.name, service.namespace)) {
            names
                .entry(form)
                .or_default()
                .extend(addresses.iter().copied());
        }
    }
    names
}

/// The hosts-format text of [`records`]: one `ADDRESS NAME` line per pair.
pub fn render(pods: &[PodRecord], services: &[ServiceRecord]) -> String {
    let mut text = String::from("# written by the fjord-kube-sim kubelet: cluster DNS names\n");
    for (name, addresses) in records(pods, services) {
        for address in addresses {
            text.push_str(&format!("{address} {name}\n"));
        }
    }
    text
}

/// A read hosts file: name → addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DnsMap {
    names: BTreeMap<String, BTreeSet<Ipv4Addr>>,
}

impl DnsMap {
    /// Parses hosts-format text (`ADDRESS NAME [NAME…]`, `#` comments).
    pub fn parse(text: &str) -> Self {
        let mut names: BTreeMap<String, BTreeSet<Ipv4Addr>> = BTreeMap::new();
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or_default();
            let mut fields = line.split_whitespace();
            let Some(Ok(address)) = fields.next().map(str::parse::<Ipv4Addr>) else {
                continue;
            };
            for name in fields {
                names
                    .entry(name.to_ascii_lowercase())
                    .or_default()
                    .insert(address);
            }
        }
        Self { names }
    }

    /// Reads the hosts file the kubelet keeps (`<state-dir>/hosts`).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            action: "read the cluster hosts file",
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    /// The addresses of `name` (a trailing dot is ignored), sorted; empty
    /// when the name is unknown.
    pub fn resolve(&self, name: &str) -> Vec<Ipv4Addr> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        self.names
            .get(&name)
            .map(|addresses| addresses.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(hostname: &str, address: [u8; 4], ready: bool) -> PodRecord {
        PodRecord {
            namespace: "acme".into(),
            hostname: hostname.into(),
            subdomain: Some("broker".into()),
            labels: BTreeMap::from([("app".into(), "broker".into())]),
            address: Ipv4Addr::from(address),
            ready,
        }
    }

    fn service(publish_not_ready_addresses: bool) -> ServiceRecord {
        ServiceRecord {
            namespace: "acme".into(),
            name: "broker".into(),
            selector: Some(BTreeMap::from([("app".into(), "broker".into())])),
            publish_not_ready_addresses,
        }
    }

    #[test]
    fn a_statefulset_pod_resolves_under_its_governing_service() {
        let pods = [pod("broker-0", [127, 1, 0, 1], false)];
        let map = DnsMap::parse(&render(&pods, &[service(false)]));
        let address = vec![Ipv4Addr::new(127, 1, 0, 1)];
        assert_eq!(
            map.resolve("broker-0.broker.acme.svc.cluster.local"),
            address
        );
        assert_eq!(
            map.resolve("broker-0.broker.acme.svc.cluster.local."),
            address
        );
        assert_eq!(map.resolve("broker-0.broker.acme.svc"), address);
        assert_eq!(map.resolve("broker-0.broker.acme"), address);
    }

    #[test]
    fn a_pod_has_no_subdomain_name_without_its_service() {
        let pods = [pod("broker-0", [127, 1, 0, 1], true)];
        let map = DnsMap::parse(&render(&pods, &[]));
        assert!(
            map.resolve("broker-0.broker.acme.svc.cluster.local")
                .is_empty()
        );
    }

    #[test]
    fn a_service_resolves_to_its_ready_pods_unless_it_publishes_not_ready_ones() {
        let pods = [
            pod("broker-0", [127, 1, 0, 1], true),
            pod("broker-1", [127, 1, 0, 2], false),
        ];
        let ready_only = DnsMap::parse(&render(&pods, &[service(false)]));
        assert_eq!(
            ready_only.resolve("broker.acme.svc.cluster.local"),
            vec![Ipv4Addr::new(127, 1, 0, 1)]
        );
        let all = DnsMap::parse(&render(&pods, &[service(true)]));
        assert_eq!(all.resolve("broker.acme.svc.cluster.local").len(), 2);
    }

    #[test]
    fn comments_and_garbage_lines_are_skipped() {
        let map = DnsMap::parse("# c\nnot-an-ip name\n127.1.0.9 a.b # trailing\n\n");
        assert_eq!(map.resolve("A.B"), vec![Ipv4Addr::new(127, 1, 0, 9)]);
        assert!(map.resolve("name").is_empty());
    }
}
