//! A simulated cluster: engines, a faulty network, disks that lose unflushed
//! entries on crash, all driven by one seeded event queue.

use std::collections::BTreeMap;

use fjord_replication::{
    Command, Config, Engine, HardState, Input, LogState, Message, Millis, NodeId, ReplyOutcome,
    RequestId,
};

use crate::oracle::Oracle;
use crate::rng::Rng;

/// How hostile the world is during the chaos phase.
#[derive(Debug, Clone, Copy)]
pub struct Faults {
    pub loss_percent: u64,
    pub duplicate_percent: u64,
    /// Chance per second that some node crashes.
    pub crash_percent_per_second: u64,
    pub latency_ms_max: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Deliver {
        from: NodeId,
        to: NodeId,
        message: Message,
    },
    Tick(usize),
    Fsync(usize),
    Restart(usize),
    Write,
    Chaos,
}

/// What a run did, for the test's assertions and messages.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub events: u64,
    pub crashes: u64,
    pub acknowledged: usize,
    pub acknowledged_after_heal: usize,
}

#[derive(Debug)]
pub struct Simulation {
    rng: Rng,
    now: Millis,
    sequence: u64,
    queue: BTreeMap<(Millis, u64), Event>,
    nodes: Vec<Option<Engine>>,
    /// State of a crashed node until it restarts.
    disks: Vec<(HardState, LogState)>,
    faults: Option<Faults>,
    /// A node cut off from the others (both directions), if any.
    isolated: Option<usize>,
    oracle: Oracle,
    next_request: u64,
    report: Report,
}

const NODES: usize = 3;
const TICK_MS: u64 = 10;
const FSYNC_MS: u64 = 4;
const WRITE_MS: u64 = 15;
/// The quorum check walks every acknowledged write: run it every so often
/// and at every crash, where a loss would happen.
const CHECK_EVERY: u64 = 64;

fn config(index: usize, seed: u64) -> Config {
    let voters = (0..NODES as u32).map(NodeId).collect();
    Config::new(
        NodeId(index as u32),
        voters,
        seed.wrapping_mul(31).wrapping_add(index as u64),
    )
}

impl Simulation {
    pub fn new(seed: u64, faults: Faults) -> Simulation {
        let mut simulation = Simulation {
            rng: Rng::new(seed),
            now: Millis(0),
            sequence: 0,
            queue: BTreeMap::new(),
            nodes: Vec::new(),
            disks: vec![(HardState::default(), LogState::default()); NODES],
            faults: Some(faults),
            oracle: Oracle::default(),
            next_request: 0,
            report: Report::default(),
            isolated: None,
        };
        for index in 0..NODES {
            let engine = Engine::new(
                config(index, seed),
                HardState::default(),
                LogState::default(),
                Millis(0),
            );
            simulation.nodes.push(Some(engine.expect("valid config")));
            simulation.schedule(1 + index as u64, Event::Tick(index));
            simulation.schedule(FSYNC_MS, Event::Fsync(index));
        }
        simulation.schedule(WRITE_MS, Event::Write);
        simulation.schedule(1000, Event::Chaos);
        simulation
    }

    fn schedule(&mut self, delay_ms: u64, event: Event) {
        self.sequence += 1;
        self.queue
            .insert((self.now.after(delay_ms), self.sequence), event);
    }

    /// Runs `chaos_ms` with faults, then `heal_ms` without; checks the oracle.
    pub fn run(mut self, chaos_ms: u64, heal_ms: u64) -> Report {
        let heal_at = Millis(chaos_ms);
        let end = Millis(chaos_ms + heal_ms);
        let mut healed = false;
        let mut acknowledged_at_heal = 0;
        // Bounded: every event is at a later or equal time and the run stops at `end`.
        while let Some(((at, _), event)) = self.queue.pop_first() {
            if at > end {
                break;
            }
            self.now = at;
            if !healed && at >= heal_at {
                healed = true;
                self.heal();
                acknowledged_at_heal = self.oracle.acknowledged_count();
            }
            self.handle(event);
            self.report.events += 1;
            if self.report.events.is_multiple_of(CHECK_EVERY) {
                self.check();
            }
        }
        self.report.acknowledged = self.oracle.acknowledged_count();
        self.report.acknowledged_after_heal = self.report.acknowledged - acknowledged_at_heal;
        if std::env::var("FJORD_SIM_DUMP").is_ok() {
            for node in self.nodes.iter().flatten() {
                eprintln!(
                    "{:?} {:?} hw {:?} log {:?}",
                    node.id(),
                    node.role(),
                    node.high_watermark(),
                    node.log()
                );
            }
        }
        let leader = self.nodes.iter().flatten().find(|e| e.is_leader());
        let leader = leader.expect("a healed cluster has a leader");
        self.check();
        self.oracle.check_leader(leader);
        self.report
    }

    /// A fault-free cluster for scripted scenarios (partitions, transfer).
    pub fn quiet(seed: u64) -> Simulation {
        let mut simulation = Simulation::new(
            seed,
            Faults {
                loss_percent: 0,
                duplicate_percent: 0,
                crash_percent_per_second: 0,
                latency_ms_max: 5,
            },
        );
        simulation.faults = None;
        simulation
    }

