use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use fjord_api::{Page, Topic, TopicCreate, TopicUpdate};
use fjord_store::topic::{NewTopic, TopicRow};
use serde::Deserialize;
use serde_json::json;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::openapi::{IdempotencyKey, IfMatch, Problems};
use crate::auth::Principal;
use crate::error::AppError;
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::intent;
use crate::mutation::{self, Mutation, with_etag};
use crate::pagination::PageQuery;
use crate::state::AppState;

pub(super) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_topics, create_topic))
        .routes(routes!(get_topic, update_topic, delete_topic))
}

fn to_api(row: TopicRow) -> Topic {
    Topic {
        topic_id: row.topic_id,
        cluster_id: row.cluster_id,
        name: row.name,
        partitions: row.partitions,
        replication_factor: row.replication_factor,
        config: row.config.0,
        revision: row.revision,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

/// Creates a topic in a cluster.
#[utoipa::path(
    post,
    path = "/v1/topics",
    tag = "inventory",
    security(("api_key" = [])),
    params(IdempotencyKey),
    request_body = TopicCreate,
    responses(
        (status = 201, description = "The topic", body = Topic, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn create_topic(
    State(state): State<AppState>,
    principal: Principal,
    AppJson(body): AppJson<TopicCreate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let cluster = fjord_store::cluster::get(mutation.db(), organization_id, body.cluster_id, true)
        .await?
        .ok_or_else(|| AppError::Invalid(format!("cluster_id {} not found", body.cluster_id)))?;
    if body.replication_factor > cluster.broker_count {
        return Err(AppError::Invalid(format!(
            "replication_factor {} exceeds the cluster's {} brokers",
            body.replication_factor, cluster.broker_count
        )));
    }
    let row = fjord_store::topic::insert(
        mutation.db(),
        &NewTopic {
            topic_id: Uuid::now_v7(),
            organization_id,
            cluster_id: cluster.cluster_id,
            name: &body.name,
            partitions: body.partitions,
            replication_factor: body.replication_factor,
            config: &body.config,
        },
    )
    .await?;
    intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        cluster.environment_id,
    )
    .await?;
    mutation
        .audit(
            "topic.create",
            "topic",
            row.topic_id,
            json!({"name": row.name, "cluster_id": row.cluster_id}),
        )
        .await?;
    mutation.finish_with(StatusCode::CREATED, row, to_api).await
}

/// Filters of the topic list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TopicFilter {
    /// Only topics of this cluster.
    cluster_id: Option<Uuid>,
}

/// Lists topics.
#[utoipa::path(
    get,
    path = "/v1/topics",
    tag = "inventory",
    security(("api_key" = [])),
    params(PageQuery, TopicFilter),
    responses(
        (status = 200, description = "A page of topics", body = Page<Topic>),
        Problems,
    )
)]
pub(crate) async fn list_topics(
    State(state): State<AppState>,
    principal: Principal,
    AppQuery(query): AppQuery<PageQuery>,
    AppQuery(filter): AppQuery<TopicFilter>,
) -> Result<Json<Page<Topic>>, AppError> {
    let rows = fjord_store::topic::list(
        &state.pool,
        principal.organization_id,
        filter.cluster_id,
        query.request()?,
    )
    .await?;
    Ok(Json(query.page(rows, |row| row.topic_id, to_api)?))
}

/// One topic.
#[utoipa::path(
    get,
    path = "/v1/topics/{topic_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("topic_id" = Uuid, Path)),
    responses(
        (status = 200, description = "The topic", body = Topic, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn get_topic(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
) -> Result<Response, AppError> {
    let row = fjord_store::topic::get(&state.pool, principal.organization_id, id, false)
        .await?
        .ok_or_else(|| AppError::not_found("topic", id))?;
    Ok(with_etag(row.revision, to_api(row)))
}

/// Adds partitions or replaces the configuration.
#[utoipa::path(
    patch,
    path = "/v1/topics/{topic_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("topic_id" = Uuid, Path), IfMatch, IdempotencyKey),
    request_body = TopicUpdate,
    responses(
        (status = 200, description = "The updated topic", body = Topic, headers(("ETag" = String))),
        Problems,
    )
)]
pub(crate) async fn update_topic(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
    AppJson(body): AppJson<TopicUpdate>,
) -> Result<Response, AppError> {
    body.validate().map_err(AppError::Invalid)?;
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::topic::get(mutation.db(), organization_id, id, true).await?,
        "topic",
        id,
        &headers,
    )?;
    let partitions = body.partitions.unwrap_or(current.partitions);
    if partitions < current.partitions {
        return Err(AppError::Invalid(format!(
            "partitions may only grow, from {}",
            current.partitions
        )));
    }
    let config = body.config.clone().unwrap_or(current.config.0);
    let row = fjord_store::topic::update(mutation.db(), organization_id, id, partitions, &config)
        .await?
        .ok_or_else(|| AppError::not_found("topic", id))?;
    let cluster = fjord_store::cluster::get(mutation.db(), organization_id, row.cluster_id, false)
        .await?
        .ok_or_else(|| anyhow::anyhow!("topic {id} has no cluster"))?;
    intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        cluster.environment_id,
    )
    .await?;
    mutation
        .audit(
            "topic.update",
            "topic",
            id,
            serde_json::to_value(&body).map_err(anyhow::Error::new)?,
        )
        .await?;
    mutation.finish_with(StatusCode::OK, row, to_api).await
}

/// Deletes a topic.
#[utoipa::path(
    delete,
    path = "/v1/topics/{topic_id}",
    tag = "inventory",
    security(("api_key" = [])),
    params(("topic_id" = Uuid, Path), IfMatch, IdempotencyKey),
    responses(
        (status = 204, description = "Deleted"),
        Problems,
    )
)]
pub(crate) async fn delete_topic(
    State(state): State<AppState>,
    principal: Principal,
    AppPath(id): AppPath<Uuid>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let mut mutation = Mutation::begin(&state, &principal).await?;
    let organization_id = mutation.organization_id();
    let current = mutation::current(
        fjord_store::topic::get(mutation.db(), organization_id, id, true).await?,
        "topic",
        id,
        &headers,
    )?;
    let cluster =
        fjord_store::cluster::get(mutation.db(), organization_id, current.cluster_id, false)
            .await?
            .ok_or_else(|| anyhow::anyhow!("topic {id} has no cluster"))?;
    fjord_store::topic::delete(mutation.db(), organization_id, id).await?;
    intent::publish(
        mutation.db(),
        &state.signer,
        organization_id,
        cluster.environment_id,
    )
    .await?;
    mutation
        .audit("topic.delete", "topic", id, json!({"name": current.name}))
        .await?;
    mutation
        .finish::<()>(StatusCode::NO_CONTENT, None, None)
        .await
}
