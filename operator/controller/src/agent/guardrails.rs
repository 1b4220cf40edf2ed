//! The customer's guardrails (annotations on the agent's Namespace) and the
//! pure decision over a verified intent: apply it, let it wait, or refuse it.

use std::collections::BTreeMap;

use fjord_api::IntentDocument;
use jiff::Timestamp;

use super::checks::{Check, Refusal, compare_versions};
use super::window::Windows;

pub(crate) const PAUSED: &str = "fjord.dev/agent-paused";
pub(crate) const WINDOWS: &str = "fjord.dev/agent-maintenance-windows";
pub(crate) const TIME_ZONE: &str = "fjord.dev/agent-time-zone";
pub(crate) const ALLOWED_VERSIONS: &str = "fjord.dev/agent-allowed-versions";
pub(crate) const APPROVAL: &str = "fjord.dev/agent-approval";
pub(crate) const APPROVED_GENERATION: &str = "fjord.dev/agent-approved-generation";

/// Why an intent waits (the `check` of its report).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WaitReason {
    Paused,
    MaintenanceWindow,
    Approval,
    GuardrailsInvalid,
}

impl WaitReason {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::MaintenanceWindow => "maintenance-window",
            Self::Approval => "approval",
            Self::GuardrailsInvalid => "guardrails-invalid",
        }
    }
}

/// What to do with a verified intent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Apply,
    Wait { reason: WaitReason, message: String },
    Refuse(Refusal),
}

/// The parsed guardrails.
#[derive(Debug, Clone, Default)]
pub(crate) struct Guardrails {
    paused: bool,
    windows: Option<Windows>,
    allowed_versions: Option<Vec<String>>,
    approval_required: bool,
    approved_generation: Option<i64>,
}

impl Guardrails {
    /// From the Namespace's annotations; any other annotation is ignored.
    pub(crate) fn from_annotations(annotations: &BTreeMap<String, String>) -> Result<Self, String> {
        let get = |key: &str| annotations.get(key).map(|value| value.trim());
        let paused = match get(PAUSED) {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(format!("{PAUSED} is {other:?}, not true or false")),
        };
        let windows = match get(WINDOWS) {
            None => None,
            Some(text) => {
                Some(Windows::parse(text, get(TIME_ZONE)).map_err(|e| format!("{WINDOWS}: {e}"))?)
            }
        };
        let allowed_versions = match get(ALLOWED_VERSIONS) {
            None => None,
            Some(text) => {
                let list: Vec<_> = text
                    .split(',')
                    .map(str::trim)
                    .filter(|version| !version.is_empty())
                    .map(str::to_owned)
                    .collect();
                if list
                    .iter()
                    .any(|pattern| pattern.strip_suffix('*').unwrap_or(pattern).contains('*'))
                {
                    return Err(format!("{ALLOWED_VERSIONS}: `*` may only end a version"));
                }
                Some(list)
            }
        };
        let approval_required = match get(APPROVAL) {
            None | Some("none") => false,
            Some("required") => true,
            Some(other) => return Err(format!("{APPROVAL} is {other:?}, not required or none")),
        };
        let approved_generation = match get(APPROVED_GENERATION) {
            None => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .map_err(|_| format!("{APPROVED_GENERATION} is {text:?}, not a generation"))?,
            ),
        };
        Ok(Self {
            paused,
            windows,
            allowed_versions,
            approval_required,
            approved_generation,
        })
    }

    /// Refusals first (they never pass by waiting), then waits, in the
    /// order a person would lift them: pause, window, approval.
    pub(crate) fn decide(
        &self,
        now: Timestamp,
        applied: Option<&IntentDocument>,
        next: &IntentDocument,
    ) -> Verdict {
        if let Some(refusal) = self.refusal(applied, next) {
            return Verdict::Refuse(refusal);
        }
        if self.paused {
            return Verdict::Wait {
                reason: WaitReason::Paused,
                message: format!("vendor changes are paused ({PAUSED})"),
            };
        }
        if let Some(windows) = &self.windows
            && !windows.is_open(now)
        {
            return Verdict::Wait {
                reason: WaitReason::MaintenanceWindow,
                message: format!("outside the maintenance windows {}", windows.describe()),
            };
        }
        if self.approval_required && self.approved_generation != Some(next.generation) {
            return Verdict::Wait {
                reason: WaitReason::Approval,
                message: format!(
                    "generation {} waits for approval: kubectl annotate namespace <agent namespace> --overwrite {APPROVED_GENERATION}={}",
                    next.generation, next.generation
                ),
            };
        }
        Verdict::Apply
    }

    fn refusal(&self, applied: Option<&IntentDocument>, next: &IntentDocument) -> Option<Refusal> {
        for cluster in &next.clusters {
            if let Some(allowed) = &self.allowed_versions
                && !allowed
                    .iter()
                    .any(|pattern| version_matches(pattern, &cluster.version))
            {
                return Some(Refusal::new(
                    Check::VersionNotAllowed,
                    format!(
                        "cluster {} version {} is not in {ALLOWED_VERSIONS} ({})",
                        cluster.name,
                        cluster.version,
                        allowed.join(", ")
                    ),
                ));
            }
            let running = applied.and_then(|doc| {
                doc.clusters
                    .iter()
                    .find(|c| c.cluster_id == cluster.cluster_id)
            });
            if let Some(running) = running
                && compare_versions(&cluster.version, &running.version)
                    == Some(std::cmp::Ordering::Less)
            {
                return Some(Refusal::new(
                    Check::Downgrade,
                    format!(
                        "cluster {} would go from version {} down to {}",
                        cluster.name, running.version, cluster.version
                    ),
                ));
            }
        }
        None
    }
}

