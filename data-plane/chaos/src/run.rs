//! One chaos run: brokers (behind the proxy when there are peers), a topic,
//! idempotent acks=all producers recording every acknowledgement to the
//! oracle, the seeded faults, then heal, read back and check.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::checker::{self, Report};
use crate::clients::{self, ProducerPlan, Producers};
use crate::cluster::{Addresses, Broker, BrokerSpec, wait_healthy};
use crate::faults::{self, Fault, Step};
use crate::proxy::{LinkSpec, Proxy};
use crate::{Error, NodeId, Result};

const TOPIC: &str = "chaos";
/// Hang guards only: nothing is asserted about how fast anything happens.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);

/// What to run.
#[derive(Clone, Debug)]
pub struct RunConfig {
    pub brokers: usize,
    pub duration: Duration,
    pub seed: u64,
    pub broker_binary: PathBuf,
    /// A Python with confluent-kafka.
    pub python: PathBuf,
    /// Work directory (emptied first): data, broker logs, oracle, report.
    pub dir: PathBuf,
    pub partitions: i32,
    pub producers: usize,
    /// Records per second per producer.
    pub rate: u32,
    /// Seeded faults of every kind, or broker restarts only.
    pub plan: faults::Plan,
}

impl RunConfig {
    /// The replay command for this run's seed.
    pub fn replay(&self) -> String {
        let plan = match self.plan {
            faults::Plan::Seeded => "",
            faults::Plan::Restarts => " --faults restarts",
        };
        format!(
            "cargo xtask chaos --brokers {} --duration {} --seed {}{plan}",
            self.brokers,
            self.duration.as_secs(),
            self.seed
        )
    }
}

/// What a run found.
#[derive(Debug)]
pub struct Outcome {
    pub report: Report,
    pub faults: usize,
    /// Records a producer gave up on: a delivery report with an error
    /// (librdkafka reports one only once it stops retrying).
    pub failed_deliveries: u64,
    /// Errors the clients reported (librdkafka's error callback: refused
    /// connections, all brokers down, fatal errors).
    pub client_errors: u64,
    /// What each fault cost the clients, from its injection to the next one.
    pub effects: Vec<FaultEffect>,
    pub producer_restarts: u64,
    pub oracle: PathBuf,
}

/// What one fault cost the clients: counted from its injection until the
/// next fault's (or the end of the faults).
#[derive(Debug, Clone, serde::Serialize)]
pub struct FaultEffect {
    pub fault: String,
    pub given_up: u64,
    pub client_errors: u64,
}

/// The processes of a run; dropping it stops them all.
struct Cluster {
    // Brokers stop before the proxy goes away.
    brokers: Vec<Broker>,
    proxy: Option<Proxy>,
}

impl Cluster {
    fn start(config: &RunConfig) -> Result<Self> {
        let addresses = (0..config.brokers)
            .map(|_| Addresses::free())
            .collect::<Result<Vec<_>>>()?;
        let proxy = if config.brokers > 1 {
            let mut links = Vec::new();
            for (from, _) in addresses.iter().enumerate() {
                for (to, target) in addresses.iter().enumerate().filter(|(to, _)| *to != from) {
                    links.push(LinkSpec {
                        from: node(from),
                        to: node(to),
                        listen: "127.0.0.1:0".parse().expect("a literal address"),
                        upstream: target.peer,
                    });
                }
            }
            Some(Proxy::start(&links)?)
        } else {
            None
        };
        let specs = BrokerSpec::cluster(&addresses, &config.dir, |from, to, peer| {
            proxy
                .as_ref()
                .and_then(|proxy| proxy.address(from, to).ok())
                .unwrap_or(peer)
        });
        let mut cluster = Self {
            brokers: Vec::new(),
            proxy,
        };
        for spec in specs {
            progress(&format!(
                "starting broker {} (log {})",
                spec.node,
                spec.log.display()
            ));
            cluster
                .brokers
                .push(Broker::start(&config.broker_binary, spec)?);
        }
        cluster.wait_ready()?;
        Ok(cluster)
    }

    fn bootstrap(&self) -> String {
        let addresses: Vec<_> = self
            .brokers
            .iter()
            .map(|broker| broker.spec.addresses.kafka.to_string())
            .collect();
        addresses.join(",")
    }

    fn broker(&mut self, node: NodeId) -> &mut Broker {
        let index = usize::try_from(node).expect("small ids") - 1;
        &mut self.brokers[index]
    }

