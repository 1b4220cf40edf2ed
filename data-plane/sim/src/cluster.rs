//! A simulated cluster: engines with skewed clocks, a faulty network with
//! one-way cuts, disks that tear their unflushed tail on crash, all driven by
//! one seeded event queue and watched by the invariant checkers.

use std::collections::{BTreeMap, BTreeSet};

use fjord_replication::{
    Command, Config, Engine, HardState, Input, LogState, Message, Millis, NodeId, Offset,
    ReplyOutcome, RequestId,
};

use crate::checkers::{self, Check, Checkers, Invariant, Violation};
use crate::clock::{NodeClock, RATE_PERMILLE_MAX, RATE_PERMILLE_MIN};
use crate::disk;
use crate::faults::Faults;
use crate::rng::Rng;

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
    /// Unsynced entries that survived crashes, and torn entries dropped.
    pub unsynced_kept: i64,
    pub torn_dropped: u64,
    pub one_way_cuts: u64,
    pub clock_changes: u64,
    pub transfers_requested: u64,
    /// Membership changes asked for, and how many committed.
    pub membership_requested: u64,
    pub membership_committed: u64,
    pub acknowledged: usize,
    pub acknowledged_after_heal: usize,
}

#[derive(Debug)]
pub struct Simulation {
    seed: u64,
    pub(crate) rng: Rng,
    pub(crate) now: Millis,
    sequence: u64,
    queue: BTreeMap<(Millis, u64), Event>,
    pub(crate) nodes: Vec<Option<Engine>>,
    /// State of a crashed node until it restarts.
    disks: Vec<(HardState, LogState)>,
    clocks: Vec<NodeClock>,
    faults: Option<Faults>,
    /// Directed links `(from, to)` that drop every message.
    pub(crate) cut: BTreeSet<(usize, usize)>,
    pub(crate) checkers: Checkers,
    /// The first broken invariant, before the event is attached.
    violation: Option<(Invariant, String)>,
    pub(crate) next_request: u64,
    /// Request ids of membership changes in flight.
    pub(crate) membership_requests: BTreeSet<RequestId>,
    pub(crate) report: Report,
}

/// Slots for nodes: the first `INITIAL_VOTERS` form the initial configuration;
/// the others start as spares outside it (running, never campaigning) until a
/// membership change adds them.
pub(crate) const NODES: usize = 4;
pub(crate) const INITIAL_VOTERS: usize = 3;
const TICK_MS: u64 = 10;
const FSYNC_MS: u64 = 4;
const FSYNC_SLOW_MS_MAX: u64 = 60;
const WRITE_MS: u64 = 15;
const CHAOS_MS: u64 = 1000;
/// The log and quorum checks walk every log: run them every so often and at
/// every crash, where a loss would happen.
const CHECK_EVERY: u64 = 64;

fn config(index: usize, seed: u64) -> Config {
    let voters = (0..INITIAL_VOTERS as u32).map(NodeId).collect();
    Config::new(
        NodeId(index as u32),
        voters,
        seed.wrapping_mul(31).wrapping_add(index as u64),
    )
}

impl Simulation {
    pub fn new(seed: u64, faults: Faults) -> Simulation {
        let mut rng = Rng::new(seed);
        let clocks = (0..NODES)
            .map(|_| match faults.clock_skew {
                true => NodeClock::new(Millis(rng.between(0, 10_000)), random_rate(&mut rng)),
                false => NodeClock::new(Millis(0), 1000),
            })
            .collect();
        let mut simulation = Simulation {
            seed,
            rng,
            now: Millis(0),
            sequence: 0,
            queue: BTreeMap::new(),
            nodes: vec![None; NODES],
            disks: vec![(HardState::default(), LogState::default()); NODES],
            clocks,
            faults: Some(faults),
            cut: BTreeSet::new(),
            checkers: Checkers::default(),
            violation: None,
            next_request: 0,
            membership_requests: BTreeSet::new(),
            report: Report::default(),
        };
        for index in 0..NODES {
            simulation.restart(index);
            simulation.schedule(1 + index as u64, Event::Tick(index));
            simulation.schedule(FSYNC_MS, Event::Fsync(index));
        }
        simulation.schedule(WRITE_MS, Event::Write);
        simulation.schedule(CHAOS_MS, Event::Chaos);
        simulation
    }

