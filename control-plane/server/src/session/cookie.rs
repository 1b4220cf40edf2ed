//! Reading and writing the session cookie.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The cookie's name.
pub(crate) const SESSION_COOKIE: &str = "fjord_session";

/// The session token in the request's cookies, if any. Looks through every
/// `Cookie` header (HTTP/2 may split them) and ignores malformed pairs.
pub(crate) fn session_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// Whether the request reached us over https (TLS terminated in front).
pub(crate) fn over_tls(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.trim().eq_ignore_ascii_case("https"))
}

/// `Set-Cookie` value for a new session.
pub(crate) fn session_cookie(token: &str, max_age_seconds: u64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_seconds}{secure}"
    )
}

/// `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> String {
    session_cookie("", 0, secure)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn the_session_token_is_found_among_other_cookies() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark; junk"));
        headers.append(
            COOKIE,
            HeaderValue::from_static("a=b;  fjord_session=fjs_abc ; c=d"),
        );
        assert_eq!(session_token(&headers), Some("fjs_abc"));
        let mut empty = HeaderMap::new();
        empty.append(COOKIE, HeaderValue::from_static("fjord_session="));
        assert_eq!(session_token(&empty), None);
        assert_eq!(session_token(&HeaderMap::new()), None);
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_when_asked() {
        let cookie = session_cookie("fjs_x", 60, false);
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
        assert!(!cookie.contains("Secure"));
        assert!(session_cookie("fjs_x", 60, true).ends_with("; Secure"));
        assert!(clear_cookie(false).contains("Max-Age=0"));
    }
}
