//! A seeded fuzz run over every route of the API: random JSON, text with NUL and control
//! characters, extreme numbers and times, forged cursors and odd path segments, each sent with a
//! token that gets past authentication, and every answer checked to be below 500.
//!
//! The routes come from the `router()` functions in `src/api/`, read from the source, so a route
//! added without a line in [`targets`] fails the run before anything is sent. Bodies are mostly
//! a valid example of the route's body with one to three values replaced, so requests get past
//! the first check and reach the database; the rest are random JSON or bytes that are not JSON.
//!
//! `SWITCHYARD_FUZZ_CASES` (cases per route, default 50) and `SWITCHYARD_FUZZ_SEED` make a
//! larger or a different run; a failure prints the seed and each request that answered 5xx.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::StreamExt;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::header::{HeaderValue, CONTENT_TYPE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use switchyard::store::channels::ChannelRow;

use crate::app_helpers::TestServer;
use crate::fixture_helpers::{declared_routes, fixture, Fixture};
use crate::tenant_helpers::Tenant;

const DEFAULT_CASES: usize = 50;
const DEFAULT_SEED: u64 = 0x5eed_f00d;
/// Requests in flight at once, per route.
const IN_FLIGHT: usize = 8;

/// Who a route answers to, and so which token the fuzz sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Audience {
    /// Probes and inbound channel webhooks: no token.
    Public,
    Ops,
    Tenant,
    /// A plugin's callback token.
    Plugin,
}

/// What a route reads besides its path.
#[derive(Debug, Clone)]
enum Input {
    /// Nothing but the path (and any query, which such a route ignores).
    Nothing,
    /// The names of the query parameters it reads.
    Query(&'static [&'static str]),
    /// A JSON body; these are valid examples to mutate.
    Body(Vec<Value>),
}

struct Target {
    method: Method,
    /// As written in the router, under its prefix (`/v1/stores/{id}`).
    path: &'static str,
    audience: Audience,
    input: Input,
}

const LIST: &[&str] = &["cursor", "limit"];