    /// Processes events up to `until` (inclusive), checking the oracle.
    pub fn advance_to(&mut self, until: Millis) {
        // Bounded: events only move forward in time and stop at `until`.
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.handle(event);
            self.report.events += 1;
        }
        self.now = self.now.max(until);
        self.check();
    }

    /// Cuts `node` off from every other node, or heals the cut with `None`.
    pub fn isolate(&mut self, node: Option<usize>) {
        assert!(node.is_none_or(|n| n < NODES));
        self.isolated = node;
    }

    /// Asks node `from` (the leader) to hand leadership to `to`.
    pub fn transfer_leadership(&mut self, from: usize, to: usize) {
        assert!(from < NODES && to < NODES && from != to);
        self.step(
            from,
            Input::TransferLeadership {
                to: NodeId(to as u32),
            },
        );
    }

    pub fn now(&self) -> Millis {
        self.now
    }

    /// The live node that believes it leads with the highest term.
    pub fn leader(&self) -> Option<&Engine> {
        self.nodes
            .iter()
            .flatten()
            .filter(|e| e.is_leader())
            .max_by_key(|e| e.term())
    }

    pub fn node(&self, index: usize) -> Option<&Engine> {
        self.nodes[index].as_ref()
    }

    pub fn acknowledged(&self) -> usize {
        self.oracle.acknowledged_count()
    }

    fn heal(&mut self) {
        self.faults = None;
        for index in 0..NODES {
            if self.nodes[index].is_none() {
                self.restart(index);
            }
        }
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Deliver { from, to, message } => {
                self.step(to.0 as usize, Input::Message { from, message });
            }
            Event::Tick(index) => {
                self.step(index, Input::Tick);
                self.schedule(TICK_MS, Event::Tick(index));
            }
            Event::Fsync(index) => {
                let end = self.nodes[index].as_ref().map(|e| e.log().end);
                if let Some(end) = end {
                    self.step(index, Input::Durable { end });
                }
                self.schedule(FSYNC_MS, Event::Fsync(index));
            }
            Event::Restart(index) => self.restart(index),
            Event::Write => self.write(),
            Event::Chaos => self.chaos(),
        }
    }

    fn write(&mut self) {
        self.schedule(WRITE_MS, Event::Write);
        let leader = self
            .nodes
            .iter()
            .flatten()
            .find(|e| e.is_leader())
            .map(|e| e.id());
        let Some(leader) = leader else { return };
        self.next_request += 1;
        let records = self.rng.between(1, 4) as u32;
        let request = RequestId(self.next_request);
        self.step(leader.0 as usize, Input::ClientAppend { request, records });
    }

    fn chaos(&mut self) {
        self.schedule(1000, Event::Chaos);
        let Some(faults) = self.faults else { return };
        if !self.rng.chance(faults.crash_percent_per_second) {
            return;
        }
        let index = self.rng.between(0, NODES as u64) as usize;
        if let Some(engine) = self.nodes[index].take() {
            // The crash loses every entry above the durable end.
            self.disks[index] = (engine.hard_state(), engine.log().after_crash());
            self.report.crashes += 1;
            self.check();
            let downtime = self.rng.between(50, 500);
            self.schedule(downtime, Event::Restart(index));
        }
    }

    fn restart(&mut self, index: usize) {
        if self.nodes[index].is_some() {
            return;
        }
        let (hard, log) = self.disks[index].clone();
        let seed = self.rng.next_u64();
        let engine = Engine::new(config(index, seed), hard, log, self.now);
        self.nodes[index] = Some(engine.expect("restart from durable state"));
    }

    fn step(&mut self, index: usize, input: Input) {
        let now = self.now;
        let Some(engine) = self.nodes[index].as_mut() else {
            return;
        };
        let commands = engine.step(now, input);
        for command in commands {
            self.execute(index, command);
        }
    }

    fn execute(&mut self, index: usize, command: Command) {
        let from = NodeId(index as u32);
        match command {
            Command::Send { to, message } => self.send(from, to, message),
            Command::Reply {
                outcome: ReplyOutcome::Committed { first, end },
                ..
            } => {
                let leader = self.nodes[index].as_ref().expect("a live node replied");
                self.oracle.acknowledged(first, end, leader);
            }
            Command::SetHighWatermark { .. } => {
                let node = self.nodes[index]
                    .as_ref()
                    .expect("a live node moved its watermark");
                self.oracle.observe(node);
            }
            // The engine's log view is the simulated disk; hard state is synchronous.
            _ => {}
        }
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        let cut = self.isolated.map(|i| NodeId(i as u32));
        if cut == Some(from) || cut == Some(to) {
            return;
        }
        let (loss, duplicate, latency_max) = match self.faults {
            Some(f) => (f.loss_percent, f.duplicate_percent, f.latency_ms_max),
            None => (0, 0, 5),
        };
        if self.rng.chance(loss) {
            return;
        }
        let copies = if self.rng.chance(duplicate) { 2 } else { 1 };
        for _ in 0..copies {
            let latency = self.rng.between(1, latency_max.max(2));
            self.schedule(
                latency,
                Event::Deliver {
                    from,
                    to,
                    message: message.clone(),
                },
            );
        }
    }

    /// Every acknowledged write is durable on a quorum; a crashed node
    /// counts with what its disk kept.
    fn check(&self) {
        let logs: Vec<&LogState> = (0..NODES)
            .map(|i| self.nodes[i].as_ref().map_or(&self.disks[i].1, |e| e.log()))
            .collect();
        self.oracle.check_durable_on_quorum(&logs, NODES / 2 + 1);
    }
}
