//! Reaching the controller leader from any broker: locally when this
//! broker leads the controller group, else over the leader's admin HTTP
//! address (`--controller-voters`), following "not leader" hints and trying
//! the other voters until a deadline.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fjord_node::PeerAddress;
use tracing::debug;

use super::controller::Controller;
use super::requests::{self, ControllerReply, ControllerRequest, RefusalKind};
use crate::topic_config::Overrides;
use crate::topics::{RemoteTopics, TopicError};

/// How long one request may take to find a leader and be answered.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(10);
/// The controller endpoint on every voter's admin port.
pub const CONTROLLER_PATH: &str = "/v1/internal/controller";

#[derive(Debug)]
pub struct ControllerClient {
    controller: Arc<Controller>,
    voters: BTreeMap<u32, PeerAddress>,
    http: reqwest::Client,
}

impl ControllerClient {
    /// `http` comes from [`super::resolve::http_client`].
    pub fn new(
        controller: Arc<Controller>,
        voters: BTreeMap<u32, PeerAddress>,
        http: reqwest::Client,
    ) -> Self {
        Self {
            controller,
            voters,
            http,
        }
    }

    pub fn controller(&self) -> &Arc<Controller> {
        &self.controller
    }

    /// Sends `request` to the controller leader and returns its answer;
    /// `Failed` if no leader answered before the deadline.
    pub async fn call(&self, request: &ControllerRequest) -> ControllerReply {
        let deadline = Instant::now() + REQUEST_DEADLINE;
        let mut hint = self.controller.leader();
        let mut attempt = 0usize;
        let mut last_failure = String::from("no controller leader answered in time");
        loop {
            let me = self.controller.me().0;
            let target = hint.or_else(|| {
                // No leader known: try the voters in turn.
                let ids: Vec<_> = self.voters.keys().copied().collect();
                ids.get(attempt % ids.len().max(1)).copied()
            });
            let reply = match target {
                Some(id) if id == me => requests::handle(&self.controller, request.clone()).await,
                Some(id) => self.remote(id, request).await,
                None => ControllerReply::NotLeader { leader: None },
            };
            match reply {
                ControllerReply::NotLeader { leader } => {
                    hint = leader.filter(|next| Some(*next) != target);
                }
                ControllerReply::Failed { message } => {
                    debug!(%message, "controller request failed, retrying");
                    last_failure = message;
                    hint = None;
                }
                answer => return answer,
            }
            attempt += 1;
            if Instant::now() >= deadline {
                return ControllerReply::Failed {
                    message: last_failure,
                };
            }
            let pause = Duration::from_millis(50 * (attempt.min(6) as u64));
            tokio::time::sleep(pause).await;
            if hint.is_none() {
                hint = self.controller.leader();
            }
        }
    }

    async fn remote(&self, id: u32, request: &ControllerRequest) -> ControllerReply {
        let Some(address) = self.voters.get(&id) else {
            return ControllerReply::NotLeader { leader: None };
        };
        let url = format!("http://{address}{CONTROLLER_PATH}");
        let sent = self.http.post(&url).json(request).send().await;
        match sent {
            Ok(response) => match response.json::<ControllerReply>().await {
                Ok(reply) => reply,
                Err(error) => ControllerReply::Failed {
                    message: format!("controller {id} answered something else: {error}"),
                },
            },
            Err(error) => ControllerReply::Failed {
                message: format!("controller {id} at {address}: {error}"),
            },
        }
    }
}

/// Topic changes through the controller, for the topic registry
/// ([`crate::topics::RemoteTopics`]); called on blocking threads.
#[derive(Debug)]
pub struct ClusterTopics {
    client: Arc<ControllerClient>,
    runtime: tokio::runtime::Handle,
}

impl ClusterTopics {
    pub fn new(client: Arc<ControllerClient>) -> Self {
        Self {
            client,
            runtime: tokio::runtime::Handle::current(),
        }
    }