    /// A fault-free cluster with exact clocks, for scripted scenarios.
    pub fn quiet(seed: u64) -> Simulation {
        let faults = Faults {
            latency_ms_max: 5,
            ..Faults::default()
        };
        let mut simulation = Simulation::new(seed, faults);
        simulation.faults = None;
        simulation
    }

    fn schedule(&mut self, delay_ms: u64, event: Event) {
        self.sequence += 1;
        self.queue
            .insert((self.now.after(delay_ms), self.sequence), event);
    }

    /// Runs `chaos_ms` with faults, then `heal_ms` without; returns the first
    /// broken invariant with the event that broke it.
    pub fn run(mut self, chaos_ms: u64, heal_ms: u64) -> Result<Report, Violation> {
        self.advance(Millis(chaos_ms))?;
        self.heal();
        let acknowledged_at_heal = self.checkers.acknowledged_count();
        self.advance(Millis(chaos_ms + heal_ms))?;
        self.full_check();
        let leader = self.nodes.iter().flatten().find(|e| e.is_leader());
        let check = match leader {
            Some(leader) => self.checkers.holds_acknowledged(leader),
            None => Err((Invariant::Liveness, "no leader after healing".into())),
        };
        self.record(check);
        self.report.acknowledged = self.checkers.acknowledged_count();
        self.report.acknowledged_after_heal = self.report.acknowledged - acknowledged_at_heal;
        if self.report.acknowledged_after_heal == 0 {
            self.record(Err((
                Invariant::Liveness,
                "no write committed after healing".into(),
            )));
        }
        self.dump();
        match self.violation.take() {
            Some(broken) => Err(self.violation(broken, "end of run".into())),
            None => Ok(self.report),
        }
    }

