//! Resource requests: GET (get, list, watch), POST, PUT, PATCH, DELETE.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::path::ResourcePath;
use super::query::Query;
use super::render::{self, Representation};
use super::response;
use crate::apply::PatchKind;
use crate::error::Result;
use crate::server::{ApiServer, DeleteOptions, Target, WriteOptions};
use crate::status::ApiStatus;
use crate::watch::{self, WatchRequest};

/// One resource request, parsed.
#[derive(Debug)]
pub(crate) struct ResourceCall {
    pub method: Method,
    pub path: ResourcePath,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

fn header(headers: &HeaderMap, name: header::HeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Decodes a request body (JSON, or YAML for apply patches and `application/yaml`).
fn decode_body(headers: &HeaderMap, body: &Bytes) -> Result<Value, ApiStatus> {
    let content_type = header(headers, header::CONTENT_TYPE);
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        return Err(ApiStatus::unsupported_media_type(content_type));
    }
    let yaml = content_type.contains("yaml");
    let decoded = if yaml {
        serde_yaml::from_slice::<Value>(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(body).map_err(|e| e.to_string())
    };
    decoded.map_err(|error| {
        ApiStatus::bad_request(format!("the request body could not be decoded: {error}"))
    })
}

/// Serves one resource request.
pub(crate) async fn serve(server: &ApiServer, call: ResourceCall) -> Response {
    match dispatch(server, call).await {
        Ok(response) => response,
        Err(error) => response::failure(&error.status()),
    }
}

fn target_of(server: &ApiServer, path: &ResourcePath) -> Result<Target, ApiStatus> {
    let resource_type = server
        .lock()
        .registry
        .get(&path.group, &path.version, &path.plural)
        .ok_or_else(|| {
            let group_version = if path.group.is_empty() {
                path.version.clone()
            } else {
                format!("{}/{}", path.group, path.version)
            };
            ApiStatus::no_route(&format!("{group_version}, {}", path.plural))
        })?;
    if !resource_type.namespaced && path.namespace.is_some() {
        return Err(ApiStatus::no_route(&format!(
            "{} is not namespaced",
            path.plural
        )));
    }
    let binding = path.group.is_empty()
        && path.plural == "pods"
        && path.subresource.as_deref() == Some("binding");
    if let Some(sub) = &path.subresource
        && sub != "status"
        && !binding
    {
        return Err(ApiStatus::no_route(&format!("{}/{sub}", path.plural)));
    }
    Ok(Target {
        resource_type,
        namespace: path.namespace.clone(),
        name: path.name.clone(),
        subresource: path.subresource.clone(),
    })
}

fn write_options(call: &ResourceCall) -> Result<WriteOptions, ApiStatus> {
    Ok(WriteOptions {
        field_manager: call.query.get("fieldManager").map(str::to_owned),
        user_agent: Some(header(&call.headers, header::USER_AGENT).to_owned())
            .filter(|a| !a.is_empty()),
        field_validation: call.query.field_validation()?,
        force: call.query.flag("force"),
        dry_run: call.query.get("dryRun") == Some("All"),
    })
}

async fn dispatch(server: &ApiServer, call: ResourceCall) -> Result<Response> {
    if let Some(failure) = server.faults().request_failure() {
        return Ok(response::failure(&failure));
    }
    let target = target_of(server, &call.path)?;
    let representation = Representation::from_accept(
        header(&call.headers, header::ACCEPT),
        call.query.get("includeObject"),
    );
    let render_one = |object: &Value| match representation {
        Representation::Full => object.clone(),
        Representation::Metadata => render::partial_metadata(object),
        Representation::Table { include_object } => render::table(
            &target.resource_type,
            std::slice::from_ref(object),
            json!({"resourceVersion": object.pointer("/metadata/resourceVersion").cloned().unwrap_or_default()}),
            include_object,
        ),
    };
    let method = call.method.clone();
    if target.subresource.as_deref() == Some("binding") {
        if method != Method::POST {
            return Err(ApiStatus::method_not_allowed("pods/binding only accepts POST").into());
        }
        let body = decode_body(&call.headers, &call.body)?;
        server.bind_pod(
            &target,
            &body,
            call.query.get("fieldManager").map(str::to_owned),
        )?;
        let success = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201});
        return Ok(response::json(StatusCode::CREATED, &success, &[]));
    }
    match (method, target.name.is_some()) {
        (Method::GET, _) if call.query.flag("watch") => {
            watch_response(server, &target, &call, representation)
        }
        (Method::GET, true) => Ok(response::json(
            StatusCode::OK,
            &render_one(&server.get(&target)?),
            &[],
        )),
        (Method::GET, false) => {
            let list = server.list(&target, &call.query.list_options()?)?;
            let body = match representation {
                Representation::Full => list,
                Representation::Metadata => render::partial_metadata_list(&list),
                Representation::Table { include_object } => {
                    let items = list["items"].as_array().cloned().unwrap_or_default();
                    render::table(
                        &target.resource_type,
                        &items,
                        list["metadata"].clone(),
                        include_object,
                    )
                }
            };
            Ok(response::json(StatusCode::OK, &body, &[]))
        }
        (Method::POST, false) => {
            let body = decode_body(&call.headers, &call.body)?;
            let outcome = server.create(&target, body, &write_options(&call)?)?;
            Ok(response::json(
                StatusCode::CREATED,
                &render_one(&outcome.object),
                &outcome.warnings,
            ))
        }
        (Method::PUT, true) => {
            let body = decode_body(&call.headers, &call.body)?;
            let outcome = server.update(&target, body, &write_options(&call)?)?;
            Ok(response::json(
                StatusCode::OK,
                &render_one(&outcome.object),
                &outcome.warnings,
            ))
        }
        (Method::PATCH, true) => {
            let content_type = header(&call.headers, header::CONTENT_TYPE);
            let kind = PatchKind::from_content_type(content_type)
                .ok_or_else(|| ApiStatus::unsupported_media_type(content_type))?;
            let body = decode_body(&call.headers, &call.body)?;
            let outcome = server.patch(&target, kind, body, &write_options(&call)?)?;
            let code = if outcome.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            Ok(response::json(
                code,
                &render_one(&outcome.object),
                &outcome.warnings,
            ))
        }
        (Method::DELETE, true) => {
            let options = delete_options(&call)?;
            let object = server.delete(&target, &options)?;
            Ok(response::json(StatusCode::OK, &render_one(&object), &[]))
        }
        (Method::DELETE, false) => {
            let options = delete_options(&call)?;
            let list = server.list(&target, &call.query.list_options()?)?;
            for item in list["items"].as_array().into_iter().flatten() {
                let name = item
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let namespace = item.pointer("/metadata/namespace").and_then(Value::as_str);
                let one = Target::object(target.resource_type.clone(), namespace, name);
                // Objects that went away meanwhile are fine: deletecollection is best effort.
                let _ = server.delete(&one, &options);
            }
            Ok(response::json(StatusCode::OK, &list, &[]))
        }
        (method, _) => Err(ApiStatus::method_not_allowed(format!(
            "{method} is not supported on this path"
        ))
        .into()),
    }
}

