//! The controller group on this node. Every voter tails the group's
//! committed log and applies each metadata record to its image, in log
//! order (one record per batch); the outcome of each apply (applied, or
//! refused with a reason) is kept for a while so the broker that proposed a
//! record learns what became of it. Only the group's Raft leader proposes.
//!
//! Failure model: a record is acknowledged to its proposer only once it is
//! committed and applied here; a proposer that sees an error (leadership
//! moved, timeout) does not know whether its record made it, so every
//! request is built to be retried (registration, heartbeats and reports are
//! idempotent; a retried CreateTopic answers "already exists").

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fjord_metadata::{BrokerId, MetadataImage, MetadataRecord, Millis};
use fjord_node::{Node, PartitionStatus, PeerAddress};
use fjord_storage::batch::{HEADER_BYTES, split_batches};
use fjord_storage::{ByteSize, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use super::CONTROLLER_GROUP;

/// Outcomes kept for proposers to find.
const OUTCOMES_KEPT: usize = 4096;
/// Bytes read from the controller log per step.
const READ_BYTES: u64 = 1024 * 1024;

/// Why a proposal did not take effect.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProposeError {
    #[error("this broker is not the controller leader")]
    NotLeader { leader: Option<u32> },
    #[error("refused: {0}")]
    Refused(fjord_metadata::Error),
    #[error("the controller could not commit the record: {0}")]
    Failed(String),
}

#[derive(Debug)]
pub struct Controller {
    node: Arc<Node>,
    me: BrokerId,
    image: watch::Sender<Arc<MetadataImage>>,
    /// The next controller log offset to apply.
    applied: watch::Sender<i64>,
    outcomes: Mutex<BTreeMap<i64, Result<(), fjord_metadata::Error>>>,
    status: watch::Receiver<PartitionStatus>,
    /// A broker outside the voters: the leader it last heard of.
    observed: Option<watch::Sender<PartitionStatus>>,
}

/// Committed controller records from `from` on, as a voter serves them to
/// brokers outside the voters (`GET /v1/internal/controller/records`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordsPage {
    /// The controller leader the serving voter knows.
    pub leader: Option<u32>,
    /// The offset after the last record (or control batch) in the page.
    pub next: i64,
    /// `(offset, record)`; `None` for a record the voter could not decode.
    pub records: Vec<(i64, Option<MetadataRecord>)>,
}

impl Controller {
    /// Starts the applier on the controller group hosted by `node`.
    pub async fn start(node: Arc<Node>, me: BrokerId) -> fjord_node::Result<Arc<Controller>> {
        let status = node.watch(CONTROLLER_GROUP).await?;
        let controller = Arc::new(Controller::new(node, me, status, None));
        tokio::spawn(Arc::clone(&controller).apply_loop());
        Ok(controller)
    }

    fn new(
        node: Arc<Node>,
        me: BrokerId,
        status: watch::Receiver<PartitionStatus>,
        observed: Option<watch::Sender<PartitionStatus>>,
    ) -> Controller {
        Controller {
            node,
            me,
            image: watch::Sender::new(Arc::new(MetadataImage::new())),
            applied: watch::Sender::new(0),
            outcomes: Mutex::new(BTreeMap::new()),
            status,
            observed,
        }
    }

    /// A broker outside the controller voters: it follows the committed
    /// controller log by asking the voters (their admin addresses) for it,
    /// and never proposes.
    pub fn start_observer(
        node: Arc<Node>,
        me: BrokerId,
        voters: BTreeMap<u32, PeerAddress>,
        http: reqwest::Client,
    ) -> Arc<Controller> {
        let observed = watch::Sender::new(PartitionStatus {
            is_leader: false,
            leader: None,
            term: 0,
            high_watermark: 0,
            log_start: 0,
            log_end: 0,
            voters: voters
                .keys()
                .map(|id| fjord_replication::NodeId(*id))
                .collect(),
            followers: Vec::new(),
        });
        let status = observed.subscribe();
        let controller = Arc::new(Controller::new(node, me, status, Some(observed)));
        tokio::spawn(Arc::clone(&controller).observe_loop(voters, http));
        controller
    }

    /// The committed records from `from` (a voter answering an observer);
    /// waits up to `wait` for one if there is none yet.
    pub async fn records_from(&self, from: i64, wait: Duration) -> Result<RecordsPage, String> {
        let mut applied = self.applied.subscribe();
        for round in 0..2 {
            let fetched = self
                .node
                .read(CONTROLLER_GROUP, from, ByteSize(READ_BYTES))
                .await
                .map_err(|error| error.to_string())?;
            if !fetched.bytes.is_empty() || round == 1 {
                let batches = decode_batches(from, &fetched.bytes)?;
                return Ok(RecordsPage {
                    leader: self.leader(),
                    next: batches.next,
                    records: batches
                        .records
                        .into_iter()
                        .map(|(offset, record)| (offset, record.ok()))
                        .collect(),
                });
            }
            let _ = tokio::time::timeout(wait, applied.wait_for(|next| *next > from)).await;
        }
        unreachable!("the second round always answers")
    }

