use ed25519_dalek::{Signer as _, SigningKey};
use fjord_api::{
    ConfigMap, IntentChange, IntentCluster, IntentTopic, parse_hash, signed_statement,
};

use super::*;

/// Signs intents as the control plane does.
struct ControlPlane {
    key: SigningKey,
    environment_id: Uuid,
    organization_id: Uuid,
}

impl ControlPlane {
    fn new(seed: u8) -> Self {
        Self {
            key: SigningKey::from_bytes(&[seed; 32]),
            environment_id: Uuid::now_v7(),
            organization_id: Uuid::now_v7(),
        }
    }

    fn key_id(&self) -> String {
        hex::encode(&Sha256::digest(self.key.verifying_key().as_bytes())[..8])
    }

    fn follower(&self) -> IntentFollower {
        let public = STANDARD.encode(self.key.verifying_key().as_bytes());
        IntentFollower::new(&public, &self.key_id(), self.environment_id).expect("a valid key")
    }

    fn document(&self, generation: i64, partitions: i32) -> IntentDocument {
        let topics = (0..20)
            .map(|index| IntentTopic {
                topic_id: Uuid::from_u128(index),
                name: format!("topic-{index:02}"),
                partitions: if index == 7 { partitions } else { 6 },
                replication_factor: 3,
                config: ConfigMap::new(),
            })
            .collect();
        let clusters = vec![IntentCluster {
            cluster_id: Uuid::from_u128(100),
            name: "orders".to_owned(),
            version: "0.1.0".to_owned(),
            broker_count: 3,
            storage_gib: 100,
            config: ConfigMap::new(),
            topics,
        }];
        let content_hash = ObjectHashes::of(&clusters).root_hex();
        IntentDocument {
            format: INTENT_FORMAT.to_owned(),
            organization_id: self.organization_id,
            environment_id: self.environment_id,
            generation,
            content_hash,
            clusters,
        }
    }

    /// The signature over the document's statement, as it claims its hash.
    fn signature(&self, document: &IntentDocument) -> String {
        let root = parse_hash(&document.content_hash).expect("a hex sha-256");
        let statement = signed_statement(
            document.organization_id,
            document.environment_id,
            document.generation,
            &root,
        );
        STANDARD.encode(self.key.sign(&statement).to_bytes())
    }

    fn full(&self, document: &IntentDocument) -> Vec<u8> {
        let intent = Intent {
            environment_id: document.environment_id,
            generation: document.generation,
            content_hash: document.content_hash.clone(),
            signature: self.signature(document),
            key_id: self.key_id(),
            document: document.clone(),
            created_at: chrono::Utc::now(),
        };
        serde_json::to_vec(&intent).expect("serialises")
    }

    fn delta(&self, from: &IntentDocument, to: &IntentDocument) -> IntentDelta {
        IntentDelta {
            environment_id: to.environment_id,
            from_generation: from.generation,
            generation: to.generation,
            content_hash: to.content_hash.clone(),
            signature: self.signature(to),
            key_id: self.key_id(),
            changes: fjord_api::diff(from, to),
            created_at: chrono::Utc::now(),
        }
    }
}

fn bytes(delta: &IntentDelta) -> Vec<u8> {
    serde_json::to_vec(delta).expect("serialises")
}

#[test]
fn the_follower_takes_a_full_intent_then_applies_verified_deltas() {
    let control = ControlPlane::new(7);
    let mut follower = control.follower();
    assert_eq!(follower.poll_query(), "after=0");
    let first = control.document(1, 6);
    let held = follower
        .receive("application/json", &control.full(&first))
        .expect("verifies");
    assert_eq!(held, &first);
    assert_eq!(follower.poll_query(), "after=1&delta=true");

    let second = control.document(2, 12);
    let delta = control.delta(&first, &second);
    assert_eq!(delta.changes.len(), 1);
    let held = follower
        .receive(INTENT_DELTA_JSON, &bytes(&delta))
        .expect("verifies");
    assert_eq!(held, &second);
    assert_eq!(follower.poll_query(), "after=2&delta=true");
}

