use axum::Json;
use fjord_api::ServiceInfo;

/// Which control plane answers, and which API version it speaks.
#[utoipa::path(
    get,
    path = "/v1/info",
    tag = "service",
    responses((status = 200, description = "Identity of this control plane", body = ServiceInfo))
)]
pub(crate) async fn get_info() -> Json<ServiceInfo> {
    Json(ServiceInfo {
        service: "fjord-control-plane".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        api_version: "v1".to_owned(),
    })
}
