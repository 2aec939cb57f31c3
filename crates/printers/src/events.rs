//! Events: upstream `printEvent` (`pkg/printers/internalversion/printers.go`), used for
//! core/v1 Events and, as upstream does, for the events.k8s.io/v1 view of the same stored
//! objects. Also the core → events.k8s.io/v1 conversion for `includeObject=Object` rows of
//! that view (`pkg/apis/events/v1/conversion.go`).

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event, EventSource};
use k8s_openapi::api::events::v1 as events_v1;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use serde_json::Value;

use crate::descriptions as doc;
use crate::format::{self, int, string};
use crate::table::{Cells, Column, NAME, Printer};

/// Upstream's order; with `-o wide` kubectl shows all ten in this order.
const COLUMNS: &[Column] = &[
    Column::string("Last Seen", doc::EVENT_LAST_TIMESTAMP),
    Column::string("Type", doc::EVENT_TYPE),
    Column::string("Reason", doc::EVENT_REASON),
    Column::string("Object", doc::EVENT_INVOLVED_OBJECT),
    Column::string("Subobject", doc::OBJECT_REFERENCE_FIELD_PATH).wide(),
    Column::string("Source", doc::EVENT_SOURCE).wide(),
    Column::string("Message", doc::EVENT_MESSAGE),
    Column::string("First Seen", doc::EVENT_FIRST_TIMESTAMP).wide(),
    Column::string("Count", doc::EVENT_COUNT).wide(),
    NAME.wide(),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: event_cells,
};

/// Upstream `printEvent` with `Wide: true`.
fn event_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let event = object.as_typed::<Event>()?;
    let first_seen = match format::non_zero(event.first_timestamp.as_ref()) {
        Some(_) => format::timestamp_since(event.first_timestamp.as_ref(), now),
        None => format::micro_timestamp_since(event.event_time.as_ref(), now),
    };
    let mut last_seen = match format::non_zero(event.last_timestamp.as_ref()) {
        Some(_) => format::timestamp_since(event.last_timestamp.as_ref(), now),
        None => first_seen.clone(),
    };
    let mut count = event.count.unwrap_or(0);
    if let Some(series) = &event.series {
        last_seen = format::micro_timestamp_since(series.last_observed_time.as_ref(), now);
        count = series.count.unwrap_or(0);
    } else if count == 0 {
        // Singleton events of the new API carry no count.
        count = 1;
    }
    let involved = &event.involved_object;
    let kind = format::text(involved.kind.as_ref()).to_lowercase();
    let target = match involved.name.as_deref().filter(|n| !n.is_empty()) {
        Some(name) => format!("{kind}/{name}"),
        None => kind,
    };
    Some(Cells::new(vec![
        string(last_seen),
        string(format::text(event.type_.as_ref())),
        string(format::text(event.reason.as_ref())),
        string(target),
        string(format::text(involved.field_path.as_ref())),
        string(format_event_source(event)),
        string(format::text(event.message.as_ref()).trim()),
        string(first_seen),
        int(count),
        format::name(&event.metadata),
    ]))
}

/// Upstream `formatEventSource`: `component[, host]`, falling back to
/// `reportingComponent` and `reportingInstance` (core/v1's names for the new API's
/// `reportingController` and `reportingInstance`).
fn format_event_source(event: &Event) -> String {
    let source = event.source.as_ref();
    let component = first_non_empty(
        source.and_then(|s| s.component.as_deref()),
        event.reporting_component.as_deref(),
    );
    let instance = first_non_empty(
        source.and_then(|s| s.host.as_deref()),
        event.reporting_instance.as_deref(),
    );
    if instance.is_empty() {
        component.to_string()
    } else {
        format!("{component}, {instance}")
    }
}

fn first_non_empty<'a>(a: Option<&'a str>, b: Option<&'a str>) -> &'a str {
    [a, b]
        .into_iter()
        .flatten()
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// A stored core/v1 Event as events.k8s.io/v1 serves it (`Convert_core_Event_To_v1_Event`):
/// `involvedObject` → `regarding`, `message` → `note`, `reportingComponent` →
/// `reportingController`, and the old bookkeeping under `deprecated*`.
pub(crate) fn events_v1_value(event: &Event) -> Value {
    let empty_source = EventSource::default();
    let source = event
        .source
        .as_ref()
        .filter(|s| **s != empty_source)
        .cloned();
    let series = event.series.as_ref().map(|s| events_v1::EventSeries {
        count: s.count.unwrap_or(0),
        last_observed_time: s
            .last_observed_time
            .clone()
            .unwrap_or_else(|| MicroTime(format::go_zero_time())),
    });
    let converted = events_v1::Event {
        metadata: event.metadata.clone(),
        action: event.action.clone(),
        deprecated_count: event.count.filter(|c| *c != 0),
        deprecated_first_timestamp: event.first_timestamp.clone(),
        deprecated_last_timestamp: event.last_timestamp.clone(),
        deprecated_source: source,
        event_time: event.event_time.clone(),
        note: event.message.clone(),
        reason: event.reason.clone(),
        regarding: Some(event.involved_object.clone()),
        related: event.related.clone(),
        reporting_controller: event.reporting_component.clone(),
        reporting_instance: event.reporting_instance.clone(),
        series,
        type_: event.type_.clone(),
    };
    serde_json::to_value(converted).unwrap_or(Value::Null)
}
