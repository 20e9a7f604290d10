//! From request text to what the executor walks: the document parsed with `graphql-parser`, the
//! operation picked (by `operationName` when there are several), variables checked against their
//! declarations (defaults applied), and every selection flattened into [`Selection`]s whose
//! arguments are plain JSON. Fragments (named and inline) dissolve into fields that carry their
//! type condition, so resolvers never see a fragment.

use graphql_parser::query::{
    self as ast, Definition, FragmentDefinition, OperationDefinition, TypeCondition,
};
use serde_json::{Map, Value};

use super::errors::GqlError;

/// Fragments may nest; a cycle (which the spec forbids) must not recurse forever.
const MAX_DEPTH: usize = 30;

/// One field of a selection set, with everything resolved that can be before execution.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The key in the answer: the alias, else the field name.
    pub key: String,
    pub name: String,
    pub args: Map<String, Value>,
    /// The type condition of the fragment the field came from: it applies only to that type.
    pub on: Option<String>,
    pub children: Vec<Selection>,
    pub line: usize,
    pub column: usize,
}

impl Selection {
    pub fn arg(&self, name: &str) -> Option<&Value> {
        self.args.get(name).filter(|v| !v.is_null())
    }

    pub fn arg_str(&self, name: &str) -> Option<&str> {
        self.arg(name).and_then(Value::as_str)
    }

    pub fn arg_i64(&self, name: &str) -> Option<i64> {
        self.arg(name).and_then(Value::as_i64)
    }

    pub fn arg_bool(&self, name: &str) -> Option<bool> {
        self.arg(name).and_then(Value::as_bool)
    }

    /// `{"line": .., "column": ..}` for an error about this field.
    pub fn location(&self) -> Value {
        serde_json::json!([{ "line": self.line, "column": self.column }])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    Query,
    Mutation,
}

/// The operation to run.
#[derive(Debug, Clone)]
pub struct Operation {
    pub kind: OperationKind,
    pub fields: Vec<Selection>,
}

/// Parses `query`, picks the operation and binds `variables` (a JSON object or null).
pub fn prepare(
    query: &str,
    variables: &Value,
    operation_name: Option<&str>,
) -> Result<Operation, GqlError> {
    let doc = ast::parse_query::<String>(query)
        .map_err(|e| GqlError::parse(&e.to_string()))?
        .into_static();
    let mut operations = Vec::new();
    let mut fragments = Vec::new();
    for definition in doc.definitions {
        match definition {
            Definition::Operation(op) => operations.push(op),
            Definition::Fragment(f) => fragments.push(f),
        }
    }
    let op = pick(operations, operation_name)?;
    let (kind, definitions, set) = match op {
        OperationDefinition::SelectionSet(set) => (OperationKind::Query, Vec::new(), set),
        OperationDefinition::Query(q) => (
            OperationKind::Query,
            q.variable_definitions,
            q.selection_set,
        ),
        OperationDefinition::Mutation(m) => (
            OperationKind::Mutation,
            m.variable_definitions,
            m.selection_set,
        ),
        OperationDefinition::Subscription(_) => {
            return Err(GqlError::new(
                "Subscriptions are not supported by the Admin API",
                "subscriptionNotSupported",
            ))
        }
    };
    let bound = bind_variables(&definitions, variables)?;
    let flattener = Flattener {
        fragments: &fragments,
        variables: &bound,
    };
    let mut fields = Vec::new();
    flattener.flatten(&set, None, 0, &mut fields)?;
    Ok(Operation { kind, fields })
}

fn operation_name<'a>(op: &'a OperationDefinition<'static, String>) -> Option<&'a str> {
    match op {
        OperationDefinition::Query(q) => q.name.as_deref(),
        OperationDefinition::Mutation(m) => m.name.as_deref(),
        OperationDefinition::Subscription(s) => s.name.as_deref(),
        OperationDefinition::SelectionSet(_) => None,
    }
}

fn pick(
    mut operations: Vec<OperationDefinition<'static, String>>,
    wanted: Option<&str>,
) -> Result<OperationDefinition<'static, String>, GqlError> {
    match wanted.filter(|w| !w.is_empty()) {
        Some(name) => {
            let at = operations
                .iter()
                .position(|op| operation_name(op) == Some(name))
                .ok_or_else(|| {
                    GqlError::new(
                        &format!("No operation named \"{name}\""),
                        "operationNotFound",
                    )
                })?;
            Ok(operations.swap_remove(at))
        }
        None if operations.len() == 1 => Ok(operations.swap_remove(0)),
        None if operations.is_empty() => Err(GqlError::new(
            "No operations in query document",
            "missingOperation",
        )),
        None => Err(GqlError::new(
            "An operation name is required",
            "operationNameRequired",
        )),
    }
}

