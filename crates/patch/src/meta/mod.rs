//! Patch metadata: which lists merge, by which key, for every built-in kind Corral serves.
//!
//! Upstream reads `patchStrategy`/`patchMergeKey` struct tags through reflection; Corral
//! has no Go structs, so the same facts live in a compact static type graph. A
//! [`TypeDesc`] lists only the fields that carry a patch strategy or lead to one
//! (`spec` → `template` → `spec` → `containers` → `env`); every other field has no
//! metadata, which is exactly what upstream's lookup returns for untagged fields.
//! Shared descriptors (PodSpec, Container, ObjectMeta, PodTemplateSpec, JobSpec) keep
//! Pod, Job and CronJob in sync.
//!
//! The same table answers `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`
//! questions for the OpenAPI generator ([`field_patch_meta`], [`PatchSchema::builtin_kinds`]).

mod core_v1;
mod groups;
mod kinds;

pub use kinds::BuiltinKind;

/// A field's patch strategy, as in the Go tag or `x-kubernetes-patch-strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchStrategy {
    /// Lists merge element-wise (by merge key for objects, as a set for primitives).
    Merge,
    /// The value is replaced wholesale, never merged.
    Replace,
    /// Maps drop keys missing from a `$retainKeys` directive (informational on apply).
    RetainKeys,
    /// `merge,retainKeys`: a merge list whose elements carry `$retainKeys`.
    MergeRetainKeys,
}

impl PatchStrategy {
    /// The `x-kubernetes-patch-strategy` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Merge => "merge",
            Self::Replace => "replace",
            Self::RetainKeys => "retainKeys",
            Self::MergeRetainKeys => "merge,retainKeys",
        }
    }

    /// True when lists under this strategy merge instead of being replaced.
    pub fn merges(self) -> bool {
        matches!(self, Self::Merge | Self::MergeRetainKeys)
    }
}

/// A struct type: only the fields that carry or lead to patch metadata.
#[derive(Debug)]
pub struct TypeDesc {
    /// The OpenAPI definition name, e.g. `io.k8s.api.core.v1.PodSpec`.
    pub name: &'static str,
    pub fields: &'static [FieldDesc],
}

/// One field of a [`TypeDesc`].
#[derive(Debug)]
pub struct FieldDesc {
    /// The JSON field name, spelled as Kubernetes spells it.
    pub name: &'static str,
    pub strategy: Option<PatchStrategy>,
    pub merge_key: Option<&'static str>,
    /// The field's struct type, or for lists the element's struct type, when it has
    /// metadata of its own; `None` means "no metadata below this field".
    pub ty: Option<&'static TypeDesc>,
}

impl TypeDesc {
    pub const fn new(name: &'static str, fields: &'static [FieldDesc]) -> Self {
        Self { name, fields }
    }

    /// The field named `name`, if it carries or leads to metadata.
    pub fn field(&self, name: &str) -> Option<&'static FieldDesc> {
        // The tables are tiny (at most a dozen fields), so a scan beats a map.
        let fields: &'static [FieldDesc] = self.fields;
        fields.iter().find(|f| f.name == name)
    }
}

impl FieldDesc {
    /// A struct-valued field without a strategy of its own, e.g. `spec`.
    pub const fn nested(name: &'static str, ty: &'static TypeDesc) -> Self {
        Self {
            name,
            strategy: None,
            merge_key: None,
            ty: Some(ty),
        }
    }

    /// A list without a strategy whose elements have metadata (the list is atomic).
    pub const fn atomic_list(name: &'static str, elem: &'static TypeDesc) -> Self {
        Self::nested(name, elem)
    }

    /// `patchStrategy:"merge" patchMergeKey:"<key>"` on a list of objects.
    pub const fn merge_list(
        name: &'static str,
        key: &'static str,
        elem: Option<&'static TypeDesc>,
    ) -> Self {
        Self {
            name,
            strategy: Some(PatchStrategy::Merge),
            merge_key: Some(key),
            ty: elem,
        }
    }

    /// `patchStrategy:"merge,retainKeys" patchMergeKey:"<key>"` on a list of objects.
    pub const fn merge_retain_list(
        name: &'static str,
        key: &'static str,
        elem: Option<&'static TypeDesc>,
    ) -> Self {
        Self {
            name,
            strategy: Some(PatchStrategy::MergeRetainKeys),
            merge_key: Some(key),
            ty: elem,
        }
    }

