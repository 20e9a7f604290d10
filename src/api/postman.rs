//! The OpenAPI document as a Postman collection (schema v2.1.0), so a new user can import the
//! API into Postman and make a first call without writing a request by hand.
//!
//! One folder per resource (the document's tags), then a `Teardown` folder with every delete, so
//! running the collection top to bottom creates, reads and changes each resource before removing
//! it. Bearer auth is set once, on the collection (`{{token}}`, an account's token); operator
//! routes override it with `{{ops_token}}`, plugin callbacks with `{{plugin_token}}`, and the
//! probes and the contract itself send none. Path ids are variables (`{{store_id}}`, ...) that
//! the requests fill as they go: a create stores the new resource's id, a list the first item's
//! id when none is set yet, and account creation the new account's token.
//!
//! Inbound channel webhooks are left out: a platform sends them, signed with its own secret.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::openapi::METHODS;

const SCHEMA: &str = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json";

/// Tags whose operations the collection leaves out.
const LEFT_OUT: [&str; 1] = ["Inbound webhooks"];

/// Operations the collection leaves out, by id: called by a platform, not by an API user.
const LEFT_OUT_OPS: [&str; 1] = ["completeAccountingAuthorization"];

/// String fields of example bodies that a run must fill with its own values: a channel's
/// platform address and credentials, a webhook endpoint, and a SKU of the store (except where a request makes a new
/// one: see [`UNIQUE`]).
const BODY_STRINGS: [(&str, &str); 5] = [
    ("base_url", "shop_url"),
    ("url", "webhook_url"),
    ("access_token", "shop_access_token"),
    ("app_secret", "shop_app_secret"),
    ("sku", "sku"),
];

/// String fields that must be unique in their store or account: a request that creates (or,
/// for a name, changes) sends the example with Postman's `{{$guid}}` after it, so running the
/// collection twice, or renaming after creating, does not clash with what is already there. A
/// change keeps the SKU, which plugins report stock by.
const UNIQUE: [&str; 2] = ["name", "sku"];

/// Path parameters that name another resource than their path says, by operation: a kit is
/// made of products of its own store, which the run's own new product has none of.
const PATH_ALIASES: [(&str, &str, &str); 1] = [("setProductComponents", "id", "kit_product_id")];

/// Body fields that name another resource than their key says, by operation: a kit's
/// components are other products; a plugin's shipment names order lines as `line_id`; an
/// invoice names its accounting connection as `connection_id`.
const BODY_ALIASES: [(&str, &str, &str); 3] = [
    ("setProductComponents", "product_id", "component_product_id"),
    ("reportPluginFulfilment", "line_id", "order_line_id"),
    ("createInvoice", "connection_id", "accounting_connection_id"),
];

/// What an answer gives a later request, beyond the new resource's `id` and the `<x>_id` fields
/// of an answer: by operation, the variable and the script expression (over `body`) that reads
/// it. Kept only while the variable is empty.
const KEEPS: [(&str, &str, &str); 5] = [
    ("createAccount", "token", "body.token"),
    ("createPlugin", "plugin_token", "body.callback_token"),
    (
        "getOrder",
        "order_line_id",
        "(body.lines && body.lines.length) ? body.lines[0].id : undefined",
    ),
    ("listProducts", "kit_product_id", "(body.items[0] || {}).id"),
    (
        "listProducts",
        "component_product_id",
        "(body.items.filter(function (p) { return p.id !== body.items[0].id && p.store_id === body.items[0].store_id; })[0] || {}).id",
    ),
];

/// Scripts run before a request, by operation. A replay takes a delivery that has been
/// delivered or has failed, so it first waits (up to 10 s) for the one it names to settle: sent
/// right after the test send that made it, it would find it still being tried.
const PREPARES: [(&str, &str); 1] = [(
    "replayWebhookDelivery",
    "var tries = 0;
function settled() {
  pm.sendRequest({
    url: pm.variables.replaceIn('{{base_url}}/v1/webhooks/{{webhook_id}}/deliveries'),
    header: { Authorization: 'Bearer ' + pm.variables.get('token') }
  }, function (err, res) {
    var mine = (!err && res.code === 200) ? res.json().items.filter(function (d) {
      return String(d.id) === String(pm.variables.get('delivery_id'));
    })[0] : null;
    if ((!mine || mine.status === 'pending') && ++tries < 40) { setTimeout(settled, 250); }
  });
}
settled();",
)];

