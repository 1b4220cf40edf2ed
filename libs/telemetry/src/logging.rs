//! `tracing` initialisation shared by every binary.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::{Error, Result};

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable lines, coloured when standard error is a terminal.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Command-line flags every Fjord binary shares for logging.
#[derive(Debug, Clone, clap::Args)]
pub struct LoggingArgs {
    /// Log line format.
    #[arg(long, env = "FJORD_LOG_FORMAT", value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Log filter in `tracing` EnvFilter syntax, e.g. `info,fjord_broker=debug`.
    /// `RUST_LOG` is read when this flag is absent.
    #[arg(long, env = "FJORD_LOG")]
    pub log: Option<String>,
}

impl LoggingArgs {
    /// Installs the global subscriber described by these flags.
    pub fn init(&self) -> Result<()> {
        init(self.log_format, self.log.as_deref())
    }
}

/// Installs the global `tracing` subscriber.
///
/// `filter` falls back to `RUST_LOG`, then to `info`. Logs always go to
/// standard error so that standard output stays free for a command's result
/// (CRD YAML, an API key, a Terraform handshake).
pub fn init(format: LogFormat, filter: Option<&str>) -> Result<()> {
    let filter_text = filter
        .map(str::to_owned)
        .or_else(|| std::env::var("RUST_LOG").ok())
        .unwrap_or_else(|| "info".to_owned());
    let env_filter = EnvFilter::try_new(&filter_text).map_err(|error| Error::InvalidFilter {
        filter: filter_text.clone(),
        reason: error.to_string(),
    })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stderr)
        .with_span_events(FmtSpan::NONE);
    let installed = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(true)
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
    installed.map_err(|_| Error::AlreadyInitialised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_filter_is_reported_with_the_filter_text() {
        let error = init(LogFormat::Human, Some("info,[=bad")).unwrap_err();
        assert!(error.to_string().contains("info,[=bad"), "{error}");
    }
}
