//! Consumer groups on three real brokers with real clients while the
//! group's coordinator moves: a group of three members under steady
//! production, its coordinator's broker put into maintenance and then
//! killed and restarted mid-run. No member may crash, every record must be
//! consumed, and none twice once its offset was committed (kafkajs;
//! confluent-kafka with an aiokafka group beside it). ListGroups and
//! DescribeGroups must work from every client against the cluster.
//!
//! Needs `node` with kafkajs installed (`cargo xtask test` runs `npm ci` in
//! tests/clients) and `FJORD_TEST_PYTHON` (confluent-kafka, kafka-python,
//! aiokafka).
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod harness;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use harness::cluster::{BrokerCluster, http};
use serde_json::Value;

const TOPIC: &str = "orders";
const PARTITIONS: usize = 6;
const MEMBERS: usize = 3;
/// Records per second the run's producer writes.
const RATE: &str = "40";

/// A client process streaming JSON events (kafkajs.js / kafka_groups.py
/// `group-run`); closing its stdin ends production.
struct GroupRun {
    child: Child,
    stdin: Option<ChildStdin>,
    events: Arc<Mutex<Vec<Value>>>,
    reader: Option<JoinHandle<()>>,
}

impl GroupRun {
    fn start(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the client starts");
        let stdout = child.stdout.take().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let event: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| panic!("client printed a non-JSON line: {line}"));
                sink.lock().unwrap().push(event);
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            events,
            reader: Some(reader),
        }
    }

    fn count(&self, kind: &str) -> usize {
        let events = self.events.lock().unwrap();
        events.iter().filter(|event| event["e"] == kind).count()
    }

    fn wait_until(&self, what: &str, seconds: u64, done: impl Fn(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; {} consumed, {} crashes",
                self.count("consumed"),
                self.count("crash")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until `more` further records were consumed.
    fn progress(&self, more: usize) {
        let target = self.count("consumed") + more;
        self.wait_until(&format!("{more} more records consumed"), 90, |run| {
            run.count("consumed") >= target
        });
    }

    /// Stops production, waits for the client to drain and exit.
    fn finish(mut self) -> Vec<Value> {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(150);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                assert!(status.success(), "the client exited with {status}");
                break;
            }
            assert!(Instant::now() < deadline, "the client did not finish");
            std::thread::sleep(Duration::from_millis(200));
        }
        self.reader.take().unwrap().join().unwrap();
        std::mem::take(&mut *self.events.lock().unwrap())
    }
}