/// Actions whose order a run must keep, because each needs the state the one before left: a
/// held order is released, then excluded, then included again.
const ACTION_ORDER: [&str; 3] = ["releaseOrder", "excludeOrder", "includeOrder"];

/// Example values of the variables that are not ids.
const DEFAULTS: [(&str, &str, &str); 5] = [
    (
        "base_url",
        "http://127.0.0.1:8080",
        "Where switchyard listens (`server.listen`).",
    ),
    (
        "token",
        "",
        "An account's API token: `switchyard accounts create NAME`, or `Create an account` \
         with the operator token fills it.",
    ),
    (
        "ops_token",
        "",
        "The operator token, setting `server.ops_token`.",
    ),
    (
        "plugin_token",
        "",
        "A plugin's callback token; `Create a plugin` fills it.",
    ),
    (
        "queue",
        "noop",
        "A queue name; the examples' jobs are `noop`'s, which does nothing.",
    ),
];

/// What one operation becomes.
struct Request {
    folder: String,
    method: &'static str,
    path: String,
    op: Value,
}

impl Request {
    fn id(&self) -> &str {
        self.op["operationId"].as_str().unwrap_or_default()
    }
}

/// The collection of `doc`.
pub fn collection(doc: &Value) -> Value {
    let mut requests = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let folder = op["tags"][0].as_str().unwrap_or("Other").to_owned();
            let id = op["operationId"].as_str().unwrap_or_default();
            if LEFT_OUT.contains(&folder.as_str()) || LEFT_OUT_OPS.contains(&id) {
                continue;
            }
            requests.push(Request {
                folder,
                method,
                path: path.clone(),
                op: op.clone(),
            });
        }
    }
    // Every variable a request can read or fill, known before any request is written, so a body
    // refers to a variable whichever folder fills it.
    let mut variables = BTreeSet::new();
    for r in &requests {
        templated_for(r.id(), &r.path, &mut variables);
    }
    variables.extend(BODY_ALIASES.iter().map(|(_, _, v)| v.to_string()));
    variables.extend(KEEPS.iter().map(|(_, v, _)| v.to_string()));
    // The document's tags come in the order a run needs them; any other tag after them.
    let mut folders: Vec<String> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["name"].as_str().map(str::to_owned))
        .collect();
    for r in &requests {
        if !folders.contains(&r.folder) {
            folders.push(r.folder.clone());
        }
    }
    let mut items: Vec<Value> = Vec::new();
    let mut teardown: Vec<Value> = Vec::new();
    for folder in &folders {
        let mut ours: Vec<&Request> = requests.iter().filter(|r| &r.folder == folder).collect();
        if ours.is_empty() {
            continue;
        }
        ours.sort_by_key(|r| run_rank(r));
        let (deletes, rest): (Vec<&Request>, Vec<&Request>) =
            ours.into_iter().partition(|r| r.method == "delete");
        let entries: Vec<Value> =
            in_need_order(rest.iter().map(|r| entry(doc, r, &variables)).collect());
        items.push(json!({ "name": folder, "item": entries }));
        // Removing one before removing all, and what belongs to a resource before it.
        let mut removes: Vec<Value> = deletes.iter().map(|r| entry(doc, r, &variables)).collect();
        removes.append(&mut teardown);
        teardown = removes;
    }
    if !teardown.is_empty() {
        items.push(json!({
            "name": "Teardown",
            "description": "Every delete, run last: what belongs to a resource goes before it.",
            "item": teardown
        }));
    }
    let mut vars: Vec<Value> = DEFAULTS
        .iter()
        .map(|(key, value, description)| {
            json!({ "key": key, "value": value, "type": "string", "description": description })
        })
        .collect();
    let body_vars = BODY_STRINGS.iter().map(|(_, v)| v.to_string());
    for name in variables
        .into_iter()
        .chain(body_vars)
        .collect::<BTreeSet<_>>()
    {
        if DEFAULTS.iter().all(|(key, _, _)| *key != name) {
            vars.push(json!({ "key": name, "value": "", "type": "string" }));
        }
    }
    json!({
        "info": {
            "name": doc["info"]["title"],
            "description": format!(
                "{}\n\nSet `base_url` and `token` (or `ops_token`) in the collection's \
                 variables; ids fill themselves as the requests run.",
                doc["info"]["description"].as_str().unwrap_or_default()),
            "version": doc["info"]["version"],
            "schema": SCHEMA
        },
        "auth": bearer("{{token}}"),
        "variable": vars,
        "item": items
    })
}

