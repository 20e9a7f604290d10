//! Query-string parsing with the semantics of the servers being simulated (PHP's `$_GET`, Rails'
//! `params`): a repeated plain key keeps its last value, `key[]` appends and `key[sub]` nests. serde's
//! urlencoded extractor rejects repeated keys outright, which real platforms never do, so both
//! simulators parse queries with this instead.

use percent_encoding::percent_decode_str;

/// One parsed value: a string, or an ordered map for bracketed keys (insertion order kept, as PHP does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryValue {
    Str(String),
    Map(Vec<(String, QueryValue)>),
}

/// Top-level parameters in first-seen order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub params: Vec<(String, QueryValue)>,
}

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
pub fn form_decode(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

impl Query {
    /// Parses a raw query string (without the leading `?`).
    pub fn parse(raw: &str) -> Query {
        let mut query = Query::default();
        for pair in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            query.insert(&form_decode(k), form_decode(v));
        }
        query
    }

    /// Inserts a decoded `key` (possibly `a[b][]`) with PHP's rules.
    pub fn insert(&mut self, key: &str, value: String) {
        let (base, path) = split_brackets(key);
        if base.is_empty() {
            return;
        }
        // PHP turns '.' and ' ' in top-level names into '_'; signatures are computed on that name.
        let base: String = base
            .chars()
            .map(|c| if c == '.' || c == ' ' { '_' } else { c })
            .collect();
        set_path(&mut self.params, &base, &path, value);
    }

    /// The string value of a top-level key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| match v {
                QueryValue::Str(s) => Some(s.as_str()),
                QueryValue::Map(_) => None,
            })
    }

    /// True when the key is present in any form.
    pub fn has(&self, key: &str) -> bool {
        self.params.iter().any(|(k, _)| k == key)
    }

    /// Top-level keys.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.params.iter().map(|(k, _)| k.as_str())
    }

    /// Removes a key, returning its value.
    pub fn remove(&mut self, key: &str) -> Option<QueryValue> {
        let pos = self.params.iter().position(|(k, _)| k == key)?;
        Some(self.params.remove(pos).1)
    }
}

fn split_brackets(key: &str) -> (&str, Vec<String>) {
    let Some(open) = key.find('[') else {
        return (key, Vec::new());
    };
    let base = &key[..open];
    let mut path = Vec::new();
    let mut rest = &key[open..];
    while let Some(stripped) = rest.strip_prefix('[') {
        match stripped.find(']') {
            Some(close) => {
                path.push(stripped[..close].to_string());
                rest = &stripped[close + 1..];
            }
            None => break,
        }
    }
    (base, path)
}

fn set_path(map: &mut Vec<(String, QueryValue)>, key: &str, path: &[String], value: String) {
    let key = if key.is_empty() {
        // `[]` appends with the next integer index, as PHP does.
        let next = map
            .iter()
            .filter_map(|(k, _)| k.parse::<i64>().ok())
            .max()
            .map_or(0, |m| m + 1);
        next.to_string()
    } else {
        key.to_string()
    };
    match path.split_first() {
        None => {
            if let Some(slot) = map.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = QueryValue::Str(value);
            } else {
                map.push((key, QueryValue::Str(value)));
            }
        }
        Some((next, rest)) => {
            let pos = match map.iter().position(|(k, _)| *k == key) {
                Some(pos) => pos,
                None => {
                    map.push((key, QueryValue::Map(Vec::new())));
                    map.len() - 1
                }
            };
            if !matches!(map[pos].1, QueryValue::Map(_)) {
                map[pos].1 = QueryValue::Map(Vec::new());
            }
            if let QueryValue::Map(inner) = &mut map[pos].1 {
                set_path(inner, next, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_value_wins_and_brackets_nest() {
        let q = Query::parse("status=a&status=b&x[]=1&x[]=2&y[k]=v&a.b=c&s=a+b%2B");
        assert_eq!(q.get("status"), Some("b"));
        assert_eq!(
            q.params[1].1,
            QueryValue::Map(vec![
                ("0".into(), QueryValue::Str("1".into())),
                ("1".into(), QueryValue::Str("2".into()))
            ])
        );
        assert_eq!(
            q.params[2].1,
            QueryValue::Map(vec![("k".into(), QueryValue::Str("v".into()))])
        );
        assert_eq!(q.get("a_b"), Some("c"));
        assert_eq!(q.get("s"), Some("a b+"));
    }
}