fn targets(fx: &Fixture) -> Vec<Target> {
    use Audience::{Ops, Plugin, Public, Tenant};
    use Input::{Nothing, Query};
    let t = |method: &str, path: &'static str, audience: Audience, input: Input| Target {
        method: Method::from_bytes(method.as_bytes()).expect("a method"),
        path,
        audience,
        input,
    };
    let body = |examples: Vec<Value>| Input::Body(examples);
    let one = |example: Value| Input::Body(vec![example]);
    let import = json!({ "channel_id": fx.channel, "reason": "manual" });
    let line = json!([{ "order_line_id": fx.line, "quantity": 1 }]);
    vec![
        t("GET", "/healthz", Public, Nothing),
        t("GET", "/readyz", Public, Nothing),
        t("GET", "/metrics", Public, Nothing),
        t("GET", "/openapi.json", Public, Nothing),
        t("GET", "/postman.json", Public, Nothing),
        // Ops.
        t("POST", "/v1/accounts", Ops, one(json!({ "name": "fuzz" }))),
        t("GET", "/v1/queues", Ops, Nothing),
        t("GET", "/v1/queues/{queue}", Ops, Nothing),
        t(
            "POST",
            "/v1/queues/{queue}/jobs",
            Ops,
            body(vec![
                json!({ "payload": import, "delay_ms": 60_000, "unique_key": "fuzz",
                        "max_attempts": 3 }),
                json!({ "payload": import, "run_at": "2030-01-01T00:00:00Z" }),
            ]),
        ),
        t(
            "POST",
            "/v1/queues/{queue}/jobs/bulk",
            Ops,
            one(json!({
                "jobs": [import, import],
                "run_at": "2030-01-01T00:00:00Z",
                "max_attempts": 2,
            })),
        ),
        t("GET", "/v1/jobs/{queue}/{id}", Ops, Nothing),
        t("POST", "/v1/queues/{queue}/pause", Ops, Nothing),
        t("POST", "/v1/queues/{queue}/resume", Ops, Nothing),
        t("GET", "/v1/queues/{queue}/dead", Ops, Query(LIST)),
        t("POST", "/v1/queues/{queue}/dead/requeue", Ops, Nothing),
        t("POST", "/v1/queues/{queue}/dead/{id}/requeue", Ops, Nothing),
        t("DELETE", "/v1/queues/{queue}/dead", Ops, Nothing),
        t("DELETE", "/v1/queues/{queue}/dead/{id}", Ops, Nothing),
        // A plugin calling back.
        t(
            "POST",
            "/v1/plugin-callbacks/stock",
            Plugin,
            one(json!({ "sku": fx.sku, "quantity": 5, "report_id": "r-1" })),
        ),
        t(
            "POST",
            "/v1/plugin-callbacks/fulfilments",
            Plugin,
            one(json!({
                "order_id": fx.order,
                "lines": [{ "line_id": fx.line, "quantity": 1 }],
                "carrier": "UPS",
                "tracking_number": "1Z999",
                "tracking_url": "https://127.0.0.1:9/track",
                "reference": "fc-ref-1",
            })),
        ),
        // A channel calling in: no token, a signature it cannot have.
        t(
            "POST",
            "/v1/channels/{id}/inbound/{*topic}",
            Public,
            one(json!({ "id": 1, "updated_at": "2025-01-01T00:00:00Z" })),
        ),
        // Tenant.
        t("GET", "/v1/stores", Tenant, Query(LIST)),
        t("POST", "/v1/stores", Tenant, one(json!({ "name": "fuzz" }))),
        t("GET", "/v1/stores/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/stores/{id}",
            Tenant,
            one(json!({ "name": "fuzz" })),
        ),
        t(
            "GET",
            "/v1/channels",
            Tenant,
            Query(&["store_id", "cursor", "limit"]),
        ),
        t(
            "POST",
            "/v1/channels",
            Tenant,
            one(json!({
                "store_id": fx.store,
                "kind": "shopify",
                "name": "fuzz",
                // Nothing listens there: the credentials check fails without leaving the host.
                "base_url": "http://127.0.0.1:9/shopify/fuzz",
                "credentials": { "access_token": "shpat_x", "app_secret": "shpss_x" },
                "settings": {
                    "import_unpaid": true,
                    "sku_filter": { "mode": "allow", "skus": ["A"] },
                    "country_filter": { "mode": "deny", "countries": ["GB"] },
                    "stock_buffer": 2,
                },
            })),
        ),
        t("GET", "/v1/channels/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/channels/{id}",
            Tenant,
            body(vec![
                json!({ "name": "fuzz", "settings": { "stock_buffer": 1, "sku_filter": null },
                        "active": true }),
                json!({ "base_url": "http://127.0.0.1:9/shopify/other" }),
            ]),
        ),
        t("GET", "/v1/channels/{id}/health", Tenant, Nothing),
        t("POST", "/v1/channels/{id}/import", Tenant, Nothing),
        t("POST", "/v1/channels/{id}/breaker/reset", Tenant, Nothing),
        t("GET", "/v1/channels/{id}/products", Tenant, Query(LIST)),
        t("POST", "/v1/channels/{id}/stock/push-all", Tenant, Nothing),
        t("POST", "/v1/channels/{id}/stock/reconcile", Tenant, Nothing),
        t("GET", "/v1/channels/{id}/stock/drift", Tenant, Query(LIST)),
        t("POST", "/v1/channels/{id}/products/import", Tenant, Nothing),
        t(
            "GET",
            "/v1/orders",
            Tenant,
            Query(&[
                "store_id",
                "channel_id",
                "status",
                "sync_status",
                "updated_since",
                "cursor",
                "limit",
            ]),
        ),
        t("GET", "/v1/orders/{id}", Tenant, Nothing),
        t("GET", "/v1/orders/{id}/events", Tenant, Nothing),
        t("GET", "/v1/orders/{id}/fulfilments", Tenant, Nothing),
        t(
            "POST",
            "/v1/orders/{id}/fulfilments",
            Tenant,
            body(vec![
                json!({ "lines": line, "carrier": "UPS", "tracking_number": "1Z1",
                        "tracking_url": "https://127.0.0.1:9/t" }),
                json!({ "lines": line }),
            ]),
        ),
        t("GET", "/v1/fulfilments/{id}", Tenant, Nothing),
        t("POST", "/v1/orders/{id}/release", Tenant, Nothing),
        t(
            "POST",
            "/v1/orders/{id}/exclude",
            Tenant,
            one(json!({ "reason": "duplicate" })),
        ),
        t("POST", "/v1/orders/{id}/include", Tenant, Nothing),
        t(
            "POST",
            "/v1/orders/{id}/notes",
            Tenant,
            one(json!({ "body": "gift wrap\nplease" })),
        ),
        t(
            "POST",
            "/v1/orders/{id}/tags",
            Tenant,
            body(vec![
                json!({ "add": ["gift", "rush"] }),
                json!({ "add": ["x"], "remove": ["gift"] }),
            ]),
        ),
        t(
            "GET",
            "/v1/products",
            Tenant,
            Query(&["store_id", "sku", "cursor", "limit"]),
        ),
        t(
            "POST",
            "/v1/products",
            Tenant,
            one(json!({
                "store_id": fx.store,
                "sku": "FUZZ-NEW",
                "title": "t",
                "api_quantity": 4,
            })),
        ),
        t("GET", "/v1/products/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/products/{id}",
            Tenant,
            one(json!({ "sku": fx.sku, "title": "fuzzed" })),
        ),
        t(
            "PUT",
            "/v1/products/{id}/stock",
            Tenant,
            one(json!({ "api_quantity": 7 })),
        ),
        t(
            "POST",
            "/v1/products/{id}/stock/adjust",
            Tenant,
            one(json!({ "delta": -1 })),
        ),
        t(
            "PUT",
            "/v1/products/{id}/plugin-stock",
            Tenant,
            one(json!({ "plugin_quantity": 3 })),
        ),
        t(
            "PUT",
            "/v1/products/{id}/components",
            Tenant,
            one(json!([{ "product_id": fx.product, "quantity": 2 }])),
        ),
        t("GET", "/v1/products/{id}/movements", Tenant, Query(LIST)),
        t("GET", "/v1/stores/{store_id}/webhooks", Tenant, Query(LIST)),
        t(
            "POST",
            "/v1/stores/{store_id}/webhooks",
            Tenant,
            one(json!({
                "url": "http://127.0.0.1:9/hook",
                "triggers": ["order.created"],
                "description": "fuzz",
                "enabled": true,
            })),
        ),
        t("GET", "/v1/webhooks/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/webhooks/{id}",
            Tenant,
            one(json!({
                "url": "http://127.0.0.1:9/hook2",
                "triggers": ["order.updated", "product.created"],
                "description": null,
                "enabled": true,
            })),
        ),
        t(
            "POST",
            "/v1/webhooks/{id}/rotate-secret",
            Tenant,
            Query(&["grace_secs"]),
        ),
        t("POST", "/v1/webhooks/{id}/test", Tenant, Nothing),
        t(
            "GET",
            "/v1/webhooks/{id}/deliveries",
            Tenant,
            Query(&["status", "cursor", "limit"]),
        ),
        t(
            "GET",
            "/v1/webhooks/{id}/deliveries/{delivery_id}/attempts",
            Tenant,
            Nothing,
        ),
        t(
            "POST",
            "/v1/webhooks/{id}/deliveries/{delivery_id}/replay",
            Tenant,
            Nothing,
        ),
        t(
            "POST",
            "/v1/webhooks/{id}/recover",
            Tenant,
            one(json!({ "since": "2024-01-01T00:00:00Z" })),
        ),
        t("GET", "/v1/stores/{store_id}/plugins", Tenant, Query(LIST)),
        t(
            "POST",
            "/v1/stores/{store_id}/plugins",
            Tenant,
            one(json!({
                "kind": "http",
                "name": "fc",
                "endpoint_url": "http://127.0.0.1:9/fc",
                "active": true,
            })),
        ),
        t("GET", "/v1/plugins/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/plugins/{id}",
            Tenant,
            one(json!({ "name": "fc2", "endpoint_url": "http://127.0.0.1:9/fc2" })),
        ),
        t("GET", "/v1/stores/{store_id}/plugin-rules", Tenant, Nothing),
        t(
            "POST",
            "/v1/stores/{store_id}/plugin-rules",
            Tenant,
            body(rule_examples(fx)),
        ),
        t("GET", "/v1/plugin-rules/{id}", Tenant, Nothing),
        t(
            "PATCH",
            "/v1/plugin-rules/{id}",
            Tenant,
            body(rule_examples(fx)),
        ),
        // Accounting.
        t(
            "GET",
            "/v1/accounting-connections",
            Tenant,
            Query(&["store_id", "cursor", "limit"]),
        ),
        t(
            "POST",
            "/v1/accounting-connections",
            Tenant,
            one(json!({
                "store_id": fx.store, "kind": "sage", "name": "fuzz",
                "client": {"client_id": "fuzz-id", "client_secret": "fuzz-secret"},
                "settings": {"invoice_status": "authorised", "sales_account_code": "4000",
                             "tax_type": "GB_STANDARD", "create_missing_products": true,
                             "auto_invoice": "shipped"}
            })),
        ),
        t("GET", "/v1/accounting-connections/{id}", Tenant, Nothing),
        t(
            "GET",
            "/v1/accounting-connections/{id}/authorize",
            Tenant,
            Nothing,
        ),
        // The platform sending a merchant back: no token, a state it cannot have.
        t(
            "GET",
            "/v1/accounting-connections/callback",
            Public,
            Query(&["code", "state", "error", "error_description", "country"]),
        ),
        t(
            "GET",
            "/v1/invoices",
            Tenant,
            Query(&["store_id", "connection_id", "order_id", "cursor", "limit"]),
        ),
        t(
            "POST",
            "/v1/invoices",
            Tenant,
            body(vec![
                json!({ "connection_id": fx.accounting_connection, "order_id": fx.order }),
                json!({
                    "connection_id": fx.accounting_connection, "reference": "FUZZ-1",
                    "date": "2026-12-05", "currency": "GBP",
                    "contact": {"name": "Fuzz Ltd", "email": "fuzz@example.com"},
                    "lines": [{"sku": "FZ-1", "description": "Thing", "quantity": "2",
                               "unit_amount": "10.00", "tax_amount": "4.00", "tax_rate": "20"}]
                }),
            ]),
        ),
        t("GET", "/v1/invoices/{id}", Tenant, Nothing),
        t(
            "GET",
            "/v1/hosted-pages",
            Tenant,
            Query(&["store_id", "cursor", "limit"]),
        ),
        t(
            "POST",
            "/v1/hosted-pages",
            Tenant,
            body(vec![
                json!({ "store_id": fx.store, "channels": ["woocommerce"] }),
                json!({
                    "store_id": fx.store, "channels": ["shopify", "woocommerce"],
                    "accounting": ["xero", "sage"],
                    "branding": {"title": "Fuzz Co", "logo_url": "https://fuzz.example/l.png",
                                 "primary_colour": "#123456", "background_colour": "#fff",
                                 "text_colour": "#000", "font": "serif"},
                    "inputs": {"stock_management": {"preset": true, "visible": true, "editable": true},
                               "poll_interval_secs": {"preset": 600}},
                    "expires_in_secs": 3600, "return_url": "https://fuzz.example/done"
                }),
            ]),
        ),
        t("GET", "/v1/hosted-pages/{id}", Tenant, Nothing),
        t("DELETE", "/v1/hosted-pages/{id}", Tenant, Nothing),
        t("DELETE", "/v1/plugin-rules/{id}", Tenant, Nothing),
        t("DELETE", "/v1/accounting-connections/{id}", Tenant, Nothing),
        t("DELETE", "/v1/plugins/{id}", Tenant, Nothing),
        t("DELETE", "/v1/webhooks/{id}", Tenant, Nothing),
        t("DELETE", "/v1/products/{id}", Tenant, Nothing),
        t("DELETE", "/v1/channels/{id}", Tenant, Nothing),
        t("DELETE", "/v1/stores/{id}", Tenant, Nothing),
    ]
}