/// The `{{variables}}` a written request reads (its URL and body).
fn reads(entry: &Value) -> BTreeSet<String> {
    let text = format!(
        "{} {}",
        entry["request"]["url"]["raw"], entry["request"]["body"]["raw"]
    );
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split("}}").next())
        .filter(|v| !v.starts_with('$'))
        .map(str::to_owned)
        .collect()
}

/// The variables a written request's script fills.
fn fills(entry: &Value) -> BTreeSet<String> {
    let script = entry["event"][0]["script"]["exec"].to_string();
    script
        .split("collectionVariables.set('")
        .skip(1)
        .filter_map(|rest| rest.split('\'').next())
        .map(str::to_owned)
        .collect()
}

/// `entries` in their order, except that a request comes after the requests of the same folder
/// that fill a variable it reads (a delivery's attempts after the test send that made it).
fn in_need_order(mut entries: Vec<Value>) -> Vec<Value> {
    let mut ordered = Vec::with_capacity(entries.len());
    while !entries.is_empty() {
        let ready = (0..entries.len())
            .find(|&i| {
                let needs = reads(&entries[i]);
                entries
                    .iter()
                    .enumerate()
                    .all(|(j, other)| j == i || fills(other).is_disjoint(&needs))
            })
            .unwrap_or(0);
        ordered.push(entries.remove(ready));
    }
    ordered
}

/// Create first, then reads, then changes, then other actions (those of [`ACTION_ORDER`] in
/// its order); deletes go to the teardown.
fn run_rank(r: &Request) -> (u8, usize, usize) {
    let creates = r.op["responses"].get("201").is_some();
    let rank = match r.method {
        "post" if creates => 0,
        "get" => 1,
        "put" | "patch" => 2,
        "post" => 3,
        _ => 4,
    };
    let action = ACTION_ORDER
        .iter()
        .position(|op| *op == r.id())
        .unwrap_or(ACTION_ORDER.len());
    // Operations on one resource before those on all of them.
    (rank, usize::MAX - r.path.matches('{').count(), action)
}

fn bearer(token: &str) -> Value {
    json!({ "type": "bearer", "bearer": [{ "key": "token", "value": token, "type": "string" }] })
}

/// The request's auth when it is not the collection's.
fn auth(op: &Value) -> Option<Value> {
    let scheme = op["security"][0].as_object().and_then(|s| s.keys().next());
    match scheme.map(String::as_str) {
        Some("tenant_token") => None,
        Some("ops_token") => Some(bearer("{{ops_token}}")),
        Some("plugin_token") => Some(bearer("{{plugin_token}}")),
        _ => Some(json!({ "type": "noauth" })),
    }
}

/// The resource a path segment names, singular: `stores` → `store`, `plugin-rules` →
/// `plugin_rule`, `deliveries` → `delivery`, `dead` → `dead_job`.
fn singular(segment: &str) -> String {
    let s = segment.replace('-', "_");
    if s == "dead" {
        "dead_job".into()
    } else if let Some(stem) = s.strip_suffix("ies") {
        format!("{stem}y")
    } else {
        s.strip_suffix('s').unwrap_or(&s).to_owned()
    }
}

/// The variable a path parameter reads: `{id}` after `stores` is `store_id`; other names are
/// their own.
fn variable(segments: &[&str], at: usize, name: &str) -> String {
    if name != "id" {
        return name.to_owned();
    }
    let owner = segments[..at]
        .iter()
        .rev()
        .find(|s| !s.starts_with('{') && !s.is_empty())
        .copied()
        .unwrap_or("resource");
    let owner = if owner == "jobs" || segments.get(at.wrapping_sub(1)) == Some(&"{queue}") {
        "jobs"
    } else {
        owner
    };
    format!("{}_id", singular(owner))
}

