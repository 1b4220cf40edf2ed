//! Pure: an intent document as the `StreamCluster` and `Topic` objects the
//! agent server-side applies, and a readable diff between two documents.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use fjord_api::{IntentCluster, IntentDocument, IntentTopic};
use serde_json::{Value, json};

use super::checks::{Check, Refusal};
use super::config::names;

/// One object to apply: its kind, name and apply body.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Desired {
    pub(crate) name: String,
    pub(crate) body: Value,
}

/// Every object an intent asks for.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Rendered {
    pub(crate) clusters: Vec<Desired>,
    pub(crate) topics: Vec<Desired>,
}

/// The objects of `document` in `namespace`; refused (`unrepresentable`)
/// when a name cannot be a Kubernetes object's or two topics share one.
pub(crate) fn render(document: &IntentDocument, namespace: &str) -> Result<Rendered, Refusal> {
    let mut rendered = Rendered::default();
    let mut topic_names = BTreeSet::new();
    for cluster in &document.clusters {
        rendered
            .clusters
            .push(cluster_object(cluster, document.generation, namespace)?);
        for topic in &cluster.topics {
            if !is_object_name(&topic.name) {
                return Err(unrepresentable(format!(
                    "topic {} of cluster {} is not a valid Kubernetes object name (lower case, digits, `-`, `.`)",
                    topic.name, cluster.name
                )));
            }
            if !topic_names.insert(topic.name.clone()) {
                return Err(unrepresentable(format!(
                    "topic name {} is used in two clusters of one namespace",
                    topic.name
                )));
            }
            rendered.topics.push(topic_object(
                cluster,
                topic,
                document.generation,
                namespace,
            )?);
        }
    }
    Ok(rendered)
}

fn unrepresentable(message: String) -> Refusal {
    Refusal::new(Check::Unrepresentable, message)
}

fn labels(cluster_id: &str, topic_id: Option<&str>) -> Value {
    let mut labels = serde_json::Map::new();
    labels.insert(
        names::MANAGED_BY_LABEL.into(),
        names::MANAGED_BY_VALUE.into(),
    );
    labels.insert(names::CLUSTER_ID_LABEL.into(), cluster_id.into());
    if let Some(topic_id) = topic_id {
        labels.insert(names::TOPIC_ID_LABEL.into(), topic_id.into());
    }
    Value::Object(labels)
}

fn cluster_object(
    cluster: &IntentCluster,
    generation: i64,
    namespace: &str,
) -> Result<Desired, Refusal> {
    let brokers = u16::try_from(cluster.broker_count)
        .ok()
        .filter(|count| (1..=64).contains(count))
        .ok_or_else(|| {
            unrepresentable(format!(
                "cluster {} has {} brokers, a StreamCluster 1 to 64",
                cluster.name, cluster.broker_count
            ))
        })?;
    if cluster.storage_gib < 1 {
        return Err(unrepresentable(format!(
            "cluster {} has {} GiB of storage",
            cluster.name, cluster.storage_gib
        )));
    }
    let body = json!({
        "apiVersion": "fjord.dev/v1alpha1",
        "kind": "StreamCluster",
        "metadata": {
            "name": cluster.name,
            "namespace": namespace,
            "labels": labels(&cluster.cluster_id.to_string(), None),
            "annotations": {names::GENERATION_ANNOTATION: generation.to_string()},
        },
        "spec": {
            "version": cluster.version,
            "brokers": brokers,
            "storage": {"size": format!("{}Gi", cluster.storage_gib)},
            "config": cluster.config,
        },
    });
    Ok(Desired {
        name: cluster.name.clone(),
        body,
    })
}

