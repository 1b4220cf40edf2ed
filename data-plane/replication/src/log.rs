//! The engine's view of the partition log: epoch history and end offsets.
//! Mirrors `fjord-storage`'s `leader-epochs` file and offsets, without bytes.

use crate::types::{LogPosition, Offset, Term};

/// One epoch-history entry: entries from `start` on carry `term`, up to the
/// next entry's start (or the log end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochStart {
    pub term: Term,
    pub start: Offset,
}

/// Offsets are half-open: `[start, end)` holds entries, `durable <= end`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct LogState {
    /// Terms strictly increasing, starts strictly increasing, all in `[start, end)`
    /// except the first, which may begin before `start` after retention.
    pub epochs: Vec<EpochStart>,
    /// First offset still in the log (Kafka log start offset).
    pub start: Offset,
    /// Term of the entry just below `start` (`Term::ZERO` if none).
    pub start_term: Term,
    pub end: Offset,
    pub durable: Offset,
}

impl LogState {
    /// Checks the structural invariants; used by assertions and on restore.
    pub fn is_consistent(&self) -> bool {
        let ordered = self
            .epochs
            .windows(2)
            .all(|pair| pair[0].term < pair[1].term && pair[0].start < pair[1].start);
        let within = self.epochs.last().is_none_or(|last| last.start < self.end);
        let nonzero = self.epochs.iter().all(|epoch| epoch.term > Term::ZERO);
        ordered && within && nonzero && self.start <= self.durable && self.durable <= self.end
    }

    /// Term of the entry at `offset`, `Term::ZERO` for "before the log".
    /// `None` when `offset` is outside `[start - 1, end)`.
    pub fn term_at(&self, offset: Offset) -> Option<Term> {
        if offset >= self.end || offset.0 < self.start.0 - 1 {
            return None;
        }
        if offset.0 == self.start.0 - 1 {
            return Some(self.start_term);
        }
        let term = self
            .epochs
            .iter()
            .rev()
            .find(|epoch| epoch.start <= offset)
            .map_or(self.start_term, |epoch| epoch.term);
        Some(term)
    }

    /// Term of the entry before `offset` (the `prev_term` of an append from there).
    pub fn term_before(&self, offset: Offset) -> Option<Term> {
        if offset == Offset::ZERO {
            return Some(Term::ZERO);
        }
        self.term_at(offset.previous())
    }

    pub fn last_position(&self) -> LogPosition {
        let term = self
            .epochs
            .last()
            .map_or(self.start_term, |epoch| epoch.term);
        LogPosition {
            term,
            end: self.end,
        }
    }

    /// Kafka's OffsetForLeaderEpoch: the end of the largest term `<= term`,
    /// and that term; `None` if the log holds no such term.
    pub fn epoch_end(&self, term: Term) -> Option<(Term, Offset)> {
        let index = self.epochs.iter().rposition(|epoch| epoch.term <= term)?;
        let end = self
            .epochs
            .get(index + 1)
            .map_or(self.end, |next| next.start);
        Some((self.epochs[index].term, end))
    }

    /// First offset of the term covering `offset` (clamped to the log start).
    pub fn term_start(&self, offset: Offset) -> Offset {
        let start = self
            .epochs
            .iter()
            .rev()
            .find(|epoch| epoch.start <= offset)
            .map_or(self.start, |epoch| epoch.start);
        start.max(self.start)
    }

    /// The epoch history of `[from, end)`, for an append message.
    pub fn epochs_in(&self, from: Offset, end: Offset) -> Vec<EpochStart> {
        assert!(self.start <= from && from <= end && end <= self.end);
        let mut result = Vec::new();
        if from == end {
            return result;
        }
        let first_term = self.term_at(from).expect("from is inside the log");
        result.push(EpochStart {
            term: first_term,
            start: from,
        });
        let later = self
            .epochs
            .iter()
            .filter(|e| e.start > from && e.start < end);
        result.extend(later.copied());
        result
    }

    /// Appends `[self.end, end)` with the given epoch history.
    pub fn append(&mut self, end: Offset, epochs: &[EpochStart]) {
        assert!(end > self.end, "an append adds at least one offset");
        assert!(epochs.first().is_some_and(|e| e.start == self.end));
        for epoch in epochs {
            assert!(epoch.start < end);
            let last_term = self.last_position().term;
            assert!(epoch.term >= last_term, "terms never go back in a log");
            if epoch.term > last_term {
                self.epochs.push(*epoch);
            }
        }
        self.end = end;
        assert!(self.is_consistent());
    }

    /// Removes every entry at or above `end`.
    pub fn truncate(&mut self, end: Offset) {
        assert!(end >= self.start && end <= self.end);
        self.epochs.retain(|epoch| epoch.start < end);
        self.end = end;
        self.durable = self.durable.min(end);
        assert!(self.is_consistent());
    }

    /// The log as it is after a crash: only the durable prefix survives.
    pub fn after_crash(&self) -> LogState {
        let mut log = self.clone();
        log.truncate(self.durable);
        log
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(epochs: &[(i32, i64)], end: i64) -> LogState {
        LogState {
            epochs: epochs
                .iter()
                .map(|&(t, s)| EpochStart {
                    term: Term(t),
                    start: Offset(s),
                })
                .collect(),
            end: Offset(end),
            ..LogState::default()
        }
    }

    #[test]
    fn term_lookup_follows_the_epoch_history() {
        let log = log(&[(1, 0), (3, 4)], 6);
        assert_eq!(log.term_before(Offset(0)), Some(Term::ZERO));
        assert_eq!(log.term_at(Offset(3)), Some(Term(1)));
        assert_eq!(log.term_at(Offset(4)), Some(Term(3)));
        assert_eq!(log.term_at(Offset(6)), None);
        assert_eq!(log.epoch_end(Term(2)), Some((Term(1), Offset(4))));
        assert_eq!(log.epoch_end(Term(3)), Some((Term(3), Offset(6))));
        assert_eq!(log.epochs_in(Offset(2), Offset(6)).len(), 2);
    }

    #[test]
    fn truncation_drops_later_epochs_and_clamps_durability() {
        let mut log = log(&[(1, 0), (3, 4)], 6);
        log.durable = Offset(5);
        log.truncate(Offset(4));
        assert_eq!(log.last_position().term, Term(1));
        assert_eq!(log.durable, Offset(4));
    }
}
