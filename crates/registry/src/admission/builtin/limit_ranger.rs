//! LimitRanger (`plugin/pkg/admission/limitranger/admission.go`): fills container
//! requests and limits from a LimitRange's `defaultRequest`/`default` (mutating), then
//! enforces `min`, `max` and `maxLimitRequestRatio` per container, per pod and per claim
//! (validating). Messages are upstream's; the keys of each limit are visited in name
//! order (upstream visits Go maps in random order).

use std::collections::BTreeMap;

use corral_api::{KubeObject, Quantity};
use k8s_openapi::api::core::v1::{Container, LimitRange, ResourceRequirements};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use super::aggregate;
use crate::admission::quota::evaluator::pod_requests_and_limits;
use crate::admission::request::{AdmissionRequest, Operation};

const ANNOTATION: &str = "kubernetes.io/limit-ranger";

type List = BTreeMap<String, Quantity>;

/// `SupportsAttributes` (plus the plugin's create/update handler and the skip of objects
/// being deleted).
pub fn supports_object(request: &AdmissionRequest, object: Option<&KubeObject>) -> bool {
    if !matches!(request.operation, Operation::Create | Operation::Update) {
        return false;
    }
    if !request.subresource().is_empty() {
        return false;
    }
    if request
        .old_object
        .as_ref()
        .is_some_and(|o| o.meta().deletion_timestamp.is_some())
    {
        return false;
    }
    match object {
        Some(KubeObject::Pod(_)) => request.operation == Operation::Create,
        Some(KubeObject::PersistentVolumeClaim(_)) => true,
        _ => false,
    }
}

fn parse(list: Option<&BTreeMap<String, WireQuantity>>) -> List {
    list.into_iter()
        .flatten()
        .filter_map(|(k, v)| Quantity::parse(&v.0).ok().map(|q| (k.clone(), q)))
        .collect()
}

/// `PodMutateLimitFunc` for every LimitRange of the namespace, in order.
pub fn mutate(object: &mut KubeObject, limit_ranges: &[&LimitRange]) {
    let KubeObject::Pod(pod) = object else {
        return;
    };
    for limit_range in limit_ranges {
        let mut default_requests: BTreeMap<String, WireQuantity> = BTreeMap::new();
        let mut default_limits: BTreeMap<String, WireQuantity> = BTreeMap::new();
        for item in limit_range.spec.iter().flat_map(|s| s.limits.iter()) {
            if item.type_ == "Container" {
                default_requests.extend(item.default_request.clone().unwrap_or_default());
                default_limits.extend(item.default.clone().unwrap_or_default());
            }
        }
        let mut notes: Vec<String> = Vec::new();
        if let Some(spec) = pod.spec.as_mut() {
            for container in spec.containers.iter_mut() {
                merge_container(
                    container,
                    &default_requests,
                    &default_limits,
                    "container",
                    &mut notes,
                );
            }
            for container in spec.init_containers.iter_mut().flatten() {
                merge_container(
                    container,
                    &default_requests,
                    &default_limits,
                    "init container",
                    &mut notes,
                );
            }
        }
        if !notes.is_empty() {
            pod.metadata
                .annotations
                .get_or_insert_with(BTreeMap::new)
                .insert(
                    ANNOTATION.into(),
                    format!("LimitRanger plugin set: {}", notes.join("; ")),
                );
        }
    }
}

fn merge_container(
    container: &mut Container,
    default_requests: &BTreeMap<String, WireQuantity>,
    default_limits: &BTreeMap<String, WireQuantity>,
    prefix: &str,
    notes: &mut Vec<String>,
) {
    if default_requests.is_empty() && default_limits.is_empty() {
        return;
    }
    let resources = container
        .resources
        .get_or_insert_with(ResourceRequirements::default);
    let mut set_limits = Vec::new();
    let limits = resources.limits.get_or_insert_with(BTreeMap::new);
    for (k, v) in default_limits {
        if !limits.contains_key(k) {
            limits.insert(k.clone(), v.clone());
            set_limits.push(k.clone());
        }
    }
    let mut set_requests = Vec::new();
    let requests = resources.requests.get_or_insert_with(BTreeMap::new);
    for (k, v) in default_requests {
        if !requests.contains_key(k) {
            requests.insert(k.clone(), v.clone());
            set_requests.push(k.clone());
        }
    }
    if resources.limits.as_ref().is_some_and(BTreeMap::is_empty) {
        resources.limits = None;
    }
    if resources.requests.as_ref().is_some_and(BTreeMap::is_empty) {
        resources.requests = None;
    }
    if !set_requests.is_empty() {
        notes.push(format!(
            "{} request for {prefix} {}",
            set_requests.join(", "),
            container.name
        ));
    }
    if !set_limits.is_empty() {
        notes.push(format!(
            "{} limit for {prefix} {}",
            set_limits.join(", "),
            container.name
        ));
    }
}

