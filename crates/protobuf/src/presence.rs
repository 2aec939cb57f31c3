//! Per-field rules for turning a protobuf field into Go's JSON, where the `.proto` files
//! alone are not enough (see [`crate::json`] for the general rules).
//!
//! Every field not listed is [`Policy::OmitEmpty`]: a non-pointer Go field tagged
//! `omitempty`, the common case. The exceptions:
//!
//! * [`Policy::KeepZero`]: a Go **pointer** (`*int32`, `*bool`, `*string`, `*SomeEnum`).
//!   gogo writes it only when non-nil, so a zero on the wire is a deliberate zero
//!   (`backoffLimit: 0`, `suspend: false`) and must survive.
//! * [`Policy::Always`]: a Go field **without `omitempty`** (`containers`, `allowed`,
//!   `name` of a container). Printed even when zero; a list or map that was not on the
//!   wire prints as `null`, as Go prints a nil slice.
//! * [`Policy::Nullable`]: a Go pointer without `omitempty`: `null` when absent.
//! * [`Policy::Inline`]: an embedded Go struct (`json:",inline"`), e.g. `Volume.volumeSource`.
//! * [`Policy::Rename`]: a proto field whose name differs from its JSON name.
//!
//! How the table was derived (and is re-checked by `tests/kubectl_fixtures.rs`): the real
//! kubectl 1.32 and 1.33 were served "kitchen sink" CronJobs whose `jobTemplate` (the whole
//! `JobSpec`/`PodTemplateSpec`/`ObjectMeta` tree, generated from the vendored protos) had
//! every field set to its zero value, and separately every scalar left out
//! (`testdata/kitchen-sink/`). `kubectl create job --from=cronjob/…` copies that tree into
//! a Job; its protobuf body was captured and compared with what the same kubectl prints
//! for the same Go object (`--dry-run=client -o json`). A zero that survives into kubectl's
//! JSON is a pointer or lacks `omitempty`; a field printed although it was left out lacks
//! `omitempty`. Kinds kubectl builds itself (Service, PodDisruptionBudget, …) were checked
//! the same way where kubectl prints them; the rest (reviews, TokenRequest, DeleteOptions,
//! statuses) follow upstream's Go types, cross-checked with the `required` lists of the
//! upstream OpenAPI schema (as shipped in the k8s-openapi crate).

/// How one field's value maps to JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Policy {
    /// Non-pointer `omitempty` field: a zero scalar is omitted.
    OmitEmpty,
    /// Pointer field: emitted whenever it is on the wire, zero or not.
    KeepZero,
    /// Non-pointer field without `omitempty`: always emitted, its zero value (or `null`
    /// for lists, maps and messages) when not on the wire.
    Always,
    /// Pointer field without `omitempty` (`apiGroup *string json:"apiGroup"`): emitted
    /// whenever it is on the wire, `null` when it is not.
    Nullable,
    /// Embedded struct whose fields are flattened into the parent object.
    Inline,
    /// `omitempty` field printed under a different JSON name.
    Rename(&'static str),
}

const CORE: &str = "k8s.io.api.core.v1";

/// The policy for `field` of the message named `message` (full protobuf name).
pub(crate) fn field_policy(message: &str, field: &str) -> Policy {
    let Some((package, simple)) = message.rsplit_once('.') else {
        return Policy::OmitEmpty;
    };
    let table = match package {
        CORE => CORE_FIELDS,
        "k8s.io.api.batch.v1" => BATCH_FIELDS,
        "k8s.io.apimachinery.pkg.apis.meta.v1" => META_FIELDS,
        "k8s.io.api.authorization.v1" => AUTHORIZATION_FIELDS,
        "k8s.io.api.authentication.v1" => AUTHENTICATION_FIELDS,
        "k8s.io.api.policy.v1" => POLICY_FIELDS,
        "k8s.io.api.rbac.v1" => RBAC_FIELDS,
        _ => return Policy::OmitEmpty,
    };
    table
        .binary_search_by(|(m, f, _)| (*m, *f).cmp(&(simple, field)))
        .map_or(Policy::OmitEmpty, |index| table[index].2)
}

use Policy::{Always as A, Inline as I, KeepZero as P, Nullable as N};

