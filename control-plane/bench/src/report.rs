//! Percentiles, the table and the JSON.

use std::time::Duration;

use serde_json::{Value, json};

use crate::Plan;
use crate::load::summarize;

/// Latencies, sorted.
#[derive(Debug, Clone, Default)]
pub(crate) struct Latencies(Vec<Duration>);

impl Latencies {
    pub(crate) fn new(mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Self(latencies)
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// The `quantile` (0..=1) in milliseconds; 0 when empty.
    pub(crate) fn ms(&self, quantile: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let rank = (quantile * (self.0.len() - 1) as f64).round() as usize;
        self.0[rank.min(self.0.len() - 1)].as_secs_f64() * 1e3
    }
}

/// One load phase.
#[derive(Debug)]
pub(crate) struct LoadResult {
    pub(crate) operation: &'static str,
    pub(crate) load: String,
    pub(crate) latencies: Latencies,
    pub(crate) errors: usize,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
}

impl LoadResult {
    pub(crate) fn new(
        operation: &'static str,
        load: String,
        outcomes: Vec<(Duration, anyhow::Result<()>)>,
        elapsed: Duration,
    ) -> Self {
        let (latencies, errors, first_error) = summarize(outcomes);
        if let Some(error) = &first_error {
            eprintln!("  {errors} errors, first: {error}");
        }
        Self {
            operation,
            load,
            latencies,
            errors,
            first_error,
            elapsed,
        }
    }

    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// One intent fan-out.
#[derive(Debug)]
pub(crate) struct FanoutResult {
    pub(crate) agents: usize,
    /// What the agents asked for: `full` or `delta`.
    pub(crate) mode: &'static str,
    /// From the change's request to each agent's response with the new
    /// generation.
    pub(crate) latencies: Latencies,
    /// From the change's request to each agent having read the compressed
    /// body, before inflating it: the server's part of `latencies`.
    pub(crate) read: Latencies,
    /// How long the change's own request took (it commits before answering).
    pub(crate) change: Duration,
}

/// Everything measured in one run.
#[derive(Debug)]
pub(crate) struct Report {
    quick: bool,
    plan: Plan,
    pub(crate) load: Vec<LoadResult>,
    pub(crate) fanout: Vec<FanoutResult>,
}

impl Report {
    pub(crate) fn new(quick: bool, plan: &Plan) -> Self {
        Self {
            quick,
            plan: plan.clone(),
            load: Vec::new(),
            fanout: Vec::new(),
        }
    }

    pub(crate) fn print(&self) {
        println!(
            "\n{:<14} {:>13} {:>9} {:>8} {:>9} {:>9} {:>9}",
            "operation", "offered", "req/s", "errors", "p50 ms", "p99 ms", "max ms"
        );
        for result in &self.load {
            println!(
                "{:<14} {:>13} {:>9.0} {:>8} {:>9.2} {:>9.2} {:>9.2}",
                result.operation,
                result.load,
                result.per_second(),
                result.errors,
                result.latencies.ms(0.5),
                result.latencies.ms(0.99),
                result.latencies.ms(1.0),
            );
        }
        println!(
            "\n{:<24} {:>9} {:>9} {:>9} {:>9} {:>10} {:>12}",
            "intent fan-out", "received", "p50 ms", "p99 ms", "max ms", "change ms", "read p99 ms"
        );
        for result in &self.fanout {
            println!(
                "{:<24} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>10.1} {:>12.1}",
                format!("{} agents {}", result.agents, result.mode),
                result.latencies.len(),
                result.latencies.ms(0.5),
                result.latencies.ms(0.99),
                result.latencies.ms(1.0),
                result.change.as_secs_f64() * 1e3,
                result.read.ms(0.99),
            );
        }
    }

    pub(crate) fn to_json(&self) -> Value {
        let load: Vec<Value> = self
            .load
            .iter()
            .map(|result| {
                json!({
                    "operation": result.operation,
                    "offered": result.load,
                    "requests": result.latencies.len(),
                    "errors": result.errors,
                    "first_error": result.first_error,
                    "requests_per_second": result.per_second(),
                    "p50_ms": result.latencies.ms(0.5),
                    "p99_ms": result.latencies.ms(0.99),
                    "max_ms": result.latencies.ms(1.0),
                })
            })
            .collect();
        let fanout: Vec<Value> = self
            .fanout
            .iter()
            .map(|result| {
                json!({
                    "agents": result.agents,
                    "mode": result.mode,
                    "received": result.latencies.len(),
                    "p50_ms": result.latencies.ms(0.5),
                    "p99_ms": result.latencies.ms(0.99),
                    "max_ms": result.latencies.ms(1.0),
                    "change_request_ms": result.change.as_secs_f64() * 1e3,
                    "read_p50_ms": result.read.ms(0.5),
                    "read_p99_ms": result.read.ms(0.99),
                })
            })
            .collect();
        json!({
            "benchmark": "control-plane",
            "quick": self.quick,
            "phase_seconds": self.plan.phase.as_secs_f64(),
            "max_throughput_clients": self.plan.concurrency,
            "cores": std::thread::available_parallelism().map_or(0, usize::from),
            "load": load,
            "fanout": fanout,
        })
    }
}