/// The declared variables with their values: given, else the default, else null (refused when
/// the type is non-null). Values are checked against the named scalar types.
fn bind_variables(
    definitions: &[ast::VariableDefinition<'static, String>],
    given: &Value,
) -> Result<Map<String, Value>, GqlError> {
    let given = given.as_object();
    let mut bound = Map::new();
    for def in definitions {
        let value = match given.and_then(|g| g.get(&def.name)) {
            Some(v) => v.clone(),
            None => def
                .default_value
                .as_ref()
                .map(|d| to_json(d, &Map::new()))
                .transpose()?
                .unwrap_or(Value::Null),
        };
        if let Err(explanation) = check_type(&def.var_type, &value) {
            return Err(GqlError::invalid_variable(
                &def.name,
                &def.var_type.to_string(),
                &value,
                explanation,
            ));
        }
        bound.insert(def.name.clone(), value);
    }
    Ok(bound)
}

fn check_type(ty: &ast::Type<'static, String>, value: &Value) -> Result<(), &'static str> {
    match ty {
        ast::Type::NonNullType(inner) => {
            if value.is_null() {
                return Err("Expected value to not be null");
            }
            check_type(inner, value)
        }
        _ if value.is_null() => Ok(()),
        ast::Type::ListType(inner) => match value {
            Value::Array(items) => items.iter().try_for_each(|v| check_type(inner, v)),
            single => check_type(inner, single),
        },
        ast::Type::NamedType(name) => {
            let ok = match name.as_str() {
                "ID" => value.is_string() || value.is_i64() || value.is_u64(),
                "String" | "URL" | "DateTime" | "Money" | "Decimal" => value.is_string(),
                "Int" => value.is_i64(),
                "Float" => value.is_number(),
                "Boolean" => value.is_boolean(),
                _ => true,
            };
            ok.then_some(())
                .ok_or("Could not coerce value to the expected type")
        }
    }
}

/// An argument value as JSON, variables substituted and enums as their names.
fn to_json(
    value: &ast::Value<'static, String>,
    vars: &Map<String, Value>,
) -> Result<Value, GqlError> {
    Ok(match value {
        ast::Value::Variable(name) => vars.get(name).cloned().ok_or_else(|| {
            GqlError::new(
                &format!("Variable ${name} is used but not declared"),
                "variableNotDefined",
            )
        })?,
        ast::Value::Int(n) => Value::from(n.as_i64().unwrap_or(0)),
        ast::Value::Float(f) => Value::from(*f),
        ast::Value::String(s) => Value::String(s.clone()),
        ast::Value::Boolean(b) => Value::Bool(*b),
        ast::Value::Null => Value::Null,
        ast::Value::Enum(e) => Value::String(e.clone()),
        ast::Value::List(items) => Value::Array(
            items
                .iter()
                .map(|v| to_json(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        ast::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), to_json(v, vars)?)))
                .collect::<Result<_, GqlError>>()?,
        ),
    })
}

struct Flattener<'d> {
    fragments: &'d [FragmentDefinition<'static, String>],
    variables: &'d Map<String, Value>,
}

impl Flattener<'_> {
    fn flatten(
        &self,
        set: &ast::SelectionSet<'static, String>,
        on: Option<&str>,
        depth: usize,
        out: &mut Vec<Selection>,
    ) -> Result<(), GqlError> {
        if depth > MAX_DEPTH {
            return Err(GqlError::new(
                "Query has too many levels",
                "maxDepthExceeded",
            ));
        }
        for item in &set.items {
            match item {
                ast::Selection::Field(f) => {
                    let mut children = Vec::new();
                    self.flatten(&f.selection_set, None, depth + 1, &mut children)?;
                    let args = f
                        .arguments
                        .iter()
                        .map(|(k, v)| Ok((k.clone(), to_json(v, self.variables)?)))
                        .collect::<Result<Map<_, _>, GqlError>>()?;
                    out.push(Selection {
                        key: f.alias.clone().unwrap_or_else(|| f.name.clone()),
                        name: f.name.clone(),
                        args,
                        on: on.map(str::to_owned),
                        children,
                        line: f.position.line,
                        column: f.position.column,
                    });
                }
                ast::Selection::InlineFragment(inline) => {
                    let cond = inline
                        .type_condition
                        .as_ref()
                        .map(|TypeCondition::On(t)| t.as_str());
                    self.flatten(&inline.selection_set, cond.or(on), depth + 1, out)?;
                }
                ast::Selection::FragmentSpread(spread) => {
                    let fragment = self
                        .fragments
                        .iter()
                        .find(|f| f.name == spread.fragment_name)
                        .ok_or_else(|| {
                            GqlError::new(
                                &format!(
                                    "Fragment {} was used, but not defined",
                                    spread.fragment_name
                                ),
                                "useAndDefineFragment",
                            )
                        })?;
                    let TypeCondition::On(cond) = &fragment.type_condition;
                    self.flatten(&fragment.selection_set, Some(cond), depth + 1, out)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flattens_fragments_aliases_and_variables() {
        let query = r#"
            query A($n: Int = 5, $q: String) { orders(first: $n, query: $q) { ...F } }
            query B { shop { name } }
            fragment F on OrderConnection { nodes { id ... on Order { total: name } } }
        "#;
        let op = prepare(query, &json!({"q": "id:>1"}), Some("A")).expect("prepares");
        assert_eq!(op.kind, OperationKind::Query);
        let orders = &op.fields[0];
        assert_eq!(orders.arg_i64("first"), Some(5));
        assert_eq!(orders.arg_str("query"), Some("id:>1"));
        let nodes = &orders.children[0];
        assert_eq!(nodes.on.as_deref(), Some("OrderConnection"));
        assert_eq!(nodes.children[1].key, "total");
        assert_eq!(nodes.children[1].on.as_deref(), Some("Order"));
        assert!(
            prepare(query, &json!({}), None).is_err(),
            "two operations need a name"
        );
    }

    #[test]
    fn refuses_a_null_for_a_non_null_variable() {
        let err = prepare(
            "query($id: ID!) { order(id: $id) { id } }",
            &json!({}),
            None,
        )
        .expect_err("refused");
        assert_eq!(err.code(), "INVALID_VARIABLE");
    }
}
