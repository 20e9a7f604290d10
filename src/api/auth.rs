//! The ops bearer token that guards `/v1`.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;
use crate::error::AppError;

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive, RFC 9110).
pub(super) fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares in time independent of where the first differing byte is, so response timing does
/// not reveal the token a byte at a time. (Its length can still show; it is not a secret worth
/// hiding at the cost of hashing every request.)
fn token_matches(presented: &str, expected: &str) -> bool {
    presented.as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Lets a request through only with the configured ops token; otherwise 401 problem+json with a
/// `WWW-Authenticate` challenge, as RFC 6750 asks.
pub(super) async fn require_ops_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let authorised = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer)
        .is_some_and(|t| token_matches(t, &state.settings.server.ops_token));
    if authorised {
        return next.run(req).await;
    }
    let mut res = AppError::Unauthorized.into_response();
    res.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_are_read_from_the_header() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
    }

    #[test]
    fn only_the_exact_token_matches() {
        assert!(token_matches("test-token", "test-token"));
        assert!(!token_matches("test-tokem", "test-token"));
        assert!(!token_matches("test-token-longer", "test-token"));
        assert!(!token_matches("", "test-token"));
    }
}
