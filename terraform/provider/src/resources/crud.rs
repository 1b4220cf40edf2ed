//! The request sequences the resources share: a local check turned into a
//! diagnostic, a read that treats 404 as gone, a keyed create, an
//! `If-Match` update, a conditional delete and an import by id. Each
//! resource says only its paths, bodies and what its errors are called.

use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_provider::value::Value;
use tf_provider::{Diagnostics, Resource};

use super::{Meta, Private};
use crate::client::{Answer, Client, Headers};
use crate::diagnostic::{add_error, add_invalid, error};

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

/// POSTs a create with the planned `Idempotency-Key`.
pub(crate) async fn create<B: Serialize + Sync, T: DeserializeOwned>(
    client: &Client,
    diags: &mut Diagnostics,
    path: &str,
    body: &B,
    private: &Option<Private>,
    what: &str,
    attributes: &[&'static str],
) -> Option<Answer<T>> {
    let key = private.as_ref().and_then(|p| p.idempotency_key.clone());
    let headers = Headers {
        idempotency_key: key.as_deref(),
        if_match: None,
    };
    let sent = client
        .send::<_, T>(Method::POST, path, Some(body), headers)
        .await;
    reported(diags, sent, what, attributes)
}

/// PATCHes an update, `If-Match` the `ETag` last read.
pub(crate) async fn update<B: Serialize + Sync, T: DeserializeOwned>(
    client: &Client,
    diags: &mut Diagnostics,
    path: &str,
    body: &B,
    private: &Option<Private>,
    what: &str,
    attributes: &[&'static str],
) -> Option<Answer<T>> {
    let etag = private.as_ref().and_then(|p| p.etag.clone());
    let headers = Headers {
        idempotency_key: None,
        if_match: etag.as_deref(),
    };
    let sent = client
        .send::<_, T>(Method::PATCH, path, Some(body), headers)
        .await;
    reported(diags, sent, what, attributes)
}

/// DELETEs `path`, `If-Match` the `ETag` last read (gone counts as done).
pub(crate) async fn delete(
    client: &Client,
    diags: &mut Diagnostics,
    path: &str,
    private: Option<Private>,
    what: &str,
    attributes: &[&'static str],
) -> Option<()> {
    let etag = private.and_then(|p| p.etag);
    let deleted = client.delete(path, etag.as_deref()).await;
    reported(diags, deleted, what, attributes)
}

/// Imports by reading `state` (which holds only the id); `missing` is
/// the error when there is nothing to read.
pub(crate) async fn import<'a, R>(
    resource: &R,
    diags: &mut Diagnostics,
    state: R::State<'a>,
    missing: &str,
) -> Option<(R::State<'a>, Option<Private>)>
where
    R: Resource<PrivateState<'a> = Option<Private>, ProviderMetaState<'a> = Meta> + Sync,
{
    let found = resource.read(diags, state, None, Value::Null).await;
    if found.is_none() && diags.errors.is_empty() {
        error(diags, missing, "", None);
    }
    found
}

fn reported<T>(
    diags: &mut Diagnostics,
    result: crate::error::Result<T>,
    what: &str,
    attributes: &[&'static str],
) -> Option<T> {
    match result {
        Ok(value) => Some(value),
        Err(failure) => {
            add_error(diags, what, &failure, attributes);
            None
        }
    }
}