fn topic_object(
    cluster: &IntentCluster,
    topic: &IntentTopic,
    generation: i64,
    namespace: &str,
) -> Result<Desired, Refusal> {
    if topic.partitions < 1 || topic.replication_factor < 1 {
        return Err(unrepresentable(format!(
            "topic {} has {} partitions and replication factor {}",
            topic.name, topic.partitions, topic.replication_factor
        )));
    }
    let body = json!({
        "apiVersion": "fjord.dev/v1alpha1",
        "kind": "Topic",
        "metadata": {
            "name": topic.name,
            "namespace": namespace,
            "labels": labels(&cluster.cluster_id.to_string(), Some(&topic.topic_id.to_string())),
            "annotations": {names::GENERATION_ANNOTATION: generation.to_string()},
        },
        "spec": {
            "clusterRef": cluster.name,
            "partitions": topic.partitions,
            "replicationFactor": topic.replication_factor,
            "config": topic.config,
        },
    });
    Ok(Desired {
        name: topic.name.clone(),
        body,
    })
}

/// A DNS-1123 subdomain: what a namespaced object's name may be.
fn is_object_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 253
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'.')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// What `next` changes against `applied` (nothing applied: all of it), one
/// line per object: `+` added, `-` removed, `~` changed with each field's
/// old and new value.
pub(crate) fn diff(applied: Option<&IntentDocument>, next: &IntentDocument) -> String {
    let mut text = format!(
        "generation {} -> {}\n",
        applied.map_or(0, |doc| doc.generation),
        next.generation
    );
    let before: BTreeMap<_, _> = applied
        .map(|doc| doc.clusters.iter().map(|c| (c.cluster_id, c)).collect())
        .unwrap_or_default();
    let mut unchanged = true;
    for cluster in &next.clusters {
        let old = before.get(&cluster.cluster_id).copied();
        let lines = cluster_lines(old, cluster);
        unchanged &= lines.is_empty();
        text.push_str(&lines);
    }
    let kept: BTreeSet<_> = next.clusters.iter().map(|c| c.cluster_id).collect();
    for cluster in before.values().filter(|c| !kept.contains(&c.cluster_id)) {
        unchanged = false;
        let _ = writeln!(
            text,
            "- cluster {} ({} topics)",
            cluster.name,
            cluster.topics.len()
        );
    }
    if unchanged {
        text.push_str("no change to clusters or topics\n");
    }
    text
}

fn cluster_lines(old: Option<&IntentCluster>, new: &IntentCluster) -> String {
    let mut text = String::new();
    let Some(old) = old else {
        let _ = writeln!(
            text,
            "+ cluster {}: version {}, {} brokers, {} GiB, config {:?}",
            new.name, new.version, new.broker_count, new.storage_gib, new.config
        );
        for topic in &new.topics {
            let _ = writeln!(text, "{}", topic_added(&new.name, topic));
        }
        return text;
    };
    let mut changes = Vec::new();
    field(&mut changes, "version", &old.version, &new.version);
    field(
        &mut changes,
        "brokers",
        &old.broker_count,
        &new.broker_count,
    );
    field(
        &mut changes,
        "storage GiB",
        &old.storage_gib,
        &new.storage_gib,
    );
    field(&mut changes, "config", &old.config, &new.config);
    if !changes.is_empty() {
        let _ = writeln!(text, "~ cluster {}: {}", new.name, changes.join("; "));
    }
    let old_topics: BTreeMap<_, _> = old.topics.iter().map(|t| (t.topic_id, t)).collect();
    for topic in &new.topics {
        match old_topics.get(&topic.topic_id) {
            None => {
                let _ = writeln!(text, "{}", topic_added(&new.name, topic));
            }
            Some(before) => {
                let mut changes = Vec::new();
                field(&mut changes, "name", &before.name, &topic.name);
                field(
                    &mut changes,
                    "partitions",
                    &before.partitions,
                    &topic.partitions,
                );
                field(
                    &mut changes,
                    "replication factor",
                    &before.replication_factor,
                    &topic.replication_factor,
                );
                field(&mut changes, "config", &before.config, &topic.config);
                if !changes.is_empty() {
                    let _ = writeln!(
                        text,
                        "~ topic {}/{}: {}",
                        new.name,
                        topic.name,
                        changes.join("; ")
                    );
                }
            }
        }
    }
    let new_ids: BTreeSet<_> = new.topics.iter().map(|t| t.topic_id).collect();
    for topic in old.topics.iter().filter(|t| !new_ids.contains(&t.topic_id)) {
        let _ = writeln!(text, "- topic {}/{}", new.name, topic.name);
    }
    text
}