    /// Processes events up to `until` (inclusive); stops at the first violation.
    fn advance(&mut self, until: Millis) -> Result<(), Violation> {
        // Bounded: events only move forward in time and stop at `until`.
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = at;
            self.handle(&event);
            self.report.events += 1;
            if self.report.events.is_multiple_of(CHECK_EVERY) {
                self.full_check();
            }
            if let Some(broken) = self.violation.take() {
                return Err(self.violation(broken, format!("{event:?}")));
            }
        }
        self.now = self.now.max(until);
        Ok(())
    }

    /// Scripted runs: processes events up to `until`, panicking on a violation.
    pub fn advance_to(&mut self, until: Millis) {
        let result = self.advance(until).and_then(|()| {
            self.full_check();
            match self.violation.take() {
                Some(broken) => Err(self.violation(broken, "scripted check".into())),
                None => Ok(()),
            }
        });
        if let Err(violation) = result {
            panic!("{violation}");
        }
    }

    fn violation(&self, (invariant, detail): (Invariant, String), event: String) -> Violation {
        let mut event_description = event;
        event_description.truncate(400);
        Violation {
            invariant,
            detail,
            seed: self.seed,
            event: self.report.events,
            at: self.now.0,
            event_description,
        }
    }

    fn record(&mut self, check: Check) {
        if let Err(broken) = check {
            self.violation.get_or_insert(broken);
        }
    }

    fn dump(&self) {
        if std::env::var("FJORD_SIM_DUMP").is_err() {
            return;
        }
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

    fn heal(&mut self) {
        self.faults = None;
        self.cut.clear();
        for index in 0..NODES {
            if self.nodes[index].is_none() {
                self.restart(index);
            }
        }
    }

    fn handle(&mut self, event: &Event) {
        match *event {
            Event::Deliver {
                from,
                to,
                ref message,
            } => {
                let message = message.clone();
                self.step(to.0 as usize, Input::Message { from, message });
            }
            Event::Tick(index) => {
                self.step(index, Input::Tick);
                let delay = self.clocks[index].real_delay(TICK_MS);
                self.schedule(delay, Event::Tick(index));
            }
            Event::Fsync(index) => {
                let end = self.nodes[index].as_ref().map(|e| e.log().end);
                if let Some(end) = end {
                    self.step(index, Input::Durable { end });
                }
                // A slow disk during chaos leaves a longer unsynced tail to tear.
                let delay = match self.faults {
                    Some(_) => self.rng.between(FSYNC_MS, FSYNC_SLOW_MS_MAX),
                    None => FSYNC_MS,
                };
                self.schedule(delay, Event::Fsync(index));
            }
            Event::Restart(index) => self.restart(index),
            Event::Write => self.write(),
            Event::Chaos => self.chaos(),
        }
    }

    fn write(&mut self) {
        self.schedule(WRITE_MS, Event::Write);
        let Some(leader) = self.leader().map(|e| e.id()) else {
            return;
        };
        self.next_request += 1;
        let records = self.rng.between(1, 4) as u32;
        let request = RequestId(self.next_request);
        self.step(leader.0 as usize, Input::ClientAppend { request, records });
    }

    fn chaos(&mut self) {
        self.schedule(CHAOS_MS, Event::Chaos);
        let Some(faults) = self.faults else { return };
        if self.rng.chance(faults.crash_percent) {
            let index = self.rng.between(0, NODES as u64) as usize;
            self.crash(index, faults.torn_writes);
        }
        if self.rng.chance(faults.partition_percent) {
            self.change_partition();
        }
        if self.rng.chance(faults.clock_change_percent) {
            let index = self.rng.between(0, NODES as u64) as usize;
            let rate = random_rate(&mut self.rng);
            self.clocks[index].set_rate(self.now, rate);
            if self.rng.chance(50) {
                let jump = self.rng.between(1, 2_000);
                self.clocks[index].jump(self.now, jump);
            }
            self.report.clock_changes += 1;
        }
        let leader = self.leader().map(|e| e.id().0 as usize);
        if let Some(leader) = leader
            && self.rng.chance(faults.transfer_percent)
        {
            let to = (leader + self.rng.between(1, NODES as u64) as usize) % NODES;
            self.transfer_leadership(leader, to);
            self.report.transfers_requested += 1;
        }
        if self.rng.chance(faults.membership_percent) {
            self.random_membership_change();
            // A second change at once must be refused while the first is
            // uncommitted (two uncommitted changes could form disjoint
            // majorities); proposing it anyway exercises that rule.
            if self.rng.chance(30) {
                self.random_membership_change();
            }
        }
    }

    /// Heals every cut, or cuts one direction of a random link (sometimes both).
    fn change_partition(&mut self) {
        if !self.cut.is_empty() && self.rng.chance(50) {
            self.cut.clear();
            return;
        }
        let from = self.rng.between(0, NODES as u64) as usize;
        let to = (from + self.rng.between(1, NODES as u64) as usize) % NODES;
        self.cut.insert((from, to));
        self.report.one_way_cuts += 1;
        if self.rng.chance(30) {
            self.cut.insert((to, from));
        }
    }

    fn crash(&mut self, index: usize, torn_writes: bool) {
        let Some(engine) = self.nodes[index].take() else {
            return;
        };
        let (log, outcome) = disk::crash(engine.log(), &mut self.rng, torn_writes);
        self.disks[index] = (engine.hard_state(), log);
        self.report.crashes += 1;
        self.report.unsynced_kept += outcome.kept;
        self.report.torn_dropped += u64::from(outcome.torn_dropped);
        self.full_check();
        let downtime = self.rng.between(50, 500);
        self.schedule(downtime, Event::Restart(index));
    }

    fn restart(&mut self, index: usize) {
        if self.nodes[index].is_some() {
            return;
        }
        let (hard, log) = self.disks[index].clone();
        let seed = self.rng.next_u64();
        let now = self.clocks[index].local(self.now);
        let engine = Engine::new(config(index, seed), hard, log, now);
        self.nodes[index] = Some(engine.expect("restart from recovered state"));
        self.checkers.restarted(NodeId(index as u32));
    }

    pub(crate) fn step(&mut self, index: usize, input: Input) {
        let now = self.clocks[index].local(self.now);
        let Some(engine) = self.nodes[index].as_mut() else {
            return;
        };
        let led = engine.is_leader().then(|| engine.term());
        let commands = engine.step(now, input);
        let truncated = commands
            .iter()
            .any(|c| matches!(c, Command::TruncateLog { .. }));
        let appended = commands
            .iter()
            .any(|c| matches!(c, Command::AppendEntries { .. }));
        for command in commands {
            self.execute(index, command);
        }
        // Only a truncation (or a crash) can lose an acknowledged write, and
        // only a change to a log can break log matching: check them there,
        // so the reported event is the one that broke the invariant.
        if truncated {
            let check = self.checkers.durable_on_quorum(&self.logs(), Offset::ZERO);
            self.record(check);
        }
        if truncated || appended {
            let check = checkers::log_matching(&self.logs());
            self.record(check);
        }
        let engine = self.nodes[index].as_ref().expect("a step keeps the node");
        if engine.is_leader() {
            let check = self.checkers.leader(engine, led != Some(engine.term()));
            self.record(check);
        }
    }

    fn execute(&mut self, index: usize, command: Command) {
        let from = NodeId(index as u32);
        let engine = self.nodes[index].as_ref().expect("a live node commands");
        let check = match command {
            Command::Send { to, message } => {
                self.send(from, to, message);
                Ok(())
            }
            Command::Reply {
                outcome: ReplyOutcome::Committed { first, end },
                request,
            } => {
                if self.membership_requests.remove(&request) {
                    self.report.membership_committed += 1;
                }
                self.checkers
                    .acknowledged(first, end, engine)
                    .and_then(|()| self.checkers.durable_on_quorum(&self.logs(), first))
            }
            Command::Reply { request, .. } => {
                self.membership_requests.remove(&request);
                Ok(())
            }
            Command::SetHighWatermark { .. } => self.checkers.exposed(engine),
            // The engine's log view is the simulated disk; hard state is synchronous.
            _ => Ok(()),
        };
        self.record(check);
    }

    fn send(&mut self, from: NodeId, to: NodeId, message: Message) {
        if self.cut.contains(&(from.0 as usize, to.0 as usize)) {
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
            let message = message.clone();
            self.schedule(latency, Event::Deliver { from, to, message });
        }
    }

    /// Every node's log: the live engine's, or what a crashed node's disk
    /// kept (its membership history included).
    fn logs(&self) -> Vec<(NodeId, &LogState)> {
        let log = |i: usize| self.nodes[i].as_ref().map_or(&self.disks[i].1, |e| e.log());
        (0..NODES).map(|i| (NodeId(i as u32), log(i))).collect()
    }

    /// Every check over whole logs; run at crashes and every `CHECK_EVERY`
    /// events as a backstop to the checks at the events that can break them.
    fn full_check(&mut self) {
        let durable = self.checkers.durable_on_quorum(&self.logs(), Offset::ZERO);
        let matching = checkers::log_matching(&self.logs());
        self.record(durable.and(matching));
    }
}

fn random_rate(rng: &mut Rng) -> u64 {
    rng.between(RATE_PERMILLE_MIN, RATE_PERMILLE_MAX + 1)
}
