//! Go's `%#v` rendering of the composite values upstream puts into `field.Invalid`
//! errors (label maps, selectors, string and integer lists, `IntOrString`).
//!
//! Upstream's `field.Error.ErrorBody` prints strings with `%q`, numbers with `%v`, and
//! everything else with `%#v`, so `spec.template.metadata.labels: Invalid value:
//! map[string]string{"a":"b"}: ...` is what kubectl shows. Deep structs (a whole pod
//! template) are rendered as compact JSON instead: their `%#v` form is hundreds of lines
//! of Go internals nobody reads.

use std::collections::BTreeMap;

use corral_api::validation::go_quote;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

/// `map[string]string{"a":"b", "c":"d"}`; `nil` maps print as `map[string]string(nil)`.
pub fn string_map(map: Option<&BTreeMap<String, String>>) -> String {
    match map {
        None => "map[string]string(nil)".to_string(),
        Some(map) => {
            let entries: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}:{}", go_quote(k), go_quote(v)))
                .collect();
            format!("map[string]string{{{}}}", entries.join(", "))
        }
    }
}

/// `[]T{"a", "b"}` for a slice of string-like type `T` (`string`, `core.ResourceQuotaScope`).
pub fn string_slice(type_name: &str, values: Option<&[String]>) -> String {
    match values {
        None => format!("[]{type_name}(nil)"),
        Some(values) => {
            let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
            format!("[]{type_name}{{{}}}", quoted.join(", "))
        }
    }
}

/// `[]int32{1, 2}`.
pub fn int32_slice(values: &[i32]) -> String {
    let items: Vec<String> = values.iter().map(|v| v.to_string()).collect();
    format!("[]int32{{{}}}", items.join(", "))
}

/// `v1.LabelSelector{MatchLabels:…, MatchExpressions:…}`.
pub fn label_selector(selector: &LabelSelector) -> String {
    let expressions = match &selector.match_expressions {
        None => "[]v1.LabelSelectorRequirement(nil)".to_string(),
        Some(list) => {
            let items: Vec<String> = list
                .iter()
                .map(|r| {
                    format!(
                        "v1.LabelSelectorRequirement{{Key:{}, Operator:{}, Values:{}}}",
                        go_quote(&r.key),
                        go_quote(&r.operator),
                        string_slice("string", r.values.as_deref())
                    )
                })
                .collect();
            format!("[]v1.LabelSelectorRequirement{{{}}}", items.join(", "))
        }
    };
    format!(
        "v1.LabelSelector{{MatchLabels:{}, MatchExpressions:{}}}",
        string_map(selector.match_labels.as_ref()),
        expressions
    )
}

/// `intstr.IntOrString{Type:0, IntVal:5, StrVal:""}`.
pub fn int_or_string(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(i) => format!("intstr.IntOrString{{Type:0, IntVal:{i}, StrVal:\"\"}}"),
        IntOrString::String(s) => {
            format!(
                "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
                go_quote(s)
            )
        }
    }
}

/// A deep value rendered as compact JSON (see the module note).
pub fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;

    #[test]
    fn maps_print_sorted_with_go_quoting() {
        let map: BTreeMap<String, String> = [
            ("b".to_string(), "2".to_string()),
            ("a".to_string(), "1".to_string()),
        ]
        .into();
        assert_eq!(
            string_map(Some(&map)),
            r#"map[string]string{"a":"1", "b":"2"}"#
        );
        assert_eq!(string_map(None), "map[string]string(nil)");
    }

    #[test]
    fn selectors_print_like_go_structs() {
        let selector = LabelSelector {
            match_labels: Some([("a".to_string(), "b".to_string())].into()),
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "In".into(),
                values: Some(vec!["v".into()]),
            }]),
        };
        assert_eq!(
            label_selector(&selector),
            r#"v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, MatchExpressions:[]v1.LabelSelectorRequirement{v1.LabelSelectorRequirement{Key:"k", Operator:"In", Values:[]string{"v"}}}}"#
        );
    }
}
