//! The peer comparison's report: one row per case, Fjord's ratios to tansu's
//! memory engine (and, for context, to its SQLite engine) per load, and the
//! check against issue 21's target, as a table and as JSON. Pure: the
//! measurements come in, text and JSON go out.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::Peer;

/// Fjord's produce throughput must be at least this multiple of tansu
/// memory's.
pub(crate) const THROUGHPUT_RATIO_MIN: f64 = 1.0;
/// Fjord's broker CPU seconds per GB must be at most this multiple of tansu
/// memory's.
pub(crate) const CPU_PER_GB_RATIO_MAX: f64 = 0.8;

/// One load on one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CaseKey {
    pub(crate) peer: Peer,
    pub(crate) partitions: i32,
    pub(crate) idempotent: bool,
}

impl CaseKey {
    /// Same load (partitions and idempotence), whatever the broker.
    fn same_load(&self, other: &CaseKey) -> bool {
        self.partitions == other.partitions && self.idempotent == other.idempotent
    }
}

impl std::fmt::Display for CaseKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} x {} partitions, {}",
            self.peer.name(),
            self.partitions,
            idempotence(self.idempotent)
        )
    }
}

fn idempotence(idempotent: bool) -> &'static str {
    if idempotent { "idempotent" } else { "plain" }
}

/// What one case measured.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Measured {
    pub(crate) records: u64,
    pub(crate) produce_mb_per_s: f64,
    pub(crate) end_to_end_mb_per_s: f64,
    pub(crate) produce_p50_ms: f64,
    pub(crate) produce_p99_ms: f64,
    /// CPU seconds of the broker process per GB produced (and consumed
    /// once); `None` where `/proc` could not be read.
    pub(crate) broker_cpu_s_per_gb: Option<f64>,
    /// The same for this process (librdkafka's producers and consumer).
    pub(crate) clients_cpu_s_per_gb: Option<f64>,
}

/// One case and what came of it: figures, or why it failed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Case {
    pub(crate) key: CaseKey,
    pub(crate) outcome: Result<Measured, String>,
}

impl Case {
    fn measured(&self) -> Option<&Measured> {
        self.outcome.as_ref().ok()
    }
}

/// Whether a load met the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Met,
    NotMet,
    /// A side failed or was not run, or its CPU could not be read.
    NotMeasured,
}

impl Verdict {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Met => "met",
            Verdict::NotMet => "not met",
            Verdict::NotMeasured => "not measured",
        }
    }
}

/// Fjord against tansu for one load (partitions, idempotence).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Comparison {
    pub(crate) partitions: i32,
    pub(crate) idempotent: bool,
    /// Fjord's produce MB/s over tansu memory's.
    pub(crate) throughput_ratio: Option<f64>,
    /// Fjord's broker CPU s/GB over tansu memory's.
    pub(crate) cpu_per_gb_ratio: Option<f64>,
    /// Fjord's produce MB/s over tansu SQLite's (context, no target).
    pub(crate) sqlite_throughput_ratio: Option<f64>,
    /// Fjord's broker CPU s/GB over tansu SQLite's (context, no target).
    pub(crate) sqlite_cpu_per_gb_ratio: Option<f64>,
}

impl Comparison {
    pub(crate) fn verdict(&self) -> Verdict {
        match (self.throughput_ratio, self.cpu_per_gb_ratio) {
            (Some(throughput), Some(cpu)) => {
                if throughput >= THROUGHPUT_RATIO_MIN && cpu <= CPU_PER_GB_RATIO_MAX {
                    Verdict::Met
                } else {
                    Verdict::NotMet
                }
            }
            _ => Verdict::NotMeasured,
        }
    }
}

/// `numerator / denominator` when both are known, finite and the
/// denominator is above zero.
pub(crate) fn ratio(numerator: Option<f64>, denominator: Option<f64>) -> Option<f64> {
    let (numerator, denominator) = (numerator?, denominator?);
    (numerator.is_finite() && denominator.is_finite() && denominator > 0.0)
        .then(|| numerator / denominator)
}

/// One comparison per load that Fjord ran, in the order the cases ran.
pub(crate) fn compare(cases: &[Case]) -> Vec<Comparison> {
    let find = |key: &CaseKey, peer: Peer| {
        cases
            .iter()
            .find(|case| case.key.peer == peer && case.key.same_load(key))
            .and_then(Case::measured)
    };
    cases
        .iter()
        .filter(|case| case.key.peer == Peer::Fjord)
        .map(|fjord| {
            let ours = fjord.measured();
            let against = |peer: Peer, of: fn(&Measured) -> Option<f64>| {
                ratio(ours.and_then(of), find(&fjord.key, peer).and_then(of))
            };
            let throughput = |measured: &Measured| Some(measured.produce_mb_per_s);
            let cpu = |measured: &Measured| measured.broker_cpu_s_per_gb;
            Comparison {
                partitions: fjord.key.partitions,
                idempotent: fjord.key.idempotent,
                throughput_ratio: against(Peer::TansuMemory, throughput),
                cpu_per_gb_ratio: against(Peer::TansuMemory, cpu),
                sqlite_throughput_ratio: against(Peer::TansuSqlite, throughput),
                sqlite_cpu_per_gb_ratio: against(Peer::TansuSqlite, cpu),
            }
        })
        .collect()
}

