//! A fault-injecting TCP proxy for the peer links between brokers.
//!
//! Peer transport opens one TCP connection per *ordered* pair of nodes: A's
//! writer dials B's `--peer-listen` address and only writes. So the proxy has
//! one listener per directed link A->B, forwarding to B's peer address, and
//! A's `--peers` names that listener. Each link has a [`Setting`]:
//!
//! - [`Mode::Open`]: forward both directions, each chunk held for `delay`
//!   (order is kept: a chunk is never written before an earlier one).
//! - [`Mode::Refuse`]: existing connections are closed and new ones are
//!   accepted and closed at once, so the dialer sees its connection fail.
//! - [`Mode::Blackhole`]: connections are accepted (and existing ones kept)
//!   but nothing is forwarded; bytes are read and dropped, so the sender sees
//!   no error. A connection that lost bytes is corrupt mid-stream, so healing
//!   closes it; the sender reconnects.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::{Error, NodeId, Result};

/// Bytes read per chunk.
const CHUNK_BYTES: usize = 64 * 1024;
/// Chunks in flight per direction while delayed (bounds the memory a delay holds).
const CHUNKS_IN_FLIGHT_MAX: usize = 256;

/// What a link does with its traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Open,
    Refuse,
    Blackhole,
}

/// A link's fault setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    pub mode: Mode,
    /// Added to every chunk while open.
    pub delay: Duration,
}

impl Setting {
    pub const HEALED: Self = Self {
        mode: Mode::Open,
        delay: Duration::ZERO,
    };
}

/// One directed link to proxy: `from`'s writer dials `listen`, which forwards
/// to `upstream` (the peer address of `to`).
#[derive(Clone, Copy, Debug)]
pub struct LinkSpec {
    pub from: NodeId,
    pub to: NodeId,
    pub listen: SocketAddr,
    pub upstream: SocketAddr,
}

/// Counters of one link, for tests and progress output.
#[derive(Debug, Default)]
pub struct LinkCounts {
    pub accepted: AtomicU64,
    pub refused: AtomicU64,
    pub forwarded_bytes: AtomicU64,
    pub dropped_bytes: AtomicU64,
}

#[derive(Debug)]
struct Link {
    spec: LinkSpec,
    control: watch::Sender<Setting>,
    counts: Arc<LinkCounts>,
}

/// The running proxy: every link's listener on a runtime of its own, stopped
/// on drop. All control methods are synchronous and take effect at once.
#[derive(Debug)]
pub struct Proxy {
    links: BTreeMap<(NodeId, NodeId), Link>,
    // Dropped last: shuts the listeners and connections down.
    runtime: tokio::runtime::Runtime,
}

