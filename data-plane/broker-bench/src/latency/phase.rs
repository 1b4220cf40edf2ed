//! One load phase: `producers` librdkafka producers (acks=all, idempotent,
//! linger 1 ms) sending 1 KiB records for a fixed time, each at a fixed
//! offered rate (or as fast as they can), and one consumer reading them.
//! Each record carries its send time in microseconds in its first 8 bytes,
//! so end-to-end latency has microsecond resolution.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientConfig, ClientContext, Offset, TopicPartitionList};

use super::Percentiles;
use super::floor::elapsed_micros;
use crate::load::RECORD_BYTES;

/// The client's `linger.ms`, part of the latency target.
pub(crate) const LINGER_MS: f64 = 1.0;
/// How long the consumer waits for the last records after the producers.
const DRAIN: Duration = Duration::from_secs(30);
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

pub(crate) struct Phase<'a> {
    pub(crate) bootstrap: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) partitions: i32,
    pub(crate) producers: usize,
    /// Records per second over all producers; `None`: as fast as possible.
    pub(crate) rate: Option<f64>,
    pub(crate) duration: Duration,
    pub(crate) label: &'a str,
}

pub(crate) struct PhaseResult {
    pub(crate) acknowledged_mb_per_s: f64,
    pub(crate) records: u64,
    pub(crate) produce: Percentiles,
    pub(crate) end_to_end: Percentiles,
}

/// Counters shared by the producers, the consumer and the progress line.
#[derive(Default)]
struct Shared {
    sent: AtomicU64,
    acknowledged: AtomicU64,
    consumed: AtomicU64,
    producing: AtomicBool,
    failures: Mutex<Vec<String>>,
}

struct Deliveries {
    shared: Arc<Shared>,
    micros: Mutex<Vec<u64>>,
}

impl ClientContext for Deliveries {}

impl ProducerContext for Deliveries {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        match result {
            Ok(_) => {
                lock(&self.micros).push(elapsed_micros(*sent));
                self.shared.acknowledged.fetch_add(1, Ordering::Relaxed);
            }
            Err((error, _)) => lock(&self.shared.failures).push(error.to_string()),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |now| u64::try_from(now.as_micros()).unwrap_or(u64::MAX))
}

pub(crate) fn run(phase: &Phase<'_>) -> anyhow::Result<PhaseResult> {
    let shared = Arc::new(Shared::default());
    shared.producing.store(true, Ordering::Release);
    let (ready_sender, ready) = std::sync::mpsc::channel();
    let (elapsed, mut produce, mut end_to_end) = std::thread::scope(|scope| {
        let shared = &shared;
        let consumer = scope.spawn(move || consume(phase, shared, &ready_sender));
        if ready.recv().is_err() {
            let failed = consumer
                .join()
                .map_err(|_| anyhow::anyhow!("consumer panicked"))?;
            return Err(failed
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("consumer stopped")));
        }
        let started = Instant::now();
        let producers: Vec<_> = (0..phase.producers)
            .map(|index| scope.spawn(move || produce(phase, index, shared)))
            .collect();
        progress(phase, shared, started);
        let mut produce = Vec::new();
        for producer in producers {
            let joined = producer
                .join()
                .map_err(|_| anyhow::anyhow!("producer panicked"))?;
            produce.extend(joined?);
        }
        let elapsed = started.elapsed();
        shared.producing.store(false, Ordering::Release);
        let end_to_end = consumer
            .join()
            .map_err(|_| anyhow::anyhow!("consumer panicked"))??;
        Ok((elapsed, produce, end_to_end))
    })?;
    if let Some(first) = lock(&shared.failures).first() {
        bail!("{}: deliveries failed, first: {first}", phase.label);
    }
    let records = produce.len() as u64;
    Ok(PhaseResult {
        acknowledged_mb_per_s: records as f64 * RECORD_BYTES as f64 / 1e6 / elapsed.as_secs_f64(),
        records,
        produce: Percentiles::of(&mut produce),
        end_to_end: Percentiles::of(&mut end_to_end),
    })
}

