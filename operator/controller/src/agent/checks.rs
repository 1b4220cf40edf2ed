//! The named checks an intent can fail, as its Event and its report to the
//! control plane name them (docs/operator.md, "Verification").

use std::cmp::Ordering;

use crate::intent_follower::FollowError;

/// A check an intent failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Check {
    Signature,
    ContentHash,
    Replay,
    ForeignEnvironment,
    Format,
    Downgrade,
    VersionNotAllowed,
    Unrepresentable,
}

impl Check {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::ContentHash => "content-hash",
            Self::Replay => "replay",
            Self::ForeignEnvironment => "foreign-environment",
            Self::Format => "format",
            Self::Downgrade => "downgrade",
            Self::VersionNotAllowed => "version-not-allowed",
            Self::Unrepresentable => "unrepresentable",
        }
    }
}

/// A refused intent: which check, and what a person needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) check: Check,
    pub(crate) message: String,
}

impl Refusal {
    pub(crate) fn new(check: Check, message: String) -> Self {
        Self { check, message }
    }

    /// The check a response failed in the follower. `None` for a delta that
    /// did not apply: not a refusal, the full document is asked for next.
    pub(crate) fn of_follow_error(error: &FollowError) -> Option<Self> {
        let check = match error {
            FollowError::WrongKey { .. } | FollowError::BadSignature | FollowError::Key(_) => {
                Check::Signature
            }
            FollowError::BadHash => Check::ContentHash,
            FollowError::NotNewer { .. } => Check::Replay,
            FollowError::WrongEnvironment(_) => Check::ForeignEnvironment,
            FollowError::Malformed(_) | FollowError::UnsupportedFormat(_) => Check::Format,
            FollowError::DeltaDoesNotApply(_) => return None,
        };
        Some(Self::new(check, error.to_string()))
    }
}

/// Compares dotted numeric versions (`0.10.2` > `0.9.7`); a pre-release
/// (`1.0.0-rc.1`) sorts before its release. `None` when either does not
/// parse: such versions are not compared (the allowed list still applies).
pub(crate) fn compare_versions(left: &str, right: &str) -> Option<Ordering> {
    let (left_core, left_pre) = split_version(left)?;
    let (right_core, right_pre) = split_version(right)?;
    Some(
        left_core
            .cmp(&right_core)
            .then_with(|| match (left_pre, right_pre) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Greater,
                (Some(_), None) => Ordering::Less,
                (Some(left), Some(right)) => left.cmp(right),
            }),
    )
}

fn split_version(version: &str) -> Option<(Vec<u64>, Option<&str>)> {
    let version = version.trim().trim_start_matches('v');
    let (core, pre) = match version.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (version, None),
    };
    let parts = core
        .split('.')
        .map(|part| part.parse::<u64>().ok())
        .collect::<Option<Vec<_>>>()?;
    (!parts.is_empty()).then_some((parts, pre))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically_with_pre_releases_first() {
        assert_eq!(compare_versions("0.10.0", "0.9.9"), Some(Ordering::Greater));
        assert_eq!(compare_versions("0.2.0", "0.2.0"), Some(Ordering::Equal));
        assert_eq!(
            compare_versions("1.0.0-rc.1", "1.0.0"),
            Some(Ordering::Less)
        );
        assert_eq!(compare_versions("v1.2.0", "1.1.9"), Some(Ordering::Greater));
        assert_eq!(compare_versions("latest", "1.0.0"), None);
    }

    #[test]
    fn every_follow_error_but_a_stale_delta_names_a_check() {
        assert_eq!(
            Refusal::of_follow_error(&FollowError::BadSignature).map(|r| r.check),
            Some(Check::Signature)
        );
        assert_eq!(
            Refusal::of_follow_error(&FollowError::NotNewer {
                received: 1,
                held: 2
            })
            .map(|r| r.check.as_str()),
            Some("replay")
        );
        assert!(Refusal::of_follow_error(&FollowError::DeltaDoesNotApply("x".into())).is_none());
    }
}
