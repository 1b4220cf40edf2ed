//! `fjord-chaos up` (behind `cargo xtask cluster up`): N brokers with the
//! cluster flags on fixed loopback ports, in the foreground until Ctrl-C or
//! until one exits.

use std::path::PathBuf;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::cluster::{Addresses, Broker, BrokerSpec, wait_healthy};
use crate::{Error, Result};

const READY_TIMEOUT: Duration = Duration::from_secs(60);
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);

/// What to start.
#[derive(Clone, Debug)]
pub struct UpConfig {
    pub broker_binary: PathBuf,
    pub brokers: usize,
    pub base_port: u16,
    /// Holds `broker-N/` data and `broker-N.log`; emptied first unless `keep_data`.
    pub dir: PathBuf,
    pub keep_data: bool,
}

/// Starts the brokers, prints where they are, and waits for Ctrl-C; the
/// brokers are stopped (SIGTERM) on the way out, however it ends.
pub fn up(config: &UpConfig) -> Result<()> {
    assert!(config.brokers >= 1, "no brokers to start");
    let io = |source| Error::Io {
        path: config.dir.display().to_string(),
        source,
    };
    if config.dir.exists() && !config.keep_data {
        std::fs::remove_dir_all(&config.dir).map_err(io)?;
    }
    std::fs::create_dir_all(&config.dir).map_err(io)?;
    let addresses = (0..config.brokers)
        .map(|index| Addresses::from_base(config.base_port, index))
        .collect::<Option<Vec<_>>>()
        .ok_or(Error::Broker {
            node: 0,
            message: format!(
                "{} brokers do not fit above port {}",
                config.brokers, config.base_port
            ),
        })?;
    // Catch Ctrl-C and SIGTERM from here on, so the brokers (in process
    // groups of their own, out of the terminal's reach) are always stopped.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let (mut interrupt, mut terminate) = runtime
        .block_on(async {
            Ok::<_, std::io::Error>((
                signal(SignalKind::interrupt())?,
                signal(SignalKind::terminate())?,
            ))
        })
        .map_err(Error::Runtime)?;
    let specs = BrokerSpec::cluster(&addresses, &config.dir, |_, _, peer| peer);
    let mut brokers = Vec::new();
    for spec in specs {
        eprintln!(
            "==> starting broker {} on {}",
            spec.node, spec.addresses.kafka
        );
        brokers.push(Broker::start_in_own_group(&config.broker_binary, spec)?);
    }
    for broker in &mut brokers {
        broker.wait_ready(READY_TIMEOUT)?;
    }
    if brokers.len() > 1 {
        match wait_healthy(&brokers, HEALTHY_TIMEOUT) {
            Ok(health) => eprintln!("==> cluster healthy: controller {}", health["controller"]),
            // The brokers are up: a person can look at why.
            Err(health) => eprintln!("==> warning: the cluster is not healthy yet: {health:?}"),
        }
    }
    print(&brokers);
    let exited = runtime.block_on(async {
        tokio::select! {
            _ = interrupt.recv() => None,
            _ = terminate.recv() => None,
            node = watch(&mut brokers) => Some(node),
        }
    });
    eprintln!("==> stopping");
    for broker in &mut brokers {
        broker.stop();
    }
    match exited {
        Some(node) => Err(Error::Broker {
            node,
            message: "exited on its own; stopped the others".to_owned(),
        }),
        None => Ok(()),
    }
}

/// Returns the node id of the first broker that exits.
async fn watch(brokers: &mut [Broker]) -> u32 {
    loop {
        for broker in brokers.iter_mut() {
            if !broker.is_running() {
                return broker.spec.node;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn print(brokers: &[Broker]) {
    let bootstrap: Vec<_> = brokers
        .iter()
        .map(|broker| broker.spec.addresses.kafka.to_string())
        .collect();
    println!();
    println!("{} broker(s) running:", brokers.len());
    println!("  bootstrap  {}", bootstrap.join(","));
    for broker in brokers {
        let spec = &broker.spec;
        let peer = if brokers.len() > 1 {
            format!("   peer {}", spec.addresses.peer)
        } else {
            String::new()
        };
        println!(
            "  broker {}   kafka {}   admin http://{}{peer}   log {}",
            spec.node,
            spec.addresses.kafka,
            spec.addresses.admin,
            spec.log.display()
        );
    }
    println!();
    println!("Try:  kcat -b {} -L", bootstrap.join(","));
    println!("Ctrl-C stops every broker.");
}