fn rule_examples(fx: &Fixture) -> Vec<Value> {
    let rule = |condition: Value, action: Value| {
        json!({ "name": "rule", "condition": condition, "action": action, "position": 1,
                "active": true })
    };
    vec![
        rule(
            json!({ "type": "order_total", "comparison": "greater_than", "value": "10.00" }),
            json!({ "type": "add_tag", "tag": "big" }),
        ),
        rule(
            json!({ "type": "sku_in", "skus": [fx.sku] }),
            json!({ "type": "send_to_plugin", "plugin_id": fx.plugin }),
        ),
        rule(
            json!({ "type": "channel_in", "channel_ids": [fx.channel] }),
            json!({ "type": "set_sync_status", "status": "on_hold" }),
        ),
        rule(
            json!({ "type": "item_quantity", "comparison": "equal", "value": 3 }),
            json!({ "type": "add_tag", "tag": "three" }),
        ),
        rule(
            json!({ "type": "shipping_country_in", "countries": ["GB", "DE"] }),
            json!({ "type": "set_sync_status", "status": "excluded" }),
        ),
    ]
}

impl Fixture {
    /// A plausible value of a query parameter, so the others' fuzzed values reach the query.
    fn query_value(&self, name: &str, rng: &mut StdRng) -> String {
        let pick =
            |rng: &mut StdRng, list: &[&str]| list[rng.random_range(0..list.len())].to_owned();
        match name {
            "limit" => pick(rng, &["1", "50", "200"]),
            "store_id" => self.store.to_string(),
            "channel_id" => self.channel.to_string(),
            "sku" => self.sku.clone(),
            "status" => pick(rng, &["unshipped", "pending", "failed", "delivered"]),
            "sync_status" => pick(rng, &["pending", "synced"]),
            "updated_since" => pick(rng, &["2024-01-01T00:00:00Z", "1970-01-01T00:00:00+02:00"]),
            "grace_secs" => pick(rng, &["0", "60", "2678400"]),
            "cursor" => pick(rng, &["1", &URL_SAFE_NO_PAD.encode("o1:0:1")]),
            _ => String::new(),
        }
    }