    /// An observer's applier: pages of committed records from the voters.
    async fn observe_loop(
        self: Arc<Self>,
        voters: BTreeMap<u32, PeerAddress>,
        http: reqwest::Client,
    ) {
        let ids: Vec<u32> = voters.keys().copied().collect();
        let mut next = 0i64;
        let mut attempt = 0usize;
        loop {
            // The leader first (its log is the newest), else the voters in turn.
            let target = self
                .leader()
                .filter(|_| attempt.is_multiple_of(2))
                .or_else(|| ids.get(attempt % ids.len().max(1)).copied());
            let Some(address) = target.and_then(|id| voters.get(&id)) else {
                return;
            };
            let url = format!("http://{address}/v1/internal/controller/records?from={next}");
            let page = match http.get(&url).send().await {
                Ok(response) => response.json::<RecordsPage>().await.ok(),
                Err(_) => None,
            };
            let Some(page) = page else {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            };
            if let Some(observed) = &self.observed {
                observed.send_modify(|status| {
                    status.leader = page.leader.map(fjord_replication::NodeId)
                });
            }
            if page.next > next {
                let records = page
                    .records
                    .into_iter()
                    .map(|(offset, record)| {
                        (
                            offset,
                            record.ok_or_else(|| {
                                fjord_metadata::Error::Decode("undecodable on the voter".into())
                            }),
                        )
                    })
                    .collect();
                next = self.apply_records(Decoded {
                    records,
                    next: page.next,
                });
            }
        }
    }

    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Arc<MetadataImage>> {
        self.image.subscribe()
    }

    /// The controller leader as this node knows it.
    pub fn leader(&self) -> Option<u32> {
        self.status.borrow().leader.map(|id| id.0)
    }

    /// The controller voters (the configuration in this node's log).
    pub fn voters(&self) -> usize {
        self.status.borrow().voters.len()
    }

    pub fn is_leader(&self) -> bool {
        self.status.borrow().is_leader
    }

    pub fn me(&self) -> BrokerId {
        self.me
    }

