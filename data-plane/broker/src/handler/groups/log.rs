//! The internal group log: coordinator records stored as Kafka record
//! batches (one record per group record, JSON value) on the storage core.

use bytes::{Bytes, BytesMut};
use fjord_storage::Offset;
use kafka_protocol::records::{
    Compression, Record, RecordBatchDecoder, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

use crate::group::{Coordinator, GroupRecord, Millis};
use crate::partition::{PartitionReplica, ReplicaError};

/// Bytes read per pass when replaying the group log.
const REPLAY_READ_BYTES: u64 = 1024 * 1024;

/// Appends group records as one batch (one Kafka record each, JSON value).
pub(super) fn append_records(
    log: &dyn PartitionReplica,
    records: &[GroupRecord],
) -> Result<Offset, ReplicaError> {
    let encoded = records
        .iter()
        .zip(0..)
        .map(|(record, offset)| {
            let value = serde_json::to_vec(record)
                .map_err(|error| ReplicaError::Storage(error.to_string()))?;
            Ok(Record {
                transactional: false,
                control: false,
                delete_horizon: false,
                partition_leader_epoch: 0,
                producer_id: -1,
                producer_epoch: -1,
                timestamp_type: TimestampType::Creation,
                offset,
                sequence: -1,
                timestamp: 0,
                key: None,
                value: Some(Bytes::from(value)),
                headers: Default::default(),
            })
        })
        .collect::<Result<Vec<_>, ReplicaError>>()?;
    let mut batch = BytesMut::new();
    let options = RecordEncodeOptions {
        version: 2,
        compression: Compression::None,
    };
    RecordBatchEncoder::encode(&mut batch, encoded.iter(), &options)
        .map_err(|error| ReplicaError::Storage(error.to_string()))?;
    Ok(log.append(&mut batch)?.info.log_end_offset)
}

/// Feeds every record of the group log to the coordinator; returns the
/// count. Restored members' sessions run from `now`.
pub(super) fn replay(
    log: &dyn PartitionReplica,
    coordinator: &mut Coordinator,
    now: Millis,
) -> Result<u64, ReplicaError> {
    let mut offset = log.offsets().log_start;
    let mut buffer = Vec::new();
    let mut replayed = 0;
    // Bounded by the log end: every pass advances or stops.
    loop {
        let next = log.read(offset, REPLAY_READ_BYTES, &mut buffer)?;
        if next <= offset {
            return Ok(replayed);
        }
        let mut bytes = Bytes::from(std::mem::take(&mut buffer));
        let sets = RecordBatchDecoder::decode_all(&mut bytes)
            .map_err(|error| ReplicaError::CorruptBatch(error.to_string()))?;
        for record in sets.into_iter().flat_map(|set| set.records) {
            // Control records (a replicated log's leader-change markers)
            // are not coordinator records.
            if record.control {
                continue;
            }
            let Some(value) = record.value else { continue };
            let decoded: GroupRecord = serde_json::from_slice(&value)
                .map_err(|error| ReplicaError::CorruptBatch(error.to_string()))?;
            coordinator.replay(now, decoded);
            replayed += 1;
        }
        offset = next;
    }
}
