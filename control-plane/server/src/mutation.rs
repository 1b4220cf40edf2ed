//! The shape of every change: one transaction holding the change, its audit
//! record and (with an `Idempotency-Key`) its stored response; committed
//! together or not at all.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sqlx::{PgConnection, Postgres, Transaction};
use uuid::Uuid;

use crate::auth::Principal;
use crate::error::AppError;
use crate::state::AppState;

/// An open change on behalf of an admin API key.
#[derive(Debug)]
pub(crate) struct Mutation {
    transaction: Transaction<'static, Postgres>,
    principal: Principal,
}

impl Mutation {
    /// Opens a transaction; 403 unless the key is an admin key.
    pub(crate) async fn begin(state: &AppState, principal: &Principal) -> Result<Self, AppError> {
        principal.require_admin()?;
        Ok(Self {
            transaction: state.pool.begin().await?,
            principal: principal.clone(),
        })
    }

    pub(crate) fn organization_id(&self) -> Uuid {
        self.principal.organization_id
    }

    pub(crate) fn db(&mut self) -> &mut PgConnection {
        &mut self.transaction
    }

    /// Records who did what to which object, in this transaction.
    pub(crate) async fn audit(
        &mut self,
        action: &str,
        object_type: &str,
        object_id: Uuid,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let actor = self.principal.actor();
        fjord_store::audit::insert(
            &mut *self.transaction,
            fjord_store::audit::NewAuditRecord {
                organization_id: self.principal.organization_id,
                actor: &actor,
                action,
                object_type,
                object_id,
                source: self.principal.source.as_deref(),
                detail,
            },
        )
        .await?;
        Ok(())
    }

    /// Commits and answers with the changed object (see [`Self::finish`])
    /// and its `ETag`.
    pub(crate) async fn finish_with<R: Revised, T: Serialize>(
        self,
        status: StatusCode,
        row: R,
        to_api: impl FnOnce(R) -> T,
    ) -> Result<Response, AppError> {
        let revision = row.revision();
        self.finish(status, Some(revision), Some(&to_api(row)))
            .await
    }

    /// Stores the response for the `Idempotency-Key` if any, commits, and
    /// returns the response (`body` `None` means an empty body).
    pub(crate) async fn finish<T: Serialize>(
        mut self,
        status: StatusCode,
        revision: Option<i64>,
        body: Option<&T>,
    ) -> Result<Response, AppError> {
        let bytes = match body {
            Some(body) => serde_json::to_vec(body).map_err(anyhow::Error::new)?,
            None => Vec::new(),
        };
        let etag = revision.map(etag);
        if let Some(request) = &self.principal.idempotency {
            let record = fjord_store::idempotency::IdempotencyRow {
                request_hash: request.request_hash.clone(),
                status: i16::try_from(status.as_u16()).map_err(anyhow::Error::new)?,
                etag: etag.clone(),
                body: bytes.clone(),
            };
            fjord_store::idempotency::insert(
                &mut *self.transaction,
                request.organization_id,
                &request.key,
                &record,
            )
            .await?;
        }
        self.transaction.commit().await?;
        let mut response = if bytes.is_empty() {
            status.into_response()
        } else {
            (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
        };
        if let Some(etag) = etag.and_then(|etag| HeaderValue::from_str(&etag).ok()) {
            response.headers_mut().insert(header::ETAG, etag);
        }
        Ok(response)
    }
}

/// A stored object with a revision (its `ETag`).
pub(crate) trait Revised {
    fn revision(&self) -> i64;
}

macro_rules! revised {
    ($($row:ty),*) => {$(
        impl Revised for $row {
            fn revision(&self) -> i64 {
                self.revision
            }
        }
    )*};
}

revised!(
    fjord_store::cloud_account::CloudAccountRow,
    fjord_store::cluster::ClusterRow,
    fjord_store::environment::EnvironmentRow,
    fjord_store::topic::TopicRow
);

/// The object a change applies to, as the caller read (and locked) it:
/// 404 when it does not exist, 412 when `If-Match` names another revision.
pub(crate) fn current<R: Revised>(
    row: Option<R>,
    what: &str,
    id: Uuid,
    headers: &axum::http::HeaderMap,
) -> Result<R, AppError> {
    let row = row.ok_or_else(|| AppError::not_found(what, id))?;
    check_if_match(headers, row.revision())?;
    Ok(row)
}

/// The `ETag` of a revision: a strong validator, `"<revision>"`.
pub(crate) fn etag(revision: i64) -> String {
    format!("\"{revision}\"")
}

/// Checks an `If-Match` header against the current revision: absent
/// matches anything, `*` matches an existing object, otherwise one of the
/// listed tags must be the current one (412 if not).
pub(crate) fn check_if_match(
    headers: &axum::http::HeaderMap,
    revision: i64,
) -> Result<(), AppError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(());
    };
    let value = value
        .to_str()
        .map_err(|_| AppError::BadRequest("If-Match is not text".into()))?;
    if value.trim().is_empty() {
        return Ok(());
    }
    let current = etag(revision);
    let matches = value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag == current);
    if matches {
        Ok(())
    } else {
        Err(AppError::PreconditionFailed(format!(
            "If-Match {value} does not match the current ETag {current}; fetch the object again"
        )))
    }
}

/// A JSON response with an `ETag` for reads.
pub(crate) fn with_etag<T: Serialize>(revision: i64, body: T) -> Response {
    let mut response = axum::Json(body).into_response();
    if let Ok(value) = HeaderValue::from_str(&etag(revision)) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}
