//! `events.k8s.io/v1` Event ↔ core/v1 Event, as upstream's
//! `pkg/apis/events/v1/conversion.go` (both go through the internal `core.Event`, which
//! core/v1 mirrors field for field):
//!
//! | events.k8s.io/v1            | core/v1              |
//! |-----------------------------|----------------------|
//! | `regarding`                 | `involvedObject`     |
//! | `note`                      | `message`            |
//! | `reportingController`       | `reportingComponent` |
//! | `deprecatedSource`          | `source`             |
//! | `deprecatedFirstTimestamp`  | `firstTimestamp`     |
//! | `deprecatedLastTimestamp`   | `lastTimestamp`      |
//! | `deprecatedCount`           | `count`              |
//!
//! `eventTime`, `series`, `action`, `related`, `reason`, `reportingInstance` and `type`
//! keep their names. Upstream stores one object for both APIs, so converting there and
//! back is the identity (tested below).

use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::events::v1 as events;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;

/// core/v1 → events.k8s.io/v1.
pub fn core_to_events(event: &core::Event) -> events::Event {
    events::Event {
        metadata: event.metadata.clone(),
        action: event.action.clone(),
        deprecated_count: event.count,
        deprecated_first_timestamp: event.first_timestamp.clone(),
        deprecated_last_timestamp: event.last_timestamp.clone(),
        deprecated_source: event.source.clone(),
        event_time: event.event_time.clone(),
        note: event.message.clone(),
        reason: event.reason.clone(),
        regarding: Some(event.involved_object.clone()),
        related: event.related.clone(),
        reporting_controller: event.reporting_component.clone(),
        reporting_instance: event.reporting_instance.clone(),
        series: event.series.as_ref().map(series_to_events),
        type_: event.type_.clone(),
    }
}

/// events.k8s.io/v1 → core/v1.
pub fn events_to_core(event: &events::Event) -> core::Event {
    core::Event {
        metadata: event.metadata.clone(),
        action: event.action.clone(),
        count: event.deprecated_count,
        event_time: event.event_time.clone(),
        first_timestamp: event.deprecated_first_timestamp.clone(),
        involved_object: event.regarding.clone().unwrap_or_default(),
        last_timestamp: event.deprecated_last_timestamp.clone(),
        message: event.note.clone(),
        reason: event.reason.clone(),
        related: event.related.clone(),
        reporting_component: event.reporting_controller.clone(),
        reporting_instance: event.reporting_instance.clone(),
        series: event.series.as_ref().map(|s| core::EventSeries {
            count: Some(s.count),
            last_observed_time: Some(s.last_observed_time.clone()),
        }),
        source: event.deprecated_source.clone(),
        type_: event.type_.clone(),
    }
}

/// The core series fields are optional, the events ones required: zero values fill in.
fn series_to_events(series: &core::EventSeries) -> events::EventSeries {
    events::EventSeries {
        count: series.count.unwrap_or(0),
        last_observed_time: series
            .last_observed_time
            .clone()
            .unwrap_or_else(zero_micro_time),
    }
}

fn zero_micro_time() -> MicroTime {
    MicroTime(jiff::Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample_core() -> core::Event {
        serde_json::from_value(json!({
            "metadata": {"name": "job.17a", "namespace": "ns"},
            "involvedObject": {"kind": "Job", "name": "job", "namespace": "ns", "uid": "u1", "apiVersion": "batch/v1"},
            "reason": "SuccessfulCreate",
            "message": "Created pod: job-abc",
            "source": {"component": "job-controller"},
            "firstTimestamp": "2024-05-01T10:00:00Z",
            "lastTimestamp": "2024-05-01T10:05:00Z",
            "count": 3,
            "type": "Normal",
            "eventTime": null,
            "reportingComponent": "job-controller",
            "reportingInstance": "corral",
            "action": "Create",
            "series": {"count": 2, "lastObservedTime": "2024-05-01T10:05:00.000000Z"},
            "related": {"kind": "Pod", "name": "job-abc"}
        }))
        .unwrap()
    }

    #[test]
    fn fields_map_to_their_events_v1_names() {
        let converted = serde_json::to_value(core_to_events(&sample_core())).unwrap();
        assert_eq!(converted["note"], "Created pod: job-abc");
        assert_eq!(converted["regarding"]["name"], "job");
        assert_eq!(converted["reportingController"], "job-controller");
        assert_eq!(converted["deprecatedSource"]["component"], "job-controller");
        assert_eq!(converted["deprecatedCount"], 3);
        assert_eq!(
            converted["deprecatedFirstTimestamp"],
            "2024-05-01T10:00:00Z"
        );
        assert_eq!(converted["series"]["count"], 2);
        assert_eq!(converted["related"]["kind"], "Pod");
    }

    #[test]
    fn converting_there_and_back_is_the_identity() {
        let original = sample_core();
        assert_eq!(events_to_core(&core_to_events(&original)), original);
    }
}