    fn token(&self, audience: Audience) -> Option<&str> {
        match audience {
            Audience::Public => None,
            Audience::Ops => Some(&self.ops_token),
            Audience::Tenant => Some(&self.tenant_token),
            Audience::Plugin => Some(&self.plugin_token),
        }
    }
}

/// Text that has broken, or could break, something between the socket and the database.
const NASTY_TEXT: &[&str] = &[
    "",
    " ",
    "\0",
    "a\0b",
    "\u{1}\u{2}\u{1b}[31m\u{1f}",
    "\t\r\n",
    "\u{7f}\u{80}\u{85}\u{9f}",
    "\u{200b}\u{feff}",
    "\u{202e}gnp.exe",
    "\u{fffd}\u{fffe}\u{ffff}",
    "\u{10ffff}",
    "😀👍🏽",
    "' OR 1=1 --",
    "\"; DROP TABLE orders; --",
    "%00",
    "%",
    "\\",
    "\\u0000",
    "null",
    "true",
    "NaN",
    "Infinity",
    "-Infinity",
    "1e400",
    "-0",
    "0x10",
    "99999999999999999999999999999.999999999",
    "-1",
    "9223372036854775807",
    "9223372036854775808",
    "-9223372036854775809",
    "2147483648",
    "-4714-11-24T00:00:00Z",
    "-4713-11-24T00:00:00Z",
    "-262143-01-01T00:00:00Z",
    "+262142-12-31T23:59:59.999999999Z",
    "0000-01-01T00:00:00Z",
    "294277-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00Z",
    "2025-01-01T00:00:00+14:00",
    "2025-01-01T00:00:00-23:59",
    "http://127.0.0.1:9/x",
    "http://[::1]:9/",
    "https://127.0.0.1:9/a?b=c#d",
    "ftp://127.0.0.1:9/",
    "http://\0/",
    "http://127.0.0.1:9/\0",
    "http://127.0.0.1:99999/",
    "javascript:alert(1)",
    "shopify",
    "woocommerce",
    "http",
    "order.created",
    "manual",
];

