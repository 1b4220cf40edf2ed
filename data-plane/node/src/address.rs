//! Peer addresses that may be host names, and their resolution.
//!
//! A peer is `HOST:PORT` where HOST is an IP address or a DNS name (on
//! Kubernetes a Pod's name under its headless Service, whose address changes
//! every time the Pod restarts). A name is resolved at every (re)connect and
//! never cached here: the system resolver (and the cluster DNS's short TTLs)
//! decide how fresh an answer is. An optional hosts file (`/etc/hosts`
//! format) is read first on every resolution, so tests can point names at
//! loopback addresses and change them while nodes run. A failed resolution
//! is counted (`fjord_node_resolve_failures_total`) and the caller retries
//! with backoff; it is never fatal. See docs/replication.md, "Peer
//! addresses".

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use prometheus_client::metrics::counter::Counter;
use tokio_rustls::rustls::pki_types::ServerName;
use tracing::{debug, warn};

/// Longest DNS name (RFC 1035, without the trailing dot).
const NAME_BYTES_MAX: usize = 253;
/// Longest label of a DNS name.
const LABEL_BYTES_MAX: usize = 63;

/// Where a peer is: an IP address or a host name, and a port.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerAddress {
    Ip(SocketAddr),
    /// A DNS name (lowercase, no trailing dot) and a port.
    Name {
        host: String,
        port: u16,
    },
}

/// A text that is not `HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not HOST:PORT (an IP address or DNS name, then a port): {reason}")]
pub struct InvalidAddress {
    pub text: String,
    pub reason: &'static str,
}

impl PeerAddress {
    /// The host part as written (an IP address or the name).
    pub fn host(&self) -> String {
        match self {
            PeerAddress::Ip(address) => address.ip().to_string(),
            PeerAddress::Name { host, .. } => host.clone(),
        }
    }

    pub fn port(&self) -> u16 {
        match self {
            PeerAddress::Ip(address) => address.port(),
            PeerAddress::Name { port, .. } => *port,
        }
    }

    /// The name TLS sends (SNI) and checks the certificate against: the DNS
    /// name when there is one, else the IP address.
    pub fn server_name(&self) -> ServerName<'static> {
        match self {
            PeerAddress::Ip(address) => ServerName::IpAddress(address.ip().into()),
            PeerAddress::Name { host, .. } => ServerName::try_from(host.clone())
                .expect("parsing checked that the host is a DNS name"),
        }
    }
}

impl From<SocketAddr> for PeerAddress {
    fn from(address: SocketAddr) -> Self {
        PeerAddress::Ip(address)
    }
}

impl fmt::Display for PeerAddress {
    /// IP addresses print as `SocketAddr` does (`[::1]:9093` for IPv6), so
    /// anything derived from the text of an IP list is unchanged.
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddress::Ip(address) => address.fmt(formatter),
            PeerAddress::Name { host, port } => write!(formatter, "{host}:{port}"),
        }
    }
}

impl FromStr for PeerAddress {
    type Err = InvalidAddress;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let invalid = |reason| InvalidAddress {
            text: text.to_owned(),
            reason,
        };
        if let Ok(address) = text.parse::<SocketAddr>() {
            return Ok(PeerAddress::Ip(address));
        }
        let (host, port) = text.rsplit_once(':').ok_or_else(|| invalid("no port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| invalid("the port is not a number"))?;
        if port == 0 {
            return Err(invalid("port 0"));
        }
        if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
            return Err(invalid("an IPv6 address needs brackets: [ADDRESS]:PORT"));
        }
        let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
        check_name(&host).map_err(invalid)?;
        Ok(PeerAddress::Name { host, port })
    }
}

/// A DNS name: dot-separated labels of letters, digits and `-`, neither
/// starting nor ending with `-`, the last not all digits (that would be a
/// mistyped IP address). Such a name is always a valid TLS server name.
fn check_name(host: &str) -> Result<(), &'static str> {
    if host.is_empty() {
        return Err("no host");
    }
    if host.len() > NAME_BYTES_MAX {
        return Err("the host name is longer than 253 bytes");
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= LABEL_BYTES_MAX
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err("the host is neither an IP address nor a DNS name");
        }
    }
    // No top-level domain is numeric (and `10.0.0` is a mistyped address).
    let last = host.rsplit('.').next().unwrap_or(host);
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the host is neither an IP address nor a DNS name");
    }
    Ok(())
}

/// Resolves peer addresses: the hosts file first, then the system resolver.
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    hosts_file: Option<PathBuf>,
    failures: Counter,
}

impl Resolver {
    /// `failures` is counted once per failed resolution (normally
    /// `NodeMetrics::resolve_failures`).
    pub fn new(hosts_file: Option<PathBuf>, failures: Counter) -> Self {
        Self {
            hosts_file,
            failures,
        }
    }

    pub fn hosts_file(&self) -> Option<&Path> {
        self.hosts_file.as_deref()
    }

    /// The socket addresses of `address` now: itself for an IP address, the
    /// hosts file's entries for a name it lists, else the system resolver's
    /// answer. Never empty when `Ok`.
    pub async fn resolve(&self, address: &PeerAddress) -> std::io::Result<Vec<SocketAddr>> {
        match address {
            PeerAddress::Ip(address) => Ok(vec![*address]),
            PeerAddress::Name { host, port } => self.resolve_host(host, *port).await,
        }
    }

    /// The socket addresses of host name `host` with `port`: the hosts
    /// file's entries if it lists the name, else the system resolver's.
    /// A failure is counted and logged.
    pub async fn resolve_host(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let resolved = self.resolve_name(host, port).await;
        match &resolved {
            Ok(addresses) => debug!(%host, ?addresses, "peer name resolved"),
            Err(error) => {
                self.failures.inc();
                warn!(%host, %error, "peer name did not resolve");
            }
        }
        resolved
    }

