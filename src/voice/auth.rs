//! The bearer-token gate of the /api/alexa/* routes.
//!
//! Why it exists: the voice routes read the owner's calendar out to whoever asks, so they are
//! closed unless a token is configured (CALENDARBOT_ALEXA_BEARER_TOKEN) and the request carries
//! exactly that token. The Python server left the routes open when no token was set; here an
//! unset or empty token refuses every request. The comparison is constant-time (`subtle`) over
//! SHA-256 digests of both sides, so neither the token's content nor its length leaks through
//! response timing.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a request was refused (all are HTTP 401 with `WWW-Authenticate: Bearer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No token is configured, so the routes are closed.
    #[error("voice routes are disabled: no bearer token is configured")]
    NotConfigured,
    /// The request has no `Authorization` header.
    #[error("missing bearer token")]
    Missing,
    /// The header is not `Bearer <token>`.
    #[error("malformed Authorization header: expected Bearer <token>")]
    Malformed,
    /// The token is not the configured one.
    #[error("invalid bearer token")]
    Invalid,
}

impl AuthError {
    /// The `WWW-Authenticate` challenge to send with the 401 (RFC 6750 §3).
    pub fn challenge(self) -> &'static str {
        match self {
            AuthError::NotConfigured | AuthError::Missing => "Bearer realm=\"calendarbot\"",
            AuthError::Malformed => "Bearer realm=\"calendarbot\", error=\"invalid_request\"",
            AuthError::Invalid => "Bearer realm=\"calendarbot\", error=\"invalid_token\"",
        }
    }
}

/// Constant-time equality of two secrets of any lengths.
pub fn secrets_equal(a: &[u8], b: &[u8]) -> bool {
    let (da, db) = (Sha256::digest(a), Sha256::digest(b));
    bool::from(da.as_slice().ct_eq(db.as_slice()))
}

/// Check an `Authorization` header value against the configured token.
pub fn check_bearer(
    configured: Option<&str>,
    authorization: Option<&[u8]>,
) -> Result<(), AuthError> {
    let expected = configured
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or(AuthError::NotConfigured)?;
    let header = authorization.ok_or(AuthError::Missing)?;
    let header = std::str::from_utf8(header)
        .map_err(|_| AuthError::Malformed)?
        .trim();
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::Malformed)?;
    // The scheme is case-insensitive (RFC 7235 §2.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::Malformed);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(AuthError::Malformed);
    }
    if secrets_equal(token.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(AuthError::Invalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_equality_is_equality() {
        assert!(secrets_equal(b"s3cret", b"s3cret"));
        assert!(!secrets_equal(b"s3cret", b"s3creT"));
        assert!(!secrets_equal(b"s3cret", b"s3cret "));
        assert!(!secrets_equal(b"", b"x"));
        assert!(secrets_equal(b"", b""));
    }

    #[test]
    fn the_right_token_passes() {
        assert_eq!(check_bearer(Some("tok"), Some(b"Bearer tok")), Ok(()));
        assert_eq!(check_bearer(Some("tok"), Some(b"bearer  tok ")), Ok(()));
    }

    #[test]
    fn everything_else_is_refused() {
        let t = Some("tok");
        assert_eq!(check_bearer(t, None), Err(AuthError::Missing));
        assert_eq!(
            check_bearer(t, Some(b"Bearer nope")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            check_bearer(t, Some(b"Bearer tok2")),
            Err(AuthError::Invalid)
        );
        assert_eq!(
            check_bearer(t, Some(b"Basic dG9rOg==")),
            Err(AuthError::Malformed)
        );
        assert_eq!(check_bearer(t, Some(b"tok")), Err(AuthError::Malformed));
        assert_eq!(check_bearer(t, Some(b"Bearer ")), Err(AuthError::Malformed));
        assert_eq!(
            check_bearer(t, Some(b"Bearer \xff")),
            Err(AuthError::Malformed)
        );
        assert_eq!(
            check_bearer(t, Some(&b"\xffBearer tok"[..])),
            Err(AuthError::Malformed)
        );
    }

    #[test]
    fn no_configured_token_closes_the_routes() {
        for configured in [None, Some(""), Some("   ")] {
            for header in [None, Some(&b"Bearer "[..]), Some(&b"Bearer anything"[..])] {
                assert_eq!(
                    check_bearer(configured, header),
                    Err(AuthError::NotConfigured),
                    "{configured:?} {header:?}"
                );
            }
        }
    }

    #[test]
    fn challenges_name_the_bearer_scheme() {
        for e in [
            AuthError::NotConfigured,
            AuthError::Missing,
            AuthError::Malformed,
            AuthError::Invalid,
        ] {
            assert!(e.challenge().starts_with("Bearer "));
        }
    }
}
