//! The follower side of replication: accepting, truncating, acknowledging.

use crate::engine::{Engine, Role};
use crate::log::{ConfigEntry, EpochStart};
use crate::message::{AppendResult, AppendSource, Command, Message, RejectHint};
use crate::types::{NodeId, Offset, Term};

/// Term of `offset` according to an append's epoch history.
fn term_in(epochs: &[EpochStart], offset: Offset) -> Term {
    let found = epochs.iter().rev().find(|epoch| epoch.start <= offset);
    found.expect("epochs cover the append range").term
}

/// The epoch history covers exactly `[from, end)` with rising terms no
/// newer than the sender's.
fn well_formed(term: Term, from: Offset, end: Offset, epochs: &[EpochStart]) -> bool {
    if from > end || (from == end) != epochs.is_empty() {
        return false;
    }
    let first_ok = epochs.first().is_none_or(|first| first.start == from);
    let rising = epochs
        .windows(2)
        .all(|pair| pair[0].term < pair[1].term && pair[0].start < pair[1].start);
    let bounded = epochs
        .iter()
        .all(|e| e.start < end && e.term <= term && e.term > Term::ZERO);
    first_ok && rising && bounded
}

/// Configuration entries lie in `[from, end)` by rising offset, each valid.
fn configs_well_formed(from: Offset, end: Offset, configs: &[ConfigEntry]) -> bool {
    let rising = configs
        .windows(2)
        .all(|pair| pair[0].offset < pair[1].offset);
    let within = configs.iter().all(|c| from <= c.offset && c.offset < end);
    rising && within && configs.iter().all(ConfigEntry::is_well_formed)
}

impl Engine {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_append(
        &mut self,
        leader: NodeId,
        term: Term,
        from: Offset,
        prev_term: Term,
        end: Offset,
        (epochs, configs): (Vec<EpochStart>, Vec<ConfigEntry>),
        commit: Offset,
    ) {
        if term < self.hard.term {
            let hint = RejectHint::LogEnd(self.log.end);
            let result = AppendResult::Rejected { from, hint };
            self.send(
                leader,
                Message::AppendResponse {
                    term: self.hard.term,
                    result,
                },
            );
            return;
        }
        assert!(term == self.hard.term);
        assert!(!self.is_leader(), "two leaders in term {term}");
        if self.role
            != (Role::Follower {
                leader: Some(leader),
            })
        {
            self.become_follower(term, Some(leader));
        }
        self.reset_election_deadline();
        let valid =
            well_formed(term, from, end, &epochs) && configs_well_formed(from, end, &configs);
        if from < self.log.start || !valid {
            return; // below our retention point (committed), or malformed: drop
        }
        if let Some(hint) = self.mismatch(from, prev_term) {
            let result = AppendResult::Rejected { from, hint };
            self.send(leader, Message::AppendResponse { term, result });
            return;
        }
        if end > from {
            self.merge_entries(from, end, &epochs, &configs);
        }
        self.verified = self.verified.max(end);
        let high_watermark = commit.min(self.verified);
        if high_watermark > self.commit {
            self.commit = high_watermark;
            self.output.push(Command::SetHighWatermark {
                end: high_watermark,
            });
        }
        self.send_accept(leader, end > from);
    }

    /// Why the entry before `from` does not match the leader's, if it does not.
    fn mismatch(&self, from: Offset, prev_term: Term) -> Option<RejectHint> {
        if from > self.log.end {
            return Some(RejectHint::LogEnd(self.log.end));
        }
        let ours = self.log.term_before(from).expect("from is inside the log");
        if ours == prev_term {
            return None;
        }
        assert!(
            from > self.commit,
            "a committed entry conflicts with the leader"
        );
        let start = self.log.term_start(from.previous());
        Some(RejectHint::Conflict { term: ours, start })
    }

    /// Truncates the first conflicting suffix and appends what is new.
    fn merge_entries(
        &mut self,
        from: Offset,
        end: Offset,
        epochs: &[EpochStart],
        configs: &[ConfigEntry],
    ) {
        assert!(epochs.first().is_some_and(|epoch| epoch.start == from));
        let overlap_end = end.min(self.log.end);
        let mut offset = from;
        // Bounded by the append size (max_append_records).
        while offset < overlap_end {
            if self.log.term_at(offset) != Some(term_in(epochs, offset)) {
                break;
            }
            offset = offset.plus(1);
        }
        if offset < self.log.end && offset < end {
            assert!(offset >= self.commit, "truncating a committed entry");
            self.log.truncate(offset);
            self.output.push(Command::TruncateLog { end: offset });
        }
        if end > self.log.end {
            let append_from = self.log.end;
            let mut new_epochs = vec![EpochStart {
                term: term_in(epochs, append_from),
                start: append_from,
            }];
            new_epochs.extend(epochs.iter().filter(|e| e.start > append_from).copied());
            self.log.append(end, &new_epochs);
            let new_configs: Vec<ConfigEntry> = configs
                .iter()
                .filter(|c| c.offset >= append_from)
                .cloned()
                .collect();
            self.log.record_configs(&new_configs); // in effect from now on
            let source = AppendSource::Replicated;
            let epochs = new_epochs;
            self.output.push(Command::AppendEntries {
                from: append_from,
                end,
                epochs,
                source,
            });
        }
        assert!(self.log.end >= end);
    }

    /// Tells the leader how far our log matches and how much of it is durable.
    /// `entries`: this answers an append that carried entries.
    pub(crate) fn send_accept(&mut self, leader: NodeId, entries: bool) {
        let verified = self.verified.min(self.log.end);
        let durable = self.log.durable.min(verified);
        let result = AppendResult::Accepted {
            verified,
            durable,
            entries,
        };
        self.send(
            leader,
            Message::AppendResponse {
                term: self.hard.term,
                result,
            },
        );
    }
}
