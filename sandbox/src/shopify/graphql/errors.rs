//! GraphQL errors as Shopify words them: a top-level `errors` list whose entries carry a
//! `message`, `locations`, an optional `path`, and `extensions` with a `code` (and, for some
//! codes, the details a client acts on, such as the cost of a query that is too expensive).

use serde_json::{json, Map, Value};

/// One entry of the answer's `errors`.
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    pub message: String,
    pub locations: Option<Value>,
    pub path: Option<Vec<Value>>,
    pub extensions: Map<String, Value>,
}

impl GqlError {
    pub fn new(message: &str, code: &str) -> GqlError {
        let mut extensions = Map::new();
        extensions.insert("code".into(), json!(code));
        GqlError {
            message: message.to_owned(),
            locations: None,
            path: None,
            extensions,
        }
    }

    #[cfg(test)]
    pub fn code(&self) -> &str {
        self.extensions
            .get("code")
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    pub fn at(mut self, locations: Value) -> GqlError {
        self.locations = Some(locations);
        self
    }

    pub fn with(mut self, key: &str, value: Value) -> GqlError {
        self.extensions.insert(key.to_owned(), value);
        self
    }

    /// A syntax error, from `graphql-parser`'s text ("... Parse error at 1:20\nUnexpected `}`").
    pub fn parse(text: &str) -> GqlError {
        let position = text
            .split("Parse error at ")
            .nth(1)
            .and_then(|rest| rest.lines().next())
            .and_then(|pos| pos.split_once(':'))
            .and_then(|(l, c)| {
                Some((l.trim().parse::<u64>().ok()?, c.trim().parse::<u64>().ok()?))
            });
        let unexpected = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Unexpected "))
            .unwrap_or("token")
            .replace('`', "\"");
        let (line, column) = position.unwrap_or((1, 1));
        GqlError::new(
            &format!("syntax error, unexpected {unexpected} at [{line}, {column}]"),
            "GRAPHQL_PARSE_FAILED",
        )
        .at(json!([{ "line": line, "column": column }]))
    }

    /// A variable whose value does not fit its declared type.
    pub fn invalid_variable(name: &str, ty: &str, value: &Value, explanation: &str) -> GqlError {
        GqlError::new(
            &format!("Variable ${name} of type {ty} was provided invalid value"),
            "INVALID_VARIABLE",
        )
        .with("value", value.clone())
        .with(
            "problems",
            json!([{ "path": [], "explanation": explanation }]),
        )
    }

    /// `Field 'x' doesn't exist on type 'Order'`.
    pub fn undefined_field(type_name: &str, field: &str) -> GqlError {
        GqlError::new(
            &format!("Field '{field}' doesn't exist on type '{type_name}'"),
            "undefinedField",
        )
        .with("typeName", json!(type_name))
        .with("fieldName", json!(field))
    }

    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        out.insert("message".into(), json!(self.message));
        if let Some(locations) = &self.locations {
            out.insert("locations".into(), locations.clone());
        }
        if let Some(path) = &self.path {
            out.insert("path".into(), Value::Array(path.clone()));
        }
        out.insert("extensions".into(), Value::Object(self.extensions.clone()));
        Value::Object(out)
    }
}
