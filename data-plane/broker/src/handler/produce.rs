//! Produce: batches are passed to the partition untouched (compression
//! included); the storage core checks each header and CRC and assigns
//! offsets. acks=0 gets no response, acks=1 an answer once appended,
//! acks=-1 once the batch is durable.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fjord_storage::Offset;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ProduceRequest, ProduceResponse, ResponseKind};

use super::{Answer, Handler, blocking};
use crate::metrics::ErrorLabels;
use crate::partition::PartitionReplica;

/// Longest an acks=all request waits for durability, whatever it asks.
const DURABLE_WAIT_MAX: Duration = Duration::from_secs(30);

/// What one partition's append came to.
struct Appended {
    error: Option<ResponseError>,
    base_offset: i64,
    log_start_offset: i64,
    /// Wait for this offset to be durable (acks=all).
    durable_end: Option<(Arc<dyn PartitionReplica>, Offset)>,
}

impl Appended {
    fn failed(error: ResponseError) -> Self {
        Self {
            error: Some(error),
            base_offset: -1,
            log_start_offset: -1,
            durable_end: None,
        }
    }
}

impl Handler {
    pub(super) async fn produce(&self, request: ProduceRequest, _version: i16) -> Answer {
        let acks = request.acks;
        let valid_acks = matches!(acks, -1..=1);
        let timeout = Duration::from_millis(u64::try_from(request.timeout_ms).unwrap_or(0))
            .min(DURABLE_WAIT_MAX);
        let mut responses = Vec::with_capacity(request.topic_data.len());
        let mut waits = Vec::new();
        for topic_data in request.topic_data {
            let topic = if valid_acks && request.transactional_id.is_none() {
                self.topic_or_create(&topic_data.name, self.live.current().auto_create_topics)
                    .await
                    .ok()
            } else {
                None
            };
            let mut partitions = Vec::with_capacity(topic_data.partition_data.len());
            for data in topic_data.partition_data {
                let appended = if !valid_acks {
                    Appended::failed(ResponseError::InvalidRequiredAcks)
                } else if request.transactional_id.is_some() {
                    Appended::failed(ResponseError::TransactionalIdAuthorizationFailed)
                } else {
                    match topic.as_ref().and_then(|topic| topic.partition(data.index)) {
                        None => Appended::failed(ResponseError::UnknownTopicOrPartition),
                        Some(replica) => self.append(Arc::clone(replica), data.records, acks).await,
                    }
                };
                if let Some(error) = appended.error {
                    self.metrics
                        .produce_errors
                        .get_or_create(&ErrorLabels {
                            error: format!("{error:?}"),
                        })
                        .inc();
                }
                if let Some(wait) = &appended.durable_end {
                    waits.push((wait.clone(), responses.len(), partitions.len()));
                }
                partitions.push(
                    PartitionProduceResponse::default()
                        .with_index(data.index)
                        .with_error_code(appended.error.map_or(0, |error| error.code()))
                        .with_base_offset(appended.base_offset)
                        .with_log_append_time_ms(-1)
                        .with_log_start_offset(appended.log_start_offset),
                );
            }
            responses.push(
                TopicProduceResponse::default()
                    .with_name(topic_data.name)
                    .with_partition_responses(partitions),
            );
        }
        if acks == 0 {
            return Answer::NoResponse;
        }
        let respond = |responses| {
            Answer::Respond(ResponseKind::Produce(
                ProduceResponse::default().with_responses(responses),
            ))
        };
        if waits.is_empty() {
            return respond(responses);
        }
        // The appends are done, in request order; the durability wait may
        // overlap with the connection's next requests.
        Answer::Later(Box::pin(async move {
            for ((replica, end), topic, partition) in waits {
                let durable = blocking(move || replica.wait_durable(end, timeout))
                    .await
                    .unwrap_or(false);
                if !durable {
                    responses[topic].partition_responses[partition].error_code =
                        ResponseError::RequestTimedOut.code();
                }
            }
            respond(responses)
        }))
    }

    async fn append(
        &self,
        replica: Arc<dyn PartitionReplica>,
        records: Option<Bytes>,
        acks: i16,
    ) -> Appended {
        let Some(records) = records.filter(|records| !records.is_empty()) else {
            return Appended::failed(ResponseError::CorruptMessage);
        };
        // The replica refuses batches above the topic's max.message.bytes.
        let length = records.len() as u64;
        let task_replica = Arc::clone(&replica);
        let outcome = blocking(move || {
            let mut batches = records.to_vec();
            let appended = task_replica.append(&mut batches);
            (appended, task_replica.offsets())
        })
        .await;
        match outcome {
            Some((Ok(outcome), offsets)) => {
                let info = outcome.info;
                if outcome.duplicate {
                    self.metrics.produce_duplicates.inc();
                } else {
                    self.metrics.produced_bytes.inc_by(length);
                }
                Appended {
                    error: None,
                    base_offset: info.first_offset.0,
                    log_start_offset: offsets.log_start.0,
                    durable_end: (acks == -1).then_some((replica, info.log_end_offset)),
                }
            }
            Some((Err(error), _)) => {
                tracing::debug!(%error, "produce refused");
                Appended::failed(error.kafka_error())
            }
            None => Appended::failed(ResponseError::UnknownServerError),
        }
    }
}
