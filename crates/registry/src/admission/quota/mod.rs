//! The ResourceQuota admission plugin (`k8s.io/apiserver/pkg/admission/plugin/resourcequota`):
//! [`check_request`] is upstream's `CheckRequest` — it finds the quotas of the namespace
//! that track the request's kind and scope, enforces their constraints, and computes each
//! quota's new `status.used`, refusing the request if any would exceed `status.hard`.
//!
//! Upstream charges by an optimistic status update of each quota before the object is
//! stored (batched per namespace, retried on conflict). Corral returns the charged quotas
//! with their revisions instead ([`crate::admission::QuotaCharge`]); the caller writes them
//! and the object in one store transaction, so concurrent creations never overshoot and a
//! failed write never leaves a charge behind.

pub mod evaluator;

use std::collections::BTreeSet;

use corral_api::{ApiError, KubeObject, Quantity, Revision};
use corral_core::Timestamp;
use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as WireQuantity;

use self::evaluator::{Evaluator, Usage, evaluator_for};
use super::QuotaCharge;
use super::request::{AdmissionRequest, Operation};

/// The request's view the quota check needs, besides the quotas.
pub struct QuotaInput<'a> {
    pub request: &'a AdmissionRequest,
    pub object: &'a KubeObject,
    /// The name for messages (`pods "p-abcde" is forbidden: …`).
    pub display_name: &'a str,
    pub now: Timestamp,
}

fn forbidden(input: &QuotaInput<'_>, reason: &str) -> ApiError {
    ApiError::forbidden(
        &input.request.resource.group_resource(),
        input.display_name,
        reason,
    )
}

fn parse_list(
    quota: &ResourceQuota,
    list: Option<&std::collections::BTreeMap<String, WireQuantity>>,
) -> Result<Usage, ApiError> {
    let mut out = Usage::new();
    for (name, value) in list.into_iter().flatten() {
        let quantity = Quantity::parse(&value.0).map_err(|e| {
            ApiError::internal(format!(
                "resourcequota {}: {name}={:?}: {e}",
                quota.metadata.name.as_deref().unwrap_or(""),
                value.0
            ))
        })?;
        out.insert(name.clone(), quantity);
    }
    Ok(out)
}

