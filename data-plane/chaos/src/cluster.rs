//! Broker processes started with the cluster flags, and the faults applied
//! to them as processes: kill -9 and restart, SIGSTOP and SIGCONT.
//!
//! One broker is single-broker mode (no `--peer-listen`): exactly the broker
//! as it runs on its own. Two or more get `--peer-listen`, `--peers` (what
//! this node dials: the chaos proxy's listeners when proxied) and
//! `--controller-voters` (every broker, by admin address).

use std::ffi::OsString;
use std::fs::OpenOptions;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, NodeId, Result, http};

/// Where one broker listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Addresses {
    pub kafka: SocketAddr,
    pub admin: SocketAddr,
    pub peer: SocketAddr,
}

impl Addresses {
    /// Fixed loopback ports for the broker at `index` (0-based) of a
    /// cluster on `base`: Kafka `base + 10 * index`, peer `+ 1`, admin `+ 2`.
    pub fn from_base(base: u16, index: usize) -> Option<Self> {
        let kafka = base.checked_add(u16::try_from(index).ok()?.checked_mul(10)?)?;
        let at = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
        Some(Self {
            kafka: at(kafka),
            peer: at(kafka.checked_add(1)?),
            admin: at(kafka.checked_add(2)?),
        })
    }

    /// Three free loopback ports the OS picks.
    pub fn free() -> Result<Self> {
        let pick = || -> Result<SocketAddr> {
            let listener = TcpListener::bind("127.0.0.1:0").map_err(|source| Error::Io {
                path: "127.0.0.1:0".to_owned(),
                source,
            })?;
            listener.local_addr().map_err(|source| Error::Io {
                path: "127.0.0.1:0".to_owned(),
                source,
            })
        };
        Ok(Self {
            kafka: pick()?,
            admin: pick()?,
            peer: pick()?,
        })
    }
}

/// Everything needed to start (and restart) one broker.
#[derive(Clone, Debug)]
pub struct BrokerSpec {
    pub node: NodeId,
    pub addresses: Addresses,
    pub data_dir: PathBuf,
    pub log: PathBuf,
    /// Every other broker and the address this one dials to reach it.
    pub peers: Vec<(NodeId, SocketAddr)>,
    /// Every broker's admin address: the initial controller voters.
    pub voters: Vec<(NodeId, SocketAddr)>,
    pub replication_factor: usize,
}

impl BrokerSpec {
    /// Specs for `count` brokers numbered 1..=count; `dial(from, to, peer)`
    /// says what `from` dials to reach `to` (whose peer address is `peer`):
    /// `peer` itself, or a proxy listener.
    pub fn cluster(
        addresses: &[Addresses],
        root: &Path,
        mut dial: impl FnMut(NodeId, NodeId, SocketAddr) -> SocketAddr,
    ) -> Vec<Self> {
        let node = |index: usize| NodeId::try_from(index + 1).expect("a handful of brokers");
        let voters: Vec<_> = (0..addresses.len())
            .map(|index| (node(index), addresses[index].admin))
            .collect();
        (0..addresses.len())
            .map(|index| {
                let me = node(index);
                let peers = (0..addresses.len())
                    .filter(|other| *other != index)
                    .map(|other| (node(other), dial(me, node(other), addresses[other].peer)))
                    .collect();
                Self {
                    node: me,
                    addresses: addresses[index],
                    data_dir: root.join(format!("broker-{me}")),
                    log: root.join(format!("broker-{me}.log")),
                    peers,
                    voters: voters.clone(),
                    replication_factor: addresses.len().min(3),
                }
            })
            .collect()
    }

