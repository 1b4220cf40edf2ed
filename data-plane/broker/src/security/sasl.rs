//! One connection's SASL state (KIP-152 framing, KIP-368
//! re-authentication), sans-IO: the connection feeds it the mechanism of a
//! SaslHandshake and the bytes of each SaslAuthenticate, and sends what it
//! returns.
//!
//! ```text
//! AwaitingHandshake --handshake--> AwaitingFirst(mechanism)
//! AwaitingFirst --PLAIN ok--> Authenticated
//! AwaitingFirst --SCRAM client-first--> AwaitingFinal(exchange)
//! AwaitingFinal --SCRAM client-final ok--> Authenticated
//! Authenticated --handshake (re-authentication)--> AwaitingFirst
//! any failure --> Failed (the connection answers, then closes)
//! ```
//!
//! Invariants: no request but ApiVersions, SaslHandshake and
//! SaslAuthenticate is served before the first success; a
//! re-authentication must name the same principal; a session past its
//! lifetime serves nothing until it re-authenticates.

use std::time::{Duration, Instant};

use super::principal::Principal;
use super::scram::{ScramCredential, ScramExchange, ScramFailure, ScramMechanism};
use super::users::ScramUsers;

/// A SASL listener's settings, shared by its connections.
#[derive(Debug, Clone)]
pub struct SaslListener {
    pub users: std::sync::Arc<ScramUsers>,
    /// Offered in this order (PLAIN only where allowed).
    pub mechanisms: Vec<SaslMechanism>,
    /// KIP-368: how long an authentication lasts; `None`: the connection's
    /// lifetime.
    pub session_lifetime: Option<Duration>,
    /// How long a connection may take to authenticate before it is closed.
    pub authentication_timeout: Duration,
}

/// A SASL mechanism the broker offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SaslMechanism {
    Plain,
    Scram(ScramMechanism),
}

impl SaslMechanism {
    pub const ALL: [Self; 3] = [
        Self::Scram(ScramMechanism::Sha256),
        Self::Scram(ScramMechanism::Sha512),
        Self::Plain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Plain => "PLAIN",
            Self::Scram(scram) => scram.name(),
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|mechanism| mechanism.name() == name)
    }
}

/// Why a SASL step failed; the connection answers with the Kafka code and
/// closes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaslError {
    #[error("mechanism {0:?} is not enabled on this listener")]
    UnsupportedMechanism(String),
    #[error("sasl request out of order")]
    IllegalState,
    #[error("{mechanism} authentication failed: {reason}")]
    Failed {
        mechanism: &'static str,
        reason: String,
    },
    #[error("re-authentication as {new} on a connection of {old}")]
    PrincipalChanged { old: Principal, new: Principal },
}

impl SaslError {
    /// The Kafka error code clients expect.
    pub fn code(&self) -> i16 {
        match self {
            Self::UnsupportedMechanism(_) => 33,
            Self::IllegalState => 34,
            Self::Failed { .. } | Self::PrincipalChanged { .. } => 58,
        }
    }

    /// What the client is told: never whether the user exists.
    pub fn client_message(&self) -> String {
        let mechanism = match self {
            Self::Failed { mechanism, .. } => mechanism,
            Self::PrincipalChanged { .. } => "SASL",
            other => return other.to_string(),
        };
        format!(
            "Authentication failed during authentication due to invalid credentials with SASL mechanism {mechanism}"
        )
    }

    /// The mechanism label of the failure metric.
    pub fn mechanism(&self) -> &'static str {
        match self {
            Self::Failed { mechanism, .. } => mechanism,
            _ => "none",
        }
    }
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per connection, replaced in place at each step"
)]
enum State {
    AwaitingHandshake,
    AwaitingFirst(SaslMechanism),
    AwaitingFinal(ScramExchange),
    Authenticated,
    Failed,
}

/// The result of one SaslAuthenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes; the client continues.
    Continue(Vec<u8>),
    /// Send these bytes; the connection now acts as `principal`, until
    /// `lifetime` has passed (when set).
    Done {
        response: Vec<u8>,
        principal: Principal,
        lifetime: Option<Duration>,
        mechanism: &'static str,
    },
}

/// One connection's SASL state.
#[derive(Debug)]
pub struct SaslSession {
    state: State,
    principal: Option<Principal>,
    expires: Option<Instant>,
}

impl Default for SaslSession {
    fn default() -> Self {
        Self::new()
    }
}

impl SaslSession {
    pub fn new() -> Self {
        Self {
            state: State::AwaitingHandshake,
            principal: None,
            expires: None,
        }
    }

    /// The principal the connection acts as, if it is authenticated and
    /// its session has not expired at `now`.
    pub fn principal(&self, now: Instant) -> Option<&Principal> {
        let current = self.expires.is_none_or(|expires| now < expires);
        self.principal.as_ref().filter(|_| current)
    }

