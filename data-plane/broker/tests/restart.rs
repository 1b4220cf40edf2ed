//! Restarts in a three-broker cluster as a rolling upgrade does them, with
//! clients watching: a restarted broker answers Kafka clients only once it
//! has replayed the controller's metadata (`docs/replication.md`
//! "Start-up"), so an existing topic is never reported unknown and a
//! producer at a steady rate gives up on nothing.
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::collections::BTreeSet;
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};

use harness::cluster::{BrokerCluster, http};
use harness::poller::{Answers, MetadataPoller};
use serde_json::Value;

const TOPIC: &str = "orders";
const PARTITIONS: usize = 3;

fn confluent(cluster: &BrokerCluster, args: &[&str]) -> Value {
    harness::run_client("confluent", &cluster.bootstrap(), args)
}

/// A cluster of three with `orders` (3 partitions, rf=3) created and in sync.
fn cluster_with_topic() -> BrokerCluster {
    let cluster = BrokerCluster::start(3);
    assert_eq!(
        confluent(&cluster, &["create-replicated", TOPIC, "3", "3"]),
        "ok"
    );
    wait_settled(&cluster);
    cluster
}

/// Waits until every broker says the cluster is healthy (every broker
/// serving, every partition led and fully in sync), as an operator's roll
/// waits before the next restart: asking one broker is not enough, its
/// image may not show a restart the others have seen yet.
fn wait_settled(cluster: &BrokerCluster) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answers: Vec<Value> = cluster
            .members
            .iter()
            .map(|member| member.get("/v1/cluster/health"))
            .collect();
        let settled = answers.iter().all(|health| {
            health["healthy"] == true
                && health["brokers"].as_array().is_some_and(|brokers| {
                    brokers.len() == 3 && brokers.iter().all(|b| b["state"] == "serving")
                })
        });
        if settled {
            return;
        }
        assert!(Instant::now() < deadline, "never settled: {answers:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn ready(cluster: &BrokerCluster, id: u32) -> bool {
    let output = std::process::Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("http://{}/readyz", cluster.member(id).admin),
        ])
        .output()
        .unwrap();
    output.stdout == b"200"
}

