//! A TCP proxy between Kafka clients and the broker that forwards every
//! request but, instead of returning it, closes the connection on every Nth
//! Produce response: the batch was appended, the client never hears so, and
//! retries it. This forces the retries the idempotent producer must absorb.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Produce's API key.
const PRODUCE: i16 = 0;
/// Larger frames are not Kafka traffic from these tests.
const FRAME_BYTES_MAX: usize = 64 * 1024 * 1024;

#[derive(Debug, Default)]
pub(crate) struct ProxyCounts {
    /// Produce responses seen from the broker.
    pub(crate) produce_responses: AtomicU64,
    /// Of those, how many were dropped with their connection.
    pub(crate) dropped: AtomicU64,
}

pub(crate) struct DroppingProxy {
    pub(crate) address: SocketAddr,
    pub(crate) counts: Arc<ProxyCounts>,
}

impl DroppingProxy {
    /// Binds a loopback port now (so the broker can advertise it), and
    /// forwards to the upstream address `start` is given later.
    pub(crate) fn bind() -> (std::net::TcpListener, SocketAddr) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        (listener, address)
    }

    /// Serves `listener` on a thread of its own, forwarding to `upstream`
    /// and dropping every `every`th Produce response.
    pub(crate) fn start(listener: std::net::TcpListener, upstream: SocketAddr, every: u64) -> Self {
        assert!(
            every >= 2,
            "dropping every response would never make progress"
        );
        let address = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let counts = Arc::new(ProxyCounts::default());
        let task_counts = Arc::clone(&counts);
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        continue;
                    };
                    let counts = Arc::clone(&task_counts);
                    tokio::spawn(async move {
                        if let Ok(broker) = TcpStream::connect(upstream).await {
                            relay(client, broker, &counts, every).await;
                        }
                    });
                }
            });
        });
        Self { address, counts }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.counts.dropped.load(Ordering::SeqCst)
    }

    pub(crate) fn produce_responses(&self) -> u64 {
        self.counts.produce_responses.load(Ordering::SeqCst)
    }
}

async fn read_frame(stream: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let length = stream.read_i32().await.ok()?;
    let length = usize::try_from(length)
        .ok()
        .filter(|&length| length <= FRAME_BYTES_MAX)?;
    let mut frame = vec![0; 4 + length];
    frame[..4].copy_from_slice(&i32::try_from(length).ok()?.to_be_bytes());
    stream.read_exact(&mut frame[4..]).await.ok()?;
    Some(frame)
}

/// Relays one client connection until either side closes or a response is
/// dropped; both sockets close when this returns.
async fn relay(client: TcpStream, broker: TcpStream, counts: &ProxyCounts, every: u64) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut broker_read, mut broker_write) = broker.into_split();
    // correlation id -> API key of the requests awaiting a response.
    let pending: Mutex<HashMap<i32, i16>> = Mutex::new(HashMap::new());
    let requests = async {
        while let Some(frame) = read_frame(&mut client_read).await {
            if frame.len() >= 12 {
                let api_key = i16::from_be_bytes([frame[4], frame[5]]);
                let correlation = i32::from_be_bytes([frame[8], frame[9], frame[10], frame[11]]);
                pending.lock().unwrap().insert(correlation, api_key);
            }
            if broker_write.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    let responses = async {
        while let Some(frame) = read_frame(&mut broker_read).await {
            if frame.len() >= 8 {
                let correlation = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
                let api_key = pending.lock().unwrap().remove(&correlation);
                if api_key == Some(PRODUCE) {
                    let seen = counts.produce_responses.fetch_add(1, Ordering::SeqCst) + 1;
                    if seen.is_multiple_of(every) {
                        counts.dropped.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            }
            if client_write.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = requests => {}
        () = responses => {}
    }
}