/// Met only when every load was measured and met; not met as soon as one
/// measured load missed.
pub(crate) fn overall(comparisons: &[Comparison]) -> Verdict {
    let verdicts: Vec<Verdict> = comparisons.iter().map(Comparison::verdict).collect();
    if verdicts.contains(&Verdict::NotMet) {
        Verdict::NotMet
    } else if verdicts.is_empty() || verdicts.contains(&Verdict::NotMeasured) {
        Verdict::NotMeasured
    } else {
        Verdict::Met
    }
}

fn figure(value: Option<f64>, decimals: usize) -> String {
    value
        .filter(|value| value.is_finite())
        .map_or_else(|| "-".to_owned(), |value| format!("{value:.decimals$}"))
}

fn times(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2}x"))
}

/// The readable report: the cases, then the ratios and verdicts.
pub(crate) fn table(cases: &[Case], comparisons: &[Comparison]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<13} {:>10} {:>11} {:>12} {:>8} {:>8} {:>9} {:>14} {:>14}",
        "broker",
        "partitions",
        "idempotent",
        "produce MB/s",
        "p50 ms",
        "p99 ms",
        "e2e MB/s",
        "broker CPU/GB",
        "client CPU/GB"
    );
    for case in cases {
        let key = &case.key;
        let start = format!(
            "{:<13} {:>10} {:>11}",
            key.peer.name(),
            key.partitions,
            if key.idempotent { "yes" } else { "no" }
        );
        let _ = match &case.outcome {
            Ok(measured) => writeln!(
                out,
                "{start} {:>12.1} {:>8.2} {:>8.2} {:>9.1} {:>14} {:>14}",
                measured.produce_mb_per_s,
                measured.produce_p50_ms,
                measured.produce_p99_ms,
                measured.end_to_end_mb_per_s,
                figure(measured.broker_cpu_s_per_gb, 2),
                figure(measured.clients_cpu_s_per_gb, 2),
            ),
            // The first line: a start failure quotes the broker's log
            // after it (printed as the case ran, and in the JSON).
            Err(error) => writeln!(
                out,
                "{start}   failed: {}",
                error.lines().next().unwrap_or_default()
            ),
        };
    }
    let _ = writeln!(
        out,
        "\nFjord / tansu memory (target: throughput >= {THROUGHPUT_RATIO_MIN:.2}x and broker CPU per GB <= {CPU_PER_GB_RATIO_MAX:.2}x):"
    );
    let _ = writeln!(
        out,
        "{:>10} {:>11} {:>11} {:>8} {:>13} {:>18} {:>14}",
        "partitions",
        "idempotent",
        "throughput",
        "CPU/GB",
        "verdict",
        "/ sqlite: through",
        "/ sqlite: CPU"
    );
    for comparison in comparisons {
        let _ = writeln!(
            out,
            "{:>10} {:>11} {:>11} {:>8} {:>13} {:>18} {:>14}",
            comparison.partitions,
            if comparison.idempotent { "yes" } else { "no" },
            times(comparison.throughput_ratio),
            times(comparison.cpu_per_gb_ratio),
            comparison.verdict().as_str(),
            times(comparison.sqlite_throughput_ratio),
            times(comparison.sqlite_cpu_per_gb_ratio),
        );
    }
    let met = comparisons
        .iter()
        .filter(|comparison| comparison.verdict() == Verdict::Met)
        .count();
    let _ = writeln!(
        out,
        "target: {} ({met} of {} loads met)",
        overall(comparisons).as_str(),
        comparisons.len()
    );
    out
}

fn case_json(case: &Case) -> Value {
    let key = &case.key;
    let mut row = json!({
        "broker": key.peer.name(),
        "partitions": key.partitions,
        "idempotent": key.idempotent,
    });
    match &case.outcome {
        Ok(measured) => {
            row["records"] = json!(measured.records);
            row["produce_mb_per_s"] = json!(measured.produce_mb_per_s);
            row["end_to_end_mb_per_s"] = json!(measured.end_to_end_mb_per_s);
            row["produce_p50_ms"] = json!(measured.produce_p50_ms);
            row["produce_p99_ms"] = json!(measured.produce_p99_ms);
            row["broker_cpu_s_per_gb"] = json!(measured.broker_cpu_s_per_gb);
            row["clients_cpu_s_per_gb"] = json!(measured.clients_cpu_s_per_gb);
        }
        Err(error) => row["error"] = json!(error),
    }
    row
}

fn comparison_json(comparison: &Comparison) -> Value {
    json!({
        "partitions": comparison.partitions,
        "idempotent": comparison.idempotent,
        "throughput_ratio_to_tansu_memory": comparison.throughput_ratio,
        "cpu_per_gb_ratio_to_tansu_memory": comparison.cpu_per_gb_ratio,
        "throughput_ratio_to_tansu_sqlite": comparison.sqlite_throughput_ratio,
        "cpu_per_gb_ratio_to_tansu_sqlite": comparison.sqlite_cpu_per_gb_ratio,
        "verdict": comparison.verdict().as_str(),
    })
}

/// The cases, comparisons, targets and overall verdict as JSON fields, to
/// be merged into the run's description.
pub(crate) fn json(cases: &[Case], comparisons: &[Comparison]) -> Value {
    json!({
        "targets": {
            "throughput_ratio_min": THROUGHPUT_RATIO_MIN,
            "cpu_per_gb_ratio_max": CPU_PER_GB_RATIO_MAX,
        },
        "cases": cases.iter().map(case_json).collect::<Vec<_>>(),
        "comparisons": comparisons.iter().map(comparison_json).collect::<Vec<_>>(),
        "target": overall(comparisons).as_str(),
    })
}
