//! The generic executor: resolve each selected field against an object (`resolve/`), then project
//! the selection onto what came back. Connections are paged here, the same way for every field
//! that returns one (`first`/`last`/`after`/`before` over the resolver's ordered list, opaque
//! cursors naming the sort value and id), and the actual cost is counted from what was returned.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{json, Map, Value};

use super::cost::page_size;
use super::document::Selection;
use super::errors::GqlError;
use super::resolve::{self, Ctx, Obj, Resolved};
use super::schema;
use crate::shopify::store::{ShopState, ShopifyStore};

/// The position of an item in a connection: its sort value, then its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub value: Value,
    pub id: u64,
}

impl Key {
    pub fn by_id(id: u64) -> Key {
        Key {
            value: Value::from(id),
            id,
        }
    }

    pub fn compare(&self, other: &Key) -> std::cmp::Ordering {
        let values = match (&self.value, &other.value) {
            (Value::Number(a), Value::Number(b)) => a
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b.as_f64().unwrap_or(0.0)),
            (a, b) => a.to_string().cmp(&b.to_string()),
        };
        values.then(self.id.cmp(&other.id))
    }

    pub fn cursor(&self) -> String {
        STANDARD.encode(json!({"last_id": self.id, "last_value": self.value}).to_string())
    }

    fn from_cursor(text: &str) -> Option<Key> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        let v: Value = serde_json::from_slice(&bytes).ok()?;
        Some(Key {
            id: v.get("last_id")?.as_u64()?,
            value: v.get("last_value")?.clone(),
        })
    }
}

/// What a connection field resolved to: every matching item, in the order asked for.
pub struct Conn<'a> {
    pub items: Vec<(Key, Obj<'a>)>,
    pub descending: bool,
}

/// The projected answer of a selection set, with its actual cost and any field errors.
pub struct Projection {
    pub value: Value,
    pub cost: u64,
}

struct Executor<'c, 'a> {
    ctx: &'c Ctx<'a>,
    errors: Vec<GqlError>,
}

/// Projects `fields` on `obj` with the shop's state as it is now: the answer and any field
/// errors. `bulk` leaves connections unpaged.
pub fn run<'a>(
    store: &'a ShopifyStore,
    state: &'a ShopState,
    bulk: bool,
    obj: &Obj<'a>,
    fields: &[Selection],
    path: &[Value],
) -> (Projection, Vec<GqlError>) {
    let ctx = Ctx { store, state, bulk };
    let mut exec = Executor {
        ctx: &ctx,
        errors: Vec::new(),
    };
    let projection = exec.object(obj, fields, path);
    (projection, exec.errors)
}