/// The path with its parameters as `{{variables}}`, and the resource it names last.
/// For operation `op`, whose [`PATH_ALIASES`] apply.
fn templated_for(op: &str, path: &str, variables: &mut BTreeSet<String>) -> (Vec<String>, String) {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    let mut last = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            continue;
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let var = PATH_ALIASES
                    .iter()
                    .find(|(id, param, _)| *id == op && *param == name)
                    .map(|(_, _, var)| var.to_string())
                    .unwrap_or_else(|| variable(&segments, i, name));
                variables.insert(var.clone());
                out.push(format!("{{{{{var}}}}}"));
            }
            None => {
                last = singular(seg);
                out.push(seg.to_string());
            }
        }
    }
    (out, last)
}

/// Follows a local `$ref`.
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v["$ref"].as_str().and_then(|r| r.strip_prefix("#/")) {
        Some(pointer) => doc.pointer(&format!("/{pointer}")).unwrap_or(v),
        None => v,
    }
}

/// The example of a request body: the media type's, else the schema's. A list body keeps its
/// first item: its items name resources the run has one of each of.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let media = op["requestBody"]["content"].get("application/json")?;
    let schema = resolve(doc, &media["schema"]);
    let example = media
        .get("example")
        .or_else(|| schema.get("example"))
        .or_else(|| schema["examples"].get(0))
        .cloned()
        .unwrap_or_else(|| json!({}));
    Some(match example {
        Value::Array(items) => Value::Array(items.into_iter().take(1).collect()),
        other => other,
    })
}

/// How a body's values become the run's variables.
#[derive(Clone, Copy)]
struct Fill<'a> {
    variables: &'a BTreeSet<String>,
    /// This operation's [`BODY_ALIASES`]: body key, variable.
    aliases: &'a [(&'a str, &'a str)],
    makes: Makes,
}

impl Fill<'_> {
    /// The variable a number under `key` stands for.
    fn number(&self, key: &str) -> Option<String> {
        match self.aliases.iter().find(|(k, _)| *k == key) {
            Some((_, var)) => Some(var.to_string()),
            None => self.variables.contains(key).then(|| key.to_owned()),
        }
    }
}

/// The example as JSON text, with every `"<x>_id": n` whose variable the collection has replaced
/// by `{{<x>_id}}`, so a body refers to the resources the run made.
fn body_text(example: &Value, fill: Fill) -> String {
    fn walk(v: &mut Value, fill: Fill, top: bool) {
        match v {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if let (true, Some(var)) = (value.is_number(), fill.number(key)) {
                        *value = Value::String(format!("\u{1}{var}\u{1}"));
                    } else if let (true, Some(text)) =
                        (top && fill.makes.unique(key), value.as_str())
                    {
                        *value = Value::String(format!("{text}-{{{{$guid}}}}"));
                    } else if let Some((_, var)) = BODY_STRINGS.iter().find(|(k, _)| {
                        k == key
                            && value.is_string()
                            && (fill.makes == Makes::Nothing || *k != "sku")
                    }) {
                        *value = Value::String(format!("{{{{{var}}}}}"));
                    } else {
                        walk(value, fill, false);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| walk(i, fill, false)),
            _ => {}
        }
    }
    let mut example = example.clone();
    walk(&mut example, fill, true);
    let text = serde_json::to_string_pretty(&example).unwrap_or_default();
    // `"\u0001store_id\u0001"` → `{{store_id}}`, unquoted: the variable holds a number.
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("\"\\u0001") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 7..];
        let end = after.find("\\u0001\"").unwrap_or(0);
        out.push_str(&format!("{{{{{}}}}}", &after[..end]));
        rest = &after[end + 7..];
    }
    out.push_str(rest);
    out
}

/// The `<x>_id` properties of `op`'s 202 answer, by the variables they fill: what an accepted
/// action started (a delivery, a job).
fn answered_ids(doc: &Value, op: &Value, variables: &BTreeSet<String>) -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    for (status, answer) in op["responses"].as_object().into_iter().flatten() {
        if status != "202" {
            continue;
        }
        let schema = resolve(doc, &answer["content"]["application/json"]["schema"]);
        for key in schema["properties"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, _)| k)
        {
            if key.ends_with("_id") && variables.contains(key) {
                ids.insert(key.clone());
            }
        }
    }
    ids
}

