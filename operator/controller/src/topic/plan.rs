//! What to do about one topic, from its declaration and what the brokers
//! report (pure; the reconciler does the I/O).

use std::collections::BTreeMap;

use fjord_crd::TopicSpec;

use crate::topic::admin::TopicDescription;

/// The topic on the brokers: its shape and the declared keys' values there
/// (a key the brokers do not report is absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    pub description: TopicDescription,
    pub config: BTreeMap<String, String>,
}

/// A declared change Kafka cannot make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Kafka can add partitions, never remove them.
    PartitionDecrease { declared: u32, actual: u32 },
    /// The brokers cannot reassign replicas, so the factor is fixed.
    ReplicationFactorChange { declared: u16, actual: u16 },
}

impl Refusal {
    /// The condition and Event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::PartitionDecrease { .. } => "PartitionDecreaseRefused",
            Self::ReplicationFactorChange { .. } => "ReplicationFactorChangeRefused",
        }
    }

    /// What a person reads in the condition and the Event.
    pub fn message(&self) -> String {
        match self {
            Self::PartitionDecrease { declared, actual } => format!(
                "the topic has {actual} partitions and {declared} are declared: Kafka cannot remove partitions"
            ),
            Self::ReplicationFactorChange { declared, actual } => format!(
                "the topic has replication factor {actual} and {declared} is declared: the brokers cannot change it"
            ),
        }
    }
}

/// The steps that bring the topic to its declaration, and what cannot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The topic does not exist: create it as declared.
    pub create: bool,
    /// Raise the partition count to this.
    pub add_partitions: Option<u32>,
    /// Declared settings whose value on the brokers differs, with the
    /// declared value to set. Undeclared settings never appear.
    pub set_config: BTreeMap<String, String>,
    /// The same keys with their value on the brokers (`""`: not reported).
    pub drift: BTreeMap<String, String>,
    pub refusals: Vec<Refusal>,
}

impl Plan {
    /// Nothing to do and nothing refused: the topic is as declared.
    pub fn converged(&self) -> bool {
        *self == Self::default()
    }
}

/// Compares the declaration with the topic on the brokers.
pub fn plan(spec: &TopicSpec, observed: Option<&Observed>) -> Plan {
    let Some(observed) = observed else {
        return Plan {
            create: true,
            ..Plan::default()
        };
    };
    let mut plan = Plan::default();
    let actual = observed.description.partitions;
    if spec.partitions > actual {
        plan.add_partitions = Some(spec.partitions);
    } else if spec.partitions < actual {
        plan.refusals.push(Refusal::PartitionDecrease {
            declared: spec.partitions,
            actual,
        });
    }
    let factor = observed.description.replication_factor;
    if spec.replication_factor != factor {
        plan.refusals.push(Refusal::ReplicationFactorChange {
            declared: spec.replication_factor,
            actual: factor,
        });
    }
    for (key, declared) in &spec.config {
        let current = observed.config.get(key);
        if current != Some(declared) {
            plan.set_config.insert(key.clone(), declared.clone());
            plan.drift
                .insert(key.clone(), current.cloned().unwrap_or_default());
        }
    }
    debug_assert!(
        plan.set_config
            .keys()
            .all(|key| spec.config.contains_key(key)),
        "only declared settings are ever set"
    );
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(partitions: u32, factor: u16, config: &[(&str, &str)]) -> TopicSpec {
        TopicSpec {
            cluster_ref: "demo".into(),
            partitions,
            replication_factor: factor,
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn observed(partitions: u32, factor: u16, config: &[(&str, &str)]) -> Observed {
        Observed {
            description: TopicDescription {
                partitions,
                replication_factor: factor,
            },
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_missing_topic_is_created() {
        let plan = plan(&spec(3, 1, &[("retention.ms", "1000")]), None);
        assert!(plan.create);
        assert!(
            plan.set_config.is_empty(),
            "the config goes with the create"
        );
    }

    #[test]
    fn a_topic_as_declared_needs_nothing() {
        let declared = spec(3, 1, &[("retention.ms", "1000")]);
        let on_brokers = observed(3, 1, &[("retention.ms", "1000")]);
        assert!(plan(&declared, Some(&on_brokers)).converged());
    }

    #[test]
    fn more_partitions_are_added_and_fewer_are_refused() {
        let grown = plan(&spec(6, 1, &[]), Some(&observed(3, 1, &[])));
        assert_eq!(grown.add_partitions, Some(6));
        assert!(grown.refusals.is_empty());
        let shrunk = plan(&spec(2, 1, &[]), Some(&observed(3, 1, &[])));
        assert_eq!(shrunk.add_partitions, None);
        assert_eq!(
            shrunk.refusals,
            vec![Refusal::PartitionDecrease {
                declared: 2,
                actual: 3
            }]
        );
    }

    #[test]
    fn a_different_replication_factor_is_refused() {
        let plan = plan(&spec(3, 3, &[]), Some(&observed(3, 1, &[])));
        assert_eq!(
            plan.refusals,
            vec![Refusal::ReplicationFactorChange {
                declared: 3,
                actual: 1
            }]
        );
        assert_eq!(plan.refusals[0].reason(), "ReplicationFactorChangeRefused");
    }

    #[test]
    fn only_declared_settings_that_differ_are_set() {
        let declared = spec(
            3,
            1,
            &[("retention.ms", "1000"), ("cleanup.policy", "delete")],
        );
        // segment.bytes is not declared: whatever it is, it stays.
        let on_brokers = observed(3, 1, &[("retention.ms", "5"), ("cleanup.policy", "delete")]);
        let plan = plan(&declared, Some(&on_brokers));
        assert_eq!(
            plan.set_config,
            BTreeMap::from([("retention.ms".to_owned(), "1000".to_owned())])
        );
        assert_eq!(
            plan.drift,
            BTreeMap::from([("retention.ms".to_owned(), "5".to_owned())])
        );
    }

    #[test]
    fn a_setting_the_brokers_do_not_report_is_drift_with_an_empty_value() {
        let plan = plan(
            &spec(1, 1, &[("x.unknown", "1")]),
            Some(&observed(1, 1, &[])),
        );
        assert_eq!(plan.drift.get("x.unknown").map(String::as_str), Some(""));
    }
}