    async fn resolve_name(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        if let Some(path) = &self.hosts_file {
            match tokio::fs::read_to_string(path).await {
                Ok(text) => {
                    let listed = hosts_file_lookup(&text, host);
                    if !listed.is_empty() {
                        return Ok(listed.into_iter().map(|ip| (ip, port).into()).collect());
                    }
                }
                Err(error) => {
                    warn!(path = %path.display(), %error, "hosts file unreadable: asking dns");
                }
            }
        }
        let found: Vec<SocketAddr> = tokio::net::lookup_host((host, port)).await?.collect();
        if found.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ));
        }
        Ok(found)
    }
}

/// The addresses `/etc/hosts`-format `text` gives `host`, in file order
/// (`ADDRESS NAME [ALIAS...]` per line, `#` starts a comment, names match
/// case-insensitively; lines that do not parse are skipped).
pub fn hosts_file_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let mut found = Vec::new();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(before, _)| before);
        let mut fields = line.split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        let matches = fields.any(|name| {
            let name = name.strip_suffix('.').unwrap_or(name);
            name.eq_ignore_ascii_case(host)
        });
        if matches && !found.contains(&ip) {
            found.push(ip);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_addresses_and_dns_names_parse_and_print_back() {
        let ip: PeerAddress = "10.0.0.2:9093".parse().unwrap();
        assert_eq!(ip, PeerAddress::Ip("10.0.0.2:9093".parse().unwrap()));
        assert_eq!(ip.to_string(), "10.0.0.2:9093");
        let v6: PeerAddress = "[::1]:9093".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:9093");
        let name: PeerAddress = "Demo-1.demo-brokers.NS.svc.cluster.local.:9093"
            .parse()
            .unwrap();
        assert_eq!(
            name.to_string(),
            "demo-1.demo-brokers.ns.svc.cluster.local:9093"
        );
        assert_eq!(name.host(), "demo-1.demo-brokers.ns.svc.cluster.local");
        assert_eq!(name.port(), 9093);
        assert!(matches!(name.server_name(), ServerName::DnsName(_)));
        assert!(matches!(ip.server_name(), ServerName::IpAddress(_)));
    }

    #[test]
    fn texts_that_are_not_host_and_port_are_refused_with_a_reason() {
        for text in [
            "demo-1",
            "demo-1:",
            "demo-1:x",
            "demo-1:0",
            ":9093",
            "::1:9093",
            "[::1:9093",
            "-demo.ns:9093",
            "demo..ns:9093",
            "demo ns:9093",
            "demo_1.ns:9093",
            "10.0.0:9093",
            "999.1.1.1:9093",
            "broker.123:9093",
        ] {
            let error = text.parse::<PeerAddress>().unwrap_err();
            assert_eq!(error.text, text);
        }
        let long = format!("{}.example:9093", "a".repeat(64));
        assert!(long.parse::<PeerAddress>().is_err());
    }

    #[test]
    fn the_hosts_file_maps_names_and_aliases_case_insensitively() {
        let text = "# test names\n127.0.0.1 localhost\n\
                    127.10.0.2\tdemo-2.ns.svc  demo-2 # broker 2\n\
                    not-an-ip demo-3\n::1 DEMO-3.NS.SVC.\n127.10.0.9 demo-2.ns.svc\n";
        let two: Vec<IpAddr> = vec!["127.10.0.2".parse().unwrap(), "127.10.0.9".parse().unwrap()];
        assert_eq!(hosts_file_lookup(text, "demo-2.ns.svc"), two);
        assert_eq!(
            hosts_file_lookup(text, "demo-2")[0].to_string(),
            "127.10.0.2"
        );
        assert_eq!(
            hosts_file_lookup(text, "demo-3.ns.svc")[0].to_string(),
            "::1"
        );
        assert!(hosts_file_lookup(text, "broker").is_empty());
    }

    #[tokio::test]
    async fn a_name_is_read_from_the_hosts_file_on_every_resolution() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "127.0.0.7 peer-a.test\n").unwrap();
        let failures = Counter::default();
        let resolver = Resolver::new(Some(path.clone()), failures.clone());
        let address: PeerAddress = "peer-a.test:9093".parse().unwrap();
        let first = resolver.resolve(&address).await.unwrap();
        assert_eq!(first, vec!["127.0.0.7:9093".parse().unwrap()]);
        // The Pod restarted with another address: the next connect sees it.
        std::fs::write(&path, "127.0.0.8 peer-a.test\n").unwrap();
        let second = resolver.resolve(&address).await.unwrap();
        assert_eq!(second, vec!["127.0.0.8:9093".parse().unwrap()]);
        assert_eq!(failures.get(), 0);
    }

    #[tokio::test]
    async fn a_name_nobody_knows_is_an_error_that_is_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("hosts");
        std::fs::write(&path, "127.0.0.7 peer-a.test\n").unwrap();
        let failures = Counter::default();
        let resolver = Resolver::new(Some(path), failures.clone());
        // `.invalid` never resolves (RFC 2606).
        let address: PeerAddress = "peer-b.fjord.invalid:9093".parse().unwrap();
        assert!(resolver.resolve(&address).await.is_err());
        assert_eq!(failures.get(), 1);
        let ip: PeerAddress = "127.0.0.9:1".parse().unwrap();
        assert_eq!(resolver.resolve(&ip).await.unwrap().len(), 1);
        assert_eq!(failures.get(), 1, "an ip address is never resolved");
    }
}
