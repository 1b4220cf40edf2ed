//! Errors of the chaos library.

use std::net::SocketAddr;

/// What can go wrong while proxying, driving brokers or checking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind the proxy listener for link {from}->{to} on {address}: {source}")]
    Bind {
        from: u32,
        to: u32,
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("link {from}->{to} is given twice")]
    DuplicateLink { from: u32, to: u32 },
    #[error("no proxied link {from}->{to}")]
    UnknownLink { from: u32, to: u32 },
    #[error("cannot start the proxy runtime: {0}")]
    Runtime(std::io::Error),
    #[error("broker {node}: {message}")]
    Broker { node: u32, message: String },
    #[error("client {what}: {message}")]
    Client { what: String, message: String },
    #[error("malformed line {line:?}: {reason}")]
    Malformed { line: String, reason: &'static str },
    #[error("i/o on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
