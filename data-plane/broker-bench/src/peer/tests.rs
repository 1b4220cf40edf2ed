use std::net::SocketAddr;
use std::path::Path;

use clap::Parser;

use super::tansu::{Engine, arguments, last_lines};
use super::{Peer, Plan};
use crate::Arguments;

fn parse(flags: &[&str]) -> Result<Arguments, clap::Error> {
    Arguments::try_parse_from(
        ["fjord-broker-bench", "--broker-bin", "/bin/fjord-broker"]
            .iter()
            .chain(flags),
    )
}

fn plan(flags: &[&str], records: u64) -> anyhow::Result<Plan> {
    let arguments = parse(flags)?;
    Plan::new(&arguments.broker_bin, &arguments.peer, records)
}

#[test]
fn default_plan_runs_three_brokers_at_4_and_100_partitions_idempotent_and_not() {
    let plan = plan(&["--peer", "--tansu-bin", "/bin/tansu"], 1000).expect("valid");
    assert_eq!(plan.producers, 4);
    assert_eq!(plan.records, 1000);
    assert_eq!(plan.keys.len(), 12);
    let first: Vec<_> = plan.keys[..3].iter().map(|key| key.peer).collect();
    assert_eq!(
        first,
        [Peer::Fjord, Peer::TansuMemory, Peer::TansuSqlite],
        "one load's brokers run back to back"
    );
    assert!(
        plan.keys[..3]
            .iter()
            .all(|key| key.partitions == 4 && !key.idempotent)
    );
    assert!(
        plan.keys[3..6]
            .iter()
            .all(|key| key.partitions == 4 && key.idempotent)
    );
    assert!(plan.keys[6..].iter().all(|key| key.partitions == 100));
    assert_eq!(plan.tansu_bin.as_deref(), Some(Path::new("/bin/tansu")));
}

#[test]
fn a_tansu_engine_without_tansu_bin_is_refused() {
    let error = plan(&["--peer"], 1000).expect_err("no tansu binary");
    assert!(error.to_string().contains("--tansu-bin"), "{error}");
}

#[test]
fn fjord_alone_needs_no_tansu_bin() {
    let plan = plan(
        &[
            "--peer",
            "--peer-brokers",
            "fjord",
            "--peer-partitions",
            "8",
        ],
        100,
    )
    .expect("valid");
    assert_eq!(plan.keys.len(), 2);
    assert!(
        plan.keys
            .iter()
            .all(|key| key.peer == Peer::Fjord && key.partitions == 8)
    );
    assert_eq!(plan.tansu_bin, None);
}

#[test]
fn bad_counts_are_refused() {
    fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        [&["--peer", "--tansu-bin", "/bin/tansu"][..], extra].concat()
    }
    assert!(plan(&with(&["--peer-producers", "0"]), 1000).is_err());
    assert!(plan(&with(&["--peer-partitions", "4,0"]), 1000).is_err());
    assert!(plan(&with(&["--peer-producers", "8"]), 4).is_err());
    assert!(parse(&with(&["--peer-brokers", "kafka"])).is_err());
}

#[test]
fn peer_flags_need_peer_and_peer_excludes_the_other_modes() {
    assert!(parse(&["--tansu-bin", "/bin/tansu"]).is_err());
    assert!(parse(&["--peer-producers", "2"]).is_err());
    assert!(parse(&["--peer", "--cluster"]).is_err());
    assert!(parse(&["--peer", "--latency"]).is_err());
    assert!(parse(&["--peer", "--secure-only"]).is_err());
}

#[test]
fn tansu_listens_and_advertises_the_same_address_with_the_engine_url() {
    let address: SocketAddr = "127.0.0.1:19092".parse().expect("address");
    let memory = arguments(address, Engine::Memory);
    assert_eq!(memory[0], "broker");
    assert!(memory.contains(&"--listener-url=tcp://127.0.0.1:19092".to_owned()));
    assert!(memory.contains(&"--advertised-listener-url=tcp://127.0.0.1:19092".to_owned()));
    assert!(memory.contains(&"--storage-engine=memory://tansu/".to_owned()));
    let sqlite = arguments(address, Engine::Sqlite);
    assert!(sqlite.contains(&"--storage-engine=sqlite://tansu.db".to_owned()));
}

#[test]
fn a_start_failure_quotes_the_end_of_the_log() {
    assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc");
    assert_eq!(last_lines("only", 5), "only");
    assert_eq!(last_lines("", 5), "(empty)");
}

#[test]
fn a_missing_tansu_binary_is_a_clear_error() {
    let error = super::tansu::version(Path::new("/nonexistent/tansu")).expect_err("missing");
    assert!(
        error
            .to_string()
            .contains("no tansu binary at /nonexistent/tansu"),
        "{error}"
    );
}