/// The test script: the answer is 2xx, and what later requests need from it is kept. A new
/// resource's id, and the ids an answer names, replace the variable's value; a list's first item
/// and the values of [`KEEPS`] fill a variable only while it is empty, so one set by hand or by
/// an environment is left alone.
fn captures(doc: &Value, r: &Request, resource: &str, variables: &BTreeSet<String>) -> Vec<String> {
    let set = |var: &str, value: &str| {
        format!(
            "if ({value} !== undefined && {value} !== null) \
             {{ pm.collectionVariables.set('{var}', {value}); }}"
        )
    };
    let keep = |var: &str, value: &str| {
        format!(
            "if (!pm.variables.get('{var}')) {{ var v = {value}; \
             if (v !== undefined && v !== null) {{ pm.collectionVariables.set('{var}', v); }} }}"
        )
    };
    let mut lines = vec![
        if redirects(&r.op) {
            "pm.test(\"answered a redirect\", function () { pm.response.to.be.redirection; });"
                .to_owned()
        } else {
            "pm.test(\"answered 2xx\", function () { pm.response.to.be.success; });".to_owned()
        },
        "if (pm.response.code >= 300 || !pm.response.headers.has('Content-Type', 'application/json')) { return; }"
            .to_owned(),
        "var body = pm.response.json();".to_owned(),
    ];
    let own = format!("{resource}_id");
    if r.op["responses"].get("201").is_some() && variables.contains(&own) {
        lines.push(set(&own, "body.id"));
    }
    for id in answered_ids(doc, &r.op, variables) {
        lines.push(set(&id, &format!("body.{id}")));
    }
    if r.method == "get" && variables.contains(&own) {
        lines.push(format!(
            "if (Array.isArray(body.items) && body.items.length) {{ {} }}",
            keep(&own, "body.items[0].id")
        ));
    }
    for (_, var, value) in KEEPS.iter().filter(|(op, _, _)| *op == r.id()) {
        lines.push(keep(var, value));
    }
    lines
}

/// What a request does to the unique fields of its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Makes {
    /// Makes a resource (answers 201).
    New,
    /// Changes one (PATCH).
    Change,
    Nothing,
}

impl Makes {
    fn of(r: &Request) -> Makes {
        if r.op["responses"].get("201").is_some() {
            Makes::New
        } else if r.method == "patch" {
            Makes::Change
        } else {
            Makes::Nothing
        }
    }

    /// Whether `key` gets a fresh value.
    fn unique(self, key: &str) -> bool {
        match self {
            Makes::New => UNIQUE.contains(&key),
            Makes::Change => key == "name",
            Makes::Nothing => false,
        }
    }
}

fn entry(doc: &Value, r: &Request, variables: &BTreeSet<String>) -> Value {
    let (segments, resource) = templated_for(r.id(), &r.path, &mut variables.clone());
    let op = &r.op;
    let mut query = Vec::new();
    let mut headers = vec![json!({ "key": "Accept", "value": "application/json" })];
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
        if p["in"] == "header" && p["name"] == "Idempotency-Key" {
            // A fresh key per send; a retry by hand would reuse the one sent.
            headers.push(json!({
                "key": "Idempotency-Key",
                "value": "{{$guid}}",
                "description": p["description"],
                "disabled": p["required"] != true
            }));
        }
        if p["in"] == "query" {
            query.push(json!({
                "key": p["name"],
                "value": p["example"].as_str().unwrap_or_default(),
                "description": p["description"],
                "disabled": true
            }));
        }
    }
    let mut url = Map::new();
    url.insert(
        "raw".into(),
        json!(format!("{{{{base_url}}}}/{}", segments.join("/"))),
    );
    url.insert("host".into(), json!(["{{base_url}}"]));
    url.insert("path".into(), json!(segments));
    if !query.is_empty() {
        url.insert("query".into(), Value::Array(query));
    }
    let mut request = Map::new();
    request.insert("method".into(), json!(r.method.to_uppercase()));
    if let Some(example) = example_body(doc, op) {
        headers.push(json!({ "key": "Content-Type", "value": "application/json" }));
        let aliases: Vec<(&str, &str)> = BODY_ALIASES
            .iter()
            .filter(|(id, _, _)| *id == r.id())
            .map(|(_, key, var)| (*key, *var))
            .collect();
        let fill = Fill {
            variables,
            aliases: &aliases,
            makes: Makes::of(r),
        };
        request.insert(
            "body".into(),
            json!({ "mode": "raw", "raw": body_text(&example, fill),
                    "options": { "raw": { "language": "json" } } }),
        );
    }
    request.insert("header".into(), Value::Array(headers));
    request.insert("url".into(), Value::Object(url));
    if let Some(auth) = auth(op) {
        request.insert("auth".into(), auth);
    }
    let description = [op["summary"].as_str(), op["description"].as_str()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("\n\n");
    request.insert("description".into(), json!(description));
    let name = op["summary"]
        .as_str()
        .map(|s| s.trim_end_matches('.').to_owned())
        .unwrap_or_else(|| format!("{} {}", r.method.to_uppercase(), r.path));
    let mut events = vec![json!({ "listen": "test", "script": {
        "type": "text/javascript", "exec": captures(doc, r, &resource, variables) } })];
    for (_, script) in PREPARES.iter().filter(|(id, _)| *id == r.id()) {
        events.push(json!({ "listen": "prerequest", "script": {
            "type": "text/javascript", "exec": script.lines().collect::<Vec<_>>() } }));
    }
    let mut item = json!({ "name": name, "request": request, "event": events });
    if redirects(op) {
        item["protocolProfileBehavior"] = json!({ "followRedirects": false });
    }
    item
}

