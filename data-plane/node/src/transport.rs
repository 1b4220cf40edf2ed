//! Peer transport: one outbound TCP connection per peer carrying every group.
//!
//! Each peer has a queue; its writer task drains everything queued into one
//! frame (so heartbeats and appends of many groups coalesce), reconnects with
//! exponential backoff, and the queue is bounded in bytes: when it overflows
//! heartbeats are dropped first, then the oldest appends (Raft resends), then
//! the oldest of anything. The bound must hold several appends (the node
//! checks it is at least four times `max_append_bytes`), or appends of groups
//! queued early in a tick would always be dropped for later ones. Inbound connections are read by one task each; frames
//! go to the node's driver, which dispatches by group id.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use fjord_replication::{Message, NodeId};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc};
use tokio::task::JoinSet;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::address::{PeerAddress, Resolver};
use crate::metrics::NodeMetrics;
use crate::peer_tls::{self, PeerStream, PeerTls};
use crate::wire::{self, ClusterId, Envelope, FRAME_BYTES_MAX, Frame, HEADER_BYTES, PeerMessage};

const BACKOFF_MIN: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);

/// A frame received from a peer, checked for cluster and destination.
#[derive(Debug)]
pub(crate) struct Inbound {
    pub(crate) from: NodeId,
    pub(crate) envelopes: Vec<Envelope>,
    /// This frame's share of the inbound byte budget, returned when dropped.
    pub(crate) _budget: OwnedSemaphorePermit,
}

/// Bytes of received frames not yet handled by the driver, all connections
/// together: a frame's reader waits for budget before reading its body.
const INBOUND_BYTES_MAX: usize = 4 * FRAME_BYTES_MAX;
/// Inbound connections read at once; more are refused (peers need one each).
const INBOUND_CONNECTIONS_MAX: usize = 64;

#[derive(Debug, Default)]
struct Queue {
    items: VecDeque<Envelope>,
    bytes: usize,
}

#[derive(Debug)]
struct Peer {
    queue: Mutex<Queue>,
    ready: Notify,
}

/// The sending half, shared by every partition of the node.
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    peers: Arc<BTreeMap<NodeId, Peer>>,
    queue_bytes_max: usize,
    metrics: NodeMetrics,
}

