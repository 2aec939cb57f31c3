//! REST strategies: what upstream's `pkg/registry/*/strategy.go` do to an object before
//! it is validated and stored (`PrepareForCreate`, `PrepareForUpdate` and the status
//! variants), the generic metadata rules of `rest.BeforeCreate`/`rest.BeforeUpdate`, and
//! the per-kind facts the API layer needs (`AllowCreateOnUpdate`,
//! `DefaultGarbageCollectionPolicy`, status subresource, scope).

mod job;
mod pod;

use corral_api::{KubeObject, ResourceKind};
use corral_core::{Propagation, Subresource};
use k8s_openapi::api::core::v1::{NamespaceSpec, NamespaceStatus, PodStatus};
use k8s_openapi::api::policy::v1::PodDisruptionBudgetStatus;

pub use job::generate_selector_if_needed;
pub use pod::compute_qos_class;

use crate::defaults::core::LABEL_METADATA_NAME;
use crate::validation::meta::semantic_eq;

/// `PrepareForCreate` of the object's strategy, after `BeforeCreate`'s metadata rules
/// (deletion fields cleared, namespace dropped for cluster-scoped kinds). The caller has
/// already set `metadata.name` (from `generateName`), `uid` and `creationTimestamp`.
pub fn prepare_for_create(object: &mut KubeObject) {
    let namespaced = object.kind().namespaced();
    let meta = object.meta_mut();
    meta.deletion_timestamp = None;
    meta.deletion_grace_period_seconds = None;
    if !namespaced {
        meta.namespace = None;
    }
    match object {
        KubeObject::Job(job) => {
            job::generate_selector_if_needed(job);
            job.status = Some(Default::default());
            job.metadata.generation = Some(1);
        }
        KubeObject::CronJob(cronjob) => {
            cronjob.status = Some(Default::default());
            cronjob.metadata.generation = Some(1);
        }
        KubeObject::Pod(pod) => {
            let qos = pod
                .spec
                .as_ref()
                .map_or("BestEffort", pod::compute_qos_class);
            pod.status = Some(PodStatus {
                phase: Some("Pending".into()),
                qos_class: Some(qos.into()),
                ..PodStatus::default()
            });
        }
        KubeObject::Namespace(namespace) => prepare_namespace(namespace),
        KubeObject::PersistentVolumeClaim(claim) => claim.status = Some(Default::default()),
        KubeObject::PersistentVolume(volume) => volume.status = Some(Default::default()),
        KubeObject::ResourceQuota(quota) => quota.status = Some(Default::default()),
        KubeObject::PodDisruptionBudget(pdb) => {
            pdb.status = Some(empty_pdb_status());
            pdb.metadata.generation = Some(1);
        }
        KubeObject::MutatingWebhookConfiguration(config) => config.metadata.generation = Some(1),
        KubeObject::ValidatingWebhookConfiguration(config) => config.metadata.generation = Some(1),
        _ => {}
    }
}

/// Go serialises the PDB status counters even when zero.
fn empty_pdb_status() -> PodDisruptionBudgetStatus {
    PodDisruptionBudgetStatus {
        current_healthy: Some(0),
        desired_healthy: Some(0),
        disruptions_allowed: Some(0),
        expected_pods: Some(0),
        ..Default::default()
    }
}

/// The namespace strategy: status `Active`, the `kubernetes` finalizer, and the
/// `kubernetes.io/metadata.name` label (`Canonicalize`).
fn prepare_namespace(namespace: &mut k8s_openapi::api::core::v1::Namespace) {
    namespace.status = Some(NamespaceStatus {
        phase: Some("Active".into()),
        ..NamespaceStatus::default()
    });
    let finalizers = namespace
        .spec
        .get_or_insert_with(NamespaceSpec::default)
        .finalizers
        .get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == "kubernetes") {
        finalizers.push("kubernetes".into());
    }
    canonicalize_namespace(namespace);
}

fn canonicalize_namespace(namespace: &mut k8s_openapi::api::core::v1::Namespace) {
    let name = namespace.metadata.name.clone().unwrap_or_default();
    namespace
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(LABEL_METADATA_NAME.into(), name);
}

