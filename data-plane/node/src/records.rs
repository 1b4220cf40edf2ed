//! Record-batch helpers for the replicated partition: counting a producer
//! batch's offsets, the leader-change control batch, and checking that the
//! bytes attached to an `Append` are exactly the batches its offsets name.

use fjord_replication::log::EpochStart;
use fjord_replication::{Offset, Term};
use fjord_storage::batch::{self, BatchHeader};
use fjord_storage::{Offset as StorageOffset, Timestamp};

/// Kafka RecordBatch v2: the CRC covers everything from the attributes on.
const CRC_START: usize = 21;
/// Attributes bit 5: a control batch (consumers skip it).
const CONTROL_ATTRIBUTE: u16 = 0x20;

/// How many offsets the concatenated producer batches take (the sum of their
/// record counts), after checking every header and CRC.
pub(crate) fn offsets_in(batches: &[u8]) -> Result<u32, String> {
    let headers = batch::split_batches(batches)?;
    if headers.is_empty() {
        return Err("no batches".to_owned());
    }
    let mut total: u64 = 0;
    for header in &headers {
        let count = header.next_offset().0 - header.base_offset.0;
        if count <= 0 {
            return Err("a batch holds no records".to_owned());
        }
        total += count as u64;
    }
    u32::try_from(total).map_err(|_| "too many records in one append".to_owned())
}

/// The one-record control batch a new leader writes at the start of its
/// epoch (KRaft's LeaderChange): key = version 0, type 2; null value.
pub(crate) fn leader_change_batch(now: Timestamp) -> Vec<u8> {
    // length 10, attributes, timestamp delta, offset delta, key length 4,
    // key (version i16 0, type i16 2), value length -1, no headers (varints zigzag).
    let record: [u8; 11] = [0x14, 0, 0, 0, 0x08, 0, 0, 0, 2, 0x01, 0];
    let mut bytes = batch::build_batch(1, now, record.len(), 0);
    let records_at = batch::HEADER_BYTES;
    bytes[records_at..].copy_from_slice(&record);
    bytes[21..23].copy_from_slice(&CONTROL_ATTRIBUTE.to_be_bytes());
    let crc = crc32c::crc32c(&bytes[CRC_START..]);
    bytes[17..21].copy_from_slice(&crc.to_be_bytes());
    assert!(batch::split_batches(&bytes).is_ok(), "a valid batch");
    bytes
}

/// The term an append's epoch history gives `offset`.
fn term_at(epochs: &[EpochStart], offset: Offset) -> Option<Term> {
    epochs
        .iter()
        .rev()
        .find(|e| e.start <= offset)
        .map(|e| e.term)
}

/// Checks that `records` are whole, CRC-valid batches covering exactly
/// `[from, end)`, each stamped with the epoch the history gives its offsets
/// (no epoch may start inside a batch). Returns the headers.
pub(crate) fn check_attached(
    records: &[u8],
    from: Offset,
    end: Offset,
    epochs: &[EpochStart],
) -> Result<Vec<BatchHeader>, String> {
    if from == end {
        return match records.is_empty() {
            true => Ok(Vec::new()),
            false => Err("a heartbeat carries bytes".to_owned()),
        };
    }
    let headers = batch::split_batches(records)?;
    let mut expected = from.0;
    for header in &headers {
        if header.base_offset.0 != expected {
            return Err(format!(
                "batch at offset {} where {expected} was expected",
                header.base_offset
            ));
        }
        let next = header.next_offset().0;
        let term = term_at(epochs, Offset(expected)).ok_or("no epoch covers the batch")?;
        if header.leader_epoch.0 != term.0 {
            return Err(format!("batch epoch {} is not {term}", header.leader_epoch));
        }
        if epochs
            .iter()
            .any(|e| e.start.0 > expected && e.start.0 < next)
        {
            return Err("an epoch starts inside a batch".to_owned());
        }
        expected = next;
    }
    if expected != end.0 {
        return Err(format!("batches end at {expected}, the append at {end}"));
    }
    Ok(headers)
}

/// The bytes of the batches from the one based at `from` on.
pub(crate) fn suffix_from<'a>(
    records: &'a [u8],
    headers: &[BatchHeader],
    from: Offset,
) -> Option<&'a [u8]> {
    let mut position = 0usize;
    for header in headers {
        if header.base_offset == StorageOffset(from.0) {
            return Some(&records[position..]);
        }
        position += header.size as usize;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_storage::LeaderEpoch;

    fn stamped(base: i64, count: i32, epoch: i32) -> Vec<u8> {
        let mut bytes = batch::build_batch(count, Timestamp(1), 8, 7);
        batch::stamp(&mut bytes, StorageOffset(base), LeaderEpoch(epoch));
        bytes
    }

    #[test]
    fn attached_bytes_must_cover_the_append_exactly() {
        let epochs = [EpochStart {
            term: Term(2),
            start: Offset(5),
        }];
        let mut records = stamped(5, 3, 2);
        records.extend(stamped(8, 2, 2));
        assert!(check_attached(&records, Offset(5), Offset(10), &epochs).is_ok());
        assert!(check_attached(&records, Offset(5), Offset(11), &epochs).is_err());
        assert!(check_attached(&records, Offset(4), Offset(10), &epochs).is_err());
        let wrong_epoch = stamped(5, 5, 1);
        assert!(check_attached(&wrong_epoch, Offset(5), Offset(10), &epochs).is_err());
        let headers = check_attached(&records, Offset(5), Offset(10), &epochs).expect("valid");
        let tail = suffix_from(&records, &headers, Offset(8)).expect("a batch starts there");
        assert_eq!(tail, &stamped(8, 2, 2)[..]);
        assert!(suffix_from(&records, &headers, Offset(6)).is_none());
    }

    #[test]
    fn the_leader_change_batch_is_one_valid_control_record() {
        let bytes = leader_change_batch(Timestamp(5));
        assert_eq!(offsets_in(&bytes), Ok(1));
    }
}
