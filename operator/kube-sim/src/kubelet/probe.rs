//! Readiness and liveness probes: the thresholds (pure [`ProbeTracker`]) and
//! one probe attempt (HTTP GET or TCP connect on the Pod's address).
//!
//! As in Kubernetes: the first probe runs `initialDelaySeconds` after the
//! container started, then every `periodSeconds` (default 10); an HTTP probe
//! succeeds on a status in 200..400 within `timeoutSeconds` (default 1); a
//! readiness probe turns ready after `successThreshold` (default 1) successes
//! in a row and unready after `failureThreshold` (default 3) failures in a
//! row; a liveness probe starts alive and fails after `failureThreshold`
//! failures in a row, and the kubelet then kills the container.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Container, ContainerPort, Probe};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What a probe does, resolved against the container's ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeAction {
    HttpGet {
        address: SocketAddr,
        host: String,
        path: String,
    },
    TcpSocket {
        address: SocketAddr,
    },
    /// `exec` and `grpc` probes: not run here; they count as failures.
    Unsupported {
        kind: &'static str,
    },
}

/// A probe's settings with Kubernetes' defaults filled in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeSpec {
    pub action: ProbeAction,
    pub initial_delay: Duration,
    pub period: Duration,
    pub timeout: Duration,
    pub success_threshold: u32,
    pub failure_threshold: u32,
}

fn seconds(value: Option<i32>, default: u64) -> Duration {
    Duration::from_secs(value.and_then(|v| u64::try_from(v).ok()).unwrap_or(default))
}

fn threshold(value: Option<i32>, default: u32) -> u32 {
    value
        .and_then(|v| u32::try_from(v).ok())
        .filter(|v| *v > 0)
        .unwrap_or(default)
}

/// A port given by number or by the name of one of the container's ports.
fn port(port: &IntOrString, ports: &[ContainerPort]) -> Option<u16> {
    match port {
        IntOrString::Int(number) => u16::try_from(*number).ok(),
        IntOrString::String(name) => ports
            .iter()
            .find(|p| p.name.as_deref() == Some(name))
            .and_then(|p| u16::try_from(p.container_port).ok())
            .or_else(|| name.parse().ok()),
    }
}

impl ProbeSpec {
    /// Resolves `probe` of `container` for a Pod at `pod_address`.
    pub fn from_probe(probe: &Probe, container: &Container, pod_address: IpAddr) -> Self {
        let ports = container.ports.as_deref().unwrap_or_default();
        let action = if let Some(http) = &probe.http_get {
            let host = http.host.clone().unwrap_or_else(|| pod_address.to_string());
            let ip = host.parse().unwrap_or(pod_address);
            match port(&http.port, ports) {
                Some(number) => ProbeAction::HttpGet {
                    address: SocketAddr::new(ip, number),
                    host,
                    path: http.path.clone().unwrap_or_else(|| "/".to_owned()),
                },
                None => ProbeAction::Unsupported {
                    kind: "httpGet with an unknown port",
                },
            }
        } else if let Some(tcp) = &probe.tcp_socket {
            match port(&tcp.port, ports) {
                Some(number) => ProbeAction::TcpSocket {
                    address: SocketAddr::new(pod_address, number),
                },
                None => ProbeAction::Unsupported {
                    kind: "tcpSocket with an unknown port",
                },
            }
        } else if probe.exec.is_some() {
            ProbeAction::Unsupported { kind: "exec" }
        } else {
            ProbeAction::Unsupported { kind: "grpc" }
        };
        Self {
            action,
            initial_delay: seconds(probe.initial_delay_seconds, 0),
            period: seconds(probe.period_seconds, 10),
            timeout: seconds(probe.timeout_seconds, 1),
            success_threshold: threshold(probe.success_threshold, 1),
            failure_threshold: threshold(probe.failure_threshold, 3),
        }
    }

    /// Runs the probe once: did it succeed?
    pub async fn check(&self) -> bool {
        let attempt = async {
            match &self.action {
                ProbeAction::HttpGet {
                    address,
                    host,
                    path,
                } => http_get(*address, host, path).await,
                ProbeAction::TcpSocket { address } => TcpStream::connect(address).await.is_ok(),
                ProbeAction::Unsupported { .. } => false,
            }
        };
        tokio::time::timeout(self.timeout, attempt)
            .await
            .unwrap_or(false)
    }
}

