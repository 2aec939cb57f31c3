//! JSON value helpers: the "type" upstream compares with `reflect.TypeOf`, Go-style type
//! names for error messages, bounded rendering of values into messages, and the depth
//! check that keeps every recursion in this crate bounded.

use serde_json::Value;

use crate::PatchError;

/// The JSON type of a value, the unit upstream compares when deciding whether to merge
/// or to replace. Numbers are one kind here (upstream splits int64/float64 only when
/// decoding with PreserveInts, and both cases replace the scalar anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Null,
    Bool,
    Number,
    String,
    List,
    Map,
}

pub(crate) fn kind(v: &Value) -> Kind {
    match v {
        Value::Null => Kind::Null,
        Value::Bool(_) => Kind::Bool,
        Value::Number(_) => Kind::Number,
        Value::String(_) => Kind::String,
        Value::Array(_) => Kind::List,
        Value::Object(_) => Kind::Map,
    }
}

/// Go's name for the type `encoding/json` decodes `v` into, as upstream prints it.
pub(crate) fn go_type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => GO_LIST,
        Value::Object(_) => GO_MAP,
    }
}

pub(crate) const GO_LIST: &str = "[]interface {}";
pub(crate) const GO_MAP: &str = "map[string]interface {}";

/// Error messages quote values; long ones are cut so a huge patch cannot produce a huge
/// error body.
const MAX_RENDERED_CHARS: usize = 512;

/// `v` as compact JSON for an error message, cut at [`MAX_RENDERED_CHARS`].
pub(crate) fn render(v: &Value) -> String {
    let full = serde_json::to_string(v).unwrap_or_default();
    truncate(full)
}

/// A list of values as compact JSON, cut like [`render`].
pub(crate) fn render_list(items: &[Value]) -> String {
    truncate(serde_json::to_string(items).unwrap_or_default())
}

pub(crate) fn render_map(m: &serde_json::Map<String, Value>) -> String {
    truncate(serde_json::to_string(m).unwrap_or_default())
}

fn truncate(mut s: String) -> String {
    if s.chars().count() > MAX_RENDERED_CHARS {
        s = s.chars().take(MAX_RENDERED_CHARS).collect();
        s.push_str("...");
    }
    s
}

/// True when `v` nests deeper than `max` containers. Iterative, so a hostile value
/// cannot overflow the stack here.
pub(crate) fn nests_deeper_than(v: &Value, max: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth >= max {
            return true;
        }
        stack.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// The common element kind of some lists (upstream `sliceElementType`): lists of lists
/// and mixed element types are errors, and so is having no element at all.
pub(crate) fn slice_element_kind(lists: &[&[Value]]) -> Result<Kind, PatchError> {
    let mut found: Option<Kind> = None;
    for item in lists.iter().flat_map(|l| l.iter()) {
        let k = kind(item);
        match found {
            None if k == Kind::List => return Err(PatchError::NoListOfLists),
            None => found = Some(k),
            Some(prev) if prev != k => {
                let all: Vec<Value> = lists.iter().map(|l| Value::Array(l.to_vec())).collect();
                return Err(PatchError::MixedListElements {
                    lists: render_list(&all),
                });
            }
            Some(_) => {}
        }
    }
    found.ok_or(PatchError::EmptyLists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn depth_counts_containers_not_scalars() {
        assert!(!nests_deeper_than(&json!(1), 0));
        assert!(!nests_deeper_than(&json!({"a": 1}), 1));
        assert!(nests_deeper_than(&json!({"a": {"b": 1}}), 1));
        assert!(!nests_deeper_than(&json!([[[]]]), 3));
        assert!(nests_deeper_than(&json!([[[1]]]), 2));
    }

    #[test]
    fn lists_of_lists_and_mixed_elements_are_rejected() {
        assert_eq!(
            slice_element_kind(&[&[json!([1])]]),
            Err(PatchError::NoListOfLists)
        );
        assert!(matches!(
            slice_element_kind(&[&[json!(1)], &[json!("a")]]),
            Err(PatchError::MixedListElements { .. })
        ));
        assert_eq!(slice_element_kind(&[&[], &[]]), Err(PatchError::EmptyLists));
        assert_eq!(
            slice_element_kind(&[&[], &[json!({"a": 1})]]),
            Ok(Kind::Map)
        );
    }

    #[test]
    fn long_values_are_cut_in_messages() {
        let long = Value::String("x".repeat(5000));
        assert!(render(&long).len() < 600);
    }
}
