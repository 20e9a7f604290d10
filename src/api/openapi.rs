//! The API's contract: an OpenAPI 3.1 document generated from the handlers. Each resource module
//! describes its operations with `#[utoipa::path]` next to the handler and lists them in its
//! `Doc`; [`document`] merges the modules' documents in the groups [`super::PARTS`] also builds
//! the router from, then adds what every operation of a group shares, so no handler repeats it:
//! the group's security scheme, the problem+json answers the layers and extractors can give
//! (401, 400, 404, 408, 413, 422, 503), and `Idempotency-Key` on authenticated POSTs.
//!
//! Served at `GET /openapi.json`, rendered at `/docs`, converted to a Postman collection by
//! [`super::postman`], and written by `switchyard openapi`.

use serde_json::{json, Map, Value};
use utoipa::openapi::OpenApi;

use super::auth::Audience;
use super::problem::PROBLEM_TYPES;
use crate::domain::event_type::{Action, EventType, WEBHOOK_TEST};

/// problem+json, for an operation's own error answers:
/// `(status = 409, description = "...", body = Problem, content_type = "application/problem+json")`.
/// The document's `Problem` schema is [`problem_schema`], which replaces this placeholder's.
#[derive(utoipa::ToSchema)]
pub(super) struct Problem {}

/// Where a [`super::Part`]'s routes come from and who may call them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Probes and metrics: no token.
    Public,
    /// A channel platform's own webhooks, proven by the platform's HMAC signature.
    Platform,
    /// Behind one of the API's tokens.
    Token(Audience),
}

impl Access {
    fn scheme(self) -> Option<&'static str> {
        match self {
            Access::Token(Audience::Ops) => Some("ops_token"),
            Access::Token(Audience::Tenant) => Some("tenant_token"),
            Access::Token(Audience::Plugin) => Some("plugin_token"),
            Access::Public | Access::Platform => None,
        }
    }
}

const INTRO: &str = "\
switchyard imports every order of a merchant's sales channels in one unified format, pushes \
fulfilments back, keeps stock in sync on every channel, sends signed webhooks and routes orders to \
fulfilment plugins.

**Tokens.** Tenant routes (stores, channels, orders, products, fulfilments, plugins, webhooks) take \
an account's API token; operator routes (queues, jobs, dead letters, accounts) take the operator \
token (`server.ops_token`); plugin callbacks take the callback token a plugin was given when it was \
created. Each is sent as `Authorization: Bearer <token>`. A resource of another account answers 404, \
exactly as one that does not exist.

**Errors.** Every error is `application/problem+json` (RFC 9457) with a stable `type` URI; see the \
`Problem` schema for the list. A 422 names the request field at fault in `field`.

**Retries.** An authenticated POST may carry `Idempotency-Key`: a retry with the same key and the \
same request gets the first answer back (with `Idempotent-Replayed: true`) instead of acting twice.

**Paging.** Lists answer `{\"items\": [...], \"next_cursor\": ...}`; pass `next_cursor` back as \
`cursor` for the next page until it is null. `limit` is 1 to 200 (default 50).";

/// The resources in the order the reference page shows them and a Postman run needs them (what
/// a resource belongs to comes before it), each with what it is.
pub const TAGS: [(&str, &str); 19] = [
    (
        "Accounts",
        "Tenant accounts and their first API token (operator).",
    ),
    (
        "Stores",
        "An account's brands or customers; each groups channels.",
    ),
    (
        "Channels",
        "Sales channels (Shopify, WooCommerce) connected to a store, with their \
      settings and health; imports, stock pushes and product downloads on demand.",
    ),
    (
        "Channel products",
        "The listings each channel holds, matched to products by SKU.",
    ),
    (
        "Products",
        "The store's products: stock levels, kits and their components, movements.",
    ),
    (
        "Orders",
        "Every channel's orders in one unified format, with their events.",
    ),
    (
        "Fulfilments",
        "Shipments of an order's lines, pushed back to its channel.",
    ),
    ("Plugins", "Fulfilment-centre plugins orders are routed to."),
    (
        "Plugin rules",
        "Rules that tag, hold, exclude or route an order to a plugin at import.",
    ),
    (
        "Plugin callbacks",
        "What a plugin reports back: stock levels and fulfilments (plugin token).",
    ),
    (
        "Webhooks",
        "Signed webhook endpoints, their deliveries and attempts; replay and recover.",
    ),
    (
        "Accounting",
        "A store's organisation on Xero or Sage, connected through the platform's OAuth \
         authorization.",
    ),
    ("Jobs", "Typed jobs on the queues (operator)."),
    (
        "Queues",
        "Queue depths and counters; pause and resume (operator).",
    ),
    (
        "Dead letters",
        "Jobs that failed for good: list, requeue, delete (operator).",
    ),
    (
        "Inbound webhooks",
        "Channel platforms' own webhooks, proven by their HMAC signature.",
    ),
    (
        "Health",
        "Liveness, readiness and Prometheus metrics, for load balancers and scrapers.",
    ),
    (
        "Contract",
        "This document, the Postman collection and the reference page.",
    ),
    (
        "Webhook events",
        "What switchyard sends to a webhook endpoint (see `webhooks`).",
    ),
];

