//! Scenario tests of the group coordinator, asserting on emitted effects.

use bytes::Bytes;
use kafka_protocol::ResponseError;

use super::*;

const SESSION_MS: u64 = 10_000;
const REBALANCE_MS: u64 = 30_000;

fn coordinator() -> Coordinator {
    Coordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 0,
        ..GroupConfig::default()
    })
}

fn join_request(member_id: &str, protocols: &[&str]) -> JoinRequest {
    JoinRequest {
        group_id: "orders-app".to_owned(),
        member_id: member_id.to_owned(),
        group_instance_id: None,
        client_id: "consumer".to_owned(),
        client_host: "/127.0.0.1".to_owned(),
        session_timeout_ms: SESSION_MS,
        rebalance_timeout_ms: REBALANCE_MS,
        protocol_type: "consumer".to_owned(),
        protocols: protocols
            .iter()
            .map(|name| ((*name).to_owned(), Bytes::from(format!("meta-{member_id}"))))
            .collect(),
        require_known_member_id: true,
    }
}

fn only_join(effects: &[Effect]) -> (RequestToken, JoinReply) {
    match effects {
        [Effect::Join(token, reply)] => (*token, reply.clone()),
        other => panic!("expected one join reply, got {other:?}"),
    }
}

fn joins(effects: &[Effect]) -> Vec<(RequestToken, JoinReply)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Join(token, reply) => Some((*token, reply.clone())),
            _ => None,
        })
        .collect()
}

/// Gets a member id (KIP-394 round trip) and joins with it; returns the id.
fn admit(coordinator: &mut Coordinator, now: Millis, token: u64) -> (String, Vec<Effect>) {
    let (_, reply) =
        only_join(&coordinator.join(now, RequestToken(token), join_request("", &["range"])));
    assert_eq!(reply.error, Some(ResponseError::MemberIdRequired));
    let member_id = reply.member_id;
    let effects = coordinator.join(
        now,
        RequestToken(token + 1),
        join_request(&member_id, &["range"]),
    );
    (member_id, effects)
}

fn sync(
    coordinator: &mut Coordinator,
    token: u64,
    member: &str,
    generation: i32,
    assignments: &[(&str, &str)],
) -> Vec<Effect> {
    let request = SyncRequest {
        group_id: "orders-app".to_owned(),
        generation_id: generation,
        member_id: member.to_owned(),
        protocol_type: Some("consumer".to_owned()),
        protocol_name: Some("range".to_owned()),
        assignments: assignments
            .iter()
            .map(|(member, bytes)| ((*member).to_owned(), Bytes::from(bytes.to_string())))
            .collect(),
    };
    coordinator.sync(Millis(0), RequestToken(token), request)
}

#[test]
fn first_member_gets_an_id_then_leads_generation_one() {
    let mut coordinator = coordinator();
    let (member, effects) = admit(&mut coordinator, Millis(0), 1);
    let (token, reply) = only_join(&effects);
    assert_eq!(token, RequestToken(2));
    assert_eq!(
        (reply.error, reply.generation_id, reply.leader.as_str()),
        (None, 1, member.as_str())
    );
    assert_eq!(reply.protocol_name.as_deref(), Some("range"));
    assert_eq!(reply.members.len(), 1, "the leader sees the roster");
    let effects = sync(&mut coordinator, 3, &member, 1, &[(&member, "p0,p1")]);
    assert!(matches!(
        &effects[0],
        Effect::Persist(GroupRecord::Metadata {
            generation_id: 1,
            ..
        })
    ));
    assert!(
        matches!(&effects[1], Effect::Sync(RequestToken(3), SyncReply { error: None, assignment, .. }) if assignment == "p0,p1")
    );
    assert_eq!(coordinator.describe("orders-app").state, "Stable");
}