/// `(message, field, policy)` for `k8s.io.api.core.v1`, sorted by (message, field).
pub(crate) const CORE_FIELDS: &[(&str, &str, Policy)] = &[
    ("AWSElasticBlockStoreVolumeSource", "volumeID", A),
    ("AppArmorProfile", "localhostProfile", P),
    ("AppArmorProfile", "type", A),
    ("AzureDiskVolumeSource", "cachingMode", P),
    ("AzureDiskVolumeSource", "diskName", A),
    ("AzureDiskVolumeSource", "diskURI", A),
    ("AzureDiskVolumeSource", "fsType", P),
    ("AzureDiskVolumeSource", "kind", P),
    ("AzureDiskVolumeSource", "readOnly", P),
    ("AzureFileVolumeSource", "secretName", A),
    ("AzureFileVolumeSource", "shareName", A),
    ("CSIVolumeSource", "driver", A),
    ("CSIVolumeSource", "fsType", P),
    ("CSIVolumeSource", "readOnly", P),
    ("CephFSVolumeSource", "monitors", A),
    ("CinderVolumeSource", "volumeID", A),
    ("ClientIPConfig", "timeoutSeconds", P),
    ("ClusterTrustBundleProjection", "name", P),
    ("ClusterTrustBundleProjection", "optional", P),
    ("ClusterTrustBundleProjection", "path", A),
    ("ClusterTrustBundleProjection", "signerName", P),
    ("ConfigMap", "immutable", P),
    ("ConfigMapEnvSource", "localObjectReference", I),
    ("ConfigMapEnvSource", "optional", P),
    ("ConfigMapKeySelector", "key", A),
    ("ConfigMapKeySelector", "localObjectReference", I),
    ("ConfigMapKeySelector", "optional", P),
    ("ConfigMapProjection", "localObjectReference", I),
    ("ConfigMapProjection", "optional", P),
    ("ConfigMapVolumeSource", "defaultMode", P),
    ("ConfigMapVolumeSource", "localObjectReference", I),
    ("ConfigMapVolumeSource", "optional", P),
    ("Container", "name", A),
    ("Container", "restartPolicy", P),
    ("ContainerExtendedResourceRequest", "containerName", A),
    ("ContainerExtendedResourceRequest", "requestName", A),
    ("ContainerExtendedResourceRequest", "resourceName", A),
    ("ContainerPort", "containerPort", A),
    ("ContainerResizePolicy", "resourceName", A),
    ("ContainerResizePolicy", "restartPolicy", A),
    ("ContainerRestartRule", "action", A),
    ("ContainerRestartRuleOnExitCodes", "operator", A),
    ("ContainerStateTerminated", "exitCode", A),
    ("ContainerStatus", "image", A),
    ("ContainerStatus", "imageID", A),
    ("ContainerStatus", "name", A),
    ("ContainerStatus", "ready", A),
    ("ContainerStatus", "restartCount", A),
    ("ContainerStatus", "started", P),
    ("ContainerStatus", "stopSignal", P),
    ("DownwardAPIVolumeFile", "mode", P),
    ("DownwardAPIVolumeFile", "path", A),
    ("DownwardAPIVolumeSource", "defaultMode", P),
    ("EnvVar", "name", A),
    ("EphemeralContainer", "ephemeralContainerCommon", I),
    ("EphemeralContainerCommon", "name", A),
    ("EphemeralContainerCommon", "restartPolicy", P),
    ("FCVolumeSource", "lun", P),
    ("FileKeySelector", "key", A),
    ("FileKeySelector", "optional", P),
    ("FileKeySelector", "path", A),
    ("FileKeySelector", "volumeName", A),
    ("FlexVolumeSource", "driver", A),
    ("GCEPersistentDiskVolumeSource", "pdName", A),
    ("GRPCAction", "port", A),
    ("GRPCAction", "service", N),
    ("GitRepoVolumeSource", "repository", A),
    ("GlusterfsVolumeSource", "endpoints", A),
    ("GlusterfsVolumeSource", "path", A),
    ("HTTPHeader", "name", A),
    ("HTTPHeader", "value", A),
    ("HostAlias", "ip", A),
    ("HostIP", "ip", A),
    ("HostPathVolumeSource", "path", A),
    ("HostPathVolumeSource", "type", P),
    ("ISCSIVolumeSource", "initiatorName", P),
    ("ISCSIVolumeSource", "iqn", A),
    ("ISCSIVolumeSource", "lun", A),
    ("ISCSIVolumeSource", "targetPortal", A),
    ("KeyToPath", "key", A),
    ("KeyToPath", "mode", P),
    ("KeyToPath", "path", A),
    ("Lifecycle", "stopSignal", P),
    ("LimitRangeItem", "type", A),
    ("LimitRangeSpec", "limits", A),
    ("LinuxContainerUser", "gid", A),
    ("LinuxContainerUser", "uid", A),
    ("LoadBalancerIngress", "ipMode", P),
    ("ModifyVolumeStatus", "status", A),
    ("NFSVolumeSource", "path", A),
    ("NFSVolumeSource", "server", A),
    ("NamespaceCondition", "status", A),
    ("NamespaceCondition", "type", A),
    ("NodeSelector", "nodeSelectorTerms", A),
    ("NodeSelectorRequirement", "key", A),
    ("NodeSelectorRequirement", "operator", A),
    ("ObjectFieldSelector", "fieldPath", A),
    ("PersistentVolumeClaimCondition", "status", A),
    ("PersistentVolumeClaimCondition", "type", A),
    ("PersistentVolumeClaimSpec", "storageClassName", P),
    ("PersistentVolumeClaimSpec", "volumeAttributesClassName", P),
    ("PersistentVolumeClaimSpec", "volumeMode", P),
    (
        "PersistentVolumeClaimStatus",
        "currentVolumeAttributesClassName",
        P,
    ),
    ("PersistentVolumeClaimVolumeSource", "claimName", A),
    ("PersistentVolumeSpec", "persistentVolumeSource", I),
    ("PhotonPersistentDiskVolumeSource", "pdID", A),
    ("PodAffinityTerm", "topologyKey", A),
    ("PodCertificateProjection", "keyType", A),
    ("PodCertificateProjection", "maxExpirationSeconds", P),
    ("PodCertificateProjection", "signerName", A),
    ("PodCondition", "status", A),
    ("PodCondition", "type", A),
    ("PodDNSConfigOption", "value", P),
    ("PodExtendedResourceClaimStatus", "requestMappings", A),
    ("PodExtendedResourceClaimStatus", "resourceClaimName", A),
    ("PodIP", "ip", A),
    ("PodOS", "name", A),
    ("PodReadinessGate", "conditionType", A),
    ("PodResourceClaim", "name", A),
    ("PodResourceClaim", "resourceClaimName", P),
    ("PodResourceClaim", "resourceClaimTemplateName", P),
    ("PodResourceClaimStatus", "name", A),
    ("PodResourceClaimStatus", "resourceClaimName", P),
    ("PodSchedulingGate", "name", A),
    ("PodSecurityContext", "fsGroup", P),
    ("PodSecurityContext", "fsGroupChangePolicy", P),
    ("PodSecurityContext", "runAsGroup", P),
    ("PodSecurityContext", "runAsNonRoot", P),
    ("PodSecurityContext", "runAsUser", P),
    ("PodSecurityContext", "seLinuxChangePolicy", P),
    ("PodSecurityContext", "supplementalGroupsPolicy", P),
    ("PodSpec", "activeDeadlineSeconds", P),
    ("PodSpec", "automountServiceAccountToken", P),
    ("PodSpec", "containers", A),
    ("PodSpec", "enableServiceLinks", P),
    ("PodSpec", "hostUsers", P),
    ("PodSpec", "hostnameOverride", P),
    ("PodSpec", "preemptionPolicy", P),
    ("PodSpec", "priority", P),
    ("PodSpec", "runtimeClassName", P),
    ("PodSpec", "setHostnameAsFQDN", P),
    ("PodSpec", "shareProcessNamespace", P),
    ("PodSpec", "terminationGracePeriodSeconds", P),
    ("PortStatus", "error", P),
    ("PortStatus", "port", A),
    ("PortStatus", "protocol", A),
    ("PortworxVolumeSource", "volumeID", A),
    ("PreferredSchedulingTerm", "weight", A),
    ("Probe", "handler", I),
    ("Probe", "terminationGracePeriodSeconds", P),
    ("ProjectedVolumeSource", "defaultMode", P),
    ("QuobyteVolumeSource", "registry", A),
    ("QuobyteVolumeSource", "volume", A),
    ("RBDVolumeSource", "image", A),
    ("RBDVolumeSource", "monitors", A),
    ("ResourceClaim", "name", A),
    ("ResourceFieldSelector", "resource", A),
    ("ResourceHealth", "resourceID", A),
    ("ResourceStatus", "name", A),
    ("ScaleIOPersistentVolumeSource", "secretRef", N),
    ("ScaleIOVolumeSource", "gateway", A),
    ("ScaleIOVolumeSource", "secretRef", N),
    ("ScaleIOVolumeSource", "system", A),
    ("ScopedResourceSelectorRequirement", "operator", A),
    ("ScopedResourceSelectorRequirement", "scopeName", A),
    ("SeccompProfile", "localhostProfile", P),
    ("SeccompProfile", "type", A),
    ("Secret", "immutable", P),
    ("SecretEnvSource", "localObjectReference", I),
    ("SecretEnvSource", "optional", P),
    ("SecretKeySelector", "key", A),
    ("SecretKeySelector", "localObjectReference", I),
    ("SecretKeySelector", "optional", P),
    ("SecretProjection", "localObjectReference", I),
    ("SecretProjection", "optional", P),
    ("SecretVolumeSource", "defaultMode", P),
    ("SecretVolumeSource", "optional", P),
    ("SecurityContext", "allowPrivilegeEscalation", P),
    ("SecurityContext", "privileged", P),
    ("SecurityContext", "procMount", P),
    ("SecurityContext", "readOnlyRootFilesystem", P),
    ("SecurityContext", "runAsGroup", P),
    ("SecurityContext", "runAsNonRoot", P),
    ("SecurityContext", "runAsUser", P),
    ("ServiceAccount", "automountServiceAccountToken", P),
    ("ServiceAccountTokenProjection", "expirationSeconds", P),
    ("ServiceAccountTokenProjection", "path", A),
    ("ServicePort", "appProtocol", P),
    ("ServicePort", "port", A),
    ("ServiceSpec", "allocateLoadBalancerNodePorts", P),
    ("ServiceSpec", "internalTrafficPolicy", P),
    ("ServiceSpec", "ipFamilyPolicy", P),
    ("ServiceSpec", "loadBalancerClass", P),
    ("ServiceSpec", "trafficDistribution", P),
    ("SleepAction", "seconds", A),
    ("Sysctl", "name", A),
    ("Sysctl", "value", A),
    ("Toleration", "tolerationSeconds", P),
    ("TopologySpreadConstraint", "maxSkew", A),
    ("TopologySpreadConstraint", "minDomains", P),
    ("TopologySpreadConstraint", "nodeAffinityPolicy", P),
    ("TopologySpreadConstraint", "nodeTaintsPolicy", P),
    ("TopologySpreadConstraint", "topologyKey", A),
    ("TopologySpreadConstraint", "whenUnsatisfiable", A),
    ("TypedLocalObjectReference", "apiGroup", N),
    ("TypedLocalObjectReference", "kind", A),
    ("TypedLocalObjectReference", "name", A),
    ("TypedObjectReference", "apiGroup", N),
    ("TypedObjectReference", "kind", A),
    ("TypedObjectReference", "name", A),
    ("TypedObjectReference", "namespace", P),
    ("Volume", "name", A),
    ("Volume", "volumeSource", I),
    ("VolumeDevice", "devicePath", A),
    ("VolumeDevice", "name", A),
    ("VolumeMount", "mountPath", A),
    ("VolumeMount", "mountPropagation", P),
    ("VolumeMount", "name", A),
    ("VolumeMount", "recursiveReadOnly", P),
    ("VolumeMountStatus", "mountPath", A),
    ("VolumeMountStatus", "name", A),
    ("VolumeMountStatus", "recursiveReadOnly", P),
    ("VsphereVirtualDiskVolumeSource", "volumePath", A),
    ("WeightedPodAffinityTerm", "weight", A),
    ("WindowsSecurityContextOptions", "gmsaCredentialSpec", P),
    ("WindowsSecurityContextOptions", "gmsaCredentialSpecName", P),
    ("WindowsSecurityContextOptions", "hostProcess", P),
    ("WindowsSecurityContextOptions", "runAsUserName", P),
    ("WorkloadReference", "name", A),
    ("WorkloadReference", "podGroup", A),
];

