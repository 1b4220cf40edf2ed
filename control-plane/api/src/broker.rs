//! One broker of a cluster as its agent reports it.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::validate::{self, Check};

/// Brokers one cluster may report: the API allows 64 per cluster, and a
/// cluster that scales down reports its decommissioning brokers too.
pub const BROKERS_PER_CLUSTER_MAX: usize = 256;

/// A broker's id, version and state, as the operator last saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrokerStatus {
    /// The broker's id (its StatefulSet ordinal), unique in the cluster.
    #[schema(minimum = 0)]
    pub broker_id: i32,
    /// Release the broker reports running; absent until it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 100)]
    pub version: Option<String>,
    /// `pending`, `starting`, `serving`, `maintenance`, `restarting`,
    /// `decommissioning` or `failed` (a lowercase word; later agents may
    /// report others).
    #[schema(
        min_length = 1,
        max_length = 63,
        pattern = "^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"
    )]
    pub state: String,
    /// Whether the broker is up: serving, or in maintenance mode (up, its
    /// leadership drained) during a roll.
    pub ready: bool,
    /// The broker's rack (its node's topology label), when rack awareness is on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 63)]
    pub rack: Option<String>,
}

impl BrokerStatus {
    pub fn validate(&self) -> Check {
        validate::range(
            "brokers[].broker_id",
            self.broker_id.into(),
            0,
            i32::MAX.into(),
        )?;
        validate::dns_label("brokers[].state", &self.state)?;
        if let Some(version) = &self.version {
            validate::text("brokers[].version", version, 100)?;
        }
        if let Some(rack) = &self.rack {
            if rack.is_empty() {
                return Err("brokers[].rack must not be empty when present".to_owned());
            }
            validate::text("brokers[].rack", rack, 63)?;
        }
        Ok(())
    }
}

/// Checks a cluster's broker list: bounded, each broker valid, ids unique.
pub fn validate_brokers(brokers: &[BrokerStatus]) -> Check {
    if brokers.len() > BROKERS_PER_CLUSTER_MAX {
        return Err(format!(
            "a cluster may report at most {BROKERS_PER_CLUSTER_MAX} brokers, got {}",
            brokers.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for broker in brokers {
        broker.validate()?;
        if !seen.insert(broker.broker_id) {
            return Err(format!(
                "brokers[].broker_id {} is reported twice",
                broker.broker_id
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(id: i32) -> BrokerStatus {
        BrokerStatus {
            broker_id: id,
            version: Some("0.2.0".to_owned()),
            state: "serving".to_owned(),
            ready: true,
            rack: Some("eu-west-1a".to_owned()),
        }
    }

    #[test]
    fn a_plain_broker_list_is_accepted() {
        assert_eq!(validate_brokers(&[broker(0), broker(1), broker(2)]), Ok(()));
        assert_eq!(validate_brokers(&[]), Ok(()));
    }

    #[test]
    fn duplicate_ids_negative_ids_and_too_many_brokers_are_refused() {
        let twice = validate_brokers(&[broker(1), broker(1)]).unwrap_err();
        assert!(twice.contains("reported twice"), "{twice}");
        assert!(validate_brokers(&[broker(-1)]).is_err());
        let many: Vec<_> = (0..=256).map(broker).collect();
        let error = validate_brokers(&many).unwrap_err();
        assert!(error.contains("at most 256 brokers"), "{error}");
    }

    #[test]
    fn hostile_strings_are_refused() {
        let cases = [
            BrokerStatus {
                state: "Serving".to_owned(),
                ..broker(0)
            },
            BrokerStatus {
                state: "x".repeat(64),
                ..broker(0)
            },
            BrokerStatus {
                version: Some("v".repeat(101)),
                ..broker(0)
            },
            BrokerStatus {
                version: Some("0.2.0\u{0}".to_owned()),
                ..broker(0)
            },
            BrokerStatus {
                rack: Some(String::new()),
                ..broker(0)
            },
            BrokerStatus {
                rack: Some("r".repeat(64)),
                ..broker(0)
            },
        ];
        for case in cases {
            assert!(case.validate().is_err(), "{case:?} accepted");
        }
    }
}
