//! The pods a Job creates: `controller.GetPodFromTemplate` plus the Job controller's
//! additions (`manageJob`, `indexed_job_utils.go`).
//!
//! Labels, annotations and finalizers come from the template verbatim (the API server's
//! defaulting already put `batch.kubernetes.io/controller-uid`, `job-name` and their
//! legacy twins there), then: `generateName` `<job>-` (Indexed `<job>-<index>-`), the
//! Job's namespace, a controller owner reference, the tracking finalizer; for Indexed
//! Jobs the completion index as annotation and label, `JOB_COMPLETION_INDEX` in every
//! container, hostname `<job>-<index>`, and with a per-index limit the failure counts
//! carried over from the pod being replaced.

use std::collections::BTreeMap;

use corral_api::KubeObject;
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, Pod, PodSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};

use super::indexed::{
    COMPLETION_INDEX_ANNOTATION, COMPLETION_INDEX_ENV, INDEX_FAILURE_COUNT_ANNOTATION,
    INDEX_IGNORED_FAILURE_COUNT_ANNOTATION, generate_name_with_index, new_index_failure_counts,
};
use super::pods::JOB_TRACKING_FINALIZER;
use super::spec::JobView;

/// The pod to create for `index` (`None` for NonIndexed Jobs); `replaced` is the failed
/// pod of that index whose failure count the new pod inherits.
pub fn pod_for(view: &JobView, index: Option<i64>, replaced: Option<&Pod>) -> KubeObject {
    let template = &view.spec.template;
    let template_meta = template.metadata.clone().unwrap_or_default();
    let mut labels = template_meta.labels.unwrap_or_default();
    let mut annotations = template_meta.annotations.unwrap_or_default();
    let mut finalizers = template_meta.finalizers.unwrap_or_default();
    if !finalizers.iter().any(|f| f == JOB_TRACKING_FINALIZER) {
        finalizers.push(JOB_TRACKING_FINALIZER.to_string());
    }
    let mut spec = view.pod_spec.clone();
    let generate_name = match index {
        Some(index) => {
            index_pod(
                view,
                &mut spec,
                &mut labels,
                &mut annotations,
                index,
                replaced,
            );
            generate_name_with_index(view.name(), index)
        }
        None => pods_prefix(view.name()),
    };
    Pod {
        metadata: ObjectMeta {
            generate_name: Some(generate_name),
            namespace: Some(view.namespace().to_string()),
            labels: non_empty(labels),
            annotations: non_empty(annotations),
            finalizers: Some(finalizers),
            owner_references: Some(vec![controller_ref(view)]),
            ..Default::default()
        },
        spec: Some(spec),
        status: None,
    }
    .into()
}

/// The Indexed additions of `manageJob` and `addCompletionIndexEnvVariables`.
fn index_pod(
    view: &JobView,
    spec: &mut PodSpec,
    labels: &mut BTreeMap<String, String>,
    annotations: &mut BTreeMap<String, String>,
    index: i64,
    replaced: Option<&Pod>,
) {
    for container in spec
        .init_containers
        .iter_mut()
        .flatten()
        .chain(spec.containers.iter_mut())
    {
        add_completion_index_env(container);
    }
    annotations.insert(COMPLETION_INDEX_ANNOTATION.to_string(), index.to_string());
    labels.insert(COMPLETION_INDEX_ANNOTATION.to_string(), index.to_string());
    spec.hostname = Some(format!("{}-{}", view.name(), index));
    if view.backoff_limit_per_index.is_some() {
        let (failures, ignored) = new_index_failure_counts(view, replaced);
        annotations.insert(
            INDEX_FAILURE_COUNT_ANNOTATION.to_string(),
            failures.to_string(),
        );
        if ignored > 0 {
            annotations.insert(
                INDEX_IGNORED_FAILURE_COUNT_ANNOTATION.to_string(),
                ignored.to_string(),
            );
        }
    }
}

/// `addCompletionIndexEnvVariable`: from the index label (`PodIndexLabel` is GA).
fn add_completion_index_env(container: &mut Container) {
    let env = container.env.get_or_insert_with(Vec::new);
    if env.iter().any(|v| v.name == COMPLETION_INDEX_ENV) {
        return;
    }
    env.push(EnvVar {
        name: COMPLETION_INDEX_ENV.to_string(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: format!("metadata.labels['{COMPLETION_INDEX_ANNOTATION}']"),
            }),
            ..Default::default()
        }),
    });
}

/// `getPodsPrefix`: `<job>-`, or the bare name if the dashed prefix would not be a valid
/// name prefix.
fn pods_prefix(job_name: &str) -> String {
    let prefix = format!("{job_name}-");
    if corral_api::selector::is_dns_subdomain(job_name) && prefix.len() <= 253 {
        prefix
    } else {
        job_name.to_string()
    }
}

/// `metav1.NewControllerRef(job, batch/v1 Job)`.
fn controller_ref(view: &JobView) -> OwnerReference {
    OwnerReference {
        api_version: "batch/v1".to_string(),
        kind: "Job".to_string(),
        name: view.name().to_string(),
        uid: view.uid().to_string(),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }
}

fn non_empty(map: BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then_some(map)
}
