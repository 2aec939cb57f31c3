//! Goal: event rows print what upstream's `printEvent` prints, in upstream's wide cell
//! order, for old-style events (first/last timestamps, count), new-style ones (eventTime,
//! series) and singletons; the events.k8s.io/v1 view prints the same row and serves the
//! converted object.
//!
//! Method: upstream's `TestPrintEvent` cases (`printers_test.go`) with `AddDate(0, 0, -n)`
//! offsets taken from a fixed `now`.

mod common;

use common::{ago, object, texts};
use corral_api::ResourceKind;
use corral_printers::{IncludeObject, PrintOptions, print_row};
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn event(fields: Value) -> corral_api::KubeObject {
    let mut event = json!({
        "metadata": {"name": "event1", "namespace": "default"},
        "involvedObject": {"kind": "Deployment", "name": "Deployment Name", "fieldPath": "spec.containers{foo}"},
        "reason": "Event Reason",
        "message": "Message Data",
        "type": "Warning",
    });
    for (k, v) in fields.as_object().unwrap() {
        event[k] = v.clone();
    }
    object(ResourceKind::Event, event)
}

fn row(event: &corral_api::KubeObject) -> Vec<String> {
    texts(&common::cells("", "events", event))
}

#[test]
fn old_style_events_use_first_and_last_timestamps() {
    let e = event(json!({"source": {"component": "kubelet", "host": "Node1"},
        "firstTimestamp": ago(3 * DAY), "lastTimestamp": ago(2 * DAY), "count": 6, "type": "Normal"}));
    assert_eq!(
        row(&e),
        [
            "2d",
            "Normal",
            "Event Reason",
            "deployment/Deployment Name",
            "spec.containers{foo}",
            "kubelet, Node1",
            "Message Data",
            "3d",
            "#6",
            "event1"
        ]
    );
}

#[test]
fn new_style_events_fall_back_to_event_time() {
    let only_event_time =
        event(json!({"eventTime": ago(3 * DAY), "source": {"component": "kubelet"}}));
    assert_eq!(
        row(&only_event_time),
        [
            "3d",
            "Warning",
            "Event Reason",
            "deployment/Deployment Name",
            "spec.containers{foo}",
            "kubelet",
            "Message Data",
            "3d",
            "#1",
            "event1"
        ]
    );
    let without_last = event(json!({"firstTimestamp": ago(3 * DAY), "count": 1}));
    assert_eq!(
        (
            row(&without_last)[0].as_str(),
            row(&without_last)[7].as_str()
        ),
        ("3d", "3d")
    );
    let without_first = event(json!({"eventTime": ago(3 * DAY), "lastTimestamp": ago(2 * DAY)}));
    assert_eq!(
        (
            row(&without_first)[0].as_str(),
            row(&without_first)[7].as_str()
        ),
        ("2d", "3d")
    );
}

#[test]
fn series_set_last_seen_and_count() {
    let series = event(json!({"eventTime": ago(3 * DAY),
        "series": {"count": 2, "lastObservedTime": ago(2 * DAY)},
        "reportingComponent": "kubelet", "reportingInstance": "test"}));
    assert_eq!(
        row(&series),
        [
            "2d",
            "Warning",
            "Event Reason",
            "deployment/Deployment Name",
            "spec.containers{foo}",
            "kubelet, test",
            "Message Data",
            "3d",
            "#2",
            "event1"
        ]
    );
}

#[test]
fn objects_sources_and_messages_are_normalised() {
    let e = event(
        json!({"involvedObject": {"kind": "Node"}, "message": "  spaced out \n",
        "source": {"host": "h1"}, "reportingComponent": "ctrl", "lastTimestamp": ago(30)}),
    );
    let cells = row(&e);
    assert_eq!(
        cells[..7],
        [
            "30s",
            "Warning",
            "Event Reason",
            "node",
            "",
            "ctrl, h1",
            "spaced out"
        ]
    );
    let nothing =
        event(json!({"involvedObject": {}, "reason": null, "message": null, "type": null}));
    assert_eq!(row(&nothing)[..7], ["<unknown>", "", "", "", "", "", ""]);
}

#[test]
fn the_events_k8s_io_view_prints_the_same_row_and_serves_the_converted_object() {
    let e = event(
        json!({"source": {"component": "kubelet", "host": "Node1"}, "reportingComponent": "kubelet",
        "firstTimestamp": ago(3 * DAY), "lastTimestamp": ago(2 * DAY), "count": 6}),
    );
    let options = PrintOptions {
        now: common::now(),
        include_object: IncludeObject::Object,
    };
    let core = print_row(common::resource("", "events"), &e, &options);
    let v1 = print_row(common::resource("events.k8s.io", "events"), &e, &options);
    assert_eq!(core.cells, v1.cells);
    assert_eq!(core.object.as_ref().unwrap()["apiVersion"], "v1");
    assert_eq!(core.object.as_ref().unwrap()["message"], "Message Data");
    let converted = v1.object.unwrap();
    assert_eq!(converted["apiVersion"], "events.k8s.io/v1");
    assert_eq!(converted["kind"], "Event");
    assert_eq!(converted["note"], "Message Data");
    assert_eq!(converted["regarding"]["name"], "Deployment Name");
    assert_eq!(converted["reportingController"], "kubelet");
    assert_eq!(converted["deprecatedCount"], 6);
    assert_eq!(
        converted["deprecatedSource"],
        json!({"component": "kubelet", "host": "Node1"})
    );
    assert_eq!(
        converted["deprecatedFirstTimestamp"],
        Value::String(ago(3 * DAY))
    );
    assert!(converted.get("message").is_none() && converted.get("involvedObject").is_none());
}
