//! The OpenAPI document as a Postman collection (schema v2.1.0).

use serde_json::{json, Value};

/// The collection of `doc`.
pub fn collection(doc: &Value) -> Value {
    json!({ "info": { "name": doc["info"]["title"] } })
}
