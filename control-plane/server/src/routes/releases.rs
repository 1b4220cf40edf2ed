use axum::Json;
use axum::extract::State;
use fjord_api::Release;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::openapi::Problems;
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::AppQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_releases))
}

/// Filters of the release catalog.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReleaseFilter {
    #[param(inline)]
    channel: Option<Channel>,
}

/// A release channel.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Channel {
    Stable,
    Rapid,
    Preview,
}

impl Channel {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Rapid => "rapid",
            Self::Preview => "preview",
        }
    }
}

/// The vendor's release catalog, oldest first. The catalog is the same for
/// every organization; the vendor adds releases with
/// `fjord-control-plane add-release`.
#[utoipa::path(
    get,
    path = "/v1/releases",
    tag = "releases",
    security(("api_key" = [])),
    params(ReleaseFilter),
    responses(
        (status = 200, description = "Every release", body = Vec<Release>),
        Problems,
    )
)]
pub(crate) async fn list_releases(
    State(state): State<AppState>,
    _principal: Principal,
    AppQuery(filter): AppQuery<ReleaseFilter>,
) -> Result<Json<Vec<Release>>, AppError> {
    let rows = fjord_store::release::list(&state.pool, filter.channel.map(Channel::as_str)).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| Release {
                version: row.version,
                channel: row.channel,
                deprecated: row.deprecated,
                notes: row.notes,
                published_at: row.published_at,
            })
            .collect(),
    ))
}