const NASTY_NUMBERS: &[&str] = &[
    "0",
    "1",
    "-1",
    "2147483647",
    "2147483648",
    "-2147483648",
    "-2147483649",
    "4294967295",
    "4294967296",
    "1000000000",
    "1000000001",
    "9007199254740993",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "1e308",
    "-1e308",
    "0.5",
    "-0.0",
    "1e-320",
    "2678401",
];

/// Times at and past the ends of what chrono and PostgreSQL hold, and ones that are not times.
const NASTY_TIMES: &[&str] = &[
    "-4714-11-24T00:00:00Z",
    "-4713-11-23T23:59:59.999999Z",
    "-4713-11-24T00:00:00Z",
    "-262143-01-01T00:00:00Z",
    "+262142-12-31T23:59:59.999999999Z",
    "0000-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2025-01-01T00:00:00+14:00",
    "2025-01-01T24:00:00Z",
    "2025-01-01",
    "1e10",
];

/// Times a forged cursor may carry, in microseconds since 1970.
const CURSOR_MICROS: &[i64] = &[
    i64::MIN,
    -8_334_632_851_200_000_000,
    -210_866_803_200_000_001,
    -210_866_803_200_000_000,
    0,
    8_210_298_412_799_999_999,
    i64::MAX,
];

/// Where the fuzz draws values from.
struct Gen {
    rng: StdRng,
}

impl Gen {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn index(&mut self, len: usize) -> usize {
        self.rng.random_range(0..len)
    }

    fn text(&mut self) -> String {
        match self.index(10) {
            0 => {
                let len = [255, 256, 501, 2_001, 10_000, 100_000][self.index(6)];
                let c = ['x', 'é', '😀', '\0', ' '][self.index(5)];
                std::iter::repeat_n(c, len).collect()
            }
            1 => {
                // Random code points, control characters and NULs among them.
                let len = self.index(40);
                (0..len)
                    .map(|_| match self.index(4) {
                        0 => char::from(self.rng.random_range(0u8..0x20)),
                        1 => char::from_u32(self.rng.random_range(0..0x11_0000)).unwrap_or('?'),
                        _ => char::from(self.rng.random_range(0x20u8..0x7f)),
                    })
                    .collect()
            }
            2 => self.cursor(),
            3 => NASTY_NUMBERS[self.index(NASTY_NUMBERS.len())].to_owned(),
            _ => NASTY_TEXT[self.index(NASTY_TEXT.len())].to_owned(),
        }
    }

