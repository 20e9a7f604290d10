//! The `where` query parameter: Xero's filter expressions (a .NET Dynamic LINQ subset), evaluated
//! against an entity as it is rendered. Supported: `==` `!=` `>` `>=` `<` `<=`; `AND`/`&&`,
//! `OR`/`||`, `NOT`/`!`, parentheses; dotted paths (`Contact.ContactID`); string methods
//! `Contains`, `StartsWith`, `EndsWith` (on a value that is not null), `ToLower()`, `ToUpper()`;
//! literals `"text"`, numbers, `true`, `false`, `null`, `Guid("...")` and
//! `DateTime(yyyy, mm, dd[, hh, mm, ss])`. String equality ignores letter case, as Xero's
//! database collation does. An unknown field is a `QueryParseException`, as on Xero.

use chrono::NaiveDate;
use serde_json::Value;

use super::wire::parse_ms_date;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Compare(Operand, Op, Operand),
    Method(Operand, StrMethod, String),
    Truthy(Operand),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StrMethod {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Field { path: Vec<String>, case: Case },
    Literal(Scalar),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Case {
    Keep,
    Lower,
    Upper,
}

/// A value being compared.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    /// Milliseconds since the epoch.
    Date(i64),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Str(String),
    Num(f64),
    Op(Op),
    And,
    Or,
    Not,
    LParen,
    RParen,
    Comma,
    Dot,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let simple = match (c, next) {
            ('(', _) => Some((Token::LParen, 1)),
            (')', _) => Some((Token::RParen, 1)),
            (',', _) => Some((Token::Comma, 1)),
            ('.', n) if !n.is_some_and(|n| n.is_ascii_digit()) => Some((Token::Dot, 1)),
            ('=', Some('=')) => Some((Token::Op(Op::Eq), 2)),
            ('=', _) => Some((Token::Op(Op::Eq), 1)),
            ('!', Some('=')) | ('<', Some('>')) => Some((Token::Op(Op::Ne), 2)),
            ('!', _) => Some((Token::Not, 1)),
            ('<', Some('=')) => Some((Token::Op(Op::Le), 2)),
            ('<', _) => Some((Token::Op(Op::Lt), 1)),
            ('>', Some('=')) => Some((Token::Op(Op::Ge), 2)),
            ('>', _) => Some((Token::Op(Op::Gt), 1)),
            ('&', Some('&')) => Some((Token::And, 2)),
            ('|', Some('|')) => Some((Token::Or, 2)),
            _ => None,
        };
        if let Some((token, len)) = simple {
            tokens.push(token);
            i += len;
            continue;
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => i += 1,
            '"' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("Unterminated string literal".into()),
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            s.push('"');
                            i += 2;
                        }
                        Some('"') => break,
                        Some('\\') if chars.get(i + 1) == Some(&'"') => {
                            s.push('"');
                            i += 2;
                        }
                        Some(ch) => {
                            s.push(*ch);
                            i += 1;
                        }
                    }
                }
                i += 1;
                tokens.push(Token::Str(s));
            }
            c if c.is_ascii_digit() || c == '-' || c == '.' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let n = text
                    .parse()
                    .map_err(|_| format!("Syntax error '{text}' (at index {start})"))?;
                tokens.push(Token::Num(n));
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(match word.to_ascii_uppercase().as_str() {
                    "AND" => Token::And,
                    "OR" => Token::Or,
                    "NOT" => Token::Not,
                    _ => Token::Ident(word),
                });
            }
            other => return Err(format!("Syntax error '{other}' (at index {i})")),
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            other => Err(format!("Expected {want:?}, found {other:?}")),
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.peek() == Some(&Token::Or) {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.peek() == Some(&Token::And) {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        match self.peek() {
            Some(Token::Not) => {
                self.pos += 1;
                Ok(Filter::Not(Box::new(self.unary()?)))
            }
            Some(Token::LParen) => {
                self.pos += 1;
                let inner = self.or()?;
                self.expect(Token::RParen)?;
                Ok(inner)
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Result<Filter, String> {
        let (left, method) = self.operand()?;
        if let Some((method, arg)) = method {
            return Ok(Filter::Method(left, method, arg));
        }
        match self.peek() {
            Some(Token::Op(op)) => {
                let op = *op;
                self.pos += 1;
                let (right, method) = self.operand()?;
                if method.is_some() {
                    return Err("A string method cannot be compared".into());
                }
                Ok(Filter::Compare(left, op, right))
            }
            _ => Ok(Filter::Truthy(left)),
        }
    }

    fn string_arg(&mut self) -> Result<String, String> {
        self.expect(Token::LParen)?;
        let arg = match self.next() {
            Some(Token::Str(s)) => s,
            other => return Err(format!("Expected a string argument, found {other:?}")),
        };
        self.expect(Token::RParen)?;
        Ok(arg)
    }

    fn int_args(&mut self) -> Result<Vec<i64>, String> {
        self.expect(Token::LParen)?;
        let mut args = Vec::new();
        loop {
            match self.next() {
                Some(Token::Num(n)) => args.push(n as i64),
                other => return Err(format!("Expected a number, found {other:?}")),
            }
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::RParen) => return Ok(args),
                other => return Err(format!("Expected ',' or ')', found {other:?}")),
            }
        }
    }

    /// An operand, and the string method applied to it if any.
    #[allow(clippy::type_complexity)]
    fn operand(&mut self) -> Result<(Operand, Option<(StrMethod, String)>), String> {
        match self.next() {
            Some(Token::Str(s)) => Ok((Operand::Literal(Scalar::Str(s)), None)),
            Some(Token::Num(n)) => Ok((Operand::Literal(Scalar::Num(n)), None)),
            Some(Token::Ident(word)) => {
                match word.to_ascii_lowercase().as_str() {
                    "true" => return Ok((Operand::Literal(Scalar::Bool(true)), None)),
                    "false" => return Ok((Operand::Literal(Scalar::Bool(false)), None)),
                    "null" => return Ok((Operand::Literal(Scalar::Null), None)),
                    "guid" if self.peek() == Some(&Token::LParen) => {
                        let text = self.string_arg()?;
                        return Ok((Operand::Literal(Scalar::Str(text.to_lowercase())), None));
                    }
                    "datetime" if self.peek() == Some(&Token::LParen) => {
                        let a = self.int_args()?;
                        let at = |i: usize| a.get(i).copied().unwrap_or(0);
                        let ms = NaiveDate::from_ymd_opt(at(0) as i32, at(1) as u32, at(2) as u32)
                            .and_then(|d| d.and_hms_opt(at(3) as u32, at(4) as u32, at(5) as u32))
                            .map(|t| t.and_utc().timestamp_millis())
                            .ok_or("Invalid DateTime")?;
                        return Ok((Operand::Literal(Scalar::Date(ms)), None));
                    }
                    _ => {}
                }
                let mut path = vec![word];
                let mut case = Case::Keep;
                while self.peek() == Some(&Token::Dot) {
                    self.pos += 1;
                    let Some(Token::Ident(name)) = self.next() else {
                        return Err("Expected a member name after '.'".into());
                    };
                    let method = match name.as_str() {
                        "Contains" => Some(StrMethod::Contains),
                        "StartsWith" => Some(StrMethod::StartsWith),
                        "EndsWith" => Some(StrMethod::EndsWith),
                        _ => None,
                    };
                    if let Some(method) = method {
                        let arg = self.string_arg()?;
                        return Ok((Operand::Field { path, case }, Some((method, arg))));
                    }
                    if name == "ToLower" || name == "ToUpper" {
                        self.expect(Token::LParen)?;
                        self.expect(Token::RParen)?;
                        case = if name == "ToLower" {
                            Case::Lower
                        } else {
                            Case::Upper
                        };
                        continue;
                    }
                    path.push(name);
                }
                Ok((Operand::Field { path, case }, None))
            }
            other => Err(format!("Expression expected, found {other:?}")),
        }
    }
}

impl Filter {
    /// Parses `text`; `fields` are the entity's top-level field names (an unknown one is refused).
    pub fn parse(text: &str, entity: &str, fields: &[&str]) -> Result<Filter, String> {
        let mut parser = Parser {
            tokens: tokenize(text)?,
            pos: 0,
        };
        let filter = parser.or()?;
        if parser.pos < parser.tokens.len() {
            return Err(format!("Syntax error (at token {})", parser.pos));
        }
        filter.check_fields(entity, fields)?;
        Ok(filter)
    }

    fn check_fields(&self, entity: &str, fields: &[&str]) -> Result<(), String> {
        let check = |operand: &Operand| match operand {
            Operand::Field { path, .. } if !fields.iter().any(|f| f == &path[0]) => Err(format!(
                "No property or field '{}' exists in type '{entity}'",
                path[0]
            )),
            _ => Ok(()),
        };
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                a.check_fields(entity, fields)?;
                b.check_fields(entity, fields)
            }
            Filter::Not(a) => a.check_fields(entity, fields),
            Filter::Compare(a, _, b) => check(a).and(check(b)),
            Filter::Method(a, _, _) | Filter::Truthy(a) => check(a),
        }
    }

    /// Whether `entity` (as rendered) passes.
    pub fn matches(&self, entity: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(entity) && b.matches(entity),
            Filter::Or(a, b) => a.matches(entity) || b.matches(entity),
            Filter::Not(a) => !a.matches(entity),
            Filter::Truthy(a) => resolve(a, entity) == Scalar::Bool(true),
            Filter::Method(a, method, arg) => match resolve(a, entity) {
                Scalar::Str(s) => {
                    let (s, arg) = (s.to_lowercase(), arg.to_lowercase());
                    match method {
                        StrMethod::Contains => s.contains(&arg),
                        StrMethod::StartsWith => s.starts_with(&arg),
                        StrMethod::EndsWith => s.ends_with(&arg),
                    }
                }
                _ => false,
            },
            Filter::Compare(a, op, b) => compare(&resolve(a, entity), *op, &resolve(b, entity)),
        }
    }
}

