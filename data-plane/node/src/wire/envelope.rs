//! What a frame carries: one envelope per message, each for one group.

use fjord_replication::{AppendResult, Message, RejectHint};

use super::{EPOCH_BYTES, GroupId, LogStart};

/// One message for one group, with the record bytes of an `Append`
/// (whole RecordBatch v2 batches covering its `[from, end)`; empty otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub group: GroupId,
    pub message: PeerMessage,
    pub records: Vec<u8>,
}

/// What an envelope carries: an engine message, or the node layer's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerMessage {
    Raft(Message),
    LogStart(LogStart),
}

impl From<Message> for PeerMessage {
    fn from(message: Message) -> PeerMessage {
        PeerMessage::Raft(message)
    }
}

impl PeerMessage {
    /// The engine message, if this is one.
    pub fn raft(&self) -> Option<&Message> {
        match self {
            PeerMessage::Raft(message) => Some(message),
            PeerMessage::LogStart(_) => None,
        }
    }
}

impl Envelope {
    /// Bytes this envelope takes in a frame (for queue bounds and frame caps).
    pub fn encoded_len(&self) -> usize {
        let message = match &self.message {
            PeerMessage::Raft(message) => message,
            PeerMessage::LogStart(notice) => return 8 + 1 + notice.encoded_len(),
        };
        let body = match message {
            Message::PreVote { .. } => 4 + 4 + 8,
            Message::Vote { .. } => 4 + 4 + 8 + 1,
            Message::PreVoteResponse { .. } | Message::VoteResponse { .. } => 4 + 1,
            Message::Append {
                epochs, configs, ..
            } => {
                let configs_len = match configs.is_empty() {
                    true => 0,
                    false => {
                        4 + configs
                            .iter()
                            .map(|c| 8 + 4 + 4 * c.voters.len())
                            .sum::<usize>()
                    }
                };
                4 + 8 + 4 + 8 + 8 + 4 + epochs.len() * EPOCH_BYTES + configs_len + 4
            }
            Message::AppendResponse { result, .. } => {
                4 + 1
                    + match result {
                        AppendResult::Accepted { .. } => 8 + 8 + 1,
                        AppendResult::Rejected {
                            hint: RejectHint::LogEnd(_),
                            ..
                        } => 8 + 8,
                        AppendResult::Rejected { .. } => 8 + 8 + 4,
                    }
            }
            Message::TimeoutNow { .. } => 4,
        };
        8 + 1 + body + self.records.len()
    }
}
