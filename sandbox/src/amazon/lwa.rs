//! Login with Amazon (LWA): the token endpoint `POST /auth/o2/token` that trades the seller's
//! refresh token for an access token (`Atza|…`, an hour by default), and the check every SP-API
//! call makes of `x-amz-access-token`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::json;

use super::errors;
use super::store::AmazonSeller;
use crate::faults::lock;
use crate::http_util::{constant_time_eq, json, random_hex};
use crate::query::Query;

/// Access tokens issued, each with the instant it expires.
#[derive(Debug)]
pub struct Tokens {
    lifetime: Duration,
    issued: Mutex<HashMap<String, Instant>>,
}

/// What the check of an access token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Valid,
    Expired,
    Unknown,
}

impl Tokens {
    pub fn new(lifetime_secs: u64) -> Tokens {
        Tokens {
            lifetime: Duration::from_secs(lifetime_secs),
            issued: Mutex::new(HashMap::new()),
        }
    }

    /// A fresh token and its lifetime in seconds.
    pub fn issue(&self) -> (String, u64) {
        let token = format!("Atza|{}", random_hex(48));
        lock(&self.issued).insert(token.clone(), Instant::now() + self.lifetime);
        (token, self.lifetime.as_secs())
    }

    pub fn check(&self, token: &str) -> TokenCheck {
        match lock(&self.issued).get(token) {
            Some(expires) if Instant::now() < *expires => TokenCheck::Valid,
            Some(_) => TokenCheck::Expired,
            None => TokenCheck::Unknown,
        }
    }

    pub fn expire_all(&self) {
        let now = Instant::now();
        for expires in lock(&self.issued).values_mut() {
            *expires = now;
        }
    }
}

fn invalid(error: &str, description: &str) -> Response {
    json(
        StatusCode::BAD_REQUEST,
        &json!({"error": error, "error_description": description}),
    )
}

/// `POST /auth/o2/token`, form-encoded, `grant_type=refresh_token` only: the grant an SP-API
/// app uses once a seller has authorised it.
pub async fn token(State(seller): State<Arc<AmazonSeller>>, body: Bytes) -> Response {
    let form = Query::parse(&String::from_utf8_lossy(&body));
    let field = |name: &str| form.get(name).unwrap_or("").to_owned();
    let grant_type = field("grant_type");
    if grant_type.is_empty() {
        return invalid(
            "invalid_request",
            "The request is missing a required parameter : grant_type",
        );
    }
    if grant_type != "refresh_token" {
        return invalid(
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let client_ok = constant_time_eq(
        field("client_id").as_bytes(),
        seller.config.lwa_client_id.as_bytes(),
    ) && constant_time_eq(
        field("client_secret").as_bytes(),
        seller.config.lwa_client_secret.as_bytes(),
    );
    if !client_ok {
        return json(
            StatusCode::UNAUTHORIZED,
            &json!({
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }),
        );
    }
    if !constant_time_eq(
        field("refresh_token").as_bytes(),
        seller.config.refresh_token.as_bytes(),
    ) {
        return invalid(
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let (access_token, expires_in) = seller.tokens.issue();
    json(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "refresh_token": seller.config.refresh_token,
            "token_type": "bearer",
            "expires_in": expires_in,
        }),
    )
}

/// Middleware: every SP-API call carries a live LWA access token in `x-amz-access-token`.
pub async fn authenticate(
    State(seller): State<Arc<AmazonSeller>>,
    req: Request,
    next: Next,
) -> Response {
    let token = req
        .headers()
        .get("x-amz-access-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match seller.tokens.check(token) {
        TokenCheck::Valid => next.run(req).await,
        TokenCheck::Expired => errors::unauthorized("The access token you provided has expired."),
        TokenCheck::Unknown => errors::unauthorized("Access to requested resource is denied."),
    }
}
