//! Corral's `holdings` (`corral.dev/v1alpha1`, guard 6 in `docs/guards.md`): per Job, the
//! pods that hold node resources without running. `kubectl get holdings -A` prints
//!
//! ```text
//! NAMESPACE   NAME        PODS   CPU    MEMORY   STATE              SINCE
//! team-a      nightly-1   2      1      2Gi      ImagePullBackOff   12m
//! ```
//!
//! (kubectl adds NAMESPACE for `-A`; `-o wide` adds OWNER and NODES).
//!
//! Holdings are computed, never stored, so they are not [`KubeObject`]s: rows come from the
//! served JSON through [`crate::print_value_table`] (the way upstream prints custom
//! resources from their JSON). The [`PRINTER`] entry gives the columns to
//! `column_definitions` and the row function for the served value.

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde_json::Value;

use crate::duration::human_duration;
use crate::format::{self, string};
use crate::table::{Cells, Column, NAME, Printer};

const COLUMNS: &[Column] = &[
    NAME,
    Column::typed(
        "Pods",
        "integer",
        "Pods of this Job that hold node resources without running.",
    ),
    Column::string("CPU", "The cpu those pods request."),
    Column::string("Memory", "The memory those pods request."),
    Column::string(
        "State",
        "Why the pod held longest is not running (ImagePullBackOff, CrashLoopBackOff, ...).",
    ),
    Column::string(
        "Since",
        "How long the pod held longest has held its node's resources without running.",
    ),
    Column::string(
        "Owner",
        "The Job (or the pod itself, or the namespace for a total).",
    )
    .wide(),
    Column::string("Nodes", "The nodes the held pods are bound to.").wide(),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: stored_object_cells,
};

/// A holding is never a stored object: a `KubeObject` printed as a holding gets the
/// placeholder row.
fn stored_object_cells(_object: &KubeObject, _now: Timestamp) -> Option<Cells> {
    None
}

/// One holding's cells from its JSON; `None` when it has no `metadata`.
pub(crate) fn holding_cells(value: &Value, meta: &ObjectMeta, now: Timestamp) -> Option<Cells> {
    let status = value.get("status").unwrap_or(&Value::Null);
    let text = |v: &Value| v.as_str().unwrap_or("").to_string();
    let pods = status.get("pods").and_then(Value::as_i64).unwrap_or(0);
    let requests = status.get("requests").unwrap_or(&Value::Null);
    let since = status
        .get("since")
        .and_then(|v| serde_json::from_value::<Time>(v.clone()).ok());
    let since = match format::non_zero(since.as_ref()) {
        Some(t) => human_duration(crate::duration::since(now, t)),
        None => "<unknown>".into(),
    };
    let owner = status.get("owner").unwrap_or(&Value::Null);
    let owner = format!(
        "{}/{}",
        text(owner.get("kind").unwrap_or(&Value::Null)),
        text(owner.get("name").unwrap_or(&Value::Null))
    );
    let mut nodes: Vec<String> = status
        .get("heldPods")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|p| p.get("nodeName").and_then(Value::as_str))
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    nodes.sort();
    nodes.dedup();
    let state = text(status.get("state").unwrap_or(&Value::Null));
    Some(Cells::new(vec![
        format::name(meta),
        format::int(pods),
        string(format::or(
            &text(requests.get("cpu").unwrap_or(&Value::Null)),
            "0",
        )),
        string(format::or(
            &text(requests.get("memory").unwrap_or(&Value::Null)),
            "0",
        )),
        string(format::or(&state, "<none>")),
        string(since),
        string(owner),
        string(format::or(&nodes.join(","), "<none>")),
    ]))
}

#[cfg(test)]
mod tests {
    //! Goal: `kubectl get holdings -A` shows the holding's pods, requests, state and age,
    //! from the JSON the API serves. Method: a served `Holding` and a fixed `now`.

    use corral_api::resource::all_resources;
    use serde_json::json;

    use crate::{IncludeObject, PrintOptions, print_value_table};

    fn holdings() -> &'static corral_api::ResourceInfo {
        all_resources()
            .iter()
            .find(|r| r.group == "corral.dev" && r.resource == "holdings")
            .unwrap()
    }

    #[test]
    fn a_holding_prints_its_pods_requests_state_and_since() {
        let now: jiff::Timestamp = "2026-01-01T01:00:00Z".parse().unwrap();
        let holding = json!({
            "apiVersion": "corral.dev/v1alpha1", "kind": "Holding",
            "metadata": {"name": "nightly-1", "namespace": "team-a"},
            "status": {
                "owner": {"kind": "Job", "name": "nightly-1", "uid": "u"},
                "pods": 2, "requests": {"cpu": "1", "memory": "2Gi"},
                "state": "ImagePullBackOff", "since": "2026-01-01T00:48:00Z",
                "heldPods": [{"name": "a", "nodeName": "n2"}, {"name": "b", "nodeName": "n1"}, {"name": "c", "nodeName": "n1"}]
            }
        });
        let total = json!({
            "apiVersion": "corral.dev/v1alpha1", "kind": "Holding",
            "metadata": {"name": "_total", "namespace": "team-a"},
            "status": {"owner": {"kind": "Namespace", "name": "team-a"}, "pods": 3,
                "requests": {"cpu": "1500m", "memory": "3Gi"}, "state": "", "heldPods": []}
        });
        let options = PrintOptions {
            now,
            include_object: IncludeObject::Object,
        };
        let table = print_value_table(holdings(), &[holding.clone(), total], &options);
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
                "nightly-1",
                "2",
                "1",
                "2Gi",
                "ImagePullBackOff",
                "12m",
                "Job/nightly-1",
                "n1,n2"
            ]
        );
        assert_eq!(
            cells[1],
            [
                "_total",
                "3",
                "1500m",
                "3Gi",
                "<none>",
                "<unknown>",
                "Namespace/team-a",
                "<none>"
            ]
        );
        assert_eq!(table.rows[0].object.as_ref(), Some(&holding));
        assert_eq!(table.column_definitions.len(), 8);
    }

    #[test]
    fn other_computed_resources_print_the_default_table_from_json() {
        let reviews = all_resources()
            .iter()
            .find(|r| r.resource == "tokenreviews")
            .unwrap();
        let options = PrintOptions {
            now: jiff::Timestamp::UNIX_EPOCH,
            include_object: IncludeObject::None,
        };
        let table = print_value_table(
            reviews,
            &[json!({"metadata": {"name": "r", "creationTimestamp": "2026-01-01T00:00:00Z"}})],
            &options,
        );
        assert_eq!(
            table.rows[0].cells,
            [json!("r"), json!("2026-01-01T00:00:00Z")]
        );
        assert!(table.rows[0].object.is_none());
    }
}
