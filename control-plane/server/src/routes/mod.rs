//! The `/v1` REST API, one module per resource.
//!
//! Every handler that takes a [`crate::auth::Principal`] reads and writes
//! only the principal's organization; ids of other organizations' objects
//! answer 404, exactly like ids that do not exist.

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;

pub(crate) mod agent;
pub(crate) mod api_keys;
pub(crate) mod audit;
pub(crate) mod cloud_accounts;
pub(crate) mod cluster_history;
pub(crate) mod clusters;
pub(crate) mod environments;
pub(crate) mod info;
pub(crate) mod intents;
mod openapi;
pub(crate) mod operations;
pub(crate) mod organization;
pub(crate) mod provisioning;
pub(crate) mod releases;
pub(crate) mod rollouts;
pub(crate) mod session;
pub(crate) mod topics;
pub(crate) mod users;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(info::get_info))
        .merge(organization::router())
        .merge(api_keys::router())
        .merge(cloud_accounts::router())
        .merge(environments::router())
        .merge(provisioning::router())
        .merge(clusters::router())
        .merge(cluster_history::router())
        .merge(topics::router())
        .merge(releases::router())
        .merge(audit::router())
        .merge(intents::router())
        .merge(rollouts::router())
        .merge(operations::router())
        .merge(agent::router())
        .merge(session::router())
        .merge(users::router())
}