impl Drop for GroupRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn three_brokers_with_topic() -> BrokerCluster {
    let cluster = BrokerCluster::start(3);
    let created = harness::run_client(
        "confluent",
        &cluster.bootstrap(),
        &["create-replicated", TOPIC, &PARTITIONS.to_string(), "3"],
    );
    assert_eq!(created, "ok");
    cluster.wait_for("a healthy cluster", |health| health["healthy"] == true);
    // Coordination is shared: every broker serves some of the group log's
    // 12 partitions, and each partition is served by exactly one.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let served: Vec<u64> = cluster
            .members
            .iter()
            .map(|member| served_partitions(member.admin))
            .collect();
        if served.iter().sum::<u64>() == 12 && served.iter().all(|&n| n > 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "group-log partitions served per broker: {served:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    cluster
}

/// `fjord_broker_group_log_partitions_served` from a broker's /metrics.
fn served_partitions(admin: std::net::SocketAddr) -> u64 {
    let output = Command::new("curl")
        .args(["-fsS", &format!("http://{admin}/metrics")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            line.strip_prefix("fjord_broker_group_log_partitions_served ")?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// The broker coordinating `group`, as confluent-kafka's DescribeGroups
/// result names it.
fn coordinator(cluster: &BrokerCluster, group: &str) -> u32 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let command =
            harness::groups_command("confluent", &cluster.bootstrap(), &["coordinator", group]);
        match harness::try_json(command) {
            Ok(id) if id.as_u64().is_some_and(|id| id > 0) => return id.as_u64().unwrap() as u32,
            other => assert!(
                Instant::now() < deadline,
                "no coordinator for {group}: {other:?}"
            ),
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn ready(cluster: &BrokerCluster, id: u32) -> bool {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{}/readyz", cluster.member(id).admin))
        .output()
        .unwrap();
    output.stdout == b"200"
}

/// Maintenance on the group's coordinator, then a kill -9 and restart of
/// that broker, then maintenance off, each under consumption.
fn move_the_coordinator(cluster: &mut BrokerCluster, run: &GroupRun, group: &str) {
    let before = coordinator(cluster, group);
    let other = cluster
        .members
        .iter()
        .find(|m| m.id != before)
        .unwrap()
        .admin;
    let path = format!("/v1/brokers/{before}/maintenance");
    let on = http(&other, "PUT", &path, Some(r#"{"on":true}"#));
    assert_eq!(on["on"], true, "{on}");
    cluster.wait_for("the coordinator's broker to lead nothing", |health| {
        health["brokers"].as_array().is_some_and(|brokers| {
            brokers
                .iter()
                .any(|b| b["id"] == before && b["leaderships"] == 0)
        })
    });
    let during = coordinator(cluster, group);
    assert_ne!(during, before, "maintenance kept the group's coordinator");
    run.progress(80);

    cluster.kill(before);
    run.progress(40);
    cluster.restart(before);
    // Served again only once it has caught up (issue 20's start-up gate):
    // wait for its /readyz and the cluster's health, as an operator would.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(cluster, before) {
        assert!(Instant::now() < deadline, "broker {before} never ready");
        std::thread::sleep(Duration::from_millis(200));
    }
    cluster.wait_for("a healthy cluster after the restart", |health| {
        health["healthy"] == true
    });
    let off = http(&other, "PUT", &path, Some(r#"{"on":false}"#));
    assert_eq!(off["on"], false, "{off}");
    run.progress(80);
}

/// No crash, every produced value consumed, and no record consumed again
/// after an offset past it was committed for its partition. Returns the
/// number of records delivered twice (each before its commit).
fn check_run(events: &[Value], client: &str) -> usize {
    let crashes: Vec<&Value> = events.iter().filter(|e| e["e"] == "crash").collect();
    assert!(crashes.is_empty(), "{client} members crashed: {crashes:?}");
    let done = events
        .iter()
        .rev()
        .find(|e| e["e"] == "done")
        .unwrap_or_else(|| panic!("{client} never finished"));
    let produced = done["produced"].as_u64().unwrap();
    let undelivered = done["undelivered"].as_array().map_or(0, Vec::len);
    assert_eq!(undelivered, 0, "{client} left records undelivered: {done}");
    let consumed: BTreeSet<u64> = events
        .iter()
        .filter(|e| e["e"] == "consumed")
        .map(|e| e["v"].as_u64().unwrap())
        .collect();
    let missing: Vec<u64> = (0..produced).filter(|v| !consumed.contains(v)).collect();
    assert!(
        missing.is_empty(),
        "{client}: {} of {produced} records never consumed, first {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
    let mut committed: BTreeMap<i64, i64> = BTreeMap::new();
    let mut seen: HashSet<(i64, i64)> = HashSet::new();
    let mut twice = 0;
    for event in events {
        let (partition, offset) = (event["p"].as_i64(), event["o"].as_i64());
        match (event["e"].as_str(), partition, offset) {
            (Some("consumed"), Some(p), Some(o)) if !seen.insert((p, o)) => {
                twice += 1;
                let past = committed.get(&p).copied().unwrap_or(0);
                assert!(
                    past <= o,
                    "{client}: {TOPIC}-{p} offset {o} consumed again after offset {past} was committed"
                );
            }
            (Some("committed"), Some(p), Some(o)) => {
                let entry = committed.entry(p).or_insert(0);
                *entry = (*entry).max(o);
            }
            _ => {}
        }
    }
    eprintln!(
        "{client}: {produced} produced, {} deliveries, {twice} uncommitted records delivered again",
        seen.len() + twice
    );
    twice
}

/// Lists and describes the groups from one client until `group` shows as
/// Stable with every member (a rebalance may still be settling).
fn groups_seen_by(command: impl Fn() -> Command, client: &str, group: &str, members: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = harness::try_json(command());
        let settled = answer.as_ref().is_ok_and(|answer| {
            let listed = answer["listed"]
                .as_array()
                .is_some_and(|listed| listed.iter().any(|g| g == group));
            let described = &answer["described"][group];
            listed
                && described["state"]
                    .as_str()
                    .is_some_and(|state| state.eq_ignore_ascii_case("stable"))
                && described["members"].as_array().map_or(0, Vec::len) == members
        });
        if settled {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{client} never listed and described {group} as stable with {members} members: {answer:?}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_kafkajs_group_consumes_everything_once_committed_while_its_coordinator_moves() {
    let mut cluster = three_brokers_with_topic();
    let group = "kafkajs-orders";
    let bootstrap = cluster.bootstrap();
    let run = GroupRun::start(harness::kafkajs_command(
        &bootstrap,
        &["group-run", TOPIC, group, &MEMBERS.to_string(), RATE],
    ));
    run.wait_until("the members to join", 90, |run| run.count("ready") == 1);
    run.progress(40);

    // Every client lists and describes the group against three brokers:
    // ListGroups goes to every broker, DescribeGroups to the coordinator.
    let command = |client: &str| match client {
        "kafkajs" => harness::kafkajs_command(&bootstrap, &["groups", group]),
        python => harness::groups_command(python, &bootstrap, &["groups", group]),
    };
    for client in ["kafkajs", "kafka-python", "confluent", "aiokafka"] {
        groups_seen_by(|| command(client), client, group, MEMBERS);
    }

    move_the_coordinator(&mut cluster, &run, group);
    let events = run.finish();
    check_run(&events, "kafkajs");
}

#[test]
fn confluent_kafka_and_aiokafka_groups_consume_everything_once_committed_while_a_coordinator_moves()
{
    let mut cluster = three_brokers_with_topic();
    let created = harness::run_client(
        "confluent",
        &cluster.bootstrap(),
        &[
            "create-replicated",
            "payments",
            &PARTITIONS.to_string(),
            "3",
        ],
    );
    assert_eq!(created, "ok");
    let group = "confluent-orders";
    let members = MEMBERS.to_string();
    let confluent = GroupRun::start(harness::groups_command(
        "confluent",
        &cluster.bootstrap(),
        &["group-run", TOPIC, group, &members, RATE],
    ));
    // A second group, on its own topic, through the same faults.
    let aiokafka = GroupRun::start(harness::groups_command(
        "aiokafka",
        &cluster.bootstrap(),
        &["group-run", "payments", "aiokafka-payments", &members, RATE],
    ));
    for run in [&confluent, &aiokafka] {
        run.wait_until("the members to join", 90, |run| run.count("ready") == 1);
        run.progress(40);
    }
    move_the_coordinator(&mut cluster, &confluent, group);
    aiokafka.progress(40);
    check_run(&confluent.finish(), "confluent-kafka");
    check_run(&aiokafka.finish(), "aiokafka");
}
