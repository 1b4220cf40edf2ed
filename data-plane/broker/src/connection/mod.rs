//! One Kafka connection, served as a pipeline of three stages joined by
//! bounded queues:
//!
//! 1. the **reader** reads and decodes requests as they arrive, as long as the
//!    connection has fewer than `in_flight_requests_max` requests and
//!    `in_flight_bytes_max` request bytes unanswered; past either bound it
//!    stops reading (TCP back-pressure does the rest);
//! 2. the **executor** runs each request's ordered work strictly one after
//!    the other, in request order: appends, group and topic changes. A
//!    request whose remainder only waits (acks=all durability, a fetch
//!    long-poll: [`Answer::Later`]) leaves that remainder running on its own
//!    task and the executor moves on to the next request;
//! 3. the **writer** writes responses strictly in request order, waiting for
//!    each in turn, and releases the request's in-flight budget.
//!
//! A bad frame or request is queued like a response: the answers to the
//! requests before it are written, then the connection is closed.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use kafka_protocol::ResponseError;
use kafka_protocol::messages::{ApiKey, ResponseKind};
use prometheus_client::metrics::gauge::Gauge;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::{debug, warn};

mod acls;
mod authorize;
mod gate;
mod users;

use crate::handler::Answer;
use crate::metrics::{ApiLabels, ReasonLabels};
use crate::protocol::{self, DecodedRequest, FrameError, RequestError, versions};
use crate::security::Principal;
use crate::security::acl::Access;
use crate::server::ConnectionContext;

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
    #[error("a request task failed: {0}")]
    Task(String),
    #[error("{api_key:?} before authentication, or after the session expired")]
    Unauthenticated { api_key: ApiKey },
    #[error("authentication failed: {0}")]
    Authentication(#[from] crate::security::sasl::SaslError),
}

impl ConnectionError {
    fn metric_reason(&self) -> &'static str {
        match self {
            Self::Frame(FrameError::Io(_)) | Self::Write(_) => "io",
            Self::Frame(_) => "bad_frame",
            Self::Request(_) => "bad_request",
            Self::Unhandled { .. } => "unhandled_api",
            Self::Encode { .. } => "encode",
            Self::Task(_) => "task",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::Authentication(_) => "authentication_failed",
        }
    }
}

/// Encoded response bytes, or none (Produce with acks=0).
type Encoded = Result<Option<BytesMut>, ConnectionError>;

/// A request's answer as it moves to the writer.
enum Pending {
    Ready(Encoded),
    /// Written, then the connection closes (a refused authentication).
    Final(Encoded, ConnectionError),
    /// The waiting remainder, on its own task (aborted if the connection
    /// ends first).
    Later(AbortOnDropHandle<Encoded>),
}

/// A request's share of the connection's in-flight budget, released when
/// its response is written.
struct Budget {
    _request: OwnedSemaphorePermit,
    _bytes: Option<OwnedSemaphorePermit>,
    bytes: u32,
    /// `fjord_broker_in_flight_request_bytes`, lowered on drop.
    gauge: Gauge,
}

impl Drop for Budget {
    fn drop(&mut self) {
        self.gauge.dec_by(i64::from(self.bytes));
    }
}

/// Serves one connection (its two halves, over TCP or TLS, as `principal`)
/// until the peer leaves, an error closes it, or shutdown (which stops
/// reading and lets in-flight requests finish).
pub(crate) async fn serve_connection<R, W>(
    read_half: R,
    write_half: W,
    peer: SocketAddr,
    principal: Principal,
    context: &ConnectionContext,
    shutdown: &CancellationToken,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let requests_max = context.in_flight_requests_max;
    let (to_executor, from_reader) = mpsc::channel(requests_max);
    let (to_writer, from_executor) = mpsc::channel(requests_max);
    let closing = shutdown.child_token();
    let reader = read_requests(read_half, context, &closing, to_executor);
    let identity = gate::Identity::new(peer, principal.clone(), context);
    let authenticated = identity.authenticated();
    let executor = execute(context, identity, from_reader, to_writer);
    let writer = write_responses(write_half, peer, context, &closing, from_executor);
    let pipeline = async {
        tokio::join!(reader, executor, writer);
    };
    tokio::pin!(pipeline);
    tokio::select! {
        () = &mut pipeline => {}
        () = gate::authentication_deadline(context, &authenticated, peer, &closing) => {
            pipeline.await;
        }
    }
    debug!(%peer, %principal, "connection ended");
}