    fn proxy(&self) -> &Proxy {
        self.proxy
            .as_ref()
            .expect("network faults are scheduled only with peers")
    }

    /// Every broker ready; with peers, the cluster reports itself healthy.
    fn wait_ready(&mut self) -> Result<()> {
        for broker in &mut self.brokers {
            broker.wait_ready(READY_TIMEOUT)?;
        }
        if self.brokers.len() == 1 {
            return Ok(());
        }
        wait_healthy(&self.brokers, HEALTHY_TIMEOUT)
            .map(drop)
            .map_err(|health| Error::Broker {
                node: 0,
                message: format!("cluster not healthy within {HEALTHY_TIMEOUT:?}: {health:?}"),
            })
    }

    fn inject(&mut self, fault: Fault) -> Result<()> {
        match fault {
            Fault::Kill(node) => self.broker(node).kill(),
            Fault::Terminate(node) => self.broker(node).terminate(),
            Fault::Pause(node) => self.broker(node).pause(),
            Fault::Isolate { node, blackhole } => self.proxy().isolate(node, blackhole),
            Fault::OneWay {
                from,
                to,
                blackhole,
            } => self.proxy().cut(from, to, blackhole),
            Fault::Delay { from, to, delay } => self.proxy().delay(from, to, delay),
        }
    }

    fn undo(&mut self, fault: Fault) -> Result<()> {
        match fault {
            Fault::Kill(node) | Fault::Terminate(node) => {
                let broker = self.broker(node);
                broker.restart()?;
                broker.wait_ready(READY_TIMEOUT)
            }
            Fault::Pause(node) => self.broker(node).resume(),
            Fault::Isolate { .. } | Fault::OneWay { .. } | Fault::Delay { .. } => {
                self.proxy().heal_all();
                Ok(())
            }
        }
    }

    /// Heals every link, resumes paused brokers, restarts dead ones.
    fn heal(&mut self) -> Result<()> {
        if let Some(proxy) = &self.proxy {
            proxy.heal_all();
        }
        for broker in &mut self.brokers {
            broker.resume()?;
            if !broker.is_running() {
                progress(&format!(
                    "broker {} had exited; restarting it",
                    broker.spec.node
                ));
                broker.restart()?;
            }
        }
        self.wait_ready()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for broker in &mut self.brokers {
            broker.stop();
        }
        if let Some(proxy) = self.proxy.take() {
            proxy.shutdown();
        }
    }
}

fn node(index: usize) -> NodeId {
    NodeId::try_from(index + 1).expect("a handful of brokers")
}

fn progress(message: &str) {
    eprintln!("chaos: {message}");
}

/// Runs the whole chaos scenario and checks the result. `Ok` carries the
/// checker's report, clean or not; `Err` is a run that could not be done.
pub fn run(config: &RunConfig) -> Result<Outcome> {
    assert!(config.brokers >= 1 && config.partitions >= 1 && config.producers >= 1);
    let io = |source| Error::Io {
        path: config.dir.display().to_string(),
        source,
    };
    if config.dir.exists() {
        std::fs::remove_dir_all(&config.dir).map_err(io)?;
    }
    std::fs::create_dir_all(&config.dir).map_err(io)?;
    let schedule = match config.plan {
        faults::Plan::Seeded => faults::schedule(config.seed, config.brokers, config.duration),
        faults::Plan::Restarts => faults::restarts(config.brokers, config.duration),
    };
    progress(&format!(
        "seed {} ({} faults over {:?}); replay: {}",
        config.seed,
        schedule.len(),
        config.duration,
        config.replay()
    ));
    let mut cluster = Cluster::start(config)?;
    let bootstrap = cluster.bootstrap();
    let replication = config.brokers.min(3);
    clients::create_topic(
        &config.python,
        &bootstrap,
        TOPIC,
        config.partitions,
        replication,
    )?;
    progress(&format!(
        "topic {TOPIC}: {} partitions, replication factor {replication}; bootstrap {bootstrap}",
        config.partitions
    ));
    let mut producers = Producers::start(&ProducerPlan {
        python: &config.python,
        bootstrap: &bootstrap,
        topic: TOPIC,
        partitions: config.partitions,
        count: config.producers,
        rate: config.rate,
        oracle_path: config.dir.join("oracle.txt"),
    })?;
    let effects = drive(&mut cluster, &mut producers, &schedule, config.duration)?;
    progress("healing every fault");
    cluster.heal()?;
    progress("stopping the producers (they flush what is still unacknowledged)");
    let tally = std::sync::Arc::clone(&producers.tally);
    let oracle_path = producers.oracle_path.clone();
    let acked = producers.finish()?;
    progress(&format!(
        "{} acknowledged, {} failed deliveries (given up), {} client errors, {} left unflushed; \
         reading every partition back",
        acked.len(),
        tally.failed.load(Ordering::Relaxed),
        tally.client_errors.load(Ordering::Relaxed),
        tally.unflushed.load(Ordering::Relaxed)
    ));
    let read = clients::read_all(&config.python, &bootstrap, TOPIC, config.partitions)?;
    drop(cluster);
    let report = checker::check(&acked, &read);
    let json = serde_json::to_string_pretty(&report).expect("the report serializes");
    std::fs::write(config.dir.join("report.json"), json).map_err(io)?;
    let json = serde_json::to_string_pretty(&effects).expect("the effects serialize");
    std::fs::write(config.dir.join("faults.json"), json).map_err(io)?;
    Ok(Outcome {
        report,
        faults: schedule.len(),
        failed_deliveries: tally.failed.load(Ordering::Relaxed),
        client_errors: tally.client_errors.load(Ordering::Relaxed),
        effects,
        producer_restarts: tally.restarts.load(Ordering::Relaxed),
        oracle: oracle_path,
    })
}

