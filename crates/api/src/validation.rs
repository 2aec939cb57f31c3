//! Field errors as upstream's `k8s.io/apimachinery/pkg/util/validation/field` prints them.
//! kubectl rebuilds its "The Job "x" is invalid" output from `Status.details.causes`, so the
//! wording of each error body must match upstream's `ErrorBody`.

use std::fmt;

/// `field.ErrorType`: the category of a field error.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldErrorType {
    NotFound,
    Required,
    Duplicate,
    Invalid,
    NotSupported,
    Forbidden,
    TooLong,
    TooMany,
    Internal,
    TypeInvalid,
}

impl FieldErrorType {
    /// The text upstream prints for the type (`ErrorType.String()`).
    pub fn as_str(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "Not found",
            FieldErrorType::Required => "Required value",
            FieldErrorType::Duplicate => "Duplicate value",
            FieldErrorType::Invalid => "Invalid value",
            FieldErrorType::NotSupported => "Unsupported value",
            FieldErrorType::Forbidden => "Forbidden",
            FieldErrorType::TooLong => "Too long",
            FieldErrorType::TooMany => "Too many",
            FieldErrorType::Internal => "Internal error",
            FieldErrorType::TypeInvalid => "Invalid value",
        }
    }

    /// `metav1.CauseType` used in `Status.details.causes[].reason`.
    pub fn cause_reason(self) -> &'static str {
        match self {
            FieldErrorType::NotFound => "FieldValueNotFound",
            FieldErrorType::Required => "FieldValueRequired",
            FieldErrorType::Duplicate => "FieldValueDuplicate",
            FieldErrorType::Invalid => "FieldValueInvalid",
            FieldErrorType::NotSupported => "FieldValueNotSupported",
            FieldErrorType::Forbidden => "FieldValueForbidden",
            FieldErrorType::TooLong => "FieldValueTooLong",
            FieldErrorType::TooMany => "FieldValueTooMany",
            FieldErrorType::Internal => "InternalError",
            FieldErrorType::TypeInvalid => "FieldValueTypeInvalid",
        }
    }

    /// Types whose body never shows the bad value (upstream's `ErrorBody` switch).
    fn omits_value(self) -> bool {
        matches!(
            self,
            FieldErrorType::Required
                | FieldErrorType::Forbidden
                | FieldErrorType::TooLong
                | FieldErrorType::Internal
        )
    }
}

/// The offending value, already rendered the way Go's `%v`/`%q` would print it.
#[derive(Clone, Debug, PartialEq)]
pub enum BadValue {
    Omitted,
    /// Printed with `%q`: a Go-quoted string.
    Str(String),
    /// Printed with `%v`: integers, floats, booleans, and pre-rendered composite values.
    Plain(String),
}

/// One field error.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldError {
    /// JSON path in upstream's notation: `spec.template.spec.containers[0].image`.
    pub path: String,
    pub kind: FieldErrorType,
    pub value: BadValue,
    pub detail: String,
}

impl FieldError {
    pub fn new(path: impl Into<String>, kind: FieldErrorType) -> Self {
        FieldError {
            path: path.into(),
            kind,
            value: BadValue::Omitted,
            detail: String::new(),
        }
    }

    pub fn required(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorType::Required).detail(detail)
    }

    pub fn forbidden(path: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorType::Forbidden).detail(detail)
    }

    pub fn invalid_str(
        path: impl Into<String>,
        value: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self::new(path, FieldErrorType::Invalid)
            .value_str(value)
            .detail(detail)
    }

    pub fn invalid_int(path: impl Into<String>, value: i64, detail: impl Into<String>) -> Self {
        Self::new(path, FieldErrorType::Invalid)
            .value_int(value)
            .detail(detail)
    }

    /// `field.NotSupported`: the detail lists the accepted values, each Go-quoted.
    pub fn not_supported(path: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let detail = if supported.is_empty() {
            String::new()
        } else {
            let quoted: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Self::new(path, FieldErrorType::NotSupported)
            .value_str(value)
            .detail(detail)
    }

    pub fn duplicate_str(path: impl Into<String>, value: impl Into<String>) -> Self {
        Self::new(path, FieldErrorType::Duplicate).value_str(value)
    }

    pub fn too_long(path: impl Into<String>, max_length: usize) -> Self {
        Self::new(path, FieldErrorType::TooLong)
            .detail(format!("may not be more than {max_length} bytes"))
    }

    pub fn value_str(mut self, value: impl Into<String>) -> Self {
        self.value = BadValue::Str(value.into());
        self
    }

    pub fn value_int(mut self, value: i64) -> Self {
        self.value = BadValue::Plain(value.to_string());
        self
    }

    pub fn value_plain(mut self, rendered: impl Into<String>) -> Self {
        self.value = BadValue::Plain(rendered.into());
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = detail.into();
        self
    }

    /// Upstream's `ErrorBody()`: the message without the field path.
    pub fn body(&self) -> String {
        let mut body = if self.kind.omits_value() {
            self.kind.as_str().to_string()
        } else {
            match &self.value {
                BadValue::Omitted => self.kind.as_str().to_string(),
                BadValue::Str(s) => format!("{}: {}", self.kind.as_str(), go_quote(s)),
                BadValue::Plain(s) => format!("{}: {}", self.kind.as_str(), s),
            }
        };
        if !self.detail.is_empty() {
            body.push_str(": ");
            body.push_str(&self.detail);
        }
        body
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.body())
    }
}

/// Go's `strconv.Quote` for the printable ASCII subset plus the common escapes; enough for
/// field values, which are almost always plain identifiers.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path builder so validators can write `path.child("spec").index(0)` without string
/// bookkeeping.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldPath(String);

impl FieldPath {
    pub fn root(name: &str) -> Self {
        FieldPath(name.to_string())
    }

    pub fn child(&self, name: &str) -> Self {
        if self.0.is_empty() {
            FieldPath(name.to_string())
        } else {
            FieldPath(format!("{}.{}", self.0, name))
        }
    }

    pub fn index(&self, i: usize) -> Self {
        FieldPath(format!("{}[{}]", self.0, i))
    }

    pub fn key(&self, k: &str) -> Self {
        FieldPath(format!("{}[{}]", self.0, k))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<FieldPath> for String {
    fn from(p: FieldPath) -> String {
        p.0
    }
}

impl From<&FieldPath> for String {
    fn from(p: &FieldPath) -> String {
        p.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_errors_never_print_the_value() {
        let e = FieldError::required("spec.selector", "").value_str("x");
        assert_eq!(e.to_string(), "spec.selector: Required value");
    }

    #[test]
    fn not_supported_quotes_every_value() {
        let e = FieldError::not_supported("spec.x", "Always", &["OnFailure", "Never"]);
        assert_eq!(
            e.to_string(),
            "spec.x: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\""
        );
    }

    #[test]
    fn field_paths_compose_like_upstream() {
        let p = FieldPath::root("spec")
            .child("template")
            .child("spec")
            .child("containers")
            .index(0)
            .child("image");
        assert_eq!(p.as_str(), "spec.template.spec.containers[0].image");
        assert_eq!(
            FieldPath::root("metadata")
                .child("labels")
                .key("a")
                .as_str(),
            "metadata.labels[a]"
        );
    }
}
