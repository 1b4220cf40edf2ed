//! The peer wire format: encode/decode round trips (proptest), bounded and
//! panic-free decoding of damaged frames (a seeded mutation run), and the
//! specific refusals docs/replication.md promises.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use fjord_node::wire::{
    self, ClusterId, Envelope, FRAME_BYTES_MAX, Frame, GroupId, HEADER_BYTES, LogStart,
    PeerMessage, WireError,
};
use fjord_replication::log::{ConfigEntry, EpochStart};
use fjord_replication::{AppendResult, LogPosition, Message, NodeId, Offset, RejectHint, Term};
use proptest::prelude::*;

fn term() -> impl Strategy<Value = Term> {
    (0..=i32::MAX).prop_map(Term)
}

fn offset() -> impl Strategy<Value = Offset> {
    (0..=i64::MAX).prop_map(Offset)
}

fn position() -> impl Strategy<Value = LogPosition> {
    (term(), offset()).prop_map(|(term, end)| LogPosition { term, end })
}

fn append_result() -> impl Strategy<Value = AppendResult> {
    prop_oneof![
        (offset(), offset(), any::<bool>()).prop_map(|(a, b, entries)| AppendResult::Accepted {
            verified: a.max(b),
            durable: a.min(b),
            entries,
        }),
        (offset(), offset()).prop_map(|(from, end)| AppendResult::Rejected {
            from,
            hint: RejectHint::LogEnd(end),
        }),
        (offset(), term(), offset()).prop_map(|(from, term, start)| AppendResult::Rejected {
            from,
            hint: RejectHint::Conflict { term, start },
        }),
    ]
}

fn envelope() -> impl Strategy<Value = Envelope> {
    let simple = prop_oneof![
        (term(), position()).prop_map(|(term, last)| Message::PreVote { term, last }),
        (term(), any::<bool>())
            .prop_map(|(term, granted)| Message::PreVoteResponse { term, granted }),
        (term(), position(), any::<bool>()).prop_map(|(term, last, transfer)| Message::Vote {
            term,
            last,
            transfer
        }),
        (term(), any::<bool>()).prop_map(|(term, granted)| Message::VoteResponse { term, granted }),
        (term(), append_result())
            .prop_map(|(term, result)| Message::AppendResponse { term, result }),
        term().prop_map(|term| Message::TimeoutNow { term }),
    ];
    let plain = (any::<u64>(), simple).prop_map(|(group, message)| Envelope {
        group: GroupId(group),
        message: message.into(),
        records: Vec::new(),
    });
    // A log start notice is canonical only in order (see wire/log_start.rs).
    let config = proptest::option::of((
        offset(),
        proptest::collection::btree_set(any::<u32>(), 1..5),
    ));
    let log_start = (
        any::<u64>(),
        (1..=i32::MAX, 1..=i32::MAX),
        (1..=i64::MAX, offset()),
        config,
    )
        .prop_map(|(group, (a, b), (start, below), config)| {
            let notice = LogStart {
                term: Term(a.max(b)),
                start: Offset(start),
                epoch: EpochStart {
                    term: Term(a.min(b)),
                    start: Offset(below.0 % start),
                },
                config: config.map(|(offset, voters)| ConfigEntry {
                    offset: Offset(offset.0 % start),
                    voters: voters.into_iter().map(NodeId).collect(),
                }),
            };
            Envelope {
                group: GroupId(group),
                message: PeerMessage::LogStart(notice),
                records: Vec::new(),
            }
        });
    let epochs = proptest::collection::vec((term(), offset()), 0..6);
    // Offsets rising and voters ascending, as the decoder demands.
    let configs = proptest::collection::btree_map(
        offset(),
        proptest::collection::btree_set(any::<u32>(), 1..5),
        0..3,
    );
    let append = (
        any::<u64>(),
        (term(), offset(), term(), offset(), offset()),
        (epochs, configs),
        proptest::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(
            |(group, (term, a, prev_term, b, commit), (epochs, configs), records)| Envelope {
                group: GroupId(group),
                message: Message::Append {
                    term,
                    from: a.min(b),
                    prev_term,
                    end: a.max(b),
                    epochs: epochs
                        .into_iter()
                        .map(|(term, start)| EpochStart { term, start })
                        .collect(),
                    configs: configs
                        .into_iter()
                        .map(|(offset, voters)| ConfigEntry {
                            offset,
                            voters: voters.into_iter().map(NodeId).collect(),
                        })
                        .collect(),
                    commit,
                }
                .into(),
                records,
            },
        );
    prop_oneof![plain, append, log_start]
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        any::<u128>(),
        any::<u32>(),
        any::<u32>(),
        proptest::collection::vec(envelope(), 0..20),
    )
        .prop_map(|(cluster, from, to, envelopes)| Frame {
            cluster: ClusterId(cluster),
            from: NodeId(from),
            to: NodeId(to),
            envelopes,
        })
}