impl Proxy {
    /// Binds every link's listener (failing if one cannot be bound) and starts
    /// forwarding, all links open.
    pub fn start(specs: &[LinkSpec]) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("fjord-chaos-proxy")
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let mut links = BTreeMap::new();
        for spec in specs {
            if links.contains_key(&(spec.from, spec.to)) {
                return Err(Error::DuplicateLink {
                    from: spec.from,
                    to: spec.to,
                });
            }
            let bind = |source| Error::Bind {
                from: spec.from,
                to: spec.to,
                address: spec.listen,
                source,
            };
            let listener = std::net::TcpListener::bind(spec.listen).map_err(bind)?;
            listener.set_nonblocking(true).map_err(bind)?;
            let listener = {
                let _entered = runtime.enter();
                TcpListener::from_std(listener).map_err(bind)?
            };
            let mut spec = *spec;
            spec.listen = listener.local_addr().map_err(bind)?;
            let (control, watched) = watch::channel(Setting::HEALED);
            let counts = Arc::new(LinkCounts::default());
            runtime.spawn(serve(listener, spec.upstream, watched, Arc::clone(&counts)));
            links.insert(
                (spec.from, spec.to),
                Link {
                    spec,
                    control,
                    counts,
                },
            );
        }
        Ok(Self { links, runtime })
    }

    /// The links, with the addresses actually bound (port 0 resolved).
    pub fn links(&self) -> Vec<LinkSpec> {
        self.links.values().map(|link| link.spec).collect()
    }

    /// The listener address of link `from`->`to`.
    pub fn address(&self, from: NodeId, to: NodeId) -> Result<SocketAddr> {
        Ok(self.link(from, to)?.spec.listen)
    }

    pub fn counts(&self, from: NodeId, to: NodeId) -> Result<&LinkCounts> {
        Ok(&self.link(from, to)?.counts)
    }

    pub fn setting(&self, from: NodeId, to: NodeId) -> Result<Setting> {
        Ok(*self.link(from, to)?.control.borrow())
    }

    pub fn set(&self, from: NodeId, to: NodeId, setting: Setting) -> Result<()> {
        self.link(from, to)?.control.send_replace(setting);
        Ok(())
    }

    /// Cuts `from`->`to` only (a one-way partition): refuse, or blackhole.
    pub fn cut(&self, from: NodeId, to: NodeId, blackhole: bool) -> Result<()> {
        let mode = if blackhole {
            Mode::Blackhole
        } else {
            Mode::Refuse
        };
        let delay = self.setting(from, to)?.delay;
        self.set(from, to, Setting { mode, delay })
    }

    /// Opens `from`->`to` again without delay.
    pub fn heal(&self, from: NodeId, to: NodeId) -> Result<()> {
        self.set(from, to, Setting::HEALED)
    }

    /// Holds every chunk on `from`->`to` for `delay`, keeping its mode.
    pub fn delay(&self, from: NodeId, to: NodeId, delay: Duration) -> Result<()> {
        let mode = self.setting(from, to)?.mode;
        self.set(from, to, Setting { mode, delay })
    }

    /// Cuts every link to and from `node`: full isolation.
    pub fn isolate(&self, node: NodeId, blackhole: bool) -> Result<()> {
        let touching: Vec<_> = self
            .links
            .keys()
            .filter(|(from, to)| *from == node || *to == node)
            .copied()
            .collect();
        for (from, to) in touching {
            self.cut(from, to, blackhole)?;
        }
        Ok(())
    }

    pub fn heal_all(&self) {
        for link in self.links.values() {
            link.control.send_replace(Setting::HEALED);
        }
    }

    fn link(&self, from: NodeId, to: NodeId) -> Result<&Link> {
        self.links
            .get(&(from, to))
            .ok_or(Error::UnknownLink { from, to })
    }

    /// Stops every listener and connection now.
    pub fn shutdown(self) {
        self.runtime.shutdown_background();
    }
}

async fn serve(
    listener: TcpListener,
    upstream: SocketAddr,
    control: watch::Receiver<Setting>,
    counts: Arc<LinkCounts>,
) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors and the like: back off, keep serving.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mode = control.borrow().mode;
        if mode == Mode::Refuse {
            counts.refused.fetch_add(1, Ordering::Relaxed);
            // RST rather than FIN: the dialer sees a reset connection.
            let _ = client.set_zero_linger();
            drop(client);
            continue;
        }
        counts.accepted.fetch_add(1, Ordering::Relaxed);
        let _ = client.set_nodelay(true);
        tokio::spawn(connection(
            client,
            upstream,
            control.clone(),
            Arc::clone(&counts),
        ));
    }
}

/// Serves one accepted connection until either side closes it or a setting
/// change must close it.
async fn connection(
    client: TcpStream,
    upstream: SocketAddr,
    control: watch::Receiver<Setting>,
    counts: Arc<LinkCounts>,
) {
    // A connection accepted while blackholed has already "lost" what the
    // sender will write, so it never forwards.
    let tainted = Arc::new(AtomicBool::new(control.borrow().mode == Mode::Blackhole));
    let closer = close_when_needed(control.clone(), Arc::clone(&tainted));
    if tainted.load(Ordering::SeqCst) {
        let (reader, _writer) = client.into_split();
        let sink = discard(reader, Arc::clone(&counts));
        tokio::select! { () = sink => {}, () = closer => {} }
        return;
    }
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = server.set_nodelay(true);
    let (client_reader, client_writer) = client.into_split();
    let (server_reader, server_writer) = server.into_split();
    let forward = pipe(
        client_reader,
        server_writer,
        control.clone(),
        &tainted,
        &counts,
    );
    let backward = pipe(
        server_reader,
        client_writer,
        control.clone(),
        &tainted,
        &counts,
    );
    // Either direction ending ends the connection, as a process's death
    // resets every socket it had: a dialer that only writes must see its
    // connection break when the far side is gone, not write into a proxy
    // that forwards nowhere.
    tokio::pin!(forward, backward, closer);
    tokio::select! {
        ended = &mut forward => {
            // The dialer closed its sending side: the answers still flow
            // back until the far side closes too.
            if ended == PipeEnd::ReaderClosed {
                tokio::select! { _ = &mut backward => {} () = &mut closer => {} }
            }
        }
        _ = &mut backward => {}
        () = &mut closer => {}
    }
}