/// The whole document.
pub fn document() -> Value {
    let mut doc = base();
    // The paths that need no backing store: the public parts' (probes, metrics, the contract).
    let mut storeless = std::collections::BTreeSet::new();
    for part in super::PARTS {
        let mut piece = (part.doc)();
        if part.access == Access::Public {
            storeless.extend(piece.paths.paths.keys().cloned());
        }
        secure(&mut piece, part.access);
        doc.merge(piece);
    }
    let mut doc = serde_json::to_value(&doc).expect("an OpenAPI document serialises");
    doc["tags"] = TAGS
        .iter()
        .map(|(name, description)| json!({ "name": name, "description": description }))
        .collect();
    add_shared(&mut doc, &storeless);
    doc
}

fn base() -> OpenApi {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("switchyard")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(INTRO))
                .license(Some(
                    utoipa::openapi::LicenseBuilder::new()
                        .name("MIT OR Apache-2.0")
                        .identifier(Some("MIT OR Apache-2.0"))
                        .build(),
                ))
                .build(),
        )
        .build();
    doc.paths = utoipa::openapi::Paths::new();
    doc
}

/// Puts `access`'s security requirement on every operation of `piece`.
fn secure(piece: &mut OpenApi, access: Access) {
    let Some(scheme) = access.scheme() else {
        return;
    };
    let requirement = utoipa::openapi::security::SecurityRequirement::new::<_, _, &str>(scheme, []);
    for item in piece.paths.paths.values_mut() {
        for op in operations(item) {
            op.security = Some(vec![requirement.clone()]);
        }
    }
}

fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The HTTP methods an OpenAPI path item can hold, lower case as the document spells them.
pub const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];

fn problem_ref(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/problem+json": {
            "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

/// The answers any operation may give besides its own, as component responses.
fn shared_responses() -> Value {
    json!({
        "BadRequest": problem_ref(
            "The body is not JSON, is not sent as `application/json`, or a path segment does \
             not parse (`bad-request`)."),
        "Unauthorized": problem_ref(
            "No token, or not one this route takes (`unauthorized`)."),
        "NotFound": problem_ref(
            "No such resource in the caller's account (`not-found`)."),
        "IdempotencyConflict": problem_ref(
            "The `Idempotency-Key` was used with another request (`idempotency-key-reused`) \
             or its first request is still running (`idempotency-key-in-use`)."),
        "Timeout": problem_ref(
            "The request took longer than `server.request_timeout_secs` (`timeout`)."),
        "TooLarge": problem_ref(
            "The body is over `server.body_limit_bytes` (`payload-too-large`)."),
        "Invalid": problem_ref(
            "A value of the body, query or path is of the wrong shape or out of range \
             (`invalid`); `field` names it."),
        "Unavailable": problem_ref(
            "PostgreSQL or Redis did not answer in time (`unavailable`); retry later."),
    })
}

/// The `Problem` schema, with every `type` this API answers.
fn problem_schema() -> Value {
    let types: Vec<Value> = PROBLEM_TYPES
        .iter()
        .map(|(slug, _)| json!(format!("https://switchyard.dev/problems/{slug}")))
        .collect();
    let list: String = PROBLEM_TYPES
        .iter()
        .map(|(slug, meaning)| format!("\n- `{slug}`: {meaning}"))
        .collect();
    json!({
        "type": "object",
        "description": format!(
            "An error, as RFC 9457 problem details. `type` is \
             `https://switchyard.dev/problems/<slug>`, one of:{list}"),
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": { "type": "string", "format": "uri", "enum": types },
            "title": { "type": "string" },
            "status": { "type": "integer", "minimum": 400, "maximum": 599 },
            "detail": { "type": "string" },
            "field": { "type": "string",
                       "description": "The request field at fault (422)." },
            "down": { "type": "array", "items": { "type": "string",
                                                 "enum": ["postgres", "redis"] },
                      "description": "The backing stores that did not answer (`/readyz`)." }
        },
        "example": {
            "type": "https://switchyard.dev/problems/invalid",
            "title": "Invalid request",
            "status": 422,
            "detail": "`name` must be 1 to 200 characters",
            "field": "name"
        }
    })
}