fn resolve(operand: &Operand, entity: &Value) -> Scalar {
    match operand {
        Operand::Literal(s) => s.clone(),
        Operand::Field { path, case } => {
            let mut value = entity;
            for key in path {
                match value.get(key) {
                    Some(v) => value = v,
                    None => return Scalar::Null,
                }
            }
            let scalar = match value {
                Value::Null => Scalar::Null,
                Value::Bool(b) => Scalar::Bool(*b),
                Value::Number(n) => Scalar::Num(n.as_f64().unwrap_or(0.0)),
                Value::String(s) => match parse_ms_date(s) {
                    Some(ms) => Scalar::Date(ms),
                    None => Scalar::Str(s.clone()),
                },
                Value::Array(_) | Value::Object(_) => Scalar::Null,
            };
            match (scalar, case) {
                (Scalar::Str(s), Case::Lower) => Scalar::Str(s.to_lowercase()),
                (Scalar::Str(s), Case::Upper) => Scalar::Str(s.to_uppercase()),
                (other, _) => other,
            }
        }
    }
}

fn compare(a: &Scalar, op: Op, b: &Scalar) -> bool {
    use std::cmp::Ordering;
    let ordering: Option<Ordering> = match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => Some(x.to_lowercase().cmp(&y.to_lowercase())),
        (Scalar::Num(x), Scalar::Num(y)) => x.partial_cmp(y),
        (Scalar::Date(x), Scalar::Date(y)) => Some(x.cmp(y)),
        (Scalar::Bool(x), Scalar::Bool(y)) => Some(x.cmp(y)),
        (Scalar::Null, Scalar::Null) => Some(Ordering::Equal),
        _ => None,
    };
    match (op, ordering) {
        (Op::Eq, Some(o)) => o == Ordering::Equal,
        (Op::Ne, Some(o)) => o != Ordering::Equal,
        (Op::Ne, None) => true,
        (Op::Gt, Some(o)) => o == Ordering::Greater,
        (Op::Ge, Some(o)) => o != Ordering::Less,
        (Op::Lt, Some(o)) => o == Ordering::Less,
        (Op::Le, Some(o)) => o != Ordering::Greater,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const FIELDS: &[&str] = &[
        "Name",
        "EmailAddress",
        "Contact",
        "Date",
        "Total",
        "IsCustomer",
    ];

    fn run(filter: &str, entity: &Value) -> bool {
        match Filter::parse(filter, "Contact", FIELDS) {
            Ok(f) => f.matches(entity),
            Err(e) => panic!("{filter}: {e}"),
        }
    }

    #[test]
    fn evaluates_xero_style_filters() {
        let c = json!({"Name": "Ana Smith", "EmailAddress": "ana@example.com",
            "Contact": {"ContactID": "5cc8cf28-567e-4d43-b287-687cfcaec47c"},
            "Date": "/Date(1552262400000+0000)/", "Total": 120.5, "IsCustomer": true});
        assert!(run(r#"Name=="Ana Smith""#, &c));
        assert!(run(r#"Name == "ana smith""#, &c));
        assert!(!run(r#"Name!="Ana Smith""#, &c));
        assert!(run(
            r#"EmailAddress!=null&&EmailAddress.StartsWith("ANA")"#,
            &c
        ));
        assert!(run(
            r#"Name.Contains("Smi") AND NOT Name.EndsWith("x")"#,
            &c
        ));
        assert!(run(r#"Name.ToLower()=="ana smith""#, &c));
        assert!(run(
            r#"Contact.ContactID==Guid("5CC8CF28-567E-4D43-B287-687CFCAEC47C")"#,
            &c
        ));
        assert!(run(
            "Date >= DateTime(2019, 03, 11) && Date < DateTime(2019, 03, 12)",
            &c
        ));
        assert!(run("Total > 100 OR Total < 0", &c));
        assert!(run("IsCustomer", &c));
        assert!(run(
            r#"(Name=="x" || Name=="Ana Smith") && IsCustomer==true"#,
            &c
        ));
        assert!(!run(r#"Name=="Ana""#, &c));
    }

    #[test]
    fn refuses_unknown_fields_and_bad_syntax() {
        let err = Filter::parse(r#"Nmae=="x""#, "Contact", FIELDS).err();
        assert_eq!(
            err.as_deref(),
            Some("No property or field 'Nmae' exists in type 'Contact'")
        );
        assert!(Filter::parse(r#"Name=="x"#, "Contact", FIELDS).is_err());
        assert!(Filter::parse(r#"Name=="x" Name"#, "Contact", FIELDS).is_err());
    }
}
