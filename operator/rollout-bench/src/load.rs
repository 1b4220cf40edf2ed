//! A fixed-rate idempotent `acks=all` producer on librdkafka: every record's
//! send time, and its acknowledgement latency or its error.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::ClientConfig;
use rdkafka::ClientContext;
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

const RECORD_BYTES: usize = 1024;

/// One record's fate: when it was handed to the client, and its
/// acknowledgement latency (`None`: the client reported an error).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) sent: Instant,
    pub(crate) latency: Option<Duration>,
}

#[derive(Debug, Default)]
struct Deliveries {
    samples: Mutex<Vec<Sample>>,
}

impl Deliveries {
    fn push(&self, sample: Sample) {
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sample);
    }
}

#[derive(Debug, Clone)]
struct Recorder(Arc<Deliveries>);

impl ClientContext for Recorder {}

impl ProducerContext for Recorder {
    type DeliveryOpaque = Box<Instant>;

    fn delivery(&self, result: &DeliveryResult<'_>, sent: Self::DeliveryOpaque) {
        let latency = result.is_ok().then(|| sent.elapsed());
        self.0.push(Sample {
            sent: *sent,
            latency,
        });
    }
}

/// The producer thread; [`RateProducer::finish`] stops it and flushes.
#[derive(Debug)]
pub(crate) struct RateProducer {
    stop: Arc<AtomicBool>,
    deliveries: Arc<Deliveries>,
    thread: JoinHandle<anyhow::Result<()>>,
}

impl RateProducer {
    /// Starts producing `rate` records a second, round-robin over `partitions`.
    pub(crate) fn start(
        bootstrap: &str,
        topic: &str,
        partitions: i32,
        rate: u32,
    ) -> anyhow::Result<Self> {
        let deliveries = Arc::new(Deliveries::default());
        let producer: ThreadedProducer<Recorder> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("acks", "all")
            .set("enable.idempotence", "true")
            .set("linger.ms", "0")
            .set("message.timeout.ms", "60000")
            .set("request.timeout.ms", "10000")
            .create_with_context(Recorder(Arc::clone(&deliveries)))
            .context("create the producer")?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let thread_deliveries = Arc::clone(&deliveries);
        let topic = topic.to_owned();
        let thread = std::thread::spawn(move || {
            let payload = vec![b'r'; RECORD_BYTES];
            let interval = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
            let started = Instant::now();
            let mut sent: u32 = 0;
            while !thread_stop.load(Ordering::Relaxed) {
                let due = started + interval * sent;
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                }
                let partition = i32::try_from(sent % partitions.max(1).unsigned_abs())
                    .context("partition index")?;
                let key = sent.to_string();
                let now = Instant::now();
                let record = BaseRecord::with_opaque_to(&topic, Box::new(now))
                    .partition(partition)
                    .key(&key)
                    .payload(&payload);
                if producer.send(record).is_err() {
                    // The client refused it outright (its queue is full):
                    // an error the application sees.
                    thread_deliveries.push(Sample {
                        sent: now,
                        latency: None,
                    });
                }
                sent = sent.saturating_add(1);
            }
            producer
                .flush(Duration::from_secs(90))
                .context("flush the producer")?;
            Ok(())
        });
        Ok(Self {
            stop,
            deliveries,
            thread,
        })
    }

    /// Stops sending, waits for every outstanding acknowledgement; every
    /// record's sample, in delivery order.
    pub(crate) fn finish(self) -> anyhow::Result<Vec<Sample>> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .join()
            .map_err(|_| anyhow::anyhow!("the producer thread panicked"))??;
        let samples = std::mem::take(
            &mut *self
                .deliveries
                .samples
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        Ok(samples)
    }
}
