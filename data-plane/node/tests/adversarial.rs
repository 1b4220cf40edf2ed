//! A node facing bad peers: invalid frames close only their connection, and
//! arbitrary well-formed messages from a lying peer never stop the node.
#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use fjord_node::{ClusterId, Error, GroupId, GroupSpec, Node, NodeConfig, NodeMetrics};
use fjord_replication::NodeId;
use fjord_storage::batch::{build_batch, split_batches};
use fjord_storage::{ByteSize, Preallocate, Timestamp};
use tokio::net::TcpListener;

const CLUSTER: ClusterId = ClusterId(0x0f1e_2d3c);
const WAIT: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_closes_connections_that_send_bad_frames_and_keeps_serving() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let me = NodeId(0);
    let group = GroupId(1);
    let mut config = NodeConfig::new(me, CLUSTER, dir.path().to_owned());
    config.groups = vec![GroupSpec {
        id: group,
        voters: vec![me],
    }];
    config.log.preallocate = Preallocate::None;
    let metrics = NodeMetrics::default();
    let node = Node::start(config, listener, metrics.clone())
        .await
        .unwrap();

    let frame = fjord_node::wire::Frame {
        cluster: ClusterId(7),
        from: NodeId(1),
        to: me,
        envelopes: Vec::new(),
    };
    let bad_frames = [
        fjord_node::wire::encode_frame(&frame), // another cluster
        vec![0xff; 64],                         // a length far above the cap
        vec![0, 0, 0, 40, 0x46, 0x4a, 9, 0],    // an unknown version
    ];
    for bytes in bad_frames {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        // Padding so a short header is complete; the node may already have
        // closed the connection, so a failed write is fine.
        let _ = stream.write_all(&bytes).await;
        let _ = stream.write_all(&[0; 64]).await;
        let mut buffer = [0u8; 1];
        let read = tokio::time::timeout(WAIT, stream.read(&mut buffer)).await;
        assert!(
            matches!(read, Ok(Ok(0) | Err(_))),
            "the connection was closed"
        );
    }
    assert_eq!(metrics.frames_invalid.get(), 3);

    // A single-replica group elects itself and commits once its own fsync is done.
    let deadline = Instant::now() + WAIT;
    let offset = loop {
        match node.append(group, build_batch(2, Timestamp(0), 8, 3)).await {
            Ok(offset) => break offset,
            Err(Error::NotLeader { .. }) => {}
            Err(error) => panic!("append failed: {error}"),
        }
        assert!(Instant::now() < deadline, "no leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let status = node.status(group).await.unwrap();
    assert!(status.is_leader && status.high_watermark >= offset + 2);
    let fetched = node.read(group, 0, ByteSize::mib(1)).await.unwrap();
    let headers = split_batches(&fetched.bytes).unwrap();
    let batch = headers.iter().find(|h| h.base_offset.0 == offset).unwrap();
    assert_eq!(
        batch.next_offset().0,
        offset + 2,
        "the acknowledged batch is there"
    );
    assert!(matches!(
        node.append(group, vec![1, 2, 3]).await,
        Err(Error::InvalidBatch(_))
    ));
    assert!(matches!(
        node.append(GroupId(99), build_batch(1, Timestamp(0), 1, 1))
            .await,
        Err(Error::UnknownGroup(_))
    ));
}

/// A peer that sends arbitrary well-formed messages (random terms, offsets,
/// votes, appends without bytes, answers) must not stop a node: messages the
/// engine would treat as broken invariants are refused at the node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_survives_arbitrary_messages_from_a_peer() {
    use fjord_node::wire::{Envelope, Frame, LogStart, PeerMessage, encode_frame};
    use fjord_replication::log::EpochStart;
    use fjord_replication::{AppendResult, LogPosition, Message, Offset, RejectHint, Term};
    use tokio::io::AsyncWriteExt;

    let dir = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let unused = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (me, peer, group) = (NodeId(0), NodeId(1), GroupId(1));
    let mut config = NodeConfig::new(me, CLUSTER, dir.path().to_owned());
    config.peers = [(peer, unused.local_addr().unwrap().into())]
        .into_iter()
        .collect();
    config.groups = vec![GroupSpec {
        id: group,
        voters: vec![me, peer],
    }];
    config.log.preallocate = Preallocate::None;
    let node = Node::start(config, listener, NodeMetrics::default())
        .await
        .unwrap();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    // Read what the node sends us and grant every vote it asks for, so it
    // also gets to lead while the garbage arrives.
    let (grants_tx, mut grants) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        use fjord_node::wire::PeerMessage;
        use tokio::io::AsyncReadExt;
        let (mut incoming, _) = unused.accept().await.unwrap();
        loop {
            let mut prefix = [0u8; 4];
            if incoming.read_exact(&mut prefix).await.is_err() {
                return;
            }
            let mut body = vec![0; fjord_node::wire::frame_length(prefix).unwrap()];
            incoming.read_exact(&mut body).await.unwrap();
            let frame = fjord_node::wire::decode_after_length(&body).unwrap();
            for envelope in frame.envelopes {
                let PeerMessage::Raft(message) = envelope.message else {
                    continue;
                };
                let grant = match message {
                    Message::PreVote { term, .. } => Message::PreVoteResponse {
                        term,
                        granted: true,
                    },
                    Message::Vote { term, .. } => Message::VoteResponse {
                        term,
                        granted: true,
                    },
                    _ => continue,
                };
                let _ = grants_tx.send(grant);
            }
        }
    });
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut led = false;
    for round in 0..600 {
        let mut envelopes = Vec::new();
        while let Ok(message) = grants.try_recv() {
            envelopes.push(Envelope {
                group,
                message: message.into(),
                records: Vec::new(),
            });
        }
        let current = node.status(group).await.unwrap().term;
        for _ in 0..3 {
            let term = Term((current + next(3) as i32 - 1).max(0));
            let offset = |n: u64| Offset(n as i64);
            let message = match next(7) {
                0 => Message::PreVote {
                    term,
                    last: LogPosition {
                        term: Term(next(4) as i32),
                        end: offset(next(5)),
                    },
                },
                1 => Message::Vote {
                    term,
                    last: LogPosition {
                        term: Term(next(4) as i32),
                        end: offset(next(5)),
                    },
                    transfer: next(2) == 0,
                },
                2 => Message::VoteResponse {
                    term,
                    granted: next(3) > 0,
                },
                3 => Message::PreVoteResponse {
                    term,
                    granted: next(3) > 0,
                },
                4 => {
                    let verified = offset(next(6));
                    let result = match next(3) {
                        0 => AppendResult::Accepted {
                            verified,
                            durable: offset(next(verified.0 as u64 + 1)),
                            entries: next(2) == 0,
                        },
                        1 => AppendResult::Rejected {
                            from: offset(next(6)),
                            hint: RejectHint::LogEnd(offset(next(6))),
                        },
                        _ => AppendResult::Rejected {
                            from: offset(next(6)),
                            hint: RejectHint::Conflict {
                                term: Term(next(4) as i32),
                                start: offset(next(6)),
                            },
                        },
                    };
                    Message::AppendResponse { term, result }
                }
                5 => {
                    let from = offset(next(4));
                    let end = if next(2) == 0 {
                        from
                    } else {
                        offset(from.0 as u64 + 1 + next(3))
                    };
                    let epochs = if from == end {
                        Vec::new()
                    } else {
                        vec![EpochStart { term, start: from }]
                    };
                    Message::Append {
                        term,
                        from,
                        prev_term: Term(next(4) as i32),
                        end,
                        epochs,
                        configs: Vec::new(),
                        commit: offset(next(6)),
                    }
                }
                _ => Message::TimeoutNow { term },
            };
            // Now and then a log start notice at a random offset.
            let message = match next(8) {
                0 if term.0 > 0 => PeerMessage::LogStart(LogStart {
                    term,
                    start: offset(1 + next(8)),
                    epoch: EpochStart {
                        term: Term(1 + next(term.0 as u64) as i32),
                        start: Offset::ZERO,
                    },
                    config: None,
                }),
                _ => message.into(),
            };
            envelopes.push(Envelope {
                group,
                message,
                records: Vec::new(),
            });
        }
        let frame = Frame {
            cluster: CLUSTER,
            from: peer,
            to: me,
            envelopes,
        };
        stream.write_all(&encode_frame(&frame)).await.unwrap();
        if round % 5 == 0 {
            // Let timers fire: the node campaigns and sometimes wins our votes.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        led |= node
            .status(group)
            .await
            .expect("the node keeps running")
            .is_leader;
    }
    eprintln!("the node led at some point: {led}");
    node.status(group).await.expect("the node keeps running");
}