/// `BeforeUpdate`'s metadata rules, then the strategy's `PrepareForUpdate` (main
/// resource: the stored status is kept; `/status`: the stored spec is kept), then the
/// generation bump for kinds that track spec changes.
pub fn prepare_for_update(new: &mut KubeObject, old: &KubeObject, subresource: Subresource) {
    keep_system_metadata(new, old);
    match subresource {
        Subresource::Main => keep_status(new, old),
        Subresource::Status => keep_spec(new, old),
    }
    bump_generation(new, old);
    if let KubeObject::Namespace(namespace) = new {
        canonicalize_namespace(namespace);
    }
}

/// The `namespaces/{name}/finalize` subresource (`namespaceFinalizeStrategy`): only
/// `spec.finalizers` change; metadata rules as for any update, the status is kept.
/// Validate with [`crate::validation::validate_namespace_finalize_update`].
pub fn prepare_for_finalize(new: &mut KubeObject, old: &KubeObject) {
    keep_system_metadata(new, old);
    if let (KubeObject::Namespace(n), KubeObject::Namespace(o)) = (new, old) {
        n.status.clone_from(&o.status);
        canonicalize_namespace(n);
    }
}

/// `BeforeUpdate`: clients cannot change generation, uid, creation or deletion times,
/// and an update without `resourceVersion` is unconditional (it takes the stored one).
fn keep_system_metadata(new: &mut KubeObject, old: &KubeObject) {
    let namespaced = new.kind().namespaced();
    let old_meta = old.meta();
    let meta = new.meta_mut();
    if !namespaced {
        meta.namespace = None;
    }
    meta.generation = old_meta.generation;
    if meta.uid.as_deref().unwrap_or("").is_empty() {
        meta.uid.clone_from(&old_meta.uid);
    }
    if old_meta.creation_timestamp.is_some() {
        meta.creation_timestamp
            .clone_from(&old_meta.creation_timestamp);
    }
    if old_meta.deletion_timestamp.is_some() {
        meta.deletion_timestamp
            .clone_from(&old_meta.deletion_timestamp);
    }
    if old_meta.deletion_grace_period_seconds.is_some()
        && meta.deletion_grace_period_seconds.is_none()
    {
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
    }
    if meta.resource_version.as_deref().unwrap_or("").is_empty() {
        meta.resource_version.clone_from(&old_meta.resource_version);
    }
}

/// `target = source` without a copy when they are equal already (the common case: a
/// status write carries the stored spec, an update the stored status).
fn keep<T: Clone + PartialEq>(target: &mut T, source: &T) {
    if target != source {
        target.clone_from(source);
    }
}

/// Main-resource writes keep the stored status (and a namespace's finalizers).
fn keep_status(new: &mut KubeObject, old: &KubeObject) {
    match (new, old) {
        (KubeObject::Job(n), KubeObject::Job(o)) => keep(&mut n.status, &o.status),
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => keep(&mut n.status, &o.status),
        (KubeObject::Pod(n), KubeObject::Pod(o)) => keep(&mut n.status, &o.status),
        (KubeObject::Node(n), KubeObject::Node(o)) => keep(&mut n.status, &o.status),
        (KubeObject::Namespace(n), KubeObject::Namespace(o)) => {
            keep(&mut n.status, &o.status);
            let finalizers = o.spec.as_ref().and_then(|s| s.finalizers.clone());
            n.spec.get_or_insert_with(NamespaceSpec::default).finalizers = finalizers;
        }
        (KubeObject::PersistentVolumeClaim(n), KubeObject::PersistentVolumeClaim(o)) => {
            keep(&mut n.status, &o.status)
        }
        (KubeObject::PersistentVolume(n), KubeObject::PersistentVolume(o)) => {
            keep(&mut n.status, &o.status)
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(o)) => {
            keep(&mut n.status, &o.status)
        }
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(o)) => {
            keep(&mut n.status, &o.status)
        }
        _ => {}
    }
}

