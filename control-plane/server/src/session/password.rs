//! argon2id password hashes (PHC strings), computed off the async runtime.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::error::AppError;

/// Hashes `password` with argon2id and a random salt (default parameters:
/// 19 MiB, 2 passes, 1 lane).
pub(crate) async fn hash_password(password: String) -> Result<String, AppError> {
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| anyhow::anyhow!("cannot hash a password: {error}"))
    })
    .await
    .map_err(anyhow::Error::new)?
    .map_err(AppError::from)
}

/// A hash of a random password nobody knows, verified when the email is
/// unknown so that a wrong email takes as long as a wrong password.
fn decoy() -> Result<&'static str, anyhow::Error> {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if let Some(decoy) = DECOY.get() {
        return Ok(decoy);
    }
    let secret = crate::secret::random_bytes()?;
    let hash = Argon2::default()
        .hash_password(&secret)
        .map_err(|error| anyhow::anyhow!("cannot hash the decoy password: {error}"))?;
    Ok(DECOY.get_or_init(|| hash.to_string()))
}

/// Whether `password` matches `stored` (a PHC string); with `None`, checks
/// against a decoy and answers false.
pub(crate) async fn verify_password(
    password: String,
    stored: Option<String>,
) -> Result<bool, AppError> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let stored = match stored {
            Some(stored) => stored,
            None => decoy()?.to_owned(),
        };
        let parsed = PasswordHash::new(&stored)
            .map_err(|error| anyhow::anyhow!("stored password hash is malformed: {error}"))?;
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        Ok::<bool, anyhow::Error>(known && matches)
    })
    .await
    .map_err(anyhow::Error::new)?
    .map_err(AppError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() -> Result<(), AppError> {
        let hash = hash_password("correct horse battery".into()).await?;
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(hash.clone())).await?);
        assert!(!verify_password("wrong horse battery".into(), Some(hash)).await?);
        assert!(!verify_password("anything".into(), None).await?);
        Ok(())
    }
}