fn security_schemes() -> Value {
    json!({
        "tenant_token": {
            "type": "http", "scheme": "bearer",
            "description": "An account's API token, from `switchyard accounts create` or \
                            `POST /v1/accounts`. Opens that account's data only."
        },
        "ops_token": {
            "type": "http", "scheme": "bearer",
            "description": "The operator token, setting `server.ops_token`. Opens the queues, \
                            jobs, dead letters and account onboarding; no tenant's data."
        },
        "plugin_token": {
            "type": "http", "scheme": "bearer",
            "description": "A plugin's callback token, answered once when the plugin is \
                            created. Opens only that plugin's callbacks."
        }
    })
}

fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes a retry safe: the same key with the same request within 24 hours \
                        answers the first answer again, with `Idempotent-Replayed: true`. 1 to \
                        255 visible ASCII characters.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" }
    })
}

fn is_idempotency_key(param: &Value) -> bool {
    param["in"] == "header"
        && param["name"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case("Idempotency-Key"))
}

fn has_params(op: &Value, place: &str) -> bool {
    op["parameters"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p["in"] == place))
}

/// Adds the shared components, each operation's shared answers, and the webhooks; `storeless`
/// paths never answer 503 for a store that is down.
fn add_shared(doc: &mut Value, storeless: &std::collections::BTreeSet<String>) {
    let components = doc["components"]
        .as_object_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let mut components = Value::Object(components);
    components["responses"] = shared_responses();
    components["securitySchemes"] = security_schemes();
    components["schemas"]["Problem"] = problem_schema();
    components["schemas"]["WebhookEvent"] = webhook_event_schema();
    doc["components"] = components;
    let Some(paths) = doc["paths"].as_object_mut() else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        for method in METHODS {
            let Some(op) = item.get_mut(method) else {
                continue;
            };
            let secured = op.get("security").is_some();
            let mut shared: Vec<(&str, &str)> = vec![("408", "Timeout")];
            if !storeless.contains(path) {
                shared.push(("503", "Unavailable"));
            }
            if secured {
                shared.push(("401", "Unauthorized"));
            }
            if op.get("requestBody").is_some() {
                shared.extend([
                    ("400", "BadRequest"),
                    ("413", "TooLarge"),
                    ("422", "Invalid"),
                ]);
            }
            if has_params(op, "path") {
                shared.extend([
                    ("400", "BadRequest"),
                    ("404", "NotFound"),
                    ("422", "Invalid"),
                ]);
            }
            if has_params(op, "query") {
                shared.push(("422", "Invalid"));
            }
            if secured && method == "post" {
                match op["responses"].get_mut("409") {
                    // The operation's own conflict; the key's conflicts answer 409 too.
                    Some(own) => {
                        let d = own["description"].as_str().unwrap_or_default();
                        own["description"] = json!(format!(
                            "{d}; or the `Idempotency-Key` was used with another request \
                             (`idempotency-key-reused`) or its first request is still running \
                             (`idempotency-key-in-use`)"
                        ));
                    }
                    None => shared.push(("409", "IdempotencyConflict")),
                }
                // An operation that requires the key describes it itself.
                let params = op["parameters"].as_array_mut();
                match params {
                    Some(ps) if ps.iter().any(is_idempotency_key) => {}
                    Some(ps) => ps.push(idempotency_key()),
                    None => op["parameters"] = json!([idempotency_key()]),
                }
                // A replayed answer is the first one again, marked.
                for (status, answer) in op["responses"].as_object_mut().into_iter().flatten() {
                    if status.starts_with('2') && answer.get("$ref").is_none() {
                        answer["headers"]["Idempotent-Replayed"] = json!({
                            "description": "`true` when this is the kept answer of an earlier \
                                            request with the same `Idempotency-Key`.",
                            "schema": { "type": "string", "enum": ["true"] }
                        });
                    }
                }
            }
            let responses = op["responses"]
                .as_object_mut()
                .expect("every operation documents its answers");
            for (status, name) in shared {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({ "$ref": format!("#/components/responses/{name}") }));
            }
        }
    }
    doc["webhooks"] = webhooks();
}