/// `/status` writes keep the stored spec; pods also keep their owner references and
/// cannot set a deletion time (`podStatusStrategy`).
fn keep_spec(new: &mut KubeObject, old: &KubeObject) {
    match (new, old) {
        (KubeObject::Job(n), KubeObject::Job(o)) => keep(&mut n.spec, &o.spec),
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => keep(&mut n.spec, &o.spec),
        (KubeObject::Pod(n), KubeObject::Pod(o)) => {
            keep(&mut n.spec, &o.spec);
            n.metadata
                .owner_references
                .clone_from(&o.metadata.owner_references);
            n.metadata
                .deletion_timestamp
                .clone_from(&o.metadata.deletion_timestamp);
        }
        (KubeObject::Node(n), KubeObject::Node(o)) => keep(&mut n.spec, &o.spec),
        (KubeObject::Namespace(n), KubeObject::Namespace(o)) => keep(&mut n.spec, &o.spec),
        (KubeObject::PersistentVolumeClaim(n), KubeObject::PersistentVolumeClaim(o)) => {
            keep(&mut n.spec, &o.spec)
        }
        (KubeObject::PersistentVolume(n), KubeObject::PersistentVolume(o)) => {
            keep(&mut n.spec, &o.spec)
        }
        (KubeObject::ResourceQuota(n), KubeObject::ResourceQuota(o)) => keep(&mut n.spec, &o.spec),
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(o)) => {
            keep(&mut n.spec, &o.spec)
        }
        _ => {}
    }
}

/// "Any changes to the spec increment the generation number" for the kinds that have one.
fn bump_generation(new: &mut KubeObject, old: &KubeObject) {
    let changed = match (&*new, old) {
        (KubeObject::Job(n), KubeObject::Job(o)) => !semantic_eq(&n.spec, &o.spec),
        (KubeObject::CronJob(n), KubeObject::CronJob(o)) => !semantic_eq(&n.spec, &o.spec),
        (KubeObject::PodDisruptionBudget(n), KubeObject::PodDisruptionBudget(o)) => {
            !semantic_eq(&n.spec, &o.spec)
        }
        (
            KubeObject::MutatingWebhookConfiguration(n),
            KubeObject::MutatingWebhookConfiguration(o),
        ) => !semantic_eq(&n.webhooks, &o.webhooks),
        (
            KubeObject::ValidatingWebhookConfiguration(n),
            KubeObject::ValidatingWebhookConfiguration(o),
        ) => !semantic_eq(&n.webhooks, &o.webhooks),
        _ => false,
    };
    if changed {
        let meta = new.meta_mut();
        meta.generation = Some(meta.generation.unwrap_or(0).saturating_add(1));
    }
}

/// Whether the kind tracks `metadata.generation` (upstream strategies that set it).
pub fn has_generation(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Job
            | ResourceKind::CronJob
            | ResourceKind::PodDisruptionBudget
            | ResourceKind::MutatingWebhookConfiguration
            | ResourceKind::ValidatingWebhookConfiguration
    )
}

/// `AllowCreateOnUpdate`: whether a PUT to a missing object creates it.
pub fn allow_create_on_update(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Event
            | ResourceKind::Lease
            | ResourceKind::LimitRange
            | ResourceKind::ServiceAccount
            | ResourceKind::PodDisruptionBudget
            | ResourceKind::Role
            | ResourceKind::ClusterRole
            | ResourceKind::RoleBinding
            | ResourceKind::ClusterRoleBinding
            | ResourceKind::MutatingWebhookConfiguration
            | ResourceKind::ValidatingWebhookConfiguration
    )
}

/// `AllowUnconditionalUpdate`: every served kind accepts a PUT without
/// `resourceVersion` (it then applies to whatever is stored).
pub fn allow_unconditional_update(_kind: ResourceKind) -> bool {
    true
}

/// `DefaultGarbageCollectionPolicy` for a DELETE without `propagationPolicy`: batch/v1
/// Jobs orphan their pods (kept for backward compatibility); everything else deletes
/// dependents in the background.
pub fn default_propagation(kind: ResourceKind) -> Propagation {
    match kind {
        ResourceKind::Job => Propagation::Orphan,
        _ => Propagation::Background,
    }
}

/// Whether the kind serves a `/status` subresource (its status is kept on main writes).
pub fn has_status_subresource(kind: ResourceKind) -> bool {
    matches!(
        kind,
        ResourceKind::Namespace
            | ResourceKind::Node
            | ResourceKind::Pod
            | ResourceKind::PersistentVolumeClaim
            | ResourceKind::PersistentVolume
            | ResourceKind::ResourceQuota
            | ResourceKind::Job
            | ResourceKind::CronJob
            | ResourceKind::PodDisruptionBudget
    )
}

/// `NamespaceScoped`.
pub fn namespace_scoped(kind: ResourceKind) -> bool {
    kind.namespaced()
}
