//! Starts a cluster of real `fjord-broker` processes on loopback, each with
//! the cluster flags (`--peer-listen`, `--peers`, `--controller-voters`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) struct Member {
    pub(crate) id: u32,
    pub(crate) kafka: SocketAddr,
    pub(crate) admin: SocketAddr,
    data_dir: tempfile::TempDir,
    args: Vec<String>,
    /// The admin API's bearer token, when the brokers require one.
    admin_token: Option<String>,
    child: Option<Child>,
}

pub(crate) struct BrokerCluster {
    pub(crate) members: Vec<Member>,
}

impl Member {
    fn spawn(&mut self) {
        let child = Command::new(env!("CARGO_BIN_EXE_fjord-broker"))
            .arg("--data-dir")
            .arg(self.data_dir.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Waits until the admin port answers and the Kafka port listens (a
    /// cluster broker opens it once it has caught up with the controller).
    fn wait_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(self.kafka).is_ok() && TcpStream::connect(self.admin).is_ok() {
                return;
            }
            let exited = self.child.as_mut().map(|child| child.try_wait().unwrap());
            assert!(
                matches!(exited, Some(None)),
                "broker {} exited during start-up",
                self.id
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("broker {} did not listen within 20s", self.id);
    }

    pub(crate) fn get(&self, path: &str) -> Value {
        http_as(&self.admin, "GET", path, None, self.admin_token.as_deref())
    }

    pub(crate) fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

/// A curl call on an admin port; the JSON body it returned (`null` if it failed).
pub(crate) fn http(admin: &SocketAddr, method: &str, path: &str, body: Option<&str>) -> Value {
    http_as(admin, method, path, body, None)
}

/// [`http`] with `Authorization: Bearer TOKEN` when a token is given.
pub(crate) fn http_as(
    admin: &SocketAddr,
    method: &str,
    path: &str,
    body: Option<&str>,
    token: Option<&str>,
) -> Value {
    let mut command = Command::new("curl");
    command.args(["-sS", "-X", method, &format!("http://{admin}{path}")]);
    if let Some(token) = token {
        command.args(["-H", &format!("authorization: Bearer {token}")]);
    }
    if let Some(body) = body {
        command.args(["-H", "content-type: application/json", "-d", body]);
    }
    let output = command.output().unwrap();
    serde_json::from_slice(&output.stdout).unwrap_or(Value::Null)
}

impl BrokerCluster {
    /// Starts `count` brokers (ids 1..=count), every one a controller
    /// voter, and waits until all are registered and unfenced.
    pub(crate) fn start(count: u32) -> Self {
        Self::start_with_voters(count, count)
    }

    /// Starts `count` brokers of which 1..=voters are the controller voters
    /// (the others follow the controller log over HTTP).
    pub(crate) fn start_with_voters(count: u32, voter_count: u32) -> Self {
        Self::start_with_flags(count, voter_count, &[])
    }

    /// Starts `count` brokers (voters 1..=voter_count), each with `extra`
    /// flags as well.
    pub(crate) fn start_with_flags(count: u32, voter_count: u32, extra: &[String]) -> Self {
        Self::start_with_member_flags(count, voter_count, &|_| extra.to_vec())
    }

    /// Starts `count` brokers (voters 1..=voter_count), broker `id` with
    /// `extra(id)` flags as well.
    pub(crate) fn start_with_member_flags(
        count: u32,
        voter_count: u32,
        extra: &dyn Fn(u32) -> Vec<String>,
    ) -> Self {
        Self::start_addressed(count, voter_count, &|id, _| extra(id), None)
    }

    /// Starts `count` brokers (voters 1..=voter_count), broker `id` with
    /// `extra(id, its Kafka address)` flags as well.
    pub(crate) fn start_around(
        count: u32,
        voter_count: u32,
        extra: &dyn Fn(u32, SocketAddr) -> Vec<String>,
    ) -> Self {
        Self::start_addressed(count, voter_count, extra, None)
    }

    /// Starts `count` brokers that know each other (peers and controller
    /// voters) only by the names `broker-ID.fjord.test`, which `hosts_file`
    /// (written here, `--hosts-file`) maps to 127.0.0.1.
    pub(crate) fn start_named(
        count: u32,
        hosts_file: &std::path::Path,
        extra: &dyn Fn(u32) -> Vec<String>,
    ) -> Self {
        let names: Vec<String> = (1..=count).map(broker_name).collect();
        std::fs::write(hosts_file, format!("127.0.0.1 {}\n", names.join(" "))).unwrap();
        Self::start_addressed(count, count, &|id, _| extra(id), Some(hosts_file))
    }

    fn start_addressed(
        count: u32,
        voter_count: u32,
        extra: &dyn Fn(u32, SocketAddr) -> Vec<String>,
        hosts_file: Option<&std::path::Path>,
    ) -> Self {
        // How a broker is named to the others: its address, or its name.
        let host = |id: u32, address: &SocketAddr| match hosts_file {
            Some(_) => format!("{}:{}", broker_name(id), address.port()),
            None => address.to_string(),
        };
        // Hold every listener until all are picked, so no two coincide.
        let held: Vec<_> = (0..count * 3)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let picked: Vec<SocketAddr> = held.iter().map(|l| l.local_addr().unwrap()).collect();
        drop(held);
        let addresses: Vec<_> = picked.chunks(3).map(|c| (c[0], c[1], c[2])).collect();
        let voters = (1..=voter_count)
            .zip(&addresses)
            .map(|(id, (_, admin, _))| format!("{id}@{}", host(id, admin)))
            .collect::<Vec<_>>()
            .join(",");
        let members = (1..=count)
            .zip(&addresses)
            .map(|(id, (kafka, admin, peer))| {
                let peers = (1..=count)
                    .zip(&addresses)
                    .filter(|(other, _)| *other != id)
                    .map(|(other, (_, _, peer))| format!("{other}={}", host(other, peer)))
                    .collect::<Vec<_>>()
                    .join(",");
                let hosts = hosts_file.map(|path| format!("--hosts-file={}", path.display()));
                let args = [
                    format!("--node-id={id}"),
                    format!("--listen={kafka}"),
                    format!("--admin-listen={admin}"),
                    format!("--peer-listen={peer}"),
                    format!("--peers={peers}"),
                    format!("--controller-voters={voters}"),
                    format!("--default-replication-factor={}", count.min(3)),
                    "--auto-create-topics=false".to_owned(),
                ];
                Member {
                    id,
                    kafka: *kafka,
                    admin: *admin,
                    data_dir: tempfile::tempdir().unwrap(),
                    args: args
                        .iter()
                        .cloned()
                        .chain(hosts)
                        .chain(extra(id, *kafka))
                        .collect(),
                    admin_token: extra(id, *kafka)
                        .iter()
                        .find_map(|flag| flag.strip_prefix("--admin-token-file="))
                        .map(|file| std::fs::read_to_string(file).unwrap().trim().to_owned()),
                    child: None,
                }
            })
            .collect();
        let mut cluster = Self { members };
        for member in &mut cluster.members {
            member.spawn();
        }
        for member in &mut cluster.members {
            member.wait_listening();
        }
        cluster.wait_for("every broker registered and unfenced", |health| {
            let brokers = health["brokers"].as_array().map_or(0, |brokers| {
                brokers.iter().filter(|b| b["fenced"] == false).count()
            });
            brokers == count as usize && health["controller"].is_u64()
        });
        cluster
    }

    /// Every running broker's Kafka address, comma-separated.
    pub(crate) fn bootstrap(&self) -> String {
        self.members
            .iter()
            .filter(|member| member.is_running())
            .map(|member| member.kafka.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    pub(crate) fn member(&self, id: u32) -> &Member {
        self.members.iter().find(|m| m.id == id).unwrap()
    }

    /// Any running broker's view of the cluster health.
    pub(crate) fn health(&self) -> Value {
        self.members
            .iter()
            .filter(|member| member.is_running())
            .map(|member| member.get("/v1/cluster/health"))
            .find(|health| !health.is_null())
            .unwrap_or(Value::Null)
    }

    /// Polls the health until `done` holds (60 s at most).
    pub(crate) fn wait_for(&self, what: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = self.health();
            if done(&health) {
                return health;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}: {health}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// SIGKILL: no flush, no goodbye.
    pub(crate) fn kill(&mut self, id: u32) {
        let member = self.members.iter_mut().find(|m| m.id == id).unwrap();
        if let Some(mut child) = member.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// SIGTERM, and waits for a clean exit.
    pub(crate) fn terminate(&mut self, id: u32) {
        let member = self.members.iter_mut().find(|m| m.id == id).unwrap();
        if let Some(mut child) = member.child.take() {
            let pid = child.id().to_string();
            Command::new("kill").args(["-TERM", &pid]).status().unwrap();
            let status = child.wait().unwrap();
            assert!(status.success(), "broker {id} exited with {status}");
        }
    }

    /// Starts a killed broker again on its data directory and ports, and
    /// waits until it serves Kafka clients.
    pub(crate) fn restart(&mut self, id: u32) {
        self.restart_in_background(id);
        self.members
            .iter_mut()
            .find(|m| m.id == id)
            .unwrap()
            .wait_listening();
    }

    /// Starts a stopped broker again without waiting for anything.
    pub(crate) fn restart_in_background(&mut self, id: u32) {
        let member = self.members.iter_mut().find(|m| m.id == id).unwrap();
        assert!(member.child.is_none(), "broker {id} is running");
        member.spawn();
    }
}

/// A broker's name in [`BrokerCluster::start_named`].
pub(crate) fn broker_name(id: u32) -> String {
    format!("broker-{id}.fjord.test")
}

impl Drop for BrokerCluster {
    fn drop(&mut self) {
        for member in &mut self.members {
            if let Some(mut child) = member.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}
