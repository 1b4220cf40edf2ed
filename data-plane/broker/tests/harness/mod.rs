//! Starts a real `fjord-broker` process on free loopback ports.

#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) mod certs;
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) mod cluster;
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) mod poller;
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) mod proxy;
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) mod secure;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;
use std::time::{Duration, Instant};

#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) struct BrokerProcess {
    pub(crate) kafka: SocketAddr,
    pub(crate) admin: SocketAddr,
    child: Child,
    data_dir: tempfile::TempDir,
    extra: Vec<String>,
}

fn free_address() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn spawn(data_dir: &Path, kafka: SocketAddr, admin: SocketAddr, extra: &[String]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fjord-broker"))
        .arg("--data-dir")
        .arg(data_dir)
        .args([
            "--listen",
            &kafka.to_string(),
            "--admin-listen",
            &admin.to_string(),
        ])
        .args(["--frame-bytes-max", "1048576"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

#[allow(dead_code, reason = "not every test crate uses every helper")]
impl BrokerProcess {
    pub(crate) fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a broker with extra command-line flags.
    pub(crate) fn start_with(extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        Self::start_around(&|_| extra.clone())
    }

    /// Starts a broker with extra flags made from its Kafka address (say
    /// `--listeners` naming it beside other listeners).
    pub(crate) fn start_around(extra: &dyn Fn(SocketAddr) -> Vec<String>) -> Self {
        let data_dir = tempfile::tempdir().unwrap();
        let (kafka, admin) = (free_address(), free_address());
        let extra = extra(kafka);
        let child = spawn(data_dir.path(), kafka, admin, &extra);
        let mut broker = Self {
            kafka,
            admin,
            child,
            data_dir,
            extra,
        };
        broker.wait_until_listening();
        broker
    }

    /// Kills the broker with SIGKILL (no chance to flush or close) and starts
    /// it again on the same data directory and ports.
    pub(crate) fn kill_and_restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn(self.data_dir.path(), self.kafka, self.admin, &self.extra);
        self.wait_until_listening();
    }

    /// Stops the broker with SIGTERM, checks it exited cleanly, and starts it
    /// again on the same data directory and ports.
    pub(crate) fn terminate_and_restart(&mut self) {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "broker exited with {status}");
        self.child = spawn(self.data_dir.path(), self.kafka, self.admin, &self.extra);
        self.wait_until_listening();
    }

    fn wait_until_listening(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if TcpStream::connect(self.kafka).is_ok() && TcpStream::connect(self.admin).is_ok() {
                return;
            }
            assert!(
                self.child.try_wait().unwrap().is_none(),
                "broker exited during start-up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("broker did not listen within 20s");
    }

    /// Sends SIGTERM and returns whether the broker exited 0 in time.
    pub(crate) fn terminate(mut self) -> bool {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// The value of one Prometheus sample on the admin port (0 if absent).
    pub(crate) fn metric(&self, sample: &str) -> f64 {
        let output = Command::new("curl")
            .args(["-fsS", &format!("http://{}/metrics", self.admin)])
            .output()
            .unwrap();
        assert!(output.status.success(), "GET /metrics failed");
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or(0.0)
    }

    pub(crate) fn is_running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for BrokerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `tests/clients/kafka_clients.py` invocation for `client` ("confluent"
/// or "kafka-python") against `bootstrap`; `FJORD_TEST_PYTHON` names the
/// interpreter (`cargo xtask test` creates it).
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) fn client_command(client: &str, bootstrap: &str, args: &[&str]) -> Command {
    let python = std::env::var("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka and kafka-python; \
         run `cargo xtask test`, or point it at target/xtask/venvs/kafka-clients/bin/python",
    );
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/clients/kafka_clients.py"
    );
    let mut command = Command::new(python);
    command.arg(script).args([client, bootstrap]).args(args);
    command
}

/// Runs [`client_command`] to completion and parses the JSON it prints;
/// panics with the client's stderr if it failed.
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) fn run_client(client: &str, bootstrap: &str, args: &[&str]) -> Value {
    let output = client_command(client, bootstrap, args)
        .output()
        .expect("the Python client starts");
    assert!(
        output.status.success(),
        "{client} {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the client prints JSON")
}

/// `node tests/clients/kafkajs.js BOOTSTRAP ARGS...`: kafkajs, pinned in
/// `tests/clients/package.json` and installed there by `cargo xtask test`
/// (`npm ci`).
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) fn kafkajs_command(bootstrap: &str, args: &[&str]) -> Command {
    let clients = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients");
    assert!(
        Path::new(clients).join("node_modules/kafkajs").is_dir(),
        "kafkajs is not installed; run `cargo xtask test`, or `npm ci` in {clients}"
    );
    let mut command = Command::new("node");
    command
        .arg(format!("{clients}/kafkajs.js"))
        .arg(bootstrap)
        .args(args);
    command
}

/// A `tests/clients/kafka_groups.py` invocation (consumer groups across a
/// cluster) for `client`: "confluent", "kafka-python" or "aiokafka".
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) fn groups_command(client: &str, bootstrap: &str, args: &[&str]) -> Command {
    let python = std::env::var("FJORD_TEST_PYTHON").expect(
        "FJORD_TEST_PYTHON must name a Python with confluent-kafka, kafka-python and aiokafka; \
         run `cargo xtask test`, or point it at target/xtask/venvs/kafka-clients/bin/python",
    );
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/kafka_groups.py");
    let mut command = Command::new(python);
    command.arg(script).args([client, bootstrap]).args(args);
    command
}

/// Runs a client command to completion and parses the JSON it printed;
/// `Err` with its stderr if it failed.
#[allow(dead_code, reason = "not every test crate uses every helper")]
pub(crate) fn try_json(mut command: Command) -> Result<Value, String> {
    let output = command.output().expect("the client starts");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    serde_json::from_slice(&output.stdout).map_err(|error| format!("not JSON: {error}"))
}