fn pretty(usage: &Usage) -> String {
    usage
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether the request can change any quota at all (upstream `Handles` plus the ignored
/// resources), checked before the namespace's quotas are read.
pub fn applies(request: &AdmissionRequest) -> Option<Evaluator> {
    let evaluator = evaluator_for(request.resource)?;
    evaluator
        .handles(request.operation, request.subresource())
        .then_some(evaluator)
}

/// Upstream `CheckRequest` over the namespace's quotas. Returns the charges (quotas whose
/// `status.used` the request raises, with their revisions), or the 403 refusing it.
pub fn check_request(
    input: &QuotaInput<'_>,
    quotas: &[&ResourceQuota],
) -> Result<Vec<QuotaCharge>, ApiError> {
    let Some(evaluator) = applies(input.request) else {
        return Ok(Vec::new());
    };
    if quotas.is_empty() {
        return Ok(Vec::new());
    }
    let object = input.object;
    let mut interesting: Vec<(usize, Usage, Usage)> = Vec::new();
    for (index, quota) in quotas.iter().enumerate() {
        if !evaluator.matches(quota, object) {
            continue;
        }
        let status = quota.status.as_ref();
        let hard = parse_list(quota, status.and_then(|s| s.hard.as_ref()))?;
        let used = parse_list(quota, status.and_then(|s| s.used.as_ref()))?;
        let restricted = evaluator.matching_resources(hard.keys().map(String::as_str));
        let name = quota.metadata.name.as_deref().unwrap_or("");
        if let Err(message) = evaluator.constraints(&restricted, object) {
            return Err(forbidden(
                input,
                &format!("failed quota: {name}: {message}"),
            ));
        }
        let missing_usage = restricted.iter().any(|r| !used.contains_key(r));
        if missing_usage {
            let mut names = restricted.clone();
            names.sort();
            return Err(forbidden(
                input,
                &format!(
                    "status unknown for quota: {name}, resources: {}",
                    names.join(",")
                ),
            ));
        }
        interesting.push((index, hard, used));
    }
    if interesting.is_empty() {
        return Ok(Vec::new());
    }
    let usage = evaluator
        .usage(object, input.now)
        .map_err(ApiError::internal)?;
    let negative: BTreeSet<&str> = usage
        .iter()
        .filter(|(_, q)| q.nanos() < 0)
        .map(|(k, _)| k.as_str())
        .collect();
    if !negative.is_empty() {
        return Err(forbidden(
            input,
            &format!(
                "quota usage is negative for resource(s): {}",
                negative.into_iter().collect::<Vec<_>>().join(",")
            ),
        ));
    }
    let delta = delta_usage(input, &evaluator, quotas, &interesting, usage)?;
    let mut charges = Vec::new();
    for (slot, (index, hard, used)) in interesting.iter().enumerate() {
        let Some(delta) = &delta[slot] else {
            continue;
        };
        let quota = quotas[*index];
        let requested: Usage = delta
            .iter()
            .filter(|(k, v)| hard.contains_key(*k) && !v.is_zero())
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        if requested.is_empty() {
            continue;
        }
        let mut new_used = used.clone();
        for (name, quantity) in &requested {
            new_used
                .entry(name.clone())
                .and_modify(|q| q.add(quantity))
                .or_insert(*quantity);
        }
        if input.request.subresource() != "status" {
            let exceeded: Vec<&String> = requested
                .keys()
                .filter(|k| hard.get(*k).is_some_and(|h| new_used[*k] > *h))
                .collect();
            if !exceeded.is_empty() {
                let mask = |u: &Usage| -> Usage {
                    u.iter()
                        .filter(|(k, _)| exceeded.contains(k))
                        .map(|(k, v)| (k.clone(), *v))
                        .collect()
                };
                return Err(forbidden(
                    input,
                    &format!(
                        "exceeded quota: {}, requested: {}, used: {}, limited: {}",
                        quota.metadata.name.as_deref().unwrap_or(""),
                        pretty(&mask(&requested)),
                        pretty(&mask(used)),
                        pretty(&mask(hard))
                    ),
                ));
            }
        }
        charges.push(charge(quota, &new_used)?);
    }
    Ok(charges)
}

/// The usage to add per interesting quota: the object's usage on create, the
/// non-negative difference to the old object on update (when the old object counted).
fn delta_usage(
    input: &QuotaInput<'_>,
    evaluator: &Evaluator,
    quotas: &[&ResourceQuota],
    interesting: &[(usize, Usage, Usage)],
    usage: Usage,
) -> Result<Vec<Option<Usage>>, ApiError> {
    let nonzero = |u: Usage| -> Option<Usage> {
        let u: Usage = u.into_iter().filter(|(_, v)| !v.is_zero()).collect();
        (!u.is_empty()).then_some(u)
    };
    if input.request.operation != Operation::Update {
        return Ok(interesting.iter().map(|_| nonzero(usage.clone())).collect());
    }
    let Some(old) = input.request.old_object.as_ref() else {
        return Err(forbidden(
            input,
            "unable to get previous usage since prior version of object was not found",
        ));
    };
    if old
        .meta()
        .resource_version
        .as_deref()
        .unwrap_or("")
        .is_empty()
    {
        return Ok(interesting.iter().map(|_| nonzero(usage.clone())).collect());
    }
    let previous = evaluator
        .usage(old, input.now)
        .map_err(ApiError::internal)?;
    let mut difference = Usage::new();
    for (name, quantity) in &usage {
        let mut d = *quantity;
        if let Some(p) = previous.get(name) {
            d.sub(p);
        }
        if d.nanos() < 0 {
            d = Quantity::ZERO;
        }
        difference.insert(name.clone(), d);
    }
    Ok(interesting
        .iter()
        .map(|(index, _, _)| {
            if evaluator.matches(quotas[*index], old) {
                nonzero(difference.clone())
            } else {
                nonzero(usage.clone())
            }
        })
        .collect())
}

fn charge(quota: &ResourceQuota, used: &Usage) -> Result<QuotaCharge, ApiError> {
    let revision = quota
        .metadata
        .resource_version
        .as_deref()
        .and_then(|rv| rv.parse::<u64>().ok())
        .map(Revision)
        .ok_or_else(|| {
            ApiError::internal(format!(
                "resourcequota {} has no resourceVersion",
                quota.metadata.name.as_deref().unwrap_or("")
            ))
        })?;
    let mut charged = quota.clone();
    let status = charged
        .status
        .get_or_insert_with(ResourceQuotaStatus::default);
    status.used = Some(used.iter().map(|(k, v)| (k.clone(), v.to_wire())).collect());
    Ok(QuotaCharge {
        quota: charged,
        revision,
    })
}
