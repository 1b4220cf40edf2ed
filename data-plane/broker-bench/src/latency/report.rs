//! The latency benchmark's table, JSON and the check against issue 21's
//! targets: p99 produce latency <= 5x the floor plus `linger.ms`, p99.9 <=
//! 10x p50, and p99 within 1.5x across the producer counts at each load.

use serde_json::{Value, json};

use super::floor::Floor;
use super::phase::{LINGER_MS, PhaseResult};
use super::{LOADS, Options, REPLICATION, Row};

const FLOOR_FACTOR: f64 = 5.0;
const TAIL_FACTOR: f64 = 10.0;
const FLAT_FACTOR: f64 = 1.5;

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// The largest p99 over the smallest across producer counts at `load`.
fn spread(rows: &[Row], load: f64) -> Option<f64> {
    let p99s: Vec<f64> = rows
        .iter()
        .filter(|row| row.load == load)
        .map(|row| row.result.produce.p99)
        .collect();
    if p99s.len() < 2 {
        return None;
    }
    let max = p99s.iter().copied().fold(f64::MIN, f64::max);
    let min = p99s.iter().copied().fold(f64::MAX, f64::min);
    Some(max / min)
}

pub(crate) fn report(
    floor: &Floor,
    maximum: &PhaseResult,
    max_producers: usize,
    rows: &[Row],
    options: &Options,
) -> Value {
    let bound = FLOOR_FACTOR * floor.p99_ms() + LINGER_MS;
    println!(
        "floor: fdatasync p99 {:.3} ms + loopback p99 {:.3} ms = {:.3} ms; p99 bound {FLOOR_FACTOR}x floor + linger {LINGER_MS} ms = {bound:.2} ms",
        floor.fdatasync.p99,
        floor.loopback.p99,
        floor.p99_ms()
    );
    println!(
        "maximum: {:.1} MB/s acknowledged with {max_producers} producers",
        maximum.acknowledged_mb_per_s
    );
    println!(
        "{:>9} {:>5} {:>8} {:>8} {:>22} {:>22} {:>9} {:>9}",
        "producers",
        "load",
        "offered",
        "acked",
        "produce p50/p99/p99.9",
        "e2e p50/p99/p99.9",
        "p99<=bnd",
        "tail<=10x"
    );
    let mut cases = Vec::new();
    for row in rows {
        let produce = row.result.produce;
        let floor_met = produce.p99 <= bound;
        let tail_met = produce.p999 <= TAIL_FACTOR * produce.p50;
        println!(
            "{:>9} {:>4.0}% {:>8.1} {:>8.1} {:>22} {:>22} {:>9} {:>9}",
            row.producers,
            row.load * 100.0,
            row.offered_mb_per_s,
            row.result.acknowledged_mb_per_s,
            format!("{:.2}/{:.2}/{:.2}", produce.p50, produce.p99, produce.p999),
            format!(
                "{:.2}/{:.2}/{:.2}",
                row.result.end_to_end.p50, row.result.end_to_end.p99, row.result.end_to_end.p999
            ),
            verdict(floor_met),
            verdict(tail_met),
        );
        cases.push(json!({
            "producers": row.producers,
            "load": row.load,
            "offered_mb_per_s": row.offered_mb_per_s,
            "acknowledged_mb_per_s": row.result.acknowledged_mb_per_s,
            "records": row.result.records,
            "produce_ms": row.result.produce.json(),
            "end_to_end_ms": row.result.end_to_end.json(),
            "p99_within_floor_bound": floor_met,
            "p999_within_10x_p50": tail_met,
        }));
    }
    let mut flatness = Vec::new();
    for load in LOADS {
        if let Some(ratio) = spread(rows, load) {
            let met = ratio <= FLAT_FACTOR;
            println!(
                "flatness at {:.0}%: p99 max/min over producers {:?} = {ratio:.2} ({})",
                load * 100.0,
                options.producers,
                verdict(met)
            );
            flatness.push(json!({"load": load, "p99_ratio": ratio, "met": met}));
        }
    }
    json!({
        "brokers": 3,
        "replication_factor": REPLICATION,
        "partitions": options.partitions,
        "acks": "all",
        "idempotent": true,
        "linger_ms": LINGER_MS,
        "seconds_per_phase": options.seconds,
        "producers": options.producers,
        "floor_ms": {
            "fdatasync": floor.fdatasync.json(),
            "loopback": floor.loopback.json(),
            "p99_sum": floor.p99_ms(),
            "p99_bound": bound,
        },
        "maximum": {
            "producers": max_producers,
            "acknowledged_mb_per_s": maximum.acknowledged_mb_per_s,
            "produce_ms": maximum.produce.json(),
            "end_to_end_ms": maximum.end_to_end.json(),
        },
        "cases": cases,
        "flatness": flatness,
    })
}