/// Whether the operation's success is a redirect (a 3xx answer documented, no 2xx).
fn redirects(op: &Value) -> bool {
    let codes: Vec<&String> = op["responses"]
        .as_object()
        .map(|r| r.keys().collect())
        .unwrap_or_default();
    codes.iter().any(|c| c.starts_with('3')) && !codes.iter().any(|c| c.starts_with('2'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_become_variables_named_for_their_resource() {
        let mut vars = BTreeSet::new();
        let (segs, last) = templated_for("", "/v1/stores/{store_id}/plugin-rules", &mut vars);
        assert_eq!(segs, ["v1", "stores", "{{store_id}}", "plugin-rules"]);
        assert_eq!(last, "plugin_rule");
        let (segs, _) = templated_for("", "/v1/webhooks/{id}/deliveries/{delivery_id}", &mut vars);
        assert_eq!(segs[2], "{{webhook_id}}");
        let (segs, _) = templated_for("", "/v1/jobs/{queue}/{id}", &mut vars);
        assert_eq!(segs[2..], ["{{queue}}", "{{job_id}}"]);
        let (segs, _) = templated_for("", "/v1/queues/{queue}/dead/{id}", &mut vars);
        assert_eq!(segs[4], "{{dead_job_id}}");
        assert!(vars.contains("delivery_id") && vars.contains("store_id"));
    }

    #[test]
    fn ids_in_example_bodies_refer_to_the_runs_variables() {
        let vars: BTreeSet<String> = ["store_id".to_owned()].into();
        let fill = |makes| Fill {
            variables: &vars,
            aliases: &[("line_id", "order_line_id")],
            makes,
        };
        let text = body_text(
            &json!({ "store_id": 12, "name": "x", "count": 3, "line_id": 4 }),
            fill(Makes::Nothing),
        );
        assert!(text.contains("\"line_id\": {{order_line_id}}"), "{text}");
        assert!(text.contains("\"store_id\": {{store_id}}"), "{text}");
        assert!(text.contains("\"count\": 3"), "{text}");
        assert!(text.contains("\"name\": \"x\""), "{text}");
        let text = body_text(&json!({ "name": "x", "sku": "A" }), fill(Makes::New));
        assert!(text.contains("\"name\": \"x-{{$guid}}\""), "{text}");
        assert!(text.contains("\"sku\": \"A-{{$guid}}\""), "{text}");
        let text = body_text(&json!({ "sku": "A", "name": "x" }), fill(Makes::Change));
        assert!(text.contains("\"sku\": \"A\""), "{text}");
        assert!(text.contains("\"name\": \"x-{{$guid}}\""), "{text}");
        let text = body_text(&json!({ "sku": "A" }), fill(Makes::Nothing));
        assert!(text.contains("\"sku\": \"{{sku}}\""), "{text}");
    }
}