async fn read_requests<R: AsyncRead + Unpin>(
    read_half: R,
    context: &ConnectionContext,
    closing: &CancellationToken,
    to_executor: mpsc::Sender<(Result<DecodedRequest, ConnectionError>, Budget)>,
) {
    let mut reader = BufReader::with_capacity(64 * 1024, read_half);
    let requests = Arc::new(Semaphore::new(context.in_flight_requests_max));
    let bytes_max = context.in_flight_bytes_max;
    let bytes = Arc::new(Semaphore::new(bytes_max as usize));
    // Bounded by the connection: ends at end of stream, error or shutdown.
    loop {
        let request = match Arc::clone(&requests).try_acquire_owned() {
            Ok(permit) => Ok(permit),
            Err(_) => {
                context.metrics.connection_read_pauses.inc();
                tokio::select! {
                    biased;
                    () = closing.cancelled() => return,
                    permit = Arc::clone(&requests).acquire_owned() => permit,
                }
            }
        };
        let Ok(request) = request else { return };
        let length = tokio::select! {
            biased;
            () = closing.cancelled() => return,
            length = protocol::read_length(&mut reader, context.frame_bytes_max) => length,
        };
        let length = match length {
            Ok(Some(length)) => length,
            Ok(None) => return,
            Err(error) => {
                let budget = Budget {
                    _request: request,
                    _bytes: None,
                    bytes: 0,
                    gauge: context.metrics.in_flight_request_bytes.clone(),
                };
                let _ = to_executor.send((Err(error.into()), budget)).await;
                return;
            }
        };
        // A frame above the byte budget may still pass, but only alone.
        let weight = length.min(bytes_max);
        let bytes_permit = match Arc::clone(&bytes).try_acquire_many_owned(weight) {
            Ok(permit) => Ok(permit),
            Err(_) => {
                context.metrics.connection_read_pauses.inc();
                tokio::select! {
                    biased;
                    () = closing.cancelled() => return,
                    permit = Arc::clone(&bytes).acquire_many_owned(weight) => permit,
                }
            }
        };
        let Ok(bytes_permit) = bytes_permit else {
            return;
        };
        context
            .metrics
            .in_flight_request_bytes
            .inc_by(i64::from(length));
        let budget = Budget {
            _request: request,
            _bytes: Some(bytes_permit),
            bytes: length,
            gauge: context.metrics.in_flight_request_bytes.clone(),
        };
        let payload = tokio::select! {
            biased;
            () = closing.cancelled() => return,
            payload = protocol::read_payload(&mut reader, length) => payload,
        };
        // Decoded here, so the next request's decoding overlaps the
        // executor's work on this one.
        let item = payload
            .map_err(ConnectionError::from)
            .and_then(|payload| Ok(protocol::decode_request(payload.freeze())?));
        let failed = item.is_err();
        if to_executor.send((item, budget)).await.is_err() || failed {
            return;
        }
    }
}

