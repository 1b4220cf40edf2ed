//! The crate's one error type, and how AWS errors are classified.

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

/// A failed AWS call, as people and the job table need it: which call, the
/// AWS error code (absent when no answer came), a plain message, and its
/// class (which decides whether it is retried).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {}{message}", code_prefix(.code.as_deref()))]
pub struct AwsError {
    /// The API call, e.g. `CreateVpc`.
    pub operation: &'static str,
    /// The AWS error code, e.g. `UnauthorizedOperation`.
    pub code: Option<String>,
    /// A plain message for people.
    pub message: String,
    pub class: ErrorClass,
}

fn code_prefix(code: Option<&str>) -> String {
    code.map(|code| format!("{code}: ")).unwrap_or_default()
}

/// What an AWS error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Too many requests: retry with backoff.
    Throttled,
    /// AWS or the network did not answer properly: retry with backoff.
    Unavailable,
    /// A `*.NotFound` for an id this job itself made or found: EC2 is
    /// eventually consistent, so retry with backoff.
    NotFound,
    /// The role does not allow the call: surfaced at once.
    AccessDenied,
    /// An account limit is reached: surfaced at once.
    Limit,
    /// Anything else (bad input, a dependency, …): surfaced at once.
    Other,
}

impl ErrorClass {
    /// Whether waiting and trying again can help.
    pub fn is_transient(self) -> bool {
        matches!(self, Self::Throttled | Self::Unavailable | Self::NotFound)
    }

    /// The class of an AWS error code.
    pub fn of_code(code: &str) -> Self {
        match code {
            "RequestLimitExceeded"
            | "Throttling"
            | "ThrottlingException"
            | "RequestThrottled"
            | "TooManyRequestsException"
            | "RequestThrottledException" => Self::Throttled,
            "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable" => {
                Self::Unavailable
            }
            "AccessDenied"
            | "AccessDeniedException"
            | "UnauthorizedOperation"
            | "AuthFailure"
            | "InvalidClientTokenId"
            | "OptInRequired" => Self::AccessDenied,
            code if code.ends_with(".NotFound") => Self::NotFound,
            code if code.ends_with("LimitExceeded") => Self::Limit,
            _ => Self::Other,
        }
    }
}

impl AwsError {
    /// Classifies an SDK error of `operation`.
    pub fn from_sdk<E, R>(operation: &'static str, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error {
            SdkError::ServiceError(_) => {
                let code = error.code().map(str::to_owned);
                let class = code
                    .as_deref()
                    .map_or(ErrorClass::Other, ErrorClass::of_code);
                let aws_message = error.message().unwrap_or("no message").to_owned();
                let message = match class {
                    ErrorClass::AccessDenied => {
                        format!("the role does not allow {operation}: {aws_message}")
                    }
                    ErrorClass::Limit => {
                        format!("an account limit is reached: {aws_message}")
                    }
                    ErrorClass::Throttled => format!("AWS throttled the call: {aws_message}"),
                    _ => aws_message,
                };
                Self {
                    operation,
                    code,
                    message,
                    class,
                }
            }
            SdkError::TimeoutError(_)
            | SdkError::DispatchFailure(_)
            | SdkError::ResponseError(_) => Self {
                operation,
                code: None,
                message: format!(
                    "no usable answer from AWS: {}",
                    aws_sdk_ec2::error::DisplayErrorContext(error)
                ),
                class: ErrorClass::Unavailable,
            },
            // A request the SDK could not even build is our bug or bad input.
            _ => Self {
                operation,
                code: None,
                message: format!(
                    "the request could not be built: {}",
                    aws_sdk_ec2::error::DisplayErrorContext(error)
                ),
                class: ErrorClass::Other,
            },
        }
    }

    /// An error of our own making in AWS's shape (e.g. the emulated trust
    /// policy's refusal).
    pub fn new(
        operation: &'static str,
        code: &str,
        message: impl Into<String>,
        class: ErrorClass,
    ) -> Self {
        Self {
            operation,
            code: Some(code.to_owned()),
            message: message.into(),
            class,
        }
    }
}

/// Everything that can go wrong while checking, provisioning or tearing down.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An AWS call failed (after retries, when it was transient).
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// What AWS holds contradicts what the environment asks for (an adopted
    /// subnet in another VPC, too few zones, duplicates, …).
    #[error("{0}")]
    Conflict(String),
    /// The request itself is not valid (a bad CIDR, zero zones, …).
    #[error("invalid provisioning request: {0}")]
    Invalid(String),
    /// AWS answered without a field it always sends.
    #[error("unexpected answer from AWS to {operation}: {what} is missing")]
    Missing {
        operation: &'static str,
        what: &'static str,
    },
    /// The caller's progress hook stopped the run (tests inject crashes
    /// this way; the control plane stops when its lease is lost).
    #[error("stopped after step {0}")]
    Stopped(String),
}

impl Error {
    /// The AWS error code, when AWS gave one.
    pub fn aws_code(&self) -> Option<&str> {
        match self {
            Self::Aws(error) => error.code.as_deref(),
            _ => None,
        }
    }

    /// Whether running again later can help.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Aws(error) => error.class.is_transient(),
            Self::Stopped(_) => true,
            _ => false,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_classified_as_the_doc_says() {
        assert_eq!(
            ErrorClass::of_code("RequestLimitExceeded"),
            ErrorClass::Throttled
        );
        assert_eq!(ErrorClass::of_code("VpcLimitExceeded"), ErrorClass::Limit);
        assert_eq!(
            ErrorClass::of_code("InvalidVpcID.NotFound"),
            ErrorClass::NotFound
        );
        assert_eq!(
            ErrorClass::of_code("UnauthorizedOperation"),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            ErrorClass::of_code("AccessDenied"),
            ErrorClass::AccessDenied
        );
        assert_eq!(
            ErrorClass::of_code("DependencyViolation"),
            ErrorClass::Other
        );
        assert!(ErrorClass::Throttled.is_transient());
        assert!(!ErrorClass::Limit.is_transient());
        assert!(!ErrorClass::AccessDenied.is_transient());
    }

    #[test]
    fn an_aws_error_reads_with_its_call_and_code() {
        let error = AwsError::new(
            "CreateVpc",
            "VpcLimitExceeded",
            "too many",
            ErrorClass::Limit,
        );
        assert_eq!(error.to_string(), "CreateVpc: VpcLimitExceeded: too many");
    }
}