    /// `patchStrategy:"merge"` on a list of primitives: merged as a set.
    pub const fn merge_set(name: &'static str) -> Self {
        Self {
            name,
            strategy: Some(PatchStrategy::Merge),
            merge_key: None,
            ty: None,
        }
    }

    /// `patchStrategy:"replace"`: the value is never merged.
    pub const fn replace(name: &'static str) -> Self {
        Self {
            name,
            strategy: Some(PatchStrategy::Replace),
            merge_key: None,
            ty: None,
        }
    }

    /// `patchStrategy:"retainKeys"` on a struct-valued field.
    pub const fn retain_keys(name: &'static str, ty: Option<&'static TypeDesc>) -> Self {
        Self {
            name,
            strategy: Some(PatchStrategy::RetainKeys),
            merge_key: None,
            ty,
        }
    }
}

/// A handle to the patch metadata of one top-level kind (or none at all).
#[derive(Debug, Clone, Copy)]
pub struct PatchSchema {
    root: Option<&'static TypeDesc>,
}

impl PatchSchema {
    /// The schema of a built-in kind Corral serves; `None` for any other kind.
    /// The core group is spelled `""`.
    pub fn for_kind(group: &str, version: &str, kind: &str) -> Option<PatchSchema> {
        kinds::lookup(group, version, kind).map(Self::from_type)
    }

    /// No metadata: plain JSON-merge semantics, every list atomic.
    pub fn none() -> PatchSchema {
        Self { root: None }
    }

    /// A schema rooted at a hand-written descriptor (tests, future kinds).
    pub const fn from_type(ty: &'static TypeDesc) -> PatchSchema {
        Self { root: Some(ty) }
    }

    /// The root descriptor, for walking the table (OpenAPI generation).
    pub fn type_desc(&self) -> Option<&'static TypeDesc> {
        self.root
    }

    /// Every built-in kind with its schema, in a fixed order.
    pub fn builtin_kinds() -> &'static [BuiltinKind] {
        kinds::BUILTIN_KINDS
    }
}

/// What the metadata says about one field, for `x-kubernetes-patch-*` extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldPatchMeta {
    pub strategy: PatchStrategy,
    pub merge_key: Option<&'static str>,
}

impl FieldPatchMeta {
    /// The value of `x-kubernetes-patch-strategy`.
    pub fn x_kubernetes_patch_strategy(&self) -> &'static str {
        self.strategy.as_str()
    }

    /// The value of `x-kubernetes-patch-merge-key`, if any.
    pub fn x_kubernetes_patch_merge_key(&self) -> Option<&'static str> {
        self.merge_key
    }
}

/// The patch metadata of the field at `path` (JSON field names; list elements are
/// transparent, so `["spec", "containers", "env"]`). `None` when the field carries no
/// strategy or is unknown.
pub fn field_patch_meta(schema: PatchSchema, path: &[&str]) -> Option<FieldPatchMeta> {
    let (last, parents) = path.split_last()?;
    let mut ty = schema.root?;
    for name in parents {
        ty = ty.field(name)?.ty?;
    }
    let field = ty.field(last)?;
    Some(FieldPatchMeta {
        strategy: field.strategy?,
        merge_key: field.merge_key,
    })
}

/// The metadata the merge needs for one field: strategy, merge key and the descriptor
/// to recurse with. Unknown fields have none of it, like untagged Go fields.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct FieldLookup {
    pub strategy: Option<PatchStrategy>,
    pub merge_key: Option<&'static str>,
    pub ty: Option<&'static TypeDesc>,
}

impl FieldLookup {
    pub fn of(ty: Option<&'static TypeDesc>, name: &str) -> Self {
        match ty.and_then(|t| t.field(name)) {
            Some(f) => Self {
                strategy: f.strategy,
                merge_key: f.merge_key,
                ty: f.ty,
            },
            None => Self::default(),
        }
    }

    pub fn merges(&self) -> bool {
        self.strategy.is_some_and(PatchStrategy::merges)
    }