/// Prints a line every few seconds while the producers run.
fn progress(phase: &Phase<'_>, shared: &Shared, started: Instant) {
    let mut last = 0u64;
    // Bounded by the phase's duration.
    while started.elapsed() < phase.duration {
        std::thread::sleep(PROGRESS_EVERY.min(phase.duration.saturating_sub(started.elapsed())));
        let acknowledged = shared.acknowledged.load(Ordering::Relaxed);
        let rate =
            (acknowledged - last) as f64 * RECORD_BYTES as f64 / 1e6 / PROGRESS_EVERY.as_secs_f64();
        last = acknowledged;
        eprintln!(
            "    {} {:>3.0}s: sent {}, acknowledged {acknowledged} ({rate:.1} MB/s), consumed {}",
            phase.label,
            started.elapsed().as_secs_f64(),
            shared.sent.load(Ordering::Relaxed),
            shared.consumed.load(Ordering::Relaxed),
        );
    }
}

fn produce(phase: &Phase<'_>, index: usize, shared: &Arc<Shared>) -> anyhow::Result<Vec<u64>> {
    let context = Deliveries {
        shared: shared.clone(),
        micros: Mutex::new(Vec::new()),
    };
    let producer: ThreadedProducer<Deliveries> = ClientConfig::new()
        .set("bootstrap.servers", phase.bootstrap)
        .set("acks", "all")
        .set("enable.idempotence", "true")
        .set("linger.ms", LINGER_MS.to_string())
        .set("client.id", format!("fjord-latency-{index}"))
        .create_with_context(context)
        .context("creating a producer")?;
    let interval = phase
        .rate
        .map(|rate| Duration::from_secs_f64(phase.producers as f64 / rate.max(1e-3)));
    let mut payload = vec![b'x'; RECORD_BYTES];
    let started = Instant::now();
    let mut scheduled = started;
    // Bounded by the phase's duration.
    while started.elapsed() < phase.duration {
        if let Some(interval) = interval {
            scheduled += interval;
            let now = Instant::now();
            if scheduled > now {
                std::thread::sleep(scheduled - now);
            }
        }
        payload[..8].copy_from_slice(&now_micros().to_be_bytes());
        let mut record = BaseRecord::<(), [u8], Box<Instant>>::with_opaque_to(
            phase.topic,
            Box::new(Instant::now()),
        )
        .payload(payload.as_slice());
        // Bounded: librdkafka drains its queue in the background.
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), returned)) => {
                    record = returned;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err((error, _)) => bail!("produce failed: {error}"),
            }
        }
        shared.sent.fetch_add(1, Ordering::Relaxed);
    }
    producer
        .flush(Duration::from_secs(120))
        .context("flushing the producer")?;
    Ok(std::mem::take(&mut *lock(&producer.context().micros)))
}

/// Reads the topic from the start until the producers stopped and every
/// acknowledged record arrived; returns each record's end-to-end latency.
fn consume(
    phase: &Phase<'_>,
    shared: &Shared,
    ready: &std::sync::mpsc::Sender<()>,
) -> anyhow::Result<Vec<u64>> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", phase.bootstrap)
        .set("group.id", format!("fjord-latency-{}", phase.topic))
        .set("enable.auto.commit", "false")
        .set("fetch.wait.max.ms", "100")
        .create()
        .context("creating the consumer")?;
    let mut assignment = TopicPartitionList::new();
    for partition in 0..phase.partitions {
        assignment.add_partition_offset(phase.topic, partition, Offset::Beginning)?;
    }
    consumer.assign(&assignment)?;
    consumer
        .fetch_watermarks(phase.topic, 0, Duration::from_secs(30))
        .context("connecting the consumer")?;
    ready.send(()).context("the benchmark stopped")?;
    let mut micros = Vec::new();
    let mut drained_by: Option<Instant> = None;
    // Bounded: after the producers stop, by DRAIN.
    loop {
        if !shared.producing.load(Ordering::Acquire) {
            let deadline = *drained_by.get_or_insert_with(|| Instant::now() + DRAIN);
            if micros.len() as u64 >= shared.acknowledged.load(Ordering::Relaxed) {
                return Ok(micros);
            }
            if Instant::now() > deadline {
                bail!(
                    "{}: consumed {} of {} acknowledged records",
                    phase.label,
                    micros.len(),
                    shared.acknowledged.load(Ordering::Relaxed)
                );
            }
        }
        let Some(message) = consumer.poll(Duration::from_millis(50)) else {
            continue;
        };
        let message = message.context("consuming")?;
        let received = now_micros();
        let sent = message
            .payload()
            .and_then(|payload| payload.get(..8))
            .and_then(|head| <[u8; 8]>::try_from(head).ok())
            .map_or(received, u64::from_be_bytes);
        micros.push(received.saturating_sub(sent));
        shared.consumed.fetch_add(1, Ordering::Relaxed);
    }
}
