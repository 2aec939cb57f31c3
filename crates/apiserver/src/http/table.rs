//! `meta.k8s.io/v1` Table responses (`kubectl get`): lists, single objects and watch
//! events, through corral-printers. The Table's `resourceVersion` is the list's, because
//! `kubectl get -w` starts its watch from it.

use corral_api::meta_types::Table;
use corral_api::{ApiError, KubeObject, ResourceInfo, Revision};
use corral_printers::{IncludeObject, PrintOptions, print_table, print_value_table};
use jiff::Timestamp;
use serde_json::Value;

use crate::service::{ListResult, ServedObject};

fn options(now: Timestamp, include_object: IncludeObject) -> PrintOptions {
    PrintOptions {
        now,
        include_object,
    }
}

fn encode(table: &Table) -> Vec<u8> {
    serde_json::to_vec(table).unwrap_or_default()
}

/// A list page as a Table.
pub fn list_table(
    list: &ListResult,
    include: IncludeObject,
    now: Timestamp,
) -> Result<Vec<u8>, ApiError> {
    let objects = list.objects()?;
    let refs: Vec<&KubeObject> = objects.iter().map(|o| o.as_ref()).collect();
    let mut table = print_table(list.resource, &refs, &options(now, include));
    table.metadata.resource_version = Some(list.revision.to_string());
    table.metadata.continue_ = list.continue_token.clone();
    table.metadata.remaining_item_count = list
        .remaining_item_count
        .and_then(|c| i64::try_from(c).ok());
    Ok(encode(&table))
}

/// One object as a one-row Table; `None` for computed values (answered as JSON).
pub fn object_table(
    served: &ServedObject,
    include: IncludeObject,
    now: Timestamp,
    with_columns: bool,
) -> Result<Option<Table>, ApiError> {
    let Some(object) = served.object()? else {
        return Ok(None);
    };
    let mut table = print_table(served.resource, &[object.as_ref()], &options(now, include));
    table.metadata.resource_version = object.meta().resource_version.clone();
    if !with_columns {
        table.column_definitions.clear();
    }
    Ok(Some(table))
}

/// An object table, encoded.
pub fn object_table_bytes(
    served: &ServedObject,
    include: IncludeObject,
    now: Timestamp,
) -> Result<Option<Vec<u8>>, ApiError> {
    Ok(object_table(served, include, now, true)?.map(|t| encode(&t)))
}

/// An empty Table of a resource (a list with no rows).
pub fn empty_table(resource: &ResourceInfo, revision: Revision) -> Vec<u8> {
    let mut table = print_table(
        resource,
        &[],
        &options(Timestamp::UNIX_EPOCH, IncludeObject::None),
    );
    table.metadata.resource_version = Some(revision.to_string());
    encode(&table)
}

/// A Table of computed objects (`holdings`, `webhookbreakers`).
pub fn computed_table(
    resource: &'static ResourceInfo,
    objects: &[Value],
    revision: Option<Revision>,
    include: IncludeObject,
    now: Timestamp,
) -> Vec<u8> {
    let mut table = print_value_table(resource, objects, &options(now, include));
    table.metadata.resource_version = revision.map(|r| r.to_string());
    encode(&table)
}