impl<'a> Executor<'_, 'a> {
    /// Projects `fields` on `obj`; `path` locates field errors.
    fn object(&mut self, obj: &Obj<'a>, fields: &[Selection], path: &[Value]) -> Projection {
        let type_name = obj.type_name();
        let mut out = Map::new();
        let mut cost = 0;
        for field in fields
            .iter()
            .filter(|f| schema::applies(f.on.as_deref(), type_name))
        {
            let mut here = path.to_vec();
            here.push(Value::from(field.key.clone()));
            let value = if field.name == "__typename" {
                Value::from(type_name)
            } else {
                match resolve::field(self.ctx, obj, field) {
                    Ok(resolved) => {
                        let p = self.resolved(resolved, field, &here);
                        cost += p.cost;
                        p.value
                    }
                    Err(mut e) => {
                        e.path = Some(here);
                        e.locations = e.locations.or_else(|| Some(field.location()));
                        self.errors.push(e);
                        Value::Null
                    }
                }
            };
            merge_into(&mut out, &field.key, value);
        }
        Projection {
            value: Value::Object(out),
            cost,
        }
    }

    fn resolved(
        &mut self,
        resolved: Resolved<'a>,
        field: &Selection,
        path: &[Value],
    ) -> Projection {
        match resolved {
            Resolved::Value(value) => Projection { value, cost: 0 },
            Resolved::Object(None) => Projection {
                value: Value::Null,
                cost: 1,
            },
            Resolved::Object(Some(obj)) => {
                let p = self.object(&obj, &field.children, path);
                Projection {
                    value: p.value,
                    cost: 1 + p.cost,
                }
            }
            Resolved::List(objs) => {
                let mut cost = 2;
                let mut values = Vec::with_capacity(objs.len());
                for (i, obj) in objs.iter().enumerate() {
                    let mut here = path.to_vec();
                    here.push(Value::from(i));
                    let p = self.object(obj, &field.children, &here);
                    cost += 1 + p.cost;
                    values.push(p.value);
                }
                Projection {
                    value: Value::Array(values),
                    cost,
                }
            }
            Resolved::Connection(conn) => match self.connection(conn, field, path) {
                Ok(p) => p,
                Err(mut e) => {
                    e.path = Some(path.to_vec());
                    e.locations = Some(field.location());
                    self.errors.push(e);
                    Projection {
                        value: Value::Null,
                        cost: 2,
                    }
                }
            },
        }
    }

    /// Pages `conn` as `field` asks and projects its `edges`, `nodes` and `pageInfo`.
    fn connection(
        &mut self,
        conn: Conn<'a>,
        field: &Selection,
        path: &[Value],
    ) -> Result<Projection, GqlError> {
        let after_key = |k: &Key, c: &Key| {
            let order = k.compare(c);
            if conn.descending {
                order.is_lt()
            } else {
                order.is_gt()
            }
        };
        let cursor = |name: &str| -> Result<Option<Key>, GqlError> {
            match field.arg_str(name) {
                None => Ok(None),
                Some(text) => Key::from_cursor(text).map(Some).ok_or_else(|| {
                    GqlError::new(
                        &format!("Invalid cursor for {name}: {text}"),
                        "INVALID_CURSOR",
                    )
                }),
            }
        };
        let mut start = 0;
        let mut end = conn.items.len();
        if let Some(after) = cursor("after")? {
            start = conn
                .items
                .iter()
                .position(|(k, _)| after_key(k, &after))
                .unwrap_or(end);
        }
        if let Some(before) = cursor("before")? {
            end = conn
                .items
                .iter()
                .position(|(k, _)| !after_key(&before, k))
                .unwrap_or(end)
                .max(start);
        }
        match (field.arg_i64("first"), field.arg_i64("last")) {
            (Some(first), _) => end = end.min(start + first.max(0) as usize),
            (None, Some(last)) => start = start.max(end.saturating_sub(last.max(0) as usize)),
            (None, None) if self.ctx.bulk => {}
            (None, None) => end = end.min(start + page_size(field).unwrap_or(0).max(0) as usize),
        }
        let page = &conn.items[start..end];
        let page_info = json!({
            "hasNextPage": end < conn.items.len(),
            "hasPreviousPage": start > 0,
            "startCursor": page.first().map(|(k, _)| k.cursor()),
            "endCursor": page.last().map(|(k, _)| k.cursor()),
        });
        let mut node_costs = vec![0u64; page.len()];
        let mut out = Map::new();
        for child in &field.children {
            let mut here = path.to_vec();
            here.push(Value::from(child.key.clone()));
            let value = match child.name.as_str() {
                "__typename" => Value::from(format!("{}Connection", field.name)),
                "pageInfo" => project_plain(&page_info, &child.children),
                "nodes" => Value::Array(
                    page.iter()
                        .enumerate()
                        .map(|(i, (_, obj))| {
                            let mut at = here.clone();
                            at.push(Value::from(i));
                            let p = self.object(obj, &child.children, &at);
                            node_costs[i] = node_costs[i].max(p.cost);
                            p.value
                        })
                        .collect(),
                ),
                "edges" => Value::Array(
                    page.iter()
                        .enumerate()
                        .map(|(i, (key, obj))| {
                            let mut edge = Map::new();
                            for part in &child.children {
                                let value = match part.name.as_str() {
                                    "cursor" => Value::from(key.cursor()),
                                    "node" => {
                                        let mut at = here.clone();
                                        at.extend([Value::from(i), Value::from("node")]);
                                        let p = self.object(obj, &part.children, &at);
                                        node_costs[i] = node_costs[i].max(p.cost);
                                        p.value
                                    }
                                    _ => Value::Null,
                                };
                                merge_into(&mut edge, &part.key, value);
                            }
                            Value::Object(edge)
                        })
                        .collect(),
                ),
                _ => Value::Null,
            };
            merge_into(&mut out, &child.key, value);
        }
        Ok(Projection {
            value: Value::Object(out),
            cost: 2 + node_costs.iter().map(|c| 1 + c).sum::<u64>(),
        })
    }
}

/// Projects an already-built JSON object (such as `pageInfo`) onto a selection.
fn project_plain(value: &Value, fields: &[Selection]) -> Value {
    let mut out = Map::new();
    for f in fields {
        let v = if f.name == "__typename" {
            Value::from("PageInfo")
        } else {
            value.get(&f.name).cloned().unwrap_or(Value::Null)
        };
        out.insert(f.key.clone(), v);
    }
    Value::Object(out)
}

/// Sets `key`, merging objects when two selections (say, a field and a fragment) share a key.
fn merge_into(out: &mut Map<String, Value>, key: &str, value: Value) {
    match (out.get_mut(key), value) {
        (Some(Value::Object(existing)), Value::Object(new)) => {
            for (k, v) in new {
                merge_into(existing, &k, v);
            }
        }
        (Some(Value::Array(existing)), Value::Array(new)) if existing.len() == new.len() => {
            for (slot, v) in existing.iter_mut().zip(new) {
                if let (Value::Object(a), Value::Object(b)) = (slot, v) {
                    for (k, v) in b {
                        merge_into(a, &k, v);
                    }
                }
            }
        }
        (_, value) => {
            out.insert(key.to_owned(), value);
        }
    }
}
