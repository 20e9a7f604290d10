//! Shopify's calculated query cost, worked out before anything runs: scalars and enums cost 0, an
//! object 1, a connection 2 plus `first` (or `last`) times the cost of one node, a list of
//! objects like a connection of its size, a mutation field 10 plus its payload's objects. An
//! interface costs its most expensive `... on` branch. The same walk checks the selection against
//! the schema, so an unknown field or a missing page size is refused before the bucket is charged.
//! `pageInfo`, `edges` and `cursor` are part of the connection's 2.

use serde_json::Value;

use super::document::{Operation, OperationKind, Selection};
use super::errors::GqlError;
use super::schema::{self, Kind, INTERFACES};

/// Shopify's single-query maximum.
pub const MAX_QUERY_COST: u64 = 1000;
/// Most items a connection page, or an input array, may hold.
pub const MAX_PAGE: i64 = 250;
/// What every mutation field costs before its payload.
pub const MUTATION_COST: u64 = 10;

/// The requested cost of `op`, or every validation error. In a bulk query connections take no
/// page size (their cost then counts one node each, which no one is charged for).
pub fn requested(op: &Operation, bulk: bool) -> Result<u64, Vec<GqlError>> {
    let mut walk = Walk {
        bulk,
        errors: Vec::new(),
    };
    let cost = match op.kind {
        OperationKind::Query => walk.set(&op.fields, "QueryRoot"),
        OperationKind::Mutation => op
            .fields
            .iter()
            .map(|f| match walk.kind("Mutation", f) {
                Some(Kind::Object(payload)) => MUTATION_COST + walk.set(&f.children, payload),
                _ => 0,
            })
            .sum(),
    };
    if walk.errors.is_empty() {
        Ok(cost)
    } else {
        Err(walk.errors)
    }
}

/// The error for a query above [`MAX_QUERY_COST`], as Shopify words it.
pub fn too_expensive(cost: u64) -> GqlError {
    GqlError::new(
        &format!(
            "Query cost is {cost}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\nSee https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\ncost of a query is calculated.\n\nTo query larger amounts of data with fewer limits, bulk operations should be used instead.\nSee https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
        ),
        "MAX_COST_EXCEEDED",
    )
    .with("cost", Value::from(cost))
    .with("maxCost", Value::from(MAX_QUERY_COST))
}

/// The size of a list argument of a field (`nodes(ids:)`, `quantities(names:)`), if any.
pub fn list_argument_len(field: &Selection) -> Option<usize> {
    field.args.values().find_map(|v| v.as_array().map(Vec::len))
}

/// `first` or `last`.
pub fn page_size(field: &Selection) -> Option<i64> {
    field.arg_i64("first").or_else(|| field.arg_i64("last"))
}

struct Walk {
    bulk: bool,
    errors: Vec<GqlError>,
}

impl Walk {
    /// The field's kind, recording an error (and checking input arrays) on the way.
    fn kind(&mut self, type_name: &str, field: &Selection) -> Option<Kind> {
        check_input_arrays(&field.args, &mut self.errors, field);
        let Some(kind) = schema::field(type_name, &field.name) else {
            self.errors
                .push(GqlError::undefined_field(type_name, &field.name).at(field.location()));
            return None;
        };
        let has_children = !field.children.is_empty();
        match kind {
            Kind::Scalar if has_children => self.errors.push(
                GqlError::new(
                    &format!(
                        "Selections can't be made on scalars (field '{}' returns a scalar but has selections)",
                        field.name
                    ),
                    "selectionMismatch",
                )
                .at(field.location()),
            ),
            Kind::Object(t) | Kind::List(t) | Kind::Connection(t) if !has_children => {
                self.errors.push(
                    GqlError::new(
                        &format!(
                            "Field must have selections (field '{}' returns {t} but has no selections.)",
                            field.name
                        ),
                        "selectionMismatch",
                    )
                    .at(field.location()),
                )
            }
            _ => {}
        }
        Some(kind)
    }

    /// The cost of a selection set on `type_name`.
    fn set(&mut self, fields: &[Selection], type_name: &str) -> u64 {
        if INTERFACES.contains(&type_name) {
            return self.interface(fields, type_name);
        }
        fields
            .iter()
            .filter(|f| schema::applies(f.on.as_deref(), type_name))
            .map(|f| self.field(f, type_name))
            .sum()
    }

    /// The most expensive branch of an interface's `... on` fragments.
    fn interface(&mut self, fields: &[Selection], type_name: &str) -> u64 {
        let mut branches: Vec<&str> = fields
            .iter()
            .filter_map(|f| f.on.as_deref())
            .filter(|c| *c != type_name)
            .collect();
        branches.sort_unstable();
        branches.dedup();
        if branches.is_empty() {
            return fields.iter().map(|f| self.field(f, type_name)).sum();
        }
        branches
            .into_iter()
            .map(|branch| {
                let chosen: Vec<Selection> = fields
                    .iter()
                    .filter(|f| {
                        f.on.is_none()
                            || f.on.as_deref() == Some(branch)
                            || f.on.as_deref() == Some(type_name)
                    })
                    .cloned()
                    .collect();
                self.set(&chosen, branch)
            })
            .max()
            .unwrap_or(0)
    }

