//! Throughput and disk use from the brokers' admin `/metrics` (Prometheus
//! text): the byte counters of each broker, turned into per-cluster bytes
//! per second from the difference between two scrapes, and the data
//! directories' bytes, summed. Sans-IO: `parse` and `Rates`; the reporter
//! fetches the text.
//!
//! Invariants: a rate needs two scrapes of the same broker (the first scrape
//! of a broker only sets its baseline); a counter that went down (the broker
//! restarted) counts its new value as the increase since the restart; a
//! cluster reports a key only when at least one broker gave a rate for it.

use std::collections::BTreeMap;
use std::time::Instant;

/// Produce bytes counter, as the broker exposes it.
pub(crate) const PRODUCED: &str = "fjord_broker_produced_bytes_total";
/// Fetch bytes counter, as the broker exposes it.
pub(crate) const FETCHED: &str = "fjord_broker_fetched_bytes_total";

/// Bytes in a broker's data directory (a gauge).
pub(crate) const DISK_USED: &str = "fjord_broker_disk_used_bytes";

/// The report's keys.
pub(crate) const DISK_USED_KEY: &str = "disk_used_bytes";
pub(crate) const PRODUCE_RATE_KEY: &str = "produce_bytes_per_second";
pub(crate) const FETCH_RATE_KEY: &str = "fetch_bytes_per_second";

/// One broker's counters in one scrape.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counters {
    pub(crate) produced: Option<f64>,
    pub(crate) fetched: Option<f64>,
    pub(crate) disk_used: Option<f64>,
}

/// The byte counters in a Prometheus text exposition (samples with labels
/// summed); other lines, comments and unreadable values are skipped.
pub(crate) fn parse(text: &str) -> Counters {
    let mut counters = Counters::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(series), Some(value)) = (fields.next(), fields.next()) else {
            continue;
        };
        let name = series.split('{').next().unwrap_or(series);
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        if !value.is_finite() || value < 0.0 {
            continue;
        }
        let slot = match name {
            PRODUCED => &mut counters.produced,
            FETCHED => &mut counters.fetched,
            DISK_USED => &mut counters.disk_used,
            _ => continue,
        };
        *slot = Some(slot.unwrap_or(0.0) + value);
    }
    counters
}

/// The last scrape of each broker, by cluster and broker address.
#[derive(Debug, Default)]
pub(crate) struct Rates {
    last: BTreeMap<(String, String), (Instant, Counters)>,
}

impl Rates {
    /// Records `scrapes` of `cluster`'s brokers taken `at` and answers the
    /// cluster's rates (only the keys some broker gave a rate for).
    /// Brokers not scraped this time are forgotten.
    pub(crate) fn update(
        &mut self,
        cluster: &str,
        at: Instant,
        scrapes: &[(String, Counters)],
    ) -> BTreeMap<String, f64> {
        let mut produce: Option<f64> = None;
        let mut fetch: Option<f64> = None;
        let mut disk: Option<f64> = None;
        self.last.retain(|(name, broker), _| {
            name != cluster || scrapes.iter().any(|(b, _)| b == broker)
        });
        for (broker, counters) in scrapes {
            if let Some(bytes) = counters.disk_used {
                *disk.get_or_insert(0.0) += bytes;
            }
            let key = (cluster.to_owned(), broker.clone());
            if let Some((then, before)) = self.last.get(&key) {
                let seconds = at.saturating_duration_since(*then).as_secs_f64();
                if seconds > 0.0 {
                    if let Some(rate) = rate(before.produced, counters.produced, seconds) {
                        *produce.get_or_insert(0.0) += rate;
                    }
                    if let Some(rate) = rate(before.fetched, counters.fetched, seconds) {
                        *fetch.get_or_insert(0.0) += rate;
                    }
                }
            }
            self.last.insert(key, (at, *counters));
        }
        let mut metrics = BTreeMap::new();
        if let Some(rate) = produce {
            metrics.insert(PRODUCE_RATE_KEY.to_owned(), rate);
        }
        if let Some(rate) = fetch {
            metrics.insert(FETCH_RATE_KEY.to_owned(), rate);
        }
        if let Some(bytes) = disk {
            metrics.insert(DISK_USED_KEY.to_owned(), bytes);
        }
        metrics
    }
}

/// The counter's increase per second; after a reset the new value is the
/// increase.
fn rate(before: Option<f64>, now: Option<f64>, seconds: f64) -> Option<f64> {
    let (before, now) = (before?, now?);
    let increase = if now >= before { now - before } else { now };
    let rate = increase / seconds;
    debug_assert!(rate >= 0.0, "a counter's rate is never negative");
    Some(rate)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const TEXT: &str = "# HELP fjord_broker_produced_bytes Bytes produced.\n\
        # TYPE fjord_broker_produced_bytes counter\n\
        fjord_broker_produced_bytes_total 1000\n\
        fjord_broker_fetched_bytes_total{listener=\"a\"} 30\n\
        fjord_broker_fetched_bytes_total{listener=\"b\"} 70\n\
        fjord_broker_produced_bytes_total_other 5\n\
        fjord_broker_disk_used_bytes 4096\n\
        fjord_broker_requests_total NaN\n\
        garbage\n";

    #[test]
    fn the_byte_counters_are_read_and_labelled_samples_summed() {
        assert_eq!(
            parse(TEXT),
            Counters {
                produced: Some(1000.0),
                fetched: Some(100.0),
                disk_used: Some(4096.0),
            }
        );
        assert_eq!(
            parse("fjord_broker_produced_bytes_total -1\n"),
            Counters::default()
        );
        assert_eq!(parse(""), Counters::default());
    }

    #[test]
    fn rates_need_two_scrapes_and_survive_a_restart() {
        let mut rates = Rates::default();
        let start = Instant::now();
        let counters = |produced, fetched| Counters {
            produced: Some(produced),
            fetched,
            disk_used: None,
        };
        let first = rates.update(
            "orders",
            start,
            &[("a".to_owned(), counters(1000.0, Some(0.0)))],
        );
        assert!(first.is_empty(), "one scrape is no rate: {first:?}");
        let later = start + Duration::from_secs(10);
        let second = rates.update(
            "orders",
            later,
            &[
                ("a".to_owned(), counters(6000.0, Some(2000.0))),
                ("b".to_owned(), counters(50.0, None)),
            ],
        );
        assert_eq!(second[PRODUCE_RATE_KEY], 500.0);
        assert_eq!(second[FETCH_RATE_KEY], 200.0);
        // Broker a restarted (its counter went down), b grew by 100.
        let third = rates.update(
            "orders",
            later + Duration::from_secs(10),
            &[
                ("a".to_owned(), counters(300.0, None)),
                ("b".to_owned(), counters(150.0, None)),
            ],
        );
        assert_eq!(third[PRODUCE_RATE_KEY], 40.0);
        assert!(!third.contains_key(FETCH_RATE_KEY), "{third:?}");
        assert!(!third.contains_key(DISK_USED_KEY), "{third:?}");
        // Disk use needs no baseline: the brokers that give it, summed.
        let disk = |bytes| Counters {
            disk_used: Some(bytes),
            ..Counters::default()
        };
        let fourth = rates.update(
            "orders",
            later + Duration::from_secs(20),
            &[("a".to_owned(), disk(100.0)), ("b".to_owned(), disk(23.0))],
        );
        assert_eq!(fourth[DISK_USED_KEY], 123.0);
        // Another cluster's brokers are separate.
        assert!(
            rates
                .update("billing", later, &[("a".to_owned(), counters(1.0, None))])
                .is_empty()
        );
    }
}
