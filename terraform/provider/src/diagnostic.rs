//! API errors as Terraform diagnostics.
//!
//! The API's validation messages name the field first (`broker_count must
//! be 1 to 64, got 0`); the provider's attribute names are the API's field
//! names, so the first word of a problem's `detail` says which attribute
//! the error concerns whenever it is one of the resource's attributes.

use tf_provider::{AttributePath, Diagnostic, Diagnostics};

use crate::error::Error;

/// The attribute a message is about: its first word, if that is one of
/// `attributes`.
pub(crate) fn attribute_of(message: &str, attributes: &[&'static str]) -> Option<&'static str> {
    let first = message
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .next()?;
    attributes.iter().copied().find(|name| *name == first)
}

/// Adds `error` as an error diagnostic: summary `what` plus the API's
/// title, detail the API's message, on the attribute it names.
pub(crate) fn add_error(
    diags: &mut Diagnostics,
    what: &str,
    error: &Error,
    attributes: &[&'static str],
) {
    let (summary, detail) = match error {
        Error::Problem { problem } => (
            format!("{what}: {}", problem.title),
            problem
                .detail
                .clone()
                .unwrap_or_else(|| problem.title.clone()),
        ),
        other => (what.to_owned(), other.to_string()),
    };
    let attribute = match error {
        Error::Problem { problem } => problem
            .detail
            .as_deref()
            .and_then(|detail| attribute_of(detail, attributes)),
        _ => None,
    };
    add(diags, summary, detail, attribute);
}

/// Adds a locally found problem with the configuration (`message` names
/// the attribute first, like the API's).
pub(crate) fn add_invalid(diags: &mut Diagnostics, message: String, attributes: &[&'static str]) {
    let attribute = attribute_of(&message, attributes);
    add(diags, "Invalid value".to_owned(), message, attribute);
}

fn add(diags: &mut Diagnostics, summary: String, detail: String, attribute: Option<&'static str>) {
    let path = match attribute {
        Some(name) => AttributePath::new(name),
        None => AttributePath::root(),
    };
    diags.add_error(plain(summary, detail, path));
}

/// An error on `attribute` (the root if `None`).
pub(crate) fn error(
    diags: &mut Diagnostics,
    summary: impl Into<String>,
    detail: impl Into<String>,
    attribute: Option<&'static str>,
) {
    add(diags, summary.into(), detail.into(), attribute);
}

/// A warning on the whole resource.
pub(crate) fn warning(
    diags: &mut Diagnostics,
    summary: impl Into<String>,
    detail: impl Into<String>,
) {
    diags.add_warning(plain(summary.into(), detail.into(), AttributePath::root()));
}

/// A diagnostic as written: `Diagnostic::new` appends a Rust backtrace when
/// RUST_BACKTRACE is set, which means nothing to a Terraform user.
fn plain(summary: String, detail: String, attribute: AttributePath) -> Diagnostic {
    Diagnostic {
        summary: summary.into(),
        detail: detail.into(),
        attribute,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_word_of_a_validation_message_names_the_attribute() {
        let attributes = ["name", "broker_count", "version"];
        assert_eq!(
            attribute_of("broker_count must be 1 to 64, got 0", &attributes),
            Some("broker_count")
        );
        assert_eq!(
            attribute_of(
                "version \"9.9.9\" is not in the release catalog",
                &attributes
            ),
            Some("version")
        );
        assert_eq!(attribute_of("cluster was changed", &attributes), None);
        assert_eq!(attribute_of("", &attributes), None);
    }
}
