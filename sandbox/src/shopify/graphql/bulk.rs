//! Bulk operations: `bulkOperationRunQuery` accepts a query whose connections take no page size,
//! runs it in the background after the shop's configured delay, and serves the result as JSONL
//! from an unauthenticated URL (as Shopify hands out a signed storage URL). Each node is one
//! line; the nodes of a nested connection follow their parent as lines of their own, carrying
//! `"__parentId"`. One query operation runs per shop at a time.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Map, Value};

use super::cost;
use super::document::{self, OperationKind, Selection};
use super::exec;
use super::ids::gid;
use super::payload::{Outcome, Payload, UserError};
use super::resolve::Obj;
use super::schema::{self, Kind};
use super::state::{BulkOperation, BulkStatus};
use super::GraphqlApi;
use crate::http_util::random_hex;
use crate::shopify::errors::not_found;
use crate::shopify::store::ShopifyStore;
use crate::timefmt;

const PAYLOAD: &str = "BulkOperationRunQueryPayload";
const ERROR: &str = "BulkOperationUserError";

fn refused(
    type_name: &'static str,
    field: Option<&str>,
    message: &str,
    code: &'static str,
) -> Payload {
    let field: Vec<&str> = field.into_iter().collect();
    Payload {
        type_name,
        error_type: ERROR,
        outcome: Outcome::Nothing,
        errors: vec![UserError::new(&field, message, Some(code))],
    }
}

