//! Label and field selectors: parsing (the grammar kubectl users type after `-l` and
//! `--field-selector`) and matching.
//!
//! Label selectors follow `k8s.io/apimachinery/pkg/labels/selector.go`: `k=v`, `k==v`,
//! `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`, comma meaning AND. Field selectors
//! follow `k8s.io/apimachinery/pkg/fields/selector.go`: `=`, `==`, `!=`, comma meaning AND,
//! backslash escapes.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1 as metav1;

/// A malformed selector; the message is upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SelectorError(pub String);

/// The operator of one label requirement.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelOp {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
}

/// One term of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub op: LabelOp,
    /// Sorted, without duplicates (upstream sorts the value set).
    pub values: Vec<String>,
}

impl Requirement {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let value = labels.get(&self.key);
        match self.op {
            LabelOp::Equals | LabelOp::In => value.is_some_and(|v| self.values.contains(v)),
            LabelOp::NotEquals | LabelOp::NotIn => !value.is_some_and(|v| self.values.contains(v)),
            LabelOp::Exists => value.is_some(),
            LabelOp::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            LabelOp::Equals => write!(f, "{}={}", self.key, self.values.join(",")),
            LabelOp::NotEquals => write!(f, "{}!={}", self.key, self.values.join(",")),
            LabelOp::In => write!(f, "{} in ({})", self.key, self.values.join(",")),
            LabelOp::NotIn => write!(f, "{} notin ({})", self.key, self.values.join(",")),
            LabelOp::Exists => write!(f, "{}", self.key),
            LabelOp::DoesNotExist => write!(f, "!{}", self.key),
        }
    }
}

/// A parsed label selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector {
    pub requirements: Vec<Requirement>,
    /// A selector that matches nothing (a nil `metav1.LabelSelector` in some contexts).
    pub matches_nothing: bool,
}

impl LabelSelector {
    pub fn everything() -> Self {
        LabelSelector::default()
    }

    pub fn nothing() -> Self {
        LabelSelector {
            requirements: Vec::new(),
            matches_nothing: true,
        }
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty() && !self.matches_nothing
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        !self.matches_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Matches an optional label map (absent = no labels).
    pub fn matches_opt(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        static EMPTY: BTreeMap<String, String> = BTreeMap::new();
        self.matches(labels.unwrap_or(&EMPTY))
    }

    /// The `key=value` pairs every match must carry, for index lookups.
    pub fn required_equalities(&self) -> impl Iterator<Item = (&str, &str)> {
        self.requirements.iter().filter_map(|r| match r.op {
            LabelOp::Equals | LabelOp::In if r.values.len() == 1 => {
                Some((r.key.as_str(), r.values[0].as_str()))
            }
            _ => None,
        })
    }

    /// Parses the string form (`-l`).
    pub fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut parser = LabelParser::new(text);
        let mut requirements = Vec::new();
        parser.skip_spaces();
        if parser.at_end() {
            return Ok(LabelSelector::everything());
        }
        loop {
            requirements.push(parser.requirement()?);
            parser.skip_spaces();
            if parser.at_end() {
                break;
            }
            if !parser.eat(",") {
                return Err(parser.error("expected ','"));
            }
            parser.skip_spaces();
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            matches_nothing: false,
        })
    }

    /// Converts a `metav1.LabelSelector` (matchLabels and matchExpressions), as
    /// `metav1.LabelSelectorAsSelector` does: a `None` selector matches nothing, an empty one
    /// everything.
    pub fn from_k8s(
        selector: Option<&metav1::LabelSelector>,
    ) -> Result<LabelSelector, SelectorError> {
        let Some(selector) = selector else {
            return Ok(LabelSelector::nothing());
        };
        let mut requirements = Vec::new();
        for (key, value) in selector.match_labels.iter().flatten() {
            validate_label_key(key)?;
            validate_label_value(value)?;
            requirements.push(Requirement {
                key: key.clone(),
                op: LabelOp::Equals,
                values: vec![value.clone()],
            });
        }
        for expr in selector.match_expressions.iter().flatten() {
            validate_label_key(&expr.key)?;
            let values: Vec<String> = expr.values.clone().unwrap_or_default();
            let op = match expr.operator.as_str() {
                "In" => LabelOp::In,
                "NotIn" => LabelOp::NotIn,
                "Exists" => LabelOp::Exists,
                "DoesNotExist" => LabelOp::DoesNotExist,
                other => {
                    return Err(SelectorError(format!(
                        "{other:?} is not a valid label selector operator"
                    )));
                }
            };
            requirements.push(new_requirement(&expr.key, op, values)?);
        }
        requirements.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(LabelSelector {
            requirements,
            matches_nothing: false,
        })
    }
}

impl fmt::Display for LabelSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.requirements.iter().map(|r| r.to_string()).collect();
        f.write_str(&parts.join(","))
    }
}

