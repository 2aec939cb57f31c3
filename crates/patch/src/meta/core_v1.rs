//! Patch metadata of `meta/v1` ObjectMeta and the `core/v1` types reachable from the
//! kinds Corral serves, transcribed from the `patchStrategy`/`patchMergeKey` tags in
//! `staging/src/k8s.io/api/core/v1/types.go` and `apimachinery/pkg/apis/meta/v1/types.go`.
//!
//! Only tagged fields and the struct fields leading to them appear. Lists that are
//! `+listType=atomic` without a strategy (tolerations, taints, command, args, envFrom,
//! resizePolicy, nodeSelectorTerms, readinessGates, images, ...) are deliberately absent:
//! absence means "replace wholesale".

use super::{FieldDesc, TypeDesc};

/// `meta/v1 ObjectMeta`: finalizers merge as a set, ownerReferences by uid.
pub static OBJECT_META: TypeDesc = TypeDesc::new(
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    &[
        FieldDesc::merge_set("finalizers"),
        FieldDesc::merge_list("ownerReferences", "uid", None),
    ],
);

/// The fields `Container` and `EphemeralContainer` share (`EphemeralContainerCommon`).
static CONTAINER_FIELDS: [FieldDesc; 4] = [
    FieldDesc::merge_list("ports", "containerPort", None),
    FieldDesc::merge_list("env", "name", None),
    FieldDesc::merge_list("volumeMounts", "mountPath", None),
    FieldDesc::merge_list("volumeDevices", "devicePath", None),
];

pub static CONTAINER: TypeDesc = TypeDesc::new("io.k8s.api.core.v1.Container", &CONTAINER_FIELDS);

pub static EPHEMERAL_CONTAINER: TypeDesc =
    TypeDesc::new("io.k8s.api.core.v1.EphemeralContainer", &CONTAINER_FIELDS);

pub static POD_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.PodSpec",
    &[
        FieldDesc::merge_retain_list("volumes", "name", None),
        FieldDesc::merge_list("initContainers", "name", Some(&CONTAINER)),
        FieldDesc::merge_list("containers", "name", Some(&CONTAINER)),
        FieldDesc::merge_list("ephemeralContainers", "name", Some(&EPHEMERAL_CONTAINER)),
        FieldDesc::merge_list("imagePullSecrets", "name", None),
        FieldDesc::merge_list("hostAliases", "ip", None),
        // Upstream's list-map key is (topologyKey, whenUnsatisfiable), but the patch
        // merge key is topologyKey alone.
        FieldDesc::merge_list("topologySpreadConstraints", "topologyKey", None),
        FieldDesc::merge_list("schedulingGates", "name", None),
        FieldDesc::merge_retain_list("resourceClaims", "name", None),
    ],
);

/// `ContainerStatus`: the statuses list itself is atomic, so this only matters for the
/// OpenAPI extensions (`allocatedResourcesStatus`, Kubernetes 1.31+).
pub static CONTAINER_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.ContainerStatus",
    &[FieldDesc::merge_list(
        "allocatedResourcesStatus",
        "name",
        None,
    )],
);

pub static POD_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.PodStatus",
    &[
        FieldDesc::merge_list("conditions", "type", None),
        FieldDesc::merge_list("hostIPs", "ip", None),
        FieldDesc::merge_list("podIPs", "ip", None),
        FieldDesc::merge_retain_list("resourceClaimStatuses", "name", None),
        FieldDesc::atomic_list("initContainerStatuses", &CONTAINER_STATUS),
        FieldDesc::atomic_list("containerStatuses", &CONTAINER_STATUS),
        FieldDesc::atomic_list("ephemeralContainerStatuses", &CONTAINER_STATUS),
    ],
);

pub static POD: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.Pod",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &POD_SPEC),
        FieldDesc::nested("status", &POD_STATUS),
    ],
);

pub static POD_TEMPLATE_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.PodTemplateSpec",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &POD_SPEC),
    ],
);

pub static NODE_SPEC: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.NodeSpec",
    &[FieldDesc::merge_set("podCIDRs")],
);

pub static NODE_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.NodeStatus",
    &[
        FieldDesc::merge_list("conditions", "type", None),
        // Upstream warns the key is not unique enough; it is still the declared key.
        FieldDesc::merge_list("addresses", "type", None),
    ],
);

pub static NODE: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.Node",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("spec", &NODE_SPEC),
        FieldDesc::nested("status", &NODE_STATUS),
    ],
);

pub static NAMESPACE_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.NamespaceStatus",
    &[FieldDesc::merge_list("conditions", "type", None)],
);

pub static NAMESPACE: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.Namespace",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("status", &NAMESPACE_STATUS),
    ],
);

pub static SERVICE_ACCOUNT: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.ServiceAccount",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::merge_list("secrets", "name", None),
    ],
);

pub static PVC_STATUS: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.PersistentVolumeClaimStatus",
    &[FieldDesc::merge_list("conditions", "type", None)],
);

pub static PERSISTENT_VOLUME_CLAIM: TypeDesc = TypeDesc::new(
    "io.k8s.api.core.v1.PersistentVolumeClaim",
    &[
        FieldDesc::nested("metadata", &OBJECT_META),
        FieldDesc::nested("status", &PVC_STATUS),
    ],
);

/// Kinds whose only tagged fields are in ObjectMeta.
pub(super) static METADATA_ONLY: [FieldDesc; 1] = [FieldDesc::nested("metadata", &OBJECT_META)];

pub static PERSISTENT_VOLUME: TypeDesc =
    TypeDesc::new("io.k8s.api.core.v1.PersistentVolume", &METADATA_ONLY);
pub static RESOURCE_QUOTA: TypeDesc =
    TypeDesc::new("io.k8s.api.core.v1.ResourceQuota", &METADATA_ONLY);
pub static LIMIT_RANGE: TypeDesc = TypeDesc::new("io.k8s.api.core.v1.LimitRange", &METADATA_ONLY);
pub static CONFIG_MAP: TypeDesc = TypeDesc::new("io.k8s.api.core.v1.ConfigMap", &METADATA_ONLY);
pub static SECRET: TypeDesc = TypeDesc::new("io.k8s.api.core.v1.Secret", &METADATA_ONLY);
pub static EVENT: TypeDesc = TypeDesc::new("io.k8s.api.core.v1.Event", &METADATA_ONLY);
