//! Shopify's search syntax, as the `query` argument of a connection takes it: terms separated by
//! spaces (all must hold; `AND` may be written out), each `field:value` with an optional
//! comparator (`field:>v`, `:>=`, `:<`, `:<=`), a `-` in front to negate, values optionally
//! quoted with `'` or `"`. Fields a resource does not know are ignored, as Shopify ignores them.

use crate::timefmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    /// Lower-case field name; empty for free text.
    pub field: String,
    pub op: Op,
    pub value: String,
    pub negated: bool,
}

impl Term {
    fn holds(&self, ordering: std::cmp::Ordering) -> bool {
        let hit = match self.op {
            Op::Eq => ordering.is_eq(),
            Op::Gt => ordering.is_gt(),
            Op::Ge => ordering.is_ge(),
            Op::Lt => ordering.is_lt(),
            Op::Le => ordering.is_le(),
        };
        hit != self.negated
    }

    /// A yes/no property, turned over by `-`.
    pub fn is(&self, hit: bool) -> bool {
        hit != self.negated
    }

    /// Compares a timestamp (seconds) with the term's time; an unreadable time matches all.
    pub fn time(&self, ts: i64, offset_minutes: i32) -> bool {
        match timefmt::parse(&self.value, offset_minutes) {
            Some(t) => self.holds(ts.cmp(&t.timestamp())),
            None => true,
        }
    }

    /// Compares a number; the value may be a global id (`gid://shopify/Order/42`).
    pub fn number(&self, n: u64) -> bool {
        let text = self.value.rsplit('/').next().unwrap_or("");
        match text.parse::<u64>() {
            Ok(v) => self.holds(n.cmp(&v)),
            Err(_) => true,
        }
    }

    /// Equality ignoring case (comparators make no sense on text and are read as equality).
    pub fn text(&self, s: &str) -> bool {
        s.eq_ignore_ascii_case(&self.value) != self.negated
    }

    /// True for any of `options` equal to the value.
    pub fn one_of(&self, options: &[&str]) -> bool {
        options.iter().any(|o| o.eq_ignore_ascii_case(&self.value)) != self.negated
    }
}

/// Splits a query into terms.
pub fn parse(query: &str) -> Vec<Term> {
    tokens(query)
        .into_iter()
        .filter(|t| t != "AND")
        .map(|token| {
            let (negated, token) = match token.strip_prefix('-') {
                Some(rest) => (true, rest.to_owned()),
                None => (false, token),
            };
            let Some((field, rest)) = token.split_once(':') else {
                return Term {
                    field: String::new(),
                    op: Op::Eq,
                    value: unquote(&token),
                    negated,
                };
            };
            let (op, value) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
                .iter()
                .find_map(|(p, op)| rest.strip_prefix(p).map(|v| (*op, v)))
                .unwrap_or((Op::Eq, rest));
            Term {
                field: field.to_ascii_lowercase(),
                op,
                value: unquote(value),
                negated,
            }
        })
        .collect()
}

fn unquote(text: &str) -> String {
    let t = text.trim();
    for q in ['\'', '"'] {
        if t.len() >= 2 && t.starts_with(q) && t.ends_with(q) {
            return t[1..t.len() - 1].to_owned();
        }
    }
    t.to_owned()
}

/// Whitespace-separated tokens; quotes keep their spaces.
fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    for c in query.chars() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                current.push(c);
            }
            Some(_) => current.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                current.push(c);
            }
            None if c.is_whitespace() => {
                if !current.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            }
            None => current.push(c),
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_comparators_quotes_and_negation() {
        let terms = parse(
            "updated_at:>='2024-07-01T10:00:00Z' AND status:any -tag:\"gift wrap\" id:<42 foo",
        );
        assert_eq!(terms.len(), 5);
        assert_eq!(terms[0].field, "updated_at");
        assert_eq!(terms[0].op, Op::Ge);
        assert_eq!(terms[0].value, "2024-07-01T10:00:00Z");
        assert!(terms[2].negated && terms[2].value == "gift wrap");
        assert!(terms[3].number(41) && !terms[3].number(42));
        assert_eq!(terms[4].field, "");
        let t = &terms[0];
        let at = 1_719_828_000; // 2024-07-01T10:00:00Z
        assert!(t.time(at, 0) && t.time(at + 1, 0) && !t.time(at - 1, 0));
    }
}