#[test]
fn a_tampered_delta_is_refused_and_the_full_document_is_asked_for_next() {
    let control = ControlPlane::new(7);
    let mut follower = control.follower();
    let first = control.document(1, 6);
    follower
        .receive("application/json", &control.full(&first))
        .expect("verifies");
    let second = control.document(2, 12);
    let honest = control.delta(&first, &second);

    // The change altered in transit: the hash no longer matches.
    let mut tampered = honest.clone();
    if let Some(IntentChange::PutTopic { topic, .. }) = tampered.changes.first_mut() {
        topic.partitions = 600;
    }
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&tampered));
    assert!(matches!(refused, Err(FollowError::BadHash)), "{refused:?}");
    assert_eq!(follower.document(), Some(&first), "the held document stays");
    assert_eq!(follower.poll_query(), "after=1", "the full document next");

    // Change and hash both altered: the signature does not cover them.
    let mut forged = tampered.clone();
    let mut forged_document = first.apply(&tampered).expect("applies");
    forged_document.content_hash = ObjectHashes::of(&forged_document.clusters).root_hex();
    forged.content_hash = forged_document.content_hash.clone();
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&forged));
    assert!(
        matches!(refused, Err(FollowError::BadSignature)),
        "{refused:?}"
    );

    // Signed by another key (with this key's id): refused too.
    let impostor = ControlPlane {
        key: SigningKey::from_bytes(&[8; 32]),
        ..ControlPlane::new(8)
    };
    let mut signed_elsewhere = honest.clone();
    signed_elsewhere.signature = impostor.signature(&second);
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&signed_elsewhere));
    assert!(
        matches!(refused, Err(FollowError::BadSignature)),
        "{refused:?}"
    );
    let mut other_key = honest.clone();
    other_key.key_id = impostor.key_id();
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&other_key));
    assert!(
        matches!(refused, Err(FollowError::WrongKey { .. })),
        "{refused:?}"
    );
    assert_eq!(follower.document(), Some(&first));

    // The fallback: the full document verifies, deltas resume.
    follower
        .receive("application/json", &control.full(&second))
        .expect("verifies");
    assert_eq!(follower.poll_query(), "after=2&delta=true");
    // A delta for a generation not held does not apply.
    let stale = control.delta(&first, &second);
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&stale));
    assert!(
        matches!(refused, Err(FollowError::DeltaDoesNotApply(_))),
        "{refused:?}"
    );
}

#[test]
fn full_intents_must_verify_and_move_forward() {
    let control = ControlPlane::new(7);
    let mut follower = control.follower();
    let impostor = ControlPlane {
        environment_id: control.environment_id,
        ..ControlPlane::new(9)
    };
    let first = control.document(1, 6);
    let refused = follower.receive("application/json", &impostor.full(&first));
    assert!(
        matches!(refused, Err(FollowError::WrongKey { .. })),
        "{refused:?}"
    );
    assert_eq!(follower.poll_query(), "after=0");

    let elsewhere = ControlPlane {
        key: SigningKey::from_bytes(&[7; 32]),
        ..ControlPlane::new(7)
    };
    let refused = follower.receive(
        "application/json",
        &elsewhere.full(&elsewhere.document(1, 6)),
    );
    assert!(
        matches!(refused, Err(FollowError::WrongEnvironment(_))),
        "{refused:?}"
    );

    follower
        .receive("application/json", &control.full(&control.document(2, 6)))
        .expect("verifies");
    let refused = follower.receive("application/json", &control.full(&first));
    assert!(
        matches!(
            refused,
            Err(FollowError::NotNewer {
                received: 1,
                held: 2
            })
        ),
        "{refused:?}"
    );
    let refused = follower.receive("application/json", b"{\"generation\": 3}");
    assert!(
        matches!(refused, Err(FollowError::Malformed(_))),
        "{refused:?}"
    );
    assert!(IntentFollower::new("c2hvcnQ=", "0000", Uuid::nil()).is_err());
    let public = STANDARD.encode(control.key.verifying_key().as_bytes());
    assert!(
        IntentFollower::new(&public, &impostor.key_id(), Uuid::nil()).is_err(),
        "the key id must be the key's"
    );
}

#[test]
fn a_signature_covers_the_generation_the_format_and_every_object() {
    let control = ControlPlane::new(7);
    let mut follower = control.follower();
    let first = control.document(1, 6);
    follower
        .receive("application/json", &control.full(&first))
        .expect("verifies");

    // Generation 2's signed statement replayed as generation 3 of the same
    // content (an old desired state presented as newer): refused.
    let second = control.document(2, 12);
    let mut replayed = control.delta(&first, &second);
    replayed.generation = 3;
    let refused = follower.receive(INTENT_DELTA_JSON, &bytes(&replayed));
    assert!(
        matches!(refused, Err(FollowError::BadSignature)),
        "{refused:?}"
    );

    // A full intent whose document was edited after signing: its objects
    // no longer have the signed hash.
    let mut edited = second.clone();
    edited.clusters[0].topics[3].replication_factor = 1;
    let mut body: Intent = serde_json::from_slice(&control.full(&second)).expect("parses");
    body.document = edited;
    let refused = follower.receive(
        "application/json",
        &serde_json::to_vec(&body).expect("serialises"),
    );
    assert!(matches!(refused, Err(FollowError::BadHash)), "{refused:?}");

    // Another format is refused by name, not misread.
    let mut old = control.document(2, 6);
    old.format = "fjord.intent/v1".to_owned();
    let refused = follower.receive("application/json", &control.full(&old));
    assert!(
        matches!(refused, Err(FollowError::UnsupportedFormat(ref format)) if format == "fjord.intent/v1"),
        "{refused:?}"
    );
    assert_eq!(follower.document(), Some(&first));
    follower
        .receive("application/json", &control.full(&second))
        .expect("verifies");
}