fn delete_options(call: &ResourceCall) -> Result<DeleteOptions, ApiStatus> {
    let mut options = DeleteOptions {
        propagation: crate::server::Propagation::parse(
            call.query.get("propagationPolicy").unwrap_or(""),
        ),
        grace_period_seconds: call
            .query
            .get("gracePeriodSeconds")
            .and_then(|g| g.parse().ok()),
        dry_run: call.query.get("dryRun") == Some("All"),
        ..DeleteOptions::default()
    };
    if !call.body.is_empty() {
        let body = decode_body(&call.headers, &call.body)?;
        options = options.merge_body(&body);
    }
    Ok(options)
}

fn watch_response(
    server: &ApiServer,
    target: &Target,
    call: &ResourceCall,
    representation: Representation,
) -> Result<Response> {
    let list = call.query.list_options()?;
    let request = WatchRequest {
        resource_type: target.resource_type.clone(),
        namespace: target.namespace.clone(),
        label_selector: list.label_selector,
        field_selector: list.field_selector,
        resource_version: call.query.start_version()?,
        allow_bookmarks: call.query.flag("allowWatchBookmarks"),
        send_initial_events: call.query.flag("sendInitialEvents"),
        timeout: call.query.timeout(),
        bookmark_interval: server.bookmark_interval(),
    };
    let resource_type = target.resource_type.clone();
    let render: watch::Render = Arc::new(move |mut object: Value| {
        if let Some(map) = object.as_object_mut() {
            map.insert(
                "apiVersion".into(),
                Value::String(resource_type.api_version()),
            );
            map.insert("kind".into(), Value::String(resource_type.kind.clone()));
        }
        match representation {
            Representation::Full => object,
            Representation::Metadata => render::partial_metadata(&object),
            Representation::Table { include_object } => {
                let version = object
                    .pointer("/metadata/resourceVersion")
                    .cloned()
                    .unwrap_or_default();
                render::table(
                    &resource_type,
                    &[object],
                    json!({"resourceVersion": version}),
                    include_object,
                )
            }
        }
    });
    let receiver = watch::start(server, request, render);
    let lines = futures::stream::unfold(receiver, |mut receiver| async move {
        let event = receiver.recv().await?;
        let mut line = serde_json::to_vec(&event).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, Infallible>(Bytes::from(line)), receiver))
    });
    let response = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(lines))
        .map_err(|error| ApiStatus::internal(format!("building the watch response: {error}")))?;
    Ok(response)
}
