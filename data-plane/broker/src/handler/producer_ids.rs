//! InitProducerId for idempotent producers: every call gets a new producer
//! id at epoch 0, as Kafka does without a transactional id (a producer that
//! asks again, KIP-360, starts over with a fresh id and sequence 0). A
//! transactional id is refused: transactions are not served (an empty one
//! is INVALID_REQUEST, as Kafka answers).

use kafka_protocol::ResponseError;
use kafka_protocol::messages::{InitProducerIdRequest, InitProducerIdResponse, ProducerId};

use super::{Handler, blocking};

impl Handler {
    pub(super) async fn init_producer_id(
        &self,
        request: &InitProducerIdRequest,
    ) -> InitProducerIdResponse {
        let refused = |error: ResponseError| {
            InitProducerIdResponse::default()
                .with_error_code(error.code())
                .with_producer_id(ProducerId(-1))
                .with_producer_epoch(-1)
        };
        match request.transactional_id.as_deref().map(|id| id.is_empty()) {
            None => {}
            // Kafka's coordinator answers an empty transactional id so.
            Some(true) => return refused(ResponseError::InvalidRequest),
            Some(false) => return refused(ResponseError::TransactionalIdAuthorizationFailed),
        }
        let ids = std::sync::Arc::clone(&self.producer_ids);
        match blocking(move || ids.allocate()).await {
            Some(Ok(id)) => {
                self.metrics.producer_ids_allocated.inc();
                tracing::debug!(producer_id = id, "producer id allocated");
                InitProducerIdResponse::default()
                    .with_producer_id(ProducerId(id))
                    .with_producer_epoch(0)
            }
            Some(Err(error)) => {
                tracing::warn!(%error, "cannot allocate a producer id");
                refused(ResponseError::KafkaStorageError)
            }
            None => refused(ResponseError::UnknownServerError),
        }
    }
}
