//! Immutability checks: upstream's `ValidateImmutableField` with
//! `apiequality.Semantic.DeepEqual`, on the JSON form of the values (nil and empty
//! lists compare equal, as upstream's forked `DeepEqual` treats them).

use corral_api::{FieldError, FieldErrorType, FieldPath};

use crate::gofmt;
use crate::validation::meta::FIELD_IMMUTABLE;

/// The `field.Invalid(path, newValue, "field is immutable")` error of
/// `ValidateImmutableField`, with the value already rendered.
pub fn immutable_error(path: &FieldPath, rendered: String) -> FieldError {
    FieldError::new(path, FieldErrorType::Invalid)
        .value_plain(rendered)
        .detail(FIELD_IMMUTABLE)
}

/// `ValidateImmutableField` for an optional string (`nil` and `""` are equal, as Go's
/// zero value is).
pub fn immutable_str(new: Option<&str>, old: Option<&str>, path: &FieldPath) -> Vec<FieldError> {
    let (new, old) = (new.unwrap_or(""), old.unwrap_or(""));
    if new == old {
        Vec::new()
    } else {
        vec![FieldError::invalid_str(path, new, FIELD_IMMUTABLE)]
    }
}

/// `ValidateImmutableField` for a pointer that may be nil: Go prints the pointee or `null`.
pub fn immutable_opt_str(
    new: Option<&str>,
    old: Option<&str>,
    path: &FieldPath,
) -> Vec<FieldError> {
    if new == old {
        return Vec::new();
    }
    match new {
        Some(value) => vec![FieldError::invalid_str(path, value, FIELD_IMMUTABLE)],
        None => vec![immutable_error(path, "null".into())],
    }
}

/// `ValidateImmutableField` for an optional integer pointer.
pub fn immutable_opt_int(new: Option<i64>, old: Option<i64>, path: &FieldPath) -> Vec<FieldError> {
    if new == old {
        Vec::new()
    } else {
        vec![immutable_error(path, opt_i64(new))]
    }
}

/// `ValidateImmutableField` for any serialisable value, compared semantically (nil and
/// empty lists and maps are equal, as `apiequality.Semantic.DeepEqual` treats them).
pub fn immutable_json<T: serde::Serialize + PartialEq>(
    new: &T,
    old: &T,
    path: &FieldPath,
) -> Vec<FieldError> {
    if semantic_eq(new, old) {
        Vec::new()
    } else {
        vec![immutable_error(path, gofmt::json(new))]
    }
}

/// `apiequality.Semantic.DeepEqual` on the JSON form: nulls, empty lists and empty maps
/// compare equal to absent fields.
/// Equal values are equal without encoding (the common case: a status write carries the
/// stored spec unchanged).
pub fn semantic_eq<T: serde::Serialize + PartialEq>(a: &T, b: &T) -> bool {
    if a == b {
        return true;
    }
    let (Ok(a), Ok(b)) = (serde_json::to_value(a), serde_json::to_value(b)) else {
        return false;
    };
    normalize(a) == normalize(b)
}

/// Drops nulls and empty lists from objects so `nil` and empty compare equal.
pub fn normalize(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, normalize(v)))
                .filter(|(_, v)| !v.is_null() && !v.as_array().is_some_and(|a| a.is_empty()))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

/// Go's `%v` of an `*int64`: the value, or `null`.
pub fn opt_i64(value: Option<i64>) -> String {
    value.map_or_else(|| "null".to_string(), |v| v.to_string())
}
