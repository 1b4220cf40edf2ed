//! Broker metrics, registered as `fjord_broker_*`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ApiLabels {
    pub api: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MechanismLabels {
    pub mechanism: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DenialLabels {
    pub operation: &'static str,
    pub resource_type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// Connection and request counters for the Kafka listener.
#[derive(Clone, Debug, Default)]
pub struct BrokerMetrics {
    /// 1 once the Kafka listener is open: in a cluster, once the broker has
    /// caught up with the controller's metadata (`cluster::startup`).
    pub serving: Gauge,
    /// Milliseconds from process start until serving.
    pub startup_millis: Gauge,
    pub connections_open: Gauge,
    pub connections_accepted: Counter,
    pub connections_closed_by_error: Family<ReasonLabels, Counter>,
    pub requests: Family<ApiLabels, Counter>,
    /// Record-batch bytes appended by Produce.
    pub produced_bytes: Counter,
    /// Produce partitions refused, by Kafka error name.
    pub produce_errors: Family<ErrorLabels, Counter>,
    /// Idempotent retries acknowledged without appending again.
    pub produce_duplicates: Counter,
    /// Times a connection stopped reading for lack of in-flight room.
    pub connection_read_pauses: Counter,
    /// Request bytes read but not yet answered, all connections together.
    pub in_flight_request_bytes: Gauge,
    /// Producer ids handed out by InitProducerId.
    pub producer_ids_allocated: Counter,
    /// Record-batch bytes returned by Fetch.
    pub fetched_bytes: Counter,
    /// Topic config changes applied (CreateTopics configs not included).
    pub topic_config_changes: Counter,
    /// Timestamp lookups refused because the batch would decompress past
    /// the bound.
    pub timestamp_lookups_refused: Counter,
    /// Group-log partitions whose consumer groups this broker coordinates.
    pub group_log_partitions_served: Gauge,
    /// Bytes of the files in the data directory (refreshed periodically).
    pub disk_used_bytes: Gauge,
    /// TLS handshakes on the Kafka listener that failed or timed out.
    pub tls_handshake_failures: Counter,
    /// Changed TLS files taken (`loaded`) or refused (`failed`).
    pub tls_reloads: Family<OutcomeLabels, Counter>,
    /// TLS handshakes on the admin TLS port that failed or timed out.
    pub admin_tls_handshake_failures: Counter,
    /// Changed peer (replication) TLS files taken or refused.
    pub peer_tls_reloads: Family<OutcomeLabels, Counter>,
    /// Refused SASL handshakes and authentications, by mechanism.
    pub authentication_failures: Family<MechanismLabels, Counter>,
    /// Successful SASL authentications, re-authentications (KIP-368)
    /// included, by mechanism.
    pub authentications: Family<MechanismLabels, Counter>,
    /// Operations refused by the ACL authorizer.
    pub authorization_denials: Family<DenialLabels, Counter>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    pub error: String,
}

impl BrokerMetrics {
    pub fn register(metrics: &mut fjord_telemetry::Metrics) -> Self {
        let this = Self::default();
        let registry = metrics.registry_mut();
        registry.register(
            "fjord_broker_serving",
            "1 once the broker serves Kafka clients (a cluster broker: once caught up with the controller)",
            this.serving.clone(),
        );
        registry.register(
            "fjord_broker_startup_millis",
            "Milliseconds from process start until the broker served Kafka clients",
            this.startup_millis.clone(),
        );
        registry.register(
            "fjord_broker_connections_open",
            "Kafka client connections currently open",
            this.connections_open.clone(),
        );
        registry.register(
            "fjord_broker_connections_accepted",
            "Kafka client connections accepted",
            this.connections_accepted.clone(),
        );
        registry.register(
            "fjord_broker_connections_closed_by_error",
            "Connections the broker closed because of bad input or an I/O error, by reason",
            this.connections_closed_by_error.clone(),
        );
        registry.register(
            "fjord_broker_requests",
            "Kafka requests handled, by API",
            this.requests.clone(),
        );
        registry.register(
            "fjord_broker_disk_used_bytes",
            "Bytes of the files in the broker's data directory, refreshed every 15 s",
            this.disk_used_bytes.clone(),
        );
        registry.register(
            "fjord_broker_produced_bytes",
            "Record-batch bytes appended by Produce",
            this.produced_bytes.clone(),
        );
        registry.register(
            "fjord_broker_produce_errors",
            "Produce partitions refused, by Kafka error",
            this.produce_errors.clone(),
        );
        registry.register(
            "fjord_broker_produce_duplicates",
            "Idempotent producer retries acknowledged with their original offsets, not appended",
            this.produce_duplicates.clone(),
        );
        registry.register(
            "fjord_broker_connection_read_pauses",
            "Times a connection stopped reading requests because its in-flight requests or bytes were at their bound",
            this.connection_read_pauses.clone(),
        );
        registry.register(
            "fjord_broker_in_flight_request_bytes",
            "Request bytes read but not yet answered, over all connections",
            this.in_flight_request_bytes.clone(),
        );
        registry.register(
            "fjord_broker_producer_ids_allocated",
            "Producer ids handed out by InitProducerId",
            this.producer_ids_allocated.clone(),
        );
        registry.register(
            "fjord_broker_fetched_bytes",
            "Record-batch bytes returned by Fetch",
            this.fetched_bytes.clone(),
        );
        registry.register(
            "fjord_broker_topic_config_changes",
            "Topic config changes applied by AlterConfigs and IncrementalAlterConfigs",
            this.topic_config_changes.clone(),
        );
        registry.register(
            "fjord_broker_timestamp_lookups_refused",
            "ListOffsets timestamp lookups refused because the batch decompresses past the bound",
            this.timestamp_lookups_refused.clone(),
        );
        registry.register(
            "fjord_broker_group_log_partitions_served",
            "Group-log partitions whose consumer groups this broker coordinates",
            this.group_log_partitions_served.clone(),
        );
        registry.register(
            "fjord_broker_tls_handshake_failures",
            "TLS handshakes on the Kafka listener that failed or did not finish in time",
            this.tls_handshake_failures.clone(),
        );
        registry.register(
            "fjord_broker_tls_reloads",
            "Changed TLS files taken (loaded) or refused (failed) by the Kafka listener",
            this.tls_reloads.clone(),
        );
        registry.register(
            "fjord_broker_admin_tls_handshake_failures",
            "TLS handshakes on the admin TLS port that failed (no or a foreign certificate chain) or did not finish in time",
            this.admin_tls_handshake_failures.clone(),
        );
        registry.register(
            "fjord_broker_peer_tls_reloads",
            "Changed peer (replication) TLS files taken (loaded) or refused (failed)",
            this.peer_tls_reloads.clone(),
        );
        registry.register(
            "fjord_broker_authentication_failures",
            "Refused SASL handshakes and authentications, by mechanism",
            this.authentication_failures.clone(),
        );
        registry.register(
            "fjord_broker_authentications",
            "Successful SASL authentications, re-authentications on an open connection included, by mechanism",
            this.authentications.clone(),
        );
        registry.register(
            "fjord_broker_authorization_denials",
            "Operations the ACL authorizer refused, by operation and resource type",
            this.authorization_denials.clone(),
        );
        this
    }
}
