//! `events.k8s.io/v1` Events as a view of the stored core/v1 Events (upstream keeps one
//! storage for both): field renames both ways, as `pkg/apis/events/v1/conversion.go`.

use corral_api::KubeObject;
use corral_api::k8s_openapi::api::core::v1::{Event, EventSource};
use corral_api::k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use corral_core::clock::truncate_to_seconds;
use corral_core::{EventRecord, Timestamp};
use serde_json::{Map, Value};

/// (core/v1 field, events.k8s.io/v1 field) pairs that differ in name.
const RENAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

pub const EVENTS_V1_API_VERSION: &str = "events.k8s.io/v1";

/// A core/v1 Event for a recorded event (upstream's recorder naming: `<object>.<hex time>`;
/// cluster-scoped objects get their events in `default`).
pub fn event_from_record(record: &EventRecord, now: Timestamp, suffix: &str) -> KubeObject {
    let involved = &record.involved;
    let namespace = involved
        .namespace
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".into());
    let name = format!(
        "{}.{:x}{suffix}",
        involved.name.as_deref().unwrap_or("object"),
        now.as_nanosecond()
    );
    let time = Time(truncate_to_seconds(now));
    Event {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(namespace),
            ..ObjectMeta::default()
        },
        involved_object: involved.clone(),
        reason: Some(record.reason.clone()),
        message: Some(record.message.clone()),
        type_: Some(record.event_type.as_str().to_string()),
        source: Some(EventSource {
            component: Some(record.component.clone()),
            host: record.host.clone(),
        }),
        first_timestamp: Some(time.clone()),
        last_timestamp: Some(time),
        count: Some(1),
        reporting_component: Some(record.component.clone()),
        reporting_instance: Some(
            record
                .host
                .clone()
                .unwrap_or_else(|| record.component.clone()),
        ),
        ..Event::default()
    }
    .into()
}

fn rename(map: Map<String, Value>, from_core: bool) -> Map<String, Value> {
    map.into_iter()
        .map(|(key, value)| {
            let renamed = RENAMES.iter().find_map(|(core, v1)| {
                let (from, to) = if from_core { (core, v1) } else { (v1, core) };
                (key == *from).then(|| to.to_string())
            });
            (renamed.unwrap_or(key), value)
        })
        .collect()
}

/// A stored core/v1 Event as events.k8s.io/v1 JSON.
pub fn to_events_v1(object: &KubeObject) -> Value {
    let Value::Object(map) = object.to_value() else {
        return Value::Null;
    };
    let mut map = rename(map, true);
    map.insert("apiVersion".into(), EVENTS_V1_API_VERSION.into());
    map.insert("kind".into(), "Event".into());
    Value::Object(map)
}

pub fn to_events_v1_bytes(object: &KubeObject) -> Vec<u8> {
    serde_json::to_vec(&to_events_v1(object)).unwrap_or_default()
}

/// An events.k8s.io/v1 body as core/v1 JSON (for the normal pipeline). Bodies that are not
/// objects are returned unchanged (the typed decode rejects them).
pub fn from_events_v1(value: Value) -> Value {
    let Value::Object(mut map) = value else {
        return value;
    };
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some(EVENTS_V1_API_VERSION) => {
            map.insert("apiVersion".into(), "v1".into());
        }
        Some(_) => {}
    }
    Value::Object(rename(map, false))
}

#[cfg(test)]
mod tests {
    use super::*;
    use corral_api::ResourceKind;
    use serde_json::json;

    #[test]
    fn conversion_round_trips_the_renamed_fields() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "n"},
            "involvedObject": {"kind": "Job", "name": "j"}, "message": "hi", "count": 2, "reason": "R"});
        let object = KubeObject::from_value(ResourceKind::Event, core.clone()).unwrap();
        let v1 = to_events_v1(&object);
        assert_eq!(v1["regarding"]["name"], "j");
        assert_eq!(v1["note"], "hi");
        assert_eq!(v1["deprecatedCount"], 2);
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        let back = KubeObject::from_value(ResourceKind::Event, from_events_v1(v1)).unwrap();
        assert_eq!(back, object);
    }
}
