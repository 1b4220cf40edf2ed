//! Cluster mode for the group coordinator: groups are served only while
//! this broker leads the replicated group log (see `cluster::leadership`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use kafka_protocol::ResponseError;
use kafka_protocol::messages::find_coordinator_response::Coordinator as FoundCoordinator;
use kafka_protocol::messages::{BrokerId, FindCoordinatorRequest, FindCoordinatorResponse};
use kafka_protocol::protocol::StrBytes;

use super::{Groups, Runtime, replay};
use crate::group::{Coordinator, GroupConfig};
use crate::partition::{PartitionReplica, ReplicaError};

impl Groups {
    /// Cluster mode at start: coordinating nothing until this broker leads
    /// the group log's partition ([`Groups::activate`]).
    pub fn standby() -> Self {
        Self {
            runtime: Arc::new(Mutex::new(Runtime {
                coordinator: Coordinator::new(GroupConfig::default()),
                next_token: 0,
                waiting: HashMap::new(),
                log: Arc::new(crate::cluster::replica::Unhosted::new(None)),
                serving: false,
            })),
            started: Instant::now(),
        }
    }

    /// Whether this broker coordinates groups now.
    pub fn serving(&self) -> bool {
        self.runtime
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .serving
    }

    /// Cluster mode: this broker now leads the group log's partition `log`
    /// (every entry of its log is committed or will be): the coordinator
    /// state is rebuilt from it and groups are served. Requests waiting on
    /// the previous state are dropped (their clients retry).
    pub fn activate(&self, log: Arc<dyn PartitionReplica>) -> Result<u64, ReplicaError> {
        let mut coordinator = Coordinator::new(GroupConfig::default());
        let replayed = replay(&*log, &mut coordinator)?;
        let mut runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner());
        *runtime = Runtime {
            coordinator,
            next_token: runtime.next_token,
            waiting: HashMap::new(),
            log,
            serving: true,
        };
        Ok(replayed)
    }

    /// Cluster mode: leadership of the group log moved away.
    pub fn deactivate(&self) {
        let mut runtime = self.runtime.lock().unwrap_or_else(|e| e.into_inner());
        *runtime = Runtime {
            coordinator: Coordinator::new(GroupConfig::default()),
            next_token: runtime.next_token,
            waiting: HashMap::new(),
            log: Arc::new(crate::cluster::replica::Unhosted::new(None)),
            serving: false,
        };
    }
}

impl crate::handler::Handler {
    pub(in crate::handler) fn find_coordinator(
        &self,
        request: &FindCoordinatorRequest,
        version: i16,
    ) -> FindCoordinatorResponse {
        let coordinator = self.coordinator();
        let code = if coordinator.is_some() {
            0
        } else {
            ResponseError::CoordinatorNotAvailable.code()
        };
        let broker = coordinator.unwrap_or(crate::handler::BrokerEntry {
            id: -1,
            host: StrBytes::default(),
            port: -1,
            rack: None,
        });
        if version >= 4 {
            let coordinators = request
                .coordinator_keys
                .iter()
                .map(|key| {
                    FoundCoordinator::default()
                        .with_key(key.clone())
                        .with_node_id(BrokerId(broker.id))
                        .with_host(broker.host.clone())
                        .with_port(broker.port)
                        .with_error_code(code)
                })
                .collect();
            return FindCoordinatorResponse::default().with_coordinators(coordinators);
        }
        FindCoordinatorResponse::default()
            .with_node_id(BrokerId(broker.id))
            .with_host(broker.host)
            .with_port(broker.port)
            .with_error_code(code)
    }

    /// The broker coordinating every group: this one when alone; in a
    /// cluster the leader of the group log's partition
    /// (`__consumer_offsets`-0), `None` while it has none.
    fn coordinator(&self) -> Option<crate::handler::BrokerEntry> {
        let Some(cluster) = &self.cluster else {
            return Some(crate::handler::BrokerEntry {
                id: self.node_id,
                host: self.advertised_host.clone(),
                port: self.advertised_port,
                rack: self.rack.clone(),
            });
        };
        let image = cluster.image();
        let name = fjord_metadata::TopicName::new(crate::cluster::GROUP_LOG_TOPIC).ok()?;
        let leader = image.topic(&name)?.partitions.first()?.leader?;
        let (brokers, _) = self.brokers();
        brokers
            .into_iter()
            .find(|broker| i64::from(broker.id) == i64::from(leader.0))
    }
}
