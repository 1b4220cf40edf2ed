//! The seeded fault schedule. The same seed and broker count give the same
//! faults at the same times (relative to the start of the run), so a failing
//! run can be replayed; what the brokers do in between is not deterministic.

use std::fmt;
use std::time::Duration;

use crate::NodeId;

/// SplitMix64: small, seedable, good enough to pick faults.
#[derive(Clone, Debug)]
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `low..=high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low <= high, "empty range {low}..={high}");
        low + self.next_u64() % (high - low + 1)
    }

    pub fn millis(&mut self, low: u64, high: u64) -> Duration {
        Duration::from_millis(self.between(low, high))
    }

    pub fn node(&mut self, brokers: usize) -> NodeId {
        NodeId::try_from(self.between(1, brokers as u64)).expect("a handful of brokers")
    }
}

/// One fault, applied for `Step::hold` and then undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// kill -9, then a restart on the same data once the hold is over.
    Kill(NodeId),
    /// SIGTERM (a clean shutdown, as a rolling upgrade stops a broker), then
    /// a restart on the same data once the hold is over.
    Terminate(NodeId),
    /// SIGSTOP, then SIGCONT.
    Pause(NodeId),
    /// Every link to and from the node cut (refused, or blackholed).
    Isolate { node: NodeId, blackhole: bool },
    /// Only `from`->`to` cut: `to` stops hearing `from`.
    OneWay {
        from: NodeId,
        to: NodeId,
        blackhole: bool,
    },
    /// Every chunk on `from`->`to` held for the delay.
    Delay {
        from: NodeId,
        to: NodeId,
        delay: Duration,
    },
}

impl fmt::Display for Fault {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = |blackhole: bool| if blackhole { "blackhole" } else { "refuse" };
        match self {
            Self::Kill(node) => write!(formatter, "kill -9 broker {node}"),
            Self::Terminate(node) => write!(formatter, "SIGTERM broker {node}"),
            Self::Pause(node) => write!(formatter, "SIGSTOP broker {node}"),
            Self::Isolate { node, blackhole } => {
                write!(formatter, "isolate broker {node} ({})", how(*blackhole))
            }
            Self::OneWay {
                from,
                to,
                blackhole,
            } => write!(formatter, "cut link {from}->{to} ({})", how(*blackhole)),
            Self::Delay { from, to, delay } => {
                write!(formatter, "delay link {from}->{to} by {delay:?}")
            }
        }
    }
}

/// One step of the schedule: wait, inject, hold, undo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Quiet time before the fault.
    pub wait: Duration,
    pub fault: Fault,
    /// How long the fault lasts.
    pub hold: Duration,
}

/// The faults of a run of `duration` against `brokers` brokers: process faults
/// always, network faults only with peers to cut. Faults never overlap, so a
/// three-broker cluster keeps a majority between steps.
pub fn schedule(seed: u64, brokers: usize, duration: Duration) -> Vec<Step> {
    assert!(brokers >= 1, "no brokers to fault");
    let mut random = Random::new(seed);
    let mut steps = Vec::new();
    let mut elapsed = Duration::ZERO;
    loop {
        let wait = random.millis(1_000, 4_000);
        let hold = random.millis(1_000, 6_000);
        if elapsed + wait + hold > duration {
            return steps;
        }
        elapsed += wait + hold;
        let kinds = if brokers == 1 { 2 } else { 5 };
        let fault = match random.between(0, kinds - 1) {
            0 => Fault::Kill(random.node(brokers)),
            1 => Fault::Pause(random.node(brokers)),
            2 => Fault::Isolate {
                node: random.node(brokers),
                blackhole: random.between(0, 1) == 1,
            },
            kind => {
                let from = random.node(brokers);
                let offset = random.between(1, brokers as u64 - 1);
                let to = NodeId::try_from((u64::from(from) - 1 + offset) % brokers as u64 + 1)
                    .expect("a handful of brokers");
                assert_ne!(from, to, "a link joins two brokers");
                if kind == 3 {
                    let blackhole = random.between(0, 1) == 1;
                    Fault::OneWay {
                        from,
                        to,
                        blackhole,
                    }
                } else {
                    Fault::Delay {
                        from,
                        to,
                        delay: random.millis(20, 400),
                    }
                }
            }
        };
        steps.push(Step { wait, fault, hold });
    }
}

/// Which faults a run injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// [`schedule`]: every kind of fault, seeded.
    Seeded,
    /// [`restarts`]: broker restarts only, as a rolling upgrade does them.
    Restarts,
}

impl std::str::FromStr for Plan {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "seeded" => Ok(Self::Seeded),
            "restarts" => Ok(Self::Restarts),
            other => Err(format!("unknown fault plan {other:?} (seeded, restarts)")),
        }
    }
}

/// Restarts one broker at a time, each in turn (1, 2, ...), alternately by
/// SIGTERM and by SIGKILL, 2 s apart and down for 1 s, as many as fit in
/// `duration`: what a rolling upgrade (or a crash during one) does to the
/// clients, with nothing else going wrong.
pub fn restarts(brokers: usize, duration: Duration) -> Vec<Step> {
    assert!(brokers >= 1, "no brokers to restart");
    let (wait, hold) = (Duration::from_secs(2), Duration::from_secs(1));
    let count = duration.as_millis() / (wait + hold).as_millis();
    (0..usize::try_from(count).unwrap_or(usize::MAX))
        .map(|index| {
            let node = NodeId::try_from(index % brokers + 1).expect("a handful of brokers");
            let fault = if index % 2 == 0 {
                Fault::Terminate(node)
            } else {
                Fault::Kill(node)
            };
            Step { wait, fault, hold }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_take_each_broker_in_turn_alternately_by_sigterm_and_sigkill() {
        let steps = restarts(3, Duration::from_secs(13));
        let faults: Vec<_> = steps.iter().map(|step| step.fault).collect();
        assert_eq!(
            faults,
            [
                Fault::Terminate(1),
                Fault::Kill(2),
                Fault::Terminate(3),
                Fault::Kill(1)
            ]
        );
        assert_eq!("restarts".parse(), Ok(Plan::Restarts));
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule() {
        let duration = Duration::from_secs(120);
        assert_eq!(schedule(7, 3, duration), schedule(7, 3, duration));
        assert_ne!(schedule(7, 3, duration), schedule(8, 3, duration));
    }

    #[test]
    fn a_single_broker_gets_only_process_faults_and_the_schedule_fits() {
        let duration = Duration::from_secs(60);
        let steps = schedule(1, 1, duration);
        assert!(steps.len() >= 5, "{steps:?}");
        let total: Duration = steps.iter().map(|step| step.wait + step.hold).sum();
        assert!(total <= duration);
        for step in steps {
            assert!(
                matches!(step.fault, Fault::Kill(1) | Fault::Pause(1)),
                "{step:?}"
            );
        }
    }

    #[test]
    fn three_brokers_get_every_kind_of_fault_on_real_links() {
        let steps = schedule(3, 3, Duration::from_secs(3_600));
        let kinds: std::collections::HashSet<_> = steps
            .iter()
            .map(|step| std::mem::discriminant(&step.fault))
            .collect();
        assert_eq!(kinds.len(), 5);
        for step in steps {
            if let Fault::OneWay { from, to, .. } | Fault::Delay { from, to, .. } = step.fault {
                assert!(from != to && (1..=3).contains(&from) && (1..=3).contains(&to));
            }
        }
    }
}
