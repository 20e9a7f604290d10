//! Authentication of `/v1`: each route group takes one kind of bearer token (the ops token, an
//! account's API token, or a plugin's callback token), resolved once per request by
//! [`authenticate`] into the [`Principal`] that extractors and the idempotency layer read.

use axum::extract::{Request, State};
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::tenant::db;
use super::AppState;
use crate::api::error::AppError;
use crate::store::plugins::CallbackCaller;
use crate::store::{self, AccountId};

/// Who a request's token proved it to be. Left in the request's extensions by [`authenticate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Principal {
    Ops,
    Account(AccountId),
    Plugin(CallbackCaller),
}

impl Principal {
    /// Names the caller, not the token it used: every spelling of one token, and every token of
    /// one account, is the same caller.
    pub(super) fn scope(&self) -> String {
        match self {
            Principal::Ops => "ops".to_owned(),
            Principal::Account(account) => format!("account:{}", account.0),
            Principal::Plugin(caller) => format!("plugin:{}", caller.plugin_id),
        }
    }
}

/// The kind of token a route group takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Audience {
    /// The queue, job and onboarding routes: `server.ops_token`.
    Ops,
    /// An account's own data: one of its API tokens.
    Tenant,
    /// `/v1/plugin-callbacks`: a plugin's callback token, which opens only its own store.
    Plugin,
}

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

/// 401 problem+json with the `WWW-Authenticate` challenge RFC 6750 asks for.
pub(super) fn unauthorized() -> Response {
    let mut res = AppError::Unauthorized.into_response();
    res.headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    res
}

async fn resolve(
    state: &AppState,
    audience: Audience,
    token: &str,
) -> Result<Option<Principal>, AppError> {
    Ok(match audience {
        Audience::Ops => {
            token_matches(token, &state.settings.server.ops_token).then_some(Principal::Ops)
        }
        Audience::Tenant => store::accounts::authenticate(db(state)?, token)
            .await?
            .map(Principal::Account),
        Audience::Plugin => store::plugins::authenticate(db(state)?, token)
            .await?
            .map(Principal::Plugin),
    })
}

/// Lets a request through only with a token of `audience`, leaving its [`Principal`] in the
/// request's extensions; otherwise answers [`unauthorized`] before anything else runs.
pub(super) async fn authenticate(
    State((state, audience)): State<(AppState, Audience)>,
    mut req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer);
    let principal = match token {
        Some(token) => resolve(&state, audience, token).await,
        None => Ok(None),
    };
    match principal {
        Ok(Some(principal)) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Ok(None) => unauthorized(),
        Err(e) => e.into_response(),
    }
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