fn min_constraint(
    kind: &str,
    resource: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let Some(req) = request.get(resource) else {
        return Some(format!(
            "minimum {resource} usage per {kind} is {enforced}.  No request is specified"
        ));
    };
    if req.milli_value() < enforced.milli_value() {
        return Some(format!(
            "minimum {resource} usage per {kind} is {enforced}, but request is {req}"
        ));
    }
    match limit.get(resource) {
        Some(lim) if lim.milli_value() < enforced.milli_value() => Some(format!(
            "minimum {resource} usage per {kind} is {enforced}, but limit is {lim}"
        )),
        _ => None,
    }
}

fn max_constraint(
    kind: &str,
    resource: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let Some(lim) = limit.get(resource) else {
        return Some(format!(
            "maximum {resource} usage per {kind} is {enforced}.  No limit is specified"
        ));
    };
    if lim.milli_value() > enforced.milli_value() {
        return Some(format!(
            "maximum {resource} usage per {kind} is {enforced}, but limit is {lim}"
        ));
    }
    match request.get(resource) {
        Some(req) if req.milli_value() > enforced.milli_value() => Some(format!(
            "maximum {resource} usage per {kind} is {enforced}, but request is {req}"
        )),
        _ => None,
    }
}

fn max_request_constraint(
    kind: &str,
    resource: &str,
    enforced: &Quantity,
    request: &List,
) -> Option<String> {
    let Some(req) = request.get(resource) else {
        return Some(format!(
            "maximum {resource} usage per {kind} is {enforced}.  No request is specified"
        ));
    };
    (req.milli_value() > enforced.milli_value())
        .then(|| format!("maximum {resource} usage per {kind} is {enforced}, but request is {req}"))
}

fn ratio_constraint(
    kind: &str,
    resource: &str,
    enforced: &Quantity,
    request: &List,
    limit: &List,
) -> Option<String> {
    let req = request.get(resource).map_or(0, Quantity::milli_value);
    if req == 0 {
        return Some(format!(
            "{resource} max limit to request ratio per {kind} is {enforced}, but no request is specified or request is 0"
        ));
    }
    let lim = limit.get(resource).map_or(0, Quantity::milli_value);
    if lim == 0 {
        return Some(format!(
            "{resource} max limit to request ratio per {kind} is {enforced}, but no limit is specified or limit is 0"
        ));
    }
    let observed = lim as f64 / req as f64;
    (observed * 1000.0 > enforced.milli_value() as f64).then(|| {
        format!("{resource} max limit to request ratio per {kind} is {enforced}, but provided ratio is {observed:.6}")
    })
}

fn check_item(
    kind: &str,
    item: &k8s_openapi::api::core::v1::LimitRangeItem,
    requests: &List,
    limits: &List,
    errors: &mut Vec<String>,
) {
    for (resource, enforced) in parse(item.min.as_ref()) {
        errors.extend(min_constraint(kind, &resource, &enforced, requests, limits));
    }
    for (resource, enforced) in parse(item.max.as_ref()) {
        errors.extend(max_constraint(kind, &resource, &enforced, requests, limits));
    }
    for (resource, enforced) in parse(item.max_limit_request_ratio.as_ref()) {
        errors.extend(ratio_constraint(
            kind, &resource, &enforced, requests, limits,
        ));
    }
}

/// `PodValidateLimitFunc`/`PersistentVolumeClaimValidateLimitFunc` for one LimitRange;
/// the aggregated message of its violations.
pub fn validate(object: &KubeObject, limit_range: &LimitRange) -> Option<String> {
    let mut errors = Vec::new();
    for item in limit_range.spec.iter().flat_map(|s| s.limits.iter()) {
        match (object, item.type_.as_str()) {
            (KubeObject::Pod(pod), "Container") => {
                let spec = pod.spec.as_ref();
                let containers = spec.iter().flat_map(|s| {
                    s.containers
                        .iter()
                        .chain(s.init_containers.iter().flatten())
                });
                for container in containers {
                    let resources = container.resources.as_ref();
                    let requests = parse(resources.and_then(|r| r.requests.as_ref()));
                    let limits = parse(resources.and_then(|r| r.limits.as_ref()));
                    check_item("Container", item, &requests, &limits, &mut errors);
                }
            }
            (KubeObject::Pod(pod), "Pod") => {
                let (requests, limits) = pod_requests_and_limits(pod);
                check_item("Pod", item, &requests, &limits, &mut errors);
            }
            (KubeObject::PersistentVolumeClaim(claim), "PersistentVolumeClaim") => {
                let requests = parse(
                    claim
                        .spec
                        .as_ref()
                        .and_then(|s| s.resources.as_ref())
                        .and_then(|r| r.requests.as_ref()),
                );
                for (resource, enforced) in parse(item.min.as_ref()) {
                    errors.extend(min_constraint(
                        "PersistentVolumeClaim",
                        &resource,
                        &enforced,
                        &requests,
                        &List::new(),
                    ));
                }
                for (resource, enforced) in parse(item.max.as_ref()) {
                    errors.extend(max_request_constraint(
                        "PersistentVolumeClaim",
                        &resource,
                        &enforced,
                        &requests,
                    ));
                }
            }
            _ => {}
        }
    }
    (!errors.is_empty()).then(|| aggregate(&errors))
}