/// `0.2.1` matches `0.2.1` and `0.2.*` (and `*`).
fn version_matches(pattern: &str, version: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => version.starts_with(prefix),
        None => pattern == version,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use fjord_api::{ConfigMap, IntentCluster};
    use uuid::Uuid;

    use super::*;

    fn document(generation: i64, version: &str) -> IntentDocument {
        IntentDocument {
            format: fjord_api::INTENT_FORMAT.to_owned(),
            organization_id: Uuid::nil(),
            environment_id: Uuid::nil(),
            generation,
            content_hash: String::new(),
            clusters: vec![IntentCluster {
                cluster_id: Uuid::from_u128(1),
                name: "orders".to_owned(),
                version: version.to_owned(),
                broker_count: 3,
                storage_gib: 10,
                config: ConfigMap::new(),
                topics: Vec::new(),
            }],
        }
    }

    fn guardrails(pairs: &[(&str, &str)]) -> Result<Guardrails, String> {
        let annotations = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Guardrails::from_annotations(&annotations)
    }

    const NOW: &str = "2026-12-05T01:30:00Z";

    fn decide(pairs: &[(&str, &str)], applied: &str, next: &str) -> Verdict {
        let now: Timestamp = NOW.parse().unwrap();
        guardrails(pairs)
            .unwrap()
            .decide(now, Some(&document(1, applied)), &document(2, next))
    }

    #[test]
    fn no_guardrails_apply_everything_but_a_downgrade() {
        assert_eq!(decide(&[], "0.1.0", "0.2.0"), Verdict::Apply);
        let Verdict::Refuse(refusal) = decide(&[], "0.2.0", "0.1.9") else {
            panic!("a downgrade is refused");
        };
        assert_eq!(refusal.check, Check::Downgrade);
        assert!(
            refusal.message.contains("0.2.0 down to 0.1.9"),
            "{}",
            refusal.message
        );
    }

    #[test]
    fn versions_outside_the_allowed_list_are_refused_even_while_paused() {
        let rails = [(ALLOWED_VERSIONS, "0.1.*, 0.3.0"), (PAUSED, "true")];
        let Verdict::Refuse(refusal) = decide(&rails, "0.1.0", "0.2.0") else {
            panic!("refused");
        };
        assert_eq!(refusal.check, Check::VersionNotAllowed);
        assert!(refusal.message.contains("0.2.0"));
        assert!(matches!(
            decide(&rails, "0.1.0", "0.1.5"),
            Verdict::Wait {
                reason: WaitReason::Paused,
                ..
            }
        ));
        assert_eq!(decide(&rails[..1], "0.1.0", "0.3.0"), Verdict::Apply);
    }

    #[test]
    fn windows_and_approval_make_intents_wait_until_lifted() {
        let closed = [(WINDOWS, "sun 02:00-06:00"), (TIME_ZONE, "Europe/Oslo")];
        assert!(matches!(
            decide(&closed, "0.1.0", "0.1.0"),
            Verdict::Wait {
                reason: WaitReason::MaintenanceWindow,
                ..
            }
        ));
        let open = [(WINDOWS, "sat 02:00-06:00"), (TIME_ZONE, "Europe/Oslo")];
        assert_eq!(decide(&open, "0.1.0", "0.1.0"), Verdict::Apply);

        let waiting = [(APPROVAL, "required"), (APPROVED_GENERATION, "1")];
        let Verdict::Wait { reason, message } = decide(&waiting, "0.1.0", "0.1.0") else {
            panic!("waits");
        };
        assert_eq!(reason, WaitReason::Approval);
        assert!(message.contains("agent-approved-generation=2"), "{message}");
        let approved = [(APPROVAL, "required"), (APPROVED_GENERATION, "2")];
        assert_eq!(decide(&approved, "0.1.0", "0.1.0"), Verdict::Apply);
    }

    #[test]
    fn unreadable_guardrails_are_errors_naming_the_annotation() {
        for pairs in [
            [(PAUSED, "yes")],
            [(APPROVAL, "maybe")],
            [(APPROVED_GENERATION, "seven")],
            [(WINDOWS, "caturday 01:00-02:00")],
            [(ALLOWED_VERSIONS, "0.*.1")],
        ] {
            let error = guardrails(&pairs).unwrap_err();
            assert!(error.contains(pairs[0].0), "{error}");
        }
    }
}