async fn execute(
    context: &ConnectionContext,
    mut identity: gate::Identity,
    mut from_reader: mpsc::Receiver<(Result<DecodedRequest, ConnectionError>, Budget)>,
    to_writer: mpsc::Sender<(Pending, Budget)>,
) {
    // Bounded by the reader's queue, which ends with the connection.
    while let Some((request, budget)) = from_reader.recv().await {
        let pending = match request {
            Ok(request) => match gate::admit(request, &mut identity, context).await {
                gate::Admission::Pass(request, access) => answer(request, context, access).await,
                gate::Admission::Answered(pending) => pending,
            },
            Err(error) => Pending::Ready(Err(error)),
        };
        let last = matches!(pending, Pending::Ready(Err(_)) | Pending::Final(..));
        if to_writer.send((pending, budget)).await.is_err() || last {
            return;
        }
    }
}

async fn write_responses<W: AsyncWrite + Unpin>(
    mut write_half: W,
    peer: SocketAddr,
    context: &ConnectionContext,
    closing: &CancellationToken,
    mut from_executor: mpsc::Receiver<(Pending, Budget)>,
) {
    // Bounded by the executor's queue, which ends with the connection.
    while let Some((pending, budget)) = from_executor.recv().await {
        let mut closing_after = None;
        let outcome = match pending {
            Pending::Ready(outcome) => outcome,
            Pending::Final(outcome, reason) => {
                closing_after = Some(reason);
                outcome
            }
            Pending::Later(task) => task
                .await
                .unwrap_or_else(|error| Err(ConnectionError::Task(error.to_string()))),
        };
        let written = match outcome {
            Ok(Some(response)) => write_half
                .write_all(&response)
                .await
                .map_err(ConnectionError::Write),
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        drop(budget);
        let written = match (written, closing_after) {
            (Ok(()), Some(reason)) => Err(reason),
            (written, _) => written,
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
            closing.cancel();
            // Dropping the queue aborts the answers still waiting.
            return;
        }
    }
}

/// Runs a request's ordered work; its answer, or the task finishing it.
async fn answer(request: DecodedRequest, context: &ConnectionContext, access: Access) -> Pending {
    let (api_key, header, body) = match request {
        DecodedRequest::UnsupportedApiVersions { correlation_id } => {
            let body = ResponseKind::ApiVersions(versions::api_versions_response(Some(
                ResponseError::UnsupportedVersion,
            )));
            return Pending::Ready(encode(correlation_id, ApiKey::ApiVersions, 0, &body).map(Some));
        }
        DecodedRequest::Request {
            api_key,
            header,
            body,
        } => (api_key, header, body),
    };
    context
        .metrics
        .requests
        .get_or_create(&ApiLabels {
            api: format!("{api_key:?}"),
        })
        .inc();
    let correlation_id = header.correlation_id;
    let version = header.request_api_version;
    let finish = move |answer: Answer| -> Encoded {
        match answer {
            Answer::Respond(response) => {
                encode(correlation_id, api_key, version, &response).map(Some)
            }
            Answer::NoResponse => Ok(None),
            Answer::Later(_) => Err(ConnectionError::Task("answer did not settle".to_owned())),
        }
    };
    let (body, patch) = match authorize::check(body, version, &access, &context.handler) {
        authorize::Checked::Serve(body, patch) => (body, patch),
        authorize::Checked::Refuse(response) => {
            return Pending::Ready(finish(Answer::Respond(response)));
        }
    };
    match context.handler.handle(api_key, &header, body).await {
        None => Pending::Ready(Err(ConnectionError::Unhandled { api_key })),
        Some(answer) => {
            let answer = authorize::patched(answer, patch);
            match answer {
                Answer::Later(rest) => {
                    Pending::Later(AbortOnDropHandle::new(tokio::spawn(async move {
                        finish(rest.await.settled().await)
                    })))
                }
                answer => Pending::Ready(finish(answer)),
            }
        }
    }
}

fn encode(
    correlation_id: i32,
    api_key: ApiKey,
    version: i16,
    body: &ResponseKind,
) -> Result<BytesMut, ConnectionError> {
    protocol::encode_response(correlation_id, api_key, version, body).map_err(|error| {
        ConnectionError::Encode {
            api_key,
            reason: error.to_string(),
        }
    })
}
