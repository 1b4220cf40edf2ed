//! `fjord-control-plane-bench`: request rate and latency of typical reads
//! and writes, and how long a new intent takes to reach many long-polling
//! agents. Run it through `cargo xtask bench control-plane`.
//!
//! It creates its own database on the server at `DATABASE_URL` (dropped at
//! the end), starts the control plane as a child process (itself, in
//! `serve` mode, so the server's and the agents' sockets each get a whole
//! file-descriptor limit), creates an organization and an inventory over
//! the API, then measures. Latencies of the fixed-rate runs are taken from
//! each request's scheduled start (open loop), so a stalled server cannot
//! hide its queue.

mod fanout;
mod load;
mod report;
mod server;
mod setup;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

/// Benchmarks the control plane; prints a table, optionally writes JSON.
#[derive(Debug, Parser)]
struct Args {
    /// The Postgres server; the bench creates and drops its own database.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// A smoke run under a minute: short phases, 1,000 agents only.
    #[arg(long)]
    quick: bool,
    /// Skip the request-rate phases; measure only the intent fan-out.
    #[arg(long)]
    fanout_only: bool,
    /// Also run each fan-out with agents that do not apply or check their
    /// deltas (a diagnostic of the server's part, not a way to treat them).
    #[arg(long)]
    unverified_deltas: bool,
    /// Where to write the results as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Internal: serve the control plane on the named database.
    #[arg(long, hide = true)]
    serve_database: Option<String>,
}

/// How long each phase runs and how many agents wait.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) phase: Duration,
    pub(crate) read_rate: f64,
    pub(crate) write_rate: f64,
    pub(crate) concurrency: usize,
    pub(crate) agents: Vec<usize>,
}

impl Plan {
    fn new(quick: bool) -> Self {
        Self {
            phase: Duration::from_secs(if quick { 3 } else { 15 }),
            read_rate: 1_000.0,
            write_rate: 100.0,
            concurrency: 32,
            agents: if quick {
                vec![1_000]
            } else {
                vec![1_000, 10_000]
            },
        }
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    raise_file_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    match &args.serve_database {
        Some(database) => runtime.block_on(server::serve(&args.database_url, database)),
        None => runtime.block_on(run(&args)),
    }
}

async fn run(args: &Args) -> anyhow::Result<()> {
    let plan = Plan::new(args.quick);
    let database = format!("fjord_bench_{}", std::process::id());
    let admin = server::Database::create(&args.database_url, &database).await?;
    let result = measure(args, &plan, &admin).await;
    admin.drop_database().await?;
    let report = result?;
    report.print();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report.to_json())?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("results written to {}", path.display());
    }
    Ok(())
}

async fn measure(
    args: &Args,
    plan: &Plan,
    database: &server::Database,
) -> anyhow::Result<report::Report> {
    let key = fjord_control_plane::admin::create_organization(&database.pool, "bench").await?;
    let child = server::Child::start(&args.database_url, &database.name).await?;
    eprintln!("control plane serving at {}", child.base);
    let inventory = setup::Inventory::create(&child.base, &key).await?;
    let mut report = report::Report::new(args.quick, plan);
    if !args.fanout_only {
        report.load = load::run_all(&inventory, plan).await?;
    }
    let token = fanout::connect(&inventory).await?;
    for &agents in &plan.agents {
        let mut modes = vec![fanout::Mode::Full, fanout::Mode::Delta];
        if args.unverified_deltas {
            modes.push(fanout::Mode::DeltaUnverified);
        }
        for mode in modes {
            report
                .fanout
                .push(fanout::run(&inventory, &token, agents, mode).await?);
        }
    }
    Ok(report)
}

/// Raises the soft open-file limit to the hard one: 10,000 agents need
/// 10,000 sockets.
fn raise_file_limit() {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        limit.current = limit.maximum;
        if let Err(error) = setrlimit(Resource::Nofile, limit) {
            eprintln!("cannot raise the open-file limit: {error}");
        }
    }
}
