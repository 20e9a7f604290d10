//! The GraphQL Admin API: `POST /admin/api/{version}/graphql.json`, beside the REST surface and on
//! the same state.
//!
//! A request goes: parse (`document`), check against the schema and work out its requested cost
//! (`cost`), refuse it above the single-query maximum, charge the shop's cost bucket (`bucket`)
//! or answer THROTTLED (HTTP 200, as Shopify), run it (`exec` over `resolve`, or `mutations`),
//! refund what it did not use, and answer `data` with `extensions.cost`. Bulk queries run in
//! the background (`bulk`).
//!
//! The endpoint shares the REST surface's traffic counting, token check and fault injection, but
//! not its leaky bucket: an injected 429 burst answers THROTTLED here. Requests are counted by
//! root field (`POST /admin/api/{version}/graphql.json inventorySetQuantities`).

pub mod bucket;
mod bulk;
mod cost;
mod document;
mod errors;
mod exec;
mod ids;
mod inventory;
mod mutations;
mod payload;
mod resolve;
mod schema;
mod search;
pub mod state;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_util::sync::CancellationToken;

pub use bulk::download as bulk_download;

use self::document::{Operation, OperationKind};
use self::errors::GqlError;
use self::resolve::Obj;
use super::errors::{missing_root, render_fault as rest_fault};
use super::store::ShopifyStore;
use crate::faults::{lock, InjectedFault};
use crate::http_util::json;
use crate::store::PlatformStore;
use crate::traffic::RouteDetail;

/// The GraphQL endpoint's state: the shop, and the sandbox's shutdown signal for bulk work.
#[derive(Clone)]
pub struct GraphqlApi {
    pub store: Arc<ShopifyStore>,
    pub shutdown: CancellationToken,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlRequest {
    query: Option<String>,
    #[serde(default)]
    variables: Value,
    operation_name: Option<String>,
}

/// The request's document: a JSON body, or the raw query with `application/graphql`.
fn read_body(headers: &HeaderMap, body: &Bytes) -> Option<GraphqlRequest> {
    let raw = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/graphql"));
    if raw {
        return Some(GraphqlRequest {
            query: Some(String::from_utf8_lossy(body).into_owned()),
            variables: Value::Null,
            operation_name: None,
        });
    }
    serde_json::from_slice(body).ok()
}

/// `extensions.cost`; `actual` is `None` when nothing ran.
fn cost_extension(store: &ShopifyStore, requested: u64, actual: Option<u64>) -> Value {
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": lock(&store.cost_bucket).status(),
        }
    })
}

/// An answer with `errors` and no `data`, such as a refused document.
fn refused(
    store: &ShopifyStore,
    errors: &[GqlError],
    requested: u64,
    detail: RouteDetail,
) -> Response {
    let body = json!({
        "errors": errors.iter().map(GqlError::to_json).collect::<Vec<_>>(),
        "extensions": cost_extension(store, requested, None),
    });
    with_detail(json(StatusCode::OK, &body), detail)
}

fn throttled(store: &ShopifyStore, requested: u64, mut detail: RouteDetail) -> Response {
    detail.graphql_throttled = true;
    let error = GqlError::new("Throttled", "THROTTLED").with(
        "documentation",
        json!("https://shopify.dev/api/usage/rate-limits"),
    );
    refused(store, &[error], requested, detail)
}

fn with_detail(mut response: Response, detail: RouteDetail) -> Response {
    response.extensions_mut().insert(detail);
    response
}

fn detail_of(op: &Operation) -> RouteDetail {
    RouteDetail {
        operations: op.fields.iter().map(|f| f.name.clone()).collect(),
        graphql_throttled: false,
    }
}