    /// A cursor that decodes, or nearly: well-formed tokens with times and ids out of range.
    fn cursor(&mut self) -> String {
        let micros = CURSOR_MICROS[self.index(CURSOR_MICROS.len())];
        let id = [i64::MIN, -1, 0, 1, i64::MAX][self.index(5)];
        let tag = ["o1", "o1", "o2", ""][self.index(4)];
        URL_SAFE_NO_PAD.encode(format!("{tag}:{micros}:{id}"))
    }

    /// A value of the same kind as `like` (a time for a time, a number for a number), or any.
    fn like(&mut self, like: &Value) -> Value {
        if self.chance(0.5) {
            return self.value(2);
        }
        match like {
            Value::String(s) if chrono::DateTime::parse_from_rfc3339(s).is_ok() => {
                Value::String(NASTY_TIMES[self.index(NASTY_TIMES.len())].to_owned())
            }
            Value::Number(_) => self.number(),
            Value::String(_) => Value::String(self.text()),
            _ => self.value(2),
        }
    }

    fn number(&mut self) -> Value {
        let text = NASTY_NUMBERS[self.index(NASTY_NUMBERS.len())];
        serde_json::from_str(text).unwrap_or(Value::Null)
    }

    fn value(&mut self, depth: u32) -> Value {
        let kinds = if depth == 0 { 4 } else { 6 };
        match self.index(kinds) {
            0 => [Value::Null, json!(true), json!(false)][self.index(3)].clone(),
            1 => self.number(),
            2 | 3 => Value::String(self.text()),
            4 => Value::Array((0..self.index(4)).map(|_| self.value(depth - 1)).collect()),
            _ => Value::Object(
                (0..self.index(4))
                    .map(|_| (self.text(), self.value(depth - 1)))
                    .collect(),
            ),
        }
    }

    /// One to three of `example`'s values replaced, removed or joined by a stranger.
    fn mutate(&mut self, example: &Value) -> Value {
        let mut body = example.clone();
        let changes = [1, 1, 1, 2, 2, 3][self.index(6)];
        for _ in 0..changes {
            let mut paths = Vec::new();
            leaves(&body, &mut Vec::new(), &mut paths);
            if paths.is_empty() {
                break;
            }
            let path = paths[self.index(paths.len())].clone();
            let op = self.index(10);
            let extra = self.text();
            let Some(current) = at(&mut body, &path).map(|v| v.clone()) else {
                continue;
            };
            let replacement = self.like(&current);
            if let Some(slot) = at(&mut body, &path) {
                match (op, slot) {
                    (0, Value::Object(map)) => {
                        map.insert(extra, replacement);
                    }
                    (1, Value::Array(items)) => items.push(replacement),
                    (2, _) if !path.is_empty() => remove(&mut body, &path),
                    (_, slot) => *slot = replacement,
                }
            }
        }
        body
    }

    /// A request body: mostly a mutated example, sometimes an example as it is, random JSON,
    /// or bytes that are not JSON at all.
    fn body(&mut self, examples: &[Value]) -> Vec<u8> {
        let example = &examples[self.index(examples.len())];
        let value = match self.index(20) {
            0 => return self.garbage(),
            1 => self.value(3),
            2 | 3 => example.clone(),
            _ => self.mutate(example),
        };
        serde_json::to_vec(&value).unwrap_or_default()
    }

    fn garbage(&mut self) -> Vec<u8> {
        match self.index(7) {
            0 => b"{\"name\": \"\\ud800\"}".to_vec(),
            1 => b"{\"name\": 1e999999}".to_vec(),
            2 => [b"[".repeat(10_000), b"]".repeat(10_000)].concat(),
            3 => vec![0xff, 0xfe, b'{', 0, b'}'],
            4 => b"{\"name\": \"a\xc3\x28\"}".to_vec(),
            5 => Vec::new(),
            _ => b"{\"a\":".to_vec(),
        }
    }