    pub fn replaces(&self) -> bool {
        self.strategy == Some(PatchStrategy::Replace)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod() -> PatchSchema {
        PatchSchema::for_kind("", "v1", "Pod").expect("pod schema")
    }

    #[test]
    fn container_env_merges_by_name_through_the_pod_spec() {
        let meta = field_patch_meta(pod(), &["spec", "containers", "env"]).expect("env meta");
        assert_eq!(meta.x_kubernetes_patch_strategy(), "merge");
        assert_eq!(meta.x_kubernetes_patch_merge_key(), Some("name"));
    }

    #[test]
    fn cronjob_reaches_the_same_pod_spec_as_a_pod() {
        let cron = PatchSchema::for_kind("batch", "v1", "CronJob").expect("cronjob");
        let path = ["spec", "jobTemplate", "spec", "template", "spec", "volumes"];
        let meta = field_patch_meta(cron, &path).expect("volumes meta");
        assert_eq!(meta.strategy, PatchStrategy::MergeRetainKeys);
        assert_eq!(meta.x_kubernetes_patch_strategy(), "merge,retainKeys");
        assert_eq!(meta.merge_key, Some("name"));
    }

    #[test]
    fn finalizers_merge_as_a_set_without_a_key() {
        let meta = field_patch_meta(pod(), &["metadata", "finalizers"]).expect("finalizers");
        assert_eq!(meta.strategy, PatchStrategy::Merge);
        assert_eq!(meta.merge_key, None);
    }

    #[test]
    fn every_tagged_field_reports_its_upstream_strategy_and_key() {
        use PatchStrategy::{Merge, MergeRetainKeys};
        let rows: &[(&str, &str, &[&str], PatchStrategy, Option<&str>)] = &[
            ("", "Pod", &["metadata", "finalizers"], Merge, None),
            (
                "",
                "Pod",
                &["metadata", "ownerReferences"],
                Merge,
                Some("uid"),
            ),
            (
                "",
                "Pod",
                &["spec", "volumes"],
                MergeRetainKeys,
                Some("name"),
            ),
            ("", "Pod", &["spec", "initContainers"], Merge, Some("name")),
            ("", "Pod", &["spec", "containers"], Merge, Some("name")),
            (
                "",
                "Pod",
                &["spec", "ephemeralContainers"],
                Merge,
                Some("name"),
            ),
            (
                "",
                "Pod",
                &["spec", "imagePullSecrets"],
                Merge,
                Some("name"),
            ),
            ("", "Pod", &["spec", "hostAliases"], Merge, Some("ip")),
            (
                "",
                "Pod",
                &["spec", "topologySpreadConstraints"],
                Merge,
                Some("topologyKey"),
            ),
            ("", "Pod", &["spec", "schedulingGates"], Merge, Some("name")),
            (
                "",
                "Pod",
                &["spec", "resourceClaims"],
                MergeRetainKeys,
                Some("name"),
            ),
            (
                "",
                "Pod",
                &["spec", "containers", "ports"],
                Merge,
                Some("containerPort"),
            ),
            (
                "",
                "Pod",
                &["spec", "initContainers", "env"],
                Merge,
                Some("name"),
            ),
            (
                "",
                "Pod",
                &["spec", "containers", "volumeMounts"],
                Merge,
                Some("mountPath"),
            ),
            (
                "",
                "Pod",
                &["spec", "ephemeralContainers", "volumeDevices"],
                Merge,
                Some("devicePath"),
            ),
            ("", "Pod", &["status", "conditions"], Merge, Some("type")),
            ("", "Pod", &["status", "podIPs"], Merge, Some("ip")),
            ("", "Pod", &["status", "hostIPs"], Merge, Some("ip")),
            (
                "",
                "Pod",
                &["status", "resourceClaimStatuses"],
                MergeRetainKeys,
                Some("name"),
            ),
            (
                "",
                "Pod",
                &["status", "containerStatuses", "allocatedResourcesStatus"],
                Merge,
                Some("name"),
            ),
            ("", "Node", &["spec", "podCIDRs"], Merge, None),
            ("", "Node", &["status", "conditions"], Merge, Some("type")),
            ("", "Node", &["status", "addresses"], Merge, Some("type")),
            (
                "",
                "Namespace",
                &["status", "conditions"],
                Merge,
                Some("type"),
            ),
            ("", "ServiceAccount", &["secrets"], Merge, Some("name")),
            (
                "",
                "PersistentVolumeClaim",
                &["status", "conditions"],
                Merge,
                Some("type"),
            ),
            (
                "batch",
                "Job",
                &["status", "conditions"],
                Merge,
                Some("type"),
            ),
            (
                "batch",
                "Job",
                &["spec", "template", "metadata", "finalizers"],
                Merge,
                None,
            ),
            (
                "batch",
                "CronJob",
                &["spec", "jobTemplate", "metadata", "ownerReferences"],
                Merge,
                Some("uid"),
            ),
            (
                "policy",
                "PodDisruptionBudget",
                &["status", "conditions"],
                Merge,
                Some("type"),
            ),
            (
                "admissionregistration.k8s.io",
                "MutatingWebhookConfiguration",
                &["webhooks"],
                Merge,
                Some("name"),
            ),
            (
                "admissionregistration.k8s.io",
                "ValidatingWebhookConfiguration",
                &["webhooks"],
                Merge,
                Some("name"),
            ),
        ];
        for &(group, kind, path, strategy, merge_key) in rows {
            let schema = PatchSchema::for_kind(group, "v1", kind).expect("served kind");
            let meta = field_patch_meta(schema, path);
            assert_eq!(
                meta,
                Some(FieldPatchMeta {
                    strategy,
                    merge_key
                }),
                "{kind} {path:?}"
            );
        }
    }

    #[test]
    fn atomic_lists_have_no_metadata() {
        for path in [
            &["spec", "tolerations"][..],
            &["spec", "containers", "command"],
            &["spec", "containers", "envFrom"],
            &["spec", "containers", "resizePolicy"],
        ] {
            assert_eq!(field_patch_meta(pod(), path), None, "{path:?}");
        }
        let node = PatchSchema::for_kind("", "v1", "Node").expect("node");
        assert_eq!(field_patch_meta(node, &["spec", "taints"]), None);
    }

    #[test]
    fn unknown_kinds_and_paths_have_no_schema() {
        assert!(PatchSchema::for_kind("apps", "v1", "Deployment").is_none());
        assert!(PatchSchema::for_kind("", "v1", "Service").is_none());
        assert_eq!(field_patch_meta(PatchSchema::none(), &["spec"]), None);
        assert_eq!(field_patch_meta(pod(), &[]), None);
        assert_eq!(field_patch_meta(pod(), &["spec", "nope", "env"]), None);
    }

    #[test]
    fn every_served_kind_has_a_schema() {
        let served = [
            ("", "v1", "Pod"),
            ("", "v1", "Node"),
            ("", "v1", "Namespace"),
            ("", "v1", "Event"),
            ("", "v1", "ServiceAccount"),
            ("", "v1", "PersistentVolumeClaim"),
            ("", "v1", "PersistentVolume"),
            ("", "v1", "ResourceQuota"),
            ("", "v1", "LimitRange"),
            ("", "v1", "ConfigMap"),
            ("", "v1", "Secret"),
            ("batch", "v1", "Job"),
            ("batch", "v1", "CronJob"),
            ("coordination.k8s.io", "v1", "Lease"),
            (
                "admissionregistration.k8s.io",
                "v1",
                "MutatingWebhookConfiguration",
            ),
            (
                "admissionregistration.k8s.io",
                "v1",
                "ValidatingWebhookConfiguration",
            ),
            ("rbac.authorization.k8s.io", "v1", "Role"),
            ("rbac.authorization.k8s.io", "v1", "ClusterRole"),
            ("rbac.authorization.k8s.io", "v1", "RoleBinding"),
            ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding"),
            ("policy", "v1", "PodDisruptionBudget"),
            ("events.k8s.io", "v1", "Event"),
        ];
        for (g, v, k) in served {
            let schema = PatchSchema::for_kind(g, v, k).unwrap_or_else(|| panic!("{g}/{v}/{k}"));
            let owner = field_patch_meta(schema, &["metadata", "ownerReferences"]).expect("owners");
            assert_eq!(owner.merge_key, Some("uid"), "{g}/{v}/{k}");
        }
        assert_eq!(PatchSchema::builtin_kinds().len(), served.len());
    }
}
