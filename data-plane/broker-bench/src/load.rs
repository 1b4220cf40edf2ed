//! One load case: producers and a consumer on librdkafka against a running
//! broker, acks=all, 1 KiB records.
//!
//! The clock measures steady state, as the OpenMessaging Benchmark does after
//! its warm-up: every producer first connects (TLS handshake and SASL
//! authentication included, on a secure listener) by producing one warm-up
//! record and waiting for its acknowledgement; the clock starts when all of
//! them are connected. What connecting cost is reported on its own
//! ([`CaseResult::connect_ms`]), so a slow handshake is visible, not hidden.

use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Message, Timestamp};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};

pub(crate) const RECORD_BYTES: usize = 1024;

/// The key of each producer's warm-up record, which the consumer skips
/// (measured records carry an 8-byte sequence number as their key).
const WARM_UP_KEY: &[u8] = b"fjord-bench-warm-up";

/// Records each delivery's latency (enqueue to acknowledgement).
#[derive(Default)]
struct LatencyContext {
    micros: Mutex<Vec<u64>>,
    failures: Mutex<Vec<String>>,
}

impl ClientContext for LatencyContext {}

impl ProducerContext for LatencyContext {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                lock(&self.micros).push(micros);
            }
            Err((error, _)) => lock(&self.failures).push(error.to_string()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What one case measured.
pub(crate) struct CaseResult {
    pub(crate) produce_mb_per_s: f64,
    /// The same bytes over the time from creating the producers to the last
    /// acknowledgement (connecting included), for comparison.
    pub(crate) with_connecting_mb_per_s: f64,
    pub(crate) end_to_end_mb_per_s: f64,
    /// Produce acknowledgement latency, milliseconds: p50, p99, p99.9.
    pub(crate) produce_ms: [f64; 3],
    /// Producer timestamp to consumer receipt, milliseconds (1 ms resolution).
    pub(crate) end_to_end_ms: [f64; 3],
    pub(crate) records: u64,
    /// Producer creation to its warm-up record's acknowledgement (connect,
    /// handshake, authenticate, metadata, one produce), milliseconds: p50
    /// and the slowest producer. Not part of the throughput's clock.
    pub(crate) connect_ms: [f64; 2],
}

pub(crate) struct Case<'a> {
    pub(crate) bootstrap: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) producers: usize,
    pub(crate) partitions: i32,
    pub(crate) records: u64,
    /// `enable.idempotence` of the producers (librdkafka then also caps
    /// the requests in flight per connection at 5).
    pub(crate) idempotent: bool,
}

/// Client settings beyond the bootstrap address (`security.protocol`,
/// SASL, TLS), for the producers and the consumer alike.
pub(crate) type Settings<'a> = &'a [(&'a str, String)];

pub(crate) fn run(case: &Case<'_>) -> anyhow::Result<CaseResult> {
    run_with(case, &[])
}

/// [`run`] with extra client settings (the SASL_SSL case).
pub(crate) fn run_with(case: &Case<'_>, settings: Settings<'_>) -> anyhow::Result<CaseResult> {
    let per_producer = case.records / case.producers as u64;
    let expected = per_producer * case.producers as u64;
    let (ready_sender, ready) = std::sync::mpsc::channel();
    // The producers and this thread: the clock starts when all producers
    // have connected.
    let connected = Barrier::new(case.producers + 1);
    let connected = &connected;
    let (
        spawned,
        (started, produce_elapsed),
        mut latencies,
        mut connect,
        (consumed_at, mut end_to_end),
    ) = std::thread::scope(|scope| -> anyhow::Result<_> {
        let consumer = scope.spawn(move || consume(case, settings, expected, &ready_sender));
        // Producers connect once the consumer is connected and polling.
        if ready.recv().is_err() {
            let failed = consumer
                .join()
                .map_err(|_| anyhow::anyhow!("consumer panicked"))?;
            return Err(failed
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("consumer stopped")));
        }
        let spawned = Instant::now();
        let producers: Vec<_> = (0..case.producers)
            .map(|index| {
                scope.spawn(move || produce(case, settings, index, per_producer, connected))
            })
            .collect();
        // A producer that fails to connect still meets the barrier, so
        // this wait always ends.
        connected.wait();
        let started = Instant::now();
        let mut latencies = Vec::new();
        let mut connect = Vec::new();
        for producer in producers {
            let joined = producer.join();
            let produced = joined.map_err(|_| anyhow::anyhow!("producer panicked"))??;
            latencies.extend(produced.latencies);
            connect.push(produced.connect_micros);
        }
        let produce_elapsed = started.elapsed();
        let consumed = consumer
            .join()
            .map_err(|_| anyhow::anyhow!("consumer panicked"))??;
        Ok((
            spawned,
            (started, produce_elapsed),
            latencies,
            connect,
            consumed,
        ))
    })?;
    let records = latencies.len() as u64;
    if records != expected {
        bail!("only {records} of {expected} records were acknowledged");
    }
    let bytes = records as f64 * RECORD_BYTES as f64;
    let mb = |elapsed: Duration| bytes / 1e6 / elapsed.as_secs_f64();
    latencies.sort_unstable();
    end_to_end.sort_unstable();
    connect.sort_unstable();
    Ok(CaseResult {
        produce_mb_per_s: mb(produce_elapsed),
        with_connecting_mb_per_s: mb(produce_elapsed + started.saturating_duration_since(spawned)),
        end_to_end_mb_per_s: mb(consumed_at.saturating_duration_since(started)),
        produce_ms: percentiles(&latencies, 1000.0),
        end_to_end_ms: percentiles(&end_to_end, 1.0),
        records,
        connect_ms: [
            percentiles(&connect, 1000.0)[0],
            connect
                .last()
                .map_or(0.0, |&slowest| slowest as f64 / 1000.0),
        ],
    })
}

fn percentiles(sorted: &[u64], per_ms: f64) -> [f64; 3] {
    let at = |quantile: f64| {
        if sorted.is_empty() {
            return 0.0;
        }
        let index = ((sorted.len() as f64 * quantile) as usize).min(sorted.len() - 1);
        sorted[index] as f64 / per_ms
    };
    [at(0.5), at(0.99), at(0.999)]
}

fn client(case: &Case<'_>, settings: Settings<'_>) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", case.bootstrap);
    for (key, value) in settings {
        config.set(*key, value);
    }
    config
}

