//! Two things that happen to a write after it is handled. `Idempotency-Key`: the answer to a
//! create or update made with a key is kept (a day), and a request repeating the key gets that
//! answer again and writes nothing (requests with the same key are handled one at a time, so two
//! racing retries cannot both write). Lost answers: a committed write whose answer is then held
//! back past the client's timeout, or whose connection is cut (see [`XeroOrg::lose_answers`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tokio_util::sync::CancellationToken;

use super::store::{LostAnswer, Replay, XeroOrg};

/// Largest answer kept for replay.
const MAX_ANSWER: usize = 16 << 20;

fn is_write(method: &Method) -> bool {
    method == Method::PUT || method == Method::POST
}

/// Middleware: replays the stored answer for a repeated `Idempotency-Key`, or stores a new one.
pub async fn idempotent(State(org): State<Arc<XeroOrg>>, req: Request, next: Next) -> Response {
    let key = req
        .headers()
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| !k.is_empty())
        .map(str::to_owned);
    let Some(key) = key.filter(|_| is_write(req.method())) else {
        return next.run(req).await;
    };
    let scoped = format!("{} {} {key}", req.method(), req.uri().path());
    let _one_at_a_time = org.keyed_writes.lock().await;
    if let Some(replay) = org.replay(&scoped) {
        return answer(replay.status, replay.body);
    }
    let response = next.run(req).await;
    let status = response.status();
    if status.is_server_error() || status.as_u16() == 429 {
        return response;
    }
    let body = match to_bytes(response.into_body(), MAX_ANSWER).await {
        Ok(body) => body,
        Err(_) => return answer(status, Bytes::new()),
    };
    org.remember(
        scoped,
        Replay {
            at: Instant::now(),
            status,
            body: body.clone(),
        },
    );
    answer(status, body)
}

fn answer(status: axum::http::StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    response
}

/// State of the lost-answer middleware.
#[derive(Clone)]
pub struct LostLayer {
    pub org: Arc<XeroOrg>,
    pub shutdown: CancellationToken,
}

/// Middleware: after a successful write, loses its answer if the organisation is told to.
pub async fn lose(State(layer): State<LostLayer>, req: Request, next: Next) -> Response {
    let write = is_write(req.method());
    let response = next.run(req).await;
    if !write || !response.status().is_success() {
        return response;
    }
    match layer.org.take_lost_answer() {
        None => response,
        Some(LostAnswer::Delay { ms }) => {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(ms)) => {}
                _ = layer.shutdown.cancelled() => {}
            }
            response
        }
        Some(LostAnswer::Drop) => {
            let (parts, _) = response.into_parts();
            let cut = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::other("connection dropped"))
            });
            Response::from_parts(parts, Body::from_stream(cut))
        }
    }
}
