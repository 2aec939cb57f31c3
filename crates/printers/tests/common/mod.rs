//! Shared helpers for the golden tests: a fixed `now`, objects written as JSON, and rows
//! printed through the public API exactly as the API server will call it.

#![allow(dead_code)]

use corral_api::resource::all_resources;
use corral_api::{KubeObject, ResourceInfo, ResourceKind};
use corral_printers::{IncludeObject, PrintOptions, print_row};
use jiff::{SignedDuration, Timestamp};
use serde_json::Value;

/// The instant every test measures ages from.
pub const NOW: &str = "2024-06-01T12:00:00Z";

pub fn now() -> Timestamp {
    NOW.parse().unwrap()
}

/// `now − seconds`, as the RFC 3339 string an object would carry.
pub fn ago(seconds: i64) -> String {
    (now() - SignedDuration::from_secs(seconds)).to_string()
}

pub fn options() -> PrintOptions {
    PrintOptions {
        now: now(),
        include_object: IncludeObject::None,
    }
}

pub fn resource(group: &str, plural: &str) -> &'static ResourceInfo {
    all_resources()
        .iter()
        .find(|r| r.group == group && r.resource == plural)
        .unwrap_or_else(|| panic!("no resource {group}/{plural}"))
}

pub fn object(kind: ResourceKind, json: Value) -> KubeObject {
    KubeObject::from_value(kind, json).unwrap_or_else(|e| panic!("bad test object: {e}"))
}

/// The row's cells of `object` printed as `group/resource`.
pub fn cells(group: &str, plural: &str, object: &KubeObject) -> Vec<Value> {
    print_row(resource(group, plural), object, &options()).cells
}

/// String cells as `&str`, integers as their decimal text: compact golden comparisons.
pub fn texts(cells: &[Value]) -> Vec<String> {
    cells
        .iter()
        .map(|c| match c {
            Value::String(s) => s.clone(),
            other => format!("#{other}"),
        })
        .collect()
}

/// Column headers as kubectl prints them: upper-cased names, priority-0 first line, wide
/// (priority-1) second line.
pub fn headers(group: &str, plural: &str) -> (String, String) {
    let columns = corral_printers::column_definitions(resource(group, plural));
    let line = |priority: i32| {
        columns
            .iter()
            .filter(|c| c.priority == priority)
            .map(|c| c.name.to_uppercase())
            .collect::<Vec<_>>()
            .join(" ")
    };
    (line(0), line(1))
}