/// What one producer measured.
struct Produced {
    /// Each record's enqueue-to-acknowledgement latency, microseconds.
    latencies: Vec<u64>,
    /// Creation to the warm-up record's acknowledgement, microseconds.
    connect_micros: u64,
}

/// Creates a producer, connects it with one warm-up record, meets the other
/// producers at `connected`, then sends `records` records and waits for
/// every acknowledgement.
fn produce(
    case: &Case<'_>,
    settings: Settings<'_>,
    index: usize,
    records: u64,
    connected: &Barrier,
) -> anyhow::Result<Produced> {
    let connecting = Instant::now();
    let warmed = warm_up(case, settings, index);
    let connect_micros = u64::try_from(connecting.elapsed().as_micros()).unwrap_or(u64::MAX);
    connected.wait();
    let producer = warmed?;
    let payload = vec![b'x'; RECORD_BYTES];
    for sequence in 0..records {
        let key = sequence.to_be_bytes();
        send(&producer, case.topic, &payload, &key)?;
    }
    producer
        .flush(Duration::from_secs(120))
        .context("flushing the producer")?;
    let failures = lock(&producer.context().failures).clone();
    if let Some(first) = failures.first() {
        bail!("{} deliveries failed, first: {first}", failures.len());
    }
    let latencies = std::mem::take(&mut *lock(&producer.context().micros));
    Ok(Produced {
        latencies,
        connect_micros,
    })
}

/// A connected producer: created, and its warm-up record acknowledged (and
/// left out of its latencies).
fn warm_up(
    case: &Case<'_>,
    settings: Settings<'_>,
    index: usize,
) -> anyhow::Result<ThreadedProducer<LatencyContext>> {
    let producer: ThreadedProducer<LatencyContext> = client(case, settings)
        .set("acks", "all")
        .set("enable.idempotence", case.idempotent.to_string())
        .set("linger.ms", "5")
        .set("client.id", format!("fjord-bench-{index}"))
        .create_with_context(LatencyContext::default())
        .context("creating a producer")?;
    send(&producer, case.topic, b"", WARM_UP_KEY)?;
    producer
        .flush(Duration::from_secs(60))
        .context("connecting the producer (its warm-up record)")?;
    if let Some(first) = lock(&producer.context().failures).first() {
        bail!("the warm-up record failed: {first}");
    }
    lock(&producer.context().micros).clear();
    Ok(producer)
}

/// Enqueues one record, waiting while librdkafka's queue is full (it drains
/// in the background).
fn send(
    producer: &ThreadedProducer<LatencyContext>,
    topic: &str,
    payload: &[u8],
    key: &[u8],
) -> anyhow::Result<()> {
    let mut record = BaseRecord::with_opaque_to(topic, Box::new(Instant::now()))
        .payload(payload)
        .key(key);
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                record = returned;
                std::thread::sleep(Duration::from_millis(1));
            }
            Err((error, _)) => bail!("produce failed: {error}"),
        }
    }
}

/// Connects, signals `ready`, then reads every record of the case; returns
/// when the last arrived and each record's end-to-end latency in
/// milliseconds.
fn consume(
    case: &Case<'_>,
    settings: Settings<'_>,
    expected: u64,
    ready: &std::sync::mpsc::Sender<()>,
) -> anyhow::Result<(Instant, Vec<u64>)> {
    let consumer: BaseConsumer = client(case, settings)
        .set("group.id", "fjord-bench")
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "10")
        .create()
        .context("creating the consumer")?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..case.partitions {
        assignment.add_partition_offset(case.topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    consumer
        .fetch_watermarks(case.topic, 0, Duration::from_secs(30))
        .context("connecting the consumer")?;
    if consumer.poll(Duration::from_millis(200)).is_some() {
        bail!("the topic {} is not empty", case.topic);
    }
    ready.send(()).context("the benchmark stopped")?;
    let mut latencies = Vec::with_capacity(usize::try_from(expected).unwrap_or(0));
    let deadline = Instant::now() + Duration::from_secs(600);
    while (latencies.len() as u64) < expected {
        if Instant::now() > deadline {
            bail!(
                "consumed {} of {expected} records before the deadline",
                latencies.len()
            );
        }
        let Some(message) = consumer.poll(Duration::from_millis(100)) else {
            continue;
        };
        let message = message.context("consuming")?;
        if message.key() == Some(WARM_UP_KEY) {
            continue;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |now| now.as_millis() as i64);
        let sent_ms = match message.timestamp() {
            Timestamp::CreateTime(ms) | Timestamp::LogAppendTime(ms) => ms,
            Timestamp::NotAvailable => now_ms,
        };
        latencies.push(u64::try_from(now_ms - sent_ms).unwrap_or(0));
    }
    Ok((Instant::now(), latencies))
}
