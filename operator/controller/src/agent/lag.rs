//! Consumer lag: how many records the consumer groups have yet to read,
//! summed over groups and partitions, read through the Kafka protocol
//! (ListGroups, OffsetFetch per group, ListOffsets latest).
//!
//! Invariants: a partition a group never committed on counts nothing (its
//! lag is unknown, not the whole log); a commit at or past the latest
//! offset counts zero (lag is never negative); a partition whose latest
//! offset the broker did not give counts nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::KafkaError;
use crate::topic::admin::{AdminClient, Partition};

/// The report's key.
pub(crate) const CONSUMER_LAG_KEY: &str = "consumer_lag_records";

/// Σ over groups and their committed partitions of
/// `max(0, latest − committed)`.
pub fn total_lag(latest: &BTreeMap<Partition, i64>, committed: &[BTreeMap<Partition, i64>]) -> u64 {
    let mut total: u64 = 0;
    for group in committed {
        for (partition, offset) in group {
            let Some(end) = latest.get(partition) else {
                continue;
            };
            let lag = end.saturating_sub(*offset).max(0);
            debug_assert!(lag >= 0, "lag is never negative");
            total = total.saturating_add(u64::try_from(lag).unwrap_or(0));
        }
    }
    total
}

/// The consumer lag of the cluster at `bootstrap`. Every broker the
/// cluster names is asked: each lists and answers for the groups it
/// coordinates and gives the latest offsets of the partitions it leads.
/// A broker that does not answer fails the whole figure (a partial sum
/// would read as a drop in lag).
pub async fn consumer_lag(bootstrap: &str, timeout: Duration) -> Result<u64, KafkaError> {
    let mut brokers = AdminClient::connect(bootstrap, timeout)
        .await?
        .broker_addresses()
        .await?;
    if brokers.is_empty() {
        brokers.push(bootstrap.to_owned());
    }
    let mut admins = Vec::with_capacity(brokers.len());
    for broker in &brokers {
        admins.push(AdminClient::connect(broker, timeout).await?);
    }
    let mut committed = Vec::new();
    for admin in &mut admins {
        for group in admin.list_groups().await? {
            committed.push(admin.committed_offsets(&group).await?);
        }
    }
    let partitions: BTreeSet<Partition> = committed
        .iter()
        .flat_map(|offsets| offsets.keys().cloned())
        .collect();
    let mut latest = BTreeMap::new();
    for admin in &mut admins {
        latest.extend(admin.latest_offsets(&partitions).await?);
    }
    Ok(total_lag(&latest, &committed))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(entries: &[(&str, i32, i64)]) -> BTreeMap<Partition, i64> {
        entries
            .iter()
            .map(|(topic, index, offset)| (((*topic).to_owned(), *index), *offset))
            .collect()
    }

    #[test]
    fn lag_sums_groups_and_partitions_and_is_never_negative() {
        let latest = offsets(&[("orders", 0, 100), ("orders", 1, 50), ("audit", 0, 7)]);
        let committed = [
            // 100-40 + 50-50; audit/0 never committed counts nothing.
            offsets(&[("orders", 0, 40), ("orders", 1, 50)]),
            // A commit past the end (log truncated) counts zero, not -5.
            offsets(&[("audit", 0, 12), ("orders", 1, 45)]),
            // A partition whose end the broker did not give counts nothing.
            offsets(&[("gone", 0, 3)]),
        ];
        assert_eq!(total_lag(&latest, &committed), 60 + 5);
        assert_eq!(total_lag(&latest, &[]), 0);
        assert_eq!(total_lag(&BTreeMap::new(), &committed), 0);
    }
}
