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

/// String fields of example bodies that a run must fill with its own values: a channel's
/// platform address and credentials, and a SKU of the store (except where a request makes a new
/// one: see [`UNIQUE`]).
const BODY_STRINGS: [(&str, &str); 4] = [
    ("base_url", "shop_url"),
    ("access_token", "shop_access_token"),
    ("app_secret", "shop_app_secret"),
    ("sku", "sku"),
];

/// String fields that must be unique in their store or account: a request that creates (or,
/// for a name, changes) sends the example with Postman's `{{$guid}}` after it, so running the
/// collection twice, or renaming after creating, does not clash with what is already there. A
/// change keeps the SKU, which plugins report stock by.
const UNIQUE: [&str; 2] = ["name", "sku"];

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

/// The collection of `doc`.
pub fn collection(doc: &Value) -> Value {
    let mut requests = Vec::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for method in METHODS {
            let Some(op) = item.get(method) else {
                continue;
            };
            let folder = op["tags"][0].as_str().unwrap_or("Other").to_owned();
            if LEFT_OUT.contains(&folder.as_str()) {
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
    let mut variables = BTreeSet::new();
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
        let entries: Vec<Value> = rest.iter().map(|r| entry(doc, r, &mut variables)).collect();
        items.push(json!({ "name": folder, "item": entries }));
        // Removing one before removing all, and what belongs to a resource before it.
        let mut removes: Vec<Value> = deletes
            .iter()
            .map(|r| entry(doc, r, &mut variables))
            .collect();
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

/// Create first, then reads, then changes, then other actions; deletes go to the teardown.
fn run_rank(r: &Request) -> (u8, usize) {
    let creates = r.op["responses"].get("201").is_some();
    let rank = match r.method {
        "post" if creates => 0,
        "get" => 1,
        "put" | "patch" => 2,
        "post" => 3,
        _ => 4,
    };
    // Operations on one resource before those on all of them.
    (rank, usize::MAX - r.path.matches('{').count())
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
fn templated(path: &str, variables: &mut BTreeSet<String>) -> (Vec<String>, String) {
    let segments: Vec<&str> = path.split('/').collect();
    let mut out = Vec::new();
    let mut last = String::new();
    for (i, seg) in segments.iter().enumerate() {
        if seg.is_empty() {
            continue;
        }
        match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => {
                let var = variable(&segments, i, name);
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

/// The example of a request body: the media type's, else the schema's.
fn example_body(doc: &Value, op: &Value) -> Option<Value> {
    let media = op["requestBody"]["content"].get("application/json")?;
    if let Some(e) = media.get("example") {
        return Some(e.clone());
    }
    let schema = resolve(doc, &media["schema"]);
    schema
        .get("example")
        .or_else(|| schema["examples"].get(0))
        .cloned()
        .or(Some(json!({})))
}

/// The example as JSON text, with every `"<x>_id": n` whose variable the collection has replaced
/// by `{{<x>_id}}`, so a body refers to the resources the run made.
fn body_text(example: &Value, variables: &BTreeSet<String>, makes: Makes) -> String {
    fn walk(v: &mut Value, variables: &BTreeSet<String>, makes: Makes, top: bool) {
        match v {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    if value.is_number() && variables.contains(key) {
                        *value = Value::String(format!("\u{1}{key}\u{1}"));
                    } else if let (true, Some(text)) = (top && makes.unique(key), value.as_str()) {
                        *value = Value::String(format!("{text}-{{{{$guid}}}}"));
                    } else if let Some((_, var)) = BODY_STRINGS
                        .iter()
                        .find(|(k, _)| k == key && value.is_string())
                    {
                        *value = Value::String(format!("{{{{{var}}}}}"));
                    } else {
                        walk(value, variables, makes, false);
                    }
                }
            }
            Value::Array(items) => items
                .iter_mut()
                .for_each(|i| walk(i, variables, makes, false)),
            _ => {}
        }
    }
    let mut example = example.clone();
    walk(&mut example, variables, makes, true);
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

/// The test script: the answer is 2xx, and what later requests need from it is kept in a
/// variable that is still empty (one set by hand, or by an environment, is left alone).
fn captures(method: &str, resource: &str, op: &Value) -> Vec<String> {
    let keep = |var: &str, value: &str| {
        format!(
            "if ({value} !== undefined && {value} !== null && !pm.variables.get('{var}')) \
             {{ pm.collectionVariables.set('{var}', {value}); }}"
        )
    };
    let mut lines = vec![
        "pm.test(\"answered 2xx\", function () { pm.response.to.be.success; });".to_owned(),
        "if (pm.response.code >= 300 || !pm.response.headers.has('Content-Type', 'application/json')) { return; }"
            .to_owned(),
        "var body = pm.response.json();".to_owned(),
    ];
    let creates = method == "post" && op["responses"].get("201").is_some();
    if creates {
        lines.push(keep(&format!("{resource}_id"), "body.id"));
    }
    if method == "get" {
        lines.push(format!(
            "if (Array.isArray(body.items) && body.items.length) {{ {} }}",
            keep(&format!("{resource}_id"), "body.items[0].id")
        ));
    }
    if creates && resource == "account" {
        lines.push(keep("token", "body.token"));
    }
    if creates && resource == "plugin" {
        lines.push(keep("plugin_token", "body.callback_token"));
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

fn entry(doc: &Value, r: &Request, variables: &mut BTreeSet<String>) -> Value {
    let (segments, resource) = templated(&r.path, variables);
    let op = &r.op;
    let mut query = Vec::new();
    for p in op["parameters"].as_array().into_iter().flatten() {
        let p = resolve(doc, p);
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
    let mut headers = vec![json!({ "key": "Accept", "value": "application/json" })];
    if let Some(example) = example_body(doc, op) {
        headers.push(json!({ "key": "Content-Type", "value": "application/json" }));
        request.insert(
            "body".into(),
            json!({ "mode": "raw", "raw": body_text(&example, variables, Makes::of(r)),
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
    json!({
        "name": name,
        "request": request,
        "event": [{ "listen": "test", "script": {
            "type": "text/javascript", "exec": captures(r.method, &resource, op) } }]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_ids_become_variables_named_for_their_resource() {
        let mut vars = BTreeSet::new();
        let (segs, last) = templated("/v1/stores/{store_id}/plugin-rules", &mut vars);
        assert_eq!(segs, ["v1", "stores", "{{store_id}}", "plugin-rules"]);
        assert_eq!(last, "plugin_rule");
        let (segs, _) = templated("/v1/webhooks/{id}/deliveries/{delivery_id}", &mut vars);
        assert_eq!(segs[2], "{{webhook_id}}");
        let (segs, _) = templated("/v1/jobs/{queue}/{id}", &mut vars);
        assert_eq!(segs[2..], ["{{queue}}", "{{job_id}}"]);
        let (segs, _) = templated("/v1/queues/{queue}/dead/{id}", &mut vars);
        assert_eq!(segs[4], "{{dead_job_id}}");
        assert!(vars.contains("delivery_id") && vars.contains("store_id"));
    }

    #[test]
    fn ids_in_example_bodies_refer_to_the_runs_variables() {
        let vars: BTreeSet<String> = ["store_id".to_owned()].into();
        let text = body_text(
            &json!({ "store_id": 12, "name": "x", "count": 3 }),
            &vars,
            Makes::Nothing,
        );
        assert!(text.contains("\"store_id\": {{store_id}}"), "{text}");
        assert!(text.contains("\"count\": 3"), "{text}");
        assert!(text.contains("\"name\": \"x\""), "{text}");
        let text = body_text(&json!({ "name": "x", "sku": "A" }), &vars, Makes::New);
        assert!(text.contains("\"name\": \"x-{{$guid}}\""), "{text}");
        assert!(text.contains("\"sku\": \"A-{{$guid}}\""), "{text}");
        let text = body_text(&json!({ "sku": "A", "name": "x" }), &vars, Makes::Change);
        assert!(text.contains("\"sku\": \"{{sku}}\""), "{text}");
        assert!(text.contains("\"name\": \"x-{{$guid}}\""), "{text}");
    }
}