impl Transport {
    /// Starts a writer per peer and the listener; tasks live in `tasks`.
    /// `identity` is this node's cluster and id, stamped on every frame.
    #[expect(
        clippy::too_many_arguments,
        reason = "called once, by Node::start, with the parts of its config"
    )]
    pub(crate) fn start(
        identity: (ClusterId, NodeId),
        peers: &BTreeMap<NodeId, PeerAddress>,
        resolver: &Resolver,
        listener: TcpListener,
        queue_bytes_max: usize,
        inbound: mpsc::Sender<Inbound>,
        metrics: NodeMetrics,
        tls: Option<PeerTls>,
        tasks: &mut JoinSet<()>,
    ) -> Transport {
        let (cluster, me) = identity;
        assert!(!peers.contains_key(&me), "a node is not its own peer");
        assert!(queue_bytes_max > 0);
        let queues = peers.keys().map(|id| {
            let peer = Peer {
                queue: Mutex::new(Queue::default()),
                ready: Notify::new(),
            };
            (*id, peer)
        });
        let transport = Transport {
            peers: Arc::new(queues.collect()),
            queue_bytes_max,
            metrics: metrics.clone(),
        };
        for (id, address) in peers {
            let writer = Writer {
                header: (cluster, me, *id),
                address: address.clone(),
                resolver: resolver.clone(),
                transport: transport.clone(),
                tls: tls.clone(),
            };
            let span = info_span!("peer_writer", node = %me, peer = %id);
            tasks.spawn(writer.run().instrument(span));
        }
        let span = info_span!("peer_listener", node = %me);
        tasks.spawn(listen(listener, (cluster, me), inbound, metrics, tls).instrument(span));
        transport
    }

    /// Whether `id` is a peer this transport can reach.
    pub(crate) fn knows(&self, id: NodeId) -> bool {
        self.peers.contains_key(&id)
    }

    /// Queues `envelope` for `to`; never blocks. Unknown peers are ignored.
    pub(crate) fn send(&self, to: NodeId, envelope: Envelope) {
        let Some(peer) = self.peers.get(&to) else {
            warn!(peer = %to, "message for an unknown peer dropped");
            return;
        };
        let mut queue = peer.queue.lock().unwrap_or_else(PoisonError::into_inner);
        queue.bytes += envelope.encoded_len();
        queue.items.push_back(envelope);
        let mut dropped = 0;
        // Bounded: every round removes one item.
        while queue.bytes > self.queue_bytes_max && queue.items.len() > 1 {
            // Heartbeats first (the next one supersedes them), then the
            // oldest append with entries, then the oldest of anything.
            let items = &queue.items;
            // A log start notice is resent with every heartbeat too.
            let heartbeat = items.iter().position(|e| match &e.message {
                PeerMessage::Raft(Message::Append { from, end, .. }) => from == end,
                PeerMessage::LogStart(_) => true,
                PeerMessage::Raft(_) => false,
            });
            let append = || {
                let is_append =
                    |e: &Envelope| matches!(e.message, PeerMessage::Raft(Message::Append { .. }));
                items.iter().position(is_append)
            };
            let droppable = heartbeat.or_else(append).unwrap_or(0);
            let removed = queue.items.remove(droppable).expect("index is in range");
            queue.bytes -= removed.encoded_len();
            dropped += 1;
        }
        drop(queue);
        if dropped > 0 {
            self.metrics.messages_dropped.inc_by(dropped);
            debug!(peer = %to, dropped, "peer queue full: oldest messages dropped");
        }
        peer.ready.notify_one();
    }

    /// Takes queued envelopes for one frame, up to the frame cap.
    fn drain(&self, to: NodeId) -> Vec<Envelope> {
        let peer = self.peers.get(&to).expect("writers exist only for peers");
        let mut queue = peer.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let mut taken = Vec::new();
        let mut bytes = HEADER_BYTES;
        // Bounded by the queue length; at least one item per frame.
        while let Some(next) = queue.items.front() {
            let size = next.encoded_len();
            if !taken.is_empty() && bytes + size > FRAME_BYTES_MAX {
                break;
            }
            bytes += size;
            queue.bytes -= size;
            taken.extend(queue.items.pop_front());
        }
        taken
    }
}

struct Writer {
    header: (ClusterId, NodeId, NodeId),
    /// Resolved again at every (re)connect: a Pod's address changes when it
    /// restarts, its name does not.
    address: PeerAddress,
    resolver: Resolver,
    transport: Transport,
    tls: Option<PeerTls>,
}

