//! The checker: what the producers were told was written (the oracle of
//! acknowledged records) against what reading every partition from the
//! start returns.
//!
//! A record's id is (producer, incarnation, sequence): a producer process
//! that hits a fatal idempotence error starts a new incarnation (a new
//! producer id on the broker); sequences rise by one per record it sends.
//! Per partition the checker counts:
//! - lost: acknowledged but not read back;
//! - duplicated: read back more than once (each extra copy counts);
//! - reordered: a first copy whose sequence is below an earlier one of the
//!   same (producer, incarnation) in that partition;
//! - moved: no copy read back at the offset acknowledged.
//!
//! Records read back that were never acknowledged are fine (a timed-out
//! request may still have been written) and are only counted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use serde::Serialize;

use crate::{Error, Result};

/// One record's identity, from its value `producer:incarnation:sequence`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct RecordId {
    pub producer: u32,
    pub incarnation: u32,
    pub sequence: u64,
}

impl RecordId {
    /// Parses a record value written by the chaos producer.
    pub fn parse(value: &str) -> Result<Self> {
        let malformed = |reason| Error::Malformed {
            line: value.to_owned(),
            reason,
        };
        let mut parts = value.split(':');
        let mut next = || parts.next().ok_or_else(|| malformed("want p:i:s"));
        let producer = next()?.parse().map_err(|_| malformed("bad producer"))?;
        let incarnation = next()?.parse().map_err(|_| malformed("bad incarnation"))?;
        let sequence = next()?.parse().map_err(|_| malformed("bad sequence"))?;
        if parts.next().is_some() {
            return Err(malformed("trailing fields"));
        }
        Ok(Self {
            producer,
            incarnation,
            sequence,
        })
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}:{}:{}",
            self.producer, self.incarnation, self.sequence
        )
    }
}

/// A record at a place in the log: acknowledged (oracle) or read back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    pub partition: i32,
    pub offset: i64,
    pub id: RecordId,
}

impl Placed {
    /// Parses `PARTITION OFFSET VALUE` (the oracle and reader line format).
    pub fn parse(line: &str) -> Result<Self> {
        let malformed = |reason| Error::Malformed {
            line: line.to_owned(),
            reason,
        };
        let mut fields = line.split_whitespace();
        let mut next = || fields.next().ok_or_else(|| malformed("want 3 fields"));
        let partition = next()?.parse().map_err(|_| malformed("bad partition"))?;
        let offset = next()?.parse().map_err(|_| malformed("bad offset"))?;
        let id = RecordId::parse(next()?)?;
        Ok(Self {
            partition,
            offset,
            id,
        })
    }

    pub fn line(&self) -> String {
        format!("{} {} {}", self.partition, self.offset, self.id)
    }
}

/// The findings for one partition.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PartitionReport {
    pub acked: u64,
    pub read: u64,
    pub lost: u64,
    pub duplicated: u64,
    pub reordered: u64,
    pub moved: u64,
    /// Read back but never acknowledged (allowed).
    pub unacknowledged: u64,
    /// Up to a few examples of each violation, for the person debugging.
    pub examples: Vec<String>,
}

impl PartitionReport {
    pub fn violations(&self) -> u64 {
        self.lost + self.duplicated + self.reordered + self.moved
    }
}

/// The findings of a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub partitions: BTreeMap<i32, PartitionReport>,
    pub total: PartitionReport,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.total.violations() == 0
    }
}

const EXAMPLES_MAX: usize = 5;

fn example(report: &mut PartitionReport, text: String) {
    if report.examples.len() < EXAMPLES_MAX {
        report.examples.push(text);
    }
}

/// Compares `acked` (oracle) with `read` (every partition read from its start,
/// in rising offset order per partition, as the reader checks).
pub fn check(acked: &[Placed], read: &[Placed]) -> Report {
    let mut partitions: BTreeMap<i32, PartitionReport> = BTreeMap::new();
    // Where each id was read, per partition: every offset holding a copy.
    let mut found: HashMap<(i32, RecordId), Vec<i64>> = HashMap::new();
    let mut highest: HashMap<(i32, u32, u32), u64> = HashMap::new();
    let mut last_offset: HashMap<i32, i64> = HashMap::new();
    for record in read {
        let previous = last_offset.insert(record.partition, record.offset);
        assert!(
            previous.is_none_or(|previous| previous < record.offset),
            "the reader must return each partition in rising offset order"
        );
        let report = partitions.entry(record.partition).or_default();
        report.read += 1;
        let copies = found.entry((record.partition, record.id)).or_default();
        copies.push(record.offset);
        if copies.len() > 1 {
            report.duplicated += 1;
            example(
                report,
                format!("duplicated {} at {}", record.id, record.offset),
            );
            continue;
        }
        let stream = (record.partition, record.id.producer, record.id.incarnation);
        match highest.get(&stream) {
            Some(&above) if record.id.sequence < above => {
                report.reordered += 1;
                let text = format!(
                    "reordered {} at {} after sequence {above}",
                    record.id, record.offset
                );
                example(report, text);
            }
            _ => {
                highest.insert(stream, record.id.sequence);
            }
        }
    }
    let mut acknowledged = HashSet::new();
    for record in acked {
        let report = partitions.entry(record.partition).or_default();
        report.acked += 1;
        acknowledged.insert((record.partition, record.id));
        match found.get(&(record.partition, record.id)) {
            None => {
                report.lost += 1;
                example(
                    report,
                    format!("lost {} acked at {}", record.id, record.offset),
                );
            }
            // librdkafka reports -1 when the broker did not return an offset.
            Some(copies) if record.offset >= 0 && !copies.contains(&record.offset) => {
                report.moved += 1;
                let text = format!(
                    "moved {} acked at {} read at {copies:?}",
                    record.id, record.offset
                );
                example(report, text);
            }
            Some(_) => {}
        }
    }
    for (partition, id) in found.keys() {
        if !acknowledged.contains(&(*partition, *id)) {
            partitions.entry(*partition).or_default().unacknowledged += 1;
        }
    }
    let mut total = PartitionReport::default();
    for report in partitions.values() {
        total.acked += report.acked;
        total.read += report.read;
        total.lost += report.lost;
        total.duplicated += report.duplicated;
        total.reordered += report.reordered;
        total.moved += report.moved;
        total.unacknowledged += report.unacknowledged;
    }
    Report { partitions, total }
}

#[cfg(test)]
mod tests;