/// `k8s.io.api.batch.v1`, sorted.
pub(crate) const BATCH_FIELDS: &[(&str, &str, Policy)] = &[
    ("JobSpec", "activeDeadlineSeconds", P),
    ("JobSpec", "backoffLimit", P),
    ("JobSpec", "backoffLimitPerIndex", P),
    ("JobSpec", "completionMode", P),
    ("JobSpec", "completions", P),
    ("JobSpec", "managedBy", P),
    ("JobSpec", "manualSelector", P),
    ("JobSpec", "maxFailedIndexes", P),
    ("JobSpec", "parallelism", P),
    ("JobSpec", "podReplacementPolicy", P),
    ("JobSpec", "suspend", P),
    ("JobSpec", "ttlSecondsAfterFinished", P),
    ("PodFailurePolicy", "rules", A),
    ("PodFailurePolicyOnExitCodesRequirement", "containerName", P),
    ("PodFailurePolicyOnExitCodesRequirement", "operator", A),
    ("PodFailurePolicyOnExitCodesRequirement", "values", A),
    ("PodFailurePolicyOnPodConditionsPattern", "status", A),
    ("PodFailurePolicyOnPodConditionsPattern", "type", A),
    ("PodFailurePolicyRule", "action", A),
    ("SuccessPolicy", "rules", A),
    ("SuccessPolicyRule", "succeededCount", P),
    ("SuccessPolicyRule", "succeededIndexes", P),
];