    /// Validates, appends and waits until `record` is committed and applied
    /// here; returns what applying it came to.
    pub async fn propose(&self, record: MetadataRecord) -> Result<(), ProposeError> {
        if !self.is_leader() {
            return Err(ProposeError::NotLeader {
                leader: self.leader(),
            });
        }
        self.image()
            .validate(&record)
            .map_err(ProposeError::Refused)?;
        let bytes = record
            .encode()
            .map_err(|error| ProposeError::Failed(error.to_string()))?;
        let offset = match self
            .node
            .append(CONTROLLER_GROUP, record_batch(&bytes))
            .await
        {
            Ok(offset) => offset,
            Err(fjord_node::Error::NotLeader { leader, .. }) => {
                return Err(ProposeError::NotLeader {
                    leader: leader.map(|id| id.0),
                });
            }
            Err(error) => return Err(ProposeError::Failed(error.to_string())),
        };
        let mut applied = self.applied.subscribe();
        if applied.wait_for(|next| *next > offset).await.is_err() {
            return Err(ProposeError::Failed("the controller stopped".into()));
        }
        let outcome = self
            .outcomes
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&offset)
            .cloned();
        match outcome {
            Some(Ok(())) => Ok(()),
            Some(Err(error)) => Err(ProposeError::Refused(error)),
            None => Err(ProposeError::Failed(format!(
                "the outcome of controller record {offset} is no longer kept"
            ))),
        }
    }

    /// Tails the committed controller log for as long as the node runs.
    async fn apply_loop(self: Arc<Self>) {
        let mut status = self.status.clone();
        let mut next = 0i64;
        loop {
            let fetched = self
                .node
                .read(CONTROLLER_GROUP, next, ByteSize(READ_BYTES))
                .await;
            match fetched {
                Ok(fetched) if !fetched.bytes.is_empty() => {
                    next = self.apply_batches(next, &fetched.bytes);
                    debug_assert_eq!(next, fetched.next_offset.0);
                    continue;
                }
                Ok(_) => {}
                Err(fjord_node::Error::Stopped) => {
                    info!("controller applier stopped with the node");
                    return;
                }
                Err(error) => {
                    warn!(%error, next, "cannot read the controller log");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            }
            // Nothing new: wait for the high watermark to move.
            let _ = tokio::time::timeout(Duration::from_millis(200), status.changed()).await;
        }
    }

    /// Applies whole batches read from `start`; returns the next offset.
    fn apply_batches(&self, start: i64, bytes: &[u8]) -> i64 {
        match decode_batches(start, bytes) {
            Ok(decoded) => self.apply_records(decoded),
            Err(reason) => {
                // Committed bytes that do not parse: stopping here keeps the
                // image at a known prefix instead of guessing past it.
                error!(%reason, start, "corrupt controller log; the metadata image stops here");
                start
            }
        }
    }

    /// Applies decoded records in order and publishes the image; returns
    /// the next offset.
    fn apply_records(&self, decoded: Decoded) -> i64 {
        let mut image = (*self.image()).clone();
        let mut outcomes = Vec::with_capacity(decoded.records.len());
        for (offset, record) in decoded.records {
            let outcome = match record {
                Ok(record) => {
                    let outcome = image.apply(&record);
                    match &outcome {
                        Ok(()) => debug!(offset, ?record, "metadata record applied"),
                        Err(error) => debug!(offset, %error, "metadata record refused"),
                    }
                    outcome
                }
                Err(error) => {
                    warn!(offset, %error, "undecodable metadata record skipped");
                    Err(error)
                }
            };
            outcomes.push((offset, outcome));
        }
        {
            let mut kept = self.outcomes.lock().unwrap_or_else(PoisonError::into_inner);
            kept.extend(outcomes);
            while kept.len() > OUTCOMES_KEPT {
                kept.pop_first();
            }
        }
        self.image.send_replace(Arc::new(image));
        self.applied.send_replace(decoded.next);
        decoded.next
    }

    /// The leader's duty: fence brokers whose session lapsed. A new leader
    /// first waits one session timeout, so brokers that heartbeated to the
    /// previous leader are not fenced for its absence.
    pub async fn run_liveness(self: Arc<Self>, session_timeout_ms: u64) {
        let mut leader_since: Option<std::time::Instant> = None;
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            if !self.is_leader() {
                leader_since = None;
                continue;
            }
            let since = *leader_since.get_or_insert_with(std::time::Instant::now);
            if since.elapsed() < Duration::from_millis(session_timeout_ms) {
                continue;
            }
            let expired = fjord_metadata::liveness::expired_sessions(
                &self.image(),
                now(),
                session_timeout_ms,
            );
            for record in expired {
                info!(?record, "broker session lapsed, fencing it");
                if let Err(error) = self.propose(record).await {
                    debug!(%error, "fencing did not take effect");
                }
            }
        }
    }
}

/// Records decoded from whole batches, control batches skipped.
#[derive(Debug)]
struct Decoded {
    records: Vec<(i64, Result<MetadataRecord, fjord_metadata::Error>)>,
    /// The offset after the last batch.
    next: i64,
}

fn decode_batches(start: i64, bytes: &[u8]) -> Result<Decoded, String> {
    let headers = split_batches(bytes)?;
    let mut records = Vec::with_capacity(headers.len());
    let mut position = 0usize;
    let mut next = start;
    for header in &headers {
        let size = header.size as usize;
        let batch = &bytes[position..position + size];
        position += size;
        next = header.next_offset().0;
        if is_control(batch) {
            // A new leader's epoch marker or a configuration entry.
            continue;
        }
        records.push((
            header.base_offset.0,
            MetadataRecord::decode(&batch[HEADER_BYTES..]),
        ));
    }
    Ok(Decoded { records, next })
}

/// Attributes bit 5: a control batch, written by the replication layer.
fn is_control(batch: &[u8]) -> bool {
    batch.len() > 22 && i16::from_be_bytes([batch[21], batch[22]]) & 0x20 != 0
}

/// The controller leader's clock for records (wall-clock milliseconds).
pub fn now() -> Millis {
    Millis(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| {
                u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
            }),
    )
}

/// One metadata record as a one-record RecordBatch v2 (the controller log
/// holds batches like every log): the record bytes are the batch's records.
pub fn record_batch(record: &[u8]) -> Vec<u8> {
    let now = i64::try_from(now().0).unwrap_or(i64::MAX);
    let mut batch = fjord_storage::batch::build_batch(1, Timestamp(now), record.len(), 0);
    batch[HEADER_BYTES..].copy_from_slice(record);
    let crc = crc32c::crc32c(&batch[fjord_storage::batch::CRC_START..]);
    batch[17..21].copy_from_slice(&crc.to_be_bytes());
    batch
}