    /// A SaslHandshake naming `mechanism`, among the `enabled` ones.
    pub fn handshake(
        &mut self,
        mechanism: &str,
        enabled: &[SaslMechanism],
    ) -> Result<SaslMechanism, SaslError> {
        if !matches!(self.state, State::AwaitingHandshake | State::Authenticated) {
            self.state = State::Failed;
            return Err(SaslError::IllegalState);
        }
        let Some(chosen) = SaslMechanism::from_name(mechanism).filter(|m| enabled.contains(m))
        else {
            self.state = State::Failed;
            return Err(SaslError::UnsupportedMechanism(mechanism.to_owned()));
        };
        self.state = State::AwaitingFirst(chosen);
        Ok(chosen)
    }

    /// A SaslAuthenticate carrying `bytes`. PLAIN derives a key (PBKDF2):
    /// call this off the async workers.
    pub fn authenticate(
        &mut self,
        bytes: &[u8],
        users: &ScramUsers,
        server_nonce: &str,
        now: Instant,
        lifetime: Option<Duration>,
    ) -> Result<Step, SaslError> {
        let state = std::mem::replace(&mut self.state, State::Failed);
        let mechanism = match &state {
            State::AwaitingFirst(mechanism) => mechanism.name(),
            State::AwaitingFinal(exchange) => exchange.mechanism().name(),
            _ => "none",
        };
        let (user, response) = match state {
            State::AwaitingFirst(SaslMechanism::Plain) => (plain(bytes, users)?, Vec::new()),
            State::AwaitingFirst(SaslMechanism::Scram(mechanism)) => {
                let mut exchange = ScramExchange::new(mechanism);
                let server_first = exchange
                    .client_first(bytes, |user| users.get(user, mechanism), server_nonce)
                    .map_err(|failure| scram_error(mechanism, &failure))?;
                self.state = State::AwaitingFinal(exchange);
                return Ok(Step::Continue(server_first));
            }
            State::AwaitingFinal(mut exchange) => exchange
                .client_final(bytes)
                .map_err(|failure| scram_error(exchange.mechanism(), &failure))?,
            State::AwaitingHandshake | State::Authenticated | State::Failed => {
                return Err(SaslError::IllegalState);
            }
        };
        let principal = Principal::user(user);
        if let Some(old) = &self.principal
            && *old != principal
        {
            return Err(SaslError::PrincipalChanged {
                old: old.clone(),
                new: principal,
            });
        }
        self.state = State::Authenticated;
        self.principal = Some(principal.clone());
        self.expires = lifetime.map(|lifetime| now + lifetime);
        Ok(Step::Done {
            response,
            principal,
            lifetime,
            mechanism,
        })
    }
}

fn scram_error(mechanism: ScramMechanism, failure: &ScramFailure) -> SaslError {
    SaslError::Failed {
        mechanism: mechanism.name(),
        reason: failure.to_string(),
    }
}

