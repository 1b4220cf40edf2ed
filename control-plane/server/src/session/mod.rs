//! Console sign-in: users, passwords, session cookies, CSRF, and the
//! sign-in rate limit. The protocol is written down in `docs/console.md`.
//!
//! - A session is a random token (`fjs_…`) in the `fjord_session` cookie:
//!   `HttpOnly` (scripts cannot read it), `SameSite=Strict` (other sites
//!   cannot make the browser send it), `Secure` when served over TLS. Only
//!   its sha-256 is stored, with an expiry.
//! - Every request with the cookie reads the session joined with its
//!   membership, so a removed member is signed out and a role change applies
//!   at once.
//! - A change made with the cookie (any method but GET/HEAD/OPTIONS) must
//!   carry the session's CSRF token in `X-CSRF-Token`; the console gets it
//!   from the sign-in response or `GET /v1/session`. A bearer token always
//!   wins over the cookie, so API keys behave exactly as before.

mod cookie;
mod limiter;
mod password;

pub(crate) use cookie::{clear_cookie, over_tls, session_cookie, session_token};
pub(crate) use limiter::SignInLimiter;
pub(crate) use password::{hash_password, verify_password};

use std::time::Duration;

/// How sessions behave.
#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// How long a session lasts after sign-in.
    pub lifetime: Duration,
    /// Always mark the cookie `Secure` (set when TLS is terminated in front
    /// of the control plane); otherwise it is `Secure` when the request came
    /// in over https (`X-Forwarded-Proto: https`).
    pub cookie_secure: bool,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            lifetime: Duration::from_secs(12 * 60 * 60),
            cookie_secure: false,
        }
    }
}

/// The request header carrying the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// Compares two secrets in time independent of where they differ.
pub(crate) fn same_secret(left: &[u8], right: &[u8]) -> bool {
    if left.len() != right.len() {
        return false;
    }
    left.iter()
        .zip(right)
        .fold(0_u8, |difference, (l, r)| difference | (l ^ r))
        == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_equal_only_when_identical() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
        assert!(!same_secret(b"", b"a"));
    }
}