#[test]
fn a_second_member_triggers_a_rebalance_that_waits_for_everyone() {
    let mut coordinator = coordinator();
    let (first, _) = admit(&mut coordinator, Millis(0), 1);
    sync(&mut coordinator, 3, &first, 1, &[(&first, "all")]);
    let (second, effects) = admit(&mut coordinator, Millis(100), 10);
    assert!(
        joins(&effects).is_empty(),
        "the join waits for the first member to rejoin"
    );
    assert_eq!(
        coordinator.heartbeat(Millis(200), "orders-app", &first, 1),
        Err(ResponseError::RebalanceInProgress)
    );
    let effects = coordinator.join(
        Millis(300),
        RequestToken(20),
        join_request(&first, &["range"]),
    );
    let replies = joins(&effects);
    assert_eq!(replies.len(), 2);
    assert!(
        replies
            .iter()
            .all(|(_, reply)| reply.generation_id == 2 && reply.leader == first)
    );
    let follower = replies
        .iter()
        .find(|(_, reply)| reply.member_id == second)
        .unwrap();
    assert!(
        follower.1.members.is_empty(),
        "followers do not see the roster"
    );
    // The follower's sync waits for the leader's assignment.
    assert!(sync(&mut coordinator, 30, &second, 2, &[]).is_empty());
    let effects = sync(
        &mut coordinator,
        31,
        &first,
        2,
        &[(&first, "a"), (&second, "b")],
    );
    let assignments: Vec<(RequestToken, Bytes)> = effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Sync(token, reply) => Some((*token, reply.assignment.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        assignments,
        vec![
            (RequestToken(31), Bytes::from("a")),
            (RequestToken(30), Bytes::from("b"))
        ]
    );
}

#[test]
fn a_member_that_stops_heartbeating_is_expired_and_the_rest_rebalance() {
    let mut coordinator = coordinator();
    let (first, _) = admit(&mut coordinator, Millis(0), 1);
    // The second member's arrival moves the group to generation 2 once the first rejoins.
    let (second, _) = admit(&mut coordinator, Millis(0), 10);
    let effects = coordinator.join(
        Millis(0),
        RequestToken(20),
        join_request(&first, &["range"]),
    );
    assert!(
        joins(&effects)
            .iter()
            .all(|(_, reply)| reply.generation_id == 2)
    );
    assert_eq!(joins(&effects).len(), 2);
    sync(&mut coordinator, 21, &second, 2, &[]);
    sync(
        &mut coordinator,
        22,
        &first,
        2,
        &[(&first, "a"), (&second, "b")],
    );
    assert_eq!(
        coordinator.heartbeat(Millis(9_000), "orders-app", &first, 2),
        Ok(())
    );
    assert_eq!(coordinator.next_deadline(), Some(Millis(SESSION_MS)));
    assert!(
        coordinator.tick(Millis(SESSION_MS)).is_empty(),
        "second expires; first must rejoin"
    );
    assert_eq!(
        coordinator.heartbeat(Millis(SESSION_MS), "orders-app", &second, 2),
        Err(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        coordinator.heartbeat(Millis(SESSION_MS), "orders-app", &first, 2),
        Err(ResponseError::RebalanceInProgress)
    );
    let effects = coordinator.join(
        Millis(SESSION_MS + 1),
        RequestToken(30),
        join_request(&first, &["range"]),
    );
    let (_, reply) = only_join(&effects);
    assert_eq!((reply.generation_id, reply.members.len()), (3, 1));
}

#[test]
fn a_member_that_never_rejoins_is_dropped_at_the_rebalance_timeout() {
    let mut coordinator = coordinator();
    let (first, _) = admit(&mut coordinator, Millis(0), 1);
    sync(&mut coordinator, 3, &first, 1, &[(&first, "all")]);
    // Keep the first member's session alive but never rejoin.
    let (second, effects) = admit(&mut coordinator, Millis(0), 10);
    assert!(effects.is_empty());
    for now in (5_000..REBALANCE_MS).step_by(5_000) {
        assert_eq!(
            coordinator.heartbeat(Millis(now), "orders-app", &first, 1),
            Err(ResponseError::RebalanceInProgress)
        );
        assert!(joins(&coordinator.tick(Millis(now))).is_empty());
    }
    let (_, reply) = only_join(&coordinator.tick(Millis(REBALANCE_MS)));
    assert_eq!(
        (
            reply.member_id.as_str(),
            reply.leader.as_str(),
            reply.generation_id
        ),
        (second.as_str(), second.as_str(), 2)
    );
}

#[test]
fn leaving_last_member_empties_the_group_and_offsets_survive() {
    let mut coordinator = coordinator();
    let (member, _) = admit(&mut coordinator, Millis(0), 1);
    sync(&mut coordinator, 3, &member, 1, &[(&member, "all")]);
    let partition = TopicPartition {
        topic: "orders".to_owned(),
        partition: 0,
    };
    let committed = CommittedOffset {
        offset: 42,
        leader_epoch: 0,
        metadata: String::new(),
        commit_time: Millis(5),
    };
    let (results, effects) = coordinator.commit(
        Millis(5),
        CommitRequest {
            group_id: "orders-app".to_owned(),
            generation_id: 1,
            member_id: member.clone(),
            offsets: vec![(partition.clone(), committed.clone())],
        },
    );
    assert_eq!(results, vec![(partition.clone(), None)]);
    assert!(matches!(
        &effects[..],
        [Effect::Persist(GroupRecord::Offset { .. })]
    ));
    let (results, effects) = coordinator.leave(Millis(6), "orders-app", &[member]);
    assert_eq!(results, vec![None]);
    assert!(
        matches!(&effects[..], [Effect::Persist(GroupRecord::Metadata { generation_id: 2, members, .. })] if members.is_empty())
    );
    assert_eq!(coordinator.describe("orders-app").state, "Empty");
    assert_eq!(
        coordinator.fetch_offsets("orders-app", None),
        vec![(partition, Some(committed))]
    );
    assert_eq!(
        coordinator
            .delete("orders-app")
            .map(|effects| effects.len()),
        Ok(1)
    );
    assert_eq!(coordinator.describe("orders-app").state, "Dead");
}

#[test]
fn commits_from_strangers_stale_generations_or_mid_sync_are_refused() {
    let mut coordinator = coordinator();
    let (member, _) = admit(&mut coordinator, Millis(0), 1);
    let partition = TopicPartition {
        topic: "orders".to_owned(),
        partition: 0,
    };
    let commit = |member_id: &str, generation_id: i32| CommitRequest {
        group_id: "orders-app".to_owned(),
        generation_id,
        member_id: member_id.to_owned(),
        offsets: vec![(
            partition.clone(),
            CommittedOffset {
                offset: 1,
                leader_epoch: -1,
                metadata: String::new(),
                commit_time: Millis(0),
            },
        )],
    };
    let error_of = |results: CommitResults| results[0].1;
    assert_eq!(
        error_of(coordinator.commit(Millis(1), commit(&member, 1)).0),
        Some(ResponseError::RebalanceInProgress)
    );
    sync(&mut coordinator, 3, &member, 1, &[]);
    assert_eq!(
        error_of(coordinator.commit(Millis(1), commit(&member, 0)).0),
        Some(ResponseError::IllegalGeneration)
    );
    assert_eq!(
        error_of(coordinator.commit(Millis(1), commit("intruder", 1)).0),
        Some(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        error_of(coordinator.commit(Millis(1), commit("", -1)).0),
        Some(ResponseError::UnknownMemberId)
    );
    assert_eq!(
        error_of(coordinator.commit(Millis(1), commit(&member, 1)).0),
        None
    );
    assert_eq!(
        coordinator.delete("orders-app"),
        Err(ResponseError::NonEmptyGroup)
    );
}

#[test]
fn invalid_joins_are_answered_with_the_kafka_error() {
    let mut coordinator = coordinator();
    let mut request = join_request("", &["range"]);
    request.group_id.clear();
    assert_eq!(
        only_join(&coordinator.join(Millis(0), RequestToken(1), request))
            .1
            .error,
        Some(ResponseError::InvalidGroupId)
    );
    let mut request = join_request("", &["range"]);
    request.session_timeout_ms = 10;
    assert_eq!(
        only_join(&coordinator.join(Millis(0), RequestToken(2), request))
            .1
            .error,
        Some(ResponseError::InvalidSessionTimeout)
    );
    let (member, _) = admit(&mut coordinator, Millis(0), 3);
    let _ = member;
    let (_, reply) = only_join(&coordinator.join(
        Millis(0),
        RequestToken(9),
        join_request("", &["roundrobin"]),
    ));
    assert_eq!(reply.error, Some(ResponseError::InconsistentGroupProtocol));
    let (_, reply) = only_join(&coordinator.join(
        Millis(0),
        RequestToken(10),
        join_request("made-up-id", &["range"]),
    ));
    assert_eq!(reply.error, Some(ResponseError::UnknownMemberId));
}

#[test]
fn the_protocol_most_members_prefer_wins_among_common_ones() {
    let mut coordinator = coordinator();
    let join = |coordinator: &mut Coordinator, token: u64, protocols: &[&str]| {
        let (_, reply) = only_join(&coordinator.join(
            Millis(0),
            RequestToken(token),
            join_request("", protocols),
        ));
        coordinator.join(
            Millis(0),
            RequestToken(token + 1),
            join_request(&reply.member_id, protocols),
        )
    };
    join(&mut coordinator, 1, &["cooperative-sticky", "range"]);
    let effects = join(&mut coordinator, 3, &["range", "cooperative-sticky"]);
    assert!(effects.is_empty(), "first member has to rejoin");
    let first = coordinator.describe("orders-app").members[0]
        .member_id
        .clone();
    let effects = join_with(
        &mut coordinator,
        5,
        &first,
        &["cooperative-sticky", "range"],
    );
    let replies = joins(&effects);
    assert!(
        replies
            .iter()
            .all(|(_, reply)| reply.protocol_name.as_deref() == Some("cooperative-sticky"))
    );
}

fn join_with(
    coordinator: &mut Coordinator,
    token: u64,
    member: &str,
    protocols: &[&str],
) -> Vec<Effect> {
    coordinator.join(
        Millis(0),
        RequestToken(token),
        join_request(member, protocols),
    )
}

#[test]
fn a_new_group_waits_the_initial_delay_for_more_members() {
    let mut coordinator = Coordinator::new(GroupConfig {
        initial_rebalance_delay_ms: 3_000,
        ..GroupConfig::default()
    });
    let (_, effects) = admit(&mut coordinator, Millis(0), 1);
    assert!(effects.is_empty());
    let (_, effects) = admit(&mut coordinator, Millis(1_000), 10);
    assert!(effects.is_empty());
    assert_eq!(coordinator.next_deadline(), Some(Millis(3_000)));
    let replies = joins(&coordinator.tick(Millis(3_000)));
    assert_eq!(
        replies.len(),
        2,
        "both members complete generation 1 together"
    );
}

#[test]
fn replay_restores_generation_members_and_offsets() {
    let mut original = coordinator();
    let mut persisted = Vec::new();
    let (member, effects) = admit(&mut original, Millis(0), 1);
    persisted.extend(effects);
    persisted.extend(sync(&mut original, 3, &member, 1, &[(&member, "all")]));
    let partition = TopicPartition {
        topic: "orders".to_owned(),
        partition: 3,
    };
    let committed = CommittedOffset {
        offset: 7,
        leader_epoch: 2,
        metadata: "m".to_owned(),
        commit_time: Millis(1),
    };
    persisted.extend(
        original
            .commit(
                Millis(1),
                CommitRequest {
                    group_id: "orders-app".to_owned(),
                    generation_id: 1,
                    member_id: member.clone(),
                    offsets: vec![(partition.clone(), committed.clone())],
                },
            )
            .1,
    );
    let mut restored = coordinator();
    for effect in persisted {
        if let Effect::Persist(record) = effect {
            restored.replay(Millis(100), record);
        }
    }
    assert_eq!(
        restored.describe("orders-app"),
        original.describe("orders-app")
    );
    assert_eq!(
        restored.heartbeat(Millis(200), "orders-app", &member, 1),
        Ok(())
    );
    assert_eq!(
        restored.fetch_offsets("orders-app", Some(std::slice::from_ref(&partition))),
        vec![(partition, Some(committed))]
    );
}