proptest! {
    #[test]
    fn every_frame_round_trips(frame in frame()) {
        let bytes = wire::encode_frame(&frame);
        let expected: usize = 4 + HEADER_BYTES
            + frame.envelopes.iter().map(Envelope::encoded_len).sum::<usize>();
        prop_assert_eq!(bytes.len(), expected);
        prop_assert_eq!(wire::decode_frame(&bytes).unwrap(), frame);
    }

    #[test]
    fn every_strict_prefix_is_refused(frame in frame(), cut in any::<prop::sample::Index>()) {
        let bytes = wire::encode_frame(&frame);
        let cut = cut.index(bytes.len());
        prop_assert!(wire::decode_frame(&bytes[..cut]).is_err());
    }
}

/// A small deterministic generator for the mutation run.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

fn sample_frame() -> Frame {
    let append = Envelope {
        group: GroupId(7),
        message: Message::Append {
            term: Term(3),
            from: Offset(10),
            prev_term: Term(2),
            end: Offset(14),
            epochs: vec![EpochStart {
                term: Term(3),
                start: Offset(10),
            }],
            configs: vec![ConfigEntry {
                offset: Offset(12),
                voters: vec![NodeId(1), NodeId(2), NodeId(4)],
            }],
            commit: Offset(9),
        }
        .into(),
        records: vec![0xab; 64],
    };
    let response = Envelope {
        group: GroupId(8),
        message: Message::AppendResponse {
            term: Term(3),
            result: AppendResult::Accepted {
                verified: Offset(5),
                durable: Offset(4),
                entries: true,
            },
        }
        .into(),
        records: Vec::new(),
    };
    let vote = Envelope {
        group: GroupId(9),
        message: Message::Vote {
            term: Term(4),
            last: LogPosition {
                term: Term(3),
                end: Offset(14),
            },
            transfer: false,
        }
        .into(),
        records: Vec::new(),
    };
    Frame {
        cluster: ClusterId(42),
        from: NodeId(1),
        to: NodeId(2),
        envelopes: vec![append, response, vote],
    }
}

/// Rewrites the checksum so a mutation reaches the decoder's field checks.
fn reseal(bytes: &mut [u8]) {
    if bytes.len() >= 4 + HEADER_BYTES {
        let crc = wire::checksum(&bytes[4..]);
        bytes[4 + 28..4 + 32].copy_from_slice(&crc.to_be_bytes());
    }
}

