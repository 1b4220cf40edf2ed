//! The Kafka listener: accepts connections and serves each on its own task.
//!
//! Requests on one connection are answered strictly in order: a response is
//! written before the next request is read. On shutdown the listener stops
//! accepting, each connection finishes the request it is serving, and the
//! broker waits up to [`SHUTDOWN_GRACE`] for them.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, ResponseKind};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, info, warn};

use crate::handler::{Answer, Handler};
use crate::metrics::{ApiLabels, BrokerMetrics, ReasonLabels};
use crate::protocol::{self, DecodedRequest, FrameError, RequestError, versions};

/// How long shutdown waits for open connections to finish their request.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything a connection task needs.
#[derive(Debug)]
pub struct ConnectionContext {
    pub handler: Handler,
    pub metrics: BrokerMetrics,
    pub frame_bytes_max: u32,
}

/// Accepts Kafka connections until `shutdown` is cancelled.
pub async fn serve(
    listener: TcpListener,
    context: Arc<ConnectionContext>,
    shutdown: CancellationToken,
) {
    let connections = TaskTracker::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match accepted {
            Ok((stream, peer)) => {
                context.metrics.connections_accepted.inc();
                let context = Arc::clone(&context);
                let shutdown = shutdown.clone();
                connections.spawn(async move {
                    context.metrics.connections_open.inc();
                    serve_connection(stream, peer, &context, &shutdown).await;
                    context.metrics.connections_open.dec();
                });
            }
            Err(error) => {
                // Running out of file descriptors must not end the listener.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    connections.close();
    info!(
        open = connections.len(),
        "listener stopped, waiting for connections to finish"
    );
    if tokio::time::timeout(SHUTDOWN_GRACE, connections.wait())
        .await
        .is_err()
    {
        warn!(
            open = connections.len(),
            "connections still open after the grace period"
        );
    }
}

/// Why a connection ended.
#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("{api_key:?} is not served yet")]
    Unhandled { api_key: ApiKey },
    #[error("cannot encode {api_key:?} response: {reason}")]
    Encode { api_key: ApiKey, reason: String },
    #[error("write failed: {0}")]
    Write(std::io::Error),
}

impl ConnectionError {
    fn metric_reason(&self) -> &'static str {
        match self {
            Self::Frame(FrameError::Io(_)) | Self::Write(_) => "io",
            Self::Frame(_) => "bad_frame",
            Self::Request(_) => "bad_request",
            Self::Unhandled { .. } => "unhandled_api",
            Self::Encode { .. } => "encode",
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    context: &ConnectionContext,
    shutdown: &CancellationToken,
) {
    if let Err(error) = stream.set_nodelay(true) {
        debug!(%peer, %error, "cannot disable nagle");
    }
    let (read_half, mut write_half) = stream.into_split();
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    loop {
        let frame = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            frame = protocol::read_frame(&mut reader, context.frame_bytes_max) => frame,
        };
        let outcome = match frame {
            Ok(Some(frame)) => answer(frame.freeze(), context).await,
            Ok(None) => break,
            Err(error) => Err(error.into()),
        };
        let written = match outcome {
            Ok(Some(response)) => write_half
                .write_all(&response)
                .await
                .map_err(ConnectionError::Write),
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = written {
            let reason = error.metric_reason();
            context
                .metrics
                .connections_closed_by_error
                .get_or_create(&ReasonLabels { reason })
                .inc();
            if reason == "io" {
                debug!(%peer, %error, "connection closed");
            } else {
                warn!(%peer, %error, "closing connection");
            }
            return;
        }
    }
    debug!(%peer, "connection ended");
}

/// Answers one request; `None` when the request expects no response
/// (Produce with acks=0).
async fn answer(
    frame: Bytes,
    context: &ConnectionContext,
) -> Result<Option<bytes::BytesMut>, ConnectionError> {
    match protocol::decode_request(frame)? {
        DecodedRequest::UnsupportedApiVersions { correlation_id } => {
            let body = ResponseKind::ApiVersions(versions::api_versions_response(Some(
                ResponseError::UnsupportedVersion,
            )));
            encode(correlation_id, ApiKey::ApiVersions, 0, &body).map(Some)
        }
        DecodedRequest::Request {
            api_key,
            header,
            body,
        } => {
            context
                .metrics
                .requests
                .get_or_create(&ApiLabels {
                    api: format!("{api_key:?}"),
                })
                .inc();
            match context.handler.handle(api_key, &header, body).await {
                Some(Answer::Respond(response)) => encode(
                    header.correlation_id,
                    api_key,
                    header.request_api_version,
                    &response,
                )
                .map(Some),
                Some(Answer::NoResponse) => Ok(None),
                None => Err(ConnectionError::Unhandled { api_key }),
            }
        }
    }
}

fn encode(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<bytes::BytesMut, ConnectionError> {
    protocol::encode_response(correlation_id, api_key, version, body).map_err(|error| {
        ConnectionError::Encode {
            api_key,
            reason: error.to_string(),
        }
    })
}
