//! Cell formatting shared by the printers: ages, label selectors, container lists,
//! quantities, booleans. Each helper names the upstream function it ports.

use std::fmt::Write as _;

use corral_api::{LabelSelector, Quantity};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{self as metav1, MicroTime, ObjectMeta, Time};
use serde_json::Value;

use crate::duration::{human_duration, since};

/// Go's zero `time.Time` (`0001-01-01T00:00:00Z`) in Unix seconds.
const GO_ZERO_TIME_SECONDS: i64 = -62_135_596_800;

/// A string cell.
pub(crate) fn string(text: impl Into<String>) -> Value {
    Value::String(text.into())
}

/// An integer cell (upstream appends `int64(...)`).
pub(crate) fn int(n: impl Into<i64>) -> Value {
    Value::from(n.into())
}

/// The object's name cell (`obj.Name`).
pub(crate) fn name(meta: &ObjectMeta) -> Value {
    string(meta.name.clone().unwrap_or_default())
}

/// The AGE cell: `translateTimestampSince(obj.CreationTimestamp)`.
pub(crate) fn age(meta: &ObjectMeta, now: Timestamp) -> Value {
    string(timestamp_since(meta.creation_timestamp.as_ref(), now))
}

/// Go's `metav1.Time.IsZero`: absent, or the zero `time.Time`.
pub(crate) fn is_zero(ts: &Timestamp) -> bool {
    ts.as_second() == GO_ZERO_TIME_SECONDS && ts.subsec_nanosecond() == 0
}

/// A timestamp that Go would not consider zero.
pub(crate) fn non_zero(time: Option<&Time>) -> Option<Timestamp> {
    time.map(|t| t.0).filter(|ts| !is_zero(ts))
}

/// Upstream `translateTimestampSince`: `<unknown>` for a zero time, else the human age.
pub(crate) fn timestamp_since(time: Option<&Time>, now: Timestamp) -> String {
    match non_zero(time) {
        Some(ts) => human_duration(since(now, ts)),
        None => "<unknown>".into(),
    }
}

/// Upstream `translateMicroTimestampSince`.
pub(crate) fn micro_timestamp_since(time: Option<&MicroTime>, now: Timestamp) -> String {
    match time.map(|t| t.0).filter(|ts| !is_zero(ts)) {
        Some(ts) => human_duration(since(now, ts)),
        None => "<unknown>".into(),
    }
}

/// `t.UTC().Format(time.RFC3339)`: seconds precision, `Z` suffix. A missing time is Go's
/// zero time, as upstream's default table prints it.
pub(crate) fn rfc3339(time: Option<&Time>) -> String {
    let ts = time.map(|t| t.0).unwrap_or_else(go_zero_time);
    // `write!` rather than `to_string`: a formatting error must not become a panic.
    let mut out = String::new();
    let _ = write!(out, "{}", ts.strftime("%Y-%m-%dT%H:%M:%SZ"));
    out
}

/// Go's zero `time.Time`, what an unset non-pointer time field holds.
pub(crate) fn go_zero_time() -> Timestamp {
    Timestamp::from_second(GO_ZERO_TIME_SECONDS).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Upstream `metav1.FormatLabelSelector`: the selector's string form (`k=v,k2 in (a,b),!k3`,
/// requirements sorted by key), `<none>` when it selects everything or nothing, and
/// `<error>` when it is invalid.
pub fn format_label_selector(selector: Option<&metav1::LabelSelector>) -> String {
    match LabelSelector::from_k8s(selector) {
        Ok(parsed) => {
            let text = parsed.to_string();
            if text.is_empty() {
                "<none>".into()
            } else {
                text
            }
        }
        Err(_) => "<error>".into(),
    }
}

/// Upstream `layoutContainerCells`: comma-joined names and images.
pub(crate) fn layout_container_cells(containers: &[Container]) -> (String, String) {
    let names: Vec<&str> = containers.iter().map(|c| c.name.as_str()).collect();
    let images: Vec<&str> = containers
        .iter()
        .map(|c| c.image.as_deref().unwrap_or(""))
        .collect();
    (names.join(","), images.join(","))
}

/// `resource.Quantity.String()`: canonical form; a missing quantity is Go's zero value
/// (`0`). Text that does not parse is shown as stored.
pub(crate) fn quantity(q: Option<&WireQuantity>) -> String {
    match q {
        None => "0".into(),
        Some(q) => Quantity::from_wire(q).map_or_else(|_| q.0.clone(), |parsed| parsed.to_string()),
    }
}

/// Upstream `printBoolPtr`: `True`, `False`, or `<unset>`.
pub(crate) fn bool_ptr(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    }
}

/// An optional string as Go reads a plain string field: absent is empty.
pub(crate) fn text(value: Option<&String>) -> &str {
    value.map_or("", String::as_str)
}

/// A string that prints `placeholder` when empty (`<none>`, `<unknown>`, `<unset>`).
pub(crate) fn or(value: &str, placeholder: &str) -> String {
    if value.is_empty() {
        placeholder.into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelectorRequirement;
    use std::collections::BTreeMap;

    #[test]
    fn label_selectors_print_like_format_label_selector() {
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            format_label_selector(Some(&metav1::LabelSelector::default())),
            "<none>"
        );
        let selector = metav1::LabelSelector {
            match_labels: Some(BTreeMap::from([("k".to_string(), "v".to_string())])),
            match_expressions: Some(vec![
                LabelSelectorRequirement {
                    key: "k2".into(),
                    operator: "In".into(),
                    values: Some(vec!["b".into(), "a".into()]),
                },
                LabelSelectorRequirement {
                    key: "k3".into(),
                    operator: "DoesNotExist".into(),
                    values: None,
                },
                LabelSelectorRequirement {
                    key: "a".into(),
                    operator: "Exists".into(),
                    values: None,
                },
            ]),
        };
        assert_eq!(
            format_label_selector(Some(&selector)),
            "a,k=v,k2 in (a,b),!k3"
        );
        let invalid = metav1::LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "k".into(),
                operator: "Near".into(),
                values: None,
            }]),
            ..Default::default()
        };
        assert_eq!(format_label_selector(Some(&invalid)), "<error>");
    }

    #[test]
    fn zero_and_missing_times_print_as_upstream() {
        let now: Timestamp = "2024-05-01T12:00:00Z".parse().unwrap();
        let zero = Time(go_zero_time());
        assert_eq!(timestamp_since(None, now), "<unknown>");
        assert_eq!(timestamp_since(Some(&zero), now), "<unknown>");
        assert_eq!(rfc3339(None), "0001-01-01T00:00:00Z");
        let t = Time("2024-05-01T11:59:30.75Z".parse().unwrap());
        assert_eq!(rfc3339(Some(&t)), "2024-05-01T11:59:30Z");
        assert_eq!(timestamp_since(Some(&t), now), "29s");
    }

    #[test]
    fn quantities_print_canonically() {
        assert_eq!(quantity(None), "0");
        assert_eq!(quantity(Some(&WireQuantity("1000m".into()))), "1");
        assert_eq!(quantity(Some(&WireQuantity("1Gi".into()))), "1Gi");
        assert_eq!(quantity(Some(&WireQuantity("bogus".into()))), "bogus");
    }
}
