//! The peer wire format (docs/replication.md, "Peer transport"): frames of
//! engine messages for many groups, with the record bytes of appends attached.
//!
//! Decoding is bounded and total: the frame size is capped before anything is
//! read, every count is checked against the bytes that remain before anything
//! is allocated, unknown versions, flags, tags and trailing bytes are
//! rejected, and no input panics.

use std::fmt;

use fjord_replication::log::EpochStart;
use fjord_replication::{AppendResult, Message, NodeId, Offset, RejectHint, Term};

mod configs;
mod envelope;
mod log_start;
mod reader;

pub use envelope::{Envelope, PeerMessage};
pub use log_start::LogStart;

use configs::{decode_configs, encode_configs};
use reader::Reader;

/// `"FJ"` then the format's byte: the first bytes after the length.
pub const MAGIC: u16 = 0x464a;
pub const VERSION: u8 = 1;
/// Bytes of the frame header after the length prefix.
pub const HEADER_BYTES: usize = 2 + 1 + 1 + 16 + 4 + 4 + 4 + 4;
/// Largest frame (without its 4-byte length prefix) a node sends or accepts.
pub const FRAME_BYTES_MAX: usize = 32 * 1024 * 1024;
/// Smallest encoded envelope: group id, tag, and the smallest message body.
const ENVELOPE_BYTES_MIN: usize = 8 + 1 + 4;
/// Bytes of one encoded epoch-history entry.
const EPOCH_BYTES: usize = 4 + 8;

/// Which Raft group (partition or controller) a message belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GroupId(pub u64);

impl fmt::Display for GroupId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The cluster a node belongs to: frames from another cluster are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClusterId(pub u128);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub cluster: ClusterId,
    pub from: NodeId,
    pub to: NodeId,
    pub envelopes: Vec<Envelope>,
}

/// Why a frame was refused; the connection it came on is closed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {0} bytes exceeds the cap")]
    TooLarge(usize),
    #[error("frame truncated: needed {needed} more bytes")]
    Truncated { needed: usize },
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    #[error("unsupported version {0}")]
    UnsupportedVersion(u8),
    #[error("unknown flags {0:#04x}")]
    UnknownFlags(u8),
    #[error("checksum mismatch")]
    Checksum,
    #[error("unknown message tag {0}")]
    UnknownTag(u8),
    #[error("invalid field: {0}")]
    Invalid(&'static str),
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

const TAG_PRE_VOTE: u8 = 1;
const TAG_PRE_VOTE_RESPONSE: u8 = 2;
const TAG_VOTE: u8 = 3;
const TAG_VOTE_RESPONSE: u8 = 4;
const TAG_APPEND: u8 = 5;
const TAG_APPEND_RESPONSE: u8 = 6;
const TAG_TIMEOUT_NOW: u8 = 7;
/// An `Append` carrying configuration entries. A separate tag keeps plain
/// appends byte-identical to version 1, so nodes of the previous release
/// interoperate until the first membership change (which needs every
/// voter upgraded; an old node refuses the tag and closes the connection).
const TAG_APPEND_WITH_CONFIGS: u8 = 8;
const RESULT_ACCEPTED: u8 = 0;
const RESULT_LOG_END: u8 = 1;
const RESULT_CONFLICT: u8 = 2;

/// Encodes a whole frame, length prefix included.
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    let body_len: usize = frame.envelopes.iter().map(Envelope::encoded_len).sum();
    let mut body = Vec::with_capacity(body_len);
    for envelope in &frame.envelopes {
        encode_envelope(envelope, &mut body);
    }
    assert_eq!(body.len(), body_len, "encoded_len matches the encoding");
    let length = HEADER_BYTES + body.len();
    let mut out = Vec::with_capacity(4 + length);
    out.extend_from_slice(
        &u32::try_from(length)
            .expect("frames are capped")
            .to_be_bytes(),
    );
    out.extend_from_slice(&MAGIC.to_be_bytes());
    out.push(VERSION);
    out.push(0);
    out.extend_from_slice(&frame.cluster.0.to_be_bytes());
    out.extend_from_slice(&frame.from.0.to_be_bytes());
    out.extend_from_slice(&frame.to.0.to_be_bytes());
    out.extend_from_slice(&[0; 4]);
    let count = u32::try_from(frame.envelopes.len()).expect("frames are capped");
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&body);
    let crc = checksum(&out[4..]);
    out[4 + CRC_AT..4 + CRC_AT + 4].copy_from_slice(&crc.to_be_bytes());
    out
}

/// Where the checksum sits in the frame (after the length prefix).
const CRC_AT: usize = 28;

/// CRC-32C of a frame (after the length prefix) without its checksum field:
/// it covers the header and every envelope.
pub fn checksum(frame: &[u8]) -> u32 {
    assert!(frame.len() >= HEADER_BYTES);
    let header = crc32c::crc32c(&frame[..CRC_AT]);
    crc32c::crc32c_append(header, &frame[CRC_AT + 4..])
}