/// Why `query` cannot run in bulk, if it cannot.
fn check(query: &str) -> Result<(), String> {
    let op = document::prepare(query, &Value::Null, None).map_err(|e| e.message)?;
    if op.kind != OperationKind::Query {
        return Err("Bulk queries must be queries, not mutations.".into());
    }
    cost::requested(&op, true).map_err(|errors| {
        errors
            .iter()
            .map(|e| e.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    })?;
    let has_connection = op.fields.iter().any(|f| {
        matches!(
            schema::field("QueryRoot", &f.name),
            Some(Kind::Connection(_))
        )
    });
    if !has_connection {
        return Err("Bulk queries must contain at least one connection.".into());
    }
    Ok(())
}

/// `bulkOperationRunQuery(query:)`.
pub fn run_query(api: &GraphqlApi, field: &Selection) -> Payload {
    let query = field.arg_str("query").unwrap_or("").to_owned();
    if let Err(message) = check(&query) {
        return refused(PAYLOAD, Some("query"), &message, "INVALID");
    }
    let store = &api.store;
    let operation = {
        let mut state = store.state();
        if let Some(running) = state.graphql.running_bulk() {
            return refused(
                PAYLOAD,
                None,
                &format!(
                    "A bulk query operation for this app and shop is already in progress: {}.",
                    gid("BulkOperation", running.id)
                ),
                "OPERATION_IN_PROGRESS",
            );
        }
        state.graphql.bulk_seq += 1;
        let operation = BulkOperation {
            id: 3_300_000_000 + state.graphql.bulk_seq,
            query,
            status: BulkStatus::Running,
            created_at: timefmt::now(),
            completed_at: None,
            object_count: 0,
            root_object_count: 0,
            file_size: 0,
            url: None,
        };
        state.graphql.bulk_operations.push(operation.clone());
        operation
    };
    let (id, delay) = (
        operation.id,
        Duration::from_millis(store.config.bulk_operation_delay_ms),
    );
    let (store, shutdown) = (api.store.clone(), api.shutdown.clone());
    tokio::spawn(async move {
        tokio::select! {
            _ = tokio::time::sleep(delay) => complete(&store, id),
            _ = shutdown.cancelled() => {}
        }
    });
    Payload {
        type_name: PAYLOAD,
        error_type: ERROR,
        outcome: Outcome::Bulk(BulkOperation {
            status: BulkStatus::Created,
            ..operation
        }),
        errors: Vec::new(),
    }
}

/// `bulkOperationCancel(id:)`.
pub fn cancel(api: &GraphqlApi, field: &Selection) -> Payload {
    const TYPE: &str = "BulkOperationCancelPayload";
    let text = field.arg_str("id").unwrap_or("");
    let mut state = api.store.state();
    let operation =
        super::ids::parse_of(text, "BulkOperation").and_then(|id| state.graphql.bulk_mut(id));
    match operation {
        None => refused(TYPE, Some("id"), "Bulk operation does not exist", "INVALID"),
        Some(op) if op.status.finished() => refused(
            TYPE,
            Some("id"),
            &format!(
                "A bulk operation cannot be canceled when it is {}",
                op.status.as_str().to_lowercase()
            ),
            "INVALID",
        ),
        Some(op) => {
            op.status = BulkStatus::Canceled;
            op.completed_at = Some(timefmt::now());
            Payload {
                type_name: TYPE,
                error_type: ERROR,
                outcome: Outcome::Bulk(op.clone()),
                errors: Vec::new(),
            }
        }
    }
}

/// Runs operation `id` (unless it was cancelled) and stores its result.
fn complete(store: &ShopifyStore, id: u64) {
    let mut state = store.state();
    let Some(query) = state
        .graphql
        .bulk(id)
        .filter(|op| op.status == BulkStatus::Running)
        .map(|op| op.query.clone())
    else {
        return;
    };
    let result = document::prepare(&query, &Value::Null, None).map(|op| {
        let (projection, _) = exec::run(store, &state, true, &Obj::Query, &op.fields, &[]);
        jsonl(&projection.value, &op.fields)
    });
    let now = timefmt::now();
    let token = random_hex(16);
    let stored = match result {
        Ok((lines, roots)) => {
            let mut body = Vec::new();
            for line in &lines {
                body.extend_from_slice(line.to_string().as_bytes());
                body.push(b'\n');
            }
            Some((lines.len() as u64, roots, Bytes::from(body)))
        }
        Err(_) => None,
    };
    let url = format!("{}/bulk-results/{token}.jsonl", store.base_url());
    if let Some((_, _, body)) = stored.as_ref().filter(|(n, _, _)| *n > 0) {
        state.graphql.bulk_results.insert(token, body.clone());
    }
    if let Some(op) = state.graphql.bulk_mut(id) {
        op.completed_at = Some(now);
        match stored {
            Some((objects, roots, body)) => {
                op.status = BulkStatus::Completed;
                op.object_count = objects;
                op.root_object_count = roots;
                op.file_size = body.len() as u64;
                op.url = (objects > 0).then_some(url);
            }
            None => op.status = BulkStatus::Failed,
        }
    }
}

/// The JSONL lines of a bulk query's answer, and how many are top-level nodes.
fn jsonl(data: &Value, fields: &[Selection]) -> (Vec<Value>, u64) {
    let mut lines = Vec::new();
    let mut roots = 0;
    for field in fields {
        if let Some(Kind::Connection(node_type)) = schema::field("QueryRoot", &field.name) {
            let before = lines.len();
            flatten(&data[&field.key], field, node_type, None, &mut lines);
            roots += lines[before..]
                .iter()
                .filter(|l| l.get("__parentId").is_none())
                .count() as u64;
        }
    }
    (lines, roots)
}

/// Emits the nodes of one connection answer, each followed by its nested connections' nodes.
fn flatten(
    connection: &Value,
    field: &Selection,
    node_type: &str,
    parent: Option<&Value>,
    lines: &mut Vec<Value>,
) {
    let mut node_fields: Vec<&Selection> = Vec::new();
    for child in &field.children {
        match child.name.as_str() {
            "nodes" => node_fields.extend(child.children.iter()),
            "edges" => node_fields.extend(
                child
                    .children
                    .iter()
                    .filter(|e| e.name == "node")
                    .flat_map(|e| e.children.iter()),
            ),
            _ => {}
        }
    }
    let nodes: Vec<&Value> = match (connection.get("nodes"), connection.get("edges")) {
        (Some(Value::Array(nodes)), _) => nodes.iter().collect(),
        (_, Some(Value::Array(edges))) => edges.iter().filter_map(|e| e.get("node")).collect(),
        _ => Vec::new(),
    };
    for node in nodes {
        let Value::Object(map) = node else { continue };
        let mut line: Map<String, Value> = map.clone();
        let mut nested = Vec::new();
        for f in &node_fields {
            if let Some(Kind::Connection(t)) = schema::field(node_type, &f.name) {
                if let Some(value) = line.remove(&f.key) {
                    nested.push((value, *f, t));
                }
            }
        }
        if let Some(parent) = parent {
            line.insert("__parentId".into(), parent.clone());
        }
        let id = line.get("id").cloned().unwrap_or(Value::Null);
        lines.push(Value::Object(line));
        for (value, f, t) in nested {
            flatten(&value, f, t, Some(&id), lines);
        }
    }
}

/// `GET {shop}/bulk-results/{token}.jsonl`: a finished operation's result, without credentials.
pub async fn download(
    State(store): State<Arc<ShopifyStore>>,
    Path(params): Path<HashMap<String, String>>,
) -> Response {
    let token = params
        .get("file")
        .and_then(|f| f.strip_suffix(".jsonl"))
        .unwrap_or("");
    let body = store.state().graphql.bulk_results.get(token).cloned();
    match body {
        Some(body) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/jsonl")],
            body,
        )
            .into_response(),
        None => not_found(),
    }
}
