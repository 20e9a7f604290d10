//! The API's error type: every failure a client can cause is a 4xx problem+json (RFC 9457) with a
//! stable `type`; anything else is logged and shown as a 500 without internals.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::problem::Problem;
use crate::queue::QueueError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{detail}")]
    Invalid {
        detail: String,
        field: Option<String>,
    },
    #[error("{0} not found")]
    NotFound(String),
    #[error("missing or invalid bearer token")]
    Unauthorized,
    #[error("the webhook signature does not verify")]
    BadSignature,
    #[error("malformed request: {0}")]
    BadRequest(String),
    #[error("queue store: {0}")]
    Queue(#[from] QueueError),
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// PostgreSQL refused a value of the request (a data exception). The API's edge refuses such
    /// values before they reach the database (`api::extract`), so one that got through is
    /// logged as a warning, for the check that missed it to be added.
    #[error("a value of the request cannot be stored: {0}")]
    Unstorable(String),
}

/// SQLSTATE class 22, "data exception": PostgreSQL refused a value (a NUL in text, a time or a
/// number out of its type's range, text that does not cast).
const DATA_EXCEPTION_CLASS: &str = "22";

/// A database error is the service's (a 503 the client may retry), except a data exception:
/// that is the value the client sent, which no retry will change, so it is their 422.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> AppError {
        let refused = err.as_database_error().and_then(|e| {
            let code = e.code()?;
            code.starts_with(DATA_EXCEPTION_CLASS)
                .then(|| format!("{} (SQLSTATE {code})", e.message()))
        });
        match refused {
            Some(what) => AppError::Unstorable(what),
            None => AppError::Database(err),
        }
    }
}

/// A 422 naming the request's `field` that `detail` is about.
pub(super) fn field(detail: impl Into<String>, field: &str) -> AppError {
    AppError::invalid(detail, Some(field.to_owned()))
}

impl AppError {
    pub fn invalid(detail: impl Into<String>, field: impl Into<Option<String>>) -> AppError {
        AppError::Invalid {
            detail: detail.into(),
            field: field.into(),
        }
    }

    /// The status, problem `type` slug and title of the error.
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            AppError::Invalid { .. } | AppError::Unstorable(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "Invalid request",
            ),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            AppError::Unauthorized | AppError::BadSignature => {
                (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized")
            }
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            AppError::Queue(_) | AppError::Database(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "A backing store is unavailable",
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, slug, title) = self.parts();
        let detail = if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
            "the service could not complete the request; try again".to_owned()
        } else {
            if let AppError::Unstorable(_) = &self {
                tracing::warn!(error = %self, "the database refused a value of the request");
            }
            self.to_string()
        };
        let field = match &self {
            AppError::Invalid { field, .. } => field.as_deref(),
            _ => None,
        };
        Problem::new(status, slug, title, &detail)
            .field(field)
            .into_response()
    }
}
