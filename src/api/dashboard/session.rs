//! The dashboard's signed session cookie and the CSRF token derived from it.

use std::time::Duration;

use axum::http::HeaderMap;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::api::AppState;
use crate::config::Settings;

/// How long a sign-in lasts.
pub const SESSION: Duration = Duration::from_secs(8 * 60 * 60);

const COOKIE_NAME: &str = "sy_dashboard";

/// What a session may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Signed in with the ops token: every action.
    Ops,
    /// Signed in with `server.dashboard_read_token`: pages only.
    Viewer,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Role::Ops => "ops",
            Role::Viewer => "viewer",
        }
    }

    fn parse(s: &str) -> Option<Role> {
        match s {
            "ops" => Some(Role::Ops),
            "viewer" => Some(Role::Viewer),
            _ => None,
        }
    }

    /// The role `token` signs in as, compared in constant time; none for any other token.
    pub fn of_token(settings: &Settings, token: &str) -> Option<Role> {
        let token = token.trim();
        let same = |expected: &str| -> bool {
            !expected.is_empty() && bool::from(token.as_bytes().ct_eq(expected.as_bytes()))
        };
        if same(settings.server.ops_token.trim()) {
            return Some(Role::Ops);
        }
        match settings.server.dashboard_read_token.as_deref() {
            Some(read) if same(read.trim()) => Some(Role::Viewer),
            _ => None,
        }
    }
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    pub role: Role,
    /// Unix seconds after which the session is refused.
    expires: i64,
}

/// The key sessions are signed with: from the credentials key and both tokens, so changing a
/// token ends every session it opened.
fn key(settings: &Settings) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"switchyard dashboard sessions\0");
    h.update(settings.crypto.credentials_key.trim().as_bytes());
    h.update(b"\0");
    h.update(settings.server.ops_token.trim().as_bytes());
    h.update(b"\0");
    h.update(
        settings
            .server
            .dashboard_read_token
            .as_deref()
            .unwrap_or_default()
            .trim()
            .as_bytes(),
    );
    h.finalize().into()
}

fn sign(settings: &Settings, what: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key(settings)).expect("any key length");
    mac.update(what.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

impl Session {
    pub fn new(role: Role) -> Session {
        Session {
            role,
            expires: now() + SESSION.as_secs() as i64,
        }
    }

    fn body(&self) -> String {
        format!("{}.{}", self.role.as_str(), self.expires)
    }

    fn value(&self, state: &AppState) -> String {
        let body = self.body();
        format!("{body}.{}", sign(&state.settings, &body))
    }

    /// The `Set-Cookie` value that signs this session in.
    pub fn cookie(&self, state: &AppState, secure: bool) -> String {
        format!(
            "{COOKIE_NAME}={}; Path=/dashboard; Max-Age={}; HttpOnly; SameSite=Strict{}",
            self.value(state),
            SESSION.as_secs(),
            if secure { "; Secure" } else { "" }
        )
    }

    /// The `Set-Cookie` value that signs out.
    pub fn cleared(secure: bool) -> String {
        format!(
            "{COOKIE_NAME}=; Path=/dashboard; Max-Age=0; HttpOnly; SameSite=Strict{}",
            if secure { "; Secure" } else { "" }
        )
    }

    /// The session a request's cookie proves: signed with the current key and not expired.
    pub fn from_headers(state: &AppState, headers: &HeaderMap) -> Option<Session> {
        let value = super::super::extract::cookie(headers, COOKIE_NAME)?;
        let (body, signature) = value.rsplit_once('.')?;
        let expected = sign(&state.settings, body);
        if !bool::from(signature.as_bytes().ct_eq(expected.as_bytes())) {
            return None;
        }
        let (role, expires) = body.split_once('.')?;
        let session = Session {
            role: Role::parse(role)?,
            expires: expires.parse().ok()?,
        };
        (session.expires > now()).then_some(session)
    }

    /// The CSRF token of this session's forms.
    pub fn csrf(&self, state: &AppState) -> String {
        sign(&state.settings, &format!("csrf.{}", self.value(state)))
    }

    pub fn csrf_matches(&self, state: &AppState, presented: &str) -> bool {
        let expected = self.csrf(state);
        !presented.is_empty() && bool::from(presented.as_bytes().ct_eq(expected.as_bytes()))
    }
}
