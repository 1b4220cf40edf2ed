//! `fjord-chaos`: a chaos run against real brokers (`run`, what
//! `cargo xtask chaos` starts), or the fault-injecting proxy on its own,
//! driven by commands on stdin (`proxy`).

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use fjord_chaos::proxy::{LinkSpec, Proxy};
use fjord_chaos::run::{RunConfig, print_report, run};
use fjord_chaos::up::{UpConfig, up};

#[derive(Parser, Debug)]
#[command(
    name = "fjord-chaos",
    about = "Chaos testing of fjord-broker processes"
)]
struct Arguments {
    #[command(subcommand)]
    command: Action,
}

#[derive(Subcommand, Debug)]
enum Action {
    /// Start brokers, produce, inject seeded faults, then check every
    /// acknowledged record; exits 1 if anything was lost, duplicated,
    /// reordered or moved.
    Run {
        /// The `fjord-broker` binary.
        #[arg(long)]
        broker_bin: PathBuf,
        /// A Python with confluent-kafka.
        #[arg(long, env = "FJORD_TEST_PYTHON")]
        python: PathBuf,
        #[arg(long, default_value_t = 3)]
        brokers: usize,
        /// Seconds of faults.
        #[arg(long, default_value_t = 120)]
        duration: u64,
        /// Fault schedule seed; a random one when absent (printed either way).
        #[arg(long)]
        seed: Option<u64>,
        /// Work directory (emptied first): data, logs, oracle, report.
        #[arg(long, default_value = "target/chaos")]
        dir: PathBuf,
        #[arg(long, default_value_t = 6)]
        partitions: i32,
        #[arg(long, default_value_t = 3)]
        producers: usize,
        /// Records per second per producer.
        #[arg(long, default_value_t = 200)]
        rate: u32,
        /// `seeded` (every kind of fault) or `restarts` (each broker in
        /// turn, alternately by SIGTERM and SIGKILL).
        #[arg(long, default_value = "seeded")]
        faults: fjord_chaos::faults::Plan,
    },
    /// Start N brokers with the cluster flags on fixed loopback ports (Kafka
    /// BASE+10*i, peer +1, admin +2), print where they are, and keep them
    /// running until Ctrl-C. One broker is single-broker mode.
    Up {
        /// The `fjord-broker` binary.
        #[arg(long)]
        broker_bin: PathBuf,
        #[arg(long, default_value_t = 3)]
        brokers: usize,
        #[arg(long, default_value_t = 19092)]
        base_port: u16,
        /// Data directories and logs (emptied first unless --keep-data).
        #[arg(long, default_value = "target/cluster")]
        data_dir: PathBuf,
        /// Start on the data of the previous run.
        #[arg(long)]
        keep_data: bool,
    },
    /// Proxy the given links; commands on stdin, one per line:
    /// `cut A B`, `blackhole A B`, `heal A B`, `delay A B MILLIS`,
    /// `isolate N [blackhole]`, `heal-all`, `status`.
    Proxy {
        /// `FROM-TO=LISTEN/UPSTREAM`, e.g. `1-2=127.0.0.1:29193/127.0.0.1:29093`.
        #[arg(long = "link", required = true)]
        links: Vec<String>,
    },
}

