//! `--cluster`: the cost of replication. The same load cases against one
//! broker with a topic of replication factor 1, then against N brokers
//! started with the cluster flags and a topic of replication factor
//! min(3, N), acks=all both times; figures as ratios (replicated / single)
//! with the absolute numbers beside them.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use fjord_chaos::cluster::{Addresses, Broker, BrokerSpec, wait_healthy};
use serde_json::{Value, json};

use crate::load::{self, CaseResult};
use crate::{create_topic, start_broker};

/// (producers, partitions) per case.
const CASES: [(usize, i32); 2] = [(1, 1), (16, 100)];
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct Plan<'a> {
    pub(crate) broker_bin: &'a Path,
    pub(crate) dir: &'a Path,
    pub(crate) brokers: usize,
    pub(crate) records: u64,
}

fn run_cases(bootstrap: &str, replication: usize, records: u64) -> anyhow::Result<Vec<CaseResult>> {
    let mut results = Vec::new();
    for (producers, partitions) in CASES {
        let topic = format!("bench-rf{replication}-{producers}p-{partitions}");
        eprint!("  rf={replication}: {producers} producers x {partitions} partitions ... ");
        create_topic(bootstrap, &topic, partitions, replication)?;
        let result = load::run(&load::Case {
            bootstrap,
            topic: &topic,
            producers,
            partitions,
            records,
            idempotent: false,
        })?;
        eprintln!(
            "{:.1} MB/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms",
            result.produce_mb_per_s,
            result.produce_ms[0],
            result.produce_ms[1],
            result.produce_ms[2]
        );
        results.push(result);
    }
    Ok(results)
}

/// Starts `count` brokers with the cluster flags and waits until they serve
/// (and, with peers, report a healthy cluster).
pub(crate) fn start_cluster(plan: &Plan<'_>) -> anyhow::Result<Vec<Broker>> {
    let root = plan.dir.join("cluster");
    let _ = std::fs::remove_dir_all(&root);
    let addresses = (0..plan.brokers)
        .map(|_| Addresses::free())
        .collect::<Result<Vec<_>, _>>()?;
    let mut brokers = Vec::new();
    for spec in BrokerSpec::cluster(&addresses, &root, |_, _, peer| peer) {
        brokers.push(Broker::start(plan.broker_bin, spec)?);
    }
    for broker in &mut brokers {
        broker.wait_ready(READY_TIMEOUT)?;
    }
    if brokers.len() > 1 {
        wait_healthy(&brokers, HEALTHY_TIMEOUT)
            .map_err(|health| anyhow::anyhow!("the cluster is not healthy: {health:?}"))?;
    }
    Ok(brokers)
}

pub(crate) fn run(plan: &Plan<'_>) -> anyhow::Result<Value> {
    let replication = plan.brokers.min(3);
    eprintln!(
        "cluster benchmark: {} records of 1 KiB per case, acks=all; 1 broker rf=1, then {} brokers rf={replication}",
        plan.records, plan.brokers
    );
    let single = {
        let broker = start_broker(plan.broker_bin, &plan.dir.join("single"))?;
        run_cases(&broker.bootstrap, 1, plan.records)?
    };
    let replicated = {
        let brokers = start_cluster(plan).context("starting the cluster")?;
        let bootstrap: Vec<_> = brokers
            .iter()
            .map(|broker| broker.spec.addresses.kafka.to_string())
            .collect();
        let results = run_cases(&bootstrap.join(","), replication, plan.records);
        drop(brokers);
        if results.is_ok() {
            let _ = std::fs::remove_dir_all(plan.dir.join("cluster"));
        } else {
            eprintln!(
                "the brokers' logs are kept in {}",
                plan.dir.join("cluster").display()
            );
        }
        results?
    };
    let mut rows = Vec::new();
    for ((producers, partitions), (one, many)) in CASES.iter().zip(single.iter().zip(&replicated)) {
        let ratio = |many: f64, one: f64| if one > 0.0 { many / one } else { f64::NAN };
        rows.push(json!({
            "producers": producers, "partitions": partitions,
            "single_mb_per_s": one.produce_mb_per_s,
            "replicated_mb_per_s": many.produce_mb_per_s,
            "throughput_ratio": ratio(many.produce_mb_per_s, one.produce_mb_per_s),
            "single_ms": {"p50": one.produce_ms[0], "p99": one.produce_ms[1], "p999": one.produce_ms[2]},
            "replicated_ms": {"p50": many.produce_ms[0], "p99": many.produce_ms[1], "p999": many.produce_ms[2]},
            "latency_ratio": {
                "p50": ratio(many.produce_ms[0], one.produce_ms[0]),
                "p99": ratio(many.produce_ms[1], one.produce_ms[1]),
                "p999": ratio(many.produce_ms[2], one.produce_ms[2]),
            },
        }));
    }
    print_table(&rows, replication);
    Ok(json!({
        "brokers": plan.brokers,
        "replication_factor": replication,
        "record_bytes": load::RECORD_BYTES,
        "records_per_case": plan.records,
        "acks": "all",
        "cases": rows,
    }))
}

fn print_table(rows: &[Value], replication: usize) {
    println!("produce, acks=all: rf={replication} / rf=1 (absolute: rf={replication} vs rf=1)");
    println!(
        "{:>9} {:>10} {:>24} {:>24} {:>24} {:>24}",
        "producers", "partitions", "MB/s", "p50 ms", "p99 ms", "p99.9 ms"
    );
    for row in rows {
        let number = |value: &Value| value.as_f64().unwrap_or(f64::NAN);
        let cell = |ratio: &Value, many: &Value, one: &Value| {
            format!(
                "{:.2}x ({:.1} vs {:.1})",
                number(ratio),
                number(many),
                number(one)
            )
        };
        println!(
            "{:>9} {:>10} {:>24} {:>24} {:>24} {:>24}",
            row["producers"].as_u64().unwrap_or(0),
            row["partitions"].as_u64().unwrap_or(0),
            cell(
                &row["throughput_ratio"],
                &row["replicated_mb_per_s"],
                &row["single_mb_per_s"]
            ),
            cell(
                &row["latency_ratio"]["p50"],
                &row["replicated_ms"]["p50"],
                &row["single_ms"]["p50"]
            ),
            cell(
                &row["latency_ratio"]["p99"],
                &row["replicated_ms"]["p99"],
                &row["single_ms"]["p99"]
            ),
            cell(
                &row["latency_ratio"]["p999"],
                &row["replicated_ms"]["p999"],
                &row["single_ms"]["p999"]
            ),
        );
    }
}