    fn field(&mut self, field: &Selection, type_name: &str) -> u64 {
        match self.kind(type_name, field) {
            None | Some(Kind::Scalar) => 0,
            Some(Kind::Object(t)) => 1 + self.set(&field.children, t),
            Some(Kind::List(t)) => {
                let n = list_argument_len(field)
                    .map(|n| n as u64)
                    .or_else(|| page_size(field).map(|n| n.max(0) as u64))
                    .unwrap_or(1);
                2 + n * (1 + self.set(&field.children, t))
            }
            Some(Kind::Connection(t)) => self.connection(field, t),
        }
    }

    fn connection(&mut self, field: &Selection, node_type: &str) -> u64 {
        let size = page_size(field);
        match size {
            None if !self.bulk => self.errors.push(
                GqlError::new("you must provide one of first or last", "missingPageSize")
                    .at(field.location())
                    .with("field", Value::from(field.name.clone())),
            ),
            Some(n) if !(0..=MAX_PAGE).contains(&n) => self.errors.push(
                GqlError::new(
                    &format!(
                        "The '{}' connection accepts at most {MAX_PAGE} items per page; {n} were requested",
                        field.name
                    ),
                    "MAX_PAGE_SIZE_EXCEEDED",
                )
                .at(field.location()),
            ),
            _ => {}
        }
        let connection_type = format!("{node_type}Connection");
        let mut node_fields = Vec::new();
        for child in &field.children {
            match child.name.as_str() {
                "__typename" => {}
                "nodes" => node_fields.extend(child.children.iter().cloned()),
                "pageInfo" => {
                    self.set(&child.children, "PageInfo");
                }
                "edges" => {
                    for edge_field in &child.children {
                        match edge_field.name.as_str() {
                            "cursor" | "__typename" => {}
                            "node" => node_fields.extend(edge_field.children.iter().cloned()),
                            other => self.errors.push(
                                GqlError::undefined_field(&format!("{node_type}Edge"), other)
                                    .at(edge_field.location()),
                            ),
                        }
                    }
                }
                other => self
                    .errors
                    .push(GqlError::undefined_field(&connection_type, other).at(child.location())),
            }
        }
        let n = size.unwrap_or(1).max(0) as u64;
        2 + n * (1 + self.set(&node_fields, node_type))
    }
}

/// Shopify refuses any input array longer than 250 items, wherever it sits in the arguments.
fn check_input_arrays(
    args: &serde_json::Map<String, Value>,
    errors: &mut Vec<GqlError>,
    field: &Selection,
) {
    fn visit(value: &Value, errors: &mut Vec<GqlError>, field: &Selection) {
        match value {
            Value::Array(items) => {
                if items.len() as i64 > MAX_PAGE {
                    errors.push(
                        GqlError::new(
                            &format!(
                                "The input array size of {} is greater than the maximum allowed of {MAX_PAGE}.",
                                items.len()
                            ),
                            "MAX_INPUT_SIZE_EXCEEDED",
                        )
                        .at(field.location()),
                    );
                }
                items.iter().for_each(|v| visit(v, errors, field));
            }
            Value::Object(map) => map.values().for_each(|v| visit(v, errors, field)),
            _ => {}
        }
    }
    args.values().for_each(|v| visit(v, errors, field));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shopify::graphql::document::prepare;

    fn cost_of(query: &str) -> Result<u64, Vec<GqlError>> {
        requested(&prepare(query, &Value::Null, None).expect("parses"), false)
    }

    #[test]
    fn counts_objects_connections_and_mutations() {
        assert_eq!(cost_of("{ shop { name } }"), Ok(1));
        assert_eq!(
            cost_of("{ orders(first: 10) { edges { node { id } } } }"),
            Ok(12)
        );
        assert_eq!(
            cost_of("{ orders(first: 10) { nodes { id lineItems(first: 5) { nodes { sku } } } } }"),
            Ok(2 + 10 * (1 + 2 + 5))
        );
        assert_eq!(
            cost_of("mutation { webhookSubscriptionDelete(id: \"x\") { userErrors { message } } }"),
            Ok(10 + 3)
        );
        assert_eq!(
            cost_of("{ node(id: \"x\") { id ... on Order { customer { id } } ... on Product { title } } }"),
            Ok(2)
        );
    }

    #[test]
    fn refuses_unknown_fields_and_missing_or_large_pages() {
        let errors = cost_of("{ orders(first: 5) { nodes { id colour } } }").expect_err("refused");
        assert_eq!(
            errors[0].message,
            "Field 'colour' doesn't exist on type 'Order'"
        );
        assert_eq!(errors[0].code(), "undefinedField");
        assert!(cost_of("{ orders { nodes { id } } }").is_err());
        assert!(cost_of("{ orders(first: 251) { nodes { id } } }").is_err());
    }
}
