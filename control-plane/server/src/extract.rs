//! Extractors whose rejections are problems, never axum's plain text.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// `axum::Json`, rejecting with problem+json: 400 for bad syntax, 415 for a
/// missing `Content-Type: application/json`, 422 for the wrong shape
/// (unknown field, wrong type, missing field).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> AppError {
    let detail = rejection.body_text();
    match rejection {
        JsonRejection::JsonDataError(_) => AppError::Invalid(detail),
        JsonRejection::JsonSyntaxError(_) => AppError::BadRequest(detail),
        JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType(
            "expected a body with Content-Type: application/json".into(),
        ),
        JsonRejection::BytesRejection(_) => AppError::PayloadTooLarge(detail),
        _ => AppError::BadRequest(detail),
    }
}

/// `axum::extract::Path`, rejecting with a 400 problem (e.g. an id that is
/// not a UUID).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppPath<T>(pub T);

impl<S, T> FromRequestParts<S> for AppPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(rejection) => Err(path_rejection(rejection)),
        }
    }
}

fn path_rejection(rejection: PathRejection) -> AppError {
    AppError::BadRequest(format!("invalid path: {}", rejection.body_text()))
}

/// `axum::extract::Query`, rejecting with a 400 problem.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for AppQuery<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => Err(query_rejection(rejection)),
        }
    }
}

fn query_rejection(rejection: QueryRejection) -> AppError {
    AppError::BadRequest(format!("invalid query: {}", rejection.body_text()))
}
