use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::validate::Check;

/// What a member of an organization may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Read and change everything in the organization.
    Admin,
    /// Read everything, change nothing.
    Viewer,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Admin => "admin",
            Self::Viewer => "viewer",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "admin" => Some(Self::Admin),
            "viewer" => Some(Self::Viewer),
            _ => None,
        }
    }
}

/// Shortest password a user may be given.
pub const PASSWORD_CHARS_MIN: usize = 12;
/// Longest password accepted (hashing cost is bounded).
pub const PASSWORD_CHARS_MAX: usize = 128;

/// An email as stored and compared: trimmed and lowercased.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks an (already normalized) email address: one `@` with text on both
/// sides, at most 254 characters, no spaces or control characters.
pub fn check_email(email: &str) -> Check {
    let length = email.chars().count();
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && domain.contains('.')
            && !domain.contains('@')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
    });
    if !(3..=254).contains(&length)
        || !well_formed
        || email.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(format!(
            "email must be an address like name@example.com, got {email:?}"
        ));
    }
    Ok(())
}

/// Checks a new password's length.
pub fn check_password(password: &str) -> Check {
    let length = password.chars().count();
    if !(PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&length) {
        return Err(format!(
            "password must be {PASSWORD_CHARS_MIN} to {PASSWORD_CHARS_MAX} characters long, got {length}"
        ));
    }
    Ok(())
}

/// Body of `POST /v1/session`: signing in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    #[schema(min_length = 1, max_length = 128)]
    pub password: String,
    /// Which of the user's organizations to sign in to; may be left out
    /// when the user belongs to exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

impl SignIn {
    pub fn validate(&self) -> Check {
        if self.email.trim().is_empty() || self.email.chars().count() > 254 {
            return Err("email must be 1 to 254 characters long".into());
        }
        if self.password.is_empty() || self.password.chars().count() > PASSWORD_CHARS_MAX {
            return Err(format!(
                "password must be 1 to {PASSWORD_CHARS_MAX} characters long"
            ));
        }
        Ok(())
    }
}

/// The signed-in user's session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    pub user_id: Uuid,
    pub email: String,
    pub organization_id: Uuid,
    pub organization_name: String,
    pub role: Role,
    /// Send as the `X-CSRF-Token` header with every change made with the
    /// session cookie (it is also in the `fjord_csrf` cookie).
    pub csrf_token: String,
    pub expires_at: DateTime<Utc>,
}

/// A member of the organization.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    pub user_id: Uuid,
    pub email: String,
    pub role: Role,
    /// When they joined the organization.
    pub created_at: DateTime<Utc>,
}

/// Body of `POST /v1/users`: a new user, member of the caller's
/// organization, who signs in with this password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserCreate {
    #[schema(min_length = 3, max_length = 254)]
    pub email: String,
    #[schema(min_length = 12, max_length = 128)]
    pub password: String,
    pub role: Role,
}

impl UserCreate {
    pub fn validate(&self) -> Check {
        check_email(&normalize_email(&self.email))?;
        check_password(&self.password)
    }
}

/// Body of `PATCH /v1/users/{user_id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    pub role: Role,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM "), "ada@example.com");
        assert!(check_email("ada@example.com").is_ok());
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "ada@example",
            "a b@example.com",
            "ada@@example.com",
        ] {
            assert!(check_email(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn passwords_need_twelve_characters() {
        assert!(check_password("short").is_err());
        assert!(check_password("twelve chars").is_ok());
        assert!(check_password(&"x".repeat(129)).is_err());
    }
}
