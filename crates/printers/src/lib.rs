//! L1: server-side Table printers with upstream's columns.
//!
//! `kubectl get` asks the server for `as=Table` and prints whatever columns and cells come
//! back, so the printers decide what users see. This crate ports upstream's printers
//! (`pkg/printers/internalversion/printers.go`, Kubernetes 1.32) for every kind Corral
//! stores, and upstream's default table (`apiserver/pkg/registry/rest/table.go`: `Name`,
//! `Created At`) for the rest.
//!
//! Like the upstream server (`pkg/printers/storage/storage.go` converts with `Wide: true`),
//! rows always carry every cell, `-o wide` ones included; kubectl hides priority-1 columns
//! itself.
//!
//! Pure: no clock (`now` comes in [`PrintOptions`]), no I/O, no panics on odd objects.
//!
//! Adding a printer is one function and one match arm: write `fn foo_cells(&KubeObject,
//! Timestamp) -> Option<Cells>` next to a `const` column list in a module, bundle them as a
//! [`Printer`], and return it from [`printer_for`].
//!
//! Computed resources that are not [`KubeObject`]s (Corral's `holdings` and
//! `webhookbreakers`) are printed from the JSON they are served as: [`print_value_table`] /
//! [`print_value_row`].

mod batch;
mod default_table;
mod descriptions;
mod duration;
mod events;
mod format;
mod holdings;
mod misc;
mod nodes;
mod pods;
mod rbac;
mod storage;
mod table;
mod webhook_breakers;

use corral_api::meta_types::{PartialObjectMetadata, Table, TableColumnDefinition, TableRow};
use corral_api::{Backing, KubeObject, ResourceInfo, ResourceKind};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde_json::Value;

pub use duration::{human_duration, short_human_duration};
pub use format::format_label_selector;
pub use table::{AGE, Cells, CellsFn, Column, NAME, Printer};

/// The `includeObject` query parameter: what each row's `object` carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IncludeObject {
    /// No object.
    None,
    /// `PartialObjectMetadata` with the full `metadata` (the default; kubectl needs it for
    /// `-A`, `--show-labels` and `-L`).
    #[default]
    Metadata,
    /// The whole object (kubectl asks for it with `--sort-by`).
    Object,
}

impl IncludeObject {
    /// Parses the query parameter's value; empty means the default. `None` for anything
    /// else (upstream answers 400).
    pub fn parse(value: &str) -> Option<IncludeObject> {
        match value {
            "" | "Metadata" => Some(IncludeObject::Metadata),
            "None" => Some(IncludeObject::None),
            "Object" => Some(IncludeObject::Object),
            _ => None,
        }
    }
}

/// Everything a printer needs besides the object.
#[derive(Clone, Copy, Debug)]
pub struct PrintOptions {
    /// The instant ages are measured from.
    pub now: jiff::Timestamp,
    pub include_object: IncludeObject,
}

/// The printer of a served resource.
///
/// Stored kinds match exhaustively, so a new kind must choose a printer; resources without
/// an upstream printer get upstream's default table.
pub fn printer_for(resource: &ResourceInfo) -> Printer {
    match resource.backing {
        Backing::Stored(kind) => stored_printer(kind),
        // Upstream prints events.k8s.io/v1 Events with the core Event printer.
        Backing::EventsV1View => events::PRINTER,
        Backing::Virtual => virtual_printer(resource),
    }
}

/// Printers of computed resources, by group and plural name. Corral's own resources get
/// theirs above the default arm.
fn virtual_printer(resource: &ResourceInfo) -> Printer {
    match (resource.group, resource.resource) {
        (corral_api::resource::CORRAL_GROUP, "holdings") => holdings::PRINTER,
        (corral_api::resource::CORRAL_GROUP, "webhookbreakers") => webhook_breakers::PRINTER,
        _ => default_table::PRINTER,
    }
}

/// One row of a resource from the JSON object it serves (e.g. an item of a `HoldingList`):
/// computed resources get their printer's cells (upstream's default `Name`/`Created At`
/// cells when they have none); stored kinds are decoded and printed as [`print_row`] does.
/// `includeObject=Object` embeds `object` itself.
pub fn print_value_row(
    resource: &ResourceInfo,
    object: &Value,
    options: &PrintOptions,
) -> TableRow {
    if let Some(kind) = resource.stored_kind()
        && let Ok(typed) = KubeObject::from_value(kind, object.clone())
    {
        return print_row(resource, &typed, options);
    }
    let meta: ObjectMeta = object
        .get("metadata")
        .and_then(|m| serde_json::from_value(m.clone()).ok())
        .unwrap_or_default();
    let printer = printer_for(resource);
    let cells = match (resource.backing, resource.group, resource.resource) {
        (Backing::Virtual, corral_api::resource::CORRAL_GROUP, "holdings") => {
            holdings::holding_cells(object, &meta, options.now)
        }
        (Backing::Virtual, corral_api::resource::CORRAL_GROUP, "webhookbreakers") => {
            webhook_breakers::breaker_cells(object, &meta, options.now)
        }
        (Backing::Virtual, _, _) => Some(default_table::cells(&meta)),
        _ => None,
    }
    .unwrap_or_else(|| placeholder_cells(printer.columns, &meta));
    TableRow {
        cells: cells.cells,
        conditions: cells.conditions,
        object: row_object(&meta, options.include_object, || object.clone()),
    }
}