/// `k8s.io.apimachinery.pkg.apis.meta.v1`, sorted.
pub(crate) const META_FIELDS: &[(&str, &str, Policy)] = &[
    ("Condition", "lastTransitionTime", A),
    ("Condition", "message", A),
    ("Condition", "reason", A),
    ("Condition", "status", A),
    ("Condition", "type", A),
    ("DeleteOptions", "gracePeriodSeconds", P),
    (
        "DeleteOptions",
        "ignoreStoreReadErrorWithClusterBreakingPotential",
        P,
    ),
    ("DeleteOptions", "orphanDependents", P),
    ("DeleteOptions", "propagationPolicy", P),
    ("LabelSelectorRequirement", "key", A),
    ("LabelSelectorRequirement", "operator", A),
    ("ObjectMeta", "deletionGracePeriodSeconds", P),
    ("OwnerReference", "apiVersion", A),
    ("OwnerReference", "blockOwnerDeletion", P),
    ("OwnerReference", "controller", P),
    ("OwnerReference", "kind", A),
    ("OwnerReference", "name", A),
    ("OwnerReference", "uid", A),
    ("Preconditions", "resourceVersion", P),
    ("Preconditions", "uid", P),
];

/// `k8s.io.api.authorization.v1`, sorted.
pub(crate) const AUTHORIZATION_FIELDS: &[(&str, &str, Policy)] = &[
    ("NonResourceRule", "verbs", A),
    ("ResourceRule", "verbs", A),
    ("SubjectAccessReviewStatus", "allowed", A),
    ("SubjectRulesReviewStatus", "incomplete", A),
    ("SubjectRulesReviewStatus", "nonResourceRules", A),
    ("SubjectRulesReviewStatus", "resourceRules", A),
];

