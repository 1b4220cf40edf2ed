//! The steps the resources share outside an apply: a local check turned
//! into a diagnostic, a read that treats 404 as gone, and the state kept
//! from an answer. The requests of an apply are in [`super::rest::Apply`].

use serde::de::DeserializeOwned;
use tf_provider::Diagnostics;

use super::Private;
use crate::client::{Answer, Client};
use crate::diagnostic::{add_error, add_invalid};

/// `result`'s value, or `None` with its message as an "Invalid value"
/// diagnostic.
pub(crate) fn checked<T>(
    diags: &mut Diagnostics,
    result: Result<T, String>,
    attributes: &[&'static str],
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(message) => {
            add_invalid(diags, message, attributes);
            None
        }
    }
}

/// The state made from `answer`, with its `ETag` kept in `private`.
pub(crate) fn stored<T, S>(
    private: Option<Private>,
    answer: Answer<T>,
    to_state: impl FnOnce(T) -> S,
) -> (S, Option<Private>) {
    (
        to_state(answer.body),
        Some(Private::with_etag(private, answer.etag)),
    )
}

/// Reads `path`: `None` if it is gone (Terraform plans it again), if
/// `to_state` says so, or on an error (reported as `what`).
pub(crate) async fn read<T: DeserializeOwned, S>(
    client: &Client,
    diags: &mut Diagnostics,
    path: &str,
    what: &str,
    attributes: &[&'static str],
    private: Option<Private>,
    to_state: impl FnOnce(T) -> Option<S>,
) -> Option<(S, Option<Private>)> {
    match client.find::<T>(path).await {
        Ok(Some(answer)) => {
            let state = to_state(answer.body)?;
            Some((state, Some(Private::with_etag(private, answer.etag))))
        }
        Ok(None) => None,
        Err(failure) => {
            add_error(diags, what, &failure, attributes);
            None
        }
    }
}