    /// The command line (after the binary).
    pub fn arguments(&self) -> Vec<OsString> {
        let mut arguments: Vec<OsString> = vec![
            "--node-id".into(),
            self.node.to_string().into(),
            "--data-dir".into(),
            self.data_dir.clone().into(),
            "--listen".into(),
            self.addresses.kafka.to_string().into(),
            "--admin-listen".into(),
            self.addresses.admin.to_string().into(),
            "--default-replication-factor".into(),
            self.replication_factor.to_string().into(),
        ];
        if self.voters.len() > 1 {
            let join = |pairs: &[(NodeId, SocketAddr)], separator: &str| {
                let items: Vec<_> = pairs
                    .iter()
                    .map(|(node, address)| format!("{node}{separator}{address}"))
                    .collect();
                items.join(",")
            };
            arguments.extend([
                "--peer-listen".into(),
                self.addresses.peer.to_string().into(),
                "--peers".into(),
                join(&self.peers, "=").into(),
                "--controller-voters".into(),
                join(&self.voters, "@").into(),
            ]);
        }
        arguments
    }
}

/// A running (or killed, or paused) broker process.
#[derive(Debug)]
pub struct Broker {
    pub spec: BrokerSpec,
    binary: PathBuf,
    child: Option<Child>,
    paused: bool,
    own_group: bool,
}

impl Broker {
    /// Starts the broker in the caller's process group: a terminal's Ctrl-C
    /// reaches it too, so nothing outlives an interrupted run.
    pub fn start(binary: &Path, spec: BrokerSpec) -> Result<Self> {
        Self::start_with(binary, spec, false)
    }

    /// Starts the broker in a process group of its own, out of a terminal's
    /// reach: the caller catches Ctrl-C and stops it in order.
    pub fn start_in_own_group(binary: &Path, spec: BrokerSpec) -> Result<Self> {
        Self::start_with(binary, spec, true)
    }

    fn start_with(binary: &Path, spec: BrokerSpec, own_group: bool) -> Result<Self> {
        let mut broker = Self {
            spec,
            binary: binary.to_owned(),
            child: None,
            paused: false,
            own_group,
        };
        broker.spawn()?;
        Ok(broker)
    }

    fn error(&self, message: String) -> Error {
        Error::Broker {
            node: self.spec.node,
            message,
        }
    }