#[test]
fn damaged_frames_are_refused_without_panicking() {
    let seed = std::env::var("FJORD_WIRE_SEED").map_or(1, |s| s.parse().unwrap());
    let mut rng = SplitMix(seed);
    let original = wire::encode_frame(&sample_frame());
    let mut decoded_ok = 0;
    for _ in 0..20_000 {
        let mut bytes = original.clone();
        for _ in 0..1 + rng.below(4) {
            match rng.below(4) {
                0 | 1 if bytes.is_empty() => {}
                0 => {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
                1 => {
                    let at = rng.below(bytes.len());
                    bytes[at] = rng.next() as u8;
                }
                2 => bytes.truncate(rng.below(bytes.len() + 1)),
                _ => bytes.extend((0..rng.below(16)).map(|_| rng.next() as u8)),
            }
        }
        if rng.below(2) == 0 {
            reseal(&mut bytes);
        }
        if let Ok(frame) = wire::decode_frame(&bytes) {
            decoded_ok += 1;
            // Whatever decodes is a well-formed frame that encodes back to the input.
            assert_eq!(wire::encode_frame(&frame), bytes, "seed {seed}");
        }
    }
    assert!(decoded_ok < 20_000, "mutations must be noticed");
}

#[test]
fn unknown_versions_huge_lengths_and_absurd_counts_are_refused() {
    let mut bytes = wire::encode_frame(&sample_frame());
    bytes[6] = 2;
    assert_eq!(
        wire::decode_frame(&bytes),
        Err(WireError::UnsupportedVersion(2))
    );

    let too_long = u32::try_from(FRAME_BYTES_MAX + 1).unwrap().to_be_bytes();
    assert_eq!(
        wire::frame_length(too_long),
        Err(WireError::TooLarge(FRAME_BYTES_MAX + 1))
    );

    // A count of 2^32 - 1 envelopes in a small frame fails before allocating.
    let mut bytes = wire::encode_frame(&sample_frame());
    bytes[4 + 32..4 + 36].copy_from_slice(&u32::MAX.to_be_bytes());
    reseal(&mut bytes);
    assert!(matches!(
        wire::decode_frame(&bytes),
        Err(WireError::Invalid(_))
    ));

    let mut bytes = wire::encode_frame(&sample_frame());
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    assert_eq!(wire::decode_frame(&bytes), Err(WireError::Checksum));
}

/// A frame holding one append with `configs`.
fn append_frame(configs: Vec<ConfigEntry>) -> Frame {
    let message = Message::Append {
        term: Term(2),
        from: Offset(4),
        prev_term: Term(1),
        end: Offset(6),
        epochs: vec![EpochStart {
            term: Term(2),
            start: Offset(4),
        }],
        configs,
        commit: Offset(3),
    };
    Frame {
        cluster: ClusterId(1),
        from: NodeId(1),
        to: NodeId(2),
        envelopes: vec![Envelope {
            group: GroupId(9),
            message: message.into(),
            records: Vec::new(),
        }],
    }
}

#[test]
fn configurations_travel_under_their_own_tag_and_plain_appends_keep_version_one_bytes() {
    // The envelope's tag follows the length, the header and the group id.
    let tag_at = 4 + HEADER_BYTES + 8;
    let plain = wire::encode_frame(&append_frame(Vec::new()));
    assert_eq!(plain[tag_at], 5, "the version-1 append tag");
    assert_eq!(
        plain.len(),
        4 + HEADER_BYTES + 8 + 1 + 4 + 8 + 4 + 8 + 8 + 4 + 12 + 4
    );
    let config = ConfigEntry {
        offset: Offset(5),
        voters: vec![NodeId(1), NodeId(2), NodeId(4)],
    };
    let with = wire::encode_frame(&append_frame(vec![config.clone()]));
    assert_eq!(with[tag_at], 8);
    assert_eq!(wire::decode_frame(&with), Ok(append_frame(vec![config])));

    // Tag 8 with no configuration is not canonical; voters must ascend.
    let mut empty = plain.clone();
    empty[tag_at] = 8;
    let records_at = empty.len() - 4;
    empty.splice(records_at..records_at, [0, 0, 0, 0]);
    let length = u32::try_from(empty.len() - 4).unwrap();
    empty[..4].copy_from_slice(&length.to_be_bytes());
    reseal(&mut empty);
    assert!(matches!(
        wire::decode_frame(&empty),
        Err(WireError::Invalid(_))
    ));
    let unordered = ConfigEntry {
        offset: Offset(5),
        voters: vec![NodeId(2), NodeId(1)],
    };
    let bad = wire::encode_frame(&append_frame(vec![unordered]));
    assert!(matches!(
        wire::decode_frame(&bad),
        Err(WireError::Invalid(_))
    ));
}
