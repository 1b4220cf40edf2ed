//! Cluster routes on the admin port:
//!
//! - `POST /v1/internal/controller`: brokers' requests to the controller
//!   leader (JSON [`ControllerRequest`] -> [`ControllerReply`]);
//! - `GET /v1/cluster/health`: brokers, controller, under-replicated,
//!   leaderless and offline partitions;
//! - `GET /v1/brokers/{id}/restart-probe`: would restarting that broker
//!   leave a partition without a quorum of live in-sync replicas, or is a
//!   broker still catching up after its own restart?
//! - `GET|PUT /v1/brokers/{id}/maintenance`: maintenance mode (move
//!   leadership away and take none while on);
//! - `GET|PUT /v1/brokers/{id}/decommission`, `DELETE /v1/brokers/{id}`:
//!   move every replica off a broker, then forget it.
//!
//! The operator drives rolling upgrades with the last three
//! (`docs/replication.md` "Admin API").

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use fjord_metadata::BrokerId;
use fjord_metadata::health::{cluster_health, restart_risk};
use serde::{Deserialize, Serialize};

use super::client::CONTROLLER_PATH;
use super::requests::{self, ControllerReply, ControllerRequest};
use super::startup::Stage;
use super::{Controller, ControllerClient};

#[derive(Debug, Clone)]
pub struct ClusterApi {
    pub controller: Arc<Controller>,
    pub client: Arc<ControllerClient>,
    /// This broker's start-up stage: until it serves, its image may lag the
    /// cluster's, so it does not vouch for the cluster's health.
    pub startup: super::startup::Startup,
}

pub fn router(api: ClusterApi) -> Router {
    Router::new()
        .route(CONTROLLER_PATH, post(controller_request))
        .route("/v1/internal/controller/records", get(controller_records))
        .route("/v1/cluster/health", get(health))
        .route("/v1/brokers/{id}/restart-probe", get(restart_probe))
        .route(
            "/v1/brokers/{id}/maintenance",
            get(maintenance).put(set_maintenance),
        )
        .route(
            "/v1/brokers/{id}/decommission",
            get(decommission).put(start_decommission),
        )
        .route("/v1/brokers/{id}", axum::routing::delete(remove_broker))
        .with_state(api)
}

async fn controller_request(
    State(api): State<ClusterApi>,
    Json(request): Json<ControllerRequest>,
) -> Json<ControllerReply> {
    Json(requests::handle(&api.controller, request).await)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecordsQuery {
    from: i64,
}

/// Committed controller records for brokers outside the voters (a
/// long-poll of up to a second when there is nothing new).
async fn controller_records(
    State(api): State<ClusterApi>,
    Query(query): Query<RecordsQuery>,
) -> Response {
    if query.from < 0 {
        return problem(StatusCode::BAD_REQUEST, "from must be >= 0".into());
    }
    match api
        .controller
        .records_from(query.from, std::time::Duration::from_secs(1))
        .await
    {
        Ok(page) => Json(page).into_response(),
        Err(message) => problem(StatusCode::SERVICE_UNAVAILABLE, message),
    }
}

fn names(partitions: Vec<fjord_metadata::PartitionRef>) -> Vec<String> {
    partitions
        .into_iter()
        .map(|at| format!("{}-{}", at.topic.as_str(), at.partition))
        .collect()
}

#[derive(Debug, Serialize)]
struct Health {
    healthy: bool,
    /// The answering broker's start-up stage (`starting`, `catching_up`,
    /// `serving`); not `serving`: `healthy` is false, whatever its image says.
    state: &'static str,
    controller: Option<u32>,
    brokers: Vec<BrokerHealth>,
    under_replicated: Vec<String>,
    leaderless: Vec<String>,
    offline: Vec<String>,
}

#[derive(Debug, Serialize)]
struct BrokerHealth {
    id: u32,
    /// `catching_up` (registered, replaying the controller log, fenced),
    /// `fenced` (its session lapsed) or `serving`.
    state: &'static str,
    fenced: bool,
    maintenance: bool,
    leaderships: usize,
}

fn broker_state(broker: &fjord_metadata::Broker) -> &'static str {
    if broker.catching_up {
        Stage::CatchingUp.as_str()
    } else if broker.fenced {
        "fenced"
    } else {
        Stage::Serving.as_str()
    }
}

fn leaderships(image: &fjord_metadata::MetadataImage, broker: BrokerId) -> usize {
    image
        .partitions()
        .filter(|(_, partition)| partition.leader == Some(broker))
        .count()
}

async fn health(State(api): State<ClusterApi>) -> Json<Health> {
    let image = api.controller.image();
    let health = cluster_health(&image);
    let controller = api.controller.leader();
    let stage = api.startup.stage();
    Json(Health {
        healthy: health.is_healthy() && controller.is_some() && stage == Stage::Serving,
        state: stage.as_str(),
        controller,
        brokers: image
            .brokers()
            .map(|broker| BrokerHealth {
                id: broker.id.0,
                state: broker_state(broker),
                fenced: broker.fenced,
                maintenance: broker.maintenance,
                leaderships: leaderships(&image, broker.id),
            })
            .collect(),
        under_replicated: names(health.under_replicated),
        leaderless: names(health.leaderless),
        offline: names(health.offline),
    })
}