    fn call(
        &self,
        name: &str,
        request: ControllerRequest,
    ) -> Result<Option<uuid::Uuid>, TopicError> {
        match super::replica::block_on(&self.runtime, self.client.call(&request)) {
            ControllerReply::Done { topic_id } => Ok(topic_id),
            ControllerReply::Refused { kind, message } => Err(match kind {
                RefusalKind::TopicExists => TopicError::AlreadyExists(name.to_owned()),
                RefusalKind::UnknownTopic => TopicError::Unknown(name.to_owned()),
                RefusalKind::InvalidName => {
                    TopicError::InvalidName(name.to_owned(), "refused by the controller")
                }
                RefusalKind::InvalidPartitions => TopicError::InvalidPartitions(message),
                RefusalKind::InvalidReplicationFactor => TopicError::Controller {
                    code: kafka_protocol::ResponseError::InvalidReplicationFactor,
                    message,
                },
                RefusalKind::InvalidConfig => {
                    TopicError::InvalidConfig(crate::topic_config::InvalidConfig(message))
                }
                RefusalKind::StaleBroker | RefusalKind::Invalid => TopicError::Controller {
                    code: kafka_protocol::ResponseError::InvalidRequest,
                    message,
                },
            }),
            ControllerReply::NotLeader { .. } | ControllerReply::Failed { .. } => {
                Err(TopicError::Controller {
                    code: kafka_protocol::ResponseError::RequestTimedOut,
                    message: "the controller did not answer in time".into(),
                })
            }
        }
    }
}

impl ClusterTopics {
    /// Waits (a bounded while) until every partition of a new topic has a
    /// leader its Raft group reported, so the client's next Metadata finds
    /// leaders rather than LEADER_NOT_AVAILABLE. The topic exists either way.
    fn await_leaders(&self, name: &str) {
        let Ok(name) = fjord_metadata::TopicName::new(name) else {
            return;
        };
        let mut images = self.client.controller().subscribe();
        let led = images.wait_for(|image| {
            image.topic(&name).is_some_and(|topic| {
                topic
                    .partitions
                    .iter()
                    .all(|p| p.leader.is_some() && p.raft_term > 0)
            })
        });
        let waited = super::replica::block_on(&self.runtime, async {
            tokio::time::timeout(LEADERS_WAIT, led).await.is_ok()
        });
        if !waited {
            tracing::info!(topic = %name, "created; some partitions have no leader yet");
        }
    }
}

/// How long CreateTopics waits for the new partitions' first leaders.
const LEADERS_WAIT: Duration = Duration::from_secs(10);

impl RemoteTopics for ClusterTopics {
    fn create(
        &self,
        name: &str,
        partitions: i32,
        replication_factor: i16,
        configs: &Overrides,
        validate_only: bool,
    ) -> Result<uuid::Uuid, TopicError> {
        let request = ControllerRequest::CreateTopic {
            name: name.to_owned(),
            partitions: u32::try_from(partitions).unwrap_or(0),
            replication_factor: u32::try_from(replication_factor).unwrap_or(0),
            configs: configs.clone(),
            validate_only,
        };
        let id = self.call(name, request)?.unwrap_or_default();
        if !validate_only {
            self.await_leaders(name);
        }
        Ok(id)
    }

    fn delete(&self, name: &str) -> Result<(), TopicError> {
        let request = ControllerRequest::DeleteTopic {
            name: name.to_owned(),
        };
        self.call(name, request).map(drop)
    }

    fn add_partitions(
        &self,
        name: &str,
        total: i32,
        validate_only: bool,
    ) -> Result<(), TopicError> {
        let request = ControllerRequest::CreatePartitions {
            name: name.to_owned(),
            total: u32::try_from(total).unwrap_or(0),
            validate_only,
        };
        self.call(name, request).map(drop)
    }

    fn set_configs(&self, name: &str, configs: &Overrides) -> Result<(), TopicError> {
        let request = ControllerRequest::SetTopicConfigs {
            name: name.to_owned(),
            configs: configs.clone(),
        };
        self.call(name, request).map(drop)
    }
}
