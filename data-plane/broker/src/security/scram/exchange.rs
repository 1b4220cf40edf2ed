//! One SCRAM exchange on the server side (RFC 5802 §3, §5):
//!
//! ```text
//! Start --client-first--> SentServerFirst --client-final--> Done(user)
//!   any error, or a message out of order -------------------> Failed
//! ```
//!
//! The final message must echo the nonce: the client's nonce followed by the
//! server's. librdkafka 2.0 (Debian's kcat) sends the client nonce once more
//! in front, which Kafka accepts (it only checks the end), so that one form
//! is accepted too. The fresh server nonce is required either way, so a
//! replayed exchange fails, and the proof covers the final message as sent.
//!
//! An unknown user is answered exactly like a known one, from a credential
//! made up from the name, so that the answer (salt, iterations, timing of
//! the first step) does not tell whether the user exists; the exchange then
//! fails at the proof, as for a wrong password.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::messages::{ClientFinal, ClientFirst, ScramMessageError};
use super::{ITERATIONS_MIN, ScramCredential, ScramMechanism, constant_time_equal};

/// Why an exchange failed. The variants are for logs and metrics; the
/// client is told the same for every one of them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramFailure {
    #[error("malformed scram message: {0}")]
    Malformed(#[from] ScramMessageError),
    #[error("unknown user or wrong password for {user:?}")]
    Credentials { user: String },
    #[error("nonce or channel binding of the final message does not match")]
    Mismatch,
    #[error("delegation tokens are not supported")]
    TokenAuth,
    #[error("scram message out of order")]
    OutOfOrder,
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per login, replaced in place at each step"
)]
enum State {
    Start,
    SentServerFirst {
        user: String,
        /// `None` for an unknown user.
        credential: Option<ScramCredential>,
        fake: ScramCredential,
        gs2_header: String,
        client_nonce: String,
        server_nonce: String,
        /// `client-first-bare,server-first`: the AuthMessage's head.
        transcript: String,
    },
    Done,
}

/// The server side of one exchange.
#[derive(Debug)]
pub struct ScramExchange {
    mechanism: ScramMechanism,
    state: State,
}

impl ScramExchange {
    pub fn new(mechanism: ScramMechanism) -> Self {
        Self {
            mechanism,
            state: State::Start,
        }
    }

    pub fn mechanism(&self) -> ScramMechanism {
        self.mechanism
    }

    /// Takes the client-first message; answers the server-first message.
    /// `lookup` finds the user's credential for this mechanism;
    /// `server_nonce` is fresh random printable text.
    pub fn client_first(
        &mut self,
        message: &[u8],
        lookup: impl FnOnce(&str) -> Option<ScramCredential>,
        server_nonce: &str,
    ) -> Result<Vec<u8>, ScramFailure> {
        if !matches!(self.state, State::Start) {
            self.state = State::Done;
            return Err(ScramFailure::OutOfOrder);
        }
        self.state = State::Done;
        let first = ClientFirst::parse(message)?;
        if first.token_auth {
            return Err(ScramFailure::TokenAuth);
        }
        let credential = lookup(&first.user).filter(|found| found.mechanism == self.mechanism);
        let fake = self.made_up_credential(&first.user);
        let shown = credential.as_ref().unwrap_or(&fake);
        let nonce = format!("{}{server_nonce}", first.nonce);
        let server_first = format!(
            "r={nonce},s={},i={}",
            STANDARD.encode(&shown.salt),
            shown.iterations
        );
        let transcript = format!("{},{server_first}", first.bare);
        self.state = State::SentServerFirst {
            user: first.user,
            credential,
            fake,
            gs2_header: first.gs2_header,
            client_nonce: first.nonce,
            server_nonce: server_nonce.to_owned(),
            transcript,
        };
        Ok(server_first.into_bytes())
    }