fn main() -> ExitCode {
    match Arguments::parse().command {
        Action::Run {
            broker_bin,
            python,
            brokers,
            duration,
            seed,
            dir,
            partitions,
            producers,
            rate,
            faults,
        } => {
            let seed = seed.unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(1, |now| now.as_nanos() as u64 % 1_000_000)
            });
            let config = RunConfig {
                brokers,
                duration: Duration::from_secs(duration),
                seed,
                broker_binary: broker_bin,
                python,
                dir,
                partitions,
                producers,
                rate,
                plan: faults,
            };
            report(&config, run(&config).context("the chaos run failed"))
        }
        Action::Up {
            broker_bin,
            brokers,
            base_port,
            data_dir,
            keep_data,
        } => {
            let config = UpConfig {
                broker_binary: broker_bin,
                brokers,
                base_port,
                dir: data_dir,
                keep_data,
            };
            match up(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    eprintln!("fjord-chaos: {error}");
                    ExitCode::FAILURE
                }
            }
        }
        Action::Proxy { links } => match proxy(&links) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("fjord-chaos: {error:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn report(config: &RunConfig, outcome: anyhow::Result<fjord_chaos::run::Outcome>) -> ExitCode {
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(error) => {
            eprintln!("fjord-chaos: {error:#}");
            eprintln!("seed {}; replay: {}", config.seed, config.replay());
            return ExitCode::FAILURE;
        }
    };
    print_report(&outcome.report);
    println!(
        "{} faults; {} records given up (failed deliveries: never acknowledged, so no loss); \
         {} client errors; {} producer restarts",
        outcome.faults, outcome.failed_deliveries, outcome.client_errors, outcome.producer_restarts
    );
    for effect in &outcome.effects {
        println!(
            "  {:<40} {:>6} given up {:>6} client errors",
            effect.fault, effect.given_up, effect.client_errors
        );
    }
    println!(
        "oracle {}; report {}",
        outcome.oracle.display(),
        config.dir.join("report.json").display()
    );
    println!("seed {}; replay: {}", config.seed, config.replay());
    if outcome.report.is_clean() && outcome.report.total.acked > 0 {
        println!("chaos: clean: nothing acknowledged was lost, duplicated, reordered or moved");
        ExitCode::SUCCESS
    } else if outcome.report.total.acked == 0 {
        eprintln!("chaos: nothing was acknowledged, so nothing was checked");
        ExitCode::FAILURE
    } else {
        eprintln!("chaos: VIOLATIONS: {}", outcome.report.total.violations());
        ExitCode::FAILURE
    }
}

fn parse_link(text: &str) -> anyhow::Result<LinkSpec> {
    let parse = || -> Option<LinkSpec> {
        let (pair, addresses) = text.split_once('=')?;
        let (from, to) = pair.split_once('-')?;
        let (listen, upstream) = addresses.split_once('/')?;
        Some(LinkSpec {
            from: from.parse().ok()?,
            to: to.parse().ok()?,
            listen: listen.parse().ok()?,
            upstream: upstream.parse().ok()?,
        })
    };
    parse().with_context(|| format!("bad --link {text:?}: want FROM-TO=LISTEN/UPSTREAM"))
}

fn proxy(links: &[String]) -> anyhow::Result<()> {
    let specs = links
        .iter()
        .map(|link| parse_link(link))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let proxy = Proxy::start(&specs)?;
    for link in proxy.links() {
        println!(
            "link {}->{} on {} to {}",
            link.from, link.to, link.listen, link.upstream
        );
    }
    for line in std::io::stdin().lock().lines() {
        let line = line.context("reading stdin")?;
        match command(&proxy, &line) {
            Ok(()) => println!("ok"),
            Err(error) => println!("error: {error:#}"),
        }
    }
    proxy.shutdown();
    Ok(())
}

fn command(proxy: &Proxy, line: &str) -> anyhow::Result<()> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let number = |index: usize| -> anyhow::Result<u32> {
        words
            .get(index)
            .context("missing argument")?
            .parse()
            .context("not a number")
    };
    match words.first().copied() {
        Some("cut") => proxy.cut(number(1)?, number(2)?, false)?,
        Some("blackhole") => proxy.cut(number(1)?, number(2)?, true)?,
        Some("heal") => proxy.heal(number(1)?, number(2)?)?,
        Some("delay") => {
            let delay = Duration::from_millis(u64::from(number(3)?));
            proxy.delay(number(1)?, number(2)?, delay)?;
        }
        Some("isolate") => proxy.isolate(number(1)?, words.get(2) == Some(&"blackhole"))?,
        Some("heal-all") => proxy.heal_all(),
        Some("status") => {
            for link in proxy.links() {
                let setting = proxy.setting(link.from, link.to)?;
                println!("{}->{}: {setting:?}", link.from, link.to);
            }
        }
        Some(other) => bail!("unknown command {other:?}"),
        None => {}
    }
    Ok(())
}
