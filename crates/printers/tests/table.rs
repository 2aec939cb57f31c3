//! Goal: rows and tables carry what kubectl reads besides cells: the `includeObject`
//! policy (PartialObjectMetadata with the full metadata, the whole object, or nothing), one
//! row per object in order, and the column definitions.
//!
//! Method: print a few objects through `print_row` and `print_table` under each policy and
//! check the JSON that the API server will send.

mod common;

use common::{ago, object};
use corral_api::ResourceKind;
use corral_printers::{IncludeObject, PrintOptions, print_row, print_table, row_object};
use serde_json::json;

fn job() -> corral_api::KubeObject {
    object(
        ResourceKind::Job,
        json!({"metadata": {"name": "hello", "namespace": "team-a", "uid": "u-1", "resourceVersion": "42",
                "labels": {"app": "hello"}, "annotations": {"note": "x"}, "creationTimestamp": ago(12),
                "ownerReferences": [{"apiVersion": "batch/v1", "kind": "CronJob", "name": "cj", "uid": "u-0", "controller": true}]},
               "spec": {"template": {"spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]}}},
               "status": {"succeeded": 1, "startTime": ago(10), "completionTime": ago(5),
                          "conditions": [{"type": "Complete", "status": "True"}]}}),
    )
}

fn options(include_object: IncludeObject) -> PrintOptions {
    PrintOptions {
        now: common::now(),
        include_object,
    }
}

#[test]
fn metadata_policy_embeds_partial_object_metadata_with_the_full_metadata() {
    let row = print_row(
        common::resource("batch", "jobs"),
        &job(),
        &options(IncludeObject::Metadata),
    );
    let embedded = row.object.unwrap();
    assert_eq!(embedded["kind"], "PartialObjectMetadata");
    assert_eq!(embedded["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(embedded["metadata"], job().to_value()["metadata"]);
    assert_eq!(embedded["metadata"]["namespace"], "team-a");
    assert!(embedded.get("spec").is_none());
}

#[test]
fn object_policy_embeds_the_whole_object_and_none_embeds_nothing() {
    let jobs = common::resource("batch", "jobs");
    let full = print_row(jobs, &job(), &options(IncludeObject::Object))
        .object
        .unwrap();
    assert_eq!(full, job().to_value());
    assert_eq!(
        (full["kind"].as_str(), full["apiVersion"].as_str()),
        (Some("Job"), Some("batch/v1"))
    );
    let row = print_row(jobs, &job(), &options(IncludeObject::None));
    assert!(row.object.is_none());
    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(
        json,
        json!({"cells": ["hello", "Complete", "1/1", "5s", "12s", "main", "busybox:1.36", "<none>"]})
    );
}

#[test]
fn tables_hold_one_row_per_object_in_order() {
    let second = object(
        ResourceKind::Job,
        json!({"metadata": {"name": "bye"}, "spec": {"template": {}}}),
    );
    let first = job();
    let table = print_table(
        common::resource("batch", "jobs"),
        &[&first, &second],
        &options(IncludeObject::Metadata),
    );
    assert_eq!(
        (table.kind.as_str(), table.api_version.as_str()),
        ("Table", "meta.k8s.io/v1")
    );
    assert_eq!(table.column_definitions.len(), 8);
    let names: Vec<_> = table.rows.iter().map(|r| r.cells[0].clone()).collect();
    assert_eq!(names, [json!("hello"), json!("bye")]);
    let json = serde_json::to_value(&table).unwrap();
    assert_eq!(json["columnDefinitions"][0]["format"], "name");
    assert_eq!(json["rows"][1]["object"]["metadata"]["name"], "bye");
    let empty = print_table(
        common::resource("", "pods"),
        &[],
        &options(IncludeObject::Metadata),
    );
    assert!(empty.rows.is_empty() && empty.column_definitions.len() == 9);
}

#[test]
fn include_object_parses_the_query_parameter() {
    assert_eq!(IncludeObject::default(), IncludeObject::Metadata);
    assert_eq!(IncludeObject::parse(""), Some(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::parse("Metadata"),
        Some(IncludeObject::Metadata)
    );
    assert_eq!(IncludeObject::parse("Object"), Some(IncludeObject::Object));
    assert_eq!(IncludeObject::parse("None"), Some(IncludeObject::None));
    assert_eq!(IncludeObject::parse("object"), None);
}

#[test]
fn row_object_serves_printers_of_non_stored_objects() {
    let meta = job().meta().clone();
    assert!(row_object(&meta, IncludeObject::None, || json!({})).is_none());
    assert_eq!(
        row_object(&meta, IncludeObject::Object, || json!({"kind": "Holding"})),
        Some(json!({"kind": "Holding"}))
    );
    assert_eq!(
        row_object(&meta, IncludeObject::Metadata, || json!({})).unwrap()["metadata"]["uid"],
        "u-1"
    );
}
