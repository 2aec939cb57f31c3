//! PersistentVolumeClaims and PersistentVolumes: upstream `printPersistentVolumeClaim` and
//! `printPersistentVolume` (`pkg/printers/internalversion/printers.go`), with the helpers
//! they call from `pkg/apis/core/helper`.

use corral_api::KubeObject;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::descriptions as doc;
use crate::format::{self, string};
use crate::table::{AGE, Cells, Column, NAME, Printer};

/// `core.BetaStorageClassAnnotation`: still read before `storageClassName`.
const BETA_STORAGE_CLASS_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

const PVC_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Status", doc::PVC_STATUS_PHASE),
    Column::string("Volume", doc::PVC_SPEC_VOLUME_NAME),
    Column::string("Capacity", doc::PVC_STATUS_CAPACITY),
    Column::string("Access Modes", doc::PVC_STATUS_ACCESS_MODES),
    Column::string("StorageClass", "StorageClass of the pvc"),
    Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pvc"),
    AGE,
    Column::string("VolumeMode", doc::PVC_SPEC_VOLUME_MODE).wide(),
];

pub(crate) const PVC_PRINTER: Printer = Printer {
    columns: PVC_COLUMNS,
    cells: pvc_cells,
};

/// Upstream `printPersistentVolumeClaim`: capacity and access modes only once the claim
/// names a volume.
fn pvc_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let pvc = object.as_typed::<PersistentVolumeClaim>()?;
    let spec = pvc.spec.as_ref();
    let status = pvc.status.as_ref();
    let volume_name = format::text(spec.and_then(|s| s.volume_name.as_ref()));
    let (capacity, access_modes) = if volume_name.is_empty() {
        (String::new(), String::new())
    } else {
        let storage = status
            .and_then(|s| s.capacity.as_ref())
            .and_then(|c| c.get("storage"));
        let modes = status
            .and_then(|s| s.access_modes.as_deref())
            .unwrap_or_default();
        (format::quantity(storage), access_modes_string(modes))
    };
    let class = beta_storage_class(&pvc.metadata)
        .or_else(|| spec.and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or("");
    Some(Cells::new(vec![
        format::name(&pvc.metadata),
        string(phase(&pvc.metadata, status.and_then(|s| s.phase.as_ref()))),
        string(volume_name),
        string(capacity),
        string(access_modes),
        string(class),
        string(unset(
            spec.and_then(|s| s.volume_attributes_class_name.as_deref()),
        )),
        format::age(&pvc.metadata, now),
        string(unset(spec.and_then(|s| s.volume_mode.as_deref()))),
    ]))
}

const PV_COLUMNS: &[Column] = &[
    NAME,
    Column::string("Capacity", doc::PV_SPEC_CAPACITY),
    Column::string("Access Modes", doc::PV_SPEC_ACCESS_MODES),
    Column::string("Reclaim Policy", doc::PV_SPEC_RECLAIM_POLICY),
    Column::string("Status", doc::PV_STATUS_PHASE),
    Column::string("Claim", doc::PV_SPEC_CLAIM_REF),
    Column::string("StorageClass", "StorageClass of the pv"),
    Column::string("VolumeAttributesClass", "VolumeAttributesClass of the pv"),
    Column::string("Reason", doc::PV_STATUS_REASON),
    AGE,
    Column::string("VolumeMode", doc::PV_SPEC_VOLUME_MODE).wide(),
];

pub(crate) const PV_PRINTER: Printer = Printer {
    columns: PV_COLUMNS,
    cells: pv_cells,
};

/// Upstream `printPersistentVolume`.
fn pv_cells(object: &KubeObject, now: Timestamp) -> Option<Cells> {
    let pv = object.as_typed::<PersistentVolume>()?;
    let spec = pv.spec.as_ref();
    let status = pv.status.as_ref();
    let claim = spec
        .and_then(|s| s.claim_ref.as_ref())
        .map(|c| {
            format!(
                "{}/{}",
                format::text(c.namespace.as_ref()),
                format::text(c.name.as_ref())
            )
        })
        .unwrap_or_default();
    let storage = spec
        .and_then(|s| s.capacity.as_ref())
        .and_then(|c| c.get("storage"));
    let modes = spec
        .and_then(|s| s.access_modes.as_deref())
        .unwrap_or_default();
    let class = beta_storage_class(&pv.metadata)
        .or_else(|| spec.and_then(|s| s.storage_class_name.as_deref()))
        .unwrap_or("");
    Some(Cells::new(vec![
        format::name(&pv.metadata),
        string(format::quantity(storage)),
        string(access_modes_string(modes)),
        string(format::text(
            spec.and_then(|s| s.persistent_volume_reclaim_policy.as_ref()),
        )),
        string(phase(&pv.metadata, status.and_then(|s| s.phase.as_ref()))),
        string(claim),
        string(class),
        string(unset(
            spec.and_then(|s| s.volume_attributes_class_name.as_deref()),
        )),
        string(format::text(status.and_then(|s| s.reason.as_ref()))),
        format::age(&pv.metadata, now),
        string(unset(spec.and_then(|s| s.volume_mode.as_deref()))),
    ]))
}

/// The phase, or `Terminating` once deletion has started.
fn phase(meta: &ObjectMeta, phase: Option<&String>) -> String {
    if meta.deletion_timestamp.is_some() {
        "Terminating".into()
    } else {
        format::text(phase).into()
    }
}

/// `GetPersistentVolumeClass`/`GetPersistentVolumeClaimClass`: the beta annotation wins.
fn beta_storage_class(meta: &ObjectMeta) -> Option<&str> {
    meta.annotations
        .as_ref()
        .and_then(|a| a.get(BETA_STORAGE_CLASS_ANNOTATION))
        .map(String::as_str)
}

/// Upstream `helper.GetAccessModesAsString`: `RWO,ROX,RWX,RWOP`, in that order, each once.
fn access_modes_string(modes: &[String]) -> String {
    [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ]
    .iter()
    .filter(|(mode, _)| modes.iter().any(|m| m == mode))
    .map(|(_, short)| *short)
    .collect::<Vec<_>>()
    .join(",")
}

/// An optional class or mode: the value, or `<unset>`.
fn unset(value: Option<&str>) -> String {
    value.unwrap_or("<unset>").to_string()
}