#[derive(Debug, Serialize)]
struct RestartProbe {
    broker: u32,
    /// Restarting it now leaves every partition a quorum.
    safe: bool,
    /// Partitions that would lose their quorum.
    at_risk: Vec<String>,
    /// Brokers still catching up after a restart (that one included): a
    /// roll waits for them before restarting the next broker.
    catching_up: Vec<u32>,
}

async fn restart_probe(State(api): State<ClusterApi>, Path(id): Path<u32>) -> Response {
    let stage = api.startup.stage();
    if let Some(reason) = stage.not_ready_reason() {
        // Its image may not hold the cluster yet: no verdict from it.
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("this broker is {reason}; ask another broker or retry"),
        );
    }
    let image = api.controller.image();
    if image.broker(BrokerId(id)).is_none() {
        return problem(
            StatusCode::NOT_FOUND,
            format!("broker {id} is not registered"),
        );
    }
    let at_risk = names(restart_risk(&image, BrokerId(id)));
    let catching_up: Vec<u32> = cluster_health(&image)
        .catching_up_brokers
        .iter()
        .map(|broker| broker.0)
        .collect();
    Json(RestartProbe {
        broker: id,
        safe: at_risk.is_empty() && catching_up.is_empty(),
        at_risk,
        catching_up,
    })
    .into_response()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Maintenance {
    on: bool,
}

#[derive(Debug, Serialize)]
struct MaintenanceState {
    broker: u32,
    on: bool,
    /// Partitions it still leads (0 once leadership has moved away).
    leaderships: usize,
}

async fn maintenance(State(api): State<ClusterApi>, Path(id): Path<u32>) -> Response {
    let image = api.controller.image();
    let Some(broker) = image.broker(BrokerId(id)) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("broker {id} is not registered"),
        );
    };
    Json(MaintenanceState {
        broker: id,
        on: broker.maintenance,
        leaderships: leaderships(&image, BrokerId(id)),
    })
    .into_response()
}

async fn set_maintenance(
    State(api): State<ClusterApi>,
    Path(id): Path<u32>,
    Json(body): Json<Maintenance>,
) -> Response {
    let request = ControllerRequest::SetMaintenance {
        broker: BrokerId(id),
        on: body.on,
    };
    match api.client.call(&request).await {
        ControllerReply::Done { .. } => {
            shown_here(&api, id, |broker| broker.maintenance == body.on).await;
            maintenance(State(api), Path(id)).await
        }
        ControllerReply::Refused { message, .. } => problem(StatusCode::NOT_FOUND, message),
        ControllerReply::NotLeader { .. } | ControllerReply::Failed { .. } => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller did not answer in time".into(),
        ),
    }
}

#[derive(Debug, Serialize)]
struct DecommissionState {
    broker: u32,
    decommissioning: bool,
    /// Partitions that still list it as a replica (0: it hosts nothing and
    /// may be stopped and removed).
    replicas: usize,
}

async fn decommission(State(api): State<ClusterApi>, Path(id): Path<u32>) -> Response {
    let image = api.controller.image();
    let Some(broker) = image.broker(BrokerId(id)) else {
        return problem(
            StatusCode::NOT_FOUND,
            format!("broker {id} is not registered"),
        );
    };
    let replicas = image
        .partitions()
        .filter(|(_, partition)| partition.replicas.contains(&BrokerId(id)))
        .count();
    Json(DecommissionState {
        broker: id,
        decommissioning: broker.decommissioning,
        replicas,
    })
    .into_response()
}

/// Starts moving every replica off the broker.
async fn start_decommission(State(api): State<ClusterApi>, Path(id): Path<u32>) -> Response {
    let request = ControllerRequest::Decommission {
        broker: BrokerId(id),
    };
    let reply = api.client.call(&request).await;
    if !matches!(reply, ControllerReply::Done { .. }) {
        return failed(reply);
    }
    shown_here(&api, id, |broker| broker.decommissioning).await;
    decommission(State(api), Path(id)).await
}

/// Forgets a decommissioned broker that hosts nothing (stop it first: a
/// running broker would register again).
async fn remove_broker(State(api): State<ClusterApi>, Path(id): Path<u32>) -> Response {
    let request = ControllerRequest::RemoveBroker {
        broker: BrokerId(id),
    };
    match api.client.call(&request).await {
        ControllerReply::Done { .. } => StatusCode::NO_CONTENT.into_response(),
        ControllerReply::Refused { kind, message } => {
            let status = if kind == super::requests::RefusalKind::StaleBroker {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::CONFLICT
            };
            problem(status, message)
        }
        other => failed(other),
    }
}

fn failed(reply: ControllerReply) -> Response {
    match reply {
        ControllerReply::Refused { message, .. } => problem(StatusCode::CONFLICT, message),
        _ => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the controller did not answer in time".into(),
        ),
    }
}

/// Waits (5 s at most) until this broker's image shows a change the
/// controller committed to broker `id`, so the answer reflects it.
async fn shown_here(api: &ClusterApi, id: u32, done: impl Fn(&fjord_metadata::Broker) -> bool) {
    let mut images = api.controller.subscribe();
    let shown = images.wait_for(|image| image.broker(BrokerId(id)).is_some_and(&done));
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), shown).await;
}

/// An RFC 7807 problem document.
pub(crate) fn problem(status: StatusCode, detail: String) -> Response {
    let body = serde_json::json!({
        "type": format!("urn:fjord:broker:{}", status.as_u16()),
        "title": status.canonical_reason().unwrap_or("error"),
        "status": status.as_u16(),
        "detail": detail,
    });
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}
