//! What every layer says of a value that broke a rule: [`FieldError`] names the field, so the API
//! can point a client at it, whichever layer found the fault.

/// A rule a value broke, naming the field (dotted path from the enclosing object) so an API
/// client can point at it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}`: {reason}")]
pub struct FieldError {
    pub field: String,
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }

    /// A serde error with its path. serde names a missing or unknown key only in its message
    /// and reports a missing one at the enclosing object, so the key is lifted out of the
    /// message and appended to that path. A value that fits nowhere at the top is at `.`.
    pub fn from_serde<E: std::fmt::Display>(err: serde_path_to_error::Error<E>) -> FieldError {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        let field = match named_field(&message) {
            Some(key) if path == "." => key,
            // An unknown key is reported at itself, a missing one at its parent.
            Some(key) if path != key && !path.ends_with(&format!(".{key}")) => {
                format!("{path}.{key}")
            }
            _ => path,
        };
        FieldError::new(field, message)
    }

    /// The same error for a value nested under `parent` in a larger body.
    pub fn under(self, parent: &str) -> FieldError {
        let field = if self.field == "." {
            parent.to_owned()
        } else {
            format!("{parent}.{}", self.field)
        };
        FieldError { field, ..self }
    }
}

/// The key serde names in its message for a missing or unknown field.
fn named_field(message: &str) -> Option<String> {
    if !(message.starts_with("missing field `") || message.starts_with("unknown field `")) {
        return None;
    }
    let start = message.find('`')? + 1;
    let len = message[start..].find('`')?;
    Some(message[start..start + len].to_owned())
}