/// Injects the schedule's faults one after the other while the producers
/// run; returns what each cost the clients.
fn drive(
    cluster: &mut Cluster,
    producers: &mut Producers,
    schedule: &[Step],
    duration: Duration,
) -> Result<Vec<FaultEffect>> {
    let started = Instant::now();
    let tally = std::sync::Arc::clone(&producers.tally);
    let acked = || tally.acked.load(Ordering::Relaxed);
    let counts = || {
        (
            tally.failed.load(Ordering::Relaxed),
            tally.client_errors.load(Ordering::Relaxed),
        )
    };
    let mut effects: Vec<FaultEffect> = Vec::new();
    let mut since = counts();
    let close = |effects: &mut Vec<FaultEffect>, since: &mut (u64, u64)| {
        let now = counts();
        if let Some(last) = effects.last_mut() {
            last.given_up = now.0 - since.0;
            last.client_errors = now.1 - since.1;
            progress(&format!(
                "effect of {}: {} records given up, {} client errors",
                last.fault, last.given_up, last.client_errors
            ));
        }
        *since = now;
    };
    let mut at = Duration::ZERO;
    for step in schedule {
        at += step.wait;
        sleep_until(started + at);
        close(&mut effects, &mut since);
        effects.push(FaultEffect {
            fault: step.fault.to_string(),
            given_up: 0,
            client_errors: 0,
        });
        progress(&format!(
            "[{:>6.1}s] {} for {:.1}s ({} acked so far)",
            started.elapsed().as_secs_f64(),
            step.fault,
            step.hold.as_secs_f64(),
            acked()
        ));
        cluster.inject(step.fault)?;
        at += step.hold;
        sleep_until(started + at);
        cluster.undo(step.fault)?;
        progress(&format!(
            "[{:>6.1}s] undone: {} ({} acked so far)",
            started.elapsed().as_secs_f64(),
            step.fault,
            acked()
        ));
    }
    sleep_until(started + duration);
    close(&mut effects, &mut since);
    let running = producers.running();
    if running < producers.count() {
        return Err(Error::Client {
            what: "producer".to_owned(),
            message: format!("only {running} of {} still run", producers.count()),
        });
    }
    Ok(effects)
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// The checker's report as a table, one row per partition and a total.
pub fn print_report(report: &Report) {
    println!(
        "{:>9} {:>8} {:>8} {:>6} {:>10} {:>9} {:>6} {:>7}",
        "partition", "acked", "read", "lost", "duplicated", "reordered", "moved", "unacked"
    );
    let row = |name: String, part: &checker::PartitionReport| {
        println!(
            "{name:>9} {:>8} {:>8} {:>6} {:>10} {:>9} {:>6} {:>7}",
            part.acked,
            part.read,
            part.lost,
            part.duplicated,
            part.reordered,
            part.moved,
            part.unacknowledged
        );
    };
    for (partition, part) in &report.partitions {
        row(partition.to_string(), part);
    }
    row("total".to_owned(), &report.total);
    for (partition, part) in &report.partitions {
        for example in &part.examples {
            println!("partition {partition}: {example}");
        }
    }
}