fn encode_envelope(envelope: &Envelope, out: &mut Vec<u8>) {
    out.extend_from_slice(&envelope.group.0.to_be_bytes());
    let term = |out: &mut Vec<u8>, t: Term| out.extend_from_slice(&t.0.to_be_bytes());
    let offset = |out: &mut Vec<u8>, o: Offset| out.extend_from_slice(&o.0.to_be_bytes());
    let message = match &envelope.message {
        PeerMessage::Raft(message) => message,
        PeerMessage::LogStart(notice) => return log_start::encode(notice, out),
    };
    match message {
        Message::PreVote { term: t, last } => {
            out.push(TAG_PRE_VOTE);
            term(out, *t);
            term(out, last.term);
            offset(out, last.end);
        }
        Message::PreVoteResponse { term: t, granted } => {
            out.push(TAG_PRE_VOTE_RESPONSE);
            term(out, *t);
            out.push(u8::from(*granted));
        }
        Message::Vote {
            term: t,
            last,
            transfer,
        } => {
            out.push(TAG_VOTE);
            term(out, *t);
            term(out, last.term);
            offset(out, last.end);
            out.push(u8::from(*transfer));
        }
        Message::VoteResponse { term: t, granted } => {
            out.push(TAG_VOTE_RESPONSE);
            term(out, *t);
            out.push(u8::from(*granted));
        }
        Message::Append {
            term: t,
            from,
            prev_term,
            end,
            epochs,
            configs,
            commit,
        } => {
            out.push(match configs.is_empty() {
                true => TAG_APPEND,
                false => TAG_APPEND_WITH_CONFIGS,
            });
            term(out, *t);
            offset(out, *from);
            term(out, *prev_term);
            offset(out, *end);
            offset(out, *commit);
            let count = u32::try_from(epochs.len()).expect("bounded by the frame cap");
            out.extend_from_slice(&count.to_be_bytes());
            for epoch in epochs {
                term(out, epoch.term);
                offset(out, epoch.start);
            }
            if !configs.is_empty() {
                encode_configs(configs, out);
            }
            let records = u32::try_from(envelope.records.len()).expect("bounded by the frame cap");
            out.extend_from_slice(&records.to_be_bytes());
            out.extend_from_slice(&envelope.records);
        }
        Message::AppendResponse { term: t, result } => {
            out.push(TAG_APPEND_RESPONSE);
            term(out, *t);
            match *result {
                AppendResult::Accepted {
                    verified,
                    durable,
                    entries,
                } => {
                    out.push(RESULT_ACCEPTED);
                    offset(out, verified);
                    offset(out, durable);
                    out.push(u8::from(entries));
                }
                AppendResult::Rejected {
                    from,
                    hint: RejectHint::LogEnd(end),
                } => {
                    out.push(RESULT_LOG_END);
                    offset(out, from);
                    offset(out, end);
                }
                AppendResult::Rejected {
                    from,
                    hint:
                        RejectHint::Conflict {
                            term: conflict,
                            start,
                        },
                } => {
                    out.push(RESULT_CONFLICT);
                    offset(out, from);
                    offset(out, start);
                    term(out, conflict);
                }
            }
        }
        Message::TimeoutNow { term: t } => {
            out.push(TAG_TIMEOUT_NOW);
            term(out, *t);
        }
    }
}

/// Reads the length prefix: how many bytes follow it, refused above the cap.
pub fn frame_length(prefix: [u8; 4]) -> Result<usize, WireError> {
    let length = u32::from_be_bytes(prefix) as usize;
    if length > FRAME_BYTES_MAX {
        return Err(WireError::TooLarge(length));
    }
    if length < HEADER_BYTES {
        return Err(WireError::Truncated {
            needed: HEADER_BYTES - length,
        });
    }
    Ok(length)
}

/// Decodes a whole frame, length prefix included; the input must hold
/// exactly one frame.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, WireError> {
    let mut reader = Reader::new(bytes);
    let prefix: [u8; 4] = reader.take(4)?.try_into().expect("took 4 bytes");
    let length = frame_length(prefix)?;
    if reader.remaining() != length {
        return match reader.remaining() < length {
            true => Err(WireError::Truncated {
                needed: length - reader.remaining(),
            }),
            false => Err(WireError::Trailing(reader.remaining() - length)),
        };
    }
    decode_after_length(&bytes[4..])
}

