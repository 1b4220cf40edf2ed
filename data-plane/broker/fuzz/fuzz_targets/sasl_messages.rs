//! Feeds arbitrary bytes to what an unauthenticated client reaches before
//! the broker knows who it is: the SCRAM client-first and client-final
//! parsers, a whole SASL session (PLAIN, and both SCRAM steps against a
//! known user), and the subject parser of client certificates. None may
//! panic; every malformed input is an error.
//!
//! The first byte picks the target; the rest is the input.
#![no_main]

use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::time::Instant;

use fjord_broker::security::Principal;
use fjord_broker::security::sasl::{SaslMechanism, SaslSession};
use fjord_broker::security::scram::messages::{ClientFinal, ClientFirst};
use fjord_broker::security::scram::{ScramCredential, ScramMechanism};
use fjord_broker::security::users::{CredentialChange, ScramUsers};
use libfuzzer_sys::fuzz_target;

static USERS: OnceLock<ScramUsers> = OnceLock::new();

fn users() -> &'static ScramUsers {
    USERS.get_or_init(|| {
        let users = ScramUsers::in_memory();
        let iterations = NonZeroU32::new(4096).expect("not zero");
        let changes: Vec<_> = ScramMechanism::ALL
            .into_iter()
            .map(|mechanism| {
                let credential =
                    ScramCredential::from_password(mechanism, b"pw", b"salt".to_vec(), iterations);
                ("user".to_owned(), CredentialChange::Set(credential))
            })
            .collect();
        users.apply(&changes).expect("in memory");
        users
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&target, input)) = data.split_first() else {
        return;
    };
    match target % 5 {
        0 => drop(ClientFirst::parse(input)),
        1 => drop(ClientFinal::parse(input)),
        2 => drop(Principal::from_certificate(input)),
        3 => {
            // A first message, then whatever follows as the final one.
            let split = input.iter().position(|&byte| byte == 0xff).unwrap_or(input.len());
            let (first, last) = input.split_at(split);
            let mechanism = if target & 0x80 == 0 { "SCRAM-SHA-256" } else { "SCRAM-SHA-512" };
            let mut session = SaslSession::new();
            if session.handshake(mechanism, &SaslMechanism::ALL).is_ok()
                && session.authenticate(first, users(), "nonce", Instant::now(), None).is_ok()
            {
                let _ = session.authenticate(last, users(), "nonce", Instant::now(), None);
            }
        }
        _ => {
            let mut session = SaslSession::new();
            if session.handshake("PLAIN", &SaslMechanism::ALL).is_ok() {
                let _ = session.authenticate(input, users(), "nonce", Instant::now(), None);
            }
        }
    }
});