pub async fn execute(State(api): State<GraphqlApi>, headers: HeaderMap, body: Bytes) -> Response {
    let store = &api.store;
    let Some(request) = read_body(&headers, &body)
        .filter(|r| r.query.as_deref().is_some_and(|q| !q.trim().is_empty()))
    else {
        return missing_root("query");
    };
    let query = request.query.unwrap_or_default();
    let op = match document::prepare(
        &query,
        &request.variables,
        request.operation_name.as_deref(),
    ) {
        Ok(op) => op,
        Err(e) => return refused(store, &[e], 0, RouteDetail::default()),
    };
    let detail = detail_of(&op);
    let requested = match cost::requested(&op, false) {
        Ok(cost) => cost,
        Err(errors) => return refused(store, &errors, 0, detail),
    };
    if requested > cost::MAX_QUERY_COST {
        return refused(store, &[cost::too_expensive(requested)], requested, detail);
    }
    if !lock(&store.cost_bucket).try_charge(requested) {
        return throttled(store, requested, detail);
    }
    let (data, errors, actual, lose_answer) = match op.kind {
        OperationKind::Query => {
            let state = store.state();
            let (projection, errors) =
                exec::run(store, &state, false, &Obj::Query, &op.fields, &[]);
            (projection.value, errors, projection.cost, false)
        }
        OperationKind::Mutation => mutate(&api, &op),
    };
    lock(&store.cost_bucket).refund(requested.saturating_sub(actual));
    if lose_answer {
        return with_detail(rest_fault(InjectedFault::ServerError), detail);
    }
    let mut answer = Map::new();
    answer.insert("data".into(), data);
    if !errors.is_empty() {
        answer.insert(
            "errors".into(),
            errors.iter().map(GqlError::to_json).collect(),
        );
    }
    answer.insert(
        "extensions".into(),
        cost_extension(store, requested, Some(actual)),
    );
    with_detail(json(StatusCode::OK, &Value::Object(answer)), detail)
}

/// Runs each mutation field in turn: change under the lock, project the payload, then send the
/// webhooks it set off. The last value is true when a shipment's answer is to be lost.
fn mutate(api: &GraphqlApi, op: &Operation) -> (Value, Vec<GqlError>, u64, bool) {
    let store = &api.store;
    let mut data = Map::new();
    let mut errors = Vec::new();
    let mut cost = 0;
    let mut lose_answer = false;
    for field in &op.fields {
        cost += cost::MUTATION_COST;
        let done = match mutations::run(api, field) {
            Ok(done) => done,
            Err(mut e) => {
                e.path = Some(vec![json!(field.key)]);
                e.locations = Some(field.location());
                errors.push(e);
                data.insert(field.key.clone(), Value::Null);
                continue;
            }
        };
        let projection = {
            let state = store.state();
            let payload = Obj::Payload(&done.payload);
            let (p, field_errors) = exec::run(
                store,
                &state,
                false,
                &payload,
                &field.children,
                &[json!(field.key)],
            );
            errors.extend(field_errors);
            p
        };
        cost += projection.cost;
        data.insert(field.key.clone(), projection.value);
        store.dispatch(done.outgoing);
        lose_answer |= done.shipped && store.common.take_lost_answer();
    }
    (Value::Object(data), errors, cost, lose_answer)
}

/// Renders an injected fault: a 429 burst becomes THROTTLED answers (completed with the bucket's
/// status by [`complete_injected_throttle`]), a 5xx as on REST.
pub fn render_fault(fault: InjectedFault) -> Response {
    match fault {
        InjectedFault::TooManyRequests { .. } => {
            let mut response = Response::new(Body::empty());
            response.extensions_mut().insert(InjectedThrottle);
            response
        }
        InjectedFault::ServerError => rest_fault(fault),
    }
}

/// Marks a response the fault layer throttled.
#[derive(Debug, Clone, Copy)]
struct InjectedThrottle;

/// Middleware outside the fault layer: turns an injected throttle into the full THROTTLED answer,
/// with the request's cost and the bucket's status.
pub async fn complete_injected_throttle(
    State(api): State<GraphqlApi>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return missing_root("query");
    };
    let headers = parts.headers.clone();
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if response.extensions().get::<InjectedThrottle>().is_none() {
        return response;
    }
    let op = read_body(&headers, &bytes).and_then(|r| {
        document::prepare(
            r.query.as_deref().unwrap_or(""),
            &r.variables,
            r.operation_name.as_deref(),
        )
        .ok()
    });
    let detail = op.as_ref().map(detail_of).unwrap_or_default();
    let requested = op
        .as_ref()
        .and_then(|op| cost::requested(op, false).ok())
        .unwrap_or(0);
    throttled(&api.store, requested, detail)
}