/// `k8s.io.api.authentication.v1`, sorted.
pub(crate) const AUTHENTICATION_FIELDS: &[(&str, &str, Policy)] = &[
    ("BoundObjectReference", "uID", Policy::Rename("uid")),
    ("TokenRequestSpec", "audiences", A),
    ("TokenRequestSpec", "expirationSeconds", P),
    ("TokenRequestStatus", "expirationTimestamp", A),
    ("TokenRequestStatus", "token", A),
];

/// `k8s.io.api.policy.v1`, sorted.
pub(crate) const POLICY_FIELDS: &[(&str, &str, Policy)] = &[
    ("PodDisruptionBudgetSpec", "unhealthyPodEvictionPolicy", P),
    ("PodDisruptionBudgetStatus", "currentHealthy", A),
    ("PodDisruptionBudgetStatus", "desiredHealthy", A),
    ("PodDisruptionBudgetStatus", "disruptionsAllowed", A),
    ("PodDisruptionBudgetStatus", "expectedPods", A),
];

/// `(message, field, policy)` for `k8s.io.api.rbac.v1`, sorted by (message, field): the
/// fields of upstream's Go types without `omitempty`.
pub(crate) const RBAC_FIELDS: &[(&str, &str, Policy)] = &[
    ("ClusterRole", "rules", A),
    ("ClusterRoleBinding", "roleRef", A),
    ("PolicyRule", "verbs", A),
    ("Role", "rules", A),
    ("RoleBinding", "roleRef", A),
    ("RoleRef", "apiGroup", A),
    ("RoleRef", "kind", A),
    ("RoleRef", "name", A),
    ("Subject", "kind", A),
    ("Subject", "name", A),
];
