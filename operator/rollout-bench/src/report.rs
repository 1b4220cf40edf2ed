//! The figures of one run: produce latency percentiles and error rates of
//! the records sent before the roll and of those sent during it, and their
//! ratios.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::load::Sample;

/// Records sent within one window.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Phase {
    pub(crate) records: usize,
    pub(crate) errors: usize,
    /// Acknowledgement latency, milliseconds: p50, p99.
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

impl Phase {
    /// The samples of records sent in `[from, to)`.
    pub(crate) fn of(samples: &[Sample], from: Instant, to: Instant) -> Self {
        let within: Vec<&Sample> = samples
            .iter()
            .filter(|sample| sample.sent >= from && sample.sent < to)
            .collect();
        let mut latencies: Vec<Duration> =
            within.iter().filter_map(|sample| sample.latency).collect();
        latencies.sort_unstable();
        Self {
            records: within.len(),
            errors: within.len() - latencies.len(),
            p50_ms: percentile(&latencies, 0.50),
            p99_ms: percentile(&latencies, 0.99),
        }
    }

    pub(crate) fn error_rate(&self) -> f64 {
        if self.records == 0 {
            0.0
        } else {
            self.errors as f64 / self.records as f64
        }
    }

    fn json(&self) -> Value {
        json!({
            "records": self.records,
            "errors": self.errors,
            "error_rate": self.error_rate(),
            "p50_ms": self.p50_ms,
            "p99_ms": self.p99_ms,
        })
    }
}

/// Nearest-rank percentile, milliseconds; 0 for no samples.
fn percentile(sorted: &[Duration], quantile: f64) -> f64 {
    let Some(last) = sorted.len().checked_sub(1) else {
        return 0.0;
    };
    let rank = ((sorted.len() as f64 * quantile).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[rank.min(last)].as_secs_f64() * 1000.0
}

/// `during / before`; `None` when the baseline is zero.
fn ratio(during: f64, before: f64) -> Option<f64> {
    (before > 0.0).then(|| during / before)
}

fn show(ratio: Option<f64>, during: f64) -> String {
    match ratio {
        Some(ratio) => format!("{ratio:.2}x"),
        None if during == 0.0 => "-".into(),
        None => "inf".into(),
    }
}

/// One cluster size's run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) brokers: u16,
    pub(crate) roll: Duration,
    pub(crate) before: Phase,
    pub(crate) during: Phase,
}

impl Run {
    pub(crate) fn json(&self) -> Value {
        json!({
            "brokers": self.brokers,
            "roll_seconds": self.roll.as_secs_f64(),
            "before": self.before.json(),
            "during": self.during.json(),
            "error_rate_ratio": ratio(self.during.error_rate(), self.before.error_rate()),
            "p50_ratio": ratio(self.during.p50_ms, self.before.p50_ms),
            "p99_ratio": ratio(self.during.p99_ms, self.before.p99_ms),
        })
    }
}

/// The table on standard output.
pub(crate) fn print_table(runs: &[Run]) {
    println!(
        "{:>7} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9}",
        "brokers",
        "roll s",
        "records",
        "errors",
        "p50 ms",
        "p50 ms",
        "p50",
        "p99 ms",
        "p99 ms",
        "p99"
    );
    println!(
        "{:>7} {:>8} {:>9} {:>9} {:>10} {:>10} {:>9} {:>10} {:>10} {:>9}",
        "", "", "bef/dur", "bef/dur", "before", "during", "ratio", "before", "during", "ratio"
    );
    for run in runs {
        let records = format!("{}/{}", run.before.records, run.during.records);
        let errors = format!("{}/{}", run.before.errors, run.during.errors);
        println!(
            "{:>7} {:>8.1} {:>9} {:>9} {:>10.2} {:>10.2} {:>9} {:>10.2} {:>10.2} {:>9}",
            run.brokers,
            run.roll.as_secs_f64(),
            records,
            errors,
            run.before.p50_ms,
            run.during.p50_ms,
            show(
                ratio(run.during.p50_ms, run.before.p50_ms),
                run.during.p50_ms
            ),
            run.before.p99_ms,
            run.during.p99_ms,
            show(
                ratio(run.during.p99_ms, run.before.p99_ms),
                run.during.p99_ms
            ),
        );
        let error_ratio = ratio(run.during.error_rate(), run.before.error_rate());
        println!(
            "{:>7} error rate before {:.4}, during {:.4}, ratio {}",
            "",
            run.before.error_rate(),
            run.during.error_rate(),
            show(error_ratio, run.during.error_rate())
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_split_by_send_time_and_count_errors() {
        let start = Instant::now();
        let at = |ms: u64, latency: Option<u64>| Sample {
            sent: start + Duration::from_millis(ms),
            latency: latency.map(Duration::from_millis),
        };
        let samples: Vec<Sample> = (0..100)
            .map(|i| at(i, Some(i + 1)))
            .chain([at(150, None), at(160, Some(500))])
            .collect();
        let before = Phase::of(&samples, start, start + Duration::from_millis(100));
        assert_eq!((before.records, before.errors), (100, 0));
        assert!((before.p50_ms - 50.0).abs() < 1e-9);
        assert!((before.p99_ms - 99.0).abs() < 1e-9);
        let during = Phase::of(
            &samples,
            start + Duration::from_millis(100),
            start + Duration::from_millis(200),
        );
        assert_eq!((during.records, during.errors), (2, 1));
        assert!((during.error_rate() - 0.5).abs() < 1e-9);
        assert!((during.p99_ms - 500.0).abs() < 1e-9);
        assert_eq!(ratio(during.p99_ms, before.p99_ms), Some(500.0 / 99.0));
        assert_eq!(ratio(1.0, 0.0), None);
    }
}