/// Decodes the frame that followed a length prefix already checked by
/// [`frame_length`].
pub fn decode_after_length(bytes: &[u8]) -> Result<Frame, WireError> {
    if bytes.len() > FRAME_BYTES_MAX {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let mut reader = Reader::new(bytes);
    let magic = reader.u16()?;
    if magic != MAGIC {
        return Err(WireError::BadMagic(magic));
    }
    let version = reader.u8()?;
    if version != VERSION {
        return Err(WireError::UnsupportedVersion(version));
    }
    let flags = reader.u8()?;
    if flags != 0 {
        return Err(WireError::UnknownFlags(flags));
    }
    let cluster = ClusterId(u128::from_be_bytes(
        reader.take(16)?.try_into().expect("took 16 bytes"),
    ));
    let from = NodeId(reader.u32()?);
    let to = NodeId(reader.u32()?);
    let crc = reader.u32()?;
    let count = reader.u32()? as usize;
    if checksum(bytes) != crc {
        return Err(WireError::Checksum);
    }
    reader.check_room(count, ENVELOPE_BYTES_MIN)?;
    let mut envelopes = Vec::with_capacity(count);
    for _ in 0..count {
        envelopes.push(decode_envelope(&mut reader)?);
    }
    if reader.remaining() != 0 {
        return Err(WireError::Trailing(reader.remaining()));
    }
    Ok(Frame {
        cluster,
        from,
        to,
        envelopes,
    })
}

fn decode_envelope(reader: &mut Reader<'_>) -> Result<Envelope, WireError> {
    let group = GroupId(reader.u64()?);
    let tag = reader.u8()?;
    let mut records = Vec::new();
    let message = match tag {
        TAG_PRE_VOTE => Message::PreVote {
            term: reader.term()?,
            last: reader.position()?,
        },
        TAG_PRE_VOTE_RESPONSE => Message::PreVoteResponse {
            term: reader.term()?,
            granted: reader.flag()?,
        },
        TAG_VOTE => Message::Vote {
            term: reader.term()?,
            last: reader.position()?,
            transfer: reader.flag()?,
        },
        TAG_VOTE_RESPONSE => Message::VoteResponse {
            term: reader.term()?,
            granted: reader.flag()?,
        },
        TAG_APPEND | TAG_APPEND_WITH_CONFIGS => {
            let (message, bytes) = decode_append(reader, tag == TAG_APPEND_WITH_CONFIGS)?;
            records = bytes;
            message
        }
        TAG_APPEND_RESPONSE => Message::AppendResponse {
            term: reader.term()?,
            result: decode_append_result(reader)?,
        },
        TAG_TIMEOUT_NOW => Message::TimeoutNow {
            term: reader.term()?,
        },
        log_start::TAG_LOG_START => {
            let message = PeerMessage::LogStart(log_start::decode(reader)?);
            return Ok(Envelope {
                group,
                message,
                records,
            });
        }
        other => return Err(WireError::UnknownTag(other)),
    };
    Ok(Envelope {
        group,
        message: PeerMessage::Raft(message),
        records,
    })
}

fn decode_append(
    reader: &mut Reader<'_>,
    with_configs: bool,
) -> Result<(Message, Vec<u8>), WireError> {
    let term = reader.term()?;
    let from = reader.offset()?;
    let prev_term = reader.term()?;
    let end = reader.offset()?;
    let commit = reader.offset()?;
    if from > end {
        return Err(WireError::Invalid("append range runs backwards"));
    }
    let count = reader.u32()? as usize;
    reader.check_room(count, EPOCH_BYTES)?;
    let mut epochs = Vec::with_capacity(count);
    for _ in 0..count {
        let term = reader.term()?;
        let start = reader.offset()?;
        epochs.push(EpochStart { term, start });
    }
    let configs = match with_configs {
        true => decode_configs(reader, false)?,
        false => Vec::new(),
    };
    let length = reader.u32()? as usize;
    let records = reader.take(length)?.to_vec();
    let message = Message::Append {
        term,
        from,
        prev_term,
        end,
        epochs,
        configs,
        commit,
    };
    Ok((message, records))
}

fn decode_append_result(reader: &mut Reader<'_>) -> Result<AppendResult, WireError> {
    let kind = reader.u8()?;
    match kind {
        RESULT_ACCEPTED => {
            let verified = reader.offset()?;
            let durable = reader.offset()?;
            let entries = reader.flag()?;
            if durable > verified {
                return Err(WireError::Invalid("durable beyond verified"));
            }
            Ok(AppendResult::Accepted {
                verified,
                durable,
                entries,
            })
        }
        RESULT_LOG_END => {
            let from = reader.offset()?;
            let end = reader.offset()?;
            Ok(AppendResult::Rejected {
                from,
                hint: RejectHint::LogEnd(end),
            })
        }
        RESULT_CONFLICT => {
            let from = reader.offset()?;
            let start = reader.offset()?;
            let term = reader.term()?;
            Ok(AppendResult::Rejected {
                from,
                hint: RejectHint::Conflict { term, start },
            })
        }
        _ => Err(WireError::Invalid("unknown append result")),
    }
}