    /// A path segment that is not the fixture's: out of range, not a number, encoded NUL.
    fn segment(&mut self) -> String {
        const SEGMENTS: &[&str] = &[
            "0",
            "-1",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "abc",
            "%00",
            "1%002",
            "%ff",
            "%2e%2e",
            "01ARZ3NDEKTSV4RRFFQ69G5FAV",
            "*",
        ];
        if self.chance(0.5) {
            SEGMENTS[self.index(SEGMENTS.len())].to_owned()
        } else {
            utf8_percent_encode(&self.url_text(), NON_ALPHANUMERIC).to_string()
        }
    }

    /// A nasty value of the kind the parameter `name` reads.
    fn query_like(&mut self, name: &str) -> String {
        match name {
            "cursor" => self.cursor(),
            "updated_since" => NASTY_TIMES[self.index(NASTY_TIMES.len())].to_owned(),
            "sku" | "status" | "sync_status" => self.url_text(),
            _ => NASTY_NUMBERS[self.index(NASTY_NUMBERS.len())].to_owned(),
        }
    }

    /// Text for a path or query: as [`Gen::text`], cut short enough that the URL stays within
    /// what an HTTP client sends (overlong URLs are the server's 414, not this run's concern).
    fn url_text(&mut self) -> String {
        self.text().chars().take(500).collect()
    }
}

/// Paths (object keys and array indexes) to every value inside `v`, `v` itself included.
fn leaves(v: &Value, here: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(here.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                here.push(Step::Key(k.clone()));
                leaves(child, here, out);
                here.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                here.push(Step::Index(i));
                leaves(child, here, out);
                here.pop();
            }
        }
        _ => {}
    }
}

#[derive(Debug, Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn at<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(v, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn remove(v: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (at(v, parent), last) {
        (Some(Value::Object(map)), Step::Key(k)) => {
            map.remove(k);
        }
        (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// One request of the run.
struct Case {
    method: Method,
    url: String,
    token: Option<String>,
    idempotency_key: Option<HeaderValue>,
    content_type: Option<&'static str>,
    body: Option<Vec<u8>>,
}

impl Case {
    fn describe(&self) -> String {
        let body = self
            .body
            .as_deref()
            .map(|b| {
                let text = String::from_utf8_lossy(b);
                text.chars().take(600).collect::<String>()
            })
            .unwrap_or_default();
        let url: String = self.url.chars().take(600).collect();
        format!(
            "{} {url} idempotency-key={:?} content-type={:?}\n  body: {body}",
            self.method, self.idempotency_key, self.content_type
        )
    }
}

fn case(fx: &Fixture, target: &Target, g: &mut Gen) -> Case {
    let mut path = String::new();
    for segment in target.path.split('/').skip(1) {
        path.push('/');
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(_) if g.chance(0.15) => path.push_str(&g.segment()),
            Some(name) => path.push_str(&fx.param(target.path, name)),
            None => path.push_str(segment),
        }
    }
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let names: &[&str] = match &target.input {
        Input::Query(names) => names,
        _ => &[],
    };
    // One parameter takes a nasty value; the others, when present, mostly plausible ones, so
    // the nasty one is what the route has to deal with.
    let focus = (!names.is_empty()).then(|| g.index(names.len()));
    for (i, name) in names.iter().enumerate() {
        let value = if Some(i) == focus {
            if g.chance(0.5) {
                g.query_like(name)
            } else {
                g.url_text()
            }
        } else if g.chance(0.3) {
            if g.chance(0.8) {
                fx.query_value(name, &mut g.rng)
            } else {
                g.url_text()
            }
        } else {
            continue;
        };
        query.append_pair(name, &value);
    }
    if g.chance(0.05) {
        let (name, value) = (g.url_text(), g.url_text());
        query.append_pair(&name, &value);
    }
    let mut query = query.finish();
    if g.chance(0.03) {
        query.push_str(["&limit=%zz", "&sku=%ff%fe", "&&=&", "&cursor"][g.index(4)]);
    }
    let url = if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    };
    let body = match &target.input {
        Input::Body(examples) => Some(g.body(examples)),
        _ => None,
    };
    let idempotency_key = match g.index(10) {
        _ if target.method == Method::GET => None,
        0..=4 => HeaderValue::from_str(&ulid::Ulid::new().to_string()).ok(),
        5 => HeaderValue::from_bytes(&[b'k', 0x80, 0xff]).ok(),
        6 => HeaderValue::from_str(&"k".repeat(256)).ok(),
        7 => HeaderValue::from_str("two words").ok(),
        _ => None,
    };
    let content_type = match g.index(20) {
        0 => None,
        1 => Some("text/plain"),
        2 => Some("application/merge-patch+json"),
        _ => Some("application/json"),
    };
    Case {
        method: target.method.clone(),
        url,
        token: fx.token(target.audience).map(str::to_owned),
        idempotency_key,
        content_type,
        body,
    }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Sends the fuzz run and panics listing every request answered with a 5xx.
