use chrono::Utc;
use uuid::Uuid;

use super::*;
use crate::intent_delta::tests::{cluster, topic};
use crate::{IntentChange, IntentDocument, diff};

fn sample() -> IntentDocument {
    let clusters = vec![
        cluster("billing", vec![topic("invoices", 3)]),
        cluster(
            "orders",
            (0..40).map(|i| topic(&format!("t-{i:02}"), 6)).collect(),
        ),
    ];
    let content_hash = ObjectHashes::of(&clusters).root_hex();
    IntentDocument {
        format: INTENT_FORMAT.to_owned(),
        organization_id: Uuid::now_v7(),
        environment_id: Uuid::now_v7(),
        generation: 7,
        content_hash,
        clusters,
    }
}

fn delta(from: &IntentDocument, to: &IntentDocument) -> IntentDelta {
    IntentDelta {
        environment_id: to.environment_id,
        from_generation: from.generation,
        generation: to.generation,
        content_hash: to.content_hash.clone(),
        signature: String::new(),
        key_id: String::new(),
        changes: diff(from, to),
        created_at: Utc::now(),
    }
}

/// The record layout, computed by hand for a one-cluster, one-topic
/// document: what another implementation of an agent would write.
#[test]
fn the_root_is_sha256_over_kind_id_and_object_hash_records() {
    let clusters = vec![cluster("one", vec![topic("only", 1)])];
    let (c, t) = (&clusters[0], &clusters[0].topics[0]);
    let settings = IntentClusterSettings {
        cluster_id: c.cluster_id,
        name: c.name.clone(),
        version: c.version.clone(),
        broker_count: c.broker_count,
        storage_gib: c.storage_gib,
        config: c.config.clone(),
    };
    let settings_json = serde_json::to_vec(&settings).expect("serialises");
    assert!(!String::from_utf8_lossy(&settings_json).contains("topics"));
    let mut records = Vec::new();
    records.push(0x01);
    records.extend_from_slice(c.cluster_id.as_bytes());
    records.extend_from_slice(&Sha256::digest(&settings_json));
    records.push(0x02);
    records.extend_from_slice(t.topic_id.as_bytes());
    records.extend_from_slice(&Sha256::digest(serde_json::to_vec(t).expect("serialises")));
    assert_eq!(records.len(), 2 * 49);
    let expected: Hash = Sha256::digest(&records).into();
    assert_eq!(ObjectHashes::of(&clusters).root(), expected);
    assert_eq!(
        ObjectHashes::of(&clusters).root_hex(),
        hex::encode(expected)
    );
    assert_eq!(parse_hash(&hex::encode(expected)), Some(expected));
    assert_eq!(parse_hash("abc"), None);
    assert_eq!(parse_hash(&"zz".repeat(32)), None);
}

#[test]
fn the_statement_binds_format_tenant_environment_generation_and_hash() {
    let (org, env, hash) = (Uuid::now_v7(), Uuid::now_v7(), [9_u8; 32]);
    let statement = signed_statement(org, env, 258, &hash);
    assert_eq!(&statement[..16], b"fjord.intent/v2\0");
    assert_eq!(&statement[16..32], org.as_bytes());
    assert_eq!(&statement[32..48], env.as_bytes());
    assert_eq!(&statement[48..56], &[0, 0, 0, 0, 0, 0, 1, 2]);
    assert_eq!(&statement[56..], &hash);
    assert_ne!(statement, signed_statement(env, org, 258, &hash));
    assert_ne!(statement, signed_statement(org, env, 259, &hash));
}

#[test]
fn changing_any_object_or_the_order_changes_the_root() {
    let from = sample();
    let root = ObjectHashes::of(&from.clusters).root();
    let edits: [fn(&mut Vec<IntentCluster>); 7] = [
        |c| c[0].broker_count = 5,
        |c| {
            c[1].config.insert("x".to_owned(), "y".to_owned());
        },
        |c| c[1].topics[39].partitions = 7,
        |c| c[1].topics.swap(0, 1),
        |c| c.swap(0, 1),
        // A topic moved to the other cluster.
        |c| {
            let moved = c[1].topics.remove(0);
            c[0].topics.push(moved);
        },
        |c| {
            c[1].topics.pop();
        },
    ];
    for (index, edit) in edits.iter().enumerate() {
        let mut clusters = from.clusters.clone();
        edit(&mut clusters);
        assert_ne!(ObjectHashes::of(&clusters).root(), root, "edit {index}");
    }
    assert_eq!(ObjectHashes::of(&from.clusters.clone()).root(), root);
}

/// What an agent relies on: applying a delta to its object hashes gives the
/// object hashes of the document the delta makes, so the root it checks is
/// the new document's.
#[test]
fn hashes_follow_deltas_exactly_as_documents_do() {
    let from = sample();
    let held = ObjectHashes::of(&from.clusters);
    let mut to = from.clone();
    to.generation += 1;
    to.clusters[1].topics.remove(3);
    to.clusters[1].topics.insert(0, topic("a-first", 2));
    to.clusters[1].topics[10].partitions = 12;
    to.clusters[0].version = "0.2.0".to_owned();
    to.clusters.push(cluster("zeta", vec![topic("z", 1)]));
    to.content_hash = ObjectHashes::of(&to.clusters).root_hex();
    let delta = delta(&from, &to);
    let hashes = held.apply(&delta).expect("applies");
    assert_eq!(hashes, ObjectHashes::of(&to.clusters));
    assert_eq!(hashes.root_hex(), to.content_hash);
    let mut in_place = from.clone();
    in_place.apply_in_place(&delta).expect("applies");
    assert_eq!(in_place, to);
    // A hostile change fails on the hashes where it fails on the document.
    let mut hostile = delta.clone();
    let nowhere = Uuid::now_v7();
    hostile.changes.push(IntentChange::RemoveTopic {
        cluster_id: from.clusters[0].cluster_id,
        topic_id: nowhere,
    });
    assert_eq!(
        held.apply(&hostile),
        Err(DeltaError::UnknownObject(nowhere))
    );
    assert_eq!(
        from.apply(&hostile),
        Err(DeltaError::UnknownObject(nowhere))
    );
}

#[test]
fn a_signature_is_accepted_only_from_the_key_over_the_claimed_hash() {
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let document = sample();
    let hashes = ObjectHashes::of(&document.clusters);
    let signer = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let statement = hashes
        .statement(
            document.organization_id,
            document.environment_id,
            document.generation,
            &document.content_hash,
        )
        .expect("the document's content hash is its objects'");
    let signature =
        base64::engine::general_purpose::STANDARD.encode(signer.sign(&statement).to_bytes());
    let verify = |key: &ed25519_dalek::VerifyingKey, generation, hash: &str, signature: &str| {
        hashes.verify_signature(
            key,
            document.organization_id,
            document.environment_id,
            generation,
            hash,
            signature,
        )
    };
    let key = signer.verifying_key();
    assert_eq!(verify(&key, 7, &document.content_hash, &signature), Ok(()));
    let other_hash = "00".repeat(32);
    assert_eq!(
        verify(&key, 7, &other_hash, &signature),
        Err(SignatureError::ContentHash)
    );
    assert_eq!(
        verify(&key, 7, &document.content_hash, "not base64!"),
        Err(SignatureError::Malformed)
    );
    // Another generation's statement, or another key.
    assert_eq!(
        verify(&key, 8, &document.content_hash, &signature),
        Err(SignatureError::Invalid)
    );
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).verifying_key();
    assert_eq!(
        verify(&stranger, 7, &document.content_hash, &signature),
        Err(SignatureError::Invalid)
    );
}