fn new_requirement(
    key: &str,
    op: LabelOp,
    mut values: Vec<String>,
) -> Result<Requirement, SelectorError> {
    validate_label_key(key)?;
    match op {
        LabelOp::In | LabelOp::NotIn if values.is_empty() => {
            return Err(SelectorError(
                "for 'in', 'notin' operators, values set can't be empty".into(),
            ));
        }
        LabelOp::Equals | LabelOp::NotEquals if values.len() != 1 => {
            return Err(SelectorError(
                "exact-match compatibility requires one single value".into(),
            ));
        }
        LabelOp::Exists | LabelOp::DoesNotExist if !values.is_empty() => {
            return Err(SelectorError(
                "values set must be empty for exists and does not exist".into(),
            ));
        }
        _ => {}
    }
    for v in &values {
        validate_label_value(v)?;
    }
    values.sort();
    values.dedup();
    Ok(Requirement {
        key: key.to_string(),
        op,
        values,
    })
}

/// Validates a label key: an optional DNS-subdomain prefix and a name of at most 63
/// characters of `[A-Za-z0-9._-]`, starting and ending alphanumeric.
pub fn validate_label_key(key: &str) -> Result<(), SelectorError> {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    if let Some(prefix) = prefix
        && (prefix.is_empty() || prefix.len() > 253 || !is_dns_subdomain(prefix))
    {
        return Err(SelectorError(format!(
            "invalid label key {key:?}: prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )));
    }
    if name.is_empty() || name.len() > 63 || !is_qualified_name_part(name) {
        return Err(SelectorError(format!(
            "invalid label key {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

/// Validates a label value: empty, or at most 63 characters like a name part.
pub fn validate_label_value(value: &str) -> Result<(), SelectorError> {
    if value.is_empty() {
        return Ok(());
    }
    if value.len() > 63 || !is_qualified_name_part(value) {
        return Err(SelectorError(format!(
            "invalid label value: {value:?}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )));
    }
    Ok(())
}

fn is_qualified_name_part(s: &str) -> bool {
    let bytes = s.as_bytes();
    let edge_ok = |b: u8| b.is_ascii_alphanumeric();
    !bytes.is_empty()
        && edge_ok(bytes[0])
        && edge_ok(bytes[bytes.len() - 1])
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// A lowercase RFC 1123 subdomain.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b[0].is_ascii_lowercase() | b[0].is_ascii_digit()
                && (b[b.len() - 1].is_ascii_lowercase() || b[b.len() - 1].is_ascii_digit())
                && b.iter()
                    .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
        })
}

/// A lowercase RFC 1123 label (at most 63 characters, no dots).
pub fn is_dns_label(s: &str) -> bool {
    !s.contains('.') && s.len() <= 63 && is_dns_subdomain(s)
}

struct LabelParser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> LabelParser<'a> {
    fn new(text: &'a str) -> Self {
        LabelParser { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn skip_spaces(&mut self) {
        while self.rest().starts_with([' ', '\t', '\n']) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, token: &str) -> bool {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str) -> SelectorError {
        SelectorError(format!(
            "unable to parse requirement: found '{}', {what}",
            self.rest()
                .chars()
                .next()
                .map(String::from)
                .unwrap_or_default()
        ))
    }

    /// An identifier: label keys and values never contain spaces, commas, parentheses,
    /// `=` or `!`.
    fn identifier(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(c) = self.rest().chars().next() {
            if c.is_whitespace() || matches!(c, ',' | '(' | ')' | '=' | '!') {
                break;
            }
            self.pos += c.len_utf8();
        }
        &self.text[start..self.pos]
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.eat("!") {
            self.skip_spaces();
            let key = self.identifier();
            if key.is_empty() {
                return Err(self.error("expected: identifier"));
            }
            return new_requirement(key, LabelOp::DoesNotExist, Vec::new());
        }
        let key = self.identifier();
        if key.is_empty() {
            return Err(self.error("expected: !, identifier"));
        }
        self.skip_spaces();
        if self.at_end() || self.rest().starts_with(',') {
            return new_requirement(key, LabelOp::Exists, Vec::new());
        }
        let op = if self.eat("==") || self.eat("=") {
            LabelOp::Equals
        } else if self.eat("!=") {
            LabelOp::NotEquals
        } else {
            let word = self.identifier();
            match word {
                "in" => LabelOp::In,
                "notin" => LabelOp::NotIn,
                _ => {
                    return Err(SelectorError(format!(
                        "unable to parse requirement: found '{word}', expected: in, notin, =, ==, !=, gt, lt"
                    )));
                }
            }
        };
        self.skip_spaces();
        let values = match op {
            LabelOp::In | LabelOp::NotIn => self.value_set()?,
            _ => vec![self.identifier().to_string()],
        };
        new_requirement(key, op, values)
    }

    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        if !self.eat("(") {
            return Err(self.error("expected: '('"));
        }
        let mut values = Vec::new();
        loop {
            self.skip_spaces();
            let value = self.identifier();
            values.push(value.to_string());
            self.skip_spaces();
            if self.eat(")") {
                break;
            }
            if !self.eat(",") {
                return Err(self.error("expected: ',' or ')'"));
            }
        }
        if values.len() == 1 && values[0].is_empty() {
            values.clear();
        }
        Ok(values)
    }
}

/// One term of a field selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldRequirement {
    pub field: String,
    pub equal: bool,
    pub value: String,
}

/// A parsed field selector; empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector {
    pub requirements: Vec<FieldRequirement>,
}

impl FieldSelector {
    pub fn everything() -> Self {
        FieldSelector::default()
    }

    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Parses `a=b,c!=d` with backslash escapes, as `fields.ParseSelector`.
    pub fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let mut requirements = Vec::new();
        if text.trim().is_empty() {
            return Ok(FieldSelector::everything());
        }
        for term in split_unescaped(text, ',') {
            let (field, equal, value) = split_field_term(&term).ok_or_else(|| {
                SelectorError(format!(
                    "invalid selector: '{text}'; can't understand '{term}'"
                ))
            })?;
            requirements.push(FieldRequirement {
                field: field.trim().to_string(),
                equal,
                value: unescape(value),
            });
        }
        Ok(FieldSelector { requirements })
    }

    /// The value an equality term requires for `field`, for index lookups.
    pub fn required_value(&self, field: &str) -> Option<&str> {
        self.requirements
            .iter()
            .find(|r| r.equal && r.field == field)
            .map(|r| r.value.as_str())
    }

    /// Checks every term against a lookup of the object's selectable fields; a field the
    /// lookup does not know is treated as an empty value (callers validate field names
    /// first, see [`crate::fields`]).
    pub fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.requirements.iter().all(|r| {
            let actual = lookup(&r.field).unwrap_or_default();
            (actual == r.value) == r.equal
        })
    }
}

fn split_unescaped(text: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut escaped = false;
    for c in text.chars() {
        if escaped {
            current.push('\\');
            current.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if c == separator {
            parts.push(std::mem::take(&mut current));
        } else {
            current.push(c);
        }
    }
    if escaped {
        current.push('\\');
    }
    parts.push(current);
    parts
}

fn split_field_term(term: &str) -> Option<(&str, bool, &str)> {
    for (op, equal) in [("!=", false), ("==", true), ("=", true)] {
        if let Some(idx) = find_unescaped(term, op) {
            return Some((&term[..idx], equal, &term[idx + op.len()..]));
        }
    }
    None
}

fn find_unescaped(term: &str, op: &str) -> Option<usize> {
    let bytes = term.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
            continue;
        }
        if term[i..].starts_with(op) {
            return Some(i);
        }
        i += 1;
    }
    None
}

fn unescape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            out.push(c);
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_selector_grammar_covers_every_operator() {
        let l = labels(&[("app", "web"), ("tier", "gold")]);
        for (sel, expected) in [
            ("app=web", true),
            ("app==web", true),
            ("app!=web", false),
            ("app in (web,db)", true),
            ("app notin (web,db)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing", true),
            ("app=web,tier=gold", true),
            ("app=web, tier in (silver)", false),
            ("", true),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&l),
                expected,
                "{sel}"
            );
        }
    }

    #[test]
    fn malformed_label_selectors_are_errors_not_panics() {
        for bad in [
            "app in web",
            "app in (",
            "=x",
            "app=(x",
            "a b",
            "app in ()",
            "!",
            "a=b,",
            "x/=1",
        ] {
            assert!(LabelSelector::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn field_selectors_parse_equality_inequality_and_escapes() {
        let sel =
            FieldSelector::parse("status.phase!=Succeeded,spec.nodeName=n1,metadata.name=a\\,b")
                .unwrap();
        assert_eq!(sel.requirements.len(), 3);
        assert!(!sel.requirements[0].equal);
        assert_eq!(sel.requirements[2].value, "a,b");
        assert_eq!(sel.required_value("spec.nodeName"), Some("n1"));
        assert!(FieldSelector::parse("nonsense").is_err());
    }

    #[test]
    fn k8s_label_selectors_convert_with_nil_matching_nothing() {
        assert!(!LabelSelector::from_k8s(None).unwrap().matches(&labels(&[])));
        let sel = metav1::LabelSelector {
            match_labels: Some([("a".to_string(), "1".to_string())].into()),
            match_expressions: Some(vec![metav1::LabelSelectorRequirement {
                key: "b".into(),
                operator: "NotIn".into(),
                values: Some(vec!["2".into()]),
            }]),
        };
        let s = LabelSelector::from_k8s(Some(&sel)).unwrap();
        assert!(s.matches(&labels(&[("a", "1")])));
        assert!(!s.matches(&labels(&[("a", "1"), ("b", "2")])));
        assert_eq!(s.to_string(), "a=1,b notin (2)");
    }
}