pub async fn run(app: &TestServer, pool: &PgPool, t: &Tenant, ch: &ChannelRow) {
    let declared = declared_routes();
    assert!(
        declared.len() > 50,
        "the routes were not found in src/api: {declared:?}"
    );
    let fx = fixture(app, pool, t, ch).await;
    let mut targets = targets(&fx);
    // Changes and deletions last, so a route that reads a row is not fuzzed only after a
    // fuzzed change disabled or deleted it.
    targets.sort_by_key(|t| match t.method {
        Method::PATCH => 1,
        Method::DELETE => 2,
        _ => 0,
    });
    let fuzzed: BTreeSet<(String, String)> = targets
        .iter()
        .map(|t| (t.method.to_string(), t.path.to_owned()))
        .collect();
    let unfuzzed: Vec<_> = declared.difference(&fuzzed).collect();
    assert!(
        unfuzzed.is_empty(),
        "routes declared in src/api without a fuzz target (add them to `targets` in \
         tests/fuzz_helpers): {unfuzzed:?}"
    );
    let stale: Vec<_> = fuzzed.difference(&declared).collect();
    assert!(stale.is_empty(), "fuzz targets of no route: {stale:?}");

    let cases_per_route = env_or("SWITCHYARD_FUZZ_CASES", DEFAULT_CASES);
    let seed = env_or("SWITCHYARD_FUZZ_SEED", DEFAULT_SEED);
    let mut g = Gen {
        rng: StdRng::seed_from_u64(seed),
    };
    let mut failures = Vec::new();
    let mut past_auth: BTreeMap<String, bool> = BTreeMap::new();
    for target in &targets {
        let cases: Vec<Case> = (0..cases_per_route)
            .map(|_| case(&fx, target, &mut g))
            .collect();
        let answers: Vec<(Case, StatusCode, String)> = futures::stream::iter(cases)
            .map(|c| async move {
                let (status, text) = answer(app, &c).await;
                (c, status, text)
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let name = format!("{} {}", target.method, target.path);
        for (c, status, text) in answers {
            if status != StatusCode::UNAUTHORIZED {
                past_auth.insert(name.clone(), true);
            } else {
                past_auth.entry(name.clone()).or_insert(false);
            }
            if status.is_server_error() {
                let text: String = text.chars().take(300).collect();
                failures.push(format!("{}\n  answered {status}: {text}", c.describe()));
            }
        }
    }
    // The endpoints the fuzzed requests made point nowhere: switched off, so the events the
    // run caused are not tried against them by whichever workers run next on this database.
    sqlx::query("UPDATE webhooks SET enabled = false WHERE store_id = $1")
        .bind(fx.store)
        .execute(pool)
        .await
        .expect("the fuzzed webhooks switched off");
    let locked_out: Vec<_> = past_auth
        .iter()
        .filter(|(name, passed)| !**passed && !name.contains("/inbound/"))
        .map(|(name, _)| name)
        .collect();
    assert!(
        locked_out.is_empty(),
        "routes whose every case was refused authentication (a wrong token in the table?): \
         {locked_out:?}"
    );
    assert!(
        failures.is_empty(),
        "{} of {} fuzzed requests answered 5xx (SWITCHYARD_FUZZ_SEED={seed}, \
         SWITCHYARD_FUZZ_CASES={cases_per_route}); the first:\n{}",
        failures.len(),
        cases_per_route * targets.len(),
        failures
            .iter()
            .take(25)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

async fn answer(app: &TestServer, c: &Case) -> (StatusCode, String) {
    let mut req = app.client.request(c.method.clone(), app.url(&c.url));
    if let Some(token) = &c.token {
        req = req.bearer_auth(token);
    }
    if let Some(key) = &c.idempotency_key {
        req = req.header("idempotency-key", key.clone());
    }
    if let Some(body) = &c.body {
        if let Some(ct) = c.content_type {
            req = req.header(CONTENT_TYPE, ct);
        }
        req = req.body(body.clone());
    }
    match req.send().await {
        Ok(res) => {
            let status = res.status();
            (status, res.text().await.unwrap_or_default())
        }
        // A request the server dropped without answering is as bad as a 5xx.
        Err(e) => (StatusCode::BAD_GATEWAY, format!("no answer: {e}")),
    }
}
