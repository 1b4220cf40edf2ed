//! A Topic's status from what one reconcile found (pure), and writing it by
//! server-side apply as field manager `fjord-operator`.

use std::collections::BTreeMap;

use fjord_crd::{Condition, ConditionStatus, ConditionType, Topic, TopicStatus};
use kube::Api;
use kube::api::{Patch, PatchParams};

use crate::error::Result;
use crate::topic::FIELD_MANAGER;

/// What one reconcile concluded about a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The topic exists as declared.
    Ready,
    /// The operator is waiting for something outside the topic (its
    /// cluster, the brokers) or for a change it just made to show.
    Waiting {
        reason: &'static str,
        message: String,
    },
    /// The topic differs from its declaration in a way the operator cannot
    /// or may not change (a refused declaration, a rejected setting).
    Refused {
        reason: &'static str,
        message: String,
    },
}

impl Verdict {
    /// The `Ready` condition's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Ready => "TopicReady",
            Self::Waiting { reason, .. } | Self::Refused { reason, .. } => reason,
        }
    }

    fn message(&self) -> String {
        match self {
            Self::Ready => "the topic exists on the brokers as declared".to_owned(),
            Self::Waiting { message, .. } | Self::Refused { message, .. } => message.clone(),
        }
    }
}

fn condition(
    previous: &[Condition],
    kind: ConditionType,
    holds: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &str,
) -> Condition {
    let status = if holds {
        ConditionStatus::True
    } else {
        ConditionStatus::False
    };
    // The transition time moves only when the status does.
    let last_transition_time = previous
        .iter()
        .find(|c| c.condition_type == kind.as_str() && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_owned());
    Condition {
        condition_type: kind.as_str().to_owned(),
        status,
        observed_generation: generation,
        last_transition_time,
        reason: reason.to_owned(),
        message,
    }
}

/// The status for `verdict`; `previous` keeps transition times of
/// conditions whose status did not change. `now` is RFC 3339.
pub fn status(
    previous: Option<&TopicStatus>,
    generation: Option<i64>,
    partitions: Option<u32>,
    drift: BTreeMap<String, String>,
    verdict: &Verdict,
    now: &str,
) -> TopicStatus {
    let previous = previous
        .map(|status| status.conditions.as_slice())
        .unwrap_or_default();
    let reason = verdict.reason();
    let ready = condition(
        previous,
        ConditionType::Ready,
        *verdict == Verdict::Ready,
        reason,
        verdict.message(),
        generation,
        now,
    );
    let (progressing, progressing_reason) = match verdict {
        Verdict::Waiting { reason, .. } => (true, *reason),
        Verdict::Ready | Verdict::Refused { .. } => (false, "Reconciled"),
    };
    let progressing = condition(
        previous,
        ConditionType::Progressing,
        progressing,
        progressing_reason,
        verdict.message(),
        generation,
        now,
    );
    let degraded = matches!(verdict, Verdict::Refused { .. });
    let degraded = condition(
        previous,
        ConditionType::Degraded,
        degraded,
        if degraded { reason } else { "AsDeclared" },
        if degraded {
            verdict.message()
        } else {
            "nothing declared is refused".to_owned()
        },
        generation,
        now,
    );
    TopicStatus {
        observed_generation: generation,
        partitions,
        drift,
        conditions: vec![ready, progressing, degraded],
    }
}

/// The `Ready` condition's reason in a status, if any.
pub fn ready_reason(status: Option<&TopicStatus>) -> Option<&str> {
    status?
        .conditions
        .iter()
        .find(|c| c.condition_type == ConditionType::Ready.as_str())
        .map(|c| c.reason.as_str())
}

/// Writes `status` through the status subresource by server-side apply.
pub async fn write(api: &Api<Topic>, name: &str, status: &TopicStatus) -> Result<()> {
    let patch = serde_json::json!({
        "apiVersion": "fjord.dev/v1alpha1",
        "kind": "Topic",
        "status": status,
    });
    api.patch_status(
        name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ready_topic_is_ready_not_progressing_not_degraded() {
        let status = status(
            None,
            Some(2),
            Some(3),
            BTreeMap::new(),
            &Verdict::Ready,
            "t1",
        );
        let summary: Vec<(&str, ConditionStatus)> = status
            .conditions
            .iter()
            .map(|c| (c.condition_type.as_str(), c.status))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("Ready", ConditionStatus::True),
                ("Progressing", ConditionStatus::False),
                ("Degraded", ConditionStatus::False)
            ]
        );
        assert_eq!(status.observed_generation, Some(2));
        assert!(
            status
                .conditions
                .iter()
                .all(|c| c.observed_generation == Some(2))
        );
    }

    #[test]
    fn a_refusal_degrades_and_keeps_transition_times_while_unchanged() {
        let refused = Verdict::Refused {
            reason: "PartitionDecreaseRefused",
            message: "no".into(),
        };
        let first = status(
            None,
            Some(1),
            Some(3),
            BTreeMap::new(),
            &Verdict::Ready,
            "t1",
        );
        let second = status(
            Some(&first),
            Some(2),
            Some(3),
            BTreeMap::new(),
            &refused,
            "t2",
        );
        let ready = &second.conditions[0];
        assert_eq!(
            (ready.status, ready.reason.as_str()),
            (ConditionStatus::False, "PartitionDecreaseRefused")
        );
        assert_eq!(ready.last_transition_time, "t2");
        let progressing = &second.conditions[1];
        assert_eq!(progressing.last_transition_time, "t1", "still False");
        let degraded = &second.conditions[2];
        assert_eq!(degraded.status, ConditionStatus::True);
        assert_eq!(
            ready_reason(Some(&second)),
            Some("PartitionDecreaseRefused")
        );
    }
}
