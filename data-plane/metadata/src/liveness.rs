//! Broker sessions: a broker whose last heartbeat is older than the session
//! timeout is fenced. Pure: the controller leader passes its clock in.

use crate::image::MetadataImage;
use crate::record::MetadataRecord;
use crate::types::Millis;

/// The `FenceBroker` records for every unfenced broker whose session lapsed
/// at `now` (`now > last_heartbeat + session_timeout`), in broker order.
pub fn expired_sessions(
    image: &MetadataImage,
    now: Millis,
    session_timeout_ms: u64,
) -> Vec<MetadataRecord> {
    image
        .brokers()
        .filter(|broker| {
            !broker.fenced && now.0 > broker.last_heartbeat.0.saturating_add(session_timeout_ms)
        })
        .map(|broker| MetadataRecord::FenceBroker {
            broker: broker.id,
            incarnation: broker.incarnation,
        })
        .collect()
}
