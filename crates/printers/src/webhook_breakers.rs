//! Corral's `webhookbreakers` (`corral.dev/v1alpha1`, guard 7 in `docs/guards.md`): one per
//! configured admission webhook, with its circuit's state. `kubectl get webhookbreakers`
//! prints
//!
//! ```text
//! NAME                        STATE    FAILURES   OPENED   NEXT PROBE   AGE
//! snowball.slow.example.com   Open     0          12s      18s          3d
//! checks.fast.example.com     Closed   0          <none>   <none>       3d
//! ```
//!
//! (`-o wide` adds POLICY, TRIPS, REFUSED and LAST ERROR). Breakers are computed, never
//! stored: rows come from the served JSON through [`crate::print_value_table`].

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::Value;

use crate::duration::{human_duration, since};
use crate::format::{self, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

const COLUMNS: &[Column] = &[
    NAME,
    Column::string(
        "State",
        "The webhook's circuit: Closed (called), Open (not called), HalfOpen (probing), or Disabled.",
    ),
    Column::typed(
        "Failures",
        "integer",
        "Failed calls in a row while the circuit is closed.",
    ),
    Column::string("Opened", "How long ago the circuit opened."),
    Column::string(
        "Next Probe",
        "When the open circuit lets a probe call through.",
    ),
    AGE,
    Column::string(
        "Policy",
        "The webhook's failurePolicy: what an open circuit does to matching requests.",
    )
    .wide(),
    Column::typed("Trips", "integer", "Times the circuit opened.").wide(),
    Column::typed(
        "Refused",
        "integer",
        "Calls not made because the circuit was open.",
    )
    .wide(),
    Column::string("Last Error", "The last failed call's error.").wide(),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: stored_object_cells,
};

/// A breaker is never a stored object: a `KubeObject` printed as one gets the placeholder
/// row.
fn stored_object_cells(_object: &KubeObject, _now: Timestamp) -> Option<Cells> {
    None
}

fn time(status: &Value, field: &str) -> Option<Timestamp> {
    let value = status.get(field)?;
    let time = serde_json::from_value::<Time>(value.clone()).ok()?;
    format::non_zero(Some(&time))
}

/// NEXT PROBE: the time until probing starts while open; `due` once it has (the next
/// matching call probes), `probing` while a probe is in flight, `<none>` otherwise.
fn next_probe(status: &Value, state: &str, now: Timestamp) -> String {
    let in_flight = status
        .get("probesInFlight")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    match (state, time(status, "nextProbeAt")) {
        ("HalfOpen", _) if in_flight > 0 => "probing".into(),
        ("HalfOpen", _) => "due".into(),
        ("Open", Some(at)) if at > now => human_duration(since(at, now)),
        ("Open", _) => "due".into(),
        _ => "<none>".into(),
    }
}

/// One breaker's cells from its JSON.
pub(crate) fn breaker_cells(value: &Value, meta: &ObjectMeta, now: Timestamp) -> Option<Cells> {
    let status = value.get("status").unwrap_or(&Value::Null);
    let text = |field: &str| {
        status
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let number = |field: &str| status.get(field).and_then(Value::as_i64).unwrap_or(0);
    let state = text("state");
    let opened = match time(status, "openedAt") {
        Some(at) => human_duration(since(now, at)),
        None => "<none>".into(),
    };
    Some(Cells::new(vec![
        format::name(meta),
        string(format::or(&state, "<unknown>")),
        format::int(number("consecutiveFailures")),
        string(opened),
        string(next_probe(status, &state, now)),
        format::age(meta, now),
        string(format::or(&text("failurePolicy"), "<unknown>")),
        format::int(number("trips")),
        format::int(number("refusedCalls")),
        string(format::or(&text("lastError"), "<none>")),
    ]))
}

#[cfg(test)]
mod tests {
    //! Goal: `kubectl get webhookbreakers` shows each circuit's state, failures, when it
    //! opened and when it probes next, from the JSON the API serves. Method: served
    //! `WebhookBreaker`s in each state and a fixed `now`.

    use corral_api::resource::all_resources;
    use serde_json::json;

    use crate::{IncludeObject, PrintOptions, print_value_table};

    fn breakers() -> &'static corral_api::ResourceInfo {
        all_resources()
            .iter()
            .find(|r| r.group == "corral.dev" && r.resource == "webhookbreakers")
            .unwrap()
    }

    fn breaker(name: &str, status: serde_json::Value) -> serde_json::Value {
        json!({
            "apiVersion": "corral.dev/v1alpha1", "kind": "WebhookBreaker",
            "metadata": {"name": name, "creationTimestamp": "2025-12-29T00:00:00Z"},
            "status": status,
        })
    }

    #[test]
    fn breakers_print_state_failures_opened_next_probe_and_age() {
        let now: jiff::Timestamp = "2026-01-01T00:02:42Z".parse().unwrap();
        let open = breaker(
            "snowball.slow.example.com",
            json!({"state": "Open", "failurePolicy": "Ignore", "consecutiveFailures": 0,
                "openedAt": "2026-01-01T00:02:30Z", "nextProbeAt": "2026-01-01T00:03:00Z",
                "trips": 1, "refusedCalls": 40, "lastError": "context deadline exceeded"}),
        );
        let closed = breaker(
            "checks.fast.example.com",
            json!({"state": "Closed", "failurePolicy": "Fail", "consecutiveFailures": 2, "trips": 0, "refusedCalls": 0}),
        );
        let probing = breaker(
            "c.probing.example.com",
            json!({"state": "HalfOpen", "failurePolicy": "Fail", "openedAt": "2026-01-01T00:00:00Z",
                "nextProbeAt": "2026-01-01T00:01:00Z", "probesInFlight": 1, "trips": 3}),
        );
        let due = breaker(
            "c.due.example.com",
            json!({"state": "HalfOpen", "openedAt": "2026-01-01T00:00:00Z", "nextProbeAt": "2026-01-01T00:01:00Z"}),
        );
        let options = PrintOptions {
            now,
            include_object: IncludeObject::None,
        };
        let table = print_value_table(breakers(), &[open, closed, probing, due], &options);
        let cells: Vec<Vec<String>> = table
            .rows
            .iter()
            .map(|r| {
                r.cells
                    .iter()
                    .map(|c| c.as_str().map_or_else(|| c.to_string(), String::from))
                    .collect()
            })
            .collect();
        assert_eq!(
            cells[0],
            [
                "snowball.slow.example.com",
                "Open",
                "0",
                "12s",
                "18s",
                "3d",
                "Ignore",
                "1",
                "40",
                "context deadline exceeded"
            ]
        );
        assert_eq!(
            cells[1],
            [
                "checks.fast.example.com",
                "Closed",
                "2",
                "<none>",
                "<none>",
                "3d",
                "Fail",
                "0",
                "0",
                "<none>"
            ]
        );
        assert_eq!(cells[2][1..5], ["HalfOpen", "0", "2m42s", "probing"]);
        assert_eq!(cells[3][4], "due");
        let names: Vec<&str> = table
            .column_definitions
            .iter()
            .filter(|c| c.priority == 0)
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["Name", "State", "Failures", "Opened", "Next Probe", "Age"]
        );
        assert_eq!(table.column_definitions.len(), 10);
    }
}
