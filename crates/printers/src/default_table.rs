//! Upstream's default table (`defaultTableConvertor.ConvertToTable` in
//! `staging/src/k8s.io/apiserver/pkg/registry/rest/table.go`), used for every resource
//! without a printer: `Name` and `Created At` (a `date` column whose cell is the creation
//! time in RFC 3339; kubectl shows `NAME CREATED AT`).

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::descriptions;
use crate::format;
use crate::table::{Cells, Column, NAME, Printer};

const COLUMNS: &[Column] = &[
    NAME,
    Column::typed(
        "Created At",
        "date",
        descriptions::OBJECT_META_CREATION_TIMESTAMP,
    ),
];

pub(crate) const PRINTER: Printer = Printer {
    columns: COLUMNS,
    cells: default_cells,
};

/// `[]interface{}{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}`.
fn default_cells(object: &KubeObject, _now: Timestamp) -> Option<Cells> {
    Some(cells(object.meta()))
}

/// The default row of any object's metadata (also for computed objects served as JSON).
pub(crate) fn cells(meta: &ObjectMeta) -> Cells {
    Cells::new(vec![
        format::name(meta),
        format::string(format::rfc3339(meta.creation_timestamp.as_ref())),
    ])
}
