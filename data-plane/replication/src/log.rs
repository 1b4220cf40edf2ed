//! The engine's view of the partition log: epoch history and end offsets.
//! Mirrors `fjord-storage`'s `leader-epochs` file and offsets, without bytes.

use crate::types::{LogPosition, NodeId, Offset, Term};

/// One epoch-history entry: entries from `start` on carry `term`, up to the
/// next entry's start (or the log end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EpochStart {
    pub term: Term,
    pub start: Offset,
}

/// A configuration entry: the entry at `offset` sets the voters, from the
/// moment it is appended (not committed) until a later one or its truncation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigEntry {
    pub offset: Offset,
    /// Sorted, without duplicates, never empty.
    pub voters: Vec<NodeId>,
}

impl ConfigEntry {
    /// Whether the voter list is sorted, duplicate-free and non-empty.
    pub fn is_well_formed(&self) -> bool {
        !self.voters.is_empty() && self.voters.windows(2).all(|pair| pair[0] < pair[1])
    }
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
    /// Membership history: configuration entries by rising offset, all in
    /// `[start, end)` except the first, which may lie below `start` after
    /// retention (it is still the configuration in effect there).
    pub configs: Vec<ConfigEntry>,
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
        let configs_ordered = self
            .configs
            .windows(2)
            .all(|pair| pair[0].offset < pair[1].offset && pair[1].offset >= self.start);
        let configs_within = self.configs.iter().all(|c| c.offset < self.end);
        let configs_valid = self.configs.iter().all(ConfigEntry::is_well_formed);
        ordered
            && within
            && nonzero
            && configs_ordered
            && configs_within
            && configs_valid
            && self.start <= self.durable
            && self.durable <= self.end
    }

    /// The latest configuration entry in the log, uncommitted ones included.
    pub fn latest_config(&self) -> Option<&ConfigEntry> {
        self.configs.last()
    }

    /// The configuration entries in `[from, end)`, for an append message.
    pub fn configs_in(&self, from: Offset, end: Offset) -> Vec<ConfigEntry> {
        let within = self
            .configs
            .iter()
            .filter(|c| from <= c.offset && c.offset < end);
        within.cloned().collect()
    }

    /// Records configuration entries just appended (each inside the log,
    /// after every earlier one).
    pub fn record_configs(&mut self, configs: &[ConfigEntry]) {
        for config in configs {
            let after = self
                .configs
                .last()
                .is_none_or(|last| last.offset < config.offset);
            assert!(after && config.offset >= self.start && config.offset < self.end);
            assert!(config.is_well_formed(), "voters sorted and non-empty");
            self.configs.push(config.clone());
        }
        assert!(self.is_consistent());
    }

    /// Retention removed everything below `start`: keeps the configuration in
    /// effect there and every later one.
    pub fn forget_configs_below(&mut self, start: Offset) {
        let in_effect = self.configs.iter().rposition(|c| c.offset < start);
        if let Some(index) = in_effect {
            self.configs.drain(..index);
        }
        assert!(self.configs.iter().skip(1).all(|c| c.offset >= start));
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
        self.configs.retain(|config| config.offset < end);
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
    fn truncation_drops_later_configurations_and_retention_keeps_the_one_in_effect() {
        let mut log = log(&[(1, 0)], 10);
        let voters = |ids: &[u32]| ids.iter().copied().map(NodeId).collect::<Vec<_>>();
        log.record_configs(&[
            ConfigEntry {
                offset: Offset(2),
                voters: voters(&[1, 2]),
            },
            ConfigEntry {
                offset: Offset(6),
                voters: voters(&[1, 2, 3]),
            },
        ]);
        assert_eq!(log.configs_in(Offset(3), Offset(10)).len(), 1);
        log.truncate(Offset(6));
        assert_eq!(log.latest_config().map(|c| c.offset), Some(Offset(2)));
        log.durable = Offset(6);
        log.start = Offset(4);
        log.forget_configs_below(Offset(4));
        assert_eq!(log.configs.len(), 1, "the configuration in effect stays");
        assert!(log.is_consistent());
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