/// One HTTP/1.1 GET; success is a status in 200..400.
async fn http_get(address: SocketAddr, host: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(address).await else {
        return false;
    };
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: kube-probe/fjord-kube-sim\r\nAccept: */*\r\nConnection: close\r\n\r\n",
        address.port()
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0_u8; 64];
    let mut filled = 0;
    while filled < 12 {
        match stream.read(&mut head[filled..]).await {
            Ok(0) | Err(_) => return false,
            Ok(read) => filled += read,
        }
    }
    status_is_success(&head[..filled])
}

/// `HTTP/1.x NNN …` with 200 <= NNN < 400.
fn status_is_success(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let mut parts = text.split(' ');
    let version_ok = parts.next().is_some_and(|v| v.starts_with("HTTP/1."));
    let code = parts.next().and_then(|code| code.parse::<u16>().ok());
    version_ok && code.is_some_and(|code| (200..400).contains(&code))
}

/// Consecutive-result thresholds of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeTracker {
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    passing: bool,
}

impl ProbeTracker {
    /// A readiness probe: not ready until it succeeds.
    pub fn readiness(spec: &ProbeSpec) -> Self {
        Self::new(spec, false)
    }

    /// A liveness probe: alive until it fails.
    pub fn liveness(spec: &ProbeSpec) -> Self {
        Self::new(spec, true)
    }

    fn new(spec: &ProbeSpec, passing: bool) -> Self {
        Self {
            success_threshold: spec.success_threshold,
            failure_threshold: spec.failure_threshold,
            successes: 0,
            failures: 0,
            passing,
        }
    }

    /// Records one result; returns whether the probe now passes.
    pub fn observe(&mut self, success: bool) -> bool {
        if success {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if self.successes >= self.success_threshold {
                self.passing = true;
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.failure_threshold {
                self.passing = false;
            }
        }
        self.passing
    }

    pub fn passing(&self) -> bool {
        self.passing
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::core::v1::HTTPGetAction;

    use super::*;

    fn spec(success_threshold: u32, failure_threshold: u32) -> ProbeSpec {
        ProbeSpec {
            action: ProbeAction::Unsupported { kind: "test" },
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            success_threshold,
            failure_threshold,
        }
    }

    #[test]
    fn readiness_needs_success_threshold_successes_in_a_row() {
        let mut probe = ProbeTracker::readiness(&spec(2, 3));
        assert!(!probe.observe(true));
        assert!(!probe.observe(false));
        assert!(!probe.observe(true));
        assert!(probe.observe(true));
    }

    #[test]
    fn a_passing_probe_fails_only_after_failure_threshold_failures_in_a_row() {
        let mut probe = ProbeTracker::liveness(&spec(1, 3));
        assert!(probe.observe(false));
        assert!(probe.observe(false));
        assert!(probe.observe(true));
        assert!(probe.observe(false));
        assert!(probe.observe(false));
        assert!(!probe.observe(false));
    }

    #[test]
    fn http_statuses_from_200_to_399_succeed() {
        assert!(status_is_success(b"HTTP/1.1 200 OK\r\n"));
        assert!(status_is_success(b"HTTP/1.0 302 Found\r\n"));
        assert!(!status_is_success(b"HTTP/1.1 503 Service Unavailable\r\n"));
        assert!(!status_is_success(b"garbage"));
    }

    #[test]
    fn a_named_port_and_defaults_resolve_like_kubernetes() {
        let container = Container {
            name: "broker".into(),
            ports: Some(vec![ContainerPort {
                name: Some("admin".into()),
                container_port: 9644,
                ..ContainerPort::default()
            }]),
            ..Container::default()
        };
        let probe = Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/readyz".into()),
                port: IntOrString::String("admin".into()),
                ..HTTPGetAction::default()
            }),
            ..Probe::default()
        };
        let address: IpAddr = "127.1.2.3".parse().unwrap();
        let resolved = ProbeSpec::from_probe(&probe, &container, address);
        assert_eq!(
            resolved.action,
            ProbeAction::HttpGet {
                address: "127.1.2.3:9644".parse().unwrap(),
                host: "127.1.2.3".into(),
                path: "/readyz".into(),
            }
        );
        assert_eq!(
            (resolved.period, resolved.failure_threshold),
            (Duration::from_secs(10), 3)
        );
    }
}
