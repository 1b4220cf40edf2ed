//! The `timeouts` attribute: how long creates, updates and deletes wait
//! for the object to become stable, e.g. `timeouts = { create = "30m" }`.

use std::time::Duration;

use std::collections::BTreeMap;

use tf_provider::schema::{Attribute, AttributeConstraint, AttributeType, Description};
use tf_provider::value::Value;

use crate::error::{Error, Result};

/// What every resource waits when `timeouts` does not say.
pub(crate) const DEFAULT: Duration = Duration::from_secs(30 * 60);

/// `timeouts = { create = "30m", update = "1h" }`: a map of strings (the
/// crate's nested attributes do not reach Terraform correctly), whose keys
/// are checked here.
pub(crate) type Timeouts = BTreeMap<String, String>;

/// The keys `timeouts` may hold.
const KEYS: [&str; 2] = ["create", "update"];

/// Which wait a timeout is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Phase {
    Create,
    Update,
}

/// The schema of `timeouts`.
pub(crate) fn attribute() -> Attribute {
    Attribute {
        attr_type: AttributeType::Map(Box::new(AttributeType::String)),
        description: Description::markdown(
            "How long creates and updates wait for the object to settle: `{ create = \"45m\", update = \"2h\" }`; units `s`, `m`, `h`; default 30m each.",
        ),
        constraint: AttributeConstraint::Optional,
        ..Default::default()
    }
}

/// The timeout of `phase` in a resource's `timeouts` attribute; an error
/// names the attribute (`timeouts...`) for the diagnostic.
pub(crate) fn of(timeouts: &Value<Timeouts>, phase: Phase) -> Result<Duration> {
    let Value::Value(timeouts) = timeouts else {
        return Ok(DEFAULT);
    };
    if let Some(key) = timeouts.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(Error::Duration(format!(
            "timeouts may hold only create and update, got {key:?}"
        )));
    }
    let name = match phase {
        Phase::Create => "create",
        Phase::Update => "update",
    };
    match timeouts.get(name) {
        Some(text) => parse(text).ok_or_else(|| {
            Error::Duration(format!(
                "timeouts.{name} must be a number followed by s, m or h, got {text:?}"
            ))
        }),
        None => Ok(DEFAULT),
    }
}

/// `90s`, `20m`, `1h`.
pub fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: u64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let seconds = match unit {
        's' => number,
        'm' => number.checked_mul(60)?,
        'h' => number.checked_mul(3600)?,
        _ => return None,
    };
    (seconds > 0).then(|| Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_seconds_minutes_or_hours() {
        assert_eq!(parse("45s"), Some(Duration::from_secs(45)));
        assert_eq!(parse("20m"), Some(Duration::from_secs(1200)));
        assert_eq!(parse("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse("0s"), None);
        assert_eq!(parse("10"), None);
        assert_eq!(parse("m"), None);
        assert_eq!(parse("5d"), None);
    }

    #[test]
    fn an_absent_timeout_is_the_default() {
        assert_eq!(of(&Value::Null, Phase::Create).ok(), Some(DEFAULT));
        let set = Value::Value(Timeouts::from([("create".to_owned(), "2m".to_owned())]));
        assert_eq!(of(&set, Phase::Create).ok(), Some(Duration::from_secs(120)));
        assert_eq!(of(&set, Phase::Update).ok(), Some(DEFAULT));
        let typo = Value::Value(Timeouts::from([("craete".to_owned(), "2m".to_owned())]));
        assert!(of(&typo, Phase::Create).is_err());
    }
}