    /// Takes the client-final message; on a valid proof answers the
    /// server-final message and the authenticated user.
    pub fn client_final(&mut self, message: &[u8]) -> Result<(String, Vec<u8>), ScramFailure> {
        let State::SentServerFirst {
            user,
            credential,
            fake,
            gs2_header,
            client_nonce,
            server_nonce,
            transcript,
        } = std::mem::replace(&mut self.state, State::Done)
        else {
            return Err(ScramFailure::OutOfOrder);
        };
        let last = ClientFinal::parse(message)?;
        let expected = format!("{client_nonce}{server_nonce}");
        let echoed = last.nonce == expected || last.nonce == format!("{client_nonce}{expected}");
        if !echoed || last.channel_binding != STANDARD.encode(&gs2_header) {
            return Err(ScramFailure::Mismatch);
        }
        let known = credential.is_some();
        // The same work for an unknown user as for a known one.
        let checked = credential.unwrap_or(fake);
        let auth_message = format!("{transcript},{}", last.without_proof);
        let mechanism = self.mechanism;
        let client_signature = mechanism.mac(&checked.stored_key, auth_message.as_bytes());
        let valid_length = last.proof.len() == client_signature.len();
        let client_key: Vec<u8> = last
            .proof
            .iter()
            .zip(&client_signature)
            .map(|(proof, signature)| proof ^ signature)
            .collect();
        let proven = constant_time_equal(&mechanism.hash(&client_key), &checked.stored_key);
        if !(known && valid_length && proven) {
            return Err(ScramFailure::Credentials { user });
        }
        let server_signature = mechanism.mac(&checked.server_key, auth_message.as_bytes());
        let server_final = format!("v={}", STANDARD.encode(server_signature));
        Ok((user, server_final.into_bytes()))
    }

    /// A stable credential for a user that does not exist: its salt follows
    /// from the name, and no password matches its keys.
    fn made_up_credential(&self, user: &str) -> ScramCredential {
        let mechanism = self.mechanism;
        let salt = mechanism.hash(format!("fjord unknown user salt:{user}").as_bytes());
        let unmatched = mechanism.hash(format!("fjord unknown user key:{user}").as_bytes());
        ScramCredential {
            mechanism,
            salt: salt[..16].to_vec(),
            iterations: ITERATIONS_MIN,
            stored_key: mechanism.hash(&unmatched),
            server_key: unmatched,
        }
    }
}