    fn spawn(&mut self) -> Result<()> {
        assert!(self.child.is_none(), "spawning a broker that runs");
        let io = |source| Error::Io {
            path: self.spec.log.display().to_string(),
            source,
        };
        std::fs::create_dir_all(&self.spec.data_dir).map_err(io)?;
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .map_err(io)?;
        let log_err = log.try_clone().map_err(io)?;
        let mut command = Command::new(&self.binary);
        if self.own_group {
            command.process_group(0);
        }
        let child = command
            .args(self.spec.arguments())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|error| {
                self.error(format!("cannot start {}: {error}", self.binary.display()))
            })?;
        self.child = Some(child);
        Ok(())
    }

    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| child.try_wait().ok().flatten().is_none())
    }

    pub fn is_paused(&self) -> bool {
        self.paused
    }

    fn signal(&self, signal: &str) -> Result<()> {
        let child = self
            .child
            .as_ref()
            .ok_or_else(|| self.error("not running".into()))?;
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .map_err(|error| self.error(format!("kill {signal}: {error}")))?;
        if !status.success() {
            return Err(self.error(format!("kill {signal} failed with {status}")));
        }
        Ok(())
    }

    /// SIGKILL: no chance to flush or close anything.
    pub fn kill(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child
                .kill()
                .and_then(|()| child.wait().map(drop))
                .map_err(|error| self.error(format!("kill -9: {error}")))?;
        }
        self.paused = false;
        Ok(())
    }

    /// SIGTERM, and waits (up to 30 s, then SIGKILL) until the broker has
    /// shut down.
    pub fn terminate(&mut self) -> Result<()> {
        self.resume()?;
        self.signal("-TERM")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.is_running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.is_running() {
            self.kill()?;
            return Err(self.error("did not stop within 30s of SIGTERM".into()));
        }
        self.child = None;
        Ok(())
    }

    /// Starts the broker again on the same data directory and addresses.
    pub fn restart(&mut self) -> Result<()> {
        self.kill()?;
        self.spawn()
    }

    pub fn pause(&mut self) -> Result<()> {
        self.signal("-STOP")?;
        self.paused = true;
        Ok(())
    }

    pub fn resume(&mut self) -> Result<()> {
        if self.paused {
            self.signal("-CONT")?;
            self.paused = false;
        }
        Ok(())
    }

    /// Polls `/readyz` until it answers 200; fails if the process exits or
    /// `timeout` (a hang guard) passes.
    pub fn wait_ready(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if matches!(
                http::get(self.spec.addresses.admin, "/readyz"),
                Some((200, _))
            ) {
                return Ok(());
            }
            if !self.is_running() {
                let log = self.spec.log.display();
                return Err(self.error(format!("exited during start-up; see {log}")));
            }
            if Instant::now() > deadline {
                return Err(self.error(format!("not ready within {timeout:?}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `GET /v1/cluster/health`: the JSON body when it answers 200.
    pub fn cluster_health(&self) -> Option<serde_json::Value> {
        match http::get(self.spec.addresses.admin, "/v1/cluster/health")? {
            (200, body) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    /// SIGTERM (after SIGCONT if paused), then SIGKILL after a grace period.
    pub fn stop(&mut self) {
        let _ = self.resume();
        if self.is_running() {
            let _ = self.signal("-TERM");
            let deadline = Instant::now() + Duration::from_secs(10);
            while self.is_running() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        let _ = self.kill();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Polls `GET /v1/cluster/health` on every broker until one says healthy;
/// `Err` carries the last answer (if any) once `timeout` (a hang guard) passes.
pub fn wait_healthy(
    brokers: &[Broker],
    timeout: Duration,
) -> Result<serde_json::Value, Option<serde_json::Value>> {
    let deadline = Instant::now() + timeout;
    loop {
        let health = brokers.iter().find_map(Broker::cluster_health);
        // Healthy, and every broker registered: a cluster whose other
        // brokers have not registered yet is "healthy" with fewer brokers.
        if let Some(health) = &health
            && health["healthy"] == true
            && health["brokers"]
                .as_array()
                .is_some_and(|registered| registered.len() >= brokers.len())
        {
            return Ok(health.clone());
        }
        if Instant::now() > deadline {
            return Err(health);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(spec: &BrokerSpec) -> String {
        let arguments: Vec<_> = spec
            .arguments()
            .iter()
            .map(|argument| argument.to_string_lossy().into_owned())
            .collect();
        arguments.join(" ")
    }

    #[test]
    fn three_brokers_get_the_cluster_flags_and_dial_what_they_are_told() {
        let addresses: Vec<_> = (0..3)
            .map(|index| Addresses::from_base(19092, index).expect("fits"))
            .collect();
        let specs = BrokerSpec::cluster(&addresses, Path::new("/d"), |from, to, _| {
            // As through the proxy: one listener per directed link.
            SocketAddr::from((
                [127, 0, 0, 1],
                40000 + u16::try_from(from * 10 + to).unwrap_or(0),
            ))
        });
        assert_eq!(
            line(&specs[0]),
            "--node-id 1 --data-dir /d/broker-1 --listen 127.0.0.1:19092 \
             --admin-listen 127.0.0.1:19094 --default-replication-factor 3 \
             --peer-listen 127.0.0.1:19093 --peers 2=127.0.0.1:40012,3=127.0.0.1:40013 \
             --controller-voters 1@127.0.0.1:19094,2@127.0.0.1:19104,3@127.0.0.1:19114"
        );
        assert!(line(&specs[2]).contains("--peers 1=127.0.0.1:40031,2=127.0.0.1:40032"));
        assert_eq!(specs[1].log, Path::new("/d/broker-2.log"));
    }

    #[test]
    fn one_broker_runs_in_single_broker_mode() {
        let addresses = [Addresses::from_base(9092, 0).expect("fits")];
        let specs = BrokerSpec::cluster(&addresses, Path::new("/d"), |_, _, peer| peer);
        assert_eq!(
            line(&specs[0]),
            "--node-id 1 --data-dir /d/broker-1 --listen 127.0.0.1:9092 \
             --admin-listen 127.0.0.1:9094 --default-replication-factor 1"
        );
    }

    #[test]
    fn ports_that_do_not_fit_are_refused() {
        assert!(Addresses::from_base(65_534, 0).is_none());
        assert!(Addresses::from_base(65_533, 0).is_some());
        assert!(Addresses::from_base(65_500, 5).is_none());
    }
}