fn topic_added(cluster: &str, topic: &IntentTopic) -> String {
    format!(
        "+ topic {cluster}/{}: {} partitions, replication factor {}, config {:?}",
        topic.name, topic.partitions, topic.replication_factor, topic.config
    )
}

fn field<T: PartialEq + std::fmt::Debug>(changes: &mut Vec<String>, name: &str, old: &T, new: &T) {
    if old != new {
        changes.push(format!("{name} {old:?} -> {new:?}"));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use fjord_api::ConfigMap;
    use uuid::Uuid;

    use super::*;

    fn document(generation: i64, topics: &[(&str, i32)]) -> IntentDocument {
        IntentDocument {
            format: fjord_api::INTENT_FORMAT.to_owned(),
            organization_id: Uuid::nil(),
            environment_id: Uuid::nil(),
            generation,
            content_hash: String::new(),
            clusters: vec![IntentCluster {
                cluster_id: Uuid::from_u128(1),
                name: "orders".to_owned(),
                version: "0.1.0".to_owned(),
                broker_count: 3,
                storage_gib: 100,
                config: ConfigMap::new(),
                topics: topics
                    .iter()
                    .enumerate()
                    .map(|(index, (name, partitions))| IntentTopic {
                        topic_id: Uuid::from_u128(100 + index as u128),
                        name: (*name).to_owned(),
                        partitions: *partitions,
                        replication_factor: 3,
                        config: ConfigMap::new(),
                    })
                    .collect(),
            }],
        }
    }

    #[test]
    fn a_document_renders_labelled_clusters_and_topics() {
        let rendered = render(&document(4, &[("payments", 6)]), "fjord").unwrap();
        let cluster = &rendered.clusters[0].body;
        assert_eq!(cluster["kind"], "StreamCluster");
        assert_eq!(cluster["spec"]["storage"]["size"], "100Gi");
        assert_eq!(cluster["spec"]["brokers"], 3);
        assert_eq!(
            cluster["metadata"]["labels"][names::MANAGED_BY_LABEL],
            "fjord-agent"
        );
        assert_eq!(
            cluster["metadata"]["annotations"][names::GENERATION_ANNOTATION],
            "4"
        );
        assert!(
            cluster["spec"].get("paused").is_none(),
            "customer fields stay theirs"
        );
        let topic = &rendered.topics[0].body;
        assert_eq!(topic["metadata"]["name"], "payments");
        assert_eq!(topic["spec"]["clusterRef"], "orders");
        assert_eq!(topic["spec"]["replicationFactor"], 3);
    }

    #[test]
    fn a_topic_name_kubernetes_cannot_hold_is_refused() {
        for name in ["Payments", "pay_ments", "-x"] {
            let refusal = render(&document(1, &[(name, 6)]), "fjord").unwrap_err();
            assert_eq!(refusal.check, Check::Unrepresentable);
            assert!(refusal.message.contains(name), "{}", refusal.message);
        }
    }

    #[test]
    fn the_diff_names_each_changed_field() {
        let before = document(1, &[("payments", 6), ("audit", 1)]);
        let mut after = document(2, &[("payments", 12)]);
        after.clusters[0].version = "0.2.0".to_owned();
        let text = diff(Some(&before), &after);
        assert!(text.contains("generation 1 -> 2"), "{text}");
        assert!(
            text.contains("~ cluster orders: version \"0.1.0\" -> \"0.2.0\""),
            "{text}"
        );
        assert!(
            text.contains("~ topic orders/payments: partitions 6 -> 12"),
            "{text}"
        );
        assert!(text.contains("- topic orders/audit"), "{text}");
        let fresh = diff(None, &after);
        assert!(fresh.contains("+ cluster orders") && fresh.contains("+ topic orders/payments"));
        assert!(diff(Some(&after), &after).contains("no change"));
    }
}