/// A Table of a computed resource's JSON objects, in the given order. The caller sets
/// `metadata`, as with [`print_table`].
pub fn print_value_table(
    resource: &ResourceInfo,
    objects: &[Value],
    options: &PrintOptions,
) -> Table {
    let rows = objects
        .iter()
        .map(|object| print_value_row(resource, object, options))
        .collect();
    Table::new(column_definitions(resource), rows)
}

fn stored_printer(kind: ResourceKind) -> Printer {
    match kind {
        ResourceKind::Pod => pods::PRINTER,
        ResourceKind::Node => nodes::PRINTER,
        ResourceKind::Event => events::PRINTER,
        ResourceKind::Job => batch::JOB_PRINTER,
        ResourceKind::CronJob => batch::CRON_JOB_PRINTER,
        ResourceKind::Namespace => misc::NAMESPACE_PRINTER,
        ResourceKind::ServiceAccount => misc::SERVICE_ACCOUNT_PRINTER,
        ResourceKind::ResourceQuota => misc::RESOURCE_QUOTA_PRINTER,
        ResourceKind::ConfigMap => misc::CONFIG_MAP_PRINTER,
        ResourceKind::Secret => misc::SECRET_PRINTER,
        ResourceKind::Lease => misc::LEASE_PRINTER,
        ResourceKind::PodDisruptionBudget => misc::POD_DISRUPTION_BUDGET_PRINTER,
        ResourceKind::MutatingWebhookConfiguration => misc::MUTATING_WEBHOOK_PRINTER,
        ResourceKind::ValidatingWebhookConfiguration => misc::VALIDATING_WEBHOOK_PRINTER,
        ResourceKind::PersistentVolumeClaim => storage::PVC_PRINTER,
        ResourceKind::PersistentVolume => storage::PV_PRINTER,
        ResourceKind::RoleBinding => rbac::ROLE_BINDING_PRINTER,
        ResourceKind::ClusterRoleBinding => rbac::CLUSTER_ROLE_BINDING_PRINTER,
        // Upstream registers no printer for these: `kubectl get` shows NAME CREATED AT.
        ResourceKind::LimitRange | ResourceKind::Role | ResourceKind::ClusterRole => {
            default_table::PRINTER
        }
    }
}

/// Every column of the resource's table, priority-1 (`-o wide`) ones included.
pub fn column_definitions(resource: &ResourceInfo) -> Vec<TableColumnDefinition> {
    printer_for(resource)
        .columns
        .iter()
        .map(Column::definition)
        .collect()
}

/// One row: all cells (wide included), row conditions, and the object `includeObject` asks
/// for.
pub fn print_row(resource: &ResourceInfo, object: &KubeObject, options: &PrintOptions) -> TableRow {
    let printer = printer_for(resource);
    let Cells { cells, conditions } = (printer.cells)(object, options.now)
        .unwrap_or_else(|| placeholder_cells(printer.columns, object.meta()));
    let object_value = row_object(object.meta(), options.include_object, || {
        full_object(resource, object)
    });
    TableRow {
        cells,
        conditions,
        object: object_value,
    }
}

/// A Table of the objects, in the given order. The caller sets `metadata` (the list's
/// `resourceVersion` and `continue`).
pub fn print_table(
    resource: &ResourceInfo,
    objects: &[&KubeObject],
    options: &PrintOptions,
) -> Table {
    let rows = objects
        .iter()
        .map(|object| print_row(resource, object, options))
        .collect();
    Table::new(column_definitions(resource), rows)
}

/// A row's `object` for an `includeObject` policy: nothing, `PartialObjectMetadata` with
/// the full metadata, or `full_object()`. Public for printers of objects that are not
/// [`KubeObject`]s.
pub fn row_object(
    meta: &ObjectMeta,
    include: IncludeObject,
    full_object: impl FnOnce() -> Value,
) -> Option<Value> {
    match include {
        IncludeObject::None => None,
        IncludeObject::Metadata => {
            let partial = PartialObjectMetadata::new(meta.clone());
            Some(serde_json::to_value(partial).unwrap_or(Value::Null))
        }
        IncludeObject::Object => Some(full_object()),
    }
}

/// The object as the resource serves it (with `kind` and `apiVersion`).
fn full_object(resource: &ResourceInfo, object: &KubeObject) -> Value {
    match (resource.backing, object) {
        (Backing::EventsV1View, KubeObject::Event(event)) => events::events_v1_value(event),
        _ => object.to_value(),
    }
}

/// Cells for an object the printer cannot read (the wrong kind): the name in name-format
/// columns and `<unknown>` elsewhere, so the row still has one cell per column.
fn placeholder_cells(columns: &[Column], meta: &ObjectMeta) -> Cells {
    let cells = columns
        .iter()
        .map(|column| match column.format {
            "name" => format::name(meta),
            _ => format::string("<unknown>"),
        })
        .collect();
    Cells::new(cells)
}
