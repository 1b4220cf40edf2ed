use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use fjord_api::{AuditRecord, Page, validate};
use fjord_store::audit::{AuditFilter, AuditRow};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::AppQuery;
use crate::pagination::PageQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit_records))
}

/// Filters of the audit log; all optional, combined with "and".
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// e.g. `api-key:<id>`.
    actor: Option<String>,
    /// e.g. `cluster.create`.
    action: Option<String>,
    /// e.g. `cluster`.
    object_type: Option<String>,
    object_id: Option<Uuid>,
    /// Only records at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
}

fn to_api(row: AuditRow) -> AuditRecord {
    AuditRecord {
        audit_record_id: row.audit_record_id,
        actor: row.actor,
        action: row.action,
        object_type: row.object_type,
        object_id: row.object_id,
        source: row.source,
        detail: row.detail.0,
        created_at: row.created_at,
    }
}

/// The organization's audit log, oldest first.
#[utoipa::path(
    get,
    path = "/v1/audit-records",
    tag = "audit",
    security(("api_key" = [])),
    params(PageQuery, AuditQuery),
    responses(
        (status = 200, description = "A page of audit records", body = Page<AuditRecord>),
        Problems,
    )
)]
pub(crate) async fn list_audit_records(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
    AppQuery(filter): AppQuery<AuditQuery>,
) -> Result<Json<Page<AuditRecord>>, AppError> {
    for (field, value) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("object_type", &filter.object_type),
    ] {
        if let Some(value) = value {
            validate::text(field, value, 200).map_err(AppError::BadRequest)?;
        }
    }
    let filter = AuditFilter {
        actor: filter.actor,
        action: filter.action,
        object_type: filter.object_type,
        object_id: filter.object_id,
        since: filter.since,
    };
    let rows = fjord_store::audit::list(
        &state.pool,
        principal.organization_id,
        &filter,
        query.request()?,
    )
    .await?;
    Ok(Json(query.page(rows, |row| row.audit_record_id, to_api)?))
}