/// `[authzid] NUL authcid NUL password`, checked against the user's SCRAM
/// credential (SHA-512 first).
fn plain(bytes: &[u8], users: &ScramUsers) -> Result<String, SaslError> {
    let failed = |reason: &str| SaslError::Failed {
        mechanism: "PLAIN",
        reason: reason.to_owned(),
    };
    let mut fields = bytes.split(|byte| *byte == 0);
    let (Some(authzid), Some(user), Some(password), None) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return Err(failed("malformed message"));
    };
    let user = std::str::from_utf8(user).map_err(|_| failed("user name is not UTF-8"))?;
    if user.is_empty() || (!authzid.is_empty() && authzid != user.as_bytes()) {
        return Err(failed("malformed or foreign authorization id"));
    }
    let credential = ScramMechanism::ALL
        .into_iter()
        .rev()
        .find_map(|mechanism| users.get(user, mechanism));
    // An unknown user costs the same key derivation as a known one, so the
    // time taken does not tell whether the user exists.
    let known = credential.is_some();
    let checked = credential.unwrap_or_else(|| ScramCredential {
        mechanism: ScramMechanism::Sha512,
        salt: b"fjord unknown user".to_vec(),
        iterations: super::scram::ITERATIONS_MIN,
        stored_key: vec![0; ScramMechanism::Sha512.hash_bytes()],
        server_key: Vec::new(),
    });
    if checked.matches_password(password) && known {
        return Ok(user.to_owned());
    }
    Err(SaslError::Failed {
        mechanism: "PLAIN",
        reason: format!("unknown user or wrong password for {user:?}"),
    })
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;
    use crate::security::users::CredentialChange;

    fn users() -> ScramUsers {
        let users = ScramUsers::in_memory();
        let credential = ScramCredential::from_password(
            ScramMechanism::Sha512,
            b"pw",
            b"salt".to_vec(),
            NonZeroU32::new(4096).unwrap(),
        );
        users
            .apply(&[("alice".into(), CredentialChange::Set(credential))])
            .unwrap();
        users
    }

    #[test]
    fn plain_authenticates_a_known_user_and_expires_with_the_session() {
        let users = users();
        let mut session = SaslSession::new();
        let now = Instant::now();
        assert_eq!(session.principal(now), None);
        session.handshake("PLAIN", &SaslMechanism::ALL).unwrap();
        let lifetime = Some(Duration::from_secs(60));
        let step = session
            .authenticate(b"\0alice\0pw", &users, "n", now, lifetime)
            .unwrap();
        assert!(matches!(step, Step::Done { ref principal, .. } if principal.name == "alice"));
        assert_eq!(session.principal(now).unwrap().to_string(), "User:alice");
        assert_eq!(session.principal(now + Duration::from_secs(61)), None);

        // Re-authentication as the same user renews the session.
        session.handshake("PLAIN", &SaslMechanism::ALL).unwrap();
        let later = now + Duration::from_secs(61);
        session
            .authenticate(b"alice\0alice\0pw", &users, "n", later, lifetime)
            .unwrap();
        assert!(session.principal(later).is_some());
    }

    #[test]
    fn wrong_passwords_unknown_users_and_bad_order_fail_with_kafkas_codes() {
        let users = users();
        for message in [&b"\0alice\0nope"[..], b"\0mallory\0pw", b"alice", b"\0\0pw"] {
            let mut session = SaslSession::new();
            session.handshake("PLAIN", &SaslMechanism::ALL).unwrap();
            let error = session
                .authenticate(message, &users, "n", Instant::now(), None)
                .unwrap_err();
            assert_eq!(error.code(), 58, "{message:?}");
            assert!(!error.client_message().contains("mallory"));
        }
        let mut session = SaslSession::new();
        let error = session
            .handshake("GSSAPI", &SaslMechanism::ALL)
            .unwrap_err();
        assert_eq!(error.code(), 33);
        let mut session = SaslSession::new();
        let error = session
            .authenticate(b"x", &users, "n", Instant::now(), None)
            .unwrap_err();
        assert_eq!(error.code(), 34);
        let mut session = SaslSession::new();
        let only_scram = [SaslMechanism::Scram(ScramMechanism::Sha512)];
        assert_eq!(
            session.handshake("PLAIN", &only_scram).unwrap_err().code(),
            33
        );
    }

    /// The stable stand-in for the `sasl_messages` fuzz target: seeded
    /// mutations of valid messages through whole sessions never panic.
    #[test]
    fn mutated_sasl_messages_never_panic() {
        let users = users();
        let seeds: [&[u8]; 4] = [
            b"n,,n=alice,r=abc",
            b"c=biws,r=abcdef,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            b"\0alice\0pw",
            b"n,a=alice,n=alice,r=x=2C,tokenauth=true",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..6_000_u64 {
            let seed = seeds[usize::try_from(round % 4).unwrap()];
            let mut message = seed.to_vec();
            for _ in 0..=(next() % 4) {
                let at = usize::try_from(next() % (message.len() as u64 + 1)).unwrap();
                let byte = u8::try_from(next() % 256).unwrap();
                match next() % 3 {
                    0 if at < message.len() => message[at] = byte,
                    1 => message.insert(at, byte),
                    _ if at < message.len() => drop(message.remove(at)),
                    _ => {}
                }
            }
            let mechanism =
                ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"][usize::try_from(round % 3).unwrap()];
            let mut session = SaslSession::new();
            session.handshake(mechanism, &SaslMechanism::ALL).unwrap();
            let now = Instant::now();
            if session
                .authenticate(&message, &users, "def", now, None)
                .is_ok()
            {
                let _ = session.authenticate(&message, &users, "def", now, None);
            }
            let _ = crate::security::Principal::from_certificate(&message);
        }
    }

    #[test]
    fn scram_continues_after_the_first_message() {
        let users = users();
        let mut session = SaslSession::new();
        session
            .handshake("SCRAM-SHA-512", &SaslMechanism::ALL)
            .unwrap();
        let step = session
            .authenticate(b"n,,n=alice,r=abc", &users, "def", Instant::now(), None)
            .unwrap();
        let Step::Continue(server_first) = step else {
            panic!("{step:?}")
        };
        assert!(server_first.starts_with(b"r=abcdef,s="));
        let error = session
            .authenticate(
                b"c=biws,r=abcdef,p=AAAA",
                &users,
                "def",
                Instant::now(),
                None,
            )
            .unwrap_err();
        assert_eq!(error.mechanism(), "SCRAM-SHA-512");
    }
}
