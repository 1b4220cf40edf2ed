//! What a crash leaves on disk, and what recovery makes of it.
//!
//! The medium (as `data-plane/storage/DESIGN.md` assumes): everything below the
//! last fsync survives; of the unsynced tail, the page cache may have written
//! any subset of entries, and the entry being written when power went may be
//! torn (partly written). Recovery scans forward from the durable end and keeps
//! entries while their checksum holds, so it keeps the longest whole prefix of
//! the tail and drops the first torn or missing entry and everything after it.

use fjord_replication::{LogState, Offset};

use crate::rng::Rng;

/// The state of one unsynced entry after the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Whole,
    Torn,
    Missing,
}

/// What a crash did to the unsynced tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct CrashOutcome {
    /// Unsynced entries recovery kept.
    pub(crate) kept: i64,
    /// A torn entry that recovery detected and dropped.
    pub(crate) torn_dropped: bool,
}

/// Unsynced entries past which the crash model stops looking: a bound on work.
const TAIL_MAX: i64 = 4096;

/// The log recovery finds after a crash of a node whose log was `log`.
pub(crate) fn crash(log: &LogState, rng: &mut Rng, torn_writes: bool) -> (LogState, CrashOutcome) {
    assert!(log.is_consistent());
    let tail = (log.end.0 - log.durable.0).min(TAIL_MAX);
    let mut written: Vec<Written> = (0..tail)
        .map(|_| match rng.between(0, 10) {
            _ if !torn_writes => Written::Missing,
            0 => Written::Torn,
            1..=6 => Written::Whole,
            _ => Written::Missing,
        })
        .collect();
    if torn_writes && rng.chance(30) {
        // The page cache flushed in order: a whole prefix, then a torn entry.
        let whole = rng.between(0, tail as u64 + 1) as usize;
        for (index, state) in written.iter_mut().enumerate() {
            *state = match index.cmp(&whole) {
                std::cmp::Ordering::Less => Written::Whole,
                std::cmp::Ordering::Equal => Written::Torn,
                std::cmp::Ordering::Greater => Written::Missing,
            };
        }
    }
    let (recovered, outcome) = recover(log, &written);
    assert!(recovered.is_consistent());
    assert!(log.durable <= recovered.end && recovered.end <= log.end);
    (recovered, outcome)
}

/// Storage recovery: keep the whole prefix of the tail, stop at the first
/// entry whose checksum fails (torn) or that is absent.
fn recover(log: &LogState, written: &[Written]) -> (LogState, CrashOutcome) {
    let kept = written.iter().take_while(|w| **w == Written::Whole).count() as i64;
    let torn_dropped = written.get(kept as usize) == Some(&Written::Torn);
    let mut recovered = log.clone();
    recovered.truncate(log.durable.plus(kept));
    // Recovery exposes only entries that were whole: a prefix of the old log.
    for offset in recovered.start.0..recovered.end.0 {
        assert_eq!(
            recovered.term_at(Offset(offset)),
            log.term_at(Offset(offset)),
            "recovery exposed an entry the crash corrupted"
        );
    }
    (recovered, CrashOutcome { kept, torn_dropped })
}

#[cfg(test)]
mod tests {
    use fjord_replication::{EpochStart, Term};

    use super::*;

    fn log() -> LogState {
        LogState {
            epochs: vec![
                EpochStart {
                    term: Term(1),
                    start: Offset(0),
                },
                EpochStart {
                    term: Term(2),
                    start: Offset(5),
                },
            ],
            end: Offset(10),
            durable: Offset(4),
            ..LogState::default()
        }
    }

    #[test]
    fn recovery_keeps_the_whole_prefix_and_drops_a_torn_entry() {
        use Written::{Missing, Torn, Whole};
        let (recovered, outcome) = recover(&log(), &[Whole, Whole, Torn, Whole, Missing, Whole]);
        assert_eq!(recovered.end, Offset(6));
        assert_eq!(recovered.durable, Offset(4));
        assert_eq!(recovered.last_position().term, Term(2));
        assert_eq!(
            outcome,
            CrashOutcome {
                kept: 2,
                torn_dropped: true
            }
        );
    }

    #[test]
    fn without_torn_writes_a_crash_keeps_only_the_durable_prefix() {
        let mut rng = Rng::new(3);
        let (recovered, outcome) = crash(&log(), &mut rng, false);
        assert_eq!(recovered, log().after_crash());
        assert_eq!(outcome.kept, 0);
    }
}