/// Which schema an event type's `data` holds.
fn entity_schema(event: EventType) -> &'static str {
    use crate::domain::event_type::Entity;
    match event.entity {
        Entity::Order => "Order",
        Entity::Product => "Product",
        Entity::ChannelProduct => "ChannelProduct",
        Entity::Fulfilment => "Fulfilment",
        Entity::Invoice => "Invoice",
        Entity::HostedPage => "HostedPage",
        Entity::StockDrift => "StockDriftCorrection",
        Entity::Channel => "ChannelHealth",
    }
}

fn webhook_event_schema() -> Value {
    json!({
        "type": "object",
        "description": "The body of every webhook delivery (Standard Webhooks).",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": { "type": "string", "description": "`<entity>.<action>`, or `webhook.test`." },
            "timestamp": { "type": "string", "format": "date-time" },
            "data": { "description": "The entity, exactly as the API answers it." }
        }
    })
}

fn signature_headers() -> Value {
    let header = |name: &str, description: &str, example: &str| {
        json!({ "name": name, "in": "header", "required": true, "description": description,
                "schema": { "type": "string" }, "example": example })
    };
    json!([
        header(
            "webhook-id",
            "The message id, the same on every attempt of one delivery: deduplicate on it.",
            "msg_2f1c0e7d6b5a49388a7b6c5d4e3f2a10",
        ),
        header(
            "webhook-timestamp",
            "Unix seconds when this attempt was signed. Refuse one far from your clock.",
            "1764892800",
        ),
        header(
            "webhook-signature",
            "Space-separated `v1,<base64 HMAC-SHA256>` of `<webhook-id>.<webhook-timestamp>.<body>` \
             with the endpoint's secret (base64 after `whsec_`); two while a secret rotates.",
            "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        ),
    ])
}

/// OpenAPI 3.1 `webhooks`: one per event type, each a POST switchyard sends to a subscribed
/// endpoint with the Standard Webhooks headers.
fn webhooks() -> Value {
    let mut hooks = Map::new();
    let entries = EventType::all()
        .map(|t| (t.name(), Some(t)))
        .chain([(WEBHOOK_TEST, None)]);
    for (name, event) in entries {
        let (data, summary) = match event {
            Some(t) => (
                json!({ "$ref": format!("#/components/schemas/{}", entity_schema(t)) }),
                match t.action {
                    Action::BreakerOpened => {
                        "A channel's import breaker opened: its imports no longer call its \
                         platform until a probe succeeds"
                            .to_owned()
                    }
                    Action::BreakerClosed => {
                        "A channel's import breaker closed: a probe succeeded and its imports \
                         run again"
                            .to_owned()
                    }
                    _ => {
                        let entity = t.entity.as_str().replace('_', " ");
                        let article = if entity.starts_with(['a', 'e', 'i', 'o', 'u']) {
                            "An"
                        } else {
                            "A"
                        };
                        let action = t.action.as_str().replace("on_hold", "put on hold");
                        format!("{article} {entity} was {action}")
                    }
                },
            ),
            None => (
                json!({ "type": "object",
                        "description": "Says it is a test send, naming the webhook." }),
                "A test send, asked for through the API".to_owned(),
            ),
        };
        hooks.insert(
            name.to_owned(),
            json!({ "post": {
                "summary": summary,
                "description": "Sent to every endpoint of the event's store whose triggers \
                                include this type. Answer 2xx within the timeout; anything else \
                                is retried on the endpoint's schedule.",
                "operationId": format!("webhook_{}", name.replace('.', "_")),
                "tags": ["Webhook events"],
                "parameters": signature_headers(),
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": { "allOf": [
                        { "$ref": "#/components/schemas/WebhookEvent" },
                        { "type": "object", "properties": {
                            "type": { "const": name }, "data": data } }
                    ] } } } },
                "responses": {
                    "2XX": { "description": "Received; not sent again." },
                    "default": { "description": "Not received; retried later." }
                }
            } }),
        );
    }
    Value::Object(hooks)
}
