//! Priority (`plugin/pkg/admission/priority`) and DefaultTolerationSeconds
//! (`plugin/pkg/admission/defaulttolerationseconds`) for pods.
//!
//! Corral serves no PriorityClass objects: the two system classes resolve to their fixed
//! values, no class resolves to the global default (priority 0, `PreemptLowerPriority`),
//! and any other class name is refused as upstream refuses a class that does not exist.

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use crate::admission::request::Operation;
use crate::defaults::pod::add_default_tolerations;

/// Upstream `admitPod`: on create, compute the priority from the class and refuse a
/// conflicting explicit value; on update, keep the stored values.
pub fn priority(operation: Operation, pod: &mut Pod, old: Option<&Pod>) -> Result<(), String> {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    match operation {
        Operation::Update => {
            let old_spec = old.and_then(|o| o.spec.as_ref());
            if spec.priority.is_none() {
                spec.priority = old_spec.and_then(|s| s.priority);
            }
            if spec.preemption_policy.is_none() {
                spec.preemption_policy = old_spec.and_then(|s| s.preemption_policy.clone());
            }
            Ok(())
        }
        Operation::Create => {
            let class = spec.priority_class_name.as_deref().unwrap_or("");
            let computed = match class {
                "" => 0,
                "system-cluster-critical" => 2_000_000_000,
                "system-node-critical" => 2_000_001_000,
                other => return Err(format!("no PriorityClass with name {other} was found")),
            };
            if let Some(given) = spec.priority
                && given != computed
            {
                return Err(format!(
                    "the integer value of priority ({given}) must not be provided in pod spec; priority admission controller computed {computed} from the given PriorityClass name"
                ));
            }
            spec.priority = Some(computed);
            let policy = "PreemptLowerPriority";
            if let Some(given) = spec.preemption_policy.as_deref()
                && given != policy
            {
                return Err(format!(
                    "the string value of PreemptionPolicy ({given}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
                ));
            }
            spec.preemption_policy = Some(policy.to_string());
            Ok(())
        }
        Operation::Delete | Operation::Connect => Ok(()),
    }
}

/// DefaultTolerationSeconds: tolerate `not-ready`/`unreachable` for 300 s.
pub fn default_toleration_seconds(pod: &mut Pod) {
    add_default_tolerations(pod.spec.get_or_insert_with(PodSpec::default));
}