#[test]
fn a_restarted_broker_never_reports_an_existing_topic_unknown_and_opens_to_clients_once_ready() {
    let mut cluster = cluster_with_topic();
    let restarted = 2;
    let kafka = cluster.member(restarted).kafka;
    let admin = cluster.member(restarted).admin;
    cluster.kill(restarted);
    cluster.restart_in_background(restarted);
    let poller = MetadataPoller::start(kafka, TOPIC, PARTITIONS, Duration::from_millis(2));

    // Until it is ready, whatever it says of the cluster is not "healthy".
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut not_ready_answers = 0;
    while !ready(&cluster, restarted) {
        let health = http(&admin, "GET", "/v1/cluster/health", None);
        if !health.is_null() && health["state"] != "serving" {
            not_ready_answers += 1;
            assert_eq!(health["healthy"], false, "not serving yet: {health}");
            let probe = http(&admin, "GET", "/v1/brokers/1/restart-probe", None);
            if probe["status"] != 503 {
                let now = http(&admin, "GET", "/v1/cluster/health", None);
                assert_eq!(
                    now["state"], "serving",
                    "a verdict while catching up: {probe}"
                );
            }
        }
        assert!(Instant::now() < deadline, "broker {restarted} never ready");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Ready means its Kafka port serves.
    assert!(
        TcpStream::connect(kafka).is_ok(),
        "ready, but the Kafka port refuses"
    );
    std::thread::sleep(Duration::from_millis(500));
    let answers = &poller.answers;
    let (complete, unknown) = (
        Answers::get(&answers.complete),
        Answers::get(&answers.unknown),
    );
    eprintln!(
        "broker {restarted} after restart: {complete} complete answers, {unknown} unknown, \
         {} other, {} unanswered; {not_ready_answers} health answers while not serving",
        Answers::get(&answers.other),
        Answers::get(&answers.unanswered)
    );
    assert_eq!(unknown, 0, "an existing topic reported unknown");
    assert!(complete > 10, "the restarted broker answered the topic");
    wait_settled(&cluster);
}

/// A steady producer (`produce-steady` in the Python clients) running in the
/// background until [`SteadyProducer::finish`].
struct SteadyProducer {
    child: std::process::Child,
    stop_file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl SteadyProducer {
    fn start(cluster: &BrokerCluster, rate: u32) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let stop_file = dir.path().join("stop");
        let child = harness::client_command(
            "confluent",
            &cluster.bootstrap(),
            &[
                "produce-steady",
                TOPIC,
                &rate.to_string(),
                stop_file.to_str().unwrap(),
            ],
        )
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
        Self {
            child,
            stop_file,
            _dir: dir,
        }
    }

    fn finish(self) -> Value {
        std::fs::write(&self.stop_file, b"").unwrap();
        let output = self.child.wait_with_output().unwrap();
        assert!(output.status.success(), "the producer failed");
        serde_json::from_slice(&output.stdout).unwrap()
    }
}

#[test]
fn a_steady_producer_gives_up_on_nothing_while_each_broker_restarts_by_sigterm_and_by_sigkill() {
    let mut cluster = cluster_with_topic();
    let pollers: Vec<(u32, MetadataPoller)> = (1..=3)
        .map(|id| {
            let kafka = cluster.member(id).kafka;
            (
                id,
                MetadataPoller::start(kafka, TOPIC, PARTITIONS, Duration::from_millis(10)),
            )
        })
        .collect();
    let producer = SteadyProducer::start(&cluster, 1_000);
    std::thread::sleep(Duration::from_secs(1));

    let started = Instant::now();
    for sigkill in [false, true] {
        for id in 1..=3 {
            if sigkill {
                cluster.kill(id);
            } else {
                cluster.terminate(id);
            }
            std::thread::sleep(Duration::from_millis(300));
            cluster.restart(id);
            wait_settled(&cluster);
            eprintln!(
                "broker {id} restarted by {} and settled at {:.1}s",
                if sigkill { "SIGKILL" } else { "SIGTERM" },
                started.elapsed().as_secs_f64()
            );
        }
    }
    std::thread::sleep(Duration::from_secs(1));
    let produced = producer.finish();

    let acked: BTreeSet<i64> = produced["acked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|value| value.as_i64().unwrap())
        .collect();
    eprintln!(
        "producer: {} sent, {} acknowledged, {} failed, {} client errors",
        produced["sent"],
        acked.len(),
        produced["failed"],
        produced["client_errors"].as_array().map_or(0, Vec::len)
    );
    for (id, poller) in &pollers {
        let answers = &poller.answers;
        eprintln!(
            "broker {id}: {} complete, {} unknown, {} other, {} unanswered Metadata answers",
            Answers::get(&answers.complete),
            Answers::get(&answers.unknown),
            Answers::get(&answers.other),
            Answers::get(&answers.unanswered)
        );
        assert_eq!(
            Answers::get(&answers.unknown),
            0,
            "broker {id} reported the existing topic unknown"
        );
        assert!(Answers::get(&answers.complete) > 0, "broker {id} answered");
    }
    assert_eq!(
        produced["failed"], 0,
        "records given up: {}",
        produced["failures"]
    );
    assert_eq!(
        Some(acked.len() as u64),
        produced["sent"].as_u64(),
        "every record sent was acknowledged"
    );
    let read = confluent(
        &cluster,
        &[
            "consume-partitions",
            TOPIC,
            &PARTITIONS.to_string(),
            &acked.len().to_string(),
        ],
    );
    let read: BTreeSet<i64> = read
        .as_object()
        .unwrap()
        .values()
        .flat_map(|values| values.as_array().unwrap().iter())
        .map(|value| value.as_i64().unwrap())
        .collect();
    let lost: Vec<_> = acked.difference(&read).take(10).collect();
    assert!(lost.is_empty(), "acknowledged but not read back: {lost:?}");
}