/// Why a pipe stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PipeEnd {
    /// Its reader reached the end (everything read was written on).
    ReaderClosed,
    /// Its writer failed: the far side is gone.
    WriterFailed,
}

/// Returns once the link is refusing, or open again after this connection
/// dropped bytes.
async fn close_when_needed(mut control: watch::Receiver<Setting>, tainted: Arc<AtomicBool>) {
    loop {
        let mode = control.borrow_and_update().mode;
        match mode {
            Mode::Refuse => return,
            Mode::Blackhole => tainted.store(true, Ordering::SeqCst),
            Mode::Open if tainted.load(Ordering::SeqCst) => return,
            Mode::Open => {}
        }
        if control.changed().await.is_err() {
            return;
        }
    }
}

async fn discard(mut reader: impl AsyncRead + Unpin, counts: Arc<LinkCounts>) {
    let mut buffer = vec![0; CHUNK_BYTES];
    while let Ok(read) = reader.read(&mut buffer).await {
        if read == 0 {
            return;
        }
        counts
            .dropped_bytes
            .fetch_add(read as u64, Ordering::Relaxed);
    }
}

/// Copies `reader` to `writer`, holding each chunk for the current delay and
/// dropping it while blackholed (which taints the connection).
async fn pipe(
    mut reader: impl AsyncRead + Unpin,
    mut writer: impl AsyncWrite + Unpin,
    control: watch::Receiver<Setting>,
    tainted: &AtomicBool,
    counts: &LinkCounts,
) -> PipeEnd {
    let (sender, mut receiver) = mpsc::channel::<(Instant, Vec<u8>)>(CHUNKS_IN_FLIGHT_MAX);
    let read_control = control.clone();
    // Moves the sender in, so the writer sees the end once the reader is done.
    let read = async move {
        // Owned by the body, so dropped when it returns: the writer then ends.
        let sender = sender;
        let mut buffer = vec![0; CHUNK_BYTES];
        loop {
            let read = match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(read) => read,
            };
            let setting = *read_control.borrow();
            if setting.mode != Mode::Open || tainted.load(Ordering::SeqCst) {
                tainted.store(true, Ordering::SeqCst);
                counts
                    .dropped_bytes
                    .fetch_add(read as u64, Ordering::Relaxed);
                continue;
            }
            let due = Instant::now() + setting.delay;
            if sender.send((due, buffer[..read].to_vec())).await.is_err() {
                return;
            }
        }
    };
    let write = async {
        while let Some((due, chunk)) = receiver.recv().await {
            tokio::time::sleep_until(due).await;
            // A chunk delayed into a blackhole is lost like the rest.
            if control.borrow().mode != Mode::Open || tainted.load(Ordering::SeqCst) {
                tainted.store(true, Ordering::SeqCst);
                counts
                    .dropped_bytes
                    .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                continue;
            }
            if writer.write_all(&chunk).await.is_err() {
                return PipeEnd::WriterFailed;
            }
            counts
                .forwarded_bytes
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        }
        let _ = writer.shutdown().await;
        PipeEnd::ReaderClosed
    };
    // The writer failing ends the pipe at once; the reader ending lets the
    // writer drain what is queued first.
    tokio::pin!(write);
    tokio::select! {
        ended = &mut write => return ended,
        () = read => {}
    }
    write.await
}
