//! Fetch: whole batches below the high watermark, long-polling until
//! `min_bytes` are available or `max_wait_ms` passes (woken by appends).
//! No fetch sessions: the response's session id 0 tells the client to send
//! full requests. Last stable offset = high watermark and no aborted
//! transactions, since the broker has no transactions.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fjord_storage::Offset;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::{BrokerId, FetchRequest, FetchResponse, TopicName};

use super::{Handler, blocking};
use crate::partition::PartitionReplica;

/// Longest long-poll, whatever the client asks.
const MAX_WAIT_CAP: Duration = Duration::from_secs(30);

/// One requested partition.
struct Wanted {
    topic: usize,
    partition: i32,
    replica: Option<Arc<dyn PartitionReplica>>,
    offset: i64,
    max_bytes: u64,
}

impl Handler {
    pub(super) async fn fetch(&self, request: FetchRequest, _version: i16) -> FetchResponse {
        let mut names: Vec<TopicName> = Vec::with_capacity(request.topics.len());
        let mut wanted = Vec::new();
        for topic in request.topics {
            let resolved = self.topics.get(&topic.topic);
            for partition in topic.partitions {
                wanted.push(Wanted {
                    topic: names.len(),
                    partition: partition.partition,
                    replica: resolved
                        .as_ref()
                        .and_then(|resolved| resolved.partition(partition.partition))
                        .cloned(),
                    offset: partition.fetch_offset,
                    max_bytes: u64::try_from(partition.partition_max_bytes).unwrap_or(0),
                });
            }
            names.push(topic.topic);
        }
        let wanted = Arc::new(wanted);
        let total_max = u64::try_from(request.max_bytes).unwrap_or(0);
        let min_bytes = u64::try_from(request.min_bytes).unwrap_or(0);
        let max_wait = Duration::from_millis(u64::try_from(request.max_wait_ms).unwrap_or(0))
            .min(MAX_WAIT_CAP);
        let deadline = tokio::time::Instant::now() + max_wait;
        let partitions = loop {
            // Register for wake-ups before reading, so an append between the
            // read and the wait is not missed.
            let notified: Vec<_> = wanted
                .iter()
                .filter_map(|want| want.replica.as_ref())
                .map(|replica| Box::pin(replica.appended().notified()))
                .collect();
            let mut notified = notified;
            for future in &mut notified {
                future.as_mut().enable();
            }
            let reading = Arc::clone(&wanted);
            let Some(partitions) = blocking(move || read_all(&reading, total_max)).await else {
                break Vec::new();
            };
            let bytes: u64 = partitions.iter().map(|(_, data)| record_bytes(data)).sum();
            let any_error = partitions.iter().any(|(_, data)| data.error_code != 0);
            if bytes >= min_bytes.max(1) || any_error || notified.is_empty() {
                break partitions;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                break partitions;
            }
            let woken = futures::future::select_all(notified);
            if tokio::time::timeout_at(deadline, woken).await.is_err() {
                break partitions;
            }
        };
        let fetched: u64 = partitions.iter().map(|(_, data)| record_bytes(data)).sum();
        self.metrics.fetched_bytes.inc_by(fetched);
        let mut responses: Vec<FetchableTopicResponse> = names
            .into_iter()
            .map(|name| FetchableTopicResponse::default().with_topic(name))
            .collect();
        for (topic, data) in partitions {
            if let Some(response) = responses.get_mut(topic) {
                response.partitions.push(data);
            }
        }
        FetchResponse::default()
            .with_session_id(0)
            .with_responses(responses)
    }
}

fn record_bytes(data: &PartitionData) -> u64 {
    data.records
        .as_ref()
        .map_or(0, |records| records.len() as u64)
}

/// Reads every wanted partition, within the response's byte budget.
fn read_all(wanted: &[Wanted], total_max: u64) -> Vec<(usize, PartitionData)> {
    let mut budget = total_max;
    let mut buffer = Vec::new();
    wanted
        .iter()
        .map(|want| {
            let mut data = PartitionData::default()
                .with_partition_index(want.partition)
                .with_high_watermark(-1)
                .with_last_stable_offset(-1)
                .with_log_start_offset(-1)
                .with_aborted_transactions(Some(Vec::new()))
                .with_preferred_read_replica(BrokerId(-1))
                .with_records(Some(Bytes::new()));
            let Some(replica) = &want.replica else {
                return (
                    want.topic,
                    data.with_error_code(ResponseError::UnknownTopicOrPartition.code()),
                );
            };
            if let Err(error) = replica.serves() {
                return (want.topic, data.with_error_code(error.kafka_error().code()));
            }
            let offsets = replica.offsets();
            data = data
                .with_high_watermark(offsets.high_watermark.0)
                .with_last_stable_offset(offsets.high_watermark.0)
                .with_log_start_offset(offsets.log_start.0);
            if want.offset < offsets.log_start.0 || want.offset > offsets.high_watermark.0 {
                return (
                    want.topic,
                    data.with_error_code(ResponseError::OffsetOutOfRange.code()),
                );
            }
            let max_bytes = want.max_bytes.min(budget);
            if max_bytes == 0 || want.offset == offsets.high_watermark.0 {
                return (want.topic, data);
            }
            match replica.read(Offset(want.offset), max_bytes, &mut buffer) {
                Ok(_) => {
                    budget = budget.saturating_sub(buffer.len() as u64);
                    let records = Bytes::from(std::mem::take(&mut buffer));
                    (want.topic, data.with_records(Some(records)))
                }
                Err(error) => {
                    tracing::warn!(%error, partition = want.partition, "fetch read failed");
                    (want.topic, data.with_error_code(error.kafka_error().code()))
                }
            }
        })
        .collect()
}