impl Writer {
    async fn run(self) {
        let (_, _, to) = self.header;
        let mut backoff = BACKOFF_MIN;
        loop {
            let Some(stream) = self.connect(&backoff).await else {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            };
            let _ = stream.set_nodelay(true);
            let server_name = self.address.server_name();
            let stream = match peer_tls::connect(self.tls.as_ref(), stream, server_name).await {
                Ok(stream) => stream,
                Err(error) => {
                    self.transport.metrics.handshake_failures.inc();
                    warn!(peer = %to, %error, ?backoff, "peer tls handshake failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            self.transport.metrics.connects.inc();
            info!(peer = %to, address = %self.address, "peer connected");
            backoff = BACKOFF_MIN;
            if let Err(error) = self.write_frames(stream).await {
                warn!(peer = %to, %error, "peer connection lost");
            }
        }
    }

    /// Resolves the peer's address now and connects to the first of its
    /// addresses that answers; `None` (counted, logged) when none does.
    async fn connect(&self, backoff: &Duration) -> Option<TcpStream> {
        let (_, _, to) = self.header;
        let resolved = match self.resolver.resolve(&self.address).await {
            Ok(resolved) => resolved,
            Err(error) => {
                debug!(peer = %to, address = %self.address, %error, ?backoff, "peer address did not resolve");
                return None;
            }
        };
        // Bounded by the resolver's answer.
        for socket in resolved {
            match TcpStream::connect(socket).await {
                // A connect to a free local port in the ephemeral range can
                // be given that same port as its source: TCP's simultaneous
                // open then connects the socket to itself. It must not count
                // as the peer (it would hold the peer's port and keep the
                // restarted peer from binding it): drop it and try again.
                Ok(stream) if is_self_connected(&stream) => {
                    self.transport.metrics.connect_failures.inc();
                    debug!(peer = %to, address = %self.address, %socket, "connected to itself: dropped");
                }
                Ok(stream) => return Some(stream),
                Err(error) => {
                    self.transport.metrics.connect_failures.inc();
                    debug!(peer = %to, address = %self.address, %socket, %error, ?backoff, "peer connect failed");
                }
            }
        }
        None
    }

    /// Writes frames until the connection fails.
    async fn write_frames(&self, mut stream: PeerStream) -> std::io::Result<()> {
        let (cluster, from, to) = self.header;
        let peer = self.transport.peers.get(&to).expect("peer exists");
        loop {
            let envelopes = self.transport.drain(to);
            if envelopes.is_empty() {
                peer.ready.notified().await;
                continue;
            }
            let messages = envelopes.len() as u64;
            let frame = Frame {
                cluster,
                from,
                to,
                envelopes,
            };
            let bytes = wire::encode_frame(&frame);
            stream.write_all(&bytes).await?;
            let metrics = &self.transport.metrics;
            metrics.frames_sent.inc();
            metrics.messages_sent.inc_by(messages);
            metrics.bytes_sent.inc_by(bytes.len() as u64);
        }
    }
}

/// Whether a connected socket's source is its own destination.
fn is_self_connected(stream: &TcpStream) -> bool {
    matches!((stream.local_addr(), stream.peer_addr()), (Ok(local), Ok(peer)) if local == peer)
}

async fn listen(
    listener: TcpListener,
    me: (ClusterId, NodeId),
    inbound: mpsc::Sender<Inbound>,
    metrics: NodeMetrics,
    tls: Option<PeerTls>,
) {
    // Readers die with this task (the set aborts them when dropped).
    let mut readers = JoinSet::new();
    let budget = Arc::new(Semaphore::new(INBOUND_BYTES_MAX));
    loop {
        // Reap finished readers so the set stays bounded by live connections.
        while readers.try_join_next().is_some() {}
        match listener.accept().await {
            Ok((_, address)) if readers.len() >= INBOUND_CONNECTIONS_MAX => {
                warn!(%address, "too many peer connections: refused");
            }
            Ok((stream, address)) => {
                let _ = stream.set_nodelay(true);
                debug!(%address, "peer connection accepted");
                let reader = Reader {
                    me,
                    inbound: inbound.clone(),
                    budget: budget.clone(),
                    metrics: metrics.clone(),
                };
                let tls = tls.clone();
                // The handshake runs on the reader's task: a stalled peer
                // holds only its own connection.
                readers.spawn(
                    async move {
                        match peer_tls::accept(tls.as_ref(), stream).await {
                            Ok(stream) => reader.run(stream).await,
                            Err(error) => {
                                reader.metrics.handshake_failures.inc();
                                warn!(%address, %error, "peer tls handshake refused");
                            }
                        }
                    }
                    .in_current_span(),
                );
            }
            Err(error) => {
                warn!(%error, "accepting a peer connection failed");
                tokio::time::sleep(BACKOFF_MIN).await;
            }
        }
    }
}

struct Reader {
    me: (ClusterId, NodeId),
    inbound: mpsc::Sender<Inbound>,
    budget: Arc<Semaphore>,
    metrics: NodeMetrics,
}

impl Reader {
    /// Reads frames until the peer closes or sends something invalid.
    async fn run(self, mut stream: PeerStream) {
        let (cluster, id) = self.me;
        let metrics = &self.metrics;
        loop {
            let Some((decoded, budget)) = self.read_frame(&mut stream).await else {
                return;
            };
            let frame = match decoded {
                Ok(frame) if frame.cluster == cluster && frame.to == id => frame,
                Ok(frame) => {
                    metrics.frames_invalid.inc();
                    warn!(from = %frame.from, to = %frame.to, "frame for another cluster or node");
                    return;
                }
                Err(error) => {
                    metrics.frames_invalid.inc();
                    warn!(%error, "invalid peer frame: closing the connection");
                    return;
                }
            };
            metrics.frames_received.inc();
            let count = frame.envelopes.len() as u64;
            metrics.messages_received.inc_by(count);
            let message = Inbound {
                from: frame.from,
                envelopes: frame.envelopes,
                _budget: budget,
            };
            if self.inbound.send(message).await.is_err() {
                return; // the node stopped
            }
        }
    }

    /// One frame, decoded, with the budget its bytes hold; `None` when the
    /// connection ended.
    async fn read_frame(
        &self,
        stream: &mut PeerStream,
    ) -> Option<(Result<Frame, wire::WireError>, OwnedSemaphorePermit)> {
        let mut prefix = [0u8; 4];
        stream.read_exact(&mut prefix).await.ok()?;
        let length = match wire::frame_length(prefix) {
            Ok(length) => length,
            Err(error) => {
                let nothing = self.budget.clone().try_acquire_many_owned(0).ok()?;
                return Some((Err(error), nothing));
            }
        };
        let permits = u32::try_from(length).expect("frames are capped");
        let budget = self.budget.clone().acquire_many_owned(permits).await.ok()?;
        // Grows with the bytes that arrive, not with the length claimed.
        let mut buffer = Vec::new();
        let read = stream.take(length as u64).read_to_end(&mut buffer).await;
        if read.ok()? != length {
            return None;
        }
        Some((wire::decode_after_length(&buffer), budget))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fjord_replication::{LogPosition, Offset, Term};

    use crate::wire::GroupId;

    #[tokio::test]
    async fn a_socket_connected_to_itself_is_told_apart_from_a_peer() {
        // A real connection to a listener is a peer.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert!(!is_self_connected(&peer));
        // A socket bound to a free port and connected to that same port is
        // what a simultaneous open with itself leaves.
        let port = {
            let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            free.local_addr().unwrap()
        };
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket.bind(port).unwrap();
        let itself = socket.connect(port).await.unwrap();
        assert!(is_self_connected(&itself));
    }

    fn transport(queue_bytes_max: usize) -> Transport {
        let peer = Peer {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
        };
        Transport {
            peers: Arc::new([(NodeId(2), peer)].into_iter().collect()),
            queue_bytes_max,
            metrics: NodeMetrics::default(),
        }
    }

    fn append(group: u64) -> Envelope {
        let message = Message::Append {
            term: Term(1),
            from: Offset(0),
            prev_term: Term(0),
            end: Offset(1),
            epochs: Vec::new(),
            configs: Vec::new(),
            commit: Offset(0),
        };
        Envelope {
            group: GroupId(group),
            message: message.into(),
            records: vec![0; 300],
        }
    }

    #[test]
    fn a_full_peer_queue_drops_the_oldest_appends_first_and_stays_bounded() {
        let transport = transport(1000);
        let vote = Envelope {
            group: GroupId(1),
            message: Message::Vote {
                term: Term(2),
                last: LogPosition::default(),
                transfer: false,
            }
            .into(),
            records: Vec::new(),
        };
        transport.send(NodeId(2), vote.clone());
        for group in 10..20 {
            transport.send(NodeId(2), append(group));
        }
        let drained = transport.drain(NodeId(2));
        let bytes: usize = drained.iter().map(Envelope::encoded_len).sum();
        assert!(bytes <= 1000, "{bytes} bytes queued");
        assert_eq!(drained[0], vote, "the vote survives, appends go first");
        let groups: Vec<u64> = drained[1..].iter().map(|e| e.group.0).collect();
        assert_eq!(groups, vec![18, 19], "the newest appends are kept");
        assert_eq!(transport.metrics.messages_dropped.get(), 8);
        assert!(transport.drain(NodeId(2)).is_empty());
    }

    #[test]
    fn one_drain_takes_every_queued_message_into_one_frame() {
        let transport = transport(1 << 20);
        for group in 0..50 {
            transport.send(NodeId(2), append(group));
        }
        assert_eq!(transport.drain(NodeId(2)).len(), 50);
    }
}
