//! The Kafka wire protocol as the broker speaks it.
//!
//! Framing: every request and response is `[length: i32 big-endian][payload]`.
//! A request payload starts with the fixed prefix
//! `[api_key: i16][api_version: i16][correlation_id: i32]`, then the rest of
//! the request header (client id; tagged fields from header v2), then the body.
//!
//! Failure model of a connection:
//! - a frame longer than the configured bound, a negative length, an unknown
//!   API key, an unsupported version (other than ApiVersions) or an
//!   undecodable header or body closes that connection only;
//! - an ApiVersions request of a version we do not know is answered with an
//!   ApiVersions v0 response carrying UNSUPPORTED_VERSION and our version
//!   table (KIP-511), so the client can retry with a version we support.
//!
//! Message bodies are decoded and encoded by the `kafka-protocol` crate; this
//! module owns everything around them.

mod bounds;
mod frame;
mod input;
mod request;
#[cfg(any(test, feature = "fuzzing"))]
pub mod samples;
mod schema;
pub mod versions;

pub use frame::{FrameError, read_frame, read_length, read_payload};
pub use input::decode_frames;
pub use request::{DecodedRequest, RequestError, decode_request, encode_response};