#[cfg(test)]
#[allow(clippy::indexing_slicing, reason = "test vectors")]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    const FOUR_THOUSAND_NINETY_SIX: NonZeroU32 = NonZeroU32::new(4096).expect("not zero");

    /// RFC 7677 §3: the SCRAM-SHA-256 example exchange.
    #[test]
    fn the_rfc_7677_exchange_authenticates_and_proves_the_server() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let credential = ScramCredential::from_password(
            ScramMechanism::Sha256,
            b"pencil",
            salt,
            FOUR_THOUSAND_NINETY_SIX,
        );
        let mut exchange = ScramExchange::new(ScramMechanism::Sha256);
        let server_first = exchange
            .client_first(
                b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
                |user| (user == "user").then(|| credential.clone()),
                "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            )
            .unwrap();
        assert_eq!(
            String::from_utf8(server_first).unwrap(),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let (user, server_final) = exchange
            .client_final(
                b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
                  p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            )
            .unwrap();
        assert_eq!(user, "user");
        assert_eq!(
            String::from_utf8(server_final).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    /// Plays the client side with `password` against a stored credential.
    fn log_in(
        mechanism: ScramMechanism,
        stored: Option<ScramCredential>,
        password: &[u8],
    ) -> Result<String, ScramFailure> {
        let mut exchange = ScramExchange::new(mechanism);
        let client_first_bare = "n=alice,r=clientnonce";
        let server_first = exchange.client_first(
            format!("n,,{client_first_bare}").as_bytes(),
            |_| stored.clone(),
            "servernonce",
        )?;
        let server_first = String::from_utf8(server_first).unwrap();
        let mut fields = server_first.split(',');
        let nonce = &fields.next().unwrap()[2..];
        let salt = STANDARD.decode(&fields.next().unwrap()[2..]).unwrap();
        let iterations: u32 = fields.next().unwrap()[2..].parse().unwrap();
        let salted =
            mechanism.salted_password(password, &salt, NonZeroU32::new(iterations).unwrap());
        let client_key = mechanism.mac(&salted, b"Client Key");
        let stored_key = mechanism.hash(&client_key);
        let without_proof = format!("c=biws,r={nonce}");
        let auth_message = format!("{client_first_bare},{server_first},{without_proof}");
        let signature = mechanism.mac(&stored_key, auth_message.as_bytes());
        let proof: Vec<u8> = client_key
            .iter()
            .zip(&signature)
            .map(|(k, s)| k ^ s)
            .collect();
        let last = format!("{without_proof},p={}", STANDARD.encode(proof));
        exchange.client_final(last.as_bytes()).map(|(user, _)| user)
    }

    #[test]
    fn wrong_passwords_and_unknown_users_fail_alike_for_both_mechanisms() {
        for mechanism in ScramMechanism::ALL {
            let stored = ScramCredential::from_password(
                mechanism,
                b"right",
                b"0123456789abcdef".to_vec(),
                FOUR_THOUSAND_NINETY_SIX,
            );
            assert_eq!(
                log_in(mechanism, Some(stored.clone()), b"right").unwrap(),
                "alice"
            );
            let wrong = log_in(mechanism, Some(stored), b"wrong").unwrap_err();
            let unknown = log_in(mechanism, None, b"right").unwrap_err();
            assert_eq!(
                wrong,
                ScramFailure::Credentials {
                    user: "alice".into()
                }
            );
            assert_eq!(unknown, wrong);
        }
    }

    #[test]
    fn librdkafkas_repeated_client_nonce_is_accepted_but_a_missing_server_nonce_is_not() {
        let mechanism = ScramMechanism::Sha512;
        let stored = ScramCredential::from_password(
            mechanism,
            b"pw",
            b"salt".to_vec(),
            FOUR_THOUSAND_NINETY_SIX,
        );
        for (echoed, accepted) in [
            ("abcabcdef", true),
            ("abcdef", true),
            ("abcXdef", false),
            ("abc", false),
        ] {
            let mut exchange = ScramExchange::new(mechanism);
            let server_first = exchange
                .client_first(b"n,,n=alice,r=abc", |_| Some(stored.clone()), "def")
                .unwrap();
            let server_first = String::from_utf8(server_first).unwrap();
            let salted = mechanism.salted_password(b"pw", b"salt", FOUR_THOUSAND_NINETY_SIX);
            let client_key = mechanism.mac(&salted, b"Client Key");
            let without_proof = format!("c=biws,r={echoed}");
            let auth_message = format!("n=alice,r=abc,{server_first},{without_proof}");
            let signature = mechanism.mac(&mechanism.hash(&client_key), auth_message.as_bytes());
            let proof: Vec<u8> = client_key
                .iter()
                .zip(&signature)
                .map(|(k, s)| k ^ s)
                .collect();
            let last = format!("{without_proof},p={}", STANDARD.encode(proof));
            assert_eq!(
                exchange.client_final(last.as_bytes()).is_ok(),
                accepted,
                "{echoed}"
            );
        }
    }

    #[test]
    fn a_credential_of_the_other_mechanism_does_not_authenticate() {
        let stored = ScramCredential::from_password(
            ScramMechanism::Sha512,
            b"right",
            b"salt".to_vec(),
            FOUR_THOUSAND_NINETY_SIX,
        );
        assert!(log_in(ScramMechanism::Sha256, Some(stored), b"right").is_err());
    }

    #[test]
    fn messages_out_of_order_or_tampered_fail() {
        let mut exchange = ScramExchange::new(ScramMechanism::Sha256);
        assert_eq!(
            exchange.client_final(b"c=biws,r=x,p=AA=="),
            Err(ScramFailure::OutOfOrder)
        );
        let mut exchange = ScramExchange::new(ScramMechanism::Sha256);
        exchange
            .client_first(b"n,,n=alice,r=abc", |_| None, "def")
            .unwrap();
        assert_eq!(
            exchange.client_final(b"c=biws,r=abcXXX,p=AA=="),
            Err(ScramFailure::Mismatch)
        );
        assert_eq!(
            exchange.client_final(b"c=biws,r=abcdef,p=AA=="),
            Err(ScramFailure::OutOfOrder)
        );
        let mut exchange = ScramExchange::new(ScramMechanism::Sha256);
        assert_eq!(
            exchange.client_first(b"n,,n=alice,r=abc,tokenauth=true", |_| None, "def"),
            Err(ScramFailure::TokenAuth)
        );
    }
}
