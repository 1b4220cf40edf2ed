//! What a create, update or destroy works with, and the requests they
//! share: a keyed create, an `If-Match` update and a conditional delete,
//! each reported on the resource's attributes when it fails.

use std::marker::PhantomData;

use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tf_provider::Diagnostics;
use tf_provider::value::Value;

use super::RestResource;
use crate::client::{Answer, Client, Headers};
use crate::diagnostic::add_error;
use crate::error::Error;
use crate::plan::known;
use crate::resources::Private;
use crate::resources::crud::{checked, stored};

/// One apply step of an `R`: the API client, where its problems go, and
/// the private state kept beside the resource (the `ETag` last read, the
/// planned `Idempotency-Key`).
#[derive(Debug)]
pub(crate) struct Apply<'a, R> {
    pub(crate) client: &'a Client,
    pub(crate) diags: &'a mut Diagnostics,
    pub(crate) private: Option<Private>,
    kind: PhantomData<fn() -> R>,
}

impl<'a, R: RestResource> Apply<'a, R> {
    pub(super) fn new(
        client: &'a Client,
        diags: &'a mut Diagnostics,
        private: Option<Private>,
    ) -> Self {
        Self {
            client,
            diags,
            private,
            kind: PhantomData,
        }
    }

    /// `result`'s value, or `None` with its message as an "Invalid value"
    /// diagnostic on the attribute it names.
    pub(crate) fn checked<T>(&mut self, result: Result<T, String>) -> Option<T> {
        checked(self.diags, result, R::KIND.attributes)
    }

    /// Reports `error` as `what` (on the attribute the API's message names).
    pub(crate) fn error(&mut self, what: &str, error: &Error) {
        add_error(self.diags, what, error, R::KIND.attributes);
    }

    /// POSTs a create with the planned `Idempotency-Key`, so a retried
    /// apply gets the first answer instead of a second object.
    pub(crate) async fn create<B, T>(&mut self, body: &B) -> Option<Answer<T>>
    where
        B: Serialize + Sync,
        T: DeserializeOwned,
    {
        let what = format!("cannot create the {}", R::KIND.noun);
        self.create_as(&what, body).await
    }

    /// [`Apply::create`], reported as `what` when it fails.
    pub(crate) async fn create_as<B, T>(&mut self, what: &str, body: &B) -> Option<Answer<T>>
    where
        B: Serialize + Sync,
        T: DeserializeOwned,
    {
        let key = self
            .private
            .as_ref()
            .and_then(|p| p.idempotency_key.clone());
        let headers = Headers {
            idempotency_key: key.as_deref(),
            if_match: None,
        };
        self.send(Method::POST, R::KIND.path, body, headers, what)
            .await
    }

    /// PATCHes the object `id`, `If-Match` the `ETag` last read, so a change
    /// made since the plan's refresh fails (412) instead of being
    /// overwritten.
    pub(crate) async fn update<B, T>(&mut self, id: &Value<String>, body: &B) -> Option<Answer<T>>
    where
        B: Serialize + Sync,
        T: DeserializeOwned,
    {
        let path = format!("{}/{}", R::KIND.path, known(id)?);
        let etag = self.private.as_ref().and_then(|p| p.etag.clone());
        let headers = Headers {
            idempotency_key: None,
            if_match: etag.as_deref(),
        };
        let what = format!("cannot update the {}", R::KIND.noun);
        self.send(Method::PATCH, &path, body, headers, &what).await
    }

    /// DELETEs the object `id`, `If-Match` the `ETag` last read (gone
    /// counts as done).
    pub(crate) async fn delete(mut self, id: &Value<String>) -> Option<()> {
        let path = format!("{}/{}", R::KIND.path, known(id)?);
        let etag = self.private.take().and_then(|p| p.etag);
        match self.client.delete(&path, etag.as_deref()).await {
            Ok(()) => Some(()),
            Err(failure) => {
                self.error(&format!("cannot delete the {}", R::KIND.noun), &failure);
                None
            }
        }
    }

    /// The state made from `answer`, with its `ETag` kept in the private
    /// state.
    pub(crate) fn stored<T>(
        self,
        answer: Answer<T>,
        to_state: impl FnOnce(T) -> R,
    ) -> (R, Option<Private>) {
        stored(self.private, answer, to_state)
    }

    async fn send<B, T>(
        &mut self,
        method: Method,
        path: &str,
        body: &B,
        headers: Headers<'_>,
        what: &str,
    ) -> Option<Answer<T>>
    where
        B: Serialize + Sync,
        T: DeserializeOwned,
    {
        match self.client.send(method, path, Some(body), headers).await {
            Ok(answer) => Some(answer),
            Err(failure) => {
                self.error(what, &failure);
                None
            }
        }
    }
}
