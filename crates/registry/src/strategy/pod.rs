//! The Pod strategy's QoS class (`qos.ComputePodQOS` in
//! `pkg/apis/core/helper/qos/qos.go`), computed once at creation.

use std::collections::BTreeMap;

use corral_api::Quantity;
use k8s_openapi::api::core::v1::PodSpec;

/// `BestEffort` without CPU or memory requests and limits, `Guaranteed` when every
/// container limits both and requests equal limits, `Burstable` otherwise.
pub fn compute_qos_class(spec: &PodSpec) -> &'static str {
    let mut requests: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut limits: BTreeMap<&str, Quantity> = BTreeMap::new();
    let mut guaranteed = true;
    for container in spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
    {
        let resources = container.resources.clone().unwrap_or_default();
        for (name, value) in resources.requests.iter().flatten() {
            accumulate(&mut requests, name, value);
        }
        let mut limited = Vec::new();
        for (name, value) in resources.limits.iter().flatten() {
            if accumulate(&mut limits, name, value) {
                limited.push(name.as_str());
            }
        }
        if !(limited.contains(&"cpu") && limited.contains(&"memory")) {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed
        && requests
            .iter()
            .all(|(name, req)| limits.get(name) == Some(req))
        && requests.len() == limits.len()
    {
        return "Guaranteed";
    }
    "Burstable"
}

/// Adds a positive CPU or memory quantity to the running sum; reports whether it did.
fn accumulate(
    sums: &mut BTreeMap<&'static str, Quantity>,
    name: &str,
    value: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
) -> bool {
    let key = match name {
        "cpu" => "cpu",
        "memory" => "memory",
        _ => return false,
    };
    let Ok(quantity) = Quantity::from_wire(value) else {
        return false;
    };
    if quantity.nanos() <= 0 {
        return false;
    }
    sums.entry(key)
        .and_modify(|sum| sum.add(&quantity))
        .or_insert(quantity);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{Container, ResourceRequirements};
    use k8s_openapi::apimachinery::pkg::api::resource::Quantity as Wire;

    fn spec(requests: &[(&str, &str)], limits: &[(&str, &str)]) -> PodSpec {
        let list = |pairs: &[(&str, &str)]| {
            (!pairs.is_empty()).then(|| {
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), Wire(v.to_string())))
                    .collect()
            })
        };
        PodSpec {
            containers: vec![Container {
                name: "c".into(),
                resources: Some(ResourceRequirements {
                    requests: list(requests),
                    limits: list(limits),
                    claims: None,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[test]
    fn qos_classes_follow_upstream() {
        assert_eq!(compute_qos_class(&spec(&[], &[])), "BestEffort");
        assert_eq!(
            compute_qos_class(&spec(&[("cpu", "100m")], &[])),
            "Burstable"
        );
        let both = [("cpu", "1"), ("memory", "1Gi")];
        assert_eq!(compute_qos_class(&spec(&both, &both)), "Guaranteed");
        assert_eq!(
            compute_qos_class(&spec(&[("cpu", "500m"), ("memory", "1Gi")], &both)),
            "Burstable"
        );
    }
}
